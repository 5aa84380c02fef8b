/* SPDX-License-Identifier: MIT */
/*
 * zonedev: struct page identity and state: folio geometry, zone, world,
 * pgmap and memory type, flags and the page lock.
 */
#include "page/page_internal.h"

bool zd_page_is_tail(const struct zd_page *page)
{
	return (ZD_READ_ONCE(page->compound_head) & 1) != 0 ||
	       zd_page_test_flag(page, ZD_PG_shared_tail);
}

bool zd_page_is_head(const struct zd_page *page)
{
	return zd_page_test_flag(page, ZD_PG_head);
}

struct zd_folio *zd_page_folio(struct zd_page *page)
{
	uintptr_t head = ZD_READ_ONCE(page->compound_head);

	if (head & 1)
		return (struct zd_folio *)(head - 1);
	if (zd_page_test_flag(page, ZD_PG_shared_tail))
		return NULL;
	return (struct zd_folio *)page;
}

bool zd_folio_test_large(const struct zd_folio *folio)
{
	return zd_page_test_flag(&folio->page, ZD_PG_head);
}

unsigned int zd_folio_order(const struct zd_folio *folio)
{
	return zd_compound_order(&folio->page);
}

unsigned long zd_folio_nr_pages(const struct zd_folio *folio)
{
	return 1ul << zd_folio_order(folio);
}

unsigned long zd_folio_pfn(const struct zd_folio *folio)
{
	return folio->pfn;
}

bool zd_page_is_zone_device(const struct zd_page *page)
{
	return ((zd_atomic_ulong_read_relaxed(&page->flags) & ZD_PAGE_ZONE_MASK) >>
		ZD_PAGE_ZONE_SHIFT) == ZD_ZONE_DEVICE;
}

bool zd_folio_is_zone_device(const struct zd_folio *folio)
{
	return zd_page_is_zone_device(&folio->page);
}

struct zd_dev_pagemap *zd_page_pgmap(struct zd_page *page)
{
	struct zd_folio *folio;

	if (!zd_page_is_zone_device(page))
		return NULL;
	if (zd_page_test_flag(page, ZD_PG_shared_tail))
		return ZD_READ_ONCE(
		    page->pgmap); /* the shared tail keeps the pgmap it stands for */
	folio = zd_page_folio(page);
	return folio ? ZD_READ_ONCE(folio->pgmap) : NULL;
}

enum zd_memory_type zd_folio_memory_type(const struct zd_folio *folio)
{
	struct zd_dev_pagemap *pgmap;

	if (!zd_folio_is_zone_device(folio))
		return ZD_MEMORY_DEVICE_NONE;
	pgmap = ZD_READ_ONCE(((struct zd_folio *)folio)->pgmap);
	return pgmap ? pgmap->type : ZD_MEMORY_DEVICE_NONE;
}

bool zd_folio_is_device_private(const struct zd_folio *folio)
{
	return zd_folio_memory_type(folio) == ZD_MEMORY_DEVICE_PRIVATE;
}

bool zd_folio_is_device_coherent(const struct zd_folio *folio)
{
	return zd_folio_memory_type(folio) == ZD_MEMORY_DEVICE_COHERENT;
}

bool zd_folio_is_fsdax(const struct zd_folio *folio)
{
	return zd_folio_memory_type(folio) == ZD_MEMORY_DEVICE_FS_DAX;
}

bool zd_folio_is_generic(const struct zd_folio *folio)
{
	return zd_folio_memory_type(folio) == ZD_MEMORY_DEVICE_GENERIC;
}

bool zd_folio_is_pci_p2pdma(const struct zd_folio *folio)
{
	return zd_folio_memory_type(folio) == ZD_MEMORY_DEVICE_PCI_P2PDMA;
}

struct zd_world *zd_page_world(const struct zd_page *page)
{
	unsigned long f = zd_atomic_ulong_read_relaxed(&page->flags);

	return zd_world_by_id((unsigned int)((f & ZD_PAGE_WORLD_MASK) >> ZD_PAGE_WORLD_SHIFT));
}

struct zd_world *zd_folio_world(const struct zd_folio *folio)
{
	return zd_page_world(&folio->page);
}

struct zd_page *zd_pfn_to_page(struct zd_world *w, unsigned long pfn)
{
	struct zd_memmap_range *r = zd_memmap_lookup(w, pfn);

	return r ? zd_memmap_page(r, pfn) : NULL;
}

struct zd_folio *zd_pfn_folio(struct zd_world *w, unsigned long pfn)
{
	struct zd_memmap_range *r = zd_memmap_lookup(w, pfn);

	return r ? zd_memmap_folio(r, pfn) : NULL;
}

/* ---- Flags ----------------------------------------------------------- */

bool zd_folio_test_anon(const struct zd_folio *folio)
{
	return ((uintptr_t)ZD_READ_ONCE(((struct zd_folio *)folio)->mapping) &
		ZD_PAGE_MAPPING_ANON) != 0;
}

bool zd_page_test_flag(const struct zd_page *page, enum zd_pageflags bit)
{
	return (zd_atomic_ulong_read_acquire(&page->flags) >> bit) & 1;
}

void zd_page_set_flag(struct zd_page *page, enum zd_pageflags bit)
{
	zd_page_flags_set(page, 1ul << bit);
}

void zd_page_clear_flag(struct zd_page *page, enum zd_pageflags bit)
{
	zd_page_flags_clear(page, 1ul << bit);
}

bool zd_folio_test_flag(const struct zd_folio *folio, enum zd_pageflags bit)
{
	return zd_page_test_flag(&folio->page, bit);
}

void zd_folio_set_flag(struct zd_folio *folio, enum zd_pageflags bit)
{
	zd_page_set_flag(&folio->page, bit);
}

void zd_folio_clear_flag(struct zd_folio *folio, enum zd_pageflags bit)
{
	zd_page_clear_flag(&folio->page, bit);
}

/* ---- The page lock ------------------------------------------------------ */

bool zd_folio_test_locked(const struct zd_folio *folio)
{
	return zd_folio_test_flag(folio, ZD_PG_locked);
}

bool zd_folio_trylock(struct zd_folio *folio)
{
	unsigned long old = zd_atomic_ulong_fetch_or_acquire(&folio->flags, 1ul << ZD_PG_locked);

	return !(old & (1ul << ZD_PG_locked));
}

static bool zd_folio_lock_cond(void *arg)
{
	return zd_folio_trylock(arg);
}

void zd_folio_lock(struct zd_folio *folio)
{
	if (zd_folio_trylock(folio))
		return;
	zd_wait_var_event(&folio->flags, zd_folio_lock_cond, folio, "folio lock");
}

void zd_folio_unlock(struct zd_folio *folio)
{
	zd_atomic_ulong_fetch_andnot_release(&folio->flags, 1ul << ZD_PG_locked);
	zd_wake_up_var(&folio->flags);
}
