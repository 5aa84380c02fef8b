/* SPDX-License-Identifier: MIT */
/*
 * zonedev explore: search strategies over the schedules of model threads
 * (src/sync/explore.h runs them). A search decides the choice at every
 * scheduling point of one execution (zd_xsearch_pick), then says whether
 * there is another execution to run (zd_xsearch_next).
 *
 * A schedule is the list of threads chosen at the choice points of one
 * execution (points where two or more threads could run). It is written as
 * one line of run-length items joined by dots, `T` or `TxN` (thread T, N
 * times), ending at the last choice that differs from the default (the
 * running thread goes on; when it cannot, the lowest runnable thread runs):
 * "0x12.1.0x3" = thread 0 at the first 12 choices, thread 1 at the 13th,
 * thread 0 at the next 3, then the default.
 */
#ifndef ZONEDEV_SRC_EXPLORE_H
#define ZONEDEV_SRC_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/explore.h"

enum zd_xmode {
	ZD_XMODE_BOUNDED,    /* preemption-bounded DFS, bounds 0, 1, ... N in turn */
	ZD_XMODE_EXHAUSTIVE, /* DFS without a bound, with sleep sets (partial-order reduction) */
	ZD_XMODE_RANDOM,     /* uniformly random choices, runs executions */
	ZD_XMODE_PCT,	     /* probabilistic concurrency testing (priorities, change points) */
	ZD_XMODE_REPLAY,     /* one execution of a given schedule */
	ZD_XMODE_DPOR,	     /* EXHAUSTIVE with dynamic partial-order reduction (dpor.c) */
};

/* One choice point as an execution met it. */
struct zd_xnode {
	uint32_t enabled;
	uint32_t tried;	     /* DFS: choices explored (or being explored) here */
	int8_t current;	     /* -1: the running thread could not go on */
	int8_t chosen;
	int8_t dflt;	     /* the default choice */
	uint16_t preempts;   /* preemptions before this node */
	/*
	 * EXHAUSTIVE: the sleep set (threads whose next operation need not be
	 * tried here: an order through it was already explored) and every
	 * thread's next operation at this node.
	 */
	uint32_t sleep;
	uint32_t backtrack; /* DPOR: the threads that must be tried here */
	int8_t kind[ZD_EXPLORE_MAX_THREADS];
	const void *addr[ZD_EXPLORE_MAX_THREADS];
};

/*
 * A state met at a choice point (see zd_xsearch_note_state): its key and
 * how far below it the search has explored. BOUNDED: @rem preemptions were
 * still allowed there, with @cur the running thread (-1: none could go on);
 * EXHAUSTIVE: @sleep was the node's sleep set.
 */
struct zd_xstate {
	uint64_t key; /* 0: free slot */
	uint32_t sleep;
	int16_t rem;
	int8_t cur;
};

/* DPOR: one operation of an execution (choice or not), in the order they ran. */
struct zd_xevent {
	const void *addr;
	int32_t node; /* the choice node it was chosen at, -1 when no choice was made */
	int8_t tid;
	int8_t kind;
};

struct zd_xsearch {
	enum zd_xmode mode;
	unsigned int bound;	 /* BOUNDED: the final bound; the current one is `round` */
	unsigned int round;
	uint64_t seed;
	uint64_t runs;		 /* RANDOM / PCT: executions to run */
	uint64_t executions;	 /* started so far */
	struct zd_xnode *nodes;	 /* this execution's choice points */
	size_t nr_nodes, cap_nodes;
	size_t nr_forced;	 /* nodes[0 .. nr_forced) replay the previous execution */
	int8_t *forced;		 /* REPLAY: the choices to make */
	size_t nr_replay;
	uint64_t rng;
	bool diverged;		 /* a forced choice was not runnable (nondeterminism) */
	bool asleep;		 /* EXHAUSTIVE: this execution only repeats explored orders */
	uint64_t redundant;	 /* executions cut short that way */
	bool oom; /* a node or an event could not be recorded (DPOR then reduces nothing) */
	/* DPOR: this execution's operations */
	struct zd_xevent *events;
	size_t nr_events, cap_events;
	/* State hashing: states met at choice points (see zd_xsearch_note_state) */
	struct zd_xstate *visited; /* open addressing, power-of-two size */
	size_t cap_visited, nr_visited;
	uint64_t state_key;	   /* the state at the coming choice point, 0: unknown */
	bool cut;		   /* this execution met a state explored before */
	uint64_t pruned;	   /* executions cut short that way */
	/* PCT */
	unsigned int pct_depth;
	uint32_t prio[ZD_EXPLORE_MAX_THREADS];
	size_t change[4];
};

