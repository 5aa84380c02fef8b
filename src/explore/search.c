/* SPDX-License-Identifier: MIT */
/*
 * zonedev explore: the search strategies. Depth-first search over choice
 * points is stateless: each execution re-runs from the start, replays the
 * choices of the previous one up to the node being varied (nr_forced), and
 * records the nodes it meets after that. Preemption bounding counts a choice
 * of another thread while the running one could go on; bounded mode runs the
 * search with bound 0, then 1, ... so that the first failure found has the
 * fewest preemptions possible.
 *
 * State hashing (zd_xsearch_note_state) adds a little state to the stateless
 * search: the states met at choice points, each with how far the search
 * explored below it. An execution that meets a state explored at least as
 * far is cut short there: its remaining nodes count as fully tried, as an
 * asleep execution's do, so it runs to its end with default choices and
 * leaves nothing to backtrack to. This is sound because the search is a DFS
 * and the states never repeat along one execution (the caller's keys count
 * each thread's progress): by the time another execution reaches a state,
 * everything below its first visit was explored. "At least as far":
 *
 *  - BOUNDED: below a state met with r preemptions still allowed (the
 *    round's bound minus those used), every continuation with at most r
 *    preemptions was run. A later visit with r' <= r needs nothing more, in
 *    this round or a later one (round k reaching a state with p preemptions
 *    is covered by round k - 1 having reached it with p - 1). The running
 *    thread matters: leaving it costs a preemption, leaving another does not,
 *    so a visit with another running thread needs one preemption to spare.
 *  - EXHAUSTIVE: below a state met with sleep set Z, every order was run
 *    except those that start with a thread of Z. A later visit with sleep
 *    set Z' covers nothing more only when Z is a subset of Z'.
 *  - RANDOM, PCT, REPLAY: states are counted, nothing is cut.
 *
 * A state met in an execution already cut short (or asleep) is not recorded:
 * nothing below it was explored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explore/explore.h"

void zd_xsearch_init(struct zd_xsearch *s, enum zd_xmode mode, unsigned int bound, uint64_t seed,
		     uint64_t runs)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->bound = bound;
	s->round = mode == ZD_XMODE_BOUNDED ? 0 : bound;
	s->seed = seed;
	s->runs = runs ? runs : 1;
	s->pct_depth = bound + 1;
	if (s->pct_depth > 4)
		s->pct_depth = 4;
}

void zd_xsearch_free(struct zd_xsearch *s)
{
	free(s->nodes);
	free(s->forced);
	free(s->visited);
	free(s->events);
	s->events = NULL;
	s->nodes = NULL;
	s->forced = NULL;
	s->visited = NULL;
	s->cap_visited = s->nr_visited = 0;
}

int zd_xsearch_init_replay(struct zd_xsearch *s, const char *sched)
{
	int ret;

	zd_xsearch_init(s, ZD_XMODE_REPLAY, 0, 0, 1);
	ret = zd_schedule_parse(sched, &s->forced, &s->nr_replay);
	return ret;
}

/* splitmix64: a small, good, seedable generator (random and PCT modes). */
static uint64_t zd_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The depth-first modes: they replay the previous execution's prefix and backtrack. */
static bool zd_xsearch_dfs(const struct zd_xsearch *s)
{
	return s->mode == ZD_XMODE_BOUNDED || s->mode == ZD_XMODE_EXHAUSTIVE ||
	       s->mode == ZD_XMODE_DPOR;
}

void zd_xsearch_begin(struct zd_xsearch *s)
{
	unsigned int i;
	size_t horizon;

	s->executions++;
	s->diverged = false;
	s->nr_events = 0;
	if (!zd_xsearch_dfs(s)) {
		horizon = s->nr_nodes > 8 ? s->nr_nodes : 64;
		s->nr_nodes = 0;
		s->rng = s->seed * 0x2545f4914f6cdd1dull + s->executions;
		/* PCT: distinct random priorities above the change points' */
		for (i = 0; i < ZD_EXPLORE_MAX_THREADS; i++)
			s->prio[i] = 16 + (uint32_t)(zd_rng_next(&s->rng) % 1000000);
		for (i = 0; i + 1 < s->pct_depth && i < 4; i++)
			s->change[i] = (size_t)(zd_rng_next(&s->rng) % horizon);
		return;
	}
	s->nr_nodes = s->nr_forced;
	s->asleep = false;
	s->cut = false;
	s->state_key = 0;
}

