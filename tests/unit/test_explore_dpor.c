/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: DPOR mode (src/explore/dpor.c) on simulated programs: model
 * threads are lists of operations (kind, object) with a meaning (reads fold
 * the value into the thread's result, writes and read-modify-writes change
 * it, an unknown object changes everything), run the way the explore backend
 * runs them (a choice point where two or more threads can run; the note hook
 * elsewhere). For random programs, DPOR must reach every final state that a
 * search without reduction reaches, in no more executions than it. (Sleep
 * sets are not combined with DPOR: this test found an order they lost.)
 */
#include <string.h>

#include "testlib.h"
#include "explore/explore.h"

#define NT 3
#define NOPS 3
#define NOBJ 3
#define MAXSTATES 4096

struct op {
	int kind; /* ZD_SP_READ / WRITE / RMW */
	int obj;  /* 0..NOBJ-1 shared, -1 unknown (touches everything), NOBJ+ private */
};

struct prog {
	int nt;
	struct op ops[NT][NOPS];
	int nops[NT];
};

static char objs[NOBJ + NT * NOPS];

static const void *op_addr(const struct op *o)
{
	return o->obj < 0 ? NULL : (const void *)&objs[o->obj];
}

static void apply(uint64_t *val, uint64_t *acc, int t, int i, const struct op *o)
{
	int k, lo = o->obj < 0 ? 0 : o->obj, hi = o->obj < 0 ? NOBJ : o->obj + 1;

	for (k = lo; k < hi; k++) {
		if (o->kind == ZD_SP_READ)
			acc[t] = acc[t] * 1000003u + val[k];
		else if (o->kind == ZD_SP_WRITE)
			val[k] = (uint64_t)(t * 16 + i + 1);
		else
			val[k] = val[k] * 31u + (uint64_t)(t + 1);
	}
}

struct run {
	const struct prog *pr;
	int pc[NT];
	uint64_t val[NOBJ + NT * NOPS], acc[NT];
};

static bool run_next(void *arg, int t, int *kind, const void **addr)
{
	struct run *r = arg;

	if (t >= r->pr->nt || r->pc[t] >= r->pr->nops[t])
		return false;
	*kind = r->pr->ops[t][r->pc[t]].kind;
	*addr = op_addr(&r->pr->ops[t][r->pc[t]]);
	return true;
}

static void run_step(void *arg, int t)
{
	struct run *r = arg;

	apply(r->val, r->acc, t, r->pc[t], &r->pr->ops[t][r->pc[t]]);
	r->pc[t]++;
}

/* One execution under @s; returns a digest of the final state. */
static uint64_t run_once(struct zd_xsearch *s, const struct prog *pr)
{
	struct run r = {.pr = pr};
	struct zd_test_xsim sim = {NT, run_next, run_step, NULL, &r};
	uint64_t h = 1469598103934665603ull;
	int t;

	zd_test_xrun(s, &sim);
	for (t = 0; t < NOBJ; t++)
		h = (h ^ r.val[t]) * 1099511628211ull;
	for (t = 0; t < pr->nt; t++)
		h = (h ^ r.acc[t]) * 1099511628211ull;
	return h;
}

struct outcome {
	unsigned int executions;
	unsigned int nstates;
	uint64_t states[MAXSTATES];
};

static void search(enum zd_xmode mode, unsigned int bound, const struct prog *pr,
		   struct outcome *out)
{
	struct zd_xsearch s;
	unsigned int i;
	uint64_t h;

	memset(out, 0, sizeof(*out));
	zd_xsearch_init(&s, mode, bound, 1, 0);
	do {
		h = run_once(&s, pr);
		for (i = 0; i < out->nstates && out->states[i] != h; i++)
			;
		if (i == out->nstates && out->nstates < MAXSTATES)
			out->states[out->nstates++] = h;
		out->executions++;
		assert_true(out->executions < 200000);
	} while (zd_xsearch_next(&s));
	zd_xsearch_free(&s);
}

static bool has_state(const struct outcome *o, uint64_t h)
{
	unsigned int i;

	for (i = 0; i < o->nstates; i++)
		if (o->states[i] == h)
			return true;
	return false;
}

