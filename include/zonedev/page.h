/* SPDX-License-Identifier: MIT */
/*
 * zonedev: struct pages and folios: refcount, mapcount, pincount, flags,
 * the page lock, compound folios, and the reference-count operations.
 */
#ifndef ZONEDEV_PAGE_H
#define ZONEDEV_PAGE_H

#include "zonedev/types.h"
#include "zonedev/sync_types.h"

struct zd_world;
struct zd_dev_pagemap;

/* Page flag bits (in page->flags). Names follow the kernel's PG_*. */
enum zd_pageflags {
	ZD_PG_locked = 0,
	ZD_PG_waiters,
	ZD_PG_referenced,
	ZD_PG_uptodate,
	ZD_PG_dirty,
	ZD_PG_lru,
	ZD_PG_head,
	ZD_PG_active,
	ZD_PG_reserved,
	ZD_PG_private,
	ZD_PG_writeback,
	ZD_PG_anon_exclusive, /* per page, as the kernel's PageAnonExclusive */
	ZD_PG_hwpoison,
	ZD_PG_large_rmappable,
	ZD_PG_buddy,	   /* free in the system RAM allocator */
	ZD_PG_zero,	   /* the shared zero page */
	ZD_PG_shared_tail, /* a deduplicated tail: one stored copy stands for many */
	ZD_PG_devfree,	   /* model bookkeeping: handed back to its driver by the free callback */
	ZD_PG_base_ref,	   /* model bookkeeping: the count includes the page's base reference */
	ZD_NR_PAGEFLAGS,
};

/* Zone and world index live in the top bits, as the kernel keeps zone and node. */
#define ZD_PAGE_ZONE_SHIFT 62
#define ZD_PAGE_ZONE_MASK (3ul << ZD_PAGE_ZONE_SHIFT)
#define ZD_ZONE_NORMAL 0ul
#define ZD_ZONE_DEVICE 1ul
#define ZD_PAGE_WORLD_SHIFT 48
#define ZD_PAGE_WORLD_BITS 12
#define ZD_PAGE_WORLD_MASK (((1ul << ZD_PAGE_WORLD_BITS) - 1) << ZD_PAGE_WORLD_SHIFT)
#define ZD_PAGE_FLAGS_MASK ((1ul << ZD_NR_PAGEFLAGS) - 1)

/*
 * struct zd_page - one struct page, 64 bytes as in the kernel.
 *
 * @flags:    PG_* bits, zone and world index.
 * @compound_head / @pgmap: the same word. A tail page stores its head's
 *            address | 1; a head or order-0 ZONE_DEVICE page stores its pgmap
 *            (the kernel's folio->pgmap overlay).
 * @zone_device_data: driver-private word (device-private pages); the RAM
 *            allocator links free pages through it.
 * @mapping:  address_space (or anon marker), as the kernel's.
 * @index:    file index; for FS DAX shared folios this word is `share`.
 * @private:  filesystem / driver private.
 * @_mapcount: -1 when unmapped.
 * @_refcount: the reference count; only the head of a folio carries one.
 * @pfn:      the page's own pfn (the kernel derives it from the vmemmap
 *            address; a deduplicated tail stores ZD_PFN_NONE).
 */
struct zd_page {
	zd_atomic_ulong_t flags;
	union {
		uintptr_t compound_head;
		struct zd_dev_pagemap *pgmap;
	};
	void *zone_device_data;
	void *mapping;
	union {
		unsigned long index;
		unsigned long share;
	};
	unsigned long private;
	zd_atomic_t _mapcount;
	zd_atomic_t _refcount;
	unsigned long pfn;
};

#define ZD_PFN_NONE (~0ul)

/*
 * struct zd_folio - a folio overlays its first two struct pages, as the
 * kernel's does: page 0 is the head, page 1 (the first tail) keeps the
 * folio-wide metadata of large folios (order, large/entire mapcounts,
 * pincount, nr_pages). Only read the page-1 fields when the folio is large.
 */
struct zd_folio {
	union {
		struct {
			zd_atomic_ulong_t flags;
			union {
				uintptr_t _head_0_unused;
				struct zd_dev_pagemap *pgmap;
			};
			void *zone_device_data;
			void *mapping;
			union {
				unsigned long index;
				unsigned long share;
			};
			unsigned long private;
			zd_atomic_t _mapcount;
			zd_atomic_t _refcount;
			unsigned long pfn;
		};
		struct zd_page page;
	};
	union {
		struct {
			zd_atomic_ulong_t _flags_1; /* low byte: folio order */
			uintptr_t _head_1;	    /* compound_head of the first tail */
			zd_atomic_t _large_mapcount;
			zd_atomic_t _entire_mapcount;
			zd_atomic_t _nr_pages_mapped;
			zd_atomic_t _pincount;
			unsigned int _nr_pages;
			unsigned int _pad_1;
			unsigned long _private_1;
			zd_atomic_t _mapcount_1; /* the first tail's own _mapcount slot */
			zd_atomic_t _refcount_1; /* the first tail's own _refcount: 0 */
			unsigned long _pfn_1;
		};
		struct zd_page __page_1;
	};
};

/* ---- Geometry and identity ------------------------------------------- */

