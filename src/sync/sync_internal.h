/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: private glue shared by the files of src/sync/ only (task and
 * task-group layout, tracked-sleep bookkeeping). Never include it elsewhere.
 */
#ifndef ZONEDEV_SRC_SYNC_INTERNAL_H
#define ZONEDEV_SRC_SYNC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "sync.h"

/*
 * Lock ordering inside src/sync/: a wait-queue bucket lock may be held while
 * taking a task group's lock, never the other way round.
 */

/* A group of tasks whose sleeps are tracked (see sync.h, "Tasks"). */
struct zd_task_group {
	pthread_mutex_t lock; /* protects everything below and the tasks' state */
	pthread_cond_t quiet; /* broadcast whenever `running` drops to zero */
	unsigned int running; /* tasks in ZD_TASK_RUNNING */
	unsigned int ntasks;  /* tasks started and not yet joined */
	bool cancelled;	      /* set once by zd_task_group_cancel() */
	struct zd_explorer *ex; /* non-NULL: tasks are model threads (explore.h) */
};

struct zd_task {
	bool finished; /* under the worker pool's lock: the task's function returned */
	struct zd_task_group *group; /* immutable after start */
	void (*fn)(void *arg);
	void *arg;
	enum zd_task_state state; /* under group->lock */
	const char *what;	  /* under group->lock; meaningful while SLEEPING */
	struct zd_xthread *x;	  /* the model thread, when the group is explored */
	unsigned long local[ZD_TASK_LOCAL_NR]; /* zd_task_local() */
};

/*
 * zd__task_sleep_begin - mark @t asleep on behalf of a wait about to block.
 * Caller holds the wait bucket's lock. Returns -EINTR (and leaves @t
 * running) when @interruptible and the group was cancelled, else 0.
 */
int zd__task_sleep_begin(struct zd_task *t, const char *what, bool interruptible);

/*
 * zd__task_set_current - make @t the calling context's task (zd_current_task()):
 * the explore backend switches it with the model thread it resumes.
 */
void zd__task_set_current(struct zd_task *t);

/* zd__task_wake - mark a sleeping @t running again (called by its waker). */
void zd__task_wake(struct zd_task *t);

/*
 * zd__wait_var - the one sleeping primitive. As zd_wait_var_event(); with
 * @interruptible false a cancelled group does not end the wait (lock
 * acquisition): cancel only wakes it for one more look at the condition.
 */
int zd__wait_var(void *var, zd_wait_cond_t cond, void *arg, const char *what, bool interruptible);

/* zd__wake_group - wake every sleeper belonging to a task of @g (cancel). */
void zd__wake_group(struct zd_task_group *g);

/* ---- The explore backend (explore.c) ---- */

struct zd_explorer;
struct zd_xthread;

/* Whether the calling thread is a model thread whose points count. */
bool zd__explore_active(void);
/* The calling model thread waits on @var (not runnable) until woken and picked. */
void zd__explore_block(const void *var, const char *what);
/* Waiters on @var become runnable (any caller). */
void zd__explore_wake(const void *var);
void zd__explore_wake_all(struct zd_explorer *ex);
struct zd_xthread *zd__explore_thread_new(struct zd_explorer *ex, struct zd_task *t);
void zd__explore_thread_abort(struct zd_xthread *x);
/* Make @x a fiber that runs @fn(@arg) when first picked. Returns 0 or an errno. */
int zd__explore_thread_spawn(struct zd_xthread *x, void (*fn)(void *arg), void *arg);
void zd__explore_run(struct zd_explorer *ex);
void zd__explore_rcu_read_lock(void);
void zd__explore_rcu_read_unlock(void);
void zd__explore_synchronize_rcu(void);

#endif
