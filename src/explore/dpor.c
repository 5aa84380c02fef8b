/* SPDX-License-Identifier: MIT */
/*
 * zonedev explore: dynamic partial-order reduction (Flanagan and Godefroid,
 * POPL 2005) for the DPOR mode, on the exhaustive DFS without its sleep
 * sets (with them a sleeping thread is not run where a race asks for it,
 * and the run it would have made is the one that reveals the next race:
 * tests/unit/test_explore_dpor.c found an order so lost). An execution records every operation it runs (the chosen thread's
 * next operation at each choice point, and the operations run where only
 * one thread could go on, which the explorer's note hook reports). After the
 * execution, each operation is checked for a race with an earlier operation
 * of another thread: the two are dependent (same object, not both reads; an
 * unknown object depends on everything) and the earlier one does not happen
 * before the later one through a chain of dependent operations. For the
 * latest such earlier operation, the later operation's thread is added to
 * the backtrack set of the choice point just before the earlier one (or, if
 * that thread could not run there, every thread that could): the search
 * then tries that order too. Choice points where no race asks for another
 * order are not branched at all.
 *
 * Happens-before is tracked with vector clocks over event indices: a
 * thread's clock says, for every thread, the last of its operations known
 * to come before the thread's current point.
 */
#include <stdlib.h>
#include <string.h>

#include "explore/explore.h"

void zd_xdpor_event(struct zd_xsearch *s, int tid, int kind, const void *addr, long node)
{
	struct zd_xevent *e;

	if (s->nr_events == s->cap_events) {
		size_t cap = s->cap_events ? s->cap_events * 2 : 1024;
		struct zd_xevent *n = realloc(s->events, cap * sizeof(*n));

		if (!n) {
			s->oom = true;
			return;
		}
		s->events = n;
		s->cap_events = cap;
	}
	e = &s->events[s->nr_events++];
	e->addr = addr;
	e->node = (int32_t)node;
	e->tid = (int8_t)tid;
	e->kind = (int8_t)kind;
}

void zd_xsearch_note(void *arg, int tid, int kind, const void *addr)
{
	struct zd_xsearch *s = arg;

	if (s->mode == ZD_XMODE_DPOR)
		zd_xdpor_event(s, tid, kind, addr, -1);
}

/* The last operations of each thread on one object (event index + 1, 0: none). */
struct zd_xobj {
	const void *addr;
	uint32_t last_read[ZD_EXPLORE_MAX_THREADS];
	uint32_t last_write[ZD_EXPLORE_MAX_THREADS];
};

struct zd_xdpor {
	struct zd_xobj *objs;
	size_t cap; /* a power of two */
	int nt;	    /* threads (highest id + 1) */
	uint32_t vc[ZD_EXPLORE_MAX_THREADS][ZD_EXPLORE_MAX_THREADS];
	uint32_t *ec; /* per event: its thread's clock after it (nt words each) */
	uint32_t last_any[ZD_EXPLORE_MAX_THREADS];
	uint32_t last_unknown[ZD_EXPLORE_MAX_THREADS];
};

static struct zd_xobj *zd_xdpor_obj(struct zd_xdpor *d, const void *addr)
{
	size_t i = (size_t)(((uintptr_t)addr >> 3) * 0x9e3779b97f4a7c15ull >> 20) & (d->cap - 1);

	while (d->objs[i].addr && d->objs[i].addr != addr)
		i = (i + 1) & (d->cap - 1);
	d->objs[i].addr = addr;
	return &d->objs[i];
}

/* Ask node @n to try thread @t too (or everyone who could run there). */
static void zd_xdpor_backtrack(struct zd_xsearch *s, int32_t n, int t)
{
	struct zd_xnode *nd;

	if (n < 0 || (size_t)n >= s->nr_nodes)
		return; /* no choice was made there: no other order to try */
	nd = &s->nodes[n];
	if (nd->enabled & (1u << t))
		nd->backtrack |= 1u << t;
	else
		nd->backtrack |= nd->enabled;
}

/*
 * The latest operation of thread @q dependent with event (@kind, @addr), as
 * index + 1 (0: none).
 */
static uint32_t zd_xdpor_dep(struct zd_xdpor *d, struct zd_xobj *o, int q, int kind,
			     const void *addr)
{
	uint32_t j = d->last_unknown[q];

	if (!addr)
		return d->last_any[q];
	if (o->last_write[q] > j)
		j = o->last_write[q];
	if (kind != ZD_SP_READ && o->last_read[q] > j)
		j = o->last_read[q];
	return j;
}

