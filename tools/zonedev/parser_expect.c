/* SPDX-License-Identifier: MIT */
/*
 * Scenario parser: expectations, dumps and poison (§8-§9), data patterns and snapshot lists,
 * and the exploration statements with their always / sometimes checks (§10).
 */
#include "parser_internal.h"

#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- data: PATTERN and snapshot LIST ---- */

int str_pattern(struct parser *p, const char *s, int line, int col, struct zd_scr_pattern *out)
{
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "zero") == 0) {
		out->kind = ZD_SCR_PAT_ZERO;
	} else if (strcmp(s, "index") == 0) {
		out->kind = ZD_SCR_PAT_INDEX;
	} else if (strcmp(s, "-index") == 0) {
		out->kind = ZD_SCR_PAT_NEG_INDEX;
	} else if (strncmp(s, "index+", 6) == 0) {
		if (str_number(p, s + 6, line, col + 6, "the K of index+K", &v))
			return -1;
		if (v > UINT32_MAX) {
			perr(p, line, col + 6, "the K of index+K must fit in 32 bits, got '%s'",
			     s + 6);
			return -1;
		}
		out->kind = ZD_SCR_PAT_INDEX;
		out->value = (uint32_t)v;
	} else if (strncmp(s, "fill=", 5) == 0) {
		if (str_number(p, s + 5, line, col + 5, "a fill byte", &v))
			return -1;
		if (v > 255) {
			perr(p, line, col + 5, "fill byte %s is out of range (0..255)", s + 5);
			return -1;
		}
		out->kind = ZD_SCR_PAT_FILL;
		out->value = (uint32_t)v;
	} else {
		perr(p, line, col,
		     "bad pattern '%s' (expected fill=BYTE, index, index+K, -index or zero)", s);
		return -1;
	}
	return 0;
}

/* The code bit of one LIST word, or -1. `none` is 0 and has no bit: report it as -2. */
static int snapshot_word(const char *w, size_t len)
{
	const char *name;
	unsigned int bit;

	if (len == 4 && strncmp(w, "none", 4) == 0)
		return -2;
	for (bit = 0; (name = zd_scr_snapshot_code_word(bit)); bit++)
		if (strlen(name) == len && strncmp(name, w, len) == 0)
			return (int)bit;
	return -1;
}

/* One CODE[+CODE...] of a snapshot LIST: @len bytes at @s. */
static int snapshot_codes(struct parser *p, const char *s, size_t len, int line, int col,
			  uint32_t *codes)
{
	size_t i = 0, words = 0;
	bool alone = false;

	*codes = 0;
	while (i <= len) {
		size_t j = i;
		int bit;

		while (j < len && s[j] != '+')
			j++;
		bit = snapshot_word(s + i, j - i);
		if (bit == -1) {
			perr(p, line, col + (int)i,
			     "unknown snapshot code '%.*s' (allowed: none, error, read, write, "
			     "zero, pmd, pud, private-local, private-remote, coherent-local, "
			     "coherent-remote)",
			     (int)(j - i), s + i);
			return -1;
		}
		if (bit == -2) {
			alone = true; /* none: no bit */
		} else {
			*codes |= 1u << bit;
			alone |= (1u << bit) == ZD_SCR_SNAP_ERROR;
		}
		words++;
		i = j + 1;
	}
	if (alone && words > 1) {
		perr(p, line, col, "'none' and 'error' do not combine with other codes in '%.*s'",
		     (int)len, s);
		return -1;
	}
	return 0;
}

int str_snapshot(struct parser *p, const char *s, int line, int col, struct zd_scr_snapshot *out)
{
	struct zd_scr_snapshot_run *runs;
	size_t n = 1, i = 0, k;
	const char *c;

	memset(out, 0, sizeof(*out));
	for (c = s; *c; c++)
		n += *c == ',';
	runs = p_alloc(p, n * sizeof(*runs));
	if (!runs)
		return -1;
	for (k = 0; k < n; k++) {
		size_t j = i, end;
		const char *star = NULL;
		uint64_t count = 1;

		while (s[j] && s[j] != ',') {
			if (s[j] == '*' && !star)
				star = s + j;
			j++;
		}
		end = star ? (size_t)(star - s) : j;
		if (end == i) {
			perr(p, line, col + (int)i, "empty entry in the snapshot list '%s'", s);
			return -1;
		}
		if (snapshot_codes(p, s + i, end - i, line, col + (int)i, &runs[k].codes))
			return -1;
		if (star) {
			const char *num = p_strndup(p, star + 1, j - end - 1);

			if (str_number(p, num, line, col + (int)end + 1, "a repeat count", &count))
				return -1;
			if (count == 0) {
				perr(p, line, col + (int)end + 1,
				     "a repeat count must be at least 1");
				return -1;
			}
		}
		runs[k].count = count;
		if (out->nr_pages + count < out->nr_pages) {
			perr(p, line, col, "the snapshot list is too long");
			return -1;
		}
		out->nr_pages += count;
		i = j + 1;
	}
	out->runs = runs;
	out->nr_runs = n;
	return 0;
}

