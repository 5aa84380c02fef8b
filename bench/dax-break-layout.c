/* SPDX-License-Identifier: MIT */
/*
 * bench dax-break-layout: truncate a mapped DAX file of 2^18 .. 2^22 pages
 * to 0 with 0, 1 or 64 busy (referenced) pages: unmap, busy scan, waits,
 * entry deletion (large folios dissolved), block freeing. Per-page cost
 * against the record-write floor (one struct-page-sized record per page).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/dax.h"
#include "sync/sync.h"
#include "benchlib.h"

#define BUSY_HOLDER ZD_HOLDER(ZD_HOLD_HANDLE, 1)

struct dbl_env {
	struct zd_world *w;
	struct zd_device *dev;
	struct zd_daxfs *fs;
	struct zd_mm *mm;
	uint64_t addr;
	unsigned long pages;
	bool huge; /* 2 MiB device alignment: PMD mappings of order-9 folios */
	int nr_busy;
	bool unmapped; /* munmap'd after the faults: the zap's 1 -> 0 frees are not timed */
	struct zd_folio *busy[64];
	int ret; /* the truncate's */
};

static long dbl_minflt; /* minor faults of the last unbusy truncate (host page faults) */

static long dbl_thread_minflt(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_minflt;
}

static void dbl_env_create(struct dbl_env *e, unsigned long pages, bool huge, int nr_busy,
			   bool unmapped)
{
	struct zd_device_config cfg = {.name = "pmem0", .type = ZD_MEMORY_DEVICE_FS_DAX};
	struct zd_world_opts o;
	uint64_t bytes = (uint64_t)pages << ZD_PAGE_SHIFT, off, step;
	unsigned char c;
	int ret, i;

	memset(e, 0, sizeof(*e));
	e->pages = pages;
	e->huge = huge;
	e->nr_busy = nr_busy;
	zd_world_opts_init(&o);
	o.track_holders = false;
	o.trace = false;
	o.ram_bytes = 64 * BENCH_MiB;
	ret = zd_world_create(&o, &e->w);
	if (ret)
		bench_die("dax-break-layout", "zd_world_create", ret);
	cfg.size = bytes;
	cfg.align_order = huge ? 9 : 0;
	ret = zd_device_create(e->w, &cfg, &e->dev);
	if (ret)
		bench_die("dax-break-layout", "zd_device_create", ret);
	e->fs = zd_pmem_fs(e->dev);
	ret = zd_mm_create(e->w, "bench", &e->mm);
	if (!ret)
		ret = zd_dax_create(e->fs, "f", bytes);
	if (!ret)
		ret = zd_dax_mmap(e->fs, "f", e->mm, bytes, ZD_PROT_READ | ZD_PROT_WRITE, &e->addr);
	if (ret)
		bench_die("dax-break-layout", "file set-up", ret);
	/* Map every page: one read per PMD (2 MiB) or per page (4 KiB). */
	step = huge ? 2 * BENCH_MiB : ZD_PAGE_SIZE;
	for (off = 0; off < bytes; off += step) {
		ret = zd_access_read(e->mm, e->addr + off, &c, 1);
		if (ret)
			bench_die("dax-break-layout", "fault", ret);
	}
	if (unmapped && zd_munmap(e->mm, e->addr, bytes))
		bench_die("dax-break-layout", "munmap", -EINVAL);
	/* Busy pages spread over the file, each held by a reference (a DMA). */
	for (i = 0; i < nr_busy; i++) {
		uint64_t at = (uint64_t)(pages / (unsigned long)nr_busy) * (unsigned long)i;

		e->busy[i] = zd_mm_folio(e->mm, e->addr + (at << ZD_PAGE_SHIFT));
		if (!e->busy[i])
			bench_die("dax-break-layout", "busy page", -EFAULT);
		zd_folio_get(e->busy[i], BUSY_HOLDER);
	}
}

static void dbl_truncate_task(void *arg)
{
	struct dbl_env *e = arg;

	e->ret = zd_dax_truncate(e->fs, "f", 0);
}

/* ns of the truncate, including every wait and the wake-ups of the busy pages' release. */
static double dbl_once(struct dbl_env *e)
{
	struct zd_task_group *g;
	struct zd_task *t;
	uint64_t t0, t1;
	int i = 0;

	long flt = dbl_thread_minflt();

	t0 = bench_now_ns();
	if (!e->nr_busy) {
		e->ret = zd_dax_truncate(e->fs, "f", 0);
		t1 = bench_now_ns();
		dbl_minflt = dbl_thread_minflt() - flt;
	} else {
		g = zd_task_group_create();
		t = g ? zd_task_start(g, dbl_truncate_task, e) : NULL;
		if (!t)
			bench_die("dax-break-layout", "task", -ENOMEM);
		zd_task_group_quiesce(g);
		while (zd_task_state(t) != ZD_TASK_DONE && i < e->nr_busy) {
			zd_folio_put(e->busy[i++], BUSY_HOLDER);
			zd_task_group_quiesce(g);
		}
		t1 = bench_now_ns();
		zd_task_join(t);
		zd_task_group_destroy(g);
		if (i != e->nr_busy)
			bench_die("dax-break-layout", "truncate did not wait for every busy page",
				  -EINVAL);
	}
	if (e->ret)
		bench_die("dax-break-layout", "truncate", e->ret);
	if (zd_dax_file_blocks(e->fs, "f") != 0 || zd_daxfs_nr_free(e->fs) != e->pages)
		bench_die("dax-break-layout", "blocks not freed", -EINVAL);
	return (double)(t1 - t0);
}

