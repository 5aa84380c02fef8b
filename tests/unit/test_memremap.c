/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: memremap_pages / memunmap_pages through the library API:
 * validation errors, initial state per type and regime, and allocation
 * failure injected at every allocation memremap makes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"

static void folio_free_noop(struct zd_folio *folio)
{
	(void)folio;
}

static int migrate_noop(struct zd_vm_fault *vmf)
{
	(void)vmf;
	return 0;
}

static const struct zd_dev_pagemap_ops full_ops = {
    .folio_free = folio_free_noop,
    .migrate_to_ram = migrate_noop,
};

static struct zd_world *new_world(enum zd_regime regime)
{
	struct zd_world_opts o;
	struct zd_world *w = NULL;

	zd_world_opts_init(&o);
	o.regime = regime;
	o.ram_bytes = 64ull << 20;
	assert_int_equal(zd_world_create(&o, &w), 0);
	return w;
}

static struct zd_dev_pagemap *new_pgmap(struct zd_world *w, enum zd_memory_type type, uint64_t size,
					unsigned int shift)
{
	struct zd_dev_pagemap *pgmap = zd_pgmap_alloc(1);

	assert_non_null(pgmap);
	assert_int_equal(
	    zd_request_free_mem_region(w, size, ZD_PAGE_SIZE << shift, &pgmap->ranges[0]), 0);
	pgmap->type = type;
	pgmap->vmemmap_shift = shift;
	pgmap->ops = &full_ops;
	pgmap->owner = pgmap;
	pgmap->name = "test";
	return pgmap;
}

static void test_validation(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_dev_pagemap *p = new_pgmap(w, ZD_MEMORY_DEVICE_PRIVATE, 2 << 20, 0);
	struct zd_dev_pagemap *q;
	uint64_t before = zd_world_bytes_in_use(w);

	/* PRIVATE needs migrate_to_ram, folio_free and an owner. */
	p->owner = NULL;
	assert_int_equal(zd_memremap_pages(w, p), -EINVAL);
	p->owner = p;
	p->ops = NULL;
	assert_int_equal(zd_memremap_pages(w, p), -EINVAL);
	p->ops = &full_ops;
	/* Unknown type, folio order too large, misaligned range, no range. */
	p->type = ZD_MEMORY_DEVICE_NONE;
	assert_int_equal(zd_memremap_pages(w, p), -EINVAL);
	p->type = ZD_MEMORY_DEVICE_PRIVATE;
	p->vmemmap_shift = ZD_MAX_FOLIO_ORDER + 1;
	assert_int_equal(zd_memremap_pages(w, p), -EINVAL);
	p->vmemmap_shift = 0;
	p->ranges[0].start += ZD_PAGE_SIZE / 2;
	assert_int_equal(zd_memremap_pages(w, p), -EINVAL);
	p->ranges[0].start -= ZD_PAGE_SIZE / 2;
	p->nr_range = 0;
	assert_int_equal(zd_memremap_pages(w, p), -EINVAL);
	p->nr_range = 1;
	assert_int_equal(zd_world_bytes_in_use(w), before);
	assert_int_equal(zd_pgmap_state(p), ZD_PGMAP_UNUSED);

	assert_int_equal(zd_memremap_pages(w, p), 0);
	assert_int_equal(zd_memremap_pages(w, p), -EBUSY);
	/* Overlap with a live pgmap: EEXIST; with System RAM: ENXIO. */
	q = new_pgmap(w, ZD_MEMORY_DEVICE_GENERIC, 2 << 20, 0);
	q->ranges[0] = p->ranges[0];
	assert_int_equal(zd_memremap_pages(w, q), -EEXIST);
	q->ranges[0].start = 0;
	q->ranges[0].end = (2 << 20) - 1;
	assert_int_equal(zd_memremap_pages(w, q), -ENXIO);
	/* GENERIC: the range must be a whole number of folios. */
	assert_int_equal(zd_request_free_mem_region(w, 3 << 20, 4096, &q->ranges[0]), 0);
	q->vmemmap_shift = ZD_PMD_ORDER;
	assert_int_equal(zd_memremap_pages(w, q), -EINVAL);
	assert_int_equal(zd_pgmap_state(q), ZD_PGMAP_UNUSED);

	assert_int_equal(zd_memunmap_pages(p), 0);
	assert_int_equal(zd_memunmap_pages(p), -EINVAL);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	zd_world_destroy(w);
	zd_pgmap_free(p);
	zd_pgmap_free(q);
}

