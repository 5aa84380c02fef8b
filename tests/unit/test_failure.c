/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: memory failure (src/failure/): RAM pages free and in use,
 * huge anonymous folios, the driver callback first, the altmap prefix,
 * MF_MEM_PRE_REMOVE; and the two invariants it adds, each broken on purpose.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "vm/vm.h"
#include "mem/mem.h"
#include "failure/failure.h"

static struct zd_world *new_world(enum zd_regime regime)
{
	struct zd_world_opts o;
	struct zd_world *w = NULL;

	zd_world_opts_init(&o);
	o.regime = regime;
	o.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&o, &w), 0);
	return w;
}

static bool reported(struct zd_world *w, const char *id)
{
	enum zd_invariant inv;

	assert_int_equal(zd_invariant_lookup(id, &inv), 0);
	zd_audit(w);
	return zd_violation_reported(w, inv);
}

static uint64_t map_anon(struct zd_mm *mm, uint64_t size, bool huge)
{
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = size,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE, .huge = huge };
	uint64_t addr;
	char buf[8] = "data";
	uint64_t off;

	assert_int_equal(zd_mmap(mm, &a, &addr), 0);
	for (off = 0; off < size; off += ZD_PAGE_SIZE)
		assert_int_equal(zd_access_write(mm, addr + off, buf, sizeof(buf)), 0);
	return addr;
}

static unsigned long pfn_at(struct zd_mm *mm, uint64_t addr)
{
	struct zd_entry_info info;

	assert_int_equal(zd_mm_entry(mm, addr, &info), 0);
	return info.pfn;
}

/* A free RAM page leaves the allocator for good; a second report is -EHWPOISON. */
static void test_ram_free_page(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	unsigned long before = zd_ram_nr_free(w);
	struct zd_page *page = zd_pfn_to_page(w, 5);

	(void)state;
	assert_true(zd_page_test_flag(page, ZD_PG_buddy));
	assert_int_equal(zd_memory_failure(w, 5, 0), 0);
	assert_true(zd_page_test_flag(page, ZD_PG_hwpoison));
	assert_false(zd_page_test_flag(page, ZD_PG_buddy));
	assert_int_equal(zd_ram_nr_free(w), before - 1);
	assert_int_equal(zd_memory_failure(w, 5, 0), -EHWPOISON);
	assert_int_equal(zd_num_poisoned_pages(w), 1);
	/* a whole block taken apart: every other page still allocatable, never pfn 5 */
	for (;;) {
		struct zd_folio *f = zd_folio_alloc(w, 0, ZD_HOLDER(ZD_HOLD_HANDLE, 1));

		if (!f)
			break;
		assert_int_not_equal(f->pfn, 5);
	}
	assert_int_equal(zd_ram_nr_free(w), 0);
	assert_int_equal(zd_memory_failure(w, 1ul << 40, 0), -ENXIO); /* no page there */
	assert_int_equal(zd_memory_failure(NULL, 1, 0), -EINVAL);
	zd_world_destroy(w);
}