struct dbl_case {
	unsigned long pages;
	bool huge;
	int busy;
	bool unmapped;
};

static double dbl_run_case(void *arg)
{
	const struct dbl_case *c = arg;
	struct dbl_env e;
	double ns;

	dbl_env_create(&e, c->pages, c->huge, c->busy, c->unmapped);
	ns = dbl_once(&e);
	zd_world_destroy(e.w);
	return ns;
}

/* The floor: one 64-byte record written per page, memory already populated. */
static double dbl_floor(void *arg)
{
	struct bench_record_floor f;

	if (bench_floor_record_write(*(unsigned long *)arg, 0, &f))
		bench_die("dax-break-layout", "floor", -ENOMEM);
	return f.steady_ns;
}

int main(int argc, char **argv)
{
	static const unsigned long full[] = {1ul << 18, 1ul << 20, 1ul << 22};
	static const unsigned long quick[] = {1ul << 14, 1ul << 16};
	static const int busy[] = {0, 1, 64};
	struct bench_opts opts;
	struct bench_goals goals = {0, 0};
	const unsigned long *sizes;
	double per_page[3][3] = {{0}}, worst = 0;
	int nsizes, reps, si, bi;
	char buf[32], label[96];

	bench_parse_args(&opts, "dax-break-layout", argc, argv);
	bench_print_machine(&opts);
	sizes = opts.quick ? quick : full;
	nsizes = opts.quick ? 2 : 3;
	reps = bench_reps(&opts, 5);
	printf("what: truncate to 0 of a DAX file on a pmem device (unified regime), every 2 MiB\n"
	       "extent mapped by a PMD (order-9 folios), with 0 / 1 / 64 pages held busy; the\n"
	       "busy pages are released one by one as the truncate waits for each (task\n"
	       "switches and quiescence detection included). Floor: a write of one 64-byte\n"
	       "record per page. Set-up (create, map, fault) is not timed.\n\n");
	for (si = 0; si < nsizes; si++) {
		struct bench_stats fs;
		unsigned long pages = sizes[si];

		bench_run(reps, dbl_floor, &pages, &fs);
		printf("%lu pages (%s)\n", pages, bench_size_str((uint64_t)pages << 12, buf,
								 sizeof(buf)));
		bench_print_stats("  floor: record write per page", &fs, (double)pages, "ns");
		for (bi = 0; bi < 3; bi++) {
			struct dbl_case c = {.pages = pages, .huge = true, .busy = busy[bi]};
			struct bench_stats s;

			bench_run(reps, dbl_run_case, &c, &s);
			snprintf(label, sizeof(label), "  truncate, %d busy, per page", busy[bi]);
			bench_print_stats(label, &s, (double)pages, "ns");
			if (!busy[bi])
				printf("    host page faults during the last truncate: %ld\n",
				       dbl_minflt);
			per_page[si][bi] = s.median / (double)pages;
			printf("    ratio to floor (medians): %.1f\n",
			       s.median / (fs.median > 0 ? fs.median : 1));
			if (per_page[si][bi] > worst)
				worst = per_page[si][bi];
		}
	}
	/* Context: the file's mappings gone before the truncate (entries and folios stay). */
	{
		struct dbl_case c = {.pages = sizes[nsizes - 1], .huge = true, .unmapped = true};
		struct bench_stats s;

		bench_run(reps, dbl_run_case, &c, &s);
		snprintf(label, sizeof(label),
			 "context: %lu pages, munmap'd before, 0 busy, per page", c.pages);
		bench_print_stats(label, &s, (double)c.pages, "ns");
	}
	/* Context: the same at 4 KiB geometry (every page PTE-mapped, order-0 folios). */
	{
		struct dbl_case c = {.pages = opts.quick ? 1ul << 12 : 1ul << 16, .huge = false};
		struct bench_stats s;

		bench_run(reps, dbl_run_case, &c, &s);
		snprintf(label, sizeof(label), "context: %lu pages PTE-mapped, 0 busy, per page",
			 c.pages);
		bench_print_stats(label, &s, (double)c.pages, "ns");
	}
	printf("\n");
	bench_goal(&goals, worst <= 20.0, "<= 20 ns per page scanned (worst median %.2f ns)", worst);
	bench_goal(&goals, per_page[nsizes - 1][0] <= 2.0 * per_page[0][0] &&
			       per_page[nsizes - 1][2] <= 2.0 * per_page[0][2],
		   "linear in pages: per-page cost at the largest size within 2x the smallest "
		   "(0 busy %.2f -> %.2f, 64 busy %.2f -> %.2f ns)",
		   per_page[0][0], per_page[nsizes - 1][0], per_page[0][2],
		   per_page[nsizes - 1][2]);
	bench_goals_finish(&opts, &goals);
	return 0;
}