void zd_xsearch_note_state(struct zd_xsearch *s, uint64_t key)
{
	s->state_key = key ? key : 1;
}

/* The slot of @key in the visited table (free when it is not there). */
static struct zd_xstate *zd_xstate_slot(struct zd_xstate *tab, size_t cap, uint64_t key)
{
	size_t i = (size_t)(key ^ (key >> 29)) & (cap - 1);

	while (tab[i].key && tab[i].key != key)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/* Find or add @key; NULL when out of memory. *fresh: it was added. */
static struct zd_xstate *zd_xstate_get(struct zd_xsearch *s, uint64_t key, bool *fresh)
{
	struct zd_xstate *e;

	if ((s->nr_visited + 1) * 2 > s->cap_visited) {
		size_t cap = s->cap_visited ? s->cap_visited * 2 : 1024, i;
		struct zd_xstate *n = calloc(cap, sizeof(*n));

		if (!n)
			return NULL;
		for (i = 0; i < s->cap_visited; i++)
			if (s->visited[i].key)
				*zd_xstate_slot(n, cap, s->visited[i].key) = s->visited[i];
		free(s->visited);
		s->visited = n;
		s->cap_visited = cap;
	}
	e = zd_xstate_slot(s->visited, s->cap_visited, key);
	*fresh = !e->key;
	if (*fresh) {
		e->key = key;
		s->nr_visited++;
	}
	return e;
}

/*
 * The state of new node @nd (@p its point) has key @key: record it, and say
 * whether it was explored before at least as far as it would be from here
 * (see the top of the file). @nd's sleep set and preemptions are set.
 */
static bool zd_xstate_visit(struct zd_xsearch *s, const struct zd_xnode *nd,
			    const struct zd_explore_point *p, uint64_t key)
{
	int rem = (int)s->round - (int)nd->preempts;
	struct zd_xstate *e;
	bool fresh;

	if (s->asleep)
		return false; /* nothing below is explored: neither cut nor recorded */
	e = zd_xstate_get(s, key, &fresh);
	if (!e)
		return false;
	switch (s->mode) {
	case ZD_XMODE_BOUNDED:
		if (!fresh && e->rem >= rem + (e->cur >= 0 && e->cur != p->current))
			return true;
		if (fresh || rem > e->rem || (rem == e->rem && p->current < 0)) {
			e->rem = (int16_t)rem;
			e->cur = (int8_t)p->current;
		}
		return false;
	case ZD_XMODE_EXHAUSTIVE:
		if (!fresh && !(e->sleep & ~nd->sleep))
			return true;
		if (fresh || !(nd->sleep & ~e->sleep))
			e->sleep = nd->sleep; /* a subset of the stored one covers more */
		return false;
	default:
		return false;
	}
}

/*
 * Two next operations commute - running them in either order reaches the
 * same state - when they touch different objects, or both only read the
 * same one. An unknown object (NULL) commutes with nothing. The model is
 * data-race free (every shared access is a sync operation or protected by
 * one), so an operation's object stands for its whole step.
 */
bool zd_xop_independent(int k1, const void *a1, int k2, const void *a2)
{
	if (!a1 || !a2)
		return false;
	if (a1 != a2)
		return true;
	return k1 == ZD_SP_READ && k2 == ZD_SP_READ;
}

/*
 * Sleep sets (Godefroid): a thread asleep at a node is one whose operation
 * was already explored first from an earlier node and commutes with every
 * step taken since; running it here would only reorder an explored run.
 * A child inherits its parent's sleepers and the parent's choices explored
 * before the current one, keeping those that commute with the step taken.
 */
static uint32_t zd_x_sleep_set(const struct zd_xnode *pr)
{
	uint32_t cand = (pr->sleep | pr->tried) & ~(1u << pr->chosen), sl = 0, m;
	int c = pr->chosen;

	for (m = cand; m; m &= m - 1) {
		int u = __builtin_ctz(m);

		if (zd_xop_independent(pr->kind[u], pr->addr[u], pr->kind[c], pr->addr[c]))
			sl |= 1u << u;
	}
	return sl;
}

static int zd_default_choice(const struct zd_explore_point *p)
{
	if (p->current >= 0 && (p->enabled & (1u << p->current)))
		return p->current;
	return __builtin_ctz(p->enabled);
}

static int zd_xsearch_strategy(struct zd_xsearch *s, const struct zd_explore_point *p, int dflt)
{
	uint32_t en = p->enabled, m;
	int best = dflt, i, n, k;

	switch (s->mode) {
	case ZD_XMODE_RANDOM:
		n = __builtin_popcount(en);
		k = (int)(zd_rng_next(&s->rng) % (uint64_t)n);
		for (m = en; k--; m &= m - 1)
			;
		return __builtin_ctz(m);
	case ZD_XMODE_PCT:
		for (i = 0; i + 1 < (int)s->pct_depth && i < 4; i++)
			if (s->change[i] == p->step && p->current >= 0)
				s->prio[p->current] = (uint32_t)i; /* below every initial priority */
		for (m = en, best = -1; m; m &= m - 1) {
			i = __builtin_ctz(m);
			if (best < 0 || s->prio[i] > s->prio[best])
				best = i;
		}
		return best;
	case ZD_XMODE_REPLAY:
		if (p->step < s->nr_replay) {
			k = s->forced[p->step];
			if (k >= 0 && k < ZD_EXPLORE_MAX_THREADS && (en & (1u << k)))
				return k;
			s->diverged = true;
		}
		return dflt;
	default:
		return dflt;
	}
}

int zd_xsearch_pick(void *arg, const struct zd_explore_point *p)
{
	struct zd_xsearch *s = arg;
	struct zd_xnode *nd;
	int dflt = zd_default_choice(p), chosen;
	size_t i = p->step;
	uint64_t key = s->state_key;

	s->state_key = 0;

	if (zd_xsearch_dfs(s) && i < s->nr_forced) {
		nd = &s->nodes[i];
		if (nd->enabled != p->enabled || !(p->enabled & (1u << nd->chosen))) {
			/* the model is not deterministic here: follow the new state */
			s->diverged = true;
			nd->enabled = p->enabled;
			nd->current = (int8_t)p->current;
			nd->dflt = (int8_t)dflt;
			nd->chosen = (int8_t)dflt;
			nd->tried |= 1u << dflt;
			nd->backtrack |= 1u << dflt;
		}
		if (s->mode == ZD_XMODE_DPOR)
			zd_xdpor_event(s, nd->chosen, p->pend_kind[nd->chosen],
				       p->pend_addr[nd->chosen], (long)i);
		return nd->chosen;
	}
	chosen = zd_xsearch_strategy(s, p, dflt);
	if (i >= s->cap_nodes) {
		size_t cap = s->cap_nodes ? s->cap_nodes * 2 : 256;
		struct zd_xnode *n;

		while (cap <= i)
			cap *= 2;
		n = realloc(s->nodes, cap * sizeof(*n));
		if (!n) {
			s->oom = true;
			return chosen;
		}
		s->nodes = n;
		s->cap_nodes = cap;
	}
	nd = &s->nodes[i];
	nd->enabled = p->enabled;
	nd->current = (int8_t)p->current;
	nd->sleep = 0;
	if (s->mode == ZD_XMODE_EXHAUSTIVE) {
		int t;

		for (t = 0; t < ZD_EXPLORE_MAX_THREADS; t++) {
			nd->kind[t] = (int8_t)p->pend_kind[t];
			nd->addr[t] = (p->enabled & (1u << t)) ? p->pend_addr[t] : NULL;
		}
		nd->sleep = i ? zd_x_sleep_set(&s->nodes[i - 1]) & p->enabled : 0;
		if (!(p->enabled & ~nd->sleep))
			s->asleep = true; /* every order from here was explored */
		else if (nd->sleep & (1u << chosen))
			chosen = __builtin_ctz(p->enabled & ~nd->sleep);
	}
	nd->preempts = (uint16_t)(i ? s->nodes[i - 1].preempts +
					  (s->nodes[i - 1].current >= 0 &&
					   s->nodes[i - 1].chosen != s->nodes[i - 1].current)
				    : 0);
	if (key && zd_xstate_visit(s, nd, p, key)) {
		/* explored before: the rest of this execution is redundant */
		s->asleep = true;
		s->cut = true;
		chosen = dflt;
	}
	nd->chosen = (int8_t)chosen;
	nd->dflt = (int8_t)dflt;
	/* A redundant execution runs to its end but leaves nothing to backtrack to. */
	nd->tried = s->asleep ? p->enabled : 1u << chosen;
	nd->backtrack = 1u << chosen;
	s->nr_nodes = i + 1;
	if (s->mode == ZD_XMODE_DPOR)
		zd_xdpor_event(s, chosen, p->pend_kind[chosen], p->pend_addr[chosen], (long)i);
	return chosen;
}

unsigned int zd_xsearch_preemptions(const struct zd_xsearch *s)
{
	const struct zd_xnode *nd;

	if (!s->nr_nodes)
		return 0;
	nd = &s->nodes[s->nr_nodes - 1];
	return nd->preempts + (nd->current >= 0 && nd->chosen != nd->current);
}

/* DFS: vary the deepest node that has an untried choice within the bound. */
static bool zd_xsearch_backtrack(struct zd_xsearch *s)
{
	size_t i = s->nr_nodes;

	while (i-- > 0) {
		struct zd_xnode *nd = &s->nodes[i];
		uint32_t cand = nd->enabled & ~nd->tried & ~nd->sleep;

		if (s->mode == ZD_XMODE_DPOR)
			cand &= nd->backtrack; /* only the orders a race asked for */

		while (cand) {
			int t = __builtin_ctz(cand);
			unsigned int cost = nd->preempts + (nd->current >= 0 && t != nd->current);

			cand &= cand - 1;
			if (s->mode == ZD_XMODE_BOUNDED && cost > s->round)
				continue;
			nd->tried |= 1u << t;
			nd->chosen = (int8_t)t;
			s->nr_forced = i + 1;
			return true;
		}
	}
	return false;
}

bool zd_xsearch_next(struct zd_xsearch *s)
{
	switch (s->mode) {
	case ZD_XMODE_REPLAY:
		return false;
	case ZD_XMODE_RANDOM:
	case ZD_XMODE_PCT:
		return s->executions < s->runs;
	case ZD_XMODE_EXHAUSTIVE:
		if (s->cut)
			s->pruned++;
		else if (s->asleep)
			s->redundant++;
		return zd_xsearch_backtrack(s);
	case ZD_XMODE_DPOR:
		zd_xdpor_analyse(s);
		return zd_xsearch_backtrack(s);
	case ZD_XMODE_BOUNDED:
		if (s->cut)
			s->pruned++;
		if (zd_xsearch_backtrack(s))
			return true;
		if (s->round >= s->bound)
			return false;
		s->round++;
		s->nr_forced = 0; /* a new round: from the root */
		return true;
	}
	return false;
}

int zd_xsearch_choices(const struct zd_xsearch *s, int8_t **out, size_t *nr)
{
	size_t n = s->nr_nodes, i;
	int8_t *c;

	while (n && s->nodes[n - 1].chosen == s->nodes[n - 1].dflt)
		n--;
	c = malloc(n ? n : 1);
	if (!c)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		c[i] = s->nodes[i].chosen;
	*out = c;
	*nr = n;
	return 0;
}

size_t zd_xsearch_schedule(const struct zd_xsearch *s, char *buf, size_t n)
{
	int8_t *c;
	size_t nr, len;

	if (zd_xsearch_choices(s, &c, &nr)) {
		if (n)
			buf[0] = '\0';
		return 0;
	}
	len = zd_schedule_format(c, nr, buf, n);
	free(c);
	return len;
}

bool zd_xshrink_candidate(const struct zd_xsearch *s, size_t k, int8_t **out, size_t *nr)
{
	size_t i, seen = 0, n;
	int8_t *c;

	for (i = s->nr_nodes; i-- > 0;) {
		if (s->nodes[i].chosen == s->nodes[i].dflt)
			continue;
		if (seen++ != k)
			continue;
		if (zd_xsearch_choices(s, &c, &n))
			return false;
		c[i] = s->nodes[i].dflt;
		*out = c;
		*nr = n;
		return true;
	}
	return false;
}
