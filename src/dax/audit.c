/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the FS DAX part of the audit (reference §5 items 6, 13, 27-30):
 * no file holds a folio reference, association states match the file
 * entries, folio order matches entry order, no layout breaker sleeps on an
 * idle page, no free block has a busy page.
 */
#include "dax/dax_internal.h"
#include "check/check.h"
#include "mem/mem.h"
#include "world.h"

struct zd_dax_audit {
	struct zd_daxfs *fs;
	int found;
};

/* §5.6: the association entry holds no reference: no FILE holder on our pages. */
static void zd_dax_audit_ledger(void *arg, unsigned long pfn, struct zd_holder h, long count)
{
	struct zd_dax_audit *d = arg;
	struct zd_daxfs *fs = d->fs;

	if (h.kind != ZD_HOLD_FILE || pfn < fs->first_pfn || pfn >= fs->first_pfn + fs->nr_blocks)
		return;
	zd_report(fs->w, ZD_INV_FSDAX_CACHE_REF, pfn,
		  "a file holds %ld reference%s on an FS DAX page: the DAX entry must hold none",
		  count, count == 1 ? "" : "s");
	d->found++;
}

/* Associations per block head (large folios: counted at the folio's head block). */
struct zd_dax_assoc_count {
	unsigned int n;
	struct zd_dax_file *file; /* the last association seen */
	unsigned long index;
};

static void zd_dax_audit_entries(struct zd_dax_audit *d, struct zd_dax_assoc_count *cnt)
{
	struct zd_daxfs *fs = d->fs;
	bool large = zd_policy_type(fs->w->policy, ZD_MEMORY_DEVICE_FS_DAX)->large_folios;
	struct zd_dax_file *f;
	unsigned long i, j;

	for (f = fs->files; f; f = f->next) {
		for (i = 0; i < f->nr; i++) {
			unsigned int order;
			long b = f->blocks[i];

			if (f->eorder[i] == ZD_DAX_NO_ENTRY || b < 0)
				continue;
			order = (unsigned int)f->eorder[i];
			if (i & ((1ul << order) - 1))
				continue; /* not the entry's first page */
			if (order && large) {
				struct zd_folio *folio =
				    zd_daxfs_block_folio(fs, (unsigned long)b);

				if (zd_folio_order(folio) != order ||
				    folio->pfn != fs->first_pfn + (unsigned long)b) {
					zd_report(fs->w, ZD_INV_FSDAX_ENTRY_ORDER, folio->pfn,
						  "%s index %lu: entry of order %u, folio of order %u",
						  f->as.name, i, order, zd_folio_order(folio));
					d->found++;
					continue;
				}
				cnt[b].n++;
				cnt[b].file = f;
				cnt[b].index = i;
				continue;
			}
			for (j = 0; j < (1ul << order) && i + j < f->nr; j++) {
				long bj = f->blocks[i + j];
				struct zd_folio *folio;

				if (bj < 0)
					continue;
				folio = zd_daxfs_block_folio(fs, (unsigned long)bj);
				if (zd_folio_order(folio)) {
					zd_report(fs->w, ZD_INV_FSDAX_ENTRY_ORDER, folio->pfn,
						  "%s index %lu: entry of order %u, folio of order %u",
						  f->as.name, i + j, order, zd_folio_order(folio));
					d->found++;
					continue;
				}
				cnt[bj].n++;
				cnt[bj].file = f;
				cnt[bj].index = i + j;
			}
		}
	}
}

/* §5.27: the (mapping, index / share) word agrees with the associations counted. */
static void zd_dax_audit_states(struct zd_dax_audit *d, const struct zd_dax_assoc_count *cnt)
{
	struct zd_daxfs *fs = d->fs;
	unsigned long b;

	for (b = 0; b < fs->nr_blocks; b++) {
		struct zd_folio *page = (struct zd_folio *)zd_pfn_to_page(fs->w, fs->first_pfn + b);
		void *mapping;
		bool ok;

		if (zd_pfn_folio(fs->w, page->pfn) != page)
			continue; /* a tail: its folio is checked at its head */
		mapping = ZD_READ_ONCE(page->mapping);
		if (!cnt[b].n)
			ok = !mapping && !page->share;
		else if (cnt[b].n == 1)
			ok = (mapping == &cnt[b].file->as && page->index == cnt[b].index) ||
			     (!mapping && page->share == 1);
		else
			ok = !mapping && page->share == cnt[b].n;
		if (!ok) {
			zd_report(fs->w, ZD_INV_FSDAX_ASSOCIATION, page->pfn,
				  "%u association%s, but mapping=%p %s=%lu", cnt[b].n,
				  cnt[b].n == 1 ? "" : "s", mapping, mapping ? "index" : "share",
				  page->index);
			d->found++;
		}
		/* §5.29-30: a block the filesystem gave back is not in use */
		if (fs->used[b] && !fs->blkref[b] && zd_dax_folio_busy(page)) {
			zd_report(fs->w, ZD_INV_FSDAX_BUSY_BLOCK_FREED, page->pfn,
				  "block %lu is free but its page is busy (refcount %d)", b,
				  zd_folio_ref_count(page));
			d->found++;
		}
	}
}

