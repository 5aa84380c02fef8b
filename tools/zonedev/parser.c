/* SPDX-License-Identifier: MIT */
/*
 * Scenario parser core: the script's arena, error messages, token and option readers,
 * statement dispatch (keywords, `DEV verb`, `P verb`), thread blocks and the public API.
 */
#include "parser_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- memory: every string and array of a script lives in its arena ---- */

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct zd_script_arena {
	struct arena_block *head;
};

static void *arena_alloc(struct zd_script_arena *a, size_t size)
{
	struct arena_block *b = a->head;
	size_t need = (size + 15) & ~(size_t)15;
	void *m;

	if (need < size)
		return NULL;
	if (!b || b->size - b->used < need) {
		size_t bsize = need > 32768 ? need : 32768;

		if (bsize > SIZE_MAX - sizeof(*b))
			return NULL;
		b = malloc(sizeof(*b) + bsize);
		if (!b)
			return NULL;
		b->size = bsize;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	m = b->data + b->used;
	b->used += need;
	memset(m, 0, size);
	return m;
}

static void arena_free(struct zd_script_arena *a)
{
	while (a && a->head) {
		struct arena_block *b = a->head;

		a->head = b->next;
		free(b);
	}
}

void out_of_memory(struct parser *p)
{
	if (!p->stop)
		fprintf(p->err, "%s: error: out of memory\n", p->file ? p->file : "zonedev");
	p->stop = true;
	p->failed = true;
	p->nr_errors++;
}

void *p_alloc(struct parser *p, size_t size)
{
	void *m = arena_alloc(p->script->arena, size ? size : 1);

	if (!m)
		out_of_memory(p);
	return m;
}

const char *p_strndup(struct parser *p, const char *s, size_t len)
{
	char *c = len < SIZE_MAX ? p_alloc(p, len + 1) : NULL;

	if (!c)
		return "";
	memcpy(c, s, len);
	c[len] = '\0';
	return c;
}

const char *p_strdup(struct parser *p, const char *s)
{
	return p_strndup(p, s, strlen(s));
}

/* ---- messages ---- */

static void vperr(struct parser *p, int line, int col, const char *fmt, va_list ap)
{
	p->failed = true;
	if (p->stop)
		return;
	p->nr_errors++;
	fprintf(p->err, "%s:%d:%d: error: ", p->file, line, col);
	vfprintf(p->err, fmt, ap);
	fputc('\n', p->err);
	if (p->nr_errors >= ZD_MAX_ERRORS) {
		fprintf(p->err, "%s:%d:%d: error: too many errors; stopping here\n", p->file, line,
			col);
		p->stop = true;
	}
}

void perr(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, line, col, fmt, ap);
	va_end(ap);
}

void perr_tok(struct parser *p, const struct zd_token *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, t->line, t->col, fmt, ap);
	va_end(ap);
}

/* ---- the token cursor ---- */

const struct zd_token *peek_tok(struct parser *p)
{
	return p->pos < p->ls->nr_tokens ? &p->ls->tokens[p->pos] : NULL;
}

const struct zd_token *next_tok(struct parser *p)
{
	const struct zd_token *t = peek_tok(p);

	if (t)
		p->pos++;
	return t;
}

const struct zd_token *need_tok(struct parser *p, const char *what)
{
	const struct zd_token *t = next_tok(p);

	if (!t)
		perr(p, p->ls->end_line, p->ls->end_col, "missing %s (usage: %s)", what, p->usage);
	return t;
}

int finish(struct parser *p, const char *stmt)
{
	const struct zd_token *t = peek_tok(p);

	if (!t)
		return 0;
	perr_tok(p, t, "unexpected extra argument '%s' for %s (usage: %s)", t->text, stmt,
		 p->usage);
	return -1;
}

/* ---- token readers ---- */

int get_name(struct parser *p, const char *what, const struct zd_token **out)
{
	const struct zd_token *t = need_tok(p, what);

	if (!t)
		return -1;
	if (t->type != ZD_TOK_NAME) {
		perr_tok(p, t, "expected %s (a name: letters, digits, '_', '.', '-'), got '%s'",
			 what, t->text);
		return -1;
	}
	*out = t;
	return 0;
}

