/* SPDX-License-Identifier: MIT */
/*
 * zonedev: folio reference counts: get, try_get, put (single and batched),
 * freeze/unfreeze, set, each traced as a page_ref event and booked to its
 * holder. The put paths end in the regime's free transitions.
 */
#include "page/page_internal.h"

int zd_folio_ref_count(const struct zd_folio *folio)
{
	return zd_atomic_read_acquire(&folio->_refcount);
}

int zd_page_ref_count(const struct zd_page *page)
{
	return zd_atomic_read_acquire(&page->_refcount);
}

bool zd_folio_idle(const struct zd_folio *folio)
{
	return zd_folio_ref_count(folio) ==
	       (zd_page_test_flag(&folio->page, ZD_PG_base_ref) ? 1 : 0);
}

int zd_folio_mapcount(const struct zd_folio *folio)
{
	if (zd_folio_test_large(folio))
		return zd_atomic_read_relaxed(&folio->_large_mapcount) + 1;
	return zd_atomic_read_relaxed(&folio->_mapcount) + 1;
}

int zd_folio_pincount(const struct zd_folio *folio)
{
	if (zd_folio_test_large(folio))
		return zd_atomic_read_relaxed(&folio->_pincount);
	return zd_folio_ref_count(folio) / ZD_GUP_PIN_COUNTING_BIAS;
}

/*
 * The base reference of 1-based pages is booked in a page flag rather than
 * the ledger (a device may have millions of resting pages).
 */
static void zd_base_ref_book(struct zd_world *w, struct zd_folio *folio, long delta)
{
	bool held = zd_folio_test_flag(folio, ZD_PG_base_ref);

	if (delta > 0 && !held) {
		zd_folio_set_flag(folio, ZD_PG_base_ref);
	} else if (delta < 0 && held) {
		zd_folio_clear_flag(folio, ZD_PG_base_ref);
	} else if (delta < 0) {
		zd_report(w, ZD_INV_PUT_WITHOUT_REF, folio->pfn,
			  "the base reference was dropped but the page does not hold one");
	}
}

/*
 * Ledger booking order: a get books after its increment, a put books before
 * its decrement. So at any moment the ledger holds no claim the count does
 * not, and when a count reaches zero every claim on it is gone.
 */
static void zd_ledger_book(struct zd_world *w, struct zd_folio *folio, struct zd_holder h,
			   long delta)
{
	zd_step_note(w, folio->pfn);
	if (h.kind == ZD_HOLD_BASE && delta)
		zd_base_ref_book(w, folio, delta);
	else if (w->track_holders && delta)
		zd_ledger_mod(w, folio->pfn, h, delta);
}

static void zd_ref_book(struct zd_world *w, struct zd_folio *folio, enum zd_trace_type type,
			int val, int ret, struct zd_holder h, long ledger_delta)
{
	zd_ledger_book(w, folio, h, ledger_delta);
	if (zd_tracing(w))
		zd_trace_page_ref(w, type, folio, val, ret, h);
}

/* A reference taken on a page its driver holds as free (invariant 9). */
static void zd_check_devfree(struct zd_world *w, struct zd_folio *folio, struct zd_holder h)
{
	char name[64];

	if (!zd_folio_test_flag(folio, ZD_PG_devfree))
		return;
	zd_holder_name(w, h, name, sizeof(name));
	zd_report(w, ZD_INV_FREE_PAGE_REFERENCED, folio->pfn,
		  "%s took a reference on a page its driver holds as free (refcount %d)", name,
		  zd_folio_ref_count(folio));
}

void zd_folio_set_refcount(struct zd_folio *folio, int v, struct zd_holder h)
{
	struct zd_world *w = zd_folio_world(folio);
	int old = zd_atomic_xchg_acq_rel(&folio->_refcount, v);

	zd_ref_book(w, folio, ZD_TR_PAGE_REF_SET, v, 0, h, (long)v - old);
}

