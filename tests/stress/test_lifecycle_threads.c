/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the pgmap lifecycle on real threads: memunmap returns only
 * after another thread drops the last reference; allocation, speculative
 * references and frees racing on one device leave a clean world.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "sync/sync.h"

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

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

struct remover {
	struct zd_device *dev;
	zd_atomic_t *released; /* set by the main thread just before its last put */
	zd_atomic_t done;
	int saw_released;
	int ret;
};

static void *remove_thread(void *arg)
{
	struct remover *r = arg;

	r->ret = zd_device_remove(r->dev);
	r->saw_released = zd_atomic_read_acquire(r->released);
	zd_atomic_set_release(&r->done, 1);
	return NULL;
}

static void test_memunmap_waits_for_last_put(void **state)
{
	static const enum zd_memory_type types[] = {
	    ZD_MEMORY_DEVICE_PRIVATE, ZD_MEMORY_DEVICE_COHERENT, ZD_MEMORY_DEVICE_PCI_P2PDMA};
	size_t t;
	int reg;

	for (reg = 0; reg < ZD_NR_REGIMES; reg++) {
		for (t = 0; t < 3; t++) {
			struct zd_world *w = new_world((enum zd_regime)reg);
			struct zd_device_config cfg = {
			    .name = "dev", .type = types[t], .size = 1 << 20};
			struct zd_holder h = ZD_HOLDER(ZD_HOLD_HANDLE, 1);
			struct zd_folio *folios[ZD_DEVICE_MAX_ALLOC];
			struct zd_device *dev;
			struct remover r = {0};
			zd_atomic_t released = {0};
			struct zd_thread *th;
			int nr, i;

			assert_int_equal(zd_device_create(w, &cfg, &dev), 0);
			assert_int_equal(zd_device_alloc_pages(dev, 0, -1, h, folios, &nr), 0);
			r.dev = dev;
			r.released = &released;
			th = zd_thread_start(remove_thread, &r);
			assert_non_null(th);
			/*
			 * Wait for the removal to begin (on a loaded machine the thread may
			 * take long to start), then give it time to reach its wait.
			 */
			for (i = 0; i < 10000 && zd_pgmap_state(zd_device_pgmap(dev, 0)) ==
							 ZD_PGMAP_LIVE;
			     i++)
				sleep_ms(1);
			sleep_ms(30);
			/* memunmap is waiting for the page's pgmap reference. */
			assert_int_equal(zd_atomic_read_acquire(&r.done), 0);
			assert_int_equal(zd_pgmap_state(zd_device_pgmap(dev, 0)), ZD_PGMAP_DYING);
			zd_atomic_set_release(&released, 1);
			assert_int_equal(zd_device_free_pages(dev, folios, nr, h), 0);
			zd_thread_join(th);
			assert_int_equal(r.ret, 0);
			assert_int_equal(r.saw_released, 1);
			assert_int_equal(zd_pgmap_state(zd_device_pgmap(dev, 0)), ZD_PGMAP_DEAD);
			zd_world_destroy(w);
		}
	}
}

#define NR_WORKERS 4
#define ITERS 2000

struct worker {
	struct zd_world *w;
	struct zd_device *dev;
	int id;
	bool speculate; /* take speculative references (not in legacy: see below) */
	unsigned long allocs;
};

static void *alloc_worker(void *arg)
{
	struct worker *wk = arg;
	struct zd_holder h = ZD_HOLDER(ZD_HOLD_HANDLE, 100 + wk->id);
	struct zd_holder t = ZD_HOLDER(ZD_HOLD_TEMP, 200 + wk->id);
	uint64_t rnd = zd_test_seed() * 7919 + (uint64_t)wk->id;
	int i;

	for (i = 0; i < ITERS; i++) {
		struct zd_folio *folios[ZD_DEVICE_MAX_ALLOC];
		unsigned long pfn;
		struct zd_folio *f;
		int nr;

		if (zd_device_alloc_pages(wk->dev, 0, -1, h, folios, &nr) == 0) {
			wk->allocs++;
			zd_device_free_pages(wk->dev, folios, nr, h);
		}
		/* A pfn walker: speculative reference on a random page. */
		if (wk->speculate && !zd_device_page_pfn(wk->dev, zd_test_rand(&rnd) % 64, &pfn)) {
			f = zd_pfn_folio(wk->w, pfn);
			if (f && zd_folio_try_get(f, t))
				zd_folio_put(f, t);
		}
	}
	return NULL;
}

