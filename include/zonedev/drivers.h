/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the reference drivers behind one device interface: dmirror
 * (test_hmm-like, private or coherent memory), pmem (FS DAX), devdax
 * (device-dax, GENERIC) and p2p (a PCI BAR published for P2PDMA).
 */
#ifndef ZONEDEV_DRIVERS_H
#define ZONEDEV_DRIVERS_H

#include "zonedev/types.h"
#include "zonedev/page.h"
#include "zonedev/memremap.h"

struct zd_world;
struct zd_device;

struct zd_device_config {
	const char *name;
	enum zd_memory_type type;
	uint64_t size;		  /* bytes, a multiple of the folio size */
	uint64_t chunk;		  /* dmirror: bytes per memremap'd chunk (0: one chunk) */
	unsigned int align_order; /* folio order of the geometry: 0, 9 (2 MiB) or 18 (1 GiB) */
};

/*
 * Bind a driver: register its memory (memremap_pages, per chunk for
 * dmirror). Returns 0 or -errno; on failure nothing stays registered.
 */
int zd_device_create(struct zd_world *w, const struct zd_device_config *cfg,
		     struct zd_device **out);
/*
 * Unbind: memunmap every pgmap of the device, in order. Sleeps (a tracked
 * wait) while the regime says memunmap must wait. Returns 0, -EINVAL if
 * already removed, -EINTR if cancelled.
 */
int zd_device_remove(struct zd_device *dev);
/* Free the driver's memory. Call after zd_world_destroy() or after a completed remove. */
void zd_device_destroy(struct zd_device *dev);

const char *zd_device_name(const struct zd_device *dev);
enum zd_memory_type zd_device_type(const struct zd_device *dev);
unsigned long zd_device_nr_pages(const struct zd_device *dev);
/* The pfn of the device's page `index` (DEV+Np): -ERANGE if beyond the device. */
int zd_device_page_pfn(const struct zd_device *dev, unsigned long index, unsigned long *pfn);
int zd_device_nr_pgmaps(const struct zd_device *dev);
struct zd_dev_pagemap *zd_device_pgmap(const struct zd_device *dev, int i);

#define ZD_DEVICE_MAX_ALLOC 512

/*
 * Hand pages out (the `alloc-page` statement): dmirror allocates a folio of
 * `order` from its free list (zone_device_folio_init); pmem and devdax take
 * a reference on the folio at page `at` (or the first idle one, at < 0);
 * p2p hands 2^order pages to a user mapping (or, in the legacy regime,
 * makes a kernel allocation). Fills folios[] (at most ZD_DEVICE_MAX_ALLOC)
 * and *nr. Returns 0 or -ENOMEM (nothing free), -EINVAL, -ENXIO (removed).
 */
int zd_device_alloc_pages(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			  struct zd_folio **folios, int *nr);
/* Give back what alloc_pages handed out under h. */
int zd_device_free_pages(struct zd_device *dev, struct zd_folio **folios, int nr,
			 struct zd_holder h);

/*
 * In-kernel P2P allocation from a p2pdma device's BAR (pci_alloc_p2pmem):
 * `size` bytes rounded up to whole pages, one pgmap reference for the whole
 * allocation, page refcounts untouched. Returns 0 and the first pfn, -ENOMEM
 * when the BAR has no room, -ENXIO when the pgmap is dying, -EINVAL.
 */
int zd_p2pmem_alloc(struct zd_device *dev, uint64_t size, unsigned long *pfn);
/* pci_free_p2pmem of the allocation starting at pfn: -ENOENT if there is none. */
int zd_p2pmem_free(struct zd_device *dev, unsigned long pfn);

struct zd_mm;

/*
 * The driver's mmap (file_operations->mmap): map `size` bytes of the device
 * into mm. devdax: the device from its start, faulted at the device's
 * alignment; p2p: P2P pages allocated and inserted now (p2pmem_alloc_mmap).
 * -EINVAL (type, size, prot), -ENOMEM, -ENXIO (removed), -EOPNOTSUPP (no
 * user mappings of P2P memory in the legacy regime).
 */
int zd_device_mmap(struct zd_device *dev, struct zd_mm *mm, uint64_t size, unsigned int prot,
		   uint64_t *addr);

struct zd_device_counters {
	unsigned long allocated; /* base pages handed out, ever */
	unsigned long freed;	 /* base pages returned by the free callback, ever */
	unsigned long free;	 /* base pages free now (free list, or idle) */
	unsigned long busy;	 /* base pages in use now (not idle, or allocated from the BAR) */
};

void zd_device_counters(struct zd_device *dev, struct zd_device_counters *c);

#endif
