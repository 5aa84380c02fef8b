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

	ZD_SYNC_POINT(ZD_SP_LOCK, lock);
	if (zd__explore_active()) {
		/* a model thread never spins: it waits, and the unlock wakes it */
		while (atomic_exchange_explicit(&lock->locked, 1, memory_order_acquire))
			zd__explore_block(lock, "spinlock");
		return;
	}
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
	ZD_SYNC_POINT(ZD_SP_LOCK, lock);
	if (atomic_load_explicit(&lock->locked, memory_order_relaxed))
		return false;
	return !atomic_exchange_explicit(&lock->locked, 1, memory_order_acquire);
}

/*
 * No scheduling point before the release: a thread stopped while still holding
 * a spinlock could only make others wait for it, and the switch hook of the
 * explorer takes the trace's spinlock, which must never be held by a stopped
 * thread. The thread's next operation is the point that lets others in.
 */
void zd_spin_unlock(zd_spinlock_t *lock)
{
	atomic_store_explicit(&lock->locked, 0, memory_order_release);
	if (zd__explore_active())
		zd__explore_wake(lock);
}
