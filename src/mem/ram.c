/* SPDX-License-Identifier: MIT */
/*
 * zonedev: System RAM: its memmap at pfns [0, ram_pages) and a two-order
 * page allocator (order 0 and 2 MiB folios) in 2 MiB blocks.
 */
#include <string.h>

#include "mem/mem.h"
#include "zonedev/check.h"
#include "zonedev/failure.h"

#define ZD_BLOCK_ORDER ZD_PMD_ORDER
#define ZD_BLOCK_PAGES (1ul << ZD_BLOCK_ORDER)

/*
 * A block is whole (all pages free, usable as a 2 MiB folio), partial (on
 * the partial list, with a list of free order-0 pages) or full (nothing
 * free). Blocks shorter than 2 MiB (the tail of RAM) are never whole.
 */
struct zd_ram_allocator {
	zd_spinlock_t lock;
	unsigned long nblocks;
	unsigned long free_pages;
	unsigned int *nfree;	   /* free pages per block */
	struct zd_page **freelist; /* per block, linked through zone_device_data */
	unsigned long *whole;	   /* stack of whole blocks */
	unsigned long nwhole;
	long *pnext, *pprev; /* partial list */
	long phead;
	bool *is_whole_list; /* block's pages are not on its freelist (whole) */
};

static size_t zd_ram_alloc_bytes(unsigned long nblocks)
{
	return nblocks * (sizeof(unsigned int) + sizeof(struct zd_page *) + sizeof(unsigned long) +
			  2 * sizeof(long) + sizeof(bool));
}

static unsigned long zd_block_pages(struct zd_mem *mem, unsigned long b)
{
	unsigned long first = b * ZD_BLOCK_PAGES;

	return mem->ram_pages - first < ZD_BLOCK_PAGES ? mem->ram_pages - first : ZD_BLOCK_PAGES;
}

static void zd_partial_add(struct zd_ram_allocator *a, unsigned long b)
{
	a->pprev[b] = -1;
	a->pnext[b] = a->phead;
	if (a->phead >= 0)
		a->pprev[a->phead] = (long)b;
	a->phead = (long)b;
}

static void zd_partial_del(struct zd_ram_allocator *a, unsigned long b)
{
	if (a->pprev[b] >= 0)
		a->pnext[a->pprev[b]] = a->pnext[b];
	else
		a->phead = a->pnext[b];
	if (a->pnext[b] >= 0)
		a->pprev[a->pnext[b]] = a->pprev[b];
}

static void zd_freelist_push(struct zd_ram_allocator *a, unsigned long b, struct zd_page *p)
{
	p->zone_device_data = a->freelist[b];
	a->freelist[b] = p;
}

static void zd_ram_free_around_poison(struct zd_ram_allocator *a, unsigned long b,
				      struct zd_page *page, unsigned long nr);

/* Initialise the RAM memmap and the allocator. Called with no RAM in use. */
static int zd_ram_setup(struct zd_world *w, unsigned long pages)
{
	struct zd_mem *mem = w->mem;
	struct zd_ram_allocator *a;
	unsigned long b, i, base_flags;
	struct zd_memmap_range *r;
	char *p;
	int ret;

	ret = zd_memmap_add(w, 0, pages, 0, false, &r);
	if (ret)
		return ret;
	a = zd_kzalloc(w, sizeof(*a));
	if (!a)
		goto err_memmap;
	a->nblocks = (pages + ZD_BLOCK_PAGES - 1) / ZD_BLOCK_PAGES;
	p = zd_kzalloc(w, zd_ram_alloc_bytes(a->nblocks));
	if (!p)
		goto err_alloc;
	/* 8-byte arrays first: with an odd number of blocks the 4-byte one would misalign them. */
	a->freelist = (struct zd_page **)p;
	p += a->nblocks * sizeof(struct zd_page *);
	a->whole = (unsigned long *)p;
	p += a->nblocks * sizeof(unsigned long);
	a->pnext = (long *)p;
	p += a->nblocks * sizeof(long);
	a->pprev = (long *)p;
	p += a->nblocks * sizeof(long);
	a->nfree = (unsigned int *)p;
	p += a->nblocks * sizeof(unsigned int);
	a->is_whole_list = (bool *)p;
	a->phead = -1;
	zd_spin_lock_init(&a->lock);

	mem->ram = r;
	mem->ram_pages = pages;
	mem->ram_alloc = a;
	base_flags = (ZD_ZONE_NORMAL << ZD_PAGE_ZONE_SHIFT) |
		     ((unsigned long)w->id << ZD_PAGE_WORLD_SHIFT) | (1ul << ZD_PG_buddy);
	for (i = 0; i < pages; i++) {
		struct zd_page *page = &r->pages[i];

		zd_atomic_ulong_set_relaxed(&page->flags, base_flags);
		zd_atomic_set_relaxed(&page->_mapcount, -1);
		page->pfn = i;
	}
	/* Whole blocks go on the stack highest first so low pfns are used first. */
	for (b = a->nblocks; b-- > 0;) {
		unsigned long n = zd_block_pages(mem, b);

		a->nfree[b] = (unsigned int)n;
		if (n == ZD_BLOCK_PAGES) {
			a->is_whole_list[b] = true;
			a->whole[a->nwhole++] = b;
		} else {
			for (i = n; i-- > 0;)
				zd_freelist_push(a, b, &r->pages[b * ZD_BLOCK_PAGES + i]);
			zd_partial_add(a, b);
		}
	}
	a->free_pages = pages;
	return 0;

err_alloc:
	zd_kfree(w, a, sizeof(*a));
err_memmap:
	zd_memmap_remove(w, r, false);
	return -ENOMEM;
}

