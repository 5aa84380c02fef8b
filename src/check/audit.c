/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the whole-world audit: walks every pgmap and folio, checks the
 * state invariants and explains every reference by a holder.
 */
#include <string.h>

#include "pgmap/pgmap.h"

struct zd_audit {
	struct zd_world *w;
	struct zd_dev_pagemap *pgmap;
	const struct zd_type_policy *tp;
	int found;
	unsigned long alloc_pages; /* PRIVATE/COHERENT pages allocated (in use) */
	unsigned long p2p_busy;	   /* PCI_P2PDMA pages handed out (not idle) */
	struct zd_state_hash *hash; /* non-NULL: the hooks digest the state (state_hash.c) */
};

struct zd_state_hash *zd_audit_hasher(struct zd_audit *a)
{
	return a->hash;
}

/* Run every audit hook in digest mode (zd_world_state_hash). */
void zd_audit_hooks_hash(struct zd_world *w, struct zd_state_hash *h)
{
	struct zd_audit a = {.w = w, .hash = h};
	struct zd_check *c = w->check;
	size_t i, nr;

	zd_spin_lock(&c->lock);
	nr = c->nr_hooks;
	zd_spin_unlock(&c->lock);
	for (i = 0; i < nr; i++)
		c->hooks[i].fn(w, &a, c->hooks[i].arg);
}

#define AUDIT_REPORT(a, inv, pfn, ...)                                                             \
	do {                                                                                       \
		zd_report((a)->w, (inv), (pfn), __VA_ARGS__);                                      \
		(a)->found++;                                                                      \
	} while (0)

/* Compound hygiene of one in-use folio (non-deduplicated memmaps). */
static void zd_audit_compound(struct zd_audit *a, struct zd_folio *folio)
{
	unsigned long nr = zd_folio_nr_pages(folio), i;
	struct zd_memmap_range *r = zd_memmap_lookup(a->w, folio->pfn);

	if (!r || r->dedup)
		return;
	for (i = 1; i < nr; i++) {
		struct zd_page *tail = zd_memmap_page(r, folio->pfn + i);

		if (tail->compound_head != ((uintptr_t)folio | 1)) {
			AUDIT_REPORT(
			    a, ZD_INV_STALE_COMPOUND, folio->pfn + i,
			    "tail %lu of the order-%u folio at pfn 0x%lx does not point at "
			    "its head",
			    i, zd_folio_order(folio), folio->pfn);
			return;
		}
		if (zd_page_ref_count(tail)) {
			AUDIT_REPORT(a, ZD_INV_TAIL_REFCOUNT, folio->pfn + i,
				     "tail page has refcount %d", zd_page_ref_count(tail));
			return;
		}
	}
}

static void zd_audit_folio(struct zd_folio *folio, void *arg)
{
	struct zd_audit *a = arg;
	struct zd_world *w = a->w;
	int rc = zd_folio_ref_count(folio);
	int mc = zd_folio_mapcount(folio);
	bool live = zd_pgmap_state(a->pgmap) == ZD_PGMAP_LIVE;
	char buf[160];

	if (rc < 0)
		AUDIT_REPORT(a, ZD_INV_REFCOUNT_UNDERFLOW, folio->pfn, "refcount is %d", rc);
	if (folio->pgmap != a->pgmap)
		AUDIT_REPORT(a, ZD_INV_PAGE_PGMAP_MISMATCH, folio->pfn,
			     "folio of pgmap %s points at another pgmap", a->pgmap->name);
	if (mc > 0 && rc < mc)
		AUDIT_REPORT(a, ZD_INV_MAPCOUNT_EXCEEDS_REFCOUNT, folio->pfn,
			     "mapcount %d exceeds refcount %d", mc, rc);
	if (a->pgmap->type == ZD_MEMORY_DEVICE_GENERIC && live && rc < 1)
		AUDIT_REPORT(a, ZD_INV_GENERIC_REFCOUNT_ZERO, folio->pfn,
			     "device-dax folio has refcount %d", rc);
	if (rc > 0 && zd_folio_test_large(folio))
		zd_audit_compound(a, folio);
	if (rc > 0 && !zd_folio_test_large(folio) && zd_page_is_tail(&folio->page))
		AUDIT_REPORT(a, ZD_INV_STALE_COMPOUND, folio->pfn,
			     "an in-use order-0 page still links to a head");
	if ((a->pgmap->type == ZD_MEMORY_DEVICE_PRIVATE ||
	     a->pgmap->type == ZD_MEMORY_DEVICE_COHERENT) &&
	    rc > a->tp->free_refcount && !zd_folio_test_flag(folio, ZD_PG_devfree))
		a->alloc_pages += zd_folio_nr_pages(folio);
	if (a->pgmap->type == ZD_MEMORY_DEVICE_PCI_P2PDMA && !zd_folio_idle(folio))
		a->p2p_busy++;
	if (zd_folio_test_flag(folio, ZD_PG_devfree) && rc != a->tp->free_refcount)
		AUDIT_REPORT(a, ZD_INV_FREE_PAGE_REFERENCED, folio->pfn,
			     "a page its driver holds as free has refcount %d (free is %d)", rc,
			     a->tp->free_refcount);
	if (w->track_holders) {
		long expect = zd_ledger_total(w, folio->pfn) +
			      (zd_folio_test_flag(folio, ZD_PG_base_ref) ? 1 : 0);

		if (expect != rc) {
			zd_holders_format(w, folio, buf, sizeof(buf));
			AUDIT_REPORT(a, ZD_INV_REFCOUNT_UNEXPLAINED, folio->pfn,
				     "refcount %d but the holders account for %ld (%s%s)", rc,
				     expect, buf,
				     zd_folio_test_flag(folio, ZD_PG_base_ref) ? " + base" : "");
		}
	}
}

