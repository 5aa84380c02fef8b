/* SPDX-License-Identifier: MIT */
/*
 * zonedev: device migration: migrate_vma_setup (collect, then unmap and the
 * reference check), migrate_vma_pages (commit), migrate_vma_finalize, and
 * the pfn-range eviction path that shares phases B, C and D.
 */
#include <stdlib.h>
#include <string.h>

#include "zonedev/migrate.h"
#include "vm/vm.h"

#define SRC ZD_MIGRATE_SRC_HOLDER
#define DST ZD_MIGRATE_DST_HOLDER

void zd_mmap_read_lock(struct zd_mm *mm)
{
	zd_down_read(&mm->mmap_lock);
}

void zd_mmap_read_unlock(struct zd_mm *mm)
{
	zd_up_read(&mm->mmap_lock);
}

void *zd_page_address(struct zd_world *w, unsigned long pfn)
{
	return zd_page_data(w, pfn);
}

static struct zd_folio *zd_slot_folio(struct zd_world *w, unsigned long mpfn)
{
	unsigned long pfn = zd_migrate_pfn_to_pfn(mpfn);

	return pfn == ZD_PFN_NONE ? NULL : zd_pfn_folio(w, pfn);
}

/* The migration entry that replaces a mapping of a page (its write state and exclusivity). */
static zd_pte_t zd_mk_migration_entry(unsigned long pfn, bool write, bool exclusive,
				      zd_pte_t old)
{
	enum zd_swp_type t = write ? ZD_SWP_MIGRATION_WRITE :
			     exclusive ? ZD_SWP_MIGRATION_READ_EXCLUSIVE : ZD_SWP_MIGRATION_READ;
	unsigned long bits = old & ZD_E_SOFT_DIRTY;

	if (zd_pte_present(old))
		bits |= old & (ZD_E_YOUNG | ZD_E_DIRTY);
	return zd_mk_swp(t, pfn, bits);
}

static bool zd_entry_writable(zd_pte_t e)
{
	if (zd_pte_present(e))
		return e & ZD_E_WRITE;
	return zd_swp_type(e) == ZD_SWP_DEVICE_WRITE || zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE;
}

/* ---- Phase A: collect ---------------------------------------------------------------- */

static bool zd_collect_selected(struct zd_migrate_vma *args, struct zd_folio *folio, zd_pte_t e)
{
	enum zd_memory_type type = zd_folio_memory_type(folio);

	if (zd_pte_swap(e))
		return zd_swp_device_private(e) &&
		       (args->flags & ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE) &&
		       type == ZD_MEMORY_DEVICE_PRIVATE && folio->pgmap->owner == args->pgmap_owner;
	if (type == ZD_MEMORY_DEVICE_COHERENT)
		return (args->flags & ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT) &&
		       folio->pgmap->owner == args->pgmap_owner;
	if (type != ZD_MEMORY_DEVICE_NONE)
		return false;
	return args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM;
}

/* One page of the collect walk: the slot's value. Caller holds mmap_lock. */
static unsigned long zd_collect_page(struct zd_migrate_vma *args, struct zd_vma *vma, uint64_t addr)
{
	struct zd_mm *mm = args->mm;
	struct zd_world *w = mm->world;
	struct zd_folio *folio, *fault_folio = NULL;
	struct zd_page *page;
	struct zd_slot slot;
	bool write, exclusive;
	unsigned long pfn;
	zd_pte_t e;

	if (args->fault_page)
		fault_folio = zd_page_folio(args->fault_page);
	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot))
		return zd_vma_is_anon(vma) ? ZD_MIGRATE_PFN_MIGRATE : 0; /* a hole */
	e = zd_pte_read(slot.pte);
	if (!e)
		return zd_vma_is_anon(vma) ? ZD_MIGRATE_PFN_MIGRATE : 0;
	if (slot.level != ZD_LEVEL_PTE)
		return 0; /* a huge leaf not selected (zd_collect_prepare split the selected ones) */
	if (zd_pte_present(e) && (e & ZD_E_SPECIAL)) {
		/* the zero page migrates as a hole */
		if (zd_pte_pfn(e) == w->vm->zero_folio->pfn &&
		    (args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM))
			return ZD_MIGRATE_PFN_MIGRATE;
		return 0;
	}
	if (!zd_pte_present(e) && !zd_swp_device_private(e))
		return 0; /* exclusive, migration, poison: not this path's */
	pfn = zd_pte_pfn(e);
	folio = zd_pfn_folio(w, pfn);
	if (!folio || zd_folio_test_large(folio) || !zd_folio_test_anon(folio) ||
	    !zd_collect_selected(args, folio, e))
		return 0;
	page = zd_pfn_to_page(w, pfn);

	if (!zd_folio_try_get(folio, SRC))
		return 0;
	if (folio != fault_folio && !zd_folio_trylock(folio)) {
		zd_folio_put(folio, SRC);
		return 0; /* contended: best effort */
	}
	zd_spin_lock(&slot.pt->ptl);
	if (zd_pte_read(slot.pte) != e) {
		zd_spin_unlock(&slot.pt->ptl);
		goto undo;
	}
	exclusive = zd_page_test_flag(page, ZD_PG_anon_exclusive);
	if (exclusive) {
		/* The first pin check: an exclusive page that may be pinned stays. */
		if (zd_folio_maybe_dma_pinned(folio)) {
			zd_spin_unlock(&slot.pt->ptl);
			goto undo;
		}
		zd_page_clear_flag(page, ZD_PG_anon_exclusive);
	}
	write = zd_entry_writable(e);
	if (zd_pte_present(e) && (e & ZD_E_DIRTY))
		zd_folio_set_flag(folio, ZD_PG_dirty);
	zd_pte_write(slot.pte, zd_mk_migration_entry(pfn, write, exclusive, e));
	zd_spin_unlock(&slot.pt->ptl);
	/* The mapping's reference and mapcount go; the collection reference keeps the folio. */
	zd_rmap_remove(mm, folio, ZD_LEVEL_PTE);
	zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	return zd_migrate_pfn(pfn) | ZD_MIGRATE_PFN_MIGRATE | (write ? ZD_MIGRATE_PFN_WRITE : 0);

