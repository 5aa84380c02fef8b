/* SPDX-License-Identifier: MIT */
/*
 * Scenario parser: readers of the world, device, process, mirror, pinning, DAX and P2P
 * statements (scenario-language.md §3-§8) and of the project's page-handle statements.
 */
#include "parser_internal.h"

#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SZ_2M (2ULL << 20)
#define SZ_1G (1ULL << 30)

/* ---- §3 the world ---- */

static int before_first_device(struct parser *p, const struct zd_token *kw)
{
	if (!p->first_device_line)
		return 0;
	perr_tok(p, kw, "'%s' must come before the first device (line %d)", kw->text,
		 p->first_device_line);
	return -1;
}

int read_regime(struct parser *p, struct zd_stmt *st, const struct zd_token *kw)
{
	static const char *const words[] = {"unified", "split", "legacy"};
	const struct zd_token *t;
	int r;

	if (before_first_device(p, kw) || !(t = need_tok(p, "regime")))
		return -1;
	r = lookup_word(words, ARRAY_SIZE(words), t->text);
	if (r < 0)
		return bad_word(p, t->line, t->col, "regime", t->text, words, ARRAY_SIZE(words));
	st->u.regime.regime = (enum zd_scr_regime)r;
	return finish(p, "regime");
}

int read_ram(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	const struct zd_token *t = peek_tok(p);

	if (get_size(p, "a RAM size", &st->u.ram.size) ||
	    check_nonzero(p, st, st->u.ram.size, t->line, t->col, "the RAM size"))
		return -1;
	if (st->u.ram.size % ZD_PAGE_SIZE) {
		perr_tok(p, t, "the RAM size '%s' is not a multiple of 4K", t->text);
		return -1;
	}
	return finish(p, "ram");
}

int read_seed(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	if (get_number(p, "a seed", &st->u.seed.seed))
		return -1;
	return finish(p, "seed");
}

int read_fail(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	static const struct opt_spec specs[] = {{"count", OPT_VALUE}};
	const char *sites[ZD_SCR_FAIL__COUNT];
	const struct zd_token *seen[1], *t;
	int i, site;

	for (i = 0; i < ZD_SCR_FAIL__COUNT; i++)
		sites[i] = zd_scr_fail_site_name((enum zd_scr_fail_site)i);
	t = need_tok(p, "fail site");
	if (!t)
		return -1;
	site = lookup_word(sites, ZD_SCR_FAIL__COUNT, t->text);
	if (site < 0)
		return bad_word(p, t->line, t->col, "fail site", t->text, sites,
				ZD_SCR_FAIL__COUNT);
	st->u.fail.site = (enum zd_scr_fail_site)site;
	st->u.fail.site_name = sites[site];
	st->u.fail.count = 1;
	if (get_options(p, "fail", specs, ARRAY_SIZE(specs), seen))
		return -1;
	if (seen[0] && str_number(p, seen[0]->value, seen[0]->line, seen[0]->value_col, "a count",
				  &st->u.fail.count))
		return -1;
	return 0;
}

/* A bug ID is kebab-case: [a-z0-9]+(-[a-z0-9]+)*. */
static bool is_kebab(const char *s)
{
	bool word = false;

	for (; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))
			word = true;
		else if (*s == '-' && word)
			word = false;
		else
			return false;
	}
	return word;
}

int read_bug(struct parser *p, struct zd_stmt *st, const struct zd_token *kw)
{
	const struct zd_token *t;

	if (before_first_device(p, kw) || !(t = need_tok(p, "bug ID")))
		return -1;
	if (!is_kebab(t->text)) {
		perr_tok(p, t,
			 "malformed bug ID '%s' (a lower-case kebab-case word such as "
			 "release-pages-devmap)",
			 t->text);
		return -1;
	}
	st->u.bug.id = p_strdup(p, t->text);
	return finish(p, "bug");
}

/* ---- §4 devices ---- */

