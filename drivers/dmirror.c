/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: dmirror, modelled on the kernel's test_hmm driver:
 * device-private or device-coherent memory registered in chunks, a free
 * list of pages (and of 2 MiB folios with align=2M), and, as amdgpu does,
 * a buffer object per chunk that every handed-out page references; per
 * process a mirror (the device's page table) kept by an MMU interval
 * notifier, and the commands of test_hmm: read and write through the
 * mirror, migrate to the device and back, exclusive access, snapshot,
 * release.
 *
 * Device memory's bytes: the model keeps every page's contents with the
 * page itself (zd_page_address), device-private pages included, so unlike
 * test_hmm there is no system "backing page" behind a device-private page:
 * the mirror stores the device pfn and the device reads and writes it.
 *
 * Locks, outermost first: the mm's mmap_lock, dm->mirrors_lock (the list of
 * mirrors), a mirror's lock, dev->lock (free lists). The mirror lock is
 * never held across a call into the core (migrate_*, hmm_range_fault,
 * make_device_exclusive): those invalidate, and the invalidation callback
 * takes the mirror lock.
 */
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "zonedev/migrate.h"
#include "vm/vm.h"
#include "check/check.h"

/* Mirror entry tags, as test_hmm's xarray tags. */
#define ZD_DPT_READ 0u
#define ZD_DPT_ATOMIC 1u
#define ZD_DPT_WRITE 3u

/* Pages per migrate_vma window (the THP series' 512) and per device fault (test_hmm's 64). */
#define ZD_DMIRROR_MIGRATE_WINDOW 512ul
#define ZD_DMIRROR_FAULT_WINDOW 64ul
/* Fault rounds (and -EBUSY retries) before a command gives up with -EBUSY (test_hmm's timeout). */
#define ZD_DMIRROR_MAX_ROUNDS 64
/* Attempts of the "no-fail" system-page allocation of eviction. */
#define ZD_DMIRROR_EVICT_ALLOC_TRIES 64

struct zd_dmirror_chunk {
	struct zd_dev_pagemap *pgmap;
	zd_atomic_long_t bo_refs; /* one per device page handed out from this chunk */
};

struct zd_dmirror_entry {
	uint64_t vpn;
	unsigned long pfn;
	unsigned int tag;
};

/*
 * struct zd_dmirror_mirror - the device's page table for one process: an
 * array of entries sorted by virtual page number. It holds no page
 * references: the interval notifier erases entries before the CPU side
 * changes (except for the device's own MIGRATE events, whose migrations
 * update the mirror themselves).
 */
struct zd_dmirror_mirror {
	struct zd_mmu_interval_notifier notifier;
	struct zd_dmirror *dm;
	struct zd_mm *mm; /* NULL once the address space exited */
	zd_mutex_t lock;
	struct zd_dmirror_entry *pt;
	size_t nr, cap;
	struct zd_dmirror_mirror *next;
};

struct zd_dmirror {
	struct zd_device *dev;
	struct zd_dmirror_chunk *chunks;
	int nr_chunks;
	struct zd_folio *free_pages; /* order 0, linked through zone_device_data */
	struct zd_folio *free_huge;  /* order 9 */
	unsigned long nr_free;	     /* base pages on both lists */
	unsigned long fail_alloc;    /* the next allocations that fail (under dev->lock) */
	zd_atomic_long_t bos_freed;  /* BOs whose last page was freed */
	zd_mutex_t mirrors_lock;
	struct zd_dmirror_mirror *mirrors;
};

static bool zd_is_dmirror(const struct zd_device *dev)
{
	return dev && dev->ops == &zd_dmirror_ops && dev->priv;
}

static struct zd_dmirror_chunk *zd_dmirror_chunk_of(struct zd_dmirror *dm, struct zd_folio *folio)
{
	int i;

	for (i = 0; i < dm->nr_chunks; i++)
		if (dm->chunks[i].pgmap == folio->pgmap)
			return &dm->chunks[i];
	return NULL;
}

static void zd_dmirror_push(struct zd_dmirror *dm, struct zd_folio *folio, unsigned int order)
{
	struct zd_folio **list = order ? &dm->free_huge : &dm->free_pages;

	folio->zone_device_data = *list;
	*list = folio;
	dm->nr_free += 1ul << order;
}

/* ---- Buffer objects ------------------------------------------------------------ */

static void zd_dmirror_bo_get(struct zd_dmirror *dm, struct zd_dmirror_chunk *chunk,
			      struct zd_folio *folio, long nr)
{
	struct zd_world *w = dm->dev->world;
	long refs = zd_atomic_long_add_return_acq_rel(&chunk->bo_refs, nr);

	if (zd_tracing(w))
		zd_trace_event(w, folio->pfn, dm->dev->name, refs == nr ? "bo_alloc" : "bo_get",
			       "chunk=%d refs=%ld", (int)(chunk - dm->chunks), refs);
}

static void zd_dmirror_bo_put(struct zd_dmirror *dm, struct zd_dmirror_chunk *chunk,
			      struct zd_folio *folio, long nr)
{
	struct zd_world *w = dm->dev->world;
	long refs = zd_atomic_long_add_return_acq_rel(&chunk->bo_refs, -nr);

	if (zd_tracing(w))
		zd_trace_event(w, folio->pfn, dm->dev->name, "bo_put", "chunk=%d refs=%ld",
			       (int)(chunk - dm->chunks), refs);
	if (refs == 0) {
		zd_atomic_long_add_return_relaxed(&dm->bos_freed, 1);
		if (zd_tracing(w))
			zd_trace_event(w, folio->pfn, dm->dev->name, "bo_free", "chunk=%d",
				       (int)(chunk - dm->chunks));
	}
}

/*
 * The pgmap's folio_free: the page drops its BO reference and goes back on
 * the free list. Everything about the folio is read before the push: once
 * on the list another thread may allocate it.
 */
static void zd_dmirror_folio_free(struct zd_folio *folio)
{
	struct zd_device *dev = zd_pgmap_device(folio->pgmap);
	struct zd_dmirror *dm = dev->priv;
	struct zd_dmirror_chunk *chunk = zd_dmirror_chunk_of(dm, folio);
	unsigned int order = zd_folio_order(folio);
	unsigned long nr = 1ul << order;

	zd_atomic_long_add_return_relaxed(&dev->freed, (long)nr);
	if (chunk)
		zd_dmirror_bo_put(dm, chunk, folio, (long)nr);
	zd_spin_lock(&dev->lock);
	zd_dmirror_push(dm, folio, order);
	zd_spin_unlock(&dev->lock);
}

/* ---- The allocator ----------------------------------------------------------------- */

/* Take a folio of `order` off the free lists; split a 2 MiB block for order 0 if needed. */
static struct zd_folio *zd_dmirror_take(struct zd_device *dev, struct zd_dmirror *dm,
					unsigned int order)
{
	struct zd_folio *folio, *huge;
	unsigned long i;

	if (order) {
		folio = dm->free_huge;
		if (folio) {
			dm->free_huge = folio->zone_device_data;
			dm->nr_free -= 1ul << order;
		}
		return folio;
	}
	if (!dm->free_pages && dm->free_huge) {
		huge = dm->free_huge;
		dm->free_huge = huge->zone_device_data;
		dm->nr_free -= 1ul << ZD_PMD_ORDER;
		/*
		 * Split a free 2 MiB block into base pages. A block that was a
		 * folio keeps its compound bits until zone_device_folio_init
		 * scrubs each page as it is handed out.
		 */
		for (i = (1ul << ZD_PMD_ORDER); i-- > 0;)
			zd_dmirror_push(
			    dm, (struct zd_folio *)zd_pfn_to_page(dev->world, huge->pfn + i), 0);
	}
	folio = dm->free_pages;
	if (folio) {
		dm->free_pages = folio->zone_device_data;
		dm->nr_free--;
	}
	return folio;
}

/*
 * Hand one folio out (dmirror_devmem_alloc_page): off the free list,
 * zone_device_folio_init (locked, one reference held by h), one BO
 * reference per page. -ENOMEM when nothing is free or a `fail-alloc` is
 * armed; the error of zone_device_folio_init otherwise.
 */
static int zd_dmirror_alloc_folio(struct zd_device *dev, unsigned int order, struct zd_holder h,
				  struct zd_folio **out)
{
	struct zd_dmirror *dm = dev->priv;
	struct zd_dmirror_chunk *chunk;
	struct zd_folio *folio = NULL;
	int ret;

	zd_spin_lock(&dev->lock);
	if (dm->fail_alloc)
		dm->fail_alloc--;
	else
		folio = zd_dmirror_take(dev, dm, order);
	zd_spin_unlock(&dev->lock);
	if (!folio)
		return -ENOMEM;
	folio->zone_device_data = NULL;
	/*
	 * The pgmap through the page: a page of a split free 2 MiB block (or a
	 * stale tail, bug stale-compound-reinit) still names its old head.
	 */
	ret = zd_zone_device_folio_init(folio, zd_page_pgmap(&folio->page), order, h);
	if (ret) {
		zd_spin_lock(&dev->lock);
		zd_dmirror_push(dm, folio, order);
		zd_spin_unlock(&dev->lock);
		return ret;
	}
	chunk = zd_dmirror_chunk_of(dm, folio);
	if (chunk)
		zd_dmirror_bo_get(dm, chunk, folio, 1l << order);
	*out = folio;
	return 0;
}

