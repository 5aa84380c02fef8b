/* SPDX-License-Identifier: MIT */
/*
 * zonedev unit tests: the synchronisation layer (atomics, percpu_ref,
 * completions, wait queues, tracked tasks, locks, RCU, threads).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "testlib.h"
#include "sync/sync.h"

/* ---- helpers ---------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A shared int the tests wait on. */
struct flag {
	zd_atomic_t v;
	int want;
	int ret;  /* the task's wait result */
	int done; /* set by the task after its wait (read after join) */
};

static bool flag_reached(void *arg)
{
	struct flag *f = arg;

	return zd_atomic_read_acquire(&f->v) == f->want;
}

static void flag_set(struct flag *f, int v)
{
	zd_atomic_set_release(&f->v, v);
	zd_wake_up_var(&f->v);
}

static void task_wait_flag(void *arg)
{
	struct flag *f = arg;

	f->ret = zd_wait_var_event(&f->v, flag_reached, f, "flag to be set");
	f->done = 1;
}

/* ---- atomics ---------------------------------------------------------- */

static void test_atomics(void **state)
{
	zd_atomic_t a;
	zd_atomic_long_t l;
	zd_atomic_ulong_t u;
	int old;
	unsigned long uold;

	(void)state;
	zd_atomic_set_relaxed(&a, 5);
	assert_int_equal(zd_atomic_add_return_relaxed(&a, 3), 8);
	assert_int_equal(zd_atomic_add_return_acq_rel(&a, -8), 0);
	assert_int_equal(zd_atomic_xchg_acq_rel(&a, 7), 0);
	assert_int_equal(zd_atomic_read_acquire(&a), 7);
	old = 6;
	assert_false(zd_atomic_try_cmpxchg_acq_rel(&a, &old, 9));
	assert_int_equal(old, 7);
	assert_true(zd_atomic_try_cmpxchg_acq_rel(&a, &old, 9));
	assert_int_equal(zd_atomic_read_relaxed(&a), 9);

	zd_atomic_long_set_relaxed(&l, LONG_MAX - 1);
	assert_true(zd_atomic_long_add_return_acq_rel(&l, 1) == LONG_MAX);
	assert_true(zd_atomic_long_add_return_relaxed(&l, -LONG_MAX) == 0);
	assert_true(zd_atomic_long_read_acquire(&l) == 0);

	zd_atomic_ulong_set_release(&u, 0x1);
	assert_int_equal(zd_atomic_ulong_fetch_or_acq_rel(&u, 0x6), 0x1);
	assert_int_equal(zd_atomic_ulong_fetch_or_acquire(&u, 0x8), 0x7);
	assert_int_equal(zd_atomic_ulong_fetch_andnot_release(&u, 0x3), 0xf);
	assert_int_equal(zd_atomic_ulong_fetch_andnot_acq_rel(&u, 0x4), 0xc);
	assert_int_equal(zd_atomic_ulong_read_acquire(&u), 0x8);
	uold = 0;
	assert_false(zd_atomic_ulong_try_cmpxchg_acq_rel(&u, &uold, 1));
	assert_int_equal(uold, 0x8);
	assert_true(zd_atomic_ulong_try_cmpxchg_acq_rel(&u, &uold, 1));
	assert_int_equal(zd_atomic_ulong_read_relaxed(&u), 1);
	zd_smp_mb();
}

/* ---- percpu_ref ------------------------------------------------------- */

static int releases;

static void count_release(struct zd_percpu_ref *ref)
{
	(void)ref;
	releases++;
}