int str_size(struct parser *p, const char *s, int line, int col, const char *what, uint64_t *out)
{
	switch (zd_lex_size(s, out, NULL)) {
	case ZD_NUM_OK:
		return 0;
	case ZD_NUM_NOT_A_NUMBER:
		perr(p, line, col, "expected %s (e.g. 4K, 2M, 512p), got '%s'", what, s);
		break;
	case ZD_NUM_BAD_SUFFIX:
		perr(p, line, col,
		     "bad size '%s' (a number with an optional suffix K, M, G, T or p)", s);
		break;
	case ZD_NUM_TOO_LARGE:
		perr(p, line, col, "size '%s' is too large", s);
		break;
	}
	return -1;
}

int str_number(struct parser *p, const char *s, int line, int col, const char *what, uint64_t *out)
{
	switch (zd_lex_number(s, out)) {
	case ZD_NUM_OK:
		return 0;
	case ZD_NUM_NOT_A_NUMBER:
		perr(p, line, col, "expected %s (a decimal or 0x number), got '%s'", what, s);
		break;
	case ZD_NUM_BAD_SUFFIX:
		perr(p, line, col, "bad number '%s' for %s", s, what);
		break;
	case ZD_NUM_TOO_LARGE:
		perr(p, line, col, "number '%s' is too large", s);
		break;
	}
	return -1;
}

