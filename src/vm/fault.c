/* SPDX-License-Identifier: MIT */
/*
 * zonedev: page faults: anonymous (zero page, new page, 2 MiB folio), the
 * page cache (shared and private file and shared anonymous memory), COW
 * and reuse, device mappings through the driver's vm_ops, and the
 * non-present kinds (device-private, device-exclusive, migration, poison).
 */
#include <string.h>

#include "vm/vm.h"

static void *zd_folio_data(struct zd_world *w, const struct zd_folio *folio)
{
	return zd_page_data(w, folio->pfn);
}

/*
 * Install a leaf for folio in the slot: the whole folio for a PMD/PUD leaf,
 * page pfn of it for a PTE. Takes the regime's mapping accounting (take_ref:
 * a new reference; else the caller's reference becomes the mapping's).
 */
static int zd_map_folio(struct zd_vma *vma, struct zd_slot *slot, unsigned long pfn,
			struct zd_folio *folio, bool write, bool take_ref)
{
	struct zd_mm *mm = vma->mm;
	bool devmap = zd_folio_is_zone_device(folio) && !zd_mapping_takes_ref(folio);
	zd_pte_t e = zd_mk_pte(pfn, ZD_E_YOUNG | (write ? ZD_E_WRITE | ZD_E_DIRTY : 0) |
					    (slot->level > ZD_LEVEL_PTE ? ZD_E_HUGE : 0) |
					    (devmap ? ZD_E_DEVMAP : 0));

	zd_spin_lock(&slot->pt->ptl);
	if (zd_pte_read(slot->pte)) {
		zd_spin_unlock(&slot->pt->ptl);
		return -EBUSY; /* raced: someone mapped it meanwhile */
	}
	if (!devmap)
		zd_rmap_add(mm, folio, slot->level, take_ref);
	zd_pte_write(slot->pte, e);
	zd_spin_unlock(&slot->pt->ptl);
	if (!devmap)
		zd_mm_add_rss(mm, zd_mm_counter_of(vma, folio),
			      (long)(zd_level_size(slot->level) >> ZD_PAGE_SHIFT));
	return 0;
}

/* A new anonymous folio of `order`, zeroed, mapped (its allocation reference becomes the mapping's). */
static int zd_do_anonymous_page(struct zd_vma *vma, uint64_t addr, bool write)
{
	struct zd_mm *mm = vma->mm;
	struct zd_world *w = mm->world;
	uint64_t pmd_base = addr & ~(zd_level_size(ZD_LEVEL_PMD) - 1);
	unsigned int level = ZD_LEVEL_PTE, order = 0;
	struct zd_folio *folio;
	struct zd_slot slot;
	int ret;

	if (!write) {
		/* A read of untouched anonymous memory maps the shared zero page. */
		if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, true, &slot))
			return ZD_VM_FAULT_OOM;
		zd_spin_lock(&slot.pt->ptl);
		if (!zd_pte_read(slot.pte))
			zd_pte_write(slot.pte, zd_mk_pte(w->vm->zero_folio->pfn, ZD_E_SPECIAL));
		zd_spin_unlock(&slot.pt->ptl);
		return 0;
	}
	/* A 2 MiB folio where the range allows one and the PMD is still empty. */
	if ((vma->flags & ZD_VM_HUGEPAGE) && pmd_base >= vma->start &&
	    pmd_base + zd_level_size(ZD_LEVEL_PMD) <= vma->end &&
	    !zd_pt_walk(mm, addr, ZD_LEVEL_PMD, true, &slot) && !zd_pte_read(slot.pte)) {
		level = ZD_LEVEL_PMD;
		order = ZD_PMD_ORDER;
	} else if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, true, &slot)) {
		return ZD_VM_FAULT_OOM;
	}
	folio = zd_folio_alloc(w, order, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	if (!folio && order) {
		/* No 2 MiB folio: fall back to a base page. */
		if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, true, &slot))
			return ZD_VM_FAULT_OOM;
		level = ZD_LEVEL_PTE;
		order = 0;
		folio = zd_folio_alloc(w, 0, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	}
	if (!folio)
		return ZD_VM_FAULT_OOM;
	memset(zd_folio_data(w, folio), 0, ZD_PAGE_SIZE << order);
	zd_folio_add_new_anon(vma, folio, addr);
	zd_folio_set_flag(folio, ZD_PG_uptodate);
	ret = zd_map_folio(vma, &slot, folio->pfn, folio, !!(vma->flags & ZD_VM_WRITE), false);
	if (ret) {
		zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
		return 0; /* raced with another fault: retry */
	}
	(void)level;
	return 0;
}

