/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: the explorer's search strategies on a simulated program,
 * without threads: each model thread is a list of operations (kind,
 * object); a choice point is met wherever two or more threads can run, as
 * the explore backend meets them. Checks that the DFS modes visit every
 * order of dependent operations, that exhaustive mode's sleep sets do not
 * re-run orders of independent ones, and that the bound limits preemptions.
 */
#include <string.h>

#include "testlib.h"
#include "explore/explore.h"

#define NT 2
#define NOPS 3

struct prog {
	const void *obj[NT][NOPS];
	int kind[NT][NOPS];
};

struct run {
	const struct prog *pr;
	int pc[NT];
	unsigned int order, pos;
};

static bool run_next(void *arg, int t, int *kind, const void **addr)
{
	struct run *r = arg;

	if (r->pc[t] >= NOPS)
		return false;
	*kind = r->pr->kind[t][r->pc[t]];
	*addr = r->pr->obj[t][r->pc[t]];
	return true;
}

static void run_step(void *arg, int t)
{
	struct run *r = arg;

	r->order |= (unsigned int)t << r->pos++;
	r->pc[t]++;
}

/* One execution of @pr under @s; returns the final order as a bitmask of who ran each step. */
static unsigned int run_once(struct zd_xsearch *s, const struct prog *pr)
{
	struct run r = {.pr = pr};
	struct zd_test_xsim sim = {NT, run_next, run_step, NULL, &r};

	zd_test_xrun(s, &sim);
	return r.order;
}

/* Executions of a whole search, and how many distinct orders they ran. */
static unsigned int search(enum zd_xmode mode, unsigned int bound, const struct prog *pr,
			   unsigned int *distinct)
{
	struct zd_xsearch s;
	unsigned int n = 0, seen[64], nseen = 0, i, o;

	zd_xsearch_init(&s, mode, bound, 1, 0);
	do {
		o = run_once(&s, pr);
		for (i = 0; i < nseen && seen[i] != o; i++)
			;
		if (i == nseen && nseen < 64)
			seen[nseen++] = o;
		n++;
		assert_true(n < 1000);
	} while (zd_xsearch_next(&s));
	zd_xsearch_free(&s);
	*distinct = nseen;
	return n;
}

static int objs[NT][NOPS];
static int shared_obj;

static void fill(struct prog *pr, bool shared)
{
	int t, i;

	for (t = 0; t < NT; t++)
		for (i = 0; i < NOPS; i++) {
			pr->obj[t][i] = shared ? (const void *)&shared_obj : (const void *)&objs[t][i];
			pr->kind[t][i] = ZD_SP_RMW;
		}
}

static void test_dependent_orders_all_visited(void **state)
{
	struct prog pr;
	unsigned int distinct, n;

	fill(&pr, true);
	/* 3 + 3 operations on one object: every interleaving, C(6,3) = 20 */
	n = search(ZD_XMODE_EXHAUSTIVE, 0, &pr, &distinct);
	assert_int_equal(distinct, 20);
	assert_int_equal(n, 20);
	/* read-only on one object commute: one order is enough */
	{
		int t, i;

		for (t = 0; t < NT; t++)
			for (i = 0; i < NOPS; i++)
				pr.kind[t][i] = ZD_SP_READ;
	}
	n = search(ZD_XMODE_EXHAUSTIVE, 0, &pr, &distinct);
	assert_true(n < 20);
}

static void test_sleep_sets_prune_independent(void **state)
{
	struct prog pr;
	unsigned int distinct, n, nb;

	fill(&pr, false);
	/* independent threads: the bounded DFS (no reduction) still runs every order... */
	nb = search(ZD_XMODE_BOUNDED, 10, &pr, &distinct);
	assert_int_equal(distinct, 20);
	/* ...exhaustive mode's sleep sets run far fewer executions */
	n = search(ZD_XMODE_EXHAUSTIVE, 0, &pr, &distinct);
	print_message("independent 3+3: bounded DFS %u executions, sleep sets %u\n", nb, n);
	assert_true(n < nb);
	assert_true(n <= 7);
}

static void test_bound_limits_preemptions(void **state)
{
	struct prog pr;
	unsigned int d0, d1, n0;

	fill(&pr, true);
	/* bound 0: no preemption - each thread runs to its end once started */
	n0 = search(ZD_XMODE_BOUNDED, 0, &pr, &d0);
	assert_int_equal(d0, 2);
	assert_true(n0 >= 2);
	search(ZD_XMODE_BOUNDED, 1, &pr, &d1);
	assert_true(d1 > d0 && d1 < 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dependent_orders_all_visited),
	    cmocka_unit_test(test_sleep_sets_prune_independent),
	    cmocka_unit_test(test_bound_limits_preemptions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