int str_int64(struct parser *p, const char *s, int line, int col, const char *what, int64_t *out)
{
	bool neg = s[0] == '-';
	uint64_t v;

	if (str_number(p, s + neg, line, col, what, &v))
		return -1;
	if (v > (uint64_t)INT64_MAX + neg) {
		perr(p, line, col, "number '%s' is out of range", s);
		return -1;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int get_size(struct parser *p, const char *what, uint64_t *out)
{
	const struct zd_token *t = need_tok(p, what);

	return t ? str_size(p, t->text, t->line, t->col, what, out) : -1;
}

int get_number(struct parser *p, const char *what, uint64_t *out)
{
	const struct zd_token *t = need_tok(p, what);

	return t ? str_number(p, t->text, t->line, t->col, what, out) : -1;
}

int check_nonzero(struct parser *p, const struct zd_stmt *st, uint64_t v, int line, int col,
		  const char *what)
{
	if (v || st->prefix != ZD_SCR_PREFIX_NONE)
		return 0;
	perr(p, line, col, "%s must be greater than 0", what);
	return -1;
}

int lookup_word(const char *const *words, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (words[i] && strcmp(words[i], s) == 0)
			return (int)i;
	return -1;
}

const char *word_list(const char *const *words, size_t n, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		int k;

		if (!words[i])
			continue;
		k = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", words[i]);
		if (k < 0)
			break;
		used += (size_t)k;
	}
	return buf;
}

int bad_word(struct parser *p, int line, int col, const char *what, const char *got,
	     const char *const *words, size_t n)
{
	char list[256];

	perr(p, line, col, "unknown %s '%s' (allowed: %s)", what, got,
	     word_list(words, n, list, sizeof(list)));
	return -1;
}

/* ---- options ---- */

int get_options(struct parser *p, const char *stmt, const struct opt_spec *specs, size_t n,
		const struct zd_token **seen)
{
	const struct zd_token *t;
	const char *names[16];
	char list[256];
	size_t i;

	for (i = 0; i < n && i < ARRAY_SIZE(names); i++) {
		names[i] = specs[i].name;
		seen[i] = NULL;
	}
	word_list(names, i, list, sizeof(list));
	while ((t = next_tok(p))) {
		const char *key = t->type == ZD_TOK_KEYVAL ? t->key : t->text;
		int k = -1;

		if (t->type == ZD_TOK_KEYVAL || t->type == ZD_TOK_NAME) {
			for (i = 0; i < n; i++)
				if (strcmp(specs[i].name, key) == 0)
					k = (int)i;
		}
		if (n == 0) {
			perr_tok(p, t, "unexpected extra argument '%s' for %s (usage: %s)", t->text,
				 stmt, p->usage);
			return -1;
		}
		if (t->type != ZD_TOK_KEYVAL && t->type != ZD_TOK_NAME) {
			perr_tok(p, t, "unexpected argument '%s' for %s (options: %s)", t->text,
				 stmt, list);
			return -1;
		}
		if (k < 0) {
			perr_tok(p, t, "unknown option '%s' for %s (allowed: %s)", key, stmt, list);
			return -1;
		}
		if (specs[k].type == OPT_FLAG && t->type == ZD_TOK_KEYVAL) {
			perr_tok(p, t, "option '%s' of %s takes no value", key, stmt);
			return -1;
		}
		if (specs[k].type == OPT_VALUE && t->type != ZD_TOK_KEYVAL) {
			perr_tok(p, t, "option '%s' of %s needs a value (%s=...)", key, stmt, key);
			return -1;
		}
		if (specs[k].type == OPT_VALUE && t->value[0] == '\0') {
			perr(p, t->line, t->value_col, "missing value after '%s='", key);
			return -1;
		}
		if (seen[k]) {
			perr_tok(p, t, "option '%s' given twice (first at column %d)", key,
				 seen[k]->col);
			return -1;
		}
		seen[k] = t;
	}
	return 0;
}

/* ---- dispatch ---- */

#define KW_NO_PREFIX 1u /* '!' and '~' do not apply */
#define KW_TOP 2u	/* not inside a thread block */

struct keyword {
	const char *word;
	stmt_reader read;
	enum zd_stmt_kind kind;
	unsigned int flags;
	const char *usage;
};

static const struct keyword keywords[] = {
    {"regime", read_regime, ZD_ST_REGIME, KW_TOP, "regime unified|split|legacy"},
    {"ram", read_ram, ZD_ST_RAM, KW_TOP, "ram SIZE"},
    {"seed", read_seed, ZD_ST_SEED, KW_TOP, "seed N"},
    {"fail", read_fail, ZD_ST_FAIL, 0, "fail ram|pgtable|insert|memmap [count=N]"},
    {"bug", read_bug, ZD_ST_BUG, KW_TOP, "bug ID"},
    {"device", read_device, ZD_ST_DEVICE, 0,
     "device NAME private|coherent|fsdax|generic|p2pdma SIZE [chunk=SIZE] [align=4K|2M|1G]"},
    {"remove", read_remove, ZD_ST_REMOVE, 0, "remove DEV"},
    {"process", read_process, ZD_ST_PROCESS, 0, "process P"},
    {"put", read_put, ZD_ST_PUT, 0, "put H"},
    {"unpin", read_unpin, ZD_ST_UNPIN, 0, "unpin H [dirty]"},
    {"pinned", read_pinned, ZD_ST_PINNED_READ, 0,
     "pinned H read SIZE [expect=PATTERN] | pinned H write SIZE PATTERN"},
    {"poison", read_poison, ZD_ST_POISON, 0, "poison P REF | poison DEV+Np"},
    {"tryget", read_tryget, ZD_ST_TRYGET, 0, "tryget H DEV+Np"},
    {"get-pagemap", read_tryget, ZD_ST_GET_PAGEMAP, 0, "get-pagemap H DEV+Np"},
    {"expect", read_expect, ZD_ST_EXPECT_CLEAN, KW_NO_PREFIX,
     "expect page|entry|pgmap|device|result|pending|clean|violation ..."},
    {"dump", read_dump, ZD_ST_DUMP_MM, KW_NO_PREFIX,
     "dump page P REF | dump page DEV+Np | dump pgmap DEV | dump mm P"},
    {"thread", NULL, ZD_ST_THREAD, KW_NO_PREFIX | KW_TOP, "thread NAME"},
    {"end", NULL, ZD_ST_THREAD, KW_NO_PREFIX, "end"},
    {"explore", read_explore, ZD_ST_EXPLORE, KW_NO_PREFIX | KW_TOP,
     "explore [mode=exhaustive|bounded|random] [preemptions=N] [runs=N] [seed=N]"},
    {"always", read_check, ZD_ST_ALWAYS, KW_NO_PREFIX | KW_TOP,
     "always page|entry|pgmap|device|result|pending|clean|violation ... | always P read REF SIZE "
     "expect=PATTERN"},
    {"sometimes", read_check, ZD_ST_SOMETIMES, KW_NO_PREFIX | KW_TOP,
     "sometimes page|entry|pgmap|device|result|pending|clean|violation ... | sometimes P read REF "
     "SIZE expect=PATTERN"},
    {"run-threads", read_run_threads, ZD_ST_RUN_THREADS, KW_NO_PREFIX | KW_TOP,
     "run-threads [repeat=N]"},
};

static const struct keyword *find_keyword(const char *word)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keywords); i++)
		if (strcmp(keywords[i].word, word) == 0)
			return &keywords[i];
	return NULL;
}

bool is_reserved_word(const char *name)
{
	return find_keyword(name) != NULL;
}

