/* SPDX-License-Identifier: MIT */
/*
 * zonedev: memory failure's part of the audit: a poisoned page is never
 * handed out again (poisoned-page-handed-out) - no poisoned RAM page is
 * free in the allocator, and no present page-table entry maps a poisoned
 * page (memory failure replaced or removed every entry, and faults refuse
 * poisoned pages).
 */
#include "world.h"
#include "mem/mem.h"
#include "vm/vm.h"
#include "failure/failure.h"

struct zd_mf_audit {
	struct zd_world *w;
	int found;
};

static bool zd_mf_page_poisoned(struct zd_world *w, unsigned long pfn)
{
	struct zd_page *page = zd_pfn_to_page(w, pfn);

	return page && zd_page_test_flag(page, ZD_PG_hwpoison);
}

static void zd_mf_audit_entry(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg)
{
	struct zd_mf_audit *ma = arg;
	zd_pte_t e = zd_pte_read(slot->pte);
	unsigned long pfn, i, nr = 1;
	struct zd_folio *folio;
	bool bad;

	if (!zd_pte_present(e) || (e & ZD_E_SPECIAL))
		return;
	pfn = zd_pte_pfn(e);
	folio = zd_pfn_folio(ma->w, pfn);
	if (!folio)
		return;
	/* A device folio is poisoned through its head; RAM page by page. */
	bad = zd_page_test_flag(&folio->page, ZD_PG_hwpoison);
	if (!zd_folio_is_zone_device(folio)) {
		if (slot->level > ZD_LEVEL_PTE)
			nr = zd_level_size(slot->level) >> ZD_PAGE_SHIFT;
		for (i = 0; i < nr && !bad; i++)
			bad = zd_mf_page_poisoned(ma->w, pfn + i);
	}
	if (bad) {
		zd_report(ma->w, ZD_INV_POISONED_PAGE_HANDED_OUT, pfn,
			  "%s: a present entry at %#llx maps a poisoned page", mm->name,
			  (unsigned long long)addr);
		ma->found++;
	}
}

void zd_failure_audit(struct zd_world *w, struct zd_audit *a, void *arg)
{
	struct zd_mf_audit ma = { .w = w };
	struct zd_vm_world *vw = w->vm;
	unsigned long pfn;
	struct zd_mm *mm;

	(void)arg;
	if (zd_audit_hasher(a))
		return; /* its state is the pages' and the ledger's, digested already */
	if (!zd_atomic_long_read_relaxed(&w->nr_poisoned))
		return; /* nothing was ever poisoned (tests that break it on purpose poison first) */
	for (pfn = 0; zd_pfn_is_ram(w, pfn); pfn++) {
		struct zd_page *page = zd_pfn_to_page(w, pfn);

		if (zd_page_test_flag(page, ZD_PG_hwpoison) && zd_page_test_flag(page, ZD_PG_buddy)) {
			zd_report(w, ZD_INV_POISONED_PAGE_HANDED_OUT, pfn,
				  "a poisoned page is free in the RAM allocator");
			ma.found++;
		}
	}
	if (vw) {
		zd_mutex_lock(&vw->lock);
		for (mm = vw->mms; mm; mm = mm->next) {
			struct zd_vma *vma;

			zd_down_read(&mm->mmap_lock);
			for (vma = mm->vmas; vma; vma = vma->next)
				zd_pt_for_each_leaf(mm, vma->start, vma->end, zd_mf_audit_entry,
						    &ma);
			zd_up_read(&mm->mmap_lock);
		}
		zd_mutex_unlock(&vw->lock);
	}
	zd_audit_add_found(a, ma.found);
}