static int device_align(struct parser *p, const struct zd_token *t, enum zd_scr_mem type,
			uint64_t *align)
{
	bool big = type == ZD_SCR_MEM_FSDAX || type == ZD_SCR_MEM_GENERIC;

	if (str_size(p, t->value, t->line, t->value_col, "an alignment", align))
		return -1;
	if (*align == ZD_PAGE_SIZE || *align == SZ_2M || (big && *align == SZ_1G))
		return 0;
	perr(p, t->line, t->value_col, "align must be %s for a %s device, got '%s'",
	     big ? "4K, 2M or 1G" : "4K or 2M", zd_scr_mem_name(type), t->value);
	return -1;
}

static int device_chunk(struct parser *p, struct zd_st_device *d, const struct zd_token *t,
			const struct zd_token *size_tok)
{
	int col = t->value_col;

	if (str_size(p, t->value, t->line, col, "a chunk size", &d->chunk))
		return -1;
	if (d->chunk == 0) {
		perr(p, t->line, col, "chunk must be greater than 0");
		return -1;
	}
	if (d->chunk % d->align) {
		perr(p, t->line, col, "chunk=%s is not a multiple of the alignment (%llu bytes)",
		     t->value, (unsigned long long)d->align);
		return -1;
	}
	if (d->size % d->chunk) {
		perr(p, t->line, col, "chunk=%s does not divide the device size '%s'", t->value,
		     size_tok->text);
		return -1;
	}
	return 0;
}

int read_device(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	static const char *const types[] = {"private", "coherent", "fsdax", "generic", "p2pdma"};
	static const struct opt_spec specs[] = {{"chunk", OPT_VALUE}, {"align", OPT_VALUE}};
	struct zd_st_device *d = &st->u.device;
	const struct zd_token *name, *t, *size_tok, *seen[2];
	size_t nr_specs;
	int idx, type;

	if (!p->first_device_line)
		p->first_device_line = st->line;
	if (get_name(p, "device name", &name))
		return -1;
	idx = declare(p, NK_DEVICE, name->text, NULL, name->line, name->col);
	if (idx < 0)
		return -1;
	d->name = p->names[idx].name;
	t = need_tok(p, "memory type (private, coherent, fsdax, generic or p2pdma)");
	if (!t)
		return -1;
	type = lookup_word(types, ARRAY_SIZE(types), t->text);
	if (type < 0)
		return bad_word(p, t->line, t->col, "memory type", t->text, types,
				ARRAY_SIZE(types));
	d->type = (enum zd_scr_mem)type;
	p->names[idx].mem = type;
	size_tok = peek_tok(p);
	if (get_size(p, "a device size", &d->size) ||
	    check_nonzero(p, st, d->size, size_tok->line, size_tok->col, "the device size"))
		return -1;
	if (d->size % ZD_PAGE_SIZE) {
		perr_tok(p, size_tok, "the device size '%s' is not a multiple of 4K",
			 size_tok->text);
		return -1;
	}
	if (type == ZD_SCR_MEM_PRIVATE || type == ZD_SCR_MEM_COHERENT)
		nr_specs = 2;
	else if (type == ZD_SCR_MEM_P2PDMA)
		nr_specs = 0;
	else
		nr_specs = 1;
	/* fsdax and generic take only align: look it up as the single spec */
	if (get_options(p, "device", nr_specs == 1 ? specs + 1 : specs, nr_specs, seen))
		return -1;
	d->align = ZD_PAGE_SIZE;
	if (nr_specs == 1) {
		seen[1] = seen[0];
		seen[0] = NULL;
	}
	if (nr_specs && seen[1]) {
		d->has_align = true;
		if (device_align(p, seen[1], d->type, &d->align))
			return -1;
		if (d->size % d->align) {
			perr_tok(p, size_tok, "the device size '%s' is not a multiple of %s",
				 size_tok->text, seen[1]->text);
			return -1;
		}
	}
	d->chunk = d->size;
	if (nr_specs == 2 && seen[0]) {
		d->has_chunk = true;
		if (device_chunk(p, d, seen[0], size_tok))
			return -1;
	}
	p->names[idx].pages = d->size / ZD_PAGE_SIZE;
	return 0;
}

