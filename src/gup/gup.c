/* SPDX-License-Identifier: MIT */
/*
 * zonedev: get_user_pages / pin_user_pages: argument rules, the slow path
 * (faults, try_grab_folio), the lockless fast path, the FOLL_LONGTERM
 * rules per memory type, and unpin / release.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "zonedev/gup.h"
#include "zonedev/migrate.h"
#include "vm/vm.h"
#include "gup/gup_internal.h"

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

/*
 * try_grab_folio for refs pages of one folio: GET adds refs references;
 * PIN adds 1024 on a small folio (refs is 1 there), or refs references and
 * refs to the pincount of a large one.
 */
static int zd_try_grab_folio(struct zd_folio *folio, unsigned int flags, int refs,
			     struct zd_holder h)
{
	if (zd_folio_ref_count(folio) <= 0)
		return -ENOMEM;
	if (zd_folio_is_pci_p2pdma(folio) && !(flags & ZD_FOLL_PCI_P2PDMA))
		return -EREMOTEIO;
	if (flags & ZD_FOLL_GET) {
		zd_folio_ref_add(folio, refs, h);
		return 0;
	}
	if (zd_page_test_flag(&folio->page, ZD_PG_zero))
		return 0; /* the zero page is never pinned */
	if (zd_folio_test_large(folio)) {
		zd_folio_ref_add(folio, refs, h);
		zd_atomic_add_return_relaxed(&folio->_pincount, refs);
	} else {
		zd_folio_ref_add(folio, ZD_GUP_PIN_COUNTING_BIAS, h);
	}
	return 0;
}

/*
 * How many pages from pfn p (at addr, mapped by a leaf of `level`) one grab
 * may take: to the end of the leaf and of the folio, at most nr_left.
 */
static unsigned long zd_gup_leaf_span(const struct zd_folio *folio, unsigned long p,
				      uint64_t addr, unsigned int level, unsigned long nr_left)
{
	uint64_t leaf = zd_level_size(level);
	unsigned long n = (unsigned long)((leaf - (addr & (leaf - 1))) >> ZD_PAGE_SHIFT);
	unsigned long in_folio = folio->pfn + zd_folio_nr_pages(folio) - p;

	if (n > in_folio)
		n = in_folio;
	return n < nr_left ? n : nr_left;
}

/*
 * gup_put_folio: undo refs grabs of one folio (refs > 1 only for a large
 * folio), through the batched release when @batched, as unpin_user_pages
 * when @unpin.
 */
static void zd_gup_put_folio(struct zd_folio *folio, unsigned int flags, int refs,
			     struct zd_holder h, bool batched, bool unpin)
{
	if (flags & ZD_FOLL_PIN) {
		if (zd_page_test_flag(&folio->page, ZD_PG_zero))
			return;
		if (zd_folio_test_large(folio))
			zd_atomic_add_return_relaxed(&folio->_pincount, -refs);
		else
			refs *= ZD_GUP_PIN_COUNTING_BIAS;
	}
	if (batched)
		zd_folios_put_refs(&folio, &refs, 1, h);
	else if (unpin)
		zd_folio_unpin_put_refs(folio, refs, h);
	else
		zd_folio_put_refs(folio, refs, h);
}

/*
 * The folio of pfns[i] and how many of the following entries lie in it
 * (gup_folio_next): released together, one put of all their references.
 * The holder still holds every one of them, so the folio cannot go away
 * while the run is counted.
 */
static struct zd_folio *zd_gup_folio_run(struct zd_world *w, const unsigned long *pfns,
					 unsigned long i, unsigned long n, int *run)
{
	struct zd_folio *folio = zd_pfn_folio(w, pfns[i]);
	unsigned long first, end, j;

	*run = 1;
	if (!folio || !zd_folio_test_large(folio))
		return folio;
	first = folio->pfn;
	end = first + zd_folio_nr_pages(folio);
	for (j = i + 1; j < n && pfns[j] >= first && pfns[j] < end && *run < INT_MAX / 2; j++)
		(*run)++;
	return folio;
}

static void zd_gup_release(struct zd_world *w, const unsigned long *pfns, unsigned long n,
			   unsigned int flags, struct zd_holder h, bool batched)
{
	unsigned long i;
	int run;

	for (i = 0; i < n; i += (unsigned long)run) {
		struct zd_folio *folio = zd_gup_folio_run(w, pfns, i, n, &run);

		if (folio)
			zd_gup_put_folio(folio, flags, run, h, batched, false);
	}
}

