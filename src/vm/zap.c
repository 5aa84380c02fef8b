/* SPDX-License-Identifier: MIT */
/*
 * zonedev: zap (munmap, exit, MADV_DONTNEED): clear the entries of a range
 * and drop the mappings' references through the batched release path, as
 * the kernel's mmu_gather does; and splitting a huge PMD mapping.
 */
#include "vm/vm.h"

#define ZD_GATHER_BATCH 64

/* The mmu_gather: folios whose mapping references are dropped in one batch. */
struct zd_gather {
	struct zd_mm *mm;
	struct zd_folio *folios[ZD_GATHER_BATCH];
	int refs[ZD_GATHER_BATCH];
	int nr;
};

static void zd_gather_flush(struct zd_gather *g)
{
	if (!g->nr)
		return;
	zd_folios_put_refs(g->folios, g->refs, g->nr, ZD_HOLDER(ZD_HOLD_MAPPING, g->mm));
	g->nr = 0;
}

static void zd_gather_add(struct zd_gather *g, struct zd_folio *folio)
{
	if (g->nr && g->folios[g->nr - 1] == folio) {
		g->refs[g->nr - 1]++;
		return;
	}
	if (g->nr == ZD_GATHER_BATCH)
		zd_gather_flush(g);
	g->folios[g->nr] = folio;
	g->refs[g->nr++] = 1;
}

struct zd_zap {
	struct zd_vma *vma;
	struct zd_gather gather;
};

static void zd_zap_entry(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg)
{
	struct zd_zap *z = arg;
	struct zd_folio *folio = NULL;
	zd_pte_t e;

	zd_spin_lock(&slot->pt->ptl);
	e = zd_pte_read(slot->pte);
	zd_pte_write(slot->pte, 0);
	zd_spin_unlock(&slot->pt->ptl);
	if (zd_pte_present(e)) {
		if (e & ZD_E_SPECIAL)
			return; /* the zero page: nothing is counted */
		folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
		if (!folio)
			return;
		if ((e & ZD_E_DEVMAP) && !zd_bug_on(mm->world, ZD_BUG_DEVMAP_WALKER_PUT))
			return; /* a devmap entry took no reference and no mapcount */
		if (e & ZD_E_DEVMAP) {
			/* BUG(devmap-walker-put): released like a normal page's reference. */
			zd_gather_add(&z->gather, folio);
			return;
		}
		if (e & ZD_E_DIRTY)
			zd_folio_set_flag(folio, ZD_PG_dirty);
		zd_mm_add_rss(mm, zd_mm_counter_of(z->vma, folio), -(long)(zd_level_size(slot->level) >> ZD_PAGE_SHIFT));
		zd_rmap_remove(mm, folio, slot->level);
		zd_gather_add(&z->gather, folio);
		return;
	}
	if (!zd_pte_swap(e))
		return;
	switch (zd_swp_type(e)) {
	case ZD_SWP_DEVICE_READ:
	case ZD_SWP_DEVICE_WRITE:
	case ZD_SWP_DEVICE_EXCLUSIVE:
		folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
		zd_mm_add_rss(mm, ZD_MM_ANONPAGES, -zd_level_pages(slot->level));
		if (folio) {
			zd_rmap_remove(mm, folio, slot->level);
			zd_gather_add(&z->gather, folio);
		}
		break;
	case ZD_SWP_MIGRATION_READ:
	case ZD_SWP_MIGRATION_READ_EXCLUSIVE:
	case ZD_SWP_MIGRATION_WRITE:
		/* migration entries hold no reference: only the rss goes */
		zd_mm_add_rss(mm, ZD_MM_ANONPAGES, -zd_level_pages(slot->level));
		break;
	default:
		break;
	}
}

void zd_zap_vma_range(struct zd_vma *vma, uint64_t start, uint64_t end)
{
	struct zd_zap z = { .vma = vma, .gather = { .mm = vma->mm } };

	zd_pt_for_each_leaf(vma->mm, start, end, zd_zap_entry, &z);
	zd_gather_flush(&z.gather);
}

/*
 * A non-present PMD leaf becomes a table of 512 entries of the same kind,
 * one per page of the folio. A device-private PMD entry held one mapping
 * reference and the entire mapcount; each device-private PTE holds its own
 * (as the present split below). A PMD migration entry holds nothing: its
 * 512 PTE migration entries hold nothing either, and the rss is unchanged.
 */
