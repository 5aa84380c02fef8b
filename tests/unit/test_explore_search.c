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

/* One execution of @pr under @s; returns the final order as a bitmask of who ran each step. */
static unsigned int run_once(struct zd_xsearch *s, const struct prog *pr)
{
	int pc[NT] = {0}, cur = -1, t, step = 0;
	unsigned int order = 0, pos = 0;

	zd_xsearch_begin(s);
	for (;;) {
		struct zd_explore_point p;
		uint32_t en = 0;

		memset(&p, 0, sizeof(p));
		for (t = 0; t < NT; t++) {
			if (pc[t] < NOPS) {
				en |= 1u << t;
				p.pend_kind[t] = pr->kind[t][pc[t]];
				p.pend_addr[t] = pr->obj[t][pc[t]];
			}
		}
		if (!en)
			break;
		if (cur >= 0 && !(en & (1u << cur)))
			cur = -1;
		if (en & (en - 1)) {
			p.step = (unsigned int)step++;
			p.enabled = en;
			p.current = cur;
			p.kind = cur >= 0 ? pr->kind[cur][pc[cur]] : 0;
			p.addr = cur >= 0 ? pr->obj[cur][pc[cur]] : NULL;
			t = zd_xsearch_pick(s, &p);
		} else {
			t = __builtin_ctz(en);
		}
		assert_true(en & (1u << t));
		order |= (unsigned int)t << pos++;
		pc[t]++;
		cur = t;
	}
	return order;
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
