/* SPDX-License-Identifier: MIT */
/*
 * zonedev: memory failure's part of address spaces. Every address space is
 * searched for entries that map a poisoned folio (the kernel's
 * collect_procs walks every task too). A RAM page's entries become
 * hwpoison entries (try_to_unmap with TTU_HWPOISON): the page's mapping
 * reference and mapcount go, a later touch faults on the marker and gets
 * SIGBUS. A device folio is unmapped instead (unmap_mapping_range over the
 * largest mapping size, so a device-dax PMD or PUD goes whole); its next
 * fault goes to the driver, which refuses a poisoned folio with SIGBUS.
 */
#include <stdlib.h>

#include "vm/vm.h"

/* One entry found by the search: where, at what level. */
struct zd_poison_hit {
	struct zd_vma *vma;
	uint64_t addr;
	unsigned int level;
};

struct zd_poison_walk {
	struct zd_world *w;
	struct zd_vma *vma;
	unsigned long first, end; /* the folio's pfns */
	unsigned long bad;	  /* RAM: the one page whose entries become markers */
	bool device;
	bool huge_only; /* RAM, first pass: only huge leaves (to split them) */
	struct zd_poison_hit *hits;
	size_t nr, cap;
	bool nomem;
};

static void zd_poison_note(struct zd_poison_walk *pw, uint64_t addr, unsigned int level)
{
	if (pw->nr == pw->cap) {
		size_t cap = pw->cap ? 2 * pw->cap : 16;
		struct zd_poison_hit *n = realloc(pw->hits, cap * sizeof(*n));

		if (!n) {
			pw->nomem = true;
			return;
		}
		pw->hits = n;
		pw->cap = cap;
	}
	pw->hits[pw->nr++] = (struct zd_poison_hit){ pw->vma, addr, level };
}

/* Does the leaf map a page of the folio (present, or a device-private / -exclusive entry)? */
static void zd_poison_find(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg)
{
	struct zd_poison_walk *pw = arg;
	zd_pte_t e = zd_pte_read(slot->pte);
	unsigned long pfn, nr = zd_level_size(slot->level) >> ZD_PAGE_SHIFT;

	(void)mm;
	if (zd_pte_present(e)) {
		if (e & ZD_E_SPECIAL)
			return;
	} else if (!zd_swp_device_private(e) && zd_swp_type(e) != ZD_SWP_DEVICE_EXCLUSIVE) {
		return; /* none, migration entries (no reference), hwpoison markers */
	}
	pfn = zd_pte_pfn(e);
	if (pfn + nr <= pw->first || pfn >= pw->end)
		return;
	if (pw->device) {
		zd_poison_note(pw, addr, slot->level);
	} else if (pw->huge_only) {
		if (slot->level > ZD_LEVEL_PTE)
			zd_poison_note(pw, addr, slot->level);
	} else if (slot->level == ZD_LEVEL_PTE && pfn == pw->bad) {
		zd_poison_note(pw, addr, slot->level);
	}
}

/* Search every VMA of mm for the folio's entries (hits appended to pw). */
static void zd_poison_search(struct zd_poison_walk *pw, struct zd_mm *mm)
{
	struct zd_vma *vma;

	for (vma = mm->vmas; vma; vma = vma->next) {
		pw->vma = vma;
		zd_pt_for_each_leaf(mm, vma->start, vma->end, zd_poison_find, pw);
	}
}

