/* SPDX-License-Identifier: MIT */
/*
 * zonedev: address spaces and their VMAs: creation and exit, the zero page,
 * mmap / munmap / mprotect / madvise(MADV_DONTNEED), VMA splitting.
 */
#include <string.h>

#include "vm/vm.h"

#define ZD_MMAP_BASE (1ull << 32)
#define ZD_TASK_SIZE (1ull << 47)

/* ---- The world's address-space state and the zero page ------------------------ */

int zd_vm_init(struct zd_world *w)
{
	struct zd_vm_world *vw = zd_kzalloc(w, sizeof(*vw));
	unsigned long pfn = (ZD_DEVICE_PHYS_BASE >> ZD_PAGE_SHIFT) - 1;
	struct zd_page *page;
	int ret;

	if (!vw)
		return -ENOMEM;
	zd_mutex_init(&vw->lock);
	/* The shared zero page: one reserved page of its own, never counted. */
	ret = zd_memmap_add(w, pfn, 1, 0, false, &vw->zero_range);
	if (ret) {
		zd_kfree(w, vw, sizeof(*vw));
		return ret;
	}
	page = &vw->zero_range->pages[0];
	zd_atomic_ulong_set_relaxed(&page->flags,
				    (ZD_ZONE_NORMAL << ZD_PAGE_ZONE_SHIFT) |
					    ((unsigned long)w->id << ZD_PAGE_WORLD_SHIFT) |
					    (1ul << ZD_PG_reserved) | (1ul << ZD_PG_zero) |
					    (1ul << ZD_PG_base_ref) | (1ul << ZD_PG_uptodate));
	zd_atomic_set_relaxed(&page->_mapcount, -1);
	zd_atomic_set_relaxed(&page->_refcount, 1);
	page->pfn = pfn;
	vw->zero_folio = (struct zd_folio *)page;
	w->vm = vw;
	ret = zd_audit_register(w, zd_vm_audit, NULL);
	if (ret) {
		zd_memmap_remove(w, vw->zero_range, false);
		zd_kfree(w, vw, sizeof(*vw));
		w->vm = NULL;
	}
	return ret;
}

void zd_vm_exit(struct zd_world *w)
{
	struct zd_vm_world *vw = w->vm;
	struct zd_address_space *as;
	struct zd_anon_vma *av;

	if (!vw)
		return;
	while (vw->mms)
		zd_mm_exit(vw->mms);
	while ((as = vw->files)) {
		vw->files = as->next;
		zd_page_cache_truncate(as);
		zd_kfree(w, as, sizeof(*as));
	}
	while ((av = vw->anon_vmas)) {
		vw->anon_vmas = av->all_next;
		zd_kfree(w, av, sizeof(*av));
	}
	zd_audit_unregister(w, zd_vm_audit, NULL);
	zd_memmap_remove(w, vw->zero_range, false);
	zd_kfree(w, vw, sizeof(*vw));
	w->vm = NULL;
}

struct zd_folio *zd_zero_folio(struct zd_world *w)
{
	return w->vm ? w->vm->zero_folio : NULL;
}

/* ---- mm ---------------------------------------------------------------------------- */

static struct zd_mm *zd_mm_alloc(struct zd_world *w, const char *name)
{
	struct zd_mm *mm = zd_kzalloc(w, sizeof(*mm));

	if (!mm)
		return NULL;
	mm->world = w;
	snprintf(mm->name, sizeof(mm->name), "%s", name ? name : "mm");
	zd_rwsem_init(&mm->mmap_lock);
	zd_spin_lock_init(&mm->page_table_lock);
	zd_spin_lock_init(&mm->notifier_lock);
	zd_atomic_set_relaxed(&mm->notifier_walkers, 0);
	mm->mmap_base = ZD_MMAP_BASE;
	mm->pgd = zd_kzalloc(w, sizeof(*mm->pgd));
	if (!mm->pgd) {
		zd_kfree(w, mm, sizeof(*mm));
		return NULL;
	}
	zd_spin_lock_init(&mm->pgd->ptl);
	mm->pgd->level = ZD_LEVEL_PGD;
	return mm;
}

static void zd_mm_link(struct zd_mm *mm)
{
	struct zd_vm_world *vw = mm->world->vm;

	zd_mutex_lock(&vw->lock);
	mm->next = vw->mms;
	vw->mms = mm;
	zd_mutex_unlock(&vw->lock);
}

