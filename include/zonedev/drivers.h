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

/* ---- dmirror: the test_hmm mirror device (private and coherent devices) -------------
 *
 * A dmirror device mirrors the address spaces that use it: per (device, mm)
 * a mirror (the device's page table: virtual page -> page pfn, tagged
 * read-only, WRITE or ATOMIC; it holds no page references) kept coherent by
 * an MMU interval notifier over the whole address space, created on first
 * use and ended by the address space's exit. The device reads and writes
 * the bytes of the page a mirror entry names, device memory included (the
 * model keeps device memory's bytes in the device pages themselves).
 *
 * Every command takes a page-aligned, non-empty range and returns 0 or
 * -errno: -EINVAL (not a dmirror device, a bad range, a VMA that cannot be
 * migrated or read), -ENXIO (the device was removed), -ENOENT (the read back
 * after a migration or exclusive found a page the device does not map),
 * -EFAULT / -EPERM (a device fault the CPU side refused), -EBUSY (faults
 * that never made the range usable), -ENOMEM. Results, also on failure:
 * cpages (pages read / written / migrated / made exclusive) and faults
 * (device-fault rounds). They run in the calling thread and may sleep.
 */
struct zd_dmirror_result {
	unsigned long cpages;
	unsigned long faults;
};

/* READ / WRITE: copy len bytes between buf and the range through the mirror, faulting with
 * hmm_range_fault what it lacks (WRITE needs writable entries). */
int zd_dmirror_read(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len, void *buf,
		    struct zd_dmirror_result *res);
int zd_dmirror_write(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
		     const void *buf, struct zd_dmirror_result *res);
/*
 * MIGRATE_TO_DEV: migrate_vma over the range (system pages and holes) into
 * device pages, which the mirror then maps; then checks, without faulting,
 * that the device maps every page (-ENOENT if not). cpages = pages migrated.
 * A shared mapping is refused by migrate_vma_setup (-EINVAL).
 */
int zd_dmirror_migrate_to_dev(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			      struct zd_dmirror_result *res);
/* MIGRATE_TO_SYS: migrate the device's pages of the range back to system memory. */
int zd_dmirror_migrate_to_sys(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			      struct zd_dmirror_result *res);
/* EXCLUSIVE: make_device_exclusive on every page, mirrored ATOMIC; then the read back. */
int zd_dmirror_exclusive(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			 struct zd_dmirror_result *res);
/* CHECK_EXCLUSIVE: *exclusive = every page of the range is still mirrored ATOMIC. */
int zd_dmirror_check_exclusive(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			       bool *exclusive);

/* SNAPSHOT codes, one byte per page, as test_hmm's HMM_DMIRROR_PROT_*. */
#define ZD_DMIRROR_PROT_ERROR 0xffu
#define ZD_DMIRROR_PROT_NONE 0x00u
#define ZD_DMIRROR_PROT_READ 0x01u
#define ZD_DMIRROR_PROT_WRITE 0x02u
#define ZD_DMIRROR_PROT_PMD 0x04u
#define ZD_DMIRROR_PROT_PUD 0x08u
#define ZD_DMIRROR_PROT_ZERO 0x10u
#define ZD_DMIRROR_PROT_DEV_PRIVATE_LOCAL 0x20u
#define ZD_DMIRROR_PROT_DEV_PRIVATE_REMOTE 0x30u
#define ZD_DMIRROR_PROT_DEV_COHERENT_LOCAL 0x40u
#define ZD_DMIRROR_PROT_DEV_COHERENT_REMOTE 0x50u
#define ZD_DMIRROR_PROT_TYPE_MASK 0xf0u

/*
 * SNAPSHOT: hmm_range_fault without a fault request under a temporary
 * notifier; codes[i] describes page i. Another device's private page is not
 * reported (owner mismatch, no fault): NONE, so DEV_PRIVATE_REMOTE is never
 * produced, as in the kernel.
 */
int zd_dmirror_snapshot(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			unsigned char *codes);
/* RELEASE: evict every page of the device's memory (migrate_device_range); cpages = pages moved. */
int zd_dmirror_release(struct zd_device *dev, struct zd_dmirror_result *res);
/* The next n device page allocations fail (test_hmm's FAIL_ALLOC flag, generalised). */
int zd_dmirror_fail_alloc(struct zd_device *dev, unsigned long n);

struct zd_dmirror_stats {
	unsigned long bo_refs;	      /* BO references held, all chunks */
	unsigned long bos_live;	      /* chunks whose BO has references */
	unsigned long bos_freed;      /* times a BO lost its last reference */
	unsigned long mirrors;	      /* live mirrors */
	unsigned long mirror_entries; /* their entries */
};

int zd_dmirror_stats(struct zd_device *dev, struct zd_dmirror_stats *st);

#endif
