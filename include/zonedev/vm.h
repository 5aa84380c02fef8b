/* SPDX-License-Identifier: MIT */
/*
 * zonedev: address spaces: mm, VMAs, 4-level page tables with every entry
 * kind, faults, fork/COW, munmap/exit/madvise, mprotect, CPU access, rmap
 * and MMU interval notifiers.
 */
#ifndef ZONEDEV_VM_H
#define ZONEDEV_VM_H

#include <stdio.h>

#include "zonedev/types.h"
#include "zonedev/page.h"

struct zd_world;
struct zd_mm;
struct zd_vma;
struct zd_device;
struct zd_address_space;

/* ---- Address spaces ------------------------------------------------------ */

/* A new, empty address space (a process). -ENOMEM. */
int zd_mm_create(struct zd_world *w, const char *name, struct zd_mm **out);
/* exit: tear the address space down (zap every VMA, free the page tables) and free it. */
void zd_mm_exit(struct zd_mm *mm);
/*
 * fork: a child with a copy-on-write copy of parent (copy_page_range). May
 * fail with -ENOMEM (allocation, or a device-exclusive entry that cannot be
 * restored without waiting); then no child exists.
 */
int zd_mm_fork(struct zd_mm *parent, const char *name, struct zd_mm **child);
const char *zd_mm_name(const struct zd_mm *mm);
struct zd_world *zd_mm_world(const struct zd_mm *mm);

/* ---- Mappings --------------------------------------------------------------- */

#define ZD_PROT_NONE 0u
#define ZD_PROT_READ 1u
#define ZD_PROT_WRITE 2u

enum zd_map_kind {
	ZD_MAP_ANON = 0,   /* private anonymous */
	ZD_MAP_SHARED,     /* shared anonymous (shmem) */
	ZD_MAP_FILE,       /* a file of the world's page-cache filesystem */
	ZD_MAP_DAX,        /* a file on an fsdax device's DAX filesystem (the DAX issue) */
	ZD_MAP_DEVDAX,     /* a device-dax device, from its start */
	ZD_MAP_P2P,        /* P2P memory of a p2pdma device (p2pmem_alloc_mmap) */
};

struct zd_vm_fault;
struct zd_vm_operations;

struct zd_mmap_args {
	enum zd_map_kind kind;
	uint64_t size;           /* bytes, > 0, a multiple of 4 KiB */
	unsigned int prot;       /* ZD_PROT_* */
	bool shared;             /* FILE: MAP_SHARED (SHARED, DAX, DEVDAX, P2P are always shared) */
	bool huge;               /* align to 2 MiB; the range may hold 2 MiB folios */
	const char *file;        /* FILE, DAX: the file name */
	uint64_t align;          /* device mappings: the start's alignment (0: 4 KiB, or 2 MiB if huge) */
	/* Device mappings (DAX, DEVDAX, P2P) are made by their driver's mmap: */
	const struct zd_vm_operations *vm_ops;
	void *vm_private;
	struct zd_address_space *mapping; /* DAX: the file's address space (its i_mmap) */
	uint64_t addr;           /* 0: the library picks; else MAP_FIXED_NOREPLACE at addr */
};

/*
 * mmap: map and return the start address. -EINVAL (size, prot, kind,
 * unaligned addr, a device kind without vm_ops), -EEXIST (addr overlaps a
 * mapping), -ENOMEM (no room or allocation). Device mappings are made with
 * zd_device_mmap() (include/zonedev/drivers.h), which calls this with the
 * driver's vm_ops, as a driver's file_operations->mmap sets vma->vm_ops.
 */
int zd_mmap(struct zd_mm *mm, const struct zd_mmap_args *args, uint64_t *addr);
/* munmap [addr, addr + len): splits mappings; unmapped holes are fine. -EINVAL if unaligned. */
int zd_munmap(struct zd_mm *mm, uint64_t addr, uint64_t len);
/* mprotect: -ENOMEM if part of the range is not mapped, -EACCES beyond the file's rights. */
int zd_mprotect(struct zd_mm *mm, uint64_t addr, uint64_t len, unsigned int prot);
/* madvise(MADV_DONTNEED): drop the pages of the range (anonymous memory reads zero again). */
int zd_madvise_dontneed(struct zd_mm *mm, uint64_t addr, uint64_t len);

/* ---- CPU access ---------------------------------------------------------------- */