struct verb {
	const char *word;
	enum zd_stmt_kind kind;
	unsigned int types; /* device verbs: MEM_BIT()s the device may have */
	stmt_reader read;
	const char *usage;
};

static const struct verb device_verbs[] = {
    {"read", ZD_ST_DEV_READ, MEM_MIRROR, read_dev_range, "DEV read P REF SIZE [expect=PATTERN]"},
    {"write", ZD_ST_DEV_WRITE, MEM_MIRROR, read_dev_range, "DEV write P REF SIZE PATTERN"},
    {"migrate", ZD_ST_DEV_MIGRATE, MEM_MIRROR, read_dev_range, "DEV migrate P REF SIZE"},
    {"evict", ZD_ST_DEV_EVICT, MEM_MIRROR, read_dev_range, "DEV evict P REF SIZE"},
    {"exclusive", ZD_ST_DEV_EXCLUSIVE, MEM_MIRROR, read_dev_range, "DEV exclusive P REF SIZE"},
    {"check-exclusive", ZD_ST_DEV_CHECK_EXCLUSIVE, MEM_MIRROR, read_dev_range,
     "DEV check-exclusive P REF SIZE"},
    {"release", ZD_ST_DEV_RELEASE, MEM_MIRROR, read_dev_release, "DEV release"},
    {"snapshot", ZD_ST_DEV_SNAPSHOT, MEM_MIRROR, read_dev_range,
     "DEV snapshot P REF SIZE expect=LIST"},
    {"fail-alloc", ZD_ST_DEV_FAIL_ALLOC, MEM_MIRROR, read_dev_fail_alloc, "DEV fail-alloc N"},
    {"create", ZD_ST_DAX_CREATE, MEM_BIT(ZD_SCR_MEM_FSDAX), read_dax, "DEV create F SIZE"},
    {"truncate", ZD_ST_DAX_TRUNCATE, MEM_BIT(ZD_SCR_MEM_FSDAX), read_dax, "DEV truncate F SIZE"},
    {"punch", ZD_ST_DAX_PUNCH, MEM_BIT(ZD_SCR_MEM_FSDAX), read_dax, "DEV punch F OFF LEN"},
    {"reflink", ZD_ST_DAX_REFLINK, MEM_BIT(ZD_SCR_MEM_FSDAX), read_dax, "DEV reflink F2 F1"},
    {"delete", ZD_ST_DAX_DELETE, MEM_BIT(ZD_SCR_MEM_FSDAX), read_dax, "DEV delete F"},
    {"alloc", ZD_ST_P2P_ALLOC, MEM_BIT(ZD_SCR_MEM_P2PDMA), read_p2p, "DEV alloc H SIZE"},
    {"free", ZD_ST_P2P_FREE, MEM_BIT(ZD_SCR_MEM_P2PDMA), read_p2p, "DEV free H"},
    {"alloc-page", ZD_ST_ALLOC_PAGE, MEM_ANY_DEVICE, read_alloc_page,
     "DEV alloc-page H [order=N] [at=N]"},
    {"free-page", ZD_ST_FREE_PAGE, MEM_ANY_DEVICE, read_free_page, "DEV free-page H"},
};

static const struct verb process_verbs[] = {
    {"mmap", ZD_ST_MMAP, 0, read_mmap,
     "P mmap NAME SIZE [anon|shared|file=F [shared]|dax=DEV:F|devdax=DEV|p2p=DEV] [prot=rw|r|none] "
     "[huge]"},
    {"munmap", ZD_ST_MUNMAP, 0, read_proc_range, "P munmap REF [SIZE]"},
    {"mprotect", ZD_ST_MPROTECT, 0, read_proc_range, "P mprotect REF SIZE prot=rw|r|none"},
    {"madvise", ZD_ST_MADVISE, 0, read_proc_range, "P madvise REF SIZE dontneed"},
    {"fork", ZD_ST_FORK, 0, read_fork, "P fork Q"},
    {"exit", ZD_ST_EXIT, 0, read_exit, "P exit"},
    {"write", ZD_ST_WRITE, 0, read_proc_range, "P write REF SIZE PATTERN"},
    {"read", ZD_ST_READ, 0, read_proc_range, "P read REF SIZE [expect=PATTERN]"},
    {"gup", ZD_ST_GUP, 0, read_gup,
     "P gup H REF NPAGES [pin] [longterm] [write] [fast|fast-only] [p2p]"},
};