int read_remove(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	const struct zd_token *t;
	int idx;

	if (get_name(p, "device name", &t))
		return -1;
	idx = use_device(p, t->text, t->line, t->col);
	if (idx < 0)
		return -1;
	st->u.dev.device = p->names[idx].name;
	end_name(p, idx);
	return finish(p, "remove");
}

/* ---- §5 processes and mappings ---- */

int read_process(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	const struct zd_token *t;
	int idx;

	if (get_name(p, "process name", &t))
		return -1;
	idx = declare(p, NK_PROCESS, t->text, NULL, t->line, t->col);
	if (idx < 0)
		return -1;
	st->u.proc.process = p->names[idx].name;
	return finish(p, "process");
}

static int str_prot(struct parser *p, const struct zd_token *t, enum zd_scr_prot *prot)
{
	static const char *const words[] = {"rw", "r", "none"};
	int v = lookup_word(words, ARRAY_SIZE(words), t->value);

	if (v < 0) {
		perr(p, t->line, t->value_col, "unknown protection '%s' (allowed: rw, r, none)",
		     t->value);
		return -1;
	}
	*prot = (enum zd_scr_prot)v;
	return 0;
}

/* The device of dax=, devdax= and p2p=: live and of @type. */
static int map_device(struct parser *p, const char *name, int line, int col, enum zd_scr_mem type,
		      const char *opt, const char **out)
{
	char what[32];
	int idx;

	if (!zd_lex_is_name(name, strlen(name))) {
		perr(p, line, col, "expected a device name after '%s=', got '%s'", opt, name);
		return -1;
	}
	idx = use_device(p, name, line, col);
	if (idx < 0)
		return -1;
	snprintf(what, sizeof(what), "'%s='", opt);
	if (!device_is(p, idx, MEM_BIT(type), what, line, col))
		return -1;
	*out = p->names[idx].name;
	return 0;
}

enum { MO_ANON, MO_SHARED, MO_FILE, MO_DAX, MO_DEVDAX, MO_P2P, MO_PROT, MO_HUGE, MO__COUNT };

static int mmap_kind(struct parser *p, struct zd_st_mmap *m, const struct zd_token **seen)
{
	static const enum zd_scr_map_kind kinds[] = {
	    [MO_ANON] = ZD_SCR_MAP_ANON,     [MO_FILE] = ZD_SCR_MAP_FILE, [MO_DAX] = ZD_SCR_MAP_DAX,
	    [MO_DEVDAX] = ZD_SCR_MAP_DEVDAX, [MO_P2P] = ZD_SCR_MAP_P2P,
	};
	static const int order[] = {MO_ANON, MO_FILE, MO_DAX, MO_DEVDAX, MO_P2P};
	const struct zd_token *kind = NULL, *t;
	const char *colon;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		t = seen[order[i]];
		if (!t)
			continue;
		if (kind) {
			perr_tok(p, t, "conflicting mapping kinds '%s' and '%s'", kind->text,
				 t->text);
			return -1;
		}
		kind = t;
		m->kind = kinds[order[i]];
	}
	m->shared = seen[MO_SHARED] != NULL;
	if (!kind) {
		m->kind = m->shared ? ZD_SCR_MAP_SHARED : ZD_SCR_MAP_ANON;
		return 0;
	}
	t = kind;
	switch (m->kind) {
	case ZD_SCR_MAP_ANON:
		if (m->shared) {
			perr_tok(
			    p, seen[MO_SHARED],
			    "'anon' is private: write 'shared' alone for shared anonymous memory");
			return -1;
		}
		return 0;
	case ZD_SCR_MAP_FILE:
		if (!zd_lex_is_name(t->value, strlen(t->value))) {
			perr(p, t->line, t->value_col,
			     "expected a file name after 'file=', got '%s'", t->value);
			return -1;
		}
		m->file = p_strdup(p, t->value);
		return 0;
	case ZD_SCR_MAP_DAX:
		m->shared = true;
		colon = strchr(t->value, ':');
		if (!colon || !zd_lex_is_name(colon + 1, strlen(colon + 1))) {
			perr(p, t->line, t->value_col, "expected dax=DEV:FILE, got '%s'", t->text);
			return -1;
		}
		m->device = p_strndup(p, t->value, (size_t)(colon - t->value));
		if (map_device(p, m->device, t->line, t->value_col, ZD_SCR_MEM_FSDAX, "dax",
			       &m->device))
			return -1;
		m->file = p_strdup(p, colon + 1);
		return use_file(p, m->device, m->file, t->line,
				t->value_col + (int)(colon - t->value) + 1) < 0
			   ? -1
			   : 0;
	case ZD_SCR_MAP_DEVDAX:
		m->shared = true;
		return map_device(p, t->value, t->line, t->value_col, ZD_SCR_MEM_GENERIC, "devdax",
				  &m->device);
	case ZD_SCR_MAP_P2P:
		m->shared = true;
		return map_device(p, t->value, t->line, t->value_col, ZD_SCR_MEM_P2PDMA, "p2p",
				  &m->device);
	case ZD_SCR_MAP_SHARED:
		break;
	}
	return 0;
}

