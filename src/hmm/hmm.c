/* SPDX-License-Identifier: MIT */
/*
 * zonedev: hmm_range_fault: what a device mirror sees of a CPU address range
 * (pfn, VALID, WRITE, ERROR, map order per page), faulting what it asks for.
 */
#include "zonedev/migrate.h"
#include "vm/vm.h"
#include "hmm/hmm.h"

/*
 * A page whose fault makes no progress (a device-private page whose lock
 * stays contended, a fault that keeps racing) is retried this many times
 * before the walk gives up with -EBUSY, as the kernel's callers time out.
 */
#define ZD_HMM_MAX_FAULTS_PER_PAGE 64

/* What the walk decided for one page. */
enum zd_hmm_step {
	ZD_HMM_DONE,  /* hmm_pfns[i] is filled: go on with the next page */
	ZD_HMM_FAULT, /* fault the page (write or not), then walk it again */
	ZD_HMM_WAIT,  /* a migration entry: wait for it to finish, then walk it again */
};

/* The fault the caller asks for on one page (hmm_pte_need_fault): 0, REQ_FAULT, or + REQ_WRITE. */
static unsigned long zd_hmm_need_fault(const struct zd_hmm_range *range, unsigned long i,
				       unsigned long cpu_flags)
{
	unsigned long req = (range->hmm_pfns[i] & range->pfn_flags_mask) | range->default_flags;

	req &= ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE;
	if (!(req & ZD_HMM_PFN_REQ_FAULT))
		return 0; /* REQ_WRITE alone asks for nothing */
	if (!(cpu_flags & ZD_HMM_PFN_VALID))
		return req;
	if ((req & ZD_HMM_PFN_REQ_WRITE) && !(cpu_flags & ZD_HMM_PFN_WRITE))
		return req;
	return 0;
}

static unsigned long zd_hmm_order_flags(unsigned int level)
{
	unsigned int order = level == ZD_LEVEL_PUD   ? ZD_PUD_ORDER
			     : level == ZD_LEVEL_PMD ? ZD_PMD_ORDER
						     : 0;

	return (unsigned long)order << ZD_HMM_PFN_ORDER_SHIFT;
}

/*
 * Decide one page at addr (index i) of a VMA that may be read. Reads the
 * entry under its page-table lock, so the page it names stays referenced
 * while it is looked at. Fills hmm_pfns[i] for ZD_HMM_DONE; sets *fault to
 * what must be faulted for ZD_HMM_FAULT, *wait_pfn for ZD_HMM_WAIT.
 * Returns an enum zd_hmm_step, or -EFAULT.
 */
static int zd_hmm_page(struct zd_hmm_range *range, struct zd_mm *mm, uint64_t addr, unsigned long i,
		       unsigned long *fault, unsigned long *wait_pfn)
{
	struct zd_world *w = mm->world;
	unsigned long out = 0, cpu = 0, need, pfn;
	struct zd_folio *folio;
	struct zd_slot slot;
	zd_pte_t e;
	int ret = ZD_HMM_DONE;

	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot)) {
		/* No page table: pte_none. */
		need = zd_hmm_need_fault(range, i, 0);
		if (need) {
			*fault = need;
			return ZD_HMM_FAULT;
		}
		range->hmm_pfns[i] = 0;
		return ZD_HMM_DONE;
	}
	zd_spin_lock(&slot.pt->ptl);
	e = zd_pte_read(slot.pte);
	if (!e || zd_pte_table(e)) {
		need = zd_hmm_need_fault(range, i, 0);
		if (need) {
			*fault = need;
			ret = ZD_HMM_FAULT;
		}
		goto out;
	}
	if (zd_pte_present(e)) {
		pfn = zd_pte_pfn(e) + ((addr & (zd_level_size(slot.level) - 1)) >> ZD_PAGE_SHIFT);
		if ((e & ZD_E_SPECIAL) && zd_pte_pfn(e) != zd_zero_folio(w)->pfn) {
			/* A special mapping without a struct page to report. */
			if (zd_hmm_need_fault(range, i, 0)) {
				zd_spin_unlock(&slot.pt->ptl);
				return -EFAULT;
			}
			out = ZD_HMM_PFN_ERROR;
			goto out;
		}
		cpu = ZD_HMM_PFN_VALID | ((e & ZD_E_WRITE) ? ZD_HMM_PFN_WRITE : 0);
		need = zd_hmm_need_fault(range, i, cpu);
		if (need) {
			*fault = need;
			ret = ZD_HMM_FAULT;
			goto out;
		}
		out = pfn | cpu | zd_hmm_order_flags(slot.level);
		goto out;
	}
	/* Non-present: device-private, device-exclusive, migration, poison. */
	pfn = zd_pte_pfn(e);
	if (zd_swp_device_private(e)) {
		folio = zd_pfn_folio(w, pfn);
		if (folio && folio->pgmap && folio->pgmap->owner == range->dev_private_owner) {
			/* Never faulted: the owner sees its own page, present or not for the CPU.
			 */
			/* a device-private PMD entry: the page within it, reported with order 9 */
			out = (pfn + ((addr & (zd_level_size(slot.level) - 1)) >> ZD_PAGE_SHIFT)) |
			      ZD_HMM_PFN_VALID | zd_hmm_order_flags(slot.level) |
			      (zd_swp_type(e) == ZD_SWP_DEVICE_WRITE ? ZD_HMM_PFN_WRITE : 0);
			goto out;
		}
	}
	need = zd_hmm_need_fault(range, i, 0);
	if (!need)
		goto out; /* not reported: 0 */
	if (zd_swp_device_private(e) || zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE) {
		*fault = need;
		ret = ZD_HMM_FAULT;
	} else if (zd_swp_migration(e)) {
		*wait_pfn = pfn;
		ret = ZD_HMM_WAIT;
	} else {
		zd_spin_unlock(&slot.pt->ptl);
		return -EFAULT; /* poison and anything else */
	}
