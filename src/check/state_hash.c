/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the whole-world state digest (zd_world_state_hash) the explorer
 * uses to recognise a state it has already explored. It walks what the
 * audit walks - pgmaps and their memmaps, System RAM, the ledger, then every
 * audit hook in digest mode (address spaces, drivers) - and folds in every
 * field that can change what a later operation does.
 *
 * Pointers differ between two worlds built alike, so a pointer is hashed as
 * its ordinal: the order in which this walk first met it. The walk's order
 * is fixed (pgmaps in registration order, pages by pfn, lists in list
 * order), so two worlds whose objects are linked alike get the same ordinals.
 * A word that may hold a pointer the walk cannot name (a driver's private
 * word) is hashed by value: two alike worlds then differ, which only costs
 * a missed match, never a wrong one.
 */
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "pgmap/pgmap.h"

/* The pointer -> ordinal table of one digest: open addressing, power-of-two size. */
struct zd_state_hash {
	struct zd_world *w;
	uint64_t h;
	const void **keys;
	uint32_t *ord;
	size_t cap, nr;
};

void zd_audit_hooks_hash(struct zd_world *w, struct zd_state_hash *h);

static uint64_t zd_sh_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

void zd_state_hash_u64(struct zd_state_hash *h, uint64_t v)
{
	h->h = zd_sh_mix(h->h, v);
}

void zd_state_hash_bytes(struct zd_state_hash *h, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t acc = n, word;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&word, b + i, 8);
		acc = (acc ^ word) * 0x100000001b3ull + (acc >> 29);
	}
	for (; i < n; i++)
		acc = (acc ^ b[i]) * 0x100000001b3ull;
	zd_state_hash_u64(h, acc);
}

void zd_state_hash_str(struct zd_state_hash *h, const char *s)
{
	if (!s) {
		zd_state_hash_u64(h, 0);
		return;
	}
	zd_state_hash_bytes(h, s, strlen(s) + 1);
}

static size_t zd_sh_slot(const struct zd_state_hash *h, const void *p)
{
	uint64_t k = (uint64_t)(uintptr_t)p;
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 17) & (h->cap - 1);

	while (h->keys[i] && h->keys[i] != p)
		i = (i + 1) & (h->cap - 1);
	return i;
}

/* The ordinal of @p, 0 for NULL; with @add, a pointer met for the first time gets the next one. */
static uint32_t zd_sh_ordinal(struct zd_state_hash *h, const void *p, bool add)
{
	size_t i;

	if (!p)
		return 0;
	if ((h->nr + 1) * 2 > h->cap) {
		struct zd_state_hash n = {.cap = h->cap ? h->cap * 2 : 256};
		size_t j;

		n.keys = calloc(n.cap, sizeof(*n.keys));
		n.ord = calloc(n.cap, sizeof(*n.ord));
		if (!n.keys || !n.ord) {
			free(n.keys);
			free(n.ord);
			return UINT32_MAX; /* out of memory: every pointer looks alike */
		}
		for (j = 0; j < h->cap; j++) {
			if (h->keys[j]) {
				i = zd_sh_slot(&n, h->keys[j]);
				n.keys[i] = h->keys[j];
				n.ord[i] = h->ord[j];
			}
		}
		free(h->keys);
		free(h->ord);
		h->keys = n.keys;
		h->ord = n.ord;
		h->cap = n.cap;
	}
	i = zd_sh_slot(h, p);
	if (!h->keys[i]) {
		if (!add)
			return UINT32_MAX;
		h->keys[i] = p;
		h->ord[i] = (uint32_t)++h->nr;
	}
	return h->ord[i];
}

void zd_state_hash_ptr(struct zd_state_hash *h, const void *p)
{
	zd_state_hash_u64(h, zd_sh_ordinal(h, p, true));
}

/*
 * One struct page. A tail's compound_head names its head by pfn; the words
 * of the first tail that hold folio metadata (mapcounts, pincount, order)
 * are numbers and hashed as such. A head's or base page's pgmap, driver
 * word and mapping are pointers (the mapping keeps its low tag bits).
 */
