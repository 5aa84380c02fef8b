/* SPDX-License-Identifier: MIT */
/*
 * zonedev: memunmap_pages in the kernel's order (kill, drop the bulk
 * references, wait for the drain, unplug), and the pgmap registry.
 */
#include <stdio.h>
#include <string.h>

#include "pgmap/pgmap.h"

struct zd_busy_scan {
	unsigned long busy;
	unsigned long first;
};

/*
 * Count the folios that are not idle by walking the stored struct pages
 * directly (a tail or a free page is idle: refcount equal to its base bit).
 * This runs over every struct page at teardown, so it stays a tight loop.
 */
static void zd_scan_busy(struct zd_dev_pagemap *pgmap, struct zd_busy_scan *s)
{
	int i;

	for (i = 0; i < pgmap->nr_range; i++) {
		struct zd_memmap_range *r = pgmap->memmaps[i];
		size_t n, k;

		if (!r)
			continue;
		n = r->bytes / sizeof(struct zd_page);
		for (k = 0; k < n; k++) {
			const struct zd_page *p = &r->pages[k];
			unsigned long base =
			    (zd_atomic_ulong_read_relaxed(&p->flags) >> ZD_PG_base_ref) & 1;

			if ((unsigned long)zd_atomic_read_relaxed(&p->_refcount) != base) {
				if (!s->busy)
					s->first = p->pfn;
				s->busy++;
			}
		}
	}
}

static void zd_put_base_ref(struct zd_folio *folio, void *arg)
{
	zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_BASE, 0));
}

/*
 * Legacy teardown: put_page on every folio drops its base reference. With
 * the bug compound-devmap-per-pfn-put the loop runs per base pfn, putting
 * the head once for every pfn of a compound folio.
 */
static void zd_memunmap_put_base_refs(struct zd_world *w, struct zd_dev_pagemap *pgmap)
{
	int i;

	if (!zd_bug_on(w, ZD_BUG_COMPOUND_DEVMAP_PER_PFN_PUT) || !pgmap->vmemmap_shift) {
		zd_pgmap_for_each_folio(pgmap, zd_put_base_ref, NULL);
		return;
	}
	for (i = 0; i < pgmap->nr_range; i++) {
		unsigned long pfn;

		for (pfn = zd_pgmap_pfn_first(pgmap, i); pfn < zd_pgmap_pfn_end(pgmap, i); pfn++) {
			struct zd_folio *folio = zd_memmap_folio(pgmap->memmaps[i], pfn);

			/* BUG(compound-devmap-per-pfn-put): a put per pfn, not per folio. */
			zd_folio_put_refs(folio, 1,
					  pfn == folio->pfn ? ZD_HOLDER(ZD_HOLD_BASE, 0)
							    : ZD_HOLDER(ZD_HOLD_OTHER, 0));
		}
	}
}

/* Unplug: the memmap goes away. Kept as a zombie if pages are still referenced. */
static void zd_memunmap_unplug(struct zd_world *w, struct zd_dev_pagemap *pgmap)
{
	struct zd_busy_scan scan = {0, 0};
	long refs = zd_percpu_ref_read(&pgmap->ref);

	zd_scan_busy(pgmap, &scan);
	if (refs > 0)
		zd_report(w, ZD_INV_UNPLUG_BEFORE_DRAIN, ZD_PFN_NONE,
			  "pgmap %s unplugged with %ld pgmap reference%s still held", pgmap->name,
			  refs, refs == 1 ? "" : "s");
	else if (scan.busy)
		zd_report(w, ZD_INV_MEMUNMAP_BUSY_PAGE, scan.first,
			  "pgmap %s unplugged with %lu page%s still referenced (first pfn 0x%lx)",
			  pgmap->name, scan.busy, scan.busy == 1 ? "" : "s", scan.first);
	zd_atomic_set_release(&pgmap->state, ZD_PGMAP_DEAD);
	zd_pgmap_unmap_ranges(w, pgmap, pgmap->nr_range, scan.busy > 0);
	if (zd_tracing(w))
		zd_trace_event(w, ZD_PFN_NONE, pgmap->name, "memunmap_pages", "unplugged%s",
			       scan.busy ? " (struct pages kept: still referenced)" : "");
}

static void zd_memunmap_finish(struct zd_world *w, struct zd_dev_pagemap *pgmap, bool unplugged)
{
	if (!unplugged)
		zd_memunmap_unplug(w, pgmap);
	zd_percpu_ref_exit(&pgmap->ref);
	if (pgmap->flags & ZD_PGMAP_ALTMAP_VALID && pgmap->altmap.alloc)
		zd_report(w, ZD_INV_ALTMAP_MISUSE, ZD_PFN_NONE,
			  "pgmap %s: altmap.alloc is %lu at teardown", pgmap->name,
			  pgmap->altmap.alloc);
	zd_kfree(w, pgmap->memmaps, pgmap->nr_range * sizeof(*pgmap->memmaps));
	pgmap->memmaps = NULL;
	/* The pgmap is its owner's again, who may free it: the world forgets it. */
	zd_pgmap_registry_remove(w, pgmap);
}

