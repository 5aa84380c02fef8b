/* SPDX-License-Identifier: MIT */
/*
 * zonedev check: the check layer's state (struct zd_check), violation
 * reports (the model's WARN), audit hook registration and the holder namer.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "check/check.h"
#include "mem/mem.h"

/*
 * Defined in ledger.c and trace.c. They belong in src/check/check.h; they
 * are declared here until the header gains them.
 */

#define ZD_VIOLATIONS_MIN_CAP 16

/**
 * zd_check_init - allocate the check layer's state and hang it on @w->check.
 * Trace off, thread 0 named "main", an empty ledger. The check layer's own
 * memory is not accounted to the world and never fails by injection.
 * Return: 0 or -ENOMEM.
 */
int zd_check_init(struct zd_world *w)
{
	struct zd_check *c = zd_kzalloc(NULL, sizeof(*c));

	if (!c)
		return -ENOMEM;
	zd_spin_lock_init(&c->lock);
	c->thread_names = zd_kzalloc(NULL, sizeof(*c->thread_names));
	if (!c->thread_names)
		goto fail;
	c->thread_names[0] = zd_kstrdup(NULL, "main");
	if (!c->thread_names[0])
		goto fail;
	c->nr_threads = 1;
	c->ledger = zd_ledger_create();
	if (!c->ledger)
		goto fail;
	w->check = c;
	return 0;
fail:
	if (c->thread_names) {
		zd_kfree_str(NULL, c->thread_names[0]);
		zd_kfree(NULL, c->thread_names, sizeof(*c->thread_names));
	}
	zd_kfree(NULL, c, sizeof(*c));
	return -ENOMEM;
}

static void zd_trace_event_free_strings(struct zd_trace_event *ev)
{
	zd_kfree_str(NULL, ev->name);
	zd_kfree_str(NULL, ev->text);
	zd_kfree_str(NULL, ev->object);
}

/**
 * zd_check_exit - free everything the check layer holds: events and their
 * strings, thread names, violations, the ledger, audit hooks. Call when no
 * other thread uses the world any more. @w->check is NULL afterwards.
 */
void zd_check_exit(struct zd_world *w)
{
	struct zd_check *c = w ? w->check : NULL;
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr_events; i++)
		zd_trace_event_free_strings(&c->events[i]);
	zd_kfree(NULL, c->events, c->cap_events * sizeof(*c->events));
	for (i = 0; i < c->nr_threads; i++)
		zd_kfree_str(NULL, c->thread_names[i]);
	zd_kfree(NULL, c->thread_names, c->nr_threads * sizeof(*c->thread_names));
	zd_kfree(NULL, c->violations, c->cap_violations * sizeof(*c->violations));
	zd_ledger_destroy(c->ledger);
	zd_kfree(NULL, c->hooks, c->nr_hooks * sizeof(*c->hooks));
	zd_kfree(NULL, c, sizeof(*c));
	w->check = NULL;
}

/* ---- Violations --------------------------------------------------------- */

/*
 * Grow the violation array to hold one more. Called with c->lock held; the
 * allocation is rare (doubling) and never injected.
 */
static bool zd_violations_reserve(struct zd_check *c)
{
	struct zd_violation *v;
	size_t cap;

	if (c->nr_violations < c->cap_violations)
		return true;
	cap = c->cap_violations ? c->cap_violations * 2 : ZD_VIOLATIONS_MIN_CAP;
	v = zd_kzalloc(NULL, cap * sizeof(*v));
	if (!v)
		return false;
	if (c->nr_violations)
		memcpy(v, c->violations, c->nr_violations * sizeof(*v));
	zd_kfree(NULL, c->violations, c->cap_violations * sizeof(*v));
	c->violations = v;
	c->cap_violations = cap;
	return true;
}

/**
 * zd_report - report a violation of @inv (about @pfn, or ZD_PFN_NONE).
 *
 * Records it (zd_violation_get), marks @inv reported for good, and when
 * tracing records a ZD_TR_VIOLATION event, printed as
 * "WARNING: <id>: <message>" on the trace-text stream. Never aborts, never
 * sleeps; callable from any context that may call zd_spin_lock, but not with
 * a check or ledger lock held.
 */
void zd_report(struct zd_world *w, enum zd_invariant inv, unsigned long pfn, const char *fmt, ...)
{
	const struct zd_invariant_info *info = zd_invariant_info(inv);
	struct zd_check *c = w ? w->check : NULL;
	struct zd_violation *v;
	char msg[sizeof(v->message)];
	uint64_t seq;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c) {
		/* No check layer (a world being built or torn down): do not lose it. */
		fprintf(stderr, "WARNING: %s: %s\n", info ? info->id : "unknown", msg);
		return;
	}
	seq = zd_trace_violation(w, inv, pfn, msg);

	zd_spin_lock(&c->lock);
	if ((unsigned int)inv < ZD_NR_INVARIANTS)
		c->reported_mask |= 1ul << inv;
	if (zd_violations_reserve(c)) {
		v = &c->violations[c->nr_violations++];
		v->inv = inv;
		v->pfn = pfn;
		v->seq = (unsigned long)seq;
		memcpy(v->message, msg, sizeof(v->message));
	}
	zd_spin_unlock(&c->lock);
}

