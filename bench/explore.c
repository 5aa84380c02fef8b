/* SPDX-License-Identifier: MIT */
/*
 * zonedev benchmark: the explorer. Two model threads each increment a shared
 * counter; with a read-then-set increment an update can be lost (the bug),
 * with an atomic add it cannot (clean). Reported: executions per second of
 * the preemption-bounded search over the clean version (bound 2, run to the
 * end), the time and executions to the first failing execution of the buggy
 * one, and as floor the cost of one baton hand-over between two threads
 * measured in the same run (an execution needs a few of them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "benchlib.h"
#include "explore/explore.h"
#include "sync/sync.h"

/* Increments per thread: the number of scheduling points grows with it. */
#define XB_INCS 3

struct xb_world {
	zd_atomic_t counter;
	bool buggy;
};

static void xb_thread(void *arg)
{
	struct xb_world *w = arg;
	int i, v;

	for (i = 0; i < XB_INCS; i++) {
		if (w->buggy) {
			v = zd_atomic_read_relaxed(&w->counter);
			zd_atomic_set_relaxed(&w->counter, v + 1);
		} else {
			zd_atomic_add_return_relaxed(&w->counter, 1);
		}
	}
}

/* One execution under @s; returns true when the final count is wrong (the bug). */
static bool xb_execution(struct zd_xsearch *s, bool buggy)
{
	struct zd_explorer *ex = zd_explorer_create(zd_xsearch_pick, NULL, s);
	struct zd_task_group *g = zd_task_group_create();
	struct xb_world w = {.buggy = buggy};
	struct zd_task *t[2];
	bool bad;

	if (!ex || !g || zd_task_group_set_explorer(g, ex))
		bench_die("explore", "explorer", -ENOMEM);
	zd_atomic_set_relaxed(&w.counter, 0);
	zd_explorer_set_recording(ex, true);
	t[0] = zd_task_start(g, xb_thread, &w);
	t[1] = zd_task_start(g, xb_thread, &w);
	if (!t[0] || !t[1])
		bench_die("explore", "zd_task_start", -EAGAIN);
	zd_task_group_quiesce(g);
	zd_task_join(t[0]);
	zd_task_join(t[1]);
	bad = zd_atomic_read_relaxed(&w.counter) != 2 * XB_INCS;
	zd_task_group_destroy(g);
	zd_explorer_destroy(ex);
	return bad;
}

struct xb_result {
	uint64_t executions;
	double ns;
	bool found;
};

static void xb_search(bool buggy, unsigned int bound, bool stop_at_bug, struct xb_result *r)
{
	struct zd_xsearch s;
	uint64_t t0 = bench_now_ns();

	zd_xsearch_init(&s, ZD_XMODE_BOUNDED, bound, 1, 1);
	r->found = false;
	do {
		zd_xsearch_begin(&s);
		if (xb_execution(&s, buggy)) {
			r->found = true;
			if (stop_at_bug)
				break;
		}
	} while (zd_xsearch_next(&s));
	r->ns = (double)(bench_now_ns() - t0);
	r->executions = s.executions;
	zd_xsearch_free(&s);
}

/* The floor: a hand-over between two model threads that do nothing else. */
static void xb_pingpong(void *arg)
{
	zd_atomic_t *v = arg;
	int i;

	for (i = 0; i < 1000; i++)
		zd_atomic_add_return_relaxed(v, 1);
}

/* Always switch: every point goes to the other thread (a hand-over each). */
static int xb_pick_other(void *arg, const struct zd_explore_point *p)
{
	uint32_t others = p->enabled & ~(p->current >= 0 ? 1u << p->current : 0u);

	(void)arg;
	return others ? __builtin_ctz(others) : __builtin_ctz(p->enabled);
}

static double xb_handover_ns(void)
{
	struct zd_explorer *ex = zd_explorer_create(xb_pick_other, NULL, NULL);
	struct zd_task_group *g = zd_task_group_create();
	zd_atomic_t v;
	struct zd_task *t[2];
	uint64_t t0;
	unsigned long points;

	zd_atomic_set_relaxed(&v, 0);
	zd_task_group_set_explorer(g, ex);
	zd_explorer_set_recording(ex, true);
	t0 = bench_now_ns();
	t[0] = zd_task_start(g, xb_pingpong, &v);
	t[1] = zd_task_start(g, xb_pingpong, &v);
	zd_task_group_quiesce(g);
	points = zd_explorer_points(ex);
	t0 = bench_now_ns() - t0;
	zd_task_join(t[0]);
	zd_task_join(t[1]);
	zd_task_group_destroy(g);
	zd_explorer_destroy(ex);
	return points ? (double)t0 / (double)points : 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct xb_result clean, bug;
	double hand;
	int bound;

	bench_parse_args(&o, "explore", argc, argv);
	bench_print_machine(&o);
	bound = o.quick ? 1 : 2;
	hand = xb_handover_ns();
	xb_search(false, (unsigned int)bound, false, &clean);
	xb_search(true, (unsigned int)bound, true, &bug);
	printf("floor: one baton hand-over between model threads: %.0f ns\n", hand);
	printf("clean search (2 threads x %d atomic increments, preemptions=%d): %llu executions "
	       "in %.3f s = %.0f executions/s (%.0f hand-overs' worth each)\n",
	       XB_INCS, bound, (unsigned long long)clean.executions, clean.ns / 1e9,
	       clean.executions / (clean.ns / 1e9), clean.ns / clean.executions / hand);
	printf("buggy (lost update): first failing execution after %llu executions, %.3f ms%s\n",
	       (unsigned long long)bug.executions, bug.ns / 1e6, bug.found ? "" : " (NOT FOUND)");
	if (clean.found)
		printf("ERROR: the clean version failed\n");
	return clean.found || !bug.found ? 1 : 0;
}
