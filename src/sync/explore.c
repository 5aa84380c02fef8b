/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: the explore backend's scheduling. Model threads are fibers
 * (fiber.h) that run on the OS thread in zd__explore_run(), the quiesce of
 * their group: that thread switches to the first model thread picked, and
 * from then on a model thread hands the CPU over by switching straight to
 * the next one (or back to the scheduler when none can run). Only one
 * context runs at a time by construction, and a hand-over costs a user-space
 * context switch instead of a futex wake-up and sleep.
 *
 * Thread-local state that belongs to a model thread is switched with it:
 * zd__explore_self and the current task (zd_current_task(), which also
 * carries the task-local words of sync.h) are set by every context as it
 * resumes. ex->lock protects the thread states, which a thread that is not a
 * model thread may change (a wake from outside); it is never held across a
 * switch. ex->last is only touched on the OS thread running the fibers.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "explore.h"
#include "fiber.h"
#include "sync_internal.h"
/*
 * Fairness: a thread that passes this many scheduling points in a row while
 * others could run is made to yield (the switch costs no preemption). The
 * model has retry loops that only end when another thread acts (a fault that
 * meets an entry being changed returns and is retried); without this a
 * search that keeps the running thread going would spin in them forever.
 */
#define ZD_X_FAIR 4096

enum zd_xstate {
	ZD_X_RUNNABLE,
	ZD_X_WAITING,
	ZD_X_DONE,
};

struct zd_xthread {
	struct zd_explorer *ex;
	struct zd_task *task;
	int id;
	enum zd_xstate state;	/* under ex->lock */
	const void *wait_var;	/* ZD_X_WAITING: what a wake must name */
	unsigned int rcu_depth; /* read sections the thread is in */
	unsigned int quiet;	/* > 0: scheduling points are ignored (switch hook) */
	int pend_kind;		/* the operation the thread does when it next runs, */
	const void *pend_addr;	/* NULL while unknown (not started, or back from a wait) */
	struct zd_fiber *fiber; /* its context; NULL before it is spawned and once done */
	void (*fn)(void *arg);	/* the body (the task's) */
	void *arg;
};

/*
 * The explorer's lock, a test-and-set word. In practice only the OS thread
 * running the exploration takes it (model threads are its fibers, and none
 * switches while holding it), but a wake may come from another thread, so
 * it stays a real lock. A pthread mutex, taken and dropped at every
 * scheduling point, cost a tenth of a race execution.
 */
struct zd_xlock {
	_Atomic int v;
};

