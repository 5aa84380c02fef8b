/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the synchronisation layer. The only place that may use C11
 * atomics or pthreads: ordered atomics (names spell the order), spinlock,
 * sleeping mutex and rwsem, wait_var_event / wake_up_var, completions,
 * percpu_ref, RCU, and tasks (threads whose sleeps are observable, so a
 * caller can tell "blocked" from "still running").
 *
 * Every operation below is one interception point: the explore backend
 * (issue 7) replaces the bodies behind ZD_SYNC_POINT without touching
 * callers.
 */
#ifndef ZONEDEV_SRC_SYNC_H
#define ZONEDEV_SRC_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>

#include "zonedev/sync_types.h"

/*
 * Hook for the explore backend: every sync operation passes here. A thread
 * that is a model thread of an explorer (src/sync/explore.h) has a non-NULL
 * zd__explore_self and yields to the explorer's scheduler; every other thread
 * pays one thread-local load and a predictable branch. @kind (ZD_SP_*) says
 * what the operation does to @addr; 0 is "anything" (conservative).
 */
enum zd_sync_point_kind {
	ZD_SP_ANY = 0,
	ZD_SP_READ,
	ZD_SP_WRITE,
	ZD_SP_RMW,
	ZD_SP_LOCK,
	ZD_SP_UNLOCK,
	ZD_SP_WAIT,
	ZD_SP_WAKE,
};

extern __thread void *zd__explore_self __attribute__((tls_model("initial-exec")));
void zd__explore_point(int kind, const void *addr) __attribute__((access(none, 2)));

/*
 * Code that only observes (tracing) brackets itself with these: its sync
 * operations are not scheduling points, so a traced execution meets exactly
 * the points of an untraced one and a schedule replays either way. Nests.
 */
void zd_sync_quiet_begin(void);
void zd_sync_quiet_end(void);

#ifndef ZD_SYNC_POINT
#define ZD_SYNC_POINT(kind, addr)                                                                  \
	do {                                                                                       \
		if (__builtin_expect(zd__explore_self != NULL, 0))                                 \
			zd__explore_point((kind), (addr));                                         \
	} while (0)
#endif

/* ---- Atomics: int --------------------------------------------------- */

static inline int zd_atomic_read_relaxed(const zd_atomic_t *v)
{
	ZD_SYNC_POINT(0, v);
	return atomic_load_explicit(&((zd_atomic_t *)v)->counter, memory_order_relaxed);
}
static inline int zd_atomic_read_acquire(const zd_atomic_t *v)
{
	ZD_SYNC_POINT(0, v);
	return atomic_load_explicit(&((zd_atomic_t *)v)->counter, memory_order_acquire);
}
static inline void zd_atomic_set_relaxed(zd_atomic_t *v, int i)
{
	ZD_SYNC_POINT(0, v);
	atomic_store_explicit(&v->counter, i, memory_order_relaxed);
}
static inline void zd_atomic_set_release(zd_atomic_t *v, int i)
{
	ZD_SYNC_POINT(0, v);
	atomic_store_explicit(&v->counter, i, memory_order_release);
}
/* Returns the new value. */
static inline int zd_atomic_add_return_acq_rel(zd_atomic_t *v, int i)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_add_explicit(&v->counter, i, memory_order_acq_rel) + i;
}
static inline int zd_atomic_add_return_relaxed(zd_atomic_t *v, int i)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_add_explicit(&v->counter, i, memory_order_relaxed) + i;
}
/* Compare-and-exchange; on failure *old is updated with the current value. */
static inline bool zd_atomic_try_cmpxchg_acq_rel(zd_atomic_t *v, int *old, int new_value)
{
	ZD_SYNC_POINT(0, v);
	return atomic_compare_exchange_strong_explicit(&v->counter, old, new_value,
						       memory_order_acq_rel, memory_order_acquire);
}
static inline int zd_atomic_xchg_acq_rel(zd_atomic_t *v, int new_value)
{
	ZD_SYNC_POINT(0, v);
	return atomic_exchange_explicit(&v->counter, new_value, memory_order_acq_rel);
}

/* ---- Atomics: long -------------------------------------------------- */

static inline long zd_atomic_long_read_relaxed(const zd_atomic_long_t *v)
{
	ZD_SYNC_POINT(0, v);
	return atomic_load_explicit(&((zd_atomic_long_t *)v)->counter, memory_order_relaxed);
}
static inline long zd_atomic_long_read_acquire(const zd_atomic_long_t *v)
{
	ZD_SYNC_POINT(0, v);
	return atomic_load_explicit(&((zd_atomic_long_t *)v)->counter, memory_order_acquire);
}
static inline void zd_atomic_long_set_relaxed(zd_atomic_long_t *v, long i)
{
	ZD_SYNC_POINT(0, v);
	atomic_store_explicit(&v->counter, i, memory_order_relaxed);
}
static inline long zd_atomic_long_add_return_acq_rel(zd_atomic_long_t *v, long i)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_add_explicit(&v->counter, i, memory_order_acq_rel) + i;
}
static inline long zd_atomic_long_add_return_relaxed(zd_atomic_long_t *v, long i)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_add_explicit(&v->counter, i, memory_order_relaxed) + i;
}

