/* SPDX-License-Identifier: MIT */
/*
 * zonedev: a small DAX filesystem on a pmem device. Files are arrays of
 * device blocks (4 KiB pages of the device), allocated in extents aligned
 * to the device's alignment where the free space allows. A DAX fault maps
 * a file's blocks straight into the process (PTE, PMD or PUD) and
 * associates their folios with the file; truncate, hole-punch, reflink and
 * delete break the layout first: unmap, wait until no page of the range is
 * busy, then drop the association entries and free the blocks.
 *
 * What differs per regime (a mapping's reference, large folios, the idle
 * count) is read from the policy row of FS DAX pages (src/page/regime.c).
 */
#include <string.h>
#include <stdio.h>

#include "dax/dax_internal.h"
#include "check/check.h"
#include "mem/mem.h"
#include "world.h"

#define ZD_DAX_MAX_NAME 63

static const struct zd_type_policy *zd_daxfs_policy(struct zd_daxfs *fs)
{
	return zd_policy_type(fs->w->policy, ZD_MEMORY_DEVICE_FS_DAX);
}

struct zd_folio *zd_daxfs_block_folio(struct zd_daxfs *fs, unsigned long blk)
{
	return blk < fs->nr_blocks ? zd_memmap_folio(fs->memmap, fs->first_pfn + blk) : NULL;
}

static struct zd_folio *zd_daxfs_block_page(struct zd_daxfs *fs, unsigned long blk)
{
	/* the block's own struct page, viewed as an order-0 folio (no compound lookup) */
	return (struct zd_folio *)zd_memmap_page(fs->memmap, fs->first_pfn + blk);
}

bool zd_dax_folio_busy(const struct zd_folio *folio)
{
	const struct zd_type_policy *tp = zd_folio_policy(folio);
	int rc = zd_folio_ref_count(folio);

	if (tp->mapping_takes_ref)
		rc -= zd_folio_mapcount(folio);
	return rc > tp->free_refcount;
}

/* ---- Files ----------------------------------------------------------------------------------- */

static struct zd_dax_file *zd_dax_lookup(struct zd_daxfs *fs, const char *name)
{
	struct zd_dax_file *f;

	for (f = fs->files; f; f = f->next)
		if (!f->deleted && !strcmp(f->as.name, name))
			return f;
	return NULL;
}

static unsigned long zd_dax_pages(uint64_t size)
{
	return (unsigned long)((size + ZD_PAGE_SIZE - 1) >> ZD_PAGE_SHIFT);
}

/* Make room for `nr` pages (new ones are holes without entries). */
static int zd_dax_file_resize(struct zd_dax_file *f, unsigned long nr)
{
	struct zd_world *w = f->fs->w;
	long *blocks;
	signed char *eorder;
	unsigned long i;

	if (nr <= f->nr)
		return 0;
	blocks = zd_kzalloc(w, nr * sizeof(*blocks));
	eorder = zd_kzalloc(w, nr);
	if (!blocks || !eorder) {
		zd_kfree(w, blocks, nr * sizeof(*blocks));
		zd_kfree(w, eorder, nr);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		blocks[i] = i < f->nr ? f->blocks[i] : ZD_DAX_HOLE;
		eorder[i] = i < f->nr ? f->eorder[i] : ZD_DAX_NO_ENTRY;
	}
	zd_kfree(w, f->blocks, f->nr * sizeof(*f->blocks));
	zd_kfree(w, f->eorder, f->nr);
	f->blocks = blocks;
	f->eorder = eorder;
	f->nr = nr;
	return 0;
}

static struct zd_dax_file *zd_dax_file_new(struct zd_daxfs *fs, const char *name)
{
	struct zd_dax_file *f = zd_kzalloc(fs->w, sizeof(*f));

	if (!f)
		return NULL;
	f->fs = fs;
	f->as.world = fs->w;
	snprintf(f->as.name, sizeof(f->as.name), "%s", name);
	zd_mutex_init(&f->as.lock);
	f->next = fs->files;
	fs->files = f;
	return f;
}

/* ---- Blocks ---------------------------------------------------------------------------------- */

/* A block can be handed out: no file names it and nothing uses its page. */
static bool zd_daxfs_block_free(struct zd_daxfs *fs, unsigned long blk)
{
	struct zd_folio *page = zd_daxfs_block_page(fs, blk);

	return !fs->blkref[blk] && !zd_folio_test_large(zd_memmap_folio(fs->memmap, page->pfn)) &&
	       zd_folio_idle(page);
}

