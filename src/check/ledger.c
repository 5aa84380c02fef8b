/* SPDX-License-Identifier: MIT */
/*
 * zonedev check: the holder ledger, who holds how many references on which
 * folio: (pfn, holder) -> count in an open-addressing hash table.
 */
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "mem/mem.h"

/*
 * Both tables use linear probing with backward-shift deletion, so there are
 * no tombstones: a slot is empty exactly when its count is 0, and every
 * stored count is positive (a put that would take a count below zero is
 * refused). `totals` keeps the per-pfn sum so zd_ledger_total() is O(1).
 *
 * The ledger has its own spinlock (not check->lock), so ledger updates and
 * trace recording do not contend. The lock is never held while calling out
 * (the holder namer, zd_report, for_each callbacks).
 */
struct zd_ledger_entry {
	unsigned long pfn;
	uintptr_t id;
	enum zd_holder_kind kind;
	long count; /* 0: empty slot */
};

struct zd_ledger_total {
	unsigned long pfn;
	long total; /* 0: empty slot */
};

struct zd_ledger {
	zd_spinlock_t lock;
	struct zd_ledger_entry *slots;
	size_t cap; /* power of two, or 0 before the first insert */
	size_t nr;
	struct zd_ledger_total *totals;
	size_t tcap;
	size_t tnr;
};

#define ZD_LEDGER_MIN_CAP 64

/* Prototypes shared with report.c (see the report for the header they belong in). */

static inline uint64_t zd_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static inline size_t zd_entry_hash(unsigned long pfn, enum zd_holder_kind kind, uintptr_t id)
{
	return (size_t)zd_mix64((uint64_t)pfn * 0x9e3779b97f4a7c15ull ^
				zd_mix64((uint64_t)id + ((uint64_t)kind << 56)));
}

static inline size_t zd_pfn_hash(unsigned long pfn)
{
	return (size_t)zd_mix64((uint64_t)pfn);
}

struct zd_ledger *zd_ledger_create(void)
{
	struct zd_ledger *l = zd_kzalloc(NULL, sizeof(*l));

	if (l)
		zd_spin_lock_init(&l->lock);
	return l;
}

void zd_ledger_destroy(struct zd_ledger *l)
{
	if (!l)
		return;
	zd_kfree(NULL, l->slots, l->cap * sizeof(*l->slots));
	zd_kfree(NULL, l->totals, l->tcap * sizeof(*l->totals));
	zd_kfree(NULL, l, sizeof(*l));
}

static struct zd_ledger *zd_world_ledger(const struct zd_world *w)
{
	if (!w || !w->track_holders || !w->check)
		return NULL;
	return w->check->ledger;
}

/* ---- The (pfn, holder) table ------------------------------------------ */

static size_t zd_entry_find(const struct zd_ledger *l, unsigned long pfn, struct zd_holder h)
{
	size_t mask = l->cap - 1, i;

	for (i = zd_entry_hash(pfn, h.kind, h.id) & mask; l->slots[i].count; i = (i + 1) & mask) {
		const struct zd_ledger_entry *e = &l->slots[i];

		if (e->pfn == pfn && e->id == h.id && e->kind == h.kind)
			return i;
	}
	return i; /* the empty slot where it would go */
}

static void zd_entry_delete(struct zd_ledger *l, size_t hole)
{
	size_t mask = l->cap - 1, j = hole, home;

	for (;;) {
		j = (j + 1) & mask;
		if (!l->slots[j].count)
			break;
		home = zd_entry_hash(l->slots[j].pfn, l->slots[j].kind, l->slots[j].id) & mask;
		/* Move j into the hole if the hole lies on j's probe path [home, j). */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			l->slots[hole] = l->slots[j];
			hole = j;
		}
	}
	memset(&l->slots[hole], 0, sizeof(l->slots[hole]));
	l->nr--;
}

/* Make room for one more entry (load factor <= 3/4). Return: false on ENOMEM. */
static bool zd_entry_reserve(struct zd_ledger *l)
{
	struct zd_ledger_entry *old = l->slots, *slots;
	size_t old_cap = l->cap, cap, i, j, mask;

	if ((l->nr + 1) * 4 <= l->cap * 3)
		return true;
	cap = old_cap ? old_cap * 2 : ZD_LEDGER_MIN_CAP;
	slots = zd_kzalloc(NULL, cap * sizeof(*slots));
	if (!slots)
		return false;
	mask = cap - 1;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].count)
			continue;
		for (j = zd_entry_hash(old[i].pfn, old[i].kind, old[i].id) & mask; slots[j].count;
		     j = (j + 1) & mask)
			;
		slots[j] = old[i];
	}
	l->slots = slots;
	l->cap = cap;
	zd_kfree(NULL, old, old_cap * sizeof(*old));
	return true;
}

