/* SPDX-License-Identifier: MIT */
/*
 * zonedev: memremap_pages: validation, the percpu reference, publishing the
 * pfn lookup, the memmap and its initialisation (memmap_init_zone_device),
 * and the regime's bulk pgmap references.
 */
#include <string.h>

#include "pgmap/pgmap.h"

static void zd_pgmap_release(struct zd_percpu_ref *ref)
{
	struct zd_dev_pagemap *pgmap =
	    (struct zd_dev_pagemap *)((char *)ref - offsetof(struct zd_dev_pagemap, ref));

	zd_complete(&pgmap->done);
}

struct zd_dev_pagemap *zd_pgmap_alloc(int nr_range)
{
	struct zd_dev_pagemap *pgmap;

	if (nr_range < 1 || nr_range > 1024)
		return NULL;
	pgmap = zd_kzalloc(NULL, sizeof(*pgmap) + nr_range * sizeof(struct zd_range));
	if (pgmap)
		pgmap->nr_range = nr_range;
	return pgmap;
}

void zd_pgmap_free(struct zd_dev_pagemap *pgmap)
{
	zd_kfree(NULL, pgmap, 0);
}

static int zd_memremap_validate(struct zd_world *w, struct zd_dev_pagemap *pgmap)
{
	const struct zd_dev_pagemap_ops *ops = pgmap->ops;
	const struct zd_type_policy *tp;
	unsigned long folio_bytes;
	int i;

	/* A pgmap may be registered again once memunmap completed, as drivers re-probe. */
	if (zd_pgmap_state(pgmap) != ZD_PGMAP_UNUSED && zd_pgmap_state(pgmap) != ZD_PGMAP_DEAD)
		return -EBUSY;
	if (pgmap->nr_range < 1 || pgmap->vmemmap_shift > ZD_MAX_FOLIO_ORDER)
		return -EINVAL;
	switch (pgmap->type) {
	case ZD_MEMORY_DEVICE_PRIVATE:
		if (!ops || !ops->migrate_to_ram || !ops->folio_free || !pgmap->owner)
			return -EINVAL;
		break;
	case ZD_MEMORY_DEVICE_COHERENT:
		if (!ops || !ops->folio_free || !pgmap->owner)
			return -EINVAL;
		break;
	case ZD_MEMORY_DEVICE_FS_DAX:
	case ZD_MEMORY_DEVICE_GENERIC:
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		break;
	default:
		/* The kernel only WARNs; we refuse, so nothing is built on a bad type. */
		return -EINVAL;
	}
	tp = zd_policy_type(w->policy, pgmap->type);
	if (pgmap->vmemmap_shift && !tp->large_folios)
		return -EINVAL;
	if ((pgmap->flags & ZD_PGMAP_ALTMAP_VALID) && pgmap->nr_range > 1)
		return -EINVAL;
	folio_bytes = ZD_PAGE_SIZE << pgmap->vmemmap_shift;
	for (i = 0; i < pgmap->nr_range; i++) {
		const struct zd_range *r = &pgmap->ranges[i];

		if (r->end < r->start || (r->start & (folio_bytes - 1)) ||
		    (zd_range_len(r) & (folio_bytes - 1)))
			return -EINVAL;
	}
	if (pgmap->flags & ZD_PGMAP_ALTMAP_VALID) {
		unsigned long off = pgmap->altmap.reserve + pgmap->altmap.free;

		if (off >= (zd_range_len(&pgmap->ranges[0]) >> ZD_PAGE_SHIFT) ||
		    (off & ((1ul << pgmap->vmemmap_shift) - 1)))
			return -EINVAL;
	}
	return 0;
}

/*
 * memmap_init_zone_device for one range: every struct page gets zone
 * ZONE_DEVICE, the world, PG_reserved, its pgmap and the regime's initial
 * count; compound geometries link tails to heads (or to the shared tail).
 */