/* §5.13: a layout breaker sleeps only on a page that is still busy. */
static void zd_dax_audit_waiters(struct zd_dax_audit *d)
{
	struct zd_daxfs *fs = d->fs;
	struct zd_dax_waiter *wt;

	zd_spin_lock(&fs->wlock);
	for (wt = fs->waiters; wt; wt = wt->next) {
		if (zd_dax_folio_busy(wt->folio))
			continue;
		zd_report(fs->w, ZD_INV_FSDAX_MISSED_WAKEUP, wt->folio->pfn,
			  "a layout break of %s sleeps on a page that is idle (refcount %d): its "
			  "wake-up was missed",
			  wt->file->as.name, zd_folio_ref_count(wt->folio));
		d->found++;
	}
	zd_spin_unlock(&fs->wlock);
}

void zd_daxfs_audit(struct zd_world *w, struct zd_audit *a, struct zd_daxfs *fs)
{
	struct zd_dax_audit d = {.fs = fs};
	struct zd_dax_assoc_count *cnt;

	if (!fs || zd_pgmap_state(fs->pgmap) != ZD_PGMAP_LIVE)
		return;
	zd_ledger_for_each(w, zd_dax_audit_ledger, &d);
	zd_dax_audit_waiters(&d);
	cnt = zd_kzalloc(w, fs->nr_blocks * sizeof(*cnt));
	if (cnt) {
		zd_dax_audit_entries(&d, cnt);
		zd_dax_audit_states(&d, cnt);
		zd_kfree(w, cnt, fs->nr_blocks * sizeof(*cnt));
	}
	zd_audit_add_found(a, d.found);
}

/*
 * The digest of the filesystem: block allocation (next-fit hint, reference
 * counts, blocks ever used: a reused block is cleared, a fresh one not),
 * every file's block map and association entries in list order, and the
 * layout breakers asleep.
 */
void zd_daxfs_state_hash(struct zd_daxfs *fs, struct zd_state_hash *h)
{
	struct zd_dax_waiter *wt;
	struct zd_dax_file *f;

	zd_state_hash_u64(h, fs->first_pfn);
	zd_state_hash_u64(h, fs->nr_blocks);
	zd_state_hash_u64(h, fs->hint);
	zd_state_hash_u64(h, fs->align_order);
	zd_state_hash_u64(h, fs->nr_free);
	zd_state_hash_u64(h, fs->dead);
	zd_state_hash_ptr(h, fs->pgmap);
	zd_state_hash_bytes(h, fs->blkref, fs->nr_blocks * sizeof(*fs->blkref));
	zd_state_hash_bytes(h, fs->used, fs->nr_blocks * sizeof(*fs->used));
	for (f = fs->files; f; f = f->next) {
		zd_state_hash_ptr(h, f);
		zd_state_hash_ptr(h, &f->as);
		zd_state_hash_str(h, f->as.name);
		zd_state_hash_u64(h, (uint64_t)f->as.nr_vmas);
		zd_state_hash_u64(h, f->deleted);
		zd_state_hash_u64(h, f->size);
		zd_state_hash_u64(h, f->nr);
		zd_state_hash_bytes(h, f->blocks, f->nr * sizeof(*f->blocks));
		zd_state_hash_bytes(h, f->eorder, f->nr * sizeof(*f->eorder));
	}
	for (wt = fs->waiters; wt; wt = wt->next) {
		zd_state_hash_u64(h, wt->folio ? wt->folio->pfn : ZD_PFN_NONE);
		zd_state_hash_ptr(h, wt->file);
	}
}
