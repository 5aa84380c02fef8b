/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the dmirror driver's API (mirror reads and writes,
 * migration both ways, snapshot, exclusive, release) and its invariants
 * (BO references, M2, M3), each broken on purpose for the audit to name.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/migrate.h"
#include "vm/vm.h"
#include "hmm/hmm.h"

#define NPAGES 8

struct env {
	struct zd_world *w;
	struct zd_device *gpu; /* private */
	struct zd_device *cxl; /* coherent */
	struct zd_mm *mm;
	uint64_t a;
	unsigned char buf[NPAGES * ZD_PAGE_SIZE];
};

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7 + seed);
}

static void setup(struct env *e)
{
	struct zd_world_opts o;
	struct zd_device_config c = {
	    .name = "gpu0", .type = ZD_MEMORY_DEVICE_PRIVATE, .size = 2ull << 20};
	struct zd_mmap_args a = {.kind = ZD_MAP_ANON,
				 .size = NPAGES * ZD_PAGE_SIZE,
				 .prot = ZD_PROT_READ | ZD_PROT_WRITE};

	zd_world_opts_init(&o);
	o.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&o, &e->w), 0);
	assert_int_equal(zd_device_create(e->w, &c, &e->gpu), 0);
	c.name = "cxl0";
	c.type = ZD_MEMORY_DEVICE_COHERENT;
	assert_int_equal(zd_device_create(e->w, &c, &e->cxl), 0);
	assert_int_equal(zd_mm_create(e->w, "P", &e->mm), 0);
	assert_int_equal(zd_mmap(e->mm, &a, &e->a), 0);
	fill(e->buf, sizeof(e->buf), 1);
	assert_int_equal(zd_access_write(e->mm, e->a, e->buf, sizeof(e->buf)), 0);
	assert_int_equal(zd_audit(e->w), 0);
}

static void teardown(struct env *e)
{
	zd_world_destroy(e->w); /* exits the mm, frees the devices */
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

static void test_read_write(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	unsigned char got[NPAGES * ZD_PAGE_SIZE], data[2 * ZD_PAGE_SIZE];

	setup(&e);
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a, sizeof(got), got, &r), 0);
	assert_int_equal(r.cpages, NPAGES);
	assert_int_equal(r.faults, 1);
	assert_memory_equal(got, e.buf, sizeof(got));
	fill(data, sizeof(data), 9);
	assert_int_equal(zd_dmirror_write(e.cxl, e.mm, e.a, sizeof(data), data, &r), 0);
	assert_int_equal(r.cpages, 2);
	assert_int_equal(zd_access_read(e.mm, e.a, got, sizeof(data)), 0);
	assert_memory_equal(got, data, sizeof(data));
	/* bad arguments */
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a + 1, ZD_PAGE_SIZE, got, &r), -EINVAL);
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a, 0, got, &r), -EINVAL);
	assert_int_equal(zd_dmirror_read(NULL, e.mm, e.a, ZD_PAGE_SIZE, got, &r), -EINVAL);
	assert_int_equal(zd_audit(e.w), 0);
	teardown(&e);
}

static void test_migrate_both_ways(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	struct zd_device_counters c;
	struct zd_dmirror_stats st;
	unsigned char got[NPAGES * ZD_PAGE_SIZE];
	struct zd_entry_info info;

	setup(&e);
	assert_int_equal(zd_dmirror_migrate_to_dev(e.gpu, e.mm, e.a, sizeof(got), &r), 0);
	assert_int_equal(r.cpages, NPAGES);
	assert_int_equal(zd_mm_entry(e.mm, e.a, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_PRIVATE);
	assert_int_equal(zd_dmirror_stats(e.gpu, &st), 0);
	assert_int_equal(st.bo_refs, NPAGES);
	assert_int_equal(st.bos_live, 1);
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a, sizeof(got), got, &r), 0);
	assert_int_equal(r.faults, 0);
	assert_memory_equal(got, e.buf, sizeof(got));
	assert_int_equal(zd_audit(e.w), 0);
	assert_int_equal(zd_dmirror_migrate_to_sys(e.gpu, e.mm, e.a, sizeof(got), &r), 0);
	assert_int_equal(r.cpages, NPAGES);
	zd_device_counters(e.gpu, &c);
	assert_int_equal(c.allocated, NPAGES);
	assert_int_equal(c.freed, NPAGES);
	assert_int_equal(zd_dmirror_stats(e.gpu, &st), 0);
	assert_int_equal(st.bo_refs, 0);
	assert_int_equal(st.bos_freed, 1);
	assert_int_equal(zd_access_read(e.mm, e.a, got, sizeof(got)), 0);
	assert_memory_equal(got, e.buf, sizeof(got));
	/* coherent, then the CPU reads it in place and release moves it back */
	assert_int_equal(zd_dmirror_migrate_to_dev(e.cxl, e.mm, e.a, sizeof(got), &r), 0);
	assert_int_equal(zd_access_read(e.mm, e.a, got, sizeof(got)), 0);
	assert_memory_equal(got, e.buf, sizeof(got));
	assert_int_equal(zd_dmirror_release(e.cxl, &r), 0);
	assert_int_equal(r.cpages, NPAGES);
	assert_int_equal(zd_audit(e.w), 0);
	teardown(&e);
}

