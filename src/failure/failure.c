/* SPDX-License-Identifier: MIT */
/*
 * zonedev: memory failure (the kernel's memory_failure and
 * memory_failure_dev_pagemap), one handler at a time. What each memory type
 * does is in docs/failure.md; reference/kernel-pgmap-lifecycle.md §1, §2.3
 * and §5 items 12, 34 and 35 are the rules followed.
 */
#include "world.h"
#include "mem/mem.h"
#include "vm/vm.h"
#include "failure/failure.h"

unsigned long zd_num_poisoned_pages(struct zd_world *w)
{
	return w ? (unsigned long)zd_atomic_long_read_relaxed(&w->nr_poisoned) : 0;
}

/* Set PG_hwpoison on page; true if it was not set before (counted once). */
static bool zd_mf_set_poison(struct zd_world *w, struct zd_page *page)
{
	if (zd_page_test_flag(page, ZD_PG_hwpoison))
		return false;
	zd_page_set_flag(page, ZD_PG_hwpoison);
	zd_atomic_long_add_return_relaxed(&w->nr_poisoned, 1);
	return true;
}

/*
 * System RAM. A free page is taken out of the allocator (take_page_off_buddy);
 * a page in use is held for the duration (get_hwpoison_page), and every
 * entry mapping it becomes a hwpoison entry. The allocator's free path
 * keeps a poisoned page out when its last reference goes, so it is never
 * handed out again. An already-poisoned page is -EHWPOISON, as the
 * kernel answers a second report of the same page.
 */
static int zd_mf_ram(struct zd_world *w, unsigned long pfn)
{
	struct zd_holder tmp = ZD_HOLDER(ZD_HOLD_TEMP, &w->mf_mutex);
	struct zd_page *page = zd_pfn_to_page(w, pfn);
	struct zd_folio *folio;
	int ret;

	if (!page)
		return -ENXIO;
	ret = zd_ram_poison_page(w, page);
	if (ret < 0)
		return ret;
	zd_atomic_long_add_return_relaxed(&w->nr_poisoned, 1);
	if (ret)
		return 0; /* it was free: nobody can get it now */
	folio = zd_page_folio(page);
	if (!zd_folio_try_get(folio, tmp))
		return -EBUSY; /* being freed: the free path keeps it out of the allocator */
	if (zd_page_folio(page) != folio) {
		zd_folio_put(folio, tmp); /* the folio changed under us: leave it, as the kernel */
		return -EBUSY;
	}
	ret = zd_unmap_poisoned(w, folio, pfn);
	zd_folio_put(folio, tmp);
	return ret < 0 ? -EBUSY : 0;
}

void zd_mf_check_callback_args(struct zd_dev_pagemap *pgmap, unsigned long pfn)
{
	struct zd_world *w = pgmap->world;

	/* Invariant 12: a valid, non-altmap pfn and a pgmap reference held by the core. */
	if (!zd_pgmap_pfn_valid(pgmap, pfn))
		zd_report(w, ZD_INV_MEMORY_FAILURE_ARGS, pfn,
			  "%s: memory_failure callback for a pfn outside its pages (altmap prefix)",
			  pgmap->name ? pgmap->name : "pgmap");
	else if (zd_pgmap_state(pgmap) != ZD_PGMAP_LIVE ||
		 zd_atomic_long_read_relaxed(&pgmap->dbg_refs[ZD_PGREF_LOOKUP]) <= 0)
		zd_report(w, ZD_INV_MEMORY_FAILURE_ARGS, pfn,
			  "%s: memory_failure callback without a pgmap reference held",
			  pgmap->name ? pgmap->name : "pgmap");
}

/*
 * The generic handler (mf_generic_kill_procs). The kernel first locks the
 * folio's DAX entry (dax_lock_folio), which fails for a folio that belongs
 * to no DAX mapping: P2PDMA pages never do, FS DAX pages only while a file
 * owns them. Device-dax folios are taken as owned by the character device
 * (docs/failure.md). Device-private and device-coherent memory is refused.
 * Otherwise the folio head is marked (MF_MEM_PRE_REMOVE: not marked) and the
 * whole folio is unmapped from every address space.
 */
static int zd_mf_generic(struct zd_world *w, unsigned long pfn, int flags,
			 struct zd_dev_pagemap *pgmap)
{
	struct zd_folio *folio = zd_pfn_folio(w, pfn);

	if (!folio)
		return -ENXIO;
	switch (pgmap->type) {
	case ZD_MEMORY_DEVICE_PRIVATE:
	case ZD_MEMORY_DEVICE_COHERENT:
		return -ENXIO; /* device-side coordination is future work in the kernel too */
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		return -EBUSY; /* no DAX mapping to lock */
	case ZD_MEMORY_DEVICE_FS_DAX:
		if (!ZD_READ_ONCE(folio->mapping) && !folio->index)
			return -EBUSY; /* not associated with a file */
		break;
	default:
		break;
	}
	if (!(flags & ZD_MF_MEM_PRE_REMOVE))
		zd_mf_set_poison(w, &folio->page);
	return zd_unmap_poisoned(w, folio, pfn) < 0 ? -EBUSY : 0;
}

static int zd_mf_dev_pagemap(struct zd_world *w, unsigned long pfn, int flags,
			     struct zd_dev_pagemap *pgmap)
{
	int ret = -ENXIO;

	/* Device metadata (the altmap prefix) cannot be recovered. */
	if (!zd_pgmap_pfn_valid(pgmap, pfn) && !zd_bug_on(w, ZD_BUG_MEMORY_FAILURE_METADATA))
		goto out; /* BUG(memory-failure-metadata) skips this check */
	zd_mf_check_callback_args(pgmap, pfn); /* invariant 12, for the op and the generic path */
	if (pgmap->ops && pgmap->ops->memory_failure) {
		ret = pgmap->ops->memory_failure(pgmap, pfn, 1, flags);
		if (ret != -EOPNOTSUPP)
			goto out; /* the driver's answer is final */
	}
	ret = zd_mf_generic(w, pfn, flags, pgmap);
out:
	zd_put_dev_pagemap(pgmap); /* the lookup's reference, always dropped */
	return ret;
}

int zd_memory_failure(struct zd_world *w, unsigned long pfn, int flags)
{
	struct zd_dev_pagemap *pgmap;
	struct zd_folio *zero;
	int ret;

	if (!w)
		return -EINVAL;
	zd_mutex_lock(&w->mf_mutex);
	zero = zd_zero_folio(w);
	if (zero && pfn == zero->pfn) {
		ret = -EBUSY; /* a reserved kernel page: ignored */
	} else if (zd_pfn_is_ram(w, pfn)) {
		ret = zd_mf_ram(w, pfn);
	} else {
		pgmap = zd_get_dev_pagemap(w, pfn);
		ret = pgmap ? zd_mf_dev_pagemap(w, pfn, flags, pgmap) : -ENXIO;
	}
	zd_mutex_unlock(&w->mf_mutex);
	zd_trace_mark(w, "memory_failure: pfn=%#lx flags=%#x result=%d", pfn, (unsigned int)flags,
		      ret);
	return ret;
}