void zd_unpin_user_pages(struct zd_world *w, const unsigned long *pfns, unsigned long n,
			 bool make_dirty, struct zd_holder h)
{
	unsigned long i;
	int run;

	if (!w || !pfns)
		return;
	for (i = 0; i < n; i += (unsigned long)run) {
		struct zd_folio *folio = zd_gup_folio_run(w, pfns, i, n, &run);

		if (!folio)
			continue;
		if (make_dirty && !zd_page_test_flag(&folio->page, ZD_PG_zero)) {
			zd_folio_lock(folio);
			zd_folio_set_flag(folio, ZD_PG_dirty);
			zd_folio_unlock(folio);
		}
		zd_gup_put_folio(folio, ZD_FOLL_PIN, run, h, false, true);
	}
}

void zd_put_user_pages(struct zd_world *w, const unsigned long *pfns, unsigned long n,
		       struct zd_holder h)
{
	if (!w || !pfns)
		return;
	zd_gup_release(w, pfns, n, ZD_FOLL_GET, h, true);
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

/*
 * Look one page up and grab it, faulting until the entry allows it; on a
 * huge leaf the following pages of the same folio that the call wants
 * (up to nr_left) are grabbed with it, as __get_user_pages does with its
 * page increment. *nr says how many. mmap_lock held.
 */
static int zd_gup_one(struct zd_mm *mm, struct zd_vma *vma, uint64_t addr, unsigned int flags,
		      unsigned long nr_left, unsigned long *pfns, unsigned long *nr,
		      struct zd_holder h)
{
	struct zd_world *w = mm->world;
	bool write = flags & ZD_FOLL_WRITE;
	int tries, ret;

