/* SPDX-License-Identifier: MIT */
/*
 * zonedev benchmark: the explorer on the races of scenarios/races/ (goals of
 * shared/design/benchmarks.md: >= 10,000 executions/s, every seeded race
 * found in < 1 s). Each file runs through the zonedev CLI twice: as shipped
 * (clean: its explorations run to the end; executions/s = executions over
 * the explorations' own time as the CLI reports it, world building for every
 * execution included, process start-up not) and, when it has
 * `#!buggy ` lines, with them enabled (the time and executions to the first
 * failing execution, as the explorer reports them). The CLI is the one built
 * next to this benchmark (ZD_BENCH_CLI), run with --progress so that it
 * prints each exploration's final count.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

#ifndef ZD_BENCH_CLI
#define ZD_BENCH_CLI "zonedev"
#endif
#ifndef ZD_BENCH_RACES
#define ZD_BENCH_RACES "scenarios/races"
#endif

struct xr_run {
	double wall_ns;
	unsigned long long executions; /* summed over the file's explorations */
	double explore_s;		/* their time: executions / rate, summed */
	bool found;			/* buggy: a failing execution was reported */
	unsigned long long bug_execs;
	double bug_s;
	int rc;
};

/* Run the CLI on @path, reading what it prints. Returns 0 or -errno. */
static int xr_run_file(const char *path, struct xr_run *r)
{
	char cmd[4096], line[4096];
	uint64_t t0;
	FILE *p;

	memset(r, 0, sizeof(*r));
	snprintf(cmd, sizeof(cmd), "'%s' run -q --progress '%s' 2>&1", ZD_BENCH_CLI, path);
	t0 = bench_now_ns();
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		/* progress lines end in \r; each exploration's last one in \n */
		char *s = strrchr(line, '\r'), *a;
		unsigned long long n;
		double secs;

		s = s ? s + 1 : line;
		if (sscanf(s, "explore: %llu executions", &n) == 1 && strchr(s, '\n')) {
			char *rate = strrchr(s, ',');
			double per_s;

			r->executions += n;
			if (rate && sscanf(rate, ", %lf/s", &per_s) == 1 && per_s > 0)
				r->explore_s += (double)n / per_s;
		}
		a = strstr(s, " after ");
		if (a && sscanf(a, " after %llu executions (%lf s", &n, &secs) == 2 && !r->found) {
			r->found = true;
			r->bug_execs = n;
			r->bug_s = secs;
		}
	}
	r->rc = pclose(p);
	r->wall_ns = (double)(bench_now_ns() - t0);
	return 0;
}

/* A copy of @path with its `#!buggy ` lines enabled, in @out. Returns 1 if it has any. */
static int xr_buggy_copy(const char *path, const char *out)
{
	FILE *in = fopen(path, "r"), *o;
	char line[4096];
	int any = 0;

	if (!in)
		return -errno;
	o = fopen(out, "w");
	if (!o) {
		fclose(in);
		return -errno;
	}
	while (fgets(line, sizeof(line), in)) {
		if (!strncmp(line, "#!buggy ", 8)) {
			fputs(line + 8, o);
			any = 1;
		} else {
			fputs(line, o);
		}
	}
	fclose(in);
	fclose(o);
	return any;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_goals g = {0};
	unsigned long long total = 0;
	double total_s = 0, worst_bug = 0, best_rate = 0;
	bool all_found = true, any_buggy = false;
	char tmpdir[] = "/tmp/zd-bench-races-XXXXXX";
	glob_t gl;
	size_t i;

	bench_parse_args(&o, "explore-races", argc, argv);
	bench_print_machine(&o);
	if (glob(ZD_BENCH_RACES "/*.zds", 0, NULL, &gl) || !gl.gl_pathc)
		bench_die("explore-races", "no scenario in " ZD_BENCH_RACES, -ENOENT);
	if (!mkdtemp(tmpdir))
		bench_die("explore-races", "mkdtemp", -errno);
	printf("%-28s %12s %10s %10s %10s | %-24s\n", "file", "executions", "wall s", "explore s",
	       "exec/s", "buggy: first bug");
	for (i = 0; i < gl.gl_pathc; i++) {
		const char *path = gl.gl_pathv[i], *base = strrchr(path, '/');
		char bug_path[4200], bug_txt[64] = "-";
		struct xr_run clean, bug;
		double rate;
		int has;

		base = base ? base + 1 : path;
		if (xr_run_file(path, &clean))
			bench_die("explore-races", "popen", -errno);
		if (clean.rc)
			printf("ERROR: %s fails as shipped (exit %d)\n", base, clean.rc);
		rate = clean.explore_s > 0 ? (double)clean.executions / clean.explore_s : 0;
		total += clean.executions;
		total_s += clean.explore_s;
		if (rate > best_rate)
			best_rate = rate;
		snprintf(bug_path, sizeof(bug_path), "%s/%s", tmpdir, base);
		has = xr_buggy_copy(path, bug_path);
		if (has > 0) {
			any_buggy = true;
			xr_run_file(bug_path, &bug);
			if (bug.found) {
				snprintf(bug_txt, sizeof(bug_txt), "%llu exec, %.3f s", bug.bug_execs,
					 bug.bug_s);
				if (bug.bug_s > worst_bug)
					worst_bug = bug.bug_s;
			} else {
				snprintf(bug_txt, sizeof(bug_txt), "NOT FOUND");
				all_found = false;
			}
			unlink(bug_path);
		}
		printf("%-28s %12llu %10.3f %10.3f %10.0f | %-24s\n", base, clean.executions,
		       clean.wall_ns / 1e9, clean.explore_s, rate, bug_txt);
	}
	rmdir(tmpdir);
	globfree(&gl);
	printf("all files: %llu executions in %.3f s of exploring = %.0f executions/s (best file "
	       "%.0f/s)\n",
	       total, total_s, total_s > 0 ? (double)total / total_s : 0, best_rate);
	bench_goal(&g, total_s > 0 && (double)total / total_s >= 10000,
		   ">= 10,000 executions/s over the race scenarios (%.0f/s)",
		   total_s > 0 ? (double)total / total_s : 0);
	bench_goal(&g, any_buggy && all_found && worst_bug < 1.0,
		   "every seeded race found in < 1 s (worst %.3f s)", worst_bug);
	bench_goals_finish(&o, &g);
	return 0;
}
