/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: runs one scenario file in a fresh world. Each action runs as
 * a task; when the task group is quiescent a task still asleep is BLOCKED
 * and its statement stays pending until a later statement wakes it.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

struct zd_pending {
	struct zd_pending *next;
	struct zd_exec *e;
	struct zd_task *task;
};

void zd_run_fail(struct zd_run *run, const struct zd_stmt *st, const char *fmt, ...)
{
	char msg[sizeof(run->reason)];
	va_list ap;

	if (run->failed)
		return;
	run->failed = true;
	run->fail_line = st ? st->line : 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); /* the arguments may point into run->reason */
	va_end(ap);
	memcpy(run->reason, msg, sizeof(msg));
}

const char *zd_errno_name(int err)
{
	if (err < 0 && err >= ZD_SCR_ERR_BLOCKED)
		return zd_scr_err_name(err);
	switch (err) {
	case ENOSYS:
		return "ENOSYS";
	case ERANGE:
		return "ERANGE";
	case ENOSPC:
		return "ENOSPC";
	case EINTR:
		return "EINTR";
	case EALREADY:
		return "EALREADY";
	case EIO:
		return "EIO"; /* a CPU read whose data differs from its expect= (exec_vm.c) */
	case EACCES:
		return "EACCES";
	case ENODEV:
		return "ENODEV";
	default:
		return zd_scr_err_name(err);
	}
}

struct zd_rdevice *zd_run_device(struct zd_run *run, const char *name)
{
	size_t i;

	for (i = run->nr_devices; i-- > 0;)
		if (!strcmp(run->devices[i].name, name))
			return &run->devices[i];
	return NULL;
}

struct zd_rhandle *zd_run_handle(struct zd_run *run, const char *name)
{
	size_t i;

	for (i = run->nr_handles; i-- > 0;)
		if (!run->handles[i].ended && !strcmp(run->handles[i].name, name))
			return &run->handles[i];
	return NULL;
}

int zd_run_page_pfn(struct zd_run *run, const struct zd_scr_page *page, unsigned long *pfn)
{
	struct zd_rdevice *d = zd_run_device(run, page->device);

	if (!d || zd_device_page_pfn(d->dev, page->index, pfn)) {
		snprintf(run->reason, sizeof(run->reason), "%s+%llup is not a page of a device",
			 page->device, (unsigned long long)page->index);
		return -1;
	}
	return 0;
}

static void zd_run_task_fn(void *arg)
{
	zd_exec_action(arg);
}

/*
 * Names a holder in traces and messages: the id of a handle holder (and of the pin, pin-longterm
 * and gup holders of a gup handle) is its slot + 1, shown as `handle:H`, `pin:H`, `gup:H`; the
 * id of a mapping holder is its address space (named after its live process).
 */
static void zd_run_namer(void *arg, struct zd_holder h, char *buf, size_t n)
{
	struct zd_run *run = arg;
	size_t i;

	if (h.kind == ZD_HOLD_MAPPING && h.id) {
		for (i = 0; i < run->nr_procs; i++) {
			if (run->procs[i].mm && (uintptr_t)run->procs[i].mm == h.id) {
				snprintf(buf, n, "mapping:%s", run->procs[i].name);
				return;
			}
		}
	}
	if ((h.kind == ZD_HOLD_HANDLE || h.kind == ZD_HOLD_PIN || h.kind == ZD_HOLD_GUP ||
	     h.kind == ZD_HOLD_PIN_LONGTERM) &&
	    h.id && h.id <= run->nr_handles && run->handles[h.id - 1].name)
		snprintf(buf, n, "%s:%s", zd_holder_kind_name(h.kind), run->handles[h.id - 1].name);
	else if (h.id)
		snprintf(buf, n, "%s:%#lx", zd_holder_kind_name(h.kind), (unsigned long)h.id);
	else
		snprintf(buf, n, "%s", zd_holder_kind_name(h.kind));
}

static void zd_results_from_exec(struct zd_run *run, const struct zd_exec *e)
{
	run->nr_results = e->nr_results;
	memcpy(run->results, e->results, sizeof(run->results));
}

void zd_results_set(struct zd_run *run, const char *name, int64_t v)
{
	int i;

	for (i = 0; i < run->nr_results; i++) {
		if (!strcmp(run->results[i].name, name)) {
			run->results[i].value = v;
			return;
		}
	}
	if (run->nr_results < ZD_MAX_RESULTS)
		run->results[run->nr_results++] = (struct zd_result){name, v};
}

