/* SPDX-License-Identifier: MIT */
/*
 * zonedev: device memory: migrate_vma_* (collect, unmap and pin check,
 * commit, finalize), eviction by pfn range, migrate_device_coherent_folio,
 * make_device_exclusive, and hmm_range_fault.
 */
#ifndef ZONEDEV_MIGRATE_H
#define ZONEDEV_MIGRATE_H

#include "zonedev/types.h"
#include "zonedev/page.h"
#include "zonedev/vm.h"

/* ---- migrate_pfn slot encoding (as the kernel's) --------------------------- */

#define ZD_MIGRATE_PFN_VALID (1ul << 0)
#define ZD_MIGRATE_PFN_MIGRATE (1ul << 1)
#define ZD_MIGRATE_PFN_WRITE (1ul << 3)
#define ZD_MIGRATE_PFN_COMPOUND (1ul << 4)
#define ZD_MIGRATE_PFN_SHIFT 6

static inline unsigned long zd_migrate_pfn(unsigned long pfn)
{
	return (pfn << ZD_MIGRATE_PFN_SHIFT) | ZD_MIGRATE_PFN_VALID;
}

/* The pfn of a slot, or ZD_PFN_NONE when VALID is clear. */
static inline unsigned long zd_migrate_pfn_to_pfn(unsigned long mpfn)
{
	return (mpfn & ZD_MIGRATE_PFN_VALID) ? mpfn >> ZD_MIGRATE_PFN_SHIFT : ZD_PFN_NONE;
}

/*
 * Who holds the references migration passes around (the holder ledger needs
 * a put by the holder that took it): the collection reference on a source
 * page, and the one reference a driver hands over with each destination
 * page (allocate dst pages with this holder: zd_zone_device_folio_init(...,
 * ZD_MIGRATE_DST_HOLDER) or zd_folio_alloc(w, 0, ZD_MIGRATE_DST_HOLDER)).
 * make_device_exclusive returns its folio referenced by ZD_EXCLUSIVE_HOLDER.
 */
#define ZD_MIGRATE_SRC_HOLDER ZD_HOLDER(ZD_HOLD_MIGRATE, 0)
#define ZD_MIGRATE_DST_HOLDER ZD_HOLDER(ZD_HOLD_MIGRATE, 1)
#define ZD_EXCLUSIVE_HOLDER ZD_HOLDER(ZD_HOLD_TEMP, 2)

#define ZD_MIGRATE_VMA_SELECT_SYSTEM (1ul << 0)
#define ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE (1ul << 1)
#define ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT (1ul << 2)
#define ZD_MIGRATE_VMA_SELECT_COMPOUND (1ul << 3)

/*
 * struct zd_migrate_vma - the kernel's struct migrate_vma. The caller fills
 * mm, start, end (page aligned, within one VMA), src and dst (one word per
 * page), pgmap_owner, flags and, from migrate_to_ram, fault_page; and holds
 * the mm's mmap_lock (read) from setup to finalize.
 */
struct zd_migrate_vma {
	struct zd_mm *mm;
	uint64_t start, end;
	unsigned long *src;
	unsigned long *dst;
	unsigned long npages; /* out */
	unsigned long cpages; /* out: slots still migrating after setup */
	void *pgmap_owner;
	unsigned long flags;
	struct zd_page *fault_page;
};

/*
 * migrate_vma_setup: collect (one MMU_NOTIFY_MIGRATE invalidation tagged
 * with pgmap_owner), then unmap and check references. -EINVAL for a bad
 * range, a VMA that cannot migrate (shared, device, DAX, mixed maps) or a
 * bad fault_page. 0 says nothing about what migrates: read the MIGRATE bits.
 */
int zd_migrate_vma_setup(struct zd_migrate_vma *args);
/* migrate_vma_pages: commit slots with a dst (the driver allocated, locked and filled dst pages). */
void zd_migrate_vma_pages(struct zd_migrate_vma *args);
/* migrate_vma_finalize: map dst (or restore src) everywhere, unlock, drop references. */
void zd_migrate_vma_finalize(struct zd_migrate_vma *args);