int zd_mm_create(struct zd_world *w, const char *name, struct zd_mm **out)
{
	struct zd_mm *mm;

	if (!w || !out || !w->vm)
		return -EINVAL;
	mm = zd_mm_alloc(w, name);
	if (!mm)
		return -ENOMEM;
	zd_mm_link(mm);
	*out = mm;
	return 0;
}

const char *zd_mm_name(const struct zd_mm *mm)
{
	return mm->name;
}

struct zd_world *zd_mm_world(const struct zd_mm *mm)
{
	return mm->world;
}

void zd_mm_add_rss(struct zd_mm *mm, enum zd_mm_counter c, long delta)
{
	zd_atomic_long_add_return_relaxed(&mm->rss[c], delta);
}

long zd_mm_rss(struct zd_mm *mm)
{
	long n = 0;
	int i;

	for (i = 0; i < ZD_NR_MM_COUNTERS; i++)
		n += zd_atomic_long_read_relaxed(&mm->rss[i]);
	return n;
}

enum zd_mm_counter zd_mm_counter_of(const struct zd_vma *vma, const struct zd_folio *folio)
{
	if (folio && zd_folio_test_anon(folio))
		return ZD_MM_ANONPAGES;
	if (vma->mapping && vma->mapping->shmem)
		return ZD_MM_SHMEMPAGES;
	return ZD_MM_FILEPAGES;
}

/* ---- VMAs ------------------------------------------------------------------------------ */

struct zd_vma *zd_find_vma(struct zd_mm *mm, uint64_t addr)
{
	struct zd_vma *vma;

	for (vma = mm->vmas; vma; vma = vma->next)
		if (addr < vma->end)
			return addr >= vma->start ? vma : NULL;
	return NULL;
}

static void zd_vma_insert(struct zd_mm *mm, struct zd_vma *vma)
{
	struct zd_vma **pp = &mm->vmas;

	while (*pp && (*pp)->start < vma->start)
		pp = &(*pp)->next;
	vma->next = *pp;
	*pp = vma;
}

static void zd_vma_link_file(struct zd_vma *vma)
{
	struct zd_address_space *as = vma->mapping;

	if (!as)
		return;
	zd_mutex_lock(&as->lock);
	vma->file_next = as->i_mmap;
	as->i_mmap = vma;
	as->nr_vmas++;
	zd_mutex_unlock(&as->lock);
}

static void zd_vma_unlink_file(struct zd_vma *vma)
{
	struct zd_address_space *as = vma->mapping;
	struct zd_vma **pp;
	bool last;

	if (!as)
		return;
	zd_mutex_lock(&as->lock);
	for (pp = &as->i_mmap; *pp; pp = &(*pp)->file_next) {
		if (*pp == vma) {
			*pp = vma->file_next;
			break;
		}
	}
	last = --as->nr_vmas == 0;
	zd_mutex_unlock(&as->lock);
	if (last && as->shmem) {
		/* shared anonymous memory goes with its last mapping */
		zd_page_cache_truncate(as);
		zd_kfree(as->world, as, sizeof(*as));
	}
}

static struct zd_vma *zd_vma_dup(struct zd_mm *mm, const struct zd_vma *src)
{
	struct zd_vma *vma = zd_kzalloc(mm->world, sizeof(*vma));

	if (!vma)
		return NULL;
	*vma = *src;
	vma->mm = mm;
	vma->next = NULL;
	vma->anon_vma = NULL;
	vma->anon_next = NULL;
	vma->file_next = NULL;
	if (src->anon_vma)
		zd_anon_vma_link(src->anon_vma, vma);
	zd_vma_link_file(vma);
	return vma;
}

static void zd_vma_free(struct zd_vma *vma)
{
	zd_anon_vma_unlink(vma);
	zd_vma_unlink_file(vma);
	zd_kfree(vma->mm->world, vma, sizeof(*vma));
}

