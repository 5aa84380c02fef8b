/* SPDX-License-Identifier: MIT */
/*
 * Lexer of the zonedev scenario language: logical statements of positioned tokens,
 * plus the number and size readers the parser shares. Rules are listed in lexer.h.
 */
#include "lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Byte offsets of one token's strings in lx->chars, turned into pointers at the end. */
struct tok_offsets {
	size_t text, key, value;
};

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The bytes a token may contain. '!' and '~' are tokens of their own. */
static bool is_token_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-' || c == '+' ||
	       c == '=' || c == ':' || c == ',' || c == '*';
}

bool zd_lex_is_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || !(is_alpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* Read the digits of a decimal or 0x number at @s; *end is where they stop. */
static enum zd_num_status read_digits(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (!is_digit((unsigned char)*p))
		return ZD_NUM_NOT_A_NUMBER;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		if (hex_value((unsigned char)*p) < 0)
			return ZD_NUM_NOT_A_NUMBER;
		for (; hex_value((unsigned char)*p) >= 0; p++) {
			if (v > (UINT64_MAX >> 4))
				return ZD_NUM_TOO_LARGE;
			v = (v << 4) | (uint64_t)hex_value((unsigned char)*p);
		}
	} else {
		for (; is_digit((unsigned char)*p); p++) {
			uint64_t d = (uint64_t)(*p - '0');

			if (v > (UINT64_MAX - d) / 10)
				return ZD_NUM_TOO_LARGE;
			v = v * 10 + d;
		}
	}
	*out = v;
	*end = p;
	return ZD_NUM_OK;
}

enum zd_num_status zd_lex_number(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	enum zd_num_status st = read_digits(s, &v, &end);

	if (st != ZD_NUM_OK)
		return st;
	if (*end != '\0')
		return ZD_NUM_BAD_SUFFIX;
	*out = v;
	return ZD_NUM_OK;
}

enum zd_num_status zd_lex_size(const char *s, uint64_t *bytes, char *suffix)
{
	const char *end;
	uint64_t v;
	unsigned int shift;
	enum zd_num_status st = read_digits(s, &v, &end);

	if (st != ZD_NUM_OK)
		return st;
	switch (*end) {
	case '\0':
		shift = 0;
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case 'p':
		shift = 12;
		break;
	default:
		return ZD_NUM_BAD_SUFFIX;
	}
	if (*end != '\0' && end[1] != '\0')
		return ZD_NUM_BAD_SUFFIX;
	if (shift && v > (UINT64_MAX >> shift))
		return ZD_NUM_TOO_LARGE;
	*bytes = v << shift;
	if (suffix)
		*suffix = *end;
	return ZD_NUM_OK;
}

void zd_lexer_init(struct zd_lexer *lx, const char *buf, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->buf = buf;
	lx->len = len;
	lx->line = 1;
}

void zd_lexer_fini(struct zd_lexer *lx)
{
	free(lx->chars);
	free(lx->tokens);
	lx->chars = NULL;
	lx->tokens = NULL;
}

static int col_of(const struct zd_lexer *lx, size_t pos)
{
	return (int)(pos - lx->line_start + 1);
}