/* A free extent of 2^order blocks aligned to its size (next fit from the hint), or -1. */
static long zd_daxfs_find_extent(struct zd_daxfs *fs, unsigned int order)
{
	unsigned long n = 1ul << order, start, b, i, tried;

	if (n > fs->nr_blocks)
		return -1;
	start = (fs->hint + n - 1) & ~(n - 1);
	for (tried = 0, b = start; tried < fs->nr_blocks; tried += n, b += n) {
		if (b + n > fs->nr_blocks)
			b = 0;
		for (i = 0; i < n && zd_daxfs_block_free(fs, b + i); i++)
			;
		if (i == n) {
			fs->hint = b + n;
			return (long)b;
		}
	}
	return -1;
}

static void zd_daxfs_take(struct zd_daxfs *fs, unsigned long blk)
{
	if (!fs->blkref[blk]++)
		fs->nr_free--;
}

static void zd_daxfs_release(struct zd_daxfs *fs, unsigned long blk)
{
	if (fs->blkref[blk] && !--fs->blkref[blk])
		fs->nr_free++;
}

/* New blocks read as zeroes: a block used before is cleared, a fresh one is zero already. */
static void zd_daxfs_zero(struct zd_daxfs *fs, unsigned long blk, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		void *data;

		if (!fs->used[blk + i]) {
			fs->used[blk + i] = true;
			continue;
		}
		data = zd_page_data(fs->w, fs->first_pfn + blk + i);
		if (data)
			memset(data, 0, ZD_PAGE_SIZE);
	}
}

/*
 * Fill file pages [from, to) with blocks: whole aligned extents of the
 * device's alignment (1 GiB, then 2 MiB) where the file range and the free
 * space allow, single blocks otherwise. -ENOMEM (pages filled so far stay).
 */
static int zd_daxfs_fill(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long from,
			 unsigned long to)
{
	static const unsigned int orders[] = {ZD_PUD_ORDER, ZD_PMD_ORDER};
	unsigned long i = from, j;

	while (i < to) {
		long b = -1;
		unsigned int k, order = 0;

		for (k = 0; k < 2 && b < 0; k++) {
			unsigned long n = 1ul << orders[k];

			if (orders[k] > fs->align_order || i % n || to - i < n)
				continue;
			b = zd_daxfs_find_extent(fs, orders[k]);
			order = orders[k];
		}
		if (b < 0) {
			b = zd_daxfs_find_extent(fs, 0);
			order = 0;
		}
		if (b < 0)
			return -ENOMEM;
		for (j = 0; j < (1ul << order); j++) {
			zd_daxfs_take(fs, (unsigned long)b + j);
			f->blocks[i + j] = b + (long)j;
		}
		zd_daxfs_zero(fs, (unsigned long)b, 1ul << order);
		i += 1ul << order;
	}
	return 0;
}

/* ---- Association (dax_associate_entry / dax_folio_put) ----------------------------------------- */

static void zd_dax_assoc_folio(struct zd_folio *folio, struct zd_dax_file *f, unsigned long index,
			       bool shared)
{
	if (shared && (ZD_READ_ONCE(folio->mapping) || folio->share)) {
		if (ZD_READ_ONCE(folio->mapping)) {
			/* the first owner's association becomes one share */
			ZD_WRITE_ONCE(folio->mapping, NULL);
			folio->share = 1;
		}
		folio->share++;
		return;
	}
	ZD_WRITE_ONCE(folio->mapping, (void *)&f->as);
	folio->index = index;
}

/* The last association gone: clear the word, dissolve a large folio into base pages. */
static void zd_dax_disassoc_folio(struct zd_daxfs *fs, struct zd_folio *folio)
{
	unsigned int order;
	unsigned long i;

	if (!ZD_READ_ONCE(folio->mapping) && folio->share && --folio->share)
		return;
	ZD_WRITE_ONCE(folio->mapping, NULL);
	folio->index = 0; /* the index/share word: a stale index would read as a share count */
	order = zd_folio_order(folio);
	if (!order)
		return;
	/* the head holds the folio's count; every tail must still be at 0 (the memmap is flat) */
	for (i = 0; i < (1ul << order); i++) {
		const struct zd_page *page = &folio->page + i;
		int rc = zd_atomic_read_relaxed(&page->_refcount);

		if (rc != (i ? 0 : zd_daxfs_policy(fs)->free_refcount))
			zd_report(fs->w, ZD_INV_FSDAX_ASSOCIATION, folio->pfn + i,
				  "dissolving an order-%u FS DAX folio whose page has refcount %d",
				  order, rc);
	}
	zd_clear_compound(&folio->page, order);
	if (zd_tracing(fs->w))
		zd_trace_event(fs->w, folio->pfn, fs->name, "dax_folio_split", "order=%u -> 0",
			       order);
}

/*
 * Can file pages [idx, idx + 2^order) get one entry of that order? Their
 * blocks must be one aligned extent; with large folios every page must be
 * free to become part of a new folio, or the folio of that order must
 * exist already (a reflinked extent another file associated).
 */
