/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the explore backend running model threads (as fibers on the
 * scheduler's OS thread). Small two-thread programs are explored to the end
 * and every execution's order of operations is folded into a hash; the
 * counts and hashes were taken with the earlier backend (pthreads passing a
 * baton), so a change of schedule shows here. Also: thread-local state is
 * per model thread (current task, task-local words, mutex ownership), a
 * recursive lock still blocks for good, a wait can be ended from outside or
 * by cancel.
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "explore/explore.h"
#include "sync/explore.h"
#include "sync/sync.h"

#define LOG_MAX 256

/* The shared state of one execution of the program. */
struct prog {
	zd_atomic_t counter;
	zd_mutex_t lock;
	struct zd_completion done;
	int inside; /* threads inside the mutex's section */
	bool overlap;
	char log[LOG_MAX];
	unsigned int nlog;
};

struct arg {
	struct prog *p;
	int id;
};

static void logc(struct prog *p, char c)
{
	if (p->nlog < LOG_MAX - 1)
		p->log[p->nlog++] = c;
}

/*
 * Each thread: a racy increment (read, then set), a section under the mutex
 * with a scheduling point inside, then thread 0 completes and thread 1 waits
 * for it (a blocking wait).
 */
static void prog_thread(void *a)
{
	struct arg *arg = a;
	struct prog *p = arg->p;
	char me = (char)('a' + arg->id);
	int v;

	v = zd_atomic_read_relaxed(&p->counter);
	logc(p, me);
	zd_atomic_set_relaxed(&p->counter, v + 1);
	logc(p, me);
	zd_mutex_lock(&p->lock);
	if (p->inside++)
		p->overlap = true;
	logc(p, (char)(me - 'a' + 'A'));
	zd_atomic_add_return_relaxed(&p->counter, 10);
	p->inside--;
	zd_mutex_unlock(&p->lock);
	logc(p, me);
	if (arg->id == 0)
		zd_complete(&p->done);
	else
		zd_wait_for_completion(&p->done, "test completion");
	logc(p, me);
}

/* The switch hook: the trace of who runs after whom. */
static void prog_switch(void *a, int tid)
{
	struct prog *p = a;

	logc(p, (char)('0' + tid));
}

struct search_result {
	unsigned long executions;
	unsigned long points;
	unsigned long lost; /* executions that lost the racy update */
	uint64_t hash;	    /* FNV-1a over every execution's log, in search order */
};

struct pick_ctx {
	struct zd_xsearch *s;
	struct prog *p;
};

static int pick(void *a, const struct zd_explore_point *pt)
{
	struct pick_ctx *c = a;

	return zd_xsearch_pick(c->s, pt);
}

static void on_switch(void *a, int tid)
{
	struct pick_ctx *c = a;

	prog_switch(c->p, tid);
}

static void search(enum zd_xmode mode, unsigned int bound, struct search_result *r)
{
	struct zd_xsearch s;

	memset(r, 0, sizeof(*r));
	r->hash = 0xcbf29ce484222325ull;
	zd_xsearch_init(&s, mode, bound, 1, 1);
	do {
		struct prog p;
		struct pick_ctx c = {&s, &p};
		struct zd_explorer *ex = zd_explorer_create(pick, on_switch, &c);
		struct zd_task_group *g = zd_task_group_create();
		struct arg args[2] = {{&p, 0}, {&p, 1}};
		struct zd_task *t[2];
		unsigned int i;

		memset(&p, 0, sizeof(p));
		assert_non_null(ex);
		assert_non_null(g);
		assert_int_equal(zd_task_group_set_explorer(g, ex), 0);
		zd_atomic_set_relaxed(&p.counter, 0);
		zd_mutex_init(&p.lock);
		zd_init_completion(&p.done);
		zd_xsearch_begin(&s);
		zd_explorer_set_recording(ex, true);
		t[0] = zd_task_start(g, prog_thread, &args[0]);
		t[1] = zd_task_start(g, prog_thread, &args[1]);
		assert_non_null(t[0]);
		assert_non_null(t[1]);
		assert_int_equal(zd_task_explore_id(t[0]), 0);
		assert_int_equal(zd_task_explore_id(t[1]), 1);
		zd_task_group_quiesce(g);
		zd_explorer_set_recording(ex, false);
		assert_int_equal(zd_task_state(t[0]), ZD_TASK_DONE);
		assert_int_equal(zd_task_state(t[1]), ZD_TASK_DONE);
		zd_task_join(t[0]);
		zd_task_join(t[1]);
		assert_false(p.overlap);
		if (zd_atomic_read_relaxed(&p.counter) != 22)
			r->lost++;
		r->points += zd_explorer_points(ex);
		for (i = 0; i < p.nlog; i++)
			r->hash = (r->hash ^ (unsigned char)p.log[i]) * 0x100000001b3ull;
		r->hash = (r->hash ^ '|') * 0x100000001b3ull;
		zd_task_group_destroy(g);
		zd_explorer_destroy(ex);
	} while (zd_xsearch_next(&s));
	r->executions = s.executions;
	zd_xsearch_free(&s);
}

/* Same executions, same scheduling points, same orders and switches as the baton backend. */
static void test_same_schedules(void **state)
{
	struct search_result r;

	(void)state;
	search(ZD_XMODE_EXHAUSTIVE, 0, &r);
	assert_int_equal(r.executions, 1244);
	assert_int_equal(r.points, 25208);
	assert_int_equal(r.lost, 860);
	assert_int_equal(r.hash, 0x2e8bd5a576db4cd4ull);
	search(ZD_XMODE_BOUNDED, 2, &r);
	assert_int_equal(r.executions, 128);
	assert_int_equal(r.points, 2306);
	assert_int_equal(r.lost, 22);
	assert_int_equal(r.hash, 0x520a2460044c9e0eull);
}

/* An explorer whose choices always switch to another thread (a hand-over at every point). */
static int pick_other(void *a, const struct zd_explore_point *pt)
{
	uint32_t others = pt->enabled & ~(pt->current >= 0 ? 1u << pt->current : 0u);

	(void)a;
	return others ? __builtin_ctz(others) : __builtin_ctz(pt->enabled);
}

struct env {
	struct zd_explorer *ex;
	struct zd_task_group *g;
};

static void env_init(struct env *e)
{
	e->ex = zd_explorer_create(pick_other, NULL, NULL);
	e->g = zd_task_group_create();
	assert_non_null(e->ex);
	assert_non_null(e->g);
	assert_int_equal(zd_task_group_set_explorer(e->g, e->ex), 0);
	zd_explorer_set_recording(e->ex, true);
}

static void env_fini(struct env *e)
{
	zd_task_group_destroy(e->g);
	zd_explorer_destroy(e->ex);
}

struct local_arg {
	zd_atomic_t tick;
	struct zd_task *seen[2];
	bool ok[2];
	int id;
};

/* Each thread writes its task-local words, lets the other run, and finds them unchanged. */
static void local_thread(void *a)
{
	struct local_arg *l = a;
	int id = zd_atomic_add_return_relaxed(&l->tick, 1) - 1;
	unsigned long *w = zd_task_local(ZD_TASK_LOCAL_NOTIFIER);
	int i;

	l->seen[id] = zd_current_task();
	l->ok[id] = *w == 0;
	*w = 100 + (unsigned long)id;
	for (i = 0; i < 8; i++) {
		zd_atomic_add_return_relaxed(&l->tick, 1); /* a hand-over each time */
		l->ok[id] = l->ok[id] && zd_current_task() == l->seen[id] &&
			    zd_task_local(ZD_TASK_LOCAL_NOTIFIER) == w &&
			    *w == 100 + (unsigned long)id;
	}
}

/* The current task and task-local words follow the model thread, not the OS thread. */
static void test_task_local(void **state)
{
	struct local_arg l;
	struct env e;
	struct zd_task *t[2];
	unsigned long *mine = zd_task_local(ZD_TASK_LOCAL_NOTIFIER);

	(void)state;
	memset(&l, 0, sizeof(l));
	env_init(&e);
	*mine = 7;
	t[0] = zd_task_start(e.g, local_thread, &l);
	t[1] = zd_task_start(e.g, local_thread, &l);
	zd_task_group_quiesce(e.g);
	assert_true(l.ok[0]);
	assert_true(l.ok[1]);
	assert_true(l.seen[0] != l.seen[1]);
	assert_true(l.seen[0] == t[0] || l.seen[0] == t[1]);
	assert_true(l.seen[1] == t[0] || l.seen[1] == t[1]);
	/* the scheduler's own state is back */
	assert_null(zd_current_task());
	assert_ptr_equal(zd_task_local(ZD_TASK_LOCAL_NOTIFIER), mine);
	assert_int_equal(*mine, 7);
	*mine = 0;
	zd_task_join(t[0]);
	zd_task_join(t[1]);
	env_fini(&e);
}

struct mutex_arg {
	zd_mutex_t m;
	zd_atomic_t spin;
	int inside;
	bool overlap;
	bool twice; /* lock it again while holding it */
};

static void mutex_thread(void *a)
{
	struct mutex_arg *m = a;
	int i;

	zd_mutex_lock(&m->m);
	if (m->inside++)
		m->overlap = true;
	for (i = 0; i < 4; i++)
		zd_atomic_add_return_relaxed(&m->spin, 1); /* the other thread is picked */
	if (m->twice)
		zd_mutex_lock(&m->m);
	m->inside--;
	zd_mutex_unlock(&m->m);
}

/* Two model threads on one OS thread exclude each other on a mutex. */
static void test_mutex_exclusion(void **state)
{
	struct mutex_arg m;
	struct env e;
	struct zd_task *t[2];

	(void)state;
	memset(&m, 0, sizeof(m));
	zd_mutex_init(&m.m);
	env_init(&e);
	t[0] = zd_task_start(e.g, mutex_thread, &m);
	t[1] = zd_task_start(e.g, mutex_thread, &m);
	zd_task_group_quiesce(e.g);
	assert_false(m.overlap);
	assert_int_equal(zd_task_state(t[0]), ZD_TASK_DONE);
	assert_int_equal(zd_task_state(t[1]), ZD_TASK_DONE);
	assert_false(zd_mutex_is_locked(&m.m));
	zd_task_join(t[0]);
	zd_task_join(t[1]);
	env_fini(&e);
}

/*
 * Locking a mutex one holds blocks for good, as before: the thread shows as
 * sleeping on "mutex", cancel does not end that sleep, and the thread is left
 * suspended (with its explorer and group) as a parked thread was.
 */
static void test_recursive_lock_blocks(void **state)
{
	struct mutex_arg *m = calloc(1, sizeof(*m));
	struct env e;
	struct zd_task *t;

	(void)state;
	assert_non_null(m);
	zd_mutex_init(&m->m);
	m->twice = true;
	env_init(&e);
	t = zd_task_start(e.g, mutex_thread, m);
	zd_task_group_quiesce(e.g);
	assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(t), "mutex");
	zd_task_group_cancel(e.g);
	zd_task_group_quiesce(e.g);
	assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
	/* never joined: the group and explorer stay, and so does m (the thread's) */
	env_fini(&e);
}

