/* SPDX-License-Identifier: MIT */
/*
 * Internal interface of the scenario parser: core (parser.c), names and locations
 * (parser_names.c), statement readers (parser_stmts.c, parser_expect.c). Not for the runner.
 */
#ifndef ZD_PARSER_INTERNAL_H
#define ZD_PARSER_INTERNAL_H

#include "lexer.h"
#include "script.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define __maybe_unused __attribute__((unused))

#define ZD_PAGE_SIZE 4096ULL
#define ZD_MAX_ORDER 18
#define ZD_MAX_ERRORS 50

/* Each kind of name has its own namespace (scenario-language.md §1). */
enum name_kind {
	NK_DEVICE,
	NK_PROCESS,
	NK_MAPPING, /* owner: the process */
	NK_FILE,    /* owner: the fsdax device */
	NK_HANDLE,
	NK_THREAD,
};

/* What a handle holds; decides which statements may release or use it. */
enum handle_kind {
	HK_GUP,	   /* gup without pin */
	HK_PIN,	   /* gup ... pin */
	HK_PAGE,   /* DEV alloc-page */
	HK_TRYGET, /* tryget */
	HK_PGMAP,  /* get-pagemap: a pgmap reference, no pages */
	HK_P2P,	   /* DEV alloc */
};

struct name_entry {
	enum name_kind kind;
	const char *name;
	const char *owner; /* mapping: process; file: device; else NULL */
	bool live;
	bool pending;		/* defined by the statement being parsed, not yet visible */
	int line;		/* defined on */
	int end_line;		/* ended on (0 while live) */
	int mem;		/* device: enum zd_scr_mem, or -1 when its statement had an error */
	uint64_t pages;		/* device: size in pages, 0 when unknown */
	enum handle_kind hkind; /* handle */
	const char *hdevice;	/* handle of HK_PAGE / HK_P2P: the device */
	int hnext;		/* next (older) entry on its hash chain, or -1 */
};

/* A growable statement array (top level or a thread body). */
struct stmt_vec {
	struct zd_stmt *v;
	size_t n, cap;
};

struct parser {
	const char *file; /* arena copy of the name */
	FILE *err;
	struct zd_script *script;
	int nr_errors;
	bool stop;   /* out of memory or too many errors */
	bool failed; /* the current statement had an error */

	/* the statement being parsed */
	const struct zd_lex_stmt *ls;
	size_t pos;	   /* next token */
	const char *usage; /* usage line of the current statement form, for messages */

	/* names, in definition order; entries >= pending_from belong to the current statement */
	struct name_entry *names;
	size_t nr_names, cap_names, pending_from;
	int *buckets;	   /* hash index: newest entry of each chain, or -1 */
	size_t nr_buckets; /* a power of two */
	size_t *ends;	   /* names the current statement ends */
	size_t nr_ends, cap_ends;

	int first_device_line; /* 0 until a device statement */

	struct stmt_vec top;
	/* thread block being read */
	bool in_thread;
	int bogus_depth; /* nested `thread` lines (errors) whose `end` is still to come */
	struct zd_stmt thread;
	struct stmt_vec body;
	struct name_entry *saved_names;
	size_t nr_saved_names;
};

/* parser.c: memory (on failure: reported, p->stop set; p_strdup then returns "") */
void out_of_memory(struct parser *p);
void *p_alloc(struct parser *p, size_t size);
const char *p_strdup(struct parser *p, const char *s);
const char *p_strndup(struct parser *p, const char *s, size_t len);