	for (tries = 0; tries < 100000; tries++) {
		struct zd_dev_pagemap *lookup = NULL;
		struct zd_folio *folio;
		struct zd_slot slot;
		unsigned long p, j;
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
			*nr = zd_gup_leaf_span(folio, p, addr, slot.level, nr_left);
			ret = zd_try_grab_folio(folio, flags, (int)*nr, h);
			zd_spin_unlock(&slot.pt->ptl);
			zd_put_dev_pagemap(lookup);
			if (ret)
				return ret;
			for (j = 0; j < *nr; j++)
				pfns[j] = p + j;
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
	unsigned long i, got = 0;
	int ret = 0;

	zd_down_read(&mm->mmap_lock);
	for (i = 0; i < nr_pages; i += got) {
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
		/* One VMA: a leaf never crosses its end. */
		ret = zd_gup_one(mm, vma, addr, flags, nr_pages - i, pfns + i, &got, h);
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
	int ret = 0, run;

	/* One look per folio: the pages of a run share its type. */
	for (i = 0; i < n; i += (unsigned long)run) {
		struct zd_folio *folio = zd_gup_folio_run(w, pfns, i, n, &run);

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
			zd_gup_put_folio(folio, ZD_FOLL_PIN, 1, h, false, false);
			if (zd_migrate_device_coherent_folio(folio, tmp))
				ret = -EBUSY;
		} else {
			zd_gup_put_folio(folio, ZD_FOLL_PIN, 1, h, false, false);
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

/* Undo a fast grab of refs pages of folio (nothing else happened in between). */
static void zd_gup_fast_ungrab(struct zd_folio *folio, unsigned int flags, int refs,
			       struct zd_holder h)
{
	if ((flags & ZD_FOLL_PIN) && zd_folio_test_large(folio))
		zd_atomic_add_return_relaxed(&folio->_pincount, -refs);
	else if (flags & ZD_FOLL_PIN)
		refs = ZD_GUP_PIN_COUNTING_BIAS;
	zd_folio_put_refs(folio, refs, h);
}

/*
 * One entry without mmap_lock: the pages it maps that the call still wants,
 * up to the end of their folio, are grabbed with one speculative add of all
 * their references (a pin of an order-0 folio adds the whole bias at once,
 * as try_grab_folio_fast does), then the entry is re-checked. Returns the
 * pages taken, 0 to fall back to the slow path.
 */
static unsigned long zd_gup_fast_entry(struct zd_world *w, zd_pte_t *ptep, unsigned int level,
				       uint64_t addr, unsigned long nr_left, unsigned int flags,
				       unsigned long *pfns, struct zd_holder h)
{
	struct zd_dev_pagemap *pgmap = NULL;
	struct zd_folio *folio;
	struct zd_page *page;
	unsigned long p, refs, i;
	zd_pte_t e = zd_pte_read(ptep);
	bool got;

	if (!zd_pte_present(e) || (e & ZD_E_SPECIAL) ||
	    ((flags & ZD_FOLL_WRITE) && !(e & ZD_E_WRITE)))
		return 0; /* non-present, special, no permission */
	/* A devmap entry (legacy, split) is never taken fast for a long-term pin. */
	if ((e & ZD_E_DEVMAP) && (flags & ZD_FOLL_LONGTERM))
		return 0;
	p = zd_pte_pfn(e) + ((addr & (zd_level_size(level) - 1)) >> ZD_PAGE_SHIFT);
	folio = zd_pfn_folio(w, p);
	if (!folio || (zd_folio_is_pci_p2pdma(folio) && !(flags & ZD_FOLL_PCI_P2PDMA)))
		return 0;
	refs = zd_gup_leaf_span(folio, p, addr, level, nr_left);
	/* ... and otherwise under the pgmap's reference (get_dev_pagemap). */
	if (e & ZD_E_DEVMAP) {
		pgmap = zd_get_dev_pagemap(w, p);
		if (!pgmap)
			return 0;
	}
	if ((flags & ZD_FOLL_PIN) && !zd_folio_test_large(folio))
		got = zd_folio_ref_try_add(folio, ZD_GUP_PIN_COUNTING_BIAS, h);
	else
		got = zd_folio_ref_try_add(folio, (int)refs, h);
	zd_put_dev_pagemap(pgmap);
	if (!got)
		return 0;
	if ((flags & ZD_FOLL_PIN) && zd_folio_test_large(folio))
		zd_atomic_add_return_relaxed(&folio->_pincount, (int)refs);
	/* The exclusive marker of a huge leaf is its head's; of a PTE, its page's. */
	page = level == ZD_LEVEL_PTE && p != folio->pfn ? zd_pfn_to_page(w, p) : &folio->page;
	if (zd_pte_read(ptep) != e ||
	    ((flags & ZD_FOLL_LONGTERM) && !zd_folio_is_longterm_pinnable(folio)) ||
	    ((flags & ZD_FOLL_PIN) && zd_folio_test_anon(folio) &&
	     !zd_page_test_flag(page, ZD_PG_anon_exclusive))) {
		zd_gup_fast_ungrab(folio, flags, (int)refs, h);
		return 0;
	}
	zd_smp_mb(); /* pairs with the sharing barrier of migration and fork */
	for (i = 0; i < refs; i++)
		pfns[i] = p + i;
	return refs;
}

/*
 * One walk, then every entry of the table it ends in that the call wants
 * (gup_fast_pte_range over one PTE table, or one PMD / PUD leaf).
 */
static unsigned long zd_gup_fast_leaf(struct zd_mm *mm, uint64_t addr, unsigned long nr_left,
				      unsigned int flags, unsigned long *pfns, struct zd_holder h)
{
	struct zd_slot slot;
	unsigned long total, got, k;

	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot))
		return 0;
	total = zd_gup_fast_entry(mm->world, slot.pte, slot.level, addr, nr_left, flags, pfns, h);
	if (!total || slot.level != ZD_LEVEL_PTE)
		return total;
	for (k = (unsigned long)(slot.pte - slot.pt->e) + 1; k < ZD_PT_ENTRIES && total < nr_left;
	     k++, total += got) {
		got = zd_gup_fast_entry(mm->world, &slot.pt->e[k], ZD_LEVEL_PTE,
					addr + (total << ZD_PAGE_SHIFT), nr_left - total, flags,
					pfns + total, h);
		if (!got)
			break;
	}
	return total;
}

static long zd_gup_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			unsigned int flags, unsigned long *pfns, struct zd_holder h)
{
	int seq = zd_atomic_read_acquire(&mm->write_protect_seq);
	unsigned long i = 0;
	long rest;

	if (!(seq & 1)) {
		zd_rcu_read_lock();
		while (i < nr_pages) {
			unsigned long got = zd_gup_fast_leaf(mm, start + (i << ZD_PAGE_SHIFT),
							     nr_pages - i, flags, pfns + i, h);

			if (!got)
				break;
			i += got;
		}
		zd_rcu_read_unlock();
		/* A fork ran meanwhile: drop every fast pin and start over slowly. */
		if ((flags & ZD_FOLL_PIN) && zd_atomic_read_acquire(&mm->write_protect_seq) != seq) {
			zd_gup_release(mm->world, pfns, i, flags, h, false);
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
	long before, got;
	bool g5;
	int ret;

	if (!mm || (gup_flags & (pin ? ZD_FOLL_GET : ZD_FOLL_PIN)))
		return -EINVAL;
	start &= ~(uint64_t)(ZD_PAGE_SIZE - 1); /* the page holding start, as the kernel does */
	ret = zd_gup_check_args(flags, pfns);
	if (ret)
		return ret;
	if (!nr_pages)
		return 0;
	/* G5 is checked where holders are tracked (a scan of the ledger). */
	g5 = (flags & ZD_FOLL_LONGTERM) && mm->world->track_holders;
	before = g5 ? zd_gup_holder_refs(mm->world, h) : 0;
	got = fast ? zd_gup_fast(mm, start, nr_pages, flags, pfns, h) :
		     zd_gup_locked(mm, start, nr_pages, flags, pfns, h);
	if (g5 && got < 0)
		zd_gup_check_error_unpinned(mm->world, h, before, got);
	return got;
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