static int zd_split_nonpresent_pmd(struct zd_vma *vma, struct zd_slot *pmd, zd_pte_t e)
{
	struct zd_mm *mm = vma->mm;
	bool private = zd_swp_device_private(e);
	struct zd_folio *folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
	struct zd_pt *pt;
	unsigned long i;

	if (!folio || (private && zd_folio_nr_pages(folio) != ZD_PT_ENTRIES))
		return -EINVAL;
	pt = zd_pt_alloc(mm->world, ZD_LEVEL_PTE);
	if (!pt)
		return -ENOMEM;
	for (i = 0; i < ZD_PT_ENTRIES; i++)
		pt->e[i] = zd_mk_swp(zd_swp_type(e), zd_pte_pfn(e) + i, e & ZD_E_SOFT_DIRTY);
	zd_spin_lock(&pmd->pt->ptl);
	if (zd_pte_read(pmd->pte) != e) {
		zd_spin_unlock(&pmd->pt->ptl);
		zd_kfree(mm->world, pt, sizeof(*pt));
		return 0;
	}
	if (private) {
		zd_folio_ref_add(folio, ZD_PT_ENTRIES - 1, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
		zd_atomic_add_return_relaxed(&folio->_entire_mapcount, -1);
		zd_atomic_add_return_relaxed(&folio->_large_mapcount, ZD_PT_ENTRIES - 1);
		zd_atomic_add_return_relaxed(&folio->_nr_pages_mapped, ZD_PT_ENTRIES);
	}
	zd_pte_write(pmd->pte, (zd_pte_t)(uintptr_t)pt | ZD_E_TABLE_TAG);
	zd_spin_unlock(&pmd->pt->ptl);
	return 0;
}

/*
 * Split the PMD leaf covering addr: an anonymous large folio stays mapped by
 * 512 PTEs (each taking its own reference and page mapcount, as
 * __split_huge_pmd does); any other huge leaf is zapped and refaults.
 */
int zd_split_huge_pmd(struct zd_vma *vma, uint64_t addr)
{
	struct zd_mm *mm = vma->mm;
	uint64_t base = addr & ~(zd_level_size(ZD_LEVEL_PMD) - 1);
	struct zd_slot pmd;
	struct zd_folio *folio;
	struct zd_pt *pt;
	zd_pte_t e, bits;
	unsigned long i;

	if (zd_pt_walk(mm, addr, ZD_LEVEL_PMD, false, &pmd))
		return 0;
	e = zd_pte_read(pmd.pte);
	if (pmd.level == ZD_LEVEL_PMD && (zd_swp_device_private(e) || zd_swp_migration(e)))
		return zd_split_nonpresent_pmd(vma, &pmd, e);
	if (pmd.level != ZD_LEVEL_PMD || !zd_pte_present(e) || !(e & ZD_E_HUGE))
		return 0; /* no PMD leaf here (a PUD leaf is never split, see may_split) */
	folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
	if (!folio || !zd_folio_test_anon(folio) || (e & ZD_E_DEVMAP)) {
		struct zd_vma tmp = *vma;

		tmp.start = base;
		tmp.end = base + zd_level_size(ZD_LEVEL_PMD);
		zd_zap_vma_range(&tmp, tmp.start, tmp.end);
		return 0;
	}
	/* Build the PTE table first, then swap the PMD for it under the PMD's lock. */
	pt = zd_pt_alloc(mm->world, ZD_LEVEL_PTE);
	if (!pt)
		return -ENOMEM;
	bits = e & (ZD_E_WRITE | ZD_E_DIRTY | ZD_E_YOUNG | ZD_E_SOFT_DIRTY);
	for (i = 0; i < ZD_PT_ENTRIES; i++)
		pt->e[i] = zd_mk_pte(folio->pfn + i, bits);
	zd_spin_lock(&pmd.pt->ptl);
	if (zd_pte_read(pmd.pte) != e) {
		zd_spin_unlock(&pmd.pt->ptl);
		zd_kfree(mm->world, pt, sizeof(*pt)); /* changed meanwhile: nothing to split */
		return 0;
	}
	zd_folio_ref_add(folio, ZD_PT_ENTRIES - 1, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	zd_atomic_add_return_relaxed(&folio->_entire_mapcount, -1);
	zd_atomic_add_return_relaxed(&folio->_large_mapcount, ZD_PT_ENTRIES - 1);
	zd_atomic_add_return_relaxed(&folio->_nr_pages_mapped, ZD_PT_ENTRIES);
	zd_pte_write(pmd.pte, (zd_pte_t)(uintptr_t)pt | ZD_E_TABLE_TAG);
	zd_spin_unlock(&pmd.pt->ptl);
	return 0;
}