static int zd_dmirror_alloc(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			    struct zd_folio **folios, int *nr)
{
	int ret;

	if (at >= 0 || (order != 0 && order != ZD_PMD_ORDER))
		return -EINVAL;
	if (order && dev->cfg.align_order != ZD_PMD_ORDER)
		return -EINVAL;
	ret = zd_dmirror_alloc_folio(dev, order, h, &folios[0]);
	if (ret)
		return ret;
	*nr = 1;
	return 0;
}

static int zd_dmirror_free(struct zd_device *dev, struct zd_folio **folios, int nr,
			   struct zd_holder h)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (zd_folio_test_locked(folios[i]))
			zd_folio_unlock(folios[i]);
		zd_folio_put(folios[i], h);
	}
	return 0;
}

static unsigned long zd_dmirror_nr_free(struct zd_device *dev)
{
	struct zd_dmirror *dm = dev->priv;
	unsigned long n;

	zd_spin_lock(&dev->lock);
	n = dm->nr_free;
	zd_spin_unlock(&dev->lock);
	return n;
}

/* ---- The mirror: a sorted array of (vpn, pfn, tag) ----------------------------------- */

/* Index of the first entry with vpn >= `vpn`. Caller holds m->lock. */
static size_t zd_mirror_lower(const struct zd_dmirror_mirror *m, uint64_t vpn)
{
	size_t lo = 0, hi = m->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->pt[mid].vpn < vpn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct zd_dmirror_entry *zd_mirror_lookup(struct zd_dmirror_mirror *m, uint64_t vpn)
{
	size_t i = zd_mirror_lower(m, vpn);

	return i < m->nr && m->pt[i].vpn == vpn ? &m->pt[i] : NULL;
}

/* Store (replace) the entry of vpn. 0 or -ENOMEM. Caller holds m->lock. */
static int zd_mirror_store(struct zd_dmirror_mirror *m, uint64_t vpn, unsigned long pfn,
			   unsigned int tag)
{
	size_t i = zd_mirror_lower(m, vpn);

	if (i < m->nr && m->pt[i].vpn == vpn) {
		m->pt[i].pfn = pfn;
		m->pt[i].tag = tag;
		return 0;
	}
	if (m->nr == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct zd_dmirror_entry *pt = realloc(m->pt, cap * sizeof(*pt));

		if (!pt)
			return -ENOMEM;
		m->pt = pt;
		m->cap = cap;
	}
	memmove(&m->pt[i + 1], &m->pt[i], (m->nr - i) * sizeof(*m->pt));
	m->pt[i] = (struct zd_dmirror_entry){vpn, pfn, tag};
	m->nr++;
	return 0;
}

/* Erase the entries of [start, end) (virtual page numbers). Caller holds m->lock. */
static void zd_mirror_erase_range(struct zd_dmirror_mirror *m, uint64_t start, uint64_t end)
{
	size_t lo = zd_mirror_lower(m, start), hi = zd_mirror_lower(m, end);

	if (hi <= lo)
		return;
	memmove(&m->pt[lo], &m->pt[hi], (m->nr - hi) * sizeof(*m->pt));
	m->nr -= hi - lo;
}

static int zd_cmp_ulong(const void *x, const void *y)
{
	unsigned long a = *(const unsigned long *)x, b = *(const unsigned long *)y;

	return a < b ? -1 : a > b;
}

/* Whether pfn is in pfns[0..n) (sorted, n > 0). */
static bool zd_pfns_contain(const unsigned long *pfns, size_t n, unsigned long pfn)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pfns[mid] < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && pfns[lo] == pfn;
}

/*
 * Erase every entry whose pfn is in pfns[0..n) (sorted, n > 0). Caller holds
 * m->lock. Entries outside [pfns[0], pfns[n - 1]] are kept without a search
 * (one compare each), and the entries before the first one to erase are not
 * rewritten. Still one pass over the whole mirror per call.
 */
static void zd_mirror_erase_pfns(struct zd_dmirror_mirror *m, const unsigned long *pfns, size_t n)
{
	unsigned long first = pfns[0], span = pfns[n - 1] - pfns[0];
	size_t i, j;

	for (i = 0; i < m->nr; i++) {
		unsigned long pfn = m->pt[i].pfn;

		if (pfn - first <= span && zd_pfns_contain(pfns, n, pfn))
			break;
	}
	for (j = i; i < m->nr; i++) {
		unsigned long pfn = m->pt[i].pfn;

		if (pfn - first <= span && zd_pfns_contain(pfns, n, pfn))
			continue;
		m->pt[j++] = m->pt[i];
	}
	m->nr = j;
}

/* ---- Mirrors and their interval notifier --------------------------------------------- */

static struct zd_dmirror_mirror *zd_mirror_of(struct zd_mmu_interval_notifier *mni)
{
	return (struct zd_dmirror_mirror *)((char *)mni -
					    offsetof(struct zd_dmirror_mirror, notifier));
}

/*
 * dmirror_interval_invalidate: the device's own migrations (MMU_NOTIFY_MIGRATE
 * carrying this device as owner) update the mirror themselves; everything
 * else erases the range. The address space's exit (RELEASE) also ends the
 * mirror: its notifier leaves the mm, which is about to be freed.
 */
