/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: every invariant checked in this version is broken on
 * purpose, and the auditor (or the event check) must name it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "sync/sync.h"

static int nr_freed;

static void count_free(struct zd_folio *folio)
{
	(void)folio;
	nr_freed++;
}

static int migrate_noop(struct zd_vm_fault *vmf)
{
	(void)vmf;
	return 0;
}

static const struct zd_dev_pagemap_ops ops = {.folio_free = count_free,
					      .migrate_to_ram = migrate_noop};

struct env {
	struct zd_world *w;
	struct zd_dev_pagemap *p;
	unsigned long pfn;
};

static void setup(struct env *e, enum zd_regime regime, enum zd_memory_type type, uint64_t size,
		  unsigned int shift, const struct zd_dev_pagemap_ops *o)
{
	struct zd_world_opts opts;

	zd_world_opts_init(&opts);
	opts.regime = regime;
	opts.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&opts, &e->w), 0);
	e->p = zd_pgmap_alloc(1);
	assert_int_equal(
	    zd_request_free_mem_region(e->w, size, ZD_PAGE_SIZE << shift, &e->p->ranges[0]), 0);
	e->p->type = type;
	e->p->vmemmap_shift = shift;
	e->p->ops = o;
	e->p->owner = e;
	e->p->name = "t";
	assert_int_equal(zd_memremap_pages(e->w, e->p), 0);
	e->pfn = e->p->ranges[0].start >> ZD_PAGE_SHIFT;
	nr_freed = 0;
}

static void teardown(struct env *e)
{
	zd_world_destroy(e->w);
	zd_pgmap_free(e->p);
}

static bool reported(struct env *e, const char *id)
{
	enum zd_invariant inv;

	assert_int_equal(zd_invariant_lookup(id, &inv), 0);
	return zd_violation_reported(e->w, inv);
}

static struct zd_folio *folio_at(struct env *e, unsigned long i)
{
	return zd_pfn_folio(e->w, e->pfn + i);
}

#define H ZD_HOLDER(ZD_HOLD_HANDLE, 1)

static void test_refcount_underflow(void **state)
{
	struct env e;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	zd_folio_put(folio_at(&e, 0), H);
	assert_true(reported(&e, "refcount-underflow"));
	assert_int_equal(zd_folio_ref_count(folio_at(&e, 0)), 0); /* refused, not wrapped */
	teardown(&e);
}

static void test_get_on_zero(void **state)
{
	struct env e;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	zd_folio_get(folio_at(&e, 3), H);
	assert_true(reported(&e, "get-on-zero"));
	teardown(&e);
}

static void test_tail_refcount_and_stale_compound(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 4 << 20, 0, &ops);
	f = folio_at(&e, 0);
	assert_int_equal(zd_zone_device_folio_init(f, e.p, ZD_PMD_ORDER, H), 0);
	assert_int_equal(zd_audit(e.w), 0);
	zd_atomic_set_relaxed(&zd_pfn_to_page(e.w, e.pfn + 17)->_refcount, 1);
	zd_audit(e.w);
	assert_true(reported(&e, "tail-refcount"));
	zd_atomic_set_relaxed(&zd_pfn_to_page(e.w, e.pfn + 17)->_refcount, 0);
	zd_pfn_to_page(e.w, e.pfn + 40)->compound_head =
	    (uintptr_t)zd_pfn_to_page(e.w, e.pfn + 1) | 1;
	zd_audit(e.w);
	assert_true(reported(&e, "stale-compound"));
	teardown(&e);
}

static void test_mapcount_exceeds_refcount(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	f = folio_at(&e, 0);
	assert_int_equal(zd_zone_device_folio_init(f, e.p, 0, H), 0);
	zd_atomic_set_relaxed(&f->_mapcount, 4); /* five mappings, one reference */
	zd_audit(e.w);
	assert_true(reported(&e, "mapcount-exceeds-refcount"));
	teardown(&e);
}