/* parser.c: messages */
void perr(struct parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void perr_tok(struct parser *p, const struct zd_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* parser.c: the token cursor over p->ls */
const struct zd_token *peek_tok(struct parser *p);
const struct zd_token *next_tok(struct parser *p);
const struct zd_token *need_tok(struct parser *p, const char *what);
int finish(struct parser *p, const char *stmt);

/* parser.c: token readers; each returns 0, or -1 after reporting an error */
int get_name(struct parser *p, const char *what, const struct zd_token **out);
int str_size(struct parser *p, const char *s, int line, int col, const char *what, uint64_t *out);
int str_number(struct parser *p, const char *s, int line, int col, const char *what, uint64_t *out);
int str_int64(struct parser *p, const char *s, int line, int col, const char *what, int64_t *out);
int get_size(struct parser *p, const char *what, uint64_t *out);
int get_number(struct parser *p, const char *what, uint64_t *out);
int check_nonzero(struct parser *p, const struct zd_stmt *st, uint64_t v, int line, int col,
		  const char *what);
int lookup_word(const char *const *words, size_t n, const char *s);
const char *word_list(const char *const *words, size_t n, char *buf, size_t size);
/* report "unknown WHAT 'GOT' (allowed: WORDS...)" and return -1 */
int bad_word(struct parser *p, int line, int col, const char *what, const char *got,
	     const char *const *words, size_t n);

/* parser.c: options of the form `word` or `key=value` after the positional arguments */
enum opt_type {
	OPT_FLAG,  /* a bare word */
	OPT_VALUE, /* key=value */
};

struct opt_spec {
	const char *name;
	enum opt_type type;
};

int get_options(struct parser *p, const char *stmt, const struct opt_spec *specs, size_t n,
		const struct zd_token **seen);

/* parser.c */
bool is_reserved_word(const char *name);

/* parser_names.c: names. declare() adds a pending name (visible after commit_names()). */
int find_live(struct parser *p, enum name_kind kind, const char *name, const char *owner);
int declare(struct parser *p, enum name_kind kind, const char *name, const char *owner, int line,
	    int col);
void end_name(struct parser *p, int idx);
void commit_names(struct parser *p, const struct zd_stmt *st);
void rehash_names(struct parser *p); /* after names[] was replaced wholesale */
int use_device(struct parser *p, const char *name, int line, int col);
/* for inspection (expect pgmap/device, dump pgmap): a live device, else the last removed one */
int use_device_or_removed(struct parser *p, const char *name, int line, int col);
int use_process(struct parser *p, const char *name, int line, int col);
int use_handle(struct parser *p, const struct zd_token *t);
int use_file(struct parser *p, const char *device, const char *file, int line, int col);
bool device_is(struct parser *p, int idx, unsigned int type_mask, const char *op, int line,
	       int col);

/* parser_names.c: locations */
int get_ref(struct parser *p, const char *process, struct zd_scr_ref *ref);
int tok_page(struct parser *p, const struct zd_token *t, struct zd_scr_page *page);
int get_loc(struct parser *p, struct zd_scr_loc *loc);

/* parser_expect.c: data */
int str_pattern(struct parser *p, const char *s, int line, int col, struct zd_scr_pattern *out);
int str_snapshot(struct parser *p, const char *s, int line, int col, struct zd_scr_snapshot *out);

#define MEM_BIT(t) (1u << (t))
#define MEM_MIRROR (MEM_BIT(ZD_SCR_MEM_PRIVATE) | MEM_BIT(ZD_SCR_MEM_COHERENT))
#define MEM_ANY_DEVICE 0x1fu

/* parser_stmts.c: statement readers. p->pos is just past the statement's keyword (or past
 * `SUBJECT VERB`); each fills @st and returns 0, or -1 after reporting an error. */
typedef int (*stmt_reader)(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);

int read_regime(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_ram(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_seed(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_fail(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_bug(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_device(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_remove(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_process(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_put(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_unpin(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_pinned(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_poison(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_tryget(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_dump(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_explore(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_run_threads(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);

/* process verbs: subject is the process */
int read_mmap(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_proc_range(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_fork(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_exit(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_gup(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);

/* device verbs: subject is the device */
int read_dev_range(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_dev_release(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_dev_fail_alloc(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_dax(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_p2p(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_alloc_page(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_free_page(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);

/* parser_expect.c */
int read_expect(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);
int read_check(struct parser *p, struct zd_stmt *st, const struct zd_token *subject);

#endif /* ZD_PARSER_INTERNAL_H */
