/* SPDX-License-Identifier: MIT */
/*
 * zonedev check: trace recording in the kernel's page_ref tracepoint
 * vocabulary, the --trace-text printer and the Chrome/Perfetto JSON writer.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "check/check.h"
#include "mem/mem.h"

/*
 * Events are numbered by check->seq, which advances for every event traced
 * (recorded, printed, or both); the number is the event's timestamp in the
 * JSON trace, so traces are deterministic. An event is built (strings
 * allocated, holder named) before check->lock is taken, stored under the
 * lock, and printed after it is released.
 *
 * For page_ref events, `text` holds the holder's name as it was when the
 * event happened and `pgref_kind` the memory type of the page's pgmap (the
 * tracepoint's `mt`); struct zd_trace_event has no fields of their own.
 */

/* Defined in names.c; see the report for the header it belongs in. */
/* Used by report.c. */

#define ZD_EVENTS_MIN_CAP 256

static const char *const zd_trace_type_names[ZD_NR_TRACE_TYPES] = {
    [ZD_TR_PAGE_REF_SET] = "page_ref_set",
    [ZD_TR_PAGE_REF_MOD] = "page_ref_mod",
    [ZD_TR_PAGE_REF_MOD_AND_TEST] = "page_ref_mod_and_test",
    [ZD_TR_PAGE_REF_MOD_AND_RETURN] = "page_ref_mod_and_return",
    [ZD_TR_PAGE_REF_MOD_UNLESS] = "page_ref_mod_unless",
    [ZD_TR_PAGE_REF_FREEZE] = "page_ref_freeze",
    [ZD_TR_PAGE_REF_UNFREEZE] = "page_ref_unfreeze",
    [ZD_TR_PGMAP_REF] = "pgmap_ref",
    [ZD_TR_EVENT] = "event",
    [ZD_TR_MARK] = "mark",
    [ZD_TR_VIOLATION] = "WARNING",
};

static const char *zd_trace_type_name(enum zd_trace_type type)
{
	if ((unsigned int)type >= ZD_NR_TRACE_TYPES)
		return "unknown";
	return zd_trace_type_names[type];
}

static bool zd_trace_is_page_ref(enum zd_trace_type type)
{
	return type <= ZD_TR_PAGE_REF_UNFREEZE;
}

/* The tracepoints printed with the kernel's mod_and_test template (they have ret=). */
static bool zd_trace_has_ret(enum zd_trace_type type)
{
	return type == ZD_TR_PAGE_REF_MOD_AND_TEST || type == ZD_TR_PAGE_REF_MOD_AND_RETURN ||
	       type == ZD_TR_PAGE_REF_MOD_UNLESS || type == ZD_TR_PAGE_REF_FREEZE;
}

/* ---- Formatting --------------------------------------------------------- */

/* An snprintf-style appender: `len` counts what the full text needs. */
struct zd_sbuf {
	char *buf;
	size_t n;
	size_t len;
};

