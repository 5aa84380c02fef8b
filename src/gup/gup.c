/* SPDX-License-Identifier: MIT */
/*
 * zonedev: get_user_pages / pin_user_pages: argument rules, the slow path
 * (faults, try_grab_folio), the lockless fast path, the FOLL_LONGTERM
 * rules per memory type, and unpin / release.
 */
#include <stdlib.h>
#include <string.h>

#include "zonedev/gup.h"
#include "zonedev/migrate.h"
#include "vm/vm.h"

bool zd_folio_is_longterm_pinnable(const struct zd_folio *folio)
{
	if (zd_page_test_flag(&folio->page, ZD_PG_zero))
		return true;
	switch (zd_folio_memory_type(folio)) {
	case ZD_MEMORY_DEVICE_COHERENT: /* must always allow eviction */
	case ZD_MEMORY_DEVICE_FS_DAX:
	case ZD_MEMORY_DEVICE_PRIVATE:
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		return false;
	default:
		return true;
	}
}

bool zd_folio_maybe_pinned(const struct zd_folio *folio)
{
	return zd_folio_maybe_dma_pinned(folio);
}

static int zd_gup_check_args(unsigned int flags, const unsigned long *pfns)
{
	if (!pfns || !!(flags & ZD_FOLL_GET) == !!(flags & ZD_FOLL_PIN))
		return -EINVAL;
	if ((flags & ZD_FOLL_LONGTERM) && !(flags & ZD_FOLL_PIN))
		return -EINVAL;
	/* P2PDMA memory must stay hot-unpluggable: never pinned long term. */
	if ((flags & ZD_FOLL_LONGTERM) && (flags & ZD_FOLL_PCI_P2PDMA))
		return -EINVAL;
	return 0;
}

/* try_grab_folio: GET adds a reference; PIN adds 1024 on a small folio, or 1 + pincount. */
static int zd_try_grab_folio(struct zd_folio *folio, unsigned int flags, struct zd_holder h)
{
	if (zd_folio_ref_count(folio) <= 0)
		return -ENOMEM;
	if (zd_folio_is_pci_p2pdma(folio) && !(flags & ZD_FOLL_PCI_P2PDMA))
		return -EREMOTEIO;
	if (flags & ZD_FOLL_GET) {
		zd_folio_get(folio, h);
		return 0;
	}
	if (zd_page_test_flag(&folio->page, ZD_PG_zero))
		return 0; /* the zero page is never pinned */
	if (zd_folio_test_large(folio)) {
		zd_folio_get(folio, h);
		zd_atomic_add_return_relaxed(&folio->_pincount, 1);
	} else {
		zd_folio_ref_add(folio, ZD_GUP_PIN_COUNTING_BIAS, h);
	}
	return 0;
}

/* gup_put_folio: undo one grab. */
static void zd_gup_put_folio(struct zd_folio *folio, unsigned int flags, struct zd_holder h,
			     bool batched)
{
	int refs = 1;

	if (flags & ZD_FOLL_PIN) {
		if (zd_page_test_flag(&folio->page, ZD_PG_zero))
			return;
		if (zd_folio_test_large(folio))
			zd_atomic_add_return_relaxed(&folio->_pincount, -1);
		else
			refs = ZD_GUP_PIN_COUNTING_BIAS;
	}
	if (batched)
		zd_folios_put_refs(&folio, &refs, 1, h);
	else
		zd_folio_put_refs(folio, refs, h);
}

static void zd_gup_release(struct zd_world *w, const unsigned long *pfns, unsigned long n,
			   unsigned int flags, struct zd_holder h)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		struct zd_folio *folio = zd_pfn_folio(w, pfns[i]);

		if (folio)
			zd_gup_put_folio(folio, flags, h, false);
	}
}

void zd_unpin_user_pages(struct zd_world *w, const unsigned long *pfns, unsigned long n,
			 bool make_dirty, struct zd_holder h)
{
	unsigned long i;

	if (!w || !pfns)
		return;
	for (i = 0; i < n; i++) {
		struct zd_folio *folio = zd_pfn_folio(w, pfns[i]);

		if (!folio)
			continue;
		if (make_dirty && !zd_page_test_flag(&folio->page, ZD_PG_zero)) {
			zd_folio_lock(folio);
			zd_folio_set_flag(folio, ZD_PG_dirty);
			zd_folio_unlock(folio);
		}
		zd_gup_put_folio(folio, ZD_FOLL_PIN, h, false);
	}
}

