/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the migration core with a minimal device-private driver:
 * migrate to the device and back (CPU fault), holes, pinned pages staying,
 * eviction by pfn range, fork and munmap of migrated pages, device-exclusive.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/migrate.h"

#define NPAGES 16
#define OWNER ((void *)0x5a5a)

static struct zd_world *w;
static struct zd_dev_pagemap *pgmap;
static unsigned long first_pfn, next_free;
static int nr_freed;

static void drv_folio_free(struct zd_folio *folio)
{
	(void)folio;
	nr_freed++;
}

static int drv_migrate_to_ram(struct zd_vm_fault *vmf)
{
	unsigned long src, dst = 0;
	struct zd_migrate_vma args = {
		.mm = vmf->mm, .start = vmf->address & ~(ZD_PAGE_SIZE - 1),
		.src = &src, .dst = &dst, .pgmap_owner = OWNER,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, .fault_page = vmf->page,
	};
	struct zd_folio *new;

	args.end = args.start + ZD_PAGE_SIZE;
	if (zd_migrate_vma_setup(&args))
		return ZD_VM_FAULT_SIGBUS;
	if (src & ZD_MIGRATE_PFN_MIGRATE) {
		new = zd_folio_alloc(w, 0, ZD_MIGRATE_DST_HOLDER);
		if (!new)
			return ZD_VM_FAULT_OOM;
		zd_folio_lock(new);
		memcpy(zd_page_address(w, new->pfn), zd_page_address(w, zd_migrate_pfn_to_pfn(src)),
		       ZD_PAGE_SIZE);
		dst = zd_migrate_pfn(new->pfn);
	}
	zd_migrate_vma_pages(&args);
	zd_migrate_vma_finalize(&args);
	return 0;
}

static const struct zd_dev_pagemap_ops ops = { .folio_free = drv_folio_free,
					       .migrate_to_ram = drv_migrate_to_ram };

/* A free device page handed out locked with the destination reference (a bump allocator). */
static struct zd_folio *drv_alloc(void)
{
	while (next_free < NPAGES) {
		struct zd_folio *f = zd_pfn_folio(w, first_pfn + next_free++);

		if (!zd_zone_device_folio_init(f, pgmap, 0, ZD_MIGRATE_DST_HOLDER))
			return f;
	}
	return NULL;
}

static struct zd_mm *setup(uint64_t *addr, uint64_t pages)
{
	struct zd_world_opts o;
	struct zd_mm *mm;
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = pages * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };

	zd_world_opts_init(&o);
	o.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&o, &w), 0);
	pgmap = zd_pgmap_alloc(1);
	assert_int_equal(zd_request_free_mem_region(w, NPAGES * ZD_PAGE_SIZE, ZD_PAGE_SIZE,
						    &pgmap->ranges[0]), 0);
	pgmap->type = ZD_MEMORY_DEVICE_PRIVATE;
	pgmap->ops = &ops;
	pgmap->owner = OWNER;
	pgmap->name = "dev";
	assert_int_equal(zd_memremap_pages(w, pgmap), 0);
	first_pfn = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
	next_free = 0;
	nr_freed = 0;
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	assert_int_equal(zd_mmap(mm, &a, addr), 0);
	return mm;
}

static void teardown(void)
{
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);
}

static void write_pages(struct zd_mm *mm, uint64_t addr, int n, uint32_t base)
{
	uint32_t buf[ZD_PAGE_SIZE / 4];
	int i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < (int)(ZD_PAGE_SIZE / 4); j++)
			buf[j] = base + (uint32_t)i;
		assert_int_equal(zd_access_write(mm, addr + i * ZD_PAGE_SIZE, buf, sizeof(buf)), 0);
	}
}

static void check_page(struct zd_mm *mm, uint64_t addr, uint32_t v)
{
	uint32_t buf[ZD_PAGE_SIZE / 4];
	int j;

	assert_int_equal(zd_access_read(mm, addr, buf, sizeof(buf)), 0);
	for (j = 0; j < (int)(ZD_PAGE_SIZE / 4); j++)
		assert_int_equal(buf[j], v);
}