static void zd_sbuf_printf(struct zd_sbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void zd_sbuf_printf(struct zd_sbuf *sb, const char *fmt, ...)
{
	size_t off = sb->len < sb->n ? sb->len : sb->n;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(sb->buf ? sb->buf + off : NULL, sb->n - off, fmt, ap);
	va_end(ap);
	if (r > 0)
		sb->len += (size_t)r;
}

/*
 * Format @ev as one line without the newline, the way --trace-text prints
 * it. Return: the length the whole line needs (as snprintf).
 */
static size_t zd_trace_format(const struct zd_trace_event *ev, char *buf, size_t n)
{
	struct zd_sbuf sb = {.buf = buf, .n = n, .len = 0};
	char flags[256];

	if (n)
		buf[0] = '\0';
	switch (ev->type) {
	case ZD_TR_PGMAP_REF:
		zd_sbuf_printf(&sb, "pgmap_ref: pgmap=%s kind=%s delta=%+d refs=%d",
			       ev->object ? ev->object : "?",
			       zd_pgmap_ref_kind_name((enum zd_pgmap_ref_kind)ev->pgref_kind),
			       ev->val, ev->count);
		break;
	case ZD_TR_EVENT:
		zd_sbuf_printf(&sb, "%s:", ev->name ? ev->name : "event");
		if (ev->pfn != ZD_PFN_NONE)
			zd_sbuf_printf(&sb, " pfn=0x%lx", ev->pfn);
		if (ev->object)
			zd_sbuf_printf(&sb, " %s", ev->object);
		if (ev->text && ev->text[0])
			zd_sbuf_printf(&sb, " %s", ev->text);
		break;
	case ZD_TR_MARK:
		zd_sbuf_printf(&sb, "mark: %s", ev->text ? ev->text : "");
		break;
	case ZD_TR_VIOLATION:
		zd_sbuf_printf(&sb, "WARNING: %s: %s", ev->name ? ev->name : "unknown",
			       ev->text ? ev->text : "");
		break;
	default:
		zd_check_format_page_flags(ev->flags, flags, sizeof(flags));
		zd_sbuf_printf(
		    &sb, "%s: pfn=0x%lx flags=%s count=%d mapcount=%d mapping=%016lx mt=%d val=%d",
		    zd_trace_type_name(ev->type), ev->pfn, flags, ev->count, ev->mapcount,
		    (unsigned long)(uintptr_t)ev->mapping, ev->pgref_kind, ev->val);
		if (zd_trace_has_ret(ev->type))
			zd_sbuf_printf(&sb, " ret=%d", ev->ret);
		if (ev->text)
			zd_sbuf_printf(&sb, " holder=%s", ev->text);
		break;
	}
	return sb.len;
}

/*
 * Format @ev into @stack (size @n) or, when it does not fit, into a new
 * allocation. Return: the text (free with zd_trace_format_free), never NULL.
 */
static char *zd_trace_format_alloc(const struct zd_trace_event *ev, char *stack, size_t n)
{
	size_t need = zd_trace_format(ev, stack, n);
	char *big;

	if (need < n)
		return stack;
	big = zd_kzalloc(NULL, need + 1);
	if (!big)
		return stack; /* truncated */
	zd_trace_format(ev, big, need + 1);
	return big;
}

static void zd_trace_format_free(char *text, const char *stack)
{
	if (text != stack)
		zd_kfree_str(NULL, text);
}

/* ---- Recording ------------------------------------------------------------ */

static char *zd_trace_strdup(const char *s)
{
	return s ? zd_kstrdup(NULL, s) : NULL;
}

static char *zd_trace_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *zd_trace_vformat(const char *fmt, va_list ap)
{
	va_list aq;
	char *s;
	int len;

	if (!fmt)
		return NULL;
	va_copy(aq, ap);
	len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (len < 0)
		return NULL;
	s = zd_kzalloc(NULL, (size_t)len + 1);
	if (s)
		vsnprintf(s, (size_t)len + 1, fmt, ap);
	return s;
}

static void zd_trace_free_strings(struct zd_trace_event *ev)
{
	zd_kfree_str(NULL, ev->name);
	zd_kfree_str(NULL, ev->text);
	zd_kfree_str(NULL, ev->object);
	ev->name = ev->text = ev->object = NULL;
}

/* Room for one more event; c->lock held. Rare (doubling); never injected. */
static bool zd_events_reserve(struct zd_check *c)
{
	struct zd_trace_event *ev;
	size_t cap;

	if (c->nr_events < c->cap_events)
		return true;
	cap = c->cap_events ? c->cap_events * 2 : ZD_EVENTS_MIN_CAP;
	ev = zd_kzalloc(NULL, cap * sizeof(*ev));
	if (!ev)
		return false;
	if (c->nr_events)
		memcpy(ev, c->events, c->nr_events * sizeof(*ev));
	zd_kfree(NULL, c->events, c->cap_events * sizeof(*ev));
	c->events = ev;
	c->cap_events = cap;
	return true;
}

/*
 * Number, store (when recording) and print (when printing) @ev, whose
 * strings the trace now owns. Return: the event's sequence number.
 */
static uint64_t zd_trace_record(struct zd_check *c, struct zd_trace_event *ev)
{
	char stack[512], *text;
	bool stored = false;
	FILE *out;

	zd_sync_quiet_begin(); /* tracing is observation: no scheduling points */
	zd_spin_lock(&c->lock);
	ev->seq = c->seq++;
	ev->thread = c->cur_thread;
	if (c->trace_on && zd_events_reserve(c)) {
		c->events[c->nr_events++] = *ev;
		stored = true;
	}
	out = c->trace_text;
	zd_spin_unlock(&c->lock);

	/* Strings stored with the event are freed only by zd_check_exit. */
	if (out) {
		text = zd_trace_format_alloc(ev, stack, sizeof(stack));
		fprintf(out, "%s\n", text);
		zd_trace_format_free(text, stack);
	}
	if (!stored)
		zd_trace_free_strings(ev);
	zd_sync_quiet_end();
	return ev->seq;
}

/**
 * zd_trace_page_ref - trace a page_ref tracepoint for @folio: its flags,
 * refcount, mapcount and mapping are read now, through the sync layer.
 * @val is the tracepoint's val (the delta, or the value set), @ret its ret.
 * Context: any; never sleeps.
 */
void zd_trace_page_ref(struct zd_world *w, enum zd_trace_type type, const struct zd_folio *folio,
		       int val, int ret, struct zd_holder h)
{
	struct zd_trace_event ev = {0};
	const struct zd_dev_pagemap *pgmap;
	char name[64];

	if (!w || !w->check || !folio || !zd_tracing(w))
		return;
	zd_sync_quiet_begin(); /* tracing is observation: no scheduling points */
	ev.type = type;
	ev.pfn = folio->pfn;
	ev.flags = zd_atomic_ulong_read_relaxed(&folio->flags);
	ev.count = zd_atomic_read_relaxed(&folio->_refcount);
	if (ev.flags & (1ul << ZD_PG_head))
		ev.mapcount = zd_atomic_read_relaxed(&folio->_large_mapcount) + 1;
	else
		ev.mapcount = zd_atomic_read_relaxed(&folio->_mapcount) + 1;
	ev.mapping = ZD_READ_ONCE(((struct zd_folio *)folio)->mapping);
	ev.val = val;
	ev.ret = ret;
	ev.holder = h;
	/* A head's compound_head word is its pgmap (a tail's has bit 0 set). */
	if (((ev.flags & ZD_PAGE_ZONE_MASK) >> ZD_PAGE_ZONE_SHIFT) == ZD_ZONE_DEVICE &&
	    !(folio->page.compound_head & 1) && folio->pgmap) {
		pgmap = folio->pgmap;
		ev.pgref_kind = (int)pgmap->type;
	}
	if (h.kind != ZD_HOLD_OTHER || h.id) {
		zd_holder_name(w, h, name, sizeof(name));
		ev.text = zd_trace_strdup(name);
	}
	zd_trace_record(w->check, &ev);
	zd_sync_quiet_end();
}

/**
 * zd_trace_pgmap_ref - trace a change of @delta to @pgmap's reference by a
 * holder of @kind; @count is the reference count after the change.
 */
void zd_trace_pgmap_ref(struct zd_world *w, const struct zd_dev_pagemap *pgmap,
			enum zd_pgmap_ref_kind kind, long delta, long count)
{
	struct zd_trace_event ev = {0};

	if (!w || !w->check || !zd_tracing(w))
		return;
	ev.type = ZD_TR_PGMAP_REF;
	ev.pfn = ZD_PFN_NONE;
	ev.pgref_kind = (int)kind;
	ev.val = (int)delta;
	ev.count = (int)count;
	ev.holder = ZD_HOLDER_OTHER;
	ev.object = zd_trace_strdup(pgmap && pgmap->name ? pgmap->name : "pgmap");
	zd_trace_record(w->check, &ev);
}

/**
 * zd_trace_event - trace a named lifecycle event ("folio_free",
 * "memremap_pages", ...) about @pfn (or ZD_PFN_NONE) and @object (a pgmap or
 * device name, or NULL), with a printf-style detail text (@fmt may be NULL).
 */
void zd_trace_event(struct zd_world *w, unsigned long pfn, const char *object, const char *name,
		    const char *fmt, ...)
{
	struct zd_trace_event ev = {0};
	va_list ap;

	if (!w || !w->check || !zd_tracing(w))
		return;
	ev.type = ZD_TR_EVENT;
	ev.pfn = pfn;
	ev.holder = ZD_HOLDER_OTHER;
	ev.name = zd_trace_strdup(name ? name : "event");
	ev.object = zd_trace_strdup(object);
	va_start(ap, fmt);
	ev.text = zd_trace_vformat(fmt, ap);
	va_end(ap);
	zd_trace_record(w->check, &ev);
}

/* zd_trace_mark - a marker event ("mark: <text>"), e.g. the statement being run. */
void zd_trace_mark(struct zd_world *w, const char *fmt, ...)
{
	struct zd_trace_event ev = {0};
	va_list ap;

	if (!w || !w->check || !zd_tracing(w))
		return;
	ev.type = ZD_TR_MARK;
	ev.pfn = ZD_PFN_NONE;
	ev.holder = ZD_HOLDER_OTHER;
	va_start(ap, fmt);
	ev.text = zd_trace_vformat(fmt, ap);
	va_end(ap);
	zd_trace_record(w->check, &ev);
}

/*
 * zd_trace_violation - trace a reported violation (for zd_report).
 * Return: the event's sequence number, or when not tracing the number the
 * next event will get.
 */
uint64_t zd_trace_violation(struct zd_world *w, enum zd_invariant inv, unsigned long pfn,
			    const char *message)
{
	const struct zd_invariant_info *info = zd_invariant_info(inv);
	struct zd_check *c = w->check;
	struct zd_trace_event ev = {0};
	uint64_t seq;

	if (!zd_tracing(w)) {
		zd_spin_lock(&c->lock);
		seq = c->seq;
		zd_spin_unlock(&c->lock);
		return seq;
	}
	ev.type = ZD_TR_VIOLATION;
	ev.pfn = pfn;
	ev.holder = ZD_HOLDER_OTHER;
	ev.name = zd_trace_strdup(info ? info->id : "unknown");
	ev.text = zd_trace_strdup(message);
	return zd_trace_record(c, &ev);
}

/* ---- Control ---------------------------------------------------------------- */

/* zd_trace_enable - start or stop recording events (recorded ones are kept). */
void zd_trace_enable(struct zd_world *w, bool on)
{
	if (!w || !w->check)
		return;
	zd_spin_lock(&w->check->lock);
	w->check->trace_on = on;
	zd_spin_unlock(&w->check->lock);
}

/* zd_trace_set_text - print every event to @out as it happens (NULL: stop). */
void zd_trace_set_text(struct zd_world *w, FILE *out)
{
	if (!w || !w->check)
		return;
	zd_spin_lock(&w->check->lock);
	w->check->trace_text = out;
	zd_spin_unlock(&w->check->lock);
}

/* Index of @name in the thread table, or nr_threads; c->lock held. */
static size_t zd_thread_find(const struct zd_check *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nr_threads; i++)
		if (!strcmp(c->thread_names[i], name))
			break;
	return i;
}