/* Replace the PTE at hit with a hwpoison marker, dropping what the mapping held. */
static int zd_poison_mark(struct zd_mm *mm, const struct zd_poison_hit *hit, unsigned long pfn)
{
	struct zd_folio *folio = zd_pfn_folio(mm->world, pfn);
	struct zd_slot slot;
	zd_pte_t e;

	if (!folio || zd_pt_walk(mm, hit->addr, ZD_LEVEL_PTE, false, &slot) ||
	    slot.level != ZD_LEVEL_PTE)
		return 0;
	zd_mmu_notifier_invalidate_start(mm, hit->addr, hit->addr + ZD_PAGE_SIZE,
					 ZD_MMU_NOTIFY_CLEAR, NULL);
	zd_spin_lock(&slot.pt->ptl);
	e = zd_pte_read(slot.pte);
	if (zd_pte_pfn(e) != pfn ||
	    !(zd_pte_present(e) || zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE) ||
	    (zd_pte_present(e) && (e & ZD_E_SPECIAL))) {
		zd_spin_unlock(&slot.pt->ptl);
		zd_mmu_notifier_invalidate_end(mm, hit->addr, hit->addr + ZD_PAGE_SIZE);
		return 0; /* changed meanwhile */
	}
	zd_pte_write(slot.pte, zd_mk_swp(ZD_SWP_HWPOISON, pfn, 0));
	zd_spin_unlock(&slot.pt->ptl);
	zd_mmu_notifier_invalidate_end(mm, hit->addr, hit->addr + ZD_PAGE_SIZE);
	if (zd_pte_present(e) && (e & ZD_E_DIRTY))
		zd_folio_set_flag(folio, ZD_PG_dirty);
	zd_mm_add_rss(mm, zd_pte_present(e) ? zd_mm_counter_of(hit->vma, folio) : ZD_MM_ANONPAGES,
		      -1);
	zd_rmap_remove(mm, folio, ZD_LEVEL_PTE);
	if (!(e & ZD_E_DEVMAP))
		zd_folio_put(folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	return 1;
}

/*
 * One address space: RAM - split huge leaves, then mark the bad page's PTEs;
 * device - zap. mmap_lock is taken for write so no fault runs meanwhile: a
 * fault that read the page as healthy has finished mapping it before the
 * search, and one that starts after it sees the mark and refuses the page.
 */
static int zd_poison_mm(struct zd_poison_walk *pw, struct zd_mm *mm)
{
	int unmapped = 0;
	size_t i;

	zd_down_write(&mm->mmap_lock);
	if (!pw->device) {
		pw->nr = 0;
		pw->huge_only = true;
		zd_poison_search(pw, mm);
		for (i = 0; i < pw->nr; i++)
			zd_split_huge_pmd(pw->hits[i].vma, pw->hits[i].addr);
		pw->huge_only = false;
	}
	pw->nr = 0;
	zd_poison_search(pw, mm);
	for (i = 0; i < pw->nr; i++) {
		const struct zd_poison_hit *hit = &pw->hits[i];
		uint64_t size = zd_level_size(hit->level);

		if (pw->device) {
			zd_mmu_notifier_invalidate_start(mm, hit->addr, hit->addr + size,
							 ZD_MMU_NOTIFY_CLEAR, NULL);
			zd_zap_vma_range(hit->vma, hit->addr, hit->addr + size);
			zd_mmu_notifier_invalidate_end(mm, hit->addr, hit->addr + size);
			unmapped++;
		} else {
			unmapped += zd_poison_mark(mm, hit, pw->bad);
		}
	}
	zd_up_write(&mm->mmap_lock);
	return unmapped;
}

int zd_unmap_poisoned(struct zd_world *w, struct zd_folio *folio, unsigned long bad_pfn)
{
	struct zd_vm_world *vw = w->vm;
	struct zd_poison_walk pw = {
		.w = w,
		.first = folio->pfn,
		.end = folio->pfn + zd_folio_nr_pages(folio),
		.bad = bad_pfn,
		.device = zd_folio_is_zone_device(folio),
	};
	struct zd_mm *mm;
	int unmapped = 0;

	if (!vw)
		return 0;
	/* Lock order: the world's mm list, then each mmap_lock (as the audit). */
	zd_mutex_lock(&vw->lock);
	for (mm = vw->mms; mm; mm = mm->next)
		unmapped += zd_poison_mm(&pw, mm);
	zd_mutex_unlock(&vw->lock);
	free(pw.hits);
	return pw.nomem ? -ENOMEM : unmapped;
}
