/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the auditor (invariants with stable IDs, violations, holder
 * ledger), trace events in the kernel's page_ref vocabulary, and dumps.
 */
#ifndef ZONEDEV_CHECK_H
#define ZONEDEV_CHECK_H

#include <stdio.h>
#include "zonedev/types.h"

struct zd_world;
struct zd_folio;
struct zd_dev_pagemap;

/* The invariants, numbered as reference/kernel-pgmap-lifecycle.md §5 where they come from. */
enum zd_invariant {
	ZD_INV_REFCOUNT_UNDERFLOW = 0,	  /* 1 */
	ZD_INV_GET_ON_ZERO,		  /* 2 */
	ZD_INV_TAIL_REFCOUNT,		  /* 3 */
	ZD_INV_MAPCOUNT_EXCEEDS_REFCOUNT, /* 4 */
	ZD_INV_GENERIC_REFCOUNT_ZERO,	  /* 5 */
	ZD_INV_FSDAX_CACHE_REF,		  /* 6 */
	ZD_INV_FREE_TRANSITION,		  /* 7 */
	ZD_INV_FOLIO_FREE_MISUSE,	  /* 8 */
	ZD_INV_FREE_PAGE_REFERENCED,	  /* 9 */
	ZD_INV_BAD_FOLIO_INIT,		  /* 10 */
	ZD_INV_MIGRATE_TO_RAM_UNHELD,	  /* 11 */
	ZD_INV_MEMORY_FAILURE_ARGS,	  /* 12 */
	ZD_INV_FSDAX_MISSED_WAKEUP,	  /* 13 */
	ZD_INV_PGMAP_REF_MISMATCH,	  /* 14 */
	ZD_INV_PGMAP_GET_AFTER_KILL,	  /* 15 */
	ZD_INV_MEMUNMAP_ORDER,		  /* 16 */
	ZD_INV_UNPLUG_BEFORE_DRAIN,	  /* 17 */
	ZD_INV_MEMUNMAP_BUSY_PAGE,	  /* 18 */
	ZD_INV_USE_AFTER_UNPLUG,	  /* 19 */
	ZD_INV_PGMAP_OVERLAP,		  /* 20 */
	ZD_INV_ALTMAP_MISUSE,		  /* 21 */
	ZD_INV_VMEMMAP_SHIFT_MISALIGNED,  /* 22 */
	ZD_INV_PAGE_PGMAP_MISMATCH,	  /* 31 */
	ZD_INV_STALE_COMPOUND,		  /* 32 */
	ZD_INV_SHARED_TAIL_WRITE,	  /* 33 */
	ZD_INV_REFCOUNT_UNEXPLAINED,	  /* holder ledger != refcount */
	ZD_INV_PUT_WITHOUT_REF,		  /* a holder dropped a reference it never took */
	ZD_INV_ENTRY_KIND_ILLEGAL,	  /* migrate §6 P3 */
	ZD_INV_ENTRY_WRITABLE_ILLEGAL,	  /* migrate §6 P4 */
	ZD_INV_RSS_MISMATCH,		  /* migrate §6 C5 */
	ZD_INV_MAPPING_UNACCOUNTED,	  /* every mapping's reference and mapcount */
	ZD_INV_GUP_DEVICE_PRIVATE,	  /* migrate §6 G1 */
	ZD_INV_LONGTERM_PIN_UNPINNABLE,	  /* migrate §6 G2 */
	ZD_INV_BO_REFCOUNT_MISMATCH,	  /* migrate §6 C2 / issue 4: BO refs == pages in use */
	ZD_INV_MIRROR_WRITE_STALE,	  /* migrate §6 M2 */
	ZD_INV_MIRROR_ATOMIC_STALE,	  /* migrate §6 M3 */
	ZD_INV_PIN_ACCOUNTING,		  /* migrate §6 G3 */
	ZD_INV_MIGRATION_ENTRY_UNLOCKED,  /* migrate §6 P1/P2 */
	ZD_INV_MIRROR_ENTRY_STALE,	  /* migrate §6 M1 */
	ZD_INV_HMM_REMOTE_PRIVATE,	  /* migrate §6 M4 */
	ZD_INV_GUP_ERROR_PINNED,	  /* migrate §6 G5 */
	ZD_INV_POISONED_PAGE_HANDED_OUT,  /* 34 / issue 6: a poisoned page is never used afresh */
	ZD_INV_FSDAX_ASSOCIATION,	  /* 27 */
	ZD_INV_FSDAX_ENTRY_ORDER,	  /* 28 */
	ZD_INV_FSDAX_BUSY_BLOCK_FREED,	  /* 29, 30 */
	ZD_NR_INVARIANTS,
};

struct zd_invariant_info {
	const char *id;	     /* stable kebab-case ID */
	const char *source;  /* where the rule comes from */
	const char *summary; /* one line */
};

const struct zd_invariant_info *zd_invariant_info(enum zd_invariant inv);
/* -ENOENT if unknown. */
int zd_invariant_lookup(const char *id, enum zd_invariant *out);

struct zd_violation {
	enum zd_invariant inv;
	unsigned long pfn; /* ZD_PFN_NONE when not about one page */
	unsigned long seq; /* trace sequence number when reported */
	char message[200];
};