static void zd_ram_teardown(struct zd_world *w)
{
	struct zd_mem *mem = w->mem;
	struct zd_ram_allocator *a = mem->ram_alloc;

	if (!a)
		return;
	zd_kfree(w, a->freelist, zd_ram_alloc_bytes(a->nblocks)); /* the arrays' one allocation */
	zd_kfree(w, a, sizeof(*a));
	zd_memmap_remove(w, mem->ram, false);
	mem->ram = NULL;
	mem->ram_alloc = NULL;
	mem->ram_pages = 0;
}

int zd_mem_init(struct zd_world *w, uint64_t ram_bytes)
{
	struct zd_mem *mem;
	int ret;

	if (!ram_bytes || (ram_bytes & (ZD_PAGE_SIZE - 1)) || ram_bytes > (1ull << 40))
		return -EINVAL;
	mem = zd_kzalloc(w, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->world = w;
	zd_rangetab_init(&mem->memmaps);
	zd_spin_lock_init(&mem->zombie_lock);
	zd_mutex_init(&mem->region_lock);
	w->mem = mem;
	ret = zd_ram_setup(w, ram_bytes >> ZD_PAGE_SHIFT);
	if (ret) {
		zd_rangetab_destroy(w, &mem->memmaps);
		zd_kfree(w, mem, sizeof(*mem));
		w->mem = NULL;
	}
	return ret;
}

void zd_mem_exit(struct zd_world *w)
{
	struct zd_mem *mem = w->mem;

	if (!mem)
		return;
	zd_ram_teardown(w);
	zd_mem_free_zombies(w);
	zd_rangetab_destroy(w, &mem->memmaps);
	if (mem->regions)
		zd_kfree(w, mem->regions, mem->nr_regions * sizeof(*mem->regions));
	zd_kfree(w, mem, sizeof(*mem));
	w->mem = NULL;
}

int zd_mem_set_ram(struct zd_world *w, uint64_t bytes)
{
	unsigned long old = w->mem->ram_pages;
	int ret;

	if (!bytes || (bytes & (ZD_PAGE_SIZE - 1)) || bytes > (1ull << 40))
		return -EINVAL;
	if ((bytes >> ZD_PAGE_SHIFT) == old)
		return 0; /* the size it has: nothing to rebuild, in use or not */
	if (zd_ram_used_pages(w))
		return -EBUSY;
	if ((bytes >> ZD_PAGE_SHIFT) > old &&
	    zd_rangetab_overlap(&w->mem->memmaps, old, bytes >> ZD_PAGE_SHIFT))
		return -EBUSY;
	zd_ram_teardown(w);
	ret = zd_ram_setup(w, bytes >> ZD_PAGE_SHIFT);
	if (ret && zd_ram_setup(w, old))
		return -ENOMEM; /* could not even restore the old size: no RAM at all */
	return ret;
}

bool zd_pfn_is_ram(struct zd_world *w, unsigned long pfn)
{
	return pfn < w->mem->ram_pages;
}

static struct zd_page *zd_ram_take_whole(struct zd_mem *mem, struct zd_ram_allocator *a)
{
	unsigned long b = a->whole[--a->nwhole];

	a->is_whole_list[b] = false;
	return &mem->ram->pages[b * ZD_BLOCK_PAGES];
}

struct zd_folio *zd_ram_alloc_pages(struct zd_world *w, unsigned int order)
{
	struct zd_mem *mem = w->mem;
	struct zd_ram_allocator *a = mem->ram_alloc;
	struct zd_page *page = NULL;
	unsigned long b, i;

	if (!a || (order != 0 && order != ZD_BLOCK_ORDER))
		return NULL;
	if (zd_should_fail(w, ZD_FAIL_RAM))
		return NULL;
	zd_spin_lock(&a->lock);
	if (order == ZD_BLOCK_ORDER) {
		if (a->nwhole) {
			page = zd_ram_take_whole(mem, a);
			b = (page - mem->ram->pages) / ZD_BLOCK_PAGES;
			a->nfree[b] = 0;
			a->free_pages -= ZD_BLOCK_PAGES;
		}
	} else if (a->phead >= 0) {
		b = (unsigned long)a->phead;
		page = a->freelist[b];
		a->freelist[b] = page->zone_device_data;
		if (--a->nfree[b] == 0)
			zd_partial_del(a, b);
		a->free_pages--;
	} else if (a->nwhole) {
		/* Split a whole block: the first page is ours, the rest go on its list. */
		page = zd_ram_take_whole(mem, a);
		b = (page - mem->ram->pages) / ZD_BLOCK_PAGES;
		for (i = ZD_BLOCK_PAGES; i-- > 1;)
			zd_freelist_push(a, b, page + i);
		a->nfree[b] = ZD_BLOCK_PAGES - 1;
		zd_partial_add(a, b);
		a->free_pages--;
	}
	zd_spin_unlock(&a->lock);
	if (!page)
		return NULL;
	for (i = 0; i < (1ul << order); i++) {
		page[i].zone_device_data = NULL;
		zd_page_flags_clear(&page[i], 1ul << ZD_PG_buddy);
	}
	zd_prep_compound(page, order);
	return (struct zd_folio *)page;
}

void zd_ram_free_pages_folio(struct zd_world *w, struct zd_folio *folio)
{
	struct zd_mem *mem = w->mem;
	struct zd_ram_allocator *a = mem->ram_alloc;
	struct zd_page *page = &folio->page;
	unsigned int order = zd_compound_order(page);
	unsigned long b = (page - mem->ram->pages) / ZD_BLOCK_PAGES, i;

	bool poisoned = false;

	if (order)
		zd_clear_compound(page, order);
	for (i = 0; i < (1ul << order); i++) {
		/* PG_hwpoison survives the free: memory failure's mark is for good. */
		zd_page_flags_clear(&page[i], ZD_PAGE_FLAGS_MASK & ~(1ul << ZD_PG_hwpoison));
		ZD_WRITE_ONCE(page[i].mapping, NULL);
		page[i].index = 0;
		page[i].private = 0;
	}
	zd_spin_lock(&a->lock);
	/* Under the lock, as memory failure marks pages (zd_ram_poison_page). */
	for (i = 0; i < (1ul << order); i++) {
		if (zd_page_test_flag(&page[i], ZD_PG_hwpoison))
			poisoned = true;
		else
			zd_page_flags_set(&page[i], 1ul << ZD_PG_buddy);
	}
	if (poisoned) {
		zd_ram_free_around_poison(a, b, page, 1ul << order);
		zd_spin_unlock(&a->lock);
		return;
	}
	if (order == ZD_BLOCK_ORDER) {
		a->nfree[b] = ZD_BLOCK_PAGES;
		a->is_whole_list[b] = true;
		a->whole[a->nwhole++] = b;
		a->free_pages += ZD_BLOCK_PAGES;
	} else {
		zd_freelist_push(a, b, page);
		a->free_pages++;
		if (++a->nfree[b] == 1)
			zd_partial_add(a, b);
		if (a->nfree[b] == ZD_BLOCK_PAGES) {
			/* Merge: the block is whole again. */
			zd_partial_del(a, b);
			a->freelist[b] = NULL;
			a->is_whole_list[b] = true;
			a->whole[a->nwhole++] = b;
		}
	}
	zd_spin_unlock(&a->lock);
}

/*
 * Memory failure's part of the allocator: a poisoned page never goes back.
 * With the allocator lock held, free the healthy pages of a folio as order-0 pages (its block can never
 * be whole again) and leave the poisoned ones out, as the kernel leaves a
 * poisoned page with a reference nobody drops.
 */
static void zd_ram_free_around_poison(struct zd_ram_allocator *a, unsigned long b,
				      struct zd_page *page, unsigned long nr)
{
	unsigned long i;

	for (i = nr; i-- > 0;) {
		if (zd_page_test_flag(&page[i], ZD_PG_hwpoison))
			continue;
		zd_freelist_push(a, b, &page[i]);
		a->free_pages++;
		if (++a->nfree[b] == 1)
			zd_partial_add(a, b);
	}
}

int zd_ram_poison_page(struct zd_world *w, struct zd_page *page)
{
	struct zd_mem *mem = w->mem;
	struct zd_ram_allocator *a = mem->ram_alloc;
	unsigned long b, i, k, idx = (unsigned long)(page - mem->ram->pages);
	struct zd_page **pp;
	int taken = 0;

	if (!a || idx >= mem->ram_pages)
		return -EINVAL;
	b = idx / ZD_BLOCK_PAGES;
	zd_spin_lock(&a->lock);
	if (zd_page_test_flag(page, ZD_PG_hwpoison)) {
		taken = -EHWPOISON;
		goto out;
	}
	zd_page_set_flag(page, ZD_PG_hwpoison);
	if (!zd_page_test_flag(page, ZD_PG_buddy))
		goto out; /* in use (or being handed out right now) */
	if (a->is_whole_list[b]) {
		/* A whole block: it becomes partial, every page but this one on its list. */
		for (k = 0; k < a->nwhole && a->whole[k] != b; k++)
			;
		if (k == a->nwhole)
			goto out; /* (cannot happen: whole blocks are on the stack) */
		memmove(&a->whole[k], &a->whole[k + 1], (a->nwhole - k - 1) * sizeof(*a->whole));
		a->nwhole--;
		a->is_whole_list[b] = false;
		a->freelist[b] = NULL;
		for (i = ZD_BLOCK_PAGES; i-- > 0;)
			if (b * ZD_BLOCK_PAGES + i != idx)
				zd_freelist_push(a, b, &mem->ram->pages[b * ZD_BLOCK_PAGES + i]);
		a->nfree[b] = ZD_BLOCK_PAGES - 1;
		zd_partial_add(a, b);
	} else {
		for (pp = &a->freelist[b]; *pp && *pp != page;
		     pp = (struct zd_page **)&(*pp)->zone_device_data)
			;
		if (!*pp)
			goto out;
		*pp = page->zone_device_data;
		if (--a->nfree[b] == 0)
			zd_partial_del(a, b);
	}
	a->free_pages--;
	page->zone_device_data = NULL;
	zd_page_flags_clear(page, 1ul << ZD_PG_buddy);
	taken = 1;
out:
	zd_spin_unlock(&a->lock);
	return taken;
}

unsigned long zd_ram_free_pages(struct zd_world *w)
{
	struct zd_ram_allocator *a = w->mem->ram_alloc;
	unsigned long n;

	if (!a)
		return 0;
	zd_spin_lock(&a->lock);
	n = a->free_pages;
	zd_spin_unlock(&a->lock);
	return n;
}

unsigned long zd_ram_used_pages(struct zd_world *w)
{
	return w->mem->ram_pages - zd_ram_free_pages(w);
}

/*
 * The digest of System RAM: what the next allocations return (the order of
 * the whole-block stack, of the partial list and of each free list) and every
 * page of a block that is not whole. A whole block is all free and never
 * touched since it was last whole, so it costs one bit; a free page in a
 * partial block costs its place in its free list. The contents of a free
 * page are left out: every allocation path writes a page before anyone reads
 * it (a fault clears or copies it, the page cache clears it).
 */
void zd_ram_state_hash(struct zd_world *w, struct zd_state_hash *h)
{
	struct zd_mem *mem = w->mem;
	struct zd_ram_allocator *a = mem->ram_alloc;
	struct zd_memmap_range *r = mem->ram;
	unsigned long b, i;
	long p;

	zd_state_hash_u64(h, mem->ram_pages);
	if (!a)
		return;
	zd_state_hash_u64(h, a->free_pages);
	zd_state_hash_u64(h, a->nwhole);
	for (i = 0; i < a->nwhole; i++)
		zd_state_hash_u64(h, a->whole[i]);
	for (p = a->phead; p >= 0; p = a->pnext[p])
		zd_state_hash_u64(h, (uint64_t)p);
	for (b = 0; b < a->nblocks; b++) {
		unsigned long first = b * ZD_BLOCK_PAGES, n = zd_block_pages(mem, b);
		struct zd_page *pg;

		if (a->is_whole_list[b])
			continue;
		zd_state_hash_u64(h, b);
		zd_state_hash_u64(h, a->nfree[b]);
		for (pg = a->freelist[b]; pg; pg = pg->zone_device_data)
			zd_state_hash_u64(h, pg->pfn);
		for (i = first; i < first + n; i++) {
			struct zd_page *page = &r->pages[i];
			unsigned long fl = zd_atomic_ulong_read_quiet(&page->flags);

			if (fl & (1ul << ZD_PG_buddy))
				continue;
			zd_state_hash_pfn(h, i, zd_atomic_read_quiet(&page->_refcount) > 0 ||
							zd_page_is_tail(page));
		}
	}
}
