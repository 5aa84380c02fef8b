/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: RCU read sections and grace periods, on liburcu's
 * bulletproof flavour (ZD_RCU_URCU) or on a rwlock that TSan understands.
 */
#include "sync_internal.h"

/*
 * The object of RCU's scheduling points: read sections begin and end as
 * reads of it (they commute with one another), a grace period as a write
 * (it orders against every reader).
 */
static int zd_rcu_point;

#ifdef ZD_RCU_URCU

#include <urcu-bp.h>

/*
 * liburcu-bp registers threads on their first read lock and nests read
 * sections itself.
 *
 * Rules common to both backends, as in the kernel: a read section must not
 * sleep, and zd_synchronize_rcu() must not be called inside one (it would
 * wait for itself). Because readers never sleep, a grace period only waits
 * for running code, so zd_synchronize_rcu() is not a tracked sleep: a task
 * in it counts as RUNNING.
 */
void zd_rcu_read_lock(void)
{
	ZD_SYNC_POINT(ZD_SP_READ, &zd_rcu_point);
	if (zd__explore_active()) {
		zd__explore_rcu_read_lock();
		return;
	}
	urcu_bp_read_lock();
}

void zd_rcu_read_unlock(void)
{
	ZD_SYNC_POINT(ZD_SP_READ, &zd_rcu_point);
	if (zd__explore_active()) {
		zd__explore_rcu_read_unlock();
		return;
	}
	urcu_bp_read_unlock();
}

/* zd_synchronize_rcu - wait until every read section begun earlier has ended. */
void zd_synchronize_rcu(void)
{
	ZD_SYNC_POINT(ZD_SP_WRITE, &zd_rcu_point);
	if (zd__explore_active()) {
		zd__explore_synchronize_rcu();
		return;
	}
	urcu_bp_synchronize_rcu();
}

#else /* !ZD_RCU_URCU: the rwlock backend */

/*
 * A read section holds zd_rcu_lock shared; a grace period is taking it
 * exclusively once, which waits out every reader present at that time.
 * Nesting is counted per thread so only the outermost section touches the
 * lock: an inner read lock never queues behind a writer. That makes a
 * writer-preferring lock safe, and it is chosen so that a steady stream of
 * overlapping readers cannot starve zd_synchronize_rcu(). (A thread outside
 * any read section may briefly block in zd_rcu_read_lock() behind a grace
 * period; that grace period only waits for readers, which never sleep.)
 */
static pthread_rwlock_t zd_rcu_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
/*
 * Per OS thread, not per task: model threads (which share OS threads) keep
 * their read sections in the explorer instead; only their quiet sections
 * (tracing) come here, and those never switch to another model thread, so
 * they begin and end their read sections on the same fiber.
 */
static __thread unsigned int zd_rcu_depth;

void zd_rcu_read_lock(void)
{
	ZD_SYNC_POINT(ZD_SP_READ, &zd_rcu_point);
	if (zd__explore_active()) {
		zd__explore_rcu_read_lock();
		return;
	}
	if (zd_rcu_depth++ == 0)
		pthread_rwlock_rdlock(&zd_rcu_lock);
}

/* zd_rcu_read_unlock - end a read section; an unbalanced unlock is ignored. */
void zd_rcu_read_unlock(void)
{
	ZD_SYNC_POINT(ZD_SP_READ, &zd_rcu_point);
	if (zd__explore_active()) {
		zd__explore_rcu_read_unlock();
		return;
	}
	if (zd_rcu_depth == 0)
		return;
	if (--zd_rcu_depth == 0)
		pthread_rwlock_unlock(&zd_rcu_lock);
}

/**
 * zd_synchronize_rcu - wait until every read section begun earlier has ended.
 *
 * Must not be called inside a read section (it would wait for itself).
 */
void zd_synchronize_rcu(void)
{
	ZD_SYNC_POINT(ZD_SP_WRITE, &zd_rcu_point);
	if (zd__explore_active()) {
		zd__explore_synchronize_rcu();
		return;
	}
	pthread_rwlock_wrlock(&zd_rcu_lock);
	pthread_rwlock_unlock(&zd_rcu_lock);
}

#endif