static bool zd_dmirror_invalidate(struct zd_mmu_interval_notifier *mni,
				  const struct zd_mmu_notifier_range *range, unsigned long cur_seq)
{
	struct zd_dmirror_mirror *m = zd_mirror_of(mni);

	if (range->event == ZD_MMU_NOTIFY_MIGRATE && range->owner == m->dm)
		return true;
	zd_mutex_lock(&m->lock);
	zd_mmu_interval_set_seq(mni, cur_seq);
	zd_mirror_erase_range(m, range->start >> ZD_PAGE_SHIFT,
			      (range->end + ZD_PAGE_SIZE - 1) >> ZD_PAGE_SHIFT);
	if (range->event == ZD_MMU_NOTIFY_RELEASE && ZD_READ_ONCE(m->mm)) {
		/* The walk goes on through mni->next, which remove leaves in place. */
		zd_mmu_interval_notifier_remove(mni);
		ZD_WRITE_ONCE(m->mm, NULL);
		free(m->pt);
		m->pt = NULL;
		m->nr = m->cap = 0;
	}
	zd_mutex_unlock(&m->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops zd_dmirror_mni_ops = {
    .invalidate = zd_dmirror_invalidate,
};

static void zd_mirror_free(struct zd_dmirror_mirror *m)
{
	free(m->pt);
	free(m);
}

/*
 * The mirror of (device, mm), created on first use with a notifier over the
 * whole address space. Caller holds mm's mmap_lock (read), under which
 * notifiers are added. -ENOMEM.
 */
static int zd_mirror_get(struct zd_dmirror *dm, struct zd_mm *mm, struct zd_dmirror_mirror **out)
{
	struct zd_dmirror_mirror *m;
	int ret = 0;

	zd_mutex_lock(&dm->mirrors_lock);
	/*
	 * A mirror whose address space exited stays on the list (without its
	 * entries) until the device is destroyed: the notifier core may still
	 * touch its notifier after the RELEASE callback returned.
	 */
	for (m = dm->mirrors; m; m = m->next)
		if (ZD_READ_ONCE(m->mm) == mm)
			goto out;
	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = -ENOMEM;
		goto out;
	}
	m->dm = dm;
	m->mm = mm;
	zd_mutex_init(&m->lock);
	ret = zd_mmu_interval_notifier_insert(&m->notifier, mm, 0, ~0ull >> 1, &zd_dmirror_mni_ops);
	if (ret) {
		free(m);
		m = NULL;
		goto out;
	}
	m->next = dm->mirrors;
	dm->mirrors = m;
out:
	zd_mutex_unlock(&dm->mirrors_lock);
	*out = m;
	return ret;
}

/*
 * The device drops its own mappings of pages it moves back to system
 * memory (its own MIGRATE events do not erase them): every entry of every
 * mirror that refers to one of pfns[0..n), which this sorts.
 */
static void zd_dmirror_unmap_pfns(struct zd_dmirror *dm, unsigned long *pfns, size_t n)
{
	struct zd_dmirror_mirror *m;

	if (!n)
		return;
	qsort(pfns, n, sizeof(*pfns), zd_cmp_ulong);
	zd_mutex_lock(&dm->mirrors_lock);
	for (m = dm->mirrors; m; m = m->next) {
		zd_mutex_lock(&m->lock);
		zd_mirror_erase_pfns(m, pfns, n);
		zd_mutex_unlock(&m->lock);
	}
	zd_mutex_unlock(&dm->mirrors_lock);
}

/* ---- Command plumbing -------------------------------------------------------------------- */

/*
 * Common validation (test_hmm's): a dmirror device still bound, a
 * page-aligned range. The command's result (if any) starts at zero either way.
 */
static int zd_dmirror_check(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			    struct zd_dmirror_result *res)
{
	if (res)
		res->cpages = res->faults = 0;
	if (!zd_is_dmirror(dev) || !mm)
		return -EINVAL;
	if (dev->removed)
		return -ENXIO;
	if (!len || ((addr | len) & (ZD_PAGE_SIZE - 1)) || addr + len < addr)
		return -EINVAL;
	return 0;
}

static struct zd_dmirror_mirror *zd_dmirror_mirror_locked(struct zd_dmirror *dm, struct zd_mm *mm,
							  int *ret)
{
	struct zd_dmirror_mirror *m = NULL;

	zd_mmap_read_lock(mm);
	*ret = zd_mirror_get(dm, mm, &m);
	zd_mmap_read_unlock(mm);
	return m;
}

/*
 * dmirror_do_read / dmirror_do_write: copy between buf and the pages the
 * mirror maps for [start, end), from page *done on; write needs WRITE-tagged
 * entries. -ENOENT at the first page the device cannot access (*done says
 * where). buf may be NULL for a presence check. Takes m->lock.
 */
static int zd_mirror_copy(struct zd_dmirror_mirror *m, uint64_t start, uint64_t end,
			  unsigned char *buf, bool write, unsigned long *done)
{
	struct zd_world *w = m->dm->dev->world;
	uint64_t addr = start + (*done << ZD_PAGE_SHIFT);
	int ret = 0;

	zd_mutex_lock(&m->lock);
	for (; addr < end; addr += ZD_PAGE_SIZE, (*done)++) {
		struct zd_dmirror_entry *ent = zd_mirror_lookup(m, addr >> ZD_PAGE_SHIFT);
		unsigned char *data;

		if (!ent || (write && ent->tag != ZD_DPT_WRITE)) {
			ret = -ENOENT;
			break;
		}
		if (!buf)
			continue;
		data = zd_page_address(w, ent->pfn);
		if (!data) {
			ret = -ENOMEM;
			break;
		}
		if (write)
			memcpy(data, buf + (addr - start), ZD_PAGE_SIZE);
		else
			memcpy(buf + (addr - start), data, ZD_PAGE_SIZE);
	}
	zd_mutex_unlock(&m->lock);
	return ret;
}

/*
 * dmirror_range_fault: hmm_range_fault over one window with the
 * read_begin / read_retry protocol, then the mirror takes what it returned
 * (own device-private pages as their device pfn: their bytes live there).
 */
static int zd_dmirror_range_fault(struct zd_dmirror_mirror *m, struct zd_mm *mm, uint64_t start,
				  uint64_t end, bool write)
{
	unsigned long pfns[ZD_DMIRROR_FAULT_WINDOW];
	struct zd_hmm_range range = {
	    .notifier = &m->notifier,
	    .start = start,
	    .end = end,
	    .hmm_pfns = pfns,
	    .default_flags = ZD_HMM_PFN_REQ_FAULT | (write ? ZD_HMM_PFN_REQ_WRITE : 0),
	    .pfn_flags_mask = 0,
	    .dev_private_owner = m->dm,
	};
	unsigned long i, n = (unsigned long)((end - start) >> ZD_PAGE_SHIFT);
	int ret, tries = 0;

	for (;;) {
		if (++tries > ZD_DMIRROR_MAX_ROUNDS)
			return -EBUSY;
		memset(pfns, 0, n * sizeof(*pfns));
		range.notifier_seq = zd_mmu_interval_read_begin(&m->notifier);
		zd_mmap_read_lock(mm);
		ret = zd_hmm_range_fault(&range);
		zd_mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		zd_mutex_lock(&m->lock);
		if (zd_mmu_interval_read_retry(&m->notifier, range.notifier_seq)) {
			zd_mutex_unlock(&m->lock);
			continue;
		}
		break;
	}
	for (i = 0; i < n && !ret; i++) {
		if (!(pfns[i] & ZD_HMM_PFN_VALID))
			continue;
		ret = zd_mirror_store(m, (start >> ZD_PAGE_SHIFT) + i, zd_hmm_pfn_to_pfn(pfns[i]),
				      (pfns[i] & ZD_HMM_PFN_WRITE) ? ZD_DPT_WRITE : ZD_DPT_READ);
	}
	zd_mutex_unlock(&m->lock);
	return ret;
}

/* dmirror_fault: device-fault [start, end) in windows of 64 pages. */
static int zd_dmirror_fault(struct zd_dmirror_mirror *m, struct zd_mm *mm, uint64_t start,
			    uint64_t end, bool write)
{
	uint64_t addr, next;
	int ret = 0;

	for (addr = start; addr < end && !ret; addr = next) {
		next = addr + (ZD_DMIRROR_FAULT_WINDOW << ZD_PAGE_SHIFT);
		if (next > end || next < addr)
			next = end;
		ret = zd_dmirror_range_fault(m, mm, addr, next, write);
	}
	return ret;
}

/* READ and WRITE: through the mirror, device-faulting what it lacks, one round at a time. */
static int zd_dmirror_rw(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			 unsigned char *buf, bool write, struct zd_dmirror_result *res)
{
	struct zd_dmirror_mirror *m;
	unsigned long done = 0;
	int ret;

	ret = zd_dmirror_check(dev, mm, addr, len, res);
	if (ret)
		return ret;
	m = zd_dmirror_mirror_locked(dev->priv, mm, &ret);
	if (!m)
		return ret;
	for (;;) {
		ret = zd_mirror_copy(m, addr, addr + len, buf, write, &done);
		if (ret != -ENOENT)
			break;
		if (res->faults >= ZD_DMIRROR_MAX_ROUNDS) {
			ret =
			    -EBUSY; /* test_hmm's timeout: the fault never makes the page usable */
			break;
		}
		ret = zd_dmirror_fault(m, mm, addr + (done << ZD_PAGE_SHIFT), addr + len, write);
		if (ret)
			break;
		res->faults++;
	}
	res->cpages = done;
	return ret;
}

int zd_dmirror_read(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len, void *buf,
		    struct zd_dmirror_result *res)
{
	struct zd_dmirror_result r;

	return zd_dmirror_rw(dev, mm, addr, len, buf, false, res ? res : &r);
}

int zd_dmirror_write(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
		     const void *buf, struct zd_dmirror_result *res)
{
	struct zd_dmirror_result r;

	if (!buf)
		return -EINVAL;
	return zd_dmirror_rw(dev, mm, addr, len, (unsigned char *)buf, true, res ? res : &r);
}

/* The pages of [addr, addr + len) all mirrored? 0, or -ENOENT; *done counts those that are. */
static int zd_dmirror_read_back(struct zd_dmirror_mirror *m, uint64_t addr, uint64_t len,
				unsigned long *done)
{
	*done = 0;
	return zd_mirror_copy(m, addr, addr + len, NULL, false, done);
}

/* ---- Migration to the device ------------------------------------------------------------ */

/* Bytes of pfn, or NULL; zero-filled or copied from src_pfn (ZD_PFN_NONE: a hole). */
static int zd_dmirror_copy_page(struct zd_world *w, unsigned long dst_pfn, unsigned long src_pfn)
{
	void *dst = zd_page_address(w, dst_pfn), *src;

	if (!dst)
		return -ENOMEM;
	if (src_pfn == ZD_PFN_NONE) {
		memset(dst, 0, ZD_PAGE_SIZE);
		return 0;
	}
	src = zd_page_address(w, src_pfn);
	if (!src)
		return -ENOMEM;
	memcpy(dst, src, ZD_PAGE_SIZE);
	return 0;
}

/*
 * Copy (or zero-fill, src_pfn ZD_PFN_NONE) nr pages of a folio: one memcpy
 * when both sides' bytes are contiguous (a folio lies in one memmap range),
 * else page by page.
 */
static int zd_dmirror_copy_pages(struct zd_world *w, unsigned long dst_pfn, unsigned long src_pfn,
				 unsigned long nr)
{
	char *dst = zd_page_address(w, dst_pfn), *src = NULL;
	unsigned long k;

	if (nr > 1 && dst && (char *)zd_page_address(w, dst_pfn + nr - 1) ==
				     dst + ((nr - 1) << ZD_PAGE_SHIFT)) {
		if (src_pfn == ZD_PFN_NONE) {
			memset(dst, 0, nr << ZD_PAGE_SHIFT);
			return 0;
		}
		src = zd_page_address(w, src_pfn);
		if (src && (char *)zd_page_address(w, src_pfn + nr - 1) ==
			       src + ((nr - 1) << ZD_PAGE_SHIFT)) {
			memcpy(dst, src, nr << ZD_PAGE_SHIFT);
			return 0;
		}
	}
	for (k = 0; k < nr; k++)
		if (zd_dmirror_copy_page(w, dst_pfn + k, src_pfn == ZD_PFN_NONE ? src_pfn : src_pfn + k))
			return -ENOMEM;
	return 0;
}

/* Give a destination back before commit (it was never used): unlock and put. */
static void zd_dmirror_drop_dst(struct zd_world *w, unsigned long *dst)
{
	struct zd_folio *folio = zd_pfn_folio(w, zd_migrate_pfn_to_pfn(*dst));

	if (folio) {
		zd_folio_unlock(folio);
		zd_folio_put(folio, ZD_MIGRATE_DST_HOLDER);
	}
	*dst = 0;
}

/* A device destination for source pfn spfn (ZD_PFN_NONE: a hole) at *dst, or 0 left there. */
static int zd_dmirror_dev_dst(struct zd_device *dev, unsigned int order, unsigned long spfn,
			      unsigned long *dst)
{
	struct zd_world *w = dev->world;
	struct zd_folio *dfolio;

	*dst = 0;
	if (zd_dmirror_alloc_folio(dev, order, ZD_MIGRATE_DST_HOLDER, &dfolio))
		return -ENOMEM;
	zd_atomic_long_add_return_relaxed(&dev->allocated, 1l << order);
	*dst = zd_migrate_pfn(dfolio->pfn) | (order ? ZD_MIGRATE_PFN_COMPOUND : 0);
	if (zd_dmirror_copy_pages(w, dfolio->pfn, spfn, 1ul << order)) {
		zd_dmirror_drop_dst(w, dst);
		return -ENOMEM;
	}
	return 0;
}

/*
 * dmirror_migrate_alloc_and_copy: a device page per MIGRATE slot (failures
 * skip the slot). A COMPOUND slot (a 2 MiB source) gets a 2 MiB device folio
 * when the device hands them out (align=2M) and has one free; otherwise a
 * base page for each of its pages, and the core splits the source.
 */
static void zd_dmirror_alloc_and_copy(struct zd_device *dev, struct zd_migrate_vma *args,
				      bool vma_writable)
{
	struct zd_world *w = dev->world;
	unsigned long i, k;

	memset(args->dst, 0, args->npages * sizeof(*args->dst));
	for (i = 0; i < args->npages; i++) {
		unsigned long spfn = zd_migrate_pfn_to_pfn(args->src[i]), nr = 1;
		bool write = (args->src[i] & ZD_MIGRATE_PFN_WRITE) ||
			     (spfn == ZD_PFN_NONE && vma_writable);
		struct zd_folio *sfolio;

		if (!(args->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		if (spfn != ZD_PFN_NONE) {
			sfolio = zd_pfn_folio(w, spfn);
			if (!sfolio || zd_folio_is_zone_device(sfolio))
				continue; /* already in device memory: not ours to move */
			if (args->src[i] & ZD_MIGRATE_PFN_COMPOUND)
				nr = zd_folio_nr_pages(sfolio);
		} else if (args->src[i] & ZD_MIGRATE_PFN_COMPOUND) {
			nr = 1ul << ZD_PMD_ORDER; /* a compound hole: 2 MiB of nothing */
		}
		if (nr > 1 && i + nr <= args->npages) {
			if (dev->cfg.align_order != ZD_PMD_ORDER ||
			    zd_dmirror_dev_dst(dev, ZD_PMD_ORDER, spfn, &args->dst[i])) {
				/* migrated split: a base page per page of the source */
				for (k = 0; k < nr; k++)
					if (!zd_dmirror_dev_dst(dev, 0, spfn == ZD_PFN_NONE ? spfn : spfn + k,
							       &args->dst[i + k]) &&
					    write)
						args->dst[i + k] |= ZD_MIGRATE_PFN_WRITE;
			} else if (write) {
				args->dst[i] |= ZD_MIGRATE_PFN_WRITE;
			}
			i += nr - 1;
			continue;
		}
		if (!zd_dmirror_dev_dst(dev, 0, spfn, &args->dst[i]) && write)
			args->dst[i] |= ZD_MIGRATE_PFN_WRITE;
	}
}

/*
 * The mirror maps the slots still migrating (dmirror_migrate_finalize_and_map),
 * and the driver takes a transient reference on each new page: see
 * zd_dmirror_finalize_and_map.
 */
static unsigned long zd_dmirror_map_migrated(struct zd_dmirror_mirror *m,
					     struct zd_migrate_vma *args, struct zd_holder h)
{
	struct zd_world *w = args->mm->world;
	unsigned long i, n = 0;

	zd_mutex_lock(&m->lock);
	for (i = 0; i < args->npages; i++) {
		unsigned long dpfn = zd_migrate_pfn_to_pfn(args->dst[i]);

		struct zd_folio *dfolio;
		unsigned long k, nr;

		if (!(args->src[i] & ZD_MIGRATE_PFN_MIGRATE) || dpfn == ZD_PFN_NONE)
			continue;
		dfolio = zd_pfn_folio(w, dpfn);
		nr = zd_folio_nr_pages(dfolio); /* a 2 MiB folio: the mirror maps each page */
		n += nr;
		zd_folio_get(dfolio, h);
		for (k = 0; k < nr; k++)
			if (zd_mirror_store(m, (args->start >> ZD_PAGE_SHIFT) + i + k, dpfn + k,
					    (args->dst[i] & ZD_MIGRATE_PFN_WRITE) ? ZD_DPT_WRITE
										  : ZD_DPT_READ))
				zd_mirror_erase_range(m, (args->start >> ZD_PAGE_SHIFT) + i + k,
						      (args->start >> ZD_PAGE_SHIFT) + i + k + 1);
	}
	zd_mutex_unlock(&m->lock);
	return n;
}

/*
 * After finalize: an entry mapped above whose CPU entry does not map the new
 * page any more goes, and the transient references are dropped. An
 * invalidation that ran between migrate_vma_setup and the mirror update (a
 * concurrent MADV_DONTNEED zapping the migration entries, under mmap_lock
 * for read as well) erased nothing of it yet, and finalize then had no
 * mapping to restore. Caller holds mmap_lock (read).
 */
static void zd_dmirror_recheck_migrated(struct zd_dmirror_mirror *m, struct zd_migrate_vma *args,
					struct zd_holder h)
{
	struct zd_world *w = args->mm->world;
	unsigned long i;

	zd_mutex_lock(&m->lock);
	for (i = 0; i < args->npages; i++) {
		unsigned long dpfn = zd_migrate_pfn_to_pfn(args->dst[i]), k, nr;
		uint64_t vpn;

		if (!(args->src[i] & ZD_MIGRATE_PFN_MIGRATE) || dpfn == ZD_PFN_NONE)
			continue;
		nr = zd_folio_nr_pages(zd_pfn_folio(w, dpfn));
		if (nr > 1) {
			/* one PMD leaf mapping the whole new folio: every entry is right */
			struct zd_slot slot;

			if (!zd_pt_walk(args->mm, args->start + (i << ZD_PAGE_SHIFT), ZD_LEVEL_PTE,
					false, &slot) &&
			    slot.level == ZD_LEVEL_PMD && zd_pte_maps_folio(zd_pte_read(slot.pte)) &&
			    zd_pte_pfn(zd_pte_read(slot.pte)) == dpfn)
				continue;
		}
		for (k = 0; k < nr; k++) {
			struct zd_dmirror_entry *ent;
			struct zd_slot slot;
			zd_pte_t e = 0;
			unsigned long epfn = ZD_PFN_NONE;

			vpn = (args->start >> ZD_PAGE_SHIFT) + i + k;
			ent = zd_mirror_lookup(m, vpn);
			if (!ent || ent->pfn != dpfn + k)
				continue;
			if (!zd_pt_walk(args->mm, vpn << ZD_PAGE_SHIFT, ZD_LEVEL_PTE, false, &slot))
				e = zd_pte_read(slot.pte);
			/* a huge leaf maps page k at its offset */
			if (zd_pte_maps_folio(e))
				epfn = zd_pte_pfn(e) + (((vpn << ZD_PAGE_SHIFT) &
							 (zd_level_size(slot.level) - 1)) >>
							ZD_PAGE_SHIFT);
			if (epfn != dpfn + k)
				zd_mirror_erase_range(m, vpn, vpn + 1);
		}
	}
	zd_mutex_unlock(&m->lock);
	for (i = 0; i < args->npages; i++) {
		unsigned long dpfn = zd_migrate_pfn_to_pfn(args->dst[i]);

		if ((args->src[i] & ZD_MIGRATE_PFN_MIGRATE) && dpfn != ZD_PFN_NONE)
			zd_folio_put(zd_pfn_folio(w, dpfn), h);
	}
}

/*
 * Closes a race test_hmm leaves open. Between the mirror update and the
 * recheck, finalize may free a new page whose CPU entry a concurrent zap
 * removed; were the page free, another migration could reuse it and a
 * device READ (which looks pages up under m->lock) would follow the stale
 * entry to someone else's data. So each new page stays referenced by the
 * driver until the recheck has erased any stale entry. (m->lock cannot be
 * held across finalize: its rmap walks take the anon_vma lock, under which
 * invalidations call back into the mirror for m->lock.)
 */
static unsigned long zd_dmirror_finalize_and_map(struct zd_dmirror_mirror *m,
						 struct zd_migrate_vma *args)
{
	struct zd_holder h = ZD_HOLDER(ZD_HOLD_TEMP, m);
	unsigned long n;

	n = zd_dmirror_map_migrated(m, args, h);
	zd_migrate_vma_finalize(args);
	zd_dmirror_recheck_migrated(m, args, h);
	return n;
}

/* ---- Migration back to system memory ------------------------------------------------------ */

/*
 * A locked system page holding one reference for the migration. With
 * `tries` > 1 the allocation is retried (eviction's no-fail allocation).
 */
static struct zd_folio *zd_dmirror_sys_page(struct zd_world *w, unsigned int order, int tries)
{
	struct zd_folio *folio = NULL;

	while (!folio && tries-- > 0)
		folio = zd_folio_alloc(w, order, ZD_MIGRATE_DST_HOLDER);
	if (folio)
		zd_folio_lock(folio);
	return folio;
}

/*
 * A system destination for device page(s) at spfn: a folio of `order`,
 * copied, at *dst; the copied source pfns are appended to moved. -ENOMEM
 * (nothing at *dst) when RAM or the copy fails.
 */
static int zd_dmirror_sys_dst(struct zd_world *w, unsigned int order, unsigned long spfn,
			      unsigned long *dst, int tries, unsigned long *moved,
			      unsigned long *nr_moved)
{
	struct zd_folio *dfolio = zd_dmirror_sys_page(w, order, tries);
	unsigned long k, nr = 1ul << order;

	*dst = 0;
	if (!dfolio)
		return -ENOMEM;
	*dst = zd_migrate_pfn(dfolio->pfn) | (order ? ZD_MIGRATE_PFN_COMPOUND : 0);
	if (zd_dmirror_copy_pages(w, dfolio->pfn, spfn, nr)) {
		zd_dmirror_drop_dst(w, dst);
		return -ENOMEM;
	}
	for (k = 0; k < nr; k++)
		moved[(*nr_moved)++] = spfn + k;
	return 0;
}

/*
 * dmirror_devmem_fault_alloc_and_copy: a system page per collected device
 * page, copied; the device's mappings of the source go first. A 2 MiB
 * device folio (a COMPOUND slot) gets a 2 MiB RAM folio, or, when none is
 * free, a base page per page (the core then splits the device folio).
 * Holes and slots without a page get no destination. Returns -ENOMEM if a
 * page could not be allocated (that slot stays where it is).
 */
static int zd_dmirror_back_alloc_and_copy(struct zd_dmirror *dm, unsigned long *src,
					  unsigned long *dst, unsigned long npages, int tries)
{
	struct zd_world *w = dm->dev->world;
	unsigned long i, k, *moved, nr_moved = 0;
	int ret = 0;

	memset(dst, 0, npages * sizeof(*dst));
	moved = malloc(npages * sizeof(*moved));
	if (!moved)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		unsigned long spfn = zd_migrate_pfn_to_pfn(src[i]), nr = 1;
		unsigned long wbit = src[i] & ZD_MIGRATE_PFN_WRITE;
		struct zd_folio *sfolio;

		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE) || spfn == ZD_PFN_NONE)
			continue;
		sfolio = zd_pfn_folio(w, spfn);
		if (!sfolio)
			continue;
		if (src[i] & ZD_MIGRATE_PFN_COMPOUND)
			nr = zd_folio_nr_pages(sfolio);
		if (nr > 1 && i + nr <= npages) {
			if (zd_dmirror_sys_dst(w, zd_folio_order(sfolio), spfn, &dst[i], tries, moved,
					       &nr_moved)) {
				/* no 2 MiB of RAM: split, a base page each */
				for (k = 0; k < nr; k++)
					if (zd_dmirror_sys_dst(w, 0, spfn + k, &dst[i + k], tries,
							       moved, &nr_moved))
						ret = -ENOMEM;
					else
						dst[i + k] |= wbit;
			} else {
				dst[i] |= wbit;
			}
			i += nr - 1;
			continue;
		}
		if (zd_dmirror_sys_dst(w, 0, spfn, &dst[i], tries, moved, &nr_moved))
			ret = -ENOMEM;
		else
			dst[i] |= wbit;
	}
	/* The device drops its mappings of what moves: its own MIGRATE events left them. */
	zd_dmirror_unmap_pfns(dm, moved, nr_moved);
	free(moved);
	return ret;
}