/* Split vma at addr (start < addr < end): vma keeps [start, addr), a new VMA gets the rest. */
static int zd_vma_split(struct zd_vma *vma, uint64_t addr)
{
	struct zd_vma *tail;
	int ret;

	if (vma->vm_ops && vma->vm_ops->may_split) {
		ret = vma->vm_ops->may_split(vma, addr);
		if (ret)
			return ret;
	}
	/* A huge mapping across the split point is split first (split_huge_pmd). */
	if (addr & (zd_level_size(ZD_LEVEL_PMD) - 1)) {
		ret = zd_split_huge_pmd(vma, addr);
		if (ret)
			return ret;
	}
	tail = zd_vma_dup(vma->mm, vma);
	if (!tail)
		return -ENOMEM;
	tail->start = addr;
	tail->pgoff = zd_vma_index(vma, addr);
	vma->end = addr;
	zd_vma_insert(vma->mm, tail);
	return 0;
}

/* Make VMA boundaries at start and end. */
static int zd_vma_split_range(struct zd_mm *mm, uint64_t start, uint64_t end)
{
	struct zd_vma *vma;
	int ret;

	vma = zd_find_vma(mm, start);
	if (vma && vma->start < start) {
		ret = zd_vma_split(vma, start);
		if (ret)
			return ret;
	}
	vma = zd_find_vma(mm, end - 1);
	if (vma && vma->end > end) {
		ret = zd_vma_split(vma, end);
		if (ret)
			return ret;
	}
	return 0;
}

uint64_t zd_vma_start(const struct zd_vma *vma)
{
	return vma->start;
}

uint64_t zd_vma_end(const struct zd_vma *vma)
{
	return vma->end;
}

unsigned long zd_vma_pgoff(const struct zd_vma *vma, uint64_t addr)
{
	return zd_vma_index(vma, addr);
}

void *zd_vma_private(const struct zd_vma *vma)
{
	return vma->vm_private;
}

bool zd_vma_writable(const struct zd_vma *vma)
{
	return vma->flags & ZD_VM_WRITE;
}

/* ---- mmap ---------------------------------------------------------------------------------- */

static bool zd_range_free(struct zd_mm *mm, uint64_t start, uint64_t end)
{
	struct zd_vma *vma;

	for (vma = mm->vmas; vma; vma = vma->next)
		if (vma->start < end && start < vma->end)
			return false;
	return true;
}

/* Bottom-up first fit above the mmap base, a guard page between mappings. */
static uint64_t zd_get_unmapped_area(struct zd_mm *mm, uint64_t len, uint64_t align)
{
	uint64_t addr = (mm->mmap_base + align - 1) & ~(align - 1);
	struct zd_vma *vma;

	for (vma = mm->vmas; vma; vma = vma->next) {
		if (vma->end + ZD_PAGE_SIZE <= addr)
			continue;
		if (addr + len + ZD_PAGE_SIZE <= vma->start)
			break;
		addr = (vma->end + ZD_PAGE_SIZE + align - 1) & ~(align - 1);
	}
	return addr + len <= ZD_TASK_SIZE ? addr : 0;
}

