/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: dmirror, modelled on the kernel's test_hmm driver:
 * device-private or device-coherent memory registered in chunks, a free
 * list of pages (and of 2 MiB folios with align=2M), and, as amdgpu does,
 * a buffer object per chunk that every handed-out page references.
 */
#include <stdlib.h>

#include "device_internal.h"

struct zd_dmirror_chunk {
	struct zd_dev_pagemap *pgmap;
	zd_atomic_long_t bo_refs; /* one per device page handed out from this chunk */
};

struct zd_dmirror {
	struct zd_device *dev;
	struct zd_dmirror_chunk *chunks;
	int nr_chunks;
	struct zd_folio *free_pages; /* order 0, linked through zone_device_data */
	struct zd_folio *free_huge;  /* order 9 */
	unsigned long nr_free;	     /* base pages on both lists */
};

static struct zd_dmirror_chunk *zd_dmirror_chunk_of(struct zd_dmirror *dm, struct zd_folio *folio)
{
	int i;

	for (i = 0; i < dm->nr_chunks; i++)
		if (dm->chunks[i].pgmap == folio->pgmap)
			return &dm->chunks[i];
	return NULL;
}

static void zd_dmirror_push(struct zd_dmirror *dm, struct zd_folio *folio, unsigned int order)
{
	struct zd_folio **list = order ? &dm->free_huge : &dm->free_pages;

	folio->zone_device_data = *list;
	*list = folio;
	dm->nr_free += 1ul << order;
}

/*
 * The pgmap's folio_free: the page drops its BO reference and goes back on
 * the free list. Everything about the folio is read before the push: once
 * on the list another thread may allocate it.
 */
static void zd_dmirror_folio_free(struct zd_folio *folio)
{
	struct zd_device *dev = zd_pgmap_device(folio->pgmap);
	struct zd_dmirror *dm = dev->priv;
	struct zd_dmirror_chunk *chunk = zd_dmirror_chunk_of(dm, folio);
	unsigned int order = zd_folio_order(folio);
	unsigned long nr = 1ul << order;

	zd_atomic_long_add_return_relaxed(&dev->freed, (long)nr);
	if (chunk)
		zd_atomic_long_add_return_acq_rel(&chunk->bo_refs, -(long)nr);
	zd_spin_lock(&dev->lock);
	zd_dmirror_push(dm, folio, order);
	zd_spin_unlock(&dev->lock);
}

static int zd_dmirror_migrate_to_ram(struct zd_vm_fault *vmf)
{
	return -EOPNOTSUPP; /* the device-memory issue fills this in */
}

static const struct zd_dev_pagemap_ops zd_dmirror_pgmap_ops = {
    .folio_free = zd_dmirror_folio_free,
    .migrate_to_ram = zd_dmirror_migrate_to_ram,
};

static int zd_dmirror_probe(struct zd_device *dev)
{
	struct zd_world *w = dev->world;
	uint64_t chunk = dev->cfg.chunk ? dev->cfg.chunk : dev->cfg.size;
	unsigned int order = dev->cfg.align_order;
	int fr = zd_pgmap_free_refcount(w, dev->cfg.type);
	struct zd_dmirror *dm;
	uint64_t done;
	int ret;

	if (order && !zd_pgmap_large_folios(w, dev->cfg.type))
		return -EINVAL;
	if (order > ZD_PMD_ORDER)
		return -EINVAL;
	dm = calloc(1, sizeof(*dm));
	if (!dm)
		return -ENOMEM;
	dm->dev = dev;
	dev->priv = dm;
	dm->chunks = calloc((dev->cfg.size + chunk - 1) / chunk, sizeof(*dm->chunks));
	if (!dm->chunks)
		return -ENOMEM;
	for (done = 0; done < dev->cfg.size; done += chunk) {
		uint64_t size = dev->cfg.size - done < chunk ? dev->cfg.size - done : chunk;
		struct zd_dev_pagemap *pgmap;
		unsigned long pfn, first, end, step = 1ul << order;

		/* Chunks are memremap'd with base-page geometry; folios are built on allocation. */
		ret = zd_device_add_pgmap(dev, size, 0, &zd_dmirror_pgmap_ops, dm, &pgmap);
		if (ret)
			return ret;
		dm->chunks[dm->nr_chunks++].pgmap = pgmap;
		first = zd_pgmap_pfn_first(pgmap, 0);
		end = zd_pgmap_pfn_end(pgmap, 0);
		/* Highest first, so the lowest page is handed out first. */
		for (pfn = end; pfn > first;) {
			pfn -= step;
			zd_dmirror_push(dm, zd_pfn_folio(w, pfn), order);
		}
		(void)fr;
	}
	return 0;
}

