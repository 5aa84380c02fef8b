/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: tasks and task groups, threads whose sleeps are tracked so a
 * group can be brought to quiescence (every task asleep or done) or cancelled.
 */
#include <errno.h>
#include <stdlib.h>

#include "sync_internal.h"

/* The calling context's task: per OS thread, switched with the model thread under explore. */
static __thread struct zd_task *zd_task_self;
/* Task-local words of threads that are not tasks. */
static __thread unsigned long zd_task_local_thread[ZD_TASK_LOCAL_NR];

/* zd_current_task - the calling thread's task, NULL for other threads. */
struct zd_task *zd_current_task(void)
{
	return zd_task_self;
}

void zd__task_set_current(struct zd_task *t)
{
	zd_task_self = t;
}

/* zd_task_local - the calling task's word @slot (the calling thread's, outside tasks). */
unsigned long *zd_task_local(enum zd_task_local_slot slot)
{
	struct zd_task *t = zd_task_self;

	return t ? &t->local[slot] : &zd_task_local_thread[slot];
}

/* One fewer running task; wakes quiescers at zero. Caller holds g->lock. */
static void zd_group_running_dec(struct zd_task_group *g)
{
	if (--g->running == 0)
		pthread_cond_broadcast(&g->quiet);
}

/**
 * zd_task_group_create - a new, empty, uncancelled task group.
 *
 * Return: the group, or NULL (errno set) when out of memory.
 */
struct zd_task_group *zd_task_group_create(void)
{
	struct zd_task_group *g = calloc(1, sizeof(*g));
	int rc;

	if (!g)
		return NULL;
	rc = pthread_mutex_init(&g->lock, NULL);
	if (rc)
		goto fail_free;
	rc = pthread_cond_init(&g->quiet, NULL);
	if (rc)
		goto fail_mutex;
	return g;

fail_mutex:
	pthread_mutex_destroy(&g->lock);
fail_free:
	free(g);
	errno = rc;
	return NULL;
}

/**
 * zd_task_group_destroy - free @g; every task of it must have been joined.
 *
 * A group with unjoined tasks is a caller bug: it is left allocated (a leak
 * the leak checker reports) rather than freed under the live tasks.
 */
