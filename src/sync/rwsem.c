/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: the reader/writer semaphore (mmap_lock's model), one count
 * word (>0 readers, -1 a writer, 0 free) with tracked sleeps when contended.
 */
#include "sync_internal.h"

#define ZD_RWSEM_WRITER (-1L)

void zd_rwsem_init(zd_rwsem_t *sem)
{
	atomic_store_explicit(&sem->count, 0, memory_order_release);
}

/* Add a reader unless a writer holds the semaphore; also a wait condition. */
static bool zd_rwsem_read_acquire(void *arg)
{
	zd_rwsem_t *sem = arg;
	long old = atomic_load_explicit(&sem->count, memory_order_relaxed);

	do {
		if (old < 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
	    &sem->count, &old, old + 1, memory_order_acquire, memory_order_relaxed));
	return true;
}

/* Take the semaphore for writing if it is free; also a wait condition. */
static bool zd_rwsem_write_acquire(void *arg)
{
	zd_rwsem_t *sem = arg;
	long old = 0;

	return atomic_compare_exchange_strong_explicit(&sem->count, &old, ZD_RWSEM_WRITER,
						       memory_order_acquire, memory_order_relaxed);
}

/**
 * zd_down_read - acquire @sem shared, sleeping while a writer holds it.
 *
 * Readers are preferred: a reader enters whenever no writer holds the
 * semaphore, even with writers waiting, so nested read acquisition cannot
 * deadlock (and steady readers can starve a writer). The sleep is tracked
 * and cannot fail; after cancel it keeps waiting for the writer to leave.
 */
void zd_down_read(zd_rwsem_t *sem)
{
	ZD_SYNC_POINT(0, sem);
	if (zd_rwsem_read_acquire(sem))
		return;
	zd__wait_var(&sem->count, zd_rwsem_read_acquire, sem, "rwsem (read)", false);
}

bool zd_down_read_trylock(zd_rwsem_t *sem)
{
	ZD_SYNC_POINT(0, sem);
	return zd_rwsem_read_acquire(sem);
}

/* zd_up_read - drop a read hold; the last reader out wakes waiting writers. */
void zd_up_read(zd_rwsem_t *sem)
{
	long left;

	ZD_SYNC_POINT(0, sem);
	left = atomic_fetch_sub_explicit(&sem->count, 1, memory_order_release) - 1;
	if (left == 0)
		zd_wake_up_var(&sem->count);
}

/**
 * zd_down_write - acquire @sem exclusively, sleeping while anyone holds it.
 *
 * The sleep is tracked and cannot fail (see zd_down_read()).
 */
void zd_down_write(zd_rwsem_t *sem)
{
	ZD_SYNC_POINT(0, sem);
	if (zd_rwsem_write_acquire(sem))
		return;
	zd__wait_var(&sem->count, zd_rwsem_write_acquire, sem, "rwsem (write)", false);
}

bool zd_down_write_trylock(zd_rwsem_t *sem)
{
	ZD_SYNC_POINT(0, sem);
	return zd_rwsem_write_acquire(sem);
}

/* zd_up_write - release the write hold and wake every waiter. */
void zd_up_write(zd_rwsem_t *sem)
{
	ZD_SYNC_POINT(0, sem);
	atomic_store_explicit(&sem->count, 0, memory_order_release);
	zd_wake_up_var(&sem->count);
}

/**
 * zd_downgrade_write - turn the caller's write hold into a read hold
 * without letting a writer in between; waiting readers are woken.
 */
void zd_downgrade_write(zd_rwsem_t *sem)
{
	ZD_SYNC_POINT(0, sem);
	atomic_store_explicit(&sem->count, 1, memory_order_release);
	zd_wake_up_var(&sem->count);
}

bool zd_rwsem_is_locked(zd_rwsem_t *sem)
{
	ZD_SYNC_POINT(0, sem);
	return atomic_load_explicit(&sem->count, memory_order_relaxed) != 0;
}
