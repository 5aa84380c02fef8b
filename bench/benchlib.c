/* SPDX-License-Identifier: MIT */
/*
 * zonedev benchmarks: the shared helpers declared in benchlib.h (machine
 * line, clock, repeated runs, floors, RSS, goal tally).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RUSAGE_THREAD */
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "sync/sync.h"
#include "benchlib.h"

static void bench_usage(const struct bench_opts *o, FILE *f)
{
	fprintf(f,
		"usage: bench-%s [--quick] [--reps N]\n"
		"  --quick   small sizes and one repetition (CI smoke run)\n"
		"  --reps N  repetitions per measurement (1..%d)\n",
		o->name, BENCH_MAX_REPS);
}

void bench_parse_args(struct bench_opts *o, const char *name, int argc, char **argv)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->name = name;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			o->quick = true;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			o->reps = atoi(argv[++i]);
			if (o->reps < 1 || o->reps > BENCH_MAX_REPS) {
				bench_usage(o, stderr);
				exit(2);
			}
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			bench_usage(o, stdout);
			exit(0);
		} else {
			fprintf(stderr, "bench-%s: unknown argument '%s'\n", name, argv[i]);
			bench_usage(o, stderr);
			exit(2);
		}
	}
}

int bench_reps(const struct bench_opts *o, int dflt)
{
	if (o->reps)
		return o->reps;
	return o->quick ? 1 : dflt;
}

/* The value of the first "key : value" line of /proc/cpuinfo, or "?". */
static void bench_cpuinfo(const char *key, char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	size_t klen = strlen(key);

	snprintf(out, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon, *v;

		if (strncmp(line, key, klen) ||
		    (line[klen] != ' ' && line[klen] != '\t' && line[klen] != ':'))
			continue;
		colon = strchr(line, ':');
		if (!colon)
			continue;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, len, "%s", v);
		break;
	}
	fclose(f);
}

/* Contents of a one-line sysfs file without the newline, or "?". */
static void bench_read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(out, len, "?");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

void bench_print_machine(const struct bench_opts *o)
{
	char model[128], family[16], cpumodel[16], thp[96], date[32];
	struct utsname u;
	time_t now = time(NULL);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);

	bench_cpuinfo("model name", model, sizeof(model));
	bench_cpuinfo("cpu family", family, sizeof(family));
	bench_cpuinfo("model", cpumodel, sizeof(cpumodel));
	bench_read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	printf("bench %s%s, %s\n", o->name, o->quick ? " (--quick)" : "", date);
	printf("machine: %s (family %s model %s), %ld cores, %.1f GiB RAM, Linux %s, THP %s\n",
	       model, family, cpumodel, cores, ram / (double)BENCH_GiB, u.release, thp);
#ifdef __OPTIMIZE__
	printf("build: gcc %s, optimised%s\n", __VERSION__,
#ifdef NDEBUG
	       ", NDEBUG"
#else
	       ""
#endif
	);
#else
	printf("build: gcc %s, NOT optimised (-O0): figures are meaningless\n", __VERSION__);
#endif
}

uint64_t bench_now_ns(void)
{
	return zd_clock_ns();
}

void bench_cpu_ns(double *user_ns, double *sys_ns)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru)) {
		*user_ns = *sys_ns = 0;
		return;
	}
	*user_ns = (double)ru.ru_utime.tv_sec * 1e9 + (double)ru.ru_utime.tv_usec * 1e3;
	*sys_ns = (double)ru.ru_stime.tv_sec * 1e9 + (double)ru.ru_stime.tv_usec * 1e3;
}

/* ---- Repeated runs ------------------------------------------------------ */

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void bench_stats_of(const double *samples, int n, struct bench_stats *out)
{
	double sorted[BENCH_MAX_REPS];
	int i;

	if (n < 1) {
		memset(out, 0, sizeof(*out));
		return;
	}
	if (n > BENCH_MAX_REPS)
		n = BENCH_MAX_REPS;
	for (i = 0; i < n; i++)
		sorted[i] = samples[i];
	qsort(sorted, (size_t)n, sizeof(*sorted), bench_cmp_double);
	out->n = n;
	out->min = sorted[0];
	out->max = sorted[n - 1];
	out->median = n & 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

void bench_run(int reps, double (*fn)(void *arg), void *arg, struct bench_stats *out)
{
	double samples[BENCH_MAX_REPS];
	int i;

	if (reps > BENCH_MAX_REPS)
		reps = BENCH_MAX_REPS;
	for (i = 0; i < reps; i++)
		samples[i] = fn(arg);
	bench_stats_of(samples, reps, out);
}

void bench_print_stats(const char *label, const struct bench_stats *s, double div, const char *unit)
{
	printf("  %-34s %10.3f / %10.3f / %10.3f %s (min/median/max of %d)\n", label, s->min / div,
	       s->median / div, s->max / div, unit, s->n);
}

/* ---- Physical floors ------------------------------------------------------ */

struct bench_record {
	uint64_t w[8];
};

/*
 * One pass of struct-page-like stores: a flags word, a pointer, four zero
 * words, the two 32-bit counters (-1, 0) and the index. noinline so both
 * passes run the same code and the stores cannot be merged across passes.
 */
static __attribute__((noinline)) void bench_write_records(struct bench_record *r, unsigned long nr,
							  uint64_t flags)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		r[i].w[0] = flags;
		r[i].w[1] = (uintptr_t)r;
		r[i].w[2] = 0;
		r[i].w[3] = 0;
		r[i].w[4] = 0;
		r[i].w[5] = 0;
		r[i].w[6] = 0x00000000ffffffffull;
		r[i].w[7] = i;
	}
	__asm__ volatile("" : : "r"(r) : "memory");
}