static void test_generic_refcount_zero(void **state)
{
	struct env e;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_GENERIC, 4 << 20, ZD_PMD_ORDER, NULL);
	zd_folio_put(folio_at(&e, 0), ZD_HOLDER(ZD_HOLD_BASE, 0));
	assert_true(reported(&e, "generic-refcount-zero"));
	/* unified resets it to 1, as free_zone_device_folio does */
	assert_int_equal(zd_folio_ref_count(folio_at(&e, 0)), 1);
	teardown(&e);
}

static void test_free_transition_split_fsdax(void **state)
{
	struct env e;

	setup(&e, ZD_REGIME_SPLIT, ZD_MEMORY_DEVICE_FS_DAX, 1 << 20, 0, NULL);
	zd_folio_put(folio_at(&e, 0), ZD_HOLDER(ZD_HOLD_BASE, 0));
	assert_true(reported(&e, "free-transition"));
	assert_int_equal(zd_folio_ref_count(folio_at(&e, 0)), 0); /* WARN, left at 0 */
	teardown(&e);
}

static void test_folio_free_misuse(void **state)
{
	struct env e;

	/* A P2PDMA pgmap without folio_free: the free is skipped with a WARN. */
	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PCI_P2PDMA, 1 << 20, 0, NULL);
	assert_int_equal(zd_p2pdma_page_get_new(folio_at(&e, 0), H), 0);
	zd_folio_put(folio_at(&e, 0), H);
	assert_true(reported(&e, "folio-free-misuse"));
	teardown(&e);
}

static void test_free_page_referenced(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e, ZD_REGIME_LEGACY, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	f = folio_at(&e, 0);
	assert_int_equal(zd_zone_device_folio_init(f, e.p, 0, H), 0);
	zd_folio_unlock(f);
	zd_folio_put(f, H); /* 2 -> 1: page_free */
	assert_int_equal(nr_freed, 1);
	assert_false(reported(&e, "free-page-referenced"));
	assert_true(zd_folio_try_get(f, ZD_HOLDER(ZD_HOLD_TEMP, 2)));
	assert_true(reported(&e, "free-page-referenced"));
	teardown(&e);
}

static void test_bad_folio_init(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	f = folio_at(&e, 0);
	assert_int_equal(zd_zone_device_folio_init(f, e.p, 0, H), 0);
	assert_int_equal(zd_zone_device_folio_init(f, e.p, 0, H), -EBUSY);
	assert_true(reported(&e, "bad-folio-init"));
	assert_int_equal(zd_folio_ref_count(f), 1); /* nothing changed */
	teardown(&e);
}

static void test_pgmap_ref_mismatch(void **state)
{
	struct env e;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	assert_int_equal(zd_audit(e.w), 0);
	zd_percpu_ref_get(&e.p->ref); /* a reference nobody booked */
	zd_audit(e.w);
	assert_true(reported(&e, "pgmap-ref-mismatch"));
	teardown(&e);
}

struct unmapper {
	struct zd_dev_pagemap *p;
	int ret;
};

static void *unmap_thread(void *arg)
{
	struct unmapper *u = arg;

	u->ret = zd_memunmap_pages(u->p);
	return NULL;
}

static void wait_dying(struct zd_dev_pagemap *p)
{
	while (zd_pgmap_refs(p) && !zd_percpu_ref_is_dying(&p->ref))
		zd_cpu_relax();
}

static void test_pgmap_get_after_kill(void **state)
{
	struct env e;
	struct unmapper u;
	struct zd_thread *t;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	assert_int_equal(zd_zone_device_folio_init(folio_at(&e, 0), e.p, 0, H), 0);
	u.p = e.p;
	t = zd_thread_start(unmap_thread, &u);
	wait_dying(e.p);
	/* unified's zone_device_page_init uses tryget_many: it still succeeds */
	assert_int_equal(
	    zd_zone_device_folio_init(folio_at(&e, 1), e.p, 0, ZD_HOLDER(ZD_HOLD_HANDLE, 2)), 0);
	assert_true(reported(&e, "pgmap-get-after-kill"));
	zd_folio_unlock(folio_at(&e, 0));
	zd_folio_unlock(folio_at(&e, 1));
	zd_folio_put(folio_at(&e, 0), H);
	zd_folio_put(folio_at(&e, 1), ZD_HOLDER(ZD_HOLD_HANDLE, 2));
	zd_thread_join(t);
	assert_int_equal(u.ret, 0);
	teardown(&e);
}