static void test_percpu_ref_basic(void **state)
{
	struct zd_percpu_ref ref;

	(void)state;
	releases = 0;
	assert_int_equal(zd_percpu_ref_init(&ref, count_release), 0);
	assert_int_equal(zd_percpu_ref_read(&ref), 1);
	assert_false(zd_percpu_ref_is_dying(&ref));
	assert_false(zd_percpu_ref_is_zero(&ref));

	zd_percpu_ref_get(&ref);
	zd_percpu_ref_get_many(&ref, 3);
	assert_int_equal(zd_percpu_ref_read(&ref), 5);
	assert_true(zd_percpu_ref_tryget(&ref));
	assert_true(zd_percpu_ref_tryget_many(&ref, 2));
	assert_true(zd_percpu_ref_tryget_live(&ref));
	assert_true(zd_percpu_ref_tryget_live_rcu(&ref));
	assert_int_equal(zd_percpu_ref_read(&ref), 10);
	assert_int_equal(zd_percpu_ref_put_many(&ref, 9), 0);
	assert_int_equal(zd_percpu_ref_read(&ref), 1);

	/* Underflow: refused, nothing changes. */
	assert_int_equal(zd_percpu_ref_put_many(&ref, 2), -ERANGE);
	assert_int_equal(zd_percpu_ref_read(&ref), 1);
	assert_int_equal(releases, 0);

	/* Two users hold references across the kill. */
	zd_percpu_ref_get_many(&ref, 2);
	assert_int_equal(zd_percpu_ref_kill(&ref), 0);
	assert_true(zd_percpu_ref_is_dying(&ref));
	assert_int_equal(zd_percpu_ref_read(&ref), 2);
	assert_int_equal(zd_percpu_ref_kill(&ref), -EALREADY);
	assert_int_equal(zd_percpu_ref_read(&ref), 2);

	assert_false(zd_percpu_ref_tryget_live(&ref));
	assert_false(zd_percpu_ref_tryget_live_rcu(&ref));
	assert_true(zd_percpu_ref_tryget(&ref)); /* count > 0: allowed when dead */
	assert_int_equal(zd_percpu_ref_read(&ref), 3);

	assert_int_equal(zd_percpu_ref_put(&ref), 0);
	assert_int_equal(zd_percpu_ref_put(&ref), 0);
	assert_int_equal(releases, 0);
	assert_int_equal(zd_percpu_ref_put(&ref), 0);
	assert_int_equal(releases, 1);
	assert_true(zd_percpu_ref_is_zero(&ref));

	/* At zero: no revival, no second release, no underflow. */
	assert_false(zd_percpu_ref_tryget(&ref));
	assert_false(zd_percpu_ref_tryget_live(&ref));
	assert_int_equal(zd_percpu_ref_put(&ref), -ERANGE);
	assert_int_equal(zd_percpu_ref_read(&ref), 0);
	assert_int_equal(releases, 1);

	zd_percpu_ref_exit(&ref);
	assert_true(ref.flags & ZD_PERCPU_REF_EXITED);
}

static void test_percpu_ref_kill_releases(void **state)
{
	struct zd_percpu_ref ref;

	(void)state;
	releases = 0;
	zd_percpu_ref_init(&ref, count_release);
	assert_int_equal(zd_percpu_ref_kill(&ref), 0);
	assert_int_equal(releases, 1);
	assert_true(zd_percpu_ref_is_zero(&ref));

	/* Dropping the initial reference without kill still releases. */
	releases = 0;
	zd_percpu_ref_init(&ref, count_release);
	assert_int_equal(zd_percpu_ref_put(&ref), 0);
	assert_int_equal(releases, 1);
	assert_false(zd_percpu_ref_is_dying(&ref));
	/* ... and a later kill reports the missing initial reference. */
	assert_int_equal(zd_percpu_ref_kill(&ref), -ERANGE);
	assert_int_equal(releases, 1);

	/* NULL release is allowed. */
	zd_percpu_ref_init(&ref, NULL);
	assert_int_equal(zd_percpu_ref_kill(&ref), 0);
	assert_true(zd_percpu_ref_is_zero(&ref));
}

/* ---- completions and plain waits -------------------------------------- */

static void test_completion(void **state)
{
	struct zd_completion c;

	(void)state;
	zd_init_completion(&c);
	assert_false(zd_completion_done(&c));
	assert_false(zd_try_wait_for_completion(&c));
	zd_complete(&c);
	zd_complete(&c);
	assert_true(zd_completion_done(&c));
	assert_true(zd_try_wait_for_completion(&c));
	assert_int_equal(zd_wait_for_completion(&c, "second complete"), 0);
	assert_false(zd_completion_done(&c));
	assert_false(zd_try_wait_for_completion(&c));

	zd_complete_all(&c);
	for (int i = 0; i < 10; i++)
		assert_int_equal(zd_wait_for_completion(&c, "all"), 0);
	zd_complete(&c);
	assert_true(zd_try_wait_for_completion(&c));
	zd_reinit_completion(&c);
	assert_false(zd_completion_done(&c));
}

