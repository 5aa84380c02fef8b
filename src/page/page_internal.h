/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: functions the page layer shares with the layers above:
 * the legal ways to raise a count from zero, and the hand-off of ZONE_DEVICE
 * count transitions to src/pgmap/free.c.
 */
#ifndef ZONEDEV_SRC_PAGE_INTERNAL_H
#define ZONEDEV_SRC_PAGE_INTERNAL_H

#include "zonedev/page.h"
#include "zonedev/memremap.h"
#include "page/regime.h"
#include "mem/mem.h"
#include "check/check.h"

static inline const struct zd_type_policy *zd_folio_policy(const struct zd_folio *folio)
{
	struct zd_world *w = zd_folio_world(folio);

	return zd_policy_type(w->policy, zd_folio_memory_type(folio));
}

/* page_ref_set: the count becomes v (initialisation and the regimes' resets). */
void zd_folio_set_refcount(struct zd_folio *folio, int v, struct zd_holder h);
/* A raw increment that may start from 0 (the FS DAX fault path's). */
void zd_folio_ref_inc_raw(struct zd_folio *folio, struct zd_holder h);
/* Flag helpers on a folio's head. */
bool zd_folio_test_flag(const struct zd_folio *folio, enum zd_pageflags bit);
void zd_folio_set_flag(struct zd_folio *folio, enum zd_pageflags bit);
void zd_folio_clear_flag(struct zd_folio *folio, enum zd_pageflags bit);

/* Which put path dropped a reference (the museum's bugs skip hooks on some of them). */
enum zd_put_path {
	ZD_PUT_ONE,   /* folio_put / folio_put_refs */
	ZD_PUT_BATCH, /* the batched release (release_pages / folios_put_refs) */
	ZD_PUT_UNPIN, /* unpin_user_pages (gup_put_folio of a pin) */
};

/*
 * Implemented in src/pgmap/free.c: a ZONE_DEVICE folio of pgmap (read while
 * the reference was held) went from old to new through a put on @path.
 * Runs the regime's 2 -> 1 and 1 -> 0 actions; touches the folio only when
 * one of them applies.
 */
void zd_zone_device_transition(struct zd_folio *folio, struct zd_dev_pagemap *pgmap, int old,
			       int new, enum zd_put_path path);
/* Report use-after-unplug if folio belongs to a pgmap already torn down. */
bool zd_folio_check_unplugged(struct zd_folio *folio, const char *what);

#endif
