/* SPDX-License-Identifier: MIT */
/*
 * zonedev: 4-level page tables: walking to an entry (allocating tables),
 * reading and writing entries, visiting leaves, freeing the tables.
 */
#include "vm/vm.h"

/*
 * Entries are published with release and read with acquire: a new lower
 * table (zeroed by its allocation) is seen whole by a lockless walker.
 */
zd_pte_t zd_pte_read(const zd_pte_t *pte)
{
	return ZD_LOAD_ACQUIRE(*pte);
}

void zd_pte_write(zd_pte_t *pte, zd_pte_t e)
{
	ZD_STORE_RELEASE(*pte, e);
}

bool zd_pte_maps_folio(zd_pte_t e)
{
	if (zd_pte_present(e))
		return !(e & (ZD_E_SPECIAL | ZD_E_DEVMAP));
	if (!zd_pte_swap(e))
		return false;
	return zd_swp_device_private(e) || zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE;
}

struct zd_pt *zd_pt_alloc(struct zd_world *w, unsigned int level)
{
	struct zd_pt *pt;

	if (zd_should_fail(w, ZD_FAIL_PGTABLE))
		return NULL;
	pt = zd_kzalloc(w, sizeof(*pt));
	if (!pt)
		return NULL;
	zd_spin_lock_init(&pt->ptl);
	pt->level = level;
	return pt;
}

static unsigned int zd_pt_index(uint64_t addr, unsigned int level)
{
	return (unsigned int)((addr >> zd_level_shift(level)) & (ZD_PT_ENTRIES - 1));
}

int zd_pt_walk(struct zd_mm *mm, uint64_t addr, unsigned int level, bool alloc,
	       struct zd_slot *slot)
{
	struct zd_pt *pt = mm->pgd;
	unsigned int l;

	for (l = ZD_LEVEL_PGD;; l--) {
		zd_pte_t *pte = &pt->e[zd_pt_index(addr, l)];
		zd_pte_t e = zd_pte_read(pte);
		struct zd_pt *next;

		if (l == level || (e && !zd_pte_table(e)) || (!e && l <= level)) {
			slot->pt = pt;
			slot->pte = pte;
			slot->level = l;
			return 0;
		}
		if (!e) {
			if (!alloc)
				return -ENOENT;
			next = zd_pt_alloc(mm->world, l - 1);
			if (!next)
				return -ENOMEM;
			zd_spin_lock(&mm->page_table_lock);
			e = zd_pte_read(pte);
			if (!e)
				zd_pte_write(pte, (zd_pte_t)(uintptr_t)next | ZD_E_TABLE_TAG);
			zd_spin_unlock(&mm->page_table_lock);
			if (e) /* someone else installed one meanwhile */
				zd_kfree(mm->world, next, sizeof(*next));
			e = zd_pte_read(pte);
		}
		pt = (struct zd_pt *)(uintptr_t)(e & ~ZD_E_TABLE_MASK);
	}
}

static void zd_pt_free(struct zd_world *w, struct zd_pt *pt)
{
	unsigned int i;

	if (pt->level > ZD_LEVEL_PTE) {
		for (i = 0; i < ZD_PT_ENTRIES; i++) {
			zd_pte_t e = pt->e[i];

			if (zd_pte_table(e))
				zd_pt_free(w, (struct zd_pt *)(uintptr_t)(e & ~ZD_E_TABLE_MASK));
		}
	}
	zd_kfree(w, pt, sizeof(*pt));
}

/*
 * Whether a table maps nothing. Only asked by zd_pt_prune, under mmap_lock
 * held for writing and for a span no VMA covers: no entry of it can change
 * meanwhile, so the scan is one scheduling point, not one per entry (512
 * points that could only multiply the explorer's steps).
 */
static bool zd_pt_empty(const struct zd_pt *pt)
{
	bool empty = true;
	unsigned int i;

	ZD_SYNC_POINT(ZD_SP_READ, pt);
	zd_sync_quiet_begin();
	for (i = 0; i < ZD_PT_ENTRIES && empty; i++)
		if (ZD_READ_QUIET(pt->e[i]))
			empty = false;
	zd_sync_quiet_end();
	return empty;
}

/*
 * Detach, bottom up, every table below pt that serves [start, end) and whose
 * whole span lies in [floor, ceiling) once it is empty. Detached tables are
 * chained through their first entry (they are empty) on *dead.
 */
