/* SPDX-License-Identifier: MIT */
/*
 * zonedev unit tests: the low half of the check layer: invariant table,
 * names, violations, the holder ledger, trace recording and JSON, dumps.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "check/check.h"
#include "sync/sync.h"
#include "zonedev/world.h"

/* ---- fixtures ------------------------------------------------------------ */

/*
 * A hand-built world: only what the check layer touches (track_holders and
 * the check state). The check layer must not need the rest.
 */
static int setup_world(void **state)
{
	struct zd_world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->track_holders = true;
	if (zd_check_init(w)) {
		free(w);
		return -1;
	}
	*state = w;
	return 0;
}

static int teardown_world(void **state)
{
	struct zd_world *w = *state;

	zd_check_exit(w);
	assert_null(w->check);
	free(w);
	return 0;
}

/* Names holders of kind HANDLE "h<id>", the rest by default (empty name). */
static void test_namer(void *arg, struct zd_holder h, char *buf, size_t n)
{
	int *calls = arg;

	(*calls)++;
	if (h.kind == ZD_HOLD_HANDLE)
		snprintf(buf, n, "handle:h%lu", (unsigned long)h.id);
	else
		buf[0] = '\0';
}

static bool is_kebab(const char *s)
{
	const char *p;

	if (!*s || *s == '-')
		return false;
	for (p = s; *p; p++) {
		if (*p == '-') {
			if (p[1] == '-' || !p[1])
				return false;
		} else if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p)) {
			return false;
		}
	}
	return true;
}

/* ---- invariant table and names ------------------------------------------- */

static void test_invariant_table(void **state)
{
	static const char *const expected[ZD_NR_INVARIANTS] = {
	    "refcount-underflow",    "get-on-zero",
	    "tail-refcount",	     "mapcount-exceeds-refcount",
	    "generic-refcount-zero", "fsdax-cache-ref",
	    "free-transition",	     "folio-free-misuse",
	    "free-page-referenced",  "bad-folio-init",
	    "migrate-to-ram-unheld", "memory-failure-args",
	    "fsdax-missed-wakeup",   "pgmap-ref-mismatch",
	    "pgmap-get-after-kill",  "memunmap-order",
	    "unplug-before-drain",   "memunmap-busy-page",
	    "use-after-unplug",	     "pgmap-overlap",
	    "altmap-misuse",	     "vmemmap-shift-misaligned",
	    "page-pgmap-mismatch",   "stale-compound",
	    "shared-tail-write",     "refcount-unexplained",
	    "put-without-ref",	     "entry-kind-illegal",
	    "entry-writable-illegal", "rss-mismatch",
	    "mapping-unaccounted",   "gup-device-private",
	    "longterm-pin-unpinnable", "bo-refcount-mismatch",
	    "mirror-write-stale",    "mirror-atomic-stale",
	    "pin-accounting",          "migration-entry-unlocked",
	    "mirror-entry-stale",    "hmm-remote-private",
	    "gup-error-pinned",      "poisoned-page-handed-out",
	    "fsdax-association",     "fsdax-entry-order",
	    "fsdax-busy-block-freed",
	};
	enum zd_invariant found;
	unsigned int i, j;

	for (i = 0; i < ZD_NR_INVARIANTS; i++) {
		const struct zd_invariant_info *info = zd_invariant_info(i);

		assert_non_null(info);
		assert_string_equal(info->id, expected[i]);
		assert_true(is_kebab(info->id));
		assert_non_null(info->source);
		assert_true(strlen(info->source) > 0);
		assert_non_null(info->summary);
		assert_true(strlen(info->summary) > 10);
		assert_null(strchr(info->summary, '\n'));
		for (j = 0; j < i; j++)
			assert_string_not_equal(info->id, zd_invariant_info(j)->id);
		found = ZD_NR_INVARIANTS;
		assert_int_equal(zd_invariant_lookup(info->id, &found), 0);
		assert_int_equal(found, i);
	}
	assert_string_equal(zd_invariant_info(ZD_INV_PUT_WITHOUT_REF)->source, "zonedev");
	assert_string_equal(zd_invariant_info(ZD_INV_REFCOUNT_UNDERFLOW)->source, "pgmap §5.1");
	assert_string_equal(zd_invariant_info(ZD_INV_PAGE_PGMAP_MISMATCH)->source, "pgmap §5.31");
	assert_null(zd_invariant_info(ZD_NR_INVARIANTS));
	assert_int_equal(zd_invariant_lookup("no-such-invariant", &found), -ENOENT);
	assert_int_equal(zd_invariant_lookup("Refcount-Underflow", &found), -ENOENT);
	assert_int_equal(zd_invariant_lookup(NULL, &found), -ENOENT);
}

