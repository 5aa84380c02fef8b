/* SPDX-License-Identifier: MIT */
/*
 * bench memmap-bytes: struct-page bytes resident per TiB of device memory per
 * geometry, from zd_memmap_bytes() and from the process's RSS delta.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zonedev/zonedev.h"
#include "benchlib.h"

struct mb_config {
	const char *geometry;
	unsigned int shift;
	uint64_t size;	       /* device bytes measured */
	double kernel_per_tib; /* bytes, anchors A1-A3 */
	const char *kernel_str;
	double goal_per_tib; /* bytes */
	const char *goal_str;
};

struct mb_result {
	struct bench_stats lib, rss; /* bytes measured (not scaled) */
	struct bench_stats init_ns;  /* memremap time, context */
	double lib_per_tib, rss_per_tib;
	unsigned long folios, stored;
};

/* One memremap: the library's memmap bytes and the RSS it added, then teardown. */
static void mb_run(const struct mb_config *c, double *lib, double *rss, double *ns)
{
	struct zd_dev_pagemap *p;
	struct zd_world *w;
	uint64_t rss0, rss1, lib0, lib1, t0, t1;
	int ret;

	bench_world_pgmap("memmap-bytes", c->size, c->shift, ZD_MEMORY_DEVICE_GENERIC, &w, &p);

	lib0 = zd_memmap_bytes(w);
	rss0 = bench_rss_bytes();
	t0 = bench_now_ns();
	ret = zd_memremap_pages(w, p);
	t1 = bench_now_ns();
	rss1 = bench_rss_bytes();
	lib1 = zd_memmap_bytes(w);
	if (ret)
		bench_die("memmap-bytes", "zd_memremap_pages", ret);
	ret = zd_memunmap_pages(p);
	if (ret)
		bench_die("memmap-bytes", "zd_memunmap_pages", ret);
	zd_world_destroy(w);
	zd_pgmap_free(p);
	*lib = (double)(lib1 - lib0);
	*rss = (double)rss1 - (double)rss0;
	*ns = (double)(t1 - t0);
}

/* "16.000 GiB", "64.000 MiB", "128.0 KiB": the unit that keeps the value >= 1. */
static const char *mb_bytes(double b, char *buf, size_t len)
{
	if (b >= (double)BENCH_GiB)
		snprintf(buf, len, "%.3f GiB", b / (double)BENCH_GiB);
	else if (b >= (double)BENCH_MiB)
		snprintf(buf, len, "%.3f MiB", b / (double)BENCH_MiB);
	else
		snprintf(buf, len, "%.1f KiB", b / (double)BENCH_KiB);
	return buf;
}

