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
#include "zonedev/vm.h"
#include "script.h"
#include "sync/sync.h" /* tasks: BLOCKED detection */
#include "sync/explore.h"

struct zd_runner_opts {
	bool has_regime;
	enum zd_regime regime;
	const char *trace_json; /* --trace=FILE.json */
	bool trace_text;	/* --trace-text */
	bool quiet;		/* -q */
	const char *schedule;	/* replay: run this one schedule at each explore */
	bool explore_progress;	/* progress of long explorations on stderr */
};

enum zd_handle_kind {
	ZD_H_PAGES,  /* alloc-page: device pages */
	ZD_H_REF,    /* tryget: a folio reference */
	ZD_H_PGMAP,  /* get-pagemap: a pgmap reference */
	ZD_H_P2PMEM, /* DEV alloc: an in-kernel P2P allocation starting at pfn */
	ZD_H_GUP,    /* gup: pages got or pinned (pfns[], gup_flags, holder) */
};

struct zd_rhandle {
	char *name;
	enum zd_handle_kind kind;
	struct zd_device *dev;
	struct zd_folio *folios[ZD_DEVICE_MAX_ALLOC];
	int nr;
	struct zd_dev_pagemap *pgmap;
	unsigned long pfn;
	/*
	 * Every page the handle holds, one pfn per 4 KiB page, in order: what `pinned H` reads
	 * and writes. A gup handle owns the array from its statement's prepare on (the task
	 * fills it); the other kinds get theirs when their statement is applied.
	 */
	unsigned long *pfns;
	unsigned long nr_pfns;
	unsigned int gup_flags;	 /* ZD_H_GUP: the statement's ZD_SCR_GUP_* */
	struct zd_holder holder; /* ZD_H_GUP: who holds the references (pin:H, gup:H ...) */
	bool ended; /* put, freed or never defined: the slot stays for the holder's name */
};

struct zd_rdevice {
	char *name;
	struct zd_device *dev;
};

/* A named mapping of a process (§5): `P mmap NAME`. munmap keeps the name. */
struct zd_rmapping {
	char *name;
	uint64_t start; /* 0 if the `~ P mmap` that named it failed */
	uint64_t size;
};

/*
 * A process (§5). mm is NULL once the process exited (its `exit` statement began; the
 * address space then belongs to that statement) or when a `~ process` / `~ fork` that named
 * it failed. A child made by fork starts with a copy of its parent's mapping names.
 */
struct zd_rprocess {
	char *name;
	struct zd_mm *mm;
	bool ended; /* exited: a later `process` of the same name is a new entry */
	struct zd_rmapping *maps;
	size_t nr_maps;
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
	struct zd_rprocess *procs; /* exec_vm.c */
	size_t nr_procs;
	struct zd_result results[ZD_MAX_RESULTS];
	int nr_results;
	struct zd_pending *pending;
	size_t thread_pending; /* explore: thread statements still blocked at the end */
	/*
	 * explore: the audit has just run and nothing has acted since, so
	 * `clean` and `violation` checks read its findings instead of auditing
	 * again (an action clears it).
	 */
	bool audited;
	bool failed;
	char reason[512];
	int fail_line;
};