static inline void zd_xlock_lock(struct zd_xlock *l)
{
	while (atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
		while (atomic_load_explicit(&l->v, memory_order_relaxed))
			sched_yield();
}

static inline void zd_xlock_unlock(struct zd_xlock *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

struct zd_explorer {
	struct zd_xlock lock;
	struct zd_fiber *sched; /* the scheduler's context while zd__explore_run() runs */
	void *sched_self;	/* and the thread-local state it had, restored on return to it */
	struct zd_task *sched_task;
	struct zd_xthread *threads[ZD_EXPLORE_MAX_THREADS];
	int nthreads;
	int last; /* the thread that ran last (for the switch hook), -1 at first */
	int streak_id;	      /* the thread that passed the last points */
	unsigned long streak; /* how many in a row */
	zd_explore_pick_fn pick;
	zd_explore_switch_fn on_switch;
	zd_explore_note_fn note;
	void *arg;
	bool recording;
	unsigned int steps;
	unsigned long points;
	struct zd_explorer *next; /* on zd_explorers */
};

__thread void *zd__explore_self __attribute__((tls_model("initial-exec")));

/*
 * Explorers alive, so that a wake from a thread that is not a model thread
 * (the runner applying a statement) still reaches model waiters. The counter
 * keeps the native path to one relaxed load when no explorer exists.
 */
static pthread_mutex_t zd_explorers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zd_explorer *zd_explorers;
static _Atomic int zd_explorers_live;

struct zd_explorer *zd_explorer_create(zd_explore_pick_fn pick, zd_explore_switch_fn on_switch,
				       void *arg)
{
	struct zd_explorer *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return NULL;
	atomic_init(&ex->lock.v, 0);
	ex->last = -1;
	ex->streak_id = -1;
	ex->pick = pick;
	ex->on_switch = on_switch;
	ex->arg = arg;
	pthread_mutex_lock(&zd_explorers_lock);
	ex->next = zd_explorers;
	zd_explorers = ex;
	atomic_fetch_add_explicit(&zd_explorers_live, 1, memory_order_relaxed);
	pthread_mutex_unlock(&zd_explorers_lock);
	return ex;
}

void zd_explorer_destroy(struct zd_explorer *ex)
{
	struct zd_explorer **pp;
	int i;

	if (!ex)
		return;
	zd_xlock_lock(&ex->lock);
	for (i = 0; i < ex->nthreads; i++) {
		if (ex->threads[i]->state != ZD_X_DONE) {
			/*
			 * A thread still blocked (a lock never released): it stays
			 * suspended for good, and everything it may point to is
			 * kept, as a parked thread would keep it.
			 */
			for (i = 0; i < ex->nthreads; i++)
				if (ex->threads[i]->state != ZD_X_DONE)
					zd_fiber_abandon(ex->threads[i]->fiber);
			zd_xlock_unlock(&ex->lock);
			return;
		}
	}
	zd_xlock_unlock(&ex->lock);
	pthread_mutex_lock(&zd_explorers_lock);
	for (pp = &zd_explorers; *pp; pp = &(*pp)->next) {
		if (*pp == ex) {
			*pp = ex->next;
			break;
		}
	}
	atomic_fetch_sub_explicit(&zd_explorers_live, 1, memory_order_relaxed);
	pthread_mutex_unlock(&zd_explorers_lock);
	for (i = 0; i < ex->nthreads; i++)
		free(ex->threads[i]);
	free(ex);
}

void zd_explorer_set_note(struct zd_explorer *ex, zd_explore_note_fn note)
{
	zd_xlock_lock(&ex->lock);
	ex->note = note;
	zd_xlock_unlock(&ex->lock);
}

void zd_explorer_set_recording(struct zd_explorer *ex, bool on)
{
	zd_xlock_lock(&ex->lock);
	ex->recording = on;
	zd_xlock_unlock(&ex->lock);
}

unsigned int zd_explorer_steps(struct zd_explorer *ex)
{
	unsigned int n;

	zd_xlock_lock(&ex->lock);
	n = ex->steps;
	zd_xlock_unlock(&ex->lock);
	return n;
}

unsigned long zd_explorer_points(struct zd_explorer *ex)
{
	unsigned long n;

	zd_xlock_lock(&ex->lock);
	n = ex->points;
	zd_xlock_unlock(&ex->lock);
	return n;
}

int zd_task_group_set_explorer(struct zd_task_group *g, struct zd_explorer *ex)
{
	int ret = 0;

	if (!g || !ex)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (g->ntasks)
		ret = -EBUSY;
	else
		g->ex = ex;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int zd_task_explore_id(struct zd_task *t)
{
	return t && t->x ? t->x->id : -1;
}

/* Runnable threads as a mask. ex->lock held. */
static uint32_t zd_x_enabled(struct zd_explorer *ex)
{
	uint32_t m = 0;
	int i;

	for (i = 0; i < ex->nthreads; i++)
		if (ex->threads[i]->state == ZD_X_RUNNABLE)
			m |= 1u << i;
	return m;
}

/*
 * Who runs next after @self (NULL: the scheduler) reached a point about @kind
 * on @addr; -1 when nobody can. ex->lock held. Only a real choice (two or more
 * runnable) is a step and goes to the strategy, and only while recording;
 * otherwise the running thread goes on, or the lowest runnable one starts.
 */
static int zd_x_choose(struct zd_explorer *ex, struct zd_xthread *self, int kind, const void *addr)
{
	uint32_t en = zd_x_enabled(ex);
	int cur = self && self->state == ZD_X_RUNNABLE ? self->id : -1;
	struct zd_explore_point p;
	int t;

	if (!en)
		return -1;
	if (ex->recording)
		ex->points++;
	if (cur >= 0) {
		if (ex->streak_id != cur) {
			ex->streak_id = cur;
			ex->streak = 0;
		}
		if (++ex->streak > ZD_X_FAIR && (en & ~(1u << cur))) {
			en &= ~(1u << cur);
			cur = -1;
			ex->streak = 0;
		}
	}
	if (!(en & (en - 1)) || !ex->recording || !ex->pick) {
		t = cur >= 0 ? cur : __builtin_ctz(en);
		if (ex->recording && ex->note)
			ex->note(ex->arg, t, ex->threads[t]->pend_kind, ex->threads[t]->pend_addr);
		return t;
	}
	p.step = ex->steps++;
	p.enabled = en;
	p.current = cur;
	p.kind = kind;
	p.addr = addr;
	for (t = 0; t < ex->nthreads; t++) {
		p.pend_kind[t] = ex->threads[t]->pend_kind;
		p.pend_addr[t] = ex->threads[t]->pend_addr;
	}
	t = ex->pick(ex->arg, &p);
	if (t < 0 || t >= ZD_EXPLORE_MAX_THREADS || !(en & (1u << t)))
		t = cur >= 0 ? cur : __builtin_ctz(en);
	return t;
}

/* Tell the switch hook that @x runs now, if another thread ran before. Points are off meanwhile. */
static void zd_x_switched(struct zd_xthread *x, int last)
{
	struct zd_explorer *ex = x->ex;

	if (!ex->on_switch || last == x->id)
		return;
	x->quiet++;
	ex->on_switch(ex->arg, x->id);
	x->quiet--;
}

/* The calling context is model thread @x (NULL: the scheduler of @ex) again: its thread-locals. */
static void zd_x_resumed(struct zd_explorer *ex, struct zd_xthread *x)
{
	if (x) {
		zd__explore_self = x;
		zd__task_set_current(x->task);
	} else {
		zd__explore_self = ex->sched_self;
		zd__task_set_current(ex->sched_task);
	}
}

/* The context of thread @next, or of the scheduler when -1. */
static struct zd_fiber *zd_x_fiber(struct zd_explorer *ex, int next)
{
	return next >= 0 ? ex->threads[next]->fiber : ex->sched;
}

/*
 * Hand the CPU from @self to @next (a thread id, or the scheduler when -1)
 * and return once @self is picked again. ex->lock held on entry, dropped for
 * the switch and held again on return. Returns the id of the thread that ran
 * before @self resumed.
 */
static int zd_x_handover(struct zd_explorer *ex, struct zd_xthread *self, int next)
{
	struct zd_fiber *to = zd_x_fiber(ex, next);

	ex->last = self->id;
	zd_xlock_unlock(&ex->lock);
	zd_fiber_switch(self->fiber, to);
	zd_x_resumed(ex, self);
	zd_xlock_lock(&ex->lock);
	return ex->last;
}

void zd__explore_point(int kind, const void *addr)
{
	struct zd_xthread *x = zd__explore_self;
	struct zd_explorer *ex;
	int next, last = -2;

	if (!x || x->quiet)
		return;
	ex = x->ex;
	zd_xlock_lock(&ex->lock);
	x->pend_kind = kind;
	x->pend_addr = addr;
	next = zd_x_choose(ex, x, kind, addr);
	if (next != x->id)
		last = zd_x_handover(ex, x, next);
	zd_xlock_unlock(&ex->lock);
	if (last != -2)
		zd_x_switched(x, last);
}

void zd_sync_quiet_begin(void)
{
	struct zd_xthread *x = zd__explore_self;

	if (x)
		x->quiet++;
}

void zd_sync_quiet_end(void)
{
	struct zd_xthread *x = zd__explore_self;

	if (x && x->quiet)
		x->quiet--;
}

bool zd__explore_active(void)
{
	struct zd_xthread *x = zd__explore_self;

	return x && !x->quiet;
}

/**
 * zd__explore_block - the calling model thread waits on @var until a wake of
 * @var (or a cancel) makes it runnable and the strategy picks it. The task is
 * marked asleep for the runner's BLOCKED detection (not interruptible: the
 * caller rechecks cancel itself).
 */
void zd__explore_block(const void *var, const char *what)
{
	struct zd_xthread *x = zd__explore_self;
	struct zd_explorer *ex = x->ex;
	int next, last;

	zd__task_sleep_begin(x->task, what, false);
	zd_xlock_lock(&ex->lock);
	x->state = ZD_X_WAITING;
	x->wait_var = var;
	/* What it does once woken (re-check a condition, take a lock) is not known. */
	x->pend_kind = ZD_SP_ANY;
	x->pend_addr = NULL;
	next = zd_x_choose(ex, x, ZD_SP_WAIT, var);
	last = zd_x_handover(ex, x, next);
	zd_xlock_unlock(&ex->lock);
	zd_x_switched(x, last);
}

/* Make waiters of @ex on @var (every waiter if @all) runnable. */
static void zd_x_wake(struct zd_explorer *ex, const void *var, bool all)
{
	int i;

	zd_xlock_lock(&ex->lock);
	for (i = 0; i < ex->nthreads; i++) {
		struct zd_xthread *t = ex->threads[i];

		if (t->state == ZD_X_WAITING && (all || t->wait_var == var)) {
			t->state = ZD_X_RUNNABLE;
			t->wait_var = NULL;
			zd__task_wake(t->task);
		}
	}
	zd_xlock_unlock(&ex->lock);
}

/* zd__explore_wake - every model thread waiting on @var becomes runnable. */
void zd__explore_wake(const void *var)
{
	struct zd_xthread *x = zd__explore_self;
	struct zd_explorer *ex;

	if (x) {
		zd_x_wake(x->ex, var, false);
		return;
	}
	if (!atomic_load_explicit(&zd_explorers_live, memory_order_relaxed))
		return;
	pthread_mutex_lock(&zd_explorers_lock);
	for (ex = zd_explorers; ex; ex = ex->next)
		zd_x_wake(ex, var, false);
	pthread_mutex_unlock(&zd_explorers_lock);
}

/* zd__explore_wake_all - cancel: every waiting model thread of @ex looks again. */
void zd__explore_wake_all(struct zd_explorer *ex)
{
	zd_x_wake(ex, NULL, true);
}

/*
 * A model thread for task @t. The slot of a finished thread is reused (the
 * lowest one), so thread ids stay small and stable: the statements run
 * before a block leave their slots free and the block's threads get 0, 1 ...
 * whatever came before. The finished thread no longer touches its slot.
 */
struct zd_xthread *zd__explore_thread_new(struct zd_explorer *ex, struct zd_task *t)
{
	struct zd_xthread *x = NULL;
	int i;

	zd_xlock_lock(&ex->lock);
	for (i = 0; i < ex->nthreads; i++) {
		if (ex->threads[i]->state == ZD_X_DONE) {
			x = ex->threads[i];
			break;
		}
	}
	if (!x) {
		if (ex->nthreads == ZD_EXPLORE_MAX_THREADS)
			goto out;
		x = calloc(1, sizeof(*x));
		if (!x)
			goto out;
		x->id = ex->nthreads;
		ex->threads[ex->nthreads++] = x;
	}
	x->ex = ex;
	x->task = t;
	x->state = ZD_X_RUNNABLE;
	x->wait_var = NULL;
	x->rcu_depth = 0;
	x->quiet = 0;
	/*
	 * Until it first runs, a thread's next step is its start: the code up
	 * to its first scheduling point, which touches nothing shared (its task
	 * and statement). Its own slot names it, so it commutes with the rest.
	 */
	x->pend_kind = ZD_SP_ANY;
	x->pend_addr = x;
out:
	zd_xlock_unlock(&ex->lock);
	return x;
}

/* A model thread could not be started after all: it will never run. */
void zd__explore_thread_abort(struct zd_xthread *x)
{
	zd_xlock_lock(&x->ex->lock);
	x->state = ZD_X_DONE;
	zd_xlock_unlock(&x->ex->lock);
}

/* Last thing on a model thread: done, hand the CPU on for good. */
static __attribute__((noreturn)) void zd_x_thread_end(struct zd_xthread *x)
{
	struct zd_explorer *ex = x->ex;
	struct zd_fiber *self = x->fiber;
	int next;

	zd_xlock_lock(&ex->lock);
	x->state = ZD_X_DONE;
	next = zd_x_choose(ex, x, ZD_SP_ANY, NULL);
	ex->last = x->id;
	x->fiber = NULL; /* the slot may be reused; the fiber is recycled by the next context */
	zd_xlock_unlock(&ex->lock);
	zd_fiber_exit(self, zd_x_fiber(ex, next));
}

/* The body of a model thread's fiber: runs when the thread is first picked. */
static void zd_x_thread_main(void *arg)
{
	struct zd_xthread *x = arg;

	zd_x_resumed(x->ex, x);
	zd_x_switched(x, x->ex->last);
	x->fn(x->arg);
	zd_x_thread_end(x);
}

/*
 * Give model thread @x its context, in which it will run @fn(@arg) once
 * picked. Returns 0 or an errno.
 */
int zd__explore_thread_spawn(struct zd_xthread *x, void (*fn)(void *arg), void *arg)
{
	struct zd_fiber *f;

	x->fn = fn;
	x->arg = arg;
	f = zd_fiber_new(zd_x_thread_main, x);
	if (!f)
		return errno ? errno : ENOMEM;
	zd_xlock_lock(&x->ex->lock);
	x->fiber = f;
	zd_xlock_unlock(&x->ex->lock);
	return 0;
}

/**
 * zd__explore_run - the quiesce of an explored group: run model threads, one
 * at a time as the strategy picks them, until none is runnable (each is done
 * or waiting). Called by the group's owner, never by a model thread: the
 * model threads run as fibers on the calling OS thread, and the call returns
 * when one of them, finding nobody else to run, switches back to it.
 */
void zd__explore_run(struct zd_explorer *ex)
{
	struct zd_fiber self;
	int next;

	zd_fiber_thread_init(&self);
	zd_xlock_lock(&ex->lock);
	ex->sched = &self;
	ex->sched_self = zd__explore_self;
	ex->sched_task = zd_current_task();
	for (;;) {
		next = zd_x_choose(ex, NULL, ZD_SP_ANY, NULL);
		if (next < 0)
			break;
		zd_xlock_unlock(&ex->lock);
		zd_fiber_switch(&self, zd_x_fiber(ex, next));
		zd_x_resumed(ex, NULL);
		zd_xlock_lock(&ex->lock);
	}
	ex->sched = NULL;
	zd_xlock_unlock(&ex->lock);
}
/* ---- RCU under explore: read sections are counters, a grace period a wait ---- */

static int zd_x_rcu_gp; /* the wait variable of grace periods */

void zd__explore_rcu_read_lock(void)
{
	struct zd_xthread *x = zd__explore_self;

	x->rcu_depth++;
}

void zd__explore_rcu_read_unlock(void)
{
	struct zd_xthread *x = zd__explore_self;

	if (x->rcu_depth && --x->rcu_depth == 0)
		zd__explore_wake(&zd_x_rcu_gp);
}

/* Whether a model thread other than @self is inside a read section. */
static bool zd_x_rcu_readers(struct zd_xthread *self)
{
	struct zd_explorer *ex = self->ex;
	bool any = false;
	int i;

	zd_xlock_lock(&ex->lock);
	for (i = 0; i < ex->nthreads; i++)
		if (ex->threads[i] != self && ex->threads[i]->rcu_depth)
			any = true;
	zd_xlock_unlock(&ex->lock);
	return any;
}

/*
 * A grace period waits until no other thread is in a read section: stronger
 * than the kernel's (which ignores readers that began later) but it can only
 * add waiting, never remove an interleaving in which a reader is still inside.
 */
void zd__explore_synchronize_rcu(void)
{
	struct zd_xthread *x = zd__explore_self;

	while (zd_x_rcu_readers(x))
		zd__explore_block(&zd_x_rcu_gp, "synchronize_rcu (a reader is inside)");
}