/* A mapped page: a hwpoison entry, SIGBUS, and it never comes back after munmap. */
static void test_ram_mapped_page(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_mm *mm;
	struct zd_entry_info info;
	uint64_t a;
	unsigned long pfn, free_before;
	char buf[8];

	(void)state;
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	a = map_anon(mm, 4 * ZD_PAGE_SIZE, false);
	pfn = pfn_at(mm, a + ZD_PAGE_SIZE);
	assert_int_equal(zd_memory_failure(w, pfn, ZD_MF_ACTION_REQUIRED), 0);
	assert_int_equal(zd_mm_entry(mm, a + ZD_PAGE_SIZE, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_HWPOISON);
	assert_int_equal(zd_folio_ref_count(zd_pfn_folio(w, pfn)), 0);
	assert_int_equal(zd_access_read(mm, a + ZD_PAGE_SIZE, buf, 4), ZD_SIGBUS);
	assert_int_equal(zd_access_read(mm, a, buf, 4), 0);
	assert_int_equal(zd_audit(w), 0);
	free_before = zd_ram_nr_free(w);
	assert_int_equal(zd_munmap(mm, a, 4 * ZD_PAGE_SIZE), 0);
	assert_int_equal(zd_ram_nr_free(w), free_before + 3); /* the poisoned one stays out */
	assert_false(zd_page_test_flag(zd_pfn_to_page(w, pfn), ZD_PG_buddy));
	assert_int_equal(zd_audit(w), 0);
	zd_world_destroy(w);
}

/* A 2 MiB anonymous folio: the PMD is split, only the bad page's PTE becomes a marker. */
static void test_ram_huge_folio(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_entry_info info;
	struct zd_mm *mm;
	unsigned long head, free_before;
	uint64_t a;
	char buf[8];

	(void)state;
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	a = map_anon(mm, 2ull << 20, true);
	assert_int_equal(zd_mm_entry(mm, a, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_PMD);
	head = info.pfn;
	assert_int_equal(zd_memory_failure(w, head + 7, 0), 0);
	assert_int_equal(zd_mm_entry(mm, a + 7 * ZD_PAGE_SIZE, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_HWPOISON);
	assert_int_equal(zd_mm_entry(mm, a, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_PRESENT);
	assert_int_equal(zd_access_read(mm, a + 7 * ZD_PAGE_SIZE, buf, 4), ZD_SIGBUS);
	assert_int_equal(zd_access_read(mm, a + 8 * ZD_PAGE_SIZE, buf, 4), 0);
	assert_int_equal(zd_audit(w), 0);
	free_before = zd_ram_nr_free(w);
	assert_int_equal(zd_munmap(mm, a, 2ull << 20), 0);
	assert_int_equal(zd_ram_nr_free(w), free_before + 511);
	assert_int_equal(zd_audit(w), 0);
	zd_world_destroy(w);
}

static int cb_calls, cb_ret;
static unsigned long cb_pfn;

static int test_memory_failure_cb(struct zd_dev_pagemap *pgmap, unsigned long pfn,
				  unsigned long nr, int flags)
{
	(void)nr;
	(void)flags;
	cb_calls++;
	cb_pfn = pfn;
	/* invariant 12 holds while the core calls us: our own check is silent */
	assert_true(zd_atomic_long_read_relaxed(&pgmap->dbg_refs[ZD_PGREF_LOOKUP]) > 0);
	return cb_ret;
}

static const struct zd_dev_pagemap_ops mf_ops = {
	.memory_failure = test_memory_failure_cb,
};

static struct zd_dev_pagemap *generic_pgmap(struct zd_world *w, bool altmap)
{
	struct zd_dev_pagemap *pgmap = zd_pgmap_alloc(1);

	assert_non_null(pgmap);
	assert_int_equal(zd_request_free_mem_region(w, 2 << 20, ZD_PAGE_SIZE, &pgmap->ranges[0]),
			 0);
	pgmap->type = ZD_MEMORY_DEVICE_GENERIC;
	pgmap->ops = &mf_ops;
	pgmap->name = "mf";
	if (altmap) {
		pgmap->flags = ZD_PGMAP_ALTMAP_VALID;
		pgmap->altmap.base_pfn = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
		pgmap->altmap.reserve = 2;
		pgmap->altmap.free = 6;
	}
	assert_int_equal(zd_memremap_pages(w, pgmap), 0);
	return pgmap;
}

/* The driver's op runs first; its answer is final unless -EOPNOTSUPP. */
static void test_device_callback_first(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_dev_pagemap *pgmap = generic_pgmap(w, true);
	unsigned long first = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
	unsigned long pfn = zd_pgmap_pfn_first(pgmap, 0);
	long refs = zd_pgmap_refs(pgmap);

	(void)state;
	/* the altmap prefix is device metadata: ENXIO, the callback never sees it */
	cb_calls = 0;
	assert_int_equal(zd_memory_failure(w, first + 1, 0), -ENXIO);
	assert_int_equal(cb_calls, 0);
	/* handled by the driver: nothing generic happens */
	cb_ret = 0;
	assert_int_equal(zd_memory_failure(w, pfn, 0), 0);
	assert_int_equal(cb_calls, 1);
	assert_int_equal(cb_pfn, pfn);
	assert_false(zd_page_test_flag(&zd_pfn_folio(w, pfn)->page, ZD_PG_hwpoison));
	/* a driver error is final too */
	cb_ret = -EIO;
	assert_int_equal(zd_memory_failure(w, pfn, 0), -EIO);
	assert_false(zd_page_test_flag(&zd_pfn_folio(w, pfn)->page, ZD_PG_hwpoison));
	/* -EOPNOTSUPP falls back to the generic path: device-dax style poisoning */
	cb_ret = -EOPNOTSUPP;
	assert_int_equal(zd_memory_failure(w, pfn, 0), 0);
	assert_true(zd_page_test_flag(&zd_pfn_folio(w, pfn)->page, ZD_PG_hwpoison));
	/* MF_MEM_PRE_REMOVE revokes without poisoning (invariant 35) */
	assert_int_equal(zd_memory_failure(w, pfn + 1, ZD_MF_MEM_PRE_REMOVE), 0);
	assert_false(zd_page_test_flag(&zd_pfn_folio(w, pfn + 1)->page, ZD_PG_hwpoison));
	/* every lookup reference was dropped again */
	assert_int_equal(zd_pgmap_refs(pgmap), refs);
	assert_false(reported(w, "memory-failure-args"));
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_memunmap_pages(pgmap), 0);
	assert_int_equal(zd_memory_failure(w, pfn, 0), -ENXIO); /* no live pgmap */
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);
}

/* Invariant 12 broken on purpose: a callback entered without a reference or in the altmap. */
static void test_memory_failure_args_broken(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_dev_pagemap *pgmap = generic_pgmap(w, true);
	unsigned long first = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;

	(void)state;
	zd_mf_check_callback_args(pgmap, zd_pgmap_pfn_first(pgmap, 0)); /* no lookup ref held */
	assert_true(zd_violation_reported(w, ZD_INV_MEMORY_FAILURE_ARGS));
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);

	w = new_world(ZD_REGIME_UNIFIED);
	pgmap = generic_pgmap(w, true);
	first = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
	assert_non_null(zd_get_dev_pagemap(w, first + 1));
	zd_mf_check_callback_args(pgmap, first + 1); /* held, but an altmap-prefix pfn */
	assert_true(zd_violation_reported(w, ZD_INV_MEMORY_FAILURE_ARGS));
	zd_put_dev_pagemap(pgmap);
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);
}

