/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: state hashing in the explorer's search, on a simulated
 * program without threads (as test_explore_search.c): each thread is a list
 * of operations on one shared value, the state at a choice point is every
 * thread's position and the value, and the search is told that state before
 * each pick. Checks that orders converging to one state are cut short, and
 * that a state first met with more preemptions used than a later visit does
 * not hide what the later visit can still reach within the bound.
 */
#include <string.h>

#include "testlib.h"
#include "explore/explore.h"

#define NT 3
#define NOPS 4

enum op { NONE = 0, ADD, MUL };

/* ADD: v += 1 (commutes with ADD); MUL: v = 5 v + thread + 1 (commutes with nothing). */
struct prog {
	enum op op[NT][NOPS];
};

static int shared_obj;

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static int nops(const struct prog *pr, int t)
{
	int n = 0;

	while (n < NOPS && pr->op[t][n] != NONE)
		n++;
	return n;
}

struct run {
	const struct prog *pr;
	int pc[NT];
	uint64_t v;
};

static bool run_next(void *arg, int t, int *kind, const void **addr)
{
	struct run *r = arg;

	if (r->pc[t] >= nops(r->pr, t))
		return false;
	*kind = ZD_SP_RMW;
	*addr = &shared_obj;
	return true;
}

static void run_step(void *arg, int t)
{
	struct run *r = arg;

	if (r->pr->op[t][r->pc[t]] == ADD)
		r->v += 1;
	else
		r->v = 5 * r->v + (uint64_t)t + 1;
	r->pc[t]++;
}

/* The state: every thread's position and the value. */
static uint64_t run_key(void *arg)
{
	struct run *r = arg;
	uint64_t key = 1;
	int t;

	for (t = 0; t < NT; t++)
		key = mix(key, (uint64_t)r->pc[t]);
	return mix(key, r->v);
}

/* One execution; returns the final value. @hash: tell the search each state. */
static uint64_t run_once(struct zd_xsearch *s, const struct prog *pr, bool hash)
{
	struct run r = {.pr = pr};
	struct zd_test_xsim sim = {NT, run_next, run_step, hash ? run_key : NULL, &r};

	zd_test_xrun(s, &sim);
	return r.v;
}

struct outcome {
	unsigned int executions;
	unsigned int distinct; /* final values */
	bool found;	       /* the final value `bug` was reached */
	uint64_t pruned, states;
};

static struct outcome search(enum zd_xmode mode, unsigned int bound, const struct prog *pr,
			     bool hash, uint64_t bug)
{
	struct outcome o = {0};
	struct zd_xsearch s;
	uint64_t seen[256];
	unsigned int nseen = 0, i;

	zd_xsearch_init(&s, mode, bound, 1, 0);
	do {
		uint64_t v = run_once(&s, pr, hash);

		for (i = 0; i < nseen && seen[i] != v; i++)
			;
		if (i == nseen && nseen < 256)
			seen[nseen++] = v;
		o.found |= v == bug;
		o.executions++;
		assert_true(o.executions < 5000);
	} while (zd_xsearch_next(&s));
	o.distinct = nseen;
	o.pruned = s.pruned;
	o.states = s.nr_visited;
	zd_xsearch_free(&s);
	return o;
}

/* Two threads of three additions each: 20 orders, but only 16 states and one final value. */
static void test_converging_orders_cut(void **state)
{
	struct prog pr;
	struct outcome plain, hashed, xplain, xhashed;

	memset(&pr, 0, sizeof(pr));
	for (int i = 0; i < 3; i++)
		pr.op[0][i] = pr.op[1][i] = ADD;
	plain = search(ZD_XMODE_BOUNDED, 10, &pr, false, 0);
	hashed = search(ZD_XMODE_BOUNDED, 10, &pr, true, 0);
	print_message("bounded 3+3 additions: %u executions without hashing, %u with (%llu cut, "
		      "%llu states)\n",
		      plain.executions, hashed.executions, (unsigned long long)hashed.pruned,
		      (unsigned long long)hashed.states);
	assert_int_equal(plain.distinct, 1);
	assert_int_equal(hashed.distinct, 1);
	assert_true(hashed.executions < plain.executions);
	assert_true(hashed.pruned > 0);
	assert_int_equal(plain.pruned, 0);
	/* the states: positions (0..3, 0..3) where both threads can still run, at most 9 */
	assert_true(hashed.states <= 9 && hashed.states > 0);

	/* exhaustive mode (the operations are dependent: sleep sets cannot help) */
	xplain = search(ZD_XMODE_EXHAUSTIVE, 0, &pr, false, 0);
	xhashed = search(ZD_XMODE_EXHAUSTIVE, 0, &pr, true, 0);
	print_message("exhaustive: %u executions without hashing, %u with\n", xplain.executions,
		      xhashed.executions);
	assert_int_equal(xplain.executions, 20);
	assert_true(xhashed.executions < xplain.executions);
}

