/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: the physical address space: accounted allocation, pfn
 * ranges with their memmaps (struct page storage, vmemmap deduplication),
 * page contents, System RAM and its page allocator.
 */
#ifndef ZONEDEV_SRC_MEM_H
#define ZONEDEV_SRC_MEM_H

#include <stdio.h>
#include "zonedev/page.h"
#include "zonedev/memremap.h"
#include "world.h"
#include "sync/sync.h"

/* ---- Accounted allocation (alloc.c) ----------------------------------- */

/* Zeroed allocation counted against the world; NULL on (injected) failure. */
void *zd_kzalloc(struct zd_world *w, size_t size);
void zd_kfree(struct zd_world *w, void *p, size_t size);
/* Large zeroed allocation straight from mmap (memmaps, page data). */
void *zd_vzalloc(struct zd_world *w, size_t size);
void zd_vfree(struct zd_world *w, void *p, size_t size);
/* Duplicate a string (accounted). */
char *zd_kstrdup(struct zd_world *w, const char *s);
void zd_kfree_str(struct zd_world *w, char *s);

/* ---- An RCU-published table of pfn intervals (rangetab.c) --------------- */

struct zd_rangetab_entry {
	unsigned long start; /* first pfn */
	unsigned long end;   /* one past the last pfn */
	void *value;
};

struct zd_rangetab_array {
	size_t nr;
	struct zd_rangetab_entry e[];
};

struct zd_rangetab {
	struct zd_rangetab_array *arr; /* RCU-published, sorted, disjoint */
	zd_mutex_t lock;	       /* serialises updates */
};

void zd_rangetab_init(struct zd_rangetab *t);
void zd_rangetab_destroy(struct zd_world *w, struct zd_rangetab *t);
/* Insert [start, end): -EEXIST if it overlaps, -ENOMEM. Readers see it after return. */
int zd_rangetab_insert(struct zd_world *w, struct zd_rangetab *t, unsigned long start,
		       unsigned long end, void *value);
/* Remove the entry starting at start; waits for an RCU grace period. */
int zd_rangetab_remove(struct zd_world *w, struct zd_rangetab *t, unsigned long start);
/* Look a pfn up; the caller is in an RCU read section or otherwise keeps the value alive. */
void *zd_rangetab_lookup(struct zd_rangetab *t, unsigned long pfn);
/* First entry overlapping [start, end), or NULL. */
void *zd_rangetab_overlap(struct zd_rangetab *t, unsigned long start, unsigned long end);

/* ---- Memmap ranges (memmap.c) ------------------------------------------- */

/*
 * struct zd_memmap_range - the struct pages of one pfn range.
 *
 * Without deduplication `pages` holds one struct page per pfn. With logical
 * vmemmap deduplication (compound geometry, vmemmap_shift >= 2, no altmap)
 * it holds two per folio, the head and the first tail (the folio metadata);
 * every other tail of every folio is represented by the single
 * `shared_tail`, as the shared tail page of the kernel's newest vmemmap
 * optimisation (its tails do not store the head's address; the head is
 * found from the pfn).
 */
struct zd_memmap_range {
	unsigned long start_pfn;
	unsigned long nr_pages;
	unsigned int shift; /* folio order of the geometry */
	bool dedup;
	bool unplugged; /* torn down; kept only because pages were still referenced */
	struct zd_page *pages;
	size_t bytes; /* storage of `pages` */
	struct zd_page shared_tail;
	struct zd_page shared_tail_pristine; /* what shared_tail must keep holding */
	zd_atomic_ulong_t data;		     /* page contents (an address), mapped on first use */
};

/*
 * Allocate (not initialise) the memmap for [start_pfn, start_pfn + nr) with
 * folio order `shift`, and publish it for pfn lookups. -ENOMEM, -EEXIST.
 */
int zd_memmap_add(struct zd_world *w, unsigned long start_pfn, unsigned long nr, unsigned int shift,
		  bool dedup, struct zd_memmap_range **out);
/*
 * Unpublish and free a memmap. With keep_zombie the storage stays (marked
 * unplugged) until the world ends, so late puts on it can be reported as
 * use-after-unplug instead of touching freed memory.
 */
