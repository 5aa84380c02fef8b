/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the command line: run and check scenario files, list the
 * invariants, fault-injection sites and museum bugs.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

static const char zd_usage[] =
    "usage: zonedev <command> [options] [FILE...]\n"
    "\n"
    "Linux's ZONE_DEVICE memory model in userspace: run a scenario, read the trace.\n"
    "\n"
    "commands:\n"
    "  run FILE|DIR...     run scenario files (.zds), each from a fresh world\n"
    "  replay FILE --schedule=S  re-run the one execution an explore reported\n"
    "  check FILE|DIR...   parse and validate only\n"
    "  invariants          list the invariants the auditor checks, with their IDs\n"
    "  sites               list the fault-injection sites of `fail SITE`\n"
    "  bugs                list the bug museum: `bug ID` re-introduces a kernel bug\n"
    "  help [COMMAND]      this text, or a command's\n"
    "  version             print the version\n"
    "\n"
    "Every command takes --help. See zonedev(1) and docs/scenario-language.md.\n";

static const char zd_run_usage[] =
    "usage: zonedev run [--regime=unified|split|legacy] [--trace=FILE.json] [--trace-text] [-q]\n"
    "                   FILE|DIR...\n"
    "\n"
    "Run each scenario from a fresh world; print PASS FILE or FAIL FILE:LINE: reason,\n"
    "then `N passed, N failed`. A directory runs its *.zds files (recursively) in name order.\n"
    "\n"
    "  --regime=R       override the files' `regime` statement\n"
    "  --trace=F.json   write a Chrome/Perfetto trace (one per file: F-2.json, ...)\n"
    "  --trace-text     print every refcount transition in page_ref tracepoint form\n"
    "  -q               print only failures and the closing line\n"
    "  --progress       progress of long explorations on stderr (default: when a tty)\n"
    "\n"
    "exit status: 0 all passed, 1 some failed, 2 usage or syntax error\n";

static const char zd_replay_usage[] =
    "usage: zonedev replay FILE --schedule=S [--regime=R] [--trace=FILE.json] [-q]\n"
    "\n"
    "Run FILE as `zonedev run` does, but each `explore` runs exactly one execution: the one\n"
    "whose schedule S an earlier run printed as `schedule=S`. Its trace (page_ref events,\n"
    "with the thread of each step) is printed; --trace also writes it as Perfetto JSON.\n"
    "\n"
    "exit status: 0 the execution passed, 1 it failed, 2 usage or syntax error\n";

static const char zd_check_usage[] =
    "usage: zonedev check FILE|DIR...\n"
    "\n"
    "Parse and validate scenario files without running them. Errors are printed as\n"
    "FILE:LINE:COL: error: message. Exit status 0 if all are valid, 2 otherwise.\n";

static const char zd_list_usage[] =
    "usage: zonedev invariants | sites | bugs\n"
    "\n"
    "invariants  every invariant of the auditor: ID, where it comes from, one line\n"
    "sites       the fault-injection sites of `fail SITE [count=N]`\n"
    "bugs        the bug museum: ID, regimes, fixing commit, account, modelled or not\n";

struct zd_files {
	char **v;
	size_t n;
};

