/* SPDX-License-Identifier: MIT */
/*
 * zonedev: CPU loads and stores through the page tables (faulting as a CPU
 * does), and inspection: the entry at an address, the folio behind it,
 * and `dump mm`.
 */
#include <string.h>

#include "vm/vm.h"

/* The present entry for addr allowing the access, copied to/from buf under the PTL. */
static bool zd_access_page(struct zd_mm *mm, uint64_t addr, void *buf, size_t len, bool write,
			   int *poisoned)
{
	struct zd_slot slot;
	unsigned long pfn;
	struct zd_page *page;
	zd_pte_t e;
	char *data;
	bool done = false;

	if (zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot))
		return false;
	zd_spin_lock(&slot.pt->ptl);
	e = zd_pte_read(slot.pte);
	if (!zd_pte_present(e) || (write && !(e & ZD_E_WRITE)))
		goto out;
	pfn = zd_pte_pfn(e) + ((addr & (zd_level_size(slot.level) - 1)) >> ZD_PAGE_SHIFT);
	page = zd_pfn_to_page(mm->world, pfn);
	if (page && (zd_page_test_flag(page, ZD_PG_hwpoison) ||
		     (slot.level > ZD_LEVEL_PTE &&
		      zd_page_test_flag(&zd_pfn_folio(mm->world, pfn)->page, ZD_PG_hwpoison)))) {
		*poisoned = 1;
		goto out;
	}
	data = zd_page_data(mm->world, pfn);
	if (!data)
		goto out;
	data += addr & (ZD_PAGE_SIZE - 1);
	if (write) {
		memcpy(data, buf, len);
		zd_pte_write(slot.pte, e | ZD_E_DIRTY | ZD_E_YOUNG);
	} else {
		memcpy(buf, data, len);
		if (!(e & ZD_E_YOUNG))
			zd_pte_write(slot.pte, e | ZD_E_YOUNG);
	}
	done = true;
out:
	zd_spin_unlock(&slot.pt->ptl);
	return done;
}