/* Multiplications do not commute: every order of them stays a distinct final value. */
static void test_distinct_outcomes_kept(void **state)
{
	struct prog pr;
	struct outcome plain, hashed;

	memset(&pr, 0, sizeof(pr));
	pr.op[0][0] = ADD;
	pr.op[0][1] = MUL;
	pr.op[0][2] = MUL;
	pr.op[1][0] = ADD;
	pr.op[1][1] = MUL;
	pr.op[1][2] = MUL;
	plain = search(ZD_XMODE_EXHAUSTIVE, 0, &pr, false, 0);
	hashed = search(ZD_XMODE_EXHAUSTIVE, 0, &pr, true, 0);
	assert_int_equal(hashed.distinct, plain.distinct);
	assert_true(hashed.executions <= plain.executions);
	plain = search(ZD_XMODE_BOUNDED, 2, &pr, false, 0);
	hashed = search(ZD_XMODE_BOUNDED, 2, &pr, true, 0);
	assert_int_equal(hashed.distinct, plain.distinct);
}

/*
 * T0: ADD MUL MUL, T1: ADD, T2: MUL MUL. The failure is the final value of
 * the orders 1 0 0 2 0 2 (2 preemptions) and 0 1 0 2 0 2 (3): both additions
 * first, then the multiplications alternating. Both pass the state S (T0 and
 * T1 did their ADD). The DFS meets S first by 0 1 (one preemption used,
 * nobody running: T1 ended) and later by 1 0 (none used, T0 running). Under
 * bound 2 only the second visit can still reach the failure, so pruning the
 * second visit because S was seen would hide it.
 */
static void test_bound_not_hidden_by_earlier_visit(void **state)
{
	struct prog pr;
	struct outcome b1, b2, plain;
	uint64_t v = 2;

	memset(&pr, 0, sizeof(pr));
	pr.op[0][0] = ADD;
	pr.op[0][1] = MUL;
	pr.op[0][2] = MUL;
	pr.op[1][0] = ADD;
	pr.op[2][0] = MUL;
	pr.op[2][1] = MUL;
	v = 5 * v + 1; /* T0 */
	v = 5 * v + 3; /* T2 */
	v = 5 * v + 1; /* T0 */
	v = 5 * v + 3; /* T2 */

	b1 = search(ZD_XMODE_BOUNDED, 1, &pr, true, v);
	assert_false(b1.found); /* it needs both preemptions */
	plain = search(ZD_XMODE_BOUNDED, 2, &pr, false, v);
	assert_true(plain.found);
	b2 = search(ZD_XMODE_BOUNDED, 2, &pr, true, v);
	print_message("bound 2: %u executions without hashing, %u with (%llu cut); failure %s\n",
		      plain.executions, b2.executions, (unsigned long long)b2.pruned,
		      b2.found ? "found" : "MISSED");
	assert_true(b2.found);
	assert_true(b2.pruned > 0);
	assert_true(b2.executions <= plain.executions);
	assert_int_equal(b2.distinct, plain.distinct);
}

/* Random mode counts states but never cuts. */
static void test_random_counts_only(void **state)
{
	struct prog pr;
	struct zd_xsearch s;
	int i;

	memset(&pr, 0, sizeof(pr));
	for (i = 0; i < 3; i++)
		pr.op[0][i] = pr.op[1][i] = ADD;
	zd_xsearch_init(&s, ZD_XMODE_RANDOM, 0, 7, 50);
	do
		run_once(&s, &pr, true);
	while (zd_xsearch_next(&s));
	assert_int_equal(s.executions, 50);
	assert_int_equal(s.pruned, 0);
	assert_true(s.nr_visited > 0 && s.nr_visited <= 9);
	zd_xsearch_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_converging_orders_cut),
	    cmocka_unit_test(test_distinct_outcomes_kept),
	    cmocka_unit_test(test_bound_not_hidden_by_earlier_visit),
	    cmocka_unit_test(test_random_counts_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