/* ---- The per-pfn totals table --------------------------------------------- */

static size_t zd_total_find(const struct zd_ledger *l, unsigned long pfn)
{
	size_t mask = l->tcap - 1, i;

	for (i = zd_pfn_hash(pfn) & mask; l->totals[i].total; i = (i + 1) & mask)
		if (l->totals[i].pfn == pfn)
			return i;
	return i;
}

static void zd_total_delete(struct zd_ledger *l, size_t hole)
{
	size_t mask = l->tcap - 1, j = hole, home;

	for (;;) {
		j = (j + 1) & mask;
		if (!l->totals[j].total)
			break;
		home = zd_pfn_hash(l->totals[j].pfn) & mask;
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			l->totals[hole] = l->totals[j];
			hole = j;
		}
	}
	memset(&l->totals[hole], 0, sizeof(l->totals[hole]));
	l->tnr--;
}

static bool zd_total_reserve(struct zd_ledger *l)
{
	struct zd_ledger_total *old = l->totals, *totals;
	size_t old_cap = l->tcap, cap, i, j, mask;

	if ((l->tnr + 1) * 4 <= l->tcap * 3)
		return true;
	cap = old_cap ? old_cap * 2 : ZD_LEDGER_MIN_CAP;
	totals = zd_kzalloc(NULL, cap * sizeof(*totals));
	if (!totals)
		return false;
	mask = cap - 1;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].total)
			continue;
		for (j = zd_pfn_hash(old[i].pfn) & mask; totals[j].total; j = (j + 1) & mask)
			;
		totals[j] = old[i];
	}
	l->totals = totals;
	l->tcap = cap;
	zd_kfree(NULL, old, old_cap * sizeof(*old));
	return true;
}

/* Add delta to the total of pfn; room was reserved by the caller. */
static void zd_total_add(struct zd_ledger *l, unsigned long pfn, long delta)
{
	size_t i = zd_total_find(l, pfn);

	if (!l->totals[i].total) {
		l->totals[i].pfn = pfn;
		l->tnr++;
	}
	l->totals[i].total += delta;
	if (!l->totals[i].total)
		zd_total_delete(l, i);
}

/* ---- The ledger API ---------------------------------------------------------- */

/**
 * zd_ledger_mod - record that holder @h took (@delta > 0) or dropped
 * (@delta < 0) references on the folio whose head is @pfn.
 *
 * A drop of more references than @h holds is not applied; it is reported as
 * `put-without-ref`. Context: any; takes the ledger lock, never sleeps.
 */
void zd_ledger_mod(struct zd_world *w, unsigned long pfn, struct zd_holder h, long delta)
{
	struct zd_ledger *l = zd_world_ledger(w);
	char name[64];
	long held;
	size_t i;

	if (!l || !delta)
		return;
	zd_spin_lock(&l->lock);
	held = 0;
	i = 0;
	if (l->cap) {
		i = zd_entry_find(l, pfn, h);
		held = l->slots[i].count;
	}
	if (held + delta < 0) {
		zd_spin_unlock(&l->lock);
		zd_holder_name(w, h, name, sizeof(name));
		if (!held)
			zd_report(w, ZD_INV_PUT_WITHOUT_REF, pfn,
				  "%s dropped a reference it does not hold", name);
		else
			zd_report(w, ZD_INV_PUT_WITHOUT_REF, pfn,
				  "%s dropped %ld references but holds only %ld", name, -delta,
				  held);
		return;
	}
	if (!held) {
		/* A new entry: make room first (this may move the slots). */
		if (!zd_entry_reserve(l) || !zd_total_reserve(l)) {
			zd_spin_unlock(&l->lock);
			return; /* out of memory: the ledger stays as it was */
		}
		i = zd_entry_find(l, pfn, h);
		l->slots[i].pfn = pfn;
		l->slots[i].kind = h.kind;
		l->slots[i].id = h.id;
		l->nr++;
	}
	l->slots[i].count += delta;
	zd_total_add(l, pfn, delta);
	if (!l->slots[i].count)
		zd_entry_delete(l, i);
	zd_spin_unlock(&l->lock);
}