static void zd_memmap_init_zone_device(struct zd_world *w, struct zd_dev_pagemap *pgmap,
				       struct zd_memmap_range *r, unsigned long first,
				       unsigned long end)
{
	const struct zd_type_policy *tp = zd_policy_type(w->policy, pgmap->type);
	unsigned long base = (ZD_ZONE_DEVICE << ZD_PAGE_ZONE_SHIFT) |
			     ((unsigned long)w->id << ZD_PAGE_WORLD_SHIFT) |
			     (1ul << ZD_PG_reserved);
	unsigned int shift = (unsigned int)pgmap->vmemmap_shift;
	unsigned long nr = 1ul << shift, pfn, i, head_flags;

	/* The altmap prefix: struct pages exist but are never device pages. */
	for (pfn = r->start_pfn; pfn < first; pfn++) {
		struct zd_page *p = zd_memmap_page(r, pfn);

		zd_atomic_ulong_set_relaxed(&p->flags, base);
		zd_atomic_set_relaxed(&p->_mapcount, -1);
		p->pfn = pfn;
	}
	if (r->dedup) {
		struct zd_page *t = &r->shared_tail;

		zd_atomic_ulong_set_relaxed(&t->flags, base | (1ul << ZD_PG_shared_tail));
		t->pgmap = pgmap;
		zd_atomic_set_relaxed(&t->_mapcount, -1);
		zd_atomic_set_relaxed(&t->_refcount, 0);
		t->pfn = ZD_PFN_NONE;
		r->shared_tail_pristine = *t;
	}
	head_flags = base | (shift ? 1ul << ZD_PG_head : 0) |
		     (tp->memremap_refcount ? 1ul << ZD_PG_base_ref : 0);
	for (pfn = first; pfn < end; pfn += nr) {
		/* Heads are stored at a fixed stride: no per-page lookup. */
		struct zd_page *head = r->dedup ? &r->pages[2 * ((pfn - r->start_pfn) >> shift)]
						: &r->pages[pfn - r->start_pfn];
		struct zd_folio *folio = (struct zd_folio *)head;
		unsigned long stored = r->dedup ? 2 : nr;

		zd_atomic_ulong_set_relaxed(&head->flags, head_flags);
		head->pgmap = pgmap;
		head->zone_device_data = NULL;
		ZD_WRITE_ONCE(head->mapping, NULL);
		head->index = 0;
		head->private = 0;
		zd_atomic_set_relaxed(&head->_mapcount, -1);
		zd_atomic_set_relaxed(&head->_refcount, tp->memremap_refcount);
		head->pfn = pfn;
		for (i = 1; i < stored; i++) {
			struct zd_page *tail = head + i;

			zd_atomic_ulong_set_relaxed(&tail->flags, base);
			tail->compound_head = (uintptr_t)head | 1;
			tail->zone_device_data = NULL;
			ZD_WRITE_ONCE(tail->mapping, NULL);
			tail->index = 0;
			tail->private = 0;
			zd_atomic_set_relaxed(&tail->_mapcount, -1);
			zd_atomic_set_relaxed(&tail->_refcount, 0);
			tail->pfn = pfn + i;
		}
		if (shift) {
			zd_atomic_ulong_set_relaxed(&folio->_flags_1, base | shift);
			zd_atomic_set_relaxed(&folio->_large_mapcount, -1);
			zd_atomic_set_relaxed(&folio->_entire_mapcount, -1);
			zd_atomic_set_relaxed(&folio->_nr_pages_mapped, 0);
			zd_atomic_set_relaxed(&folio->_pincount, 0);
			folio->_nr_pages = (unsigned int)nr;
			folio->_private_1 = 0;
		}
	}
}

/* Undo ranges [0, nr) of a partially registered pgmap (or all of a dying one). */
void zd_pgmap_unmap_ranges(struct zd_world *w, struct zd_dev_pagemap *pgmap, int nr, bool keep_busy)
{
	int i;

	for (i = 0; i < nr; i++) {
		struct zd_memmap_range *r = pgmap->memmaps[i];
		unsigned long start = pgmap->ranges[i].start >> ZD_PAGE_SHIFT;

		zd_rangetab_remove(w, &w->pgmaps->pfnmap, start);
		if (!r)
			continue;
		zd_atomic_long_add_return_relaxed(&w->mem->device_memmap_bytes, -(long)r->bytes);
		if (!keep_busy)
			zd_ledger_forget(w, r->start_pfn, r->start_pfn + r->nr_pages);
		zd_memmap_remove(w, r, keep_busy);
		pgmap->memmaps[i] = NULL;
	}
}

static int zd_pagemap_range(struct zd_world *w, struct zd_dev_pagemap *pgmap, int i)
{
	const struct zd_type_policy *tp = zd_policy_type(w->policy, pgmap->type);
	const struct zd_range *range = &pgmap->ranges[i];
	unsigned long start = range->start >> ZD_PAGE_SHIFT;
	unsigned long end = (range->end + 1) >> ZD_PAGE_SHIFT;
	bool dedup = pgmap->vmemmap_shift > 7 && !(pgmap->flags & ZD_PGMAP_ALTMAP_VALID);
	struct zd_memmap_range *r;
	int ret;

	if (start < w->mem->ram_pages)
		return -ENXIO;
	ret = zd_rangetab_insert(w, &w->pgmaps->pfnmap, start, end, pgmap);
	if (ret)
		return ret;
	ret = zd_memmap_add(w, start, end - start, (unsigned int)pgmap->vmemmap_shift, dedup, &r);
	if (ret) {
		zd_rangetab_remove(w, &w->pgmaps->pfnmap, start);
		return ret == -EEXIST ? -EEXIST : -ENOMEM;
	}
	pgmap->memmaps[i] = r;
	zd_atomic_long_add_return_relaxed(&w->mem->device_memmap_bytes, (long)r->bytes);
	zd_memmap_init_zone_device(w, pgmap, r, zd_pgmap_pfn_first(pgmap, i), end);
	if (tp->memremap_bulk_refs)
		zd_pgmap_ref_get(pgmap, ZD_PGREF_BULK, zd_pgmap_range_folios(pgmap, i));
	else if (tp->memremap_page_refs)
		zd_pgmap_ref_get(pgmap, ZD_PGREF_PAGE, zd_pgmap_range_folios(pgmap, i));
	return 0;
}

