/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the DAX filesystem on pmem: faults and association per
 * regime, layout breaking that sleeps while a page is busy and wakes on the
 * regime's idle transition, notify_failure, bad input, and each FS DAX
 * invariant broken on purpose.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/gup.h"
#include "zonedev/dax.h"
#include "sync/sync.h"
#include "dax/dax_internal.h"

#define H ZD_HOLDER(ZD_HOLD_HANDLE, 1)

struct denv {
	struct zd_world *w;
	struct zd_device *dev;
	struct zd_daxfs *fs;
	struct zd_mm *mm;
	uint64_t addr;
};

static void dsetup(struct denv *e, enum zd_regime regime, uint64_t size, unsigned int align_order)
{
	struct zd_world_opts opts;
	struct zd_device_config cfg = {.name = "pmem0",
				       .type = ZD_MEMORY_DEVICE_FS_DAX,
				       .size = size,
				       .align_order = align_order};

	zd_world_opts_init(&opts);
	opts.regime = regime;
	opts.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&opts, &e->w), 0);
	assert_int_equal(zd_device_create(e->w, &cfg, &e->dev), 0);
	e->fs = zd_pmem_fs(e->dev);
	assert_non_null(e->fs);
	assert_int_equal(zd_mm_create(e->w, "P", &e->mm), 0);
}

/* A file of `size` mapped at e->addr and written (every page faulted in). */
static void dfile(struct denv *e, const char *name, uint64_t size)
{
	static unsigned char buf[4096];
	uint64_t off;

	assert_int_equal(zd_dax_create(e->fs, name, size), 0);
	assert_int_equal(zd_dax_mmap(e->fs, name, e->mm, size, ZD_PROT_READ | ZD_PROT_WRITE,
				     &e->addr),
			 0);
	for (off = 0; off < size; off += sizeof(buf)) {
		memset(buf, (int)(off >> 12) + 1, sizeof(buf));
		assert_int_equal(zd_access_write(e->mm, e->addr + off, buf, sizeof(buf)), 0);
	}
}

static void dteardown(struct denv *e)
{
	struct zd_device *dev = e->dev;

	zd_world_destroy(e->w);
	(void)dev; /* freed by the world's cleanup */
}

static bool dreported(struct denv *e, const char *id)
{
	enum zd_invariant inv;

	assert_int_equal(zd_invariant_lookup(id, &inv), 0);
	return zd_violation_reported(e->w, inv);
}

struct trunc_arg {
	struct zd_daxfs *fs;
	int ret;
};

static void task_truncate(void *arg)
{
	struct trunc_arg *t = arg;

	t->ret = zd_dax_truncate(t->fs, "f", 0);
}

/* Truncate sleeps while a reference other than the mapping's is held, under every regime. */
static void test_truncate_waits_for_busy_page(void **state)
{
	int r;

	(void)state;
	for (r = 0; r < ZD_NR_REGIMES; r++) {
		struct denv e;
		struct zd_folio *folio;
		struct zd_task_group *g;
		struct zd_task *t;
		struct trunc_arg ta;
		int idle;

		dsetup(&e, (enum zd_regime)r, 2 << 20, 0);
		dfile(&e, "f", 8192);
		folio = zd_mm_folio(e.mm, e.addr);
		assert_non_null(folio);
		idle = r == ZD_REGIME_UNIFIED ? 0 : 1;
		/* unified: the mapping's reference; older: the idle 1 (devmap entries hold none) */
		assert_int_equal(zd_folio_ref_count(folio), 1);
		assert_int_equal(zd_folio_mapcount(folio), r == ZD_REGIME_UNIFIED ? 1 : 0);
		assert_false(zd_dax_folio_busy(folio));
		zd_folio_get(folio, H); /* a DMA reference */
		assert_true(zd_dax_folio_busy(folio));

		ta.fs = e.fs;
		ta.ret = 1;
		g = zd_task_group_create();
		t = zd_task_start(g, task_truncate, &ta);
		zd_task_group_quiesce(g);
		assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
		assert_non_null(strstr(zd_task_waiting_on(t), "truncate of f"));
		assert_null(zd_mm_folio(e.mm, e.addr)); /* unmapped before the wait */
		assert_int_equal(zd_audit(e.w), 0);

		zd_folio_put(folio, H); /* the regime's idle transition wakes it */
		zd_task_group_quiesce(g);
		assert_int_equal(zd_task_state(t), ZD_TASK_DONE);
		zd_task_join(t);
		zd_task_group_destroy(g);
		assert_int_equal(ta.ret, 0);
		assert_int_equal(zd_folio_ref_count(folio), idle);
		assert_null(folio->mapping);
		assert_int_equal(zd_dax_file_blocks(e.fs, "f"), 0);
		assert_int_equal(zd_daxfs_nr_free(e.fs), 512);
		assert_int_equal(zd_access_read(e.mm, e.addr, &idle, sizeof(idle)), ZD_SIGBUS);
		assert_int_equal(zd_audit(e.w), 0);
		dteardown(&e);
	}
}

