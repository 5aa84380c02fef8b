/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the parsed scenario representation (script.h): display names of its enums,
 * error names, pattern words and snapshot code names. No parsing here.
 */
#include "script.h"

#include <errno.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const stmt_kind_names[ZD_ST__COUNT] = {
    [ZD_ST_REGIME] = "regime",
    [ZD_ST_RAM] = "ram",
    [ZD_ST_SEED] = "seed",
    [ZD_ST_FAIL] = "fail",
    [ZD_ST_BUG] = "bug",
    [ZD_ST_DEVICE] = "device",
    [ZD_ST_REMOVE] = "remove",
    [ZD_ST_PROCESS] = "process",
    [ZD_ST_MMAP] = "mmap",
    [ZD_ST_MUNMAP] = "munmap",
    [ZD_ST_MPROTECT] = "mprotect",
    [ZD_ST_MADVISE] = "madvise",
    [ZD_ST_FORK] = "fork",
    [ZD_ST_EXIT] = "exit",
    [ZD_ST_WRITE] = "write",
    [ZD_ST_READ] = "read",
    [ZD_ST_DEV_READ] = "dev-read",
    [ZD_ST_DEV_WRITE] = "dev-write",
    [ZD_ST_DEV_MIGRATE] = "dev-migrate",
    [ZD_ST_DEV_EVICT] = "dev-evict",
    [ZD_ST_DEV_EXCLUSIVE] = "dev-exclusive",
    [ZD_ST_DEV_CHECK_EXCLUSIVE] = "dev-check-exclusive",
    [ZD_ST_DEV_RELEASE] = "dev-release",
    [ZD_ST_DEV_SNAPSHOT] = "dev-snapshot",
    [ZD_ST_DEV_FAIL_ALLOC] = "dev-fail-alloc",
    [ZD_ST_GUP] = "gup",
    [ZD_ST_PUT] = "put",
    [ZD_ST_UNPIN] = "unpin",
    [ZD_ST_PINNED_READ] = "pinned-read",
    [ZD_ST_PINNED_WRITE] = "pinned-write",
    [ZD_ST_DAX_CREATE] = "dax-create",
    [ZD_ST_DAX_TRUNCATE] = "dax-truncate",
    [ZD_ST_DAX_PUNCH] = "dax-punch",
    [ZD_ST_DAX_REFLINK] = "dax-reflink",
    [ZD_ST_DAX_DELETE] = "dax-delete",
    [ZD_ST_P2P_ALLOC] = "p2p-alloc",
    [ZD_ST_P2P_FREE] = "p2p-free",
    [ZD_ST_POISON] = "poison",
    [ZD_ST_EXPECT_PAGE] = "expect-page",
    [ZD_ST_EXPECT_ENTRY] = "expect-entry",
    [ZD_ST_EXPECT_PGMAP] = "expect-pgmap",
    [ZD_ST_EXPECT_DEVICE] = "expect-device",
    [ZD_ST_EXPECT_RESULT] = "expect-result",
    [ZD_ST_EXPECT_PENDING] = "expect-pending",
    [ZD_ST_EXPECT_CLEAN] = "expect-clean",
    [ZD_ST_EXPECT_VIOLATION] = "expect-violation",
    [ZD_ST_EXPECT_READ] = "expect-read",
    [ZD_ST_DUMP_PAGE] = "dump-page",
    [ZD_ST_DUMP_PGMAP] = "dump-pgmap",
    [ZD_ST_DUMP_MM] = "dump-mm",
    [ZD_ST_THREAD] = "thread",
    [ZD_ST_EXPLORE] = "explore",
    [ZD_ST_ALWAYS] = "always",
    [ZD_ST_SOMETIMES] = "sometimes",
    [ZD_ST_RUN_THREADS] = "run-threads",
    [ZD_ST_ALLOC_PAGE] = "alloc-page",
    [ZD_ST_FREE_PAGE] = "free-page",
    [ZD_ST_TRYGET] = "tryget",
    [ZD_ST_GET_PAGEMAP] = "get-pagemap",
};

static const char *name_or_unknown(const char *const *names, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || !names[v])
		return "?";
	return names[v];
}

const char *zd_stmt_kind_name(enum zd_stmt_kind kind)
{
	return name_or_unknown(stmt_kind_names, ARRAY_SIZE(stmt_kind_names), (int)kind);
}

static const struct {
	const char *name;
	int err;
} err_names[] = {
    {"EINVAL", EINVAL},
    {"ENOMEM", ENOMEM},
    {"EBUSY", EBUSY},
    {"EFAULT", EFAULT},
    {"EPERM", EPERM},
    {"ENOENT", ENOENT},
    {"EAGAIN", EAGAIN},
    {"EEXIST", EEXIST},
    {"EOPNOTSUPP", EOPNOTSUPP},
    {"EREMOTEIO", EREMOTEIO},
    {"ENXIO", ENXIO},
    {"SIGBUS", ZD_SCR_ERR_SIGBUS},
    {"SIGSEGV", ZD_SCR_ERR_SIGSEGV},
    {"BLOCKED", ZD_SCR_ERR_BLOCKED},
};

const char *zd_scr_err_name(int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(err_names); i++)
		if (err_names[i].err == err)
			return err_names[i].name;
	return "?";
}

