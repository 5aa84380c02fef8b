/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the expectations and dumps that look into an address space:
 * `expect entry P REF`, `dump mm P`, and the folio behind a `P REF` for
 * `expect page` / `dump page` (whose key checks are expect.c's, shared with
 * the DEV+Np form). Run on the runner thread while every task sleeps or is done.
 */
#include <string.h>

#include "runner.h"

/* The scenario's word for a library entry kind. HWPOISON has no scenario kind. */
static const char *zd_vm_entry_kind_name(enum zd_entry_kind kind)
{
	switch (kind) {
	case ZD_ENTRY_NONE:
		return "none";
	case ZD_ENTRY_PRESENT:
		return "present";
	case ZD_ENTRY_ZERO:
		return "zero";
	case ZD_ENTRY_PRIVATE:
		return "private";
	case ZD_ENTRY_EXCLUSIVE:
		return "exclusive";
	case ZD_ENTRY_MIGRATION:
		return "migration";
	case ZD_ENTRY_PMD:
		return "pmd";
	case ZD_ENTRY_PUD:
		return "pud";
	case ZD_ENTRY_HWPOISON:
		return "hwpoison";
	}
	return "?";
}

/* The scenario kind of a library entry kind; -1 for one the language cannot name. */
static int zd_vm_entry_kind_scr(enum zd_entry_kind kind)
{
	switch (kind) {
	case ZD_ENTRY_NONE:
		return ZD_SCR_ENTRY_NONE;
	case ZD_ENTRY_PRESENT:
		return ZD_SCR_ENTRY_PRESENT;
	case ZD_ENTRY_ZERO:
		return ZD_SCR_ENTRY_ZERO;
	case ZD_ENTRY_PRIVATE:
		return ZD_SCR_ENTRY_PRIVATE;
	case ZD_ENTRY_EXCLUSIVE:
		return ZD_SCR_ENTRY_EXCLUSIVE;
	case ZD_ENTRY_MIGRATION:
		return ZD_SCR_ENTRY_MIGRATION;
	case ZD_ENTRY_PMD:
		return ZD_SCR_ENTRY_PMD;
	case ZD_ENTRY_PUD:
		return ZD_SCR_ENTRY_PUD;
	case ZD_ENTRY_HWPOISON:
		break;
	}
	return -1;
}

/* "P A+0x1000" (or "P A" at offset 0), for messages. */
static void zd_vm_loc_name(const char *process, const struct zd_scr_ref *ref, char *buf, size_t n)
{
	if (ref->offset)
		snprintf(buf, n, "%s %s+%#llx", process, ref->mapping,
			 (unsigned long long)ref->offset);
	else
		snprintf(buf, n, "%s %s", process, ref->mapping);
}

/* The live address space of process: 0 and *mm, or -1 with run->reason set. */
static int zd_vm_mm_of(struct zd_run *run, const char *process, struct zd_mm **mm)
{
	struct zd_rprocess *p = zd_run_process(run, process);

	if (!p)
		return zd_expect_fail(run, "%s is not a live process", process);
	if (!p->mm)
		return zd_expect_fail(run, "process %s has no address space (its creation failed)",
				      process);
	*mm = p->mm;
	return 0;
}

/*
 * The entry at addr; an address no VMA covers reads as an empty entry (kind none), as a
 * page-table walk finds nothing there.
 */
static int zd_vm_entry_at(struct zd_run *run, struct zd_mm *mm, uint64_t addr, const char *where,
			  struct zd_entry_info *info)
{
	int ret;

	memset(info, 0, sizeof(*info));
	ret = zd_mm_entry(mm, addr, info);
	if (ret == -EFAULT) {
		memset(info, 0, sizeof(*info));
		info->kind = ZD_ENTRY_NONE;
		return 0;
	}
	if (ret)
		return zd_expect_fail(run, "entry at %s: the page-table walk failed: %s", where,
				      zd_errno_name(-ret));
	return 0;
}

int zd_expect_vm_entry(struct zd_run *run, const struct zd_st_expect *x)
{
	const struct zd_scr_loc *loc = &x->loc;
	struct zd_entry_info info;
	char where[160];
	struct zd_mm *mm = NULL;
	uint64_t addr;
	size_t i;

	zd_vm_loc_name(loc->process, &loc->ref, where, sizeof(where));
	if (zd_vm_mm_of(run, loc->process, &mm))
		return -1;
	if (zd_run_ref_addr(run, loc->process, &loc->ref, NULL, NULL, &addr))
		return -1;
	if (zd_vm_entry_at(run, mm, addr, where, &info))
		return -1;
	for (i = 0; i < x->nr_expects; i++) {
		const struct zd_scr_expect *k = &x->expects[i];

		switch (k->key) {
		case ZD_SCR_KEY_KIND:
			if (zd_vm_entry_kind_scr(info.kind) != (int)k->value)
				return zd_expect_fail(
				    run, "entry at %s (%#llx): kind is %s, expected %s", where,
				    (unsigned long long)addr, zd_vm_entry_kind_name(info.kind),
				    zd_scr_entry_kind_name((enum zd_scr_entry_kind)k->value));
			break;
		case ZD_SCR_KEY_WRITABLE:
			if ((int64_t)info.writable != k->value)
				return zd_expect_fail(
				    run,
				    "entry at %s (%#llx, kind %s): writable is %d, expected %lld",
				    where, (unsigned long long)addr,
				    zd_vm_entry_kind_name(info.kind), (int)info.writable,
				    (long long)k->value);
			break;
		default:
			return zd_expect_fail(run, "'%s' is not a key of expect entry", k->name);
		}
	}
	return 0;
}

int zd_expect_vm_locate(struct zd_run *run, const struct zd_scr_loc *loc, unsigned long *pfn,
			struct zd_folio **folio)
{
	struct zd_entry_info info;
	char where[160];
	struct zd_mm *mm = NULL;
	struct zd_folio *f;
	unsigned long first;
	uint64_t addr;

	zd_vm_loc_name(loc->process, &loc->ref, where, sizeof(where));
	if (zd_vm_mm_of(run, loc->process, &mm))
		return -1;
	if (zd_run_ref_addr(run, loc->process, &loc->ref, NULL, NULL, &addr))
		return -1;
	if (zd_vm_entry_at(run, mm, addr, where, &info))
		return -1;
	f = zd_mm_folio(mm, addr);
	if (!f)
		return zd_expect_fail(run, "no page is mapped at %s (%#llx; the entry is %s)",
				      where, (unsigned long long)addr,
				      zd_vm_entry_kind_name(info.kind));
	/* The page itself: the entry's pfn (the subpage of a huge leaf) when it lies in f. */
	first = zd_folio_pfn(f);
	if (info.kind != ZD_ENTRY_NONE && info.pfn >= first &&
	    info.pfn - first < zd_folio_nr_pages(f))
		*pfn = info.pfn;
	else
		*pfn = first;
	*folio = f;
	return 0;
}

int zd_expect_vm_dump_mm(struct zd_run *run, const char *process, FILE *out)
{
	struct zd_mm *mm = NULL;

	if (zd_vm_mm_of(run, process, &mm))
		return -1;
	if (out)
		zd_dump_mm(mm, out);
	return 0;
}