static unsigned long zd_dmirror_count_moved(const unsigned long *src, unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++)
		if ((src[i] & ZD_MIGRATE_PFN_MIGRATE) && (src[i] & ZD_MIGRATE_PFN_VALID))
			n += (src[i] & ZD_MIGRATE_PFN_COMPOUND) ? 1ul << ZD_PMD_ORDER : 1;
	return n;
}

/*
 * The device's pages, and its 2 MiB folios whole (MIGRATE_VMA_SELECT_COMPOUND,
 * as test_hmm asks for them when migrating back to system memory).
 */
static unsigned long zd_dmirror_select(const struct zd_device *dev)
{
	return (dev->cfg.type == ZD_MEMORY_DEVICE_PRIVATE ? ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE
							  : ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT) |
	       ZD_MIGRATE_VMA_SELECT_COMPOUND;
}

/* Migration to the device: system pages, 2 MiB folios whole where the device hands those out. */
static unsigned long zd_dmirror_select_to_dev(const struct zd_device *dev)
{
	return ZD_MIGRATE_VMA_SELECT_SYSTEM |
	       (dev->cfg.align_order == ZD_PMD_ORDER ? ZD_MIGRATE_VMA_SELECT_COMPOUND : 0);
}

/*
 * The commands' migrations go window by window (test_hmm's 64 MiB of pages at
 * a time), each window within one readable VMA, under mmap_lock for read.
 * `to_dev` moves system pages into the device and maps them in the mirror;
 * otherwise the device's pages go back to system memory.
 */
