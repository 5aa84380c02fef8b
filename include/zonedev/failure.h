/* SPDX-License-Identifier: MIT */
/*
 * zonedev: memory failure (the kernel's memory_failure): a page reported
 * as corrupted by the hardware is poisoned and taken away from everyone
 * who maps it, so a later touch gets SIGBUS and the page is never handed
 * out again. docs/failure.md says what happens per memory type.
 */
#ifndef ZONEDEV_FAILURE_H
#define ZONEDEV_FAILURE_H

#include "zonedev/types.h"

struct zd_world;

/* mf_flags, as the kernel's MF_* (only those the model acts on). */
#define ZD_MF_ACTION_REQUIRED (1 << 0) /* the error was consumed by an access */
#define ZD_MF_MEM_PRE_REMOVE (1 << 1)  /* the device is going away: revoke, do not poison */
#define ZD_MF_SW_SIMULATED (1 << 2)    /* injected (madvise / the scenario's `poison`) */

#ifndef EHWPOISON
#define EHWPOISON 133
#endif

/*
 * zd_memory_failure - handle a hardware memory error on pfn.
 *
 * System RAM: the page is marked hwpoison; a free page is taken out of the
 * allocator for good; a page in use is unmapped from every address space,
 * each entry replaced by a hwpoison entry (a later touch is SIGBUS), and it
 * is kept out of the allocator when its last reference goes.
 * ZONE_DEVICE (get_dev_pagemap holds a pgmap reference throughout): a pfn
 * in the altmap prefix is -ENXIO; the pgmap's ops->memory_failure runs
 * first and its answer is final unless it is -EOPNOTSUPP; the generic path
 * refuses device-private and device-coherent memory (-ENXIO), refuses
 * P2PDMA and FS DAX pages that belong to no DAX mapping (-EBUSY, the
 * kernel's dax_lock_folio failing), and otherwise marks the folio head
 * hwpoison and unmaps the whole folio from every address space (with
 * ZD_MF_MEM_PRE_REMOVE: unmaps without marking).
 *
 * Returns 0 (handled), -ENXIO (no struct page, no live pgmap, altmap
 * prefix, private/coherent), -EBUSY (the page cannot be handled: the zero
 * page, no DAX mapping, a race with the allocator), -EHWPOISON (a RAM page
 * already poisoned), -EINVAL (bad arguments) or the driver's error.
 */
int zd_memory_failure(struct zd_world *w, unsigned long pfn, int flags);

/* Pages the world has poisoned so far (num_poisoned_pages). */
unsigned long zd_num_poisoned_pages(struct zd_world *w);

#endif
