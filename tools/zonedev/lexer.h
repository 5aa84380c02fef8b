/* SPDX-License-Identifier: MIT */
/*
 * Lexer of the zonedev scenario language: cuts a .zds text into logical statements
 * (continuations joined, comments dropped) made of tokens that know their line and column.
 */
#ifndef ZD_LEXER_H
#define ZD_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Lexical rules (scenario-language.md §1, made precise):
 *  - One statement per line. Blanks are space, tab and carriage return (so CRLF files work).
 *  - `#` starts a comment to the end of the physical line, anywhere (also inside a token,
 *    which it ends). Comments may hold any bytes, UTF-8 text included. A `\` inside a comment
 *    is part of the comment and does not continue the line.
 *  - A `\` followed only by blanks up to the end of the line continues the statement on the
 *    next line; it separates tokens like a blank. A continuation with no line after it is an
 *    error, as is a `\` anywhere else.
 *  - `!` and `~` are tokens of their own wherever they appear (`!EBUSY` is `!` `EBUSY`).
 *  - Other tokens are runs of the statement characters [A-Za-z0-9_.+=:,*-]; any other byte
 *    outside a comment (control characters, other punctuation, non-ASCII) is an error.
 * Line and column are 1-based; the column counts bytes (a tab is one column).
 */

enum zd_token_type {
	ZD_TOK_NAME,   /* [A-Za-z_][A-Za-z0-9_.-]* */
	ZD_TOK_NUMBER, /* decimal or 0x hex without suffix; num is the value */
	ZD_TOK_SIZE,   /* a number with suffix K M G T (x 1024^n) or p (x 4096); num in bytes */
	ZD_TOK_KEYVAL, /* NAME=VALUE (split at the first '='); VALUE may be empty */
	ZD_TOK_BANG,   /* ! */
	ZD_TOK_TILDE,  /* ~ */
	ZD_TOK_OTHER,  /* anything else made of statement characters: A+8K, -index, 4X */
};

struct zd_token {
	enum zd_token_type type;
	const char *text;  /* the whole token, NUL-terminated */
	size_t len;	   /* strlen(text) */
	const char *key;   /* KEYVAL: the part before '=', NUL-terminated; else NULL */
	const char *value; /* KEYVAL: the part after '=', NUL-terminated; else NULL */
	int line, col;	   /* of the token's first byte */
	int value_col;	   /* KEYVAL: column of the value's first byte */
	uint64_t num;	   /* NUMBER, SIZE */
	char suffix;	   /* SIZE: 'K' 'M' 'G' 'T' or 'p' */
};

/* One logical statement. Pointers stay valid until the next zd_lexer_next() call. */
struct zd_lex_stmt {
	const struct zd_token *tokens;
	size_t nr_tokens;      /* >= 1 */
	const char *text;      /* the tokens joined by single spaces */
	int line, col;	       /* of the first token */
	int end_line, end_col; /* just past the last token (where a missing argument goes) */
};

struct zd_lex_error {
	int line, col;
	char msg[200];
};

struct zd_lexer {
	const char *buf;
	size_t len, pos;
	int line;	   /* line of buf[pos] */
	size_t line_start; /* offset of the first byte of that line */
	/* per-statement scratch, reused */
	char *chars;
	size_t chars_len, chars_cap;
	struct zd_token *tokens;
	size_t nr_tokens, tokens_cap;
};

/* zd_lexer_init() - start lexing @len bytes at @buf (not copied; must outlive the lexer). */
void zd_lexer_init(struct zd_lexer *lx, const char *buf, size_t len);

/* zd_lexer_fini() - free the lexer's scratch memory. */
void zd_lexer_fini(struct zd_lexer *lx);

/**
 * zd_lexer_next() - lex the next logical statement.
 * Return: 1 with @st filled; 0 at the end of the input; -1 when the statement has a lexical
 * error (described in @err; the rest of that statement is skipped, so calling again goes on
 * with the next one); -2 when out of memory.
 */
int zd_lexer_next(struct zd_lexer *lx, struct zd_lex_stmt *st, struct zd_lex_error *err);

/* Outcome of the number helpers. */
enum zd_num_status {
	ZD_NUM_OK,
	ZD_NUM_NOT_A_NUMBER, /* does not start with a digit (or "0x" has no hex digit) */
	ZD_NUM_BAD_SUFFIX,   /* digits followed by something that is not an allowed suffix */
	ZD_NUM_TOO_LARGE,    /* does not fit in 64 bits */
};

/* zd_lex_number() - @s is exactly a decimal or 0x-hex number without suffix. */
enum zd_num_status zd_lex_number(const char *s, uint64_t *out);

/*
 * zd_lex_size() - @s is exactly a size: a number with an optional suffix K M G T p.
 * *bytes gets the size in bytes; *suffix the suffix or 0. @suffix may be NULL.
 */
enum zd_num_status zd_lex_size(const char *s, uint64_t *bytes, char *suffix);

/* zd_lex_is_name() - the @len bytes at @s match [A-Za-z_][A-Za-z0-9_.-]*. */
bool zd_lex_is_name(const char *s, size_t len);

#endif /* ZD_LEXER_H */