/* migrate_vma to the device: a driver's MIGRATE_TO_DEV for n pages at addr. */
static unsigned long to_device(struct zd_mm *mm, uint64_t addr, unsigned long n)
{
	unsigned long src[NPAGES], dst[NPAGES], i, moved = 0;
	struct zd_migrate_vma args = { .mm = mm, .start = addr, .end = addr + n * ZD_PAGE_SIZE,
				       .src = src, .dst = dst, .pgmap_owner = OWNER,
				       .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };

	zd_mmap_read_lock(mm);
	assert_int_equal(zd_migrate_vma_setup(&args), 0);
	for (i = 0; i < n; i++) {
		struct zd_folio *d;

		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		d = drv_alloc();
		if (!d)
			continue;
		if (src[i] & ZD_MIGRATE_PFN_VALID)
			memcpy(zd_page_address(w, d->pfn),
			       zd_page_address(w, zd_migrate_pfn_to_pfn(src[i])), ZD_PAGE_SIZE);
		else
			memset(zd_page_address(w, d->pfn), 0, ZD_PAGE_SIZE);
		dst[i] = zd_migrate_pfn(d->pfn);
	}
	zd_migrate_vma_pages(&args);
	for (i = 0; i < n; i++)
		moved += !!(src[i] & ZD_MIGRATE_PFN_MIGRATE);
	zd_migrate_vma_finalize(&args);
	zd_mmap_read_unlock(mm);
	return moved;
}

static void expect_kind(struct zd_mm *mm, uint64_t addr, enum zd_entry_kind kind, bool writable)
{
	struct zd_entry_info info;

	assert_int_equal(zd_mm_entry(mm, addr, &info), 0);
	assert_int_equal(info.kind, kind);
	assert_int_equal(info.writable, writable);
}

static void test_migrate_and_fault_back(void **state)
{
	unsigned long ram0;
	struct zd_folio *d;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, 4);

	write_pages(mm, addr, 4, 100);
	ram0 = zd_ram_nr_free(w);
	assert_int_equal(to_device(mm, addr, 4), 4);
	expect_kind(mm, addr, ZD_ENTRY_PRIVATE, true);
	d = zd_mm_folio(mm, addr);
	assert_true(zd_folio_is_device_private(d));
	assert_int_equal(zd_folio_ref_count(d), 1);
	assert_int_equal(zd_folio_mapcount(d), 1);
	assert_false(zd_folio_test_locked(d));
	assert_int_equal(zd_ram_nr_free(w), ram0 + 4); /* the system pages were freed */
	assert_int_equal(zd_audit(w), 0);
	/* a CPU read migrates the page back (migrate_to_ram) */
	check_page(mm, addr + ZD_PAGE_SIZE, 101);
	expect_kind(mm, addr + ZD_PAGE_SIZE, ZD_ENTRY_PRESENT, true);
	assert_int_equal(nr_freed, 1); /* the device page went back to its driver */
	check_page(mm, addr + 3 * ZD_PAGE_SIZE, 103);
	assert_int_equal(nr_freed, 2);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

static void test_holes_and_pinned(void **state)
{
	struct zd_folio *f;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, 4);

	write_pages(mm, addr, 2, 7); /* pages 2 and 3 stay holes */
	f = zd_mm_folio(mm, addr + ZD_PAGE_SIZE);
	assert_true(zd_folio_try_get(f, ZD_HOLDER(ZD_HOLD_HANDLE, 9))); /* an extra reference */
	assert_int_equal(to_device(mm, addr, 4), 3);
	expect_kind(mm, addr + ZD_PAGE_SIZE, ZD_ENTRY_PRESENT, true); /* restored as it was */
	assert_ptr_equal(zd_mm_folio(mm, addr + ZD_PAGE_SIZE), f);
	expect_kind(mm, addr + 2 * ZD_PAGE_SIZE, ZD_ENTRY_PRIVATE, true); /* a hole, inserted */
	check_page(mm, addr + 2 * ZD_PAGE_SIZE, 0);
	check_page(mm, addr, 7);
	check_page(mm, addr + ZD_PAGE_SIZE, 8);
	zd_folio_put(f, ZD_HOLDER(ZD_HOLD_HANDLE, 9));
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