static void zd_audit_pgmap(struct zd_audit *a, struct zd_dev_pagemap *pgmap)
{
	long sum = 0, refs;
	int i;

	a->pgmap = pgmap;
	a->tp = zd_policy_type(a->w->policy, pgmap->type);
	a->alloc_pages = 0;
	a->p2p_busy = 0;
	zd_pgmap_for_each_folio(pgmap, zd_audit_folio, a);
	for (i = 0; i < ZD_NR_PGREF_KINDS; i++)
		sum += zd_atomic_long_read_relaxed(&pgmap->dbg_refs[i]);
	refs = zd_percpu_ref_read(&pgmap->ref);
	if (sum != refs)
		AUDIT_REPORT(a, ZD_INV_PGMAP_REF_MISMATCH, ZD_PFN_NONE,
			     "pgmap %s holds %ld references but its holders account for %ld",
			     pgmap->name, refs, sum);
	if (a->tp->alloc_pgmap_refs && a->tp->alloc_mode == ZD_ALLOC_INIT &&
	    (long)a->alloc_pages != zd_atomic_long_read_relaxed(&pgmap->dbg_refs[ZD_PGREF_ALLOC]))
		AUDIT_REPORT(a, ZD_INV_PGMAP_REF_MISMATCH, ZD_PFN_NONE,
			     "pgmap %s: %lu pages allocated but %ld allocation references held",
			     pgmap->name, a->alloc_pages,
			     zd_atomic_long_read_relaxed(&pgmap->dbg_refs[ZD_PGREF_ALLOC]));
	/* Each P2P page handed to a user mapping holds one pgmap reference (§1.5). */
	if (pgmap->type == ZD_MEMORY_DEVICE_PCI_P2PDMA && a->w->policy->p2p_user_pages &&
	    (long)a->p2p_busy != zd_atomic_long_read_relaxed(&pgmap->dbg_refs[ZD_PGREF_P2P_USER]))
		AUDIT_REPORT(a, ZD_INV_PGMAP_REF_MISMATCH, ZD_PFN_NONE,
			     "pgmap %s: %lu P2P pages handed out but %ld page references held",
			     pgmap->name, a->p2p_busy,
			     zd_atomic_long_read_relaxed(&pgmap->dbg_refs[ZD_PGREF_P2P_USER]));
	for (i = 0; pgmap->memmaps && i < pgmap->nr_range; i++) {
		struct zd_memmap_range *r = pgmap->memmaps[i];

		if (r && r->dedup &&
		    memcmp(&r->shared_tail, &r->shared_tail_pristine, sizeof(r->shared_tail)))
			AUDIT_REPORT(a, ZD_INV_SHARED_TAIL_WRITE, ZD_PFN_NONE,
				     "pgmap %s: the shared tail struct page was written",
				     pgmap->name);
	}
}

void zd_audit_add_found(struct zd_audit *a, int found)
{
	a->found += found;
}

void zd_audit_note_free_listed(struct zd_audit *a, struct zd_folio *folio)
{
	/* A free-listed page may be a former tail: its pgmap is found through its head. */
	struct zd_dev_pagemap *pgmap = zd_page_pgmap(&folio->page);
	const struct zd_type_policy *tp;
	int rc = zd_folio_ref_count(folio);
	char buf[160];

	if (!pgmap)
		return;
	tp = zd_policy_type(a->w->policy, pgmap->type);

	if (rc != tp->free_refcount) {
		AUDIT_REPORT(a, ZD_INV_FREE_PAGE_REFERENCED, folio->pfn,
			     "a page on its driver's free list has refcount %d (free is %d)", rc,
			     tp->free_refcount);
	} else if (a->w->track_holders && zd_ledger_total(a->w, folio->pfn) > 0) {
		zd_holders_format(a->w, folio, buf, sizeof(buf));
		AUDIT_REPORT(a, ZD_INV_FREE_PAGE_REFERENCED, folio->pfn,
			     "a page on its driver's free list is held by %s", buf);
	}
}

int zd_audit(struct zd_world *w)
{
	struct zd_pgmap_registry *reg = w->pgmaps;
	struct zd_audit a = {.w = w};
	struct zd_check *c = w->check;
	size_t i, nr;

	zd_mutex_lock(&reg->lock);
	for (i = 0; i < reg->nr; i++) {
		enum zd_pgmap_state st = zd_pgmap_state(reg->list[i]);

		if (st == ZD_PGMAP_LIVE || st == ZD_PGMAP_DYING)
			zd_audit_pgmap(&a, reg->list[i]);
	}
	zd_mutex_unlock(&reg->lock);
	zd_spin_lock(&c->lock);
	nr = c->nr_hooks;
	zd_spin_unlock(&c->lock);
	for (i = 0; i < nr; i++)
		c->hooks[i].fn(w, &a, c->hooks[i].arg);
	return a.found;
}