/* Work a task does for one statement; the runner applies its outcome afterwards. */
struct zd_exec {
	struct zd_run *run;
	const struct zd_stmt *st;
	int ret;	  /* 0, -errno, or ZD_EXEC_RET_SIGSEGV / ZD_EXEC_RET_SIGBUS */
	char reason[256]; /* why it failed */
	struct zd_device *new_dev;
	struct zd_folio *folios[ZD_DEVICE_MAX_ALLOC];
	int nr;
	struct zd_dev_pagemap *pgmap;
	unsigned long pfn;
	struct zd_result results[ZD_MAX_RESULTS];
	int nr_results;
	size_t slot; /* the handle a defining statement fills (slot + 1 is its holder id) */
	/* §5 statements (exec_vm.c): resolved by prepare on the runner thread */
	struct zd_mm *mm;	  /* the statement's process (fork: the parent) */
	struct zd_mm *new_mm;	  /* process, fork: the new address space */
	struct zd_device *vm_dev; /* mmap of a device */
	uint64_t addr, len;	  /* the REF's address, the range's length */
	uint64_t new_addr;	  /* mmap: where the mapping went */
	/* §7 statements (exec_gup.c): the handle's pages, resolved by prepare */
	unsigned long *pfns;	   /* gup: the new handle's array; put/unpin/pinned: the handle's */
	unsigned long nr_pfns;	   /* gup: pages asked for; others: pages the handle holds */
	long got;		   /* gup: pages obtained */
	unsigned int gup_flags;	   /* the handle's ZD_SCR_GUP_* */
	struct zd_holder holder;   /* the handle's holder */
	enum zd_handle_kind hkind; /* put/unpin/pinned: the handle's kind */
};

/*
 * An access that raised a signal reports it in zd_exec.ret as one of these (they are far
 * from every errno); runner.c turns them into the scenario errors ZD_SCR_ERR_SIGSEGV and
 * ZD_SCR_ERR_SIGBUS. zd_exec_errcode() gives the scenario error of any ret.
 */
#define ZD_EXEC_RET_SIGSEGV (-ZD_SIGSEGV)
#define ZD_EXEC_RET_SIGBUS (-ZD_SIGBUS)

/* The scenario error (a positive errno or a ZD_SCR_ERR_* sentinel) of zd_exec.ret; 0 if ok. */
static inline int zd_exec_errcode(int ret)
{
	if (ret == ZD_EXEC_RET_SIGSEGV)
		return ZD_SCR_ERR_SIGSEGV;
	if (ret == ZD_EXEC_RET_SIGBUS)
		return ZD_SCR_ERR_SIGBUS;
	return ret < 0 ? -ret : 0;
}

/* Run one file. Returns 0 passed, 1 failed, 2 syntax or usage error. */
int zd_run_file(const char *path, const struct zd_runner_opts *opts, FILE *out, int index);

/*
 * The steps of a run, for explore.c which runs a file's prefix once per execution:
 * a fresh world (traced when @trace; its tasks are model threads of @ex when given),
 * one top-level statement, and the teardown.
 */
int zd_run_init(struct zd_run *run, struct zd_script *script, const struct zd_runner_opts *opts,
		FILE *out, bool trace, struct zd_explorer *ex);
void zd_run_stmt(struct zd_run *run, size_t index);
void zd_run_teardown(struct zd_run *run);
/* Run one action statement as the runner does (BLOCKED detection, prefixes, results). */
void zd_run_action(struct zd_run *run, const struct zd_stmt *st);

/* Set (or add) result @name of the run. */
void zd_results_set(struct zd_run *run, const char *name, int64_t v);
/* Join pending statements that completed since. */
void zd_run_reap_pending(struct zd_run *run);

/* explore.c: `explore` and `run-threads` at stmts[index]. */
void zd_run_explore(struct zd_run *run, size_t index);
void zd_run_threads(struct zd_run *run, size_t index);

/* exec.c: reserve a handle slot for a defining statement (ended until it is applied). */
int zd_run_new_handle_slot(struct zd_run *run, const char *name, size_t *slot);
/* exec.c: on the runner thread, before the task: resolve names, reserve new handles. */
int zd_exec_prepare(struct zd_run *run, struct zd_exec *e);
/* exec.c: the statement's action, on a task. Fills e->ret / e->reason / outputs. */
void zd_exec_action(struct zd_exec *e);
/* exec.c: after an action completed, record names (devices, handles) in the run. */
void zd_exec_apply(struct zd_run *run, struct zd_exec *e);
bool zd_stmt_is_action(const struct zd_stmt *st);