/* ---- expectations ---- */

enum val_type {
	V_INT,	 /* int64, may be negative */
	V_BOOL,	 /* 0 | 1 */
	V_ORDER, /* 0..ZD_MAX_ORDER */
	V_ENUM,	 /* one of words[] (the value is its index) */
};

struct key_spec {
	const char *name;
	enum zd_scr_key key;
	enum val_type type;
	const char *const *words;
	size_t nr_words;
};

static const char *const page_types[] = {"private", "coherent", "fsdax", "generic",
					 "p2pdma",  "ram",	"zero"};
static const char *const entry_kinds[] = {"none",      "present",   "zero", "private",
					  "exclusive", "migration", "pmd",  "pud"};
static const char *const pgmap_states[] = {"live", "dying", "dead"};

#define ENUM_WORDS(w) w, ARRAY_SIZE(w)

static const struct key_spec page_keys[] = {
    {"refcount", ZD_SCR_KEY_REFCOUNT, V_INT, NULL, 0},
    {"mapcount", ZD_SCR_KEY_MAPCOUNT, V_INT, NULL, 0},
    {"pincount", ZD_SCR_KEY_PINCOUNT, V_INT, NULL, 0},
    {"order", ZD_SCR_KEY_ORDER, V_ORDER, NULL, 0},
    {"type", ZD_SCR_KEY_TYPE, V_ENUM, ENUM_WORDS(page_types)},
    {"locked", ZD_SCR_KEY_LOCKED, V_BOOL, NULL, 0},
    {"poisoned", ZD_SCR_KEY_POISONED, V_BOOL, NULL, 0},
    {"free", ZD_SCR_KEY_PAGE_FREE, V_BOOL, NULL, 0},
};

static const struct key_spec entry_keys[] = {
    {"kind", ZD_SCR_KEY_KIND, V_ENUM, ENUM_WORDS(entry_kinds)},
    {"writable", ZD_SCR_KEY_WRITABLE, V_BOOL, NULL, 0},
};

static const struct key_spec pgmap_keys[] = {
    {"refs", ZD_SCR_KEY_REFS, V_INT, NULL, 0},
    {"state", ZD_SCR_KEY_STATE, V_ENUM, ENUM_WORDS(pgmap_states)},
    {"busy", ZD_SCR_KEY_BUSY, V_INT, NULL, 0},
};

static const struct key_spec device_keys[] = {
    {"allocated", ZD_SCR_KEY_ALLOCATED, V_INT, NULL, 0},
    {"freed", ZD_SCR_KEY_FREED, V_INT, NULL, 0},
    {"free", ZD_SCR_KEY_DEVICE_FREE, V_INT, NULL, 0},
};

static int key_value(struct parser *p, const struct zd_token *t, const struct key_spec *k,
		     struct zd_scr_expect *e)
{
	const char *v = t->value;
	uint64_t u;

	switch (k->type) {
	case V_INT:
		return str_int64(p, v, t->line, t->value_col, "a number", &e->value);
	case V_BOOL:
		if (strcmp(v, "0") && strcmp(v, "1")) {
			perr(p, t->line, t->value_col, "'%s' must be 0 or 1, got '%s'", k->name, v);
			return -1;
		}
		e->value = v[0] - '0';
		return 0;
	case V_ORDER:
		if (str_number(p, v, t->line, t->value_col, "an order", &u))
			return -1;
		if (u > ZD_MAX_ORDER) {
			perr(p, t->line, t->value_col, "order %s is out of range (0..%d)", v,
			     ZD_MAX_ORDER);
			return -1;
		}
		e->value = (int64_t)u;
		return 0;
	case V_ENUM: {
		int w = lookup_word(k->words, k->nr_words, v);

		if (w < 0)
			return bad_word(p, t->line, t->value_col, k->name, v, k->words,
					k->nr_words);
		e->value = w;
		return 0;
	}
	}
	return -1;
}