int main(int argc, char **argv)
{
	static struct mb_config full[] = {
	    {"4 KiB", 0, 64 * BENCH_GiB, 16.0 * BENCH_GiB, "16 GiB (A1)", 16.0 * BENCH_GiB,
	     "16 GiB"},
	    {"2 MiB", 9, BENCH_TiB, 4.0 * BENCH_GiB, "4 GiB (A2)", 64.0 * BENCH_MiB, "64 MiB"},
	    {"1 GiB", 18, BENCH_TiB, 40e6, "40 MB (A3)", 1.0 * BENCH_MiB, "1 MiB"},
	};
	static struct mb_config quick[] = {
	    {"4 KiB", 0, BENCH_GiB, 16.0 * BENCH_GiB, "16 GiB (A1)", 16.0 * BENCH_GiB, "16 GiB"},
	    {"2 MiB", 9, 64 * BENCH_GiB, 4.0 * BENCH_GiB, "4 GiB (A2)", 64.0 * BENCH_MiB, "64 MiB"},
	    {"1 GiB", 18, 64 * BENCH_GiB, 40e6, "40 MB (A3)", 1.0 * BENCH_MiB, "1 MiB"},
	};
	struct mb_result res[3];
	struct mb_config *cfgs;
	struct bench_opts opts;
	struct bench_goals goals = {0, 0};
	char a[32], b[32], k[32], sz[32];
	int reps, i, j;

	bench_parse_args(&opts, "memmap-bytes", argc, argv);
	cfgs = opts.quick ? quick : full;
	reps = bench_reps(&opts, 3);
	bench_print_machine(&opts);
	printf("what: struct-page bytes of one GENERIC pgmap after zd_memremap_pages, from "
	       "zd_memmap_bytes() and from the RSS delta (/proc/self/statm) across the call;\n"
	       "      scaled to 1 TiB of device memory; %d run%s per geometry, min / median / "
	       "max\n",
	       reps, reps == 1 ? "" : "s");

	for (i = 0; i < 3; i++) {
		const struct mb_config *c = &cfgs[i];
		struct mb_result *r = &res[i];
		double lib[BENCH_MAX_REPS], rss[BENCH_MAX_REPS], ns[BENCH_MAX_REPS];
		double scale = (double)BENCH_TiB / (double)c->size;

		for (j = 0; j < reps; j++)
			mb_run(c, &lib[j], &rss[j], &ns[j]);
		bench_stats_of(lib, reps, &r->lib);
		bench_stats_of(rss, reps, &r->rss);
		bench_stats_of(ns, reps, &r->init_ns);
		r->lib_per_tib = r->lib.median * scale;
		r->rss_per_tib = r->rss.median * scale;
		r->folios = (unsigned long)(c->size >> (ZD_PAGE_SHIFT + c->shift));
		r->stored = (unsigned long)(r->lib.median / 64);

		printf("\n%s geometry (vmemmap_shift %u), %s device, %lu folio%s, scale x%.0f to 1 "
		       "TiB\n",
		       c->geometry, c->shift, bench_size_str(c->size, sz, sizeof(sz)), r->folios,
		       r->folios == 1 ? "" : "s", scale);
		bench_print_stats("zd_memmap_bytes()", &r->lib, BENCH_MiB, "MiB");
		bench_print_stats("RSS delta", &r->rss, BENCH_MiB, "MiB");
		printf("  %-34s %lu of %lu (kernel: %lu of %lu%s)\n",
		       "struct pages stored per folio", r->folios ? r->stored / r->folios : 0,
		       1ul << c->shift, c->shift ? 128ul : 1ul, 1ul << c->shift,
		       c->shift ? ", A5" : "");
		printf("  %-34s %s (zd_memmap_bytes), %s (RSS)\n", "per TiB",
		       mb_bytes(r->lib_per_tib, a, sizeof(a)),
		       mb_bytes(r->rss_per_tib, b, sizeof(b)));
		printf("  %-34s %s; ours / kernel = %.4f\n", "kernel per TiB", c->kernel_str,
		       r->lib_per_tib / c->kernel_per_tib);
		printf("  %-34s %+.1f KiB (bytes the RSS shows beyond the memmap)\n",
		       "RSS - zd_memmap_bytes (median)",
		       (r->rss.median - r->lib.median) / BENCH_KiB);
		bench_print_stats("memremap time (context)", &r->init_ns, 1e6, "ms");
		fflush(stdout);
	}

	printf("\nsummary (medians, per TiB of device memory)\n");
	printf("  %-6s %16s %16s %14s %10s\n", "geom", "zd_memmap_bytes", "RSS delta", "kernel",
	       "goal");
	for (i = 0; i < 3; i++)
		printf("  %-6s %16s %16s %14s %10s\n", cfgs[i].geometry,
		       mb_bytes(res[i].lib_per_tib, a, sizeof(a)),
		       mb_bytes(res[i].rss_per_tib, b, sizeof(b)), cfgs[i].kernel_str,
		       cfgs[i].goal_str);
	printf("\n");
	for (i = 0; i < 3; i++) {
		const struct mb_config *c = &cfgs[i];
		const struct mb_result *r = &res[i];

		/* The goal is on struct-page bytes; the RSS shows they are all there is. */
		bench_goal(&goals, r->lib_per_tib <= c->goal_per_tib,
			   "%s geometry <= %s per TiB (%s of struct pages per TiB; RSS %s%s)",
			   c->geometry, c->goal_str, mb_bytes(r->lib_per_tib, a, sizeof(a)),
			   mb_bytes(r->rss_per_tib, k, sizeof(k)),
			   r->rss_per_tib <= c->goal_per_tib ? "" : ", over by non-memmap bytes");
	}
	bench_goals_finish(&opts, &goals);
	return 0;
}