static void test_names(void **state)
{
	static const char *const kinds[] = {"other", "base", "driver",	"handle", "mapping",  "pin",
					    "gup",   "file", "migrate", "temp",	  "allocator", "pin-longterm"};
	static const char *const types[] = {"none",  "private", "coherent",
					    "fsdax", "generic", "p2pdma"};
	enum zd_regime r;
	unsigned int i;

	for (i = 0; i < ZD_NR_HOLDER_KINDS; i++)
		assert_string_equal(zd_holder_kind_name(i), kinds[i]);
	for (i = 0; i < ZD_NR_MEMORY_TYPES; i++)
		assert_string_equal(zd_memory_type_name(i), types[i]);
	assert_string_equal(zd_holder_kind_name(ZD_NR_HOLDER_KINDS), "unknown");
	assert_string_equal(zd_memory_type_name(ZD_NR_MEMORY_TYPES), "unknown");
	for (i = 0; i < ZD_NR_REGIMES; i++) {
		assert_int_equal(zd_regime_parse(zd_regime_name(i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(zd_regime_name(ZD_REGIME_SPLIT), "split");
	assert_int_equal(zd_regime_parse("LEGACY", &r), 0);
	assert_int_equal(r, ZD_REGIME_LEGACY);
	assert_int_equal(zd_regime_parse("modern", &r), -EINVAL);
	assert_int_equal(zd_regime_parse(NULL, &r), -EINVAL);
}

/* Defined in src/check/names.c (not yet in a header). */
size_t zd_check_format_page_flags(unsigned long flags, char *buf, size_t n);

static void test_page_flag_names(void **state)
{
	char buf[512], small[8];
	unsigned int bit;
	size_t len;

	for (bit = 0; bit < ZD_NR_PAGEFLAGS; bit++) {
		zd_check_format_page_flags(1ul << bit, buf, sizeof(buf));
		assert_true(buf[0] && islower((unsigned char)buf[0]));
		assert_true(strncmp(buf, "bit", 3) != 0); /* every flag has a name */
	}
	zd_check_format_page_flags(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	zd_check_format_page_flags(ZD_ZONE_DEVICE << ZD_PAGE_ZONE_SHIFT, buf, sizeof(buf));
	assert_string_equal(buf, "zone_device");
	len = zd_check_format_page_flags((1ul << ZD_PG_locked) | (1ul << ZD_PG_reserved) |
					     (ZD_ZONE_DEVICE << ZD_PAGE_ZONE_SHIFT) |
					     (5ul << ZD_PAGE_WORLD_SHIFT),
					 buf, sizeof(buf));
	assert_string_equal(buf, "locked|reserved|zone_device");
	assert_int_equal(len, strlen(buf));
	/* Truncation: terminated, and the full length still reported. */
	assert_int_equal(zd_check_format_page_flags((1ul << ZD_PG_locked) | (1ul << ZD_PG_reserved),
						    small, sizeof(small)),
			 strlen("locked|reserved"));
	assert_string_equal(small, "locked|");
}

/* ---- violations ------------------------------------------------------------ */

static void test_violations(void **state)
{
	struct zd_world *w = *state;
	const struct zd_violation *v;
	enum zd_invariant inv;
	char buf[300];
	size_t i;

	assert_int_equal(zd_violation_count(w), 0);
	assert_null(zd_violation_get(w, 0));
	assert_false(zd_violation_reported(w, ZD_INV_GET_ON_ZERO));

	zd_report(w, ZD_INV_GET_ON_ZERO, 0x1234, "get on pfn 0x%lx with count %d", 0x1234ul, 0);
	zd_report(w, ZD_INV_PGMAP_OVERLAP, ZD_PFN_NONE, "gpu1 overlaps gpu0");
	assert_int_equal(zd_violation_count(w), 2);
	assert_true(zd_violation_reported(w, ZD_INV_GET_ON_ZERO));
	assert_true(zd_violation_reported(w, ZD_INV_PGMAP_OVERLAP));
	assert_false(zd_violation_reported(w, ZD_INV_TAIL_REFCOUNT));
	assert_false(zd_violation_reported(w, ZD_NR_INVARIANTS));

	/* Look a violation up by its ID, as `expect violation ID` does. */
	assert_int_equal(zd_invariant_lookup("pgmap-overlap", &inv), 0);
	assert_true(zd_violation_reported(w, inv));
	v = zd_violation_get(w, 0);
	assert_non_null(v);
	assert_int_equal(v->inv, ZD_INV_GET_ON_ZERO);
	assert_int_equal(v->pfn, 0x1234);
	assert_string_equal(v->message, "get on pfn 0x1234 with count 0");
	v = zd_violation_get(w, 1);
	assert_int_equal(v->inv, ZD_INV_PGMAP_OVERLAP);
	assert_int_equal(v->pfn, ZD_PFN_NONE);
	assert_null(zd_violation_get(w, 2));

	/* A long message is truncated to the record, not overflowed. */
	memset(buf, 'x', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	zd_report(w, ZD_INV_STALE_COMPOUND, 1, "%s", buf);
	v = zd_violation_get(w, 2);
	assert_int_equal(strlen(v->message), sizeof(v->message) - 1);

	/* Many reports grow the array. */
	for (i = 0; i < 1000; i++)
		zd_report(w, ZD_INV_TAIL_REFCOUNT, i, "tail %zu", i);
	assert_int_equal(zd_violation_count(w), 1003);
	v = zd_violation_get(w, 1002);
	assert_string_equal(v->message, "tail 999");
	assert_int_equal(v->pfn, 999);
}

/* ---- the ledger -------------------------------------------------------------- */

static void test_ledger_basic(void **state)
{
	struct zd_world *w = *state;
	struct zd_holder h1 = ZD_HOLDER(ZD_HOLD_HANDLE, 1), h2 = ZD_HOLDER(ZD_HOLD_HANDLE, 2);
	struct zd_holder base = ZD_HOLDER(ZD_HOLD_BASE, 0);
	const struct zd_violation *v;

	assert_int_equal(zd_ledger_get(w, 100, h1), 0);
	assert_int_equal(zd_ledger_total(w, 100), 0);

	zd_ledger_mod(w, 100, h1, 1);
	zd_ledger_mod(w, 100, h1, 2);
	zd_ledger_mod(w, 100, base, 1);
	zd_ledger_mod(w, 101, h1, 1);
	assert_int_equal(zd_ledger_get(w, 100, h1), 3);
	assert_int_equal(zd_ledger_get(w, 100, base), 1);
	assert_int_equal(zd_ledger_get(w, 100, h2), 0);
	assert_int_equal(zd_ledger_total(w, 100), 4);
	assert_int_equal(zd_ledger_total(w, 101), 1);

	zd_ledger_mod(w, 100, h1, -3);
	assert_int_equal(zd_ledger_get(w, 100, h1), 0);
	assert_int_equal(zd_ledger_total(w, 100), 1);
	assert_int_equal(zd_violation_count(w), 0);

	/* Dropping what one does not hold is refused and reported. */
	zd_ledger_mod(w, 100, h2, -1);
	assert_int_equal(zd_violation_count(w), 1);
	assert_true(zd_violation_reported(w, ZD_INV_PUT_WITHOUT_REF));
	v = zd_violation_get(w, 0);
	assert_int_equal(v->pfn, 100);
	assert_string_equal(v->message, "handle:0x2 dropped a reference it does not hold");
	assert_int_equal(zd_ledger_get(w, 100, h2), 0);
	assert_int_equal(zd_ledger_total(w, 100), 1);

	/* Dropping more than held is refused whole. */
	zd_ledger_mod(w, 101, h1, -2);
	assert_int_equal(zd_violation_count(w), 2);
	assert_int_equal(zd_ledger_get(w, 101, h1), 1);
	assert_non_null(strstr(zd_violation_get(w, 1)->message, "holds only 1"));

	zd_ledger_mod(w, 101, h1, 0); /* no-op */
	assert_int_equal(zd_ledger_get(w, 101, h1), 1);
	zd_ledger_mod(w, 101, h1, -1);
	zd_ledger_mod(w, 100, base, -1);
	assert_int_equal(zd_ledger_total(w, 100), 0);
	assert_int_equal(zd_ledger_total(w, 101), 0);
}

static void test_ledger_untracked(void **state)
{
	struct zd_world *w = *state;
	struct zd_holder h = ZD_HOLDER(ZD_HOLD_PIN, 7);
	struct zd_folio folio = {0};
	char buf[64];

	w->track_holders = false;
	zd_ledger_mod(w, 5, h, 1);
	zd_ledger_mod(w, 5, h, -5);
	assert_int_equal(zd_ledger_get(w, 5, h), 0);
	assert_int_equal(zd_ledger_total(w, 5), 0);
	assert_int_equal(zd_violation_count(w), 0);
	folio.pfn = 5;
	assert_int_equal(zd_holder_refs(w, &folio, h), 0);
	zd_holders_format(w, &folio, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	w->track_holders = true;
	assert_int_equal(zd_ledger_total(w, 5), 0); /* nothing was recorded meanwhile */
}

struct ledger_model {
	unsigned long pfn;
	struct zd_holder h;
	long count;
};

struct sum_arg {
	long sum;
	size_t entries;
	unsigned long lo, hi; /* count only entries with pfn in [lo, hi) */
};

static void sum_entries(void *arg, unsigned long pfn, struct zd_holder h, long count)
{
	struct sum_arg *s = arg;

	assert_true(count > 0);
	if (pfn < s->lo || pfn >= s->hi)
		return;
	s->sum += count;
	s->entries++;
}

/* Random operations against a plain array model; forces growth and deletion shifts. */
static void test_ledger_random(void **state)
{
	enum { NPFN = 300, NHOLD = 5, NKEYS = NPFN * NHOLD };
	struct zd_world *w = *state;
	struct ledger_model *m = calloc(NKEYS, sizeof(*m));
	uint64_t rnd = zd_test_seed();
	long totals[NPFN] = {0}, delta;
	size_t i, k, live = 0, refused = 0;
	struct sum_arg s;

	assert_non_null(m);
	for (k = 0; k < NKEYS; k++) {
		m[k].pfn = 0x10000 + (k / NHOLD) * 3;
		m[k].h =
		    ZD_HOLDER(k % NHOLD ? ZD_HOLD_MAPPING : ZD_HOLD_TEMP, (k % NHOLD) * 0x1000);
	}
	for (i = 0; i < 200000; i++) {
		k = zd_test_rand(&rnd) % NKEYS;
		delta = (long)(zd_test_rand(&rnd) % 5) - 2;
		if (m[k].count + delta < 0) {
			refused += delta != 0;
		} else {
			if (!m[k].count && delta)
				live++;
			m[k].count += delta;
			totals[k / NHOLD] += delta;
			if (!m[k].count && delta)
				live--;
		}
		zd_ledger_mod(w, m[k].pfn, m[k].h, delta);
	}
	assert_int_equal(zd_violation_count(w), refused);
	for (k = 0; k < NKEYS; k++)
		assert_int_equal(zd_ledger_get(w, m[k].pfn, m[k].h), m[k].count);
	for (k = 0; k < NPFN; k++)
		assert_int_equal(zd_ledger_total(w, 0x10000 + k * 3), totals[k]);

	memset(&s, 0, sizeof(s));
	s.hi = ~0ul;
	zd_ledger_for_each(w, sum_entries, &s);
	assert_int_equal(s.entries, live);

	/* Forget the middle third of the pfns. */
	zd_ledger_forget(w, 0x10000 + 100 * 3, 0x10000 + 200 * 3);
	for (k = 0; k < NKEYS; k++) {
		bool gone = k / NHOLD >= 100 && k / NHOLD < 200;

		assert_int_equal(zd_ledger_get(w, m[k].pfn, m[k].h), gone ? 0 : m[k].count);
	}
	for (k = 0; k < NPFN; k++)
		assert_int_equal(zd_ledger_total(w, 0x10000 + k * 3),
				 k >= 100 && k < 200 ? 0 : totals[k]);
	memset(&s, 0, sizeof(s));
	s.lo = 0x10000 + 100 * 3;
	s.hi = 0x10000 + 200 * 3;
	zd_ledger_for_each(w, sum_entries, &s);
	assert_int_equal(s.entries, 0);

	/* Everything else still drops to empty, without complaints. */
	refused = zd_violation_count(w);
	for (k = 0; k < NKEYS; k++)
		if (!(k / NHOLD >= 100 && k / NHOLD < 200))
			zd_ledger_mod(w, m[k].pfn, m[k].h, -m[k].count);
	assert_int_equal(zd_violation_count(w), refused);
	memset(&s, 0, sizeof(s));
	s.hi = ~0ul;
	zd_ledger_for_each(w, sum_entries, &s);
	assert_int_equal(s.entries, 0);
	free(m);
}

static void test_holders_format(void **state)
{
	struct zd_world *w = *state;
	struct zd_folio folio = {0};
	char buf[128], name[64];
	int calls = 0;

	folio.pfn = 0x10000000;
	zd_holders_format(w, &folio, buf, sizeof(buf));
	assert_string_equal(buf, "none");

	zd_holder_name(w, ZD_HOLDER(ZD_HOLD_BASE, 0), name, sizeof(name));
	assert_string_equal(name, "base");
	zd_holder_name(w, ZD_HOLDER(ZD_HOLD_MAPPING, 0xabc), name, sizeof(name));
	assert_string_equal(name, "mapping:0xabc");

	zd_world_set_holder_namer(w, test_namer, &calls);
	zd_ledger_mod(w, folio.pfn, ZD_HOLDER(ZD_HOLD_HANDLE, 2), 1);
	zd_ledger_mod(w, folio.pfn, ZD_HOLDER(ZD_HOLD_HANDLE, 1), 2);
	zd_ledger_mod(w, folio.pfn, ZD_HOLDER(ZD_HOLD_BASE, 0), 1);
	zd_ledger_mod(w, folio.pfn, ZD_HOLDER(ZD_HOLD_PIN, 0x40), 1024);
	zd_ledger_mod(w, folio.pfn + 1, ZD_HOLDER(ZD_HOLD_HANDLE, 3), 1);
	zd_holders_format(w, &folio, buf, sizeof(buf));
	/* By kind (base < handle < pin), then by name; the namer's names, else the default. */
	assert_string_equal(buf, "base=1 handle:h1=2 handle:h2=1 pin:0x40=1024");
	assert_true(calls >= 4);
	assert_int_equal(zd_holder_refs(w, &folio, ZD_HOLDER(ZD_HOLD_HANDLE, 1)), 2);
	assert_int_equal(zd_holder_refs(w, &folio, ZD_HOLDER(ZD_HOLD_HANDLE, 3)), 0);
	assert_int_equal(zd_holder_refs(w, NULL, ZD_HOLDER(ZD_HOLD_HANDLE, 1)), 0);

	/* Truncation keeps a terminated prefix. */
	zd_holders_format(w, &folio, buf, 10);
	assert_string_equal(buf, "base=1 ha");

	zd_ledger_mod(w, folio.pfn, ZD_HOLDER(ZD_HOLD_HANDLE, 9), -1);
	assert_string_equal(zd_violation_get(w, 0)->message,
			    "handle:h9 dropped a reference it does not hold");
	zd_world_set_holder_namer(w, NULL, NULL);
	zd_holder_name(w, ZD_HOLDER(ZD_HOLD_HANDLE, 1), name, sizeof(name));
	assert_string_equal(name, "handle:0x1");
}

/* ---- audit hooks -------------------------------------------------------------- */

static void hook_a(struct zd_world *w, struct zd_audit *a, void *arg)
{
}

static void hook_b(struct zd_world *w, struct zd_audit *a, void *arg)
{
}

static void test_audit_hooks(void **state)
{
	struct zd_world *w = *state;
	int x, y;

	assert_int_equal(zd_audit_register(w, NULL, NULL), -EINVAL);
	assert_int_equal(zd_audit_register(w, hook_a, &x), 0);
	assert_int_equal(zd_audit_register(w, hook_a, &y), 0);
	assert_int_equal(zd_audit_register(w, hook_b, NULL), 0);
	assert_int_equal(zd_audit_register(w, hook_a, &x), -EEXIST);
	assert_int_equal(w->check->nr_hooks, 3);
	zd_audit_unregister(w, hook_a, &x);
	assert_int_equal(w->check->nr_hooks, 2);
	assert_ptr_equal(w->check->hooks[0].arg, &y);
	assert_true(w->check->hooks[1].fn == hook_b);
	zd_audit_unregister(w, hook_a, &x); /* not registered: nothing */
	assert_int_equal(w->check->nr_hooks, 2);
	assert_int_equal(zd_audit_register(w, hook_a, &x), 0);
	assert_int_equal(w->check->nr_hooks, 3);
	/* Left registered on purpose: zd_check_exit frees them. */
}

/* ---- trace --------------------------------------------------------------------- */

/* A device-private order-0 folio built by hand (no memmap behind it). */
static void make_folio(struct zd_folio *folio, struct zd_dev_pagemap *pgmap, unsigned long pfn)
{
	memset(folio, 0, sizeof(*folio));
	zd_atomic_ulong_set_relaxed(&folio->flags, (1ul << ZD_PG_reserved) |
						       (ZD_ZONE_DEVICE << ZD_PAGE_ZONE_SHIFT));
	folio->pgmap = pgmap;
	folio->pfn = pfn;
	zd_atomic_set_relaxed(&folio->_mapcount, -1);
	zd_atomic_set_relaxed(&folio->_refcount, 2);
}

/* Read a whole file into a NUL-terminated heap buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A structural JSON check: balanced brackets outside strings, valid escapes. */
static bool json_balanced(const char *s)
{
	char stack[64];
	int depth = 0;
	bool in_str = false;

	for (; *s; s++) {
		if (in_str) {
			if (*s == '\\') {
				if (!strchr("\"\\/bfnrtu", s[1]))
					return false;
				s++;
			} else if (*s == '"') {
				in_str = false;
			} else if ((unsigned char)*s < 0x20) {
				return false;
			}
			continue;
		}
		if (*s == '"') {
			in_str = true;
		} else if (*s == '{' || *s == '[') {
			if (depth == (int)sizeof(stack))
				return false;
			stack[depth++] = *s;
		} else if (*s == '}' || *s == ']') {
			if (!depth || stack[--depth] != (*s == '}' ? '{' : '['))
				return false;
		}
	}
	return !in_str && depth == 0;
}

static void test_trace_text_and_json(void **state)
{
	struct zd_world *w = *state;
	struct zd_dev_pagemap *pgmap = calloc(1, sizeof(*pgmap));
	struct zd_folio folio;
	char *text = NULL, *json, path[] = "/tmp/zd_test_trace_XXXXXX";
	size_t text_len = 0, json_len;
	int calls = 0, fd;
	FILE *mem;

	assert_non_null(pgmap);
	pgmap->type = ZD_MEMORY_DEVICE_PRIVATE;
	pgmap->name = "gpu0";
	make_folio(&folio, pgmap, 0x10000000);
	zd_world_set_holder_namer(w, test_namer, &calls);

	/* Not tracing: nothing recorded. */
	zd_trace_mark(w, "ignored");
	zd_trace_page_ref(w, ZD_TR_PAGE_REF_MOD, &folio, 1, 0, ZD_HOLDER(ZD_HOLD_HANDLE, 1));
	assert_int_equal(zd_trace_count(w), 0);

	mem = open_memstream(&text, &text_len);
	assert_non_null(mem);
	zd_trace_enable(w, true);
	zd_trace_set_text(w, mem);
	zd_trace_mark(w, "line %d: \"alloc\" gpu0", 3);
	zd_trace_page_ref(w, ZD_TR_PAGE_REF_MOD, &folio, 1, 0, ZD_HOLDER(ZD_HOLD_HANDLE, 1));
	zd_atomic_set_relaxed(&folio._refcount, 0);
	zd_trace_page_ref(w, ZD_TR_PAGE_REF_MOD_AND_TEST, &folio, -1, 1,
			  ZD_HOLDER(ZD_HOLD_HANDLE, 1));
	zd_trace_set_thread_name(w, "T1");
	zd_trace_page_ref(w, ZD_TR_PAGE_REF_SET, &folio, 1, 0, ZD_HOLDER_OTHER);
	zd_trace_pgmap_ref(w, pgmap, ZD_PGREF_ALLOC, 1, 2);
	zd_trace_event(w, folio.pfn, "gpu0", "folio_free", "order=%d", 0);
	zd_trace_event(w, ZD_PFN_NONE, NULL, "memremap_pages", NULL);
	zd_trace_set_thread_name(w, "main");
	zd_report(w, ZD_INV_FREE_TRANSITION, folio.pfn, "free ran twice\ton %s", "gpu0");
	zd_trace_set_thread_name(w, "T1");
	assert_int_equal(w->check->nr_threads, 2);
	assert_int_equal(w->check->cur_thread, 1);
	zd_trace_set_thread_name(w, "main");
	zd_trace_set_text(w, NULL);
	fclose(mem);

	assert_int_equal(zd_trace_count(w), 8);
	assert_int_equal(zd_violation_get(w, 0)->seq, 7); /* the 8th event, numbered from 0 */
	assert_int_equal(w->check->events[3].thread, 1);
	assert_int_equal(w->check->events[7].thread, 0);
	assert_non_null(text);
	assert_string_equal(
	    text,
	    "mark: line 3: \"alloc\" gpu0\n"
	    "page_ref_mod: pfn=0x10000000 flags=reserved|zone_device count=2 mapcount=0 "
	    "mapping=0000000000000000 mt=1 val=1 holder=handle:h1\n"
	    "page_ref_mod_and_test: pfn=0x10000000 flags=reserved|zone_device count=0 mapcount=0 "
	    "mapping=0000000000000000 mt=1 val=-1 ret=1 holder=handle:h1\n"
	    "page_ref_set: pfn=0x10000000 flags=reserved|zone_device count=0 mapcount=0 "
	    "mapping=0000000000000000 mt=1 val=1\n"
	    "pgmap_ref: pgmap=gpu0 kind=alloc delta=+1 refs=2\n"
	    "folio_free: pfn=0x10000000 gpu0 order=0\n"
	    "memremap_pages:\n"
	    "WARNING: free-transition: free ran twice\ton gpu0\n");
	free(text);

	/* Text only (not recording): printed, numbered, not stored. */
	zd_trace_enable(w, false);
	mem = open_memstream(&text, &text_len);
	zd_trace_set_text(w, mem);
	zd_trace_mark(w, "text only");
	zd_trace_set_text(w, NULL);
	fclose(mem);
	assert_string_equal(text, "mark: text only\n");
	free(text);
	assert_int_equal(zd_trace_count(w), 8);
	assert_int_equal(w->check->seq, 9);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(zd_trace_write_json(w, path), 0);
	json = slurp(path, &json_len);
	assert_true(json_len > 0);
	assert_true(!strncmp(json, "{\"traceEvents\":[", 16));
	assert_true(json_balanced(json));
	assert_non_null(strstr(json, "\"displayTimeUnit\":\"ns\""));
	assert_non_null(strstr(json, "{\"name\":\"refcount pfn=0x10000000\",\"ph\":\"C\",\"ts\":2,"
				     "\"pid\":1,\"args\":{\"refcount\":0}}"));
	assert_non_null(strstr(json, "\"name\":\"pgmap refs gpu0\",\"ph\":\"C\""));
	assert_non_null(strstr(json, "\"args\":{\"name\":\"T1\"}"));
	assert_non_null(strstr(json, "\"args\":{\"name\":\"zonedev\"}"));
	assert_non_null(strstr(json, "mark: line 3: \\\"alloc\\\" gpu0"));
	assert_non_null(strstr(json, "free ran twice\\ton gpu0"));
	assert_non_null(strstr(json, "\"ph\":\"i\",\"s\":\"t\",\"ts\":3,\"pid\":1,\"tid\":1"));
	free(json);
	unlink(path);

	assert_int_equal(zd_trace_write_json(w, "/nonexistent-dir/trace.json"), -ENOENT);
	free(pgmap);
}

static void test_trace_empty_json(void **state)
{
	struct zd_world *w = *state;
	char path[] = "/tmp/zd_test_trace_XXXXXX", *json;
	size_t len;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(zd_trace_write_json(w, path), 0);
	json = slurp(path, &len);
	assert_true(!strncmp(json, "{\"traceEvents\":[", 16));
	assert_true(json_balanced(json));
	free(json);
	unlink(path);
}

/* A large folio's mapcount is its _large_mapcount + 1. */
static void test_trace_large_folio(void **state)
{
	struct zd_world *w = *state;
	struct zd_folio folio;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	make_folio(&folio, NULL, 0x200);
	zd_atomic_ulong_set_relaxed(&folio.flags, 1ul << ZD_PG_head | 1ul << ZD_PG_locked);
	zd_atomic_set_relaxed(&folio._large_mapcount, 4);
	zd_atomic_set_relaxed(&folio._mapcount, 0);
	folio.mapping = (void *)0x1000;
	zd_trace_set_text(w, mem);
	zd_trace_page_ref(w, ZD_TR_PAGE_REF_FREEZE, &folio, 2, 1, ZD_HOLDER(ZD_HOLD_MIGRATE, 0));
	zd_trace_set_text(w, NULL);
	fclose(mem);
	assert_string_equal(text, "page_ref_freeze: pfn=0x200 flags=locked|head count=2 mapcount=5 "
				  "mapping=0000000000001000 mt=0 val=2 ret=1 holder=migrate\n");
	free(text);
	assert_int_equal(zd_trace_count(w), 0);
}

/* ---- concurrency ---------------------------------------------------------------- */

struct worker {
	struct zd_world *w;
	unsigned int id;
};

static void *ledger_worker(void *arg)
{
	struct worker *wk = arg;
	struct zd_holder mine = ZD_HOLDER(ZD_HOLD_PIN, wk->id + 1);
	uint64_t rnd = wk->id * 7919 + 1;
	unsigned long pfn;
	int i;

	for (i = 0; i < 20000; i++) {
		pfn = zd_test_rand(&rnd) % 64;
		zd_ledger_mod(wk->w, pfn, mine, 2);
		zd_ledger_mod(wk->w, pfn, ZD_HOLDER(ZD_HOLD_TEMP, 0), 1);
		zd_trace_mark(wk->w, "worker %u step %d", wk->id, i);
		zd_ledger_mod(wk->w, pfn, mine, -1);
		zd_ledger_mod(wk->w, pfn, ZD_HOLDER(ZD_HOLD_TEMP, 0), -1);
		zd_ledger_mod(wk->w, pfn, mine, -1);
		if (i % 1000 == 0) {
			zd_ledger_mod(wk->w, pfn, mine, -1); /* refused: reported */
			(void)zd_ledger_total(wk->w, pfn);
		}
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	enum { NTHREADS = 4 };
	struct zd_world *w = *state;
	struct worker wk[NTHREADS];
	struct zd_thread *t[NTHREADS];
	struct sum_arg s = {.hi = ~0ul};
	unsigned long pfn;
	int i;

	zd_trace_enable(w, true);
	for (i = 0; i < NTHREADS; i++) {
		wk[i].w = w;
		wk[i].id = (unsigned int)i;
		t[i] = zd_thread_start(ledger_worker, &wk[i]);
		assert_non_null(t[i]);
	}
	for (i = 0; i < NTHREADS; i++)
		zd_thread_join(t[i]);
	for (pfn = 0; pfn < 64; pfn++)
		assert_int_equal(zd_ledger_total(w, pfn), 0);
	zd_ledger_for_each(w, sum_entries, &s);
	assert_int_equal(s.entries, 0);
	assert_int_equal(zd_violation_count(w), NTHREADS * 20);
	assert_int_equal(zd_trace_count(w), NTHREADS * (20000 + 20));
}

/* ---- dumps (need a real world) --------------------------------------------------- */

static void test_dump_real_world(void **state)
{
	struct zd_world_opts opts;
	struct zd_world *w;
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	zd_world_opts_init(&opts);
	opts.ram_bytes = 64ull << 20;
	assert_int_equal(zd_world_create(&opts, &w), 0);
	mem = open_memstream(&text, &len);
	zd_dump_page(w, 0x7fffffff0ul, "testing", mem);
	zd_dump_page(w, 3, NULL, mem);
	fclose(mem);
	assert_non_null(strstr(text, "page: pfn:0x7fffffff0 is not backed by a memmap\n"
				     "page dumped because: testing\n"));
	assert_non_null(strstr(text, "pfn:0x3\n"));
	assert_non_null(strstr(text, "\nflags: 0x"));
	assert_non_null(strstr(text, "\nraw: "));
	free(text);
	zd_world_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_invariant_table),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_page_flag_names),
	    cmocka_unit_test_setup_teardown(test_violations, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_ledger_basic, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_ledger_untracked, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_ledger_random, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_holders_format, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_audit_hooks, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_trace_text_and_json, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_trace_empty_json, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_trace_large_folio, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup_world, teardown_world),
	    cmocka_unit_test(test_dump_real_world),
	};

	zd_test_seed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