static const struct verb *find_verb(const struct verb *verbs, size_t n, const struct zd_token *t)
{
	size_t i;

	if (!t || t->type != ZD_TOK_NAME)
		return NULL;
	for (i = 0; i < n; i++)
		if (strcmp(verbs[i].word, t->text) == 0)
			return &verbs[i];
	return NULL;
}

static const char *verb_list(const struct verb *verbs, size_t n, char *buf, size_t size)
{
	const char *words[32];
	size_t i;

	for (i = 0; i < n && i < ARRAY_SIZE(words); i++)
		words[i] = verbs[i].word;
	return word_list(words, i, buf, size);
}

/* `SUBJECT VERB ...`: SUBJECT is a live device or a live process, which picks the verb set. */
static int read_subject_verb(struct parser *p, struct zd_stmt *st, const struct zd_token *subj)
{
	int dev = find_live(p, NK_DEVICE, subj->text, NULL);
	int proc = find_live(p, NK_PROCESS, subj->text, NULL);
	const struct zd_token *vt = peek_tok(p);
	const struct verb *dv = find_verb(device_verbs, ARRAY_SIZE(device_verbs), vt);
	const struct verb *pv = find_verb(process_verbs, ARRAY_SIZE(process_verbs), vt);
	const struct verb *v;
	char list[512];

	if (dev < 0 && proc < 0) {
		if (dv && pv)
			perr_tok(p, subj, "'%s' is neither a live device nor a live process",
				 subj->text);
		else if (dv)
			use_device(p, subj->text, subj->line, subj->col);
		else if (pv)
			use_process(p, subj->text, subj->line, subj->col);
		else
			perr_tok(p, subj,
				 "unknown statement '%s' (not a keyword, a live device or a live "
				 "process)",
				 subj->text);
		return -1;
	}
	next_tok(p);
	if (dev >= 0) {
		p->usage = "DEV OPERATION ...";
		if (!vt) {
			need_tok(p, "device operation");
			return -1;
		}
		v = dv;
		if (!v && pv) {
			perr_tok(p, vt, "'%s' is a process operation, but '%s' is a device",
				 vt->text, subj->text);
			return -1;
		}
		if (!v) {
			perr_tok(
			    p, vt, "unknown device operation '%s' (allowed: %s)", vt->text,
			    verb_list(device_verbs, ARRAY_SIZE(device_verbs), list, sizeof(list)));
			return -1;
		}
		snprintf(list, sizeof(list), "'%s'", v->word);
		if (!device_is(p, dev, v->types, list, subj->line, subj->col))
			return -1;
	} else {
		p->usage = "P OPERATION ...";
		if (!vt) {
			need_tok(p, "process operation");
			return -1;
		}
		v = pv;
		if (!v && dv) {
			perr_tok(p, vt, "'%s' is a device operation, but '%s' is a process",
				 vt->text, subj->text);
			return -1;
		}
		if (!v) {
			perr_tok(p, vt, "unknown process operation '%s' (allowed: %s)", vt->text,
				 verb_list(process_verbs, ARRAY_SIZE(process_verbs), list,
					   sizeof(list)));
			return -1;
		}
	}
	st->kind = v->kind;
	p->usage = v->usage;
	return v->read(p, st, subj);
}

/* `! ERR` or `~` before the statement. */
static int read_prefix(struct parser *p, struct zd_stmt *st)
{
	const struct zd_token *t = peek_tok(p);

	if (t && t->type == ZD_TOK_BANG) {
		const struct zd_token *e;

		next_tok(p);
		p->usage = "! ERR STATEMENT";
		e = need_tok(p, "error name after '!'");
		if (!e)
			return -1;
		if (e->type != ZD_TOK_NAME || zd_scr_err_parse(e->text, &st->err)) {
			perr_tok(p, e,
				 "unknown error '%s' after '!' (allowed: EINVAL ENOMEM EBUSY "
				 "EFAULT EPERM ENOENT EAGAIN EEXIST EOPNOTSUPP EREMOTEIO ENXIO "
				 "SIGBUS SIGSEGV BLOCKED)",
				 e->text);
			return -1;
		}
		st->prefix = ZD_SCR_PREFIX_ERR;
	} else if (t && t->type == ZD_TOK_TILDE) {
		next_tok(p);
		st->prefix = ZD_SCR_PREFIX_ANY;
	}
	t = peek_tok(p);
	if (t && (t->type == ZD_TOK_BANG || t->type == ZD_TOK_TILDE)) {
		perr_tok(p, t, "a statement takes at most one '!' or '~' prefix");
		return -1;
	}
	if (st->prefix != ZD_SCR_PREFIX_NONE && !t) {
		p->usage = st->prefix == ZD_SCR_PREFIX_ERR ? "! ERR STATEMENT" : "~ STATEMENT";
		need_tok(p, "statement after the prefix");
		return -1;
	}
	return 0;
}

