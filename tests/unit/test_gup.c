/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: GUP: pin and get accounting on order-0 and 2 MiB folios,
 * unshare on read pins, fork of pinned pages, the zero page, fast-only,
 * the per-type rules (p2pdma, device-dax) and a long-term pin that moves
 * a device-coherent page to RAM.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "sync/sync.h"
#include "zonedev/zonedev.h"
#include "zonedev/gup.h"
#include "zonedev/migrate.h"
#include "gup/gup_internal.h"

#define H ZD_HOLDER(ZD_HOLD_PIN, 1)
#define G ZD_HOLDER(ZD_HOLD_GUP, 2)
#define OWNER ((void *)0x1234)

static struct zd_world *w;
static int nr_freed;

static void count_free(struct zd_folio *f)
{
	(void)f;
	nr_freed++;
}

static const struct zd_dev_pagemap_ops coh_ops = { .folio_free = count_free };

static struct zd_mm *setup(void)
{
	struct zd_world_opts o;
	struct zd_mm *mm;

	zd_world_opts_init(&o);
	o.ram_bytes = 32ull << 20;
	assert_int_equal(zd_world_create(&o, &w), 0);
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	nr_freed = 0;
	return mm;
}

static uint64_t map(struct zd_mm *mm, uint64_t size, bool huge)
{
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = size,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE, .huge = huge };
	uint64_t addr;
	char c = 1;
	uint64_t off;

	assert_int_equal(zd_mmap(mm, &a, &addr), 0);
	for (off = 0; off < size; off += ZD_PAGE_SIZE)
		assert_int_equal(zd_access_write(mm, addr + off, &c, 1), 0);
	return addr;
}

