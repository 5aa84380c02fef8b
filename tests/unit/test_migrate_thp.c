/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: 2 MiB (compound) device migration through the migrate_vma
 * phases, with a minimal driver that hands out 2 MiB device-private folios:
 * the COMPOUND slot layout and PMD migration entry after setup, whole
 * migration and back, a compound source split for base-page destinations,
 * a base-page source refusing a 2 MiB destination, and the failure paths
 * that must restore the original PMD exactly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/migrate.h"

#define HPAGES 512ul
#define DEV_PAGES (4 * HPAGES)
#define HSIZE (HPAGES * ZD_PAGE_SIZE)
#define OWNER ((void *)0x7171)

static struct zd_world *w;
static struct zd_dev_pagemap *pgmap;
static unsigned long first_pfn, next_free;
static unsigned long nr_freed; /* base pages the device got back */
static bool ram_thp = true;    /* migrate_to_ram may allocate a 2 MiB RAM folio */

static void drv_folio_free(struct zd_folio *folio)
{
	nr_freed += zd_folio_nr_pages(folio);
}

/* A device folio of `order` (a bump allocator: 2 MiB ones are aligned). */
static struct zd_folio *drv_alloc(unsigned int order)
{
	unsigned long nr = 1ul << order;

	next_free = (next_free + nr - 1) & ~(nr - 1);
	while (next_free + nr <= DEV_PAGES) {
		struct zd_folio *f = zd_pfn_folio(w, first_pfn + next_free);

		next_free += nr;
		if (!zd_zone_device_folio_init(f, pgmap, order, ZD_MIGRATE_DST_HOLDER))
			return f;
	}
	return NULL;
}

static void copy_pages(unsigned long dpfn, unsigned long spfn, unsigned long n)
{
	unsigned long k;

	for (k = 0; k < n; k++)
		memcpy(zd_page_address(w, dpfn + k), zd_page_address(w, spfn + k), ZD_PAGE_SIZE);
}

/* migrate_to_ram: the whole 2 MiB folio, into a RAM THP or (ram_thp false) 512 base pages. */
static int drv_migrate_to_ram(struct zd_vm_fault *vmf)
{
	unsigned long *src = calloc(HPAGES, sizeof(*src)), *dst = calloc(HPAGES, sizeof(*dst)), k;
	struct zd_folio *folio = zd_page_folio(vmf->page);
	uint64_t size = zd_folio_nr_pages(folio) * ZD_PAGE_SIZE;
	struct zd_migrate_vma args = {
		.mm = vmf->mm, .start = vmf->address & ~(size - 1), .src = src, .dst = dst,
		.pgmap_owner = OWNER,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE | ZD_MIGRATE_VMA_SELECT_COMPOUND,
		.fault_page = vmf->page,
	};
	struct zd_folio *new;

	args.end = args.start + size;
	assert_non_null(src);
	assert_non_null(dst);
	assert_int_equal(zd_migrate_vma_setup(&args), 0);
	if (src[0] & ZD_MIGRATE_PFN_MIGRATE) {
		unsigned long spfn = zd_migrate_pfn_to_pfn(src[0]);

		if ((src[0] & ZD_MIGRATE_PFN_COMPOUND) && ram_thp) {
			new = zd_folio_alloc(w, ZD_PMD_ORDER, ZD_MIGRATE_DST_HOLDER);
			assert_non_null(new);
			zd_folio_lock(new);
			copy_pages(new->pfn, spfn, HPAGES);
			dst[0] = zd_migrate_pfn(new->pfn) | ZD_MIGRATE_PFN_COMPOUND;
		} else {
			for (k = 0; k < args.npages; k++) {
				new = zd_folio_alloc(w, 0, ZD_MIGRATE_DST_HOLDER);
				assert_non_null(new);
				zd_folio_lock(new);
				copy_pages(new->pfn, spfn + k, 1);
				dst[k] = zd_migrate_pfn(new->pfn);
			}
		}
	}
	zd_migrate_vma_pages(&args);
	zd_migrate_vma_finalize(&args);
	free(src);
	free(dst);
	return 0;
}

static const struct zd_dev_pagemap_ops ops = { .folio_free = drv_folio_free,
					       .migrate_to_ram = drv_migrate_to_ram };