static bool always_true(void *arg)
{
	(void)arg;
	return true;
}

static void test_wait_immediate(void **state)
{
	int var = 0;

	(void)state;
	assert_null(zd_current_task());
	assert_int_equal(zd_wait_var_event(&var, always_true, NULL, "nothing"), 0);
	zd_wake_up_var(&var); /* nobody waits: a no-op */
	assert_int_equal(zd_wait_var_event(&var, NULL, NULL, "no cond"), -EINVAL);
}

/* ---- tasks ------------------------------------------------------------ */

static void test_task_sleep_and_wake(void **state)
{
	struct zd_task_group *g = zd_task_group_create();
	struct flag f = {.want = 2};
	struct zd_task *t;

	(void)state;
	assert_non_null(g);
	t = zd_task_start(g, task_wait_flag, &f);
	assert_non_null(t);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(t), "flag to be set");

	/* A wake whose condition is still false: the task sleeps again. */
	flag_set(&f, 1);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(t), "flag to be set");

	flag_set(&f, 2);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_DONE);
	assert_null(zd_task_waiting_on(t));
	zd_task_join(t);
	assert_int_equal(f.ret, 0);
	assert_int_equal(f.done, 1);
	zd_task_group_destroy(g);
}

static void task_current(void *arg)
{
	struct zd_task **out = arg;

	*out = zd_current_task();
}

static void test_task_current(void **state)
{
	struct zd_task_group *g = zd_task_group_create();
	struct zd_task *seen = NULL, *t;

	(void)state;
	assert_null(zd_task_start(g, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	t = zd_task_start(g, task_current, &seen);
	assert_non_null(t);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_DONE);
	zd_task_join(t);
	assert_ptr_equal(seen, t);
	zd_task_group_destroy(g);
}

struct locker {
	zd_mutex_t *m;
	int got;
};

static void task_lock_mutex(void *arg)
{
	struct locker *l = arg;

	zd_mutex_lock(l->m);
	l->got = 1;
	zd_mutex_unlock(l->m);
}

static void test_task_blocked_on_mutex(void **state)
{
	struct zd_task_group *g = zd_task_group_create();
	zd_mutex_t m;
	struct locker l = {.m = &m};
	struct zd_task *t;

	(void)state;
	zd_mutex_init(&m);
	assert_false(zd_mutex_is_locked(&m));
	zd_mutex_lock(&m);
	assert_true(zd_mutex_is_locked(&m));
	assert_false(zd_mutex_trylock(&m));

	t = zd_task_start(g, task_lock_mutex, &l);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(t), "mutex");

	zd_mutex_unlock(&m);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_DONE);
	zd_task_join(t);
	assert_int_equal(l.got, 1);
	assert_false(zd_mutex_is_locked(&m));
	assert_true(zd_mutex_trylock(&m));
	zd_mutex_unlock(&m);
	zd_task_group_destroy(g);
}

struct completer {
	struct zd_completion c;
	int ret;
};

static void task_wait_completion(void *arg)
{
	struct completer *c = arg;

	c->ret = zd_wait_for_completion(&c->c, "the completion");
}

static void test_task_completion(void **state)
{
	struct zd_task_group *g = zd_task_group_create();
	struct completer c = {.ret = 1};
	struct zd_task *t;

	(void)state;
	zd_init_completion(&c.c);
	t = zd_task_start(g, task_wait_completion, &c);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(t), "the completion");
	zd_complete(&c.c);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t), ZD_TASK_DONE);
	zd_task_join(t);
	assert_int_equal(c.ret, 0);
	assert_false(zd_completion_done(&c.c)); /* consumed */
	zd_task_group_destroy(g);
}

