/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: address spaces: page-table entries encoded one word each
 * as the kernel encodes PTEs and swap entries, page tables, mm and VMAs,
 * the page cache, rmap and the fault / zap / fork machinery.
 */
#ifndef ZONEDEV_SRC_VM_H
#define ZONEDEV_SRC_VM_H

#include <stdio.h>

#include "zonedev/vm.h"
#include "zonedev/drivers.h"
#include "pgmap/pgmap.h"

/* ---- Entries --------------------------------------------------------------
 *
 * A leaf is present (bit 0) with permission and state bits and a pfn, or a
 * non-present "swap" entry (bits 0..2 clear) whose type says what it is
 * (device-private, device-exclusive, migration, hwpoison) and whose offset
 * is the pfn, as the kernel encodes swap entries. A pointer to a lower page
 * table is tagged with 0b100 in its low bits.
 */
typedef unsigned long zd_pte_t;

#define ZD_E_PRESENT (1ul << 0)
#define ZD_E_WRITE (1ul << 1)
#define ZD_E_TABLE_TAG 4ul
#define ZD_E_TABLE_MASK 7ul
#define ZD_E_YOUNG (1ul << 5)
#define ZD_E_DIRTY (1ul << 6)
#define ZD_E_HUGE (1ul << 7)
#define ZD_E_SPECIAL (1ul << 9)
#define ZD_E_SOFT_DIRTY (1ul << 10)
#define ZD_E_DEVMAP (1ul << 11)
#define ZD_E_PFN_SHIFT 12
#define ZD_E_PFN_MASK (((1ul << 40) - 1) << ZD_E_PFN_SHIFT)
#define ZD_E_SWP_TYPE_SHIFT 56 /* above the pfn field: young/dirty/soft-dirty bits stay free */
#define ZD_E_SWP_TYPE_MASK (31ul << ZD_E_SWP_TYPE_SHIFT)

enum zd_swp_type {
	ZD_SWP_NONE = 0,
	ZD_SWP_DEVICE_READ,
	ZD_SWP_DEVICE_WRITE,
	ZD_SWP_DEVICE_EXCLUSIVE,
	ZD_SWP_MIGRATION_READ,
	ZD_SWP_MIGRATION_READ_EXCLUSIVE,
	ZD_SWP_MIGRATION_WRITE,
	ZD_SWP_HWPOISON,
};

static inline bool zd_pte_none(zd_pte_t e)
{
	return e == 0;
}
static inline bool zd_pte_present(zd_pte_t e)
{
	return e & ZD_E_PRESENT;
}
static inline bool zd_pte_table(zd_pte_t e)
{
	return (e & ZD_E_TABLE_MASK) == ZD_E_TABLE_TAG;
}
static inline bool zd_pte_swap(zd_pte_t e)
{
	return e && !(e & ZD_E_TABLE_MASK);
}
static inline unsigned long zd_pte_pfn(zd_pte_t e)
{
	return (e & ZD_E_PFN_MASK) >> ZD_E_PFN_SHIFT;
}
static inline enum zd_swp_type zd_swp_type(zd_pte_t e)
{
	return (enum zd_swp_type)((e & ZD_E_SWP_TYPE_MASK) >> ZD_E_SWP_TYPE_SHIFT);
}
static inline zd_pte_t zd_mk_pte(unsigned long pfn, unsigned long bits)
{
	return (pfn << ZD_E_PFN_SHIFT) | bits | ZD_E_PRESENT;
}
static inline zd_pte_t zd_mk_swp(enum zd_swp_type type, unsigned long pfn, unsigned long bits)
{
	return (pfn << ZD_E_PFN_SHIFT) | ((unsigned long)type << ZD_E_SWP_TYPE_SHIFT) | bits;
}
static inline bool zd_swp_device_private(zd_pte_t e)
{
	return zd_pte_swap(e) &&
	       (zd_swp_type(e) == ZD_SWP_DEVICE_READ || zd_swp_type(e) == ZD_SWP_DEVICE_WRITE);
}
static inline bool zd_swp_migration(zd_pte_t e)
{
	enum zd_swp_type t = zd_swp_type(e);

	return zd_pte_swap(e) && t >= ZD_SWP_MIGRATION_READ && t <= ZD_SWP_MIGRATION_WRITE;
}
/* An entry that maps a folio through rmap (present non-special, device-private or -exclusive). */
bool zd_pte_maps_folio(zd_pte_t e);

