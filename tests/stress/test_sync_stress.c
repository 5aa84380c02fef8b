/* SPDX-License-Identifier: MIT */
/*
 * zonedev stress tests: the synchronisation layer under real concurrency
 * (locks, percpu_ref kill races, wake-up ping-pong, task-group quiescence).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"
#include "sync/sync.h"

/* Sanitizer builds run slower: scale the iteration counts down. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SCALE 2
#else
#define SCALE 1
#endif

#define NTHREADS 4

/* ---- shared helpers --------------------------------------------------- */

struct counter_var {
	zd_atomic_t v;
	int want;
};

static bool var_at_least(void *arg)
{
	struct counter_var *c = arg;

	return zd_atomic_read_acquire(&c->v) >= c->want;
}

/* Workers start together (run_threads() releases them) so they contend. */
static zd_atomic_t start_line;

static void wait_start_line(void)
{
	while (!zd_atomic_read_acquire(&start_line))
		zd_cpu_relax();
}

static void run_threads(void *(*fn)(void *), void *arg, int n)
{
	struct zd_thread *t[NTHREADS];

	zd_atomic_set_relaxed(&start_line, 0);
	for (int i = 0; i < n; i++) {
		t[i] = zd_thread_start(fn, arg);
		assert_non_null(t[i]);
	}
	zd_atomic_set_release(&start_line, 1);
	for (int i = 0; i < n; i++)
		zd_thread_join(t[i]);
}

/* ---- mutex and spinlock ----------------------------------------------- */

#define LOCK_ITERS (100000 / SCALE)

struct locked_counter {
	zd_mutex_t m;
	zd_spinlock_t s;
	long plain; /* deliberately not atomic: the lock protects it */
};

static void *mutex_worker(void *arg)
{
	struct locked_counter *c = arg;

	wait_start_line();
	for (int i = 0; i < LOCK_ITERS; i++) {
		if (i % 64 == 0 && zd_mutex_trylock(&c->m)) {
			c->plain++;
			zd_mutex_unlock(&c->m);
			continue;
		}
		zd_mutex_lock(&c->m);
		c->plain++;
		zd_mutex_unlock(&c->m);
	}
	return NULL;
}

static void test_mutex_counter(void **state)
{
	struct locked_counter c = {.plain = 0};

	(void)state;
	zd_mutex_init(&c.m);
	run_threads(mutex_worker, &c, NTHREADS);
	assert_int_equal(c.plain, (long)NTHREADS * LOCK_ITERS);
	assert_false(zd_mutex_is_locked(&c.m));
}

static void *spin_worker(void *arg)
{
	struct locked_counter *c = arg;

	wait_start_line();
	for (int i = 0; i < LOCK_ITERS; i++) {
		zd_spin_lock(&c->s);
		c->plain++;
		zd_spin_unlock(&c->s);
	}
	return NULL;
}

static void test_spin_counter(void **state)
{
	struct locked_counter c = {.plain = 0};

	(void)state;
	zd_spin_lock_init(&c.s);
	run_threads(spin_worker, &c, NTHREADS);
	assert_int_equal(c.plain, (long)NTHREADS * LOCK_ITERS);
}

/* ---- rwsem ------------------------------------------------------------ */

#define RW_ITERS (20000 / SCALE)

struct rw_shared {
	zd_rwsem_t sem;
	long a, b; /* writers keep a == b; readers check it */
	zd_atomic_t next_id;
	zd_atomic_t mismatches;
};

static void *rw_worker(void *arg)
{
	struct rw_shared *s = arg;
	int id = zd_atomic_add_return_relaxed(&s->next_id, 1);
	bool writer = id % 2 == 0;

	wait_start_line();
	for (int i = 0; i < RW_ITERS; i++) {
		if (writer && i % 8 == 0) {
			zd_down_write(&s->sem);
			s->a++;
			s->b++;
			if (i % 16 == 0) {
				zd_downgrade_write(&s->sem);
				if (s->a != s->b)
					zd_atomic_add_return_relaxed(&s->mismatches, 1);
				zd_up_read(&s->sem);
			} else {
				zd_up_write(&s->sem);
			}
		} else {
			zd_down_read(&s->sem);
			if (s->a != s->b)
				zd_atomic_add_return_relaxed(&s->mismatches, 1);
			zd_up_read(&s->sem);
		}
	}
	return NULL;
}