bool zd_page_is_tail(const struct zd_page *page);
bool zd_page_is_head(const struct zd_page *page);
/* The folio containing page; NULL only for a deduplicated tail (ask by pfn). */
struct zd_folio *zd_page_folio(struct zd_page *page);
bool zd_folio_test_large(const struct zd_folio *folio);
unsigned int zd_folio_order(const struct zd_folio *folio);
unsigned long zd_folio_nr_pages(const struct zd_folio *folio);
unsigned long zd_folio_pfn(const struct zd_folio *folio);
bool zd_page_is_zone_device(const struct zd_page *page);
bool zd_folio_is_zone_device(const struct zd_folio *folio);
/* The pgmap of a ZONE_DEVICE page (through its folio); NULL otherwise. */
struct zd_dev_pagemap *zd_page_pgmap(struct zd_page *page);
enum zd_memory_type zd_folio_memory_type(const struct zd_folio *folio);
bool zd_folio_is_device_private(const struct zd_folio *folio);
bool zd_folio_is_device_coherent(const struct zd_folio *folio);
bool zd_folio_is_fsdax(const struct zd_folio *folio);
bool zd_folio_is_generic(const struct zd_folio *folio);
bool zd_folio_is_pci_p2pdma(const struct zd_folio *folio);
struct zd_world *zd_page_world(const struct zd_page *page);
struct zd_world *zd_folio_world(const struct zd_folio *folio);

/* Look a pfn up: its struct page (possibly a shared deduplicated tail) / its folio. */
struct zd_page *zd_pfn_to_page(struct zd_world *w, unsigned long pfn);
struct zd_folio *zd_pfn_folio(struct zd_world *w, unsigned long pfn);

/* ---- Flags and the page lock ------------------------------------------ */

/* folio->mapping of an anonymous folio points at its anon_vma with this bit set. */
#define ZD_PAGE_MAPPING_ANON 1ul
/* folio_test_anon: the folio belongs to anonymous memory. */
bool zd_folio_test_anon(const struct zd_folio *folio);

bool zd_page_test_flag(const struct zd_page *page, enum zd_pageflags bit);
void zd_page_set_flag(struct zd_page *page, enum zd_pageflags bit);
void zd_page_clear_flag(struct zd_page *page, enum zd_pageflags bit);
bool zd_folio_test_locked(const struct zd_folio *folio);
bool zd_folio_trylock(struct zd_folio *folio);
/* Sleeps (a tracked wait) until the lock is free. */
void zd_folio_lock(struct zd_folio *folio);
void zd_folio_unlock(struct zd_folio *folio);

/* ---- Reference counts -------------------------------------------------
 *
 * Every operation names its holder (struct zd_holder). The refcount itself
 * is the only source of truth; with holder tracking on, the world keeps a
 * ledger of who holds what, which the auditor compares with the count.
 *
 * Puts run the regime's free transition: for ZONE_DEVICE folios
 * free_zone_device_folio() when the count reaches the regime's free value
 * (see src/page/regime.c); for system RAM the page returns to the allocator
 * at zero. A put that would take the count below zero is refused and
 * reported as the violation `refcount-underflow`; a get on a zero count is
 * reported as `get-on-zero` (and performed, as the kernel would).
 */
int zd_folio_ref_count(const struct zd_folio *folio);
int zd_page_ref_count(const struct zd_page *page);
int zd_folio_mapcount(const struct zd_folio *folio);
int zd_folio_pincount(const struct zd_folio *folio);

/*
 * Idle: no reference but the page's own base reference (for the 1-based
 * pages, as long as they still hold one). The kernel's dax_page_is_idle,
 * made regime-independent.
 */
bool zd_folio_idle(const struct zd_folio *folio);

void zd_folio_get(struct zd_folio *folio, struct zd_holder h);
void zd_folio_ref_add(struct zd_folio *folio, int nr, struct zd_holder h);
/* folio_try_get: take a reference unless the count is zero. */
bool zd_folio_try_get(struct zd_folio *folio, struct zd_holder h);
/* Take nr references unless the count is zero (page_ref_add_unless). */
bool zd_folio_ref_try_add(struct zd_folio *folio, int nr, struct zd_holder h);
void zd_folio_put(struct zd_folio *folio, struct zd_holder h);
void zd_folio_put_refs(struct zd_folio *folio, int nr, struct zd_holder h);
/* The put of unpin_user_pages (gup_put_folio of a pin): folio_put_refs on its own path. */
void zd_folio_unpin_put_refs(struct zd_folio *folio, int nr, struct zd_holder h);
/*
 * folio_put_testzero (page_ref_dec_and_test): drop one reference and say
 * whether it was the last. Runs no free path: the caller owns a folio that
 * reached zero and must free it (zd_free_zone_device_folio for ZONE_DEVICE,
 * as the kernel's callers do). Refuses to go below zero (reported).
 */
bool zd_folio_put_testzero(struct zd_folio *folio, struct zd_holder h);
/*
 * The batched release path (folios_put_refs / release_pages): drops refs[i]
 * from folios[i]. In the regimes with devmap hooks this path must know the
 * 1-based rules too (bug `release-pages-devmap`).
 */
void zd_folios_put_refs(struct zd_folio **folios, const int *refs, int nr, struct zd_holder h);
/* page_ref_freeze / unfreeze: succeed only if the count is exactly `count`. */
bool zd_folio_ref_freeze(struct zd_folio *folio, int count);
void zd_folio_ref_unfreeze(struct zd_folio *folio, int count);
/* System RAM: a refcounted folio of order 0 or ZD_PMD_ORDER, or NULL when RAM is exhausted. */
struct zd_folio *zd_folio_alloc(struct zd_world *w, unsigned int order, struct zd_holder h);
/* Pages of System RAM free in the allocator. */
unsigned long zd_ram_nr_free(struct zd_world *w);
/*
 * set_page_count on an error path: the holder's reference is abandoned and
 * the count set back to `resting` (0, or 1 with the base reference back)
 * without running any free path.
 */
void zd_folio_ref_transfer_reset(struct zd_folio *folio, int resting, struct zd_holder h);
/* Move one reference from one holder to another (ledger only; count unchanged). */
void zd_folio_ref_transfer(struct zd_folio *folio, struct zd_holder from, struct zd_holder to);

#endif
