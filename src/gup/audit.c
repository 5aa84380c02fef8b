/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the pin part of the audit: no GUP reference on a device-private
 * page (G1), no long-term pin on memory that is not long-term pinnable (G2),
 * pins counted as the kernel counts them (G3).
 */
#include <stdlib.h>

#include "zonedev/gup.h"
#include "zonedev/vm.h"
#include "check/check.h"
#include "gup/gup_internal.h"

/* Pins booked in the ledger on one large folio (one entry per pin holder). */
struct zd_gup_pins {
	unsigned long pfn;
	long pins;
};

struct zd_gup_audit {
	struct zd_world *w;
	int found;
	struct zd_gup_pins *large; /* large folios seen in the ledger, with their pins */
	size_t nr, cap;
	bool nomem;
};

static bool zd_is_pin(struct zd_holder h)
{
	return h.kind == ZD_HOLD_PIN || h.kind == ZD_HOLD_PIN_LONGTERM;
}

/*
 * G3, per ledger entry: an order-0 folio's pins come in whole biases, the
 * zero page is never referenced; large folios are collected for the
 * pincount comparison once every entry has been seen.
 */
static void zd_gup_audit_counts(struct zd_gup_audit *g, struct zd_folio *folio, unsigned long pfn,
				struct zd_holder h, long count)
{
	if (folio == zd_zero_folio(g->w)) {
		zd_report(g->w, ZD_INV_PIN_ACCOUNTING, pfn, "%ld reference%s on the zero page",
			  count, count == 1 ? "" : "s");
		g->found++;
		return;
	}
	if (!zd_folio_test_large(folio)) {
		if (zd_is_pin(h) && count % ZD_GUP_PIN_COUNTING_BIAS) {
			zd_report(g->w, ZD_INV_PIN_ACCOUNTING, pfn,
				  "a pin holder has %ld references on an order-0 folio, not a multiple of %d",
				  count, ZD_GUP_PIN_COUNTING_BIAS);
			g->found++;
		}
		return;
	}
	if (g->nr == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		struct zd_gup_pins *n = realloc(g->large, cap * sizeof(*n));

		if (!n) {
			g->nomem = true;
			return;
		}
		g->large = n;
		g->cap = cap;
	}
	g->large[g->nr++] = (struct zd_gup_pins){ folio->pfn, zd_is_pin(h) ? count : 0 };
}

static int zd_cmp_pins(const void *x, const void *y)
{
	const struct zd_gup_pins *a = x, *b = y;

	return a->pfn < b->pfn ? -1 : a->pfn > b->pfn;
}

/* G3 for large folios: pincount equals the pins their holders booked. */
static void zd_gup_audit_pincounts(struct zd_gup_audit *g)
{
	size_t i = 0, j;

	if (g->nomem || !g->nr)
		return; /* (out of memory: the audit cannot tell, so it reports nothing) */
	qsort(g->large, g->nr, sizeof(*g->large), zd_cmp_pins);
	for (; i < g->nr; i = j) {
		struct zd_folio *folio = zd_pfn_folio(g->w, g->large[i].pfn);
		long pins = 0;

		for (j = i; j < g->nr && g->large[j].pfn == g->large[i].pfn; j++)
			pins += g->large[j].pins;
		if (folio && zd_folio_pincount(folio) != pins) {
			zd_report(g->w, ZD_INV_PIN_ACCOUNTING, folio->pfn,
				  "pincount %d on a large folio its holders pinned %ld time%s",
				  zd_folio_pincount(folio), pins, pins == 1 ? "" : "s");
			g->found++;
		}
	}
}

static void zd_gup_audit_entry(void *arg, unsigned long pfn, struct zd_holder h, long count)
{
	struct zd_gup_audit *g = arg;
	struct zd_folio *folio = zd_pfn_folio(g->w, pfn);

	if (!folio)
		return;
	zd_gup_audit_counts(g, folio, pfn, h, count);
	if (!zd_is_pin(h) && h.kind != ZD_HOLD_GUP)
		return;
	if (zd_folio_is_device_private(folio)) {
		zd_report(g->w, ZD_INV_GUP_DEVICE_PRIVATE, pfn,
			  "%ld GUP reference%s on a device-private page", count, count == 1 ? "" : "s");
		g->found++;
	} else if (h.kind == ZD_HOLD_PIN_LONGTERM && !zd_folio_is_longterm_pinnable(folio)) {
		zd_report(g->w, ZD_INV_LONGTERM_PIN_UNPINNABLE, pfn,
			  "a long-term pin on a %s page", zd_memory_type_name(zd_folio_memory_type(folio)));
		g->found++;
	}
}

void zd_gup_audit(struct zd_world *w, struct zd_audit *a, void *arg)
{
	struct zd_gup_audit g = { .w = w };

	(void)arg;
	if (zd_audit_hasher(a))
		return; /* its state is the pages' and the ledger's, digested already */
	zd_ledger_for_each(w, zd_gup_audit_entry, &g);
	zd_gup_audit_pincounts(&g);
	free(g.large);
	zd_audit_add_found(a, g.found);
}

/* ---- G5: a failed long-term pin leaves nothing pinned ---------------------------------- */

struct zd_holder_sum {
	struct zd_holder h;
	long sum;
};

static void zd_holder_sum_entry(void *arg, unsigned long pfn, struct zd_holder h, long count)
{
	struct zd_holder_sum *s = arg;

	(void)pfn;
	if (h.kind == s->h.kind && h.id == s->h.id)
		s->sum += count;
}

long zd_gup_holder_refs(struct zd_world *w, struct zd_holder h)
{
	struct zd_holder_sum s = { .h = h };

	zd_ledger_for_each(w, zd_holder_sum_entry, &s);
	return s.sum;
}

void zd_gup_check_error_unpinned(struct zd_world *w, struct zd_holder h, long before, long ret)
{
	long after = zd_gup_holder_refs(w, h);
	char name[64];

	if (after == before)
		return;
	zd_holder_name(w, h, name, sizeof(name));
	zd_report(w, ZD_INV_GUP_ERROR_PINNED, ZD_PFN_NONE,
		  "a long-term pin failed (%ld) but %s holds %ld references more than before it",
		  ret, name, after - before);
}