static void test_snapshot_codes(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	unsigned char codes[NPAGES];

	setup(&e);
	assert_int_equal(zd_dmirror_migrate_to_dev(e.gpu, e.mm, e.a, ZD_PAGE_SIZE, &r), 0);
	assert_int_equal(
	    zd_dmirror_migrate_to_dev(e.cxl, e.mm, e.a + ZD_PAGE_SIZE, ZD_PAGE_SIZE, &r), 0);
	assert_int_equal(zd_dmirror_snapshot(e.gpu, e.mm, e.a, 3 * ZD_PAGE_SIZE, codes), 0);
	assert_int_equal(codes[0], ZD_DMIRROR_PROT_DEV_PRIVATE_LOCAL | ZD_DMIRROR_PROT_WRITE);
	assert_int_equal(codes[1], ZD_DMIRROR_PROT_DEV_COHERENT_REMOTE | ZD_DMIRROR_PROT_WRITE);
	assert_int_equal(codes[2], ZD_DMIRROR_PROT_WRITE);
	assert_int_equal(zd_dmirror_snapshot(e.cxl, e.mm, e.a, 2 * ZD_PAGE_SIZE, codes), 0);
	assert_int_equal(codes[0], ZD_DMIRROR_PROT_NONE);
	assert_int_equal(codes[1], ZD_DMIRROR_PROT_DEV_COHERENT_LOCAL | ZD_DMIRROR_PROT_WRITE);
	assert_int_equal(zd_audit(e.w), 0);
	teardown(&e);
}

static void test_bo_refcount_mismatch(void **state)
{
	struct env e;
	struct zd_folio *folio;
	int nr;

	setup(&e);
	assert_int_equal(
	    zd_device_alloc_pages(e.gpu, 0, -1, ZD_HOLDER(ZD_HOLD_HANDLE, 1), &folio, &nr), 0);
	assert_int_equal(zd_audit(e.w), 0);
	/* The reference vanishes without the free callback: the BO keeps its reference. */
	zd_folio_unlock(folio);
	zd_folio_ref_transfer_reset(folio, 0, ZD_HOLDER(ZD_HOLD_HANDLE, 1));
	assert_true(reported(&e, "bo-refcount-mismatch"));
	teardown(&e);
}

static void test_mirror_write_stale(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	unsigned char got[ZD_PAGE_SIZE];
	zd_pte_t *pte;

	setup(&e);
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a, ZD_PAGE_SIZE, got, &r), 0);
	assert_int_equal(zd_audit(e.w), 0);
	/* Write-protect the PTE behind the mirror's back (no MMU notifier). */
	pte = pte_of(&e, e.a);
	zd_pte_write(pte, *pte & ~ZD_E_WRITE);
	assert_true(reported(&e, "mirror-write-stale"));
	teardown(&e);
}

static void test_mirror_entry_stale(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	unsigned char got[2 * ZD_PAGE_SIZE];
	zd_pte_t *p0, *p1, e0, e1;

	setup(&e);
	assert_int_equal(zd_access_write(e.mm, e.a, "ab", 2), 0);
	assert_int_equal(zd_access_write(e.mm, e.a + ZD_PAGE_SIZE, "cd", 2), 0);
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a, 2 * ZD_PAGE_SIZE, got, &r), 0);
	assert_int_equal(zd_audit(e.w), 0);
	/* Swap the two CPU pages behind the mirror's back (no MMU notifier). */
	p0 = pte_of(&e, e.a);
	p1 = pte_of(&e, e.a + ZD_PAGE_SIZE);
	e0 = zd_pte_read(p0);
	e1 = zd_pte_read(p1);
	zd_pte_write(p0, e1);
	zd_pte_write(p1, e0);
	assert_true(reported(&e, "mirror-entry-stale"));
	zd_pte_write(p0, e0);
	zd_pte_write(p1, e1);
	teardown(&e);
}