static void zd_pt_prune(struct zd_mm *mm, struct zd_pt *pt, uint64_t base, uint64_t start,
			uint64_t end, uint64_t floor, uint64_t ceiling, struct zd_pt **dead)
{
	uint64_t size = zd_level_size(pt->level);
	unsigned int i;

	for (i = 0; i < ZD_PT_ENTRIES; i++) {
		uint64_t a = base + i * size;
		zd_pte_t e;
		struct zd_pt *child;

		if (a + size <= start || a >= end)
			continue;
		e = zd_pte_read(&pt->e[i]);
		if (!zd_pte_table(e))
			continue;
		child = (struct zd_pt *)(uintptr_t)(e & ~ZD_E_TABLE_MASK);
		if (child->level > ZD_LEVEL_PTE)
			zd_pt_prune(mm, child, a, start, end, floor, ceiling, dead);
		if (a < floor || a + size > ceiling || !zd_pt_empty(child))
			continue;
		zd_spin_lock(&mm->page_table_lock);
		zd_pte_write(&pt->e[i], 0);
		zd_spin_unlock(&mm->page_table_lock);
		child->e[0] = (zd_pte_t)(uintptr_t)*dead;
		*dead = child;
	}
}

void zd_free_pgtables(struct zd_mm *mm, uint64_t start, uint64_t end, uint64_t floor,
		      uint64_t ceiling)
{
	struct zd_pt *dead = NULL, *next;

	if (!mm->pgd || start >= end)
		return;
	zd_pt_prune(mm, mm->pgd, 0, start, end, floor, ceiling, &dead);
	if (!dead)
		return;
	/* GUP-fast walks tables under RCU alone: let every such walk finish. */
	zd_synchronize_rcu();
	for (; dead; dead = next) {
		next = (struct zd_pt *)(uintptr_t)dead->e[0];
		zd_kfree(mm->world, dead, sizeof(*dead));
	}
}

void zd_pt_free_all(struct zd_mm *mm)
{
	if (mm->pgd)
		zd_pt_free(mm->world, mm->pgd);
	mm->pgd = NULL;
}

static void zd_pt_visit(struct zd_mm *mm, struct zd_pt *pt, uint64_t base, uint64_t start,
			uint64_t end,
			void (*fn)(struct zd_mm *, uint64_t, struct zd_slot *, void *), void *arg)
{
	uint64_t size = zd_level_size(pt->level);
	unsigned int i;

	for (i = 0; i < ZD_PT_ENTRIES; i++) {
		uint64_t a = base + i * size;
		zd_pte_t e;

		if (a + size <= start || a >= end)
			continue;
		e = zd_pte_read(&pt->e[i]);
		if (!e)
			continue;
		if (zd_pte_table(e)) {
			zd_pt_visit(mm, (struct zd_pt *)(uintptr_t)(e & ~ZD_E_TABLE_MASK), a, start, end,
				    fn, arg);
		} else {
			struct zd_slot slot = { pt, &pt->e[i], pt->level };

			fn(mm, a, &slot, arg);
		}
	}
}

void zd_pt_for_each_leaf(struct zd_mm *mm, uint64_t start, uint64_t end,
			 void (*fn)(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg),
			 void *arg)
{
	if (mm->pgd)
		zd_pt_visit(mm, mm->pgd, 0, start, end, fn, arg);
}

/* The digest of one table: each entry, a lower table by its own digest in place of its address. */
static void zd_pt_hash(struct zd_pt *pt, struct zd_state_hash *h)
{
	unsigned int i;

	zd_state_hash_u64(h, pt->level);
	for (i = 0; i < ZD_PT_ENTRIES; i++) {
		zd_pte_t e = ZD_READ_QUIET(pt->e[i]);

		if (!e)
			continue;
		zd_state_hash_u64(h, i);
		if (zd_pte_table(e)) {
			zd_state_hash_u64(h, ZD_E_TABLE_TAG);
			zd_pt_hash((struct zd_pt *)(uintptr_t)(e & ~ZD_E_TABLE_MASK), h);
		} else {
			zd_state_hash_u64(h, e);
		}
	}
	zd_state_hash_u64(h, ZD_PT_ENTRIES); /* end of this table */
}

/*
 * The state digest of mm's page tables: every entry, present or not, and
 * which tables exist (an empty one still decides that no huge leaf goes there).
 */
void zd_pt_state_hash(struct zd_mm *mm, struct zd_state_hash *h)
{
	if (mm->pgd)
		zd_pt_hash(mm->pgd, h);
	else
		zd_state_hash_u64(h, 0);
}
