/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: pmem, a persistent-memory device whose pgmap is FS_DAX.
 * References on its pages are taken the way the DAX paths take them.
 */
#include "device_internal.h"
#include "zonedev/dax.h"
#include "dax/dax_internal.h"

/* pmem's page_free of the legacy kernels: it only woke truncate waiters (the core does the wake).
 */
static void zd_pmem_folio_free(struct zd_folio *folio)
{
	struct zd_device *dev = zd_pgmap_device(folio->pgmap);

	zd_atomic_long_add_return_relaxed(&dev->freed, (long)zd_folio_nr_pages(folio));
}

/*
 * pmem_pagemap_memory_failure: the device offset goes to the holder of the
 * dax device, the filesystem (dax_holder_notify_failure -> notify_failure).
 */
static int zd_pmem_memory_failure(struct zd_dev_pagemap *pgmap, unsigned long pfn,
				  unsigned long nr_pages, int mf_flags)
{
	struct zd_device *dev = zd_pgmap_device(pgmap);

	if (!dev || !dev->priv)
		return -EOPNOTSUPP;
	return zd_daxfs_notify_failure(dev->priv, pfn, nr_pages, mf_flags);
}

static const struct zd_dev_pagemap_ops zd_pmem_ops_with_free = {
    .folio_free = zd_pmem_folio_free,
    .memory_failure = zd_pmem_memory_failure,
};

static const struct zd_dev_pagemap_ops zd_pmem_ops_plain = {
    .folio_free = NULL,
    .memory_failure = zd_pmem_memory_failure,
};

struct zd_daxfs *zd_pmem_fs(struct zd_device *dev)
{
	return dev && dev->cfg.type == ZD_MEMORY_DEVICE_FS_DAX && !dev->removed ? dev->priv
										 : NULL;
}

static int zd_pmem_probe(struct zd_device *dev)
{
	/* pmem supplied page_free only while the core called it at 2 -> 1 (legacy). */
	const struct zd_dev_pagemap_ops *ops =
	    zd_pgmap_free_callback(dev->world, ZD_MEMORY_DEVICE_FS_DAX) ? &zd_pmem_ops_with_free
									: &zd_pmem_ops_plain;

	struct zd_dev_pagemap *pgmap;
	int ret;

	/* FS DAX memmaps use base pages: folios are built as files map them. */
	ret = zd_device_add_pgmap(dev, dev->cfg.size, 0, ops, NULL, &pgmap);
	if (ret)
		return ret;
	/* the DAX filesystem on it (mkfs + mount) */
	dev->priv = zd_daxfs_create(dev->world, dev->name, pgmap, dev->cfg.align_order);
	return dev->priv ? 0 : -ENOMEM;
}

/* Unbind: the filesystem is unmounted first (every mapping goes, busy pages are waited for). */
static long zd_pmem_evict(struct zd_device *dev)
{
	int ret = zd_daxfs_shutdown(dev->priv);

	return ret ? ret : 0;
}

static void zd_pmem_audit(struct zd_world *w, struct zd_audit *a, void *arg)
{
	struct zd_device *dev = arg;

	zd_daxfs_audit(w, a, dev->priv);
}

static void zd_pmem_state_hash(struct zd_device *dev, struct zd_state_hash *h)
{
	zd_daxfs_state_hash(dev->priv, h);
}

static void zd_pmem_destroy(struct zd_device *dev)
{
	zd_daxfs_destroy(dev->priv);
	dev->priv = NULL;
}

/* The folio at index, or the first idle one when at < 0. */
static struct zd_folio *zd_dax_pick(struct zd_device *dev, unsigned int order, long at)
{
	unsigned long i, n = zd_device_nr_pages(dev), step = 1ul << order;

	if (at >= 0)
		return zd_device_index_folio(dev, (unsigned long)at);
	for (i = 0; i < n; i += step) {
		struct zd_folio *folio = zd_device_index_folio(dev, i);

		if (folio && zd_folio_idle(folio))
			return folio;
	}
	return NULL;
}

int zd_dax_device_alloc(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			struct zd_folio **folios, int *nr)
{
	struct zd_folio *folio;
	int ret;

	if (order != dev->cfg.align_order && !(dev->cfg.type == ZD_MEMORY_DEVICE_FS_DAX && !order))
		return -EINVAL;
	if (at >= 0 && (unsigned long)at >= zd_device_nr_pages(dev))
		return -EINVAL;
	folio = zd_dax_pick(dev, dev->cfg.type == ZD_MEMORY_DEVICE_FS_DAX ? 0 : order, at);
	if (!folio)
		return -ENOMEM;
	ret = zd_dax_folio_get(folio, h);
	if (ret)
		return ret;
	folios[0] = folio;
	*nr = 1;
	return 0;
}

int zd_dax_device_free(struct zd_device *dev, struct zd_folio **folios, int nr, struct zd_holder h)
{
	int i;

	for (i = 0; i < nr; i++)
		zd_folio_put(folios[i], h);
	return 0;
}

unsigned long zd_dax_device_nr_free(struct zd_device *dev)
{
	unsigned long i, n = zd_device_nr_pages(dev), step, free = 0;

	if (dev->removed)
		return 0;
	for (i = 0; i < n; i += step) {
		struct zd_folio *folio = zd_device_index_folio(dev, i);

		step = folio ? zd_folio_nr_pages(folio) : 1;
		if (folio && zd_folio_idle(folio))
			free += step;
	}
	return free;
}

const struct zd_device_ops zd_pmem_ops = {
    .probe = zd_pmem_probe,
    .alloc = zd_dax_device_alloc,
    .free = zd_dax_device_free,
    .nr_free = zd_dax_device_nr_free,
    .audit = zd_pmem_audit,
    .state_hash = zd_pmem_state_hash,
    .destroy = zd_pmem_destroy,
    .evict = zd_pmem_evict,
};