static struct zd_mm *setup(uint64_t *addr, bool huge)
{
	struct zd_world_opts o;
	struct zd_mm *mm;
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = HSIZE, .huge = huge,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };

	zd_world_opts_init(&o);
	o.ram_bytes = 32ull << 20;
	assert_int_equal(zd_world_create(&o, &w), 0);
	pgmap = zd_pgmap_alloc(1);
	assert_int_equal(zd_request_free_mem_region(w, DEV_PAGES * ZD_PAGE_SIZE, HSIZE,
						    &pgmap->ranges[0]), 0);
	pgmap->type = ZD_MEMORY_DEVICE_PRIVATE;
	pgmap->ops = &ops;
	pgmap->owner = OWNER;
	pgmap->name = "dev";
	assert_int_equal(zd_memremap_pages(w, pgmap), 0);
	first_pfn = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
	next_free = 0;
	nr_freed = 0;
	ram_thp = true;
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	assert_int_equal(zd_mmap(mm, &a, addr), 0);
	return mm;
}

static void teardown(void)
{
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);
}

/* Word j of page i holds base + i * 1024 + j. */
static void fill(struct zd_mm *mm, uint64_t addr, uint32_t base)
{
	uint32_t *buf = malloc(HSIZE);
	unsigned long j;

	assert_non_null(buf);
	for (j = 0; j < HSIZE / 4; j++)
		buf[j] = base + (uint32_t)j;
	assert_int_equal(zd_access_write(mm, addr, buf, HSIZE), 0);
	free(buf);
}

static void check(struct zd_mm *mm, uint64_t addr, uint32_t base)
{
	uint32_t *buf = malloc(HSIZE);
	unsigned long j;

	assert_non_null(buf);
	assert_int_equal(zd_access_read(mm, addr, buf, HSIZE), 0);
	for (j = 0; j < HSIZE / 4; j++)
		if (buf[j] != base + (uint32_t)j)
			fail_msg("word %lu: %#x, expected %#x", j, buf[j], base + (uint32_t)j);
	free(buf);
}

static void expect_entry(struct zd_mm *mm, uint64_t addr, enum zd_entry_kind kind,
			 unsigned int level, bool writable)
{
	struct zd_entry_info info;

	assert_int_equal(zd_mm_entry(mm, addr, &info), 0);
	assert_int_equal(info.kind, kind);
	assert_int_equal(info.level, level);
	assert_int_equal(info.writable, writable);
}

/*
 * The driver side of a migration to the device: setup, then `give` fills
 * dst (0: none, 1: one 2 MiB folio, 2: 512 base pages), pages, finalize.
 * Checks the slot layout of a collected THP on the way. Returns src[0].
 */
static unsigned long to_device(struct zd_mm *mm, uint64_t addr, unsigned long flags, int give)
{
	unsigned long *src = calloc(HPAGES, sizeof(*src)), *dst = calloc(HPAGES, sizeof(*dst));
	struct zd_migrate_vma args = { .mm = mm, .start = addr, .end = addr + HSIZE,
				       .src = src, .dst = dst, .pgmap_owner = OWNER,
				       .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM | flags };
	unsigned long k, spfn, ret;

	assert_non_null(src);
	assert_non_null(dst);
	zd_mmap_read_lock(mm);
	assert_int_equal(zd_migrate_vma_setup(&args), 0);
	spfn = zd_migrate_pfn_to_pfn(src[0]);
	if (src[0] & ZD_MIGRATE_PFN_COMPOUND) {
		/* one head slot, 511 zero slots; the PMD is a PMD migration entry */
		for (k = 1; k < HPAGES; k++)
			assert_int_equal(src[k], 0);
		assert_int_equal(args.cpages, 1);
		expect_entry(mm, addr, ZD_ENTRY_MIGRATION, 2, true);
	}
	if (give == 1 && (src[0] & ZD_MIGRATE_PFN_MIGRATE)) {
		struct zd_folio *d = drv_alloc(ZD_PMD_ORDER);

		assert_non_null(d);
		copy_pages(d->pfn, spfn, HPAGES);
		dst[0] = zd_migrate_pfn(d->pfn) | ZD_MIGRATE_PFN_COMPOUND | ZD_MIGRATE_PFN_WRITE;
	} else if (give == 2) {
		for (k = 0; k < HPAGES; k++) {
			struct zd_folio *d = drv_alloc(0);

			assert_non_null(d);
			copy_pages(d->pfn, spfn + k, 1);
			dst[k] = zd_migrate_pfn(d->pfn) | ZD_MIGRATE_PFN_WRITE;
		}
	}
	zd_migrate_vma_pages(&args);
	ret = src[0];
	zd_migrate_vma_finalize(&args);
	zd_mmap_read_unlock(mm);
	free(src);
	free(dst);
	return ret;
}