static bool zd_dax_entry_possible(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long idx,
				  unsigned int order)
{
	unsigned long n = 1ul << order, i;
	long b = f->blocks[idx];
	struct zd_folio *head;

	if (b < 0 || (unsigned long)b % n)
		return false;
	for (i = 0; i < n; i++)
		if (f->blocks[idx + i] != b + (long)i || f->eorder[idx + i] != ZD_DAX_NO_ENTRY)
			return false;
	if (!order || !zd_daxfs_policy(fs)->large_folios)
		return true;
	head = zd_daxfs_block_folio(fs, (unsigned long)b);
	if (zd_folio_order(head) == order && head->pfn == fs->first_pfn + (unsigned long)b)
		return true;
	for (i = 0; i < n; i++) {
		struct zd_folio *page = zd_daxfs_block_page(fs, (unsigned long)b + i);

		if (zd_memmap_folio(fs->memmap, page->pfn) != page || ZD_READ_ONCE(page->mapping) ||
		    page->share || zd_atomic_read_relaxed(&page->_refcount) ||
		    zd_page_test_flag(&page->page, ZD_PG_hwpoison))
			return false;
	}
	return true;
}

/* Insert the entry of `order` at file page idx and associate its folio (or pages). */
static void zd_dax_insert_entry(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long idx,
				unsigned int order)
{
	unsigned long n = 1ul << order, i;
	unsigned long b = (unsigned long)f->blocks[idx];
	bool shared = fs->blkref[b] > 1;

	for (i = 0; i < n; i++)
		f->eorder[idx + i] = (signed char)order;
	if (order && zd_daxfs_policy(fs)->large_folios) {
		struct zd_folio *head = zd_daxfs_block_page(fs, b);

		if (zd_memmap_folio(fs->memmap, head->pfn) == head && !zd_folio_test_large(head)) {
			zd_prep_compound(&head->page, order); /* dax_folio_init */
			if (zd_tracing(fs->w))
				zd_trace_event(fs->w, head->pfn, fs->name, "dax_folio_init",
					       "order=%u", order);
		}
		zd_dax_assoc_folio(head, f, idx, shared);
	} else {
		for (i = 0; i < n; i++)
			zd_dax_assoc_folio(zd_daxfs_block_page(fs, b + i), f, idx + i, shared);
	}
	if (zd_tracing(fs->w))
		zd_trace_event(fs->w, fs->first_pfn + b, fs->name, "dax_associate_entry",
			       "file=%s index=%lu order=%u%s", f->as.name, idx, order,
			       shared ? " shared" : "");
}

/* Delete the entry whose head is idx, disassociating its folio (or pages). */
static void zd_dax_delete_entry(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long idx)
{
	unsigned int order = (unsigned int)f->eorder[idx];
	unsigned long n = 1ul << order, i;
	long b = f->blocks[idx];

	memset(&f->eorder[idx], ZD_DAX_NO_ENTRY, n);
	if (b < 0)
		return;
	if (order && zd_daxfs_policy(fs)->large_folios) {
		zd_dax_disassoc_folio(fs, zd_daxfs_block_folio(fs, (unsigned long)b));
	} else {
		for (i = 0; i < n; i++)
			if (f->blocks[idx + i] >= 0)
				zd_dax_disassoc_folio(
				    fs, zd_daxfs_block_page(fs, (unsigned long)f->blocks[idx + i]));
	}
	if (zd_tracing(fs->w))
		zd_trace_event(fs->w, fs->first_pfn + (unsigned long)b, fs->name,
			       "dax_disassociate_entry", "file=%s index=%lu order=%u", f->as.name,
			       idx, order);
}

/* [*start, *end) widened to whole entries. */
static void zd_dax_round_entries(struct zd_dax_file *f, unsigned long *start, unsigned long *end)
{
	if (*start < f->nr && f->eorder[*start] > 0)
		*start &= ~((1ul << f->eorder[*start]) - 1);
	if (*end > 0 && *end <= f->nr && f->eorder[*end - 1] > 0)
		*end = (*end - 1 + (1ul << f->eorder[*end - 1])) & ~((1ul << f->eorder[*end - 1]) - 1);
	if (*end > f->nr)
		*end = f->nr;
}

/* ---- Layout breaking (dax_break_layout) ------------------------------------------------------- */

/*
 * dax_layout_busy_page_range: the first busy page among the file's entries
 * in [start, end) (a block without an entry here is not mapped through this
 * file, so not pinned through it either); *at is its file page.
 */
static struct zd_folio *zd_dax_busy_page(struct zd_daxfs *fs, struct zd_dax_file *f,
					 unsigned long start, unsigned long end, unsigned long *at)
{
	bool large = zd_daxfs_policy(fs)->large_folios;
	unsigned long i, step;

	for (i = start; i < end; i += step) {
		struct zd_folio *folio;
		signed char order = f->eorder[i];

		step = 1;
		if (order == ZD_DAX_NO_ENTRY || f->blocks[i] < 0)
			continue;
		folio = zd_daxfs_block_folio(fs, (unsigned long)f->blocks[i]);
		if (order > 0 && large)
			step = (1ul << order) - (i & ((1ul << order) - 1)); /* one folio */
		if (zd_dax_folio_busy(folio)) {
			*at = i;
			return folio;
		}
	}
	return NULL;
}