/* ---- Page tables ------------------------------------------------------------ */

#define ZD_PT_ENTRIES 512
#define ZD_LEVEL_PTE 1
#define ZD_LEVEL_PMD 2
#define ZD_LEVEL_PUD 3
#define ZD_LEVEL_PGD 4

static inline unsigned int zd_level_shift(unsigned int level)
{
	return ZD_PAGE_SHIFT + 9 * (level - 1);
}
static inline uint64_t zd_level_size(unsigned int level)
{
	return 1ull << zd_level_shift(level);
}
/* Base pages a leaf at `level` covers (a PMD leaf, present or not, stands for 512). */
static inline long zd_level_pages(unsigned int level)
{
	return (long)(zd_level_size(level) >> ZD_PAGE_SHIFT);
}

struct zd_pt {
	zd_pte_t e[ZD_PT_ENTRIES];
	zd_spinlock_t ptl; /* the page-table lock of this table */
	unsigned int level;
};

/* A located entry: the slot, its table (for the PTL) and its level. */
struct zd_slot {
	struct zd_pt *pt;
	zd_pte_t *pte;
	unsigned int level;
};

/*
 * Walk to the entry for addr, stopping at a leaf or a none entry at `level`
 * or above. With alloc, missing tables down to `level` are created (-ENOMEM
 * on failure, the `pgtable` injection site). Returns 0 with *slot filled,
 * -ENOENT when a table is missing (no alloc). Caller holds mmap_lock.
 */
int zd_pt_walk(struct zd_mm *mm, uint64_t addr, unsigned int level, bool alloc,
	       struct zd_slot *slot);
/* A new, empty table of `level` (the `pgtable` injection site); NULL on failure. */
struct zd_pt *zd_pt_alloc(struct zd_world *w, unsigned int level);
zd_pte_t zd_pte_read(const zd_pte_t *pte);
void zd_pte_write(zd_pte_t *pte, zd_pte_t e);
/* The state digest of mm's page tables (zd_world_state_hash). */
void zd_pt_state_hash(struct zd_mm *mm, struct zd_state_hash *h);
/* Free every page table of mm (at exit). */
void zd_pt_free_all(struct zd_mm *mm);
/*
 * free_pgtables after munmap: free the (empty) tables serving [start, end)
 * whose whole span lies in [floor, ceiling), the gap between the remaining
 * neighbouring VMAs, so a later mapping there can use huge leaves again.
 * Waits an RCU grace period for lockless walkers. mmap_lock held for write.
 */
void zd_free_pgtables(struct zd_mm *mm, uint64_t start, uint64_t end, uint64_t floor,
		      uint64_t ceiling);
/* Visit every leaf (present or not) in [start, end) with fn; tables stay. */
void zd_pt_for_each_leaf(struct zd_mm *mm, uint64_t start, uint64_t end,
			 void (*fn)(struct zd_mm *mm, uint64_t addr, struct zd_slot *slot, void *arg),
			 void *arg);

/* ---- Page cache (address spaces of files and shared anonymous memory) ------- */

struct zd_page_cache_entry {
	unsigned long index;
	struct zd_folio *folio;
};

struct zd_address_space {
	struct zd_world *world;
	char name[64];
	bool shmem;                      /* shared anonymous: gone with its last mapping */
	zd_mutex_t lock;                 /* i_pages and i_mmap */
	struct zd_page_cache_entry *pages;
	size_t nr_pages, cap_pages;
	struct zd_vma *i_mmap;           /* VMAs mapping it */
	int nr_vmas;
	struct zd_address_space *next;   /* the world's files */
};

/* Find or create the page at index (the cache holds one reference on it). */
int zd_page_cache_get(struct zd_address_space *as, unsigned long index, struct zd_folio **out);
struct zd_address_space *zd_file_lookup(struct zd_world *w, const char *name, bool create);
struct zd_address_space *zd_shmem_create(struct zd_world *w, const char *name);
/* Drop every cached page (shmem: when its last mapping goes). */
void zd_page_cache_truncate(struct zd_address_space *as);