int read_mmap(struct parser *p, struct zd_stmt *st, const struct zd_token *proc)
{
	static const struct opt_spec specs[MO__COUNT] = {
	    [MO_ANON] = {"anon", OPT_FLAG},	 [MO_SHARED] = {"shared", OPT_FLAG},
	    [MO_FILE] = {"file", OPT_VALUE},	 [MO_DAX] = {"dax", OPT_VALUE},
	    [MO_DEVDAX] = {"devdax", OPT_VALUE}, [MO_P2P] = {"p2p", OPT_VALUE},
	    [MO_PROT] = {"prot", OPT_VALUE},	 [MO_HUGE] = {"huge", OPT_FLAG},
	};
	struct zd_st_mmap *m = &st->u.mmap;
	const struct zd_token *name, *size_tok, *seen[MO__COUNT];
	int idx;

	m->process = p_strdup(p, proc->text);
	if (get_name(p, "mapping name", &name))
		return -1;
	idx = declare(p, NK_MAPPING, name->text, m->process, name->line, name->col);
	if (idx < 0)
		return -1;
	m->name = p->names[idx].name;
	size_tok = peek_tok(p);
	if (get_size(p, "a mapping size", &m->size) ||
	    check_nonzero(p, st, m->size, size_tok->line, size_tok->col, "the mapping size"))
		return -1;
	if (get_options(p, "mmap", specs, MO__COUNT, seen) || mmap_kind(p, m, seen))
		return -1;
	m->prot = ZD_SCR_PROT_RW;
	if (seen[MO_PROT] && str_prot(p, seen[MO_PROT], &m->prot))
		return -1;
	m->huge = seen[MO_HUGE] != NULL;
	return 0;
}

/* SIZE of a range statement: a size, > 0 unless prefixed. */
static int range_size(struct parser *p, const struct zd_stmt *st, uint64_t *size)
{
	const struct zd_token *t = peek_tok(p);

	if (get_size(p, "a size", size))
		return -1;
	return check_nonzero(p, st, *size, t->line, t->col, "the size");
}

/* [expect=PATTERN] as the only option of a read. */
static int read_expect_opt(struct parser *p, const char *stmt, struct zd_st_range *r)
{
	static const struct opt_spec specs[] = {{"expect", OPT_VALUE}};
	const struct zd_token *seen[1];

	if (get_options(p, stmt, specs, 1, seen))
		return -1;
	if (!seen[0])
		return 0;
	r->has_expect = true;
	return str_pattern(p, seen[0]->value, seen[0]->line, seen[0]->value_col, &r->pattern);
}

static int read_pattern_arg(struct parser *p, const char *stmt, struct zd_st_range *r)
{
	const struct zd_token *t =
	    need_tok(p, "PATTERN (fill=BYTE, index, index+K, -index or zero)");

	if (!t || str_pattern(p, t->text, t->line, t->col, &r->pattern))
		return -1;
	return finish(p, stmt);
}