static void test_rwsem_consistency(void **state)
{
	struct rw_shared s = {.a = 0, .b = 0};

	(void)state;
	zd_rwsem_init(&s.sem);
	zd_atomic_set_relaxed(&s.next_id, 0);
	zd_atomic_set_relaxed(&s.mismatches, 0);
	run_threads(rw_worker, &s, NTHREADS);
	assert_int_equal(zd_atomic_read_relaxed(&s.mismatches), 0);
	/* Threads 2 and 4 are writers, each writing every 8th iteration. */
	assert_int_equal(s.a, 2L * ((RW_ITERS + 7) / 8));
	assert_int_equal(s.a, s.b);
	assert_false(zd_rwsem_is_locked(&s.sem));
}

/* ---- percpu_ref: get/put storm, kill, release via completion ---------- */

#define REF_ITERS (20000 / SCALE)

struct ref_storm {
	struct zd_percpu_ref ref;
	struct zd_completion released;
	zd_atomic_t releases;
	zd_atomic_t started;
	zd_atomic_t live_after_dead; /* tryget_live successes after is_dying seen */
	zd_atomic_t errors;
};

static void storm_release(struct zd_percpu_ref *ref)
{
	struct ref_storm *s = (struct ref_storm *)((char *)ref - offsetof(struct ref_storm, ref));

	zd_atomic_add_return_acq_rel(&s->releases, 1);
	zd_complete(&s->released);
}

static void *ref_worker(void *arg)
{
	struct ref_storm *s = arg;

	/* The main thread took one reference for us before starting us. */
	zd_atomic_add_return_acq_rel(&s->started, 1);
	for (int i = 0; i < REF_ITERS; i++) {
		bool dying = zd_percpu_ref_is_dying(&s->ref);

		if (zd_percpu_ref_tryget_live(&s->ref)) {
			if (dying)
				zd_atomic_add_return_relaxed(&s->live_after_dead, 1);
			if (zd_percpu_ref_put(&s->ref))
				zd_atomic_add_return_relaxed(&s->errors, 1);
		}
		zd_percpu_ref_get_many(&s->ref, 3);
		if (!zd_percpu_ref_tryget(&s->ref)) /* we hold refs: must succeed */
			zd_atomic_add_return_relaxed(&s->errors, 1);
		if (zd_percpu_ref_put_many(&s->ref, 4))
			zd_atomic_add_return_relaxed(&s->errors, 1);
	}
	if (zd_percpu_ref_put(&s->ref)) /* our reference */
		zd_atomic_add_return_relaxed(&s->errors, 1);
	return NULL;
}

static void test_percpu_ref_storm(void **state)
{
	struct ref_storm s;
	struct zd_thread *t[NTHREADS];

	(void)state;
	zd_percpu_ref_init(&s.ref, storm_release);
	zd_init_completion(&s.released);
	zd_atomic_set_relaxed(&s.releases, 0);
	zd_atomic_set_relaxed(&s.started, 0);
	zd_atomic_set_relaxed(&s.live_after_dead, 0);
	zd_atomic_set_relaxed(&s.errors, 0);
	for (int i = 0; i < NTHREADS; i++) {
		zd_percpu_ref_get(&s.ref);
		t[i] = zd_thread_start(ref_worker, &s);
		assert_non_null(t[i]);
	}
	/* Kill mid-storm: wait until every worker runs, then kill. */
	while (zd_atomic_read_acquire(&s.started) < NTHREADS)
		zd_cpu_relax();
	assert_int_equal(zd_percpu_ref_kill(&s.ref), 0);
	assert_false(zd_percpu_ref_tryget_live(&s.ref));
	assert_int_equal(zd_wait_for_completion(&s.released, "release"), 0);
	assert_int_equal(zd_atomic_read_acquire(&s.releases), 1);
	assert_true(zd_percpu_ref_is_zero(&s.ref));
	for (int i = 0; i < NTHREADS; i++)
		zd_thread_join(t[i]);
	assert_int_equal(zd_atomic_read_acquire(&s.releases), 1);
	assert_int_equal(zd_atomic_read_acquire(&s.errors), 0);
	assert_int_equal(zd_atomic_read_acquire(&s.live_after_dead), 0);
	assert_int_equal(zd_percpu_ref_kill(&s.ref), -EALREADY);
}