static void test_task_cancel(void **state)
{
	struct zd_task_group *g = zd_task_group_create();
	struct flag f = {.want = 1, .ret = 1}, f2 = {.want = 1, .ret = 1};
	struct completer c = {.ret = 1};
	zd_mutex_t m;
	struct locker l = {.m = &m};
	struct zd_task *t1, *t2, *t3, *t4;

	(void)state;
	zd_init_completion(&c.c);
	zd_mutex_init(&m);
	zd_mutex_lock(&m);
	t1 = zd_task_start(g, task_wait_flag, &f);
	t2 = zd_task_start(g, task_wait_completion, &c);
	t3 = zd_task_start(g, task_lock_mutex, &l);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t1), ZD_TASK_SLEEPING);
	assert_int_equal(zd_task_state(t2), ZD_TASK_SLEEPING);
	assert_int_equal(zd_task_state(t3), ZD_TASK_SLEEPING);

	zd_task_group_cancel(g);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(t1), ZD_TASK_DONE);
	assert_int_equal(zd_task_state(t2), ZD_TASK_DONE);
	/* A lock cannot fail: the task keeps waiting, still tracked. */
	assert_int_equal(zd_task_state(t3), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(t3), "mutex");
	zd_task_join(t1);
	zd_task_join(t2);
	assert_int_equal(f.ret, -EINTR);
	assert_int_equal(c.ret, -EINTR);

	/* Later waits in the cancelled group fail at once... */
	t4 = zd_task_start(g, task_wait_flag, &f2);
	zd_task_join(t4);
	assert_int_equal(f2.ret, -EINTR);
	/* ... unless the condition already holds. */
	f2.ret = 1;
	zd_atomic_set_relaxed(&f2.v, 1);
	t4 = zd_task_start(g, task_wait_flag, &f2);
	zd_task_join(t4);
	assert_int_equal(f2.ret, 0);

	zd_mutex_unlock(&m);
	zd_task_join(t3);
	assert_int_equal(l.got, 1);
	zd_task_group_destroy(g);
}

/* ---- locks ------------------------------------------------------------ */

static void test_spinlock(void **state)
{
	zd_spinlock_t s;

	(void)state;
	zd_spin_lock_init(&s);
	assert_true(zd_spin_trylock(&s));
	assert_false(zd_spin_trylock(&s));
	zd_spin_unlock(&s);
	zd_spin_lock(&s);
	assert_false(zd_spin_trylock(&s));
	zd_spin_unlock(&s);
}

struct rw_user {
	zd_rwsem_t *sem;
	bool write;
	int got;
};

static void task_rwsem(void *arg)
{
	struct rw_user *u = arg;

	if (u->write) {
		zd_down_write(u->sem);
		u->got = 1;
		zd_up_write(u->sem);
	} else {
		zd_down_read(u->sem);
		u->got = 1;
		zd_up_read(u->sem);
	}
}

static void test_rwsem(void **state)
{
	struct zd_task_group *g = zd_task_group_create();
	zd_rwsem_t sem;
	struct rw_user w = {.sem = &sem, .write = true};
	struct rw_user r = {.sem = &sem, .write = false};
	struct zd_task *tw, *tr;

	(void)state;
	zd_rwsem_init(&sem);
	assert_false(zd_rwsem_is_locked(&sem));

	/* Readers share (and nest); writers are excluded. */
	zd_down_read(&sem);
	assert_true(zd_down_read_trylock(&sem));
	zd_down_read(&sem);
	assert_true(zd_rwsem_is_locked(&sem));
	assert_int_equal(sem.count, 3);
	assert_false(zd_down_write_trylock(&sem));

	tw = zd_task_start(g, task_rwsem, &w);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(tw), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(tw), "rwsem (write)");
	zd_up_read(&sem);
	zd_up_read(&sem);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(tw), ZD_TASK_SLEEPING); /* one reader left */
	zd_up_read(&sem);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(tw), ZD_TASK_DONE);
	zd_task_join(tw);
	assert_int_equal(w.got, 1);
	assert_false(zd_rwsem_is_locked(&sem));

	/* A writer excludes readers; downgrade lets them in. */
	zd_down_write(&sem);
	assert_int_equal(sem.count, -1);
	assert_false(zd_down_read_trylock(&sem));
	assert_false(zd_down_write_trylock(&sem));
	tr = zd_task_start(g, task_rwsem, &r);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(tr), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(tr), "rwsem (read)");
	zd_downgrade_write(&sem);
	zd_task_group_quiesce(g);
	assert_int_equal(zd_task_state(tr), ZD_TASK_DONE);
	zd_task_join(tr);
	assert_int_equal(r.got, 1);
	assert_int_equal(sem.count, 1);
	assert_false(zd_down_write_trylock(&sem));
	zd_up_read(&sem);
	assert_true(zd_down_write_trylock(&sem));
	zd_up_write(&sem);
	assert_false(zd_rwsem_is_locked(&sem));
	zd_task_group_destroy(g);
}