/* zd_violation_count - violations reported so far in @w. */
size_t zd_violation_count(const struct zd_world *w)
{
	struct zd_check *c = w ? w->check : NULL;
	size_t nr;

	if (!c)
		return 0;
	zd_spin_lock(&c->lock);
	nr = c->nr_violations;
	zd_spin_unlock(&c->lock);
	return nr;
}

/*
 * zd_violation_get - the i-th violation (in report order), or NULL. The
 * pointer stays valid until the next report; read it at quiescence.
 */
const struct zd_violation *zd_violation_get(const struct zd_world *w, size_t i)
{
	struct zd_check *c = w ? w->check : NULL;
	const struct zd_violation *v = NULL;

	if (!c)
		return NULL;
	zd_spin_lock(&c->lock);
	if (i < c->nr_violations)
		v = &c->violations[i];
	zd_spin_unlock(&c->lock);
	return v;
}

/* zd_violation_reported - whether @inv was ever reported in @w. */
bool zd_violation_reported(const struct zd_world *w, enum zd_invariant inv)
{
	struct zd_check *c = w ? w->check : NULL;
	bool reported;

	if (!c || (unsigned int)inv >= ZD_NR_INVARIANTS)
		return false;
	zd_spin_lock(&c->lock);
	reported = (c->reported_mask >> inv) & 1;
	zd_spin_unlock(&c->lock);
	return reported;
}

/* ---- Audit hooks and the holder namer ---------------------------------------- */

/**
 * zd_audit_register - add @fn(@arg) to the whole-world audit.
 * Return: 0, -EINVAL (no fn or no check layer), -EEXIST (already registered
 * with this arg) or -ENOMEM.
 */
int zd_audit_register(struct zd_world *w, zd_audit_fn fn, void *arg)
{
	struct zd_check *c = w ? w->check : NULL;
	struct zd_audit_hook *hooks, *old;
	size_t i, nr;

	if (!c || !fn)
		return -EINVAL;
	for (;;) {
		zd_spin_lock(&c->lock);
		for (i = 0; i < c->nr_hooks; i++) {
			if (c->hooks[i].fn == fn && c->hooks[i].arg == arg) {
				zd_spin_unlock(&c->lock);
				return -EEXIST;
			}
		}
		nr = c->nr_hooks;
		zd_spin_unlock(&c->lock);

		/* The array is exactly nr_hooks long; allocate the next one unlocked. */
		hooks = zd_kzalloc(NULL, (nr + 1) * sizeof(*hooks));
		if (!hooks)
			return -ENOMEM;
		zd_spin_lock(&c->lock);
		if (c->nr_hooks == nr)
			break;		  /* with the lock held */
		zd_spin_unlock(&c->lock); /* raced with another (un)register: retry */
		zd_kfree(NULL, hooks, (nr + 1) * sizeof(*hooks));
	}
	old = c->hooks;
	if (nr)
		memcpy(hooks, old, nr * sizeof(*hooks));
	hooks[nr].fn = fn;
	hooks[nr].arg = arg;
	c->hooks = hooks;
	c->nr_hooks = nr + 1;
	zd_spin_unlock(&c->lock);
	zd_kfree(NULL, old, nr * sizeof(*old));
	return 0;
}

/* zd_audit_unregister - remove the hook registered as (@fn, @arg), if any. */
void zd_audit_unregister(struct zd_world *w, zd_audit_fn fn, void *arg)
{
	struct zd_check *c = w ? w->check : NULL;
	struct zd_audit_hook *old = NULL;
	size_t i, nr = 0;

	if (!c)
		return;
	zd_spin_lock(&c->lock);
	for (i = 0; i < c->nr_hooks; i++) {
		if (c->hooks[i].fn == fn && c->hooks[i].arg == arg)
			break;
	}
	if (i < c->nr_hooks) {
		/* Shrinking in place keeps the block; free it when it becomes empty. */
		memmove(&c->hooks[i], &c->hooks[i + 1], (c->nr_hooks - i - 1) * sizeof(*c->hooks));
		nr = c->nr_hooks--;
		if (!c->nr_hooks) {
			old = c->hooks;
			c->hooks = NULL;
		}
	}
	zd_spin_unlock(&c->lock);
	zd_kfree(NULL, old, nr * sizeof(*old));
}

/*
 * zd_world_set_holder_namer - names for holder ids in messages and traces
 * (NULL restores the default "<kind>:0x<id>"). @fn is called without any
 * check lock held and must not block for long.
 */
void zd_world_set_holder_namer(struct zd_world *w, zd_holder_namer_t fn, void *arg)
{
	struct zd_check *c = w ? w->check : NULL;

	if (!c)
		return;
	zd_spin_lock(&c->lock);
	c->namer = fn;
	c->namer_arg = arg;
	zd_spin_unlock(&c->lock);
}