/* A page of the page cache (file or shared anonymous memory). */
static int zd_do_page_cache_fault(struct zd_vma *vma, uint64_t addr, bool write)
{
	struct zd_mm *mm = vma->mm;
	struct zd_folio *folio, *copy;
	struct zd_slot slot;
	int ret;

	ret = zd_page_cache_get(vma->mapping, zd_vma_index(vma, addr), &folio);
	if (ret)
		return ZD_VM_FAULT_OOM;
	/* A cached page memory failure poisoned is not mapped again (__do_fault's check). */
	if (zd_page_test_flag(&folio->page, ZD_PG_hwpoison))
		return ZD_VM_FAULT_HWPOISON;
	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, true, &slot))
		return ZD_VM_FAULT_OOM;
	if (write && !(vma->flags & ZD_VM_SHARED)) {
		/* A write to a private file mapping: copy the cached page (COW). */
		copy = zd_folio_alloc(mm->world, 0, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
		if (!copy)
			return ZD_VM_FAULT_OOM;
		memcpy(zd_folio_data(mm->world, copy), zd_folio_data(mm->world, folio), ZD_PAGE_SIZE);
		zd_folio_add_new_anon(vma, copy, addr);
		if (zd_map_folio(vma, &slot, copy->pfn, copy, true, false))
			zd_folio_put(copy, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
		return 0;
	}
	/* Shared writable mappings need no write notification here: map writable at once. */
	zd_map_folio(vma, &slot, folio->pfn, folio,
		     (vma->flags & ZD_VM_SHARED) && (vma->flags & ZD_VM_WRITE), true);
	return 0;
}

/*
 * do_wp_page: a write to a present read-only entry; with unshare, a read
 * pin on a shared anonymous page: the page becomes exclusive (reused or
 * copied) but stays read-only.
 */
static int zd_do_wp_page(struct zd_vma *vma, uint64_t addr, struct zd_slot *slot, zd_pte_t e,
			 bool unshare)
{
	zd_pte_t wbits = unshare ? 0 : ZD_E_WRITE | ZD_E_DIRTY;
	struct zd_mm *mm = vma->mm;
	struct zd_world *w = mm->world;
	struct zd_folio *folio = NULL, *copy;
	struct zd_page *page = NULL;
	int ret;

	if (slot->level == ZD_LEVEL_PMD && !(e & ZD_E_SPECIAL)) {
		folio = zd_pfn_folio(w, zd_pte_pfn(e));
		if (folio && zd_folio_test_anon(folio) && zd_folio_ref_count(folio) > 1 &&
		    !zd_page_test_flag(&folio->page, ZD_PG_anon_exclusive)) {
			(void)wbits;
			/* A shared anonymous THP: split the PMD and COW one page. */
			ret = zd_split_huge_pmd(vma, addr);
			return ret ? ZD_VM_FAULT_OOM : 0;
		}
	}
	if (!(e & ZD_E_SPECIAL)) {
		folio = zd_pfn_folio(w, zd_pte_pfn(e));
		page = zd_pfn_to_page(w, zd_pte_pfn(e));
	}
	if ((vma->flags & ZD_VM_SHARED) || (folio && !zd_folio_test_anon(folio) &&
					    zd_folio_is_zone_device(folio))) {
		/* Shared mappings (and device memory mapped shared) become writable in place. */
		if (unshare)
			return 0; /* nothing to unshare */
		zd_spin_lock(&slot->pt->ptl);
		if (zd_pte_read(slot->pte) == e)
			zd_pte_write(slot->pte, e | ZD_E_WRITE | ZD_E_DIRTY | ZD_E_YOUNG);
		zd_spin_unlock(&slot->pt->ptl);
		return 0;
	}
	if (folio && zd_folio_test_anon(folio) &&
	    (zd_page_test_flag(page, ZD_PG_anon_exclusive) ||
	     (!zd_folio_test_large(folio) && zd_folio_ref_count(folio) == 1))) {
		/* Reuse: the only mapper of an anonymous page writes to it in place. */
		zd_page_set_flag(page, ZD_PG_anon_exclusive);
		zd_spin_lock(&slot->pt->ptl);
		if (zd_pte_read(slot->pte) == e)
			zd_pte_write(slot->pte, e | wbits | ZD_E_YOUNG);
		zd_spin_unlock(&slot->pt->ptl);
		return 0;
	}
	/* Copy on write: a private copy in system RAM (from the zero page, a shared page...). */
	copy = zd_folio_alloc(w, 0, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	if (!copy)
		return ZD_VM_FAULT_OOM;
	if (e & ZD_E_SPECIAL)
		memset(zd_folio_data(w, copy), 0, ZD_PAGE_SIZE);
	else
		memcpy(zd_folio_data(w, copy), zd_page_data(w, zd_pte_pfn(e)), ZD_PAGE_SIZE);
	zd_folio_add_new_anon(vma, copy, addr);
	/* wp_page_copy: secondary MMUs drop what they mirror of the old page. */
	zd_mmu_notifier_invalidate_start(mm, addr & ~(ZD_PAGE_SIZE - 1),
					 (addr & ~(ZD_PAGE_SIZE - 1)) + ZD_PAGE_SIZE,
					 ZD_MMU_NOTIFY_CLEAR, NULL);
	zd_spin_lock(&slot->pt->ptl);
	if (zd_pte_read(slot->pte) != e) {
		zd_spin_unlock(&slot->pt->ptl);
		zd_mmu_notifier_invalidate_end(mm, addr & ~(ZD_PAGE_SIZE - 1),
					       (addr & ~(ZD_PAGE_SIZE - 1)) + ZD_PAGE_SIZE);
		zd_folio_put(copy, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
		return 0;
	}
	zd_rmap_add(mm, copy, ZD_LEVEL_PTE, false);
	zd_pte_write(slot->pte, zd_mk_pte(copy->pfn, wbits | ZD_E_YOUNG));
	zd_spin_unlock(&slot->pt->ptl);
	zd_mmu_notifier_invalidate_end(mm, addr & ~(ZD_PAGE_SIZE - 1),
				       (addr & ~(ZD_PAGE_SIZE - 1)) + ZD_PAGE_SIZE);
	zd_mm_add_rss(mm, ZD_MM_ANONPAGES, 1);
	if (folio) {
		zd_mm_add_rss(mm, zd_mm_counter_of(vma, folio), -1);
		zd_rmap_remove(mm, folio, ZD_LEVEL_PTE);
		zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	}
	return 0;
}

static bool zd_folio_unlocked(void *arg)
{
	return !zd_folio_test_locked(arg);
}

/*
 * Invariant 11 (migrate-to-ram-unheld): migrate_to_ram is entered with the
 * device-private page locked and a reference the fault path holds for the
 * call (the v6.1 rule), so neither a concurrent migration nor a free can
 * take the page or its pgmap away under the driver.
 */
static void zd_check_migrate_to_ram_held(struct zd_mm *mm, struct zd_folio *folio)
{
	struct zd_world *w = mm->world;
	bool held = !w->track_holders ||
		    zd_ledger_get(w, folio->pfn, ZD_HOLDER(ZD_HOLD_TEMP, mm)) > 0;

	if (zd_folio_test_locked(folio) && held)
		return;
	zd_report(w, ZD_INV_MIGRATE_TO_RAM_UNHELD, folio->pfn,
		  "migrate_to_ram entered for %s without %s%s%s", mm->name,
		  zd_folio_test_locked(folio) ? "" : "the page lock",
		  !zd_folio_test_locked(folio) && !held ? " and " : "",
		  held ? "" : "a reference held by the fault");
}

/* A CPU fault on a device-private entry: migrate_to_ram with the page locked and referenced. */
static int zd_do_device_private(struct zd_vma *vma, uint64_t addr, struct zd_slot *slot,
				zd_pte_t e, unsigned int flags)
{
	struct zd_world *w = vma->mm->world;
	struct zd_folio *folio = zd_pfn_folio(w, zd_pte_pfn(e));
	struct zd_vm_fault vmf = { .vma = vma, .mm = vma->mm, .address = addr, .flags = flags,
				   .orig_pte = e };
	struct zd_dev_pagemap *pgmap;
	int ret;

	if (!folio)
		return ZD_VM_FAULT_SIGBUS;
	zd_spin_lock(&slot->pt->ptl);
	if (zd_pte_read(slot->pte) != e) {
		zd_spin_unlock(&slot->pt->ptl);
		return 0;
	}
	if (slot->level == ZD_LEVEL_PTE && zd_folio_test_large(folio)) {
		/*
		 * A PTE of a 2 MiB device folio (its PMD entry was split): split
		 * the folio first, and fault again on a page of its own.
		 */
		struct zd_holder tmp = ZD_HOLDER(ZD_HOLD_TEMP, vma->mm);

		if (!zd_folio_try_get(folio, tmp)) {
			zd_spin_unlock(&slot->pt->ptl);
			return 0;
		}
		zd_spin_unlock(&slot->pt->ptl);
		zd_folio_lock(folio);
		ret = zd_split_mapped_folio(folio, 1);
		zd_folio_unlock(folio);
		zd_folio_put(folio, tmp);
		/* held by someone else (-EBUSY): the fault is retried, as for a busy lock */
		return ret && ret != -EBUSY ? ZD_VM_FAULT_SIGBUS : 0;
	}
	if (zd_bug_on(w, ZD_BUG_PRIVATE_FAULT_FREE_RACE)) {
		/*
		 * BUG(private-fault-free-race): before v6.1 do_swap_page called
		 * migrate_to_ram with neither the page lock nor a reference: a
		 * concurrent migration or free could take the page (and its pgmap)
		 * away while the driver used it.
		 */
		zd_spin_unlock(&slot->pt->ptl);
		vmf.page = zd_pfn_to_page(w, zd_pte_pfn(e));
		pgmap = folio->pgmap;
		zd_check_migrate_to_ram_held(vma->mm, folio);
		ret = pgmap->ops && pgmap->ops->migrate_to_ram ? pgmap->ops->migrate_to_ram(&vmf) :
								  ZD_VM_FAULT_SIGBUS;
		return ret < 0 ? ZD_VM_FAULT_SIGBUS : ret;
	}
	if (!zd_folio_trylock(folio)) {
		/*
		 * Someone else (a migration, another fault) holds it. Mainline up
		 * to v6.19 returns and lets the CPU re-fault at once (a busy
		 * retry); like the 2026 change, wait for the lock, as for a
		 * migration entry, then retry (docs/regimes.md).
		 */
		zd_spin_unlock(&slot->pt->ptl);
		zd_wait_var_event(&folio->flags, zd_folio_unlocked, folio,
				  "a fault on a device-private page waits for its lock");
		return 0;
	}
	zd_folio_get(folio, ZD_HOLDER(ZD_HOLD_TEMP, vma->mm));
	zd_spin_unlock(&slot->pt->ptl);
	pgmap = folio->pgmap;
	vmf.page = zd_pfn_to_page(w, zd_pte_pfn(e));
	zd_check_migrate_to_ram_held(vma->mm, folio);
	ret = pgmap->ops && pgmap->ops->migrate_to_ram ? pgmap->ops->migrate_to_ram(&vmf) :
							  ZD_VM_FAULT_SIGBUS;
	zd_folio_unlock(folio);
	zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_TEMP, vma->mm));
	return ret < 0 ? ZD_VM_FAULT_SIGBUS : ret;
}

/*
 * Restore a device-exclusive entry to an ordinary present entry (the fault
 * path's remove_device_exclusive_entry): with a reference and the folio
 * lock, tell the secondary MMUs (MMU_NOTIFY_EXCLUSIVE, no owner) that the
 * device loses its atomic access, and rebuild the PTE if it is unchanged.
 * The entry's mapping reference and mapcount carry over to the PTE.
 */
int zd_restore_exclusive_pte(struct zd_vma *vma, uint64_t addr, struct zd_slot *slot,
			     zd_pte_t e, bool trylock)
{
	struct zd_mm *mm = vma->mm;
	struct zd_folio *folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
	struct zd_holder tmp = ZD_HOLDER(ZD_HOLD_TEMP, mm);
	int ret = 0;

	if (!folio)
		return -EFAULT;
	if (!zd_folio_try_get(folio, tmp))
		return 0; /* the entry is going away: retry */
	if (trylock) {
		if (!zd_folio_trylock(folio)) {
			zd_folio_put(folio, tmp);
			return -EBUSY;
		}
	} else {
		zd_folio_lock(folio);
	}
	zd_mmu_notifier_invalidate_start(mm, addr, addr + ZD_PAGE_SIZE, ZD_MMU_NOTIFY_EXCLUSIVE,
					 NULL);
	zd_spin_lock(&slot->pt->ptl);
	if (zd_pte_read(slot->pte) == e)
		zd_pte_write(slot->pte, zd_mk_pte(zd_pte_pfn(e),
						  ZD_E_YOUNG | (e & ZD_E_SOFT_DIRTY) |
							  ((vma->flags & ZD_VM_WRITE) ?
								   ZD_E_WRITE | ZD_E_DIRTY : 0)));
	else
		ret = 0; /* changed meanwhile: the retry sees what is there now */
	zd_spin_unlock(&slot->pt->ptl);
	zd_mmu_notifier_invalidate_end(mm, addr, addr + ZD_PAGE_SIZE);
	zd_folio_unlock(folio);
	zd_folio_put(folio, tmp);
	return ret;
}

static int zd_do_swap_page(struct zd_vma *vma, uint64_t addr, struct zd_slot *slot, zd_pte_t e,
			   unsigned int flags)
{
	struct zd_folio *folio;

	switch (zd_swp_type(e)) {
	case ZD_SWP_DEVICE_READ:
	case ZD_SWP_DEVICE_WRITE:
		return zd_do_device_private(vma, addr, slot, e, flags);
	case ZD_SWP_MIGRATION_READ:
	case ZD_SWP_MIGRATION_READ_EXCLUSIVE:
	case ZD_SWP_MIGRATION_WRITE:
		/* Wait for the migration to finish (the folio is locked until then), then retry. */
		folio = zd_pfn_folio(vma->mm->world, zd_pte_pfn(e));
		if (folio)
			zd_wait_var_event(&folio->flags, zd_folio_unlocked, folio,
					  "a fault waits for a migration to finish");
		return 0;
	case ZD_SWP_DEVICE_EXCLUSIVE:
		return zd_restore_exclusive_pte(vma, addr, slot, e, false) ? ZD_VM_FAULT_SIGBUS : 0;
	case ZD_SWP_HWPOISON:
		return ZD_VM_FAULT_HWPOISON;
	default:
		return ZD_VM_FAULT_SIGBUS;
	}
}

int zd_handle_mm_fault(struct zd_vma *vma, uint64_t addr, unsigned int flags)
{
	struct zd_mm *mm = vma->mm;
	bool write = flags & ZD_FAULT_FLAG_WRITE;
	struct zd_slot slot;
	zd_pte_t e;
	int ret;

	if (write ? !(vma->flags & ZD_VM_WRITE) : !(vma->flags & ZD_VM_READ))
		return ZD_VM_FAULT_SIGSEGV;
	if (vma->vm_ops) {
		/* Device mappings: the driver maps, at the largest level the mapping allows. */
		struct zd_vm_fault vmf = { .vma = vma, .mm = mm, .address = addr, .flags = flags };
		unsigned int level;

		if (!zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot)) {
			e = zd_pte_read(slot.pte);
			if (zd_pte_present(e)) {
				if (!write || (e & ZD_E_WRITE))
					return 0;
				if (vma->vm_ops->mkwrite) {
					ret = vma->vm_ops->mkwrite(&vmf);
					if (ret)
						return ret == ZD_VM_FAULT_RETRY ? 0 : ret;
				}
				return zd_do_wp_page(vma, addr, &slot, e, false);
			}
		}
		for (level = ZD_LEVEL_PUD; level >= ZD_LEVEL_PTE; level--) {
			ret = vma->vm_ops->fault(&vmf, level);
			if (ret != ZD_VM_FAULT_FALLBACK)
				return ret;
		}
		return ZD_VM_FAULT_SIGBUS;
	}
	ret = zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot);
	if (ret == -ENOENT || (!ret && !zd_pte_read(slot.pte))) {
		if (vma->mapping)
			return zd_do_page_cache_fault(vma, addr, write);
		return zd_do_anonymous_page(vma, addr, write);
	}
	e = zd_pte_read(slot.pte);
	if (zd_pte_swap(e))
		return zd_do_swap_page(vma, addr, &slot, e, flags);
	if (zd_pte_present(e)) {
		struct zd_page *page = (e & ZD_E_SPECIAL) ? NULL :
								 zd_pfn_to_page(mm->world, zd_pte_pfn(e));

		if (page && zd_page_test_flag(page, ZD_PG_hwpoison))
			return ZD_VM_FAULT_HWPOISON;
		if (write && !(e & ZD_E_WRITE))
			return zd_do_wp_page(vma, addr, &slot, e, false);
		if ((flags & ZD_FAULT_FLAG_UNSHARE) && page &&
		    !zd_page_test_flag(page, ZD_PG_anon_exclusive))
			return zd_do_wp_page(vma, addr, &slot, e, true);
	}
	return 0;
}

