/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: the spinlock, test-and-test-and-set on one atomic word.
 * It never sleeps and is not tracked; hold it only briefly.
 */
#include <sched.h>

#include "sync_internal.h"

/* Busy-wait rounds before each further round also yields the CPU. */
#define ZD_SPIN_YIELD_AFTER 128

void zd_spin_lock_init(zd_spinlock_t *lock)
{
	atomic_store_explicit(&lock->locked, 0, memory_order_release);
}

/**
 * zd_spin_lock - acquire @lock, spinning (then yielding) while it is held.
 *
 * Waits by reading the word, so the cache line is only written when the lock
 * looks free. Not recursive.
 */
void zd_spin_lock(zd_spinlock_t *lock)
{
	unsigned int spins = 0;

	ZD_SYNC_POINT(0, lock);
	for (;;) {
		if (!atomic_exchange_explicit(&lock->locked, 1, memory_order_acquire))
			return;
		while (atomic_load_explicit(&lock->locked, memory_order_relaxed)) {
			if (spins < ZD_SPIN_YIELD_AFTER) {
				spins++;
				zd_cpu_relax();
			} else {
				sched_yield();
			}
		}
	}
}

/* zd_spin_trylock - acquire @lock if free. Return: true when acquired. */
bool zd_spin_trylock(zd_spinlock_t *lock)
{
	ZD_SYNC_POINT(0, lock);
	if (atomic_load_explicit(&lock->locked, memory_order_relaxed))
		return false;
	return !atomic_exchange_explicit(&lock->locked, 1, memory_order_acquire);
}

void zd_spin_unlock(zd_spinlock_t *lock)
{
	ZD_SYNC_POINT(0, lock);
	atomic_store_explicit(&lock->locked, 0, memory_order_release);
}