/* ---- RCU -------------------------------------------------------------- */

struct rcu_reader {
	struct flag inside; /* set to 1 once the reader is in its section */
	struct flag leave;  /* set to 1 to let it leave */
	zd_atomic_t synced; /* set by the synchroniser */
	int early;	    /* the reader saw `synced` inside its section */
};

/*
 * The reader blocks inside its read section, which real read sections must
 * not do: here it is a plain thread, held there only to show that a grace
 * period waits for it.
 */
static void *rcu_reader_fn(void *arg)
{
	struct rcu_reader *r = arg;

	zd_rcu_read_lock();
	zd_rcu_read_lock();
	flag_set(&r->inside, 1);
	zd_wait_var_event(&r->leave.v, flag_reached, &r->leave, "leave");
	zd_rcu_read_unlock();
	/* Still inside the outer section: the grace period cannot have ended. */
	sleep_ms(20);
	r->early = zd_atomic_read_acquire(&r->synced);
	zd_rcu_read_unlock();
	return NULL;
}

static void *rcu_sync_fn(void *arg)
{
	struct rcu_reader *r = arg;

	zd_synchronize_rcu();
	zd_atomic_set_release(&r->synced, 1);
	return NULL;
}

static void test_rcu(void **state)
{
	struct rcu_reader r = {.inside = {.want = 1}, .leave = {.want = 1}};
	struct zd_thread *reader, *syncer;

	(void)state;
	zd_rcu_read_lock();
	zd_rcu_read_lock();
	zd_rcu_read_unlock();
	zd_rcu_read_unlock();
	zd_synchronize_rcu();

	zd_atomic_set_relaxed(&r.synced, 0);
	reader = zd_thread_start(rcu_reader_fn, &r);
	assert_non_null(reader);
	zd_wait_var_event(&r.inside.v, flag_reached, &r.inside, "reader inside");
	syncer = zd_thread_start(rcu_sync_fn, &r);
	assert_non_null(syncer);
	sleep_ms(20);
	assert_int_equal(zd_atomic_read_acquire(&r.synced), 0);
	flag_set(&r.leave, 1);
	zd_thread_join(reader);
	zd_thread_join(syncer);
	assert_int_equal(r.early, 0);
	assert_int_equal(zd_atomic_read_acquire(&r.synced), 1);
}

/* ---- threads, once, clock --------------------------------------------- */

static void *thread_ret(void *arg)
{
	return (char *)arg + 1;
}

static int once_runs;

static void once_fn(void)
{
	once_runs++;
}

static void test_thread_once_clock(void **state)
{
	static zd_once_t once = ZD_ONCE_INIT;
	char buf[2];
	struct zd_thread *t;
	uint64_t a, b;

	(void)state;
	t = zd_thread_start(thread_ret, buf);
	assert_non_null(t);
	assert_ptr_equal(zd_thread_join(t), buf + 1);

	zd_once(&once, once_fn);
	zd_once(&once, once_fn);
	assert_int_equal(once_runs, 1);

	a = zd_clock_ns();
	sleep_ms(2);
	b = zd_clock_ns();
	assert_true(b - a >= 1000000ull);
	zd_cpu_relax();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_atomics),
	    cmocka_unit_test(test_percpu_ref_basic),
	    cmocka_unit_test(test_percpu_ref_kill_releases),
	    cmocka_unit_test(test_completion),
	    cmocka_unit_test(test_wait_immediate),
	    cmocka_unit_test(test_task_sleep_and_wake),
	    cmocka_unit_test(test_task_current),
	    cmocka_unit_test(test_task_blocked_on_mutex),
	    cmocka_unit_test(test_task_completion),
	    cmocka_unit_test(test_task_cancel),
	    cmocka_unit_test(test_spinlock),
	    cmocka_unit_test(test_rwsem),
	    cmocka_unit_test(test_rcu),
	    cmocka_unit_test(test_thread_once_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