/**
 * zd_trace_set_thread_name - the following events belong to the thread
 * @name (interned; NULL means "main", index 0). On allocation failure the
 * events are attributed to "main".
 */
void zd_trace_set_thread_name(struct zd_world *w, const char *name)
{
	struct zd_check *c = w ? w->check : NULL;
	char *copy = NULL, **names, **old = NULL;
	size_t i, old_nr = 0;

	if (!c)
		return;
	if (!name)
		name = "main";
	zd_spin_lock(&c->lock);
	i = zd_thread_find(c, name);
	if (i < c->nr_threads) {
		c->cur_thread = (unsigned int)i;
		zd_spin_unlock(&c->lock);
		return;
	}
	zd_spin_unlock(&c->lock);

	copy = zd_kstrdup(NULL, name);
	zd_spin_lock(&c->lock);
	i = zd_thread_find(c, name); /* someone may have added it meanwhile */
	if (i == c->nr_threads && copy) {
		names = zd_kzalloc(NULL, (c->nr_threads + 1) * sizeof(*names));
		if (names) {
			memcpy(names, c->thread_names, c->nr_threads * sizeof(*names));
			names[c->nr_threads] = copy;
			copy = NULL;
			old = c->thread_names;
			old_nr = c->nr_threads;
			c->thread_names = names;
			c->nr_threads++;
		}
	}
	c->cur_thread = i < c->nr_threads ? (unsigned int)i : 0;
	zd_spin_unlock(&c->lock);
	zd_kfree(NULL, old, old_nr * sizeof(*old));
	zd_kfree_str(NULL, copy);
}

