/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: the regime policy table. Every rule in which the
 * unified, split and legacy regimes differ is a field here; code consults
 * the table by name and never tests the regime itself.
 */
#ifndef ZONEDEV_SRC_REGIME_H
#define ZONEDEV_SRC_REGIME_H

#include "zonedev/types.h"
#include "zonedev/check.h"

/* What the transition to refcount 1 does (devmap-managed pages of the older regimes). */
enum zd_at_one {
	ZD_ONE_NOTHING = 0,
	ZD_ONE_FREE, /* 2 -> 1 is the free event: put_devmap_managed_page */
};

/* What the transition to refcount 0 does. */
enum zd_at_zero {
	ZD_ZERO_FREE = 0,   /* free_zone_device_folio; the count stays 0 */
	ZD_ZERO_FREE_RESET, /* free_zone_device_folio, then the count is reset to 1 */
	ZD_ZERO_PUT_PGMAP,  /* legacy __put_page: drop the page's pgmap reference */
	ZD_ZERO_WARN,	    /* a WARN and an early return: the count is left at 0 */
};

/* How a driver allocation of a PRIVATE / COHERENT folio takes its reference. */
enum zd_alloc_mode {
	ZD_ALLOC_INIT = 0, /* zone_device_page_init: 0 -> 1 (+ pgmap references) */
	ZD_ALLOC_GET,	   /* legacy: get_page on the resting 1 -> 2 */
	ZD_ALLOC_TAKE,	   /* v5.18-v6.0: the resting reference is handed over as is */
};

struct zd_type_policy {
	int memremap_refcount;	 /* head / order-0 refcount after memremap */
	bool memremap_bulk_refs; /* one pgmap ref per folio, put in bulk by memunmap */
	bool memremap_page_refs; /* legacy: one pgmap ref per folio, put at its 1 -> 0 */
	int free_refcount;	 /* the refcount of a free, idle page */
	enum zd_at_one at_one;
	enum zd_at_zero at_zero;
	int zero_violation;	  /* invariant reported when 0 is reached, or -1 */
	bool free_callback;	  /* ops->folio_free at the free event */
	bool free_wakes;	  /* wake_up_var(head) at the free event */
	bool free_puts_pgmap;	  /* the core puts 2^order pgmap refs after the callback */
	bool free_clears_mapping; /* folio->mapping = NULL at the free event */
	enum zd_alloc_mode alloc_mode;
	bool alloc_pgmap_refs;	/* driver allocation takes 2^order pgmap refs */
	bool large_folios;	/* drivers may hand out folios of order > 0 */
	bool mapping_takes_ref; /* a page-table entry holds a reference and a mapcount */
};

struct zd_regime_policy {
	enum zd_regime regime;
	const char *name;
	const char *kernels;
	struct zd_type_policy type[ZD_NR_MEMORY_TYPES];
	bool memunmap_puts_base_refs; /* legacy: put_page on every folio before the wait */
	bool gup_holds_pgmap;	      /* GUP holds get_dev_pagemap during the walk */
	bool p2p_user_pages;	      /* P2PDMA pages can be mapped into user space */
	bool alloc_tryget_live;	      /* allocation refuses a dying pgmap (tryget_live) */
};

/* The policy of a regime, as the kernel had it (no museum bugs applied). */
const struct zd_regime_policy *zd_regime_policy(enum zd_regime regime);

static inline const struct zd_type_policy *zd_policy_type(const struct zd_regime_policy *p,
							  enum zd_memory_type type)
{
	return &p->type[type < ZD_NR_MEMORY_TYPES ? type : 0];
}

#endif
