/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: the device object shared by the reference drivers:
 * binding (pgmap registration), unbinding (memunmap), page lookup, counters.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "device_internal.h"

static const struct zd_device_ops *zd_device_type_ops(enum zd_memory_type type)
{
	switch (type) {
	case ZD_MEMORY_DEVICE_PRIVATE:
	case ZD_MEMORY_DEVICE_COHERENT:
		return &zd_dmirror_ops;
	case ZD_MEMORY_DEVICE_FS_DAX:
		return &zd_pmem_ops;
	case ZD_MEMORY_DEVICE_GENERIC:
		return &zd_devdax_ops;
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		return &zd_p2p_ops;
	default:
		return NULL;
	}
}

struct zd_device *zd_pgmap_device(struct zd_dev_pagemap *pgmap)
{
	return pgmap ? pgmap->driver : NULL;
}

int zd_device_add_pgmap(struct zd_device *dev, uint64_t size, unsigned int shift,
			const struct zd_dev_pagemap_ops *ops, void *owner,
			struct zd_dev_pagemap **out)
{
	struct zd_dev_pagemap *pgmap, **pgmaps;
	int ret;

	pgmaps = realloc(dev->pgmaps, (dev->nr_pgmaps + 1) * sizeof(*pgmaps));
	if (!pgmaps)
		return -ENOMEM;
	dev->pgmaps = pgmaps;
	pgmap = zd_pgmap_alloc(1);
	if (!pgmap)
		return -ENOMEM;
	ret =
	    zd_request_free_mem_region(dev->world, size, ZD_PAGE_SIZE << shift, &pgmap->ranges[0]);
	if (ret)
		goto err_free;
	pgmap->type = dev->cfg.type;
	pgmap->vmemmap_shift = shift;
	pgmap->ops = ops;
	pgmap->owner = owner;
	pgmap->name = dev->name;
	pgmap->driver = dev;
	ret = zd_memremap_pages(dev->world, pgmap);
	if (ret)
		goto err_region;
	dev->pgmaps[dev->nr_pgmaps++] = pgmap;
	if (out)
		*out = pgmap;
	return 0;

err_region:
	zd_release_mem_region(dev->world, &pgmap->ranges[0]);
err_free:
	zd_pgmap_free(pgmap);
	return ret;
}

static void zd_device_free(struct zd_device *dev)
{
	int i;

	if (dev->ops && dev->ops->destroy)
		dev->ops->destroy(dev);
	for (i = 0; i < dev->nr_pgmaps; i++)
		zd_pgmap_free(dev->pgmaps[i]);
	free(dev->pgmaps);
	free(dev);
}

static void zd_device_cleanup(void *arg)
{
	zd_device_free(arg);
}

static void zd_device_audit(struct zd_world *w, struct zd_audit *a, void *arg)
{
	struct zd_device *dev = arg;
	struct zd_state_hash *h = zd_audit_hasher(a);
	int i;

	if (h) {
		zd_state_hash_ptr(h, dev);
		zd_state_hash_str(h, dev->name);
		zd_state_hash_u64(h, dev->removed);
		zd_state_hash_u64(h, (uint64_t)zd_atomic_long_read_relaxed(&dev->allocated));
		zd_state_hash_u64(h, (uint64_t)zd_atomic_long_read_relaxed(&dev->freed));
		zd_state_hash_u64(h, (uint64_t)dev->nr_pgmaps);
		for (i = 0; i < dev->nr_pgmaps; i++)
			zd_state_hash_ptr(h, dev->pgmaps[i]);
		if (dev->ops->state_hash && dev->priv)
			dev->ops->state_hash(dev, h);
		return;
	}
	if (dev->ops->audit && !dev->removed)
		dev->ops->audit(w, a, dev);
}

int zd_device_create(struct zd_world *w, const struct zd_device_config *cfg, struct zd_device **out)
{
	uint64_t folio_bytes;
	struct zd_device *dev;
	int ret;

	if (!w || !cfg || !out || !zd_device_type_ops(cfg->type))
		return -EINVAL;
	if (cfg->align_order != 0 && cfg->align_order != ZD_PMD_ORDER &&
	    cfg->align_order != ZD_PUD_ORDER)
		return -EINVAL;
	folio_bytes = ZD_PAGE_SIZE << cfg->align_order;
	if (!cfg->size || cfg->size % folio_bytes || (cfg->chunk && cfg->chunk % folio_bytes))
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->world = w;
	dev->cfg = *cfg;
	snprintf(dev->name, sizeof(dev->name), "%s", cfg->name ? cfg->name : "dev");
	dev->cfg.name = dev->name;
	dev->ops = zd_device_type_ops(cfg->type);
	zd_spin_lock_init(&dev->lock);
	ret = dev->ops->probe(dev);
	if (ret)
		goto err;
	ret = zd_world_add_cleanup(w, zd_device_cleanup, dev);
	if (ret)
		goto err;
	if (!zd_audit_register(w, zd_device_audit, dev))
		dev->audit_registered = true;
	*out = dev;
	return 0;

err:
	/* Unwind what probe registered: nothing was handed out, so nothing waits. */
	while (dev->nr_pgmaps) {
		struct zd_dev_pagemap *pgmap = dev->pgmaps[--dev->nr_pgmaps];

		zd_memunmap_pages(pgmap);
		zd_release_mem_region(w, &pgmap->ranges[0]);
		zd_pgmap_free(pgmap);
	}
	zd_device_free(dev);
	return ret;
}

