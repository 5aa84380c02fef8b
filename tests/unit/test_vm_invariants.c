/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the address-space invariants (P3, P4, C5 and mapping
 * accounting) are each broken on purpose and the audit must name them.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "vm/vm.h"

struct env {
	struct zd_world *w;
	struct zd_mm *mm;
	uint64_t anon, shared;
};

static void setup(struct env *e)
{
	struct zd_world_opts o;
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = 16 * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	char buf[64] = "x";

	zd_world_opts_init(&o);
	o.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&o, &e->w), 0);
	assert_int_equal(zd_mm_create(e->w, "P", &e->mm), 0);
	assert_int_equal(zd_mmap(e->mm, &a, &e->anon), 0);
	a.kind = ZD_MAP_SHARED;
	assert_int_equal(zd_mmap(e->mm, &a, &e->shared), 0);
	assert_int_equal(zd_access_write(e->mm, e->anon, buf, sizeof(buf)), 0);
	assert_int_equal(zd_access_write(e->mm, e->shared, buf, sizeof(buf)), 0);
	assert_int_equal(zd_audit(e->w), 0);
}

static void teardown(struct env *e)
{
	zd_world_destroy(e->w); /* exits the mm too */
}

static bool reported(struct env *e, const char *id)
{
	enum zd_invariant inv;

	assert_int_equal(zd_invariant_lookup(id, &inv), 0);
	zd_audit(e->w);
	return zd_violation_reported(e->w, inv);
}

static zd_pte_t *pte_of(struct env *e, uint64_t addr)
{
	struct zd_slot slot;

	assert_int_equal(zd_pt_walk(e->mm, addr, ZD_LEVEL_PTE, false, &slot), 0);
	return slot.pte;
}

static void test_entry_kind_illegal(void **state)
{
	struct env e;
	zd_pte_t *pte;

	setup(&e);
	/* a device-private entry in a shared mapping (its pfn is the page that was there) */
	pte = pte_of(&e, e.shared);
	zd_pte_write(pte, zd_mk_swp(ZD_SWP_DEVICE_READ, zd_pte_pfn(*pte), 0));
	assert_true(reported(&e, "entry-kind-illegal"));
	teardown(&e);
}

static void test_entry_writable_illegal(void **state)
{
	struct env e;
	zd_pte_t *pte;

	setup(&e);
	assert_int_equal(zd_mprotect(e.mm, e.anon, 16 * ZD_PAGE_SIZE, ZD_PROT_READ), 0);
	assert_int_equal(zd_audit(e.w), 0);
	pte = pte_of(&e, e.anon);
	zd_pte_write(pte, *pte | ZD_E_WRITE); /* writable in a read-only VMA */
	assert_true(reported(&e, "entry-writable-illegal"));
	teardown(&e);
}

static void test_entry_writable_shared_cow(void **state)
{
	struct env e;
	struct zd_mm *child;
	zd_pte_t *pte;

	setup(&e);
	assert_int_equal(zd_mm_fork(e.mm, "C", &child), 0);
	assert_int_equal(zd_audit(e.w), 0);
	pte = pte_of(&e, e.anon);
	zd_pte_write(pte, *pte | ZD_E_WRITE); /* a COW-shared page made writable in the parent */
	assert_true(reported(&e, "entry-writable-illegal"));
	zd_mm_exit(child);
	teardown(&e);
}

static void test_rss_mismatch(void **state)
{
	struct env e;

	setup(&e);
	zd_mm_add_rss(e.mm, ZD_MM_ANONPAGES, 1);
	assert_true(reported(&e, "rss-mismatch"));
	teardown(&e);
}

static void test_mapping_unaccounted(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e);
	f = zd_mm_folio(e.mm, e.anon);
	assert_non_null(f);
	zd_atomic_add_return_relaxed(&f->_mapcount, 1); /* a mapcount no entry explains */
	assert_true(reported(&e, "mapping-unaccounted"));
	zd_atomic_add_return_relaxed(&f->_mapcount, -1);
	teardown(&e);
}

static void test_mapping_reference_unaccounted(void **state)
{
	struct env e;
	struct zd_folio *f;

	setup(&e);
	f = zd_mm_folio(e.mm, e.shared);
	assert_non_null(f);
	/* an entry whose mapping reference is missing: the mm's reference moves to a stranger */
	zd_folio_ref_transfer(f, ZD_HOLDER(ZD_HOLD_MAPPING, e.mm), ZD_HOLDER(ZD_HOLD_OTHER, 0));
	assert_true(reported(&e, "mapping-unaccounted"));
	teardown(&e);
}

static void test_migration_entry_unlocked(void **state)
{
	struct env e;
	struct zd_folio *f;
	zd_pte_t *pte, old;

	setup(&e);
	f = zd_mm_folio(e.mm, e.anon);
	assert_non_null(f);
	pte = pte_of(&e, e.anon);
	old = zd_pte_read(pte);
	/* A migration entry whose folio is locked, as migration leaves it: clean. */
	assert_true(zd_folio_trylock(f));
	zd_pte_write(pte, zd_mk_swp(ZD_SWP_MIGRATION_WRITE, f->pfn, 0));
	assert_false(reported(&e, "migration-entry-unlocked"));
	/* The same entry left behind after the folio was unlocked (P1). */
	zd_folio_unlock(f);
	assert_true(reported(&e, "migration-entry-unlocked"));
	zd_pte_write(pte, old);
	teardown(&e);
}

static void test_clean_address_space_life(void **state)
{
	struct env e;
	struct zd_mm *child;
	char buf[ZD_PAGE_SIZE];

	setup(&e);
	memset(buf, 5, sizeof(buf));
	assert_int_equal(zd_mm_fork(e.mm, "C", &child), 0);
	assert_int_equal(zd_access_write(child, e.anon, buf, sizeof(buf)), 0);
	assert_int_equal(zd_mprotect(e.mm, e.anon, ZD_PAGE_SIZE, ZD_PROT_READ), 0);
	assert_int_equal(zd_madvise_dontneed(e.mm, e.shared, ZD_PAGE_SIZE), 0);
	assert_int_equal(zd_munmap(e.mm, e.anon + 4 * ZD_PAGE_SIZE, ZD_PAGE_SIZE), 0);
	assert_int_equal(zd_audit(e.w), 0);
	zd_mm_exit(child);
	assert_int_equal(zd_audit(e.w), 0);
	assert_int_equal(zd_violation_count(e.w), 0);
	teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_kind_illegal),
		cmocka_unit_test(test_entry_writable_illegal),
		cmocka_unit_test(test_entry_writable_shared_cow),
		cmocka_unit_test(test_rss_mismatch),
		cmocka_unit_test(test_mapping_unaccounted),
		cmocka_unit_test(test_mapping_reference_unaccounted),
		cmocka_unit_test(test_migration_entry_unlocked),
		cmocka_unit_test(test_clean_address_space_life),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