static bool zd_dax_not_busy(void *arg)
{
	return !zd_dax_folio_busy(arg);
}

static void zd_dax_waiter_add(struct zd_daxfs *fs, struct zd_dax_waiter *wt)
{
	zd_spin_lock(&fs->wlock);
	wt->next = fs->waiters;
	fs->waiters = wt;
	zd_spin_unlock(&fs->wlock);
}

static void zd_dax_waiter_del(struct zd_daxfs *fs, struct zd_dax_waiter *wt)
{
	struct zd_dax_waiter **pp;

	zd_spin_lock(&fs->wlock);
	for (pp = &fs->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	}
	zd_spin_unlock(&fs->wlock);
}

/*
 * Break the layout of file pages [start, end): loop { unmap the range
 * (widened to whole entries) from every mapping; find a busy page; none:
 * delete the entries and return 0 with fs->lock held; else sleep until
 * that page is idle, without fs->lock, and try again }. -EINTR when the
 * wait is cancelled (fs->lock held again).
 */
static int zd_dax_break_layout(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long start,
			       unsigned long end, const char *op)
{
	const struct zd_type_policy *tp = zd_daxfs_policy(fs);
	unsigned long s, e, i, pos = 0, at = 0;
	bool waited = false;

	for (;;) {
		struct zd_dax_waiter wt = {.file = f};
		char what[160];
		int ret;

		s = start;
		e = end < f->nr ? end : f->nr;
		if (s >= e)
			return 0;
		zd_dax_round_entries(f, &s, &e);
		if (pos < s)
			pos = s;
		/*
		 * After a wait the scan resumes at the page that was busy (the
		 * pages before it were idle); once it reaches the end, one more
		 * pass from the start catches what was mapped and pinned meanwhile.
		 */
		zd_unmap_mapping_pages(&f->as, pos, e - pos);
		wt.folio = zd_dax_busy_page(fs, f, pos, e, &at);
		if (!wt.folio) {
			if (!waited)
				break;
			waited = false;
			pos = s;
			continue;
		}
		if (zd_tracing(fs->w))
			zd_trace_event(fs->w, wt.folio->pfn, fs->name, "dax_layout_busy_page",
				       "%s %s: refcount=%d mapcount=%d, busy while refcount%s > %d",
				       op, f->as.name, zd_folio_ref_count(wt.folio),
				       zd_folio_mapcount(wt.folio),
				       tp->mapping_takes_ref ? " - mapcount" : "", tp->free_refcount);
		snprintf(what, sizeof(what), "%s of %s waits for page %s+%lup to go idle (refcount %d)",
			 op, f->as.name, fs->name, wt.folio->pfn - fs->first_pfn,
			 tp->free_refcount);
		zd_dax_waiter_add(fs, &wt);
		zd_mutex_unlock(&fs->lock);
		ret = zd_wait_var_event(wt.folio, zd_dax_not_busy, wt.folio, what);
		zd_mutex_lock(&fs->lock);
		zd_dax_waiter_del(fs, &wt);
		if (ret)
			return ret;
		if (zd_tracing(fs->w))
			zd_trace_event(fs->w, wt.folio->pfn, fs->name, "dax_page_idle",
				       "%s %s: refcount=%d", op, f->as.name,
				       zd_folio_ref_count(wt.folio));
		if (f->deleted)
			return -ENOENT;
		pos = at;
		waited = true;
	}
	/* Nothing busy: the entries go (and with the last of a folio, its association). */
	for (i = s; i < e; i++)
		if (f->eorder[i] != ZD_DAX_NO_ENTRY && !(i & ((1ul << f->eorder[i]) - 1)))
			zd_dax_delete_entry(fs, f, i);
	return 0;
}

/* Free the blocks of file pages [start, end) (their entries are gone). */
static void zd_dax_free_blocks(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long start,
			       unsigned long end)
{
	unsigned long i;

	for (i = start; i < end && i < f->nr; i++) {
		if (f->blocks[i] < 0)
			continue;
		zd_daxfs_release(fs, (unsigned long)f->blocks[i]);
		f->blocks[i] = ZD_DAX_HOLE;
	}
}

/* ---- File operations ---------------------------------------------------------------------------- */

static int zd_daxfs_enter(struct zd_daxfs *fs, const char *name)
{
	if (!fs || !name || !*name || strlen(name) > ZD_DAX_MAX_NAME)
		return -EINVAL;
	zd_mutex_lock(&fs->lock);
	if (fs->dead) {
		zd_mutex_unlock(&fs->lock);
		return -ENXIO;
	}
	return 0;
}