/* ---- mm and VMAs ---------------------------------------------------------------- */

#define ZD_VM_READ (1ul << 0)
#define ZD_VM_WRITE (1ul << 1)
#define ZD_VM_SHARED (1ul << 3)
#define ZD_VM_MAYREAD (1ul << 4)
#define ZD_VM_MAYWRITE (1ul << 5)
#define ZD_VM_MIXEDMAP (1ul << 28)
#define ZD_VM_HUGEPAGE (1ul << 29)

enum zd_mm_counter {
	ZD_MM_FILEPAGES = 0,
	ZD_MM_ANONPAGES,
	ZD_MM_SWAPENTS,
	ZD_MM_SHMEMPAGES,
	ZD_NR_MM_COUNTERS,
};

struct zd_anon_vma {
	struct zd_anon_vma *all_next; /* the world's anon_vmas, freed at its end */
	zd_mutex_t lock;
	struct zd_vma *vmas; /* every VMA that may map its pages (across forks) */
	int refs;            /* VMAs pointing at it */
};

struct zd_vma {
	struct zd_vma *next; /* the mm's list, sorted by start */
	struct zd_mm *mm;
	uint64_t start, end;
	unsigned long flags;
	enum zd_map_kind kind;
	unsigned long pgoff; /* page index of start in its object (anon: start >> PAGE_SHIFT) */
	struct zd_anon_vma *anon_vma;
	struct zd_vma *anon_next;
	struct zd_address_space *mapping;
	struct zd_vma *file_next;
	const struct zd_vm_operations *vm_ops;
	void *vm_private;
};

struct zd_mm {
	struct zd_world *world;
	char name[48];
	zd_rwsem_t mmap_lock;
	zd_spinlock_t page_table_lock; /* installing page tables */
	struct zd_pt *pgd;
	struct zd_vma *vmas;
	uint64_t mmap_base;
	zd_atomic_long_t rss[ZD_NR_MM_COUNTERS];
	zd_atomic_t write_protect_seq; /* odd while fork write-protects (GUP-fast checks it) */
	zd_spinlock_t notifier_lock;
	struct zd_mmu_interval_notifier *notifiers;
	zd_atomic_t notifier_walkers; /* invalidations walking the list (remove waits) */
	struct zd_mm *next; /* the world's mms */
};

struct zd_vm_world {
	zd_mutex_t lock; /* mms and files */
	struct zd_mm *mms;
	struct zd_address_space *files;
	struct zd_anon_vma *anon_vmas;
	struct zd_memmap_range *zero_range;
	struct zd_folio *zero_folio;
};

int zd_vm_init(struct zd_world *w);
/* Exit every remaining mm and free the page cache. */
void zd_vm_exit(struct zd_world *w);

struct zd_vma *zd_find_vma(struct zd_mm *mm, uint64_t addr);
void zd_mm_add_rss(struct zd_mm *mm, enum zd_mm_counter c, long delta);
enum zd_mm_counter zd_mm_counter_of(const struct zd_vma *vma, const struct zd_folio *folio);
/* Page index of addr within the VMA's object. */
static inline unsigned long zd_vma_index(const struct zd_vma *vma, uint64_t addr)
{
	return vma->pgoff + ((addr - vma->start) >> ZD_PAGE_SHIFT);
}
static inline bool zd_vma_is_anon(const struct zd_vma *vma)
{
	return vma->kind == ZD_MAP_ANON;
}
static inline bool zd_vma_is_cow(const struct zd_vma *vma)
{
	return !(vma->flags & ZD_VM_SHARED) && (vma->flags & ZD_VM_MAYWRITE);
}

/* ---- rmap: mapping accounting ---------------------------------------------------
 *
 * Mapping a folio takes the regime's mapping reference (held by the mm) and
 * mapcount; in the regimes where FS DAX / device-dax entries are devmap
 * entries they take neither and the entry is marked devmap.
 */