int zd_mmap(struct zd_mm *mm, const struct zd_mmap_args *args, uint64_t *out)
{
	struct zd_world *w;
	struct zd_vma *vma;
	uint64_t align, addr;
	int ret = 0;

	if (!mm || !args || !out || !args->size || (args->size & (ZD_PAGE_SIZE - 1)) ||
	    (args->prot & ~(ZD_PROT_READ | ZD_PROT_WRITE)) || args->size >= ZD_TASK_SIZE)
		return -EINVAL;
	if (args->kind > ZD_MAP_P2P || (args->kind == ZD_MAP_FILE && !args->file))
		return -EINVAL;
	if (args->kind >= ZD_MAP_DAX && !args->vm_ops)
		return -EINVAL;
	w = mm->world;
	align = args->align ? args->align : args->huge ? zd_level_size(ZD_LEVEL_PMD) : ZD_PAGE_SIZE;
	if (align & (align - 1) || align < ZD_PAGE_SIZE || (args->addr & (align - 1)))
		return -EINVAL;
	vma = zd_kzalloc(w, sizeof(*vma));
	if (!vma)
		return -ENOMEM;
	vma->mm = mm;
	vma->kind = args->kind;
	vma->flags = ZD_VM_MAYREAD | ZD_VM_MAYWRITE;
	if (args->prot & ZD_PROT_READ)
		vma->flags |= ZD_VM_READ;
	if (args->prot & ZD_PROT_WRITE)
		vma->flags |= ZD_VM_WRITE | ZD_VM_READ; /* write implies read on x86 */
	if (args->huge)
		vma->flags |= ZD_VM_HUGEPAGE;
	if (args->kind != ZD_MAP_ANON && (args->kind != ZD_MAP_FILE || args->shared))
		vma->flags |= ZD_VM_SHARED;
	if (args->kind == ZD_MAP_P2P)
		vma->flags |= ZD_VM_MIXEDMAP;
	vma->vm_ops = args->vm_ops;
	vma->vm_private = args->vm_private;

	zd_down_write(&mm->mmap_lock);
	if (args->addr) {
		addr = args->addr;
		if (addr + args->size > ZD_TASK_SIZE || !zd_range_free(mm, addr, addr + args->size))
			ret = -EEXIST;
	} else {
		addr = zd_get_unmapped_area(mm, args->size, align);
		if (!addr)
			ret = -ENOMEM;
	}
	if (ret)
		goto err_unlock;
	vma->start = addr;
	vma->end = addr + args->size;
	vma->pgoff = args->kind == ZD_MAP_ANON ? addr >> ZD_PAGE_SHIFT : 0;
	if (args->kind == ZD_MAP_SHARED) {
		vma->mapping = zd_shmem_create(w, mm->name);
		if (!vma->mapping)
			ret = -ENOMEM;
	} else if (args->kind == ZD_MAP_FILE) {
		vma->mapping = zd_file_lookup(w, args->file, true);
		if (!vma->mapping)
			ret = -ENOMEM;
	} else if (args->kind == ZD_MAP_DAX) {
		vma->mapping = args->mapping; /* the DAX file's, owned by its filesystem */
	}
	if (!ret && (zd_vma_is_anon(vma) || zd_vma_is_cow(vma))) {
		struct zd_anon_vma *av = zd_anon_vma_alloc(w);

		if (!av) {
			ret = -ENOMEM;
		} else {
			zd_mutex_lock(&w->vm->lock);
			av->all_next = w->vm->anon_vmas;
			w->vm->anon_vmas = av;
			zd_mutex_unlock(&w->vm->lock);
			zd_anon_vma_link(av, vma);
		}
	}
	if (ret) {
		if (vma->mapping && vma->mapping->shmem)
			zd_kfree(w, vma->mapping, sizeof(*vma->mapping));
		goto err_unlock;
	}
	zd_vma_link_file(vma);
	zd_vma_insert(mm, vma);
	zd_up_write(&mm->mmap_lock);
	*out = addr;
	return 0;

err_unlock:
	zd_up_write(&mm->mmap_lock);
	zd_kfree(w, vma, sizeof(*vma));
	return ret;
}

/* ---- munmap, madvise, mprotect ---------------------------------------------------------------- */

static int zd_check_range(uint64_t addr, uint64_t len)
{
	if ((addr | len) & (ZD_PAGE_SIZE - 1) || !len || addr + len > ZD_TASK_SIZE ||
	    addr + len < addr)
		return -EINVAL;
	return 0;
}

/* munmap with mmap_lock held for write. */
/* The gap munmap left around [start, end), between the VMAs that remain. */
static void zd_munmap_free_pgtables(struct zd_mm *mm, uint64_t start, uint64_t end)
{
	uint64_t floor = 0, ceiling = ZD_TASK_SIZE;
	struct zd_vma *vma;

	for (vma = mm->vmas; vma; vma = vma->next) {
		if (vma->end <= start && vma->end > floor)
			floor = vma->end;
		if (vma->start >= end && vma->start < ceiling)
			ceiling = vma->start;
	}
	zd_free_pgtables(mm, start, end, floor, ceiling);
}

static int zd_do_munmap(struct zd_mm *mm, uint64_t start, uint64_t end)
{
	struct zd_vma **pp, *vma;
	int ret;

	ret = zd_vma_split_range(mm, start, end);
	if (ret)
		return ret;
	zd_mmu_notifier_invalidate_start(mm, start, end, ZD_MMU_NOTIFY_UNMAP, NULL);
	for (pp = &mm->vmas; (vma = *pp);) {
		if (vma->start >= start && vma->end <= end) {
			zd_zap_vma_range(vma, vma->start, vma->end);
			*pp = vma->next;
			zd_vma_free(vma);
		} else {
			pp = &vma->next;
		}
	}
	zd_mmu_notifier_invalidate_end(mm, start, end);
	zd_munmap_free_pgtables(mm, start, end);
	return 0;
}