/* zd_trace_count - events recorded so far. */
size_t zd_trace_count(const struct zd_world *w)
{
	struct zd_check *c = w ? w->check : NULL;
	size_t nr;

	if (!c)
		return 0;
	zd_spin_lock(&c->lock);
	nr = c->nr_events;
	zd_spin_unlock(&c->lock);
	return nr;
}

/* ---- Chrome / Perfetto JSON ---------------------------------------------------- */

/* Write @s as a JSON string literal (quotes included). */
static void zd_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static const char *zd_trace_category(enum zd_trace_type type)
{
	if (zd_trace_is_page_ref(type))
		return "page_ref";
	switch (type) {
	case ZD_TR_PGMAP_REF:
		return "pgmap";
	case ZD_TR_MARK:
		return "mark";
	case ZD_TR_VIOLATION:
		return "violation";
	default:
		return "event";
	}
}

/* One event: an instant event, plus a counter sample for reference changes. */
static void zd_json_event(FILE *f, const struct zd_trace_event *ev)
{
	char stack[512], name[160], *text;

	if (ev->type == ZD_TR_EVENT)
		snprintf(name, sizeof(name), "%s", ev->name ? ev->name : "event");
	else if (ev->type == ZD_TR_VIOLATION)
		snprintf(name, sizeof(name), "WARNING: %s", ev->name ? ev->name : "unknown");
	else
		snprintf(name, sizeof(name), "%s", zd_trace_type_name(ev->type));

	text = zd_trace_format_alloc(ev, stack, sizeof(stack));
	fputs(",\n{\"name\":", f);
	zd_json_string(f, name);
	fprintf(f,
		",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%llu,\"pid\":1,\"tid\":%u,"
		"\"args\":{\"text\":",
		zd_trace_category(ev->type), (unsigned long long)ev->seq, ev->thread);
	zd_json_string(f, text);
	if (ev->pfn != ZD_PFN_NONE)
		fprintf(f, ",\"pfn\":\"0x%lx\"", ev->pfn);
	fputs("}}", f);
	zd_trace_format_free(text, stack);

	if (zd_trace_is_page_ref(ev->type)) {
		fprintf(f,
			",\n{\"name\":\"refcount pfn=0x%lx\",\"ph\":\"C\",\"ts\":%llu,\"pid\":1,"
			"\"args\":{\"refcount\":%d}}",
			ev->pfn, (unsigned long long)ev->seq, ev->count);
	} else if (ev->type == ZD_TR_PGMAP_REF) {
		snprintf(name, sizeof(name), "pgmap refs %s", ev->object ? ev->object : "?");
		fputs(",\n{\"name\":", f);
		zd_json_string(f, name);
		fprintf(f, ",\"ph\":\"C\",\"ts\":%llu,\"pid\":1,\"args\":{\"refs\":%d}}",
			(unsigned long long)ev->seq, ev->count);
	}
}