/* Nothing busy: truncate and punch complete at once; a mapping alone is not busy. */
static void test_not_busy_completes(void **state)
{
	struct denv e;
	unsigned char c = 0;

	(void)state;
	dsetup(&e, ZD_REGIME_UNIFIED, 2 << 20, 0);
	dfile(&e, "f", 16384);
	assert_int_equal(zd_dax_punch(e.fs, "f", 4096, 4096), 0);
	assert_int_equal(zd_dax_file_blocks(e.fs, "f"), 3);
	assert_int_equal(zd_access_read(e.mm, e.addr + 4096, &c, 1), 0);
	assert_int_equal(c, 0); /* a hole reads as zero (a new zeroed block) */
	assert_int_equal(zd_access_read(e.mm, e.addr + 8192, &c, 1), 0);
	assert_int_equal(c, 3);
	assert_int_equal(zd_dax_truncate(e.fs, "f", 4096), 0);
	assert_int_equal(zd_dax_file_blocks(e.fs, "f"), 1);
	assert_int_equal(zd_audit(e.w), 0);
	dteardown(&e);
}

/* Bad input fails with an errno and leaves the filesystem as it was. */
static void test_bad_input(void **state)
{
	struct denv e;
	uint64_t addr;

	(void)state;
	dsetup(&e, ZD_REGIME_SPLIT, 2 << 20, 0);
	assert_int_equal(zd_dax_create(e.fs, "f", 8192), 0);
	assert_int_equal(zd_dax_create(e.fs, "f", 8192), -EEXIST);
	assert_int_equal(zd_dax_create(e.fs, "big", 4 << 20), -ENOMEM);
	assert_int_equal(zd_dax_create(e.fs, "", 4096), -EINVAL);
	assert_int_equal(zd_dax_create(NULL, "x", 4096), -EINVAL);
	assert_int_equal(zd_dax_truncate(e.fs, "nope", 0), -ENOENT);
	assert_int_equal(zd_dax_punch(e.fs, "f", 100, 4096), -EINVAL);
	assert_int_equal(zd_dax_punch(e.fs, "f", 0, 0), -EINVAL);
	assert_int_equal(zd_dax_reflink(e.fs, "f", "f"), -EINVAL);
	assert_int_equal(zd_dax_reflink(e.fs, "g", "nope"), -ENOENT);
	assert_int_equal(zd_dax_reflink(e.fs, "f", "nope"), -ENOENT); /* f stays as it was */
	assert_int_equal(zd_dax_file_blocks(e.fs, "f"), 2);
	assert_int_equal(zd_dax_reflink(e.fs, "", "f"), -EINVAL);
	assert_int_equal(zd_dax_delete(e.fs, "nope"), -ENOENT);
	assert_int_equal(zd_dax_mmap(e.fs, "nope", e.mm, 4096, ZD_PROT_READ, &addr), -ENOENT);
	assert_int_equal(zd_daxfs_nr_free(e.fs), 510);
	assert_int_equal(zd_dax_file_blocks(e.fs, "f"), 2);
	assert_int_equal(zd_audit(e.w), 0);
	dteardown(&e);
}