static int zd_pgmap_list_add(struct zd_world *w, struct zd_dev_pagemap *pgmap)
{
	struct zd_pgmap_registry *reg = w->pgmaps;
	int ret = 0;

	size_t i;

	zd_mutex_lock(&reg->lock);
	for (i = 0; i < reg->nr; i++)
		if (reg->list[i] == pgmap)
			goto out; /* registered again after a completed memunmap */
	if (reg->nr == reg->cap) {
		size_t cap = reg->cap ? 2 * reg->cap : 8;
		struct zd_dev_pagemap **list = zd_kzalloc(w, cap * sizeof(*list));

		if (!list) {
			ret = -ENOMEM;
			goto out;
		}
		if (reg->nr)
			memcpy(list, reg->list, reg->nr * sizeof(*list));
		zd_kfree(w, reg->list, reg->cap * sizeof(*list));
		reg->list = list;
		reg->cap = cap;
	}
	reg->list[reg->nr++] = pgmap;
out:
	zd_mutex_unlock(&reg->lock);
	return ret;
}

int zd_memremap_pages(struct zd_world *w, struct zd_dev_pagemap *pgmap)
{
	const struct zd_type_policy *tp;
	int i, j, ret;

	if (!w || !pgmap)
		return -EINVAL;
	ret = zd_memremap_validate(w, pgmap);
	if (ret)
		return ret;
	tp = zd_policy_type(w->policy, pgmap->type);
	pgmap->world = w;
	if (!pgmap->name)
		pgmap->name = "pgmap";
	for (i = 0; i < ZD_NR_PGREF_KINDS; i++)
		zd_atomic_long_set_relaxed(&pgmap->dbg_refs[i], 0);
	pgmap->memmaps = zd_kzalloc(w, pgmap->nr_range * sizeof(*pgmap->memmaps));
	if (!pgmap->memmaps)
		return -ENOMEM;
	ret = zd_pgmap_list_add(w, pgmap);
	if (ret)
		goto err_memmaps;
	zd_init_completion(&pgmap->done);
	zd_percpu_ref_init(&pgmap->ref, zd_pgmap_release);
	zd_atomic_long_set_relaxed(&pgmap->dbg_refs[ZD_PGREF_INITIAL], 1);
	for (i = 0; i < pgmap->nr_range; i++) {
		ret = zd_pagemap_range(w, pgmap, i);
		if (ret)
			goto err_ranges;
	}
	zd_atomic_set_release(&pgmap->state, ZD_PGMAP_LIVE);
	w->nr_pgmaps_ever++;
	if (zd_tracing(w))
		zd_trace_event(w, pgmap->ranges[0].start >> ZD_PAGE_SHIFT, pgmap->name,
			       "memremap_pages", "type=%s ranges=%d vmemmap_shift=%lu refcount=%d",
			       zd_memory_type_name(pgmap->type), pgmap->nr_range,
			       pgmap->vmemmap_shift, tp->memremap_refcount);
	return 0;

err_ranges:
	/* Drop what the finished ranges took, then unwind them: nothing stays registered. */
	for (j = 0; j < i; j++) {
		unsigned long n = zd_pgmap_range_folios(pgmap, j);

		if (tp->memremap_bulk_refs)
			zd_pgmap_ref_put(pgmap, ZD_PGREF_BULK, n);
		else if (tp->memremap_page_refs)
			zd_pgmap_ref_put(pgmap, ZD_PGREF_PAGE, n);
	}
	zd_pgmap_unmap_ranges(w, pgmap, i, false);
	zd_percpu_ref_kill(&pgmap->ref);
	zd_atomic_long_set_relaxed(&pgmap->dbg_refs[ZD_PGREF_INITIAL], 0);
	zd_percpu_ref_exit(&pgmap->ref);
	zd_pgmap_registry_remove(w, pgmap);
err_memmaps:
	zd_kfree(w, pgmap->memmaps, pgmap->nr_range * sizeof(*pgmap->memmaps));
	pgmap->memmaps = NULL;
	return ret;
}
