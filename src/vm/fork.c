/* SPDX-License-Identifier: MIT */
/*
 * zonedev: fork: the child gets a copy of every VMA; page tables are copied
 * for the VMAs that need it (anonymous memory, mixed maps) with the
 * copy-on-write rules for every entry kind.
 */
#include <string.h>

#include "vm/vm.h"

struct zd_mm *zd_mm_alloc_linked(struct zd_world *w, const char *name);
struct zd_vma *zd_vma_dup_into(struct zd_mm *mm, const struct zd_vma *src);

struct zd_fork {
	struct zd_vma *src, *dst;
	int err;
};

/* A pinned anonymous page is copied for the child at fork (pinned pages are never shared). */
static int zd_fork_copy_pinned(struct zd_fork *f, uint64_t addr, struct zd_folio *folio,
			       zd_pte_t e, zd_pte_t *out)
{
	struct zd_mm *child = f->dst->mm;
	struct zd_world *w = child->world;
	struct zd_folio *copy = zd_folio_alloc(w, 0, ZD_HOLDER(ZD_HOLD_MAPPING, child));

	if (!copy)
		return -ENOMEM;
	memcpy(zd_page_data(w, copy->pfn), zd_page_data(w, zd_pte_pfn(e)), ZD_PAGE_SIZE);
	zd_folio_add_new_anon(f->dst, copy, addr);
	zd_rmap_add(child, copy, ZD_LEVEL_PTE, false);
	*out = zd_mk_pte(copy->pfn, (e & (ZD_E_WRITE | ZD_E_DIRTY | ZD_E_YOUNG)));
	(void)folio;
	return 0;
}

static void zd_fork_entry(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg)
{
	struct zd_fork *f = arg;
	struct zd_mm *child = f->dst->mm;
	struct zd_world *w = mm->world;
	bool cow = zd_vma_is_cow(f->src);
	struct zd_folio *folio = NULL;
	struct zd_slot cs;
	zd_pte_t e, ce;

	if (f->err)
		return;
	if (zd_pt_walk(child, addr, slot->level, true, &cs)) {
		f->err = -ENOMEM;
		return;
	}
	zd_spin_lock(&slot->pt->ptl);
	e = zd_pte_read(slot->pte);
	ce = e;
	if (zd_pte_present(e) && !(e & ZD_E_SPECIAL)) {
		folio = zd_pfn_folio(w, zd_pte_pfn(e));
		if (folio && (e & ZD_E_DEVMAP)) {
			folio = NULL; /* a devmap entry is copied as it is: no reference */
		} else if (folio && zd_folio_test_anon(folio) && slot->level == ZD_LEVEL_PTE &&
			   zd_folio_maybe_dma_pinned(folio) &&
			   zd_page_test_flag(zd_pfn_to_page(w, zd_pte_pfn(e)), ZD_PG_anon_exclusive)) {
			zd_spin_unlock(&slot->pt->ptl);
			if (zd_fork_copy_pinned(f, addr, folio, e, &ce))
				f->err = -ENOMEM;
			else
				goto install_counted;
			return;
		} else if (folio) {
			if (cow && (e & ZD_E_WRITE)) {
				e &= ~ZD_E_WRITE; /* write-protect the parent */
				zd_pte_write(slot->pte, e);
			}
			if (zd_folio_test_anon(folio)) {
				unsigned long i, nr = slot->level == ZD_LEVEL_PTE ?
							      1 : zd_level_size(slot->level) >> ZD_PAGE_SHIFT;

				for (i = 0; i < nr; i++)
					zd_page_clear_flag(zd_pfn_to_page(w, zd_pte_pfn(e) + i),
							   ZD_PG_anon_exclusive);
			}
			ce = cow ? e & ~ZD_E_WRITE : e;
			zd_rmap_add(child, folio, slot->level, true);
		}
	} else if (zd_pte_swap(e)) {
		switch (zd_swp_type(e)) {
		case ZD_SWP_DEVICE_WRITE:
			if (cow) {
				e = zd_mk_swp(ZD_SWP_DEVICE_READ, zd_pte_pfn(e), 0);
				zd_pte_write(slot->pte, e);
			}
			/* fallthrough */
		case ZD_SWP_DEVICE_READ:
			folio = zd_pfn_folio(w, zd_pte_pfn(e));
			if (folio) {
				long k;

				/* a device-private PMD entry shares every page of its folio */
				for (k = 0; k < zd_level_pages(slot->level); k++)
					zd_page_clear_flag(zd_pfn_to_page(w, zd_pte_pfn(e) + k),
							   ZD_PG_anon_exclusive);
				zd_rmap_add(child, folio, slot->level, true);
			}
			ce = e;
			break;
		case ZD_SWP_MIGRATION_WRITE:
		case ZD_SWP_MIGRATION_READ_EXCLUSIVE:
			if (cow) {
				e = zd_mk_swp(ZD_SWP_MIGRATION_READ, zd_pte_pfn(e),
					      e & ZD_E_SOFT_DIRTY);
				zd_pte_write(slot->pte, e);
			}
			ce = e; /* no reference, no mapcount: remove_migration_ptes maps both */
			break;
		case ZD_SWP_DEVICE_EXCLUSIVE:
			/*
			 * Restore it first, with a trylock only; if the device holds
			 * the folio locked the copy fails and so does fork (-ENOMEM),
			 * as the kernel's copy_nonpresent_pte makes it.
			 */
			zd_spin_unlock(&slot->pt->ptl);
			if (zd_restore_exclusive_pte(f->src, addr, slot, e, true)) {
				f->err = -ENOMEM;
				return;
			}
			zd_fork_entry(mm, addr, slot, arg); /* now a present entry */
			return;
		default:
			ce = e;
			break;
		}
	}
	zd_spin_unlock(&slot->pt->ptl);
install_counted:
	zd_spin_lock(&cs.pt->ptl);
	zd_pte_write(cs.pte, ce);
	zd_spin_unlock(&cs.pt->ptl);
	if (zd_pte_present(ce) && !(ce & (ZD_E_SPECIAL | ZD_E_DEVMAP))) {
		folio = zd_pfn_folio(w, zd_pte_pfn(ce));
		zd_mm_add_rss(child, zd_mm_counter_of(f->dst, folio),
			      (long)(zd_level_size(slot->level) >> ZD_PAGE_SHIFT));
	} else if (zd_pte_swap(ce) &&
		   (zd_swp_device_private(ce) || zd_swp_migration(ce))) {
		zd_mm_add_rss(child, ZD_MM_ANONPAGES, zd_level_pages(slot->level));
	}
}

