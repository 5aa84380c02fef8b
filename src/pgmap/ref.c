/* SPDX-License-Identifier: MIT */
/*
 * zonedev: pgmap references (pgmap->ref, the percpu_ref) booked per holder
 * kind, get_dev_pagemap / put_dev_pagemap, and the small pgmap helpers.
 */
#include "pgmap/pgmap.h"

/*
 * Book a change of delta references for holder kind `kind`. Gets book after
 * the change, puts before it (the put may end memunmap); the traced count is
 * the count after the change either way.
 */
static void zd_pgmap_book(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind, long delta)
{
	struct zd_world *w = pgmap->world;
	long after = zd_percpu_ref_read(&pgmap->ref) + (delta < 0 ? delta : 0);

	zd_atomic_long_add_return_relaxed(&pgmap->dbg_refs[kind], delta);
	if (zd_tracing(w))
		zd_trace_pgmap_ref(w, pgmap, kind, delta, after);
}

void zd_pgmap_ref_get(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind, unsigned long nr)
{
	if (!nr)
		return;
	zd_percpu_ref_get_many(&pgmap->ref, nr);
	zd_pgmap_book(pgmap, kind, (long)nr);
}

bool zd_pgmap_ref_tryget_live(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind)
{
	if (!zd_percpu_ref_tryget_live(&pgmap->ref))
		return false;
	zd_pgmap_book(pgmap, kind, 1);
	return true;
}

bool zd_pgmap_ref_tryget_many(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind,
			      unsigned long nr)
{
	if (!zd_percpu_ref_tryget_many(&pgmap->ref, nr))
		return false;
	zd_pgmap_book(pgmap, kind, (long)nr);
	return true;
}

void zd_pgmap_ref_put(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind, unsigned long nr)
{
	if (!nr)
		return;
	/* Book first: the put may release the last reference and end memunmap. */
	zd_pgmap_book(pgmap, kind, -(long)nr);
	if (zd_percpu_ref_put_many(&pgmap->ref, nr)) {
		zd_atomic_long_add_return_relaxed(&pgmap->dbg_refs[kind], (long)nr);
		zd_report(pgmap->world, ZD_INV_PGMAP_REF_MISMATCH, ZD_PFN_NONE,
			  "pgmap %s: put of %lu %s reference%s with only %ld held", pgmap->name, nr,
			  zd_pgmap_ref_kind_name(kind), nr == 1 ? "" : "s",
			  zd_percpu_ref_read(&pgmap->ref));
	}
}

void zd_pgmap_ref_kill(struct zd_dev_pagemap *pgmap)
{
	zd_pgmap_book(pgmap, ZD_PGREF_INITIAL, -1);
	zd_percpu_ref_kill(&pgmap->ref);
}

struct zd_dev_pagemap *zd_get_dev_pagemap(struct zd_world *w, unsigned long pfn)
{
	struct zd_dev_pagemap *pgmap;

	zd_rcu_read_lock();
	pgmap = zd_rangetab_lookup(&w->pgmaps->pfnmap, pfn);
	if (pgmap && !zd_percpu_ref_tryget_live_rcu(&pgmap->ref))
		pgmap = NULL;
	zd_rcu_read_unlock();
	if (pgmap)
		zd_pgmap_book(pgmap, ZD_PGREF_LOOKUP, 1);
	return pgmap;
}

void zd_put_dev_pagemap(struct zd_dev_pagemap *pgmap)
{
	if (pgmap)
		zd_pgmap_ref_put(pgmap, ZD_PGREF_LOOKUP, 1);
}

unsigned long zd_pgmap_vmemmap_nr(const struct zd_dev_pagemap *pgmap)
{
	return 1ul << pgmap->vmemmap_shift;
}

static unsigned long zd_pgmap_altmap_offset(const struct zd_dev_pagemap *pgmap)
{
	if (!(pgmap->flags & ZD_PGMAP_ALTMAP_VALID))
		return 0;
	return pgmap->altmap.reserve + pgmap->altmap.free;
}

unsigned long zd_pgmap_pfn_first(const struct zd_dev_pagemap *pgmap, int range_id)
{
	unsigned long pfn = pgmap->ranges[range_id].start >> ZD_PAGE_SHIFT;

	return range_id == 0 ? pfn + zd_pgmap_altmap_offset(pgmap) : pfn;
}

unsigned long zd_pgmap_pfn_end(const struct zd_dev_pagemap *pgmap, int range_id)
{
	return (pgmap->ranges[range_id].end + 1) >> ZD_PAGE_SHIFT;
}

unsigned long zd_pgmap_range_folios(const struct zd_dev_pagemap *pgmap, int i)
{
	return (zd_pgmap_pfn_end(pgmap, i) - zd_pgmap_pfn_first(pgmap, i)) >> pgmap->vmemmap_shift;
}

bool zd_pgmap_pfn_valid(const struct zd_dev_pagemap *pgmap, unsigned long pfn)
{
	int i;

	for (i = 0; i < pgmap->nr_range; i++)
		if (pfn >= zd_pgmap_pfn_first(pgmap, i) && pfn < zd_pgmap_pfn_end(pgmap, i))
			return true;
	return false;
}

enum zd_pgmap_state zd_pgmap_state(const struct zd_dev_pagemap *pgmap)
{
	return (enum zd_pgmap_state)zd_atomic_read_acquire(&pgmap->state);
}

long zd_pgmap_refs(struct zd_dev_pagemap *pgmap)
{
	return zd_percpu_ref_read(&pgmap->ref);
}

const char *zd_pgmap_state_name(enum zd_pgmap_state state)
{
	static const char *const names[] = {"unused", "live", "dying", "dead"};

	return (unsigned int)state < 4 ? names[state] : "?";
}

const char *zd_pgmap_ref_kind_name(enum zd_pgmap_ref_kind kind)
{
	static const char *const names[ZD_NR_PGREF_KINDS] = {
	    "initial", "bulk", "page", "alloc", "p2p-kernel", "p2p-user", "lookup", "temp",
	};

	return (unsigned int)kind < ZD_NR_PGREF_KINDS ? names[kind] : "?";
}

void zd_pgmap_for_each_folio(struct zd_dev_pagemap *pgmap,
			     void (*fn)(struct zd_folio *folio, void *arg), void *arg)
{
	int i;

	if (!pgmap->memmaps)
		return;
	for (i = 0; i < pgmap->nr_range; i++) {
		struct zd_memmap_range *r = pgmap->memmaps[i];
		unsigned long pfn, step = 1ul << pgmap->vmemmap_shift;

		if (!r)
			continue;
		for (pfn = zd_pgmap_pfn_first(pgmap, i); pfn < zd_pgmap_pfn_end(pgmap, i);
		     pfn += step) {
			struct zd_folio *folio = zd_memmap_folio(r, pfn);

			/* Visit heads only (large folios built later span several pfns). */
			if (folio->pfn == pfn)
				fn(folio, arg);
		}
	}
}
