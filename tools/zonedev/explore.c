/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: `explore` and `run-threads` (contract §10). Every execution
 * starts from a fresh world built by re-running the statements before the
 * block, so executions are independent and the file's own world is left as
 * it was before the block. Under explore the world's tasks are model threads
 * (src/sync/explore.h) scheduled by a search of src/explore/; under
 * run-threads they are ordinary threads running at once.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "explore/explore.h"
#include "zonedev/check.h"

/* Default executions of random and PCT modes without runs=. */
#define ZD_XRUNS_DEFAULT 1000
/*
 * Executions a bounded search runs at most without runs= (runs=N sets the
 * budget of every mode). Without partial-order reduction a bound of 2 over
 * long statements is quadratic in their scheduling points; the rounds put
 * every schedule with fewer preemptions first, so a budget cuts the least
 * likely ones, and the cut is reported.
 */
#define ZD_XBOUNDED_BUDGET 2000
/* Shrinking tries at most this many candidate schedules. */
#define ZD_XSHRINK_TRIES 256

struct zd_xexec;

/* One declared thread in one execution. */
struct zd_xthr {
	struct zd_xexec *x;
	const struct zd_st_thread *th;
	const struct zd_stmt *cur; /* the statement running, or NULL when done */
	struct zd_task *task;
	bool failed;
	int fail_line;
	char reason[400];
	struct zd_result results[ZD_MAX_RESULTS];
	int nr_results;
	/*
	 * Statement boundaries (state hashing): the thread ran its body up to
	 * `next`; `at_boundary` while it has not yet passed the first
	 * scheduling point of statement `next` (the run lock, see zd_xlock).
	 */
	size_t next;
	bool started, done, at_boundary;
};

/* One execution of the threads of an explore or run-threads block. */
struct zd_xexec {
	struct zd_run run;
	struct zd_runner_opts opts;
	struct zd_xsearch *search; /* NULL: run-threads (real threads) */
	struct zd_explorer *ex;
	struct zd_xthr thr[ZD_EXPLORE_MAX_THREADS];
	int nthr;
	zd_mutex_t lock; /* the run's name tables and reason while threads run at once */
	bool stopping;	 /* teardown: threads start no further statement */
	FILE *trace_out; /* printing the trace: thread switches are shown there */
	/* outcome */
	bool failed;
	int fail_line;
	char reason[600];
	bool *sometimes; /* per check: held after this execution */
	uint64_t hash;	 /* the final state, for `distinct` */
};

/* Which thread a model thread id belongs to (NULL: a statement of the prefix). */
static struct zd_xthr *zd_xthr_of(struct zd_xexec *x, int tid)
{
	int i;

	for (i = 0; i < x->nthr; i++)
		if (x->thr[i].task && zd_task_explore_id(x->thr[i].task) == tid)
			return &x->thr[i];
	return NULL;
}

static uint64_t zd_xmix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

static uint64_t zd_xmix_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return zd_xmix(h, 0xff);
}

/*
 * Where thread @t stands, for the state key: 1 not started, 2 at the start of
 * statement t->next, 3 done; 0 in the middle of a statement (or blocked in
 * one), where the key cannot describe it. A thread stands at the start of a
 * statement only while it waits at that statement's first scheduling point,
 * the run lock's (zd_xlock); a thread woken from a wait for that lock is
 * elsewhere in the lock's code (its next operation is then unknown) and does
 * not count.
 */
static int zd_xthr_phase(struct zd_xexec *x, struct zd_xthr *t, const struct zd_explore_point *p)
{
	int tid;

	if (!t->task || t->done)
		return 3;
	if (!t->started)
		return 1;
	tid = zd_task_explore_id(t->task);
	if (t->at_boundary && tid >= 0 && p->pend_kind[tid] == ZD_SP_ANY &&
	    p->pend_addr[tid] == (const void *)&x->lock)
		return 2;
	return 0;
}

/* The index of @dev among the run's devices (the run's tables hold pointers). */
static uint64_t zd_xdev_index(const struct zd_run *run, const struct zd_device *dev)
{
	size_t d;

	for (d = 0; d < run->nr_devices; d++)
		if (run->devices[d].dev == dev)
			return d + 1;
	return dev ? UINT64_MAX : 0;
}

/*
 * The state at a choice point where every thread of the block stands at a
 * statement boundary: the world's digest, each thread's place and its last
 * results (what `expect result` reads), and the run's name tables the
 * statements resolve (handles, devices, processes, pending statements).
 * 0 when some thread is in the middle of a statement.
 */
