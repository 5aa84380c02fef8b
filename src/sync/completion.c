/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: completions (a counted "it happened" event), built on the
 * address-keyed wait queues of wait.c.
 */
#include <limits.h>

#include "sync_internal.h"

/* `done` at or above this value means complete_all(): every wait succeeds. */
#define ZD_COMPLETION_ALL (UINT_MAX / 2)

void zd_init_completion(struct zd_completion *c)
{
	atomic_store_explicit(&c->done, 0, memory_order_release);
}

/* zd_reinit_completion - forget past complete() calls; no waiter may be asleep. */
void zd_reinit_completion(struct zd_completion *c)
{
	ZD_SYNC_POINT(0, c);
	atomic_store_explicit(&c->done, 0, memory_order_release);
}

/**
 * zd_complete - record one completion and wake the waiters (one of them
 * consumes it). A no-op on the count after zd_complete_all().
 */
void zd_complete(struct zd_completion *c)
{
	unsigned int old;

	ZD_SYNC_POINT(0, c);
	old = atomic_load_explicit(&c->done, memory_order_relaxed);
	do {
		if (old >= ZD_COMPLETION_ALL)
			break;
	} while (!atomic_compare_exchange_weak_explicit(
	    &c->done, &old, old + 1, memory_order_release, memory_order_relaxed));
	zd_wake_up_var(c);
}

/* zd_complete_all - let every current and future wait succeed (until reinit). */
void zd_complete_all(struct zd_completion *c)
{
	ZD_SYNC_POINT(0, c);
	atomic_store_explicit(&c->done, ZD_COMPLETION_ALL, memory_order_release);
	zd_wake_up_var(c);
}

/* Consume one completion if there is one; also the wait condition. */
static bool zd_completion_consume(void *arg)
{
	struct zd_completion *c = arg;
	unsigned int old = atomic_load_explicit(&c->done, memory_order_acquire);

	do {
		if (old == 0)
			return false;
		if (old >= ZD_COMPLETION_ALL)
			return true;
	} while (!atomic_compare_exchange_weak_explicit(
	    &c->done, &old, old - 1, memory_order_acquire, memory_order_acquire));
	return true;
}

/**
 * zd_wait_for_completion - sleep until @c is completed, and consume it.
 * @what: what is awaited, as reported by zd_task_waiting_on().
 *
 * A tracked, interruptible sleep (see zd_wait_var_event()).
 * Return: 0, or -EINTR if the task group was cancelled (nothing consumed).
 */
int zd_wait_for_completion(struct zd_completion *c, const char *what)
{
	ZD_SYNC_POINT(0, c);
	return zd__wait_var(c, zd_completion_consume, c, what, true);
}

/* zd_try_wait_for_completion - consume a completion without sleeping. */
bool zd_try_wait_for_completion(struct zd_completion *c)
{
	ZD_SYNC_POINT(0, c);
	return zd_completion_consume(c);
}

/* zd_completion_done - whether a wait would succeed now (nothing consumed). */
bool zd_completion_done(struct zd_completion *c)
{
	ZD_SYNC_POINT(0, c);
	return atomic_load_explicit(&c->done, memory_order_acquire) != 0;
}
