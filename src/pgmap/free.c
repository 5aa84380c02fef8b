/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the free transitions of ZONE_DEVICE folios: the devmap-managed
 * 2 -> 1 event of the older regimes, and free_zone_device_folio at 1 -> 0,
 * each doing what the regime's policy row says.
 */
#include "pgmap/pgmap.h"

bool zd_folio_check_unplugged(struct zd_folio *folio, const char *what)
{
	struct zd_dev_pagemap *pgmap;

	if (!zd_folio_is_zone_device(folio))
		return false;
	pgmap = ZD_READ_ONCE(folio->pgmap);
	if (!pgmap || zd_pgmap_state(pgmap) != ZD_PGMAP_DEAD)
		return false;
	zd_report(pgmap->world, ZD_INV_USE_AFTER_UNPLUG, folio->pfn,
		  "%s on a struct page of pgmap %s after memunmap_pages unplugged it", what,
		  pgmap->name);
	return true;
}

/* Invariant 9: when the free event runs, nobody but the base may still hold the page. */
static void zd_check_free_holders(struct zd_world *w, struct zd_folio *folio)
{
	char buf[160];
	long held;

	if (!w->track_holders)
		return;
	held = zd_ledger_total(w, folio->pfn);
	if (held <= 0)
		return;
	zd_holders_format(w, folio, buf, sizeof(buf));
	zd_report(w, ZD_INV_FREE_PAGE_REFERENCED, folio->pfn,
		  "the free callback ran while %s still held the page (refcount %d)", buf,
		  zd_folio_ref_count(folio));
}

/*
 * zd_free_zone_device_folio - the free event: uncharge, clear
 * AnonExclusive, clear ->mapping (types that do), call the driver's
 * folio_free, wake FS DAX waiters, drop the allocation's pgmap references.
 */
void zd_free_zone_device_folio(struct zd_folio *folio)
{
	struct zd_dev_pagemap *pgmap = folio->pgmap;
	const struct zd_type_policy *tp;
	struct zd_world *w;
	unsigned long i, nr;

	if (!pgmap)
		return; /* the kernel WARNs and returns */
	w = pgmap->world;
	tp = zd_policy_type(w->policy, pgmap->type);
	nr = zd_folio_nr_pages(folio);
	zd_check_free_holders(w, folio);
	/* Only anonymous folios carry AnonExclusive markers (FS DAX, device-dax never). */
	for (i = 0; zd_folio_test_anon(folio) && i < nr; i++) {
		struct zd_page *page = zd_pfn_to_page(w, folio->pfn + i);

		/* Test first: a deduplicated tail is never written. */
		if (page && zd_page_test_flag(page, ZD_PG_anon_exclusive))
			zd_page_clear_flag(page, ZD_PG_anon_exclusive);
	}
	if (tp->free_clears_mapping)
		ZD_WRITE_ONCE(folio->mapping, NULL);
	if (tp->free_callback) {
		if (!pgmap->ops || !pgmap->ops->folio_free) {
			zd_report(w, ZD_INV_FOLIO_FREE_MISUSE, folio->pfn,
				  "pgmap %s (%s) has no folio_free: the free is skipped",
				  pgmap->name, zd_memory_type_name(pgmap->type));
			return;
		}
		zd_folio_set_flag(folio, ZD_PG_devfree);
		if (w->step)
			w->step->free_calls++;
		if (zd_tracing(w))
			zd_trace_event(w, folio->pfn, pgmap->name, "folio_free",
				       "order=%u refcount=%d", zd_folio_order(folio),
				       zd_folio_ref_count(folio));
		pgmap->ops->folio_free(folio);
	} else if (zd_bug_on(w, ZD_BUG_FREE_PATH_REQUIRES_OPS) &&
		   (!pgmap->ops || !pgmap->ops->folio_free)) {
		/* BUG(free-path-requires-ops): WARN on a pgmap without ops and skip the rest. */
		zd_report(
		    w, ZD_INV_FSDAX_MISSED_WAKEUP, folio->pfn,
		    "free path insists on ops->folio_free: pgmap %s has none, wake-up skipped",
		    pgmap->name);
		return;
	}
	if (tp->free_wakes) {
		if (zd_tracing(w))
			zd_trace_event(w, folio->pfn, pgmap->name, "wake_up_var", "refcount=%d",
				       zd_folio_ref_count(folio));
		zd_wake_up_var(folio);
	}
	if (tp->free_puts_pgmap)
		zd_pgmap_ref_put(pgmap, ZD_PGREF_ALLOC, nr);
}

static void zd_zone_device_zero(struct zd_world *w, struct zd_dev_pagemap *pgmap,
				const struct zd_type_policy *tp, struct zd_folio *folio)
{
	if (tp->zero_violation >= 0)
		zd_report(w, (enum zd_invariant)tp->zero_violation, folio->pfn,
			  "%s folio reached refcount 0 in the %s regime",
			  zd_memory_type_name(pgmap->type), w->policy->name);
	switch (tp->at_zero) {
	case ZD_ZERO_FREE:
		zd_free_zone_device_folio(folio);
		break;
	case ZD_ZERO_FREE_RESET:
		zd_free_zone_device_folio(folio);
		zd_folio_set_refcount(folio, 1, ZD_HOLDER(ZD_HOLD_BASE, 0));
		break;
	case ZD_ZERO_PUT_PGMAP:
		zd_pgmap_ref_put(pgmap, ZD_PGREF_PAGE, 1);
		break;
	case ZD_ZERO_WARN:
		break;
	}
}

void zd_zone_device_transition(struct zd_folio *folio, struct zd_dev_pagemap *pgmap, int old,
			       int new, enum zd_put_path path)
{
	const struct zd_type_policy *tp;
	struct zd_world *w;
	bool temp;

	if (!pgmap)
		return;
	w = pgmap->world;
	tp = zd_policy_type(w->policy, pgmap->type);
	if (tp->at_one == ZD_ONE_FREE && new == 1 && old > 1) {
		if (path == ZD_PUT_BATCH && zd_bug_on(w, ZD_BUG_RELEASE_PAGES_DEVMAP))
			return; /* BUG(release-pages-devmap): the batched path skips the hook */
		if (path != ZD_PUT_ONE && zd_bug_on(w, ZD_BUG_FSDAX_MISSED_WAKE))
			return; /* BUG(fsdax-missed-wake): these put paths skip the devmap hook */
	} else if (new != 0) {
		return;
	}
	/*
	 * The callback may drop the pgmap's last reference and so let a waiting
	 * memunmap unplug the memmap, while a reset to 1 still has the struct
	 * page to write (the split regime's P2PDMA; the kernel has the same
	 * window). A transient reference keeps the memmap until the reset is
	 * done. Every other free path touches nothing after its last put.
	 */
	temp = new == 0 && tp->at_zero == ZD_ZERO_FREE_RESET &&zd_pgmap_ref_tryget_many(
					      pgmap, ZD_PGREF_TEMP, 1);
	if (w->step && tp->free_callback &&
	    (new == 1 || tp->at_zero == ZD_ZERO_FREE || tp->at_zero == ZD_ZERO_FREE_RESET))
		w->step->free_events++;
	if (new == 1)
		zd_free_zone_device_folio(folio);
	else
		zd_zone_device_zero(w, pgmap, tp, folio);
	if (temp)
		zd_pgmap_ref_put(pgmap, ZD_PGREF_TEMP, 1);
}
