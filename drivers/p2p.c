/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: p2p, a PCI device whose BAR is published for P2PDMA: a
 * page pool over the BAR, user-mapped pages (one pgmap reference each) or,
 * in the legacy regime, kernel allocations (one pgmap reference each).
 */
#include <stdlib.h>

#include "device_internal.h"

struct zd_p2p_kalloc {
	unsigned long first; /* page index */
	unsigned long nr;
};

struct zd_p2p {
	unsigned long nr_pages;
	unsigned char *used; /* pool: one byte per page */
	unsigned long nr_free;
	struct zd_p2p_kalloc *kallocs;
	size_t nr_kallocs;
};

static unsigned long zd_p2p_index(struct zd_device *dev, struct zd_folio *folio)
{
	return folio->pfn - zd_pgmap_pfn_first(dev->pgmaps[0], 0);
}

static void zd_p2p_pool_free(struct zd_device *dev, unsigned long first, unsigned long nr)
{
	struct zd_p2p *p = dev->priv;
	unsigned long i;

	zd_spin_lock(&dev->lock);
	for (i = first; i < first + nr; i++) {
		if (p->used[i]) {
			p->used[i] = 0;
			p->nr_free++;
		}
	}
	zd_spin_unlock(&dev->lock);
}

/* folio_free: the page returns to the pool and its pgmap reference goes. */
static void zd_p2p_folio_free(struct zd_folio *folio)
{
	struct zd_device *dev = zd_pgmap_device(folio->pgmap);

	zd_p2p_pool_free(dev, zd_p2p_index(dev, folio), 1);
	zd_atomic_long_add_return_relaxed(&dev->freed, 1);
	zd_p2pdma_page_freed(folio);
}

static const struct zd_dev_pagemap_ops zd_p2p_pgmap_ops = {
    .folio_free = zd_p2p_folio_free,
};

static int zd_p2p_probe(struct zd_device *dev)
{
	struct zd_p2p *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	dev->priv = p;
	p->nr_pages = zd_device_nr_pages(dev);
	p->used = calloc(p->nr_pages, 1);
	if (!p->used)
		return -ENOMEM;
	p->nr_free = p->nr_pages;
	return zd_device_add_pgmap(dev, dev->cfg.size, 0, &zd_p2p_pgmap_ops, NULL, NULL);
}

/* First fit of nr contiguous pages; returns the first index or -1. */
static long zd_p2p_pool_alloc(struct zd_device *dev, unsigned long nr)
{
	struct zd_p2p *p = dev->priv;
	unsigned long i, run = 0;
	long first = -1;

	zd_spin_lock(&dev->lock);
	for (i = 0; i < p->nr_pages; i++) {
		run = p->used[i] ? 0 : run + 1;
		if (run == nr) {
			first = (long)(i + 1 - nr);
			break;
		}
	}
	if (first >= 0) {
		for (i = 0; i < nr; i++)
			p->used[first + i] = 1;
		p->nr_free -= nr;
	}
	zd_spin_unlock(&dev->lock);
	return first;
}

static unsigned long zd_p2p_nr_free(struct zd_device *dev);

static int zd_p2p_kalloc_record(struct zd_p2p *p, unsigned long first, unsigned long n)
{
	struct zd_p2p_kalloc *k = realloc(p->kallocs, (p->nr_kallocs + 1) * sizeof(*k));

	if (!k)
		return -ENOMEM;
	p->kallocs = k;
	p->kallocs[p->nr_kallocs++] = (struct zd_p2p_kalloc){first, n};
	return 0;
}

static int zd_p2p_alloc_held(struct zd_device *dev, unsigned int order, long at,
			     struct zd_holder h, struct zd_folio **folios, int *nr)
{
	struct zd_p2p *p = dev->priv;
	unsigned long n = 1ul << order, i;
	long first;
	int ret = 0;

	if (at >= 0 || n > ZD_DEVICE_MAX_ALLOC)
		return -EINVAL;
	first = zd_p2p_pool_alloc(dev, n);
	if (first < 0)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		folios[i] = zd_device_index_folio(dev, (unsigned long)first + i);
	for (i = 0; i < n; i++) {
		ret = zd_p2pdma_page_get_new(folios[i], h);
		if (ret)
			break;
	}
	if (ret == -EOPNOTSUPP && i == 0) {
		/* No user mappings in this regime: a kernel allocation, one pgmap reference. */
		ret = zd_p2pdma_kernel_ref_get(dev->pgmaps[0]);
		if (!ret) {
			zd_spin_lock(&dev->lock);
			ret = zd_p2p_kalloc_record(p, (unsigned long)first, n);
			zd_spin_unlock(&dev->lock);
			if (ret)
				zd_p2pdma_kernel_ref_put(dev->pgmaps[0]);
		}
		if (ret)
			zd_p2p_pool_free(dev, (unsigned long)first, n);
		else
			*nr = (int)n;
		return ret;
	}
	if (ret) {
		/* Undo: pages already handed over are put (and freed); the rest go back. */
		unsigned long done = i;

		for (i = 0; i < done; i++)
			zd_folio_put(folios[i], h);
		zd_p2p_pool_free(dev, (unsigned long)first + done, n - done);
		return ret;
	}
	*nr = (int)n;
	return 0;
}