static uint64_t zd_xstate_key(struct zd_xexec *x, const struct zd_explore_point *p)
{
	struct zd_run *run = &x->run;
	uint64_t h = 0x243f6a8885a308d3ull;
	size_t i, j;
	int k, ph;

	for (k = 0; k < x->nthr; k++) {
		struct zd_xthr *t = &x->thr[k];

		ph = zd_xthr_phase(x, t, p);
		if (!ph)
			return 0;
		h = zd_xmix(h, (uint64_t)ph);
		h = zd_xmix(h, ph == 2 ? t->next : 0);
		h = zd_xmix(h, t->failed);
		h = zd_xmix(h, (uint64_t)t->nr_results);
		for (j = 0; j < (size_t)t->nr_results; j++) {
			h = zd_xmix_str(h, t->results[j].name);
			h = zd_xmix(h, (uint64_t)t->results[j].value);
		}
	}
	for (i = 0; i < run->nr_devices; i++)
		h = zd_xmix_str(h, run->devices[i].name);
	for (i = 0; i < run->nr_handles; i++) {
		const struct zd_rhandle *hd = &run->handles[i];

		h = zd_xmix_str(h, hd->name);
		h = zd_xmix(h, (uint64_t)hd->kind | (uint64_t)hd->ended << 8);
		h = zd_xmix(h, zd_xdev_index(run, hd->dev));
		h = zd_xmix(h, (uint64_t)hd->nr);
		for (k = 0; k < hd->nr; k++)
			h = zd_xmix(h, hd->folios[k] ? hd->folios[k]->pfn : ZD_PFN_NONE);
		h = zd_xmix(h, hd->pgmap ? zd_pgmap_pfn_first(hd->pgmap, 0) : 0);
		h = zd_xmix(h, hd->pfn);
		h = zd_xmix(h, hd->nr_pfns);
		for (j = 0; hd->pfns && j < hd->nr_pfns; j++)
			h = zd_xmix(h, hd->pfns[j]);
		h = zd_xmix(h, hd->gup_flags);
		h = zd_xmix(h, (uint64_t)hd->holder.kind);
		h = zd_xmix(h, hd->holder.kind == ZD_HOLD_HANDLE ? hd->holder.id : 0);
	}
	for (i = 0; i < run->nr_procs; i++) {
		const struct zd_rprocess *pr = &run->procs[i];

		h = zd_xmix_str(h, pr->name);
		h = zd_xmix(h, (uint64_t)(pr->mm != NULL) | (uint64_t)pr->ended << 1);
		for (j = 0; j < pr->nr_maps; j++) {
			h = zd_xmix_str(h, pr->maps[j].name);
			h = zd_xmix(h, pr->maps[j].start);
			h = zd_xmix(h, pr->maps[j].size);
		}
	}
	h = zd_xmix(h, zd_run_pending_count(run));
	/* the digest reads through sync operations: they must not be scheduling points */
	zd_sync_quiet_begin();
	h = zd_xmix(h, zd_world_state_hash(run->w));
	zd_sync_quiet_end();
	return h ? h : 1;
}

/*
 * A choice point: the threads may interleave here, so the step checks run
 * first over what the last step touched (a violation they report fails the
 * execution like any other), the state key goes to the search when every
 * thread stands between statements, then the search chooses.
 */
static int zd_xpick(void *arg, const struct zd_explore_point *p)
{
	struct zd_xexec *x = arg;
	uint64_t key;

	zd_check_step(x->run.w, false);
	key = zd_xstate_key(x, p);
	if (key)
		zd_xsearch_note_state(x->search, key);
	return zd_xsearch_pick(x->search, p);
}

/* The explorer's note hook (DPOR): an operation that ran where no choice was made. */
static void zd_xnote(void *arg, int tid, int kind, const void *addr)
{
	struct zd_xexec *x = arg;

	zd_xsearch_note(x->search, tid, kind, addr);
}

/* The explorer's switch hook: attribute what follows to the thread now running. */
static void zd_xswitch(void *arg, int tid)
{
	struct zd_xexec *x = arg;
	struct zd_xthr *t = zd_xthr_of(x, tid);
	const char *name = t ? t->th->name : "main";

	zd_trace_set_thread_name(x->run.w, name);
	if (x->trace_out)
		fprintf(x->trace_out, "[%s]\n", name);
}