static int zd_dmirror_migrate_range(struct zd_device *dev, struct zd_mm *mm, uint64_t addr,
				    uint64_t len, struct zd_dmirror_result *res, bool to_dev)
{
	struct zd_dmirror_result r;
	struct zd_dmirror *dm;
	struct zd_dmirror_mirror *m = NULL;
	unsigned long *src = NULL, *dst = NULL, done;
	uint64_t start, end = addr + len, next;
	int ret;

	if (!res)
		res = &r;
	ret = zd_dmirror_check(dev, mm, addr, len, res);
	if (ret)
		return ret;
	dm = dev->priv;
	src = calloc(ZD_DMIRROR_MIGRATE_WINDOW, sizeof(*src));
	dst = calloc(ZD_DMIRROR_MIGRATE_WINDOW, sizeof(*dst));
	if (!src || !dst) {
		ret = -ENOMEM;
		goto out_free;
	}
	zd_mmap_read_lock(mm);
	ret = zd_mirror_get(dm, mm, &m);
	for (start = addr; !ret && start < end; start = next) {
		struct zd_vma *vma = zd_find_vma(mm, start);
		struct zd_migrate_vma args;

		if (!vma || !(vma->flags & ZD_VM_READ)) {
			ret = -EINVAL;
			break;
		}
		/* windows end on 2 MiB boundaries: a 2 MiB folio is never cut in two */
		next = (start + (ZD_DMIRROR_MIGRATE_WINDOW << ZD_PAGE_SHIFT)) &
		       ~(uint64_t)((1ul << (ZD_PMD_ORDER + ZD_PAGE_SHIFT)) - 1);
		if (next <= start)
			next = start + (ZD_DMIRROR_MIGRATE_WINDOW << ZD_PAGE_SHIFT);
		if (next > end || next < start)
			next = end;
		if (next > vma->end)
			next = vma->end;
		memset(&args, 0, sizeof(args));
		args.mm = mm;
		args.start = start;
		args.end = next;
		args.src = src;
		args.dst = dst;
		args.pgmap_owner = dm;
		args.flags = to_dev ? zd_dmirror_select_to_dev(dev) : zd_dmirror_select(dev);
		ret = zd_migrate_vma_setup(&args);
		if (ret)
			break;
		if (to_dev) {
			zd_dmirror_alloc_and_copy(dev, &args, !!(vma->flags & ZD_VM_WRITE));
			zd_migrate_vma_pages(&args);
			res->cpages += zd_dmirror_finalize_and_map(m, &args);
		} else {
			zd_dmirror_back_alloc_and_copy(dm, src, dst, args.npages, 1);
			zd_migrate_vma_pages(&args);
			res->cpages += zd_dmirror_count_moved(src, args.npages);
			zd_migrate_vma_finalize(&args);
		}
	}
	zd_mmap_read_unlock(mm);
	if (!ret && to_dev)
		ret = zd_dmirror_read_back(m, addr, len, &done);
out_free:
	free(src);
	free(dst);
	return ret;
}

int zd_dmirror_migrate_to_dev(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			      struct zd_dmirror_result *res)
{
	return zd_dmirror_migrate_range(dev, mm, addr, len, res, true);
}

int zd_dmirror_migrate_to_sys(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			      struct zd_dmirror_result *res)
{
	return zd_dmirror_migrate_range(dev, mm, addr, len, res, false);
}

