/* SPDX-License-Identifier: MIT */
/*
 * zonedev: device migration: migrate_vma_setup (collect, then unmap and the
 * reference check), migrate_vma_pages (commit), migrate_vma_finalize, and
 * the pfn-range eviction path that shares phases B, C and D.
 */
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
	if (slot.level != ZD_LEVEL_PTE) {
		/* A huge mapping: split the mapping; the folio stays large and is not migrated here. */
		zd_split_huge_pmd(vma, addr);
		return 0;
	}
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

/* ---- rmap users: try_to_migrate and remove_migration_ptes ----------------------------- */

struct zd_ttm {
	struct zd_folio *folio;
};

/* try_to_migrate for one mapping: the entry mapping folio at addr becomes a migration entry. */
static bool zd_try_to_migrate_one(struct zd_vma *vma, uint64_t addr, void *arg)
{
	struct zd_ttm *t = arg;
	struct zd_mm *mm = vma->mm;
	struct zd_world *w = mm->world;
	struct zd_slot slot;
	struct zd_page *page;
	bool write, exclusive;
	zd_pte_t e;

	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot) || slot.level != ZD_LEVEL_PTE)
		return true;
	zd_mmu_notifier_invalidate_start(mm, addr, addr + ZD_PAGE_SIZE, ZD_MMU_NOTIFY_CLEAR, NULL);
	zd_spin_lock(&slot.pt->ptl);
	e = zd_pte_read(slot.pte);
	if (!zd_pte_maps_folio(e) || zd_pte_pfn(e) != t->folio->pfn) {
		zd_spin_unlock(&slot.pt->ptl);
		zd_mmu_notifier_invalidate_end(mm, addr, addr + ZD_PAGE_SIZE);
		return true;
	}
	page = zd_pfn_to_page(w, t->folio->pfn);
	exclusive = zd_page_test_flag(page, ZD_PG_anon_exclusive);
	write = zd_entry_writable(e);
	if (zd_pte_present(e) && (e & ZD_E_DIRTY))
		zd_folio_set_flag(t->folio, ZD_PG_dirty);
	zd_page_clear_flag(page, ZD_PG_anon_exclusive);
	zd_pte_write(slot.pte, zd_mk_migration_entry(t->folio->pfn, write, exclusive, e));
	zd_spin_unlock(&slot.pt->ptl);
	zd_mmu_notifier_invalidate_end(mm, addr, addr + ZD_PAGE_SIZE);
	zd_rmap_remove(mm, t->folio, ZD_LEVEL_PTE);
	zd_folio_put(t->folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	return true;
}

static void zd_try_to_migrate(struct zd_world *w, struct zd_folio *folio)
{
	struct zd_ttm t = { folio };

	zd_rmap_walk(w, folio, zd_try_to_migrate_one, &t);
}

struct zd_rmp {
	struct zd_folio *src, *target;
};

/* remove_migration_ptes for one mapping: a migration entry for src maps target instead. */
static bool zd_remove_migration_pte(struct zd_vma *vma, uint64_t addr, void *arg)
{
	struct zd_rmp *r = arg;
	struct zd_mm *mm = vma->mm;
	struct zd_world *w = mm->world;
	struct zd_slot slot;
	bool write;
	zd_pte_t e, ne;

	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot) || slot.level != ZD_LEVEL_PTE)
		return true;
	zd_spin_lock(&slot.pt->ptl);
	e = zd_pte_read(slot.pte);
	if (!zd_swp_migration(e) || zd_pte_pfn(e) != r->src->pfn) {
		zd_spin_unlock(&slot.pt->ptl);
		return true;
	}
	write = zd_swp_type(e) == ZD_SWP_MIGRATION_WRITE;
	zd_folio_get(r->target, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	zd_rmap_add(mm, r->target, ZD_LEVEL_PTE, false);
	if (zd_swp_type(e) != ZD_SWP_MIGRATION_READ)
		zd_page_set_flag(zd_pfn_to_page(w, r->target->pfn), ZD_PG_anon_exclusive);
	if (zd_folio_is_device_private(r->target))
		ne = zd_mk_swp(write ? ZD_SWP_DEVICE_WRITE : ZD_SWP_DEVICE_READ, r->target->pfn,
			       e & ZD_E_SOFT_DIRTY);
	else
		ne = zd_mk_pte(r->target->pfn, (e & (ZD_E_SOFT_DIRTY | ZD_E_YOUNG)) |
						       (write ? ZD_E_WRITE : 0) |
						       ((write && (e & ZD_E_DIRTY)) ? ZD_E_DIRTY : 0));
	zd_pte_write(slot.pte, ne);
	zd_spin_unlock(&slot.pt->ptl);
	return true;
}