/*
 * Copy the event array and thread table so the file is written without the
 * lock. The strings they point to live until zd_check_exit.
 */
static int zd_trace_snapshot(struct zd_check *c, struct zd_trace_event **events, size_t *nr,
			     char ***threads, size_t *nr_threads)
{
	size_t ne = 0, nt = 0;

	*events = NULL;
	*threads = NULL;
	for (;;) {
		zd_spin_lock(&c->lock);
		if (c->nr_events <= ne && c->nr_threads <= nt)
			break; /* with the lock held */
		ne = c->nr_events;
		nt = c->nr_threads;
		zd_spin_unlock(&c->lock);
		zd_kfree(NULL, *events, 0);
		zd_kfree(NULL, *threads, 0);
		*events = zd_kzalloc(NULL, (ne ? ne : 1) * sizeof(**events));
		*threads = zd_kzalloc(NULL, (nt ? nt : 1) * sizeof(**threads));
		if (!*events || !*threads) {
			zd_kfree(NULL, *events, 0);
			zd_kfree(NULL, *threads, 0);
			*events = NULL;
			*threads = NULL;
			return -ENOMEM;
		}
	}
	*nr = c->nr_events;
	*nr_threads = c->nr_threads;
	if (*nr)
		memcpy(*events, c->events, *nr * sizeof(**events));
	if (*nr_threads)
		memcpy(*threads, c->thread_names, *nr_threads * sizeof(**threads));
	zd_spin_unlock(&c->lock);
	return 0;
}

