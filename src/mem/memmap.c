/* SPDX-License-Identifier: MIT */
/*
 * zonedev: memmap ranges: struct page storage for a pfn range, the logical
 * vmemmap deduplication of compound geometries, and page contents.
 */
#include <string.h>
#include <sys/mman.h>

#include "mem/mem.h"

static size_t zd_memmap_storage_pages(unsigned long nr, unsigned int shift, bool dedup)
{
	return dedup ? 2 * (nr >> shift) : nr;
}

int zd_memmap_add(struct zd_world *w, unsigned long start_pfn, unsigned long nr, unsigned int shift,
		  bool dedup, struct zd_memmap_range **out)
{
	struct zd_memmap_range *r;
	size_t count;
	int ret;

	if (!nr || (dedup && (shift < 2 || (nr & ((1ul << shift) - 1)))))
		return -EINVAL;
	r = zd_kzalloc(w, sizeof(*r));
	if (!r)
		return -ENOMEM;
	count = zd_memmap_storage_pages(nr, shift, dedup);
	r->start_pfn = start_pfn;
	r->nr_pages = nr;
	r->shift = shift;
	r->dedup = dedup;
	r->bytes = count * sizeof(struct zd_page);
	if (zd_should_fail(w, ZD_FAIL_MEMMAP)) {
		ret = -ENOMEM;
		goto err_range;
	}
	r->pages = zd_vzalloc(w, r->bytes);
	if (!r->pages) {
		ret = -ENOMEM;
		goto err_range;
	}
	ret = zd_rangetab_insert(w, &w->mem->memmaps, start_pfn, start_pfn + nr, r);
	if (ret)
		goto err_pages;
	*out = r;
	return 0;

err_pages:
	zd_vfree(w, r->pages, r->bytes);
err_range:
	zd_kfree(w, r, sizeof(*r));
	return ret;
}

/* The contents of r's pages, then one byte per page: its contents were used. */
static size_t zd_memmap_data_bytes(const struct zd_memmap_range *r)
{
	return (r->nr_pages << ZD_PAGE_SHIFT) + r->nr_pages;
}

static void zd_memmap_free(struct zd_world *w, struct zd_memmap_range *r)
{
	void *data = (void *)zd_atomic_ulong_read_acquire(&r->data);

	if (data)
		zd_vfree(w, data, zd_memmap_data_bytes(r));
	zd_vfree(w, r->pages, r->bytes);
	zd_kfree(w, r, sizeof(*r));
}

void zd_memmap_remove(struct zd_world *w, struct zd_memmap_range *r, bool keep_zombie)
{
	struct zd_mem *mem = w->mem;
	struct zd_memmap_range **z;

	zd_rangetab_remove(w, &mem->memmaps, r->start_pfn);
	if (!keep_zombie) {
		zd_memmap_free(w, r);
		return;
	}
	r->unplugged = true;
	zd_spin_lock(&mem->zombie_lock);
	z = zd_kzalloc(NULL, (mem->nr_zombies + 1) * sizeof(*z));
	if (z) {
		if (mem->nr_zombies)
			memcpy(z, mem->zombies, mem->nr_zombies * sizeof(*z));
		zd_kfree(NULL, mem->zombies, 0);
		mem->zombies = z;
		mem->zombies[mem->nr_zombies++] = r;
	}
	zd_spin_unlock(&mem->zombie_lock);
	if (!z)
		zd_memmap_free(w, r); /* cannot keep it: free it as the kernel would */
}

void zd_mem_free_zombies(struct zd_world *w)
{
	struct zd_mem *mem = w->mem;
	size_t i;

	for (i = 0; i < mem->nr_zombies; i++)
		zd_memmap_free(w, mem->zombies[i]);
	zd_kfree(NULL, mem->zombies, 0);
	mem->zombies = NULL;
	mem->nr_zombies = 0;
}

struct zd_memmap_range *zd_memmap_lookup(struct zd_world *w, unsigned long pfn)
{
	struct zd_memmap_range *r = w->mem->ram;

	/* System RAM lives as long as the world: no table search, no RCU section. */
	if (r && pfn - r->start_pfn < r->nr_pages)
		return r;
	zd_rcu_read_lock();
	r = zd_rangetab_lookup(&w->mem->memmaps, pfn);
	zd_rcu_read_unlock();
	return r;
}

struct zd_page *zd_memmap_page(struct zd_memmap_range *r, unsigned long pfn)
{
	unsigned long idx = pfn - r->start_pfn, sub;

	if (!r->dedup)
		return &r->pages[idx];
	sub = idx & ((1ul << r->shift) - 1);
	if (sub >= 2)
		return &r->shared_tail;
	return &r->pages[2 * (idx >> r->shift) + sub];
}

struct zd_folio *zd_memmap_folio(struct zd_memmap_range *r, unsigned long pfn)
{
	unsigned long idx = pfn - r->start_pfn;
	struct zd_page *page;

	if (r->dedup)
		return (struct zd_folio *)&r->pages[2 * (idx >> r->shift)];
	uintptr_t head;

	page = &r->pages[idx];
	head = ZD_READ_ONCE(page->compound_head);
	if (head & 1)
		return (struct zd_folio *)(head - 1);
	return (struct zd_folio *)page;
}

void *zd_page_data(struct zd_world *w, unsigned long pfn)
{
	struct zd_memmap_range *r = zd_memmap_lookup(w, pfn);
	char *data;
	size_t size;

	if (!r)
		return NULL;
	data = (char *)zd_atomic_ulong_read_acquire(&r->data);
	if (!data) {
		unsigned long expected = 0;

		size = zd_memmap_data_bytes(r);
		data = zd_vzalloc(w, size);
		if (!data)
			return NULL;
		if (!zd_atomic_ulong_try_cmpxchg_acq_rel(&r->data, &expected,
							 (unsigned long)data)) {
			zd_vfree(w, data, size);
			data = (char *)expected;
		}
	}
	ZD_MARK_ONCE(data[(r->nr_pages << ZD_PAGE_SHIFT) + (pfn - r->start_pfn)]);
	return data + ((pfn - r->start_pfn) << ZD_PAGE_SHIFT);
}

bool zd_page_data_used(struct zd_memmap_range *r, unsigned long pfn)
{
	char *data = (char *)zd_atomic_ulong_read_acquire(&r->data);

	return data && ZD_MARK_TEST(data[(r->nr_pages << ZD_PAGE_SHIFT) + (pfn - r->start_pfn)]);
}

uint64_t zd_mem_device_memmap_bytes(struct zd_world *w)
{
	return (uint64_t)zd_atomic_long_read_relaxed(&w->mem->device_memmap_bytes);
}