int zd_scr_err_parse(const char *name, int *err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(err_names); i++) {
		if (strcmp(err_names[i].name, name) == 0) {
			*err = err_names[i].err;
			return 0;
		}
	}
	return -1;
}

const char *zd_scr_regime_name(enum zd_scr_regime regime)
{
	static const char *const names[] = {"unified", "split", "legacy"};

	return name_or_unknown(names, ARRAY_SIZE(names), (int)regime);
}

const char *zd_scr_mem_name(enum zd_scr_mem type)
{
	static const char *const names[] = {"private", "coherent", "fsdax", "generic",
					    "p2pdma",  "ram",	   "zero"};

	return name_or_unknown(names, ARRAY_SIZE(names), (int)type);
}

const char *zd_scr_entry_kind_name(enum zd_scr_entry_kind kind)
{
	static const char *const names[] = {"none",	 "present",   "zero", "private",
					    "exclusive", "migration", "pmd",  "pud"};

	return name_or_unknown(names, ARRAY_SIZE(names), (int)kind);
}

const char *zd_scr_pgmap_state_name(enum zd_scr_pgmap_state state)
{
	static const char *const names[] = {"live", "dying", "dead"};

	return name_or_unknown(names, ARRAY_SIZE(names), (int)state);
}

const char *zd_scr_fail_site_name(enum zd_scr_fail_site site)
{
	static const char *const names[ZD_SCR_FAIL__COUNT] = {
	    [ZD_SCR_FAIL_RAM] = "ram",
	    [ZD_SCR_FAIL_PGTABLE] = "pgtable",
	    [ZD_SCR_FAIL_INSERT] = "insert",
	    [ZD_SCR_FAIL_MEMMAP] = "memmap",
	};

	return name_or_unknown(names, ARRAY_SIZE(names), (int)site);
}

const char *zd_scr_explore_mode_name(enum zd_scr_explore_mode mode)
{
	static const char *const names[] = {"bounded", "exhaustive", "random"};

	return name_or_unknown(names, ARRAY_SIZE(names), (int)mode);
}

const char *zd_scr_key_name(enum zd_scr_key key)
{
	static const char *const names[] = {
	    [ZD_SCR_KEY_REFCOUNT] = "refcount", [ZD_SCR_KEY_MAPCOUNT] = "mapcount",
	    [ZD_SCR_KEY_PINCOUNT] = "pincount", [ZD_SCR_KEY_ORDER] = "order",
	    [ZD_SCR_KEY_TYPE] = "type",		[ZD_SCR_KEY_LOCKED] = "locked",
	    [ZD_SCR_KEY_POISONED] = "poisoned", [ZD_SCR_KEY_PAGE_FREE] = "free",
	    [ZD_SCR_KEY_KIND] = "kind",		[ZD_SCR_KEY_WRITABLE] = "writable",
	    [ZD_SCR_KEY_REFS] = "refs",		[ZD_SCR_KEY_STATE] = "state",
	    [ZD_SCR_KEY_BUSY] = "busy",		[ZD_SCR_KEY_ALLOCATED] = "allocated",
	    [ZD_SCR_KEY_FREED] = "freed",	[ZD_SCR_KEY_DEVICE_FREE] = "free",
	    [ZD_SCR_KEY_RESULT] = "result",
	};

	return name_or_unknown(names, ARRAY_SIZE(names), (int)key);
}

uint32_t zd_scr_pattern_word(const struct zd_scr_pattern *pattern, uint64_t i)
{
	switch (pattern->kind) {
	case ZD_SCR_PAT_FILL:
		return (pattern->value & 0xffu) * 0x01010101u;
	case ZD_SCR_PAT_INDEX:
		return (uint32_t)(i + pattern->value);
	case ZD_SCR_PAT_NEG_INDEX:
		return (uint32_t)(0 - i);
	case ZD_SCR_PAT_ZERO:
		break;
	}
	return 0;
}

/* LIST words of the snapshot codes, by bit number (see ZD_SCR_SNAP_*). */
static const char *const snap_code_names[] = {
    "read",	      "write",		 "zero",  "pmd", "pud", "private-local", "private-remote",
    "coherent-local", "coherent-remote", "error",
};

const char *zd_scr_snapshot_code_word(unsigned int bit)
{
	return bit < ARRAY_SIZE(snap_code_names) ? snap_code_names[bit] : NULL;
}

char *zd_scr_snapshot_codes_name(uint32_t codes, char *buf, size_t size)
{
	size_t used = 0;
	unsigned int bit;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (codes == ZD_SCR_SNAP_NONE) {
		strncpy(buf, "none", size - 1);
		buf[size - 1] = '\0';
		return buf;
	}
	for (bit = 0; bit < 32; bit++) {
		const char *w;
		size_t len;

		if (!(codes & (1u << bit)))
			continue;
		w = zd_scr_snapshot_code_word(bit);
		if (!w)
			w = "?";
		len = strlen(w) + (used ? 1 : 0);
		if (used + len + 1 > size)
			break;
		if (used)
			buf[used++] = '+';
		memcpy(buf + used, w, strlen(w));
		used += strlen(w);
		buf[used] = '\0';
	}
	return buf;
}