int zd_dax_create(struct zd_daxfs *fs, const char *name, uint64_t size)
{
	unsigned long pages = zd_dax_pages(size);
	struct zd_dax_file *f;
	int ret = zd_daxfs_enter(fs, name);

	if (ret)
		return ret;
	if (zd_dax_lookup(fs, name)) {
		ret = -EEXIST;
	} else if (pages > fs->nr_free) {
		ret = -ENOMEM;
	} else if (!(f = zd_dax_file_new(fs, name))) {
		ret = -ENOMEM;
	} else {
		ret = zd_dax_file_resize(f, pages);
		if (!ret)
			ret = zd_daxfs_fill(fs, f, 0, pages);
		if (ret) {
			zd_dax_free_blocks(fs, f, 0, f->nr);
			f->deleted = true;
		} else {
			f->size = size;
		}
	}
	zd_mutex_unlock(&fs->lock);
	return ret;
}

int zd_dax_truncate(struct zd_daxfs *fs, const char *name, uint64_t size)
{
	struct zd_dax_file *f;
	unsigned long pages = zd_dax_pages(size);
	int ret = zd_daxfs_enter(fs, name);

	if (ret)
		return ret;
	f = zd_dax_lookup(fs, name);
	if (!f) {
		ret = -ENOENT;
	} else if (pages < zd_dax_pages(f->size)) {
		ret = zd_dax_break_layout(fs, f, pages, f->nr, "truncate");
		if (!ret) {
			zd_dax_free_blocks(fs, f, pages, f->nr);
			f->size = size;
		}
	} else {
		/* growing: the new pages are holes, filled by the first fault */
		ret = zd_dax_file_resize(f, pages);
		if (!ret)
			f->size = size;
	}
	zd_mutex_unlock(&fs->lock);
	return ret;
}

int zd_dax_punch(struct zd_daxfs *fs, const char *name, uint64_t off, uint64_t len)
{
	struct zd_dax_file *f;
	unsigned long start, end;
	int ret;

	if ((off | len) & (ZD_PAGE_SIZE - 1) || !len || off + len < off)
		return -EINVAL;
	ret = zd_daxfs_enter(fs, name);
	if (ret)
		return ret;
	f = zd_dax_lookup(fs, name);
	if (!f) {
		ret = -ENOENT;
	} else {
		start = (unsigned long)(off >> ZD_PAGE_SHIFT);
		end = start + (unsigned long)(len >> ZD_PAGE_SHIFT);
		if (end > f->nr)
			end = f->nr;
		if (start < end) {
			ret = zd_dax_break_layout(fs, f, start, end, "punch");
			if (!ret)
				zd_dax_free_blocks(fs, f, start, end);
		}
	}
	zd_mutex_unlock(&fs->lock);
	return ret;
}

int zd_dax_reflink(struct zd_daxfs *fs, const char *dst, const char *src)
{
	struct zd_dax_file *d, *s;
	unsigned long i;
	int ret;

	if (!dst || !src || !*dst || !strcmp(dst, src) || strlen(dst) > ZD_DAX_MAX_NAME)
		return -EINVAL;
	ret = zd_daxfs_enter(fs, src);
	if (ret)
		return ret;
	d = zd_dax_lookup(fs, dst);
	if (!zd_dax_lookup(fs, src)) {
		ret = -ENOENT; /* checked first: a missing source leaves dst as it was */
	} else if (d) {
		ret = zd_dax_break_layout(fs, d, 0, d->nr, "reflink");
		if (!ret)
			zd_dax_free_blocks(fs, d, 0, d->nr);
	}
	s = zd_dax_lookup(fs, src);
	if (!ret && !s)
		ret = -ENOENT;
	if (!ret && !d && !(d = zd_dax_file_new(fs, dst)))
		ret = -ENOMEM;
	if (!ret)
		ret = zd_dax_file_resize(d, s->nr);
	if (!ret) {
		for (i = 0; i < s->nr; i++) {
			d->blocks[i] = s->blocks[i];
			if (s->blocks[i] >= 0)
				zd_daxfs_take(fs, (unsigned long)s->blocks[i]);
		}
		d->size = s->size;
		if (zd_tracing(fs->w))
			zd_trace_event(fs->w, ZD_PFN_NONE, fs->name, "dax_reflink", "%s -> %s", src,
				       dst);
	}
	zd_mutex_unlock(&fs->lock);
	return ret;
}

int zd_dax_delete(struct zd_daxfs *fs, const char *name)
{
	struct zd_dax_file *f;
	int ret = zd_daxfs_enter(fs, name);

	if (ret)
		return ret;
	f = zd_dax_lookup(fs, name);
	if (!f) {
		ret = -ENOENT;
	} else {
		ret = zd_dax_break_layout(fs, f, 0, f->nr, "delete");
		if (!ret) {
			zd_dax_free_blocks(fs, f, 0, f->nr);
			f->size = 0;
			f->deleted = true;
		}
	}
	zd_mutex_unlock(&fs->lock);
	return ret;
}