void zd_put_user_pages(struct zd_world *w, const unsigned long *pfns, unsigned long n,
		       struct zd_holder h)
{
	unsigned long i;

	if (!w || !pfns)
		return;
	for (i = 0; i < n; i++) {
		struct zd_folio *folio = zd_pfn_folio(w, pfns[i]);

		if (folio)
			zd_gup_put_folio(folio, ZD_FOLL_GET, h, true);
	}
}

/* ---- The slow path -------------------------------------------------------------------------- */

static int zd_fault_error(int fault)
{
	if (fault & ZD_VM_FAULT_OOM)
		return -ENOMEM;
	if (fault & (ZD_VM_FAULT_SIGBUS | ZD_VM_FAULT_SIGSEGV | ZD_VM_FAULT_HWPOISON))
		return -EFAULT;
	return 0;
}

/* Look one page up and grab it, faulting until the entry allows it. mmap_lock held. */
static int zd_gup_one(struct zd_mm *mm, struct zd_vma *vma, uint64_t addr, unsigned int flags,
		      unsigned long *pfn, struct zd_holder h)
{
	struct zd_world *w = mm->world;
	bool write = flags & ZD_FOLL_WRITE;
	int tries, ret;

	for (tries = 0; tries < 100000; tries++) {
		struct zd_dev_pagemap *lookup = NULL;
		struct zd_folio *folio;
		struct zd_slot slot;
		unsigned long p;
		zd_pte_t e = 0;
		unsigned int fflags = write ? ZD_FAULT_FLAG_WRITE : 0;

		bool locked = false;

		/*
		 * As follow_page_pte: the entry is read and its folio grabbed under
		 * the page-table lock, so a migration or zap that replaces the entry
		 * (under the same lock) cannot free the folio in between.
		 */
		if (!zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot)) {
			zd_spin_lock(&slot.pt->ptl);
			locked = true;
			e = zd_pte_read(slot.pte);
		}
		if (zd_pte_present(e) && (!write || (e & ZD_E_WRITE))) {
			p = zd_pte_pfn(e) + ((addr & (zd_level_size(slot.level) - 1)) >> ZD_PAGE_SHIFT);
			folio = zd_pfn_folio(w, p);
			if (!folio) {
				zd_spin_unlock(&slot.pt->ptl);
				return -EFAULT;
			}
			/* A pin of a shared anonymous page unshares it first (gup_must_unshare). */
			if ((flags & ZD_FOLL_PIN) && zd_folio_test_anon(folio) &&
			    !zd_page_test_flag(zd_pfn_to_page(w, p), ZD_PG_anon_exclusive)) {
				fflags |= ZD_FAULT_FLAG_UNSHARE;
				goto fault;
			}
			/* The regimes with devmap entries hold the pgmap for the walk. */
			if (zd_folio_is_zone_device(folio) && w->policy->gup_holds_pgmap) {
				lookup = zd_get_dev_pagemap(w, p);
				if (!lookup) {
					zd_spin_unlock(&slot.pt->ptl);
					return -EFAULT;
				}
			}
			ret = zd_try_grab_folio(folio, flags, h);
			zd_spin_unlock(&slot.pt->ptl);
			zd_put_dev_pagemap(lookup);
			if (ret)
				return ret;
			*pfn = p;
			return 0;
		}
fault:
		if (locked)
			zd_spin_unlock(&slot.pt->ptl);
		ret = zd_fault_error(zd_handle_mm_fault(vma, addr, fflags));
		if (ret)
			return ret;
	}
	return -EFAULT;
}