void zd_memmap_remove(struct zd_world *w, struct zd_memmap_range *r, bool keep_zombie);
/* Free the memmaps kept as zombies (world teardown). */
void zd_mem_free_zombies(struct zd_world *w);
struct zd_memmap_range *zd_memmap_lookup(struct zd_world *w, unsigned long pfn);
/* The struct page of pfn within r (the shared tail for a deduplicated tail). */
struct zd_page *zd_memmap_page(struct zd_memmap_range *r, unsigned long pfn);
/* The folio (head) containing pfn within r. */
struct zd_folio *zd_memmap_folio(struct zd_memmap_range *r, unsigned long pfn);
/*
 * Page contents of pfn (4 KiB), mapped lazily; NULL on failure. Each call
 * marks the page's contents used (zd_page_data_used): callers touch the 4 KiB
 * of the pfn they asked for, never beyond.
 */
void *zd_page_data(struct zd_world *w, unsigned long pfn);
/* Whether zd_page_data() was ever called for pfn of r (contents possibly not zero). */
bool zd_page_data_used(struct zd_memmap_range *r, unsigned long pfn);
/* Bytes of struct pages held by all memmaps of device ranges (not System RAM). */
uint64_t zd_mem_device_memmap_bytes(struct zd_world *w);

/* ---- Physical address space and System RAM (phys.c, ram.c) --------------- */

struct zd_mem {
	struct zd_world *world;
	struct zd_rangetab memmaps; /* pfn -> struct zd_memmap_range */
	zd_spinlock_t zombie_lock;
	struct zd_memmap_range **zombies;
	size_t nr_zombies;
	zd_atomic_long_t device_memmap_bytes;

	/* Physical regions handed out by zd_request_free_mem_region(). */
	zd_mutex_t region_lock;
	struct zd_range *regions;
	size_t nr_regions;

	/* System RAM: pfns [0, ram_pages). */
	unsigned long ram_pages;
	struct zd_memmap_range *ram;
	struct zd_ram_allocator *ram_alloc;
};

#define ZD_DEVICE_PHYS_BASE (1ull << 40) /* device ranges live above 1 TiB */

int zd_mem_init(struct zd_world *w, uint64_t ram_bytes);
void zd_mem_exit(struct zd_world *w);
int zd_mem_set_ram(struct zd_world *w, uint64_t bytes);
bool zd_pfn_is_ram(struct zd_world *w, unsigned long pfn);

/*
 * System RAM page allocator (the buddy allocator, two orders): a folio of
 * order 0 or ZD_PMD_ORDER, compound-prepared, refcount still 0 (the page
 * layer's zd_folio_alloc() makes it refcounted). NULL when RAM is exhausted.
 */
struct zd_folio *zd_ram_alloc_pages(struct zd_world *w, unsigned int order);
/* Return a RAM folio whose refcount reached 0. */
void zd_ram_free_pages_folio(struct zd_world *w, struct zd_folio *folio);
unsigned long zd_ram_free_pages(struct zd_world *w);
/*
 * Memory failure: mark a RAM page PG_hwpoison under the allocator lock and,
 * if it is free, take it out for good (take_page_off_buddy). Returns 1 (it
 * was free), 0 (in use), -EHWPOISON (already marked), -EINVAL (not RAM).
 * The free path, under the same lock, never puts a marked page back.
 */
int zd_ram_poison_page(struct zd_world *w, struct zd_page *page);
unsigned long zd_ram_used_pages(struct zd_world *w);
struct zd_state_hash;
/* The state digest's part for System RAM (zd_world_state_hash): pages in use and free lists. */
void zd_ram_state_hash(struct zd_world *w, struct zd_state_hash *h);

/* ---- Compound geometry (compound.c) --------------------------------------
 * Struct-page layout only, no policy: the kernel's prep_compound_page and
 * its undoing. `head` is the first struct page of 2^order contiguous ones
 * of a non-deduplicated memmap.
 */
void zd_prep_compound(struct zd_page *head, unsigned int order);
/* Order of the folio whose head is `head` (0 for a non-head page). */
static inline unsigned int zd_compound_order(const struct zd_page *head)
{
	const struct zd_folio *folio = (const struct zd_folio *)head;

	if (!(zd_atomic_ulong_read_relaxed(&head->flags) & (1ul << ZD_PG_head)))
		return 0;
	return (unsigned int)(zd_atomic_ulong_read_relaxed(&folio->_flags_1) & 0xff);
}
/* Dissolve a compound folio back into order-0 pages (scrub every tail). */
void zd_clear_compound(struct zd_page *head, unsigned int order);
void zd_page_flags_set(struct zd_page *page, unsigned long mask);
void zd_page_flags_clear(struct zd_page *page, unsigned long mask);

#endif
