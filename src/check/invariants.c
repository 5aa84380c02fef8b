/* SPDX-License-Identifier: MIT */
/*
 * zonedev check: the invariant table: a stable kebab-case ID, the rule's
 * source and a one-line summary for every enum zd_invariant.
 */
#include <errno.h>
#include <string.h>

#include "check/check.h"

/* "pgmap §5.N" is item N of §5 in reference/kernel-pgmap-lifecycle.md. */
/* clang-format off */
static const struct zd_invariant_info zd_invariants[ZD_NR_INVARIANTS] = {
	[ZD_INV_REFCOUNT_UNDERFLOW] = {
		.id = "refcount-underflow",
		.source = "pgmap §5.1",
		.summary = "a folio refcount never goes below zero: no put on a zero count",
	},
	[ZD_INV_GET_ON_ZERO] = {
		.id = "get-on-zero",
		.source = "pgmap §5.2",
		.summary = "no get that needs a non-zero count is applied to a folio whose refcount is 0",
	},
	[ZD_INV_TAIL_REFCOUNT] = {
		.id = "tail-refcount",
		.source = "pgmap §5.3",
		.summary = "tail pages of a ZONE_DEVICE folio keep refcount 0; only the head carries the count",
	},
	[ZD_INV_MAPCOUNT_EXCEEDS_REFCOUNT] = {
		.id = "mapcount-exceeds-refcount",
		.source = "pgmap §5.4",
		.summary = "a mapped folio has refcount >= total mapcount (+ pin contribution) >= 1",
	},
	[ZD_INV_GENERIC_REFCOUNT_ZERO] = {
		.id = "generic-refcount-zero",
		.source = "pgmap §5.5",
		.summary = "a GENERIC folio keeps its base reference: its refcount never reaches 0",
	},
	[ZD_INV_FSDAX_CACHE_REF] = {
		.id = "fsdax-cache-ref",
		.source = "pgmap §5.6",
		.summary = "the FS DAX page-cache (xarray) entry holds no folio reference",
	},
	[ZD_INV_FREE_TRANSITION] = {
		.id = "free-transition",
		.source = "pgmap §5.7",
		.summary = "the free routine runs exactly once per 1->0 transition and on no other transition",
	},
	[ZD_INV_FOLIO_FREE_MISUSE] = {
		.id = "folio-free-misuse",
		.source = "pgmap §5.8",
		.summary = "folio_free only for PRIVATE/COHERENT/P2PDMA, once per allocation, with refcount 0 and mapping NULL",
	},
	[ZD_INV_FREE_PAGE_REFERENCED] = {
		.id = "free-page-referenced",
		.source = "pgmap §5.9",
		.summary = "no reference is taken on a freed device folio before the driver re-initialises it",
	},
	[ZD_INV_BAD_FOLIO_INIT] = {
		.id = "bad-folio-init",
		.source = "pgmap §5.10",
		.summary = "zone_device_folio_init only on pages with refcount 0 of a live pgmap, leaving head refcount 1, locked, 2^order pgmap refs",
	},
	[ZD_INV_MIGRATE_TO_RAM_UNHELD] = {
		.id = "migrate-to-ram-unheld",
		.source = "pgmap §5.11",
		.summary = "migrate_to_ram is entered only with the device-private page locked and a caller-held reference",
	},
	[ZD_INV_MEMORY_FAILURE_ARGS] = {
		.id = "memory-failure-args",
		.source = "pgmap §5.12",
		.summary = "the memory_failure callback gets a valid non-altmap pfn and a pgmap reference the core drops afterwards",
	},
	[ZD_INV_FSDAX_MISSED_WAKEUP] = {
		.id = "fsdax-missed-wakeup",
		.source = "pgmap §5.13",
		.summary = "every 1->0 of an FS DAX folio wakes its waiters once; no layout breaker sleeps on a folio already at 0",
	},
	[ZD_INV_PGMAP_REF_MISMATCH] = {
		.id = "pgmap-ref-mismatch",
		.source = "pgmap §5.14",
		.summary = "pgmap refs = initial + bulk + 2^order per allocated folio + P2PDMA allocations/user pages + lookups + transient",
	},
	[ZD_INV_PGMAP_GET_AFTER_KILL] = {
		.id = "pgmap-get-after-kill",
		.source = "pgmap §5.15",
		.summary = "after the pgmap reference is killed, tryget_live and get_dev_pagemap fail for all its pfns",
	},
	[ZD_INV_MEMUNMAP_ORDER] = {
		.id = "memunmap-order",
		.source = "pgmap §5.16",
		.summary = "memunmap_pages returns only after drain to 0, then unplug, lookup erase (with an RCU grace period), ref exit, in that order",
	},
	[ZD_INV_UNPLUG_BEFORE_DRAIN] = {
		.id = "unplug-before-drain",
		.source = "pgmap §5.17",
		.summary = "the memory of a pgmap is never unplugged before its reference has drained",
	},
	[ZD_INV_MEMUNMAP_BUSY_PAGE] = {
		.id = "memunmap-busy-page",
		.source = "pgmap §5.18",
		.summary = "memunmap_pages completes only when no folio of the pgmap is still allocated, mapped or otherwise busy",
	},
	[ZD_INV_USE_AFTER_UNPLUG] = {
		.id = "use-after-unplug",
		.source = "pgmap §5.19",
		.summary = "no struct page of a pgmap is touched after memunmap_pages has unplugged it",
	},
	[ZD_INV_PGMAP_OVERLAP] = {
		.id = "pgmap-overlap",
		.source = "pgmap §5.20",
		.summary = "two live pgmaps never cover the same pfn, and no pgmap overlaps System RAM",
	},
	[ZD_INV_ALTMAP_MISUSE] = {
		.id = "altmap-misuse",
		.source = "pgmap §5.21",
		.summary = "altmap only with one range, its alloc back to 0 at teardown, its prefix pfns never handed out",
	},
	[ZD_INV_VMEMMAP_SHIFT_MISALIGNED] = {
		.id = "vmemmap-shift-misaligned",
		.source = "pgmap §5.22",
		.summary = "vmemmap_shift <= MAX_FOLIO_ORDER and every range start and size is a multiple of 2^vmemmap_shift pages",
	},
	[ZD_INV_PAGE_PGMAP_MISMATCH] = {
		.id = "page-pgmap-mismatch",
		.source = "pgmap §5.31",
		.summary = "every page of a ZONE_DEVICE folio is in ZONE_DEVICE and reaches the folio's pgmap, which covers its pfn",
	},
	[ZD_INV_STALE_COMPOUND] = {
		.id = "stale-compound",
		.source = "pgmap §5.32",
		.summary = "after a folio is dissolved or re-initialised, no page keeps head bit, head link, order or nr_pages of the old geometry",
	},
	[ZD_INV_SHARED_TAIL_WRITE] = {
		.id = "shared-tail-write",
		.source = "pgmap §5.33",
		.summary = "with vmemmap deduplication, the shared tail struct page is never written",
	},
	[ZD_INV_REFCOUNT_UNEXPLAINED] = {
		.id = "refcount-unexplained",
		.source = "zonedev",
		.summary = "every reference on a folio is explained by a holder in the ledger (ledger total == refcount)",
	},
	[ZD_INV_PUT_WITHOUT_REF] = {
		.id = "put-without-ref",
		.source = "zonedev",
		.summary = "a holder drops only references it holds",
	},
	[ZD_INV_ENTRY_KIND_ILLEGAL] = {
		.id = "entry-kind-illegal",
		.source = "migrate §6 P3",
		.summary = "device-private and device-exclusive entries exist only in anonymous private VMAs",
	},
	[ZD_INV_ENTRY_WRITABLE_ILLEGAL] = {
		.id = "entry-writable-illegal",
		.source = "migrate §6 P4",
		.summary = "an entry is writable only in a writable VMA, and never while its anonymous page is shared (COW)",
	},
	[ZD_INV_RSS_MISMATCH] = {
		.id = "rss-mismatch",
		.source = "migrate §6 C5",
		.summary = "an mm's rss counters equal the pages its entries map (device-private and migration entries count as anon)",
	},
	[ZD_INV_MAPPING_UNACCOUNTED] = {
		.id = "mapping-unaccounted",
		.source = "zonedev",
		.summary = "every mapping of a folio holds exactly one reference (by its mm) and one mapcount, unless it is a devmap entry",
	},
	[ZD_INV_GUP_DEVICE_PRIVATE] = {
		.id = "gup-device-private",
		.source = "migrate §6 G1",
		.summary = "no GUP reference or pin ever lands on a device-private page",
	},
	[ZD_INV_LONGTERM_PIN_UNPINNABLE] = {
		.id = "longterm-pin-unpinnable",
		.source = "migrate §6 G2",
		.summary = "a long-term pin holds no device-coherent, FS DAX, P2PDMA or device-private page",
	},
	[ZD_INV_BO_REFCOUNT_MISMATCH] = {
		.id = "bo-refcount-mismatch",
		.source = "migrate §6 C2 / issue 4",
		.summary = "a dmirror chunk's buffer object holds exactly one reference per device page in use (taken at allocation, dropped by the free callback)",
	},
	[ZD_INV_MIRROR_WRITE_STALE] = {
		.id = "mirror-write-stale",
		.source = "migrate §6 M2",
		.summary = "a device mirror entry allows writes only while the CPU entry is writable (present writable or writable device-private)",
	},
	[ZD_INV_MIRROR_ATOMIC_STALE] = {
		.id = "mirror-atomic-stale",
		.source = "migrate §6 M3",
		.summary = "a device mirror entry is atomic (exclusive) only while the CPU entry is device-exclusive",
	},
	[ZD_INV_PIN_ACCOUNTING] = {
		.id = "pin-accounting",
		.source = "migrate §6 G3",
		.summary = "a pin is 1024 references on an order-0 folio, one reference and one pincount on a large one; the zero page is never counted",
	},
	[ZD_INV_MIGRATION_ENTRY_UNLOCKED] = {
		.id = "migration-entry-unlocked",
		.source = "migrate §6 P1, P2",
		.summary = "a migration entry exists only while its folio is locked (none is left behind after finalize)",
	},
	[ZD_INV_MIRROR_ENTRY_STALE] = {
		.id = "mirror-entry-stale",
		.source = "migrate §6 M1",
		.summary = "every device mirror entry maps the page the CPU entry at that address maps (its own device-private page included)",
	},
	[ZD_INV_HMM_REMOTE_PRIVATE] = {
		.id = "hmm-remote-private",
		.source = "migrate §6 M4",
		.summary = "hmm_range_fault never reports a device-private page of another owner",
	},
	[ZD_INV_GUP_ERROR_PINNED] = {
		.id = "gup-error-pinned",
		.source = "migrate §6 G5",
		.summary = "a long-term pin that returns an error has unpinned every page it pinned",
	},
	[ZD_INV_POISONED_PAGE_HANDED_OUT] = {
		.id = "poisoned-page-handed-out",
		.source = "pgmap §5.34 / issue 6",
		.summary = "a poisoned page is never handed out again: not free in an allocator, not mapped by a present entry",
	},
	[ZD_INV_FSDAX_ASSOCIATION] = {
		.id = "fsdax-association",
		.source = "pgmap §5.27",
		.summary = "an FS DAX folio is unowned (mapping NULL, share 0), owned by one file (mapping, index) or shared (mapping NULL, share = its associations)",
	},
	[ZD_INV_FSDAX_ENTRY_ORDER] = {
		.id = "fsdax-entry-order",
		.source = "pgmap §5.28",
		.summary = "an associated FS DAX folio has the order of its file entry (order 0 where the regime has no large FS DAX folios)",
	},
	[ZD_INV_FSDAX_BUSY_BLOCK_FREED] = {
		.id = "fsdax-busy-block-freed",
		.source = "pgmap §5.29-30",
		.summary = "layout breaking deletes entries and frees blocks only when no page of the range is busy: a free block's page is idle",
	},
};
/* clang-format on */

/* zd_invariant_info - the table entry of @inv, or NULL if out of range. */
const struct zd_invariant_info *zd_invariant_info(enum zd_invariant inv)
{
	if ((unsigned int)inv >= ZD_NR_INVARIANTS)
		return NULL;
	return &zd_invariants[inv];
}

/**
 * zd_invariant_lookup - find an invariant by its ID (exact match).
 * Return: 0 and *out set, or -ENOENT.
 */
int zd_invariant_lookup(const char *id, enum zd_invariant *out)
{
	unsigned int i;

	if (!id)
		return -ENOENT;
	for (i = 0; i < ZD_NR_INVARIANTS; i++) {
		if (!strcmp(id, zd_invariants[i].id)) {
			if (out)
				*out = (enum zd_invariant)i;
			return 0;
		}
	}
	return -ENOENT;
}