long zd_dax_file_blocks(struct zd_daxfs *fs, const char *name)
{
	struct zd_dax_file *f;
	unsigned long i;
	long n = 0;

	if (!fs || !name)
		return -EINVAL;
	zd_mutex_lock(&fs->lock);
	f = zd_dax_lookup(fs, name);
	if (f)
		for (i = 0; i < f->nr; i++)
			n += f->blocks[i] >= 0;
	zd_mutex_unlock(&fs->lock);
	return f ? n : -ENOENT;
}

unsigned long zd_daxfs_nr_free(struct zd_daxfs *fs)
{
	return fs ? fs->nr_free : 0;
}

/* ---- The DAX fault (dax_iomap_fault) ---------------------------------------------------------- */

static bool zd_dax_range_poisoned(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long idx,
				  unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		long b = f->blocks[idx + i];

		if (b >= 0 && zd_page_test_flag(&zd_daxfs_block_page(fs, (unsigned long)b)->page,
						ZD_PG_hwpoison))
			return true;
	}
	return false;
}

/*
 * Copy-on-write of a reflinked block at file page idx (a write through this
 * file): this file's entry covering idx goes (unmapped from its mappings,
 * disassociated), the page is copied into a new block the file then names
 * alone. SIGBUS when the entry is busy (a pinned shared extent is not
 * copied under its pin) or no block is free.
 */
static int zd_dax_cow(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long idx)
{
	unsigned long s = idx, e = idx + 1, i, at, ob = (unsigned long)f->blocks[idx];
	void *src, *dst;
	long nb;

	if (f->eorder[idx] != ZD_DAX_NO_ENTRY) {
		zd_dax_round_entries(f, &s, &e);
		zd_unmap_mapping_pages(&f->as, s, e - s);
		if (zd_dax_busy_page(fs, f, s, e, &at))
			return ZD_VM_FAULT_SIGBUS;
		for (i = s; i < e; i++)
			if (f->eorder[i] != ZD_DAX_NO_ENTRY && !(i & ((1ul << f->eorder[i]) - 1)))
				zd_dax_delete_entry(fs, f, i);
	}
	nb = zd_daxfs_find_extent(fs, 0);
	if (nb < 0)
		return ZD_VM_FAULT_SIGBUS; /* ENOSPC */
	src = zd_page_data(fs->w, fs->first_pfn + ob);
	dst = zd_page_data(fs->w, fs->first_pfn + (unsigned long)nb);
	if (!src || !dst)
		return ZD_VM_FAULT_OOM;
	zd_daxfs_take(fs, (unsigned long)nb);
	fs->used[nb] = true;
	memcpy(dst, src, ZD_PAGE_SIZE);
	zd_daxfs_release(fs, ob);
	f->blocks[idx] = nb;
	if (zd_tracing(fs->w))
		zd_trace_event(fs->w, fs->first_pfn + (unsigned long)nb, fs->name, "dax_cow",
			       "file=%s index=%lu block %lu -> %ld", f->as.name, idx, ob, nb);
	return 0;
}

static bool zd_dax_range_shared(struct zd_daxfs *fs, struct zd_dax_file *f, unsigned long idx,
				unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (f->blocks[idx + i] >= 0 && fs->blkref[f->blocks[idx + i]] > 1)
			return true;
	return false;
}