/* Expected state right after memremap, per regime and type (the policy table in words). */
struct initial {
	enum zd_regime regime;
	enum zd_memory_type type;
	int refcount;
	long refs; /* for 512 pages of 4 KiB */
};

static const struct initial initial_table[] = {
    {ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PRIVATE, 0, 1},
    {ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_COHERENT, 0, 1},
    {ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_FS_DAX, 0, 513},
    {ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_GENERIC, 1, 513},
    {ZD_REGIME_UNIFIED, ZD_MEMORY_DEVICE_PCI_P2PDMA, 0, 513},
    {ZD_REGIME_SPLIT, ZD_MEMORY_DEVICE_PRIVATE, 0, 1},
    {ZD_REGIME_SPLIT, ZD_MEMORY_DEVICE_COHERENT, 0, 1},
    {ZD_REGIME_SPLIT, ZD_MEMORY_DEVICE_FS_DAX, 1, 513},
    {ZD_REGIME_SPLIT, ZD_MEMORY_DEVICE_GENERIC, 1, 513},
    {ZD_REGIME_SPLIT, ZD_MEMORY_DEVICE_PCI_P2PDMA, 1, 513},
    {ZD_REGIME_LEGACY, ZD_MEMORY_DEVICE_PRIVATE, 1, 513},
    {ZD_REGIME_LEGACY, ZD_MEMORY_DEVICE_COHERENT, 1, 513},
    {ZD_REGIME_LEGACY, ZD_MEMORY_DEVICE_FS_DAX, 1, 513},
    {ZD_REGIME_LEGACY, ZD_MEMORY_DEVICE_GENERIC, 1, 513},
    {ZD_REGIME_LEGACY, ZD_MEMORY_DEVICE_PCI_P2PDMA, 1, 513},
};

static void test_initial_state(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(initial_table) / sizeof(initial_table[0]); i++) {
		const struct initial *t = &initial_table[i];
		struct zd_world *w = new_world(t->regime);
		struct zd_dev_pagemap *p = new_pgmap(w, t->type, 2 << 20, 0);
		unsigned long pfn = p->ranges[0].start >> ZD_PAGE_SHIFT;

		assert_int_equal(zd_memremap_pages(w, p), 0);
		assert_int_equal(zd_pgmap_state(p), ZD_PGMAP_LIVE);
		assert_int_equal(zd_folio_ref_count(zd_pfn_folio(w, pfn)), t->refcount);
		assert_int_equal(zd_folio_ref_count(zd_pfn_folio(w, pfn + 511)), t->refcount);
		assert_int_equal(zd_pgmap_refs(p), t->refs);
		assert_ptr_equal(zd_page_pgmap(zd_pfn_to_page(w, pfn + 7)), p);
		assert_true(zd_folio_idle(zd_pfn_folio(w, pfn)));
		/* get_dev_pagemap works while live, not after memunmap. */
		assert_ptr_equal(zd_get_dev_pagemap(w, pfn + 3), p);
		zd_put_dev_pagemap(p);
		assert_int_equal(zd_audit(w), 0);
		assert_int_equal(zd_memunmap_pages(p), 0);
		assert_null(zd_get_dev_pagemap(w, pfn));
		assert_null(zd_pfn_folio(w, pfn));
		assert_int_equal(zd_violation_count(w), 0);
		zd_world_destroy(w);
		zd_pgmap_free(p);
	}
}

/* Compound geometry: 2 MiB and 1 GiB device-dax folios, with deduplicated memmaps. */
static void test_compound_generic(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_dev_pagemap *p = new_pgmap(w, ZD_MEMORY_DEVICE_GENERIC, 4ull << 30, ZD_PUD_ORDER);
	unsigned long pfn = p->ranges[0].start >> ZD_PAGE_SHIFT;
	struct zd_folio *f;

	assert_int_equal(zd_memremap_pages(w, p), 0);
	f = zd_pfn_folio(w, pfn + (1ul << ZD_PUD_ORDER) + 12345);
	assert_int_equal(zd_folio_pfn(f), pfn + (1ul << ZD_PUD_ORDER));
	assert_int_equal(zd_folio_order(f), ZD_PUD_ORDER);
	assert_int_equal(zd_folio_ref_count(f), 1);
	assert_int_equal(zd_pgmap_refs(p), 1 + 4);
	/* Two stored struct pages per 1 GiB folio: 4 folios * 128 bytes. */
	assert_int_equal(zd_memmap_bytes(w), 4 * 2 * sizeof(struct zd_page));
	assert_ptr_equal(zd_page_pgmap(zd_pfn_to_page(w, pfn + 99999)), p);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_memunmap_pages(p), 0);
	assert_int_equal(zd_memmap_bytes(w), 0);
	zd_world_destroy(w);
	zd_pgmap_free(p);
}