void zd_xsearch_init(struct zd_xsearch *s, enum zd_xmode mode, unsigned int bound, uint64_t seed,
		     uint64_t runs);
void zd_xsearch_free(struct zd_xsearch *s);
/* REPLAY of @sched (a schedule string). Returns 0 or -EINVAL. */
int zd_xsearch_init_replay(struct zd_xsearch *s, const char *sched);
/* Before each execution. */
void zd_xsearch_begin(struct zd_xsearch *s);
/* The pick function (zd_explore_pick_fn) of an execution; @arg is the search. */
int zd_xsearch_pick(void *arg, const struct zd_explore_point *p);
/*
 * State hashing: the state the next zd_xsearch_pick() is called in has key
 * @key (never 0; what it covers is the caller's business: it must determine
 * everything the rest of the execution can do). BOUNDED and EXHAUSTIVE
 * modes cut an execution short at a state already explored at least as
 * far (see search.c); every mode counts the states (nr_visited). A pick
 * without a key before it is in an unknown state.
 */
void zd_xsearch_note_state(struct zd_xsearch *s, uint64_t key);
/* After an execution: prepare the next one. False when the search is over. */
bool zd_xsearch_next(struct zd_xsearch *s);
/*
 * DPOR: an operation that ran where no choice was made (one runnable thread);
 * the explorer's note hook. Ignored by the other modes.
 */
void zd_xsearch_note(void *arg, int tid, int kind, const void *addr);
/*
 * Two next operations commute when they touch different objects or both only
 * read one; an unknown object (NULL) commutes with nothing. The sleep sets
 * and DPOR judge dependence by this alone.
 */
bool zd_xop_independent(int k1, const void *a1, int k2, const void *a2);
/* DPOR internals (dpor.c): record an event; add the backtrack points of this execution's races. */
void zd_xdpor_event(struct zd_xsearch *s, int tid, int kind, const void *addr, long node);
void zd_xdpor_analyse(struct zd_xsearch *s);

/* Preemptions of the last execution. */
unsigned int zd_xsearch_preemptions(const struct zd_xsearch *s);

/*
 * The last execution's schedule as a string (see above) into @buf. Returns the
 * length it needs (as snprintf).
 */
size_t zd_xsearch_schedule(const struct zd_xsearch *s, char *buf, size_t n);
/* Parse a schedule string into a malloc'ed choice array. 0 or -EINVAL / -ENOMEM. */
int zd_schedule_parse(const char *text, int8_t **choices, size_t *nr);
/* Write @nr choices as a schedule string (trailing defaults already cut by the caller). */
size_t zd_schedule_format(const int8_t *choices, size_t nr, char *buf, size_t n);

/*
 * Shrinking: the candidates derived from a failing execution, one per choice
 * that differs from its default, last first: the same choices with that one
 * made the default. zd_xshrink_candidate() fills @out (malloc'ed, *nr) with
 * candidate @k of the failing execution recorded in @s, or returns false when
 * there is no candidate @k.
 */
bool zd_xshrink_candidate(const struct zd_xsearch *s, size_t k, int8_t **out, size_t *nr);
/* The choices the last execution made, cut after its last non-default one (malloc'ed). */
int zd_xsearch_choices(const struct zd_xsearch *s, int8_t **out, size_t *nr);

#endif