static void zd_sh_page(struct zd_state_hash *h, const struct zd_page *pg)
{
	unsigned long flags = zd_atomic_ulong_read_quiet(&pg->flags) & ~ZD_PAGE_WORLD_MASK;
	uintptr_t mapping = (uintptr_t)pg->mapping;

	zd_state_hash_u64(h, flags);
	if (pg->compound_head & 1) {
		const struct zd_page *head = (const struct zd_page *)(pg->compound_head & ~1ul);

		zd_state_hash_u64(h, head->pfn);
		zd_state_hash_u64(h, (uintptr_t)pg->zone_device_data);
		zd_state_hash_u64(h, mapping);
	} else {
		zd_state_hash_ptr(h, pg->pgmap);
		zd_state_hash_ptr(h, pg->zone_device_data);
		zd_state_hash_ptr(h, (const void *)(mapping & ~3ul));
		zd_state_hash_u64(h, mapping & 3);
	}
	zd_state_hash_u64(h, pg->index);
	zd_state_hash_u64(h, pg->private);
	zd_state_hash_u64(h, (uint64_t)(int64_t)zd_atomic_read_quiet(&pg->_mapcount));
	zd_state_hash_u64(h, (uint64_t)(int64_t)zd_atomic_read_quiet(&pg->_refcount));
	zd_state_hash_u64(h, pg->pfn);
}

/*
 * The contents of @pfn in @r, when they were ever used: a page nobody asked
 * zd_page_data() for still reads as zero (and costs nothing to skip).
 */
static void zd_sh_data(struct zd_state_hash *h, struct zd_memmap_range *r, unsigned long pfn)
{
	const char *data = (const char *)zd_atomic_ulong_read_relaxed(&r->data);

	if (data && zd_page_data_used(r, pfn))
		zd_state_hash_bytes(h, data + ((pfn - r->start_pfn) << ZD_PAGE_SHIFT),
				    ZD_PAGE_SIZE);
}

void zd_state_hash_pfn(struct zd_state_hash *h, unsigned long pfn, bool data)
{
	struct zd_memmap_range *r = zd_memmap_lookup(h->w, pfn);

	zd_state_hash_u64(h, pfn);
	if (!r)
		return;
	zd_sh_page(h, zd_memmap_page(r, pfn));
	if (data)
		zd_sh_data(h, r, pfn);
}

/*
 * A device memmap: every struct page it stores, and the contents of every
 * page whose folio is referenced. The contents of an unreferenced device
 * page are left out: no path reads a free device page, and every allocation
 * path writes a page before it is read (a driver's allocation copies or
 * clears it, the DAX filesystem clears a reused block, a fault clears a new
 * anonymous page).
 */
static void zd_sh_memmap(struct zd_state_hash *h, struct zd_memmap_range *r)
{
	size_t n = r->bytes / sizeof(struct zd_page), i;
	unsigned long pfn;

	zd_state_hash_u64(h, r->start_pfn);
	zd_state_hash_u64(h, r->nr_pages);
	zd_state_hash_u64(h, r->shift);
	zd_state_hash_u64(h, r->dedup | (unsigned long)r->unplugged << 1);
	for (i = 0; i < n; i++)
		zd_sh_page(h, &r->pages[i]);
	if (r->dedup)
		zd_sh_page(h, &r->shared_tail);
	if (!zd_atomic_ulong_read_relaxed(&r->data))
		return;
	for (pfn = r->start_pfn; pfn < r->start_pfn + r->nr_pages; pfn++) {
		struct zd_folio *f = zd_memmap_folio(r, pfn);

		if (f && zd_atomic_read_quiet(&f->_refcount) > 0) {
			zd_state_hash_u64(h, pfn);
			zd_sh_data(h, r, pfn);
		}
	}
}

static void zd_sh_pgmap(struct zd_state_hash *h, struct zd_dev_pagemap *pgmap)
{
	int i;

	zd_state_hash_ptr(h, pgmap);
	zd_state_hash_u64(h, pgmap->type);
	zd_state_hash_u64(h, pgmap->flags);
	zd_state_hash_u64(h, pgmap->vmemmap_shift);
	zd_state_hash_u64(h, (uint64_t)zd_atomic_read_relaxed(&pgmap->state));
	zd_state_hash_u64(h, (uint64_t)atomic_load_explicit(&pgmap->ref.count, memory_order_relaxed));
	zd_state_hash_u64(h, atomic_load_explicit(&pgmap->ref.flags, memory_order_relaxed));
	for (i = 0; i < ZD_NR_PGREF_KINDS; i++)
		zd_state_hash_u64(h, (uint64_t)zd_atomic_long_read_relaxed(&pgmap->dbg_refs[i]));
	zd_state_hash_bytes(h, &pgmap->altmap, sizeof(pgmap->altmap));
	zd_state_hash_ptr(h, pgmap->ops);
	zd_state_hash_ptr(h, pgmap->owner);
	zd_state_hash_ptr(h, pgmap->driver);
	zd_state_hash_str(h, pgmap->name);
	zd_state_hash_u64(h, (uint64_t)pgmap->nr_range);
	for (i = 0; i < pgmap->nr_range; i++) {
		zd_state_hash_u64(h, pgmap->ranges[i].start);
		zd_state_hash_u64(h, pgmap->ranges[i].end);
		if (pgmap->memmaps && pgmap->memmaps[i])
			zd_sh_memmap(h, pgmap->memmaps[i]);
		else
			zd_state_hash_u64(h, 0);
	}
}