void zd_task_group_destroy(struct zd_task_group *g)
{
	unsigned int left;

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	left = g->ntasks;
	pthread_mutex_unlock(&g->lock);
	if (left)
		return;
	pthread_cond_destroy(&g->quiet);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/*
 * Tasks run on pooled worker threads: creating and tearing down a thread
 * (its stack mapping) costs far more than running a short task. A worker
 * runs one task at a time and parks between tasks; join waits for the
 * task's `finished`, not for the thread. (The tasks of an explored group do
 * not use the pool: they are the explorer's fibers, see explore.c.)
 */
struct zd_worker {
	pthread_cond_t cv;     /* signalled when a task is assigned */
	struct zd_task *task;  /* under zd_pool_lock */
	struct zd_worker *next; /* on zd_pool_idle */
};

/* Idle workers kept beyond this many exit instead. */
#define ZD_POOL_MAX_IDLE 32

static pthread_mutex_t zd_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t zd_pool_finished = PTHREAD_COND_INITIALIZER; /* a task finished */
static struct zd_worker *zd_pool_idle;
static unsigned int zd_pool_nr_idle;

static void zd_task_main(struct zd_task *t);
static void zd_task_finished(struct zd_task *t);

static void *zd_worker_main(void *p)
{
	struct zd_worker *wk = p;
	struct zd_task *t;

	pthread_mutex_lock(&zd_pool_lock);
	for (;;) {
		while (!wk->task)
			pthread_cond_wait(&wk->cv, &zd_pool_lock);
		t = wk->task;
		pthread_mutex_unlock(&zd_pool_lock);
		zd_task_main(t);
		pthread_mutex_lock(&zd_pool_lock);
		wk->task = NULL;
		zd_task_finished(t);
		if (zd_pool_nr_idle >= ZD_POOL_MAX_IDLE)
			break;
		wk->next = zd_pool_idle;
		zd_pool_idle = wk;
		zd_pool_nr_idle++;
	}
	pthread_mutex_unlock(&zd_pool_lock);
	pthread_cond_destroy(&wk->cv);
	free(wk);
	return NULL;
}

/* Hand @t to an idle worker, or to a new one. Returns 0 or an errno. */
static int zd_pool_run(struct zd_task *t)
{
	struct zd_worker *wk;
	pthread_t thread;
	int rc;

	pthread_mutex_lock(&zd_pool_lock);
	wk = zd_pool_idle;
	if (wk) {
		zd_pool_idle = wk->next;
		zd_pool_nr_idle--;
		wk->task = t;
		pthread_cond_signal(&wk->cv);
		pthread_mutex_unlock(&zd_pool_lock);
		return 0;
	}
	pthread_mutex_unlock(&zd_pool_lock);
	wk = calloc(1, sizeof(*wk));
	if (!wk)
		return ENOMEM;
	pthread_cond_init(&wk->cv, NULL);
	wk->task = t;
	rc = pthread_create(&thread, NULL, zd_worker_main, wk);
	if (rc) {
		pthread_cond_destroy(&wk->cv);
		free(wk);
		return rc;
	}
	pthread_detach(thread);
	return 0;
}

/* @t's function returned: wake its joiners. zd_pool_lock held; t may be freed from here on. */
static void zd_task_finished(struct zd_task *t)
{
	t->finished = true;
	pthread_cond_broadcast(&zd_pool_finished);
}

/* Run @t's function, then mark it done. */
static void zd_task_body(struct zd_task *t)
{
	struct zd_task_group *g = t->group;

	t->fn(t->arg);
	pthread_mutex_lock(&g->lock);
	t->state = ZD_TASK_DONE;
	t->what = NULL;
	zd_group_running_dec(g);
	pthread_mutex_unlock(&g->lock);
}

static void zd_task_main(struct zd_task *t)
{
	zd_task_self = t;
	zd_task_body(t);
	zd_task_self = NULL;
}

/*
 * A model thread's body, run by the explore backend in the thread's fiber
 * (which makes @t the current task). When it returns the backend hands the
 * CPU on for good, without touching @t again.
 */
static void zd_task_model_main(void *arg)
{
	struct zd_task *t = arg;

	zd_task_body(t);
	pthread_mutex_lock(&zd_pool_lock);
	zd_task_finished(t);
	pthread_mutex_unlock(&zd_pool_lock);
}

/**
 * zd_task_start - run @fn(@arg) on a new thread as a task of @g.
 *
 * The task counts as RUNNING from before this returns, so a quiesce right
 * after the start waits for it to sleep or finish. Locking: takes g->lock.
 *
 * Return: the task (to be joined with zd_task_join()), or NULL with errno
 * set to EINVAL, ENOMEM or EAGAIN.
 */
struct zd_task *zd_task_start(struct zd_task_group *g, void (*fn)(void *arg), void *arg)
{
	struct zd_task *t;
	int rc;

	if (!g || !fn) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->group = g;
	t->fn = fn;
	t->arg = arg;
	t->state = ZD_TASK_RUNNING;

	pthread_mutex_lock(&g->lock);
	g->running++;
	g->ntasks++;
	pthread_mutex_unlock(&g->lock);

	/* g->ex is set before the first task and never changes */
	if (g->ex) {
		t->x = zd__explore_thread_new(g->ex, t);
		rc = t->x ? zd__explore_thread_spawn(t->x, zd_task_model_main, t) : EAGAIN;
	} else {
		rc = zd_pool_run(t);
	}
	if (rc) {
		if (t->x)
			zd__explore_thread_abort(t->x);
		pthread_mutex_lock(&g->lock);
		g->ntasks--;
		zd_group_running_dec(g);
		pthread_mutex_unlock(&g->lock);
		free(t);
		errno = rc;
		return NULL;
	}
	return t;
}

/**
 * zd_task_group_quiesce - block until no task of @g is RUNNING.
 *
 * Must not be called by a task of @g (it would wait for itself).
 * Locking: g->lock.
 */
void zd_task_group_quiesce(struct zd_task_group *g)
{
	ZD_SYNC_POINT(0, g);
	if (g->ex)
		zd__explore_run(g->ex); /* the scheduler runs them until none can */
	pthread_mutex_lock(&g->lock);
	while (g->running)
		pthread_cond_wait(&g->quiet, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/* zd_task_state - @t's state at the time of the call. */
enum zd_task_state zd_task_state(struct zd_task *t)
{
	enum zd_task_state s;

	pthread_mutex_lock(&t->group->lock);
	s = t->state;
	pthread_mutex_unlock(&t->group->lock);
	return s;
}

/**
 * zd_task_waiting_on - the @what of @t's current sleep.
 *
 * Return: the string passed to the wait @t is blocked in, or NULL when @t is
 * running or done. The string belongs to the sleeper; it stays valid only
 * while the sleep lasts.
 */
const char *zd_task_waiting_on(struct zd_task *t)
{
	const char *what;

	pthread_mutex_lock(&t->group->lock);
	what = t->state == ZD_TASK_SLEEPING ? t->what : NULL;
	pthread_mutex_unlock(&t->group->lock);
	return what;
}

/**
 * zd_task_group_cancel - make the tracked sleeps of @g's tasks fail.
 *
 * Every current and later interruptible sleep of a task of @g
 * (zd_wait_var_event, zd_wait_for_completion) returns -EINTR once its
 * condition is found false. Sleeps that cannot fail (zd_mutex_lock,
 * zd_down_read, zd_down_write) are woken once, look at the lock again and
 * keep waiting, still tracked, until the holder (being unwound by its own
 * -EINTR) releases it. Locking: g->lock, then every wait bucket in turn.
 */
void zd_task_group_cancel(struct zd_task_group *g)
{
	ZD_SYNC_POINT(0, g);
	pthread_mutex_lock(&g->lock);
	g->cancelled = true;
	pthread_mutex_unlock(&g->lock);
	if (g->ex)
		zd__explore_wake_all(g->ex);
	zd__wake_group(g);
}

/**
 * zd_task_join - wait for @t to finish, then free it.
 *
 * A task cannot join itself (the join fails and @t is left alone).
 */
void zd_task_join(struct zd_task *t)
{
	struct zd_task_group *g;

	if (!t || t == zd_task_self)
		return;
	pthread_mutex_lock(&zd_pool_lock);
	while (!t->finished)
		pthread_cond_wait(&zd_pool_finished, &zd_pool_lock);
	pthread_mutex_unlock(&zd_pool_lock);
	g = t->group;
	pthread_mutex_lock(&g->lock);
	g->ntasks--;
	pthread_mutex_unlock(&g->lock);
	free(t);
}

int zd__task_sleep_begin(struct zd_task *t, const char *what, bool interruptible)
{
	struct zd_task_group *g = t->group;

	pthread_mutex_lock(&g->lock);
	if (interruptible && g->cancelled) {
		pthread_mutex_unlock(&g->lock);
		return -EINTR;
	}
	t->state = ZD_TASK_SLEEPING;
	t->what = what;
	zd_group_running_dec(g);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void zd__task_wake(struct zd_task *t)
{
	struct zd_task_group *g = t->group;

	pthread_mutex_lock(&g->lock);
	if (t->state == ZD_TASK_SLEEPING) {
		t->state = ZD_TASK_RUNNING;
		t->what = NULL;
		g->running++;
	}
	pthread_mutex_unlock(&g->lock);
}
