/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: MMU interval notifiers hear every invalidation of their
 * range with the kernel's events; the rmap walk finds every mapping of a
 * folio across fork.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "vm/vm.h"

struct seen {
	struct zd_mmu_interval_notifier mni;
	int n;
	enum zd_mmu_notify_event events[32];
	uint64_t start[32], end[32];
};

static bool record(struct zd_mmu_interval_notifier *mni, const struct zd_mmu_notifier_range *r,
		   unsigned long cur_seq)
{
	struct seen *s = (struct seen *)mni;

	assert_true(cur_seq & 1); /* an invalidation is in progress */
	if (s->n < 32) {
		s->events[s->n] = r->event;
		s->start[s->n] = r->start;
		s->end[s->n] = r->end;
		s->n++;
	}
	return true;
}

static const struct zd_mmu_interval_notifier_ops ops = { .invalidate = record };

static struct zd_world *new_world(void)
{
	struct zd_world_opts o;
	struct zd_world *w;

	zd_world_opts_init(&o);
	o.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&o, &w), 0);
	return w;
}

static void test_notifier_events(void **state)
{
	struct zd_world *w = new_world();
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = 8 * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	struct seen s;
	struct zd_mm *mm, *child;
	uint64_t addr, other;
	unsigned long seq;
	char c = 1;

	memset(&s, 0, sizeof(s));
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	assert_int_equal(zd_mmap(mm, &a, &addr), 0);
	assert_int_equal(zd_mmap(mm, &a, &other), 0);
	assert_int_equal(zd_mmu_interval_notifier_insert(&s.mni, mm, addr, 8 * ZD_PAGE_SIZE, &ops), 0);
	assert_int_equal(zd_mmu_interval_notifier_insert(&s.mni, mm, addr, 0, &ops), -EINVAL);
	seq = zd_mmu_interval_read_begin(&s.mni);
	assert_false(zd_mmu_interval_read_retry(&s.mni, seq));
	assert_int_equal(zd_access_write(mm, addr, &c, 1), 0);
	assert_int_equal(s.n, 0); /* a fault invalidates nothing */
	/* outside the range: not heard */
	assert_int_equal(zd_madvise_dontneed(mm, other, ZD_PAGE_SIZE), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(zd_mprotect(mm, addr, 2 * ZD_PAGE_SIZE, ZD_PROT_READ), 0);
	assert_int_equal(zd_madvise_dontneed(mm, addr + 4 * ZD_PAGE_SIZE, ZD_PAGE_SIZE), 0);
	assert_int_equal(zd_mm_fork(mm, "C", &child), 0);
	assert_int_equal(zd_munmap(mm, addr + 6 * ZD_PAGE_SIZE, ZD_PAGE_SIZE), 0);
	/* mprotect split the mapping in two; fork invalidates each COW VMA it copies */
	assert_int_equal(s.n, 5);
	assert_int_equal(s.events[0], ZD_MMU_NOTIFY_PROTECTION_VMA);
	assert_int_equal(s.start[0], addr);
	assert_int_equal(s.end[0], addr + 2 * ZD_PAGE_SIZE);
	assert_int_equal(s.events[1], ZD_MMU_NOTIFY_CLEAR);
	assert_int_equal(s.start[1], addr + 4 * ZD_PAGE_SIZE);
	assert_int_equal(s.events[2], ZD_MMU_NOTIFY_PROTECTION_PAGE);
	assert_int_equal(s.end[2], addr + 2 * ZD_PAGE_SIZE);
	assert_int_equal(s.events[3], ZD_MMU_NOTIFY_PROTECTION_PAGE);
	assert_int_equal(s.start[3], addr + 2 * ZD_PAGE_SIZE);
	assert_int_equal(s.events[4], ZD_MMU_NOTIFY_UNMAP);
	assert_int_equal(s.start[4], addr + 6 * ZD_PAGE_SIZE);
	assert_true(zd_mmu_interval_read_retry(&s.mni, seq)); /* the sequence moved on */
	seq = zd_mmu_interval_read_begin(&s.mni);
	assert_false(zd_mmu_interval_read_retry(&s.mni, seq));
	zd_mm_exit(child);
	zd_mmu_interval_notifier_remove(&s.mni);
	assert_int_equal(zd_munmap(mm, addr, ZD_PAGE_SIZE), 0);
	assert_int_equal(s.n, 5); /* removed: no longer told */
	zd_world_destroy(w);
}

/*
 * invalidate_range_start leaves the sequence odd until _end: a mirror that
 * read the page table after the callbacks but before the entries changed
 * must see its read_retry fail (the race that left a device mirror
 * pointing at a page another device had migrated and freed).
 */
static void test_notifier_start_end(void **state)
{
	struct zd_world *w = new_world();
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = 8 * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	struct seen s, t;
	struct zd_mm *mm;
	unsigned long seq;
	uint64_t addr;

	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	assert_int_equal(zd_mmap(mm, &a, &addr), 0);
	assert_int_equal(zd_mmu_interval_notifier_insert(&s.mni, mm, addr, 8 * ZD_PAGE_SIZE, &ops), 0);
	seq = zd_mmu_interval_read_begin(&s.mni);
	zd_mmu_notifier_invalidate_start(mm, addr, addr + ZD_PAGE_SIZE, ZD_MMU_NOTIFY_CLEAR, NULL);
	assert_int_equal(s.n, 1);
	assert_true(zd_atomic_ulong_read_acquire(&s.mni.invalidate_seq) & 1); /* still open */
	assert_true(zd_mmu_interval_read_retry(&s.mni, seq));
	/* overlapping invalidations: even again only when the last ends */
	zd_mmu_notifier_invalidate_start(mm, addr, addr + 2 * ZD_PAGE_SIZE, ZD_MMU_NOTIFY_CLEAR, NULL);
	/* a notifier inserted meanwhile has nothing of ours to end */
	assert_int_equal(zd_mmu_interval_notifier_insert(&t.mni, mm, addr, ZD_PAGE_SIZE, &ops), 0);
	zd_mmu_notifier_invalidate_end(mm, addr, addr + ZD_PAGE_SIZE);
	assert_true(zd_atomic_ulong_read_acquire(&s.mni.invalidate_seq) & 1);
	assert_false(zd_atomic_ulong_read_acquire(&t.mni.invalidate_seq) & 1);
	zd_mmu_notifier_invalidate_end(mm, addr, addr + 2 * ZD_PAGE_SIZE);
	assert_false(zd_atomic_ulong_read_acquire(&s.mni.invalidate_seq) & 1);
	assert_int_equal(t.mni.active, 0);
	seq = zd_mmu_interval_read_begin(&s.mni); /* does not wait: nothing open */
	assert_false(zd_mmu_interval_read_retry(&s.mni, seq));
	zd_mmu_interval_notifier_remove(&t.mni);
	zd_mmu_interval_notifier_remove(&s.mni);
	zd_mm_exit(mm);
	zd_world_destroy(w);
}

struct found {
	int n;
	struct zd_mm *mms[4];
	uint64_t addrs[4];
};

static bool note(struct zd_vma *vma, uint64_t addr, void *arg)
{
	struct found *f = arg;

	if (f->n < 4) {
		f->mms[f->n] = vma->mm;
		f->addrs[f->n] = addr;
	}
	f->n++;
	return true;
}

static void test_rmap_walk(void **state)
{
	struct zd_world *w = new_world();
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = 4 * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	struct zd_mm *mm, *child;
	struct zd_folio *folio;
	struct found f = { 0 };
	uint64_t addr;
	char c = 1;

	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	assert_int_equal(zd_mmap(mm, &a, &addr), 0);
	assert_int_equal(zd_access_write(mm, addr + 2 * ZD_PAGE_SIZE, &c, 1), 0);
	assert_int_equal(zd_mm_fork(mm, "C", &child), 0);
	folio = zd_mm_folio(mm, addr + 2 * ZD_PAGE_SIZE);
	assert_non_null(folio);
	assert_ptr_equal(zd_mm_folio(child, addr + 2 * ZD_PAGE_SIZE), folio);
	zd_rmap_walk(w, folio, note, &f);
	assert_int_equal(f.n, 2); /* the parent's and the child's mapping */
	assert_int_equal(f.addrs[0], addr + 2 * ZD_PAGE_SIZE);
	assert_int_equal(f.addrs[1], addr + 2 * ZD_PAGE_SIZE);
	assert_true((f.mms[0] == mm && f.mms[1] == child) || (f.mms[0] == child && f.mms[1] == mm));
	/* after a split of the VMA the address is still found */
	assert_int_equal(zd_munmap(mm, addr, ZD_PAGE_SIZE), 0);
	memset(&f, 0, sizeof(f));
	zd_rmap_walk(w, folio, note, &f);
	assert_int_equal(f.n, 2);
	zd_mm_exit(child);
	zd_mm_exit(mm);
	assert_int_equal(zd_audit(w), 0);
	zd_world_destroy(w);
}

/* Turn the present PTE at addr into a device-exclusive entry, as make_device_exclusive does. */
static void make_exclusive(struct zd_mm *mm, uint64_t addr)
{
	struct zd_slot slot;
	zd_pte_t e;

	assert_int_equal(zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot), 0);
	e = zd_pte_read(slot.pte);
	assert_true(zd_pte_present(e));
	zd_pte_write(slot.pte, zd_mk_swp(ZD_SWP_DEVICE_EXCLUSIVE, zd_pte_pfn(e), 0));
}

