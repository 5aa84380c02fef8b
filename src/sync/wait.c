/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: wait queues keyed by address (zd_wait_var_event and
 * zd_wake_up_var), the sleeping primitive under every other blocking call.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "sync_internal.h"

#define ZD_WAIT_HASH_BITS 8
#define ZD_WAIT_BUCKETS (1u << ZD_WAIT_HASH_BITS)

/*
 * One blocked thread. Lives on the sleeper's stack; linked into its bucket
 * while asleep. A waker unlinks it, sets @woken and signals @cond, all under
 * the bucket lock, so the sleeper cannot return (and free it) before the
 * waker is done with it.
 */
struct zd_waiter {
	struct zd_waiter *next;
	void *var;
	struct zd_task *task; /* NULL: an untracked thread */
	pthread_cond_t cond;
	bool woken;
};

struct zd_wait_bucket {
	pthread_mutex_t lock;
	struct zd_waiter *head;
} __attribute__((aligned(64)));

static struct zd_wait_bucket zd_wait_table[ZD_WAIT_BUCKETS] = {
    [0 ... ZD_WAIT_BUCKETS - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER, .head = NULL},
};

static struct zd_wait_bucket *zd_wait_bucket(const void *var)
{
	uint64_t h = (uint64_t)(uintptr_t)var * 0x9e3779b97f4a7c15ull;

	return &zd_wait_table[h >> (64 - ZD_WAIT_HASH_BITS)];
}

/* Unlink and wake @w. Caller holds the bucket lock and passes the link to @w. */
static void zd_waiter_wake(struct zd_waiter **link, struct zd_waiter *w)
{
	*link = w->next;
	w->next = NULL;
	w->woken = true;
	if (w->task)
		zd__task_wake(w->task);
	pthread_cond_signal(&w->cond);
}

/**
 * zd__wait_var - sleep until @cond(@arg) holds; see zd_wait_var_event().
 * @interruptible: whether a cancelled task group ends the wait with -EINTR.
 *
 * Locking: takes the bucket lock of @var for the whole wait (released while
 * blocked); @cond runs under it and so must neither sleep nor wake. A
 * tracked sleeper is marked SLEEPING before it blocks; its waker marks it
 * RUNNING. A waiter whose condition is still false when woken goes back to
 * sleep (and to SLEEPING).
 *
 * Return: 0 once @cond held, or -EINTR (interruptible waits of a task whose
 * group was cancelled, checked after @cond).
 */
int zd__wait_var(void *var, zd_wait_cond_t cond, void *arg, const char *what, bool interruptible)
{
	struct zd_task *self = zd_current_task();
	struct zd_wait_bucket *b = zd_wait_bucket(var);
	struct zd_waiter w = {
	    .var = var,
	    .task = self,
	    .cond = PTHREAD_COND_INITIALIZER,
	};
	int ret = 0;

	if (self && zd__explore_active()) {
		/*
		 * One thread runs at a time, so no bucket lock; but the condition
		 * must still be one step, as it is under the bucket lock natively:
		 * a scheduling point inside it could let the waker run between two
		 * of its reads, and the wake-up would be lost.
		 */
		for (;;) {
			bool cancelled, ok;

			/*
			 * The check is a step of its own, and one that reads state
			 * no single object names (the condition's): a point whose
			 * object is unknown, so a partial-order reduction never
			 * reorders it with anything.
			 */
			zd__explore_point(ZD_SP_WAIT, NULL);
			zd_sync_quiet_begin();
			ok = cond(arg);
			zd_sync_quiet_end();
			if (ok)
				return 0;
			pthread_mutex_lock(&self->group->lock);
			cancelled = self->group->cancelled;
			pthread_mutex_unlock(&self->group->lock);
			if (interruptible && cancelled)
				return -EINTR;
			zd__explore_block(var, what);
		}
	}
	pthread_mutex_lock(&b->lock);
	for (;;) {
		if (cond(arg))
			break;
		if (self && zd__task_sleep_begin(self, what, interruptible)) {
			ret = -EINTR;
			break;
		}
		w.woken = false;
		w.next = b->head;
		b->head = &w;
		do
			pthread_cond_wait(&w.cond, &b->lock);
		while (!w.woken);
	}
	pthread_mutex_unlock(&b->lock);
	pthread_cond_destroy(&w.cond);
	return ret;
}

/**
 * zd_wait_var_event - sleep until @cond(@arg) holds, woken by zd_wake_up_var(@var).
 *
 * Locking: see zd__wait_var(); the caller must not hold a spinlock. From a
 * task this is a tracked sleep described by @what.
 *
 * Return: 0, -EINTR when the calling task's group is cancelled, -EINVAL
 * without a condition.
 */
int zd_wait_var_event(void *var, zd_wait_cond_t cond, void *arg, const char *what)
{
	ZD_SYNC_POINT(ZD_SP_WAIT, var);
	if (!cond)
		return -EINVAL;
	return zd__wait_var(var, cond, arg, what, true);
}

/**
 * zd_wake_up_var - wake every sleeper waiting on @var.
 *
 * Call after making the awaited condition true. Each woken task is marked
 * RUNNING before this returns, so a quiesce that follows waits for it.
 * Locking: takes @var's bucket lock; must not be called from a wait condition.
 */
void zd_wake_up_var(void *var)
{
	struct zd_wait_bucket *b = zd_wait_bucket(var);
	struct zd_waiter **link, *w;

	ZD_SYNC_POINT(ZD_SP_WAKE, var);
	zd__explore_wake(var);
	pthread_mutex_lock(&b->lock);
	link = &b->head;
	while ((w = *link)) {
		if (w->var == var)
			zd_waiter_wake(link, w);
		else
			link = &w->next;
	}
	pthread_mutex_unlock(&b->lock);
}

/**
 * zd__wake_group - wake every sleeper that is a task of @g, whatever it waits on.
 *
 * Used by cancel after setting the group's flag: a sleeper that checked the
 * flag before it was set is already queued when its bucket is visited
 * (it holds the bucket lock from the check until it blocks), so none is
 * missed. Locking: each bucket lock in turn, then the group lock.
 */
void zd__wake_group(struct zd_task_group *g)
{
	for (unsigned int i = 0; i < ZD_WAIT_BUCKETS; i++) {
		struct zd_wait_bucket *b = &zd_wait_table[i];
		struct zd_waiter **link, *w;

		pthread_mutex_lock(&b->lock);
		link = &b->head;
		while ((w = *link)) {
			if (w->task && w->task->group == g)
				zd_waiter_wake(link, w);
			else
				link = &w->next;
		}
		pthread_mutex_unlock(&b->lock);
	}
}