/*
 * As Flanagan and Godefroid do at every state of the execution: for every
 * thread and its next (pending) operation, the latest earlier operation of
 * another thread that is dependent with it and does not happen before the
 * thread's current point is a race, and the thread is tried at the choice
 * point before that operation. A thread's operation is pending from just
 * after its previous one until it runs: the race at the start of that
 * window comes from the tables (the latest dependent operation of each
 * thread), and each operation inside the window is the latest one at the
 * state right after it, so each is checked as it runs.
 */
void zd_xdpor_analyse(struct zd_xsearch *s)
{
	struct zd_xdpor d;
	size_t i, n = s->nr_events;
	long *next = NULL, nxt[ZD_EXPLORE_MAX_THREADS];
	int q, k;

	memset(&d, 0, sizeof(d));
	for (i = 0; i < n; i++)
		if (s->events[i].tid + 1 > d.nt)
			d.nt = s->events[i].tid + 1;
	for (d.cap = 64; d.cap < 2 * n; d.cap *= 2)
		;
	d.objs = calloc(d.cap, sizeof(*d.objs));
	d.ec = malloc((n ? n : 1) * (size_t)d.nt * sizeof(uint32_t));
	next = malloc((n ? n : 1) * sizeof(*next));
	if (s->oom || !d.objs || !d.ec || !next) {
		/*
		 * No analysis (out of memory now, or events were lost): try every
		 * order at every node, as a search without reduction.
		 */
		for (i = 0; i < s->nr_nodes; i++)
			s->nodes[i].backtrack = s->nodes[i].enabled;
		goto out;
	}
	/* each event's successor in its thread; nxt[t]: t's pending event */
	for (q = 0; q < ZD_EXPLORE_MAX_THREADS; q++)
		nxt[q] = -1;
	for (i = n; i-- > 0;) {
		next[i] = nxt[s->events[i].tid];
		nxt[s->events[i].tid] = (long)i;
	}
	for (i = 0; i < n; i++) {
		const struct zd_xevent *e = &s->events[i];
		struct zd_xobj *o = e->addr ? zd_xdpor_obj(&d, e->addr) : NULL;
		uint32_t *mine = d.vc[e->tid];
		int p = e->tid;

		/* every dependent operation comes before this one now */
		for (q = 0; q < d.nt; q++) {
			uint32_t j = q == p ? 0 : zd_xdpor_dep(&d, o, q, e->kind, e->addr);

			for (k = 0; j && k < d.nt; k++)
				if (d.ec[(size_t)(j - 1) * d.nt + k] > mine[k])
					mine[k] = d.ec[(size_t)(j - 1) * d.nt + k];
		}
		mine[p] = (uint32_t)i + 1;
		memcpy(&d.ec[i * d.nt], mine, (size_t)d.nt * sizeof(uint32_t));
		d.last_any[p] = (uint32_t)i + 1;
		if (!o)
			d.last_unknown[p] = (uint32_t)i + 1;
		else if (e->kind == ZD_SP_READ)
			o->last_read[p] = (uint32_t)i + 1;
		else
			o->last_write[p] = (uint32_t)i + 1;
		nxt[p] = next[i];
		/* inside the windows of the others: this operation against their pending ones */
		for (q = 0; q < d.nt; q++) {
			const struct zd_xevent *w;

			if (q == p || nxt[q] < 0)
				continue;
			w = &s->events[nxt[q]];
			if (!zd_xop_independent(e->kind, e->addr, w->kind, w->addr) &&
			    d.vc[q][p] <= i)
				zd_xdpor_backtrack(s, e->node, q);
		}
		/* p's next operation is pending from here: the latest race before its window */
		if (nxt[p] >= 0) {
			const struct zd_xevent *w = &s->events[nxt[p]];
			struct zd_xobj *wo = w->addr ? zd_xdpor_obj(&d, w->addr) : NULL;
			uint32_t race = 0;

			for (q = 0; q < d.nt; q++) {
				uint32_t j = q == p ? 0 : zd_xdpor_dep(&d, wo, q, w->kind, w->addr);

				if (j > mine[q] && j > race)
					race = j;
			}
			if (race)
				zd_xdpor_backtrack(s, s->events[race - 1].node, p);
		}
	}
out:
	free(next);
	free(d.objs);
	free(d.ec);
}
