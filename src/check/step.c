/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the step checks - the cheap invariants the explorer runs after
 * every scheduling point where threads may interleave (issue 7), between
 * the model's own checks at each operation and the full audit at the end of
 * an execution. Only what the last step touched is looked at: every
 * reference operation notes its folio's head pfn in a small log while step
 * checking is on, and the pass reads and empties the log.
 *
 * Each check holds at *every* scheduling point, not only at quiescence: a
 * step may stop a thread half-way through an operation (between a refcount
 * change and its bookkeeping), so the pass checks nothing that an operation
 * in flight may leave half-done. The one exception waits for quiescence:
 * free callbacks equal free transitions (mid-free they may trail by one).
 *
 * Step checking is for a world whose threads run one at a time (the
 * explorer's model threads): the log is not synchronised.
 */
#include <errno.h>
#include <stdlib.h>

#include "pgmap/pgmap.h"

int zd_check_step_enable(struct zd_world *w, bool on)
{
	if (!on) {
		free(w->step);
		w->step = NULL;
		return 0;
	}
	if (w->step)
		return 0;
	w->step = calloc(1, sizeof(*w->step));
	return w->step ? 0 : -ENOMEM;
}

void zd__step_note(struct zd_step_log *log, unsigned long pfn)
{
	unsigned int i;

	for (i = 0; i < log->nr; i++)
		if (log->pfn[i] == pfn)
			return;
	if (log->nr == ZD_STEP_LOG)
		log->overflow = true;
	else
		log->pfn[log->nr++] = pfn;
}

struct zd_step_pass {
	struct zd_world *w;
	int found;
};

static void zd_step_report_folio(struct zd_step_pass *p, struct zd_folio *folio,
				 struct zd_memmap_range *r)
{
	struct zd_world *w = p->w;
	struct zd_dev_pagemap *pgmap;
	const struct zd_type_policy *tp;
	int rc = zd_folio_ref_count(folio);

	if (rc < 0) {
		zd_report(w, ZD_INV_REFCOUNT_UNDERFLOW, folio->pfn, "refcount %d after a step", rc);
		p->found++;
	}
	if (!zd_folio_is_zone_device(folio)) {
		/* A RAM page marked free in the allocator holds no reference. */
		if (rc > 0 && zd_folio_test_flag(folio, ZD_PG_buddy)) {
			zd_report(w, ZD_INV_GET_ON_ZERO, folio->pfn,
				  "a page free in the RAM allocator has refcount %d after a step", rc);
			p->found++;
		}
		return;
	}
	pgmap = ZD_READ_ONCE(folio->pgmap);
	if (!pgmap)
		return;
	if (r->unplugged || zd_pgmap_state(pgmap) == ZD_PGMAP_DEAD) {
		zd_report(w, ZD_INV_USE_AFTER_UNPLUG, folio->pfn,
			  "a step touched a struct page of pgmap %s after memunmap_pages", pgmap->name);
		p->found++;
		return;
	}
	/* A reference on a page its driver holds as free: a get on a zero count, seen after. */
	tp = zd_policy_type(w->policy, pgmap->type);
	if (zd_folio_test_flag(folio, ZD_PG_devfree) && rc != tp->free_refcount) {
		zd_report(w, ZD_INV_FREE_PAGE_REFERENCED, folio->pfn,
			  "a page its driver holds as free has refcount %d after a step (free is %d)",
			  rc, tp->free_refcount);
		p->found++;
	}
}

static void zd_step_check_pfn(struct zd_step_pass *p, unsigned long pfn)
{
	struct zd_memmap_range *r = zd_memmap_lookup(p->w, pfn);

	if (r)
		zd_step_report_folio(p, zd_memmap_folio(r, pfn), r);
}

/* The log overflowed: every folio of every memmap (in-use RAM and all device pages). */
static void zd_step_check_all(struct zd_step_pass *p)
{
	struct zd_world *w = p->w;
	unsigned long pfn, end;
	struct zd_rangetab_array *arr = zd_rcu_dereference(w->mem->memmaps.arr);
	size_t i;

	for (i = 0; arr && i < arr->nr; i++) {
		struct zd_memmap_range *r = arr->e[i].value;

		end = r->start_pfn + r->nr_pages;
		for (pfn = r->start_pfn; pfn < end;) {
			struct zd_folio *folio = zd_memmap_folio(r, pfn);

			if (folio->pfn == pfn)
				zd_step_report_folio(p, folio, r);
			pfn = folio->pfn + zd_folio_nr_pages(folio);
			if (pfn <= folio->pfn)
				pfn = folio->pfn + 1;
		}
	}
}

int zd_check_step(struct zd_world *w, bool quiescent)
{
	struct zd_step_log *log = w->step;
	struct zd_step_pass p = {.w = w};
	unsigned int i;

	if (!log)
		return 0;
	zd_sync_quiet_begin();
	log->passes++;
	if (log->overflow)
		zd_step_check_all(&p);
	else
		for (i = 0; i < log->nr; i++)
			zd_step_check_pfn(&p, log->pfn[i]);
	log->nr = 0;
	log->overflow = false;
	/* Free callbacks never outrun free transitions; at rest they are equal. */
	if (log->free_calls > log->free_events ||
	    (quiescent && log->free_calls != log->free_events)) {
		zd_report(w, ZD_INV_FREE_TRANSITION, ZD_PFN_NONE,
			  "%lu free callbacks for %lu free transitions", log->free_calls,
			  log->free_events);
		p.found++;
		log->free_calls = log->free_events = 0; /* report a mismatch once */
	}
	zd_sync_quiet_end();
	return p.found;
}

unsigned long zd_check_step_passes(const struct zd_world *w)
{
	return w->step ? w->step->passes : 0;
}