void zd_folio_ref_inc_raw(struct zd_folio *folio, struct zd_holder h)
{
	struct zd_world *w = zd_folio_world(folio);

	zd_folio_check_unplugged(folio, "reference");
	zd_atomic_add_return_acq_rel(&folio->_refcount, 1);
	zd_ref_book(w, folio, ZD_TR_PAGE_REF_MOD, 1, 0, h, 1);
}

void zd_folio_ref_add(struct zd_folio *folio, int nr, struct zd_holder h)
{
	struct zd_world *w = zd_folio_world(folio);
	int new;

	zd_folio_check_unplugged(folio, "get");
	zd_check_devfree(w, folio, h);
	new = zd_atomic_add_return_acq_rel(&folio->_refcount, nr);
	zd_ref_book(w, folio, ZD_TR_PAGE_REF_MOD, nr, 0, h, nr);
	if (new == nr)
		zd_report(w, ZD_INV_GET_ON_ZERO, folio->pfn,
			  "folio_get on a folio whose refcount was 0");
}

void zd_folio_get(struct zd_folio *folio, struct zd_holder h)
{
	zd_folio_ref_add(folio, 1, h);
}

bool zd_folio_ref_try_add(struct zd_folio *folio, int nr, struct zd_holder h)
{
	struct zd_world *w = zd_folio_world(folio);
	int old = zd_atomic_read_relaxed(&folio->_refcount);

	do {
		if (old <= 0) {
			if (zd_tracing(w))
				zd_trace_page_ref(w, ZD_TR_PAGE_REF_MOD_UNLESS, folio, nr, 0, h);
			return false;
		}
	} while (!zd_atomic_try_cmpxchg_acq_rel(&folio->_refcount, &old, old + nr));
	zd_folio_check_unplugged(folio, "try_get");
	zd_check_devfree(w, folio, h);
	zd_ref_book(w, folio, ZD_TR_PAGE_REF_MOD_UNLESS, nr, 1, h, nr);
	return true;
}

bool zd_folio_try_get(struct zd_folio *folio, struct zd_holder h)
{
	return zd_folio_ref_try_add(folio, 1, h);
}

/*
 * Drop nr references. Refuses to go below zero (reported). Zero on a RAM
 * folio returns it to the allocator; ZONE_DEVICE transitions go to the
 * regime's rules in src/pgmap/free.c.
 */
/*
 * Drop nr references. Refuses to go below zero (reported). Zero on a RAM
 * folio returns it to the allocator; ZONE_DEVICE transitions go to the
 * regime's rules in src/pgmap/free.c. Everything the put needs is read
 * before the decrement: once our reference is gone, a put that did not free
 * the folio must not touch it (another thread may free and reuse it).
 */
static void zd_folio_put_common(struct zd_folio *folio, int nr, struct zd_holder h,
				enum zd_put_path path)
{
	struct zd_world *w = zd_folio_world(folio);
	int old = zd_atomic_read_relaxed(&folio->_refcount), new;
	bool device = zd_folio_is_zone_device(folio);
	struct zd_dev_pagemap *pgmap = device ? ZD_READ_ONCE(folio->pgmap) : NULL;
	char name[64];

	if (nr <= 0)
		return;
	zd_folio_check_unplugged(folio, "put");
	zd_ledger_book(w, folio, h, -nr);
	do {
		if (old < nr) {
			zd_ledger_book(w, folio, h, nr); /* refused: the claim stays */
			zd_holder_name(w, h, name, sizeof(name));
			zd_report(w, ZD_INV_REFCOUNT_UNDERFLOW, folio->pfn,
				  "%s put %d reference%s on a folio with refcount %d", name, nr,
				  nr == 1 ? "" : "s", old);
			return;
		}
	} while (!zd_atomic_try_cmpxchg_acq_rel(&folio->_refcount, &old, old - nr));
	new = old - nr;
	if (zd_tracing(w))
		zd_trace_page_ref(w, ZD_TR_PAGE_REF_MOD_AND_TEST, folio, -nr, new == 0, h);
	if (!device) {
		if (new == 0)
			zd_ram_free_pages_folio(w, folio);
		return;
	}
	zd_zone_device_transition(folio, pgmap, old, new, path);
}

