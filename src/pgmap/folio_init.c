/* SPDX-License-Identifier: MIT */
/*
 * zonedev: zone_device_folio_init: a driver hands out a free PRIVATE or
 * COHERENT folio; the pages are scrubbed, referenced, locked and made
 * compound as the regime says.
 */
#include "pgmap/pgmap.h"

/* Scrub one page to a plain order-0 ZONE_DEVICE page of pgmap (every page of the range). */
static void zd_scrub_page(struct zd_page *page, struct zd_dev_pagemap *pgmap)
{
	unsigned long f = zd_atomic_ulong_read_relaxed(&page->flags);

	f &= ~((1ul << ZD_PG_head) | 0xfful | (1ul << ZD_PG_devfree) |
	       (1ul << ZD_PG_large_rmappable));
	zd_atomic_ulong_set_relaxed(&page->flags, f);
	ZD_WRITE_ONCE(page->pgmap, pgmap);
	ZD_WRITE_ONCE(page->mapping, NULL);
	page->share = 0;
	page->private = 0;
}

/*
 * Invariant 32 at the moment it matters: before the new folio is built, no
 * page of it may keep the geometry of an old one (a head bit, order bits, a
 * link to a head). A WARN, like the kernel's checks in this path.
 */
static void zd_folio_init_check_geometry(struct zd_world *w, struct zd_folio *folio,
					 unsigned int order)
{
	unsigned long nr = 1ul << order, i;

	for (i = 0; i < nr; i++) {
		struct zd_page *page = zd_pfn_to_page(w, folio->pfn + i);
		unsigned long f = zd_atomic_ulong_read_relaxed(&page->flags);

		if (zd_page_is_tail(page) || (f & ((1ul << ZD_PG_head) | 0xfful))) {
			zd_report(w, ZD_INV_STALE_COMPOUND, folio->pfn + i,
				  "order-%u folio init: page %lu still has the %s of an old folio",
				  order, i, zd_page_is_tail(page) ? "head link" : "head/order bits");
			return;
		}
	}
}

static int zd_folio_init_check(struct zd_world *w, struct zd_folio *folio,
			       struct zd_dev_pagemap *pgmap, unsigned int order,
			       const struct zd_type_policy *tp)
{
	unsigned long nr = 1ul << order, i;

	if (!folio || !pgmap || !zd_folio_is_zone_device(folio) || pgmap->world != w)
		return -EINVAL;
	if (pgmap->type != ZD_MEMORY_DEVICE_PRIVATE && pgmap->type != ZD_MEMORY_DEVICE_COHERENT)
		return -EINVAL;
	if (order > ZD_MAX_FOLIO_ORDER || (order && !tp->large_folios) || (folio->pfn & (nr - 1)))
		return -EINVAL;
	if (!zd_pgmap_pfn_valid(pgmap, folio->pfn) ||
	    !zd_pgmap_pfn_valid(pgmap, folio->pfn + nr - 1))
		return -EINVAL;
	/* Folios are built over real struct pages: not over a deduplicated compound memmap. */
	if (zd_memmap_lookup(w, folio->pfn)->dedup)
		return -EINVAL;
	if (zd_pgmap_state(pgmap) == ZD_PGMAP_DEAD || zd_pgmap_state(pgmap) == ZD_PGMAP_UNUSED)
		return -ENXIO;
	for (i = 0; i < nr; i++) {
		struct zd_page *page = zd_pfn_to_page(w, folio->pfn + i);
		int want = i == 0 || tp->alloc_mode != ZD_ALLOC_INIT ? tp->free_refcount : 0;

		if (!page || zd_page_ref_count(page) != (i ? 0 : want)) {
			zd_report(w, ZD_INV_BAD_FOLIO_INIT, folio->pfn + i,
				  "zone_device_folio_init on a page with refcount %d (free is %d)",
				  page ? zd_page_ref_count(page) : -1, i ? 0 : want);
			return -EBUSY;
		}
	}
	return 0;
}

int zd_zone_device_folio_init(struct zd_folio *folio, struct zd_dev_pagemap *pgmap,
			      unsigned int order, struct zd_holder h)
{
	struct zd_world *w = pgmap ? pgmap->world : NULL;
	const struct zd_type_policy *tp;
	unsigned long nr = 1ul << order, i;
	int ret;

	if (!w)
		return -EINVAL;
	tp = zd_policy_type(w->policy, pgmap->type);
	ret = zd_folio_init_check(w, folio, pgmap, order, tp);
	if (ret)
		return ret;
	if (tp->alloc_mode == ZD_ALLOC_INIT && tp->alloc_pgmap_refs) {
		bool ok = w->policy->alloc_tryget_live
			      ? nr == 1
				    ? zd_pgmap_ref_tryget_live(pgmap, ZD_PGREF_ALLOC)
				    : (zd_percpu_ref_is_dying(&pgmap->ref)
					   ? false
					   : zd_pgmap_ref_tryget_many(pgmap, ZD_PGREF_ALLOC, nr))
			      : zd_pgmap_ref_tryget_many(pgmap, ZD_PGREF_ALLOC, nr);
		if (!ok) {
			zd_report(w, ZD_INV_BAD_FOLIO_INIT, folio->pfn,
				  "zone_device_folio_init on pgmap %s after memunmap_pages began",
				  pgmap->name);
			return -ENXIO;
		}
		if (zd_pgmap_state(pgmap) != ZD_PGMAP_LIVE)
			zd_report(
			    w, ZD_INV_PGMAP_GET_AFTER_KILL, folio->pfn,
			    "pgmap %s: a folio was allocated after kill (tryget_many succeeds "
			    "while references remain)",
			    pgmap->name);
	}
	/*
	 * Scrub every page of the range: a previous folio of another order may
	 * have left head, order and compound_head bits behind. The bug
	 * stale-compound-reinit scrubs nothing, as zone_device_page_init did
	 * before the fix (it only set the count, locked, and built the new
	 * compound page on top of whatever was there).
	 */
	for (i = 0; i < nr; i++) {
		if (zd_bug_on(w, ZD_BUG_STALE_COMPOUND_REINIT))
			break; /* BUG(stale-compound-reinit) */
		zd_scrub_page(zd_pfn_to_page(w, folio->pfn + i), pgmap);
	}
	zd_folio_init_check_geometry(w, folio, order);
	switch (tp->alloc_mode) {
	case ZD_ALLOC_INIT:
		zd_folio_set_refcount(folio, 1, h);
		break;
	case ZD_ALLOC_GET:
		zd_folio_ref_add(folio, 1, h);
		break;
	case ZD_ALLOC_TAKE:
		zd_folio_ref_transfer(folio, ZD_HOLDER(ZD_HOLD_BASE, 0), h);
		break;
	}
	zd_folio_trylock(folio);
	if (order) {
		zd_prep_compound(&folio->page, order);
		zd_folio_set_flag(folio, ZD_PG_large_rmappable);
	}
	return 0;
}