/* ---- wait/wake ping-pong ---------------------------------------------- */

#define PINGPONG_ROUNDS (10000 / SCALE)
/* Each hand-off costs a real context switch (~40us on a small VM). */
#define HANDOFF_ROUNDS (2000 / SCALE)

struct pingpong {
	zd_atomic_t turn; /* even: ping's move, odd: pong's */
	struct zd_completion to_pong, to_ping;
};

struct pp_side {
	struct pingpong *pp;
	int parity;
	int turn_want;
};

static bool pp_my_turn(void *arg)
{
	struct pp_side *side = arg;

	return zd_atomic_read_acquire(&side->pp->turn) == side->turn_want;
}

static void *pp_var_worker(void *arg)
{
	struct pp_side *side = arg;

	for (int i = 0; i < PINGPONG_ROUNDS; i++) {
		side->turn_want = 2 * i + side->parity;
		zd_wait_var_event(&side->pp->turn, pp_my_turn, side, "my turn");
		zd_atomic_add_return_acq_rel(&side->pp->turn, 1);
		zd_wake_up_var(&side->pp->turn);
	}
	return NULL;
}

static void *pp_completion_worker(void *arg)
{
	struct pp_side *side = arg;
	struct pingpong *pp = side->pp;

	for (int i = 0; i < HANDOFF_ROUNDS; i++) {
		if (side->parity == 0) {
			zd_complete(&pp->to_pong);
			zd_wait_for_completion(&pp->to_ping, "pong");
		} else {
			zd_wait_for_completion(&pp->to_pong, "ping");
			zd_complete(&pp->to_ping);
		}
	}
	return NULL;
}

static void test_pingpong(void **state)
{
	struct pingpong pp;
	struct pp_side ping = {.pp = &pp, .parity = 0}, pong = {.pp = &pp, .parity = 1};
	struct zd_thread *a, *b;

	(void)state;
	zd_atomic_set_relaxed(&pp.turn, 0);
	zd_init_completion(&pp.to_pong);
	zd_init_completion(&pp.to_ping);

	a = zd_thread_start(pp_var_worker, &ping);
	b = zd_thread_start(pp_var_worker, &pong);
	assert_non_null(a);
	assert_non_null(b);
	zd_thread_join(a);
	zd_thread_join(b);
	assert_int_equal(zd_atomic_read_acquire(&pp.turn), 2 * PINGPONG_ROUNDS);

	a = zd_thread_start(pp_completion_worker, &ping);
	b = zd_thread_start(pp_completion_worker, &pong);
	assert_non_null(a);
	assert_non_null(b);
	zd_thread_join(a);
	zd_thread_join(b);
	assert_false(zd_completion_done(&pp.to_pong));
	assert_false(zd_completion_done(&pp.to_ping));
}

/* ---- RCU: publish, grace period, free --------------------------------- */

#define RCU_UPDATES (500 / SCALE)

struct rcu_obj {
	long a, b; /* equal in every published object */
};

struct rcu_world {
	struct rcu_obj *cur; /* published with zd_rcu_assign_pointer() */
	zd_atomic_t stop;
	zd_atomic_t torn; /* readers that saw a != b */
	zd_atomic_t reads;
	zd_atomic_t started; /* readers running; the writer waits for all */
};

static void *rcu_reader(void *arg)
{
	struct rcu_world *w = arg;

	zd_atomic_add_return_acq_rel(&w->started, 1);
	do {
		struct rcu_obj *p;
		long a, b;

		zd_rcu_read_lock();
		p = zd_rcu_dereference(w->cur);
		a = p->a;
		zd_rcu_read_lock(); /* nested: must not end the outer section */
		zd_rcu_read_unlock();
		zd_cpu_relax();
		b = p->b;
		zd_rcu_read_unlock();
		if (a != b)
			zd_atomic_add_return_relaxed(&w->torn, 1);
		zd_atomic_add_return_relaxed(&w->reads, 1);
	} while (!zd_atomic_read_acquire(&w->stop));
	return NULL;
}