static void zd_xthr_fail(struct zd_xthr *t, const struct zd_stmt *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void zd_xthr_fail(struct zd_xthr *t, const struct zd_stmt *st, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (t->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->failed = true;
	t->fail_line = st->line;
	snprintf(t->reason, sizeof(t->reason), "thread %s, line %d (%s): %s", t->th->name,
		 st->line, st->text, msg);
}

static void zd_xthr_set_result(struct zd_xthr *t, const char *name, int64_t v)
{
	int i;

	for (i = 0; i < t->nr_results; i++) {
		if (!strcmp(t->results[i].name, name)) {
			t->results[i].value = v;
			return;
		}
	}
	if (t->nr_results < ZD_MAX_RESULTS)
		t->results[t->nr_results++] = (struct zd_result){name, v};
}

/*
 * The first scheduling point of every statement of a thread body (but
 * `expect result`, which reads only the thread's own results): taking the
 * run lock. Until the lock is taken the thread stands at the statement's
 * boundary (see zd_xthr_phase).
 */
static void zd_xlock(struct zd_xthr *t)
{
	zd_mutex_lock(&t->x->lock);
	t->at_boundary = false;
}

/* A statement of a thread body that acts: as zd_run_action, on the thread itself. */
static void zd_xthr_action(struct zd_xthr *t, const struct zd_stmt *st)
{
	struct zd_run *run = &t->x->run;
	struct zd_exec *e = calloc(1, sizeof(*e));
	int err, ret;

	if (!e) {
		zd_xthr_fail(t, st, "out of memory");
		return;
	}
	e->run = run;
	e->st = st;
	zd_xlock(t);
	ret = zd_exec_prepare(run, e);
	zd_mutex_unlock(&t->x->lock);
	if (ret) {
		zd_xthr_fail(t, st, "%s", e->reason);
		free(e);
		return;
	}
	zd_exec_action(e);
	err = zd_exec_errcode(e->ret);
	switch (st->prefix) {
	case ZD_SCR_PREFIX_NONE:
		if (err)
			zd_xthr_fail(t, st, "%s: %s", zd_errno_name(err),
				     e->reason[0] ? e->reason : "the operation failed");
		break;
	case ZD_SCR_PREFIX_ERR:
		if (!err)
			zd_xthr_fail(t, st, "expected %s, but the statement %s",
				     zd_scr_err_name(st->err),
				     st->err == ZD_SCR_ERR_BLOCKED ? "completed" : "succeeded");
		else if (err != st->err)
			zd_xthr_fail(t, st, "expected %s, got %s: %s", zd_scr_err_name(st->err),
				     zd_errno_name(err), e->reason);
		break;
	case ZD_SCR_PREFIX_ANY:
		break;
	}
	t->nr_results = e->nr_results;
	memcpy(t->results, e->results, sizeof(t->results));
	if (st->prefix == ZD_SCR_PREFIX_ANY) {
		zd_xthr_set_result(t, "ok", err ? 0 : 1);
		zd_xthr_set_result(t, "errno", err);
	}
	if (!e->ret || st->prefix == ZD_SCR_PREFIX_ANY) {
		zd_mutex_lock(&t->x->lock);
		zd_exec_apply(run, e);
		zd_mutex_unlock(&t->x->lock);
	}
	free(e);
}

/* `expect result` of a thread: the results of that thread's previous statement. */
static int zd_xthr_expect_result(struct zd_xthr *t, const struct zd_st_expect *xp, char *why,
				 size_t n)
{
	size_t i;
	int j;

	for (i = 0; i < xp->nr_expects; i++) {
		const struct zd_scr_expect *k = &xp->expects[i];

		for (j = 0; j < t->nr_results; j++)
			if (!strcmp(t->results[j].name, k->name))
				break;
		if (j == t->nr_results) {
			snprintf(why, n, "the previous statement has no result '%s'", k->name);
			return -1;
		}
		if (t->results[j].value != k->value) {
			snprintf(why, n, "result %s is %lld, expected %lld", k->name,
				 (long long)t->results[j].value, (long long)k->value);
			return -1;
		}
	}
	return 0;
}

static void zd_xthr_expect(struct zd_xthr *t, const struct zd_stmt *st)
{
	struct zd_run *run = &t->x->run;
	char why[300];

	if (st->kind == ZD_ST_EXPECT_RESULT) {
		if (zd_xthr_expect_result(t, &st->u.expect, why, sizeof(why)))
			zd_xthr_fail(t, st, "%s", why);
		return;
	}
	zd_xlock(t);
	if (zd_exec_expect(run, st)) {
		snprintf(why, sizeof(why), "%.290s", run->reason);
		zd_mutex_unlock(&t->x->lock);
		zd_xthr_fail(t, st, "%s", why);
		return;
	}
	zd_mutex_unlock(&t->x->lock);
}

static void zd_xthr_main(void *arg)
{
	struct zd_xthr *t = arg;
	size_t i;

	t->started = true;
	for (i = 0; i < t->th->nr_body && !t->failed && !t->x->stopping; i++) {
		const struct zd_stmt *st = &t->th->body[i];

		t->next = i;
		t->at_boundary = true;
		t->cur = st;
		zd_trace_mark(t->x->run.w, "%s:%d: [%s] %s", st->file, st->line, t->th->name,
			      st->text);
		if (zd_stmt_is_action(st))
			zd_xthr_action(t, st);
		else
			zd_xthr_expect(t, st);
		t->at_boundary = false;
	}
	t->cur = NULL;
	t->done = true;
}

static void zd_xexec_fail(struct zd_xexec *x, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void zd_xexec_fail(struct zd_xexec *x, int line, const char *fmt, ...)
{
	va_list ap;

	if (x->failed)
		return;
	x->failed = true;
	x->fail_line = line;
	va_start(ap, fmt);
	vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
	va_end(ap);
}

/* The threads a block runs: those declared since the previous explore or run-threads. */
static size_t zd_block_first_thread(const struct zd_script *sc, size_t index)
{
	size_t i = index;

	while (i > 0) {
		enum zd_stmt_kind k = sc->stmts[i - 1].kind;

		if (k == ZD_ST_EXPLORE || k == ZD_ST_RUN_THREADS)
			break;
		i--;
	}
	return i;
}

static void zd_block_checks(const struct zd_stmt *st, size_t *first, size_t *nr)
{
	if (st->kind == ZD_ST_EXPLORE) {
		*first = st->u.explore.first_check;
		*nr = st->u.explore.nr_checks;
	} else {
		*first = st->u.run_threads.first_check;
		*nr = st->u.run_threads.nr_checks;
	}
}

/* Blocked threads at the end: allowed (`! BLOCKED`, `~`) or the execution's failure. */
static void zd_xexec_blocked(struct zd_xexec *x)
{
	char msg[500];
	size_t len = 0;
	int i, bad = 0;

	msg[0] = '\0';
	for (i = 0; i < x->nthr; i++) {
		struct zd_xthr *t = &x->thr[i];
		const char *what;

		if (!t->task || zd_task_state(t->task) != ZD_TASK_SLEEPING || !t->cur)
			continue;
		if ((t->cur->prefix == ZD_SCR_PREFIX_ERR && t->cur->err == ZD_SCR_ERR_BLOCKED) ||
		    t->cur->prefix == ZD_SCR_PREFIX_ANY) {
			x->run.thread_pending++;
			continue;
		}
		what = zd_task_waiting_on(t->task);
		bad++;
		if (len < sizeof(msg))
			len += (size_t)snprintf(msg + len, sizeof(msg) - len,
						"%sthread %s, line %d (%s) waits for %s",
						bad > 1 ? "; " : "", t->th->name, t->cur->line,
						t->cur->text, what ? what : "a wake-up");
	}
	if (bad)
		zd_xexec_fail(x, x->thr[0].th ? 0 : 0, "%s: %s",
			      bad > 1 ? "deadlock" : "BLOCKED", msg);
}

/* Evaluate check @c (always / sometimes) on the execution's final world. */
static int zd_xexec_check(struct zd_xexec *x, const struct zd_stmt *c, char *why, size_t n)
{
	const struct zd_stmt *inner = c->u.check.inner;
	struct zd_run *run = &x->run;

	if (inner->kind == ZD_ST_EXPECT_READ) {
		struct zd_stmt rd = *inner;

		rd.kind = ZD_ST_READ;
		rd.u.range.has_expect = true;
		run->failed = false;
		zd_run_action(run, &rd);
		if (run->failed) {
			run->failed = false;
			snprintf(why, n, "%.390s", run->reason);
			return -1;
		}
		return 0;
	}
	if (zd_exec_expect(run, inner)) {
		snprintf(why, n, "%.390s", run->reason);
		return -1;
	}
	return 0;
}

/* A digest of the final state: every device page's counts and every pagemap's refs. */
static uint64_t zd_xexec_hash(struct zd_xexec *x)
{
	struct zd_run *run = &x->run;
	uint64_t h = 1469598103934665603ull;
	size_t d;
	unsigned long i, pfn;
	int p, k;

#define ZD_MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
	for (d = 0; d < run->nr_devices; d++) {
		struct zd_device *dev = run->devices[d].dev;

		for (i = 0; i < zd_device_nr_pages(dev); i++) {
			struct zd_folio *f;

			if (zd_device_page_pfn(dev, i, &pfn))
				continue;
			f = zd_pfn_folio(run->w, pfn);
			if (!f || f->pfn != pfn)
				continue;
			ZD_MIX(zd_folio_ref_count(f));
			ZD_MIX(zd_folio_mapcount(f));
			ZD_MIX(zd_folio_pincount(f));
		}
		for (p = 0; p < zd_device_nr_pgmaps(dev); p++)
			ZD_MIX(zd_pgmap_refs(zd_device_pgmap(dev, p)));
	}
	ZD_MIX(zd_run_pending_count(run));
	ZD_MIX(zd_violation_count(run->w));
	for (k = 0; k < x->nthr; k++)
		ZD_MIX(x->thr[k].failed);
#undef ZD_MIX
	return h;
}

/*
 * One execution: a fresh world, the statements before the block, the threads
 * (scheduled by @search, or at once when it is NULL), then the checks.
 * @trace_out: print the execution's trace (page_ref vocabulary) there.
 */
static void zd_xexec_run(struct zd_xexec *x, struct zd_run *main, size_t index,
			 struct zd_xsearch *search, FILE *trace_out, const char *json)
{
	const struct zd_script *sc = main->script;
	const struct zd_stmt *blk = &sc->stmts[index];
	size_t i, first, nchecks, nviol;
	int k;

	memset(x, 0, sizeof(*x));
	x->opts = *main->opts;
	x->opts.quiet = true;
	x->opts.trace_text = trace_out != NULL;
	x->opts.trace_json = NULL;
	x->search = search;
	x->trace_out = trace_out;
	zd_mutex_init(&x->lock);
	if (search) {
		x->ex = zd_explorer_create(zd_xpick, zd_xswitch, x);
		if (x->ex && search->mode == ZD_XMODE_DPOR)
			zd_explorer_set_note(x->ex, zd_xnote);
		if (!x->ex) {
			zd_xexec_fail(x, blk->line, "out of memory");
			return;
		}
	}
	/* tracing has no scheduling points (zd_sync_quiet_begin): traced or not, same schedule */
	if (zd_run_init(&x->run, main->script, &x->opts, trace_out ? trace_out : main->out,
			json != NULL, x->ex)) {
		zd_xexec_fail(x, blk->line, "cannot create a world");
		zd_explorer_destroy(x->ex);
		return;
	}
	for (i = 0; i < index && !x->run.failed; i++) {
		enum zd_stmt_kind kd = sc->stmts[i].kind;

		if (kd == ZD_ST_THREAD || kd == ZD_ST_EXPLORE || kd == ZD_ST_RUN_THREADS ||
		    kd == ZD_ST_ALWAYS || kd == ZD_ST_SOMETIMES || kd == ZD_ST_DUMP_PAGE ||
		    kd == ZD_ST_DUMP_PGMAP || kd == ZD_ST_DUMP_MM)
			continue;
		zd_run_stmt(&x->run, i);
	}
	if (x->run.failed) {
		zd_xexec_fail(x, x->run.fail_line, "re-running line %d for an execution: %s",
			      x->run.fail_line, x->run.reason);
		goto out;
	}
	nviol = zd_violation_count(x->run.w);
	for (i = zd_block_first_thread(sc, index); i < index; i++) {
		if (sc->stmts[i].kind != ZD_ST_THREAD || x->nthr == ZD_EXPLORE_MAX_THREADS)
			continue;
		x->thr[x->nthr].x = x;
		x->thr[x->nthr].th = &sc->stmts[i].u.thread;
		x->nthr++;
	}
	if (x->ex) {
		zd_explorer_set_recording(x->ex, true);
		/* the prefix's own steps are not the block's: start the log afresh */
		if (zd_check_step_enable(x->run.w, true))
			zd_xexec_fail(x, blk->line, "out of memory");
	}
	for (k = 0; k < x->nthr; k++) {
		x->thr[k].task = zd_task_start(x->run.group, zd_xthr_main, &x->thr[k]);
		if (!x->thr[k].task)
			zd_xexec_fail(x, blk->line, "cannot start thread %s", x->thr[k].th->name);
	}
	zd_task_group_quiesce(x->run.group);
	if (x->ex)
		zd_explorer_set_recording(x->ex, false);

	for (k = 0; k < x->nthr; k++)
		if (x->thr[k].failed)
			zd_xexec_fail(x, x->thr[k].fail_line, "%s", x->thr[k].reason);
	zd_xexec_blocked(x);
	/* the threads' last results are what `always result` sees */
	x->run.nr_results = 0;
	for (k = 0; k < x->nthr; k++) {
		int r;

		for (r = 0; r < x->thr[k].nr_results; r++) {
			int j;

			for (j = 0; j < x->run.nr_results; j++)
				if (!strcmp(x->run.results[j].name, x->thr[k].results[r].name))
					break;
			if (j < ZD_MAX_RESULTS) {
				x->run.results[j] = x->thr[k].results[r];
				if (j == x->run.nr_results)
					x->run.nr_results++;
			}
		}
	}
	/*
	 * the cheap invariants were checked at each operation and after each
	 * step; the last step's, at rest, and the full audit run now
	 */
	zd_check_step(x->run.w, true);
	zd_check_step_enable(x->run.w, false);
	zd_audit(x->run.w);
	x->run.audited = true; /* the checks below read it until one of them acts */
	if (zd_violation_count(x->run.w) > nviol) {
		const struct zd_violation *v = zd_violation_get(x->run.w, nviol);

		zd_xexec_fail(x, blk->line, "violation %s at pfn %#lx: %s",
			      zd_invariant_info(v->inv)->id, v->pfn, v->message);
	}
	zd_block_checks(blk, &first, &nchecks);
	x->sometimes = calloc(nchecks ? nchecks : 1, sizeof(bool));
	for (i = 0; i < nchecks; i++) {
		const struct zd_stmt *c = &sc->stmts[first + i];
		char why[400];
		int bad = zd_xexec_check(x, c, why, sizeof(why));

		if (c->kind == ZD_ST_ALWAYS && bad)
			zd_xexec_fail(x, c->line, "always (line %d) does not hold: %s", c->line,
				      why);
		if (c->kind == ZD_ST_SOMETIMES && !bad && x->sometimes)
			x->sometimes[i] = true;
	}
	x->hash = zd_xexec_hash(x);
	if (json && zd_trace_write_json(x->run.w, json))
		fprintf(stderr, "zonedev: cannot write the trace %s\n", json);
out:
	/* wind the threads down: blocked ones see their group cancelled */
	x->stopping = true;
	zd_task_group_cancel(x->run.group);
	zd_task_group_quiesce(x->run.group);
	for (k = 0; k < x->nthr; k++)
		if (x->thr[k].task && zd_task_state(x->thr[k].task) == ZD_TASK_DONE)
			zd_task_join(x->thr[k].task);
	zd_run_teardown(&x->run);
	zd_explorer_destroy(x->ex);
}

static const char *zd_xmode_name(enum zd_xmode m)
{
	switch (m) {
	case ZD_XMODE_BOUNDED:
		return "bounded";
	case ZD_XMODE_EXHAUSTIVE:
		return "exhaustive";
	case ZD_XMODE_RANDOM:
		return "random";
	case ZD_XMODE_PCT:
		return "pct";
	case ZD_XMODE_REPLAY:
		return "replay";
	case ZD_XMODE_DPOR:
		return "dpor";
	}
	return "?";
}

/* A JSON trace path for the failing execution: FILE.json -> FILE-explore.json. */
static char *zd_xtrace_json_path(const char *base)
{
	size_t n = strlen(base) + 16;
	char *p = malloc(n);
	const char *dot;

	if (!p)
		return NULL;
	dot = strrchr(base, '.');
	if (!dot || strchr(dot, '/'))
		dot = base + strlen(base);
	snprintf(p, n, "%.*s-explore%s", (int)(dot - base), base, dot);
	return p;
}

/*
 * Shrink a failing execution recorded in @s: make each non-default choice the
 * default in turn, keep the change when the execution still fails, until no
 * single change keeps it failing. Leaves the shortest schedule in *best.
 */
static void zd_xshrink(struct zd_run *main, size_t index, struct zd_xsearch *s, char **best)
{
	struct zd_xsearch cur, trial;
	struct zd_xexec *x = malloc(sizeof(*x));
	unsigned int tries = 0;
	size_t k = 0, need;
	int8_t *cand;
	size_t nr;
	char *buf;

	if (!x)
		return;
	zd_xsearch_init(&cur, ZD_XMODE_REPLAY, 0, 0, 1);
	/* cur holds the recorded nodes of the failing execution */
	cur.nodes = malloc((s->nr_nodes ? s->nr_nodes : 1) * sizeof(*cur.nodes));
	if (!cur.nodes) {
		free(x);
		return;
	}
	memcpy(cur.nodes, s->nodes, s->nr_nodes * sizeof(*cur.nodes));
	cur.nr_nodes = cur.cap_nodes = s->nr_nodes;
	while (tries < ZD_XSHRINK_TRIES && zd_xshrink_candidate(&cur, k, &cand, &nr)) {
		bool fails;

		tries++;
		zd_xsearch_init(&trial, ZD_XMODE_REPLAY, 0, 0, 1);
		trial.forced = cand;
		trial.nr_replay = nr;
		zd_xsearch_begin(&trial);
		zd_xexec_run(x, main, index, &trial, NULL, NULL);
		fails = x->failed;
		free(x->sometimes);
		if (fails) {
			zd_xsearch_free(&cur);
			cur = trial; /* its recorded nodes are the new failing execution */
			k = 0;
		} else {
			zd_xsearch_free(&trial);
			k++;
		}
	}
	need = zd_xsearch_schedule(&cur, NULL, 0) + 1;
	buf = malloc(need);
	if (buf) {
		zd_xsearch_schedule(&cur, buf, need);
		free(*best);
		*best = buf;
	}
	zd_xsearch_free(&cur);
	free(x);
}

static void zd_xprogress(const struct zd_run *run, const struct zd_xsearch *s, uint64_t states,
			 uint64_t t0, bool final)
{
	double secs = (double)(zd_clock_ns() - t0) / 1e9;

	if (!run->opts->explore_progress)
		return;
	fprintf(stderr,
		"\rexplore: %llu executions, %llu distinct final states, %llu states, %llu cut "
		"short, %.0f/s%s",
		(unsigned long long)s->executions, (unsigned long long)states,
		(unsigned long long)s->nr_visited, (unsigned long long)s->pruned,
		secs > 0 ? (double)s->executions / secs : 0.0, final ? "\n" : "");
}

/* Distinct final states: a small open-addressing set of hashes. */
struct zd_hashset {
	uint64_t *slot;
	size_t cap, nr;
};

static void zd_hashset_add(struct zd_hashset *hs, uint64_t h)
{
	size_t i;

	if (!h)
		h = 1;
	if ((hs->nr + 1) * 2 > hs->cap) {
		struct zd_hashset n = {calloc(hs->cap ? hs->cap * 2 : 64, sizeof(uint64_t)),
				       hs->cap ? hs->cap * 2 : 64, 0};

		if (!n.slot)
			return;
		for (i = 0; i < hs->cap; i++)
			if (hs->slot[i])
				zd_hashset_add(&n, hs->slot[i]);
		free(hs->slot);
		*hs = n;
	}
	for (i = h & (hs->cap - 1); hs->slot[i]; i = (i + 1) & (hs->cap - 1))
		if (hs->slot[i] == h)
			return;
	hs->slot[i] = h;
	hs->nr++;
}

void zd_run_explore(struct zd_run *run, size_t index)
{
	const struct zd_stmt *st = &run->script->stmts[index];
	const struct zd_st_explore *xp = &st->u.explore;
	struct zd_xexec *x = malloc(sizeof(*x));
	struct zd_hashset states = {0};
	struct zd_xsearch s;
	enum zd_xmode mode;
	size_t first, nchecks, i;
	bool *seen = NULL, failed = false, replay;
	char *sched = NULL, *json = NULL, why[700];
	uint64_t t0 = zd_clock_ns(), last = t0, first_bug_ns = 0;
	uint64_t seed = xp->has_seed ? xp->seed : 1;
	uint64_t budget = xp->has_runs			     ? xp->runs
			  : xp->mode == ZD_SCR_EXPLORE_BOUNDED ? ZD_XBOUNDED_BUDGET
							       : 0;
	bool cut = false;

	if (!x) {
		zd_run_fail(run, st, "out of memory");
		return;
	}
	zd_block_checks(st, &first, &nchecks);
	seen = calloc(nchecks ? nchecks : 1, sizeof(bool));
	mode = xp->mode == ZD_SCR_EXPLORE_EXHAUSTIVE ? ZD_XMODE_EXHAUSTIVE
	       : xp->mode == ZD_SCR_EXPLORE_RANDOM   ? ZD_XMODE_RANDOM
	       : xp->mode == ZD_SCR_EXPLORE_PCT	     ? ZD_XMODE_PCT
	       : xp->mode == ZD_SCR_EXPLORE_DPOR     ? ZD_XMODE_DPOR
						     : ZD_XMODE_BOUNDED;
	if (run->opts->schedule) {
		if (zd_xsearch_init_replay(&s, run->opts->schedule)) {
			zd_run_fail(run, st, "bad schedule '%s'", run->opts->schedule);
			free(x);
			free(seen);
			return;
		}
	} else {
		zd_xsearch_init(&s, mode, xp->preemptions, seed,
				xp->has_runs ? xp->runs : ZD_XRUNS_DEFAULT);
	}
	replay = s.mode == ZD_XMODE_REPLAY;
	if (replay) {
		json = run->opts->trace_json ? zd_xtrace_json_path(run->opts->trace_json) : NULL;
		fprintf(run->out, "--- trace of the execution schedule=%s ---\n", run->opts->schedule);
	}
	do {
		zd_xsearch_begin(&s);
		zd_xexec_run(x, run, index, &s, replay ? run->out : NULL, json);
		if (replay) {
			fprintf(run->out, "--- end of trace ---\n");
			if (json)
				fprintf(run->out, "trace: %s\n", json);
			if (s.diverged)
				fprintf(run->out, "replay: the execution left the schedule (the "
						  "scenario is not the one that printed it?)\n");
		}
		zd_hashset_add(&states, x->hash);
		for (i = 0; i < nchecks && x->sometimes; i++)
			seen[i] |= x->sometimes[i];
		free(x->sometimes);
		if (x->failed) {
			size_t need = zd_xsearch_schedule(&s, NULL, 0) + 1;

			failed = true;
			first_bug_ns = zd_clock_ns() - t0;
			snprintf(why, sizeof(why), "%s", x->reason);
			sched = malloc(need);
			if (sched)
				zd_xsearch_schedule(&s, sched, need);
			break;
		}
		if (zd_clock_ns() - last > 1000000000ull) {
			last = zd_clock_ns();
			zd_xprogress(run, &s, states.nr, t0, false);
		}
		if (budget && s.executions >= budget && s.mode != ZD_XMODE_RANDOM) {
			cut = zd_xsearch_next(&s);
			break;
		}
	} while (zd_xsearch_next(&s));
	zd_xprogress(run, &s, states.nr, t0, true); /* the totals, with --progress */
	if (cut && s.mode == ZD_XMODE_BOUNDED)
		fprintf(stderr,
			"zonedev: %s:%d: explore stopped after %llu executions (its budget; runs=N "
			"sets it): schedules with %u preemption%s were not all run\n",
			st->file, st->line, (unsigned long long)s.executions, s.round,
			s.round == 1 ? "" : "s");
	else if (cut)
		fprintf(stderr,
			"zonedev: %s:%d: explore stopped after %llu executions (its budget; runs=N "
			"sets it): the %s search was not finished\n",
			st->file, st->line, (unsigned long long)s.executions, zd_xmode_name(s.mode));

	run->nr_results = 0;
	zd_results_set(run, "executions", (int64_t)s.executions);
	zd_results_set(run, "distinct", (int64_t)states.nr);
	zd_results_set(run, "states", (int64_t)s.nr_visited);
	zd_results_set(run, "pruned", (int64_t)s.pruned);
	if (failed && replay) {
		zd_run_fail(run, st, "explore: %s (schedule=%s)", why, run->opts->schedule);
	} else if (failed) {
		zd_xshrink(run, index, &s, &sched);
		fprintf(run->out, "explore %s:%d: %s after %llu executions (%.3f s, %s mode)\n",
			st->file, st->line, why, (unsigned long long)s.executions,
			(double)first_bug_ns / 1e9, zd_xmode_name(s.mode));
		fprintf(run->out, "schedule=%s\n", sched ? sched : "");
		fprintf(run->out, "replay: zonedev replay %s --schedule=%s\n", st->file,
			sched ? sched : "");
		/* the trace of the failing execution */
		if (sched) {
			struct zd_xsearch r;
			char *json = run->opts->trace_json ? zd_xtrace_json_path(run->opts->trace_json)
							   : NULL;

			if (!zd_xsearch_init_replay(&r, sched)) {
				fprintf(run->out, "--- trace of the failing execution ---\n");
				zd_xsearch_begin(&r);
				zd_xexec_run(x, run, index, &r, run->out, json);
				free(x->sometimes);
				fprintf(run->out, "--- end of trace ---\n");
				if (json)
					fprintf(run->out, "trace: %s\n", json);
			}
			zd_xsearch_free(&r);
			free(json);
		}
		zd_run_fail(run, st, "explore: %s (schedule=%s)", why, sched ? sched : "");
	} else if (!replay) {
		/* one replayed execution says nothing about `sometimes` */
		for (i = 0; i < nchecks; i++) {
			const struct zd_stmt *c = &run->script->stmts[first + i];

			if (c->kind == ZD_ST_SOMETIMES && !seen[i]) {
				zd_run_fail(run, c,
					    "sometimes (line %d) never held in %llu executions",
					    c->line, (unsigned long long)s.executions);
				break;
			}
		}
	}
	zd_xsearch_free(&s);
	free(states.slot);
	free(json);
	free(sched);
	free(seen);
	free(x);
}

void zd_run_threads(struct zd_run *run, size_t index)
{
	const struct zd_stmt *st = &run->script->stmts[index];
	struct zd_xexec *x = malloc(sizeof(*x));
	uint64_t n, repeat = st->u.run_threads.repeat ? st->u.run_threads.repeat : 1;
	size_t first, nchecks, i;
	bool *seen;

	if (!x) {
		zd_run_fail(run, st, "out of memory");
		return;
	}
	zd_block_checks(st, &first, &nchecks);
	seen = calloc(nchecks ? nchecks : 1, sizeof(bool));
	for (n = 0; n < repeat; n++) {
		zd_xexec_run(x, run, index, NULL, NULL, NULL);
		for (i = 0; i < nchecks && x->sometimes && seen; i++)
			seen[i] |= x->sometimes[i];
		free(x->sometimes);
		if (x->failed) {
			zd_run_fail(run, st, "run-threads, repetition %llu: %s",
				    (unsigned long long)n + 1, x->reason);
			break;
		}
	}
	run->nr_results = 0;
	zd_results_set(run, "executions", (int64_t)n);
	free(seen);
	free(x);
}
