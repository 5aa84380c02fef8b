/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the bug museum's switches: each historical ZONE_DEVICE refcount
 * bug can be re-introduced in a world (the branches are marked BUG(id)).
 */
#include <string.h>

#include "world.h"
#include "mem/mem.h"
#include "page/regime.h"

#define R(x) (1u << ZD_REGIME_##x)

static const struct zd_bug_info zd_museum[ZD_NR_BUGS] = {
    [ZD_BUG_RELEASE_PAGES_DEVMAP] =
	{"release-pages-devmap", R(LEGACY),
	 "c5d6c45e90c4 mm/swap: fix release_pages() when releasing devmap pages (v5.3)",
	 "the batched release path bypasses put_page's devmap hook: the 2->1 free event is missed",
	 true},
    [ZD_BUG_UNPLUG_BEFORE_DRAIN] =
	{"unplug-before-drain", R(LEGACY),
	 "50f44ee7248a mm/devm_memremap_pages: fix final page put race (v5.2)",
	 "memunmap tears the memmap down before the last page reference is dropped", true},
    [ZD_BUG_COMPOUND_DEVMAP_PER_PFN_PUT] =
	{"compound-devmap-per-pfn-put", R(LEGACY),
	 "c4386bd8ee3a mm/memremap: add ZONE_DEVICE support for compound pages (v5.17)",
	 "teardown puts the base reference once per pfn of a compound folio: the head underflows",
	 true},
    [ZD_BUG_FREE_PRIVATE_REFCOUNT_ONE] =
	{"free-private-refcount-one", R(SPLIT),
	 "ef233450898f mm: free device private pages have zero refcount (v6.1)",
	 "free device-private pages rest at refcount 1: a try-get on a free page succeeds", true},
    [ZD_BUG_MEMUNMAP_NO_WAIT_PRIVATE] =
	{"memunmap-no-wait-private", R(SPLIT),
	 "0dc45ca1ce18 mm/memremap.c: take a pgmap reference on page allocation (v6.1)",
	 "memunmap completes while device-private pages are still allocated or mapped", true},
    [ZD_BUG_PRIVATE_FAULT_FREE_RACE] =
	{"private-fault-free-race", R(SPLIT),
	 "16ce101db85d mm/memory.c: fix race when faulting a device private page (v6.1)",
	 "migrate_to_ram runs without a page reference; a concurrent free races it", true},
    [ZD_BUG_FSDAX_MISSED_WAKE] =
	{"fsdax-missed-wake", R(SPLIT),
	 "put_devmap_managed_page hooks on every put path (v5.18 .. v6.14)",
	 "a put path skips the FS DAX 2->1 wake-up: a truncate waiting for the page hangs", true},
    [ZD_BUG_DEVMAP_WALKER_PUT] = {"devmap-walker-put", R(LEGACY) | R(SPLIT),
				  "the rule that devmap entries carry no reference",
				  "a page-table walker drops a reference a devmap entry never took",
				  true},
    [ZD_BUG_P2P_ALLOC_INIT_FIRST_PAGE] =
	{"p2p-alloc-init-first-page", R(UNIFIED),
	 "review of the 2025 refcount series (Logan Gunthorpe)",
	 "a multi-page P2P allocation initialises the refcount of its first page only", true},
    [ZD_BUG_P2P_MMAP_ERROR_PGMAP_LEAK] =
	{"p2p-mmap-error-pgmap-leak", R(UNIFIED), "P2PDMA mmap error-path fixes (2025-2026)",
	 "a failed insert of a P2P page leaks the temporary pgmap reference: memunmap hangs",
	 true},
    [ZD_BUG_P2P_MMAP_ERROR_PAGE_REF] =
	{"p2p-mmap-error-page-ref", R(UNIFIED), "P2PDMA mmap error-path fixes (2025-2026)",
	 "the page whose insert failed keeps its reference: its next allocation warns", true},
    [ZD_BUG_FREE_PATH_REQUIRES_OPS] =
	{"free-path-requires-ops", R(UNIFIED), "relaxation after the v6.15 series",
	 "the free path insists on ops->folio_free: device-dax and virtio-fs DAX warn, FS DAX "
	 "wake-up skipped",
	 true},
    [ZD_BUG_STALE_COMPOUND_REINIT] =
	{"stale-compound-reinit", R(UNIFIED),
	 "zone_device folio re-initialisation fixes (2025-2026)",
	 "pages reused at another folio order keep head/order bits of the old folio", true},
    [ZD_BUG_MEMORY_FAILURE_METADATA] =
	{"memory-failure-metadata", R(LEGACY),
	 "34dc45be4563 mm: fix memory_failure() handling of dax-namespace metadata (v5.12)",
	 "memory_failure handles a pfn of the altmap prefix (device metadata) as a data page",
	 true},
};

const struct zd_bug_info *zd_bug_info(unsigned int index)
{
	return index < ZD_NR_BUGS ? &zd_museum[index] : NULL;
}

static int zd_bug_lookup(const char *id)
{
	int i;

	for (i = 0; i < ZD_NR_BUGS; i++)
		if (!strcmp(zd_museum[i].id, id))
			return i;
	return -ENOENT;
}

/* Policy-level bugs: the v5.18 .. v6.0 rows of the split regime. */
static void zd_bug_adjust_policy(struct zd_regime_policy *p, int bug)
{
	static const enum zd_memory_type dev[] = {ZD_MEMORY_DEVICE_PRIVATE,
						  ZD_MEMORY_DEVICE_COHERENT};
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct zd_type_policy *tp = &p->type[dev[i]];

		if (bug == ZD_BUG_FREE_PRIVATE_REFCOUNT_ONE) {
			/* BUG(free-private-refcount-one): free pages rest at 1, reset after free.
			 */
			tp->memremap_refcount = 1;
			tp->free_refcount = 1;
			tp->at_zero = ZD_ZERO_FREE_RESET;
			tp->alloc_mode = ZD_ALLOC_TAKE;
		} else if (bug == ZD_BUG_MEMUNMAP_NO_WAIT_PRIVATE) {
			/* BUG(memunmap-no-wait-private): bulk references, none per allocation. */
			tp->memremap_bulk_refs = true;
			tp->alloc_pgmap_refs = false;
			tp->free_puts_pgmap = false;
		}
	}
}

int zd_world_enable_bug(struct zd_world *w, const char *id)
{
	int bug = zd_bug_lookup(id);
	struct zd_regime_policy *p;

	if (bug < 0)
		return -ENOENT;
	if (!(zd_museum[bug].regimes & (1u << w->regime)))
		return -EINVAL;
	if (w->nr_pgmaps_ever)
		return -EBUSY;
	if (!zd_museum[bug].implemented)
		return -EOPNOTSUPP;
	if (bug == ZD_BUG_FREE_PRIVATE_REFCOUNT_ONE || bug == ZD_BUG_MEMUNMAP_NO_WAIT_PRIVATE) {
		p = w->policy_owned;
		if (!p) {
			p = zd_kzalloc(NULL, sizeof(*p));
			if (!p)
				return -ENOMEM;
			*p = *w->policy;
			w->policy_owned = p;
			w->policy = p;
		}
		zd_bug_adjust_policy(p, bug);
	}
	w->bugs |= 1ul << bug;
	return 0;
}

bool zd_world_bug_enabled(const struct zd_world *w, const char *id)
{
	int bug = zd_bug_lookup(id);

	return bug >= 0 && zd_bug_on(w, (enum zd_bug)bug);
}