bool zd_folio_put_testzero(struct zd_folio *folio, struct zd_holder h)
{
	struct zd_world *w = zd_folio_world(folio);
	int old = zd_atomic_read_relaxed(&folio->_refcount);

	zd_ledger_book(w, folio, h, -1);
	do {
		if (old < 1) {
			zd_ledger_book(w, folio, h, 1);
			zd_report(w, ZD_INV_REFCOUNT_UNDERFLOW, folio->pfn,
				  "put_testzero on a folio with refcount %d", old);
			return false;
		}
	} while (!zd_atomic_try_cmpxchg_acq_rel(&folio->_refcount, &old, old - 1));
	if (zd_tracing(w))
		zd_trace_page_ref(w, ZD_TR_PAGE_REF_MOD_AND_TEST, folio, -1, old == 1, h);
	return old == 1;
}

void zd_folio_put_refs(struct zd_folio *folio, int nr, struct zd_holder h)
{
	zd_folio_put_common(folio, nr, h, ZD_PUT_ONE);
}

void zd_folio_unpin_put_refs(struct zd_folio *folio, int nr, struct zd_holder h)
{
	zd_folio_put_common(folio, nr, h, ZD_PUT_UNPIN);
}

void zd_folio_put(struct zd_folio *folio, struct zd_holder h)
{
	zd_folio_put_common(folio, 1, h, ZD_PUT_ONE);
}

void zd_folios_put_refs(struct zd_folio **folios, const int *refs, int nr, struct zd_holder h)
{
	int i;

	for (i = 0; i < nr; i++)
		zd_folio_put_common(folios[i], refs ? refs[i] : 1, h, ZD_PUT_BATCH);
}

bool zd_folio_ref_freeze(struct zd_folio *folio, int count)
{
	struct zd_world *w = zd_folio_world(folio);
	int old = count;
	bool ok = zd_atomic_try_cmpxchg_acq_rel(&folio->_refcount, &old, 0);

	if (zd_tracing(w))
		zd_trace_page_ref(w, ZD_TR_PAGE_REF_FREEZE, folio, count, ok, ZD_HOLDER_OTHER);
	return ok;
}

void zd_folio_ref_unfreeze(struct zd_folio *folio, int count)
{
	struct zd_world *w = zd_folio_world(folio);

	zd_atomic_set_release(&folio->_refcount, count);
	if (zd_tracing(w))
		zd_trace_page_ref(w, ZD_TR_PAGE_REF_UNFREEZE, folio, count, 0, ZD_HOLDER_OTHER);
}

void zd_folio_ref_transfer(struct zd_folio *folio, struct zd_holder from, struct zd_holder to)
{
	struct zd_world *w = zd_folio_world(folio);

	if (from.kind == ZD_HOLD_BASE)
		zd_base_ref_book(w, folio, -1);
	else if (w->track_holders)
		zd_ledger_mod(w, folio->pfn, from, -1);
	if (to.kind == ZD_HOLD_BASE)
		zd_base_ref_book(w, folio, 1);
	else if (w->track_holders)
		zd_ledger_mod(w, folio->pfn, to, 1);
}

void zd_folio_ref_transfer_reset(struct zd_folio *folio, int resting, struct zd_holder h)
{
	struct zd_world *w = zd_folio_world(folio);

	zd_ledger_book(w, folio, h, -1);
	if (resting)
		zd_base_ref_book(w, folio, 1);
	zd_atomic_set_release(&folio->_refcount, resting);
	if (zd_tracing(w))
		zd_trace_page_ref(w, ZD_TR_PAGE_REF_SET, folio, resting, 0, h);
}

unsigned long zd_ram_nr_free(struct zd_world *w)
{
	return zd_ram_free_pages(w);
}

struct zd_folio *zd_folio_alloc(struct zd_world *w, unsigned int order, struct zd_holder h)
{
	struct zd_folio *folio = zd_ram_alloc_pages(w, order);

	if (folio)
		zd_folio_set_refcount(folio, 1, h);
	return folio;
}