int bench_floor_record_write(unsigned long nr, unsigned int flags, struct bench_record_floor *out)
{
	size_t bytes = (size_t)nr * BENCH_RECORD_SIZE;
	struct bench_record *r;
	double u0, s0, u1, s1;
	uint64_t t0, t1, t2, t3;

	bench_cpu_ns(&u0, &s0);
	t0 = bench_now_ns();
	r = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (r == MAP_FAILED)
		return -1;
	if (flags & BENCH_FLOOR_HUGEPAGE)
		madvise(r, bytes, MADV_HUGEPAGE); /* advice only: failure leaves 4 KiB pages */
	bench_write_records(r, nr, 0x1234);
	t1 = bench_now_ns();
	bench_cpu_ns(&u1, &s1);
	bench_write_records(r, nr, 0x4321);
	t2 = bench_now_ns();
	munmap(r, bytes);
	t3 = bench_now_ns();
	out->init_ns = (double)(t1 - t0);
	out->init_user_ns = u1 - u0;
	out->init_sys_ns = s1 - s0;
	out->steady_ns = (double)(t2 - t1);
	out->unmap_ns = (double)(t3 - t2);
	return 0;
}

double bench_floor_memcpy(size_t bytes)
{
	char *src, *dst;
	uint64_t t0, t1;

	src = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return -1;
	dst = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED) {
		munmap(src, bytes);
		return -1;
	}
	/* Fault both in (and make the source non-zero) so only the copy is timed. */
	memset(src, 0x5a, bytes);
	memset(dst, 0, bytes);
	t0 = bench_now_ns();
	memcpy(dst, src, bytes);
	__asm__ volatile("" : : "r"(dst) : "memory");
	t1 = bench_now_ns();
	munmap(src, bytes);
	munmap(dst, bytes);
	return (double)(t1 - t0);
}

double bench_floor_atomic_pair(unsigned long iters)
{
	static zd_atomic_long_t counter;
	uint64_t t0, t1;
	unsigned long i;

	if (!iters)
		return 0;
	t0 = bench_now_ns();
	for (i = 0; i < iters; i++) {
		zd_atomic_long_add_return_acq_rel(&counter, 1);
		zd_atomic_long_add_return_acq_rel(&counter, -1);
	}
	t1 = bench_now_ns();
	return (double)(t1 - t0) / (double)iters;
}

/* ---- Process memory ------------------------------------------------------- */

uint64_t bench_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- Goals ----------------------------------------------------------------- */

bool bench_goal(struct bench_goals *g, bool met, const char *fmt, ...)
{
	va_list ap;

	printf("goal: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(": %s\n", met ? "met" : "NOT met");
	g->total++;
	if (met)
		g->met++;
	return met;
}

void bench_goals_finish(const struct bench_opts *o, const struct bench_goals *g)
{
	printf("bench %s: goals met %d/%d\n", o->name, g->met, g->total);
}

const char *bench_size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	unsigned int u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes >= 1024 && !(bytes % 1024)) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)bytes, units[u]);
	return buf;
}

void bench_die(const char *bench, const char *what, int ret)
{
	fprintf(stderr, "bench %s: %s failed: %d (%s)\n", bench, what, ret, strerror(-ret));
	exit(1);
}

void bench_world_pgmap(const char *bench, uint64_t size, unsigned int shift,
		       enum zd_memory_type type, struct zd_world **w, struct zd_dev_pagemap **p)
{
	struct zd_world_opts o;
	int ret;

	zd_world_opts_init(&o);
	o.track_holders = false; /* benches: no ledger */
	o.ram_bytes = 64ull << 20;
	ret = zd_world_create(&o, w);
	if (ret)
		bench_die(bench, "zd_world_create", ret);
	*p = zd_pgmap_alloc(1);
	if (!*p)
		bench_die(bench, "zd_pgmap_alloc", -ENOMEM);
	ret = zd_request_free_mem_region(*w, size, ZD_PAGE_SIZE << shift, &(*p)->ranges[0]);
	if (ret)
		bench_die(bench, "zd_request_free_mem_region", ret);
	(*p)->type = type;
	(*p)->vmemmap_shift = shift;
	(*p)->name = "bench";
}