static long zd_gup_slow(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			unsigned int flags, unsigned long *pfns, struct zd_holder h)
{
	unsigned long i;
	int ret = 0;

	zd_down_read(&mm->mmap_lock);
	for (i = 0; i < nr_pages; i++) {
		uint64_t addr = start + (i << ZD_PAGE_SHIFT);
		struct zd_vma *vma = zd_find_vma(mm, addr);

		if (!vma || !(vma->flags & ZD_VM_READ) ||
		    ((flags & ZD_FOLL_WRITE) && !(vma->flags & ZD_VM_WRITE))) {
			ret = -EFAULT;
			break;
		}
		/* check_vma_flags: FS DAX memory cannot be pinned long term. */
		if ((flags & ZD_FOLL_LONGTERM) && vma->kind == ZD_MAP_DAX) {
			ret = -EOPNOTSUPP;
			break;
		}
		ret = zd_gup_one(mm, vma, addr, flags, &pfns[i], h);
		if (ret)
			break;
	}
	zd_up_read(&mm->mmap_lock);
	/* __get_user_pages: an error after the first page returns what was taken. */
	return i ? (long)i : ret;
}

/*
 * check_and_migrate_movable_pages: device-coherent folios are moved to RAM
 * (the pin becomes a plain reference consumed by the migration), every
 * other pin is dropped, and -EAGAIN asks for the whole pin again.
 * 0 when every page is longterm pinnable (all stay pinned).
 */
static int zd_check_and_migrate(struct zd_world *w, unsigned long *pfns, unsigned long n,
				struct zd_holder h)
{
	struct zd_holder tmp = ZD_HOLDER(ZD_HOLD_TEMP, pfns);
	unsigned long i, unpinnable = 0;
	int ret = 0;

	for (i = 0; i < n; i++) {
		struct zd_folio *folio = zd_pfn_folio(w, pfns[i]);

		if (folio && !zd_folio_is_longterm_pinnable(folio))
			unpinnable++;
	}
	if (!unpinnable)
		return 0;
	for (i = 0; i < n; i++) {
		struct zd_folio *folio = zd_pfn_folio(w, pfns[i]);

		if (!folio)
			continue;
		if (zd_folio_is_device_coherent(folio) && !ret) {
			/*
			 * The pin becomes a reference; migration consumes it. The
			 * first failure ends the migrating: the rest are only unpinned
			 * (migrate_longterm_unpinnable_folios).
			 */
			zd_folio_get(folio, tmp);
			zd_gup_put_folio(folio, ZD_FOLL_PIN, h, false);
			if (zd_migrate_device_coherent_folio(folio, tmp))
				ret = -EBUSY;
		} else {
			zd_gup_put_folio(folio, ZD_FOLL_PIN, h, false);
		}
	}
	return ret ? ret : -EAGAIN;
}

static long zd_gup_locked(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			  unsigned int flags, unsigned long *pfns, struct zd_holder h)
{
	long n;
	int rc, rounds = 0;

	if (!(flags & ZD_FOLL_LONGTERM))
		return zd_gup_slow(mm, start, nr_pages, flags, pfns, h);
	do {
		n = zd_gup_slow(mm, start, nr_pages, flags, pfns, h);
		if (n <= 0)
			return n;
		rc = zd_check_and_migrate(mm->world, pfns, (unsigned long)n, h);
	} while (rc == -EAGAIN && ++rounds < 16);
	return rc ? rc : n;
}

/* ---- The fast path ---------------------------------------------------------------------------- */

/* One page without mmap_lock: a speculative reference, then the entry is re-checked. */
static bool zd_gup_fast_one(struct zd_mm *mm, uint64_t addr, unsigned int flags,
			    unsigned long *pfn, struct zd_holder h)
{
	struct zd_world *w = mm->world;
	struct zd_dev_pagemap *pgmap = NULL;
	struct zd_folio *folio;
	struct zd_slot slot;
	unsigned long p;
	bool got;
	zd_pte_t e;

	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot))
		return false;
	e = zd_pte_read(slot.pte);
	if (!zd_pte_present(e) || (e & ZD_E_SPECIAL) ||
	    ((flags & ZD_FOLL_WRITE) && !(e & ZD_E_WRITE)))
		return false; /* non-present, special, no permission */
	/* A devmap entry (legacy, split) is never taken fast for a long-term pin. */
	if ((e & ZD_E_DEVMAP) && (flags & ZD_FOLL_LONGTERM))
		return false;
	p = zd_pte_pfn(e) + ((addr & (zd_level_size(slot.level) - 1)) >> ZD_PAGE_SHIFT);
	folio = zd_pfn_folio(w, p);
	if (!folio || (zd_folio_is_pci_p2pdma(folio) && !(flags & ZD_FOLL_PCI_P2PDMA)))
		return false;
	/* ... and otherwise under the pgmap's reference (get_dev_pagemap). */
	if (e & ZD_E_DEVMAP) {
		pgmap = zd_get_dev_pagemap(w, p);
		if (!pgmap)
			return false;
	}
	got = zd_folio_try_get(folio, h);
	zd_put_dev_pagemap(pgmap);
	if (!got)
		return false;
	if (zd_pte_read(slot.pte) != e || ((flags & ZD_FOLL_LONGTERM) &&
					   !zd_folio_is_longterm_pinnable(folio)) ||
	    ((flags & ZD_FOLL_PIN) && zd_folio_test_anon(folio) &&
	     !zd_page_test_flag(zd_pfn_to_page(w, p), ZD_PG_anon_exclusive))) {
		zd_folio_put(folio, h);
		return false;
	}
	if (flags & ZD_FOLL_PIN) {
		if (zd_folio_test_large(folio))
			zd_atomic_add_return_relaxed(&folio->_pincount, 1);
		else
			zd_folio_ref_add(folio, ZD_GUP_PIN_COUNTING_BIAS - 1, h);
	}
	zd_smp_mb(); /* pairs with the sharing barrier of migration and fork */
	*pfn = p;
	return true;
}