/* A result value: a number, or an error name (errno=EBUSY). */
static int result_value(struct parser *p, const struct zd_token *t, struct zd_scr_expect *e)
{
	int err;

	if ((t->value[0] >= '0' && t->value[0] <= '9') || t->value[0] == '-')
		return str_int64(p, t->value, t->line, t->value_col, "a number", &e->value);
	if (zd_scr_err_parse(t->value, &err) == 0) {
		e->value = err;
		e->is_errno = true;
		return 0;
	}
	perr(p, t->line, t->value_col,
	     "expected a number or an error name for result '%s', got '%s'", t->key, t->value);
	return -1;
}

/*
 * The key=value tokens up to the end of the statement. @specs NULL: any key (expect result).
 * Fills st->u.expect.expects / nr_expects.
 */
static int read_keys(struct parser *p, struct zd_stmt *st, const char *what,
		     const struct key_spec *specs, size_t nr_specs)
{
	struct zd_st_expect *x = &st->u.expect;
	size_t left = p->ls->nr_tokens - p->pos, n = 0, i;
	struct zd_scr_expect *v = p_alloc(p, (left ? left : 1) * sizeof(*v));
	const struct zd_token *t;

	if (!v)
		return -1;
	while ((t = next_tok(p))) {
		const struct key_spec *k = NULL;
		struct zd_scr_expect *e = &v[n];

		if (t->type != ZD_TOK_KEYVAL) {
			perr_tok(p, t, "expected key=value for %s, got '%s'", what, t->text);
			return -1;
		}
		for (i = 0; specs && i < nr_specs; i++)
			if (strcmp(specs[i].name, t->key) == 0)
				k = &specs[i];
		if (specs && !k) {
			const char *names[8];
			char list[160];

			for (i = 0; i < nr_specs && i < ARRAY_SIZE(names); i++)
				names[i] = specs[i].name;
			perr_tok(p, t, "unknown key '%s' for %s (allowed: %s)", t->key, what,
				 word_list(names, i, list, sizeof(list)));
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (strcmp(v[i].name, t->key) == 0) {
				perr_tok(p, t, "key '%s' given twice (first at column %d)", t->key,
					 v[i].col);
				return -1;
			}
		}
		if (t->value[0] == '\0') {
			perr(p, t->line, t->value_col, "missing value after '%s='", t->key);
			return -1;
		}
		e->name = p_strdup(p, t->key);
		e->col = t->col;
		e->has_value = true;
		e->key = k ? k->key : ZD_SCR_KEY_RESULT;
		if (k ? key_value(p, t, k, e) : result_value(p, t, e))
			return -1;
		n++;
	}
	x->expects = v;
	x->nr_expects = n;
	return 0;
}

static bool has_key(const struct zd_st_expect *x, enum zd_scr_key key)
{
	size_t i;

	for (i = 0; i < x->nr_expects; i++)
		if (x->expects[i].key == key)
			return true;
	return false;
}

static int expect_device_arg(struct parser *p, struct zd_st_expect *x)
{
	const struct zd_token *t;
	int idx;

	if (get_name(p, "device name", &t) ||
	    (idx = use_device_or_removed(p, t->text, t->line, t->col)) < 0)
		return -1;
	x->device = p->names[idx].name;
	return 0;
}

/* An invariant ID for `expect violation`: [A-Za-z0-9_.-]+ (existence is the runner's check). */
static bool is_invariant_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static const char *const expect_subjects[] = {"page",	"entry",   "pgmap", "device",
					      "result", "pending", "clean", "violation"};