/*
 * Every allocation memremap makes, failed in turn (SQLite-style): the call
 * returns -ENOMEM, nothing stays registered, no byte leaks, and the next
 * attempt succeeds.
 */
static void test_alloc_failure_every_site(void **state)
{
	static const enum zd_memory_type types[] = {
	    ZD_MEMORY_DEVICE_PRIVATE, ZD_MEMORY_DEVICE_FS_DAX, ZD_MEMORY_DEVICE_GENERIC};
	size_t t;
	int r;

	for (r = 0; r < ZD_NR_REGIMES; r++) {
		for (t = 0; t < 3; t++) {
			struct zd_world *w = new_world((enum zd_regime)r);
			unsigned int shift =
			    types[t] == ZD_MEMORY_DEVICE_GENERIC ? ZD_PMD_ORDER : 0;
			struct zd_dev_pagemap *p = new_pgmap(w, types[t], 8 << 20, shift);
			uint64_t base = zd_world_bytes_in_use(w);
			unsigned long n, sites = 0;

			for (n = 1;; n++) {
				int ret;

				zd_world_fail_nth_alloc(w, n);
				ret = zd_memremap_pages(w, p);
				zd_world_fail_nth_alloc(w, 0);
				if (!ret)
					break;
				sites++;
				assert_int_equal(ret, -ENOMEM);
				assert_int_equal(zd_pgmap_state(p), ZD_PGMAP_UNUSED);
				assert_int_equal(zd_world_bytes_in_use(w), base);
				assert_null(zd_get_dev_pagemap(w, p->ranges[0].start >> 12));
			}
			assert_true(sites >= 3);
			assert_int_equal(zd_memunmap_pages(p), 0);
			assert_int_equal(zd_world_bytes_in_use(w), base);
			/* The named site: the memmap. */
			zd_world_fail(w, ZD_FAIL_MEMMAP, 1);
			assert_int_equal(zd_memremap_pages(w, p), -ENOMEM);
			assert_int_equal(zd_world_bytes_in_use(w), base);
			zd_world_destroy(w);
			zd_pgmap_free(p);
		}
	}
}

/* The library never aborts on NULL or nonsense arguments. */
static void test_bad_arguments(void **state)
{
	struct zd_world *w = new_world(ZD_REGIME_UNIFIED);
	struct zd_range r;
	struct zd_world_opts o;
	struct zd_world *w2;

	assert_int_equal(zd_memremap_pages(NULL, NULL), -EINVAL);
	assert_int_equal(zd_memremap_pages(w, NULL), -EINVAL);
	assert_int_equal(zd_memunmap_pages(NULL), -EINVAL);
	assert_int_equal(zd_zone_device_folio_init(NULL, NULL, 0, ZD_HOLDER_OTHER), -EINVAL);
	assert_null(zd_get_dev_pagemap(w, 12345678));
	zd_put_dev_pagemap(NULL);
	assert_int_equal(zd_request_free_mem_region(w, 0, 4096, &r), -EINVAL);
	assert_int_equal(zd_request_free_mem_region(w, 4096, 3000, &r), -EINVAL);
	assert_int_equal(zd_world_set_ram(w, 0), -EINVAL);
	assert_int_equal(zd_world_set_ram(w, 123), -EINVAL);
	assert_int_equal(zd_world_set_ram(w, 32 << 20), 0);
	assert_int_equal(zd_world_set_regime(w, (enum zd_regime)7), -EINVAL);
	assert_int_equal(zd_world_enable_bug(w, "no-such-bug"), -ENOENT);
	assert_int_equal(zd_world_enable_bug(w, "unplug-before-drain"), -EINVAL);
	assert_null(zd_pgmap_alloc(0));
	zd_world_opts_init(&o);
	o.regime = (enum zd_regime)9;
	assert_int_equal(zd_world_create(&o, &w2), -EINVAL);
	assert_int_equal(zd_world_create(NULL, NULL), -EINVAL);
	zd_world_destroy(NULL);
	zd_world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_initial_state),
	    cmocka_unit_test(test_compound_generic),
	    cmocka_unit_test(test_alloc_failure_every_site),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