static int vec_push(struct parser *p, struct stmt_vec *v, const struct zd_stmt *st)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 32;
		struct zd_stmt *n = realloc(v->v, cap * sizeof(*n));

		if (!n) {
			out_of_memory(p);
			return -1;
		}
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = *st;
	return 0;
}

/* Copy a statement vector into the arena (so the script owns it); return it or NULL. */
static const struct zd_stmt *vec_to_arena(struct parser *p, struct stmt_vec *v)
{
	struct zd_stmt *a;

	if (!v->n)
		return NULL;
	a = p_alloc(p, v->n * sizeof(*a));
	if (a)
		memcpy(a, v->v, v->n * sizeof(*a));
	return a;
}

static void open_thread(struct parser *p, struct zd_stmt *st, const struct zd_token *kw)
{
	const struct zd_token *name = NULL;
	int idx = -1;

	if (p->in_thread) {
		perr_tok(p, kw,
			 "nested thread: 'thread' inside thread '%s' (close it with 'end' first)",
			 p->thread.u.thread.name);
		p->bogus_depth++;
		return;
	}
	if (!get_name(p, "thread name", &name)) {
		idx = declare(p, NK_THREAD, name->text, NULL, name->line, name->col);
		finish(p, "thread");
	}
	commit_names(p, st);
	st->kind = ZD_ST_THREAD;
	st->u.thread.name = idx >= 0 ? p->names[idx].name : name ? p_strdup(p, name->text) : "?";
	p->thread = *st;
	p->body.n = 0;
	free(p->saved_names);
	p->nr_saved_names = p->nr_names;
	p->saved_names = malloc((p->nr_names ? p->nr_names : 1) * sizeof(*p->saved_names));
	if (!p->saved_names) {
		out_of_memory(p);
		return;
	}
	if (p->nr_names)
		memcpy(p->saved_names, p->names, p->nr_names * sizeof(*p->names));
	p->in_thread = true;
}

static void close_thread(struct parser *p, const struct zd_token *kw)
{
	finish(p, "end");
	if (p->bogus_depth) {
		p->bogus_depth--;
		return;
	}
	if (!p->in_thread) {
		perr_tok(p, kw, "'end' without a matching 'thread'");
		return;
	}
	p->thread.u.thread.body = vec_to_arena(p, &p->body);
	p->thread.u.thread.nr_body = p->body.n;
	p->thread.u.thread.end_line = kw->line;
	/* the thread's own names are not visible after its block */
	if (p->saved_names) {
		if (p->nr_saved_names)
			memcpy(p->names, p->saved_names, p->nr_saved_names * sizeof(*p->names));
		p->nr_names = p->nr_saved_names;
		rehash_names(p);
	}
	p->pending_from = p->nr_names;
	p->in_thread = false;
	vec_push(p, &p->top, &p->thread);
}

static void read_statement(struct parser *p, const struct zd_lex_stmt *ls)
{
	struct zd_stmt st;
	const struct zd_token *head;
	const struct keyword *kw;

	memset(&st, 0, sizeof(st));
	p->ls = ls;
	p->pos = 0;
	p->failed = false;
	p->pending_from = p->nr_names;
	p->nr_ends = 0;
	p->usage = "";
	st.file = p->file;
	st.line = ls->line;
	st.col = ls->col;
	st.text = p_strdup(p, ls->text);
	if (read_prefix(p, &st))
		return;
	head = next_tok(p);
	if (head->type != ZD_TOK_NAME) {
		perr_tok(p, head, "expected a statement, got '%s'", head->text);
		return;
	}
	kw = find_keyword(head->text);
	if (kw) {
		p->usage = kw->usage;
		if (st.prefix != ZD_SCR_PREFIX_NONE && (kw->flags & KW_NO_PREFIX)) {
			perr(p, st.line, st.col, "'%s' cannot take a '!' or '~' prefix", kw->word);
			return;
		}
		if (!kw->read) {
			if (strcmp(kw->word, "thread") == 0)
				open_thread(p, &st, head);
			else
				close_thread(p, head);
			return;
		}
		if (p->in_thread && (kw->flags & KW_TOP)) {
			perr_tok(p, head, "'%s' is not allowed inside a thread block", kw->word);
			return;
		}
		st.kind = kw->kind;
		kw->read(p, &st, head);
	} else {
		read_subject_verb(p, &st, head);
	}
	commit_names(p, &st);
	if (!p->failed)
		vec_push(p, p->in_thread ? &p->body : &p->top, &st);
}