/* ---- Atomics: unsigned long (flag words) ---------------------------- */

static inline unsigned long zd_atomic_ulong_read_relaxed(const zd_atomic_ulong_t *v)
{
	ZD_SYNC_POINT(0, v);
	return atomic_load_explicit(&((zd_atomic_ulong_t *)v)->counter, memory_order_relaxed);
}
static inline unsigned long zd_atomic_ulong_read_acquire(const zd_atomic_ulong_t *v)
{
	ZD_SYNC_POINT(0, v);
	return atomic_load_explicit(&((zd_atomic_ulong_t *)v)->counter, memory_order_acquire);
}
static inline void zd_atomic_ulong_set_relaxed(zd_atomic_ulong_t *v, unsigned long i)
{
	ZD_SYNC_POINT(0, v);
	atomic_store_explicit(&v->counter, i, memory_order_relaxed);
}
static inline void zd_atomic_ulong_set_release(zd_atomic_ulong_t *v, unsigned long i)
{
	ZD_SYNC_POINT(0, v);
	atomic_store_explicit(&v->counter, i, memory_order_release);
}
/* Returns the old value. */
static inline unsigned long zd_atomic_ulong_fetch_or_acquire(zd_atomic_ulong_t *v, unsigned long m)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_or_explicit(&v->counter, m, memory_order_acquire);
}
static inline unsigned long zd_atomic_ulong_fetch_or_acq_rel(zd_atomic_ulong_t *v, unsigned long m)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_or_explicit(&v->counter, m, memory_order_acq_rel);
}
static inline unsigned long zd_atomic_ulong_fetch_andnot_release(zd_atomic_ulong_t *v,
								 unsigned long m)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_and_explicit(&v->counter, ~m, memory_order_release);
}
static inline unsigned long zd_atomic_ulong_fetch_andnot_acq_rel(zd_atomic_ulong_t *v,
								 unsigned long m)
{
	ZD_SYNC_POINT(0, v);
	return atomic_fetch_and_explicit(&v->counter, ~m, memory_order_acq_rel);
}
static inline bool zd_atomic_ulong_try_cmpxchg_acq_rel(zd_atomic_ulong_t *v, unsigned long *old,
						       unsigned long new_value)
{
	ZD_SYNC_POINT(0, v);
	return atomic_compare_exchange_strong_explicit(&v->counter, old, new_value,
						       memory_order_acq_rel, memory_order_acquire);
}

/*
 * A full fence (smp_mb). TSan does not model fences; under it a seq_cst
 * read-modify-write of a private word gives the same ordering in a form
 * TSan understands.
 */
