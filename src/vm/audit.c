/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the address-space part of the audit: entry kinds and write
 * permission per VMA (P3, P4), rss (C5), migration entries only on locked
 * folios (P1, P2), and every mapping's reference and mapcount accounted for.
 */
#include <stdlib.h>
#include <string.h>

#include "vm/vm.h"

struct zd_map_count {
	unsigned long pfn; /* folio head */
	struct zd_mm *mm;
	long maps;
};

struct zd_vm_audit {
	struct zd_audit *a;
	struct zd_world *w;
	struct zd_vma *vma;
	long rss[ZD_NR_MM_COUNTERS];
	struct zd_map_count *counts;
	size_t nr, cap;
	int found;
};

#define VM_REPORT(va, inv, pfn, ...)                                                               \
	do {                                                                                       \
		zd_report((va)->w, (inv), (pfn), __VA_ARGS__);                                     \
		(va)->found++;                                                                     \
	} while (0)

static void zd_count_mapping(struct zd_vm_audit *va, unsigned long pfn, struct zd_mm *mm)
{
	if (va->nr == va->cap) {
		size_t cap = va->cap ? 2 * va->cap : 256;
		struct zd_map_count *c = realloc(va->counts, cap * sizeof(*c));

		if (!c)
			return;
		va->counts = c;
		va->cap = cap;
	}
	va->counts[va->nr++] = (struct zd_map_count){ pfn, mm, 1 };
}

static void zd_audit_entry(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg)
{
	struct zd_vm_audit *va = arg;
	struct zd_vma *vma = va->vma;
	zd_pte_t e = zd_pte_read(slot->pte);
	struct zd_folio *folio;

	if (zd_pte_present(e)) {
		if ((e & ZD_E_WRITE) && !(vma->flags & ZD_VM_WRITE))
			VM_REPORT(va, ZD_INV_ENTRY_WRITABLE_ILLEGAL, zd_pte_pfn(e),
				  "%s: writable entry at %#llx in a VMA without write", mm->name,
				  (unsigned long long)addr);
		if (e & (ZD_E_SPECIAL | ZD_E_DEVMAP))
			return;
		folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
		if (!folio)
			return;
		if ((e & ZD_E_WRITE) && zd_folio_test_anon(folio) && zd_folio_mapcount(folio) > 1 &&
		    !zd_folio_test_large(folio))
			VM_REPORT(va, ZD_INV_ENTRY_WRITABLE_ILLEGAL, folio->pfn,
				  "%s: writable entry at %#llx maps an anonymous page mapped %d times",
				  mm->name, (unsigned long long)addr, zd_folio_mapcount(folio));
		va->rss[zd_mm_counter_of(vma, folio)] += (long)(zd_level_size(slot->level) >> ZD_PAGE_SHIFT);
		zd_count_mapping(va, folio->pfn, mm);
		return;
	}
	if (!zd_pte_swap(e))
		return;
	if (zd_swp_device_private(e) || zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE) {
		if (!zd_vma_is_anon(vma) || (vma->flags & ZD_VM_SHARED))
			VM_REPORT(va, ZD_INV_ENTRY_KIND_ILLEGAL, zd_pte_pfn(e),
				  "%s: device entry at %#llx in a VMA that is not anonymous private",
				  mm->name, (unsigned long long)addr);
		if (zd_swp_type(e) == ZD_SWP_DEVICE_WRITE && !(vma->flags & ZD_VM_WRITE))
			VM_REPORT(va, ZD_INV_ENTRY_WRITABLE_ILLEGAL, zd_pte_pfn(e),
				  "%s: writable device-private entry at %#llx in a read-only VMA",
				  mm->name, (unsigned long long)addr);
		folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
		if (folio)
			zd_count_mapping(va, folio->pfn, mm);
		va->rss[ZD_MM_ANONPAGES] += zd_level_pages(slot->level);
	} else if (zd_swp_migration(e)) {
		/* P1/P2: the migrating thread holds the folio lock for as long as its entries exist. */
		folio = zd_pfn_folio(mm->world, zd_pte_pfn(e));
		if (folio && !zd_folio_test_locked(folio))
			VM_REPORT(va, ZD_INV_MIGRATION_ENTRY_UNLOCKED, folio->pfn,
				  "%s: migration entry at %#llx for a folio that is not locked",
				  mm->name, (unsigned long long)addr);
		va->rss[ZD_MM_ANONPAGES] += zd_level_pages(slot->level);
	}
}