/* FOLL_LONGTERM on a DAX mapping is refused; a short-term pin works. */
static void test_longterm_pin_refused(void **state)
{
	unsigned long pfn;
	int r;

	(void)state;
	for (r = 0; r < ZD_NR_REGIMES; r++) {
		struct denv e;

		dsetup(&e, (enum zd_regime)r, 2 << 20, 0);
		dfile(&e, "f", 4096);
		assert_int_equal(zd_pin_user_pages(e.mm, e.addr, 1, ZD_FOLL_LONGTERM, &pfn,
						   ZD_HOLDER(ZD_HOLD_PIN_LONGTERM, 1)),
				 -EOPNOTSUPP);
		assert_int_equal(zd_pin_user_pages(e.mm, e.addr, 1, 0, &pfn,
						   ZD_HOLDER(ZD_HOLD_PIN, 1)),
				 1);
		zd_unpin_user_pages(e.w, &pfn, 1, false, ZD_HOLDER(ZD_HOLD_PIN, 1));
		assert_int_equal(zd_audit(e.w), 0);
		dteardown(&e);
	}
}

/* PMD faults build an order-9 folio in unified (dissolved on truncate); base pages before. */
static void test_pmd_association(void **state)
{
	int r;

	(void)state;
	for (r = 0; r < ZD_NR_REGIMES; r++) {
		struct denv e;
		struct zd_entry_info info;
		struct zd_folio *folio;
		unsigned int order = r == ZD_REGIME_UNIFIED ? 9 : 0;

		dsetup(&e, (enum zd_regime)r, 4 << 20, 9);
		dfile(&e, "f", 2 << 20);
		assert_int_equal(zd_mm_entry(e.mm, e.addr, &info), 0);
		assert_int_equal(info.kind, ZD_ENTRY_PMD);
		folio = zd_mm_folio(e.mm, e.addr + 8192);
		assert_int_equal(zd_folio_order(folio), order);
		assert_int_equal(zd_audit(e.w), 0);
		assert_int_equal(zd_dax_truncate(e.fs, "f", 0), 0);
		folio = zd_pfn_folio(e.w, e.fs->first_pfn);
		assert_int_equal(zd_folio_order(folio), 0);
		assert_null(folio->mapping);
		assert_int_equal(zd_audit(e.w), 0);
		dteardown(&e);
	}
}

/* reflink: one page associated with two files is in share mode. */
static void test_reflink_share(void **state)
{
	struct denv e;
	struct zd_folio *folio;
	uint64_t b;
	unsigned char c;

	(void)state;
	dsetup(&e, ZD_REGIME_UNIFIED, 2 << 20, 0);
	dfile(&e, "f", 4096);
	assert_int_equal(zd_dax_reflink(e.fs, "g", "f"), 0);
	assert_int_equal(zd_dax_mmap(e.fs, "g", e.mm, 4096, ZD_PROT_READ, &b), 0);
	assert_int_equal(zd_access_read(e.mm, b, &c, 1), 0);
	assert_int_equal(c, 1);
	folio = zd_mm_folio(e.mm, b);
	assert_ptr_equal(folio, zd_mm_folio(e.mm, e.addr));
	assert_null(folio->mapping);
	assert_int_equal(folio->share, 2);
	assert_int_equal(zd_audit(e.w), 0);
	assert_int_equal(zd_dax_delete(e.fs, "f"), 0); /* g's mapping does not make it busy */
	assert_int_equal(folio->share, 1);
	assert_int_equal(zd_daxfs_nr_free(e.fs), 511);
	assert_int_equal(zd_dax_delete(e.fs, "g"), 0);
	assert_int_equal(folio->share, 0);
	assert_int_equal(zd_daxfs_nr_free(e.fs), 512);
	assert_int_equal(zd_audit(e.w), 0);
	dteardown(&e);
}

