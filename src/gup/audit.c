/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the pin part of the audit: no GUP reference on a device-private
 * page (G1), no long-term pin on memory that is not long-term pinnable (G2).
 */
#include "zonedev/gup.h"
#include "check/check.h"

struct zd_gup_audit {
	struct zd_world *w;
	int found;
};

static void zd_gup_audit_entry(void *arg, unsigned long pfn, struct zd_holder h, long count)
{
	struct zd_gup_audit *g = arg;
	struct zd_folio *folio;

	if (h.kind != ZD_HOLD_PIN && h.kind != ZD_HOLD_GUP && h.kind != ZD_HOLD_PIN_LONGTERM)
		return;
	folio = zd_pfn_folio(g->w, pfn);
	if (!folio)
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
	struct zd_gup_audit g = { w, 0 };

	(void)arg;
	zd_ledger_for_each(w, zd_gup_audit_entry, &g);
	zd_audit_add_found(a, g.found);
}