int read_proc_range(struct parser *p, struct zd_stmt *st, const struct zd_token *proc)
{
	static const struct opt_spec prot_spec[] = {{"prot", OPT_VALUE}};
	static const struct opt_spec advice_spec[] = {{"dontneed", OPT_FLAG}};
	struct zd_st_range *r = &st->u.range;
	const struct zd_token *seen[1];

	r->process = p_strdup(p, proc->text);
	if (get_ref(p, r->process, &r->ref))
		return -1;
	r->has_size = true;
	if (st->kind == ZD_ST_MUNMAP && !peek_tok(p)) {
		r->has_size = false;
		return 0;
	}
	if (range_size(p, st, &r->size))
		return -1;
	switch (st->kind) {
	case ZD_ST_MPROTECT:
		if (get_options(p, "mprotect", prot_spec, 1, seen))
			return -1;
		if (!seen[0]) {
			need_tok(p, "protection (prot=rw|r|none)");
			return -1;
		}
		return str_prot(p, seen[0], &r->prot);
	case ZD_ST_MADVISE:
		if (get_options(p, "madvise", advice_spec, 1, seen))
			return -1;
		if (!seen[0]) {
			need_tok(p, "advice (dontneed)");
			return -1;
		}
		r->advice = ZD_SCR_ADVICE_DONTNEED;
		return 0;
	case ZD_ST_WRITE:
		return read_pattern_arg(p, "write", r);
	case ZD_ST_READ:
		return read_expect_opt(p, "read", r);
	default:
		return finish(p, zd_stmt_kind_name(st->kind));
	}
}

int read_fork(struct parser *p, struct zd_stmt *st, const struct zd_token *proc)
{
	const struct zd_token *t;
	size_t i, n;
	int idx;

	st->u.fork.parent = p_strdup(p, proc->text);
	if (get_name(p, "child process name", &t))
		return -1;
	idx = declare(p, NK_PROCESS, t->text, NULL, t->line, t->col);
	if (idx < 0)
		return -1;
	st->u.fork.child = p->names[idx].name;
	/* the child has a copy of every mapping of the parent, under the same names */
	n = p->nr_names;
	for (i = 0; i < n; i++) {
		const struct name_entry *e = &p->names[i];

		if (e->kind == NK_MAPPING && e->live && strcmp(e->owner, proc->text) == 0)
			declare(p, NK_MAPPING, e->name, st->u.fork.child, e->line, 0);
	}
	return finish(p, "fork");
}

int read_exit(struct parser *p, struct zd_stmt *st, const struct zd_token *proc)
{
	st->u.proc.process = p_strdup(p, proc->text);
	end_name(p, find_live(p, NK_PROCESS, proc->text, NULL));
	return finish(p, "exit");
}

/* ---- §6 device access through a mirror ---- */

int read_dev_range(struct parser *p, struct zd_stmt *st, const struct zd_token *dev)
{
	static const struct opt_spec list_spec[] = {{"expect", OPT_VALUE}};
	struct zd_st_range *r = &st->u.range;
	const struct zd_token *t, *size_tok, *seen[1];

	r->device = p_strdup(p, dev->text);
	if (get_name(p, "process name", &t) || use_process(p, t->text, t->line, t->col) < 0)
		return -1;
	r->process = p_strdup(p, t->text);
	if (get_ref(p, r->process, &r->ref))
		return -1;
	size_tok = peek_tok(p);
	r->has_size = true;
	if (range_size(p, st, &r->size))
		return -1;
	switch (st->kind) {
	case ZD_ST_DEV_READ:
		return read_expect_opt(p, "read", r);
	case ZD_ST_DEV_WRITE:
		return read_pattern_arg(p, "write", r);
	case ZD_ST_DEV_SNAPSHOT:
		if (get_options(p, "snapshot", list_spec, 1, seen))
			return -1;
		if (!seen[0]) {
			need_tok(p, "expect=LIST");
			return -1;
		}
		if (str_snapshot(p, seen[0]->value, seen[0]->line, seen[0]->value_col,
				 &r->snapshot))
			return -1;
		if (r->size % ZD_PAGE_SIZE == 0 && r->snapshot.nr_pages != r->size / ZD_PAGE_SIZE) {
			perr(p, seen[0]->line, seen[0]->value_col,
			     "the list describes %llu pages but the range '%s' has %llu",
			     (unsigned long long)r->snapshot.nr_pages, size_tok->text,
			     (unsigned long long)(r->size / ZD_PAGE_SIZE));
			return -1;
		}
		return 0;
	default:
		return finish(p, zd_stmt_kind_name(st->kind) + 4);
	}
}