static void random_prog(struct prog *pr, uint64_t *rnd)
{
	int t, i;

	pr->nt = 2 + (int)(zd_test_rand(rnd) % 2);
	for (t = 0; t < pr->nt; t++) {
		pr->nops[t] = 1 + (int)(zd_test_rand(rnd) % NOPS);
		for (i = 0; i < pr->nops[t]; i++) {
			uint64_t r = zd_test_rand(rnd);
			struct op *o = &pr->ops[t][i];

			o->kind = r % 3 == 0 ? ZD_SP_READ : r % 3 == 1 ? ZD_SP_WRITE : ZD_SP_RMW;
			r /= 3;
			if (r % 16 == 0)
				o->obj = -1;
			else if (r % 16 < 10)
				o->obj = (int)(r / 16 % NOBJ);
			else
				o->obj = NOBJ + t * NOPS + i; /* private */
		}
	}
}

/* DPOR reaches every final state of the unreduced search, in fewer executions. */
static void test_dpor_matches_full_search(void **state)
{
	uint64_t rnd = zd_test_seed() * 2654435761u + 17;
	static struct outcome full, dpor, sleep;
	unsigned long nfull = 0, ndpor = 0, nsleep = 0;
	int n, i;

	(void)state;
	for (n = 0; n < 300; n++) {
		struct prog pr;

		random_prog(&pr, &rnd);
		search(ZD_XMODE_BOUNDED, 64, &pr, &full); /* every interleaving */
		search(ZD_XMODE_DPOR, 0, &pr, &dpor);
		search(ZD_XMODE_EXHAUSTIVE, 0, &pr, &sleep);
		assert_int_equal(dpor.nstates, full.nstates);
		for (i = 0; i < (int)full.nstates; i++)
			assert_true(has_state(&dpor, full.states[i]));
		assert_int_equal(sleep.nstates, full.nstates);
		assert_true(dpor.executions <= full.executions);
		nfull += full.executions;
		ndpor += dpor.executions;
		nsleep += sleep.executions;
	}
	/* and it does reduce, on the whole */
	assert_true(ndpor < nfull);
	print_message("300 programs: %lu executions unreduced, %lu with DPOR, %lu with sleep sets\n",
		      nfull, ndpor, nsleep);
}

/* Independent threads: one execution; fully dependent ones: every order. */
static void test_dpor_extremes(void **state)
{
	static struct outcome o;
	struct prog pr;
	int t, i;

	(void)state;
	memset(&pr, 0, sizeof(pr));
	pr.nt = 3;
	for (t = 0; t < 3; t++) {
		pr.nops[t] = 3;
		for (i = 0; i < 3; i++)
			pr.ops[t][i] = (struct op){ZD_SP_RMW, NOBJ + t * NOPS + i};
	}
	search(ZD_XMODE_DPOR, 0, &pr, &o);
	assert_int_equal(o.executions, 1);
	for (t = 0; t < 2; t++)
		for (i = 0; i < 3; i++)
			pr.ops[t][i] = (struct op){ZD_SP_RMW, 0};
	pr.nops[2] = 0;
	search(ZD_XMODE_DPOR, 0, &pr, &o);
	/* 3 + 3 read-modify-writes of one object: all C(6,3) = 20 orders differ */
	assert_int_equal(o.executions, 20);
	assert_int_equal(o.nstates, 20);
}

/* A lost update (read, then write back) is found: the bad final value is among the states. */
static void test_dpor_finds_lost_update(void **state)
{
	static struct outcome o;
	struct prog pr;

	(void)state;
	memset(&pr, 0, sizeof(pr));
	pr.nt = 2;
	pr.nops[0] = pr.nops[1] = 2;
	pr.ops[0][0] = pr.ops[1][0] = (struct op){ZD_SP_READ, 0};
	pr.ops[0][1] = pr.ops[1][1] = (struct op){ZD_SP_WRITE, 0};
	search(ZD_XMODE_DPOR, 0, &pr, &o);
	{
		static struct outcome full;

		search(ZD_XMODE_BOUNDED, 8, &pr, &full);
		assert_int_equal(o.nstates, full.nstates);
		assert_true(o.executions < full.executions);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dpor_matches_full_search),
	    cmocka_unit_test(test_dpor_extremes),
	    cmocka_unit_test(test_dpor_finds_lost_update),
	};

	zd_test_seed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