/* EXPECTATION after `expect`, `always` or `sometimes`; @what is its first word. */
static int read_expectation(struct parser *p, struct zd_stmt *st, const struct zd_token *what)
{
	struct zd_st_expect *x = &st->u.expect;
	const struct zd_token *t;
	int w = what->type == ZD_TOK_NAME
		    ? lookup_word(expect_subjects, ARRAY_SIZE(expect_subjects), what->text)
		    : -1;

	switch (w) {
	case 0:
		st->kind = ZD_ST_EXPECT_PAGE;
		p->usage = "expect page P REF [k=v ...] | expect page DEV+Np [k=v ...]";
		return get_loc(p, &x->loc)
			   ? -1
			   : read_keys(p, st, "expect page", page_keys, ARRAY_SIZE(page_keys));
	case 1:
		st->kind = ZD_ST_EXPECT_ENTRY;
		p->usage = "expect entry P REF kind=K [writable=0|1]";
		if (get_name(p, "process name", &t) || use_process(p, t->text, t->line, t->col) < 0)
			return -1;
		x->loc.process = p_strdup(p, t->text);
		if (get_ref(p, x->loc.process, &x->loc.ref) ||
		    read_keys(p, st, "expect entry", entry_keys, ARRAY_SIZE(entry_keys)))
			return -1;
		if (!has_key(x, ZD_SCR_KEY_KIND)) {
			need_tok(p, "kind=K");
			return -1;
		}
		return 0;
	case 2:
		st->kind = ZD_ST_EXPECT_PGMAP;
		p->usage = "expect pgmap DEV [refs=N] [state=live|dying|dead] [busy=N]";
		return expect_device_arg(p, x)
			   ? -1
			   : read_keys(p, st, "expect pgmap", pgmap_keys, ARRAY_SIZE(pgmap_keys));
	case 3:
		st->kind = ZD_ST_EXPECT_DEVICE;
		p->usage = "expect device DEV [allocated=N] [freed=N] [free=N]";
		return expect_device_arg(p, x) ? -1
					       : read_keys(p, st, "expect device", device_keys,
							   ARRAY_SIZE(device_keys));
	case 4:
		st->kind = ZD_ST_EXPECT_RESULT;
		p->usage = "expect result k=N ...";
		if (!peek_tok(p)) {
			need_tok(p, "k=N");
			return -1;
		}
		return read_keys(p, st, "expect result", NULL, 0);
	case 5:
		st->kind = ZD_ST_EXPECT_PENDING;
		p->usage = "expect pending N";
		if (get_number(p, "a number of statements", &x->count))
			return -1;
		return finish(p, "expect pending");
	case 6:
		st->kind = ZD_ST_EXPECT_CLEAN;
		p->usage = "expect clean";
		return finish(p, "expect clean");
	case 7:
		st->kind = ZD_ST_EXPECT_VIOLATION;
		p->usage = "expect violation ID";
		t = need_tok(p, "invariant ID");
		if (!t)
			return -1;
		if (!is_invariant_id(t->text)) {
			perr_tok(p, t, "malformed invariant ID '%s'", t->text);
			return -1;
		}
		x->id = p_strdup(p, t->text);
		return finish(p, "expect violation");
	}
	return bad_word(p, what->line, what->col, "expectation", what->text, expect_subjects,
			ARRAY_SIZE(expect_subjects));
}

int read_expect(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	const struct zd_token *what = need_tok(p, "what to expect");

	return what ? read_expectation(p, st, what) : -1;
}

/* `P read REF SIZE expect=PATTERN` inside always / sometimes. */
static int read_expect_read(struct parser *p, struct zd_stmt *st, const struct zd_token *proc)
{
	static const struct opt_spec specs[] = {{"expect", OPT_VALUE}};
	struct zd_st_range *r = &st->u.range;
	const struct zd_token *t, *seen[1];

	st->kind = ZD_ST_EXPECT_READ;
	p->usage = "P read REF SIZE expect=PATTERN";
	next_tok(p); /* read */
	r->process = p_strdup(p, proc->text);
	if (get_ref(p, r->process, &r->ref))
		return -1;
	t = peek_tok(p);
	if (get_size(p, "a size", &r->size) ||
	    check_nonzero(p, st, r->size, t->line, t->col, "the size"))
		return -1;
	r->has_size = true;
	if (get_options(p, "read", specs, 1, seen))
		return -1;
	if (!seen[0]) {
		need_tok(p, "expect=PATTERN");
		return -1;
	}
	r->has_expect = true;
	return str_pattern(p, seen[0]->value, seen[0]->line, seen[0]->value_col, &r->pattern);
}

/* Offset of token @k in the statement text (tokens joined by single spaces). */
static size_t text_offset(const struct zd_lex_stmt *ls, size_t k)
{
	size_t i, off = 0;

	for (i = 0; i < k; i++)
		off += ls->tokens[i].len + 1;
	return off;
}

int read_check(struct parser *p, struct zd_stmt *st, const struct zd_token *kw)
{
	struct zd_stmt *in = p_alloc(p, sizeof(*in));
	const struct zd_token *t = need_tok(p, "expectation");

	if (!in || !t)
		return -1;
	if (t->type == ZD_TOK_NAME && strcmp(t->text, "expect") == 0) {
		t = need_tok(p, "expectation");
		if (!t)
			return -1;
	}
	in->file = st->file;
	in->line = t->line;
	in->col = t->col;
	in->text = st->text + text_offset(p->ls, p->pos - 1);
	st->u.check.inner = in;
	if (t->type == ZD_TOK_NAME && peek_tok(p) && strcmp(peek_tok(p)->text, "read") == 0) {
		if (use_process(p, t->text, t->line, t->col) < 0)
			return -1;
		return read_expect_read(p, in, t);
	}
	if (t->type == ZD_TOK_NAME &&
	    lookup_word(expect_subjects, ARRAY_SIZE(expect_subjects), t->text) >= 0)
		return read_expectation(p, in, t);
	perr_tok(p, t,
		 "expected an expectation after '%s' (page, entry, pgmap, device, result, pending, "
		 "clean, violation ID, or P read REF SIZE expect=PATTERN), got '%s'",
		 kw->text, t->text);
	return -1;
}