/*
 * The pgmap's migrate_to_ram (dmirror_devmem_fault): called with mmap_lock
 * held (read), vmf->page locked and referenced. Migrates the faulting page
 * to a new system page; a 2 MiB device folio (mapped by a device-private
 * PMD entry) moves whole, to a 2 MiB RAM folio or, without one, split.
 */
static int zd_dmirror_migrate_to_ram(struct zd_vm_fault *vmf)
{
	struct zd_folio *folio = zd_page_folio(vmf->page);
	struct zd_device *dev = zd_pgmap_device(folio->pgmap);
	struct zd_dmirror *dm = dev->priv;
	unsigned long one_src = 0, one_dst = 0, *src = &one_src, *dst = &one_dst;
	uint64_t size = zd_folio_nr_pages(folio) << ZD_PAGE_SHIFT;
	uint64_t start = vmf->address & ~(size - 1);
	struct zd_migrate_vma args = {
	    .mm = vmf->mm,
	    .src = src,
	    .dst = dst,
	    .pgmap_owner = dm,
	    .flags = zd_dmirror_select(dev),
	    .fault_page = vmf->page,
	};
	int ret;

	if (size > ZD_PAGE_SIZE && start >= vmf->vma->start && start + size <= vmf->vma->end) {
		src = calloc(zd_folio_nr_pages(folio), sizeof(*src));
		dst = calloc(zd_folio_nr_pages(folio), sizeof(*dst));
		if (!src || !dst) {
			free(src);
			free(dst);
			return ZD_VM_FAULT_OOM;
		}
		args.src = src;
		args.dst = dst;
	} else {
		size = ZD_PAGE_SIZE;
		start = vmf->address & ~(ZD_PAGE_SIZE - 1);
	}
	args.start = start;
	args.end = start + size;
	if (zd_migrate_vma_setup(&args)) {
		ret = ZD_VM_FAULT_SIGBUS;
		goto out;
	}
	ret = zd_dmirror_back_alloc_and_copy(dm, src, dst, args.npages, 1) ? ZD_VM_FAULT_OOM : 0;
	zd_migrate_vma_pages(&args);
	zd_migrate_vma_finalize(&args);
out:
	if (src != &one_src) {
		free(src);
		free(dst);
	}
	return ret;
}

static const struct zd_dev_pagemap_ops zd_dmirror_pgmap_ops = {
    .folio_free = zd_dmirror_folio_free,
    .migrate_to_ram = zd_dmirror_migrate_to_ram,
};

/* ---- Exclusive access --------------------------------------------------------------------- */

int zd_dmirror_exclusive(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			 struct zd_dmirror_result *res)
{
	struct zd_dmirror_result r;
	struct zd_dmirror_mirror *m = NULL;
	unsigned long done;
	uint64_t a;
	int ret;

	if (!res)
		res = &r;
	ret = zd_dmirror_check(dev, mm, addr, len, res);
	if (ret)
		return ret;
	zd_mmap_read_lock(mm);
	ret = zd_mirror_get(dev->priv, mm, &m);
	for (a = addr; !ret && a < addr + len; a += ZD_PAGE_SIZE) {
		struct zd_folio *folio = NULL;
		unsigned long pfn = ZD_PFN_NONE;
		struct zd_slot slot;

		ret = zd_make_device_exclusive(mm, a, NULL, &folio);
		if (ret)
			break;
		/* The page at a: the device-exclusive entry names it. */
		if (!zd_pt_walk(mm, a, ZD_LEVEL_PTE, false, &slot)) {
			zd_pte_t e = zd_pte_read(slot.pte);

			if (zd_pte_swap(e) && zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE)
				pfn = zd_pte_pfn(e);
		}
		zd_mutex_lock(&m->lock);
		if (pfn != ZD_PFN_NONE)
			ret = zd_mirror_store(m, a >> ZD_PAGE_SHIFT, pfn, ZD_DPT_ATOMIC);
		zd_mutex_unlock(&m->lock);
		zd_folio_unlock(folio);
		zd_folio_put(folio, ZD_EXCLUSIVE_HOLDER);
	}
	zd_mmap_read_unlock(mm);
	if (ret)
		return ret;
	ret = zd_dmirror_read_back(m, addr, len, &done);
	res->cpages = done;
	return ret;
}

int zd_dmirror_check_exclusive(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			       bool *exclusive)
{
	struct zd_dmirror_mirror *m;
	uint64_t a;
	int ret;

	if (!exclusive)
		return -EINVAL;
	*exclusive = false;
	ret = zd_dmirror_check(dev, mm, addr, len, NULL);
	if (ret)
		return ret;
	m = zd_dmirror_mirror_locked(dev->priv, mm, &ret);
	if (!m)
		return ret;
	*exclusive = true;
	zd_mutex_lock(&m->lock);
	for (a = addr; a < addr + len; a += ZD_PAGE_SIZE) {
		struct zd_dmirror_entry *ent = zd_mirror_lookup(m, a >> ZD_PAGE_SHIFT);

		if (!ent || ent->tag != ZD_DPT_ATOMIC) {
			*exclusive = false;
			break;
		}
	}
	zd_mutex_unlock(&m->lock);
	return 0;
}

/* ---- Snapshot ------------------------------------------------------------------------------ */