/* alloc-page on a P2P device: as the mmap path, under a pgmap reference for the whole run. */
static int zd_p2p_alloc(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			struct zd_folio **folios, int *nr)
{
	int ret = zd_p2pdma_op_ref_get(dev->pgmaps[0]);

	if (ret)
		return ret;
	ret = zd_p2p_alloc_held(dev, order, at, h, folios, nr);
	zd_p2pdma_op_ref_put(dev->pgmaps[0]);
	return ret;
}

/* Every page of a P2P mapping is inserted at mmap: a later fault has nothing to map. */
static int zd_p2p_fault(struct zd_vm_fault *vmf, unsigned int level)
{
	return level > 1 ? ZD_VM_FAULT_FALLBACK : ZD_VM_FAULT_SIGBUS;
}

static const struct zd_vm_operations zd_p2p_vm_ops = {
	.fault = zd_p2p_fault,
};

/*
 * p2pmem_alloc_mmap: allocate the pages from the BAR and insert each into
 * the new mapping: the page goes 0 -> 1 (split: its resting reference is
 * handed over) with one pgmap reference, vm_insert_page adds the mapping's
 * reference and mapcount, and the initial reference is dropped, so the
 * mapping owns the page. On an insert failure the rest goes back to the
 * pool, the failed page's count is reset without running the free path,
 * and the mapping is torn down (freeing the pages already inserted).
 */
static int zd_p2p_mmap(struct zd_device *dev, struct zd_mm *mm, uint64_t size, unsigned int prot,
		       uint64_t *addr)
{
	struct zd_mmap_args args = {
		.kind = ZD_MAP_P2P, .size = size, .prot = prot, .shared = true,
		.vm_ops = &zd_p2p_vm_ops, .vm_private = dev,
	};
	struct zd_holder tmp = ZD_HOLDER(ZD_HOLD_TEMP, dev);
	unsigned long n = size >> ZD_PAGE_SHIFT, i;
	long first;
	int ret;

	if (!n || (size & (ZD_PAGE_SIZE - 1)))
		return -EINVAL;
	/* Held across the whole mapping: an unbind cannot free the pages under it. */
	ret = zd_p2pdma_op_ref_get(dev->pgmaps[0]);
	if (ret)
		return ret;
	ret = zd_mmap(mm, &args, addr);
	if (ret)
		goto out;
	first = zd_p2p_pool_alloc(dev, n);
	if (first < 0) {
		zd_munmap(mm, *addr, size);
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct zd_folio *folio = zd_device_index_folio(dev, (unsigned long)first + i);
		int resting = zd_pgmap_free_refcount(dev->world, ZD_MEMORY_DEVICE_PCI_P2PDMA);
		/* BUG(p2p-alloc-init-first-page): only the first page is initialised. */
		bool init = !i || !zd_world_bug_enabled(dev->world, "p2p-alloc-init-first-page");

		ret = init ? zd_p2pdma_page_get_new(folio, tmp) : 0;
		if (ret)
			break;
		ret = zd_vm_insert_page(mm, *addr + (i << ZD_PAGE_SHIFT), folio);
		if (ret) {
			/* Undo this page without the free path: count back, pgmap reference dropped. */
			if (!zd_world_bug_enabled(dev->world, "p2p-mmap-error-page-ref"))
				zd_folio_ref_transfer_reset(folio, resting, tmp);
			/* else BUG(p2p-mmap-error-page-ref): the page keeps its reference. */
			if (!zd_world_bug_enabled(dev->world, "p2p-mmap-error-pgmap-leak"))
				zd_p2pdma_page_freed(folio);
			/* else BUG(p2p-mmap-error-pgmap-leak): its pgmap reference is never dropped. */
			break;
		}
		if (init)
			zd_folio_put(folio, tmp);
		zd_atomic_long_add_return_relaxed(&dev->allocated, 1);
	}
	if (ret) {
		zd_p2p_pool_free(dev, (unsigned long)first + i, n - i);
		zd_munmap(mm, *addr, size);
	}
out:
	zd_p2pdma_op_ref_put(dev->pgmaps[0]);
	return ret;
}