static void test_pin_accounting(void **state)
{
	struct zd_mm *mm = setup();
	uint64_t a = map(mm, 4 * ZD_PAGE_SIZE, false), huge = map(mm, 2 << 20, true);
	unsigned long pfns[512];
	struct zd_folio *f;

	assert_int_equal(zd_pin_user_pages(mm, a, 4, ZD_FOLL_WRITE, pfns, H), 4);
	f = zd_pfn_folio(w, pfns[0]);
	assert_int_equal(zd_folio_ref_count(f), 1 + ZD_GUP_PIN_COUNTING_BIAS);
	assert_int_equal(zd_folio_pincount(f), 1);
	assert_true(zd_folio_maybe_pinned(f));
	assert_int_equal(zd_audit(w), 0);
	zd_unpin_user_pages(w, pfns, 4, true, H);
	assert_int_equal(zd_folio_ref_count(f), 1);
	assert_true(zd_page_test_flag(&f->page, ZD_PG_dirty));
	/* get: one reference each, released through the batched path */
	assert_int_equal(zd_get_user_pages(mm, a, 2, 0, pfns, G), 2);
	assert_int_equal(zd_folio_ref_count(f), 2);
	zd_put_user_pages(w, pfns, 2, G);
	assert_int_equal(zd_folio_ref_count(f), 1);
	/* a 2 MiB folio: +1 reference and +1 pincount per page */
	assert_int_equal(zd_pin_user_pages_fast(mm, huge, 512, 0, pfns, H), 512);
	f = zd_pfn_folio(w, pfns[0]);
	assert_int_equal(zd_folio_order(f), ZD_PMD_ORDER);
	assert_int_equal(zd_folio_ref_count(f), 1 + 512);
	assert_int_equal(zd_folio_pincount(f), 512);
	assert_int_equal(zd_audit(w), 0);
	zd_unpin_user_pages(w, pfns, 512, false, H);
	assert_int_equal(zd_folio_ref_count(f), 1);
	assert_int_equal(zd_folio_pincount(f), 0);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

static void test_arguments_and_zero_page(void **state)
{
	struct zd_mm *mm = setup();
	struct zd_mmap_args ro = { .kind = ZD_MAP_ANON, .size = 4 * ZD_PAGE_SIZE,
				   .prot = ZD_PROT_READ };
	unsigned long pfns[4];
	uint64_t a;

	assert_int_equal(zd_mmap(mm, &ro, &a), 0);
	assert_int_equal(zd_pin_user_pages(mm, a, 1, ZD_FOLL_GET, pfns, H), -EINVAL);
	assert_int_equal(zd_get_user_pages(mm, a, 1, ZD_FOLL_LONGTERM, pfns, G), -EINVAL);
	assert_int_equal(zd_pin_user_pages(mm, a, 1, ZD_FOLL_LONGTERM | ZD_FOLL_PCI_P2PDMA, pfns, H),
			 -EINVAL);
	assert_int_equal(zd_pin_user_pages(mm, a, 1, 0, NULL, H), -EINVAL);
	/* an unaligned start means the page holding it (start & PAGE_MASK) */
	assert_int_equal(zd_pin_user_pages(mm, a + 1, 1, 0, pfns, H), 1);
	assert_int_equal(pfns[0], zd_folio_pfn(zd_zero_folio(w)));
	zd_unpin_user_pages(w, pfns, 1, false, H);
	assert_int_equal(zd_pin_user_pages(mm, a, 1, ZD_FOLL_WRITE, pfns, H), -EFAULT);
	assert_int_equal(zd_pin_user_pages(mm, 0x1000, 1, 0, pfns, H), -EFAULT);
	/* untouched anonymous memory: fast-only gets nothing; a read pin maps the zero page */
	assert_int_equal(zd_pin_user_pages_fast(mm, a, 2, ZD_FOLL_FAST_ONLY, pfns, H), 0);
	assert_int_equal(zd_pin_user_pages(mm, a, 2, 0, pfns, H), 2);
	assert_int_equal(pfns[0], zd_folio_pfn(zd_zero_folio(w)));
	assert_int_equal(zd_folio_ref_count(zd_zero_folio(w)), 1); /* never counted */
	zd_unpin_user_pages(w, pfns, 2, false, H);
	/* the range ends: fewer pages than asked */
	assert_int_equal(zd_get_user_pages(mm, a + 2 * ZD_PAGE_SIZE, 8, 0, pfns, G), 2);
	zd_put_user_pages(w, pfns, 2, G);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

static void test_unshare_and_fork(void **state)
{
	struct zd_mm *mm = setup(), *child;
	uint64_t a = map(mm, ZD_PAGE_SIZE, false);
	unsigned long pfn, shared;
	struct zd_folio *f;
	char c;

	/* fork shares the page; a read pin in the parent unshares it first */
	assert_int_equal(zd_mm_fork(mm, "C", &child), 0);
	shared = zd_folio_pfn(zd_mm_folio(mm, a));
	assert_int_equal(zd_pin_user_pages(mm, a, 1, 0, &pfn, H), 1);
	assert_true(pfn != shared);
	assert_int_equal(zd_folio_ref_count(zd_pfn_folio(w, shared)), 1); /* only the child maps it */
	zd_unpin_user_pages(w, &pfn, 1, false, H);
	zd_mm_exit(child);
	/* a pinned exclusive page is copied for the child at fork */
	assert_int_equal(zd_pin_user_pages(mm, a, 1, ZD_FOLL_WRITE, &pfn, H), 1);
	f = zd_pfn_folio(w, pfn);
	assert_int_equal(zd_mm_fork(mm, "C", &child), 0);
	assert_int_equal(zd_folio_ref_count(f), 1 + ZD_GUP_PIN_COUNTING_BIAS);
	assert_true(zd_folio_pfn(zd_mm_folio(child, a)) != pfn);
	assert_int_equal(zd_access_read(child, a, &c, 1), 0);
	assert_int_equal(c, 1);
	zd_unpin_user_pages(w, &pfn, 1, false, H);
	zd_mm_exit(child);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

static void test_device_types(void **state)
{
	struct zd_mm *mm = setup();
	struct zd_device_config dd = { .name = "dax", .type = ZD_MEMORY_DEVICE_GENERIC,
				       .size = 2 << 20, .align_order = ZD_PMD_ORDER };
	struct zd_device_config pp = { .name = "p2p", .type = ZD_MEMORY_DEVICE_PCI_P2PDMA,
				       .size = 1 << 20 };
	struct zd_device *dax, *p2p;
	unsigned long pfns[4];
	uint64_t d, p;
	char c = 2;

	assert_int_equal(zd_device_create(w, &dd, &dax), 0);
	assert_int_equal(zd_device_create(w, &pp, &p2p), 0);
	assert_int_equal(zd_device_mmap(dax, mm, 2 << 20, ZD_PROT_READ | ZD_PROT_WRITE, &d), 0);
	assert_int_equal(zd_device_mmap(p2p, mm, 4 * ZD_PAGE_SIZE, ZD_PROT_READ | ZD_PROT_WRITE, &p), 0);
	assert_int_equal(zd_access_write(mm, d, &c, 1), 0);
	/* device-dax may be pinned long term */
	assert_int_equal(zd_pin_user_pages(mm, d, 2, ZD_FOLL_LONGTERM, pfns, H), 2);
	assert_int_equal(zd_folio_pincount(zd_pfn_folio(w, pfns[0])), 2);
	zd_unpin_user_pages(w, pfns, 2, false, H);
	/* P2PDMA needs FOLL_PCI_P2PDMA; the fast path just falls back */
	assert_int_equal(zd_get_user_pages(mm, p, 1, 0, pfns, G), -EREMOTEIO);
	assert_int_equal(zd_get_user_pages_fast(mm, p, 1, 0, pfns, G), -EREMOTEIO);
	assert_int_equal(zd_get_user_pages(mm, p, 4, ZD_FOLL_PCI_P2PDMA, pfns, G), 4);
	zd_put_user_pages(w, pfns, 4, G);
	/* an error after the first page returns the pages taken (i ? i : ret) */
	{
		struct zd_mmap_args an = { .kind = ZD_MAP_ANON, .size = ZD_PAGE_SIZE,
					   .prot = ZD_PROT_READ, .addr = p };
		uint64_t q;

		assert_int_equal(zd_munmap(mm, p, ZD_PAGE_SIZE), 0);
		assert_int_equal(zd_mmap(mm, &an, &q), 0);
		assert_int_equal(q, p);
		assert_int_equal(zd_get_user_pages(mm, p, 3, 0, pfns, G), 1);
		assert_int_equal(pfns[0], zd_folio_pfn(zd_zero_folio(w)));
		zd_put_user_pages(w, pfns, 1, G);
		assert_int_equal(zd_get_user_pages(mm, p + ZD_PAGE_SIZE, 1, 0, pfns, G), -EREMOTEIO);
	}
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

static void test_longterm_coherent(void **state)
{
	struct zd_mm *mm = setup();
	uint64_t a = map(mm, ZD_PAGE_SIZE, false);
	struct zd_dev_pagemap *pg = zd_pgmap_alloc(1);
	unsigned long src, dst, pfn;
	struct zd_migrate_vma args = { .mm = mm, .start = a, .end = a + ZD_PAGE_SIZE, .src = &src,
				       .dst = &dst, .pgmap_owner = OWNER,
				       .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	struct zd_folio *d;
	char c = 0;

	assert_int_equal(zd_request_free_mem_region(w, 1 << 20, 4096, &pg->ranges[0]), 0);
	pg->type = ZD_MEMORY_DEVICE_COHERENT;
	pg->ops = &coh_ops;
	pg->owner = OWNER;
	pg->name = "coh";
	assert_int_equal(zd_memremap_pages(w, pg), 0);
	c = 42;
	assert_int_equal(zd_access_write(mm, a, &c, 1), 0);
	/* move the page into coherent device memory */
	zd_mmap_read_lock(mm);
	assert_int_equal(zd_migrate_vma_setup(&args), 0);
	d = zd_pfn_folio(w, pg->ranges[0].start >> ZD_PAGE_SHIFT);
	assert_int_equal(zd_zone_device_folio_init(d, pg, 0, ZD_MIGRATE_DST_HOLDER), 0);
	memcpy(zd_page_address(w, d->pfn), zd_page_address(w, zd_migrate_pfn_to_pfn(src)),
	       ZD_PAGE_SIZE);
	dst = zd_migrate_pfn(d->pfn);
	zd_migrate_vma_pages(&args);
	zd_migrate_vma_finalize(&args);
	zd_mmap_read_unlock(mm);
	assert_true(zd_folio_is_device_coherent(zd_mm_folio(mm, a)));
	/* a short-term pin leaves it in device memory */
	assert_int_equal(zd_pin_user_pages(mm, a, 1, 0, &pfn, H), 1);
	assert_int_equal(pfn, d->pfn);
	zd_unpin_user_pages(w, &pfn, 1, false, H);
	/* a long-term pin moves it to RAM first; the device page is freed once */
	assert_int_equal(zd_pin_user_pages(mm, a, 1, ZD_FOLL_LONGTERM, &pfn, H), 1);
	assert_true(pfn != d->pfn);
	assert_false(zd_folio_is_zone_device(zd_pfn_folio(w, pfn)));
	assert_int_equal(nr_freed, 1);
	c = 0;
	assert_int_equal(zd_access_read(mm, a, &c, 1), 0);
	assert_int_equal(c, 42);
	assert_int_equal(zd_audit(w), 0);
	zd_unpin_user_pages(w, &pfn, 1, false, H);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
	zd_pgmap_free(pg);
}

/*
 * migrate_longterm_unpinnable_folios stops at the first coherent page it
 * cannot move: the rest are only unpinned and stay in device memory, and
 * the pin fails with EBUSY leaving nothing pinned.
 */
static void test_longterm_coherent_first_failure(void **state)
{
	struct zd_mm *mm = setup();
	uint64_t a = map(mm, 2 * ZD_PAGE_SIZE, false);
	struct zd_dev_pagemap *pg = zd_pgmap_alloc(1);
	unsigned long src[2], dst[2], pfns[2];
	struct zd_migrate_vma args = { .mm = mm, .start = a, .end = a + 2 * ZD_PAGE_SIZE,
				       .src = src, .dst = dst, .pgmap_owner = OWNER,
				       .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	int i;

	assert_int_equal(zd_request_free_mem_region(w, 1 << 20, 4096, &pg->ranges[0]), 0);
	pg->type = ZD_MEMORY_DEVICE_COHERENT;
	pg->ops = &coh_ops;
	pg->owner = OWNER;
	pg->name = "coh";
	assert_int_equal(zd_memremap_pages(w, pg), 0);
	zd_mmap_read_lock(mm);
	assert_int_equal(zd_migrate_vma_setup(&args), 0);
	for (i = 0; i < 2; i++) {
		struct zd_folio *d = zd_pfn_folio(w, (pg->ranges[0].start >> ZD_PAGE_SHIFT) + i);

		assert_int_equal(zd_zone_device_folio_init(d, pg, 0, ZD_MIGRATE_DST_HOLDER), 0);
		dst[i] = zd_migrate_pfn(d->pfn);
	}
	zd_migrate_vma_pages(&args);
	zd_migrate_vma_finalize(&args);
	zd_mmap_read_unlock(mm);
	for (i = 0; i < 2; i++)
		assert_true(zd_folio_is_device_coherent(zd_mm_folio(mm, a + i * ZD_PAGE_SIZE)));
	/* no RAM page for the first: the second is not even tried */
	zd_world_fail(w, ZD_FAIL_RAM, 1);
	assert_int_equal(zd_pin_user_pages(mm, a, 2, ZD_FOLL_LONGTERM, pfns, H), -EBUSY);
	for (i = 0; i < 2; i++) {
		struct zd_folio *f = zd_mm_folio(mm, a + i * ZD_PAGE_SIZE);

		assert_true(zd_folio_is_device_coherent(f));
		assert_int_equal(zd_folio_pincount(f), 0);
	}
	assert_int_equal(nr_freed, 0);
	assert_int_equal(zd_audit(w), 0);
	/* with RAM to spare both move and stay pinned */
	assert_int_equal(zd_pin_user_pages(mm, a, 2, ZD_FOLL_LONGTERM, pfns, H), 2);
	assert_int_equal(nr_freed, 2);
	zd_unpin_user_pages(w, pfns, 2, false, H);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
	zd_pgmap_free(pg);
}

/*
 * The pin invariants broken on purpose: references booked by hand where GUP
 * would never put them, and each time the auditor names the rule.
 */
static int no_migrate(struct zd_vm_fault *vmf)
{
	(void)vmf;
	return ZD_VM_FAULT_SIGBUS; /* never reached: nothing maps these pages */
}

static const struct zd_dev_pagemap_ops priv_ops = { .folio_free = count_free,
						    .migrate_to_ram = no_migrate };

static struct zd_folio *device_folio(struct zd_dev_pagemap *pg, enum zd_memory_type type,
				     const char *name)
{
	struct zd_folio *f;

	assert_int_equal(zd_request_free_mem_region(w, 1 << 20, 4096, &pg->ranges[0]), 0);
	pg->type = type;
	pg->ops = type == ZD_MEMORY_DEVICE_PRIVATE ? &priv_ops : &coh_ops;
	pg->owner = OWNER;
	pg->name = name;
	assert_int_equal(zd_memremap_pages(w, pg), 0);
	f = zd_pfn_folio(w, pg->ranges[0].start >> ZD_PAGE_SHIFT);
	assert_int_equal(zd_zone_device_folio_init(f, pg, 0, ZD_HOLDER(ZD_HOLD_DRIVER, 1)), 0);
	return f;
}

/* The audit finds something, and every violation it adds is `inv`. */
static void expect_only(enum zd_invariant inv)
{
	size_t i, before = zd_violation_count(w);

	assert_true(zd_audit(w) > 0);
	assert_true(zd_violation_count(w) > before);
	for (i = before; i < zd_violation_count(w); i++)
		assert_int_equal(zd_violation_get(w, i)->inv, inv);
}

static void test_audit_breaks_pin_invariants(void **state)
{
	struct zd_mm *mm = setup();
	uint64_t a = map(mm, 2 << 20, true);
	struct zd_dev_pagemap *pp = zd_pgmap_alloc(1), *pc = zd_pgmap_alloc(1);
	struct zd_holder longterm = ZD_HOLDER(ZD_HOLD_PIN_LONGTERM, 3);
	struct zd_folio *priv, *coh, *huge;
	unsigned long pfn;

	/* G1: a GUP reference on a device-private page */
	priv = device_folio(pp, ZD_MEMORY_DEVICE_PRIVATE, "priv");
	zd_folio_get(priv, G);
	expect_only(ZD_INV_GUP_DEVICE_PRIVATE);
	zd_folio_put(priv, G);
	assert_int_equal(zd_audit(w), 0);
	/* G2: a long-term pin on device-coherent memory */
	coh = device_folio(pc, ZD_MEMORY_DEVICE_COHERENT, "coh");
	zd_folio_ref_add(coh, ZD_GUP_PIN_COUNTING_BIAS, longterm);
	expect_only(ZD_INV_LONGTERM_PIN_UNPINNABLE);
	zd_folio_put_refs(coh, ZD_GUP_PIN_COUNTING_BIAS, longterm);
	assert_int_equal(zd_audit(w), 0);
	/* G3: an order-0 pin holder short of the bias */
	zd_folio_ref_add(coh, 3, H);
	expect_only(ZD_INV_PIN_ACCOUNTING);
	zd_folio_put_refs(coh, 3, H);
	assert_int_equal(zd_audit(w), 0);
	/* G3: a large folio's pincount that its holders do not explain */
	assert_int_equal(zd_pin_user_pages(mm, a, 1, 0, &pfn, H), 1);
	huge = zd_pfn_folio(w, pfn);
	assert_true(zd_folio_test_large(huge)); /* a `huge` mapping: a 2 MiB folio */
	assert_int_equal(zd_audit(w), 0);
	zd_atomic_add_return_relaxed(&huge->_pincount, 1);
	expect_only(ZD_INV_PIN_ACCOUNTING);
	zd_atomic_add_return_relaxed(&huge->_pincount, -1);
	assert_int_equal(zd_audit(w), 0);
	zd_unpin_user_pages(w, &pfn, 1, false, H);
	/* G3: the zero page referenced */
	zd_folio_get(zd_zero_folio(w), G);
	expect_only(ZD_INV_PIN_ACCOUNTING);
	zd_folio_put(zd_zero_folio(w), G);
	assert_int_equal(zd_audit(w), 0);
	zd_world_destroy(w);
	zd_pgmap_free(pp);
	zd_pgmap_free(pc);
}

/* G5: an error from the long-term path must leave the holder as it found it. */
static void test_gup_error_pinned(void **state)
{
	struct zd_mm *mm = setup();
	uint64_t a = map(mm, 2 * ZD_PAGE_SIZE, false);
	struct zd_holder lt = ZD_HOLDER(ZD_HOLD_PIN_LONGTERM, 4);
	unsigned long pfns[2];
	enum zd_invariant inv;
	long before;

	assert_int_equal(zd_invariant_lookup("gup-error-pinned", &inv), 0);
	/* A failing long-term pin (no mapping there) checks itself: clean. */
	assert_int_equal(zd_pin_user_pages(mm, a + (64ull << 20), 1, ZD_FOLL_LONGTERM, pfns, lt),
			 -EFAULT);
	assert_false(zd_violation_reported(w, inv));
	/* An error path that forgot one page: the holder holds more than before. */
	before = zd_gup_holder_refs(w, lt);
	assert_int_equal(zd_pin_user_pages(mm, a, 1, ZD_FOLL_LONGTERM, pfns, lt), 1);
	zd_gup_check_error_unpinned(w, lt, before, -EBUSY);
	assert_true(zd_violation_reported(w, inv));
	zd_unpin_user_pages(w, pfns, 1, false, lt);
	zd_gup_check_error_unpinned(w, lt, before, -EBUSY);
	assert_int_equal(zd_violation_count(w), 1);
	zd_world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_accounting),
		cmocka_unit_test(test_arguments_and_zero_page),
		cmocka_unit_test(test_unshare_and_fork),
		cmocka_unit_test(test_device_types),
		cmocka_unit_test(test_longterm_coherent),
		cmocka_unit_test(test_longterm_coherent_first_failure),
		cmocka_unit_test(test_audit_breaks_pin_invariants),
		cmocka_unit_test(test_gup_error_pinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