/* The snapshot's notifier: any invalidation of the interval moves its sequence (the core does). */
static bool zd_dmirror_snapshot_invalidate(struct zd_mmu_interval_notifier *mni,
					   const struct zd_mmu_notifier_range *range,
					   unsigned long cur_seq)
{
	zd_mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct zd_mmu_interval_notifier_ops zd_dmirror_snapshot_ops = {
    .invalidate = zd_dmirror_snapshot_invalidate,
};

/* dmirror_mkentry: one page's test_hmm snapshot code. */
static unsigned char zd_dmirror_code(struct zd_dmirror *dm, unsigned long hpfn)
{
	struct zd_world *w = dm->dev->world;
	unsigned long pfn;
	struct zd_folio *folio;
	unsigned char code;
	unsigned int order;

	if (hpfn & ZD_HMM_PFN_ERROR)
		return ZD_DMIRROR_PROT_ERROR;
	if (!(hpfn & ZD_HMM_PFN_VALID))
		return ZD_DMIRROR_PROT_NONE;
	pfn = zd_hmm_pfn_to_pfn(hpfn);
	folio = zd_pfn_folio(w, pfn);
	/* no reference is held: the pgmap is read as a lockless walker reads it */
	if (folio && zd_folio_is_device_private(folio))
		code = zd_pgmap_device(zd_page_pgmap(&folio->page)) == dm->dev
			   ? ZD_DMIRROR_PROT_DEV_PRIVATE_LOCAL
			   : ZD_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else if (folio && zd_folio_is_device_coherent(folio))
		code = zd_pgmap_device(zd_page_pgmap(&folio->page)) == dm->dev
			   ? ZD_DMIRROR_PROT_DEV_COHERENT_LOCAL
			   : ZD_DMIRROR_PROT_DEV_COHERENT_REMOTE;
	else if (pfn == zd_zero_folio(w)->pfn)
		code = ZD_DMIRROR_PROT_ZERO;
	else
		code = ZD_DMIRROR_PROT_NONE;
	code |= (hpfn & ZD_HMM_PFN_WRITE) ? ZD_DMIRROR_PROT_WRITE : ZD_DMIRROR_PROT_READ;
	order = zd_hmm_pfn_to_map_order(hpfn);
	if (order == ZD_PMD_ORDER)
		code |= ZD_DMIRROR_PROT_PMD;
	else if (order == ZD_PUD_ORDER)
		code |= ZD_DMIRROR_PROT_PUD;
	return code;
}

/* Notifiers leave an mm under its mmap_lock held for write: no invalidation walks the list. */
static void zd_dmirror_notifier_remove(struct zd_mm *mm, struct zd_mmu_interval_notifier *mni)
{
	zd_down_write(&mm->mmap_lock);
	zd_mmu_interval_notifier_remove(mni);
	zd_up_write(&mm->mmap_lock);
}

int zd_dmirror_snapshot(struct zd_device *dev, struct zd_mm *mm, uint64_t addr, uint64_t len,
			unsigned char *codes)
{
	struct zd_mmu_interval_notifier mni;
	unsigned long pfns[ZD_DMIRROR_FAULT_WINDOW];
	uint64_t start, next, end = addr + len;
	int ret, tries;

	if (!codes)
		return -EINVAL;
	ret = zd_dmirror_check(dev, mm, addr, len, NULL);
	if (ret)
		return ret;
	memset(&mni, 0, sizeof(mni));
	zd_mmap_read_lock(mm);
	ret = zd_mmu_interval_notifier_insert(&mni, mm, addr, len, &zd_dmirror_snapshot_ops);
	zd_mmap_read_unlock(mm);
	if (ret)
		return ret;
	for (start = addr; !ret && start < end; start = next) {
		struct zd_hmm_range range = {
		    .notifier = &mni,
		    .hmm_pfns = pfns,
		    .dev_private_owner = dev->priv,
		};
		unsigned long i, n;

		next = start + (ZD_DMIRROR_FAULT_WINDOW << ZD_PAGE_SHIFT);
		if (next > end || next < start)
			next = end;
		n = (unsigned long)((next - start) >> ZD_PAGE_SHIFT);
		range.start = start;
		range.end = next;
		for (tries = 0;; tries++) {
			if (tries > ZD_DMIRROR_MAX_ROUNDS) {
				ret = -EBUSY;
				break;
			}
			memset(pfns, 0, sizeof(pfns));
			range.notifier_seq = zd_mmu_interval_read_begin(&mni);
			zd_mmap_read_lock(mm);
			ret = zd_hmm_range_fault(&range);
			zd_mmap_read_unlock(mm);
			if (ret == -EBUSY)
				continue;
			if (ret || !zd_mmu_interval_read_retry(&mni, range.notifier_seq))
				break;
		}
		for (i = 0; !ret && i < n; i++)
			codes[((start - addr) >> ZD_PAGE_SHIFT) + i] =
			    zd_dmirror_code(dev->priv, pfns[i]);
	}
	zd_dmirror_notifier_remove(mm, &mni);
	return ret;
}

/* ---- Release (eviction of every chunk) ---------------------------------------------------- */

/*
 * dmirror_devmem_chunk evict: migrate_device_range over the chunk's pfns,
 * a system page for each collected page (retried, test_hmm's no-fail
 * allocation), copy, migrate_device_pages, migrate_device_finalize. Pages
 * that cannot be collected or moved (locked, extra references) stay.
 * Returns the pages moved.
 */
static bool zd_dmirror_page_in_use(struct zd_world *w, struct zd_dev_pagemap *pgmap,
				   unsigned long pfn)
{
	struct zd_folio *folio = zd_pfn_folio(w, pfn);

	/* a tail of a 2 MiB folio in use is in use: runs cover whole folios */
	return folio && zd_folio_ref_count(folio) > zd_pgmap_free_refcount(w, pgmap->type);
}

static bool zd_dmirror_large_head(struct zd_world *w, unsigned long pfn)
{
	struct zd_folio *folio = zd_pfn_folio(w, pfn);

	return folio && folio->pfn == pfn && zd_folio_test_large(folio);
}

static unsigned long zd_dmirror_evict_chunk(struct zd_dmirror *dm, struct zd_dmirror_chunk *chunk,
					    unsigned long *src, unsigned long *dst)
{
	struct zd_world *w = dm->dev->world;
	unsigned long pfn, first, end, n, moved = 0;

	if (zd_pgmap_state(chunk->pgmap) != ZD_PGMAP_LIVE &&
	    zd_pgmap_state(chunk->pgmap) != ZD_PGMAP_DYING)
		return 0;
	first = zd_pgmap_pfn_first(chunk->pgmap, 0);
	end = zd_pgmap_pfn_end(chunk->pgmap, 0);
	for (pfn = first; pfn < end; pfn += n) {
		/*
		 * Only runs of pages the driver handed out: free pages stay on the
		 * free list untouched (their refcount rests at the regime's free
		 * value, 1 in legacy, where a pfn walker's try_get would succeed).
		 */
		if (!zd_dmirror_page_in_use(w, chunk->pgmap, pfn)) {
			n = 1;
			continue;
		}
		/*
		 * A 2 MiB folio needs its 512 slots in one run: a run stops before
		 * one (the next run starts at its head; a window is 512 pages).
		 */
		for (n = 1; n < ZD_DMIRROR_MIGRATE_WINDOW && pfn + n < end &&
			    zd_dmirror_page_in_use(w, chunk->pgmap, pfn + n) &&
			    !zd_dmirror_large_head(w, pfn + n);
		     n++)
			;
		memset(src, 0, n * sizeof(*src));
		memset(dst, 0, n * sizeof(*dst));
		zd_migrate_device_range(w, src, pfn, n);
		zd_dmirror_back_alloc_and_copy(dm, src, dst, n, ZD_DMIRROR_EVICT_ALLOC_TRIES);
		zd_migrate_device_pages(w, src, dst, n);
		moved += zd_dmirror_count_moved(src, n);
		zd_migrate_device_finalize(w, src, dst, n);
	}
	return moved;
}

static long zd_dmirror_evict(struct zd_device *dev)
{
	struct zd_dmirror *dm = dev->priv;
	unsigned long *src, *dst, moved = 0;
	int i;

	src = calloc(ZD_DMIRROR_MIGRATE_WINDOW, sizeof(*src));
	dst = calloc(ZD_DMIRROR_MIGRATE_WINDOW, sizeof(*dst));
	if (!src || !dst) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	for (i = 0; i < dm->nr_chunks; i++)
		moved += zd_dmirror_evict_chunk(dm, &dm->chunks[i], src, dst);
	free(src);
	free(dst);
	return (long)moved;
}

int zd_dmirror_release(struct zd_device *dev, struct zd_dmirror_result *res)
{
	long moved;

	if (res)
		res->cpages = res->faults = 0;
	if (!zd_is_dmirror(dev))
		return -EINVAL;
	if (dev->removed)
		return -ENXIO;
	moved = zd_dmirror_evict(dev);
	if (moved < 0)
		return (int)moved;
	if (res)
		res->cpages = (unsigned long)moved;
	return 0;
}

int zd_dmirror_fail_alloc(struct zd_device *dev, unsigned long n)
{
	struct zd_dmirror *dm;

	if (!zd_is_dmirror(dev))
		return -EINVAL;
	dm = dev->priv;
	zd_spin_lock(&dev->lock);
	dm->fail_alloc = n;
	zd_spin_unlock(&dev->lock);
	return 0;
}

int zd_dmirror_stats(struct zd_device *dev, struct zd_dmirror_stats *st)
{
	struct zd_dmirror *dm;
	struct zd_dmirror_mirror *m;
	int i;

	if (!zd_is_dmirror(dev) || !st)
		return -EINVAL;
	dm = dev->priv;
	memset(st, 0, sizeof(*st));
	for (i = 0; i < dm->nr_chunks; i++) {
		long refs = zd_atomic_long_read_relaxed(&dm->chunks[i].bo_refs);

		st->bo_refs += (unsigned long)refs;
		if (refs)
			st->bos_live++;
	}
	st->bos_freed = (unsigned long)zd_atomic_long_read_relaxed(&dm->bos_freed);
	zd_mutex_lock(&dm->mirrors_lock);
	for (m = dm->mirrors; m; m = m->next) {
		if (!ZD_READ_ONCE(m->mm))
			continue;
		st->mirrors++;
		zd_mutex_lock(&m->lock);
		st->mirror_entries += m->nr;
		zd_mutex_unlock(&m->lock);
	}
	zd_mutex_unlock(&dm->mirrors_lock);
	return 0;
}

/* ---- Binding, audit, teardown ---------------------------------------------------------------- */

static int zd_dmirror_probe(struct zd_device *dev)
{
	struct zd_world *w = dev->world;
	uint64_t chunk = dev->cfg.chunk ? dev->cfg.chunk : dev->cfg.size;
	unsigned int order = dev->cfg.align_order;
	struct zd_dmirror *dm;
	uint64_t done;
	int ret;

	if (order && !zd_pgmap_large_folios(w, dev->cfg.type))
		return -EINVAL;
	if (order > ZD_PMD_ORDER)
		return -EINVAL;
	dm = calloc(1, sizeof(*dm));
	if (!dm)
		return -ENOMEM;
	dm->dev = dev;
	zd_mutex_init(&dm->mirrors_lock);
	dev->priv = dm;
	dm->chunks = calloc((dev->cfg.size + chunk - 1) / chunk, sizeof(*dm->chunks));
	if (!dm->chunks)
		return -ENOMEM;
	for (done = 0; done < dev->cfg.size; done += chunk) {
		uint64_t size = dev->cfg.size - done < chunk ? dev->cfg.size - done : chunk;
		struct zd_dev_pagemap *pgmap;
		unsigned long pfn, first, end, step = 1ul << order;

		/* Chunks are memremap'd with base-page geometry; folios are built on allocation. */
		ret = zd_device_add_pgmap(dev, size, 0, &zd_dmirror_pgmap_ops, dm, &pgmap);
		if (ret)
			return ret;
		dm->chunks[dm->nr_chunks++].pgmap = pgmap;
		first = zd_pgmap_pfn_first(pgmap, 0);
		end = zd_pgmap_pfn_end(pgmap, 0);
		/* Highest first, so the lowest page is handed out first. */
		for (pfn = end; pfn > first;) {
			pfn -= step;
			zd_dmirror_push(dm, zd_pfn_folio(w, pfn), order);
		}
	}
	return 0;
}

#define AUDIT_REPORT(w, found, inv, pfn, ...)                                                      \
	do {                                                                                       \
		zd_report((w), (inv), (pfn), __VA_ARGS__);                                         \
		(found)++;                                                                         \
	} while (0)

/* Issue 4's BO rule: a chunk's BO references are exactly its pages in use. */
static int zd_dmirror_audit_bo(struct zd_device *dev, struct zd_dmirror *dm)
{
	struct zd_world *w = dev->world;
	int i, found = 0;

	for (i = 0; i < dm->nr_chunks; i++) {
		struct zd_dmirror_chunk *chunk = &dm->chunks[i];
		int free_rc = zd_pgmap_free_refcount(w, chunk->pgmap->type);
		unsigned long pfn, first, end, used = 0;
		long refs;

		if (zd_pgmap_state(chunk->pgmap) != ZD_PGMAP_LIVE &&
		    zd_pgmap_state(chunk->pgmap) != ZD_PGMAP_DYING)
			continue;
		first = zd_pgmap_pfn_first(chunk->pgmap, 0);
		end = zd_pgmap_pfn_end(chunk->pgmap, 0);
		for (pfn = first; pfn < end; pfn++) {
			struct zd_page *page = zd_pfn_to_page(w, pfn);

			/* Only the head of an allocated folio has more than the free count. */
			if (!page || zd_page_ref_count(page) <= free_rc)
				continue;
			used +=
			    zd_page_is_head(page) ? zd_folio_nr_pages((struct zd_folio *)page) : 1;
		}
		refs = zd_atomic_long_read_relaxed(&chunk->bo_refs);
		if (refs != (long)used)
			AUDIT_REPORT(w, found, ZD_INV_BO_REFCOUNT_MISMATCH, ZD_PFN_NONE,
				     "%s chunk %d: its BO holds %ld references but %lu pages are "
				     "in use",
				     dev->name, i, refs, used);
	}
	return found;
}

/*
 * M1: a mirror entry names the page the CPU entry at its address maps: the
 * present page (the right subpage of a huge leaf), the device-private or
 * device-exclusive entry's page. A CPU migration entry is skipped: during
 * the device's own MIGRATE event the driver updates its entries itself
 * before finalize, and outside one the entry means an operation is in flight.
 */
static int zd_dmirror_audit_backing(struct zd_device *dev, struct zd_mm *mm,
				    const struct zd_dmirror_entry *ent, const struct zd_slot *slot,
				    zd_pte_t e)
{
	uint64_t addr = ent->vpn << ZD_PAGE_SHIFT;
	unsigned long cpu_pfn = ZD_PFN_NONE;
	int found = 0;

	if (zd_pte_present(e) || (zd_pte_swap(e) && (zd_swp_device_private(e) ||
						     zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE))) {
		uint64_t leaf = zd_level_size(slot->level);

		cpu_pfn = zd_pte_pfn(e) + (unsigned long)((addr & (leaf - 1)) >> ZD_PAGE_SHIFT);
	} else if (zd_pte_swap(e) && zd_swp_migration(e)) {
		return 0;
	}
	if (cpu_pfn != ent->pfn)
		AUDIT_REPORT(dev->world, found, ZD_INV_MIRROR_ENTRY_STALE, ent->pfn,
			     "%s mirror of %s: the entry at %#llx names pfn %#lx but the CPU "
			     "entry maps %s%#lx",
			     dev->name, zd_mm_name(mm), (unsigned long long)addr, ent->pfn,
			     cpu_pfn == ZD_PFN_NONE ? "nothing " : "", cpu_pfn == ZD_PFN_NONE ? 0 : cpu_pfn);
	return found;
}

/* M2 and M3: a WRITE entry needs a writable CPU entry, an ATOMIC one a device-exclusive entry. */
static int zd_dmirror_audit_mirror(struct zd_device *dev, struct zd_dmirror_mirror *m)
{
	struct zd_world *w = dev->world;
	struct zd_mm *mm = ZD_READ_ONCE(m->mm);
	int found = 0;
	size_t i;

	if (!mm || !zd_down_read_trylock(&mm->mmap_lock))
		return 0; /* exiting, or an operation is in flight: not quiescent */
	zd_mutex_lock(&m->lock);
	for (i = 0; i < m->nr; i++) {
		const struct zd_dmirror_entry *ent = &m->pt[i];
		uint64_t addr = ent->vpn << ZD_PAGE_SHIFT;
		struct zd_slot slot;
		zd_pte_t e = 0;
		bool writable, exclusive;

		if (!zd_pt_walk(mm, addr, ZD_LEVEL_PTE, false, &slot))
			e = zd_pte_read(slot.pte);
		found += zd_dmirror_audit_backing(dev, mm, ent, &slot, e);
		if (ent->tag == ZD_DPT_READ)
			continue;
		writable = zd_pte_present(e)
			       ? !!(e & ZD_E_WRITE)
			       : zd_pte_swap(e) && zd_swp_type(e) == ZD_SWP_DEVICE_WRITE;
		exclusive = zd_pte_swap(e) && zd_swp_type(e) == ZD_SWP_DEVICE_EXCLUSIVE;
		if (ent->tag == ZD_DPT_WRITE && !writable)
			AUDIT_REPORT(w, found, ZD_INV_MIRROR_WRITE_STALE, ent->pfn,
				     "%s mirror of %s: a write entry at %#llx while the CPU entry "
				     "is not writable",
				     dev->name, zd_mm_name(mm), (unsigned long long)addr);
		if (ent->tag == ZD_DPT_ATOMIC && !exclusive)
			AUDIT_REPORT(w, found, ZD_INV_MIRROR_ATOMIC_STALE, ent->pfn,
				     "%s mirror of %s: an atomic entry at %#llx while the CPU "
				     "entry is not device-exclusive",
				     dev->name, zd_mm_name(mm), (unsigned long long)addr);
	}
	zd_mutex_unlock(&m->lock);
	zd_up_read(&mm->mmap_lock);
	return found;
}

static void zd_dmirror_audit(struct zd_world *w, struct zd_audit *a, void *arg)
{
	struct zd_device *dev = arg;
	struct zd_dmirror *dm = dev->priv;
	struct zd_dmirror_mirror *m;
	struct zd_folio *f;
	int found;

	zd_spin_lock(&dev->lock);
	for (f = dm->free_pages; f; f = f->zone_device_data)
		zd_audit_note_free_listed(a, f);
	for (f = dm->free_huge; f; f = f->zone_device_data)
		zd_audit_note_free_listed(a, f);
	zd_spin_unlock(&dev->lock);
	found = zd_dmirror_audit_bo(dev, dm);
	zd_mutex_lock(&dm->mirrors_lock);
	for (m = dm->mirrors; m; m = m->next)
		found += zd_dmirror_audit_mirror(dev, m);
	zd_mutex_unlock(&dm->mirrors_lock);
	zd_audit_add_found(a, found);
}

/* The driver's state for the digest: chunks, free lists in order, mirrors' page tables. */
static void zd_dmirror_state_hash(struct zd_device *dev, struct zd_state_hash *h)
{
	struct zd_dmirror *dm = dev->priv;
	struct zd_dmirror_mirror *m;
	struct zd_folio *f;
	size_t j;
	int i;

	zd_state_hash_u64(h, (uint64_t)dm->nr_chunks);
	for (i = 0; i < dm->nr_chunks; i++) {
		zd_state_hash_ptr(h, dm->chunks[i].pgmap);
		zd_state_hash_u64(h, (uint64_t)zd_atomic_long_read_relaxed(&dm->chunks[i].bo_refs));
	}
	for (f = dm->free_pages; f; f = f->zone_device_data)
		zd_state_hash_u64(h, f->pfn);
	zd_state_hash_u64(h, ZD_PFN_NONE);
	for (f = dm->free_huge; f; f = f->zone_device_data)
		zd_state_hash_u64(h, f->pfn);
	zd_state_hash_u64(h, ZD_PFN_NONE);
	zd_state_hash_u64(h, dm->nr_free);
	zd_state_hash_u64(h, dm->fail_alloc);
	zd_state_hash_u64(h, (uint64_t)zd_atomic_long_read_relaxed(&dm->bos_freed));
	for (m = dm->mirrors; m; m = m->next) {
		zd_state_hash_ptr(h, &m->notifier);
		zd_state_hash_ptr(h, m->mm);
		zd_state_hash_u64(h, m->nr);
		for (j = 0; j < m->nr; j++) {
			zd_state_hash_u64(h, m->pt[j].vpn);
			zd_state_hash_u64(h, m->pt[j].pfn);
			zd_state_hash_u64(h, m->pt[j].tag);
		}
	}
}

static void zd_dmirror_destroy(struct zd_device *dev)
{
	struct zd_dmirror *dm = dev->priv;
	struct zd_dmirror_mirror *m;

	if (!dm)
		return;
	while ((m = dm->mirrors)) {
		struct zd_mm *mm = ZD_READ_ONCE(m->mm);

		/* A mirror of a live process leaves its mm before it is freed. */
		if (mm)
			zd_dmirror_notifier_remove(mm, &m->notifier);
		dm->mirrors = m->next;
		zd_mirror_free(m);
	}
	free(dm->chunks);
	free(dm);
	dev->priv = NULL;
}

const struct zd_device_ops zd_dmirror_ops = {
    .probe = zd_dmirror_probe,
    .alloc = zd_dmirror_alloc,
    .free = zd_dmirror_free,
    .nr_free = zd_dmirror_nr_free,
    .audit = zd_dmirror_audit,
    .state_hash = zd_dmirror_state_hash,
    .destroy = zd_dmirror_destroy,
    .evict = zd_dmirror_evict,
};
