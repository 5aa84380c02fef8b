/* SPDX-License-Identifier: MIT */
/*
 * zonedev benchmarks: shared helpers: the machine line, the clock, repeated
 * runs with min/median/max, the physical floors and the goal tally.
 */
#ifndef ZONEDEV_BENCHLIB_H
#define ZONEDEV_BENCHLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zonedev/zonedev.h"

#define BENCH_KiB (1ull << 10)
#define BENCH_MiB (1ull << 20)
#define BENCH_GiB (1ull << 30)
#define BENCH_TiB (1ull << 40)

/* The size of a struct page, kernel and ours: what the record floor writes. */
#define BENCH_RECORD_SIZE 64

/*
 * Command line of every benchmark: --quick (small sizes, one repetition: CI
 * smoke runs), --reps N (repetitions per measurement), --help.
 */
struct bench_opts {
	const char *name; /* "memremap-init" */
	bool quick;
	int reps; /* 0: the benchmark's default */
};

/* Parse argv; prints usage and exits on --help or a bad argument. */
void bench_parse_args(struct bench_opts *o, const char *name, int argc, char **argv);
/* Repetitions: --reps if given, else 1 with --quick, else dflt. */
int bench_reps(const struct bench_opts *o, int dflt);

/* Print the header: benchmark, date, machine (CPU model, cores, RAM, kernel), compiler. */
void bench_print_machine(const struct bench_opts *o);

/* Monotonic clock in ns (zd_clock_ns). */
uint64_t bench_now_ns(void);

/*
 * CPU time of the calling thread, user and kernel mode, in ns (getrusage
 * RUSAGE_THREAD; tick-sampled on most kernels, so only meaningful over
 * tens of milliseconds or more).
 */
void bench_cpu_ns(double *user_ns, double *sys_ns);

/* ---- Repeated runs ------------------------------------------------------ */

#define BENCH_MAX_REPS 64

struct bench_stats {
	int n;
	double min, median, max;
};

/* Min, median (mean of the middle two for even n), max of n samples (n >= 1). */
void bench_stats_of(const double *samples, int n, struct bench_stats *out);

/*
 * Run fn reps times; fn returns the measured ns of one run (so set-up can
 * stay out of the figure). Returns the stats in out.
 */
void bench_run(int reps, double (*fn)(void *arg), void *arg, struct bench_stats *out);

/* "min / median / max" of s divided by div, with printf format fmt per value. */
void bench_print_stats(const char *label, const struct bench_stats *s, double div,
		       const char *unit);

/* ---- Physical floors ------------------------------------------------------ */

/*
 * Floor (a): write nr 64-byte records (eight 8-byte stores, one of them the
 * index, as a struct page's fields) into freshly mmap'd anonymous memory
 * (MAP_PRIVATE | MAP_NORESERVE, as the library allocates memmaps), then
 * munmap it. Times: the mmap plus first-touch writes (init), a second write
 * pass over the now-populated memory (steady state), and the munmap.
 */
struct bench_record_floor {
	double init_ns;			  /* mmap + first write pass */
	double init_user_ns, init_sys_ns; /* its CPU time, user and kernel mode */
	double steady_ns;		  /* second write pass, memory already populated */
	double unmap_ns;		  /* munmap */
};

/* Flags of bench_floor_record_write(). */
#define BENCH_FLOOR_HUGEPAGE (1u << 0) /* madvise(MADV_HUGEPAGE) the mapping (context only) */

/* Returns 0, or -1 if the mapping failed. */
int bench_floor_record_write(unsigned long nr, unsigned int flags, struct bench_record_floor *out);

/* Floor (b): ns of one memcpy of bytes between two pre-faulted buffers; -1 on failure. */
double bench_floor_memcpy(size_t bytes);

/* Floor (c): ns per bare atomic add/sub pair on one counter, over iters pairs. */
double bench_floor_atomic_pair(unsigned long iters);

/* ---- Process memory ------------------------------------------------------- */

/* Resident set size in bytes (/proc/self/statm), or 0 if unreadable. */
uint64_t bench_rss_bytes(void);

/* ---- Goals ----------------------------------------------------------------- */

struct bench_goals {
	int met;
	int total;
};

/* Print "goal <what>: met" or "... NOT met" and count it. Returns met. */
bool bench_goal(struct bench_goals *g, bool met, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Print the final line "bench <name>: goals met M/N". */
void bench_goals_finish(const struct bench_opts *o, const struct bench_goals *g);

/* Human-readable size into buf: "256 GiB", "1 TiB", "64 MiB"; returns buf. */
const char *bench_size_str(uint64_t bytes, char *buf, size_t len);

/* Print "bench NAME: WHAT failed: ERR" and exit 1. */
void bench_die(const char *bench, const char *what, int ret) __attribute__((noreturn));
/*
 * A fresh world (no holder ledger, 64 MiB RAM) and an unregistered pgmap of
 * `type` over a new region of `size` bytes with folio order `shift`.
 * Dies on failure.
 */
void bench_world_pgmap(const char *bench, uint64_t size, unsigned int shift,
		       enum zd_memory_type type, struct zd_world **w, struct zd_dev_pagemap **p);

#endif