int zd_memunmap_pages(struct zd_dev_pagemap *pgmap)
{
	struct zd_world *w;
	const struct zd_type_policy *tp;
	bool unplugged = false;
	int i, ret;

	if (!pgmap || zd_pgmap_state(pgmap) != ZD_PGMAP_LIVE)
		return -EINVAL;
	w = pgmap->world;
	tp = zd_policy_type(w->policy, pgmap->type);
	zd_atomic_set_release(&pgmap->state, ZD_PGMAP_DYING);
	if (zd_tracing(w))
		zd_trace_event(w, ZD_PFN_NONE, pgmap->name, "memunmap_pages", "kill (refs %ld)",
			       zd_percpu_ref_read(&pgmap->ref));
	zd_pgmap_ref_kill(pgmap);
	if (w->policy->memunmap_puts_base_refs) {
		zd_memunmap_put_base_refs(w, pgmap);
	} else if (tp->memremap_bulk_refs) {
		for (i = 0; i < pgmap->nr_range; i++)
			zd_pgmap_ref_put(pgmap, ZD_PGREF_BULK, zd_pgmap_range_folios(pgmap, i));
	}
	if (zd_bug_on(w, ZD_BUG_UNPLUG_BEFORE_DRAIN)) {
		/* BUG(unplug-before-drain): the memory goes before the last reference. */
		zd_memunmap_unplug(w, pgmap);
		unplugged = true;
	}
	snprintf(pgmap->wait_what, sizeof(pgmap->wait_what),
		 "memunmap_pages(%s) waits for its pgmap references to drain", pgmap->name);
	ret = zd_wait_for_completion(&pgmap->done, pgmap->wait_what);
	if (ret)
		return ret;
	if (zd_tracing(w))
		zd_trace_event(w, ZD_PFN_NONE, pgmap->name, "memunmap_pages", "drained");
	zd_memunmap_finish(w, pgmap, unplugged);
	return 0;
}

/* ---- Registry ------------------------------------------------------------ */

int zd_pgmap_registry_init(struct zd_world *w)
{
	struct zd_pgmap_registry *reg = zd_kzalloc(w, sizeof(*reg));

	if (!reg)
		return -ENOMEM;
	zd_rangetab_init(&reg->pfnmap);
	zd_mutex_init(&reg->lock);
	/* Room for the first pgmaps up front: registering one then allocates nothing here. */
	reg->cap = 16;
	reg->list = zd_kzalloc(w, reg->cap * sizeof(*reg->list));
	if (!reg->list) {
		zd_kfree(w, reg, sizeof(*reg));
		return -ENOMEM;
	}
	w->pgmaps = reg;
	return 0;
}

void zd_pgmap_registry_remove(struct zd_world *w, struct zd_dev_pagemap *pgmap)
{
	struct zd_pgmap_registry *reg = w->pgmaps;
	size_t i;

	zd_mutex_lock(&reg->lock);
	for (i = 0; i < reg->nr; i++) {
		if (reg->list[i] == pgmap) {
			memmove(&reg->list[i], &reg->list[i + 1],
				(reg->nr - i - 1) * sizeof(*reg->list));
			reg->nr--;
			break;
		}
	}
	zd_mutex_unlock(&reg->lock);
}

void zd_pgmap_registry_exit(struct zd_world *w)
{
	struct zd_pgmap_registry *reg = w->pgmaps;
	size_t i;

	if (!reg)
		return;
	for (i = 0; i < reg->nr; i++) {
		struct zd_dev_pagemap *pgmap = reg->list[i];
		enum zd_pgmap_state st = zd_pgmap_state(pgmap);

		if (st != ZD_PGMAP_LIVE && st != ZD_PGMAP_DYING)
			continue;
		/* World teardown: unplug without waiting, nothing kept. */
		zd_atomic_set_release(&pgmap->state, ZD_PGMAP_DEAD);
		if (pgmap->memmaps) {
			zd_pgmap_unmap_ranges(w, pgmap, pgmap->nr_range, false);
			zd_kfree(w, pgmap->memmaps, pgmap->nr_range * sizeof(*pgmap->memmaps));
			pgmap->memmaps = NULL;
		}
		zd_percpu_ref_exit(&pgmap->ref);
	}
	zd_kfree(w, reg->list, reg->cap * sizeof(*reg->list));
	zd_rangetab_destroy(w, &reg->pfnmap);
	zd_kfree(w, reg, sizeof(*reg));
	w->pgmaps = NULL;
}