static int zd_dax_fault_locked(struct zd_daxfs *fs, struct zd_dax_file *f, struct zd_vm_fault *vmf,
			       unsigned int level)
{
	const struct zd_type_policy *tp = zd_daxfs_policy(fs);
	unsigned int order = 9 * (level - 1);
	unsigned long n = 1ul << order, idx, pfn;
	uint64_t size = ZD_PAGE_SIZE << order;
	uint64_t base = vmf->address & ~(size - 1);
	bool write = vmf->flags & ZD_FAULT_FLAG_WRITE;
	struct zd_holder tmp = ZD_HOLDER(ZD_HOLD_TEMP, vmf->mm);
	struct zd_folio *folio;
	int ret;

	if (base < zd_vma_start(vmf->vma) || base + size > zd_vma_end(vmf->vma))
		return ZD_VM_FAULT_FALLBACK;
	idx = zd_vma_pgoff(vmf->vma, base);
	if (idx % n)
		return ZD_VM_FAULT_FALLBACK;
	if (fs->dead || f->deleted || zd_pgmap_state(fs->pgmap) != ZD_PGMAP_LIVE)
		return ZD_VM_FAULT_SIGBUS;
	if (idx + n > zd_dax_pages(f->size))
		return level > 1 ? ZD_VM_FAULT_FALLBACK : ZD_VM_FAULT_SIGBUS; /* beyond EOF */
	if (zd_dax_range_poisoned(fs, f, idx, n))
		return level > 1 ? ZD_VM_FAULT_FALLBACK : ZD_VM_FAULT_SIGBUS;
	if (level > 1) {
		if (f->eorder[idx] != (signed char)order && !zd_dax_entry_possible(fs, f, idx, order))
			return ZD_VM_FAULT_FALLBACK;
		if (write && zd_dax_range_shared(fs, f, idx, n))
			return ZD_VM_FAULT_FALLBACK; /* shared extents are copied page by page */
	} else if (f->blocks[idx] < 0) {
		/* a hole: the fault allocates its block */
		if (zd_daxfs_fill(fs, f, idx, idx + 1))
			return ZD_VM_FAULT_SIGBUS;
	} else if (write && fs->blkref[f->blocks[idx]] > 1) {
		ret = zd_dax_cow(fs, f, idx);
		if (ret)
			return ret;
	}
	if (level == 1 && f->eorder[idx] == ZD_DAX_NO_ENTRY && tp->large_folios) {
		/*
		 * The block is part of a large folio another file associated (a
		 * reflinked extent): this file's entry must cover the whole folio
		 * (the PTE maps one page of it), or the page is copied so that no
		 * entry is smaller than its folio.
		 */
		struct zd_folio *cur = zd_daxfs_block_folio(fs, (unsigned long)f->blocks[idx]);

		if (zd_folio_test_large(cur)) {
			unsigned int fo = zd_folio_order(cur);
			unsigned long head = idx & ~((1ul << fo) - 1);

			if (head + (1ul << fo) <= zd_dax_pages(f->size) && f->blocks[head] >= 0 &&
			    fs->first_pfn + (unsigned long)f->blocks[head] == cur->pfn &&
			    zd_dax_entry_possible(fs, f, head, fo)) {
				zd_dax_insert_entry(fs, f, head, fo);
			} else {
				ret = zd_dax_cow(fs, f, idx);
				if (ret)
					return ret;
			}
		}
	}
	if (f->eorder[idx] == ZD_DAX_NO_ENTRY)
		zd_dax_insert_entry(fs, f, idx, order);
	pfn = fs->first_pfn + (unsigned long)f->blocks[idx];
	folio = zd_memmap_folio(fs->memmap, pfn);
	/*
	 * Unified: a raw reference first (the 0 -> 1 is legal here), the insert
	 * takes the mapping's own, the temporary one goes. The older regimes
	 * insert a devmap entry and touch no count.
	 */
	if (tp->mapping_takes_ref) {
		ret = zd_dax_folio_get(folio, tmp);
		if (ret)
			return ZD_VM_FAULT_SIGBUS;
	}
	ret = zd_vmf_insert_folio(vmf, folio, pfn, level, write);
	if (tp->mapping_takes_ref)
		zd_folio_put(folio, tmp);
	return ret;
}

static int zd_dax_fault(struct zd_vm_fault *vmf, unsigned int level)
{
	struct zd_dax_file *f = zd_vma_private(vmf->vma);
	struct zd_daxfs *fs = f->fs;
	int ret;

	zd_mutex_lock(&fs->lock);
	ret = zd_dax_fault_locked(fs, f, vmf, level);
	zd_mutex_unlock(&fs->lock);
	return ret;
}

/* A write to a read-only DAX entry: a reflinked block is copied first (the entry goes). */
static int zd_dax_mkwrite(struct zd_vm_fault *vmf)
{
	struct zd_dax_file *f = zd_vma_private(vmf->vma);
	struct zd_daxfs *fs = f->fs;
	unsigned long idx = zd_vma_pgoff(vmf->vma, vmf->address);
	int ret = ZD_VM_FAULT_OK;

	zd_mutex_lock(&fs->lock);
	if (fs->dead || f->deleted)
		ret = ZD_VM_FAULT_SIGBUS;
	else if (idx < f->nr && f->blocks[idx] >= 0 && fs->blkref[f->blocks[idx]] > 1)
		ret = zd_dax_cow(fs, f, idx);
	if (!ret && idx < f->nr && f->eorder[idx] == ZD_DAX_NO_ENTRY)
		ret = ZD_VM_FAULT_RETRY; /* the entry went: fault it in again */
	zd_mutex_unlock(&fs->lock);
	return ret;
}

static const struct zd_vm_operations zd_dax_vm_ops = {
    .fault = zd_dax_fault,
    .mkwrite = zd_dax_mkwrite,
};