static void zd_remove_migration_ptes(struct zd_world *w, struct zd_folio *src,
				     struct zd_folio *target)
{
	struct zd_rmp r = { src, target };

	zd_rmap_walk(w, target, zd_remove_migration_pte, &r);
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
			zd_try_to_migrate(w, folio);
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
	zd_mmu_notifier_invalidate_start(args->mm, args->start, args->end, ZD_MMU_NOTIFY_MIGRATE,
					 args->pgmap_owner);
	for (i = 0, addr = args->start; i < args->npages; i++, addr += ZD_PAGE_SIZE) {
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
			if (!zd_migrate_dst_ok(d) || !zd_migrate_insert_page(args, vma, addr, d))
				src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			else
				src[i] = ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (!zd_migrate_dst_ok(d) || zd_folio_test_large(d) ||
		    (zd_folio_is_zone_device(d) && s->mapping && !zd_folio_test_anon(s))) {
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
	unsigned long i;

	if (!w || !src)
		return -EINVAL;
	for (i = 0; i < npages; i++) {
		unsigned long pfn = start_pfn + i;
		struct zd_folio *folio = zd_pfn_folio(w, pfn);

		src[i] = 0;
		/*
		 * Only allocated pages (refcount above the resting count: a free
		 * page rests at 1 in the legacy regime), whole order-0 folios,
		 * uncontended.
		 */
		if (!folio || folio->pfn != pfn || zd_folio_test_large(folio) ||
		    zd_folio_idle(folio) || !zd_folio_try_get(folio, SRC))
			continue;
		if (!zd_folio_trylock(folio)) {
			zd_folio_put(folio, SRC);
			continue;
		}
		src[i] = zd_migrate_pfn(pfn) | ZD_MIGRATE_PFN_MIGRATE;
	}
	zd_migrate_device_unmap(w, src, npages, NULL);
	return 0;
}

int zd_migrate_device_coherent_folio(struct zd_folio *folio, struct zd_holder h)
{
	struct zd_world *w;
	unsigned long src, dst = 0;
	struct zd_folio *new;

	if (!folio || !zd_folio_is_device_coherent(folio) || zd_folio_test_large(folio))
		return -EINVAL;
	w = zd_folio_world(folio);
	zd_folio_ref_transfer(folio, h, SRC); /* the caller's reference is the collection one */
	zd_folio_lock(folio);
	src = zd_migrate_pfn(folio->pfn) | ZD_MIGRATE_PFN_MIGRATE;
	zd_migrate_device_unmap(w, &src, 1, NULL);
	if (!(src & ZD_MIGRATE_PFN_MIGRATE))
		return -EBUSY; /* the restore loop unlocked it and dropped the reference */
	new = zd_folio_alloc(w, 0, DST);
	if (new) {
		zd_folio_lock(new);
		dst = zd_migrate_pfn(new->pfn);
	}
	zd_migrate_device_pages(w, &src, &dst, 1);
	if (new && (src & ZD_MIGRATE_PFN_MIGRATE))
		memcpy(zd_page_data(w, new->pfn), zd_page_data(w, folio->pfn), ZD_PAGE_SIZE);
	zd_migrate_device_finalize(w, &src, &dst, 1);
	return new && (src & ZD_MIGRATE_PFN_MIGRATE) ? 0 : -EBUSY;
}