static void test_thp_whole_and_back(void **state)
{
	struct zd_folio *ram, *d;
	unsigned long s;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, true);

	(void)state;
	fill(mm, addr, 1000);
	ram = zd_mm_folio(mm, addr);
	assert_int_equal(zd_folio_order(ram), ZD_PMD_ORDER);
	s = to_device(mm, addr, ZD_MIGRATE_VMA_SELECT_COMPOUND, 1);
	assert_true(s & ZD_MIGRATE_PFN_MIGRATE);
	assert_true(s & ZD_MIGRATE_PFN_COMPOUND);
	expect_entry(mm, addr, ZD_ENTRY_PRIVATE, 2, true);
	d = zd_mm_folio(mm, addr + 12345 * 4);
	assert_true(zd_folio_is_device_private(d));
	assert_int_equal(zd_folio_order(d), ZD_PMD_ORDER);
	assert_int_equal(zd_folio_ref_count(d), 1);
	assert_int_equal(zd_folio_mapcount(d), 1);
	assert_false(zd_folio_test_locked(d));
	assert_int_equal(zd_mm_rss(mm), (long)HPAGES);
	assert_int_equal(zd_audit(w), 0);
	/* a CPU read: migrate_to_ram brings the folio back whole */
	check(mm, addr, 1000);
	expect_entry(mm, addr, ZD_ENTRY_PMD, 2, true);
	assert_int_equal(zd_folio_order(zd_mm_folio(mm, addr)), ZD_PMD_ORDER);
	assert_int_equal(nr_freed, HPAGES);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