undo:
	if (folio != fault_folio)
		zd_folio_unlock(folio);
	zd_folio_put(folio, SRC);
	return 0;
}

/*
 * migrate_vma_collect_huge_pmd: a PMD leaf (a present huge mapping or a
 * device-private PMD entry) of a 2 MiB anonymous folio, collected whole:
 * the PMD becomes a PMD migration entry and the slot a COMPOUND head.
 */
static unsigned long zd_collect_huge_pmd(struct zd_migrate_vma *args, struct zd_slot *slot,
					 zd_pte_t e)
{
	struct zd_mm *mm = args->mm;
	struct zd_world *w = mm->world;
	struct zd_folio *folio, *fault_folio = NULL;
	bool write, exclusive;
	unsigned long pfn = zd_pte_pfn(e), k;

	if (args->fault_page)
		fault_folio = zd_page_folio(args->fault_page);
	if (!zd_pte_maps_folio(e) || (zd_pte_present(e) && !(e & ZD_E_HUGE)))
		return 0;
	folio = zd_pfn_folio(w, pfn);
	if (!folio || folio->pfn != pfn || zd_folio_nr_pages(folio) != ZD_PT_ENTRIES ||
	    !zd_folio_test_anon(folio) || !zd_collect_selected(args, folio, e))
		return 0;
	if (!zd_folio_try_get(folio, SRC))
		return 0;
	if (folio != fault_folio && !zd_folio_trylock(folio)) {
		zd_folio_put(folio, SRC);
		return 0;
	}
	zd_spin_lock(&slot->pt->ptl);
	if (zd_pte_read(slot->pte) != e) {
		zd_spin_unlock(&slot->pt->ptl);
		goto undo;
	}
	exclusive = zd_page_test_flag(&folio->page, ZD_PG_anon_exclusive);
	if (exclusive && zd_folio_maybe_dma_pinned(folio)) {
		zd_spin_unlock(&slot->pt->ptl);
		goto undo;
	}
	for (k = 0; k < ZD_PT_ENTRIES; k++)
		zd_page_clear_flag(&(&folio->page)[k], ZD_PG_anon_exclusive);
	write = zd_entry_writable(e);
	if (zd_pte_present(e) && (e & ZD_E_DIRTY))
		zd_folio_set_flag(folio, ZD_PG_dirty);
	zd_pte_write(slot->pte, zd_mk_migration_entry(pfn, write, exclusive, e));
	zd_spin_unlock(&slot->pt->ptl);
	zd_rmap_remove(mm, folio, ZD_LEVEL_PMD);
	zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	return zd_migrate_pfn(pfn) | ZD_MIGRATE_PFN_MIGRATE | ZD_MIGRATE_PFN_COMPOUND |
	       (write ? ZD_MIGRATE_PFN_WRITE : 0);

undo:
	if (folio != fault_folio)
		zd_folio_unlock(folio);
	zd_folio_put(folio, SRC);
	return 0;
}

/* ---- rmap users: try_to_migrate and remove_migration_ptes ----------------------------- */

struct zd_ttm {
	struct zd_folio *folio;
	bool pte_only; /* splitting: a PMD leaf mapping the folio stays (the split is refused) */
};

/*
 * One leaf that may map page k of t->folio becomes a migration entry of the
 * same level (a PMD leaf, present or device-private, maps the whole folio
 * and becomes a PMD migration entry). Its mapping reference and mapcount go.
 */
static void zd_ttm_leaf(struct zd_mm *mm, struct zd_folio *folio, struct zd_slot *slot,
			unsigned long k)
{
	struct zd_world *w = mm->world;
	unsigned long pfn = folio->pfn + k;
	bool write, exclusive;
	long i;
	zd_pte_t e;

	zd_spin_lock(&slot->pt->ptl);
	e = zd_pte_read(slot->pte);
	if (!zd_pte_maps_folio(e) || zd_pte_pfn(e) != pfn ||
	    (slot->level > ZD_LEVEL_PTE && zd_folio_nr_pages(folio) !=
						   (unsigned long)zd_level_pages(slot->level))) {
		zd_spin_unlock(&slot->pt->ptl);
		return;
	}
	exclusive = zd_page_test_flag(zd_pfn_to_page(w, pfn), ZD_PG_anon_exclusive);
	write = zd_entry_writable(e);
	if (zd_pte_present(e) && (e & ZD_E_DIRTY))
		zd_folio_set_flag(folio, ZD_PG_dirty);
	/* a folio's struct pages are contiguous: page k of it is (&folio->page)[k] */
	for (i = 0; i < zd_level_pages(slot->level); i++)
		zd_page_clear_flag(&(&folio->page)[k + i], ZD_PG_anon_exclusive);
	zd_pte_write(slot->pte, zd_mk_migration_entry(pfn, write, exclusive, e));
	zd_spin_unlock(&slot->pt->ptl);
	zd_rmap_remove(mm, folio, slot->level);
	zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
}

/*
 * try_to_migrate for one mapping: every entry mapping the folio (each page
 * of a large one) at addr becomes a migration entry.
 */
