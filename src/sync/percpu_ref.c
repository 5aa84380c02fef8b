/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: percpu_ref with the kernel's semantics (initial reference,
 * kill, tryget_live, release at zero) on one exact atomic count plus flags.
 */
#include "sync_internal.h"

/**
 * zd_percpu_ref_init - count 1 (the initial reference), alive, not exited.
 * @release: run by the put that drops the count to zero (may be NULL).
 *
 * Return: 0.
 */
int zd_percpu_ref_init(struct zd_percpu_ref *ref, zd_percpu_ref_func_t release)
{
	ZD_SYNC_POINT(0, ref);
	ref->release = release;
	atomic_store_explicit(&ref->flags, 0, memory_order_release);
	atomic_store_explicit(&ref->count, 1, memory_order_release);
	return 0;
}

/* zd_percpu_ref_exit - mark @ref exited (the kernel frees its counters here). */
void zd_percpu_ref_exit(struct zd_percpu_ref *ref)
{
	ZD_SYNC_POINT(0, ref);
	atomic_fetch_or_explicit(&ref->flags, ZD_PERCPU_REF_EXITED, memory_order_acq_rel);
}

/* zd_percpu_ref_get_many - take @nr references; the caller already holds one. */
void zd_percpu_ref_get_many(struct zd_percpu_ref *ref, unsigned long nr)
{
	ZD_SYNC_POINT(0, ref);
	atomic_fetch_add_explicit(&ref->count, (long)nr, memory_order_relaxed);
}

void zd_percpu_ref_get(struct zd_percpu_ref *ref)
{
	zd_percpu_ref_get_many(ref, 1);
}

/* Add @nr to a non-zero count. */
static bool zd_percpu_ref_inc_not_zero(struct zd_percpu_ref *ref, unsigned long nr)
{
	long old = atomic_load_explicit(&ref->count, memory_order_relaxed);

	do {
		if (old <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
	    &ref->count, &old, old + (long)nr, memory_order_acq_rel, memory_order_relaxed));
	return true;
}

/**
 * zd_percpu_ref_tryget_many - take @nr references unless the count is zero.
 *
 * Succeeds after kill as long as references remain.
 * Return: true when the references were taken.
 */
bool zd_percpu_ref_tryget_many(struct zd_percpu_ref *ref, unsigned long nr)
{
	ZD_SYNC_POINT(0, ref);
	return zd_percpu_ref_inc_not_zero(ref, nr);
}

bool zd_percpu_ref_tryget(struct zd_percpu_ref *ref)
{
	return zd_percpu_ref_tryget_many(ref, 1);
}

/**
 * zd_percpu_ref_tryget_live - take a reference unless @ref is dead (or zero).
 *
 * Ordering, as in the kernel's atomic mode: the DEAD flag is read (acquire)
 * first, then the count is incremented only if non-zero. kill() sets DEAD
 * before it returns, so a tryget_live that starts after kill() returned
 * (ordered after it) always fails. A tryget_live overlapping kill() may
 * still succeed: it is ordered before the kill, and since the count was
 * non-zero it merely delays the release until its put. It can never revive
 * a count that reached zero.
 *
 * Return: true when a reference was taken.
 */
bool zd_percpu_ref_tryget_live(struct zd_percpu_ref *ref)
{
	ZD_SYNC_POINT(0, ref);
	if (atomic_load_explicit(&ref->flags, memory_order_acquire) & ZD_PERCPU_REF_DEAD)
		return false;
	return zd_percpu_ref_inc_not_zero(ref, 1);
}

/* As zd_percpu_ref_tryget_live(); the caller is in an RCU read section. */
bool zd_percpu_ref_tryget_live_rcu(struct zd_percpu_ref *ref)
{
	return zd_percpu_ref_tryget_live(ref);
}

/**
 * zd_percpu_ref_put_many - drop @nr references; release() at zero.
 *
 * The count never goes below zero: dropping more than is held changes
 * nothing and is reported to the caller. Reaching zero runs release() even
 * if @ref was never killed (a caller's accounting bug that the caller can
 * spot with zd_percpu_ref_is_dying()).
 *
 * Return: 0, or -ERANGE when fewer than @nr references are held.
 */
int zd_percpu_ref_put_many(struct zd_percpu_ref *ref, unsigned long nr)
{
	long old;

	ZD_SYNC_POINT(0, ref);
	old = atomic_load_explicit(&ref->count, memory_order_relaxed);
	do {
		if (old < 0 || (unsigned long)old < nr)
			return -ERANGE;
	} while (!atomic_compare_exchange_weak_explicit(
	    &ref->count, &old, old - (long)nr, memory_order_acq_rel, memory_order_relaxed));
	if (old - (long)nr == 0 && nr != 0 && ref->release)
		ref->release(ref);
	return 0;
}

int zd_percpu_ref_put(struct zd_percpu_ref *ref)
{
	return zd_percpu_ref_put_many(ref, 1);
}

/**
 * zd_percpu_ref_kill - mark @ref dead, then drop the initial reference.
 *
 * Return: 0; -EALREADY (and nothing dropped) if already killed; -ERANGE if
 * the initial reference had already been put by mistake (count was 0).
 */
int zd_percpu_ref_kill(struct zd_percpu_ref *ref)
{
	unsigned long old;

	ZD_SYNC_POINT(0, ref);
	old = atomic_fetch_or_explicit(&ref->flags, ZD_PERCPU_REF_DEAD, memory_order_acq_rel);
	if (old & ZD_PERCPU_REF_DEAD)
		return -EALREADY;
	return zd_percpu_ref_put_many(ref, 1);
}

bool zd_percpu_ref_is_zero(struct zd_percpu_ref *ref)
{
	ZD_SYNC_POINT(0, ref);
	return atomic_load_explicit(&ref->count, memory_order_acquire) == 0;
}

bool zd_percpu_ref_is_dying(struct zd_percpu_ref *ref)
{
	ZD_SYNC_POINT(0, ref);
	return atomic_load_explicit(&ref->flags, memory_order_acquire) & ZD_PERCPU_REF_DEAD;
}

long zd_percpu_ref_read(struct zd_percpu_ref *ref)
{
	ZD_SYNC_POINT(0, ref);
	return atomic_load_explicit(&ref->count, memory_order_acquire);
}