static int zd_cmp_count(const void *x, const void *y)
{
	const struct zd_map_count *a = x, *b = y;

	if (a->pfn != b->pfn)
		return a->pfn < b->pfn ? -1 : 1;
	return a->mm < b->mm ? -1 : a->mm > b->mm;
}

/* Compare, per folio and per mm, the mappings found with the references and mapcount held. */
static void zd_audit_mappings(struct zd_vm_audit *va)
{
	size_t i = 0, j;

	if (va->nr)
		qsort(va->counts, va->nr, sizeof(*va->counts), zd_cmp_count);
	while (i < va->nr) {
		unsigned long pfn = va->counts[i].pfn;
		struct zd_folio *folio = zd_pfn_folio(va->w, pfn);
		long total = 0;

		for (j = i; j < va->nr && va->counts[j].pfn == pfn;) {
			struct zd_mm *mm = va->counts[j].mm;
			long maps = 0, held;

			for (; j < va->nr && va->counts[j].pfn == pfn && va->counts[j].mm == mm; j++)
				maps++;
			total += maps;
			held = zd_ledger_get(va->w, pfn, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
			if (va->w->track_holders && held != maps)
				VM_REPORT(va, ZD_INV_MAPPING_UNACCOUNTED, pfn,
					  "%s maps the folio %ld times but holds %ld references",
					  mm->name, maps, held);
		}
		if (folio && zd_folio_mapcount(folio) != total)
			VM_REPORT(va, ZD_INV_MAPPING_UNACCOUNTED, pfn,
				  "folio mapped %ld times but its mapcount is %d", total,
				  zd_folio_mapcount(folio));
		i = j;
	}
}

/* A RAM folio with a mapcount that no page table explains. */
static void zd_audit_ram_mapcounts(struct zd_vm_audit *va)
{
	struct zd_memmap_range *r = va->w->mem->ram;
	unsigned long i;

	if (!r)
		return;
	for (i = 0; i < r->nr_pages; i++) {
		struct zd_folio *folio = (struct zd_folio *)&r->pages[i];
		struct zd_map_count key = { folio->pfn, NULL, 0 };
		size_t lo = 0, hi = va->nr;

		if (zd_page_is_tail(&folio->page) || zd_folio_mapcount(folio) <= 0)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (va->counts[mid].pfn < key.pfn)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == va->nr || va->counts[lo].pfn != key.pfn)
			VM_REPORT(va, ZD_INV_MAPPING_UNACCOUNTED, folio->pfn,
				  "folio has mapcount %d but no page table maps it",
				  zd_folio_mapcount(folio));
	}
}

/*
 * The state digest's part for address spaces: every mm (in the world's list
 * order) with its page tables, VMAs, counters and notifiers, every file's
 * page cache and every anon_vma's count. Mutexes are free at quiescence and
 * not hashed.
 */