/*
 * Loads and stores as a CPU does them: through the page table, faulting as
 * needed (a device-private page is migrated back first). Return 0, or
 * ZD_SIGSEGV (no mapping, or no permission), ZD_SIGBUS (a poisoned page, or
 * a fault the handler could not satisfy), or -ENOMEM (out of memory in the
 * fault: the kernel's VM_FAULT_OOM).
 */
#define ZD_SIGSEGV 1001
#define ZD_SIGBUS 1002

int zd_access_read(struct zd_mm *mm, uint64_t addr, void *buf, size_t len);
int zd_access_write(struct zd_mm *mm, uint64_t addr, const void *buf, size_t len);

/* ---- Inspection ------------------------------------------------------------------ */

enum zd_entry_kind {
	ZD_ENTRY_NONE = 0,
	ZD_ENTRY_PRESENT,   /* a present PTE (system RAM, coherent, devdax, p2p, file) */
	ZD_ENTRY_ZERO,      /* the shared zero page */
	ZD_ENTRY_PRIVATE,   /* a device-private entry */
	ZD_ENTRY_EXCLUSIVE, /* a device-exclusive entry */
	ZD_ENTRY_MIGRATION, /* a migration entry */
	ZD_ENTRY_PMD,       /* a present 2 MiB leaf */
	ZD_ENTRY_PUD,       /* a present 1 GiB leaf */
	ZD_ENTRY_HWPOISON,  /* a poisoned-page marker */
};

struct zd_entry_info {
	enum zd_entry_kind kind;
	bool writable;
	bool dirty;
	bool young;
	bool special;        /* no struct-page accounting (zero page, pfn mappings) */
	bool devmap;         /* a devmap entry: holds no reference (legacy and split) */
	bool anon_exclusive; /* the mapped page is PageAnonExclusive */
	unsigned int level;  /* 1 PTE, 2 PMD, 3 PUD */
	unsigned long pfn;   /* the page (or the subpage for huge leaves) it maps */
};

/* The entry mapping addr: 0, or -EFAULT if no VMA covers it. */
int zd_mm_entry(struct zd_mm *mm, uint64_t addr, struct zd_entry_info *info);
/* The folio mapped at addr (through a device-private entry too), or NULL. */
struct zd_folio *zd_mm_folio(struct zd_mm *mm, uint64_t addr);
/* Resident pages by counter (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES...). */
long zd_mm_rss(struct zd_mm *mm);
/* The `dump mm` listing: VMAs and every populated entry. */
void zd_dump_mm(struct zd_mm *mm, FILE *out);

/* The shared zero page (never counted). */
struct zd_folio *zd_zero_folio(struct zd_world *w);

/* ---- The driver side of device mappings -------------------------------------------
 *
 * A device mapping's faults go to its driver's vm_ops->fault (device-dax,
 * the DAX filesystem), which maps the device's folio with the insert
 * helpers below; they take what the regime says a mapping takes (a folio
 * reference and a mapcount, or nothing for a devmap entry).
 */
struct zd_vm_fault {
	struct zd_vma *vma;
	struct zd_mm *mm;
	uint64_t address;
	unsigned int flags;   /* ZD_FAULT_FLAG_* */
	struct zd_page *page; /* migrate_to_ram: the device-private page, locked, referenced */
	unsigned long orig_pte;
};

#define ZD_FAULT_FLAG_WRITE (1u << 0)

/* Fault results (vm_fault_t). */
#define ZD_VM_FAULT_OK 0
#define ZD_VM_FAULT_OOM (1 << 0)
#define ZD_VM_FAULT_SIGBUS (1 << 1)
#define ZD_VM_FAULT_SIGSEGV (1 << 2)
#define ZD_VM_FAULT_RETRY (1 << 3)
#define ZD_VM_FAULT_HWPOISON (1 << 4)
#define ZD_VM_FAULT_FALLBACK (1 << 5)

struct zd_vm_operations {
	/* Map vmf->address at the given level (1 PTE, 2 PMD, 3 PUD); ZD_VM_FAULT_FALLBACK to retry smaller. */
	int (*fault)(struct zd_vm_fault *vmf, unsigned int level);
	/* Can the mapping be split at addr? 0 or -EINVAL (device-dax: only at its alignment). */
	int (*may_split)(struct zd_vma *vma, uint64_t addr);
	/*
	 * pfn_mkwrite: a write to a present read-only entry, before it becomes
	 * writable. ZD_VM_FAULT_OK: make it writable; ZD_VM_FAULT_RETRY: the
	 * driver changed the mapping (e.g. zapped the entry), fault again; or
	 * an error. NULL: always writable in place.
	 */
	int (*mkwrite)(struct zd_vm_fault *vmf);
};