static void test_exclusive_restore(void **state)
{
	struct zd_world *w = new_world();
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = 4 * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	struct zd_entry_info info;
	struct zd_mm *mm, *child;
	struct zd_folio *folio;
	struct seen s;
	uint64_t addr;
	char buf[16] = "exclusive", out[16];

	memset(&s, 0, sizeof(s));
	assert_int_equal(zd_mm_create(w, "P", &mm), 0);
	assert_int_equal(zd_mmap(mm, &a, &addr), 0);
	assert_int_equal(zd_access_write(mm, addr, buf, sizeof(buf)), 0);
	folio = zd_mm_folio(mm, addr);
	assert_int_equal(zd_mmu_interval_notifier_insert(&s.mni, mm, addr, a.size, &ops), 0);

	/* a CPU access restores it: the device is told, the data is there, write allowed */
	make_exclusive(mm, addr);
	assert_int_equal(zd_mm_entry(mm, addr, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_EXCLUSIVE);
	assert_int_equal(zd_audit(w), 0); /* the entry keeps its reference and mapcount */
	assert_int_equal(zd_access_read(mm, addr, out, sizeof(out)), 0);
	assert_string_equal(out, "exclusive");
	assert_int_equal(s.n, 1);
	assert_int_equal(s.events[0], ZD_MMU_NOTIFY_EXCLUSIVE);
	assert_int_equal(zd_mm_entry(mm, addr, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_PRESENT);
	assert_true(info.writable);
	assert_int_equal(zd_folio_ref_count(folio), 1);

	/* fork while the device holds the folio locked fails; once unlocked it restores and copies */
	make_exclusive(mm, addr);
	assert_true(zd_folio_trylock(folio));
	assert_int_equal(zd_mm_fork(mm, "C", &child), -ENOMEM);
	zd_folio_unlock(folio);
	assert_int_equal(zd_mm_fork(mm, "C", &child), 0);
	assert_int_equal(zd_mm_entry(mm, addr, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_PRESENT);
	assert_false(info.writable); /* now COW-shared with the child */
	assert_int_equal(zd_folio_ref_count(folio), 2);
	assert_int_equal(zd_access_read(child, addr, out, sizeof(out)), 0);
	assert_string_equal(out, "exclusive");
	zd_mm_exit(child);

	/* an exclusive entry is zapped like a mapping: reference and mapcount go */
	make_exclusive(mm, addr);
	zd_mmu_interval_notifier_remove(&s.mni);
	assert_int_equal(zd_munmap(mm, addr, a.size), 0);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	zd_mm_exit(mm);
	zd_world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notifier_events),
	    cmocka_unit_test(test_notifier_start_end),
		cmocka_unit_test(test_rmap_walk),
		cmocka_unit_test(test_exclusive_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