int zd_munmap(struct zd_mm *mm, uint64_t addr, uint64_t len)
{
	int ret;

	if (!mm)
		return -EINVAL;
	ret = zd_check_range(addr, len);
	if (ret)
		return ret;
	zd_down_write(&mm->mmap_lock);
	ret = zd_do_munmap(mm, addr, addr + len);
	zd_up_write(&mm->mmap_lock);
	return ret;
}

int zd_madvise_dontneed(struct zd_mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;
	struct zd_vma *vma;
	int ret;

	if (!mm)
		return -EINVAL;
	ret = zd_check_range(addr, len);
	if (ret)
		return ret;
	zd_down_read(&mm->mmap_lock);
	zd_mmu_notifier_invalidate_start(mm, addr, end, ZD_MMU_NOTIFY_CLEAR, NULL);
	for (vma = mm->vmas; vma; vma = vma->next) {
		uint64_t s = vma->start > addr ? vma->start : addr;
		uint64_t e = vma->end < end ? vma->end : end;

		if (s >= e)
			continue;
		/* A huge leaf only partly covered is split first. */
		if (s & (zd_level_size(ZD_LEVEL_PMD) - 1))
			zd_split_huge_pmd(vma, s);
		if (e & (zd_level_size(ZD_LEVEL_PMD) - 1))
			zd_split_huge_pmd(vma, e);
		zd_zap_vma_range(vma, s, e);
	}
	zd_mmu_notifier_invalidate_end(mm, addr, end);
	zd_up_read(&mm->mmap_lock);
	return 0;
}

struct zd_mprotect_walk {
	struct zd_vma *vma;
	bool writable;
};

static void zd_change_entry(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg)
{
	struct zd_mprotect_walk *m = arg;
	zd_pte_t e;

	zd_spin_lock(&slot->pt->ptl);
	e = zd_pte_read(slot->pte);
	if (zd_pte_present(e)) {
		if (!m->writable)
			e &= ~ZD_E_WRITE;
	} else if (zd_pte_swap(e)) {
		/* Any mprotect leaves device-private and migration entries read-only. */
		if (zd_swp_type(e) == ZD_SWP_DEVICE_WRITE)
			e = (e & ~ZD_E_SWP_TYPE_MASK) |
			    ((unsigned long)ZD_SWP_DEVICE_READ << ZD_E_SWP_TYPE_SHIFT);
		else if (zd_swp_type(e) == ZD_SWP_MIGRATION_WRITE)
			e = (e & ~ZD_E_SWP_TYPE_MASK) |
			    ((unsigned long)ZD_SWP_MIGRATION_READ_EXCLUSIVE << ZD_E_SWP_TYPE_SHIFT);
	}
	zd_pte_write(slot->pte, e);
	zd_spin_unlock(&slot->pt->ptl);
}

int zd_mprotect(struct zd_mm *mm, uint64_t addr, uint64_t len, unsigned int prot)
{
	uint64_t end = addr + len, a;
	struct zd_vma *vma;
	int ret;

	if (!mm || (prot & ~(ZD_PROT_READ | ZD_PROT_WRITE)))
		return -EINVAL;
	ret = zd_check_range(addr, len);
	if (ret)
		return ret;
	zd_down_write(&mm->mmap_lock);
	/* Every page of the range must be mapped. */
	for (a = addr; a < end;) {
		vma = zd_find_vma(mm, a);
		if (!vma) {
			ret = -ENOMEM;
			goto out;
		}
		if ((prot & ZD_PROT_WRITE) && !(vma->flags & ZD_VM_MAYWRITE)) {
			ret = -EACCES;
			goto out;
		}
		a = vma->end;
	}
	ret = zd_vma_split_range(mm, addr, end);
	if (ret)
		goto out;
	zd_mmu_notifier_invalidate_start(mm, addr, end, ZD_MMU_NOTIFY_PROTECTION_VMA, NULL);
	for (vma = mm->vmas; vma; vma = vma->next) {
		struct zd_mprotect_walk m = { vma, !!(prot & ZD_PROT_WRITE) };

		if (vma->start < addr || vma->end > end)
			continue;
		vma->flags &= ~(ZD_VM_READ | ZD_VM_WRITE);
		if (prot & ZD_PROT_READ)
			vma->flags |= ZD_VM_READ;
		if (prot & ZD_PROT_WRITE)
			vma->flags |= ZD_VM_WRITE | ZD_VM_READ;
		/* Entries never gain write here: the next write fault decides (reuse or COW). */
		zd_pt_for_each_leaf(mm, vma->start, vma->end, zd_change_entry, &m);
	}
	zd_mmu_notifier_invalidate_end(mm, addr, end);
out:
	zd_up_write(&mm->mmap_lock);
	return ret;
}