uint64_t zd_vma_start(const struct zd_vma *vma);
uint64_t zd_vma_end(const struct zd_vma *vma);
/* Page offset of addr within the mapped object. */
unsigned long zd_vma_pgoff(const struct zd_vma *vma, uint64_t addr);
void *zd_vma_private(const struct zd_vma *vma);
bool zd_vma_writable(const struct zd_vma *vma);

/*
 * vmf_insert_page_mkwrite / vmf_insert_folio_pmd / vmf_insert_folio_pud:
 * map folio at vmf->address (level 1: its page `pfn`; levels 2 and 3: the
 * whole folio) writable if write. Returns a ZD_VM_FAULT_* code (OOM when a
 * page table cannot be allocated, FALLBACK when smaller mappings are there).
 */
int zd_vmf_insert_folio(struct zd_vm_fault *vmf, struct zd_folio *folio, unsigned long pfn,
			unsigned int level, bool write);
/*
 * vm_insert_page at mmap time: map one order-0 page at addr (shared, with
 * the VMA's protection), taking a reference and a mapcount. -ENOMEM (the
 * `insert` injection site, or a page table), -EBUSY if something is mapped.
 */
int zd_vm_insert_page(struct zd_mm *mm, uint64_t addr, struct zd_folio *folio);

/*
 * unmap_mapping_range for a device: zap every page-table entry of every
 * mapping whose vm_private is `vm_private`, in every address space (the
 * VMAs stay; a later fault goes to the driver, which refuses it once the
 * device is gone). Drivers call it on unbind before memunmap_pages.
 */
void zd_unmap_device_mappings(struct zd_world *w, const void *vm_private);
/*
 * unmap_mapping_pages: zap the entries mapping file pages [pgoff, pgoff + nr)
 * of `as` in every VMA of its i_mmap (huge entries that overlap the range
 * go whole). Takes the address space's lock, not the mmap_locks, as the
 * kernel walks i_mmap under i_mmap_rwsem.
 */
void zd_unmap_mapping_pages(struct zd_address_space *as, unsigned long pgoff, unsigned long nr);

/* ---- MMU interval notifiers ------------------------------------------------------ */

enum zd_mmu_notify_event {
	ZD_MMU_NOTIFY_UNMAP = 0,
	ZD_MMU_NOTIFY_CLEAR,
	ZD_MMU_NOTIFY_PROTECTION_VMA,
	ZD_MMU_NOTIFY_PROTECTION_PAGE,
	ZD_MMU_NOTIFY_SOFT_DIRTY,
	ZD_MMU_NOTIFY_RELEASE,
	ZD_MMU_NOTIFY_MIGRATE,
	ZD_MMU_NOTIFY_EXCLUSIVE,
};

struct zd_mmu_notifier_range {
	struct zd_mm *mm;
	uint64_t start, end;
	enum zd_mmu_notify_event event;
	void *owner; /* MIGRATE / EXCLUSIVE: the device that caused it, or NULL */
};

struct zd_mmu_interval_notifier;

struct zd_mmu_interval_notifier_ops {
	/* Return false only for a non-blockable range the callback cannot handle now. */
	bool (*invalidate)(struct zd_mmu_interval_notifier *mni,
			   const struct zd_mmu_notifier_range *range, unsigned long cur_seq);
};

struct zd_mmu_interval_notifier {
	struct zd_mm *mm;
	uint64_t start, end;
	const struct zd_mmu_interval_notifier_ops *ops;
	zd_atomic_ulong_t invalidate_seq; /* odd while invalidations of the range run */
	int active;                            /* library-owned: invalidations running */
	struct zd_mmu_interval_notifier *next; /* library-owned */
};

int zd_mmu_interval_notifier_insert(struct zd_mmu_interval_notifier *mni, struct zd_mm *mm,
				    uint64_t start, uint64_t length,
				    const struct zd_mmu_interval_notifier_ops *ops);
void zd_mmu_interval_notifier_remove(struct zd_mmu_interval_notifier *mni);
unsigned long zd_mmu_interval_read_begin(struct zd_mmu_interval_notifier *mni);
bool zd_mmu_interval_read_retry(struct zd_mmu_interval_notifier *mni, unsigned long seq);
void zd_mmu_interval_set_seq(struct zd_mmu_interval_notifier *mni, unsigned long cur_seq);

#endif