/* Join pending statements whose task finished (they completed after a later statement). */
void zd_run_reap_pending(struct zd_run *run)
{
	struct zd_pending **pp = &run->pending;

	zd_task_group_quiesce(run->group);
	while (*pp) {
		struct zd_pending *p = *pp;

		if (zd_task_state(p->task) != ZD_TASK_DONE) {
			pp = &p->next;
			continue;
		}
		zd_task_join(p->task);
		if (!p->e->ret)
			zd_exec_apply(run, p->e);
		zd_trace_mark(run->w, "%s:%d: completed: %s%s%s", p->e->st->file, p->e->st->line,
			      p->e->st->text, p->e->ret ? " -> " : "",
			      p->e->ret ? zd_errno_name(zd_exec_errcode(p->e->ret)) : "");
		*pp = p->next;
		free(p->e);
		free(p);
	}
}

static size_t zd_run_nr_pending(struct zd_run *run)
{
	struct zd_pending *p;
	size_t n = 0;

	for (p = run->pending; p; p = p->next)
		n++;
	return n;
}

size_t zd_run_pending_count(struct zd_run *run)
{
	return zd_run_nr_pending(run) + run->thread_pending;
}

void zd_run_action(struct zd_run *run, const struct zd_stmt *st)
{
	struct zd_exec *e = calloc(1, sizeof(*e));
	struct zd_task *task;
	bool blocked = false;
	const char *what = NULL;
	int err;

	run->audited = false;
	if (!e) {
		zd_run_fail(run, st, "out of memory");
		return;
	}
	e->run = run;
	e->st = st;
	if (zd_exec_prepare(run, e)) {
		zd_run_fail(run, st, "%s", e->reason);
		free(e);
		return;
	}
	task = zd_task_start(run->group, zd_run_task_fn, e);
	if (!task) {
		free(e);
		zd_run_fail(run, st, "cannot start a thread for the statement");
		return;
	}
	zd_task_group_quiesce(run->group);
	if (zd_task_state(task) == ZD_TASK_SLEEPING) {
		struct zd_pending *p = calloc(1, sizeof(*p));

		blocked = true;
		what = zd_task_waiting_on(task);
		if (!p) {
			zd_run_fail(run, st, "out of memory");
			return;
		}
		p->e = e;
		p->task = task;
		p->next = run->pending;
		run->pending = p;
		zd_trace_mark(run->w, "%s:%d: BLOCKED: %s", st->file, st->line,
			      what ? what : "a wait");
	} else {
		zd_task_join(task);
	}
	/* e->ret: -errno, or ZD_EXEC_RET_SIG* for an access that raised a signal */
	err = blocked ? ZD_SCR_ERR_BLOCKED : zd_exec_errcode(e->ret);
	switch (st->prefix) {
	case ZD_SCR_PREFIX_NONE:
		if (blocked)
			zd_run_fail(run, st, "BLOCKED: %s",
				    what ? what : "the statement waits forever");
		else if (err)
			zd_run_fail(run, st, "%s: %s", zd_errno_name(err),
				    e->reason[0] ? e->reason : "the operation failed");
		break;
	case ZD_SCR_PREFIX_ERR:
		if (!err)
			zd_run_fail(run, st, "expected %s, but the statement succeeded",
				    zd_scr_err_name(st->err));
		else if (err != st->err)
			zd_run_fail(run, st, "expected %s, got %s: %s", zd_scr_err_name(st->err),
				    zd_errno_name(err),
				    blocked ? (what ? what : "blocked") : e->reason);
		break;
	case ZD_SCR_PREFIX_ANY:
		break;
	}
	if (!blocked) {
		zd_results_from_exec(run, e);
		if (!e->ret || st->prefix == ZD_SCR_PREFIX_ANY)
			zd_exec_apply(run, e);
	} else {
		run->nr_results = 0;
	}
	if (st->prefix == ZD_SCR_PREFIX_ANY) {
		zd_results_set(run, "ok", err ? 0 : 1);
		zd_results_set(run, "errno", err);
	}
	if (!blocked)
		free(e);
}

void zd_run_teardown(struct zd_run *run)
{
	struct zd_pending *p, *next;
	size_t i;

	if (run->group) {
		zd_task_group_cancel(run->group);
		/* under the explorer the cancelled tasks run only when scheduled */
		zd_task_group_quiesce(run->group);
		for (p = run->pending; p; p = next) {
			next = p->next;
			/* a model thread still waiting (a lock never released) is left parked */
			if (zd_task_state(p->task) == ZD_TASK_DONE || zd_task_explore_id(p->task) < 0) {
				zd_task_join(p->task);
				free(p->e);
			}
			free(p);
		}
		run->pending = NULL;
		zd_task_group_destroy(run->group);
	}
	zd_run_vm_teardown(run); /* exit every live process while the world still exists */
	if (run->w)
		zd_world_destroy(run->w); /* also frees the drivers' devices */
	for (i = 0; i < run->nr_devices; i++)
		free(run->devices[i].name);
	free(run->devices);
	for (i = 0; i < run->nr_handles; i++) {
		free(run->handles[i].name);
		free(run->handles[i].pfns);
	}
	free(run->handles);
}

