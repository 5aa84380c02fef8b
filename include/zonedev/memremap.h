/* SPDX-License-Identifier: MIT */
/*
 * zonedev: struct dev_pagemap and its lifecycle: memremap_pages /
 * memunmap_pages, get/put_dev_pagemap, zone_device_folio_init.
 */
#ifndef ZONEDEV_MEMREMAP_H
#define ZONEDEV_MEMREMAP_H

#include "zonedev/types.h"
#include "zonedev/sync_types.h"
#include "zonedev/page.h"

struct zd_world;
struct zd_vm_fault;

/* A physical byte range, inclusive end (the kernel's struct range). */
struct zd_range {
	uint64_t start;
	uint64_t end;
};

static inline uint64_t zd_range_len(const struct zd_range *r)
{
	return r->end - r->start + 1;
}

/*
 * struct zd_vmem_altmap - a device-resident memmap reservation, as the
 * kernel's: the first reserve + free pfns of range 0 hold metadata and
 * struct pages and are never handed out as device pages.
 */
struct zd_vmem_altmap {
	unsigned long base_pfn;
	unsigned long end_pfn;
	unsigned long reserve;
	unsigned long free;
	unsigned long align;
	unsigned long alloc;
};

#define ZD_PGMAP_ALTMAP_VALID (1u << 0)

struct zd_dev_pagemap;

/*
 * struct zd_dev_pagemap_ops - the driver callbacks.
 * @folio_free:      PRIVATE, COHERENT and PCI_P2PDMA: called once per free
 *                   transition of the regime, with the refcount at its free
 *                   value and ->mapping cleared. The driver takes the memory
 *                   back. Context: whoever dropped the last reference.
 * @migrate_to_ram:  PRIVATE: a CPU fault on a device-private entry; the
 *                   page is locked and the caller holds a reference.
 * @memory_failure:  0 handled, -EOPNOTSUPP fall back to the generic path.
 * @folio_split:     a large device-private folio is split.
 */
struct zd_dev_pagemap_ops {
	void (*folio_free)(struct zd_folio *folio);
	int (*migrate_to_ram)(struct zd_vm_fault *vmf);
	int (*memory_failure)(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			      unsigned long nr_pages, int mf_flags);
	void (*folio_split)(struct zd_folio *head, struct zd_folio *tail);
};

/* Lifecycle state (ours: the kernel spreads it over the percpu_ref and the xarray). */
enum zd_pgmap_state {
	ZD_PGMAP_UNUSED = 0, /* never registered, or a failed memremap */
	ZD_PGMAP_LIVE,	     /* memremap done */
	ZD_PGMAP_DYING,	     /* memunmap began: killed, draining */
	ZD_PGMAP_DEAD,	     /* memunmap completed: memory unplugged */
};

/* Pgmap reference holders tracked for the auditor (invariant 14). */
enum zd_pgmap_ref_kind {
	ZD_PGREF_INITIAL = 0, /* the percpu_ref's initial reference, until kill */
	ZD_PGREF_BULK,	      /* memremap's per-folio references (FS_DAX, GENERIC, P2PDMA) */
	ZD_PGREF_PAGE,	      /* per-page references of the legacy regime */
	ZD_PGREF_ALLOC,	      /* allocated PRIVATE/COHERENT folios: 2^order each */
	ZD_PGREF_P2P_KERNEL,  /* P2PDMA kernel allocations: one each */
	ZD_PGREF_P2P_USER,    /* user-mapped P2PDMA pages: one each */
	ZD_PGREF_LOOKUP,      /* get_dev_pagemap callers */
	ZD_PGREF_TEMP,	      /* transient references inside one operation */
	ZD_NR_PGREF_KINDS,
};

/*
 * struct zd_dev_pagemap - the kernel's struct dev_pagemap. The caller fills
 * type, ops, owner, flags, vmemmap_shift, nr_range and ranges[] (allocated
 * with room for nr_range entries) and calls zd_memremap_pages(). The other
 * fields belong to the library.
 */