static void test_alloc_free_race(void **state)
{
	int reg;

	for (reg = 0; reg < ZD_NR_REGIMES; reg++) {
		struct zd_world *w = new_world((enum zd_regime)reg);
		struct zd_device_config cfg = {
		    .name = "gpu", .type = ZD_MEMORY_DEVICE_PRIVATE, .size = 64 * 4096};
		struct worker wk[NR_WORKERS];
		struct zd_thread *th[NR_WORKERS];
		struct zd_device_counters c;
		struct zd_device *dev;
		unsigned long total = 0;
		int i;

		assert_int_equal(zd_device_create(w, &cfg, &dev), 0);
		for (i = 0; i < NR_WORKERS; i++) {
			/*
			 * Legacy free pages rest at 1, so a speculative reference on
			 * one succeeds and its put is another 2 -> 1 "free" event:
			 * the kernel's bug class, shown by scenarios/regimes/.
			 */
			wk[i] = (struct worker){w, dev, i, reg != ZD_REGIME_LEGACY, 0};
			th[i] = zd_thread_start(alloc_worker, &wk[i]);
			assert_non_null(th[i]);
		}
		for (i = 0; i < NR_WORKERS; i++) {
			zd_thread_join(th[i]);
			total += wk[i].allocs;
		}
		zd_device_counters(dev, &c);
		assert_int_equal(c.allocated, total);
		/*
		 * Every allocation was freed, and the free callback ran exactly
		 * once per allocation, even when a speculative reference was the
		 * one that dropped the page.
		 */
		assert_int_equal(c.freed, total);
		assert_int_equal(c.free, 64);
		assert_int_equal(zd_audit(w), 0);
		assert_int_equal(zd_violation_count(w), 0);
		assert_int_equal(zd_device_remove(dev), 0);
		zd_world_destroy(w);
	}
}

/* get_dev_pagemap racing memunmap: once kill is seen, every lookup fails; nothing leaks. */
struct looker {
	struct zd_world *w;
	unsigned long pfn;
	zd_atomic_t *stop;
	unsigned long hits;
};

static void *lookup_thread(void *arg)
{
	struct looker *l = arg;

	while (!zd_atomic_read_acquire(l->stop)) {
		struct zd_dev_pagemap *p = zd_get_dev_pagemap(l->w, l->pfn);

		if (p) {
			l->hits++;
			zd_put_dev_pagemap(p);
		}
	}
	return NULL;
}

static void test_lookup_vs_memunmap(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_device_config cfg = {
	    .name = "dax", .type = ZD_MEMORY_DEVICE_GENERIC, .size = 1 << 20};
	struct zd_device *dev;
	zd_atomic_t stop = {0};
	struct looker l[2];
	struct zd_thread *th[2];
	int i;

	assert_int_equal(zd_device_create(w, &cfg, &dev), 0);
	for (i = 0; i < 2; i++) {
		l[i] = (struct looker){w, 0, &stop, 0};
		assert_int_equal(zd_device_page_pfn(dev, (unsigned long)i * 7, &l[i].pfn), 0);
		th[i] = zd_thread_start(lookup_thread, &l[i]);
	}
	sleep_ms(20);
	assert_int_equal(zd_device_remove(dev), 0);
	assert_null(zd_get_dev_pagemap(w, l[0].pfn));
	zd_atomic_set_release(&stop, 1);
	for (i = 0; i < 2; i++)
		zd_thread_join(th[i]);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memunmap_waits_for_last_put),
	    cmocka_unit_test(test_alloc_free_race),
	    cmocka_unit_test(test_lookup_vs_memunmap),
	};

	zd_test_seed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