int read_dev_release(struct parser *p, struct zd_stmt *st, const struct zd_token *dev)
{
	st->u.dev.device = p_strdup(p, dev->text);
	return finish(p, "release");
}

int read_dev_fail_alloc(struct parser *p, struct zd_stmt *st, const struct zd_token *dev)
{
	st->u.dev.device = p_strdup(p, dev->text);
	if (get_number(p, "a number of allocations", &st->u.dev.count))
		return -1;
	return finish(p, "fail-alloc");
}

/* ---- §7 pinning ---- */

enum { GF_PIN, GF_LONGTERM, GF_WRITE, GF_FAST, GF_FAST_ONLY, GF_P2P, GF__COUNT };

int read_gup(struct parser *p, struct zd_stmt *st, const struct zd_token *proc)
{
	static const struct opt_spec specs[GF__COUNT] = {
	    {"pin", OPT_FLAG},	{"longterm", OPT_FLAG},	 {"write", OPT_FLAG},
	    {"fast", OPT_FLAG}, {"fast-only", OPT_FLAG}, {"p2p", OPT_FLAG},
	};
	static const unsigned int bits[GF__COUNT] = {
	    ZD_SCR_GUP_PIN,  ZD_SCR_GUP_LONGTERM,  ZD_SCR_GUP_WRITE,
	    ZD_SCR_GUP_FAST, ZD_SCR_GUP_FAST_ONLY, ZD_SCR_GUP_P2P,
	};
	struct zd_st_gup *g = &st->u.gup;
	const struct zd_token *h, *n, *seen[GF__COUNT];
	int idx, i;

	g->process = p_strdup(p, proc->text);
	if (get_name(p, "handle name", &h))
		return -1;
	idx = declare(p, NK_HANDLE, h->text, NULL, h->line, h->col);
	if (idx < 0)
		return -1;
	g->handle = p->names[idx].name;
	p->names[idx].hkind = HK_GUP;
	if (get_ref(p, g->process, &g->ref))
		return -1;
	n = peek_tok(p);
	if (get_number(p, "a number of pages", &g->nr_pages) ||
	    check_nonzero(p, st, g->nr_pages, n->line, n->col, "the number of pages"))
		return -1;
	if (get_options(p, "gup", specs, GF__COUNT, seen))
		return -1;
	for (i = 0; i < GF__COUNT; i++)
		if (seen[i])
			g->flags |= bits[i];
	if (seen[GF_FAST] && seen[GF_FAST_ONLY]) {
		perr_tok(p, seen[GF_FAST_ONLY], "'fast' and 'fast-only' exclude each other");
		return -1;
	}
	if (g->flags & ZD_SCR_GUP_PIN)
		p->names[idx].hkind = HK_PIN;
	return 0;
}

int read_put(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	const struct zd_token *t = need_tok(p, "handle");
	int idx;

	if (!t || (idx = use_handle(p, t)) < 0)
		return -1;
	st->u.handle.handle = p->names[idx].name;
	end_name(p, idx);
	return finish(p, "put");
}

int read_unpin(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	static const struct opt_spec specs[] = {{"dirty", OPT_FLAG}};
	const struct zd_token *t = need_tok(p, "handle"), *seen[1];
	int idx;

	if (!t || (idx = use_handle(p, t)) < 0)
		return -1;
	if (p->names[idx].hkind != HK_PIN) {
		perr_tok(p, t, "handle '%s' (line %d) holds no pins; release it with 'put'",
			 t->text, p->names[idx].line);
		return -1;
	}
	st->u.handle.handle = p->names[idx].name;
	end_name(p, idx);
	if (get_options(p, "unpin", specs, 1, seen))
		return -1;
	st->u.handle.dirty = seen[0] != NULL;
	return 0;
}

