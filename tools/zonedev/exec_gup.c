/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the statements of §7, pinning: `P gup H REF NPAGES [pin]
 * [longterm] [write] [fast|fast-only] [p2p]`, `unpin H [dirty]`, and
 * `pinned H read|write SIZE` (plus `put H` of a gup handle, called from
 * exec.c's put).
 *
 * As for every action (see exec.c): prepare runs on the runner thread and
 * resolves names into the zd_exec - the process's address space, the REF's
 * address, the handle's pages - so the task never reads the run's tables;
 * the action runs on a task and only calls the library; apply records the
 * handle the statement defined or ended.
 *
 * A gup handle holds an array of pfns, one per 4 KiB page obtained, in the
 * order of the addresses, and the holder its references are accounted to:
 * pin:H for pins, pin-longterm:H for long-term pins, gup:H for gets (the id
 * is the handle's slot + 1, as for every handle). The array is allocated by
 * the gup's prepare (NPAGES may be any size) and belongs to the handle's slot
 * from then on, so a statement that fails or blocks leaks nothing.
 *
 * `pinned H` accesses the pages of any handle that holds pages (gup,
 * alloc-page, tryget, DEV alloc) as a DMA engine would: straight to the
 * pages' bytes, no page table. Words count from the first page of H. A gup
 * handle taken without `write` was mapped for reads only (DMA_TO_DEVICE), so
 * a pinned write through it is EPERM - which also keeps a read pin of the
 * shared zero page from being written through.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "zonedev/gup.h"
#include "zonedev/migrate.h"

bool zd_stmt_is_gup(const struct zd_stmt *st)
{
	switch (st->kind) {
	case ZD_ST_GUP:
	case ZD_ST_UNPIN:
	case ZD_ST_PINNED_READ:
	case ZD_ST_PINNED_WRITE:
		return true;
	default:
		return false;
	}
}

static int zd_gup_err(struct zd_exec *e, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int zd_gup_err(struct zd_exec *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return ret;
}

static void zd_gup_result(struct zd_exec *e, const char *name, int64_t v)
{
	if (e->nr_results < ZD_MAX_RESULTS)
		e->results[e->nr_results++] = (struct zd_result){name, v};
}

/* ---- The pages of a handle ----------------------------------------------- */

void zd_run_handle_drop_pages(struct zd_rhandle *h)
{
	free(h->pfns);
	h->pfns = NULL;
	h->nr_pfns = 0;
}

void zd_run_handle_list_pages(struct zd_rhandle *h, unsigned long p2p_pages)
{
	unsigned long n = 0, k;
	int i;

	zd_run_handle_drop_pages(h);
	if (h->kind == ZD_H_P2PMEM) {
		n = p2p_pages;
	} else if (h->kind == ZD_H_PAGES || h->kind == ZD_H_REF) {
		for (i = 0; i < h->nr; i++)
			n += zd_folio_nr_pages(h->folios[i]);
	}
	if (!n)
		return;
	h->pfns = calloc(n, sizeof(*h->pfns));
	if (!h->pfns)
		return; /* out of memory: the handle then has no pages to access */
	if (h->kind == ZD_H_P2PMEM) {
		for (k = 0; k < n; k++)
			h->pfns[k] = h->pfn + k;
	} else {
		n = 0;
		for (i = 0; i < h->nr; i++)
			for (k = 0; k < zd_folio_nr_pages(h->folios[i]); k++)
				h->pfns[n++] = zd_folio_pfn(h->folios[i]) + k;
	}
	h->nr_pfns = n;
}

int zd_exec_gup_use_handle(struct zd_run *run, struct zd_exec *e, const char *name)
{
	struct zd_rhandle *h = zd_run_handle(run, name);

	if (!h)
		return zd_gup_err(e, -ENOENT, "no live handle %s", name);
	e->slot = (size_t)(h - run->handles);
	e->pfns = h->pfns;
	e->nr_pfns = h->nr_pfns;
	e->gup_flags = h->kind == ZD_H_GUP ? h->gup_flags : ZD_SCR_GUP_WRITE;
	e->holder = h->holder;
	e->hkind = h->kind;
	return 0;
}

/* ---- prepare ------------------------------------------------------------- */

static struct zd_holder zd_gup_holder(unsigned int flags, size_t slot)
{
	if ((flags & ZD_SCR_GUP_PIN) && (flags & ZD_SCR_GUP_LONGTERM))
		return ZD_HOLDER(ZD_HOLD_PIN_LONGTERM, slot + 1);
	if (flags & ZD_SCR_GUP_PIN)
		return ZD_HOLDER(ZD_HOLD_PIN, slot + 1);
	return ZD_HOLDER(ZD_HOLD_GUP, slot + 1);
}

static int zd_gup_prepare_gup(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_st_gup *g = &e->st->u.gup;
	struct zd_rprocess *p;
	size_t n = g->nr_pages ? (size_t)g->nr_pages : 1;

	if (zd_run_ref_addr(run, g->process, &g->ref, &p, NULL, &e->addr))
		return zd_gup_err(e, -EINVAL, "%s", run->reason);
	if (g->nr_pages > SIZE_MAX / sizeof(unsigned long))
		return zd_gup_err(e, -ENOMEM, "no memory for %llu pfns",
				  (unsigned long long)g->nr_pages);
	if (zd_run_new_handle_slot(run, g->handle, &e->slot))
		return zd_gup_err(e, -ENOMEM, "out of memory");
	e->pfns = calloc(n, sizeof(*e->pfns));
	if (!e->pfns)
		return zd_gup_err(e, -ENOMEM, "no memory for %llu pfns",
				  (unsigned long long)g->nr_pages);
	run->handles[e->slot].pfns = e->pfns; /* the slot owns it from now on */
	e->mm = p->mm;
	e->nr_pfns = (unsigned long)g->nr_pages;
	e->gup_flags = g->flags;
	e->holder = zd_gup_holder(g->flags, e->slot);
	e->hkind = ZD_H_GUP;
	return 0;
}

int zd_exec_gup_prepare(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;

	switch (st->kind) {
	case ZD_ST_GUP:
		return zd_gup_prepare_gup(run, e);
	case ZD_ST_UNPIN:
		return zd_exec_gup_use_handle(run, e, st->u.handle.handle);
	case ZD_ST_PINNED_READ:
	case ZD_ST_PINNED_WRITE:
		return zd_exec_gup_use_handle(run, e, st->u.range.handle);
	default:
		return 0;
	}
}

/* ---- actions ------------------------------------------------------------- */

/* The gup statement as written back, for messages: "pin_user_pages_fast(FOLL_WRITE)". */
static void zd_gup_call_name(unsigned int flags, char *buf, size_t n)
{
	size_t len;

	snprintf(buf, n, "%s_user_pages%s(", flags & ZD_SCR_GUP_PIN ? "pin" : "get",
		 flags & ZD_SCR_GUP_FAST_ONLY ? "_fast_only"
		 : flags & ZD_SCR_GUP_FAST    ? "_fast"
					      : "");
	len = strlen(buf);
	snprintf(buf + len, n - len, "%s%s%s%s",
		 flags & ZD_SCR_GUP_LONGTERM ? "FOLL_LONGTERM " : "",
		 flags & ZD_SCR_GUP_WRITE ? "FOLL_WRITE " : "",
		 flags & ZD_SCR_GUP_P2P ? "FOLL_PCI_P2PDMA " : "",
		 flags & (ZD_SCR_GUP_LONGTERM | ZD_SCR_GUP_WRITE | ZD_SCR_GUP_P2P) ? "" : "0");
	len = strlen(buf);
	if (len && buf[len - 1] == ' ')
		buf[--len] = '\0';
	snprintf(buf + len, n - len, ")");
}

/* What each errno of GUP means (include/zonedev/gup.h), given the statement's flags. */
static const char *zd_gup_why(int ret, unsigned int flags, uint64_t addr)
{
	switch (ret) {
	case -EINVAL:
		if ((flags & ZD_SCR_GUP_LONGTERM) && !(flags & ZD_SCR_GUP_PIN))
			return "FOLL_LONGTERM is only for pins (add 'pin')";
		if ((flags & ZD_SCR_GUP_LONGTERM) && (flags & ZD_SCR_GUP_P2P))
			return "FOLL_LONGTERM with FOLL_PCI_P2PDMA is refused: P2P memory must "
			       "stay unpluggable";
		if (addr & (ZD_PAGE_SIZE - 1))
			return "the address is not page aligned";
		return "invalid flags";
	case -EFAULT:
		return "no mapping, no permission (a write to a read-only or PROT_NONE "
		       "mapping), or the fault failed at the first page";
	case -EREMOTEIO:
		return "a P2PDMA page without FOLL_PCI_P2PDMA (add 'p2p')";
	case -EOPNOTSUPP:
		return "FS DAX memory cannot be pinned long term";
	case -ENOMEM:
		return "out of memory, or a page whose refcount is 0";
	case -EBUSY:
		return "a device-coherent page could not be migrated to RAM for the long-term "
		       "pin";
	default:
		return "failed";
	}
}

static int zd_gup_do_gup(struct zd_exec *e)
{
	const struct zd_st_gup *g = &e->st->u.gup;
	unsigned int f = e->gup_flags, foll = 0;
	char call[128];
	bool fast;
	long ret;

	e->got = 0;
	if (!e->mm)
		return zd_gup_err(e, -ENOENT, "process %s has no address space", g->process);
	if (f & ZD_SCR_GUP_WRITE)
		foll |= ZD_FOLL_WRITE;
	if (f & ZD_SCR_GUP_LONGTERM)
		foll |= ZD_FOLL_LONGTERM;
	if (f & ZD_SCR_GUP_P2P)
		foll |= ZD_FOLL_PCI_P2PDMA;
	if (f & ZD_SCR_GUP_FAST_ONLY)
		foll |= ZD_FOLL_FAST_ONLY;
	fast = (f & (ZD_SCR_GUP_FAST | ZD_SCR_GUP_FAST_ONLY)) != 0;
	if (f & ZD_SCR_GUP_PIN)
		ret = fast
			  ? zd_pin_user_pages_fast(e->mm, e->addr, e->nr_pfns, foll, e->pfns,
						   e->holder)
			  : zd_pin_user_pages(e->mm, e->addr, e->nr_pfns, foll, e->pfns, e->holder);
	else
		ret = fast
			  ? zd_get_user_pages_fast(e->mm, e->addr, e->nr_pfns, foll, e->pfns,
						   e->holder)
			  : zd_get_user_pages(e->mm, e->addr, e->nr_pfns, foll, e->pfns, e->holder);
	e->got = ret > 0 ? ret : 0;
	zd_gup_result(e, "pages", e->got);
	if (e->got)
		zd_gup_result(e, "pfn", (int64_t)e->pfns[0]);
	if (ret >= 0)
		return 0;
	zd_gup_call_name(f, call, sizeof(call));
	if (g->ref.offset)
		return zd_gup_err(e, (int)ret, "%s of %llu page%s at %s %s+%#llx (%#llx): %s", call,
				  (unsigned long long)g->nr_pages, g->nr_pages == 1 ? "" : "s",
				  g->process, g->ref.mapping, (unsigned long long)g->ref.offset,
				  (unsigned long long)e->addr, zd_gup_why((int)ret, f, e->addr));
	return zd_gup_err(e, (int)ret, "%s of %llu page%s at %s %s (%#llx): %s", call,
			  (unsigned long long)g->nr_pages, g->nr_pages == 1 ? "" : "s", g->process,
			  g->ref.mapping, (unsigned long long)e->addr,
			  zd_gup_why((int)ret, f, e->addr));
}

int zd_exec_gup_put(struct zd_exec *e)
{
	const char *name = e->st->u.handle.handle;

	if (e->gup_flags & ZD_SCR_GUP_PIN)
		return zd_gup_err(
		    e, -EINVAL,
		    "put %s: the handle holds pins (put_page would drop one reference "
		    "of a pin); use unpin for pinned pages",
		    name);
	zd_put_user_pages(e->run->w, e->pfns, e->nr_pfns, e->holder);
	zd_gup_result(e, "pages", (int64_t)e->nr_pfns);
	return 0;
}

static int zd_gup_do_unpin(struct zd_exec *e)
{
	const struct zd_st_handle *hs = &e->st->u.handle;

	if (e->hkind != ZD_H_GUP || !(e->gup_flags & ZD_SCR_GUP_PIN))
		return zd_gup_err(e, -EINVAL, "unpin %s: the handle holds no pins; use put",
				  hs->handle);
	zd_unpin_user_pages(e->run->w, e->pfns, e->nr_pfns, hs->dirty, e->holder);
	zd_gup_result(e, "pages", (int64_t)e->nr_pfns);
	return 0;
}

/* Copy between buf and the handle's pages: bytes [0, len) counted from its first page. */
static int zd_gup_dma(struct zd_exec *e, unsigned char *buf, size_t len, bool write)
{
	size_t off = 0;
	unsigned long i;

	for (i = 0; off < len; i++) {
		size_t chunk = len - off < ZD_PAGE_SIZE ? len - off : ZD_PAGE_SIZE;
		unsigned char *data = zd_page_address(e->run->w, e->pfns[i]);

		if (!data)
			return zd_gup_err(
			    e, -EFAULT, "pinned %s %s: page %lu (pfn %#lx) has no memory",
			    write ? "write" : "read", e->st->u.range.handle, i, e->pfns[i]);
		if (write)
			memcpy(data, buf + off, chunk);
		else
			memcpy(buf + off, data, chunk);
		off += chunk;
	}
	return 0;
}

static int zd_gup_do_pinned(struct zd_exec *e)
{
	const struct zd_st_range *r = &e->st->u.range;
	bool write = e->st->kind == ZD_ST_PINNED_WRITE;
	const char *op = write ? "write" : "read";
	unsigned char *buf;
	int ret;

	if (r->size > (uint64_t)e->nr_pfns * ZD_PAGE_SIZE)
		return zd_gup_err(
		    e, -EINVAL,
		    "pinned %s of %#llx bytes: handle %s holds %lu page%s (%#llx bytes)", op,
		    (unsigned long long)r->size, r->handle, e->nr_pfns, e->nr_pfns == 1 ? "" : "s",
		    (unsigned long long)e->nr_pfns * ZD_PAGE_SIZE);
	if (write && !(e->gup_flags & ZD_SCR_GUP_WRITE))
		return zd_gup_err(e, -EPERM,
				  "pinned write through %s: its pages were taken without 'write' "
				  "(FOLL_WRITE), so they are mapped for device reads only",
				  r->handle);
	e->len = r->size;
	buf = malloc(r->size ? r->size : 1);
	if (!buf)
		return zd_gup_err(e, -ENOMEM, "no memory for a %#llx-byte buffer",
				  (unsigned long long)r->size);
	if (write) {
		zd_exec_pattern_bytes(&r->pattern, 0, buf, r->size);
		ret = zd_gup_dma(e, buf, r->size, true);
	} else {
		ret = zd_gup_dma(e, buf, r->size, false);
		if (!ret && r->has_expect)
			ret = zd_exec_pattern_compare(e, buf, "pinned read");
	}
	free(buf);
	return ret;
}

void zd_exec_gup_action(struct zd_exec *e)
{
	switch (e->st->kind) {
	case ZD_ST_GUP:
		e->ret = zd_gup_do_gup(e);
		return;
	case ZD_ST_UNPIN:
		e->ret = zd_gup_do_unpin(e);
		return;
	case ZD_ST_PINNED_READ:
	case ZD_ST_PINNED_WRITE:
		e->ret = zd_gup_do_pinned(e);
		return;
	default:
		e->ret = zd_gup_err(e, -ENOSYS, "'%s' is not a pinning statement",
				    zd_stmt_kind_name(e->st->kind));
		return;
	}
}

/* ---- apply --------------------------------------------------------------- */

/*
 * gup defines its handle (a `~ gup` that failed: a handle holding nothing, which unpin or put
 * releases as a no-op); unpin ends it. put is exec.c's.
 */
void zd_exec_gup_apply(struct zd_run *run, struct zd_exec *e)
{
	struct zd_rhandle *h;

	switch (e->st->kind) {
	case ZD_ST_GUP:
		h = &run->handles[e->slot];
		h->ended = false;
		h->kind = ZD_H_GUP;
		h->dev = NULL;
		h->nr = 0;
		h->nr_pfns = e->ret ? 0 : (unsigned long)e->got;
		h->gup_flags = e->gup_flags;
		h->holder = e->holder;
		return;
	case ZD_ST_UNPIN:
		h = &run->handles[e->slot];
		h->ended = true;
		zd_run_handle_drop_pages(h);
		return;
	default:
		return;
	}
}