/* expect.c: expectations and dumps, on the runner thread. 0 or -1 with run->reason set. */
int zd_exec_expect(struct zd_run *run, const struct zd_stmt *st);
int zd_expect_fail(struct zd_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* exec_vm.c: the §5 statements (process, mmap ... read), called by exec.c's three steps. */
bool zd_stmt_is_vm(const struct zd_stmt *st);
int zd_exec_vm_prepare(struct zd_run *run, struct zd_exec *e);
void zd_exec_vm_action(struct zd_exec *e);
void zd_exec_vm_apply(struct zd_run *run, struct zd_exec *e);
/* exec_vm.c: at the end of a file, before the world goes: exit every live process. */
void zd_run_vm_teardown(struct zd_run *run);
/* The live process called name (NULL if none), and a mapping of it (NULL if none). */
struct zd_rprocess *zd_run_process(struct zd_run *run, const char *name);
struct zd_rmapping *zd_run_mapping(struct zd_rprocess *p, const char *name);
/* `P REF` as an address: 0 and *addr (and *map if map), or -1 with run->reason set. */
int zd_run_ref_addr(struct zd_run *run, const char *process, const struct zd_scr_ref *ref,
		    struct zd_rprocess **proc, struct zd_rmapping **map, uint64_t *addr);

/* exec_vm.c: data patterns, shared by the CPU (§5) and device (§6) accesses. */
void zd_exec_pattern_bytes(const struct zd_scr_pattern *pat, uint64_t off, unsigned char *buf,
			   size_t len);
void zd_exec_where(const struct zd_st_range *r, char *buf, size_t n);
int zd_exec_pattern_compare(struct zd_exec *e, const unsigned char *buf, const char *op);

/* exec_dev.c: the §6 statements (DEV read ... fail-alloc); they define no names (no apply). */
bool zd_stmt_is_dev(const struct zd_stmt *st);
int zd_exec_dev_prepare(struct zd_run *run, struct zd_exec *e);
void zd_exec_dev_action(struct zd_exec *e);

/* exec_dax.c: the §8 DAX file statements (create, truncate, punch, reflink, delete). */
bool zd_stmt_is_dax(const struct zd_stmt *st);
int zd_exec_dax_prepare(struct zd_run *run, struct zd_exec *e);
void zd_exec_dax_action(struct zd_exec *e);

/* exec_gup.c: the §7 statements gup, unpin, pinned read / write (put: exec.c). */
bool zd_stmt_is_gup(const struct zd_stmt *st);
int zd_exec_gup_prepare(struct zd_run *run, struct zd_exec *e);
void zd_exec_gup_action(struct zd_exec *e);
void zd_exec_gup_apply(struct zd_run *run, struct zd_exec *e);
/* exec_gup.c: `put H` of a gup handle (prepared into e as for unpin). */
int zd_exec_gup_put(struct zd_exec *e);
/* exec_gup.c: resolve an existing handle's pages into e (put, unpin, pinned). */
int zd_exec_gup_use_handle(struct zd_run *run, struct zd_exec *e, const char *name);
/* exec_gup.c: record the pages a non-gup handle holds (alloc-page, tryget, DEV alloc). */
void zd_run_handle_list_pages(struct zd_rhandle *h, unsigned long p2p_pages);
/* exec_gup.c: the handle's pages are no longer held: free the array. */
void zd_run_handle_drop_pages(struct zd_rhandle *h);

/* exec_failure.c: `poison` (§8): memory_failure on a page; defines no names (no apply). */
bool zd_stmt_is_failure(const struct zd_stmt *st);
int zd_exec_failure_prepare(struct zd_run *run, struct zd_exec *e);
void zd_exec_failure_action(struct zd_exec *e);

/* expect_vm.c: `expect entry`, `dump mm`, and the folio behind a `P REF` (expect/dump page). */
int zd_expect_vm_entry(struct zd_run *run, const struct zd_st_expect *x);
int zd_expect_vm_dump_mm(struct zd_run *run, const char *process, FILE *out);
int zd_expect_vm_locate(struct zd_run *run, const struct zd_scr_loc *loc, unsigned long *pfn,
			struct zd_folio **folio);

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