static long zd_gup_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			unsigned int flags, unsigned long *pfns, struct zd_holder h)
{
	int seq = zd_atomic_read_acquire(&mm->write_protect_seq);
	unsigned long i = 0;
	long rest;

	if (!(seq & 1)) {
		zd_rcu_read_lock();
		for (i = 0; i < nr_pages; i++)
			if (!zd_gup_fast_one(mm, start + (i << ZD_PAGE_SHIFT), flags, &pfns[i], h))
				break;
		zd_rcu_read_unlock();
		/* A fork ran meanwhile: drop every fast pin and start over slowly. */
		if ((flags & ZD_FOLL_PIN) && zd_atomic_read_acquire(&mm->write_protect_seq) != seq) {
			zd_gup_release(mm->world, pfns, i, flags, h);
			i = 0;
		}
	}
	if (i == nr_pages || (flags & ZD_FOLL_FAST_ONLY))
		return (long)i;
	rest = zd_gup_locked(mm, start + (i << ZD_PAGE_SHIFT), nr_pages - i, flags, pfns + i, h);
	if (rest < 0) {
		if (!i)
			return rest;
		return (long)i; /* what the fast path got stands */
	}
	return (long)i + rest;
}

/*
 * The four entry points: the mode (GET or PIN) is the function's, never
 * the caller's; the fast ones try the lockless path first.
 */
static long zd_gup_entry(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			 unsigned int gup_flags, unsigned long *pfns, struct zd_holder h, bool pin,
			 bool fast)
{
	unsigned int mode = pin ? ZD_FOLL_PIN : ZD_FOLL_GET;
	unsigned int flags = (gup_flags & ~(ZD_FOLL_GET | ZD_FOLL_PIN)) | mode;
	int ret;

	if (!mm || (gup_flags & (pin ? ZD_FOLL_GET : ZD_FOLL_PIN)))
		return -EINVAL;
	start &= ~(uint64_t)(ZD_PAGE_SIZE - 1); /* the page holding start, as the kernel does */
	ret = zd_gup_check_args(flags, pfns);
	if (ret)
		return ret;
	if (!nr_pages)
		return 0;
	return fast ? zd_gup_fast(mm, start, nr_pages, flags, pfns, h) :
		      zd_gup_locked(mm, start, nr_pages, flags, pfns, h);
}

long zd_get_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned int gup_flags, unsigned long *pfns, struct zd_holder h)
{
	return zd_gup_entry(mm, start, nr_pages, gup_flags, pfns, h, false, false);
}

long zd_pin_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned int gup_flags, unsigned long *pfns, struct zd_holder h)
{
	return zd_gup_entry(mm, start, nr_pages, gup_flags, pfns, h, true, false);
}

long zd_get_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned int gup_flags, unsigned long *pfns, struct zd_holder h)
{
	return zd_gup_entry(mm, start, nr_pages, gup_flags, pfns, h, false, true);
}

long zd_pin_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned int gup_flags, unsigned long *pfns, struct zd_holder h)
{
	return zd_gup_entry(mm, start, nr_pages, gup_flags, pfns, h, true, true);
}