/* A write through a reflinked file copies the block: the other file keeps its data. */
static void test_reflink_cow(void **state)
{
	unsigned char c = 0x77, d = 0;
	struct denv e;
	uint64_t b;
	int r;

	(void)state;
	for (r = 0; r < ZD_NR_REGIMES; r++) {
		dsetup(&e, (enum zd_regime)r, 4 << 20, 9);
		dfile(&e, "f", 2 << 20);
		assert_int_equal(zd_dax_reflink(e.fs, "g", "f"), 0);
		assert_int_equal(zd_dax_mmap(e.fs, "g", e.mm, 2 << 20,
					     ZD_PROT_READ | ZD_PROT_WRITE, &b),
				 0);
		assert_int_equal(zd_access_read(e.mm, b + 4096, &d, 1), 0);
		assert_int_equal(d, 2);
		assert_int_equal(zd_access_write(e.mm, b + 4096, &c, 1), 0);
		assert_int_equal(zd_access_read(e.mm, e.addr + 4096, &d, 1), 0);
		assert_int_equal(d, 2); /* f unchanged */
		assert_int_equal(zd_access_read(e.mm, b + 4096, &d, 1), 0);
		assert_int_equal(d, 0x77);
		assert_ptr_not_equal(zd_mm_folio(e.mm, b + 4096), zd_mm_folio(e.mm, e.addr + 4096));
		assert_int_equal(zd_daxfs_nr_free(e.fs), 511);
		assert_int_equal(zd_audit(e.w), 0);
		dteardown(&e);
	}
}

/* pmem's memory_failure: the owning file's page is poisoned and unmapped; others fall back. */
static void test_notify_failure(void **state)
{
	struct zd_dev_pagemap *pgmap;
	unsigned long pfn;
	unsigned char c;
	struct denv e;

	(void)state;
	dsetup(&e, ZD_REGIME_UNIFIED, 2 << 20, 0);
	dfile(&e, "f", 8192);
	pgmap = zd_device_pgmap(e.dev, 0);
	pfn = zd_mm_folio(e.mm, e.addr)->pfn;
	assert_non_null(pgmap->ops->memory_failure);
	assert_int_equal(pgmap->ops->memory_failure(pgmap, pfn, 1, 0), 0);
	assert_true(zd_page_test_flag(zd_pfn_to_page(e.w, pfn), ZD_PG_hwpoison));
	assert_null(zd_mm_folio(e.mm, e.addr));
	assert_int_equal(zd_access_read(e.mm, e.addr, &c, 1), ZD_SIGBUS);
	assert_int_equal(zd_access_read(e.mm, e.addr + 4096, &c, 1), 0); /* its neighbour is fine */
	/* a block no file owns: the core's generic handling */
	assert_int_equal(pgmap->ops->memory_failure(pgmap, e.fs->first_pfn + 100, 1, 0),
			 -EOPNOTSUPP);
	dteardown(&e);
}

/* ---- invariants broken on purpose ------------------------------------------------------- */

/* §5.6 fsdax-cache-ref: the file (its DAX entry) holds a folio reference. */
static void test_inv_cache_ref(void **state)
{
	struct zd_folio *folio;
	struct denv e;

	(void)state;
	dsetup(&e, ZD_REGIME_UNIFIED, 2 << 20, 0);
	dfile(&e, "f", 4096);
	folio = zd_mm_folio(e.mm, e.addr);
	zd_folio_get(folio, ZD_HOLDER(ZD_HOLD_FILE, e.fs));
	assert_true(zd_audit(e.w) > 0);
	assert_true(dreported(&e, "fsdax-cache-ref"));
	zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_FILE, e.fs));
	dteardown(&e);
}

/* §5.27 fsdax-association: the index word no longer names the file page. */
static void test_inv_association(void **state)
{
	struct zd_folio *folio;
	struct denv e;

	(void)state;
	dsetup(&e, ZD_REGIME_SPLIT, 2 << 20, 0);
	dfile(&e, "f", 8192);
	folio = zd_mm_folio(e.mm, e.addr + 4096);
	assert_int_equal(folio->index, 1);
	folio->index = 7;
	assert_true(zd_audit(e.w) > 0);
	assert_true(dreported(&e, "fsdax-association"));
	folio->index = 1;
	dteardown(&e);
}

/* §5.28 fsdax-entry-order: the order-9 folio of a PMD entry dissolved behind the entry's back. */
static void test_inv_entry_order(void **state)
{
	struct zd_folio *folio;
	struct denv e;

	(void)state;
	dsetup(&e, ZD_REGIME_UNIFIED, 4 << 20, 9);
	dfile(&e, "f", 2 << 20);
	assert_int_equal(zd_dax_truncate(e.fs, "f", 2 << 20), 0);
	assert_int_equal(zd_munmap(e.mm, e.addr, 2 << 20), 0);
	folio = zd_pfn_folio(e.w, e.fs->first_pfn);
	assert_int_equal(zd_folio_order(folio), 9);
	assert_int_equal(zd_folio_ref_count(folio), 0);
	zd_clear_compound(&folio->page, 9);
	assert_true(zd_audit(e.w) > 0);
	assert_true(dreported(&e, "fsdax-entry-order"));
	dteardown(&e);
}