static void test_unplug_before_drain(void **state)
{
	struct zd_world_opts opts;
	struct unmapper u;
	struct zd_thread *t;
	struct env e;

	zd_world_opts_init(&opts);
	opts.regime = ZD_REGIME_LEGACY;
	assert_int_equal(zd_world_create(&opts, &e.w), 0);
	assert_int_equal(zd_world_enable_bug(e.w, "unplug-before-drain"), 0);
	e.p = zd_pgmap_alloc(1);
	assert_int_equal(zd_request_free_mem_region(e.w, 1 << 20, 4096, &e.p->ranges[0]), 0);
	e.p->type = ZD_MEMORY_DEVICE_PRIVATE;
	e.p->ops = &ops;
	e.p->owner = &e;
	e.p->name = "t";
	assert_int_equal(zd_memremap_pages(e.w, e.p), 0);
	e.pfn = e.p->ranges[0].start >> ZD_PAGE_SHIFT;
	assert_int_equal(zd_zone_device_folio_init(folio_at(&e, 0), e.p, 0, H), 0);
	/* keep the folio pointer: after the unplug the pfn no longer resolves */
	{
		struct zd_folio *f = folio_at(&e, 0);

		zd_folio_unlock(f);
		u.p = e.p;
		t = zd_thread_start(unmap_thread, &u);
		while (zd_pgmap_state(e.p) != ZD_PGMAP_DEAD)
			zd_cpu_relax();
		assert_true(reported(&e, "unplug-before-drain"));
		zd_folio_put(f, H); /* the final put touches unplugged struct pages */
		zd_thread_join(t);
	}
	assert_true(reported(&e, "use-after-unplug"));
	teardown(&e);
}

static void test_memunmap_busy_page_and_use_after_unplug(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_FS_DAX, 1 << 20, 0, NULL);
	f = folio_at(&e, 0);
	assert_int_equal(zd_dax_folio_get(f, H), 0);
	assert_int_equal(zd_memunmap_pages(e.p), 0); /* FS DAX: memunmap does not wait */
	assert_true(reported(&e, "memunmap-busy-page"));
	zd_folio_put(f, H);
	assert_true(reported(&e, "use-after-unplug"));
	teardown(&e);
}

static void test_altmap_misuse(void **state)
{
	struct env e;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_GENERIC, 1 << 20, 0, NULL);
	e.p->flags |= ZD_PGMAP_ALTMAP_VALID;
	e.p->altmap.alloc = 3; /* struct pages still allocated from the altmap */
	assert_int_equal(zd_memunmap_pages(e.p), 0);
	assert_true(reported(&e, "altmap-misuse"));
	teardown(&e);
}

static void test_page_pgmap_mismatch(void **state)
{
	struct env e, other;
	struct zd_folio *f;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	other.p = zd_pgmap_alloc(1);
	other.p->type = ZD_MEMORY_DEVICE_PRIVATE;
	f = folio_at(&e, 5);
	f->pgmap = other.p;
	zd_audit(e.w);
	assert_true(reported(&e, "page-pgmap-mismatch"));
	f->pgmap = e.p;
	teardown(&e);
	zd_pgmap_free(other.p);
}

static void test_shared_tail_write(void **state)
{
	struct env e;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_GENERIC, 4 << 20, ZD_PMD_ORDER, NULL);
	assert_int_equal(zd_audit(e.w), 0);
	zd_pfn_to_page(e.w, e.pfn + 300)->private = 1; /* every tail >= 2 is this one page */
	zd_audit(e.w);
	assert_true(reported(&e, "shared-tail-write"));
	teardown(&e);
}