struct zd_dev_pagemap {
	struct zd_vmem_altmap altmap;
	struct zd_percpu_ref ref;
	struct zd_completion done;
	enum zd_memory_type type;
	unsigned int flags;
	unsigned long vmemmap_shift;
	const struct zd_dev_pagemap_ops *ops;
	void *owner;
	/* Library-owned. */
	struct zd_world *world;
	zd_atomic_t state;			      /* enum zd_pgmap_state */
	zd_atomic_long_t dbg_refs[ZD_NR_PGREF_KINDS]; /* pgmap references by holder kind */
	const char *name;			      /* for dumps and traces */
	void *driver;				      /* the driver's object, for its callbacks */
	struct zd_memmap_range **memmaps;	      /* one per range, while mapped */
	char wait_what[112];			      /* what memunmap waits for, while it does */
	int nr_range;
	struct zd_range ranges[];
};

/* Allocate a pgmap with room for nr_range ranges (zeroed). Free with zd_pgmap_free(). */
struct zd_dev_pagemap *zd_pgmap_alloc(int nr_range);
void zd_pgmap_free(struct zd_dev_pagemap *pgmap);

/*
 * zd_request_free_mem_region - reserve an unused physical range for a device
 * (request_free_mem_region): @size bytes aligned to @align (a power of two,
 * at least 4 KiB). Returns 0 and fills @range, or -EINVAL / -ENOSPC.
 */
int zd_request_free_mem_region(struct zd_world *w, uint64_t size, uint64_t align,
			       struct zd_range *range);
void zd_release_mem_region(struct zd_world *w, const struct zd_range *range);

/*
 * zd_memremap_pages - register the pgmap's ranges as ZONE_DEVICE memory.
 *
 * Validates (ops required per type, nr_range >= 1, vmemmap_shift <=
 * ZD_MAX_FOLIO_ORDER, ranges aligned to the folio size, no overlap with
 * System RAM or a live pgmap), initialises the percpu_ref (count 1),
 * publishes the pfn -> pgmap lookup, allocates and initialises the memmap
 * (struct pages, compound folios, vmemmap deduplication) with the regime's
 * initial refcounts, and takes the regime's bulk pgmap references.
 *
 * Returns 0, or -EINVAL (bad arguments), -EEXIST (overlaps a live pgmap),
 * -ENXIO (overlaps System RAM), -ENOMEM (allocation failure). On failure
 * nothing is left registered and nothing leaks.
 */
int zd_memremap_pages(struct zd_world *w, struct zd_dev_pagemap *pgmap);

/*
 * zd_memunmap_pages - tear a pgmap down in the kernel's order: kill the
 * reference (every later tryget_live fails), drop the regime's bulk
 * references, wait until the reference drains to zero (this sleeps for as
 * long as a holder keeps a reference: a tracked wait), unplug the memmap,
 * unpublish the pfn lookup and exit the reference.
 *
 * Returns 0, -EINVAL if the pgmap is not live, or -EINTR if the wait was
 * cancelled because the world is being destroyed (the pgmap stays dying).
 */
int zd_memunmap_pages(struct zd_dev_pagemap *pgmap);

/* get_dev_pagemap(pfn): a new pgmap reference, or NULL if none or dying. */
struct zd_dev_pagemap *zd_get_dev_pagemap(struct zd_world *w, unsigned long pfn);
/* put_dev_pagemap: NULL-tolerant. */
void zd_put_dev_pagemap(struct zd_dev_pagemap *pgmap);