bool zd_mapping_takes_ref(const struct zd_folio *folio);
void zd_rmap_add(struct zd_mm *mm, struct zd_folio *folio, unsigned int level, bool take_ref);
void zd_rmap_remove(struct zd_mm *mm, struct zd_folio *folio, unsigned int level);
/* A new anonymous folio: mapping = anon_vma, index, PG_anon_exclusive on each page. */
void zd_folio_add_new_anon(struct zd_vma *vma, struct zd_folio *folio, uint64_t addr);
/* Could the folio be DMA-pinned (folio_maybe_dma_pinned)? */
bool zd_folio_maybe_dma_pinned(const struct zd_folio *folio);
struct zd_anon_vma *zd_anon_vma_alloc(struct zd_world *w);
void zd_anon_vma_link(struct zd_anon_vma *av, struct zd_vma *vma);
void zd_anon_vma_unlink(struct zd_vma *vma);
/*
 * rmap walk: call fn for every (vma, address) that may map folio (anon:
 * the anon_vma's VMAs; file: the mapping's i_mmap). fn returns false to stop.
 * addr is where the folio's first page is (or would be) in vma: for a large
 * folio only partly inside vma (a VMA split through a THP) it may lie below
 * vma->start; fn looks at the pages inside [vma->start, vma->end) only.
 */
void zd_rmap_walk(struct zd_world *w, struct zd_folio *folio,
		  bool (*fn)(struct zd_vma *vma, uint64_t addr, void *arg), void *arg);

/* ---- Faults, zap, fork --------------------------------------------------------------- */

/* Unshare: make a shared anonymous page exclusive without making it writable (read pins). */
#define ZD_FAULT_FLAG_UNSHARE (1u << 1)

/* handle_mm_fault with mmap_lock held for read. */
int zd_handle_mm_fault(struct zd_vma *vma, uint64_t addr, unsigned int flags);
/*
 * Restore a device-exclusive entry e at slot to a present entry. trylock
 * (fork): -EBUSY if the folio lock is contended. 0 otherwise (also when the
 * entry changed meanwhile: the caller retries).
 */
int zd_restore_exclusive_pte(struct zd_vma *vma, uint64_t addr, struct zd_slot *slot,
			     zd_pte_t e, bool trylock);
/* Zap [start, end) of vma: clear entries, drop mapping references (batched). */
void zd_zap_vma_range(struct zd_vma *vma, uint64_t start, uint64_t end);
/*
 * Split the PMD leaf covering addr into 512 PTEs: a present huge mapping of
 * an anonymous folio, a device-private PMD entry (512 device-private PTEs)
 * or a PMD migration entry (512 PTE migration entries); the folio stays
 * large. Other huge leaves are zapped. Caller holds mmap_lock.
 */
int zd_split_huge_pmd(struct zd_vma *vma, uint64_t addr);

/*
 * Memory failure (src/vm/poison.c): take a poisoned folio away from every
 * address space. RAM: each PTE mapping bad_pfn becomes a hwpoison entry
 * (huge anonymous leaves are split first); ZONE_DEVICE: every leaf mapping
 * any page of the folio is zapped whole. Returns the entries removed, or
 * -ENOMEM if the search ran out of memory (some entries may remain).
 */
int zd_unmap_poisoned(struct zd_world *w, struct zd_folio *folio, unsigned long bad_pfn);

/*
 * Large folios (src/migrate/migrate.c). zd_folio_split_unmapped splits an
 * unmapped large folio into base pages: the references stay on the first,
 * each other page gets one held by tail_holder. zd_split_mapped_folio
 * unmaps, splits and maps again a PTE-mapped one: the caller holds it
 * locked with `refs` references (all of its own); -EBUSY if it could not.
 */
void zd_folio_split_unmapped(struct zd_folio *folio, struct zd_holder tail_holder);
int zd_split_mapped_folio(struct zd_folio *folio, int refs);

/* ---- MMU notifiers -------------------------------------------------------------------- */

void zd_mmu_notifier_invalidate_start(struct zd_mm *mm, uint64_t start, uint64_t end,
				      enum zd_mmu_notify_event event, void *owner);
void zd_mmu_notifier_invalidate_end(struct zd_mm *mm, uint64_t start, uint64_t end);
/* _start and _end at once: only where no entry changes after the callbacks */
void zd_mmu_notifier_invalidate(struct zd_mm *mm, uint64_t start, uint64_t end,
				enum zd_mmu_notify_event event, void *owner);

/* Audit of address spaces (registered at zd_vm_init). */
void zd_vm_audit(struct zd_world *w, struct zd_audit *a, void *arg);

#endif
