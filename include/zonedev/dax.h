/* SPDX-License-Identifier: MIT */
/*
 * zonedev: a small DAX filesystem on a pmem (FS DAX) device: files of
 * device blocks, DAX faults that map the blocks directly (PTE, PMD, PUD)
 * and associate their folios with the file, and layout breaking before
 * truncate / hole-punch / delete (see docs/dax.md).
 */
#ifndef ZONEDEV_DAX_H
#define ZONEDEV_DAX_H

#include "zonedev/types.h"

struct zd_world;
struct zd_mm;
struct zd_device;
struct zd_daxfs;

/* The filesystem on a pmem device (made when the device binds), or NULL for other devices. */
struct zd_daxfs *zd_pmem_fs(struct zd_device *dev);

/*
 * Create file `name` of `size` bytes (rounded up to whole 4 KiB blocks);
 * blocks come in extents aligned to the device's alignment (2 MiB, 1 GiB)
 * where the free space allows. -EEXIST, -EINVAL (name), -ENOMEM (no space),
 * -ENXIO (the device was removed).
 */
int zd_dax_create(struct zd_daxfs *fs, const char *name, uint64_t size);
/*
 * Shrink (or grow: new pages are holes, filled at fault time) file `name`
 * to `size`. Layouts are broken first: the range is unmapped from every
 * process, and the call sleeps while a page of the range is busy (a
 * reference other than the mappings': a GUP pin, a DMA). -ENOENT, -EINTR
 * (cancelled while waiting).
 */
int zd_dax_truncate(struct zd_daxfs *fs, const char *name, uint64_t size);
/* Free the blocks of [off, off + len) (4 KiB aligned) after breaking layouts; the size stays. */
int zd_dax_punch(struct zd_daxfs *fs, const char *name, uint64_t off, uint64_t len);
/* dst shares src's blocks (created if missing, else its own blocks are released first). */
int zd_dax_reflink(struct zd_daxfs *fs, const char *dst, const char *src);
/* Remove the file: its layout is broken and its blocks freed; existing mappings SIGBUS. */
int zd_dax_delete(struct zd_daxfs *fs, const char *name);
/* Blocks (4 KiB) the file holds now, or -ENOENT. */
long zd_dax_file_blocks(struct zd_daxfs *fs, const char *name);
/* Free blocks of the filesystem. */
unsigned long zd_daxfs_nr_free(struct zd_daxfs *fs);
/*
 * mmap of a DAX file: a shared mapping of `size` bytes from offset 0,
 * aligned to the device's alignment so that PMD / PUD faults can map whole
 * extents. -ENOENT, -EINVAL, -ENXIO (removed), and zd_mmap's errors.
 */
int zd_dax_mmap(struct zd_daxfs *fs, const char *name, struct zd_mm *mm, uint64_t size,
		unsigned int prot, uint64_t *addr);
/*
 * The filesystem's notify_failure (pmem's memory_failure forwards here):
 * every file block in [pfn, pfn + nr) is marked poisoned and unmapped from
 * every process; later faults on it get SIGBUS. 0, or -EOPNOTSUPP when no
 * file owns any of the pages (the core then runs its generic handling).
 */
int zd_daxfs_notify_failure(struct zd_daxfs *fs, unsigned long pfn, unsigned long nr, int flags);

#endif