static int zd_access(struct zd_mm *mm, uint64_t addr, void *buf, size_t len, bool write)
{
	int ret = 0;

	if (!mm || (!buf && len))
		return -EINVAL;
	while (len && !ret) {
		size_t chunk = ZD_PAGE_SIZE - (addr & (ZD_PAGE_SIZE - 1));
		struct zd_vma *vma;
		int poisoned = 0, tries;

		if (chunk > len)
			chunk = len;
		zd_down_read(&mm->mmap_lock);
		vma = zd_find_vma(mm, addr);
		if (!vma || (write ? !(vma->flags & ZD_VM_WRITE) : !(vma->flags & ZD_VM_READ))) {
			zd_up_read(&mm->mmap_lock);
			return ZD_SIGSEGV;
		}
		for (tries = 0;; tries++) {
			int fault;

			if (zd_access_page(mm, addr, buf, chunk, write, &poisoned))
				break;
			if (poisoned) {
				ret = ZD_SIGBUS;
				break;
			}
			if (tries > 100000) {
				ret = ZD_SIGBUS; /* a fault that never makes progress */
				break;
			}
			fault = zd_handle_mm_fault(vma, addr, write ? ZD_FAULT_FLAG_WRITE : 0);
			if (fault & ZD_VM_FAULT_SIGSEGV)
				ret = ZD_SIGSEGV;
			else if (fault & (ZD_VM_FAULT_SIGBUS | ZD_VM_FAULT_HWPOISON))
				ret = ZD_SIGBUS;
			else if (fault & ZD_VM_FAULT_OOM)
				ret = -ENOMEM;
			if (ret)
				break;
		}
		zd_up_read(&mm->mmap_lock);
		addr += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	return ret;
}

int zd_access_read(struct zd_mm *mm, uint64_t addr, void *buf, size_t len)
{
	return zd_access(mm, addr, buf, len, false);
}

int zd_access_write(struct zd_mm *mm, uint64_t addr, const void *buf, size_t len)
{
	return zd_access(mm, addr, (void *)buf, len, true);
}

/* ---- Inspection ------------------------------------------------------------------------------ */

static void zd_entry_describe(struct zd_mm *mm, const struct zd_slot *slot, zd_pte_t e,
			      uint64_t addr, struct zd_entry_info *info)
{
	struct zd_page *page;

	memset(info, 0, sizeof(*info));
	info->level = slot->level;
	if (!e)
		return;
	if (zd_pte_present(e)) {
		info->pfn = zd_pte_pfn(e) + ((addr & (zd_level_size(slot->level) - 1)) >> ZD_PAGE_SHIFT);
		info->writable = e & ZD_E_WRITE;
		info->dirty = e & ZD_E_DIRTY;
		info->young = e & ZD_E_YOUNG;
		info->special = e & ZD_E_SPECIAL;
		info->devmap = e & ZD_E_DEVMAP;
		if (info->special && zd_pte_pfn(e) == mm->world->vm->zero_folio->pfn)
			info->kind = ZD_ENTRY_ZERO;
		else
			info->kind = slot->level == ZD_LEVEL_PUD ? ZD_ENTRY_PUD :
				     slot->level == ZD_LEVEL_PMD ? ZD_ENTRY_PMD : ZD_ENTRY_PRESENT;
		page = zd_pfn_to_page(mm->world, info->pfn);
		info->anon_exclusive = page && zd_page_test_flag(page, ZD_PG_anon_exclusive);
		return;
	}
	info->pfn = zd_pte_pfn(e);
	switch (zd_swp_type(e)) {
	case ZD_SWP_DEVICE_WRITE:
		info->writable = true;
		/* fallthrough */
	case ZD_SWP_DEVICE_READ:
		info->kind = ZD_ENTRY_PRIVATE;
		break;
	case ZD_SWP_DEVICE_EXCLUSIVE:
		info->kind = ZD_ENTRY_EXCLUSIVE;
		info->writable = true;
		break;
	case ZD_SWP_MIGRATION_WRITE:
		info->writable = true;
		/* fallthrough */
	case ZD_SWP_MIGRATION_READ:
	case ZD_SWP_MIGRATION_READ_EXCLUSIVE:
		info->kind = ZD_ENTRY_MIGRATION;
		break;
	case ZD_SWP_HWPOISON:
		info->kind = ZD_ENTRY_HWPOISON;
		break;
	default:
		break;
	}
}

int zd_mm_entry(struct zd_mm *mm, uint64_t addr, struct zd_entry_info *info)
{
	struct zd_slot slot;
	int ret = 0;

	if (!mm || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	zd_down_read(&mm->mmap_lock);
	if (!zd_find_vma(mm, addr))
		ret = -EFAULT;
	else if (!zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot))
		zd_entry_describe(mm, &slot, zd_pte_read(slot.pte), addr, info);
	zd_up_read(&mm->mmap_lock);
	return ret;
}

struct zd_folio *zd_mm_folio(struct zd_mm *mm, uint64_t addr)
{
	struct zd_entry_info info;

	if (zd_mm_entry(mm, addr, &info) || info.kind == ZD_ENTRY_NONE)
		return NULL;
	return zd_pfn_folio(mm->world, info.pfn);
}

static const char *zd_entry_kind_name(enum zd_entry_kind k)
{
	static const char *const names[] = { "none",	  "present",   "zero",
					     "private",	  "exclusive", "migration",
					     "pmd",	  "pud",       "hwpoison" };

	return (unsigned int)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static const char *zd_map_kind_name(enum zd_map_kind k)
{
	static const char *const names[] = { "anon", "shared", "file", "dax", "devdax", "p2p" };

	return (unsigned int)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

struct zd_dump {
	FILE *out;
};

static void zd_dump_entry(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg)
{
	struct zd_dump *d = arg;
	struct zd_entry_info info;
	struct zd_folio *folio;

	zd_entry_describe(mm, slot, zd_pte_read(slot->pte), addr, &info);
	fprintf(d->out, "  %#014llx %-3s %-9s pfn=%#lx%s%s%s%s", (unsigned long long)addr,
		slot->level == 3 ? "pud" : slot->level == 2 ? "pmd" : "pte",
		zd_entry_kind_name(info.kind), info.pfn, info.writable ? " write" : "",
		info.dirty ? " dirty" : "", info.devmap ? " devmap" : "",
		info.anon_exclusive ? " exclusive" : "");
	folio = info.kind == ZD_ENTRY_ZERO ? NULL : zd_pfn_folio(mm->world, info.pfn);
	if (folio)
		fprintf(d->out, " refcount=%d mapcount=%d", zd_folio_ref_count(folio),
			zd_folio_mapcount(folio));
	fputc('\n', d->out);
}

void zd_dump_mm(struct zd_mm *mm, FILE *out)
{
	struct zd_dump d = { out };
	struct zd_vma *vma;
	static const char *const counters[] = { "file", "anon", "swapents", "shmem" };
	int i;

	zd_down_read(&mm->mmap_lock);
	fprintf(out, "mm %s: rss", mm->name);
	for (i = 0; i < ZD_NR_MM_COUNTERS; i++)
		fprintf(out, " %s=%ld", counters[i], zd_atomic_long_read_relaxed(&mm->rss[i]));
	fputc('\n', out);
	for (vma = mm->vmas; vma; vma = vma->next) {
		fprintf(out, "vma %#014llx-%#014llx %c%c%c %s%s%s%s pgoff=%#lx\n",
			(unsigned long long)vma->start, (unsigned long long)vma->end,
			vma->flags & ZD_VM_READ ? 'r' : '-', vma->flags & ZD_VM_WRITE ? 'w' : '-',
			vma->flags & ZD_VM_SHARED ? 's' : 'p', zd_map_kind_name(vma->kind),
			vma->mapping ? " " : "", vma->mapping ? vma->mapping->name : "",
			vma->flags & ZD_VM_HUGEPAGE ? " huge" : "", vma->pgoff);
		zd_pt_for_each_leaf(mm, vma->start, vma->end, zd_dump_entry, &d);
	}
	zd_up_read(&mm->mmap_lock);
}