int read_pinned(struct parser *p, struct zd_stmt *st, const struct zd_token *kw __maybe_unused)
{
	struct zd_st_range *r = &st->u.range;
	const struct zd_token *h = need_tok(p, "handle"), *op;
	int idx;

	if (!h || (idx = use_handle(p, h)) < 0)
		return -1;
	if (p->names[idx].hkind == HK_PGMAP) {
		perr_tok(p, h, "handle '%s' holds a pagemap reference, not pages", h->text);
		return -1;
	}
	r->handle = p->names[idx].name;
	op = need_tok(p, "'read' or 'write'");
	if (!op)
		return -1;
	if (strcmp(op->text, "read") && strcmp(op->text, "write")) {
		perr_tok(p, op, "expected 'read' or 'write' after 'pinned %s', got '%s'", h->text,
			 op->text);
		return -1;
	}
	st->kind = op->text[0] == 'r' ? ZD_ST_PINNED_READ : ZD_ST_PINNED_WRITE;
	r->has_size = true;
	if (range_size(p, st, &r->size))
		return -1;
	if (st->kind == ZD_ST_PINNED_READ)
		return read_expect_opt(p, "pinned read", r);
	return read_pattern_arg(p, "pinned write", r);
}

/* ---- §8 DAX files, P2P, memory failure ---- */

static int file_arg(struct parser *p, const char *dev, bool create, const char **out)
{
	const struct zd_token *t;
	int idx;

	if (get_name(p, "file name", &t))
		return -1;
	if (create)
		idx = declare(p, NK_FILE, t->text, dev, t->line, t->col);
	else
		idx = use_file(p, dev, t->text, t->line, t->col);
	if (idx < 0)
		return -1;
	*out = p->names[idx].name;
	return 0;
}

int read_dax(struct parser *p, struct zd_stmt *st, const struct zd_token *dev)
{
	struct zd_st_file *f = &st->u.file;
	const char *verb = zd_stmt_kind_name(st->kind) + 4;
	const struct zd_token *t, *f2;
	int idx;

	f->device = p_strdup(p, dev->text);
	switch (st->kind) {
	case ZD_ST_DAX_CREATE:
	case ZD_ST_DAX_TRUNCATE:
		if (file_arg(p, f->device, st->kind == ZD_ST_DAX_CREATE, &f->file) ||
		    get_size(p, "a file size", &f->size))
			return -1;
		break;
	case ZD_ST_DAX_PUNCH:
		if (file_arg(p, f->device, false, &f->file) || get_size(p, "an offset", &f->offset))
			return -1;
		t = peek_tok(p);
		if (get_size(p, "a length", &f->size) ||
		    check_nonzero(p, st, f->size, t->line, t->col, "the length"))
			return -1;
		break;
	case ZD_ST_DAX_REFLINK:
		/* F2 may exist (its blocks are replaced) or is created */
		if (get_name(p, "target file name (F2)", &f2))
			return -1;
		if (file_arg(p, f->device, false, &f->src_file))
			return -1;
		idx = find_live(p, NK_FILE, f2->text, f->device);
		if (idx < 0)
			idx = declare(p, NK_FILE, f2->text, f->device, f2->line, f2->col);
		if (idx < 0)
			return -1;
		f->file = p->names[idx].name;
		break;
	case ZD_ST_DAX_DELETE:
		if (file_arg(p, f->device, false, &f->file))
			return -1;
		end_name(p, find_live(p, NK_FILE, f->file, f->device));
		break;
	default:
		return -1;
	}
	return finish(p, verb);
}

int read_p2p(struct parser *p, struct zd_stmt *st, const struct zd_token *dev)
{
	struct zd_st_handle *h = &st->u.handle;
	const struct zd_token *t;
	int idx;

	h->device = p_strdup(p, dev->text);
	if (st->kind == ZD_ST_P2P_ALLOC) {
		const struct zd_token *size_tok;

		if (get_name(p, "handle name", &t))
			return -1;
		idx = declare(p, NK_HANDLE, t->text, NULL, t->line, t->col);
		if (idx < 0)
			return -1;
		p->names[idx].hkind = HK_P2P;
		p->names[idx].hdevice = h->device;
		h->handle = p->names[idx].name;
		size_tok = peek_tok(p);
		if (get_size(p, "an allocation size", &h->size) ||
		    check_nonzero(p, st, h->size, size_tok->line, size_tok->col,
				  "the allocation size"))
			return -1;
		return finish(p, "alloc");
	}
	t = need_tok(p, "handle");
	if (!t || (idx = use_handle(p, t)) < 0)
		return -1;
	if (p->names[idx].hkind != HK_P2P || strcmp(p->names[idx].hdevice, h->device)) {
		perr_tok(p, t, "handle '%s' is not a P2P allocation of '%s' (made with '%s alloc')",
			 t->text, h->device, h->device);
		return -1;
	}
	h->handle = p->names[idx].name;
	end_name(p, idx);
	return finish(p, "free");
}