static void test_evict_fork_munmap(void **state)
{
	unsigned long src[NPAGES], dst[NPAGES], i;
	struct zd_mm *child;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, 4);

	write_pages(mm, addr, 4, 50);
	assert_int_equal(to_device(mm, addr, 4), 4);
	/* fork shares the device pages read-only */
	assert_int_equal(zd_mm_fork(mm, "C", &child), 0);
	expect_kind(mm, addr, ZD_ENTRY_PRIVATE, false);
	expect_kind(child, addr, ZD_ENTRY_PRIVATE, false);
	assert_int_equal(zd_folio_mapcount(zd_mm_folio(mm, addr)), 2);
	assert_int_equal(zd_audit(w), 0);
	/* eviction: every mapping, in both mms, goes back to RAM */
	assert_int_equal(zd_migrate_device_range(w, src, first_pfn, NPAGES), 0);
	for (i = 0; i < NPAGES; i++) {
		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE)) {
			dst[i] = 0;
			continue;
		}
		struct zd_folio *n = zd_folio_alloc(w, 0, ZD_MIGRATE_DST_HOLDER);

		zd_folio_lock(n);
		memcpy(zd_page_address(w, n->pfn), zd_page_address(w, zd_migrate_pfn_to_pfn(src[i])),
		       ZD_PAGE_SIZE);
		dst[i] = zd_migrate_pfn(n->pfn);
	}
	zd_migrate_device_pages(w, src, dst, NPAGES);
	zd_migrate_device_finalize(w, src, dst, NPAGES);
	assert_int_equal(nr_freed, 4);
	expect_kind(mm, addr, ZD_ENTRY_PRESENT, false);
	expect_kind(child, addr, ZD_ENTRY_PRESENT, false);
	check_page(child, addr + 2 * ZD_PAGE_SIZE, 52);
	check_page(mm, addr + 3 * ZD_PAGE_SIZE, 53);
	assert_int_equal(zd_audit(w), 0);
	zd_mm_exit(child);
	/* munmap while migrated frees the device page */
	assert_int_equal(to_device(mm, addr, 1), 1);
	assert_int_equal(zd_munmap(mm, addr, ZD_PAGE_SIZE), 0);
	assert_int_equal(nr_freed, 5);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

static void test_device_exclusive(void **state)
{
	struct zd_folio *f;
	uint64_t addr;
	struct zd_mm *mm = setup(&addr, 2);

	write_pages(mm, addr, 1, 33);
	zd_mmap_read_lock(mm);
	assert_int_equal(zd_make_device_exclusive(mm, addr, OWNER, &f), 0);
	assert_true(zd_folio_test_locked(f));
	zd_folio_unlock(f);
	zd_folio_put(f, ZD_EXCLUSIVE_HOLDER);
	zd_mmap_read_unlock(mm);
	expect_kind(mm, addr, ZD_ENTRY_EXCLUSIVE, true);
	assert_int_equal(zd_audit(w), 0);
	check_page(mm, addr, 33); /* the CPU access revokes it */
	expect_kind(mm, addr, ZD_ENTRY_PRESENT, true);
	/* an untouched page is faulted in for write first */
	zd_mmap_read_lock(mm);
	assert_int_equal(zd_make_device_exclusive(mm, addr + ZD_PAGE_SIZE, OWNER, &f), 0);
	zd_folio_unlock(f);
	zd_folio_put(f, ZD_EXCLUSIVE_HOLDER);
	zd_mmap_read_unlock(mm);
	expect_kind(mm, addr + ZD_PAGE_SIZE, ZD_ENTRY_EXCLUSIVE, true);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_and_fault_back),
		cmocka_unit_test(test_holes_and_pinned),
		cmocka_unit_test(test_evict_fork_munmap),
		cmocka_unit_test(test_device_exclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
