/* SPDX-License-Identifier: MIT */
/*
 * zonedev: make_device_exclusive: a device takes atomic access to a page;
 * the PTE becomes a device-exclusive entry that keeps the mapping's
 * reference and mapcount, and any CPU access restores it.
 */
#include "zonedev/migrate.h"
#include "vm/vm.h"

int zd_make_device_exclusive(struct zd_mm *mm, uint64_t addr, void *owner, struct zd_folio **out)
{
	struct zd_folio *folio;
	struct zd_vma *vma;
	struct zd_slot slot;
	zd_pte_t e;
	int tries, fault;

	if (!mm || !out)
		return -EINVAL;
	addr &= ~(ZD_PAGE_SIZE - 1);
	vma = zd_find_vma(mm, addr);
	if (!vma || !(vma->flags & ZD_VM_WRITE))
		return -EFAULT;
	if (!zd_vma_is_anon(vma) || vma->vm_ops)
		return -EOPNOTSUPP;
	/*
	 * As GUP with FOLL_WRITE | FOLL_SPLIT_PMD: break COW, split a huge
	 * mapping, and fault back a page some other device holds exclusively
	 * (that fault tells the previous holder).
	 */
	for (tries = 0;; tries++) {
		if (tries > 16)
			return -EBUSY;
		zd_split_huge_pmd(vma, addr);
		if (!zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot)) {
			e = zd_pte_read(slot.pte);
			if (slot.level == ZD_LEVEL_PTE && zd_pte_present(e) && (e & ZD_E_WRITE) &&
			    !(e & ZD_E_SPECIAL))
				break;
		}
		fault = zd_handle_mm_fault(vma, addr, ZD_FAULT_FLAG_WRITE);
		if (fault & ZD_VM_FAULT_OOM)
			return -ENOMEM;
		if (fault & (ZD_VM_FAULT_SIGBUS | ZD_VM_FAULT_SIGSEGV | ZD_VM_FAULT_HWPOISON))
			return -EFAULT;
	}
	folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
	if (!folio || !zd_folio_test_anon(folio))
		return -EOPNOTSUPP;
	if (!zd_folio_try_get(folio, ZD_EXCLUSIVE_HOLDER))
		return -EBUSY;
	zd_folio_lock(folio);
	zd_mmu_notifier_invalidate_start(mm, addr, addr + ZD_PAGE_SIZE, ZD_MMU_NOTIFY_EXCLUSIVE,
					 owner);
	zd_spin_lock(&slot.pt->ptl);
	if (zd_pte_read(slot.pte) != e) {
		zd_spin_unlock(&slot.pt->ptl);
		zd_mmu_notifier_invalidate_end(mm, addr, addr + ZD_PAGE_SIZE);
		zd_folio_unlock(folio);
		zd_folio_put(folio, ZD_EXCLUSIVE_HOLDER);
		return -EBUSY;
	}
	if (e & ZD_E_DIRTY)
		zd_folio_set_flag(folio, ZD_PG_dirty);
	zd_pte_write(slot.pte, zd_mk_swp(ZD_SWP_DEVICE_EXCLUSIVE, zd_pte_pfn(e), e & ZD_E_SOFT_DIRTY));
	zd_spin_unlock(&slot.pt->ptl);
	zd_mmu_notifier_invalidate_end(mm, addr, addr + ZD_PAGE_SIZE);
	*out = folio;
	return 0;
}