/**
 * zd_trace_write_json - write the recorded events to @path as a Chrome
 * trace-event JSON file (opens in Perfetto and chrome://tracing): one
 * instant event per trace event on its thread's track, a counter track per
 * pfn ("refcount pfn=0x...") and per pgmap ("pgmap refs NAME"). Timestamps
 * are sequence numbers. Return: 0 or -errno (-ENOENT, -EACCES, -EIO...).
 */
int zd_trace_write_json(struct zd_world *w, const char *path)
{
	struct zd_check *c = w ? w->check : NULL;
	struct zd_trace_event *events = NULL;
	char **threads = NULL;
	size_t nr = 0, nr_threads = 0, i;
	int ret;
	FILE *f;

	if (!c || !path)
		return -EINVAL;
	ret = zd_trace_snapshot(c, &events, &nr, &threads, &nr_threads);
	if (ret)
		return ret;
	f = fopen(path, "w");
	if (!f) {
		ret = -errno;
		goto out;
	}
	fputs("{\"traceEvents\":[\n", f);
	fputs("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
	      "\"args\":{\"name\":\"zonedev\"}}",
	      f);
	for (i = 0; i < nr_threads; i++) {
		fprintf(f,
			",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%zu,"
			"\"args\":{\"name\":",
			i);
		zd_json_string(f, threads[i]);
		fputs("}}", f);
		fprintf(f,
			",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":%zu,"
			"\"args\":{\"sort_index\":%zu}}",
			i, i);
	}
	for (i = 0; i < nr; i++)
		zd_json_event(f, &events[i]);
	fputs("\n],\"displayTimeUnit\":\"ns\"}\n", f);
	ret = ferror(f) ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = errno ? -errno : -EIO;
out:
	zd_kfree(NULL, events, nr * sizeof(*events));
	zd_kfree(NULL, threads, nr_threads * sizeof(*threads));
	return ret;
}