static inline void zd_smp_mb(void)
{
	ZD_SYNC_POINT(0, NULL);
#if defined(__SANITIZE_THREAD__)
	static _Atomic int zd_mb_word;

	atomic_fetch_add_explicit(&zd_mb_word, 0, memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* ---- READ_ONCE / WRITE_ONCE ------------------------------------------
 * For words read locklessly while another thread may write them (the
 * compound_head / pgmap word of a struct page), as the kernel marks them.
 */
/* Each is a scheduling point too: these words are what lockless walkers race on. */
#define ZD_READ_ONCE(x)                                                                            \
	({                                                                                         \
		ZD_SYNC_POINT(ZD_SP_READ, &(x));                                                   \
		__atomic_load_n(&(x), __ATOMIC_RELAXED);                                           \
	})
#define ZD_WRITE_ONCE(x, v)                                                                        \
	do {                                                                                       \
		ZD_SYNC_POINT(ZD_SP_WRITE, &(x));                                                  \
		__atomic_store_n(&(x), (v), __ATOMIC_RELAXED);                                     \
	} while (0)

/*
 * Marks of bookkeeping that no model decision reads (which pages' contents
 * were ever used, for the explorer's state digest): relaxed atomics and
 * never a scheduling point, so keeping them changes no schedule.
 */
#define ZD_MARK_ONCE(x)                                                                            \
	do {                                                                                       \
		if (!__atomic_load_n(&(x), __ATOMIC_RELAXED))                                      \
			__atomic_store_n(&(x), 1, __ATOMIC_RELAXED);                               \
	} while (0)
#define ZD_MARK_TEST(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
/*
 * A read by an observer that is no scheduling point by design (a quiet
 * section's walk: the state digest, a scan under a lock that keeps the word
 * still): no hook call per word.
 */
#define ZD_READ_QUIET(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
static inline int zd_atomic_read_quiet(const zd_atomic_t *v)
{
	return atomic_load_explicit(&((zd_atomic_t *)v)->counter, memory_order_acquire);
}
static inline unsigned long zd_atomic_ulong_read_quiet(const zd_atomic_ulong_t *v)
{
	return atomic_load_explicit(&((zd_atomic_ulong_t *)v)->counter, memory_order_acquire);
}

/* Loads and stores that order what they publish (page-table entries). */
#define ZD_LOAD_ACQUIRE(x)                                                                         \
	({                                                                                         \
		ZD_SYNC_POINT(ZD_SP_READ, &(x));                                                   \
		__atomic_load_n(&(x), __ATOMIC_ACQUIRE);                                           \
	})
#define ZD_STORE_RELEASE(x, v)                                                                     \
	do {                                                                                       \
		ZD_SYNC_POINT(ZD_SP_WRITE, &(x));                                                  \
		__atomic_store_n(&(x), (v), __ATOMIC_RELEASE);                                     \
	} while (0)

/* ---- Pointer publication (RCU-style) -------------------------------- */

#define zd_rcu_dereference(p) ZD_LOAD_ACQUIRE(p)
#define zd_rcu_assign_pointer(p, v) ZD_STORE_RELEASE(p, v)

/* ---- Locks ---------------------------------------------------------- */

void zd_spin_lock_init(zd_spinlock_t *lock);
void zd_spin_lock(zd_spinlock_t *lock);
bool zd_spin_trylock(zd_spinlock_t *lock);
void zd_spin_unlock(zd_spinlock_t *lock);

/* Sleeping mutex. A contended lock() is a tracked sleep (see tasks). */
void zd_mutex_init(zd_mutex_t *m);
void zd_mutex_lock(zd_mutex_t *m);
bool zd_mutex_trylock(zd_mutex_t *m);
void zd_mutex_unlock(zd_mutex_t *m);
bool zd_mutex_is_locked(zd_mutex_t *m);

/* Reader/writer semaphore (as mmap_lock). Contended acquisition is a tracked sleep. */
void zd_rwsem_init(zd_rwsem_t *sem);
void zd_down_read(zd_rwsem_t *sem);
bool zd_down_read_trylock(zd_rwsem_t *sem);
void zd_up_read(zd_rwsem_t *sem);
void zd_down_write(zd_rwsem_t *sem);
bool zd_down_write_trylock(zd_rwsem_t *sem);
void zd_up_write(zd_rwsem_t *sem);
void zd_downgrade_write(zd_rwsem_t *sem);
bool zd_rwsem_is_locked(zd_rwsem_t *sem);

/* ---- Sleeping waits ------------------------------------------------- */

typedef bool (*zd_wait_cond_t)(void *arg);

/*
 * zd_wait_var_event - sleep until cond(arg) is true, woken by zd_wake_up_var(var).
 * @what: a short description of what is awaited, shown when the wait blocks
 *        ("BLOCKED: memunmap of gpu0 waits for 1 pgmap reference").
 *
 * The condition is evaluated under the wait queue's lock, so a waker that
 * changes the condition and then calls zd_wake_up_var() cannot be missed.
 * Returns 0 when the condition held, or -EINTR when the calling task's group
 * was cancelled (only during teardown of a world); the kernel's waits are
 * uninterruptible and so are ours otherwise.
 */
int zd_wait_var_event(void *var, zd_wait_cond_t cond, void *arg, const char *what);
void zd_wake_up_var(void *var);

void zd_init_completion(struct zd_completion *c);
void zd_reinit_completion(struct zd_completion *c);
void zd_complete(struct zd_completion *c);
void zd_complete_all(struct zd_completion *c);
/* Returns 0, or -EINTR if the task group was cancelled. */
int zd_wait_for_completion(struct zd_completion *c, const char *what);
bool zd_try_wait_for_completion(struct zd_completion *c);
bool zd_completion_done(struct zd_completion *c);

/* ---- percpu_ref ----------------------------------------------------- */

#define ZD_PERCPU_REF_DEAD 0x1ul
#define ZD_PERCPU_REF_EXITED 0x2ul

/* Count 1 (the initial reference), live. Returns 0. */
int zd_percpu_ref_init(struct zd_percpu_ref *ref, zd_percpu_ref_func_t release);
void zd_percpu_ref_exit(struct zd_percpu_ref *ref);
void zd_percpu_ref_get_many(struct zd_percpu_ref *ref, unsigned long nr);
void zd_percpu_ref_get(struct zd_percpu_ref *ref);
/* Succeed while the count is non-zero (even after kill). */
bool zd_percpu_ref_tryget_many(struct zd_percpu_ref *ref, unsigned long nr);
bool zd_percpu_ref_tryget(struct zd_percpu_ref *ref);
/* Succeed only while not dead. The _rcu form expects the caller in an RCU read section. */
bool zd_percpu_ref_tryget_live(struct zd_percpu_ref *ref);
bool zd_percpu_ref_tryget_live_rcu(struct zd_percpu_ref *ref);
/*
 * Drop nr references; runs release() when the count reaches zero.
 * Returns 0, or -ERANGE (and changes nothing) if fewer than nr are held:
 * the count never goes below zero, the caller reports the underflow.
 */
int zd_percpu_ref_put_many(struct zd_percpu_ref *ref, unsigned long nr);
int zd_percpu_ref_put(struct zd_percpu_ref *ref);
/* Mark dead and drop the initial reference. Killing twice is refused: -EALREADY. */
int zd_percpu_ref_kill(struct zd_percpu_ref *ref);
bool zd_percpu_ref_is_zero(struct zd_percpu_ref *ref);
bool zd_percpu_ref_is_dying(struct zd_percpu_ref *ref);
/* The exact count (the model can read it; the kernel cannot in percpu mode). */
long zd_percpu_ref_read(struct zd_percpu_ref *ref);

/* ---- RCU ------------------------------------------------------------ */

/* Read sections nest; threads need no registration. */
void zd_rcu_read_lock(void);
void zd_rcu_read_unlock(void);
void zd_synchronize_rcu(void);

/* ---- Tasks ---------------------------------------------------------- */

/*
 * A task is a thread started by zd_task_start() in a task group. Its sleeps
 * (zd_wait_var_event, completions, contended mutex/rwsem) are tracked, so the
 * group can be brought to quiescence: every task either finished or asleep
 * waiting for something. A waker marks the sleepers it wakes as running
 * before it returns, so quiescence is never declared while a woken task has
 * yet to run. This is how the scenario runner reports BLOCKED in a
 * single-threaded world and completes the statement later, and the seam the
 * explorer's scheduler replaces.
 */
enum zd_task_state {
	ZD_TASK_RUNNING,
	ZD_TASK_SLEEPING,
	ZD_TASK_DONE,
};

struct zd_task;
struct zd_task_group;

struct zd_task_group *zd_task_group_create(void);
/* All tasks must have been joined. */
void zd_task_group_destroy(struct zd_task_group *g);
/* Start fn(arg) on a new thread in group g. NULL on failure (ENOMEM / EAGAIN). */
struct zd_task *zd_task_start(struct zd_task_group *g, void (*fn)(void *arg), void *arg);
/* Block until every task of g is sleeping or done. */
void zd_task_group_quiesce(struct zd_task_group *g);
enum zd_task_state zd_task_state(struct zd_task *t);
/* What a sleeping task waits for (the `what` of its wait), or NULL. */
const char *zd_task_waiting_on(struct zd_task *t);
/*
 * Cancel: every current and future tracked sleep in g returns -EINTR.
 * Used only to tear a world down with statements still pending.
 */
void zd_task_group_cancel(struct zd_task_group *g);
/* Wait for t to finish and free it. */
void zd_task_join(struct zd_task *t);
/* The calling thread's task, or NULL for a thread not started by zd_task_start. */
struct zd_task *zd_current_task(void);

/*
 * Task-local words: per-thread state that must follow a task rather than
 * the OS thread it runs on. Under the explorer every model thread of a group
 * runs as a fiber on one OS thread, so a __thread variable would be shared
 * by all of them; a task-local word is the calling task's own (and, for a
 * thread that is not a task, the thread's own). Zero when the task starts.
 * Slots are handed out here, one per user.
 */
enum zd_task_local_slot {
	ZD_TASK_LOCAL_MUTEX,	/* sync/mutex.c: its address is the owner token */
	ZD_TASK_LOCAL_NOTIFIER, /* vm/notifier.c: invalidations being walked */
	ZD_TASK_LOCAL_NR,
};
unsigned long *zd_task_local(enum zd_task_local_slot slot);

/* ---- Threads for stress tests and benchmarks (untracked) ------------ */

struct zd_thread;
struct zd_thread *zd_thread_start(void *(*fn)(void *arg), void *arg);
void *zd_thread_join(struct zd_thread *t);
/* A process-wide mutex-protected one-time init. */
typedef struct {
	_Atomic int state;
} zd_once_t;
#define ZD_ONCE_INIT                                                                               \
	{                                                                                          \
		0                                                                                  \
	}
void zd_once(zd_once_t *once, void (*fn)(void));

/* Monotonic clock in nanoseconds (benchmarks, progress output). */
uint64_t zd_clock_ns(void);
/* Yield the CPU (spin back-off). */
void zd_cpu_relax(void);

#endif