int zd_dax_mmap(struct zd_daxfs *fs, const char *name, struct zd_mm *mm, uint64_t size,
		unsigned int prot, uint64_t *addr)
{
	struct zd_mmap_args args = {
	    .kind = ZD_MAP_DAX,
	    .size = size,
	    .prot = prot,
	    .shared = true,
	    .vm_ops = &zd_dax_vm_ops,
	};
	struct zd_dax_file *f;
	int ret = zd_daxfs_enter(fs, name);

	if (ret)
		return ret;
	f = zd_dax_lookup(fs, name);
	args.align = ZD_PAGE_SIZE << fs->align_order;
	zd_mutex_unlock(&fs->lock);
	if (!f)
		return -ENOENT;
	/* files are never freed before the filesystem: the VMA may keep naming it */
	args.vm_private = f;
	args.mapping = &f->as;
	args.file = f->as.name;
	return zd_mmap(mm, &args, addr);
}

/* ---- notify_failure ---------------------------------------------------------------------------- */

int zd_daxfs_notify_failure(struct zd_daxfs *fs, unsigned long pfn, unsigned long nr, int flags)
{
	struct zd_dax_file *f;
	unsigned long i;
	bool owned = false;

	(void)flags;
	if (!fs || !nr)
		return -EINVAL;
	zd_mutex_lock(&fs->lock);
	for (f = fs->files; f; f = f->next) {
		if (f->deleted)
			continue;
		for (i = 0; i < f->nr; i++) {
			unsigned long b = (unsigned long)f->blocks[i], s = i, e = i + 1;

			if (f->blocks[i] < 0 || fs->first_pfn + b < pfn ||
			    fs->first_pfn + b >= pfn + nr)
				continue;
			owned = true;
			zd_page_set_flag(&zd_daxfs_block_page(fs, b)->page, ZD_PG_hwpoison);
			/* mf_dax_kill_procs: unmap the whole entry; the next touch gets SIGBUS */
			zd_dax_round_entries(f, &s, &e);
			zd_unmap_mapping_pages(&f->as, s, e - s);
			if (zd_tracing(fs->w))
				zd_trace_event(fs->w, fs->first_pfn + b, fs->name, "dax_notify_failure",
					       "file=%s index=%lu", f->as.name, i);
		}
	}
	zd_mutex_unlock(&fs->lock);
	return owned ? 0 : -EOPNOTSUPP;
}

/* ---- Lifetime --------------------------------------------------------------------------------- */

struct zd_daxfs *zd_daxfs_create(struct zd_world *w, const char *name,
				 struct zd_dev_pagemap *pgmap, unsigned int align_order)
{
	struct zd_daxfs *fs = zd_kzalloc(w, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->w = w;
	fs->name = name;
	fs->pgmap = pgmap;
	fs->first_pfn = zd_pgmap_pfn_first(pgmap, 0);
	fs->memmap = zd_memmap_lookup(w, fs->first_pfn);
	if (!fs->memmap) {
		zd_kfree(w, fs, sizeof(*fs));
		return NULL;
	}
	fs->nr_blocks = zd_pgmap_pfn_end(pgmap, 0) - fs->first_pfn;
	fs->align_order = align_order;
	fs->nr_free = fs->nr_blocks;
	fs->blkref = zd_kzalloc(w, fs->nr_blocks * sizeof(*fs->blkref));
	fs->used = zd_kzalloc(w, fs->nr_blocks * sizeof(*fs->used));
	if (!fs->blkref || !fs->used) {
		zd_kfree(w, fs->blkref, fs->nr_blocks * sizeof(*fs->blkref));
		zd_kfree(w, fs->used, fs->nr_blocks * sizeof(*fs->used));
		zd_kfree(w, fs, sizeof(*fs));
		return NULL;
	}
	zd_mutex_init(&fs->lock);
	zd_spin_lock_init(&fs->wlock);
	return fs;
}

int zd_daxfs_shutdown(struct zd_daxfs *fs)
{
	struct zd_dax_file *f;
	int ret = 0;

	if (!fs)
		return 0;
	zd_mutex_lock(&fs->lock);
	fs->dead = true; /* new faults SIGBUS from here on */
	for (f = fs->files; f && !ret; f = f->next)
		if (!f->deleted)
			ret = zd_dax_break_layout(fs, f, 0, f->nr, "unmount");
	zd_mutex_unlock(&fs->lock);
	return ret;
}

void zd_daxfs_destroy(struct zd_daxfs *fs)
{
	struct zd_dax_file *f;

	if (!fs)
		return;
	while ((f = fs->files)) {
		fs->files = f->next;
		zd_kfree(fs->w, f->blocks, f->nr * sizeof(*f->blocks));
		zd_kfree(fs->w, f->eorder, f->nr);
		zd_kfree(fs->w, f, sizeof(*f));
	}
	zd_kfree(fs->w, fs->blkref, fs->nr_blocks * sizeof(*fs->blkref));
	zd_kfree(fs->w, fs->used, fs->nr_blocks * sizeof(*fs->used));
	zd_kfree(fs->w, fs, sizeof(*fs));
}