/* §5.29-30 fsdax-busy-block-freed: a block is given back while its page is pinned. */
static void test_inv_busy_block_freed(void **state)
{
	struct zd_folio *folio;
	struct denv e;
	long b;

	(void)state;
	dsetup(&e, ZD_REGIME_LEGACY, 2 << 20, 0);
	dfile(&e, "f", 4096);
	folio = zd_mm_folio(e.mm, e.addr);
	zd_folio_get(folio, H);
	b = (long)(folio->pfn - e.fs->first_pfn);
	e.fs->blkref[b] = 0; /* the filesystem forgets the block without breaking the layout */
	assert_true(zd_audit(e.w) > 0);
	assert_true(dreported(&e, "fsdax-busy-block-freed"));
	e.fs->blkref[b] = 1;
	zd_folio_put(folio, H);
	dteardown(&e);
}

/*
 * §5.13 fsdax-missed-wakeup (the split regime's off-by-one class): with
 * the bug switched on, a batched put skips the 2 -> 1 wake-up; the truncate
 * sleeps on an idle page and the audit names it. Without the bug the same
 * put wakes it.
 */
static void test_inv_missed_wakeup(void **state)
{
	int bug;

	(void)state;
	for (bug = 0; bug < 2; bug++) {
		struct zd_world_opts opts;
		struct zd_device_config cfg = {
		    .name = "pmem0", .type = ZD_MEMORY_DEVICE_FS_DAX, .size = 2 << 20};
		struct zd_task_group *g;
		struct zd_folio *folio;
		struct trunc_arg ta;
		struct zd_task *t;
		struct denv e;
		int one = 1;

		zd_world_opts_init(&opts);
		opts.regime = ZD_REGIME_SPLIT;
		opts.ram_bytes = 16ull << 20;
		assert_int_equal(zd_world_create(&opts, &e.w), 0);
		if (bug)
			assert_int_equal(zd_world_enable_bug(e.w, "fsdax-missed-wake"), 0);
		assert_int_equal(zd_device_create(e.w, &cfg, &e.dev), 0);
		e.fs = zd_pmem_fs(e.dev);
		assert_int_equal(zd_mm_create(e.w, "P", &e.mm), 0);
		dfile(&e, "f", 4096);
		folio = zd_mm_folio(e.mm, e.addr);
		zd_folio_get(folio, H);
		ta.fs = e.fs;
		ta.ret = 1;
		g = zd_task_group_create();
		t = zd_task_start(g, task_truncate, &ta);
		zd_task_group_quiesce(g);
		assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
		zd_folios_put_refs(&folio, &one, 1, H); /* the batched release path */
		zd_task_group_quiesce(g);
		assert_int_equal(zd_folio_ref_count(folio), 1);
		if (bug) {
			assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
			assert_true(zd_audit(e.w) > 0);
			assert_true(dreported(&e, "fsdax-missed-wakeup"));
			zd_task_group_cancel(g);
		} else {
			assert_int_equal(zd_task_state(t), ZD_TASK_DONE);
			assert_int_equal(ta.ret, 0);
			assert_int_equal(zd_audit(e.w), 0);
		}
		zd_task_join(t);
		zd_task_group_destroy(g);
		dteardown(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truncate_waits_for_busy_page),
	    cmocka_unit_test(test_not_busy_completes),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_longterm_pin_refused),
	    cmocka_unit_test(test_pmd_association),
	    cmocka_unit_test(test_reflink_share),
	    cmocka_unit_test(test_reflink_cow),
	    cmocka_unit_test(test_notify_failure),
	    cmocka_unit_test(test_inv_cache_ref),
	    cmocka_unit_test(test_inv_association),
	    cmocka_unit_test(test_inv_entry_order),
	    cmocka_unit_test(test_inv_busy_block_freed),
	    cmocka_unit_test(test_inv_missed_wakeup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
