/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: plain (untracked) threads, one-time initialisation, the
 * monotonic clock and the CPU-relax hint.
 */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "sync_internal.h"

struct zd_thread {
	pthread_t thread;
};

/**
 * zd_thread_start - run @fn(@arg) on a new thread (its sleeps are untracked).
 *
 * Return: a handle for zd_thread_join(), or NULL (errno set) on failure.
 */
struct zd_thread *zd_thread_start(void *(*fn)(void *arg), void *arg)
{
	struct zd_thread *t = malloc(sizeof(*t));
	int rc;

	if (!t)
		return NULL;
	rc = pthread_create(&t->thread, NULL, fn, arg);
	if (rc) {
		free(t);
		errno = rc;
		return NULL;
	}
	return t;
}

/* zd_thread_join - wait for @t, free it; Return: @t's result (NULL on error). */
void *zd_thread_join(struct zd_thread *t)
{
	void *ret = NULL;

	if (!t)
		return NULL;
	if (pthread_join(t->thread, &ret))
		return NULL;
	free(t);
	return ret;
}

/* once->state values. */
enum { ZD_ONCE_NEW, ZD_ONCE_RUNNING, ZD_ONCE_DONE };

/* Recursive, so an init function may itself run zd_once() on another object. */
static pthread_mutex_t zd_once_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/**
 * zd_once - run @fn exactly once per @once, process-wide.
 *
 * Every caller returns only after @fn has completed. Locking: one
 * process-wide recursive mutex serialises first calls; later calls are a
 * single acquire load. A recursive call on the same @once from inside @fn
 * returns at once (the init is in progress on this thread).
 */
void zd_once(zd_once_t *once, void (*fn)(void))
{
	if (atomic_load_explicit(&once->state, memory_order_acquire) == ZD_ONCE_DONE)
		return;
	pthread_mutex_lock(&zd_once_lock);
	if (atomic_load_explicit(&once->state, memory_order_relaxed) == ZD_ONCE_NEW) {
		atomic_store_explicit(&once->state, ZD_ONCE_RUNNING, memory_order_relaxed);
		fn();
		atomic_store_explicit(&once->state, ZD_ONCE_DONE, memory_order_release);
	}
	pthread_mutex_unlock(&zd_once_lock);
}

uint64_t zd_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void zd_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	sched_yield();
#endif
}