int zd_device_remove(struct zd_device *dev)
{
	int i, ret;

	if (!dev || dev->removed)
		return -EINVAL;
	dev->removed = true;
	/*
	 * User mappings go first (device-dax: kill_dev_dax -> unmap_mapping_range;
	 * p2pdma: pci_p2pdma_unmap_mappings), so memunmap waits only for what
	 * the kernel would still wait for.
	 */
	if (dev->ops->mmap)
		zd_unmap_device_mappings(dev->world, dev);
	/*
	 * Device memory that processes use (dmirror) is migrated back to
	 * system memory first; what cannot move keeps memunmap waiting.
	 */
	if (dev->ops->evict)
		dev->ops->evict(dev);
	for (i = 0; i < dev->nr_pgmaps; i++) {
		struct zd_dev_pagemap *pgmap = dev->pgmaps[i];

		if (zd_pgmap_state(pgmap) != ZD_PGMAP_LIVE)
			continue;
		ret = zd_memunmap_pages(pgmap);
		if (ret)
			return ret;
		zd_release_mem_region(dev->world, &pgmap->ranges[0]);
	}
	return 0;
}

void zd_device_destroy(struct zd_device *dev)
{
	if (!dev)
		return;
	if (dev->audit_registered)
		zd_audit_unregister(dev->world, zd_device_audit, dev);
	zd_world_remove_cleanup(dev->world, zd_device_cleanup, dev);
	zd_device_free(dev);
}

const char *zd_device_name(const struct zd_device *dev)
{
	return dev->name;
}

enum zd_memory_type zd_device_type(const struct zd_device *dev)
{
	return dev->cfg.type;
}

unsigned long zd_device_nr_pages(const struct zd_device *dev)
{
	return dev->cfg.size >> ZD_PAGE_SHIFT;
}

int zd_device_page_pfn(const struct zd_device *dev, unsigned long index, unsigned long *pfn)
{
	int i;

	for (i = 0; i < dev->nr_pgmaps; i++) {
		const struct zd_dev_pagemap *pgmap = dev->pgmaps[i];
		unsigned long n = zd_pgmap_pfn_end(pgmap, 0) - zd_pgmap_pfn_first(pgmap, 0);

		if (index < n) {
			*pfn = zd_pgmap_pfn_first(pgmap, 0) + index;
			return 0;
		}
		index -= n;
	}
	return -ERANGE;
}

struct zd_folio *zd_device_index_folio(struct zd_device *dev, unsigned long index)
{
	unsigned long pfn;

	if (zd_device_page_pfn(dev, index, &pfn))
		return NULL;
	return zd_pfn_folio(dev->world, pfn);
}

int zd_device_nr_pgmaps(const struct zd_device *dev)
{
	return dev->nr_pgmaps;
}

struct zd_dev_pagemap *zd_device_pgmap(const struct zd_device *dev, int i)
{
	return i >= 0 && i < dev->nr_pgmaps ? dev->pgmaps[i] : NULL;
}

int zd_device_alloc_pages(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			  struct zd_folio **folios, int *nr)
{
	int ret;

	if (!dev || !folios || !nr || order > ZD_MAX_FOLIO_ORDER)
		return -EINVAL;
	if (dev->removed)
		return -ENXIO;
	*nr = 0;
	ret = dev->ops->alloc(dev, order, at, h, folios, nr);
	if (!ret) {
		unsigned long pages = 0;
		int i;

		for (i = 0; i < *nr; i++)
			pages += zd_folio_nr_pages(folios[i]);
		zd_atomic_long_add_return_relaxed(&dev->allocated, (long)pages);
	}
	return ret;
}

int zd_device_free_pages(struct zd_device *dev, struct zd_folio **folios, int nr,
			 struct zd_holder h)
{
	if (!dev || (nr && !folios) || nr < 0)
		return -EINVAL;
	return dev->ops->free(dev, folios, nr, h);
}

/* Pages of the device that are not idle (0 once its memory is unplugged). */
static unsigned long zd_device_nr_not_idle(struct zd_device *dev)
{
	unsigned long i, n = zd_device_nr_pages(dev), step, busy = 0;

	for (i = 0; i < n; i += step) {
		struct zd_folio *folio = zd_device_index_folio(dev, i);
		unsigned long pfn;

		step = 1;
		if (!folio)
			continue; /* unplugged */
		zd_device_page_pfn(dev, i, &pfn);
		if (folio->pfn != pfn)
			continue; /* a tail: counted with its head */
		step = zd_folio_nr_pages(folio);
		if (!zd_folio_idle(folio))
			busy += step;
	}
	return busy;
}

int zd_device_mmap(struct zd_device *dev, struct zd_mm *mm, uint64_t size, unsigned int prot,
		   uint64_t *addr)
{
	if (!dev || !mm || !addr || !size)
		return -EINVAL;
	if (!dev->ops->mmap)
		return -ENODEV;
	if (dev->removed)
		return -ENXIO;
	return dev->ops->mmap(dev, mm, size, prot, addr);
}

void zd_device_counters(struct zd_device *dev, struct zd_device_counters *c)
{
	c->allocated = (unsigned long)zd_atomic_long_read_relaxed(&dev->allocated);
	c->freed = (unsigned long)zd_atomic_long_read_relaxed(&dev->freed);
	c->free = dev->ops->nr_free(dev);
	c->busy = dev->ops->nr_busy ? dev->ops->nr_busy(dev) : zd_device_nr_not_idle(dev);
}
