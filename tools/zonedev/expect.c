/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: expectations and dumps of the scenario language, checked on
 * the runner thread while every task is asleep or done.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

int zd_expect_fail(struct zd_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run->reason, sizeof(run->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *zd_scr_type_of(struct zd_world *w, struct zd_folio *folio)
{
	if (folio == zd_zero_folio(w))
		return "zero";
	switch (zd_folio_memory_type(folio)) {
	case ZD_MEMORY_DEVICE_PRIVATE:
		return "private";
	case ZD_MEMORY_DEVICE_COHERENT:
		return "coherent";
	case ZD_MEMORY_DEVICE_FS_DAX:
		return "fsdax";
	case ZD_MEMORY_DEVICE_GENERIC:
		return "generic";
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		return "p2pdma";
	default:
		return zd_page_test_flag(&folio->page, ZD_PG_zero) ? "zero" : "ram";
	}
}

/* The folio behind a location, and the page itself (for per-page flags). */
static int zd_expect_locate(struct zd_run *run, const struct zd_scr_loc *loc, unsigned long *pfn,
			    struct zd_folio **folio)
{
	if (!loc->is_page) /* P REF: the folio mapped there (expect_vm.c) */
		return zd_expect_vm_locate(run, loc, pfn, folio);
	if (zd_run_page_pfn(run, &loc->page, pfn))
		return -1;
	*folio = zd_pfn_folio(run->w, *pfn);
	if (!*folio)
		return zd_expect_fail(run, "%s+%llup has no struct page", loc->page.device,
				      (unsigned long long)loc->page.index);
	return 0;
}

static int zd_expect_page(struct zd_run *run, const struct zd_st_expect *x)
{
	struct zd_folio *folio;
	struct zd_page *page;
	unsigned long pfn;
	char what[160];
	size_t i;

	if (zd_expect_locate(run, &x->loc, &pfn, &folio))
		return -1;
	page = zd_pfn_to_page(run->w, pfn);
	if (x->loc.is_page)
		snprintf(what, sizeof(what), "page pfn %#lx", pfn);
	else if (x->loc.ref.offset)
		snprintf(what, sizeof(what), "page at %s %s+%#llx (pfn %#lx)", x->loc.process,
			 x->loc.ref.mapping, (unsigned long long)x->loc.ref.offset, pfn);
	else
		snprintf(what, sizeof(what), "page at %s %s (pfn %#lx)", x->loc.process,
			 x->loc.ref.mapping, pfn);
	for (i = 0; i < x->nr_expects; i++) {
		const struct zd_scr_expect *k = &x->expects[i];
		int64_t got;
		char buf[32];

		switch (k->key) {
		case ZD_SCR_KEY_REFCOUNT:
			got = zd_folio_ref_count(folio);
			break;
		case ZD_SCR_KEY_MAPCOUNT:
			got = zd_folio_mapcount(folio);
			break;
		case ZD_SCR_KEY_PINCOUNT:
			got = zd_folio_pincount(folio);
			break;
		case ZD_SCR_KEY_ORDER:
			got = zd_folio_order(folio);
			break;
		case ZD_SCR_KEY_LOCKED:
			got = zd_folio_test_locked(folio);
			break;
		case ZD_SCR_KEY_POISONED:
			got = zd_page_test_flag(page, ZD_PG_hwpoison) ||
			      zd_page_test_flag(&folio->page, ZD_PG_hwpoison);
			break;
		case ZD_SCR_KEY_PAGE_FREE:
			if (zd_folio_is_zone_device(folio))
				got = zd_folio_idle(folio);
			else
				got = zd_page_test_flag(&folio->page, ZD_PG_buddy);
			break;
		case ZD_SCR_KEY_TYPE: {
			const char *want = zd_scr_mem_name((enum zd_scr_mem)k->value);
			const char *have = zd_scr_type_of(run->w, folio);

			if (strcmp(want, have))
				return zd_expect_fail(run, "%s: type is %s, expected %s", what,
						      have, want);
			continue;
		}
		default:
			return zd_expect_fail(run, "'%s' is not a key of expect page", k->name);
		}
		if (got != k->value) {
			snprintf(buf, sizeof(buf), "%lld", (long long)got);
			return zd_expect_fail(run, "%s: %s is %s, expected %lld", what, k->name,
					      buf, (long long)k->value);
		}
	}
	return 0;
}

static int zd_expect_pgmap(struct zd_run *run, const struct zd_st_expect *x)
{
	struct zd_rdevice *d = zd_run_device(run, x->device);
	enum zd_pgmap_state state = ZD_PGMAP_DEAD;
	long refs = 0;
	bool any_dying = false, any_live = false;
	size_t i;
	int p;

	if (!d)
		return zd_expect_fail(run, "%s is not a device", x->device);
	for (p = 0; p < zd_device_nr_pgmaps(d->dev); p++) {
		struct zd_dev_pagemap *pgmap = zd_device_pgmap(d->dev, p);
		enum zd_pgmap_state st = zd_pgmap_state(pgmap);

		if (st == ZD_PGMAP_DYING)
			any_dying = true;
		if (st == ZD_PGMAP_LIVE)
			any_live = true;
		if (st == ZD_PGMAP_LIVE || st == ZD_PGMAP_DYING)
			refs += zd_pgmap_refs(pgmap);
	}
	/* The device is dying from the moment its removal begins until every pgmap is gone. */
	if (any_dying || (any_live && zd_device_nr_pgmaps(d->dev) && state == ZD_PGMAP_DEAD &&
			  zd_pgmap_state(zd_device_pgmap(d->dev, 0)) == ZD_PGMAP_DEAD))
		state = ZD_PGMAP_DYING;
	else if (any_live)
		state = ZD_PGMAP_LIVE;
	for (i = 0; i < x->nr_expects; i++) {
		const struct zd_scr_expect *k = &x->expects[i];

		switch (k->key) {
		case ZD_SCR_KEY_REFS:
			if (refs != k->value)
				return zd_expect_fail(run, "pgmap %s: refs is %ld, expected %lld",
						      x->device, refs, (long long)k->value);
			break;
		case ZD_SCR_KEY_STATE: {
			const char *have = zd_pgmap_state_name(state);
			const char *want =
			    zd_scr_pgmap_state_name((enum zd_scr_pgmap_state)k->value);

			if (strcmp(have, want))
				return zd_expect_fail(run, "pgmap %s: state is %s, expected %s",
						      x->device, have, want);
			break;
		}
		case ZD_SCR_KEY_BUSY: {
			struct zd_device_counters c;
			long busy;

			zd_device_counters(d->dev, &c);
			busy = (long)c.busy;

			if (busy != k->value)
				return zd_expect_fail(run, "pgmap %s: busy is %ld, expected %lld",
						      x->device, busy, (long long)k->value);
			break;
		}
		default:
			return zd_expect_fail(run, "'%s' is not a key of expect pgmap", k->name);
		}
	}
	return 0;
}

static int zd_expect_device(struct zd_run *run, const struct zd_st_expect *x)
{
	struct zd_rdevice *d = zd_run_device(run, x->device);
	struct zd_device_counters c;
	size_t i;

	if (!d)
		return zd_expect_fail(run, "%s is not a device", x->device);
	zd_device_counters(d->dev, &c);
	for (i = 0; i < x->nr_expects; i++) {
		const struct zd_scr_expect *k = &x->expects[i];
		unsigned long got;

		switch (k->key) {
		case ZD_SCR_KEY_ALLOCATED:
			got = c.allocated;
			break;
		case ZD_SCR_KEY_FREED:
			got = c.freed;
			break;
		case ZD_SCR_KEY_DEVICE_FREE:
			got = c.free;
			break;
		default:
			return zd_expect_fail(run, "'%s' is not a key of expect device", k->name);
		}
		if ((int64_t)got != k->value)
			return zd_expect_fail(run, "device %s: %s is %lu, expected %lld", x->device,
					      k->name, got, (long long)k->value);
	}
	return 0;
}

static int zd_expect_result(struct zd_run *run, const struct zd_st_expect *x)
{
	size_t i;
	int j;

	for (i = 0; i < x->nr_expects; i++) {
		const struct zd_scr_expect *k = &x->expects[i];

		for (j = 0; j < run->nr_results; j++)
			if (!strcmp(run->results[j].name, k->name))
				break;
		if (j == run->nr_results)
			return zd_expect_fail(run, "the previous statement has no result '%s'",
					      k->name);
		if (run->results[j].value != k->value) {
			if (k->is_errno)
				return zd_expect_fail(
				    run, "result %s is %s, expected %s", k->name,
				    run->results[j].value
					? zd_errno_name((int)run->results[j].value)
					: "0",
				    zd_errno_name((int)k->value));
			return zd_expect_fail(run, "result %s is %lld, expected %lld", k->name,
					      (long long)run->results[j].value,
					      (long long)k->value);
		}
	}
	return 0;
}

/* Run the audit; fail listing what is reported. */
static int zd_expect_clean(struct zd_run *run)
{
	size_t n;
	const struct zd_violation *v;

	if (!run->audited)
		zd_audit(run->w);
	n = zd_violation_count(run->w);
	if (!n)
		return 0;
	v = zd_violation_get(run->w, 0);
	return zd_expect_fail(run, "not clean: %zu violation%s, first %s at pfn %#lx: %s", n,
			      n == 1 ? "" : "s", zd_invariant_info(v->inv)->id, v->pfn, v->message);
}

static int zd_expect_violation(struct zd_run *run, const char *id)
{
	enum zd_invariant inv;

	if (zd_invariant_lookup(id, &inv))
		return zd_expect_fail(run, "unknown invariant '%s' (see zonedev invariants)", id);
	if (!run->audited)
		zd_audit(run->w);
	if (!zd_violation_reported(run->w, inv))
		return zd_expect_fail(run, "invariant %s was never reported as violated", id);
	return 0;
}

int zd_exec_expect(struct zd_run *run, const struct zd_stmt *st)
{
	const struct zd_st_expect *x = &st->u.expect;
	FILE *out = run->opts->quiet ? NULL : run->out;
	struct zd_folio *folio;
	struct zd_rdevice *d;
	unsigned long pfn;
	size_t pending;
	int p;

	switch (st->kind) {
	case ZD_ST_EXPECT_PAGE:
		return zd_expect_page(run, x);
	case ZD_ST_EXPECT_ENTRY:
		return zd_expect_vm_entry(run, x);
	case ZD_ST_EXPECT_PGMAP:
		return zd_expect_pgmap(run, x);
	case ZD_ST_EXPECT_DEVICE:
		return zd_expect_device(run, x);
	case ZD_ST_EXPECT_RESULT:
		return zd_expect_result(run, x);
	case ZD_ST_EXPECT_PENDING:
		pending = zd_run_pending_count(run);
		if (pending != x->count)
			return zd_expect_fail(run, "%zu statement%s pending, expected %llu",
					      pending, pending == 1 ? "" : "s",
					      (unsigned long long)x->count);
		return 0;
	case ZD_ST_EXPECT_CLEAN:
		return zd_expect_clean(run);
	case ZD_ST_EXPECT_VIOLATION:
		return zd_expect_violation(run, x->id);
	case ZD_ST_DUMP_PAGE:
		if (zd_expect_locate(run, &st->u.loc, &pfn, &folio))
			return -1;
		if (out)
			zd_dump_page(run->w, pfn, NULL, out);
		return 0;
	case ZD_ST_DUMP_PGMAP:
		d = zd_run_device(run, st->u.dev.device);
		if (!d)
			return zd_expect_fail(run, "%s is not a device", st->u.dev.device);
		for (p = 0; out && p < zd_device_nr_pgmaps(d->dev); p++)
			zd_dump_pgmap(zd_device_pgmap(d->dev, p), out);
		return 0;
	case ZD_ST_DUMP_MM:
		return zd_expect_vm_dump_mm(run, st->u.proc.process, out);
	case ZD_ST_THREAD:
		return 0; /* a declaration: nothing runs yet */
	default:
		return zd_expect_fail(run, "'%s' is not implemented in this version of zonedev",
				      zd_stmt_kind_name(st->kind));
	}
}
