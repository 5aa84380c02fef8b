/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: folio reference operations, the page lock and the System
 * RAM allocator; the driver API's argument checks and allocation failures.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"

#define H ZD_HOLDER(ZD_HOLD_HANDLE, 1)

static struct zd_world *new_world(uint64_t ram)
{
	struct zd_world_opts o;
	struct zd_world *w = NULL;

	zd_world_opts_init(&o);
	o.ram_bytes = ram;
	assert_int_equal(zd_world_create(&o, &w), 0);
	return w;
}

static void test_refcount_ops(void **state)
{
	struct zd_world *w = new_world(8 << 20);
	struct zd_folio *f = zd_folio_alloc(w, 0, H);

	assert_non_null(f);
	assert_int_equal(zd_folio_ref_count(f), 1);
	assert_int_equal(zd_folio_mapcount(f), 0);
	assert_int_equal(zd_folio_pincount(f), 0);
	assert_false(zd_folio_test_large(f));
	zd_folio_get(f, H);
	assert_true(zd_folio_try_get(f, H));
	assert_int_equal(zd_folio_ref_count(f), 3);
	/* freeze succeeds only at the exact count, and stops try_get */
	assert_false(zd_folio_ref_freeze(f, 2));
	assert_true(zd_folio_ref_freeze(f, 3));
	assert_false(zd_folio_try_get(f, H));
	zd_folio_ref_unfreeze(f, 3);
	assert_false(zd_folio_put_testzero(f, H));
	zd_folio_put_refs(f, 1, H);
	assert_int_equal(zd_folio_ref_count(f), 1);
	/* the lock */
	assert_true(zd_folio_trylock(f));
	assert_false(zd_folio_trylock(f));
	assert_true(zd_folio_test_locked(f));
	zd_folio_unlock(f);
	zd_folio_lock(f);
	zd_folio_unlock(f);
	assert_false(zd_folio_test_locked(f));
	assert_int_equal(zd_audit(w), 0);
	/* the last put of a RAM folio returns it to the allocator */
	unsigned long before = zd_ram_nr_free(w);
	zd_folio_put(f, H);
	assert_int_equal(zd_ram_nr_free(w), before + 1);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

static void test_ram_allocator(void **state)
{
	struct zd_world *w = new_world(8 << 20); /* 2048 pages, four 2 MiB blocks */
	struct zd_folio *small[2049], *big[4]; /* one more: the failing allocation */
	int i, n = 0;

	assert_int_equal(zd_ram_nr_free(w), 2048);
	for (i = 0; i < 4; i++) {
		big[i] = zd_folio_alloc(w, ZD_PMD_ORDER, H);
		assert_non_null(big[i]);
		assert_int_equal(zd_folio_order(big[i]), ZD_PMD_ORDER);
		assert_int_equal(zd_folio_pfn(big[i]) % 512, 0);
	}
	assert_null(zd_folio_alloc(w, ZD_PMD_ORDER, H)); /* RAM exhausted */
	assert_null(zd_folio_alloc(w, 0, H));
	assert_int_equal(zd_ram_nr_free(w), 0);
	assert_null(zd_folio_alloc(w, 3, H)); /* only orders 0 and 9 */
	for (i = 0; i < 4; i++)
		zd_folio_put(big[i], H);
	assert_int_equal(zd_ram_nr_free(w), 2048);
	/* order 0 until exhaustion, then everything back: the blocks merge again */
	while ((small[n] = zd_folio_alloc(w, 0, H)))
		n++;
	assert_int_equal(n, 2048);
	for (i = 0; i < n; i++)
		zd_folio_put(small[i], H);
	for (i = 0; i < 4; i++) {
		big[i] = zd_folio_alloc(w, ZD_PMD_ORDER, H);
		assert_non_null(big[i]);
	}
	for (i = 0; i < 4; i++)
		zd_folio_put(big[i], H);
	/* the `ram` fault-injection site */
	zd_world_fail(w, ZD_FAIL_RAM, 2);
	assert_null(zd_folio_alloc(w, 0, H));
	assert_null(zd_folio_alloc(w, 0, H));
	small[0] = zd_folio_alloc(w, 0, H);
	assert_non_null(small[0]);
	zd_folio_put(small[0], H);
	/* RAM cannot be resized while a page is in use */
	small[0] = zd_folio_alloc(w, 0, H);
	assert_int_equal(zd_world_set_ram(w, 16 << 20), -EBUSY);
	zd_folio_put(small[0], H);
	assert_int_equal(zd_world_set_ram(w, 16 << 20), 0);
	assert_int_equal(zd_ram_nr_free(w), 4096);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

static void test_device_api_arguments(void **state)
{
	struct zd_world *w = new_world(8 << 20);
	struct zd_device_config cfg = {
	    .name = "d", .type = ZD_MEMORY_DEVICE_PRIVATE, .size = 1 << 20};
	struct zd_folio *folios[ZD_DEVICE_MAX_ALLOC];
	struct zd_device *dev;
	unsigned long pfn;
	int nr;

	assert_int_equal(zd_device_create(NULL, &cfg, &dev), -EINVAL);
	assert_int_equal(zd_device_create(w, NULL, &dev), -EINVAL);
	cfg.type = ZD_MEMORY_DEVICE_NONE;
	assert_int_equal(zd_device_create(w, &cfg, &dev), -EINVAL);
	cfg.type = ZD_MEMORY_DEVICE_PRIVATE;
	cfg.size = 12345;
	assert_int_equal(zd_device_create(w, &cfg, &dev), -EINVAL);
	cfg.size = 1 << 20;
	cfg.align_order = 5;
	assert_int_equal(zd_device_create(w, &cfg, &dev), -EINVAL);
	cfg.align_order = ZD_PMD_ORDER; /* 1 MiB is not a whole 2 MiB folio */
	assert_int_equal(zd_device_create(w, &cfg, &dev), -EINVAL);
	cfg.align_order = 0;
	cfg.chunk = 3 << 10;
	assert_int_equal(zd_device_create(w, &cfg, &dev), -EINVAL);
	cfg.chunk = 0;
	assert_int_equal(zd_device_create(w, &cfg, &dev), 0);
	assert_int_equal(zd_device_alloc_pages(dev, 0, -1, H, NULL, &nr), -EINVAL);
	assert_int_equal(zd_device_alloc_pages(dev, 19, -1, H, folios, &nr), -EINVAL);
	assert_int_equal(zd_device_alloc_pages(dev, ZD_PMD_ORDER, -1, H, folios, &nr), -EINVAL);
	assert_int_equal(zd_device_alloc_pages(dev, 0, 3, H, folios, &nr), -EINVAL);
	assert_int_equal(zd_device_page_pfn(dev, 256, &pfn), -ERANGE);
	assert_int_equal(zd_device_page_pfn(dev, 255, &pfn), 0);
	assert_int_equal(zd_device_free_pages(dev, NULL, 1, H), -EINVAL);
	assert_int_equal(zd_device_free_pages(NULL, folios, 0, H), -EINVAL);
	/* every page handed out, then ENOMEM, then all back */
	for (nr = 0; nr < 256; nr++) {
		int got;

		assert_int_equal(zd_device_alloc_pages(dev, 0, -1,
						       ZD_HOLDER(ZD_HOLD_HANDLE, nr + 10),
						       &folios[nr], &got),
				 0);
	}
	assert_int_equal(zd_device_alloc_pages(dev, 0, -1, H, &folios[300], &nr), -ENOMEM);
	for (nr = 0; nr < 256; nr++)
		assert_int_equal(
		    zd_device_free_pages(dev, &folios[nr], 1, ZD_HOLDER(ZD_HOLD_HANDLE, nr + 10)),
		    0);
	assert_int_equal(zd_device_remove(dev), 0);
	assert_int_equal(zd_device_remove(dev), -EINVAL);
	assert_int_equal(zd_device_alloc_pages(dev, 0, -1, H, folios, &nr), -ENXIO);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
}

/* Binding a driver fails cleanly at every allocation it makes. */
static void test_device_create_alloc_failure(void **state)
{
	static const enum zd_memory_type types[] = {
	    ZD_MEMORY_DEVICE_PRIVATE, ZD_MEMORY_DEVICE_COHERENT,   ZD_MEMORY_DEVICE_FS_DAX,
	    ZD_MEMORY_DEVICE_GENERIC, ZD_MEMORY_DEVICE_PCI_P2PDMA,
	};
	size_t t;

	for (t = 0; t < 5; t++) {
		struct zd_world *w = new_world(8 << 20);
		struct zd_device_config cfg = {
		    .name = "d",
		    .type = types[t],
		    .size = 4 << 20,
		    .chunk = types[t] == ZD_MEMORY_DEVICE_PRIVATE ? 1 << 20 : 0};
		uint64_t base = zd_world_bytes_in_use(w);
		struct zd_device *dev = NULL;
		unsigned long n;
		int ret;

		for (n = 1;; n++) {
			zd_world_fail_nth_alloc(w, n);
			ret = zd_device_create(w, &cfg, &dev);
			zd_world_fail_nth_alloc(w, 0);
			if (!ret)
				break;
			assert_int_equal(ret, -ENOMEM);
			if (zd_world_bytes_in_use(w) != base)
				fprintf(stderr, "type %zu n %lu leak %ld\n", t, n, (long)(zd_world_bytes_in_use(w) - base));
			assert_int_equal(zd_world_bytes_in_use(w), base);
		}
		assert_true(n > 1);
		assert_int_equal(zd_device_remove(dev), 0);
		assert_int_equal(zd_violation_count(w), 0);
		zd_world_destroy(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refcount_ops),
	    cmocka_unit_test(test_ram_allocator),
	    cmocka_unit_test(test_device_api_arguments),
	    cmocka_unit_test(test_device_create_alloc_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
