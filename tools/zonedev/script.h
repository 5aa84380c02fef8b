/* SPDX-License-Identifier: MIT */
/*
 * The parsed form of a zonedev scenario (.zds): a typed, name-checked statement list
 * that the runner walks. The language is fixed by design/scenario-language.md (version 1).
 */
#ifndef ZD_SCRIPT_H
#define ZD_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Reading guide for the runner
 * ----------------------------
 * zd_script_parse_file() returns 0 and a struct zd_script whose stmts[] are the top-level
 * statements in file order, or 2 after printing every error as `FILE:LINE:COL: error: msg`
 * (then *out is NULL and nothing of the file may run).
 *
 * A successfully parsed script has passed the name checks of the contract, so the runner may
 * rely on the following without checking again:
 *  - every name used is live at that point in file order (devices, processes, mappings of
 *    the named process, files of the named fsdax device, handles); names defined inside a
 *    thread body are visible only in that body, after their definition. One exception:
 *    `expect pgmap`, `expect device` and `dump pgmap` may also name a removed device (the most
 *    recent device of that name), so that its dead pagemap and final counters can be checked;
 *  - what defines and ends names: `device`/`remove`; `process`, `P fork Q` (Q inherits P's
 *    mapping names)/`P exit` (ends P and its mappings); `P mmap NAME` (munmap never ends a
 *    mapping name); `DEV create F`, `DEV reflink F2 F1` (F2 if new)/`DEV delete F`, and
 *    `remove DEV` (ends its files); handles: `gup`, `DEV alloc`, `DEV alloc-page`, `tryget`,
 *    `get-pagemap` define, `put` (any handle), `unpin` (gup ... pin handles only), `DEV free`
 *    (DEV alloc handles of DEV), `DEV free-page` (alloc-page handles of DEV) end; `thread T`
 *    (thread names never end). A device and a process never share a name, and neither is a
 *    statement keyword, so `X verb` is never ambiguous;
 *  - a device statement's device has the memory type the statement needs (table below);
 *  - every enumerated value is one of its enum's values; numbers are within the documented
 *    ranges; required sizes are > 0 unless the statement carries a `!` or `~` prefix.
 * What it does NOT check (the runner's job, usually a runtime errno): alignment of REFs and
 * sizes to pages, ranges beyond a mapping's end, whether a `bug` ID exists in the museum or is
 * possible in the regime, whether an invariant ID of `expect violation` exists.
 *
 * Names under prefixes: a statement prefixed with `!` (must fail) neither defines nor ends any
 * name; a statement prefixed with `~` (may fail) defines and ends names as if it succeeded
 * (a handle defined by a failed `~` statement must then behave as a handle holding nothing).
 *
 * All strings and arrays belong to the script and live until zd_script_free(). The script
 * is immutable after parsing; several threads may read it. The parser has no global mutable
 * state: several threads may parse different files at once.
 */

/* One value per statement form; zd_stmt_kind_name() returns the name shown in quotes. */
enum zd_stmt_kind {
	/* §3 the world */
	ZD_ST_REGIME, /* "regime"          u.regime */
	ZD_ST_RAM,    /* "ram"             u.ram */
	ZD_ST_SEED,   /* "seed"            u.seed */
	ZD_ST_FAIL,   /* "fail"            u.fail */
	ZD_ST_BUG,    /* "bug"             u.bug */
	/* §4 devices */
	ZD_ST_DEVICE, /* "device"          u.device */
	ZD_ST_REMOVE, /* "remove"          u.dev (device) */
	/* §5 processes, mappings, CPU access */
	ZD_ST_PROCESS,	/* "process"         u.proc (process) */
	ZD_ST_MMAP,	/* "mmap"            u.mmap */
	ZD_ST_MUNMAP,	/* "munmap"          u.range (process, ref, size if has_size) */
	ZD_ST_MPROTECT, /* "mprotect"        u.range (process, ref, size, prot) */
	ZD_ST_MADVISE,	/* "madvise"         u.range (process, ref, size, advice) */
	ZD_ST_FORK,	/* "fork"            u.fork */
	ZD_ST_EXIT,	/* "exit"            u.proc (process) */
	ZD_ST_WRITE,	/* "write"           u.range (process, ref, size, pattern) */
	ZD_ST_READ,	/* "read"            u.range (process, ref, size, [has_expect pattern]) */
	/* §6 device access through a mirror (private and coherent devices) */
	ZD_ST_DEV_READ,	     /* "dev-read"        u.range (device, process, ref, size, [pattern]) */
	ZD_ST_DEV_WRITE,     /* "dev-write"       u.range (device, process, ref, size, pattern) */
	ZD_ST_DEV_MIGRATE,   /* "dev-migrate"     u.range (device, process, ref, size) */
	ZD_ST_DEV_EVICT,     /* "dev-evict"       u.range (device, process, ref, size) */
	ZD_ST_DEV_EXCLUSIVE, /* "dev-exclusive"   u.range (device, process, ref, size) */
	ZD_ST_DEV_CHECK_EXCLUSIVE, /* "dev-check-exclusive" u.range (device, process, ref, size) */
	ZD_ST_DEV_RELEASE,	   /* "dev-release"     u.dev (device) */
	ZD_ST_DEV_SNAPSHOT,   /* "dev-snapshot"    u.range (device, process, ref, size, snapshot) */
	ZD_ST_DEV_FAIL_ALLOC, /* "dev-fail-alloc"  u.dev (device, count) */
	/* §7 pinning */
	ZD_ST_GUP,	    /* "gup"             u.gup */
	ZD_ST_PUT,	    /* "put"             u.handle (handle) */
	ZD_ST_UNPIN,	    /* "unpin"           u.handle (handle, dirty) */
	ZD_ST_PINNED_READ,  /* "pinned-read"     u.range (handle, size, [has_expect pattern]) */
	ZD_ST_PINNED_WRITE, /* "pinned-write"    u.range (handle, size, pattern) */
	/* §8 DAX files, P2P allocations, memory failure */
	ZD_ST_DAX_CREATE,   /* "dax-create"      u.file (device, file, size) */
	ZD_ST_DAX_TRUNCATE, /* "dax-truncate"    u.file (device, file, size) */
	ZD_ST_DAX_PUNCH,    /* "dax-punch"       u.file (device, file, offset, size = LEN) */
	ZD_ST_DAX_REFLINK,  /* "dax-reflink"     u.file (device, file = F2, src_file = F1) */
	ZD_ST_DAX_DELETE,   /* "dax-delete"      u.file (device, file) */
	ZD_ST_P2P_ALLOC,    /* "p2p-alloc"       u.handle (device, handle, size) */
	ZD_ST_P2P_FREE,	    /* "p2p-free"        u.handle (device, handle) */
	ZD_ST_POISON,	    /* "poison"          u.loc */
	/* §9 expectations and dumps */
	ZD_ST_EXPECT_PAGE,	/* "expect-page"     u.expect (loc, expects[]) */
	ZD_ST_EXPECT_ENTRY,	/* "expect-entry"    u.expect (loc = P REF, expects[] with kind) */
	ZD_ST_EXPECT_PGMAP,	/* "expect-pgmap"    u.expect (device, expects[]) */
	ZD_ST_EXPECT_DEVICE,	/* "expect-device"   u.expect (device, expects[]) */
	ZD_ST_EXPECT_RESULT,	/* "expect-result"   u.expect (expects[], at least one) */
	ZD_ST_EXPECT_PENDING,	/* "expect-pending"  u.expect (count) */
	ZD_ST_EXPECT_CLEAN,	/* "expect-clean"    (no operands) */
	ZD_ST_EXPECT_VIOLATION, /* "expect-violation" u.expect (id) */
	ZD_ST_EXPECT_READ,	/* "expect-read"     u.range (process, ref, size, pattern); only as
				 * the inner statement of always/sometimes (`P read ... expect=`) */
	ZD_ST_DUMP_PAGE,	/* "dump-page"       u.loc */
	ZD_ST_DUMP_PGMAP,	/* "dump-pgmap"      u.dev (device) */
	ZD_ST_DUMP_MM,		/* "dump-mm"         u.proc (process) */
	/* §10 threads and exploration */
	ZD_ST_THREAD,	   /* "thread"          u.thread (name, body[]) */
	ZD_ST_EXPLORE,	   /* "explore"         u.explore */
	ZD_ST_ALWAYS,	   /* "always"          u.check (inner) */
	ZD_ST_SOMETIMES,   /* "sometimes"       u.check (inner) */
	ZD_ST_RUN_THREADS, /* "run-threads"     u.run_threads */
	/* project additions */
	ZD_ST_ALLOC_PAGE,  /* "alloc-page"      u.handle (device, handle, order, at if has_at) */
	ZD_ST_FREE_PAGE,   /* "free-page"       u.handle (device, handle) */
	ZD_ST_TRYGET,	   /* "tryget"          u.handle (handle, page) */
	ZD_ST_GET_PAGEMAP, /* "get-pagemap"     u.handle (handle, page) */
	ZD_ST__COUNT
};

/* The outcome a statement requires (§2). */
enum zd_scr_prefix {
	ZD_SCR_PREFIX_NONE, /* must succeed */
	ZD_SCR_PREFIX_ERR,  /* `! ERR`: must fail with zd_stmt.err */
	ZD_SCR_PREFIX_ANY,  /* `~`: success or any error; results ok=1|0 and errno */
};

/*
 * zd_stmt.err (and an `errno=NAME` result expectation) holds a positive errno value from
 * <errno.h> (EINVAL ENOMEM EBUSY EFAULT EPERM ENOENT EAGAIN EEXIST EOPNOTSUPP EREMOTEIO ENXIO)
 * or one of these negative sentinels. zd_scr_err_name() names any of them.
 */
#define ZD_SCR_ERR_SIGBUS (-1)	/* the access raises SIGBUS */
#define ZD_SCR_ERR_SIGSEGV (-2) /* the access raises SIGSEGV */
#define ZD_SCR_ERR_BLOCKED (-3) /* would wait for something no runnable thread provides */

enum zd_scr_regime {
	ZD_SCR_REGIME_UNIFIED, /* v6.15+ (the default) */
	ZD_SCR_REGIME_SPLIT,   /* v6.1 .. v6.14 */
	ZD_SCR_REGIME_LEGACY,  /* .. v5.17 */
};

/* Memory types: a device is one of the first five; RAM and ZERO occur only as `type=`. */
enum zd_scr_mem {
	ZD_SCR_MEM_PRIVATE,
	ZD_SCR_MEM_COHERENT,
	ZD_SCR_MEM_FSDAX,
	ZD_SCR_MEM_GENERIC,
	ZD_SCR_MEM_P2PDMA,
	ZD_SCR_MEM_RAM,	 /* expect page type=ram */
	ZD_SCR_MEM_ZERO, /* expect page type=zero (the shared zero page) */
};

enum zd_scr_prot {
	ZD_SCR_PROT_RW,	  /* prot=rw (the default) */
	ZD_SCR_PROT_R,	  /* prot=r */
	ZD_SCR_PROT_NONE, /* prot=none */
};

enum zd_scr_map_kind {
	ZD_SCR_MAP_ANON,   /* anon (default): private anonymous */
	ZD_SCR_MAP_SHARED, /* shared: shared anonymous */
	ZD_SCR_MAP_FILE,   /* file=F: page-cache file F; shared if zd_st_mmap.shared */
	ZD_SCR_MAP_DAX,	   /* dax=DEV:F: shared mapping of file F on fsdax device DEV */
	ZD_SCR_MAP_DEVDAX, /* devdax=DEV: device-dax mapping of generic device DEV */
	ZD_SCR_MAP_P2P,	   /* p2p=DEV: user mapping of P2P memory of p2pdma device DEV */
};

enum zd_scr_advice {
	ZD_SCR_ADVICE_DONTNEED, /* the only advice of version 1 */
};

/* gup flags (zd_st_gup.flags). FAST and FAST_ONLY are never both set. */
#define ZD_SCR_GUP_PIN (1u << 0)       /* pin_user_pages instead of get_user_pages */
#define ZD_SCR_GUP_LONGTERM (1u << 1)  /* FOLL_LONGTERM */
#define ZD_SCR_GUP_WRITE (1u << 2)     /* FOLL_WRITE */
#define ZD_SCR_GUP_FAST (1u << 3)      /* fast path with slow-path fallback */
#define ZD_SCR_GUP_FAST_ONLY (1u << 4) /* fast path only: may obtain fewer pages, even 0 */
#define ZD_SCR_GUP_P2P (1u << 5)       /* FOLL_PCI_P2PDMA */

/* `fail SITE` sites. zd_scr_fail_site_name() gives the word; extend both together. */
enum zd_scr_fail_site {
	ZD_SCR_FAIL_RAM,     /* a system RAM page */
	ZD_SCR_FAIL_PGTABLE, /* a page-table page */
	ZD_SCR_FAIL_INSERT,  /* inserting a page into a user mapping (vm_insert_page) */
	ZD_SCR_FAIL_MEMMAP,  /* struct pages at memremap */
	ZD_SCR_FAIL__COUNT
};

/* A location in a mapping: `MAPPING` or `MAPPING+SIZE`. Always paired with a process. */
struct zd_scr_ref {
	const char *mapping; /* mapping name (of the statement's process) */
	uint64_t offset;     /* bytes from the mapping's start; 0 when written `MAPPING` */
};

/* A device page: `DEV+Np`. index < the device's SIZE / 4K (checked). */
struct zd_scr_page {
	const char *device;
	uint64_t index; /* page index from the device's start, in 4 KiB pages */
};

/* `P REF` or `DEV+Np`, for statements that accept either (poison, expect page, dump page). */
struct zd_scr_loc {
	bool is_page; /* true: page is set; false: process and ref are set */
	const char *process;
	struct zd_scr_ref ref;
	struct zd_scr_page page;
};

/*
 * A data PATTERN (§5). Word i is the i-th 32-bit little-endian word, counted from the start
 * of the mapping (CPU / device access) or from the first page of the handle (pinned access).
 * zd_scr_pattern_word() computes word i.
 */
enum zd_scr_pattern_kind {
	ZD_SCR_PAT_FILL,  /* fill=BYTE: every byte is value (0..255) */
	ZD_SCR_PAT_INDEX, /* index (value 0) or index+K (value K): word i holds i + K (mod 2^32) */
	ZD_SCR_PAT_NEG_INDEX, /* -index: word i holds -i (mod 2^32) */
	ZD_SCR_PAT_ZERO,      /* zero: every byte is 0 */
};

struct zd_scr_pattern {
	enum zd_scr_pattern_kind kind;
	uint32_t value;
};

/*
 * A snapshot LIST (§6), kept run-length encoded: runs[k] says that `count` consecutive pages
 * (count >= 1; `CODE*N` gives count N) have the code set `codes`. Pages are described in
 * order from the REF; nr_pages = sum of the counts, and when the statement's SIZE is a
 * multiple of 4K the parser has checked nr_pages == SIZE / 4K.
 * `codes` is a bitmask of ZD_SCR_SNAP_* (independent bits, not test_hmm's byte encoding);
 * `none` is 0 and `error` is ZD_SCR_SNAP_ERROR alone (neither combines with another code).
 */
#define ZD_SCR_SNAP_NONE 0u
#define ZD_SCR_SNAP_READ (1u << 0)
#define ZD_SCR_SNAP_WRITE (1u << 1)
#define ZD_SCR_SNAP_ZERO (1u << 2)
#define ZD_SCR_SNAP_PMD (1u << 3)
#define ZD_SCR_SNAP_PUD (1u << 4)
#define ZD_SCR_SNAP_PRIVATE_LOCAL (1u << 5)
#define ZD_SCR_SNAP_PRIVATE_REMOTE (1u << 6)
#define ZD_SCR_SNAP_COHERENT_LOCAL (1u << 7)
#define ZD_SCR_SNAP_COHERENT_REMOTE (1u << 8)
#define ZD_SCR_SNAP_ERROR (1u << 9)

struct zd_scr_snapshot_run {
	uint32_t codes;
	uint64_t count;
};

struct zd_scr_snapshot {
	const struct zd_scr_snapshot_run *runs;
	size_t nr_runs;
	uint64_t nr_pages;
};

/* Keys of expectations. The key tells how `value` reads (see struct zd_scr_expect). */
enum zd_scr_key {
	/* expect page */
	ZD_SCR_KEY_REFCOUNT,  /* int64 (may be negative, to state a buggy count) */
	ZD_SCR_KEY_MAPCOUNT,  /* int64 */
	ZD_SCR_KEY_PINCOUNT,  /* int64 */
	ZD_SCR_KEY_ORDER,     /* 0..18 */
	ZD_SCR_KEY_TYPE,      /* enum zd_scr_mem */
	ZD_SCR_KEY_LOCKED,    /* 0 | 1 */
	ZD_SCR_KEY_POISONED,  /* 0 | 1 */
	ZD_SCR_KEY_PAGE_FREE, /* 0 | 1 (written `free`) */
	/* expect entry */
	ZD_SCR_KEY_KIND,     /* enum zd_scr_entry_kind */
	ZD_SCR_KEY_WRITABLE, /* 0 | 1 */
	/* expect pgmap */
	ZD_SCR_KEY_REFS,  /* int64 */
	ZD_SCR_KEY_STATE, /* enum zd_scr_pgmap_state */
	ZD_SCR_KEY_BUSY,  /* int64 */
	/* expect device */
	ZD_SCR_KEY_ALLOCATED,	/* int64 */
	ZD_SCR_KEY_FREED,	/* int64 */
	ZD_SCR_KEY_DEVICE_FREE, /* int64 (written `free`) */
	/* expect result: any key; zd_scr_expect.name is the result's name */
	ZD_SCR_KEY_RESULT, /* int64, or an error (is_errno) */
};

enum zd_scr_entry_kind {
	ZD_SCR_ENTRY_NONE,
	ZD_SCR_ENTRY_PRESENT,
	ZD_SCR_ENTRY_ZERO,
	ZD_SCR_ENTRY_PRIVATE,
	ZD_SCR_ENTRY_EXCLUSIVE,
	ZD_SCR_ENTRY_MIGRATION,
	ZD_SCR_ENTRY_PMD,
	ZD_SCR_ENTRY_PUD,
};

enum zd_scr_pgmap_state {
	ZD_SCR_PGMAP_LIVE,
	ZD_SCR_PGMAP_DYING,
	ZD_SCR_PGMAP_DEAD,
};

/* One `key=value` of an expectation. Keys never repeat within one statement. */
struct zd_scr_expect {
	enum zd_scr_key key;
	const char *name; /* the key as written (`refcount`, `cpages`, ...), for messages */
	int64_t value;	  /* number, 0/1, enum value, or error (see is_errno) */
	bool has_value;	  /* always true in version 1 (every key is written k=v) */
	bool is_errno;	  /* ZD_SCR_KEY_RESULT only: value was written as an error name
			   * (errno=EBUSY): a positive errno or a ZD_SCR_ERR_* sentinel */
	int col;	  /* column of the key=value token */
};

/* u.regime */
struct zd_st_regime {
	enum zd_scr_regime regime;
};

/* u.ram */
struct zd_st_ram {
	uint64_t size; /* bytes, > 0, multiple of 4K */
};

/* u.seed */
struct zd_st_seed {
	uint64_t seed;
};

/* u.fail */
struct zd_st_fail {
	enum zd_scr_fail_site site;
	const char *site_name;
	uint64_t count; /* default 1 */
};

/* u.bug: only before the first device (checked); existence is the runner's check (EINVAL) */
struct zd_st_bug {
	const char *id; /* kebab-case: [a-z0-9]+(-[a-z0-9]+)* */
};

/* u.device */
struct zd_st_device {
	const char *name;
	enum zd_scr_mem type;	   /* ZD_SCR_MEM_PRIVATE .. ZD_SCR_MEM_P2PDMA */
	uint64_t size;		   /* bytes, > 0, multiple of 4K and of align */
	uint64_t chunk;		   /* private/coherent: memremap chunk in bytes (default = size);
				    * a multiple of align, divides size. Others: = size */
	uint64_t align;		   /* bytes: 4K (default), 2M, or 1G (fsdax, generic only);
				    * p2pdma: always 4K */
	bool has_chunk, has_align; /* written explicitly */
};

/* u.dev: remove, dev-release, dev-fail-alloc, dump-pgmap */
struct zd_st_dev {
	const char *device;
	uint64_t count; /* dev-fail-alloc N */
};

/* u.proc: process, exit, dump-mm */
struct zd_st_proc {
	const char *process;
};

/* u.mmap */
struct zd_st_mmap {
	const char *process;
	const char *name; /* the new mapping */
	uint64_t size;	  /* bytes, > 0 (unless prefixed) */
	enum zd_scr_map_kind kind;
	bool shared;	       /* SHARED, DAX, DEVDAX, P2P: true; FILE: `shared` was given */
	const char *file;      /* FILE, DAX: the file name; else NULL */
	const char *device;    /* DAX, DEVDAX, P2P: the device; else NULL */
	enum zd_scr_prot prot; /* default ZD_SCR_PROT_RW */
	bool huge;
};

/* u.fork */
struct zd_st_fork {
	const char *parent;
	const char *child; /* new process; inherits every mapping name of parent */
};

/*
 * u.range: the "operate on a range" shape shared by munmap, mprotect, madvise, write, read,
 * the mirror operations (dev-*), pinned-read/-write and expect-read. Fields that a kind does
 * not use are zero / NULL (see the kind table at enum zd_stmt_kind).
 */
struct zd_st_range {
	const char *device;    /* dev-*: the mirror's device */
	const char *process;   /* NULL for pinned-* */
	struct zd_scr_ref ref; /* not for pinned-* */
	const char *handle;    /* pinned-* only */
	uint64_t size;	       /* bytes; > 0 unless prefixed; munmap: only if has_size */
	bool has_size;	       /* munmap: SIZE given (else: the whole mapping); others: true */
	bool has_expect;       /* read, dev-read, pinned-read: `expect=PATTERN` given */
	struct zd_scr_pattern pattern;	 /* write, dev-write, pinned-write: the data; reads: the
					  * expectation when has_expect; expect-read: always */
	enum zd_scr_prot prot;		 /* mprotect */
	enum zd_scr_advice advice;	 /* madvise */
	struct zd_scr_snapshot snapshot; /* dev-snapshot: expect=LIST (required) */
};

/* u.gup */
struct zd_st_gup {
	const char *process;
	const char *handle; /* new handle */
	struct zd_scr_ref ref;
	uint64_t nr_pages;  /* NPAGES, > 0 unless prefixed */
	unsigned int flags; /* ZD_SCR_GUP_* */
};

/*
 * u.handle: put, unpin, p2p-alloc, p2p-free, alloc-page, free-page, tryget, get-pagemap.
 *  put H: handle is any live handle. unpin H [dirty]: a handle of `gup ... pin`.
 *  DEV alloc H SIZE / DEV free H: device (p2pdma), handle; free: H came from `DEV alloc`.
 *  DEV alloc-page H [order=N] [at=N]: device (any type), handle, order (default 0),
 *    at = page index (< device pages) when has_at.
 *  DEV free-page H: H came from `DEV alloc-page` on the same device.
 *  tryget H PAGE / get-pagemap H PAGE: handle (new), page (device = page.device).
 */
struct zd_st_handle {
	const char *handle;
	const char *device;
	uint64_t size;	    /* p2p-alloc: bytes, > 0 unless prefixed */
	unsigned int order; /* alloc-page: 0..18 */
	uint64_t at;	    /* alloc-page: page index, when has_at */
	bool has_at;
	bool dirty;		 /* unpin dirty */
	struct zd_scr_page page; /* tryget, get-pagemap */
};

/* u.file: the DAX file operations of an fsdax device */
struct zd_st_file {
	const char *device;
	const char *file;     /* create: new file; reflink: F2, which gets F1's blocks (F2 is
			       * created if it does not exist, else its blocks are replaced) */
	const char *src_file; /* reflink: F1 */
	uint64_t size;	      /* create/truncate: SIZE (0 allowed); punch: LEN (> 0) */
	uint64_t offset;      /* punch: OFF */
};

/*
 * u.expect: the expect-* kinds (and the inner statement of always/sometimes).
 *  page:   loc (P REF or DEV+Np); expects[] keys REFCOUNT..PAGE_FREE (maybe none)
 *  entry:  loc (is_page false); expects[] holds KIND (always) and maybe WRITABLE
 *  pgmap:  device; expects[] REFS, STATE, BUSY    device: device; ALLOCATED, FREED, DEVICE_FREE
 *  result: expects[] all ZD_SCR_KEY_RESULT (>= 1)     pending: count
 *  violation: id (form [A-Za-z0-9_.-]+; existence is the runner's check)
 */
struct zd_st_expect {
	struct zd_scr_loc loc;
	const char *device;
	const struct zd_scr_expect *expects;
	size_t nr_expects;
	uint64_t count;
	const char *id;
};

struct zd_stmt;

/*
 * u.thread: `thread NAME` ... `end`. body[] are the statements between, in order (never a
 * thread, explore, run-threads, always, sometimes, regime, bug, ram or seed). Nothing runs
 * when the thread statement is reached; explore / run-threads run the declared threads.
 * Thread names are unique within a file (threads are never ended).
 */
struct zd_st_thread {
	const char *name;
	const struct zd_stmt *body;
	size_t nr_body;
	int end_line; /* line of the closing `end` */
};

enum zd_scr_explore_mode {
	ZD_SCR_EXPLORE_BOUNDED, /* the default */
	ZD_SCR_EXPLORE_EXHAUSTIVE,
	ZD_SCR_EXPLORE_RANDOM,
	ZD_SCR_EXPLORE_PCT, /* an addition: probabilistic concurrency testing, depth preemptions+1 */
	ZD_SCR_EXPLORE_DPOR, /* an addition: exhaustive with dynamic partial-order reduction */
};

/*
 * always / sometimes lines that directly follow an explore or run-threads (comments and
 * blank lines between are fine) are its checks: stmts[first_check .. first_check+nr_checks)
 * of the same statement array. They also stay in the array in their own right.
 */
struct zd_st_explore {
	enum zd_scr_explore_mode mode;
	unsigned int preemptions; /* default 2 */
	uint64_t runs;		  /* >= 1 when has_runs; else the runner's default */
	uint64_t seed;		  /* when has_seed; else the world's seed */
	bool has_mode, has_preemptions, has_runs, has_seed;
	size_t first_check, nr_checks;
};

struct zd_st_run_threads {
	uint64_t repeat;	       /* >= 1, default 1 */
	size_t first_check, nr_checks; /* as for explore */
};

/*
 * u.check: always X / sometimes X. inner is one statement of kind ZD_ST_EXPECT_PAGE ..
 * ZD_ST_EXPECT_VIOLATION or ZD_ST_EXPECT_READ, with its own line/col/text and no prefix.
 */
struct zd_st_check {
	const struct zd_stmt *inner;
};

struct zd_stmt {
	enum zd_stmt_kind kind;
	const char *file; /* as given to the parser */
	int line, col;	  /* of the first token (the `!` / `~` when prefixed), 1-based */
	enum zd_scr_prefix prefix;
	int err;	  /* ZD_SCR_PREFIX_ERR: positive errno or ZD_SCR_ERR_*; else 0 */
	const char *text; /* the statement's tokens joined by single spaces (prefix included,
			   * continuations joined, comment dropped) */
	union {
		struct zd_st_regime regime;
		struct zd_st_ram ram;
		struct zd_st_seed seed;
		struct zd_st_fail fail;
		struct zd_st_bug bug;
		struct zd_st_device device;
		struct zd_st_dev dev;
		struct zd_st_proc proc;
		struct zd_st_mmap mmap;
		struct zd_st_fork fork;
		struct zd_st_range range;
		struct zd_st_gup gup;
		struct zd_st_handle handle;
		struct zd_st_file file;
		struct zd_scr_loc loc;
		struct zd_st_expect expect;
		struct zd_st_thread thread;
		struct zd_st_explore explore;
		struct zd_st_run_threads run_threads;
		struct zd_st_check check;
	} u;
};

struct zd_script_arena;

struct zd_script {
	const char *file;	     /* name given to the parser */
	const struct zd_stmt *stmts; /* top-level statements in file order */
	size_t nr_stmts;
	struct zd_script_arena *arena; /* private: owns every string and array */
};

/**
 * zd_script_parse_file() - read, parse and name-check a scenario file.
 * @path: file to read ("-" is not special).
 * @out: on success, the new script (free it with zd_script_free()); on error, NULL.
 * @err: where errors go, one per line as `path:line:col: error: message`.
 *
 * Return: 0 on success; 2 if the file cannot be read or has any error (all printed).
 */
int zd_script_parse_file(const char *path, struct zd_script **out, FILE *err);

/**
 * zd_script_parse_string() - as zd_script_parse_file(), from NUL-terminated @text;
 * @name is used in messages and as zd_stmt.file.
 */
int zd_script_parse_string(const char *name, const char *text, struct zd_script **out, FILE *err);

/**
 * zd_script_parse_buffer() - as zd_script_parse_string() for @len bytes that may contain
 * NUL bytes (an error in a statement; ignored in a comment).
 */
int zd_script_parse_buffer(const char *name, const char *buf, size_t len, struct zd_script **out,
			   FILE *err);

/** zd_script_free() - free a script and everything it owns. NULL is allowed. */
void zd_script_free(struct zd_script *script);

/* Display names; each returns "?" for a value outside its enum. */
const char *zd_stmt_kind_name(enum zd_stmt_kind kind);
const char *zd_scr_err_name(int err); /* "EBUSY", "SIGBUS", "BLOCKED", ... */
const char *zd_scr_regime_name(enum zd_scr_regime regime);
const char *zd_scr_mem_name(enum zd_scr_mem type); /* "private", ..., "ram", "zero" */
const char *zd_scr_entry_kind_name(enum zd_scr_entry_kind kind);
const char *zd_scr_pgmap_state_name(enum zd_scr_pgmap_state state);
const char *zd_scr_fail_site_name(enum zd_scr_fail_site site);
const char *zd_scr_explore_mode_name(enum zd_scr_explore_mode mode);
const char *zd_scr_key_name(enum zd_scr_key key); /* the word as written; RESULT: "result" */

/**
 * zd_scr_err_parse() - the value of an error name of §2 (`EBUSY`, `SIGBUS`, `BLOCKED`...).
 * Return: 0 and *err set, or -1 if @name is not one of them.
 */
int zd_scr_err_parse(const char *name, int *err);

/** zd_scr_pattern_word() - the 32-bit word @i of @pattern (see enum zd_scr_pattern_kind). */
uint32_t zd_scr_pattern_word(const struct zd_scr_pattern *pattern, uint64_t i);

/**
 * zd_scr_snapshot_codes_name() - write @codes as the LIST words joined by '+' ("write+pmd",
 * "none") into @buf of @size bytes (always NUL-terminated). Return: @buf.
 */
char *zd_scr_snapshot_codes_name(uint32_t codes, char *buf, size_t size);

/* zd_scr_snapshot_code_word() - the LIST word of code bit @bit (ZD_SCR_SNAP_X == 1u << bit),
 * or NULL past the last one. */
const char *zd_scr_snapshot_code_word(unsigned int bit);

#endif /* ZD_SCRIPT_H */
