/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: the sleeping mutex, an owner word taken by compare-and-swap
 * whose contended acquisition is a tracked sleep on the wait queues.
 */
#include <stdint.h>

#include "sync_internal.h"

/*
 * The owner word: 0 when free, else the owner's token with bit 0 set when
 * somebody may be asleep waiting for it (so an uncontended unlock skips the
 * wake-up). The token is the address of a task-local word (a thread-local
 * one outside tasks): non-zero, unique among live tasks and threads (model
 * threads sharing an OS thread included), and with bit 0 clear.
 */
#define ZD_MUTEX_WAITERS 1ul

static unsigned long zd_mutex_token(void)
{
	return (unsigned long)(uintptr_t)zd_task_local(ZD_TASK_LOCAL_MUTEX);
}

void zd_mutex_init(zd_mutex_t *m)
{
	atomic_store_explicit(&m->owner, 0, memory_order_release);
}

/*
 * The slow-path wait condition, run under the wait bucket lock: take the
 * mutex if free, else make sure the waiters bit is set before sleeping so
 * the unlock that frees it wakes us. Taken in the slow path, the mutex keeps
 * the bit (others may still sleep): at worst its unlock wakes nobody.
 */
static bool zd_mutex_acquire_or_flag(void *arg)
{
	zd_mutex_t *m = arg;
	unsigned long old = atomic_load_explicit(&m->owner, memory_order_relaxed);

	for (;;) {
		if (old == 0) {
			if (atomic_compare_exchange_weak_explicit(
				&m->owner, &old, zd_mutex_token() | ZD_MUTEX_WAITERS,
				memory_order_acquire, memory_order_relaxed))
				return true;
		} else if (old & ZD_MUTEX_WAITERS) {
			return false;
		} else if (atomic_compare_exchange_weak_explicit(
			       &m->owner, &old, old | ZD_MUTEX_WAITERS, memory_order_relaxed,
			       memory_order_relaxed)) {
			return false;
		}
	}
}

/**
 * zd_mutex_lock - acquire @m, sleeping while another thread holds it.
 *
 * The sleep is tracked (a task blocked here is SLEEPING, waiting on
 * "mutex") and cannot fail: after its group is cancelled the task keeps
 * waiting until the holder unlocks. Not recursive: locking a mutex one
 * already holds sleeps forever (and shows as blocked on it).
 */
void zd_mutex_lock(zd_mutex_t *m)
{
	unsigned long old = 0;

	ZD_SYNC_POINT(0, m);
	if (atomic_compare_exchange_strong_explicit(&m->owner, &old, zd_mutex_token(),
						    memory_order_acquire, memory_order_relaxed))
		return;
	zd__wait_var(&m->owner, zd_mutex_acquire_or_flag, m, "mutex", false);
}

/* zd_mutex_trylock - acquire @m if free. Return: true when acquired. */
bool zd_mutex_trylock(zd_mutex_t *m)
{
	unsigned long old = 0;

	ZD_SYNC_POINT(0, m);
	return atomic_compare_exchange_strong_explicit(&m->owner, &old, zd_mutex_token(),
						       memory_order_acquire, memory_order_relaxed);
}

/* zd_mutex_unlock - release @m and wake its sleepers if any may exist. */
void zd_mutex_unlock(zd_mutex_t *m)
{
	unsigned long old;

	ZD_SYNC_POINT(0, m);
	old = atomic_exchange_explicit(&m->owner, 0, memory_order_release);
	if (old & ZD_MUTEX_WAITERS)
		zd_wake_up_var(&m->owner);
}

bool zd_mutex_is_locked(zd_mutex_t *m)
{
	ZD_SYNC_POINT(0, m);
	return atomic_load_explicit(&m->owner, memory_order_relaxed) != 0;
}
