/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the step checks (src/check/step.c), the explorer's cheap
 * invariants after each scheduling point. Each check is broken on purpose
 * behind the model's back (raw writes no operation would make, so the
 * model's own checks at the operations stay silent) and the pass must name
 * it; ordinary operations must pass clean.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "page/page_internal.h"
#include "world.h"

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

#define H ZD_HOLDER(ZD_HOLD_HANDLE, 1)

static void setup(struct env *e)
{
	struct zd_world_opts opts;

	zd_world_opts_init(&opts);
	opts.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&opts, &e->w), 0);
	e->p = zd_pgmap_alloc(1);
	assert_int_equal(zd_request_free_mem_region(e->w, 1 << 20, ZD_PAGE_SIZE, &e->p->ranges[0]),
			 0);
	e->p->type = ZD_MEMORY_DEVICE_PRIVATE;
	e->p->ops = &ops;
	e->p->owner = e;
	e->p->name = "t";
	assert_int_equal(zd_memremap_pages(e->w, e->p), 0);
	e->pfn = e->p->ranges[0].start >> ZD_PAGE_SHIFT;
	nr_freed = 0;
	assert_int_equal(zd_check_step_enable(e->w, true), 0);
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

/* An allocated device folio (refcount 1), its init noted by the step log. */
static struct zd_folio *alloc_dev(struct env *e, unsigned long i)
{
	struct zd_folio *f = zd_pfn_folio(e->w, e->pfn + i);

	assert_int_equal(zd_zone_device_folio_init(f, e->p, 0, H), 0);
	zd_folio_unlock(f);
	return f;
}

static void test_clean_operations(void **state)
{
	struct env e;
	struct zd_folio *f, *r;

	(void)state;
	setup(&e);
	f = alloc_dev(&e, 0);
	r = zd_folio_alloc(e.w, 0, H);
	assert_non_null(r);
	zd_folio_get(f, H);
	assert_int_equal(zd_check_step(e.w, false), 0);
	zd_folio_put(f, H);
	zd_folio_put(f, H); /* the free transition and its callback */
	zd_folio_put(r, H);
	assert_int_equal(nr_freed, 1);
	assert_int_equal(zd_check_step(e.w, true), 0);
	assert_int_equal(zd_check_step_passes(e.w), 2);
	assert_int_equal(zd_violation_count(e.w), 0);
	teardown(&e);
}

static void test_refcount_negative(void **state)
{
	struct env e;
	struct zd_folio *f;

	(void)state;
	setup(&e);
	f = alloc_dev(&e, 1);
	zd_atomic_set_relaxed(&f->_refcount, -1);
	assert_int_equal(zd_check_step(e.w, false), 1);
	assert_true(reported(&e, "refcount-underflow"));
	zd_atomic_set_relaxed(&f->_refcount, 1);
	teardown(&e);
}

static void test_reference_on_free_device_page(void **state)
{
	struct env e;
	struct zd_folio *f;

	(void)state;
	setup(&e);
	f = alloc_dev(&e, 2);
	zd_folio_set_flag(f, ZD_PG_devfree); /* as if freed, yet still referenced */
	assert_int_equal(zd_check_step(e.w, false), 1);
	assert_true(reported(&e, "free-page-referenced"));
	zd_folio_clear_flag(f, ZD_PG_devfree);
	teardown(&e);
}

static void test_reference_on_free_ram_page(void **state)
{
	struct env e;
	struct zd_folio *r;

	(void)state;
	setup(&e);
	r = zd_folio_alloc(e.w, 0, H);
	assert_non_null(r);
	zd_folio_set_flag(r, ZD_PG_buddy); /* as if in the allocator, yet referenced */
	assert_int_equal(zd_check_step(e.w, false), 1);
	assert_true(reported(&e, "get-on-zero"));
	zd_folio_clear_flag(r, ZD_PG_buddy);
	teardown(&e);
}

static void test_free_callback_once_per_transition(void **state)
{
	struct env e;
	struct zd_folio *f;

	(void)state;
	setup(&e);
	f = alloc_dev(&e, 3);
	zd_folio_put(f, H);
	assert_int_equal(zd_check_step(e.w, true), 0);
	/* a second callback without a transition: caught even mid-execution */
	zd_free_zone_device_folio(f);
	assert_int_equal(nr_freed, 2);
	assert_int_equal(zd_check_step(e.w, false), 1);
	assert_true(reported(&e, "free-transition"));
	teardown(&e);
}

static void test_free_transition_without_callback(void **state)
{
	struct env e;

	(void)state;
	setup(&e);
	e.w->step->free_events++; /* a transition whose callback never came */
	assert_int_equal(zd_check_step(e.w, false), 0); /* may be in flight */
	assert_int_equal(zd_check_step(e.w, true), 1);	/* at rest it is missing */
	assert_true(reported(&e, "free-transition"));
	teardown(&e);
}

static void test_use_after_memunmap(void **state)
{
	struct env e;
	struct zd_folio *f;
	int live;

	(void)state;
	setup(&e);
	f = alloc_dev(&e, 4);
	live = zd_atomic_read_relaxed(&e.p->state);
	zd_atomic_set_relaxed(&e.p->state, ZD_PGMAP_DEAD); /* the step ended after memunmap */
	assert_int_equal(zd_check_step(e.w, false), 1);
	assert_true(reported(&e, "use-after-unplug"));
	zd_atomic_set_relaxed(&e.p->state, live);
	(void)f;
	teardown(&e);
}

static void test_log_overflow_checks_everything(void **state)
{
	struct env e;
	struct zd_folio *f = NULL;
	unsigned long i;

	(void)state;
	setup(&e);
	for (i = 0; i < ZD_STEP_LOG + 6; i++)
		f = alloc_dev(&e, 10 + i);
	assert_true(e.w->step->overflow);
	/* a page the log did not keep: the full scan finds it */
	zd_atomic_set_relaxed(&f->_refcount, -2);
	assert_int_equal(zd_check_step(e.w, false), 1);
	assert_true(reported(&e, "refcount-underflow"));
	assert_false(e.w->step->overflow);
	zd_atomic_set_relaxed(&f->_refcount, 1);
	teardown(&e);
}

static void test_disabled_is_silent(void **state)
{
	struct env e;
	struct zd_folio *f;

	(void)state;
	setup(&e);
	f = alloc_dev(&e, 5);
	assert_int_equal(zd_check_step_enable(e.w, false), 0);
	zd_atomic_set_relaxed(&f->_refcount, -1);
	assert_int_equal(zd_check_step(e.w, false), 0);
	assert_int_equal(zd_check_step_passes(e.w), 0);
	zd_atomic_set_relaxed(&f->_refcount, 1);
	teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean_operations),
	    cmocka_unit_test(test_refcount_negative),
	    cmocka_unit_test(test_reference_on_free_device_page),
	    cmocka_unit_test(test_reference_on_free_ram_page),
	    cmocka_unit_test(test_free_callback_once_per_transition),
	    cmocka_unit_test(test_free_transition_without_callback),
	    cmocka_unit_test(test_use_after_memunmap),
	    cmocka_unit_test(test_log_overflow_checks_everything),
	    cmocka_unit_test(test_disabled_is_silent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