static void test_hmm_remote_private(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	struct zd_hmm_range range = { 0 };
	unsigned long hpfn;
	enum zd_invariant inv;
	struct zd_folio *folio;
	zd_pte_t pte;

	setup(&e);
	assert_int_equal(zd_access_write(e.mm, e.a, "ab", 2), 0);
	assert_int_equal(zd_dmirror_migrate_to_dev(e.gpu, e.mm, e.a, ZD_PAGE_SIZE, &r), 0);
	pte = zd_pte_read(pte_of(&e, e.a));
	assert_true(zd_swp_device_private(pte));
	folio = zd_pfn_folio(e.w, zd_pte_pfn(pte));
	assert_non_null(folio);
	hpfn = zd_pte_pfn(pte) | ZD_HMM_PFN_VALID;
	range.start = e.a;
	range.end = e.a + ZD_PAGE_SIZE;
	range.hmm_pfns = &hpfn;
	/* Its own owner may be handed its device-private page... */
	range.dev_private_owner = folio->pgmap->owner;
	assert_int_equal(zd_hmm_check_range(e.w, &range), 0);
	/* ...anyone else must never see it (a walk that forgot the owner rule). */
	range.dev_private_owner = &range;
	assert_int_equal(zd_hmm_check_range(e.w, &range), 1);
	assert_int_equal(zd_invariant_lookup("hmm-remote-private", &inv), 0);
	assert_true(zd_violation_reported(e.w, inv));
	teardown(&e);
}

static void test_mirror_atomic_stale(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	bool excl;
	zd_pte_t *pte;

	setup(&e);
	assert_int_equal(zd_dmirror_exclusive(e.gpu, e.mm, e.a, ZD_PAGE_SIZE, &r), 0);
	assert_int_equal(zd_dmirror_check_exclusive(e.gpu, e.mm, e.a, ZD_PAGE_SIZE, &excl), 0);
	assert_true(excl);
	assert_int_equal(zd_audit(e.w), 0);
	/* Restore a present PTE without telling the device (MMU_NOTIFY_EXCLUSIVE skipped). */
	pte = pte_of(&e, e.a);
	zd_pte_write(pte, zd_mk_pte(zd_pte_pfn(*pte), ZD_E_WRITE | ZD_E_DIRTY | ZD_E_YOUNG));
	assert_true(reported(&e, "mirror-atomic-stale"));
	teardown(&e);
}

static void test_exit_ends_mirror(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	struct zd_dmirror_stats st;
	unsigned char got[ZD_PAGE_SIZE];

	setup(&e);
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a, ZD_PAGE_SIZE, got, &r), 0);
	assert_int_equal(zd_dmirror_stats(e.gpu, &st), 0);
	assert_int_equal(st.mirrors, 1);
	assert_int_equal(st.mirror_entries, 1);
	assert_int_equal(zd_dmirror_migrate_to_dev(e.gpu, e.mm, e.a, 2 * ZD_PAGE_SIZE, &r), 0);
	zd_mm_exit(e.mm);
	assert_int_equal(zd_dmirror_stats(e.gpu, &st), 0);
	assert_int_equal(st.mirrors, 0);
	assert_int_equal(st.bo_refs, 0);
	/* a new process gets a new mirror */
	assert_int_equal(zd_mm_create(e.w, "Q", &e.mm), 0);
	assert_int_equal(zd_audit(e.w), 0);
	teardown(&e);
}

static void test_remove_evicts(void **state)
{
	struct env e;
	struct zd_dmirror_result r;
	unsigned char got[NPAGES * ZD_PAGE_SIZE];

	setup(&e);
	assert_int_equal(zd_dmirror_migrate_to_dev(e.gpu, e.mm, e.a, sizeof(got), &r), 0);
	assert_int_equal(zd_device_remove(e.gpu), 0);
	assert_int_equal(zd_pgmap_state(zd_device_pgmap(e.gpu, 0)), ZD_PGMAP_DEAD);
	assert_int_equal(zd_access_read(e.mm, e.a, got, sizeof(got)), 0);
	assert_memory_equal(got, e.buf, sizeof(got));
	assert_int_equal(zd_dmirror_read(e.gpu, e.mm, e.a, ZD_PAGE_SIZE, got, &r), -ENXIO);
	assert_int_equal(zd_audit(e.w), 0);
	teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_write),	       cmocka_unit_test(test_migrate_both_ways),
	    cmocka_unit_test(test_snapshot_codes),     cmocka_unit_test(test_bo_refcount_mismatch),
	    cmocka_unit_test(test_mirror_write_stale), cmocka_unit_test(test_mirror_entry_stale),
	    cmocka_unit_test(test_hmm_remote_private),
	    cmocka_unit_test(test_mirror_atomic_stale),
	    cmocka_unit_test(test_exit_ends_mirror),   cmocka_unit_test(test_remove_evicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