static int zd_p2p_free(struct zd_device *dev, struct zd_folio **folios, int nr, struct zd_holder h)
{
	int i;

	if (!nr)
		return 0;
	/* A kernel allocation (the legacy regime's alloc-page): pci_free_p2pmem. */
	if (zd_p2pmem_free(dev, folios[0]->pfn) == 0)
		return 0;
	for (i = 0; i < nr; i++)
		zd_folio_put(folios[i], h);
	return 0;
}

int zd_p2pmem_alloc(struct zd_device *dev, uint64_t size, unsigned long *pfn)
{
	unsigned long n = (unsigned long)((size + ZD_PAGE_SIZE - 1) >> ZD_PAGE_SHIFT);
	struct zd_p2p *p;
	long first;
	int ret;

	if (!dev || !pfn || !size || dev->cfg.type != ZD_MEMORY_DEVICE_PCI_P2PDMA)
		return -EINVAL;
	if (dev->removed)
		return -ENXIO;
	p = dev->priv;
	first = zd_p2p_pool_alloc(dev, n);
	if (first < 0)
		return -ENOMEM;
	ret = zd_p2pdma_kernel_ref_get(dev->pgmaps[0]);
	if (!ret) {
		zd_spin_lock(&dev->lock);
		ret = zd_p2p_kalloc_record(p, (unsigned long)first, n);
		zd_spin_unlock(&dev->lock);
		if (ret)
			zd_p2pdma_kernel_ref_put(dev->pgmaps[0]);
	}
	if (ret) {
		zd_p2p_pool_free(dev, (unsigned long)first, n);
		return ret;
	}
	zd_atomic_long_add_return_relaxed(&dev->allocated, (long)n);
	*pfn = zd_pgmap_pfn_first(dev->pgmaps[0], 0) + (unsigned long)first;
	return 0;
}

int zd_p2pmem_free(struct zd_device *dev, unsigned long pfn)
{
	struct zd_p2p *p;
	unsigned long first;
	size_t k;

	if (!dev || dev->cfg.type != ZD_MEMORY_DEVICE_PCI_P2PDMA)
		return -EINVAL;
	p = dev->priv;
	first = pfn - zd_pgmap_pfn_first(dev->pgmaps[0], 0);
	zd_spin_lock(&dev->lock);
	for (k = 0; k < p->nr_kallocs; k++)
		if (p->kallocs[k].first == first)
			break;
	if (k == p->nr_kallocs) {
		zd_spin_unlock(&dev->lock);
		return -ENOENT;
	}
	first = p->kallocs[k].first;
	pfn = p->kallocs[k].nr;
	p->kallocs[k] = p->kallocs[--p->nr_kallocs];
	zd_spin_unlock(&dev->lock);
	zd_p2p_pool_free(dev, first, pfn);
	zd_p2pdma_kernel_ref_put(dev->pgmaps[0]);
	return 0;
}

static unsigned long zd_p2p_nr_busy(struct zd_device *dev)
{
	struct zd_p2p *p = dev->priv;

	return dev->removed && zd_pgmap_state(dev->pgmaps[0]) == ZD_PGMAP_DEAD
		   ? 0
		   : p->nr_pages - zd_p2p_nr_free(dev);
}

static unsigned long zd_p2p_nr_free(struct zd_device *dev)
{
	struct zd_p2p *p = dev->priv;
	unsigned long n;

	zd_spin_lock(&dev->lock);
	n = p->nr_free;
	zd_spin_unlock(&dev->lock);
	return n;
}

static void zd_p2p_destroy(struct zd_device *dev)
{
	struct zd_p2p *p = dev->priv;

	if (!p)
		return;
	free(p->used);
	free(p->kallocs);
	free(p);
	dev->priv = NULL;
}

/* The pool for the digest: which pages are handed out, and the kernel-side allocations. */
static void zd_p2p_state_hash(struct zd_device *dev, struct zd_state_hash *h)
{
	struct zd_p2p *p = dev->priv;
	size_t i;

	zd_state_hash_u64(h, p->nr_pages);
	zd_state_hash_bytes(h, p->used, p->nr_pages);
	zd_state_hash_u64(h, p->nr_free);
	zd_state_hash_u64(h, p->nr_kallocs);
	for (i = 0; i < p->nr_kallocs; i++) {
		zd_state_hash_u64(h, p->kallocs[i].first);
		zd_state_hash_u64(h, p->kallocs[i].nr);
	}
}

const struct zd_device_ops zd_p2p_ops = {
    .probe = zd_p2p_probe,
    .alloc = zd_p2p_alloc,
    .free = zd_p2p_free,
    .nr_free = zd_p2p_nr_free,
    .nr_busy = zd_p2p_nr_busy,
    .destroy = zd_p2p_destroy,
    .mmap = zd_p2p_mmap,
    .state_hash = zd_p2p_state_hash,
};