/* zd_ledger_get - references @h holds on the folio at @pfn (0 when untracked). */
long zd_ledger_get(struct zd_world *w, unsigned long pfn, struct zd_holder h)
{
	struct zd_ledger *l = zd_world_ledger(w);
	long count = 0;

	if (!l)
		return 0;
	zd_spin_lock(&l->lock);
	if (l->cap)
		count = l->slots[zd_entry_find(l, pfn, h)].count;
	zd_spin_unlock(&l->lock);
	return count;
}

/* zd_ledger_total - references all holders together hold on the folio at @pfn. */
long zd_ledger_total(struct zd_world *w, unsigned long pfn)
{
	struct zd_ledger *l = zd_world_ledger(w);
	long total = 0;

	if (!l)
		return 0;
	zd_spin_lock(&l->lock);
	if (l->tcap)
		total = l->totals[zd_total_find(l, pfn)].total;
	zd_spin_unlock(&l->lock);
	return total;
}

/* A copy of (some of) the ledger's entries, to work on without the lock. */
struct zd_ledger_snap {
	struct zd_ledger_entry *e;
	size_t nr;  /* entries copied */
	size_t cap; /* entries allocated */
};

/* Entries of one pfn; the caller holds the lock. */
static size_t zd_ledger_count_pfn(const struct zd_ledger *l, unsigned long pfn)
{
	size_t i, nr = 0;

	if (!l->tcap || !l->totals[zd_total_find(l, pfn)].total)
		return 0;
	for (i = 0; i < l->cap; i++)
		if (l->slots[i].count && l->slots[i].pfn == pfn)
			nr++;
	return nr;
}

/*
 * Copy the entries of @match_pfn (all entries when it is ZD_PFN_NONE) into
 * @snap. On allocation failure the snapshot is empty. Free with
 * zd_ledger_snap_free().
 */
static void zd_ledger_snapshot(struct zd_ledger *l, unsigned long match_pfn,
			       struct zd_ledger_snap *snap)
{
	size_t i, need;

	memset(snap, 0, sizeof(*snap));
	for (;;) {
		zd_spin_lock(&l->lock);
		need = match_pfn == ZD_PFN_NONE ? l->nr : zd_ledger_count_pfn(l, match_pfn);
		if (need <= snap->cap)
			break; /* with the lock held */
		zd_spin_unlock(&l->lock);
		zd_kfree(NULL, snap->e, snap->cap * sizeof(*snap->e));
		snap->cap = need;
		snap->e = zd_kzalloc(NULL, need * sizeof(*snap->e));
		if (!snap->e) {
			snap->cap = 0;
			return;
		}
	}
	for (i = 0; i < l->cap; i++) {
		if (!l->slots[i].count)
			continue;
		if (match_pfn != ZD_PFN_NONE && l->slots[i].pfn != match_pfn)
			continue;
		snap->e[snap->nr++] = l->slots[i];
	}
	zd_spin_unlock(&l->lock);
}

static void zd_ledger_snap_free(struct zd_ledger_snap *snap)
{
	zd_kfree(NULL, snap->e, snap->cap * sizeof(*snap->e));
	memset(snap, 0, sizeof(*snap));
}

/**
 * zd_ledger_for_each - call @fn for every (pfn, holder, count) entry.
 *
 * Works on a snapshot taken under the ledger lock, so @fn may call back into
 * the ledger or the reporting functions. Entries come in no particular order.
 */
void zd_ledger_for_each(struct zd_world *w,
			void (*fn)(void *arg, unsigned long pfn, struct zd_holder h, long count),
			void *arg)
{
	struct zd_ledger *l = zd_world_ledger(w);
	struct zd_ledger_snap snap;
	size_t i;

	if (!l || !fn)
		return;
	zd_ledger_snapshot(l, ZD_PFN_NONE, &snap);
	for (i = 0; i < snap.nr; i++)
		fn(arg, snap.e[i].pfn, ZD_HOLDER(snap.e[i].kind, snap.e[i].id), snap.e[i].count);
	zd_ledger_snap_free(&snap);
}