/* ---- Insertion helpers for drivers -------------------------------------------------------- */

int zd_vmf_insert_folio(struct zd_vm_fault *vmf, struct zd_folio *folio, unsigned long pfn,
			unsigned int level, bool write)
{
	uint64_t addr = vmf->address & ~(zd_level_size(level) - 1);
	struct zd_slot slot;
	zd_pte_t e;

	if (zd_pt_walk(vmf->mm, addr, level, true, &slot))
		return ZD_VM_FAULT_OOM;
	e = zd_pte_read(slot.pte);
	if (slot.level != level || (e && zd_pte_table(e)))
		return ZD_VM_FAULT_FALLBACK; /* smaller mappings are already there */
	if (e)
		return 0; /* raced: already mapped */
	zd_map_folio(vmf->vma, &slot, level == ZD_LEVEL_PTE ? pfn : folio->pfn, folio,
		     write && (vmf->vma->flags & ZD_VM_WRITE), true);
	return 0;
}

int zd_vm_insert_page(struct zd_mm *mm, uint64_t addr, struct zd_folio *folio)
{
	struct zd_slot slot;
	struct zd_vma *vma;
	int ret;

	zd_down_read(&mm->mmap_lock);
	vma = zd_find_vma(mm, addr);
	if (!vma) {
		ret = -EFAULT;
	} else if (zd_should_fail(mm->world, ZD_FAIL_INSERT) ||
		   zd_pt_walk(mm, addr, ZD_LEVEL_PTE, true, &slot)) {
		ret = -ENOMEM;
	} else {
		ret = zd_map_folio(vma, &slot, folio->pfn, folio, !!(vma->flags & ZD_VM_WRITE), true);
	}
	zd_up_read(&mm->mmap_lock);
	return ret;
}