/* pgmap_pfn_valid: the pfn is in one of the ranges and not in the altmap prefix. */
bool zd_pgmap_pfn_valid(const struct zd_dev_pagemap *pgmap, unsigned long pfn);
unsigned long zd_pgmap_vmemmap_nr(const struct zd_dev_pagemap *pgmap);
/* First and one-past-last device pfn of range i (after the altmap prefix). */
unsigned long zd_pgmap_pfn_first(const struct zd_dev_pagemap *pgmap, int range_id);
unsigned long zd_pgmap_pfn_end(const struct zd_dev_pagemap *pgmap, int range_id);
enum zd_pgmap_state zd_pgmap_state(const struct zd_dev_pagemap *pgmap);
long zd_pgmap_refs(struct zd_dev_pagemap *pgmap);
const char *zd_pgmap_state_name(enum zd_pgmap_state state);
const char *zd_pgmap_ref_kind_name(enum zd_pgmap_ref_kind kind);

/*
 * zd_zone_device_folio_init - a driver hands a free device folio out
 * (zone_device_page_init / zone_device_folio_init). Scrubs every page of the
 * 2^order range, takes the regime's allocation references (unified: head
 * refcount 0 -> 1 and 2^order pgmap references; legacy: get 1 -> 2), locks
 * the head and builds the compound folio. The pages must be free (refcount
 * at the regime's free value) and the pgmap live.
 *
 * Returns 0, -EINVAL (not ZONE_DEVICE, bad order or alignment, order not
 * supported by the regime), -EBUSY (a page is not free), -ENXIO (pgmap not
 * live). On failure nothing changed.
 */
int zd_zone_device_folio_init(struct zd_folio *folio, struct zd_dev_pagemap *pgmap,
			      unsigned int order, struct zd_holder h);

/*
 * The free transition of a ZONE_DEVICE folio (free_zone_device_folio). Called
 * by the put paths; exported for the page layer only.
 */
void zd_free_zone_device_folio(struct zd_folio *folio);

/* ---- What the world's regime says (for drivers; answers come from the policy table) ---- */

/* The refcount at which a free / idle page of this type rests. */
int zd_pgmap_free_refcount(struct zd_world *w, enum zd_memory_type type);
/* Whether the core calls ops->folio_free at this type's free event. */
bool zd_pgmap_free_callback(struct zd_world *w, enum zd_memory_type type);
/* Whether drivers may hand out folios of order > 0 of this type. */
bool zd_pgmap_large_folios(struct zd_world *w, enum zd_memory_type type);

/* ---- P2PDMA page references (the p2pdma core's part of user mappings) ---- */

/*
 * Hand a free P2PDMA page to a user mapping (p2pmem_alloc_mmap): unified:
 * refcount 0 -> 1; split: the resting reference is handed over; and one
 * pgmap reference per page. -EOPNOTSUPP in the legacy regime (no user
 * mappings), -ENXIO if the pgmap is dying, -EBUSY if the page is not free.
 */
int zd_p2pdma_page_get_new(struct zd_folio *folio, struct zd_holder h);
/* From the driver's folio_free: drop the page's pgmap reference. */
void zd_p2pdma_page_freed(struct zd_folio *folio);
/* A kernel allocation (pci_alloc_p2pmem): one pgmap reference for the whole of it. */
int zd_p2pdma_kernel_ref_get(struct zd_dev_pagemap *pgmap);
void zd_p2pdma_kernel_ref_put(struct zd_dev_pagemap *pgmap);
/*
 * The reference p2pmem_alloc_mmap holds for its whole run (tryget_live
 * before it touches a page, put at the end): memunmap cannot free the
 * struct pages under it. -ENXIO once the pgmap is dying.
 */
int zd_p2pdma_op_ref_get(struct zd_dev_pagemap *pgmap);
void zd_p2pdma_op_ref_put(struct zd_dev_pagemap *pgmap);

/* ---- References drivers take on pages of the DAX types ---- */

/*
 * A reference on an FS DAX or device-dax page as the DAX paths take it:
 * FS DAX in the unified regime may start from 0 (the fault path's raw
 * increment); everything else is a folio_get on a live page.
 */
int zd_dax_folio_get(struct zd_folio *folio, struct zd_holder h);

/* Struct-page bytes currently allocated for memmaps in the world. */
uint64_t zd_memmap_bytes(struct zd_world *w);

#endif