/* Report a violation (a WARN): recorded, traced, never aborts. */
void zd_report(struct zd_world *w, enum zd_invariant inv, unsigned long pfn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
size_t zd_violation_count(const struct zd_world *w);
const struct zd_violation *zd_violation_get(const struct zd_world *w, size_t i);
bool zd_violation_reported(const struct zd_world *w, enum zd_invariant inv);

/*
 * zd_audit - check every invariant the world can check now, over every
 * pgmap, folio and holder; violations found are reported (and so stay
 * reported). Returns the number of violations this audit found. Call at
 * quiescence: no operation in flight.
 */
int zd_audit(struct zd_world *w);

/* Higher layers and drivers add their part of the audit. */
struct zd_audit;
typedef void (*zd_audit_fn)(struct zd_world *w, struct zd_audit *a, void *arg);
int zd_audit_register(struct zd_world *w, zd_audit_fn fn, void *arg);
void zd_audit_unregister(struct zd_world *w, zd_audit_fn fn, void *arg);
/* From an audit callback: count violations it reported itself. */
void zd_audit_add_found(struct zd_audit *a, int found);
/* From an audit callback: `folio` is on its driver's free list. */
void zd_audit_note_free_listed(struct zd_audit *a, struct zd_folio *folio);

/*
 * Step checks: the cheap invariants after every scheduling point of an
 * explored execution (refcount never negative, no reference on a free
 * page, free callbacks match free transitions, nothing touched after
 * memunmap), over the folios touched since the last pass. For worlds whose
 * threads run one at a time (the explorer). zd_check_step() reports what it
 * finds and returns the count; @quiescent: no operation is in flight.
 */
int zd_check_step_enable(struct zd_world *w, bool on);
int zd_check_step(struct zd_world *w, bool quiescent);
/* Passes run since step checks were enabled. */
unsigned long zd_check_step_passes(const struct zd_world *w);

/* ---- State digest (the explorer's state hashing) ------------------------ */

/*
 * zd_world_state_hash - a 64-bit digest of everything in the world that can
 * influence what later operations do: struct pages of every memmap except
 * free System RAM (whose allocator lists are hashed instead), page contents
 * of pages in use, pgmaps, address spaces (page tables, VMAs, notifiers,
 * page cache), the holder ledger, violations, injected failures, and what
 * drivers and higher layers add through their audit hooks (see below).
 * Deterministic across worlds: pointers are hashed as the order in which the
 * walk first meets them, never by value; pages by pfn. Costs O(state in use)
 * plus O(RAM / 2 MiB). Call at quiescence, as zd_audit().
 */
uint64_t zd_world_state_hash(struct zd_world *w);

/*
 * An audit hook is also called for the digest: zd_audit_hasher() is then
 * non-NULL and the hook adds the state it checks (and nothing else) with the
 * functions below instead of auditing.
 */
struct zd_state_hash;
struct zd_state_hash *zd_audit_hasher(struct zd_audit *a);
void zd_state_hash_u64(struct zd_state_hash *h, uint64_t v);
void zd_state_hash_bytes(struct zd_state_hash *h, const void *p, size_t n);
void zd_state_hash_str(struct zd_state_hash *h, const char *s);
/* A pointer, as the order in which the digest first met it (NULL is 0). */
void zd_state_hash_ptr(struct zd_state_hash *h, const void *p);
/* The struct page of a folio's page (pointers canonical) and, when @data, the page's contents. */
void zd_state_hash_pfn(struct zd_state_hash *h, unsigned long pfn, bool data);

/* ---- Holder ledger ----------------------------------------------------- */

/* How many references `h` holds on `folio` (0 when holders are not tracked). */
long zd_holder_refs(struct zd_world *w, const struct zd_folio *folio, struct zd_holder h);
/* Print the holders of a folio: "handle:h1=1 base=1". */
void zd_holders_format(struct zd_world *w, const struct zd_folio *folio, char *buf, size_t n);
/* Names for holder ids in messages (the runner names its handles). */
typedef void (*zd_holder_namer_t)(void *arg, struct zd_holder h, char *buf, size_t n);
void zd_world_set_holder_namer(struct zd_world *w, zd_holder_namer_t fn, void *arg);

/* ---- Trace ---------------------------------------------------------------- */

void zd_trace_enable(struct zd_world *w, bool on);
/* Print every event as it is recorded (the --trace-text output), or NULL. */
void zd_trace_set_text(struct zd_world *w, FILE *out);
/* A marker event (e.g. the scenario line being run). */
void zd_trace_mark(struct zd_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Name the thread recorded in the following events ("main", "T1"). */
void zd_trace_set_thread_name(struct zd_world *w, const char *name);
size_t zd_trace_count(const struct zd_world *w);
/* Write the Chrome/Perfetto JSON trace. Returns 0 or -errno. */
int zd_trace_write_json(struct zd_world *w, const char *path);

/* ---- Dumps ------------------------------------------------------------------ */

/* dump_page() layout for the page at pfn. */
void zd_dump_page(struct zd_world *w, unsigned long pfn, const char *reason, FILE *out);
void zd_dump_pgmap(struct zd_dev_pagemap *pgmap, FILE *out);

#endif
