/* SPDX-License-Identifier: MIT */
/*
 * Scenario parser: the name tables (one namespace per kind, each name live from its definition
 * to its end, in file order) and the readers of locations that name things (REF, DEV+Np).
 */
#include "parser_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *const name_kind_words[] = {
    [NK_DEVICE] = "device", [NK_PROCESS] = "process", [NK_MAPPING] = "mapping",
    [NK_FILE] = "file",	    [NK_HANDLE] = "handle",   [NK_THREAD] = "thread",
};

static bool same_owner(const struct name_entry *e, const char *owner)
{
	if (!owner || !e->owner)
		return !owner && !e->owner;
	return strcmp(e->owner, owner) == 0;
}

/*
 * Hash index over the entries: every entry is on the chain of its (kind, name, owner), newest
 * first, so the first match on a chain is the most recent definition of that name.
 */
static size_t name_hash(enum name_kind kind, const char *name, const char *owner)
{
	size_t h = 14695981039346656037ULL ^ (size_t)kind;
	const char *c;

	for (c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (c = owner ? owner : ""; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	return h;
}

static size_t bucket_of(const struct parser *p, const struct name_entry *e)
{
	return name_hash(e->kind, e->name, e->owner) & (p->nr_buckets - 1);
}

/* Rebuild the index for names[0 .. nr_names), growing it to keep chains short. */
void rehash_names(struct parser *p)
{
	size_t i, nb = p->nr_buckets ? p->nr_buckets : 64;

	while (nb < 2 * p->nr_names)
		nb *= 2;
	if (nb != p->nr_buckets) {
		int *n = malloc(nb * sizeof(*n));

		if (!n) {
			out_of_memory(p);
			return;
		}
		free(p->buckets);
		p->buckets = n;
		p->nr_buckets = nb;
	}
	for (i = 0; i < nb; i++)
		p->buckets[i] = -1;
	for (i = 0; i < p->nr_names; i++) {
		size_t b = bucket_of(p, &p->names[i]);

		p->names[i].hnext = p->buckets[b];
		p->buckets[b] = (int)i;
	}
}

/* The first (most recent) entry of (kind, name, owner) for which @match holds, or -1. */
static int lookup(struct parser *p, enum name_kind kind, const char *name, const char *owner,
		  bool (*match)(const struct name_entry *e, bool arg), bool arg)
{
	int i;

	if (!p->nr_buckets)
		return -1;
	for (i = p->buckets[name_hash(kind, name, owner) & (p->nr_buckets - 1)]; i >= 0;
	     i = p->names[i].hnext) {
		const struct name_entry *e = &p->names[i];

		if (e->kind == kind && strcmp(e->name, name) == 0 && same_owner(e, owner) &&
		    match(e, arg))
			return i;
	}
	return -1;
}

static bool is_live(const struct name_entry *e, bool pending)
{
	return e->live || (pending && e->pending);
}

static bool has_ended(const struct name_entry *e, bool unused __maybe_unused)
{
	return !e->live && !e->pending && e->end_line;
}

/* Index of the live entry (pending ones too when @pending), or -1. */
static int find(struct parser *p, enum name_kind kind, const char *name, const char *owner,
		bool pending)
{
	return lookup(p, kind, name, owner, is_live, pending);
}

int find_live(struct parser *p, enum name_kind kind, const char *name, const char *owner)
{
	return find(p, kind, name, owner, false);
}

/* Index of the most recent entry of @name of @kind that has ended, or -1. */
static int last_ended(struct parser *p, enum name_kind kind, const char *name, const char *owner)
{
	return lookup(p, kind, name, owner, has_ended, false);
}

/* The line on which the most recent, ended @name of @kind ended, or 0. */
static int ended_line(struct parser *p, enum name_kind kind, const char *name, const char *owner)
{
	int idx = last_ended(p, kind, name, owner);

	return idx >= 0 ? p->names[idx].end_line : 0;
}

int declare(struct parser *p, enum name_kind kind, const char *name, const char *owner, int line,
	    int col)
{
	struct name_entry *e;
	int old = find(p, kind, name, owner, true);

	if ((kind == NK_DEVICE || kind == NK_PROCESS) && is_reserved_word(name)) {
		perr(p, line, col, "'%s' is a statement keyword and cannot name a %s", name,
		     name_kind_words[kind]);
		return -1;
	}
	if (old >= 0) {
		if (kind == NK_MAPPING)
			perr(p, line, col, "mapping '%s' of process '%s' already exists (line %d)",
			     name, owner, p->names[old].line);
		else if (kind == NK_FILE)
			perr(p, line, col, "file '%s' already exists on '%s' (line %d)", name,
			     owner, p->names[old].line);
		else
			perr(p, line, col, "%s '%s' is already live (defined on line %d)",
			     name_kind_words[kind], name, p->names[old].line);
		return -1;
	}
	if (kind == NK_DEVICE || kind == NK_PROCESS) {
		enum name_kind other = kind == NK_DEVICE ? NK_PROCESS : NK_DEVICE;

		old = find(p, other, name, NULL, true);
		if (old >= 0) {
			perr(p, line, col,
			     "'%s' is a live %s (line %d); a %s may not share its name", name,
			     name_kind_words[other], p->names[old].line, name_kind_words[kind]);
			return -1;
		}
	}
	if (p->nr_names == p->cap_names) {
		size_t cap = p->cap_names ? p->cap_names * 2 : 32;
		struct name_entry *n = realloc(p->names, cap * sizeof(*n));

		if (!n) {
			out_of_memory(p);
			return -1;
		}
		p->names = n;
		p->cap_names = cap;
	}
	e = &p->names[p->nr_names];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = p_strdup(p, name);
	e->owner = owner ? p_strdup(p, owner) : NULL;
	e->pending = true;
	e->line = line;
	e->mem = -1;
	p->nr_names++;
	if (p->nr_names * 2 > p->nr_buckets) {
		rehash_names(p);
	} else {
		size_t b = bucket_of(p, e);

		e->hnext = p->buckets[b];
		p->buckets[b] = (int)(p->nr_names - 1);
	}
	return (int)(p->nr_names - 1);
}

void end_name(struct parser *p, int idx)
{
	if (idx < 0)
		return;
	if (p->nr_ends == p->cap_ends) {
		size_t cap = p->cap_ends ? p->cap_ends * 2 : 8;
		size_t *n = realloc(p->ends, cap * sizeof(*n));

		if (!n) {
			out_of_memory(p);
			return;
		}
		p->ends = n;
		p->cap_ends = cap;
	}
	p->ends[p->nr_ends++] = (size_t)idx;
}

/* End every live name owned by @owner (mappings of a process, files of a device). */
static void end_owned(struct parser *p, enum name_kind kind, const char *owner, int line)
{
	size_t i;

	for (i = 0; i < p->nr_names; i++) {
		struct name_entry *e = &p->names[i];

		if (e->kind == kind && e->live && e->owner && strcmp(e->owner, owner) == 0) {
			e->live = false;
			e->end_line = line;
		}
	}
}

/* The statement is read: its definitions become visible and its endings take effect, unless
 * it must fail (`!`), in which case it changes no name. */
void commit_names(struct parser *p, const struct zd_stmt *st)
{
	size_t i;

	if (st->prefix == ZD_SCR_PREFIX_ERR) {
		/* pending entries are the newest: each is the head of its chain */
		while (p->nr_names > p->pending_from) {
			struct name_entry *e = &p->names[--p->nr_names];

			p->buckets[bucket_of(p, e)] = e->hnext;
		}
		p->nr_ends = 0;
		return;
	}
	for (i = p->pending_from; i < p->nr_names; i++) {
		p->names[i].pending = false;
		p->names[i].live = true;
	}
	for (i = 0; i < p->nr_ends; i++) {
		struct name_entry *e = &p->names[p->ends[i]];

		if (!e->live)
			continue;
		e->live = false;
		e->end_line = st->line;
		if (e->kind == NK_PROCESS)
			end_owned(p, NK_MAPPING, e->name, st->line);
		else if (e->kind == NK_DEVICE)
			end_owned(p, NK_FILE, e->name, st->line);
	}
	p->nr_ends = 0;
	p->pending_from = p->nr_names;
}

int use_device(struct parser *p, const char *name, int line, int col)
{
	int idx = find_live(p, NK_DEVICE, name, NULL);
	int ended;

	if (idx >= 0)
		return idx;
	ended = ended_line(p, NK_DEVICE, name, NULL);
	if (find_live(p, NK_PROCESS, name, NULL) >= 0)
		perr(p, line, col, "'%s' is a process, not a live device", name);
	else if (ended)
		perr(p, line, col, "'%s' is not a live device (removed on line %d)", name, ended);
	else
		perr(p, line, col, "'%s' is not a live device", name);
	return -1;
}

int use_device_or_removed(struct parser *p, const char *name, int line, int col)
{
	int idx = find_live(p, NK_DEVICE, name, NULL);

	if (idx < 0)
		idx = last_ended(p, NK_DEVICE, name, NULL);
	return idx >= 0 ? idx : use_device(p, name, line, col);
}

int use_process(struct parser *p, const char *name, int line, int col)
{
	int idx = find_live(p, NK_PROCESS, name, NULL);
	int ended;

	if (idx >= 0)
		return idx;
	ended = ended_line(p, NK_PROCESS, name, NULL);
	if (find_live(p, NK_DEVICE, name, NULL) >= 0)
		perr(p, line, col, "'%s' is a device, not a live process", name);
	else if (ended)
		perr(p, line, col, "'%s' is not a live process (it exited on line %d)", name,
		     ended);
	else
		perr(p, line, col, "'%s' is not a live process", name);
	return -1;
}

int use_handle(struct parser *p, const struct zd_token *t)
{
	int idx, ended;

	if (t->type != ZD_TOK_NAME) {
		perr_tok(p, t, "expected a handle name, got '%s'", t->text);
		return -1;
	}
	idx = find_live(p, NK_HANDLE, t->text, NULL);
	if (idx >= 0)
		return idx;
	ended = ended_line(p, NK_HANDLE, t->text, NULL);
	if (ended)
		perr_tok(p, t, "'%s' is not a live handle (released on line %d)", t->text, ended);
	else
		perr_tok(p, t, "'%s' is not a live handle", t->text);
	return -1;
}

int use_file(struct parser *p, const char *device, const char *file, int line, int col)
{
	int idx = find_live(p, NK_FILE, file, device);
	int ended;

	if (idx >= 0)
		return idx;
	ended = ended_line(p, NK_FILE, file, device);
	if (ended)
		perr(p, line, col, "file '%s' does not exist on '%s' (gone since line %d)", file,
		     device, ended);
	else
		perr(p, line, col, "file '%s' does not exist on '%s' (create it with '%s create')",
		     file, device, device);
	return -1;
}

static const char *mask_words(unsigned int mask)
{
	if (mask == MEM_MIRROR)
		return "a private or coherent";
	if (mask == MEM_BIT(ZD_SCR_MEM_FSDAX))
		return "an fsdax";
	if (mask == MEM_BIT(ZD_SCR_MEM_GENERIC))
		return "a generic";
	if (mask == MEM_BIT(ZD_SCR_MEM_P2PDMA))
		return "a p2pdma";
	return "another kind of";
}

bool device_is(struct parser *p, int idx, unsigned int type_mask, const char *op, int line, int col)
{
	const struct name_entry *e = &p->names[idx];

	if (e->mem < 0 || (type_mask & MEM_BIT(e->mem)))
		return true;
	perr(p, line, col, "%s needs %s device, but '%s' is %s", op, mask_words(type_mask), e->name,
	     zd_scr_mem_name((enum zd_scr_mem)e->mem));
	return false;
}

/* ---- locations and data ---- */

int get_ref(struct parser *p, const char *process, struct zd_scr_ref *ref)
{
	const struct zd_token *t = need_tok(p, "location (MAPPING or MAPPING+SIZE)");
	const char *plus, *name;
	size_t nlen;

	if (!t)
		return -1;
	plus = strchr(t->text, '+');
	nlen = plus ? (size_t)(plus - t->text) : t->len;
	if (!zd_lex_is_name(t->text, nlen)) {
		perr_tok(p, t, "expected a location (MAPPING or MAPPING+SIZE), got '%s'", t->text);
		return -1;
	}
	name = p_strndup(p, t->text, nlen);
	if (find_live(p, NK_MAPPING, name, process) < 0) {
		if (find_live(p, NK_DEVICE, name, NULL) >= 0)
			perr_tok(p, t,
				 "'%s' is a device; a location in process '%s' is MAPPING or "
				 "MAPPING+SIZE",
				 name, process);
		else
			perr_tok(p, t, "'%s' is not a mapping of process '%s'", name, process);
		return -1;
	}
	ref->mapping = name;
	ref->offset = 0;
	if (plus &&
	    str_size(p, plus + 1, t->line, t->col + (int)nlen + 1, "an offset", &ref->offset))
		return -1;
	return 0;
}

int tok_page(struct parser *p, const struct zd_token *t, struct zd_scr_page *page)
{
	const char *plus = strchr(t->text, '+');
	size_t nlen = plus ? (size_t)(plus - t->text) : t->len;
	const char *name;
	uint64_t bytes;
	char suffix = 0;
	int idx;

	if (!plus || !zd_lex_is_name(t->text, nlen)) {
		perr_tok(p, t, "expected a device page such as 'gpu0+3p', got '%s'", t->text);
		return -1;
	}
	name = p_strndup(p, t->text, nlen);
	idx = find_live(p, NK_DEVICE, name, NULL);
	if (idx < 0) {
		if (find_live(p, NK_PROCESS, name, NULL) >= 0)
			perr_tok(p, t,
				 "'%s' is a process; a page is DEV+Np (a location in a process is "
				 "P REF)",
				 name);
		else
			use_device(p, name, t->line, t->col);
		return -1;
	}
	if (zd_lex_size(plus + 1, &bytes, &suffix) != ZD_NUM_OK || suffix != 'p') {
		perr(p, t->line, t->col + (int)nlen + 1,
		     "expected a page index such as '3p' after '%s+', got '%s'", name, plus + 1);
		return -1;
	}
	page->device = name;
	page->index = bytes / ZD_PAGE_SIZE;
	if (p->names[idx].pages && page->index >= p->names[idx].pages) {
		perr(p, t->line, t->col + (int)nlen + 1,
		     "page %llu is beyond the end of '%s' (%llu pages)",
		     (unsigned long long)page->index, name,
		     (unsigned long long)p->names[idx].pages);
		return -1;
	}
	return 0;
}

int get_loc(struct parser *p, struct zd_scr_loc *loc)
{
	const struct zd_token *t = need_tok(p, "location (P REF or DEV+Np)");

	if (!t)
		return -1;
	memset(loc, 0, sizeof(*loc));
	if (t->type == ZD_TOK_NAME) {
		if (find_live(p, NK_DEVICE, t->text, NULL) >= 0) {
			perr_tok(p, t, "missing page index: a page of device '%s' is '%s+Np'",
				 t->text, t->text);
			return -1;
		}
		if (use_process(p, t->text, t->line, t->col) < 0)
			return -1;
		loc->process = p_strdup(p, t->text);
		return get_ref(p, loc->process, &loc->ref);
	}
	if (t->type == ZD_TOK_OTHER && strchr(t->text, '+')) {
		loc->is_page = true;
		return tok_page(p, t, &loc->page);
	}
	perr_tok(p, t, "expected a location (P REF or DEV+Np), got '%s'", t->text);
	return -1;
}