static void test_thp_no_dst_restores_pmd(void **state)
{
	struct zd_entry_info before, after;
	struct zd_folio *ram;
	unsigned long s;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, true);

	(void)state;
	fill(mm, addr, 7);
	ram = zd_mm_folio(mm, addr);
	assert_int_equal(zd_mm_entry(mm, addr, &before), 0);
	/* collected, but the driver gives nothing: the PMD comes back as it was */
	s = to_device(mm, addr, ZD_MIGRATE_VMA_SELECT_COMPOUND, 0);
	assert_false(s & ZD_MIGRATE_PFN_MIGRATE);
	assert_int_equal(zd_mm_entry(mm, addr, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_ptr_equal(zd_mm_folio(mm, addr), ram);
	assert_int_equal(zd_folio_ref_count(ram), 1);
	assert_int_equal(zd_folio_mapcount(ram), 1);
	assert_false(zd_folio_test_locked(ram));
	assert_int_equal(zd_audit(w), 0);
	/* an extra reference: the reference check refuses it after the unmap, restored too */
	assert_true(zd_folio_try_get(ram, ZD_HOLDER(ZD_HOLD_HANDLE, 3)));
	s = to_device(mm, addr, ZD_MIGRATE_VMA_SELECT_COMPOUND, 1);
	assert_false(s & ZD_MIGRATE_PFN_MIGRATE);
	assert_int_equal(zd_mm_entry(mm, addr, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	zd_folio_put(ram, ZD_HOLDER(ZD_HOLD_HANDLE, 3));
	assert_int_equal(nr_freed, 0);
	check(mm, addr, 7);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

static void test_thp_split_for_small_dst(void **state)
{
	struct zd_entry_info before, after;
	struct zd_folio *d;
	unsigned long s;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, true);

	(void)state;
	fill(mm, addr, 0x10000);
	assert_int_equal(zd_mm_entry(mm, addr, &before), 0);
	/* the page-table page for splitting the PMD migration entry cannot be had: restored */
	zd_world_fail(w, ZD_FAIL_PGTABLE, 1);
	s = to_device(mm, addr, ZD_MIGRATE_VMA_SELECT_COMPOUND, 2);
	assert_false(s & ZD_MIGRATE_PFN_MIGRATE);
	assert_int_equal(zd_mm_entry(mm, addr, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(nr_freed, HPAGES); /* the unused destinations went back */
	assert_int_equal(zd_audit(w), 0);
	/* base-page destinations: the source is split and moves page by page */
	s = to_device(mm, addr, ZD_MIGRATE_VMA_SELECT_COMPOUND, 2);
	assert_true(s & ZD_MIGRATE_PFN_MIGRATE);
	assert_false(s & ZD_MIGRATE_PFN_COMPOUND);
	expect_entry(mm, addr, ZD_ENTRY_PRIVATE, 1, true);
	d = zd_mm_folio(mm, addr + 100 * ZD_PAGE_SIZE);
	assert_true(zd_folio_is_device_private(d));
	assert_int_equal(zd_folio_order(d), 0);
	assert_int_equal(zd_folio_ref_count(d), 1);
	assert_int_equal(zd_audit(w), 0);
	check(mm, addr, 0x10000);
	assert_int_equal(nr_freed, 2 * HPAGES);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

static void test_small_src_refuses_compound_dst(void **state)
{
	unsigned long *src = calloc(HPAGES, sizeof(*src)), *dst = calloc(HPAGES, sizeof(*dst));
	struct zd_folio *ram, *d;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, false);
	struct zd_migrate_vma args = { .mm = mm, .start = addr, .end = addr + ZD_PAGE_SIZE,
				       .src = src, .dst = dst, .pgmap_owner = OWNER,
				       .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM |
						ZD_MIGRATE_VMA_SELECT_COMPOUND };

	(void)state;
	fill(mm, addr, 3);
	ram = zd_mm_folio(mm, addr);
	zd_mmap_read_lock(mm);
	assert_int_equal(zd_migrate_vma_setup(&args), 0);
	assert_true(src[0] & ZD_MIGRATE_PFN_MIGRATE);
	assert_false(src[0] & ZD_MIGRATE_PFN_COMPOUND);
	d = drv_alloc(ZD_PMD_ORDER);
	assert_non_null(d);
	dst[0] = zd_migrate_pfn(d->pfn) | ZD_MIGRATE_PFN_COMPOUND;
	zd_migrate_vma_pages(&args);
	assert_false(src[0] & ZD_MIGRATE_PFN_MIGRATE);
	zd_migrate_vma_finalize(&args);
	zd_mmap_read_unlock(mm);
	assert_ptr_equal(zd_mm_folio(mm, addr), ram);
	expect_entry(mm, addr, ZD_ENTRY_PRESENT, 1, true);
	assert_int_equal(nr_freed, HPAGES);
	check(mm, addr, 3);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	free(src);
	free(dst);
	teardown();
}

static void test_device_pmd_split_fork_and_ram_split(void **state)
{
	struct zd_mm *child;
	struct zd_folio *d;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, true);

	(void)state;
	fill(mm, addr, 0x500);
	assert_true(to_device(mm, addr, ZD_MIGRATE_VMA_SELECT_COMPOUND, 1) &
		    ZD_MIGRATE_PFN_MIGRATE);
	d = zd_mm_folio(mm, addr);
	/* fork: one more reference and mapcount on the device folio, read-only in both */
	assert_int_equal(zd_mm_fork(mm, "C", &child), 0);
	expect_entry(mm, addr, ZD_ENTRY_PRIVATE, 2, false);
	expect_entry(child, addr, ZD_ENTRY_PRIVATE, 2, false);
	assert_int_equal(zd_folio_ref_count(d), 2);
	assert_int_equal(zd_folio_mapcount(d), 2);
	assert_int_equal(zd_audit(w), 0);
	zd_mm_exit(child);
	assert_int_equal(zd_folio_ref_count(d), 1);
	/* an mprotect through the middle splits the PMD into 512 device-private PTEs */
	assert_int_equal(zd_mprotect(mm, addr + HSIZE / 2, ZD_PAGE_SIZE, ZD_PROT_READ), 0);
	expect_entry(mm, addr, ZD_ENTRY_PRIVATE, 1, false); /* fork left it read-only */
	expect_entry(mm, addr + HSIZE / 2, ZD_ENTRY_PRIVATE, 1, false);
	assert_int_equal(zd_folio_order(d), ZD_PMD_ORDER);
	assert_int_equal(zd_folio_ref_count(d), (int)HPAGES);
	assert_int_equal(zd_folio_mapcount(d), (int)HPAGES);
	assert_int_equal(zd_audit(w), 0);
	/* a CPU fault on one of them splits the folio, and that page comes back */
	ram_thp = false;
	check(mm, addr, 0x500);
	assert_int_equal(nr_freed, HPAGES);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thp_whole_and_back),
		cmocka_unit_test(test_thp_no_dst_restores_pmd),
		cmocka_unit_test(test_thp_split_for_small_dst),
		cmocka_unit_test(test_small_src_refuses_compound_dst),
		cmocka_unit_test(test_device_pmd_split_fork_and_ram_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