static char *zd_trace_path(const char *base, int index)
{
	size_t n = strlen(base) + 16;
	char *path = malloc(n);
	const char *dot;

	if (!path)
		return NULL;
	if (index <= 0) {
		snprintf(path, n, "%s", base);
		return path;
	}
	dot = strrchr(base, '.');
	if (!dot || strchr(dot, '/'))
		dot = base + strlen(base);
	snprintf(path, n, "%.*s-%d%s", (int)(dot - base), base, index, dot);
	return path;
}

/*
 * The RAM size a script settles on before it does anything else (its `ram`
 * lines among the opening regime/seed/bug lines), so that the world is made
 * that size at once and the `ram` line finds nothing to rebuild: a 1 GiB
 * memmap built and thrown away cost most of an explore execution. 0: the
 * default. A `fail` line stops the scan (it may aim at the RAM's own setup).
 */
static uint64_t zd_script_ram_bytes(const struct zd_script *script)
{
	uint64_t bytes = 0;
	size_t i;

	for (i = 0; i < script->nr_stmts; i++) {
		const struct zd_stmt *st = &script->stmts[i];

		if (st->kind == ZD_ST_RAM)
			bytes = st->u.ram.size;
		else if (st->kind != ZD_ST_REGIME && st->kind != ZD_ST_SEED &&
			 st->kind != ZD_ST_BUG)
			break;
	}
	if (bytes % ZD_PAGE_SIZE || bytes > (1ull << 40))
		return 0; /* the line itself reports it */
	return bytes;
}

int zd_run_init(struct zd_run *run, struct zd_script *script, const struct zd_runner_opts *opts,
		FILE *out, bool trace, struct zd_explorer *ex)
{
	struct zd_world_opts wo;
	int ret;

	memset(run, 0, sizeof(*run));
	run->opts = opts;
	run->out = out;
	run->script = script;
	zd_world_opts_init(&wo);
	if (opts->has_regime)
		wo.regime = opts->regime;
	wo.trace = trace;
	wo.ram_bytes = zd_script_ram_bytes(script);
	ret = zd_world_create(&wo, &run->w);
	if (ret)
		return ret;
	zd_world_set_holder_namer(run->w, zd_run_namer, run);
	if (opts->trace_text)
		zd_trace_set_text(run->w, out);
	run->group = zd_task_group_create();
	if (!run->group)
		zd_run_fail(run, NULL, "cannot create a task group");
	else if (ex)
		zd_task_group_set_explorer(run->group, ex);
	return 0;
}

void zd_run_stmt(struct zd_run *run, size_t index)
{
	const struct zd_stmt *st = &run->script->stmts[index];

	zd_trace_mark(run->w, "%s:%d: %s", st->file, st->line, st->text);
	switch (st->kind) {
	case ZD_ST_EXPLORE:
		zd_run_explore(run, index);
		break;
	case ZD_ST_RUN_THREADS:
		zd_run_threads(run, index);
		break;
	case ZD_ST_ALWAYS:
	case ZD_ST_SOMETIMES:
		break; /* checked by the explore or run-threads they follow */
	default:
		if (zd_stmt_is_action(st))
			zd_run_action(run, st);
		else if (zd_exec_expect(run, st))
			zd_run_fail(run, st, "%s", run->reason);
	}
	zd_run_reap_pending(run);
}

int zd_run_file(const char *path, const struct zd_runner_opts *opts, FILE *out, int index)
{
	struct zd_script *script;
	struct zd_run run;
	size_t i;
	int ret;

	if (zd_script_parse_file(path, &script, stderr))
		return 2;
	ret = zd_run_init(&run, script, opts, out, opts->trace_json != NULL, NULL);
	if (ret) {
		fprintf(out, "FAIL %s:0: cannot create a world: %s\n", path, zd_errno_name(-ret));
		zd_script_free(script);
		return 1;
	}
	for (i = 0; i < run.script->nr_stmts && !run.failed; i++)
		zd_run_stmt(&run, i);
	if (opts->trace_json) {
		char *tp = zd_trace_path(opts->trace_json, index);

		if (tp && zd_trace_write_json(run.w, tp))
			fprintf(stderr, "zonedev: cannot write the trace %s\n", tp);
		free(tp);
	}
	if (run.failed)
		fprintf(out, "FAIL %s:%d: %s\n", path, run.fail_line, run.reason);
	else if (!opts->quiet)
		fprintf(out, "PASS %s\n", path);
	zd_run_teardown(&run);
	zd_script_free(script);
	return run.failed ? 1 : 0;
}