static void test_refcount_unexplained_and_put_without_ref(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e, ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
	f = folio_at(&e, 0);
	assert_int_equal(zd_zone_device_folio_init(f, e.p, 0, H), 0);
	assert_int_equal(zd_audit(e.w), 0);
	zd_atomic_add_return_relaxed(&f->_refcount, 1); /* nobody's reference */
	zd_audit(e.w);
	assert_true(reported(&e, "refcount-unexplained"));
	zd_folio_put(f, ZD_HOLDER(ZD_HOLD_HANDLE, 99)); /* a holder that holds nothing */
	assert_true(reported(&e, "put-without-ref"));
	teardown(&e);
}

static void test_fsdax_missed_wakeup(void **state)
{
	struct zd_world_opts opts;
	struct env e;
	struct zd_folio *f;

	zd_world_opts_init(&opts);
	assert_int_equal(zd_world_create(&opts, &e.w), 0);
	assert_int_equal(zd_world_enable_bug(e.w, "free-path-requires-ops"), 0);
	e.p = zd_pgmap_alloc(1);
	assert_int_equal(zd_request_free_mem_region(e.w, 1 << 20, 4096, &e.p->ranges[0]), 0);
	e.p->type = ZD_MEMORY_DEVICE_FS_DAX;
	e.p->name = "t";
	assert_int_equal(zd_memremap_pages(e.w, e.p), 0);
	e.pfn = e.p->ranges[0].start >> ZD_PAGE_SHIFT;
	f = folio_at(&e, 0);
	assert_int_equal(zd_dax_folio_get(f, H), 0);
	zd_folio_put(f, H);
	assert_true(reported(&e, "fsdax-missed-wakeup"));
	teardown(&e);
}

/* The clean counterpart: the normal life of every type leaves nothing to report. */
static void test_clean_lifecycle(void **state)
{
	int r;

	for (r = 0; r < ZD_NR_REGIMES; r++) {
		struct env e;
		struct zd_folio *f;

		setup(&e, (enum zd_regime)r, ZD_MEMORY_DEVICE_PRIVATE, 1 << 20, 0, &ops);
		f = folio_at(&e, 0);
		assert_int_equal(zd_zone_device_folio_init(f, e.p, 0, H), 0);
		zd_folio_unlock(f);
		assert_int_equal(zd_audit(e.w), 0);
		zd_folio_put(f, H);
		assert_int_equal(nr_freed, 1);
		assert_int_equal(zd_memunmap_pages(e.p), 0);
		assert_int_equal(zd_violation_count(e.w), 0);
		teardown(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refcount_underflow),
	    cmocka_unit_test(test_get_on_zero),
	    cmocka_unit_test(test_tail_refcount_and_stale_compound),
	    cmocka_unit_test(test_mapcount_exceeds_refcount),
	    cmocka_unit_test(test_generic_refcount_zero),
	    cmocka_unit_test(test_free_transition_split_fsdax),
	    cmocka_unit_test(test_folio_free_misuse),
	    cmocka_unit_test(test_free_page_referenced),
	    cmocka_unit_test(test_bad_folio_init),
	    cmocka_unit_test(test_pgmap_ref_mismatch),
	    cmocka_unit_test(test_pgmap_get_after_kill),
	    cmocka_unit_test(test_unplug_before_drain),
	    cmocka_unit_test(test_memunmap_busy_page_and_use_after_unplug),
	    cmocka_unit_test(test_altmap_misuse),
	    cmocka_unit_test(test_page_pgmap_mismatch),
	    cmocka_unit_test(test_shared_tail_write),
	    cmocka_unit_test(test_refcount_unexplained_and_put_without_ref),
	    cmocka_unit_test(test_fsdax_missed_wakeup),
	    cmocka_unit_test(test_clean_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
