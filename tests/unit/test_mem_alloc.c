/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: large allocations and page contents. A mapping freed with
 * zd_vfree() waits in a cache for the next allocation of its size; whatever
 * the last user wrote, it must come back zeroed (small ones are cleared by
 * memset, large ones given back to the kernel). Page contents are marked
 * used when asked for, and the state digest sees the contents of used pages.
 */
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "mem/mem.h"

static struct zd_world *new_world(void)
{
	struct zd_world_opts opts;
	struct zd_world *w;

	zd_world_opts_init(&opts);
	opts.ram_bytes = 4ull << 20;
	assert_int_equal(zd_world_create(&opts, &w), 0);
	return w;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Reused or not, a mapping handed out again reads as zero. */
static void test_vzalloc_reuse_is_zeroed(void **state)
{
	static const size_t sizes[] = {4096, 64 << 10, 1 << 20, 3 << 20};
	struct zd_world *w = new_world();
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		int round;

		for (round = 0; round < 3; round++) {
			unsigned char *p = zd_vzalloc(w, sizes[k]);

			assert_non_null(p);
			assert_true(all_zero(p, sizes[k]));
			memset(p, 0xa5, sizes[k]);
			zd_vfree(w, p, sizes[k]);
		}
	}
	zd_world_destroy(w);
}

/* Contents count in the digest once used, on a page in use. */
static void test_page_data_marks(void **state)
{
	struct zd_world *w = new_world();
	struct zd_folio *f = zd_folio_alloc(w, 0, ZD_HOLDER(ZD_HOLD_HANDLE, 1));
	struct zd_memmap_range *r;
	uint64_t before, after;
	unsigned char *data;

	(void)state;
	assert_non_null(f);
	r = zd_memmap_lookup(w, f->pfn);
	assert_non_null(r);
	assert_false(zd_page_data_used(r, f->pfn));
	before = zd_world_state_hash(w);
	assert_int_equal(zd_world_state_hash(w), before); /* deterministic */
	data = zd_page_data(w, f->pfn);
	assert_non_null(data);
	assert_true(zd_page_data_used(r, f->pfn));
	assert_false(zd_page_data_used(r, f->pfn + 1));
	data[100] = 7;
	after = zd_world_state_hash(w);
	assert_true(after != before);
	data[100] = 8;
	assert_true(zd_world_state_hash(w) != after);
	zd_folio_put(f, ZD_HOLDER(ZD_HOLD_HANDLE, 1));
	zd_world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vzalloc_reuse_is_zeroed),
	    cmocka_unit_test(test_page_data_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