void zd_unmap_device_mappings(struct zd_world *w, const void *vm_private)
{
	struct zd_vm_world *vw = w->vm;
	struct zd_mm *mm;
	struct zd_vma *vma;

	if (!vw || !vm_private)
		return;
	/* Lock order: the world's mm list, then each mmap_lock (as the audit). */
	zd_mutex_lock(&vw->lock);
	for (mm = vw->mms; mm; mm = mm->next) {
		zd_down_read(&mm->mmap_lock);
		for (vma = mm->vmas; vma; vma = vma->next) {
			if (vma->vm_private != vm_private)
				continue;
			zd_mmu_notifier_invalidate_start(mm, vma->start, vma->end,
							 ZD_MMU_NOTIFY_CLEAR, NULL);
			zd_zap_vma_range(vma, vma->start, vma->end);
			zd_mmu_notifier_invalidate_end(mm, vma->start, vma->end);
		}
		zd_up_read(&mm->mmap_lock);
	}
	zd_mutex_unlock(&vw->lock);
}

void zd_unmap_mapping_pages(struct zd_address_space *as, unsigned long pgoff, unsigned long nr)
{
	struct zd_vma *vma;

	if (!as || !nr)
		return;
	zd_mutex_lock(&as->lock);
	for (vma = as->i_mmap; vma; vma = vma->file_next) {
		unsigned long vstart = vma->pgoff;
		unsigned long vend = vma->pgoff + ((vma->end - vma->start) >> ZD_PAGE_SHIFT);
		unsigned long s = pgoff > vstart ? pgoff : vstart;
		unsigned long e = pgoff + nr < vend ? pgoff + nr : vend;
		uint64_t start, end;

		if (s >= e)
			continue;
		start = vma->start + ((uint64_t)(s - vstart) << ZD_PAGE_SHIFT);
		end = vma->start + ((uint64_t)(e - vstart) << ZD_PAGE_SHIFT);
		zd_mmu_notifier_invalidate_start(vma->mm, start, end, ZD_MMU_NOTIFY_CLEAR, NULL);
		zd_zap_vma_range(vma, start, end);
		zd_mmu_notifier_invalidate_end(vma->mm, start, end);
	}
	zd_mutex_unlock(&as->lock);
}

/* ---- exit ----------------------------------------------------------------------------------------- */

void zd_mm_exit(struct zd_mm *mm)
{
	struct zd_vm_world *vw;
	struct zd_mm **pp;
	struct zd_vma *vma;

	if (!mm)
		return;
	vw = mm->world->vm;
	zd_down_write(&mm->mmap_lock);
	zd_mmu_notifier_invalidate(mm, 0, ZD_TASK_SIZE, ZD_MMU_NOTIFY_RELEASE, NULL);
	while ((vma = mm->vmas)) {
		zd_zap_vma_range(vma, vma->start, vma->end);
		mm->vmas = vma->next;
		zd_vma_free(vma);
	}
	zd_pt_free_all(mm);
	zd_up_write(&mm->mmap_lock);
	zd_mutex_lock(&vw->lock);
	for (pp = &vw->mms; *pp; pp = &(*pp)->next) {
		if (*pp == mm) {
			*pp = mm->next;
			break;
		}
	}
	zd_mutex_unlock(&vw->lock);
	zd_kfree(mm->world, mm, sizeof(*mm));
}

/* For fork.c: a new mm linked into the world, and VMA duplication. */
struct zd_mm *zd_mm_alloc_linked(struct zd_world *w, const char *name)
{
	struct zd_mm *mm = zd_mm_alloc(w, name);

	if (mm)
		zd_mm_link(mm);
	return mm;
}

struct zd_vma *zd_vma_dup_into(struct zd_mm *mm, const struct zd_vma *src)
{
	struct zd_vma *vma = zd_vma_dup(mm, src);

	if (vma)
		zd_vma_insert(mm, vma);
	return vma;
}