/* The museum's memory-failure-metadata (legacy): an altmap-prefix pfn reaches the handler. */
static void test_museum_metadata(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_LEGACY);
	struct zd_dev_pagemap *pgmap;
	unsigned long first;

	(void)state;
	assert_int_equal(zd_world_enable_bug(w, "memory-failure-metadata"), 0);
	pgmap = generic_pgmap(w, true);
	first = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
	cb_calls = 0;
	cb_ret = 0;
	zd_memory_failure(w, first + 1, 0);
	assert_int_equal(cb_calls, 1); /* the driver was handed device metadata */
	assert_true(zd_violation_reported(w, ZD_INV_MEMORY_FAILURE_ARGS));
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);

	/* without the bug the same call is ENXIO and nothing is reported */
	w = new_world(ZD_REGIME_LEGACY);
	pgmap = generic_pgmap(w, true);
	first = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
	cb_calls = 0;
	assert_int_equal(zd_memory_failure(w, first + 1, 0), -ENXIO);
	assert_int_equal(cb_calls, 0);
	assert_false(zd_violation_reported(w, ZD_INV_MEMORY_FAILURE_ARGS));
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);
}

/* poisoned-page-handed-out broken on purpose: a poisoned page back on the free list, or mapped. */
static void test_poisoned_handed_out_broken(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_mm *mm;
	uint64_t a;

	(void)state;
	assert_int_equal(zd_memory_failure(w, 9, 0), 0);
	assert_false(reported(w, "poisoned-page-handed-out"));
	zd_page_set_flag(zd_pfn_to_page(w, 9), ZD_PG_buddy); /* as if freed into the allocator */
	assert_true(reported(w, "poisoned-page-handed-out"));
	zd_world_destroy(w);

	w = new_world(ZD_REGIME_UNIFIED);
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	a = map_anon(mm, 2 * ZD_PAGE_SIZE, false);
	assert_int_equal(zd_memory_failure(w, pfn_at(mm, a), 0), 0);
	assert_false(reported(w, "poisoned-page-handed-out"));
	/* a mapped page poisoned behind memory failure's back: still mapped present */
	zd_page_set_flag(zd_pfn_to_page(w, pfn_at(mm, a + ZD_PAGE_SIZE)), ZD_PG_hwpoison);
	assert_true(reported(w, "poisoned-page-handed-out"));
	zd_world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_free_page),
		cmocka_unit_test(test_ram_mapped_page),
		cmocka_unit_test(test_ram_huge_folio),
		cmocka_unit_test(test_device_callback_first),
		cmocka_unit_test(test_memory_failure_args_broken),
		cmocka_unit_test(test_poisoned_handed_out_broken),
		cmocka_unit_test(test_museum_metadata),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