/*
 * Eviction without knowing the mappings (migrate_device_range): collect the
 * allocated (refcount > 0) and uncontended (trylock) pages of [start_pfn,
 * start_pfn + npages), unmap them from every mm through rmap, check
 * references. Then the driver allocates dst pages, and calls
 * migrate_device_pages and migrate_device_finalize.
 */
int zd_migrate_device_range(struct zd_world *w, unsigned long *src, unsigned long start_pfn,
			    unsigned long npages);
void zd_migrate_device_pages(struct zd_world *w, unsigned long *src, unsigned long *dst,
			     unsigned long npages);
void zd_migrate_device_finalize(struct zd_world *w, unsigned long *src, unsigned long *dst,
				unsigned long npages);
/*
 * migrate_device_coherent_folio: move one device-coherent folio to system
 * RAM. The caller's reference (held by h) stands in for the collection
 * reference and is consumed. 0, or -EBUSY if it could not move.
 */
int zd_migrate_device_coherent_folio(struct zd_folio *folio, struct zd_holder h);

/*
 * make_device_exclusive: break COW, then replace the PTE at addr by a
 * device-exclusive entry (MMU_NOTIFY_EXCLUSIVE with owner). Returns 0 with
 * the folio locked and referenced (*folio); the caller programs its device
 * and then unlocks and puts it. -EOPNOTSUPP (not anonymous), -EBUSY,
 * -EFAULT (no writable mapping), -ENOMEM. Caller holds mmap_lock (read).
 */
int zd_make_device_exclusive(struct zd_mm *mm, uint64_t addr, void *owner, struct zd_folio **folio);

/* ---- hmm_range_fault ---------------------------------------------------------------- */

#define ZD_HMM_PFN_VALID (1ul << 63)
#define ZD_HMM_PFN_WRITE (1ul << 62)
#define ZD_HMM_PFN_ERROR (1ul << 61)
#define ZD_HMM_PFN_ORDER_SHIFT 56
#define ZD_HMM_PFN_ORDER_MASK (31ul << ZD_HMM_PFN_ORDER_SHIFT)
#define ZD_HMM_PFN_REQ_FAULT ZD_HMM_PFN_VALID
#define ZD_HMM_PFN_REQ_WRITE ZD_HMM_PFN_WRITE
#define ZD_HMM_PFN_FLAGS (ZD_HMM_PFN_VALID | ZD_HMM_PFN_WRITE | ZD_HMM_PFN_ERROR | \
			  ZD_HMM_PFN_ORDER_MASK)

static inline unsigned long zd_hmm_pfn_to_pfn(unsigned long hpfn)
{
	return hpfn & ~ZD_HMM_PFN_FLAGS;
}

static inline unsigned int zd_hmm_pfn_to_map_order(unsigned long hpfn)
{
	return (unsigned int)((hpfn & ZD_HMM_PFN_ORDER_MASK) >> ZD_HMM_PFN_ORDER_SHIFT);
}

struct zd_hmm_range {
	struct zd_mmu_interval_notifier *notifier;
	unsigned long notifier_seq;
	uint64_t start, end;
	unsigned long *hmm_pfns;       /* in: per-page request bits; out: pfn + flags */
	unsigned long default_flags;
	unsigned long pfn_flags_mask;
	void *dev_private_owner;
};

/*
 * hmm_range_fault: fill hmm_pfns for [start, end), faulting what is
 * requested (own device-private pages are reported without faulting,
 * other owners' are migrated back when a fault is requested). Caller holds
 * mmap_lock (read). 0; -EBUSY when the notifier sequence moved (retry);
 * -EFAULT (no VMA, or a fault the caller asked for failed); -EPERM (write
 * requested on a read-only VMA); -ENOMEM.
 */
int zd_hmm_range_fault(struct zd_hmm_range *range);

/* ---- Helpers drivers need ------------------------------------------------------------- */

void zd_mmap_read_lock(struct zd_mm *mm);
void zd_mmap_read_unlock(struct zd_mm *mm);
/* The contents of page pfn (device memory too: the model keeps every page's bytes). */
void *zd_page_address(struct zd_world *w, unsigned long pfn);

#endif