static void test_rcu_publish(void **state)
{
	struct rcu_world w;
	struct zd_thread *t[NTHREADS - 1];

	(void)state;
	w.cur = calloc(1, sizeof(*w.cur));
	assert_non_null(w.cur);
	zd_atomic_set_relaxed(&w.stop, 0);
	zd_atomic_set_relaxed(&w.torn, 0);
	zd_atomic_set_relaxed(&w.reads, 0);
	zd_atomic_set_relaxed(&w.started, 0);
	for (int i = 0; i < NTHREADS - 1; i++) {
		t[i] = zd_thread_start(rcu_reader, &w);
		assert_non_null(t[i]);
	}
	while (zd_atomic_read_acquire(&w.started) < NTHREADS - 1)
		zd_cpu_relax();
	for (long i = 1; i <= RCU_UPDATES; i++) {
		struct rcu_obj *n = malloc(sizeof(*n)), *old = w.cur;

		assert_non_null(n);
		n->a = n->b = i;
		zd_rcu_assign_pointer(w.cur, n);
		zd_synchronize_rcu();
		old->a = -1; /* a reader still using it would see a != b ... */
		free(old);   /* ... or a use after free */
	}
	zd_atomic_set_release(&w.stop, 1);
	for (int i = 0; i < NTHREADS - 1; i++)
		zd_thread_join(t[i]);
	free(w.cur);
	assert_int_equal(zd_atomic_read_relaxed(&w.torn), 0);
	assert_true(zd_atomic_read_relaxed(&w.reads) >= NTHREADS - 1);
}

/* ---- task groups: quiescence under contention ------------------------- */

#define TASK_ROUNDS (400 / SCALE)
#define NTASKS 6

struct round_world {
	struct counter_var gen; /* tasks run round r once gen >= r */
	zd_mutex_t m;
	long counter; /* under m */
};

struct round_task {
	struct round_world *w;
	int want; /* the round this task waits for */
};

static bool round_ready(void *arg)
{
	struct round_task *rt = arg;

	return zd_atomic_read_acquire(&rt->w->gen.v) >= rt->want;
}

static void round_task_fn(void *arg)
{
	struct round_task *rt = arg;

	for (int r = 1; r <= TASK_ROUNDS; r++) {
		rt->want = r;
		if (zd_wait_var_event(&rt->w->gen.v, round_ready, rt, "next round"))
			return;
		zd_mutex_lock(&rt->w->m);
		rt->w->counter++;
		zd_mutex_unlock(&rt->w->m);
	}
}

/*
 * Each round the main thread releases all tasks and quiesces. At quiescence
 * every task must be back waiting for the next round (never caught asleep
 * on the mutex, since the unlocker marks its wakee running) and the counter
 * exact.
 */
static void test_task_quiesce_rounds(void **state)
{
	struct round_world w = {.counter = 0};
	struct round_task rts[NTASKS];
	struct zd_task *t[NTASKS];
	struct zd_task_group *g = zd_task_group_create();
	int bad = 0;

	(void)state;
	assert_non_null(g);
	zd_atomic_set_relaxed(&w.gen.v, 0);
	zd_mutex_init(&w.m);
	for (int i = 0; i < NTASKS; i++) {
		rts[i].w = &w;
		t[i] = zd_task_start(g, round_task_fn, &rts[i]);
		assert_non_null(t[i]);
	}
	for (int r = 1; r <= TASK_ROUNDS; r++) {
		zd_task_group_quiesce(g);
		for (int i = 0; i < NTASKS; i++) {
			const char *what = zd_task_waiting_on(t[i]);

			if (zd_task_state(t[i]) != ZD_TASK_SLEEPING || !what || what[0] != 'n')
				bad++;
		}
		zd_mutex_lock(&w.m);
		if (w.counter != (long)(r - 1) * NTASKS)
			bad++;
		zd_mutex_unlock(&w.m);
		zd_atomic_set_release(&w.gen.v, r);
		zd_wake_up_var(&w.gen.v);
	}
	zd_task_group_quiesce(g);
	for (int i = 0; i < NTASKS; i++) {
		assert_int_equal(zd_task_state(t[i]), ZD_TASK_DONE);
		zd_task_join(t[i]);
	}
	assert_int_equal(bad, 0);
	assert_int_equal(w.counter, (long)TASK_ROUNDS * NTASKS);
	zd_task_group_destroy(g);
}