/* always / sometimes lines right after an explore or run-threads are its checks. */
static void group_checks(struct zd_stmt *v, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (v[i].kind != ZD_ST_EXPLORE && v[i].kind != ZD_ST_RUN_THREADS)
			continue;
		for (j = i + 1; j < n; j++)
			if (v[j].kind != ZD_ST_ALWAYS && v[j].kind != ZD_ST_SOMETIMES)
				break;
		if (v[i].kind == ZD_ST_EXPLORE) {
			v[i].u.explore.first_check = i + 1;
			v[i].u.explore.nr_checks = j - i - 1;
		} else {
			v[i].u.run_threads.first_check = i + 1;
			v[i].u.run_threads.nr_checks = j - i - 1;
		}
	}
}

int zd_script_parse_buffer(const char *name, const char *buf, size_t len, struct zd_script **out,
			   FILE *err)
{
	struct zd_script_arena *arena = calloc(1, sizeof(*arena));
	struct parser p;
	struct zd_lexer lx;
	struct zd_lex_stmt ls;
	struct zd_lex_error le;
	struct zd_stmt *top;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.err = err ? err : stderr;
	p.file = name;
	if (!arena) {
		out_of_memory(&p);
		return 2;
	}
	p.script = arena_alloc(arena, sizeof(*p.script));
	if (!p.script) {
		free(arena);
		out_of_memory(&p);
		return 2;
	}
	p.script->arena = arena;
	p.file = p_strdup(&p, name);
	p.script->file = p.file;

	zd_lexer_init(&lx, buf, len);
	while (!p.stop) {
		int r = zd_lexer_next(&lx, &ls, &le);

		if (r == 0)
			break;
		if (r == -2) {
			out_of_memory(&p);
			break;
		}
		if (r < 0)
			perr(&p, le.line, le.col, "%s", le.msg);
		else
			read_statement(&p, &ls);
	}
	zd_lexer_fini(&lx);
	if (p.in_thread)
		perr(&p, p.thread.line, p.thread.col, "thread '%s' has no matching 'end'",
		     p.thread.u.thread.name);

	top = p.nr_errors ? NULL : (struct zd_stmt *)vec_to_arena(&p, &p.top);
	if (top)
		group_checks(top, p.top.n);
	p.script->stmts = top;
	p.script->nr_stmts = p.top.n;
	free(p.top.v);
	free(p.body.v);
	free(p.names);
	free(p.buckets);
	free(p.ends);
	free(p.saved_names);
	if (p.nr_errors) {
		arena_free(arena);
		free(arena);
		return 2;
	}
	*out = p.script;
	return 0;
}

int zd_script_parse_string(const char *name, const char *text, struct zd_script **out, FILE *err)
{
	return zd_script_parse_buffer(name, text, strlen(text), out, err);
}

int zd_script_parse_file(const char *path, struct zd_script **out, FILE *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	if (!err)
		err = stderr;
	if (!f) {
		fprintf(err, "%s: error: cannot open: %s\n", path, strerror(errno));
		return 2;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = ncap > cap ? realloc(buf, ncap) : NULL;

			if (!nb) {
				fprintf(err, "%s: error: out of memory\n", path);
				free(buf);
				fclose(f);
				return 2;
			}
			buf = nb;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(err, "%s: error: cannot read: %s\n", path, strerror(errno));
		free(buf);
		fclose(f);
		return 2;
	}
	fclose(f);
	rc = zd_script_parse_buffer(path, buf, len, out, err);
	free(buf);
	return rc;
}

void zd_script_free(struct zd_script *script)
{
	struct zd_script_arena *arena;

	if (!script)
		return;
	arena = script->arena;
	arena_free(arena); /* the script itself lives in its arena */
	free(arena);
}