static bool zd_try_to_migrate_one(struct zd_vma *vma, uint64_t addr, void *arg)
{
	struct zd_ttm *t = arg;
	struct zd_mm *mm = vma->mm;
	uint64_t end = addr + (zd_folio_nr_pages(t->folio) << ZD_PAGE_SHIFT), a;
	struct zd_slot slot;

	uint64_t first = addr > vma->start ? addr : vma->start;

	if (end > vma->end)
		end = vma->end;
	zd_mmu_notifier_invalidate_start(mm, first, end, ZD_MMU_NOTIFY_CLEAR, NULL);
	for (a = first; a < end; a += ZD_PAGE_SIZE) {
		if (zd_pt_walk(mm, a, ZD_LEVEL_PTE, false, &slot))
			continue;
		if (slot.level == ZD_LEVEL_PTE) {
			zd_ttm_leaf(mm, t->folio, &slot, (a - addr) >> ZD_PAGE_SHIFT);
			continue;
		}
		if (slot.level == ZD_LEVEL_PMD && a == addr && !t->pte_only)
			zd_ttm_leaf(mm, t->folio, &slot, 0);
		/* the rest of this PMD (or of a hole above it) holds nothing more of the folio */
		a = (a | (zd_level_size(slot.level) - 1)) + 1 - ZD_PAGE_SIZE;
	}
	zd_mmu_notifier_invalidate_end(mm, first, end);
	return true;
}

static void zd_try_to_migrate(struct zd_world *w, struct zd_folio *folio, bool pte_only)
{
	struct zd_ttm t = { folio, pte_only };

	zd_rmap_walk(w, folio, zd_try_to_migrate_one, &t);
}

struct zd_rmp {
	struct zd_folio *src, *target;
};

/*
 * One migration entry for page k of src maps page k of target instead: a
 * PMD migration entry becomes a huge mapping (present, or a device-private
 * PMD entry) of a target of the same size (remove_migration_pmd).
 */