/* Take a folio of `order` off the free lists; split a 2 MiB block for order 0 if needed. */
static struct zd_folio *zd_dmirror_take(struct zd_device *dev, struct zd_dmirror *dm,
					unsigned int order)
{
	struct zd_folio *folio, *huge;
	unsigned long i;

	if (order) {
		folio = dm->free_huge;
		if (folio) {
			dm->free_huge = folio->zone_device_data;
			dm->nr_free -= 1ul << order;
		}
		return folio;
	}
	if (!dm->free_pages && dm->free_huge) {
		huge = dm->free_huge;
		dm->free_huge = huge->zone_device_data;
		dm->nr_free -= 1ul << ZD_PMD_ORDER;
		/*
		 * Split a free 2 MiB block into base pages. A block that was a
		 * folio keeps its compound bits until zone_device_folio_init
		 * scrubs each page as it is handed out.
		 */
		for (i = (1ul << ZD_PMD_ORDER); i-- > 0;)
			zd_dmirror_push(
			    dm, (struct zd_folio *)zd_pfn_to_page(dev->world, huge->pfn + i), 0);
	}
	folio = dm->free_pages;
	if (folio) {
		dm->free_pages = folio->zone_device_data;
		dm->nr_free--;
	}
	return folio;
}

static int zd_dmirror_alloc(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			    struct zd_folio **folios, int *nr)
{
	struct zd_dmirror *dm = dev->priv;
	struct zd_dmirror_chunk *chunk;
	struct zd_folio *folio;
	int ret;

	if (at >= 0 || (order != 0 && order != ZD_PMD_ORDER))
		return -EINVAL;
	if (order && dev->cfg.align_order != ZD_PMD_ORDER)
		return -EINVAL;
	zd_spin_lock(&dev->lock);
	folio = zd_dmirror_take(dev, dm, order);
	zd_spin_unlock(&dev->lock);
	if (!folio)
		return -ENOMEM;
	folio->zone_device_data = NULL;
	ret = zd_zone_device_folio_init(folio, folio->pgmap, order, h);
	if (ret) {
		zd_spin_lock(&dev->lock);
		zd_dmirror_push(dm, folio, order);
		zd_spin_unlock(&dev->lock);
		return ret;
	}
	chunk = zd_dmirror_chunk_of(dm, folio);
	if (chunk)
		zd_atomic_long_add_return_acq_rel(&chunk->bo_refs, 1l << order);
	folios[0] = folio;
	*nr = 1;
	return 0;
}

static int zd_dmirror_free(struct zd_device *dev, struct zd_folio **folios, int nr,
			   struct zd_holder h)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (zd_folio_test_locked(folios[i]))
			zd_folio_unlock(folios[i]);
		zd_folio_put(folios[i], h);
	}
	return 0;
}

static unsigned long zd_dmirror_nr_free(struct zd_device *dev)
{
	struct zd_dmirror *dm = dev->priv;
	unsigned long n;

	zd_spin_lock(&dev->lock);
	n = dm->nr_free;
	zd_spin_unlock(&dev->lock);
	return n;
}

static void zd_dmirror_audit(struct zd_world *w, struct zd_audit *a, void *arg)
{
	struct zd_device *dev = arg;
	struct zd_dmirror *dm = dev->priv;
	struct zd_folio *f;

	zd_spin_lock(&dev->lock);
	for (f = dm->free_pages; f; f = f->zone_device_data)
		zd_audit_note_free_listed(a, f);
	for (f = dm->free_huge; f; f = f->zone_device_data)
		zd_audit_note_free_listed(a, f);
	zd_spin_unlock(&dev->lock);
}

static void zd_dmirror_destroy(struct zd_device *dev)
{
	struct zd_dmirror *dm = dev->priv;

	if (!dm)
		return;
	free(dm->chunks);
	free(dm);
	dev->priv = NULL;
}

const struct zd_device_ops zd_dmirror_ops = {
    .probe = zd_dmirror_probe,
    .alloc = zd_dmirror_alloc,
    .free = zd_dmirror_free,
    .nr_free = zd_dmirror_nr_free,
    .audit = zd_dmirror_audit,
    .destroy = zd_dmirror_destroy,
};