out:
	zd_spin_unlock(&slot.pt->ptl);
	if (ret == ZD_HMM_DONE)
		range->hmm_pfns[i] = out;
	return ret;
}

static bool zd_hmm_folio_unlocked(void *arg)
{
	return !zd_folio_test_locked(arg);
}

/* Fault one page as the caller asked: 0 (walk it again), -EPERM or -EFAULT. */
static int zd_hmm_fault(struct zd_vma *vma, uint64_t addr, unsigned long need)
{
	unsigned int flags = 0;
	int fault;

	if (need & ZD_HMM_PFN_REQ_WRITE) {
		if (!(vma->flags & ZD_VM_WRITE))
			return -EPERM;
		flags |= ZD_FAULT_FLAG_WRITE;
	}
	fault = zd_handle_mm_fault(vma, addr, flags);
	if (fault &
	    (ZD_VM_FAULT_OOM | ZD_VM_FAULT_SIGBUS | ZD_VM_FAULT_SIGSEGV | ZD_VM_FAULT_HWPOISON))
		return -EFAULT;
	return 0;
}

int zd_hmm_range_fault(struct zd_hmm_range *range)
{
	struct zd_mmu_interval_notifier *mni;
	unsigned long i, npages, tries = 0, last_fault = ~0ul;
	struct zd_mm *mm;
	uint64_t addr;

	if (!range || !range->notifier || !range->hmm_pfns)
		return -EINVAL;
	mni = range->notifier;
	mm = mni->mm;
	if (!mm || range->start >= range->end || (range->start & (ZD_PAGE_SIZE - 1)) ||
	    (range->end & (ZD_PAGE_SIZE - 1)))
		return -EINVAL;
	npages = (unsigned long)((range->end - range->start) >> ZD_PAGE_SHIFT);
	for (i = 0, addr = range->start; i < npages;) {
		struct zd_vma *vma;
		unsigned long need = 0, wait_pfn = ZD_PFN_NONE;
		int step;

		if (zd_mmu_interval_read_retry(mni, range->notifier_seq))
			return -EBUSY;
		vma = zd_find_vma(mm, addr);
		if (!vma || !(vma->flags & ZD_VM_READ)) {
			/* No VMA, or one that cannot be read: ERROR unless a fault is asked for. */
			if (zd_hmm_need_fault(range, i, 0))
				return -EFAULT;
			range->hmm_pfns[i] = ZD_HMM_PFN_ERROR;
			i++;
			addr += ZD_PAGE_SIZE;
			continue;
		}
		step = zd_hmm_page(range, mm, addr, i, &need, &wait_pfn);
		if (step < 0)
			return step;
		if (step == ZD_HMM_DONE) {
			i++;
			addr += ZD_PAGE_SIZE;
			continue;
		}
		/* A fault or a wait, then this page again (the kernel's -EBUSY re-walk). */
		if (last_fault == i) {
			if (++tries > ZD_HMM_MAX_FAULTS_PER_PAGE)
				return -EBUSY;
		} else {
			last_fault = i;
			tries = 0;
		}
		if (step == ZD_HMM_WAIT) {
			struct zd_folio *folio = zd_pfn_folio(mm->world, wait_pfn);

			if (folio)
				zd_wait_var_event(
				    &folio->flags, zd_hmm_folio_unlocked, folio,
				    "hmm_range_fault waits for a migration to finish");
			continue;
		}
		step = zd_hmm_fault(vma, addr, need);
		if (step)
			return step;
	}
	if (zd_mmu_interval_read_retry(mni, range->notifier_seq))
		return -EBUSY;
	zd_hmm_check_range(mm->world, range);
	return 0;
}