/* ---- task groups: cancel with sleepers of every kind ------------------ */

#define CANCEL_ROUNDS (100 / SCALE)

struct cancel_world {
	zd_mutex_t m;
	zd_rwsem_t sem;
	struct counter_var never;
	struct zd_completion c;
	zd_atomic_t eintr, locked;
};

static void cancel_task_fn(void *arg)
{
	struct cancel_world *w = arg;
	static zd_atomic_t rr;
	int kind = zd_atomic_add_return_relaxed(&rr, 1) % 4;

	switch (kind) {
	case 0:
		if (zd_wait_var_event(&w->never.v, var_at_least, &w->never, "never") == -EINTR)
			zd_atomic_add_return_relaxed(&w->eintr, 1);
		break;
	case 1:
		if (zd_wait_for_completion(&w->c, "never completed") == -EINTR)
			zd_atomic_add_return_relaxed(&w->eintr, 1);
		break;
	case 2:
		zd_mutex_lock(&w->m);
		zd_atomic_add_return_relaxed(&w->locked, 1);
		zd_mutex_unlock(&w->m);
		break;
	default:
		zd_down_read(&w->sem);
		zd_atomic_add_return_relaxed(&w->locked, 1);
		zd_up_read(&w->sem);
		break;
	}
}

static void test_task_cancel_storm(void **state)
{
	int eintr = 0, locked = 0;

	(void)state;
	for (int r = 0; r < CANCEL_ROUNDS; r++) {
		struct cancel_world w;
		struct zd_task_group *g = zd_task_group_create();
		struct zd_task *t[8];

		assert_non_null(g);
		zd_mutex_init(&w.m);
		zd_rwsem_init(&w.sem);
		zd_atomic_set_relaxed(&w.never.v, 0);
		w.never.want = 1;
		zd_init_completion(&w.c);
		zd_atomic_set_relaxed(&w.eintr, 0);
		zd_atomic_set_relaxed(&w.locked, 0);
		zd_mutex_lock(&w.m);
		zd_down_write(&w.sem);
		for (int i = 0; i < 8; i++)
			t[i] = zd_task_start(g, cancel_task_fn, &w);
		if (r % 2)
			zd_task_group_quiesce(g);
		zd_task_group_cancel(g); /* races with tasks still starting */
		zd_mutex_unlock(&w.m);
		zd_up_write(&w.sem);
		for (int i = 0; i < 8; i++)
			zd_task_join(t[i]);
		eintr += zd_atomic_read_relaxed(&w.eintr);
		locked += zd_atomic_read_relaxed(&w.locked);
		zd_task_group_destroy(g);
	}
	assert_int_equal(eintr, CANCEL_ROUNDS * 4);
	assert_int_equal(locked, CANCEL_ROUNDS * 4);
}

/* Per-test wall time on stderr, to keep the suite's cost visible. */
static uint64_t test_start_ns;

static int timer_start(void **state)
{
	(void)state;
	test_start_ns = zd_clock_ns();
	return 0;
}

static int timer_stop(void **state)
{
	(void)state;
	fprintf(stderr, "  (%.1f ms)\n", (double)(zd_clock_ns() - test_start_ns) / 1e6);
	return 0;
}

#define TIMED(fn) cmocka_unit_test_setup_teardown(fn, timer_start, timer_stop)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TIMED(test_mutex_counter),
	    TIMED(test_spin_counter),
	    TIMED(test_rwsem_consistency),
	    TIMED(test_percpu_ref_storm),
	    TIMED(test_pingpong),
	    TIMED(test_rcu_publish),
	    TIMED(test_task_quiesce_rounds),
	    TIMED(test_task_cancel_storm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
