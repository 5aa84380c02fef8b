/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: pmem, a persistent-memory device whose pgmap is FS_DAX.
 * References on its pages are taken the way the DAX paths take them.
 */
#include "device_internal.h"

/* pmem's page_free of the legacy kernels: it only woke truncate waiters (the core does the wake).
 */
static void zd_pmem_folio_free(struct zd_folio *folio)
{
	struct zd_device *dev = zd_pgmap_device(folio->pgmap);

	zd_atomic_long_add_return_relaxed(&dev->freed, (long)zd_folio_nr_pages(folio));
}

static const struct zd_dev_pagemap_ops zd_pmem_ops_with_free = {
    .folio_free = zd_pmem_folio_free,
};

static const struct zd_dev_pagemap_ops zd_pmem_ops_plain = {
    .folio_free = NULL,
};

static int zd_pmem_probe(struct zd_device *dev)
{
	/* pmem supplied page_free only while the core called it at 2 -> 1 (legacy). */
	const struct zd_dev_pagemap_ops *ops =
	    zd_pgmap_free_callback(dev->world, ZD_MEMORY_DEVICE_FS_DAX) ? &zd_pmem_ops_with_free
									: &zd_pmem_ops_plain;

	/* FS DAX memmaps use base pages: folios are built as files map them. */
	return zd_device_add_pgmap(dev, dev->cfg.size, 0, ops, NULL, NULL);
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
};