/* ---- project additions: device pages held under handles ---- */

int read_alloc_page(struct parser *p, struct zd_stmt *st, const struct zd_token *dev)
{
	static const struct opt_spec specs[] = {{"order", OPT_VALUE}, {"at", OPT_VALUE}};
	struct zd_st_handle *h = &st->u.handle;
	const struct zd_token *t, *seen[2];
	uint64_t order = 0;
	int idx;

	h->device = p_strdup(p, dev->text);
	if (get_name(p, "handle name", &t))
		return -1;
	idx = declare(p, NK_HANDLE, t->text, NULL, t->line, t->col);
	if (idx < 0)
		return -1;
	p->names[idx].hkind = HK_PAGE;
	p->names[idx].hdevice = h->device;
	h->handle = p->names[idx].name;
	if (get_options(p, "alloc-page", specs, 2, seen))
		return -1;
	if (seen[0]) {
		if (str_number(p, seen[0]->value, seen[0]->line, seen[0]->value_col, "an order",
			       &order))
			return -1;
		if (order > ZD_MAX_ORDER) {
			perr(p, seen[0]->line, seen[0]->value_col,
			     "order %s is out of range (0..%d)", seen[0]->value, ZD_MAX_ORDER);
			return -1;
		}
	}
	h->order = (unsigned int)order;
	if (seen[1]) {
		if (str_number(p, seen[1]->value, seen[1]->line, seen[1]->value_col, "a page index",
			       &h->at))
			return -1;
		h->has_at = true;
		uint64_t pages;

		idx = find_live(p, NK_DEVICE, h->device, NULL);
		pages = idx >= 0 ? p->names[idx].pages : 0;
		if (pages && h->at >= pages) {
			perr(p, seen[1]->line, seen[1]->value_col,
			     "page %s is beyond the end of '%s' (%llu pages)", seen[1]->value,
			     h->device, (unsigned long long)pages);
			return -1;
		}
	}
	return 0;
}

int read_free_page(struct parser *p, struct zd_stmt *st, const struct zd_token *dev)
{
	struct zd_st_handle *h = &st->u.handle;
	const struct zd_token *t = need_tok(p, "handle");
	int idx;

	h->device = p_strdup(p, dev->text);
	if (!t || (idx = use_handle(p, t)) < 0)
		return -1;
	if (p->names[idx].hkind != HK_PAGE || strcmp(p->names[idx].hdevice, h->device)) {
		perr_tok(p, t, "handle '%s' does not hold a page from '%s alloc-page'", t->text,
			 h->device);
		return -1;
	}
	h->handle = p->names[idx].name;
	end_name(p, idx);
	return finish(p, "free-page");
}

int read_tryget(struct parser *p, struct zd_stmt *st, const struct zd_token *kw)
{
	struct zd_st_handle *h = &st->u.handle;
	const struct zd_token *t;
	int idx;

	if (get_name(p, "handle name", &t))
		return -1;
	idx = declare(p, NK_HANDLE, t->text, NULL, t->line, t->col);
	if (idx < 0)
		return -1;
	p->names[idx].hkind = st->kind == ZD_ST_TRYGET ? HK_TRYGET : HK_PGMAP;
	h->handle = p->names[idx].name;
	t = need_tok(p, "device page (DEV+Np)");
	if (!t || tok_page(p, t, &h->page))
		return -1;
	h->device = h->page.device;
	p->names[idx].hdevice = h->device;
	return finish(p, kw->text);
}