static void zd_rmp_leaf(struct zd_vma *vma, struct zd_slot *slot, struct zd_rmp *r,
			unsigned long k)
{
	struct zd_mm *mm = vma->mm;
	unsigned long tpfn = r->target->pfn + k;
	bool write, huge = slot->level > ZD_LEVEL_PTE;
	zd_pte_t e, ne;
	long i;

	zd_spin_lock(&slot->pt->ptl);
	e = zd_pte_read(slot->pte);
	if (!zd_swp_migration(e) || zd_pte_pfn(e) != r->src->pfn + k ||
	    (huge && zd_folio_nr_pages(r->target) != (unsigned long)zd_level_pages(slot->level))) {
		zd_spin_unlock(&slot->pt->ptl);
		return;
	}
	write = zd_swp_type(e) == ZD_SWP_MIGRATION_WRITE;
	zd_folio_get(r->target, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	zd_rmap_add(mm, r->target, slot->level, false);
	if (zd_swp_type(e) != ZD_SWP_MIGRATION_READ)
		for (i = 0; i < zd_level_pages(slot->level); i++)
			zd_page_set_flag(&(&r->target->page)[k + i], ZD_PG_anon_exclusive);
	if (zd_folio_is_device_private(r->target))
		ne = zd_mk_swp(write ? ZD_SWP_DEVICE_WRITE : ZD_SWP_DEVICE_READ, tpfn,
			       e & ZD_E_SOFT_DIRTY);
	else
		ne = zd_mk_pte(tpfn, (e & (ZD_E_SOFT_DIRTY | ZD_E_YOUNG)) | (huge ? ZD_E_HUGE : 0) |
					     (write ? ZD_E_WRITE : 0) |
					     ((write && (e & ZD_E_DIRTY)) ? ZD_E_DIRTY : 0));
	zd_pte_write(slot->pte, ne);
	zd_spin_unlock(&slot->pt->ptl);
}

/* remove_migration_ptes for one mapping: the migration entries for src map target instead. */
static bool zd_remove_migration_pte(struct zd_vma *vma, uint64_t addr, void *arg)
{
	struct zd_rmp *r = arg;
	uint64_t end = addr + (zd_folio_nr_pages(r->target) << ZD_PAGE_SHIFT), a;
	struct zd_slot slot;

	if (end > vma->end)
		end = vma->end;
	for (a = addr > vma->start ? addr : vma->start; a < end; a += ZD_PAGE_SIZE) {
		if (zd_pt_walk(vma->mm, a, ZD_LEVEL_PTE, false, &slot))
			continue;
		if (slot.level == ZD_LEVEL_PTE) {
			zd_rmp_leaf(vma, &slot, r, (a - addr) >> ZD_PAGE_SHIFT);
			continue;
		}
		if (slot.level == ZD_LEVEL_PMD && a == addr)
			zd_rmp_leaf(vma, &slot, r, 0);
		a = (a | (zd_level_size(slot.level) - 1)) + 1 - ZD_PAGE_SIZE;
	}
	return true;
}

static void zd_remove_migration_ptes(struct zd_world *w, struct zd_folio *src,
				     struct zd_folio *target)
{
	struct zd_rmp r = { src, target };

	zd_rmap_walk(w, target, zd_remove_migration_pte, &r);
}

/* ---- Large folios: splitting ------------------------------------------------------------- */

#define SPLIT ZD_HOLDER(ZD_HOLD_MIGRATE, 2)

/*
 * Split an unmapped large folio into order-0 folios (__split_unmapped_folio).
 * The references on it stay with the first page; every other page becomes a
 * folio with one reference, held by tail_holder, and the head's state: the
 * anon mapping and its own index, locked, dirty and uptodate as the head is.
 * Each page keeps its PG_anon_exclusive. Device pages keep their pgmap, and
 * what the allocation took per page (pgmap references, a driver's per-page
 * accounting) is released page by page when each new folio is freed.
 */
void zd_folio_split_unmapped(struct zd_folio *folio, struct zd_holder tail_holder)
{
	struct zd_world *w = zd_folio_world(folio);
	unsigned int order = zd_folio_order(folio);
	unsigned long nr = 1ul << order, k;
	bool locked = zd_folio_test_locked(folio);
	bool dirty = zd_folio_test_flag(folio, ZD_PG_dirty);
	bool uptodate = zd_folio_test_flag(folio, ZD_PG_uptodate);
	void *mapping = ZD_READ_ONCE(folio->mapping);
	unsigned long index = folio->index;

	if (!order)
		return;
	if (zd_tracing(w))
		zd_trace_event(w, folio->pfn, "migrate", "folio_split", "order=%u refcount=%d",
			       order, zd_folio_ref_count(folio));
	zd_clear_compound(&folio->page, order);
	zd_folio_clear_flag(folio, ZD_PG_large_rmappable);
	for (k = 1; k < nr; k++) {
		struct zd_folio *f = (struct zd_folio *)&(&folio->page)[k];

		if (locked)
			zd_page_set_flag(&f->page, ZD_PG_locked);
		if (dirty)
			zd_page_set_flag(&f->page, ZD_PG_dirty);
		if (uptodate)
			zd_page_set_flag(&f->page, ZD_PG_uptodate);
		ZD_WRITE_ONCE(f->mapping, mapping);
		f->index = index + k;
		zd_folio_set_refcount(f, 1, tail_holder);
	}
}

/*
 * split_folio for a mapped large folio: unmap its PTE mappings to migration
 * entries, split it if nothing but the caller's `refs` references remain,
 * then map each page again as its own folio. The caller holds the folio
 * locked and keeps its lock and references on the first page. -EBUSY (the
 * mappings are restored as they were) when a PMD still maps it or someone
 * else holds a reference (a pin). Caller holds mmap_lock (read).
 */
int zd_split_mapped_folio(struct zd_folio *folio, int refs)
{
	struct zd_world *w = zd_folio_world(folio);
	unsigned long nr = zd_folio_nr_pages(folio), k;

	if (nr == 1)
		return 0;
	if (!zd_folio_test_anon(folio))
		return -EINVAL;
	zd_try_to_migrate(w, folio, true);
	if (zd_folio_mapcount(folio) > 0 || zd_folio_ref_count(folio) != refs) {
		zd_remove_migration_ptes(w, folio, folio);
		return -EBUSY;
	}
	zd_folio_split_unmapped(folio, SPLIT);
	for (k = 0; k < nr; k++) {
		struct zd_folio *f = zd_pfn_folio(w, folio->pfn + k);

		zd_remove_migration_ptes(w, f, f);
	}
	for (k = 1; k < nr; k++) {
		struct zd_folio *f = zd_pfn_folio(w, folio->pfn + k);

		zd_folio_unlock(f);
		zd_folio_put(f, SPLIT);
	}
	return 0;
}

struct zd_smp {
	struct zd_folio *folio;
	int err;
};

/* One PMD migration entry of the folio becomes 512 PTE migration entries (rmap walk). */
static bool zd_split_migration_pmd(struct zd_vma *vma, uint64_t addr, void *arg)
{
	struct zd_smp *m = arg;
	struct zd_slot slot;
	zd_pte_t e;

	if (addr < vma->start || addr + zd_level_size(ZD_LEVEL_PMD) > vma->end ||
	    zd_pt_walk(vma->mm, addr, ZD_LEVEL_PMD, false, &slot) || slot.level != ZD_LEVEL_PMD)
		return true; /* a PMD leaf lies whole inside its VMA */
	e = zd_pte_read(slot.pte);
	if (zd_swp_migration(e) && zd_pte_pfn(e) == m->folio->pfn && zd_split_huge_pmd(vma, addr))
		m->err = -ENOMEM;
	return !m->err;
}

/*
 * migrate_vma_split_unmapped_folio: a collected (unmapped, locked, frozen
 * but for our references) large source whose driver gave small destinations
 * is split; its PMD migration entries become PTE ones first. Slots i+1..
 * take the new folios (each locked and holding its collection reference).
 * -ENOMEM (nothing split) if a page table could not be allocated.
 */
static int zd_migrate_split_source(struct zd_world *w, struct zd_folio *s, unsigned long *src,
				   unsigned long i, unsigned long npages)
{
	unsigned long nr = zd_folio_nr_pages(s), k;
	struct zd_smp m = { s, 0 };

	if (i + nr > npages)
		return -EINVAL;
	zd_rmap_walk(w, s, zd_split_migration_pmd, &m);
	if (m.err)
		return m.err;
	zd_folio_split_unmapped(s, SRC);
	src[i] &= ~ZD_MIGRATE_PFN_COMPOUND;
	for (k = 1; k < nr; k++)
		src[i + k] = zd_migrate_pfn(s->pfn + k) | ZD_MIGRATE_PFN_MIGRATE |
			     (src[i] & ZD_MIGRATE_PFN_WRITE);
	return 0;
}

/* ---- Phase B: unmap and the reference check ---------------------------------------------- */

static bool zd_migrate_check_refs(struct zd_folio *folio, struct zd_folio *fault_folio)
{
	int extra = 1 + (folio == fault_folio) + zd_folio_is_zone_device(folio);

	if (folio->mapping && !zd_folio_test_anon(folio))
		extra++; /* a page-cache page */
	return zd_folio_ref_count(folio) - extra <= zd_folio_mapcount(folio);
}

static unsigned long zd_migrate_device_unmap(struct zd_world *w, unsigned long *src,
					     unsigned long npages, struct zd_folio *fault_folio)
{
	unsigned long i, cpages = 0;

	for (i = 0; i < npages; i++) {
		struct zd_folio *folio = zd_slot_folio(w, src[i]);

		if (!folio) {
			if (src[i] & ZD_MIGRATE_PFN_MIGRATE)
				cpages++;
			continue;
		}
		if (zd_folio_mapcount(folio) > 0)
			zd_try_to_migrate(w, folio, false);
		if (zd_folio_mapcount(folio) > 0 || !zd_migrate_check_refs(folio, fault_folio)) {
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		cpages++;
	}
	/* Restore the slots that cannot migrate: their mappings come back exactly. */
	for (i = 0; i < npages; i++) {
		struct zd_folio *folio = zd_slot_folio(w, src[i]);

		if (!folio || (src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		zd_remove_migration_ptes(w, folio, folio);
		src[i] = 0;
		if (folio != fault_folio)
			zd_folio_unlock(folio);
		zd_folio_put(folio, SRC);
	}
	return cpages;
}

/* Would the collection take this leaf whole (a 2 MiB folio entirely inside the range)? */
static bool zd_collect_whole(struct zd_migrate_vma *args, uint64_t base)
{
	return (args->flags & ZD_MIGRATE_VMA_SELECT_COMPOUND) && base >= args->start &&
	       base + zd_level_size(ZD_LEVEL_PMD) <= args->end;
}

/* Split a PTE-mapped large folio the collection would select (best effort). */
static void zd_collect_split_pte_folio(struct zd_migrate_vma *args, zd_pte_t e)
{
	struct zd_world *w = args->mm->world;
	struct zd_folio *folio;

	if (!zd_pte_maps_folio(e))
		return;
	folio = zd_pfn_folio(w, zd_pte_pfn(e));
	if (!folio || !zd_folio_test_large(folio) || !zd_folio_test_anon(folio) ||
	    !zd_collect_selected(args, folio, e) ||
	    (args->fault_page && folio == zd_page_folio(args->fault_page)))
		return;
	if (!zd_folio_try_get(folio, SPLIT))
		return;
	if (zd_folio_trylock(folio)) {
		zd_split_mapped_folio(folio, 1);
		zd_folio_unlock(folio);
	}
	zd_folio_put(folio, SPLIT);
}

/*
 * Before the collection (the kernel splits as its walk meets them): a PMD
 * leaf the collection selects but cannot take whole is split into PTEs, and
 * every large folio the collection meets mapped by PTEs is split into base
 * pages, so that each of its pages migrates on its own.
 */
static void zd_collect_prepare(struct zd_migrate_vma *args, struct zd_vma *vma)
{
	struct zd_mm *mm = args->mm;
	uint64_t pmd_size = zd_level_size(ZD_LEVEL_PMD), base, a, lo, hi;
	struct zd_slot slot;
	zd_pte_t e;

	for (base = args->start & ~(pmd_size - 1); base < args->end; base += pmd_size) {
		if (zd_pt_walk(mm, base, ZD_LEVEL_PMD, false, &slot) || slot.level != ZD_LEVEL_PMD)
			continue;
		e = zd_pte_read(slot.pte);
		if (!e)
			continue;
		if (!zd_pte_table(e)) {
			struct zd_folio *folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));

			if (!zd_pte_maps_folio(e) || !folio || !zd_folio_test_anon(folio) ||
			    !zd_collect_selected(args, folio, e))
				continue;
			if (zd_collect_whole(args, base) && folio->pfn == zd_pte_pfn(e) &&
			    zd_folio_nr_pages(folio) == ZD_PT_ENTRIES)
				continue;
			if (zd_split_huge_pmd(vma, base))
				continue;
		}
		lo = base > args->start ? base : args->start;
		hi = base + pmd_size < args->end ? base + pmd_size : args->end;
		for (a = lo; a < hi; a += ZD_PAGE_SIZE) {
			if (zd_pt_walk(mm, a, ZD_LEVEL_PTE, false, &slot) ||
			    slot.level != ZD_LEVEL_PTE)
				break;
			zd_collect_split_pte_folio(args, zd_pte_read(slot.pte));
		}
	}
}

int zd_migrate_vma_setup(struct zd_migrate_vma *args)
{
	struct zd_folio *fault_folio = NULL;
	struct zd_vma *vma;
	unsigned long i;
	uint64_t addr;

	if (!args || !args->mm || !args->src || !args->dst || args->start >= args->end ||
	    ((args->start | args->end) & (ZD_PAGE_SIZE - 1)))
		return -EINVAL;
	vma = zd_find_vma(args->mm, args->start);
	if (!vma || args->end > vma->end || vma->vm_ops || (vma->flags & ZD_VM_MIXEDMAP) ||
	    !zd_vma_is_anon(vma))
		return -EINVAL;
	/*
	 * BUG(private-fault-free-race): before v6.1 migrate_vma had no fault
	 * page: the faulting page was collected like any other (trylock, no
	 * extra reference expected), because the fault path held neither.
	 */
	if (args->fault_page && zd_bug_on(args->mm->world, ZD_BUG_PRIVATE_FAULT_FREE_RACE))
		args->fault_page = NULL;
	if (args->fault_page) {
		fault_folio = zd_page_folio(args->fault_page);
		if (!fault_folio || !zd_folio_is_device_private(fault_folio) ||
		    !zd_folio_test_locked(fault_folio))
			return -EINVAL;
	}
	args->npages = (args->end - args->start) >> ZD_PAGE_SHIFT;
	args->cpages = 0;
	memset(args->src, 0, args->npages * sizeof(*args->src));
	memset(args->dst, 0, args->npages * sizeof(*args->dst));
	zd_collect_prepare(args, vma);
	zd_mmu_notifier_invalidate_start(args->mm, args->start, args->end, ZD_MMU_NOTIFY_MIGRATE,
					 args->pgmap_owner);
	for (i = 0, addr = args->start; i < args->npages; i++, addr += ZD_PAGE_SIZE) {
		struct zd_slot slot;
		zd_pte_t e;

		if (!(addr & (zd_level_size(ZD_LEVEL_PMD) - 1)) && zd_collect_whole(args, addr) &&
		    !zd_pt_walk(args->mm, addr, ZD_LEVEL_PTE, false, &slot) &&
		    slot.level == ZD_LEVEL_PMD && (e = zd_pte_read(slot.pte)) != 0) {
			/* A PMD leaf: collected whole, or left alone (its 512 slots stay 0). */
			args->src[i] = zd_collect_huge_pmd(args, &slot, e);
			if (args->src[i] & ZD_MIGRATE_PFN_MIGRATE)
				args->cpages++;
			i += ZD_PT_ENTRIES - 1;
			addr += zd_level_size(ZD_LEVEL_PMD) - ZD_PAGE_SIZE;
			continue;
		}
		if (!(addr & (zd_level_size(ZD_LEVEL_PMD) - 1)) && zd_collect_whole(args, addr) &&
		    zd_vma_is_anon(vma) &&
		    (zd_pt_walk(args->mm, addr, ZD_LEVEL_PTE, false, &slot) ||
		     (slot.level >= ZD_LEVEL_PMD && !zd_pte_read(slot.pte)))) {
			/* An empty PMD: a compound hole, one slot for 2 MiB. */
			args->src[i] = ZD_MIGRATE_PFN_MIGRATE | ZD_MIGRATE_PFN_COMPOUND;
			args->cpages++;
			i += ZD_PT_ENTRIES - 1;
			addr += zd_level_size(ZD_LEVEL_PMD) - ZD_PAGE_SIZE;
			continue;
		}
		args->src[i] = zd_collect_page(args, vma, addr);
		if (args->src[i] & ZD_MIGRATE_PFN_MIGRATE)
			args->cpages++;
	}
	zd_mmu_notifier_invalidate_end(args->mm, args->start, args->end);
	if (args->cpages)
		args->cpages = zd_migrate_device_unmap(args->mm->world, args->src, args->npages,
						       fault_folio);
	return 0;
}

/* ---- Phase C: commit ---------------------------------------------------------------------- */

/*
 * migrate_vma_insert_huge_pmd_page: a compound hole gets a 2 MiB dst mapped
 * by one PMD (a device-private PMD entry, or a present huge mapping).
 */
static bool zd_migrate_insert_huge_pmd(struct zd_migrate_vma *args, struct zd_vma *vma,
				       uint64_t addr, struct zd_folio *dst)
{
	struct zd_mm *mm = args->mm;
	bool write = vma->flags & ZD_VM_WRITE;
	struct zd_slot slot;
	zd_pte_t ne;

	if (!zd_vma_is_anon(vma) || zd_folio_nr_pages(dst) != ZD_PT_ENTRIES ||
	    zd_pt_walk(mm, addr, ZD_LEVEL_PMD, true, &slot) || slot.level != ZD_LEVEL_PMD)
		return false;
	if (zd_folio_is_device_private(dst))
		ne = zd_mk_swp(write ? ZD_SWP_DEVICE_WRITE : ZD_SWP_DEVICE_READ, dst->pfn, 0);
	else
		ne = zd_mk_pte(dst->pfn, ZD_E_YOUNG | ZD_E_HUGE | (write ? ZD_E_WRITE | ZD_E_DIRTY : 0));
	zd_spin_lock(&slot.pt->ptl);
	if (zd_pte_read(slot.pte)) {
		zd_spin_unlock(&slot.pt->ptl);
		return false; /* faulted in (or a page table appeared) meanwhile */
	}
	zd_folio_add_new_anon(vma, dst, addr);
	zd_folio_set_flag(dst, ZD_PG_uptodate);
	zd_folio_get(dst, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	zd_rmap_add(mm, dst, ZD_LEVEL_PMD, false);
	zd_pte_write(slot.pte, ne);
	zd_spin_unlock(&slot.pt->ptl);
	zd_mm_add_rss(mm, ZD_MM_ANONPAGES, ZD_PT_ENTRIES);
	return true;
}

/* migrate_vma_insert_page: a hole gets the dst page mapped directly. */
static bool zd_migrate_insert_page(struct zd_migrate_vma *args, struct zd_vma *vma, uint64_t addr,
				   struct zd_folio *dst)
{
	struct zd_mm *mm = args->mm;
	struct zd_world *w = mm->world;
	bool write = vma->flags & ZD_VM_WRITE;
	struct zd_slot slot;
	zd_pte_t e, ne;

	if (!zd_vma_is_anon(vma) || zd_pt_walk(mm, addr, ZD_LEVEL_PTE, true, &slot) ||
	    slot.level != ZD_LEVEL_PTE)
		return false;
	if (zd_folio_is_device_private(dst))
		ne = zd_mk_swp(write ? ZD_SWP_DEVICE_WRITE : ZD_SWP_DEVICE_READ, dst->pfn, 0);
	else
		ne = zd_mk_pte(dst->pfn, ZD_E_YOUNG | (write ? ZD_E_WRITE | ZD_E_DIRTY : 0));
	zd_spin_lock(&slot.pt->ptl);
	e = zd_pte_read(slot.pte);
	if (e && !(zd_pte_present(e) && (e & ZD_E_SPECIAL) &&
		   zd_pte_pfn(e) == w->vm->zero_folio->pfn)) {
		zd_spin_unlock(&slot.pt->ptl);
		return false; /* someone faulted it in meanwhile */
	}
	zd_folio_add_new_anon(vma, dst, addr);
	zd_folio_set_flag(dst, ZD_PG_uptodate);
	zd_folio_get(dst, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	zd_rmap_add(mm, dst, ZD_LEVEL_PTE, false);
	zd_pte_write(slot.pte, ne);
	zd_spin_unlock(&slot.pt->ptl);
	zd_mm_add_rss(mm, ZD_MM_ANONPAGES, 1);
	return true;
}

static bool zd_migrate_dst_ok(struct zd_folio *dst)
{
	enum zd_memory_type t = zd_folio_memory_type(dst);

	return t == ZD_MEMORY_DEVICE_NONE || t == ZD_MEMORY_DEVICE_PRIVATE ||
	       t == ZD_MEMORY_DEVICE_COHERENT;
}

static void zd_migrate_pages_common(struct zd_world *w, struct zd_migrate_vma *args,
				    struct zd_vma *vma, unsigned long *src, unsigned long *dst,
				    unsigned long npages, struct zd_folio *fault_folio)
{
	bool notified = false;
	uint64_t end_from = 0;
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct zd_folio *d = zd_slot_folio(w, dst[i]);
		struct zd_folio *s = zd_slot_folio(w, src[i]);

		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		if (!d) {
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (!s) {
			uint64_t addr;

			if (!args || !vma) {
				src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
				continue;
			}
			addr = args->start + (i << ZD_PAGE_SHIFT);
			if (!notified) {
				zd_mmu_notifier_invalidate_start(args->mm, addr, args->end,
								 ZD_MMU_NOTIFY_MIGRATE,
								 args->pgmap_owner);
				end_from = addr;
				notified = true;
			}
			if ((src[i] & ZD_MIGRATE_PFN_COMPOUND) && zd_folio_test_large(d)) {
				if (!zd_migrate_dst_ok(d) ||
				    !zd_migrate_insert_huge_pmd(args, vma, addr, d))
					src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
				continue;
			}
			if (src[i] & ZD_MIGRATE_PFN_COMPOUND) {
				/* a compound hole, base-page dsts: 512 holes, each its own insert */
				unsigned long k;

				for (k = 1; k < ZD_PT_ENTRIES && i + k < npages; k++)
					src[i + k] = ZD_MIGRATE_PFN_MIGRATE;
			}
			/* a large dst fits only a compound hole */
			if (!zd_migrate_dst_ok(d) || zd_folio_test_large(d) ||
			    !zd_migrate_insert_page(args, vma, addr, d))
				src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			else
				src[i] = ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		if ((src[i] & ZD_MIGRATE_PFN_COMPOUND) && !zd_folio_test_large(d)) {
			/*
			 * A 2 MiB source, a base-page destination: split the source
			 * (unmapped, so only our references are left to check) and
			 * migrate it page by page; slots without a destination keep
			 * their page.
			 */
			if (zd_folio_ref_count(s) != 1 + (s == fault_folio) ||
			    zd_migrate_split_source(w, s, src, i, npages)) {
				src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
				continue;
			}
		}
		if (!zd_migrate_dst_ok(d) ||
		    (zd_folio_test_large(d) && (!(src[i] & ZD_MIGRATE_PFN_COMPOUND) ||
						zd_folio_nr_pages(d) != zd_folio_nr_pages(s))) ||
		    (zd_folio_is_zone_device(d) && s->mapping && !zd_folio_test_anon(s))) {
			/* a large destination takes only a source of its size */
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		/*
		 * folio_migrate_mapping: exactly the collection reference (+ the
		 * fault's), and a 1-based page's base reference (the +1 the legacy
		 * kernels added for device-private pages).
		 */
		if (zd_folio_ref_count(s) !=
		    1 + (s == fault_folio) + zd_folio_test_flag(s, ZD_PG_base_ref)) {
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		ZD_WRITE_ONCE(d->mapping, ZD_READ_ONCE(s->mapping));
		d->index = s->index;
		if (zd_folio_test_flag(s, ZD_PG_dirty))
			zd_folio_set_flag(d, ZD_PG_dirty);
		zd_folio_set_flag(d, ZD_PG_uptodate);
	}
	if (notified)
		zd_mmu_notifier_invalidate_end(args->mm, end_from, args->end);
}

void zd_migrate_vma_pages(struct zd_migrate_vma *args)
{
	struct zd_vma *vma;

	if (!args || !args->mm)
		return;
	vma = zd_find_vma(args->mm, args->start);
	zd_migrate_pages_common(args->mm->world, args, vma, args->src, args->dst, args->npages,
				args->fault_page ? zd_page_folio(args->fault_page) : NULL);
}

void zd_migrate_device_pages(struct zd_world *w, unsigned long *src, unsigned long *dst,
			     unsigned long npages)
{
	zd_migrate_pages_common(w, NULL, NULL, src, dst, npages, NULL);
}

/* ---- Phase D: finalize -------------------------------------------------------------------- */

static void zd_migrate_finalize_common(struct zd_world *w, unsigned long *src, unsigned long *dst,
				       unsigned long npages, struct zd_folio *fault_folio)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct zd_folio *d = zd_slot_folio(w, dst[i]);
		struct zd_folio *s = zd_slot_folio(w, src[i]);
		struct zd_folio *target;

		if (!s) {
			if (d) {
				/* a hole: the mapping holds its own reference if the insert worked */
				zd_folio_unlock(d);
				zd_folio_put(d, DST);
			}
			continue;
		}
		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE) || !d) {
			if (d) {
				zd_folio_unlock(d);
				zd_folio_put(d, DST);
			}
			target = s;
		} else {
			target = d;
		}
		zd_remove_migration_ptes(w, s, target);
		if (s != fault_folio)
			zd_folio_unlock(s);
		zd_folio_put(s, SRC);
		if (target != s) {
			zd_folio_unlock(target);
			zd_folio_put(target, DST);
		}
	}
}

void zd_migrate_vma_finalize(struct zd_migrate_vma *args)
{
	if (!args || !args->mm)
		return;
	zd_migrate_finalize_common(args->mm->world, args->src, args->dst, args->npages,
				   args->fault_page ? zd_page_folio(args->fault_page) : NULL);
}

void zd_migrate_device_finalize(struct zd_world *w, unsigned long *src, unsigned long *dst,
				unsigned long npages)
{
	zd_migrate_finalize_common(w, src, dst, npages, NULL);
}

/* ---- Eviction by pfn range ----------------------------------------------------------------- */

int zd_migrate_device_range(struct zd_world *w, unsigned long *src, unsigned long start_pfn,
			    unsigned long npages)
{
	unsigned long i, k;

	if (!w || !src)
		return -EINVAL;
	for (i = 0; i < npages; i++) {
		unsigned long pfn = start_pfn + i;
		struct zd_folio *folio = zd_pfn_folio(w, pfn);

		src[i] = 0;
		/*
		 * Only allocated pages (refcount above the resting count: a free
		 * page rests at 1 in the legacy regime), uncontended, and whole
		 * folios: a large one inside the range is one COMPOUND slot
		 * followed by zero slots (its tails).
		 */
		if (!folio || folio->pfn != pfn || i + zd_folio_nr_pages(folio) > npages ||
		    zd_folio_idle(folio) || !zd_folio_try_get(folio, SRC))
			continue;
		if (!zd_folio_trylock(folio)) {
			zd_folio_put(folio, SRC);
			continue;
		}
		src[i] = zd_migrate_pfn(pfn) | ZD_MIGRATE_PFN_MIGRATE |
			 (zd_folio_test_large(folio) ? ZD_MIGRATE_PFN_COMPOUND : 0);
		for (k = 1; k < zd_folio_nr_pages(folio); k++)
			src[++i] = 0;
	}
	zd_migrate_device_unmap(w, src, npages, NULL);
	return 0;
}

/* The system destination(s) for a coherent folio of nr pages: one folio of its size, else base pages. */
static void zd_coherent_dst(struct zd_world *w, unsigned long nr, unsigned long *dst)
{
	struct zd_folio *new = zd_folio_alloc(w, nr > 1 ? ZD_PMD_ORDER : 0, DST);
	unsigned long k;

	if (new) {
		zd_folio_lock(new);
		dst[0] = zd_migrate_pfn(new->pfn) | (nr > 1 ? ZD_MIGRATE_PFN_COMPOUND : 0);
		return;
	}
	for (k = 0; nr > 1 && k < nr; k++) {
		new = zd_folio_alloc(w, 0, DST);
		if (!new)
			return;
		zd_folio_lock(new);
		dst[k] = zd_migrate_pfn(new->pfn);
	}
}

int zd_migrate_device_coherent_folio(struct zd_folio *folio, struct zd_holder h)
{
	unsigned long one_src, one_dst = 0, *src = &one_src, *dst = &one_dst, nr, k;
	struct zd_world *w;
	int ret = 0;

	if (!folio || !zd_folio_is_device_coherent(folio) ||
	    (zd_folio_test_large(folio) && zd_folio_nr_pages(folio) != ZD_PT_ENTRIES))
		return -EINVAL;
	w = zd_folio_world(folio);
	nr = zd_folio_nr_pages(folio);
	if (nr > 1) {
		/* a 2 MiB coherent folio: one COMPOUND slot (whole, or split for base pages) */
		src = calloc(nr, sizeof(*src));
		dst = calloc(nr, sizeof(*dst));
		if (!src || !dst) {
			free(src);
			free(dst);
			return -ENOMEM;
		}
	}
	zd_folio_ref_transfer(folio, h, SRC); /* the caller's reference is the collection one */
	zd_folio_lock(folio);
	src[0] = zd_migrate_pfn(folio->pfn) | ZD_MIGRATE_PFN_MIGRATE |
		 (nr > 1 ? ZD_MIGRATE_PFN_COMPOUND : 0);
	zd_migrate_device_unmap(w, src, nr, NULL);
	if (!(src[0] & ZD_MIGRATE_PFN_MIGRATE)) {
		ret = -EBUSY; /* the restore loop unlocked it and dropped the reference */
		goto out;
	}
	zd_coherent_dst(w, nr, dst);
	zd_migrate_device_pages(w, src, dst, nr);
	for (k = 0; k < nr; k++) {
		unsigned long d = zd_migrate_pfn_to_pfn(dst[k]), s = zd_migrate_pfn_to_pfn(src[k]);
		unsigned long n = (src[k] & ZD_MIGRATE_PFN_COMPOUND) ? nr : 1, i;

		if (!(src[k] & ZD_MIGRATE_PFN_MIGRATE) || d == ZD_PFN_NONE || s == ZD_PFN_NONE) {
			if (s != ZD_PFN_NONE || k == 0)
				ret = -EBUSY;
			continue;
		}
		for (i = 0; i < n; i++)
			memcpy(zd_page_data(w, d + i), zd_page_data(w, s + i), ZD_PAGE_SIZE);
	}
	zd_migrate_device_finalize(w, src, dst, nr);
out:
	if (src != &one_src) {
		free(src);
		free(dst);
	}
	return ret;
}
