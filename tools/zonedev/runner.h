/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the scenario runner: one fresh world per file, statements run
 * as tasks so a statement that blocks is reported BLOCKED and left pending.
 */
#ifndef ZD_RUNNER_H
#define ZD_RUNNER_H

#include <errno.h>
#include <stdio.h>
#include "zonedev/zonedev.h"
#include "script.h"
#include "sync/sync.h" /* tasks: BLOCKED detection */

struct zd_runner_opts {
	bool has_regime;
	enum zd_regime regime;
	const char *trace_json; /* --trace=FILE.json */
	bool trace_text;	/* --trace-text */
	bool quiet;		/* -q */
};

enum zd_handle_kind {
	ZD_H_PAGES,  /* alloc-page: device pages */
	ZD_H_REF,    /* tryget: a folio reference */
	ZD_H_PGMAP,  /* get-pagemap: a pgmap reference */
	ZD_H_P2PMEM, /* DEV alloc: an in-kernel P2P allocation starting at pfn */
};

struct zd_rhandle {
	char *name;
	enum zd_handle_kind kind;
	struct zd_device *dev;
	struct zd_folio *folios[ZD_DEVICE_MAX_ALLOC];
	int nr;
	struct zd_dev_pagemap *pgmap;
	unsigned long pfn;
	bool ended; /* put, freed or never defined: the slot stays for the holder's name */
};

struct zd_rdevice {
	char *name;
	struct zd_device *dev;
};

struct zd_result {
	const char *name;
	int64_t value;
};

#define ZD_MAX_RESULTS 8

struct zd_pending;

/* Everything one file's run keeps. Only the runner thread changes it. */
struct zd_run {
	const struct zd_runner_opts *opts;
	struct zd_script *script;
	struct zd_world *w;
	struct zd_task_group *group;
	FILE *out;
	struct zd_rdevice *devices;
	size_t nr_devices;
	struct zd_rhandle *handles;
	size_t nr_handles;
	struct zd_result results[ZD_MAX_RESULTS];
	int nr_results;
	struct zd_pending *pending;
	bool failed;
	char reason[512];
	int fail_line;
};

/* Work a task does for one statement; the runner applies its outcome afterwards. */
struct zd_exec {
	struct zd_run *run;
	const struct zd_stmt *st;
	int ret;	  /* 0 or -errno */
	char reason[256]; /* why it failed */
	struct zd_device *new_dev;
	struct zd_folio *folios[ZD_DEVICE_MAX_ALLOC];
	int nr;
	struct zd_dev_pagemap *pgmap;
	unsigned long pfn;
	struct zd_result results[ZD_MAX_RESULTS];
	int nr_results;
	size_t slot; /* the handle a defining statement fills (slot + 1 is its holder id) */
};

/* Run one file. Returns 0 passed, 1 failed, 2 syntax or usage error. */
int zd_run_file(const char *path, const struct zd_runner_opts *opts, FILE *out, int index);

/* exec.c: on the runner thread, before the task: resolve names, reserve new handles. */
int zd_exec_prepare(struct zd_run *run, struct zd_exec *e);
/* exec.c: the statement's action, on a task. Fills e->ret / e->reason / outputs. */
void zd_exec_action(struct zd_exec *e);
/* exec.c: after an action completed, record names (devices, handles) in the run. */
void zd_exec_apply(struct zd_run *run, struct zd_exec *e);
bool zd_stmt_is_action(const struct zd_stmt *st);

/* expect.c: expectations and dumps, on the runner thread. 0 or -1 with run->reason set. */
int zd_exec_expect(struct zd_run *run, const struct zd_stmt *st);

/* Lookups. */
struct zd_rdevice *zd_run_device(struct zd_run *run, const char *name);
struct zd_rhandle *zd_run_handle(struct zd_run *run, const char *name);
/* A DEV+Np page: 0 and *pfn, or -1 with run->reason set. */
int zd_run_page_pfn(struct zd_run *run, const struct zd_scr_page *page, unsigned long *pfn);
size_t zd_run_pending_count(struct zd_run *run);
void zd_run_fail(struct zd_run *run, const struct zd_stmt *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *zd_errno_name(int err);

#endif