static void set_error(struct zd_lex_error *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(struct zd_lex_error *err, int line, int col, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/*
 * Append @len bytes from @s (or, when @s is NULL, room for them) and a NUL to the scratch
 * characters; return their offset or -1.
 */
static long push_chars(struct zd_lexer *lx, const char *s, size_t len)
{
	size_t off = lx->chars_len;

	if (lx->chars_len + len + 1 > lx->chars_cap) {
		size_t cap = lx->chars_cap ? lx->chars_cap : 256;
		char *n;

		while (cap < lx->chars_len + len + 1)
			cap *= 2;
		n = realloc(lx->chars, cap);
		if (!n)
			return -1;
		lx->chars = n;
		lx->chars_cap = cap;
	}
	if (s)
		memcpy(lx->chars + off, s, len);
	lx->chars[off + len] = '\0';
	lx->chars_len += len + 1;
	return (long)off;
}

/*
 * Token slots carry a struct tok_offsets right after the public tokens array: both arrays
 * are sized by tokens_cap and live in one allocation.
 */
static struct tok_offsets *offsets_of(struct zd_lexer *lx)
{
	return (struct tok_offsets *)(lx->tokens + lx->tokens_cap);
}

static int grow_tokens(struct zd_lexer *lx)
{
	size_t cap = lx->tokens_cap ? lx->tokens_cap * 2 : 16;
	size_t one = sizeof(struct zd_token) + sizeof(struct tok_offsets);
	struct zd_token *n;

	if (cap > SIZE_MAX / one)
		return -1;
	n = malloc(cap * one);
	if (!n)
		return -1;
	if (lx->tokens) {
		memcpy(n, lx->tokens, lx->nr_tokens * sizeof(struct zd_token));
		memcpy((struct tok_offsets *)(n + cap), offsets_of(lx),
		       lx->nr_tokens * sizeof(struct tok_offsets));
	}
	free(lx->tokens);
	lx->tokens = n;
	lx->tokens_cap = cap;
	return 0;
}

/* Record the token of @len bytes at lx->buf + @start. Return 0 or -1 (out of memory). */
static int add_token(struct zd_lexer *lx, size_t start, size_t len)
{
	const char *s = lx->buf + start;
	struct zd_token *t;
	struct tok_offsets *o;
	const char *eq;
	long off;

	if (lx->nr_tokens == lx->tokens_cap && grow_tokens(lx))
		return -1;
	t = &lx->tokens[lx->nr_tokens];
	o = &offsets_of(lx)[lx->nr_tokens];
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = col_of(lx, start);
	t->len = len;
	off = push_chars(lx, s, len);
	if (off < 0)
		return -1;
	o->text = (size_t)off;
	o->key = o->value = (size_t)-1;

	eq = memchr(s, '=', len);
	if (len == 1 && s[0] == '!') {
		t->type = ZD_TOK_BANG;
	} else if (len == 1 && s[0] == '~') {
		t->type = ZD_TOK_TILDE;
	} else if (eq && zd_lex_is_name(s, (size_t)(eq - s))) {
		size_t klen = (size_t)(eq - s);

		t->type = ZD_TOK_KEYVAL;
		t->value_col = t->col + (int)klen + 1;
		off = push_chars(lx, s, klen);
		if (off < 0)
			return -1;
		o->key = (size_t)off;
		off = push_chars(lx, eq + 1, len - klen - 1);
		if (off < 0)
			return -1;
		o->value = (size_t)off;
	} else if (zd_lex_is_name(s, len)) {
		t->type = ZD_TOK_NAME;
	} else {
		char suffix = 0;

		t->type = ZD_TOK_OTHER;
		if (zd_lex_size(lx->chars + o->text, &t->num, &suffix) == ZD_NUM_OK) {
			t->type = suffix ? ZD_TOK_SIZE : ZD_TOK_NUMBER;
			t->suffix = suffix;
		}
	}
	lx->nr_tokens++;
	return 0;
}

static void newline(struct zd_lexer *lx)
{
	lx->pos++;
	lx->line++;
	lx->line_start = lx->pos;
}

/* Skip the rest of the logical statement that holds lx->pos (continuations included). */
static void skip_statement(struct zd_lexer *lx)
{
	for (;;) {
		bool in_comment = false;
		unsigned char last = 0;

		while (lx->pos < lx->len && lx->buf[lx->pos] != '\n') {
			unsigned char c = (unsigned char)lx->buf[lx->pos++];

			if (c == '#')
				in_comment = true;
			if (!in_comment && !is_blank(c))
				last = c;
		}
		if (lx->pos >= lx->len)
			return;
		newline(lx);
		if (in_comment || last != '\\')
			return;
	}
}

/* Describe the byte at @pos, which may not appear outside a comment. */
static void bad_char_error(struct zd_lexer *lx, size_t pos, struct zd_lex_error *err)
{
	const unsigned char *s = (const unsigned char *)lx->buf + pos;
	size_t left = lx->len - pos;
	int line = lx->line, col = col_of(lx, pos);
	unsigned char c = s[0];
	uint32_t cp;
	size_t n, i;

	if (c == '\0') {
		set_error(err, line, col, "invalid NUL byte in a statement");
		return;
	}
	if (c < 0x20 || c == 0x7f) {
		set_error(err, line, col, "invalid control character 0x%02x in a statement", c);
		return;
	}
	if (c < 0x80) {
		set_error(err, line, col, "invalid character '%c' in a statement", c);
		return;
	}
	/* Decode one UTF-8 sequence strictly (no overlongs, surrogates or > U+10FFFF). */
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		n = 0;
		cp = 0;
	}
	for (i = 1; n && i < n; i++) {
		if (i >= left || (s[i] & 0xc0) != 0x80) {
			n = 0;
			break;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (n == 0 || (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
		set_error(err, line, col, "invalid UTF-8 byte 0x%02x", c);
		return;
	}
	set_error(err, line, col,
		  "non-ASCII character U+%04X in a statement (only comments may hold it)",
		  (unsigned int)cp);
}

/* All tokens are in: turn offsets into pointers and build the statement text. */
static int finish_statement(struct zd_lexer *lx, struct zd_lex_stmt *st)
{
	struct tok_offsets *o = offsets_of(lx);
	size_t i, text_len = 0;
	long text_off;
	char *p;

	for (i = 0; i < lx->nr_tokens; i++)
		text_len += lx->tokens[i].len + 1;
	text_off = push_chars(lx, NULL, text_len);
	if (text_off < 0)
		return -2;
	p = lx->chars + text_off;
	for (i = 0; i < lx->nr_tokens; i++) {
		struct zd_token *t = &lx->tokens[i];

		t->text = lx->chars + o[i].text;
		t->key = o[i].key == (size_t)-1 ? NULL : lx->chars + o[i].key;
		t->value = o[i].value == (size_t)-1 ? NULL : lx->chars + o[i].value;
		if (i)
			*p++ = ' ';
		memcpy(p, t->text, t->len);
		p += t->len;
	}
	*p = '\0';
	st->tokens = lx->tokens;
	st->nr_tokens = lx->nr_tokens;
	st->text = lx->chars + text_off;
	st->line = lx->tokens[0].line;
	st->col = lx->tokens[0].col;
	st->end_line = lx->tokens[lx->nr_tokens - 1].line;
	st->end_col = lx->tokens[lx->nr_tokens - 1].col + (int)lx->tokens[lx->nr_tokens - 1].len;
	return 1;
}

/* At a '\': check it ends its line and that a line follows; step onto that line. */
static int continuation(struct zd_lexer *lx, struct zd_lex_error *err)
{
	size_t q = lx->pos + 1;

	while (q < lx->len && is_blank((unsigned char)lx->buf[q]))
		q++;
	if (q < lx->len && lx->buf[q] != '\n') {
		set_error(err, lx->line, col_of(lx, lx->pos),
			  "stray '\\' (a '\\' continues a statement only at the end of a line)");
		skip_statement(lx);
		return -1;
	}
	if (q >= lx->len || q + 1 >= lx->len) {
		set_error(err, lx->line, col_of(lx, lx->pos),
			  "line continuation '\\' at the end of the file");
		lx->pos = lx->len;
		return -1;
	}
	lx->pos = q;
	newline(lx);
	return 0;
}

int zd_lexer_next(struct zd_lexer *lx, struct zd_lex_stmt *st, struct zd_lex_error *err)
{
	lx->nr_tokens = 0;
	lx->chars_len = 0;
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->buf[lx->pos];

		if (is_blank(c)) {
			lx->pos++;
		} else if (c == '\n') {
			newline(lx);
			if (lx->nr_tokens)
				break;
		} else if (c == '#') {
			while (lx->pos < lx->len && lx->buf[lx->pos] != '\n')
				lx->pos++;
		} else if (c == '\\') {
			if (continuation(lx, err))
				return -1;
		} else if (c == '!' || c == '~') {
			if (add_token(lx, lx->pos, 1))
				return -2;
			lx->pos++;
		} else if (is_token_char(c)) {
			size_t start = lx->pos;

			while (lx->pos < lx->len && is_token_char((unsigned char)lx->buf[lx->pos]))
				lx->pos++;
			if (add_token(lx, start, lx->pos - start))
				return -2;
		} else {
			bad_char_error(lx, lx->pos, err);
			skip_statement(lx);
			return -1;
		}
	}
	if (lx->nr_tokens == 0)
		return 0;
	return finish_statement(lx, st);
}
