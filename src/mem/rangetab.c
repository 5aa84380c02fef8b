/* SPDX-License-Identifier: MIT */
/*
 * zonedev: a sorted table of disjoint pfn intervals, published with RCU:
 * lookups are lock-free binary searches, updates copy the array.
 */
#include <string.h>

#include "mem/mem.h"

void zd_rangetab_init(struct zd_rangetab *t)
{
	t->arr = NULL;
	zd_mutex_init(&t->lock);
}

static size_t zd_rangetab_bytes(size_t nr)
{
	return sizeof(struct zd_rangetab_array) + nr * sizeof(struct zd_rangetab_entry);
}

void zd_rangetab_destroy(struct zd_world *w, struct zd_rangetab *t)
{
	if (t->arr)
		zd_kfree(w, t->arr, zd_rangetab_bytes(t->arr->nr));
	t->arr = NULL;
}

/* Index of the first entry whose end is above pfn. */
static size_t zd_rangetab_search(const struct zd_rangetab_array *a, unsigned long pfn)
{
	size_t lo = 0, hi = a->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->e[mid].end <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void *zd_rangetab_overlap_locked(struct zd_rangetab_array *a, unsigned long start,
					unsigned long end)
{
	size_t i;

	if (!a)
		return NULL;
	i = zd_rangetab_search(a, start);
	if (i < a->nr && a->e[i].start < end)
		return a->e[i].value;
	return NULL;
}

int zd_rangetab_insert(struct zd_world *w, struct zd_rangetab *t, unsigned long start,
		       unsigned long end, void *value)
{
	struct zd_rangetab_array *old, *new;
	size_t nr, i, pos;

	if (start >= end)
		return -EINVAL;
	zd_mutex_lock(&t->lock);
	old = t->arr;
	if (zd_rangetab_overlap_locked(old, start, end)) {
		zd_mutex_unlock(&t->lock);
		return -EEXIST;
	}
	nr = old ? old->nr : 0;
	new = zd_kzalloc(w, zd_rangetab_bytes(nr + 1));
	if (!new) {
		zd_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	pos = old ? zd_rangetab_search(old, start) : 0;
	for (i = 0; i < pos; i++)
		new->e[i] = old->e[i];
	new->e[pos] = (struct zd_rangetab_entry){start, end, value};
	for (i = pos; i < nr; i++)
		new->e[i + 1] = old->e[i];
	new->nr = nr + 1;
	zd_rcu_assign_pointer(t->arr, new);
	zd_mutex_unlock(&t->lock);
	if (old) {
		zd_synchronize_rcu();
		zd_kfree(w, old, zd_rangetab_bytes(nr));
	}
	return 0;
}

int zd_rangetab_remove(struct zd_world *w, struct zd_rangetab *t, unsigned long start)
{
	struct zd_rangetab_array *old, *new = NULL;
	size_t nr, i, j;

	zd_mutex_lock(&t->lock);
	old = t->arr;
	nr = old ? old->nr : 0;
	for (i = 0; i < nr; i++)
		if (old->e[i].start == start)
			break;
	if (i == nr) {
		zd_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	if (nr > 1) {
		/*
		 * Removal cannot fail: it is part of teardown. It is not an
		 * injection site (NULL world), and a real calloc failure of a
		 * few hundred bytes is waited out.
		 */
		while (!(new = zd_kzalloc(NULL, zd_rangetab_bytes(nr - 1))))
			zd_cpu_relax();
		for (j = 0; j < i; j++)
			new->e[j] = old->e[j];
		for (j = i + 1; j < nr; j++)
			new->e[j - 1] = old->e[j];
		new->nr = nr - 1;
		/* Count it on the world's account from now on. */
		zd_atomic_long_add_return_relaxed(&w->bytes_in_use,
						  (long)zd_rangetab_bytes(nr - 1));
	}
	zd_rcu_assign_pointer(t->arr, new);
	zd_mutex_unlock(&t->lock);
	if (!w->dying)
		zd_synchronize_rcu();
	zd_kfree(w, old, zd_rangetab_bytes(nr));
	return 0;
}

void *zd_rangetab_lookup(struct zd_rangetab *t, unsigned long pfn)
{
	struct zd_rangetab_array *a = zd_rcu_dereference(t->arr);
	size_t i;

	if (!a)
		return NULL;
	i = zd_rangetab_search(a, pfn);
	if (i < a->nr && a->e[i].start <= pfn && pfn < a->e[i].end)
		return a->e[i].value;
	return NULL;
}

void *zd_rangetab_overlap(struct zd_rangetab *t, unsigned long start, unsigned long end)
{
	void *v;

	zd_rcu_read_lock();
	v = zd_rangetab_overlap_locked(zd_rcu_dereference(t->arr), start, end);
	zd_rcu_read_unlock();
	return v;
}