/* ---- poison and dumps ---- */

int read_poison(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	if (get_loc(p, &st->u.loc))
		return -1;
	return finish(p, "poison");
}

int read_dump(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	const struct zd_token *what = need_tok(p, "what to dump (page, pgmap or mm)"), *t;
	int idx;

	if (!what)
		return -1;
	if (strcmp(what->text, "page") == 0) {
		st->kind = ZD_ST_DUMP_PAGE;
		if (get_loc(p, &st->u.loc))
			return -1;
	} else if (strcmp(what->text, "pgmap") == 0) {
		st->kind = ZD_ST_DUMP_PGMAP;
		if (get_name(p, "device name", &t) ||
		    (idx = use_device_or_removed(p, t->text, t->line, t->col)) < 0)
			return -1;
		st->u.dev.device = p->names[idx].name;
	} else if (strcmp(what->text, "mm") == 0) {
		st->kind = ZD_ST_DUMP_MM;
		if (get_name(p, "process name", &t) ||
		    (idx = use_process(p, t->text, t->line, t->col)) < 0)
			return -1;
		st->u.proc.process = p->names[idx].name;
	} else {
		perr_tok(p, what, "unknown dump '%s' (allowed: page, pgmap, mm)", what->text);
		return -1;
	}
	return finish(p, "dump");
}

/* ---- §10 exploration ---- */

int read_explore(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	static const char *const modes[] = {"bounded", "exhaustive", "random", "pct", "dpor"};
	static const struct opt_spec specs[] = {
	    {"mode", OPT_VALUE},
	    {"preemptions", OPT_VALUE},
	    {"runs", OPT_VALUE},
	    {"seed", OPT_VALUE},
	};
	struct zd_st_explore *x = &st->u.explore;
	const struct zd_token *seen[4], *t;
	uint64_t v;

	x->mode = ZD_SCR_EXPLORE_BOUNDED;
	x->preemptions = 2;
	if (get_options(p, "explore", specs, ARRAY_SIZE(specs), seen))
		return -1;
	if ((t = seen[0])) {
		int m = lookup_word(modes, ARRAY_SIZE(modes), t->value);

		if (m < 0)
			return bad_word(p, t->line, t->value_col, "explore mode", t->value, modes,
					ARRAY_SIZE(modes));
		x->mode = (enum zd_scr_explore_mode)m;
		x->has_mode = true;
	}
	if ((t = seen[1])) {
		if (str_number(p, t->value, t->line, t->value_col, "a preemption bound", &v))
			return -1;
		if (v > 1000) {
			perr(p, t->line, t->value_col, "preemptions=%s is out of range (0..1000)",
			     t->value);
			return -1;
		}
		x->preemptions = (unsigned int)v;
		x->has_preemptions = true;
	}
	if ((t = seen[2])) {
		if (str_number(p, t->value, t->line, t->value_col, "a number of runs", &x->runs))
			return -1;
		if (x->runs == 0) {
			perr(p, t->line, t->value_col, "runs must be at least 1");
			return -1;
		}
		x->has_runs = true;
	}
	if ((t = seen[3])) {
		if (str_number(p, t->value, t->line, t->value_col, "a seed", &x->seed))
			return -1;
		x->has_seed = true;
	}
	return 0;
}

int read_run_threads(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	static const struct opt_spec specs[] = {{"repeat", OPT_VALUE}};
	const struct zd_token *seen[1];

	st->u.run_threads.repeat = 1;
	if (get_options(p, "run-threads", specs, 1, seen))
		return -1;
	if (!seen[0])
		return 0;
	if (str_number(p, seen[0]->value, seen[0]->line, seen[0]->value_col, "a repeat count",
		       &st->u.run_threads.repeat))
		return -1;
	if (st->u.run_threads.repeat == 0) {
		perr(p, seen[0]->line, seen[0]->value_col, "repeat must be at least 1");
		return -1;
	}
	return 0;
}