/* VMAs whose page tables are copied: anonymous memory and mixed maps (vma_needs_copy). */
static bool zd_vma_needs_copy(const struct zd_vma *vma)
{
	return vma->anon_vma || (vma->flags & ZD_VM_MIXEDMAP);
}

int zd_mm_fork(struct zd_mm *parent, const char *name, struct zd_mm **out)
{
	struct zd_mm *child;
	struct zd_vma *vma;
	int err = 0;

	if (!parent || !out)
		return -EINVAL;
	child = zd_mm_alloc_linked(parent->world, name);
	if (!child)
		return -ENOMEM;
	zd_down_write(&parent->mmap_lock);
	zd_atomic_add_return_acq_rel(&parent->write_protect_seq, 1); /* odd: GUP-fast backs off */
	for (vma = parent->vmas; vma && !err; vma = vma->next) {
		struct zd_fork f = { vma, NULL, 0 };

		f.dst = zd_vma_dup_into(child, vma);
		if (!f.dst) {
			err = -ENOMEM;
			break;
		}
		if (!zd_vma_needs_copy(vma))
			continue;
		if (zd_vma_is_cow(vma))
			zd_mmu_notifier_invalidate_start(parent, vma->start, vma->end,
							 ZD_MMU_NOTIFY_PROTECTION_PAGE, NULL);
		zd_pt_for_each_leaf(parent, vma->start, vma->end, zd_fork_entry, &f);
		if (zd_vma_is_cow(vma))
			zd_mmu_notifier_invalidate_end(parent, vma->start, vma->end);
		err = f.err;
	}
	zd_atomic_add_return_acq_rel(&parent->write_protect_seq, 1);
	zd_up_write(&parent->mmap_lock);
	if (err) {
		zd_mm_exit(child); /* drops everything the partial copy took */
		return err;
	}
	child->mmap_base = parent->mmap_base;
	*out = child;
	return 0;
}