/*
 * The ledger comes in no order: each entry is hashed alone and the results
 * summed. A holder id is a pointer (an mm, a device) or a small number (a
 * handle); a pointer the walk met before is named by its ordinal, any other
 * value by itself.
 */
struct zd_sh_ledger {
	struct zd_state_hash *h;
	uint64_t sum;
	unsigned long nr;
};

static void zd_sh_ledger_entry(void *arg, unsigned long pfn, struct zd_holder hd, long count)
{
	struct zd_sh_ledger *l = arg;
	uint32_t ord = zd_sh_ordinal(l->h, (const void *)hd.id, false);
	uint64_t e = zd_sh_mix(zd_sh_mix(zd_sh_mix(pfn, hd.kind), (uint64_t)count),
			       ord != UINT32_MAX ? ord : (uint64_t)hd.id);

	l->sum += zd_sh_mix(e, ord != UINT32_MAX);
	l->nr++;
}

uint64_t zd_world_state_hash(struct zd_world *w)
{
	struct zd_state_hash h = {.w = w, .h = 0x5a17e0d1c0ffee11ull};
	struct zd_pgmap_registry *reg = w->pgmaps;
	struct zd_mem *mem = w->mem;
	struct zd_check *c = w->check;
	struct zd_sh_ledger l = {.h = &h};
	size_t i;
	int k;

	zd_state_hash_u64(&h, w->regime);
	zd_state_hash_u64(&h, w->bugs);
	zd_state_hash_u64(&h, w->seed);
	for (k = 0; k < ZD_NR_FAIL_SITES; k++)
		zd_state_hash_u64(&h, (uint64_t)zd_atomic_long_read_relaxed(&w->fail[k]));
	zd_state_hash_u64(&h, (uint64_t)zd_atomic_long_read_relaxed(&w->fail_nth));
	zd_state_hash_u64(&h, (uint64_t)zd_atomic_long_read_relaxed(&w->nr_poisoned));

	/* devices: every pgmap in registration order, with its memmaps */
	zd_state_hash_u64(&h, reg->nr);
	for (i = 0; i < reg->nr; i++)
		zd_sh_pgmap(&h, reg->list[i]);
	zd_state_hash_u64(&h, mem->nr_regions);
	for (i = 0; i < mem->nr_regions; i++) {
		zd_state_hash_u64(&h, mem->regions[i].start);
		zd_state_hash_u64(&h, mem->regions[i].end);
	}
	/* unplugged memmaps still referenced: late puts land there */
	zd_state_hash_u64(&h, mem->nr_zombies);
	for (i = 0; i < mem->nr_zombies; i++)
		zd_sh_memmap(&h, mem->zombies[i]);

	/* System RAM: the pages in use and the allocator's lists */
	zd_ram_state_hash(w, &h);

	/* higher layers and drivers, through their audit hooks */
	zd_audit_hooks_hash(w, &h);

	/* last: holder ids that are pointers were named by the walk above */
	zd_ledger_for_each(w, zd_sh_ledger_entry, &l);
	zd_state_hash_u64(&h, l.nr);
	zd_state_hash_u64(&h, l.sum);

	zd_state_hash_u64(&h, c->nr_violations);
	zd_state_hash_u64(&h, c->reported_mask);
	for (i = 0; i < c->nr_violations; i++) {
		zd_state_hash_u64(&h, c->violations[i].inv);
		zd_state_hash_u64(&h, c->violations[i].pfn);
	}
	free(h.keys);
	free(h.ord);
	return h.h ? h.h : 1;
}
