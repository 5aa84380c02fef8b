/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: the low half of src/check/ that every layer calls:
 * violation reports, trace recording and the holder ledger. The audit walk
 * (audit.c) sits above the page and pgmap layers.
 */
#ifndef ZONEDEV_SRC_CHECK_H
#define ZONEDEV_SRC_CHECK_H

#include <stdio.h>
#include "zonedev/check.h"
#include "zonedev/page.h"
#include "zonedev/memremap.h"
#include "world.h"
#include "sync/sync.h"

/* Trace event types. The page_ref ones use the kernel tracepoint names. */
enum zd_trace_type {
	ZD_TR_PAGE_REF_SET = 0,	       /* page_ref_set */
	ZD_TR_PAGE_REF_MOD,	       /* page_ref_mod */
	ZD_TR_PAGE_REF_MOD_AND_TEST,   /* page_ref_mod_and_test */
	ZD_TR_PAGE_REF_MOD_AND_RETURN, /* page_ref_mod_and_return */
	ZD_TR_PAGE_REF_MOD_UNLESS,     /* page_ref_mod_unless */
	ZD_TR_PAGE_REF_FREEZE,	       /* page_ref_freeze */
	ZD_TR_PAGE_REF_UNFREEZE,       /* page_ref_unfreeze */
	ZD_TR_PGMAP_REF,	       /* pgmap percpu_ref get/put (ours) */
	ZD_TR_EVENT,		       /* a named lifecycle event: folio_free, memremap_pages ... */
	ZD_TR_MARK,		       /* a marker from the runner (the statement being run) */
	ZD_TR_VIOLATION,	       /* a reported violation */
	ZD_NR_TRACE_TYPES,
};

/*
 * One recorded event. Strings are copied into the event. `count` is the
 * value after the operation (refcount, or pgmap refs for PGMAP_REF); `val`
 * the delta (page_ref_mod's val) or, for *_and_test/_unless, as the kernel
 * prints `ret`.
 */
struct zd_trace_event {
	uint64_t seq;
	enum zd_trace_type type;
	unsigned int thread; /* index into the thread-name table */
	unsigned long pfn;   /* ZD_PFN_NONE if none */
	unsigned long flags; /* page flags at the time */
	int count;
	int mapcount;
	int val;
	int ret;
	void *mapping;
	struct zd_holder holder;
	int pgref_kind; /* PGMAP_REF: enum zd_pgmap_ref_kind */
	char *name;	/* EVENT/MARK/VIOLATION: event name or ID */
	char *text;	/* EVENT/MARK/VIOLATION: detail */
	char *object;	/* pgmap / device name when known */
};

struct zd_ledger;

struct zd_check {
	zd_spinlock_t lock; /* protects everything below */
	bool trace_on;
	FILE *trace_text;
	struct zd_trace_event *events;
	size_t nr_events, cap_events;
	uint64_t seq;
	char **thread_names;
	size_t nr_threads;
	unsigned int cur_thread;
	struct zd_violation *violations;
	size_t nr_violations, cap_violations;
	unsigned long reported_mask; /* bit per enum zd_invariant ever reported */
	struct zd_ledger *ledger;
	zd_holder_namer_t namer;
	void *namer_arg;
	struct zd_audit_hook *hooks;
	size_t nr_hooks;
};

int zd_check_init(struct zd_world *w);
void zd_check_exit(struct zd_world *w);

static inline bool zd_tracing(const struct zd_world *w)
{
	return w->check->trace_on || w->check->trace_text;
}

/* Record a page_ref event for `folio` (reads its flags, count, mapcount, mapping now). */
void zd_trace_page_ref(struct zd_world *w, enum zd_trace_type type, const struct zd_folio *folio,
		       int val, int ret, struct zd_holder h);
/* Record a pgmap reference change of `delta` by holder kind `kind`; count after. */
void zd_trace_pgmap_ref(struct zd_world *w, const struct zd_dev_pagemap *pgmap,
			enum zd_pgmap_ref_kind kind, long delta, long count);
/* A named event ("folio_free", "memremap_pages", "memunmap_pages: kill", "wake_up_var"...). */
void zd_trace_event(struct zd_world *w, unsigned long pfn, const char *object, const char *name,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Step checks (step.c): note a folio a reference operation touched. */
void zd__step_note(struct zd_step_log *log, unsigned long pfn);
static inline void zd_step_note(struct zd_world *w, unsigned long pfn)
{
	if (__builtin_expect(w->step != NULL, 0))
		zd__step_note(w->step, pfn);
}

/* Holder ledger (no-ops unless w->track_holders). Keyed by the folio's head pfn. */
void zd_ledger_mod(struct zd_world *w, unsigned long pfn, struct zd_holder h, long delta);
long zd_ledger_get(struct zd_world *w, unsigned long pfn, struct zd_holder h);
/* Sum over all holders of pfn. */
long zd_ledger_total(struct zd_world *w, unsigned long pfn);
/* Call fn for every (pfn, holder, count) entry with a non-zero count. */
void zd_ledger_for_each(struct zd_world *w,
			void (*fn)(void *arg, unsigned long pfn, struct zd_holder h, long count),
			void *arg);
/* Forget every entry with pfn in [start, end) (memory unplugged). */
void zd_ledger_forget(struct zd_world *w, unsigned long start, unsigned long end);
/* "handle:h1" etc. */
void zd_holder_name(struct zd_world *w, struct zd_holder h, char *buf, size_t n);

/* Internal plumbing of src/check/. */
struct zd_ledger *zd_ledger_create(void);
void zd_ledger_destroy(struct zd_ledger *l);
/* Trace a reported violation; returns its seq (or the next seq when not tracing). */
uint64_t zd_trace_violation(struct zd_world *w, enum zd_invariant inv, unsigned long pfn,
			    const char *message);
/* "locked|reserved|zone_device"; returns the length needed, as snprintf. */
size_t zd_check_format_page_flags(unsigned long flags, char *buf, size_t n);

/* Audit hooks registered by higher layers (stored in struct zd_check). */
struct zd_audit_hook {
	zd_audit_fn fn;
	void *arg;
};

#endif