static void zd_vm_state_hash(struct zd_world *w, struct zd_state_hash *h)
{
	struct zd_vm_world *vw = w->vm;
	struct zd_address_space *as;
	struct zd_anon_vma *av;
	struct zd_mm *mm;
	size_t j;
	int i;

	for (mm = vw->mms; mm; mm = mm->next) {
		struct zd_mmu_interval_notifier *mni;
		struct zd_vma *vma;

		zd_state_hash_ptr(h, mm);
		zd_state_hash_str(h, mm->name);
		zd_state_hash_u64(h, mm->mmap_base);
		zd_state_hash_u64(h, (uint64_t)zd_atomic_read_relaxed(&mm->write_protect_seq));
		for (i = 0; i < ZD_NR_MM_COUNTERS; i++)
			zd_state_hash_u64(h, (uint64_t)zd_atomic_long_read_relaxed(&mm->rss[i]));
		for (vma = mm->vmas; vma; vma = vma->next) {
			zd_state_hash_ptr(h, vma);
			zd_state_hash_u64(h, vma->start);
			zd_state_hash_u64(h, vma->end);
			zd_state_hash_u64(h, vma->flags);
			zd_state_hash_u64(h, vma->kind);
			zd_state_hash_u64(h, vma->pgoff);
			zd_state_hash_ptr(h, vma->anon_vma);
			zd_state_hash_ptr(h, vma->mapping);
			zd_state_hash_ptr(h, vma->vm_ops);
			zd_state_hash_ptr(h, vma->vm_private);
		}
		zd_pt_state_hash(mm, h);
		for (mni = mm->notifiers; mni; mni = mni->next) {
			zd_state_hash_ptr(h, mni);
			zd_state_hash_u64(h, mni->start);
			zd_state_hash_u64(h, mni->end);
			zd_state_hash_ptr(h, mni->ops);
			zd_state_hash_u64(h, zd_atomic_ulong_read_relaxed(&mni->invalidate_seq));
			zd_state_hash_u64(h, (uint64_t)mni->active);
		}
		zd_state_hash_u64(h, (uint64_t)zd_atomic_read_relaxed(&mm->notifier_walkers));
	}
	for (as = vw->files; as; as = as->next) {
		zd_state_hash_ptr(h, as);
		zd_state_hash_str(h, as->name);
		zd_state_hash_u64(h, as->shmem);
		zd_state_hash_u64(h, as->nr_pages);
		for (j = 0; j < as->nr_pages; j++) {
			zd_state_hash_u64(h, as->pages[j].index);
			zd_state_hash_u64(h, as->pages[j].folio ? as->pages[j].folio->pfn : ZD_PFN_NONE);
		}
		zd_state_hash_u64(h, (uint64_t)as->nr_vmas);
	}
	for (av = vw->anon_vmas; av; av = av->all_next) {
		zd_state_hash_ptr(h, av);
		zd_state_hash_u64(h, (uint64_t)av->refs);
	}
}

void zd_vm_audit(struct zd_world *w, struct zd_audit *a, void *arg)
{
	struct zd_vm_world *vw = w->vm;
	struct zd_vm_audit va = { .a = a, .w = w };
	struct zd_mm *mm;
	int i;

	(void)arg;
	if (zd_audit_hasher(a)) {
		zd_vm_state_hash(w, zd_audit_hasher(a));
		return;
	}
	zd_mutex_lock(&vw->lock);
	for (mm = vw->mms; mm; mm = mm->next) {
		struct zd_vma *vma;

		memset(va.rss, 0, sizeof(va.rss));
		zd_down_read(&mm->mmap_lock);
		for (vma = mm->vmas; vma; vma = vma->next) {
			va.vma = vma;
			zd_pt_for_each_leaf(mm, vma->start, vma->end, zd_audit_entry, &va);
		}
		zd_up_read(&mm->mmap_lock);
		for (i = 0; i < ZD_NR_MM_COUNTERS; i++) {
			long have = zd_atomic_long_read_relaxed(&mm->rss[i]);

			if (have != va.rss[i])
				VM_REPORT(&va, ZD_INV_RSS_MISMATCH, ZD_PFN_NONE,
					  "%s: rss counter %d is %ld but its entries map %ld pages",
					  mm->name, i, have, va.rss[i]);
		}
	}
	zd_mutex_unlock(&vw->lock);
	zd_audit_mappings(&va);
	zd_audit_ram_mapcounts(&va);
	free(va.counts);
	zd_audit_add_found(a, va.found);
}