static int zd_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int zd_files_add(struct zd_files *f, const char *path)
{
	char **v = realloc(f->v, (f->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	f->v = v;
	f->v[f->n] = strdup(path);
	return f->v[f->n++] ? 0 : -1;
}

/* A directory expands to its *.zds files, and those of its subdirectories, in name order. */
static int zd_files_expand(struct zd_files *f, const char *path)
{
	struct stat sb;
	struct dirent *de;
	struct zd_files dirs = {0};
	size_t first = f->n, i;
	DIR *d;
	int ret = 0;

	if (stat(path, &sb) || !S_ISDIR(sb.st_mode))
		return zd_files_add(f, path);
	d = opendir(path);
	if (!d)
		return zd_files_add(f, path);
	while ((de = readdir(d)) && !ret) {
		size_t n = strlen(de->d_name);
		char buf[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
			 de->d_name);
		if (!stat(buf, &st) && S_ISDIR(st.st_mode))
			ret = zd_files_add(&dirs, buf);
		else if (n >= 5 && !strcmp(de->d_name + n - 4, ".zds"))
			ret = zd_files_add(f, buf);
	}
	closedir(d);
	qsort(f->v + first, f->n - first, sizeof(*f->v), zd_cmp_str);
	if (dirs.n)
		qsort(dirs.v, dirs.n, sizeof(*dirs.v), zd_cmp_str);
	for (i = 0; i < dirs.n && !ret; i++)
		ret = zd_files_expand(f, dirs.v[i]);
	for (i = 0; i < dirs.n; i++)
		free(dirs.v[i]);
	free(dirs.v);
	return ret;
}

static void zd_files_free(struct zd_files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
}

static int zd_cmd_run(int argc, char **argv, bool replay)
{
	const char *cmd = replay ? "replay" : "run";
	const char *usage = replay ? zd_replay_usage : zd_run_usage;
	struct zd_runner_opts opts = {0};
	struct zd_files files = {0};
	int i, passed = 0, failed = 0, worst = 0;
	size_t k;

	opts.explore_progress = isatty(2);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (replay && !strncmp(a, "--schedule=", 11)) {
			opts.schedule = a + 11;
		} else if (!strcmp(a, "--progress")) {
			opts.explore_progress = true;
		} else if (!strncmp(a, "--regime=", 9)) {
			if (zd_regime_parse(a + 9, &opts.regime)) {
				fprintf(stderr, "zonedev %s: unknown regime '%s'\n", cmd, a + 9);
				return 2;
			}
			opts.has_regime = true;
		} else if (!strncmp(a, "--trace=", 8) && a[8]) {
			opts.trace_json = a + 8;
		} else if (!strcmp(a, "--trace-text")) {
			opts.trace_text = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			opts.quiet = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "zonedev %s: unknown option '%s'\n%s", cmd, a, usage);
			return 2;
		} else if (zd_files_expand(&files, a)) {
			fprintf(stderr, "zonedev %s: out of memory\n", cmd);
			return 2;
		}
	}
	if (!files.n) {
		fprintf(stderr, "zonedev %s: no scenario file given\n%s", cmd, usage);
		return 2;
	}
	if (replay && (!opts.schedule || files.n != 1)) {
		fprintf(stderr, "zonedev replay: one FILE and --schedule=S are required\n%s", usage);
		zd_files_free(&files);
		return 2;
	}
	for (k = 0; k < files.n; k++) {
		int r = zd_run_file(files.v[k], &opts, stdout, files.n > 1 ? (int)k + 1 : 0);

		if (r == 0)
			passed++;
		else
			failed++;
		if (r > worst)
			worst = r;
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	zd_files_free(&files);
	return worst;
}

static int zd_cmd_check(int argc, char **argv)
{
	struct zd_files files = {0};
	int i, bad = 0;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(zd_check_usage, stdout);
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "zonedev check: unknown option '%s'\n%s", argv[i],
				zd_check_usage);
			return 2;
		}
		if (zd_files_expand(&files, argv[i]))
			return 2;
	}
	if (!files.n) {
		fprintf(stderr, "zonedev check: no scenario file given\n%s", zd_check_usage);
		return 2;
	}
	for (k = 0; k < files.n; k++) {
		struct zd_script *s;

		if (zd_script_parse_file(files.v[k], &s, stderr))
			bad = 1;
		else
			zd_script_free(s);
	}
	zd_files_free(&files);
	return bad ? 2 : 0;
}

static int zd_cmd_list(const char *what, int argc, char **argv)
{
	unsigned int i, r;

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fputs(zd_list_usage, stdout);
			return 0;
		}
		fprintf(stderr, "zonedev %s: takes no arguments\n%s", what, zd_list_usage);
		return 2;
	}
	if (!strcmp(what, "invariants")) {
		for (i = 0; i < ZD_NR_INVARIANTS; i++) {
			const struct zd_invariant_info *inv = zd_invariant_info(i);

			printf("%-28s %-14s %s\n", inv->id, inv->source, inv->summary);
		}
	} else if (!strcmp(what, "sites")) {
		for (i = 0; i < ZD_NR_FAIL_SITES; i++)
			printf("%-8s %s\n", zd_fail_site_name(i), zd_fail_site_help(i));
	} else {
		const struct zd_bug_info *b;

		for (i = 0; (b = zd_bug_info(i)); i++) {
			char regimes[32] = "";

			for (r = 0; r < ZD_NR_REGIMES; r++) {
				if (!(b->regimes & (1u << r)))
					continue;
				if (regimes[0])
					strcat(regimes, ",");
				strcat(regimes, zd_regime_name(r));
			}
			printf("%-28s %-14s %s\n  %s\n  fixed by: %s\n", b->id, regimes,
			       b->implemented ? "modelled" : "not modelled yet", b->account,
			       b->fixed_by);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		if (cmd && !strcmp(cmd, "help") && argc > 2) {
			char *sub[] = {argv[2], "--help", NULL};

			if (!strcmp(argv[2], "run"))
				return zd_cmd_run(2, sub, false);
			if (!strcmp(argv[2], "replay"))
				return zd_cmd_run(2, sub, true);
			if (!strcmp(argv[2], "check"))
				return zd_cmd_check(2, sub);
			return zd_cmd_list(argv[2], 2, sub);
		}
		fputs(zd_usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "run"))
		return zd_cmd_run(argc - 1, argv + 1, false);
	if (!strcmp(cmd, "replay"))
		return zd_cmd_run(argc - 1, argv + 1, true);
	if (!strcmp(cmd, "check"))
		return zd_cmd_check(argc - 1, argv + 1);
	if (!strcmp(cmd, "invariants") || !strcmp(cmd, "sites") || !strcmp(cmd, "bugs"))
		return zd_cmd_list(cmd, argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("zonedev %s\n", ZONEDEV_VERSION);
		return 0;
	}
	fprintf(stderr, "zonedev: unknown command '%s'\n%s", cmd, zd_usage);
	return 2;
}