static void wait_thread(void *a)
{
	struct zd_completion *c = a;

	zd_wait_for_completion(c, "outside");
}

/* A model thread's wait ends by a wake from a thread that is not a model thread. */
static void test_wake_from_outside(void **state)
{
	struct zd_completion c;
	struct env e;
	struct zd_task *t;

	(void)state;
	zd_init_completion(&c);
	env_init(&e);
	t = zd_task_start(e.g, wait_thread, &c);
	zd_task_group_quiesce(e.g);
	assert_int_equal(zd_task_state(t), ZD_TASK_SLEEPING);
	assert_string_equal(zd_task_waiting_on(t), "outside");
	zd_complete(&c); /* the test's own thread */
	assert_int_equal(zd_task_state(t), ZD_TASK_RUNNING);
	zd_task_group_quiesce(e.g);
	assert_int_equal(zd_task_state(t), ZD_TASK_DONE);
	zd_task_join(t);
	env_fini(&e);
}

static bool never(void *a)
{
	(void)a;
	return false;
}

static void forever_thread(void *a)
{
	int *ret = a;

	*ret = zd_wait_var_event(ret, never, NULL, "forever");
}

/* Cancel ends an interruptible wait of a model thread, which then finishes. */
static void test_cancel(void **state)
{
	struct env e;
	struct zd_task *t[2];
	int ret[2] = {1, 1};

	(void)state;
	env_init(&e);
	t[0] = zd_task_start(e.g, forever_thread, &ret[0]);
	t[1] = zd_task_start(e.g, forever_thread, &ret[1]);
	zd_task_group_quiesce(e.g);
	assert_int_equal(zd_task_state(t[0]), ZD_TASK_SLEEPING);
	assert_int_equal(zd_task_state(t[1]), ZD_TASK_SLEEPING);
	zd_task_group_cancel(e.g);
	zd_task_group_quiesce(e.g);
	assert_int_equal(zd_task_state(t[0]), ZD_TASK_DONE);
	assert_int_equal(zd_task_state(t[1]), ZD_TASK_DONE);
	assert_int_equal(ret[0], -EINTR);
	assert_int_equal(ret[1], -EINTR);
	zd_task_join(t[0]);
	zd_task_join(t[1]);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_schedules),
	    cmocka_unit_test(test_task_local),
	    cmocka_unit_test(test_mutex_exclusion),
	    cmocka_unit_test(test_wake_from_outside),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_recursive_lock_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
