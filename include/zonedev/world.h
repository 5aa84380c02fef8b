/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the world: one machine with its System RAM, devices, regime,
 * museum bugs, fault-injection sites, auditor and trace.
 */
#ifndef ZONEDEV_WORLD_H
#define ZONEDEV_WORLD_H

#include "zonedev/types.h"

struct zd_world;

struct zd_world_opts {
	enum zd_regime regime; /* default ZD_REGIME_UNIFIED */
	uint64_t ram_bytes;    /* default 1 GiB */
	uint64_t seed;	       /* default 1 */
	bool track_holders;    /* keep the holder ledger (the auditor's "who holds it") */
	bool trace;	       /* record trace events */
};

/* Defaults: unified, 1 GiB RAM, seed 1, holders tracked, no trace. */
void zd_world_opts_init(struct zd_world_opts *opts);
/* Returns 0 or -ENOMEM / -EINVAL. */
int zd_world_create(const struct zd_world_opts *opts, struct zd_world **out);
/*
 * Destroy a world and everything in it. Pgmaps still registered are torn
 * down without waiting; memory their drivers own stays the drivers'.
 */
void zd_world_destroy(struct zd_world *w);

/*
 * Run fn(arg) when the world is destroyed, after its pgmaps were torn down
 * (drivers free their objects this way). Returns 0 or -ENOMEM.
 */
int zd_world_add_cleanup(struct zd_world *w, void (*fn)(void *arg), void *arg);
void zd_world_remove_cleanup(struct zd_world *w, void (*fn)(void *arg), void *arg);

enum zd_regime zd_world_regime(const struct zd_world *w);
/* -EBUSY once a device exists. */
int zd_world_set_regime(struct zd_world *w, enum zd_regime regime);
/* -EBUSY while a RAM page is allocated; -EINVAL for 0 or more than 1 TiB. */
int zd_world_set_ram(struct zd_world *w, uint64_t bytes);
uint64_t zd_world_seed(const struct zd_world *w);
void zd_world_set_seed(struct zd_world *w, uint64_t seed);

/* ---- Fault injection --------------------------------------------------- */

enum zd_fail_site {
	ZD_FAIL_RAM = 0, /* a system RAM page */
	ZD_FAIL_PGTABLE, /* a page-table page */
	ZD_FAIL_INSERT,	 /* inserting a page into a user mapping */
	ZD_FAIL_MEMMAP,	 /* struct pages at memremap */
	ZD_FAIL_ALLOC,	 /* any internal allocation (see zd_world_fail_nth) */
	ZD_NR_FAIL_SITES,
};

const char *zd_fail_site_name(enum zd_fail_site site);
const char *zd_fail_site_help(enum zd_fail_site site);
int zd_fail_site_parse(const char *name, enum zd_fail_site *out);
/* The next `count` operations at `site` fail with -ENOMEM. */
void zd_world_fail(struct zd_world *w, enum zd_fail_site site, unsigned long count);
/* The n-th (1-based) internal allocation from now fails; 0 disarms. */
void zd_world_fail_nth_alloc(struct zd_world *w, unsigned long n);
/* Internal allocations made so far, and bytes currently held by the library. */
unsigned long zd_world_alloc_count(const struct zd_world *w);
uint64_t zd_world_bytes_in_use(const struct zd_world *w);

/* ---- The bug museum ---------------------------------------------------- */

struct zd_bug_info {
	const char *id;
	unsigned int regimes; /* bit (1 << enum zd_regime) per regime the bug can exist in */
	const char *fixed_by;
	const char *account;
	bool implemented;
};

/* Iterate: NULL past the end. */
const struct zd_bug_info *zd_bug_info(unsigned int index);
/* Enable bug `id`: -ENOENT unknown, -EINVAL wrong regime, -EBUSY after a device, -EOPNOTSUPP not
 * yet modelled. */
int zd_world_enable_bug(struct zd_world *w, const char *id);
bool zd_world_bug_enabled(const struct zd_world *w, const char *id);

#endif
