/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: the explore backend. Tasks of a task group that has an
 * explorer are model threads: fibers that run one at a time on the OS thread
 * that quiesces the group (zd_task_group_quiesce). Every sync operation is a
 * scheduling point at which the explorer's pick function chooses who runs
 * next, and a hand-over is a user-space context switch; blocking operations
 * mark the thread waiting and switch away instead of sleeping in the kernel.
 * The same library code runs under both backends: the switch is one
 * thread-local pointer tested in ZD_SYNC_POINT. Per-thread state of the
 * library is per task (zd_current_task, zd_task_local), so it follows the
 * model thread from fiber to fiber.
 *
 * Used by src/explore/ (strategies) and the scenario runner; nothing in the
 * model includes this.
 */
#ifndef ZONEDEV_SRC_SYNC_EXPLORE_H
#define ZONEDEV_SRC_SYNC_EXPLORE_H

#include <stdbool.h>
#include <stdint.h>

#include "sync.h"

/* Model threads per explorer (thread ids are bit positions of a mask). */
#define ZD_EXPLORE_MAX_THREADS 32

/* What a strategy is told at a scheduling point where two or more threads may run. */
struct zd_explore_point {
	unsigned int step; /* choices made so far in this execution */
	uint32_t enabled;  /* runnable model threads, bit i = thread id i */
	int current;	   /* the thread that reached the point, -1 if it cannot go on */
	int kind;	   /* ZD_SP_* of current's next operation */
	const void *addr;  /* and its object */
	/*
	 * Every thread's next operation (by thread id): the kind and object it
	 * will touch first when it runs; object NULL when not known (a thread
	 * not started yet, or back from a wait), which depends on everything.
	 */
	int pend_kind[ZD_EXPLORE_MAX_THREADS];
	const void *pend_addr[ZD_EXPLORE_MAX_THREADS];
};

/* Return the thread to run: a bit of p->enabled. */
typedef int (*zd_explore_pick_fn)(void *arg, const struct zd_explore_point *p);
/* Called by a model thread as it starts running after another one ran. Must not sleep or block. */
typedef void (*zd_explore_switch_fn)(void *arg, int tid);
/*
 * Optional: told every operation that runs where no choice is made (one
 * runnable thread) while recording: the thread and the kind and object of
 * the operation it goes on with. Must not sleep.
 */
typedef void (*zd_explore_note_fn)(void *arg, int tid, int kind, const void *addr);

struct zd_explorer;

struct zd_explorer *zd_explorer_create(zd_explore_pick_fn pick, zd_explore_switch_fn on_switch,
				       void *arg);
/*
 * Free @ex; every model thread of it must have been joined (else it is leaked
 * on purpose, with its blocked threads suspended for good).
 */
void zd_explorer_destroy(struct zd_explorer *ex);
/*
 * Make @g's future tasks model threads of @ex. Returns 0, -EBUSY if @g has tasks,
 * -EINVAL without @ex.
 */
int zd_task_group_set_explorer(struct zd_task_group *g, struct zd_explorer *ex);
/* Install the note hook (NULL: none). Before any model thread starts. */
void zd_explorer_set_note(struct zd_explorer *ex, zd_explore_note_fn note);
/* While recording, choices go to the pick function; otherwise the current thread goes on. */
void zd_explorer_set_recording(struct zd_explorer *ex, bool on);
/* Choices made while recording. */
unsigned int zd_explorer_steps(struct zd_explorer *ex);
/* Scheduling points passed while recording (all of them, not only choices). */
unsigned long zd_explorer_points(struct zd_explorer *ex);
/* The model thread id of @t (creation order in its explorer), or -1. */
int zd_task_explore_id(struct zd_task *t);

#endif
