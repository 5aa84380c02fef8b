/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: the DAX filesystem's objects (files of device blocks,
 * their association entries) shared by src/dax/fs.c, the audit and tests.
 */
#ifndef ZONEDEV_SRC_DAX_INTERNAL_H
#define ZONEDEV_SRC_DAX_INTERNAL_H

#include "zonedev/dax.h"
#include "vm/vm.h"

#define ZD_DAX_NO_ENTRY (-1)
#define ZD_DAX_HOLE (-1l)

/*
 * A file. blocks[i] is the device block (page index) behind file page i,
 * or a hole. eorder[i] is the order of the association entry (the
 * kernel's xarray entry) covering page i, or ZD_DAX_NO_ENTRY; an entry of
 * order k covers 2^k file pages starting at a multiple of 2^k.
 */
struct zd_dax_file {
	struct zd_address_space as; /* i_mmap of its mappings; folio->mapping points here */
	struct zd_daxfs *fs;
	struct zd_dax_file *next;
	bool deleted; /* kept until the filesystem goes: VMAs may still name it */
	uint64_t size;
	unsigned long nr; /* pages in blocks[] and eorder[] */
	long *blocks;
	signed char *eorder;
};

/* A layout breaker asleep until `folio` is no longer busy. */
struct zd_dax_waiter {
	struct zd_folio *folio;
	struct zd_dax_file *file;
	struct zd_dax_waiter *next;
};

struct zd_daxfs {
	struct zd_world *w;
	const char *name; /* the device's */
	struct zd_dev_pagemap *pgmap;
	struct zd_memmap_range *memmap; /* the pgmap's struct pages (while it is live) */
	unsigned long first_pfn, nr_blocks;
	unsigned long hint;	 /* where the next block search starts (next fit) */
	unsigned int align_order;
	zd_mutex_t lock;	 /* the whole filesystem (i_rwsem + invalidate_lock of every file) */
	unsigned int *blkref;	 /* files whose blocks[] name each block (reflink shares) */
	bool *used;		 /* blocks the filesystem ever handed to a file */
	unsigned long nr_free;	 /* blocks with blkref 0 */
	struct zd_dax_file *files;
	zd_spinlock_t wlock;	 /* waiters */
	struct zd_dax_waiter *waiters;
	bool dead;		 /* the device is going away: faults get SIGBUS */
};

/* Lifetime (drivers/pmem.c). */
struct zd_daxfs *zd_daxfs_create(struct zd_world *w, const char *name,
				 struct zd_dev_pagemap *pgmap, unsigned int align_order);
/* Unmount before the device goes: unmap everything, wait until idle, disassociate. */
int zd_daxfs_shutdown(struct zd_daxfs *fs);
void zd_daxfs_destroy(struct zd_daxfs *fs);

/*
 * Busy during a layout break (reference §1.3): references other than the
 * mappings' beyond the idle count of the regime (rc - mapcount != 0 in the
 * unified regime; rc > 1 in split and legacy, where entries take none).
 */
bool zd_dax_folio_busy(const struct zd_folio *folio);
struct zd_folio *zd_daxfs_block_folio(struct zd_daxfs *fs, unsigned long blk);

/* The filesystem's part of the state digest (zd_world_state_hash), through pmem's op. */
void zd_daxfs_state_hash(struct zd_daxfs *fs, struct zd_state_hash *h);

/* The audit part (src/dax/audit.c), called through pmem's audit op. */
void zd_daxfs_audit(struct zd_world *w, struct zd_audit *a, struct zd_daxfs *fs);

#endif