/**
 * zd_ledger_forget - drop every entry whose pfn is in [@start, @end) (the
 * memory went away). Removing an entry shifts later entries of its probe
 * run back; the scan re-examines the slot it just emptied, so nothing that
 * moves is skipped (a run that wraps past the end only moves entries
 * already examined).
 */
void zd_ledger_forget(struct zd_world *w, unsigned long start, unsigned long end)
{
	struct zd_ledger *l = zd_world_ledger(w);
	size_t i;

	if (!l || start >= end)
		return;
	zd_spin_lock(&l->lock);
	for (i = 0; i < l->cap;) {
		if (l->slots[i].count && l->slots[i].pfn >= start && l->slots[i].pfn < end)
			zd_entry_delete(l, i);
		else
			i++;
	}
	for (i = 0; i < l->tcap;) {
		if (l->totals[i].total && l->totals[i].pfn >= start && l->totals[i].pfn < end)
			zd_total_delete(l, i);
		else
			i++;
	}
	zd_spin_unlock(&l->lock);
}

/* ---- Holder names ----------------------------------------------------------------- */

/**
 * zd_holder_name - a printable name for @h: the namer's (zd_world_set_holder_namer)
 * when one is set, else "<kind>" for id 0 and "<kind>:0x<id>" otherwise.
 * The namer is called without any check lock held.
 */
void zd_holder_name(struct zd_world *w, struct zd_holder h, char *buf, size_t n)
{
	zd_holder_namer_t namer = NULL;
	void *namer_arg = NULL;

	if (!buf || !n)
		return;
	buf[0] = '\0';
	if (w && w->check) {
		zd_spin_lock(&w->check->lock);
		namer = w->check->namer;
		namer_arg = w->check->namer_arg;
		zd_spin_unlock(&w->check->lock);
	}
	if (namer) {
		namer(namer_arg, h, buf, n);
		buf[n - 1] = '\0';
		if (buf[0])
			return;
	}
	if (!h.id)
		snprintf(buf, n, "%s", zd_holder_kind_name(h.kind));
	else
		snprintf(buf, n, "%s:0x%lx", zd_holder_kind_name(h.kind), (unsigned long)h.id);
}

/* zd_holder_refs - references @h holds on @folio (0 when holders are not tracked). */
long zd_holder_refs(struct zd_world *w, const struct zd_folio *folio, struct zd_holder h)
{
	if (!folio)
		return 0;
	return zd_ledger_get(w, folio->pfn, h);
}

struct zd_named_holder {
	enum zd_holder_kind kind;
	long count;
	char name[64];
};

static int zd_named_holder_cmp(const void *a, const void *b)
{
	const struct zd_named_holder *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

/**
 * zd_holders_format - print the holders of @folio as "base=1 handle:h1=2",
 * sorted by holder kind, then by name; "none" when nobody holds a reference
 * (or holders are not tracked). Truncates to @n bytes.
 */
void zd_holders_format(struct zd_world *w, const struct zd_folio *folio, char *buf, size_t n)
{
	struct zd_ledger *l = zd_world_ledger(w);
	struct zd_ledger_snap snap = {0};
	struct zd_named_holder *named = NULL;
	size_t nr, i, len = 0;
	int r;

	if (!buf || !n)
		return;
	if (l && folio)
		zd_ledger_snapshot(l, folio->pfn, &snap);
	nr = snap.nr;
	if (nr)
		named = zd_kzalloc(NULL, nr * sizeof(*named));
	if (!named) {
		snprintf(buf, n, "%s", nr ? "?" : "none");
		zd_ledger_snap_free(&snap);
		return;
	}
	for (i = 0; i < nr; i++) {
		named[i].kind = snap.e[i].kind;
		named[i].count = snap.e[i].count;
		zd_holder_name(w, ZD_HOLDER(snap.e[i].kind, snap.e[i].id), named[i].name,
			       sizeof(named[i].name));
	}
	qsort(named, nr, sizeof(*named), zd_named_holder_cmp);
	buf[0] = '\0';
	for (i = 0; i < nr && len < n; i++) {
		r = snprintf(buf + len, n - len, "%s%s=%ld", i ? " " : "", named[i].name,
			     named[i].count);
		if (r < 0)
			break;
		len += (size_t)r;
	}
	zd_kfree(NULL, named, nr * sizeof(*named));
	zd_ledger_snap_free(&snap);
}
