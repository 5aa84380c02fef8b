/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the actions of the scenario language: what each statement
 * does to the world (run on a task), and the names it leaves behind.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

bool zd_stmt_is_action(const struct zd_stmt *st)
{
	switch (st->kind) {
	case ZD_ST_EXPECT_PAGE:
	case ZD_ST_EXPECT_ENTRY:
	case ZD_ST_EXPECT_PGMAP:
	case ZD_ST_EXPECT_DEVICE:
	case ZD_ST_EXPECT_RESULT:
	case ZD_ST_EXPECT_PENDING:
	case ZD_ST_EXPECT_CLEAN:
	case ZD_ST_EXPECT_VIOLATION:
	case ZD_ST_EXPECT_READ:
	case ZD_ST_DUMP_PAGE:
	case ZD_ST_DUMP_PGMAP:
	case ZD_ST_DUMP_MM:
	case ZD_ST_THREAD:
	case ZD_ST_EXPLORE:
	case ZD_ST_ALWAYS:
	case ZD_ST_SOMETIMES:
	case ZD_ST_RUN_THREADS:
		return false;
	default:
		return true;
	}
}

static int zd_exec_err(struct zd_exec *e, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int zd_exec_err(struct zd_exec *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return ret;
}

static void zd_exec_result(struct zd_exec *e, const char *name, int64_t v)
{
	if (e->nr_results < ZD_MAX_RESULTS)
		e->results[e->nr_results++] = (struct zd_result){name, v};
}

static struct zd_holder zd_handle_holder(size_t slot)
{
	return ZD_HOLDER(ZD_HOLD_HANDLE, slot + 1);
}

static enum zd_memory_type zd_mem_from_script(enum zd_scr_mem m)
{
	switch (m) {
	case ZD_SCR_MEM_PRIVATE:
		return ZD_MEMORY_DEVICE_PRIVATE;
	case ZD_SCR_MEM_COHERENT:
		return ZD_MEMORY_DEVICE_COHERENT;
	case ZD_SCR_MEM_FSDAX:
		return ZD_MEMORY_DEVICE_FS_DAX;
	case ZD_SCR_MEM_GENERIC:
		return ZD_MEMORY_DEVICE_GENERIC;
	case ZD_SCR_MEM_P2PDMA:
		return ZD_MEMORY_DEVICE_PCI_P2PDMA;
	default:
		return ZD_MEMORY_DEVICE_NONE;
	}
}

int zd_run_new_handle_slot(struct zd_run *run, const char *name, size_t *slot)
{
	struct zd_rhandle *h = realloc(run->handles, (run->nr_handles + 1) * sizeof(*h));

	if (!h)
		return -ENOMEM;
	run->handles = h;
	h = &run->handles[run->nr_handles];
	memset(h, 0, sizeof(*h));
	h->name = strdup(name);
	h->ended = true; /* until the statement succeeds */
	if (!h->name)
		return -ENOMEM;
	*slot = run->nr_handles++;
	return 0;
}

int zd_exec_prepare(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;

	if (zd_stmt_is_vm(st))
		return zd_exec_vm_prepare(run, e);
	if (zd_stmt_is_dev(st))
		return zd_exec_dev_prepare(run, e);
	if (zd_stmt_is_gup(st))
		return zd_exec_gup_prepare(run, e);
	if (zd_stmt_is_failure(st))
		return zd_exec_failure_prepare(run, e);
	if (zd_stmt_is_dax(st))
		return zd_exec_dax_prepare(run, e);
	switch (st->kind) {
	case ZD_ST_PUT:
		/* a gup handle's pages; a handle not live now is the action's ENOENT */
		zd_exec_gup_use_handle(run, e, st->u.handle.handle);
		e->reason[0] = '\0';
		return 0;
	case ZD_ST_ALLOC_PAGE:
	case ZD_ST_TRYGET:
	case ZD_ST_GET_PAGEMAP:
	case ZD_ST_P2P_ALLOC:
		if (zd_run_new_handle_slot(run, st->u.handle.handle, &e->slot))
			return zd_exec_err(e, -ENOMEM, "out of memory");
		return 0;
	default:
		return 0;
	}
}

static int zd_exec_device(struct zd_exec *e)
{
	const struct zd_st_device *d = &e->st->u.device;
	struct zd_device_config cfg = {
	    .name = d->name,
	    .type = zd_mem_from_script(d->type),
	    .size = d->size,
	    .chunk = d->has_chunk ? d->chunk : 0,
	    .align_order = d->align >= (1ull << 30)   ? ZD_PUD_ORDER
			   : d->align >= (2ull << 20) ? ZD_PMD_ORDER
						      : 0,
	};
	int ret = zd_device_create(e->run->w, &cfg, &e->new_dev);

	if (ret)
		return zd_exec_err(
		    e, ret, "device %s: registering its memory (memremap_pages) failed", d->name);
	return 0;
}

static struct zd_device *zd_exec_dev(struct zd_exec *e, const char *name)
{
	struct zd_rdevice *d = zd_run_device(e->run, name);

	return d ? d->dev : NULL;
}

static int zd_exec_alloc_page(struct zd_exec *e)
{
	const struct zd_st_handle *h = &e->st->u.handle;
	struct zd_device *dev = zd_exec_dev(e, h->device);
	int ret, i;
	long pages = 0;

	if (!dev)
		return zd_exec_err(e, -EINVAL, "%s is not a device", h->device);
	ret = zd_device_alloc_pages(dev, h->order, h->has_at ? (long)h->at : -1,
				    zd_handle_holder(e->slot), e->folios, &e->nr);
	if (ret)
		return zd_exec_err(e, ret, "%s: no page of order %u could be handed out", h->device,
				   h->order);
	for (i = 0; i < e->nr; i++)
		pages += (long)zd_folio_nr_pages(e->folios[i]);
	zd_exec_result(e, "pages", pages);
	zd_exec_result(e, "pfn", (int64_t)e->folios[0]->pfn);
	return 0;
}

static int zd_exec_release(struct zd_exec *e, bool batched)
{
	const struct zd_st_handle *hs = &e->st->u.handle;
	struct zd_rhandle *h = zd_run_handle(e->run, hs->handle), hcopy;
	size_t slot;
	int i;

	if (!h)
		return zd_exec_err(e, -ENOENT, "no handle %s", hs->handle);
	slot = (size_t)(h - e->run->handles);
	/*
	 * Work on a copy: with threads (explore, run-threads) another statement may
	 * define a handle, and so move the table, while this one releases.
	 */
	hcopy = *h;
	h = &hcopy;
	switch (h->kind) {
	case ZD_H_PGMAP:
		zd_put_dev_pagemap(h->pgmap);
		return 0;
	case ZD_H_P2PMEM:
		return zd_p2pmem_free(h->dev, h->pfn);
	case ZD_H_REF:
		zd_folios_put_refs(h->folios, NULL, h->nr, zd_handle_holder(slot));
		return 0;
	case ZD_H_GUP:
		return zd_exec_gup_put(e); /* prepare resolved its pages into e */
	case ZD_H_PAGES:
		if (!batched || zd_device_type(h->dev) == ZD_MEMORY_DEVICE_PCI_P2PDMA)
			return zd_device_free_pages(h->dev, h->folios, h->nr,
						    zd_handle_holder(slot));
		for (i = 0; i < h->nr; i++)
			if (zd_folio_test_locked(h->folios[i]))
				zd_folio_unlock(h->folios[i]);
		/* put: the batched release path (release_pages / folios_put_refs) */
		zd_folios_put_refs(h->folios, NULL, h->nr, zd_handle_holder(slot));
		return 0;
	}
	return 0;
}

static int zd_exec_page_ref(struct zd_exec *e)
{
	const struct zd_st_handle *h = &e->st->u.handle;
	struct zd_world *w = e->run->w;
	unsigned long pfn;
	struct zd_folio *folio;

	if (zd_run_page_pfn(e->run, &h->page, &pfn))
		return zd_exec_err(e, -EINVAL, "%s+%llup is not a page", h->page.device,
				   (unsigned long long)h->page.index);
	if (e->st->kind == ZD_ST_GET_PAGEMAP) {
		e->pgmap = zd_get_dev_pagemap(w, pfn);
		zd_exec_result(e, "ok", e->pgmap != NULL);
		if (!e->pgmap)
			return zd_exec_err(e, -ENXIO, "get_dev_pagemap(%#lx): no live pgmap", pfn);
		return 0;
	}
	folio = zd_pfn_folio(w, pfn);
	if (!folio)
		return zd_exec_err(e, -EFAULT, "pfn %#lx has no struct page", pfn);
	if (!zd_folio_try_get(folio, zd_handle_holder(e->slot))) {
		zd_exec_result(e, "ok", 0);
		return zd_exec_err(e, -EAGAIN, "folio_try_get: the refcount is 0");
	}
	e->folios[0] = folio;
	e->nr = 1;
	zd_exec_result(e, "ok", 1);
	return 0;
}

static int zd_exec_p2p_alloc(struct zd_exec *e)
{
	const struct zd_st_handle *h = &e->st->u.handle;
	struct zd_device *dev = zd_exec_dev(e, h->device);
	int ret;

	if (!dev)
		return zd_exec_err(e, -EINVAL, "%s is not a device", h->device);
	ret = zd_p2pmem_alloc(dev, h->size, &e->pfn);
	if (ret)
		return zd_exec_err(e, ret, "pci_alloc_p2pmem of %llu bytes from %s failed",
				   (unsigned long long)h->size, h->device);
	zd_exec_result(e, "pfn", (int64_t)e->pfn);
	zd_exec_result(e, "pages", (int64_t)((h->size + ZD_PAGE_SIZE - 1) >> ZD_PAGE_SHIFT));
	return 0;
}

static int zd_exec_world(struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	struct zd_world *w = e->run->w;
	enum zd_fail_site site;
	enum zd_regime r;
	int ret;

	switch (st->kind) {
	case ZD_ST_REGIME:
		if (e->run->opts->has_regime)
			return 0; /* --regime overrides the file */
		zd_regime_parse(zd_scr_regime_name(st->u.regime.regime), &r);
		ret = zd_world_set_regime(w, r);
		return ret ? zd_exec_err(e, ret, "the regime is fixed once a device exists") : 0;
	case ZD_ST_RAM:
		ret = zd_world_set_ram(w, st->u.ram.size);
		return ret ? zd_exec_err(e, ret, "cannot resize RAM (in use or out of range)") : 0;
	case ZD_ST_SEED:
		zd_world_set_seed(w, st->u.seed.seed);
		return 0;
	case ZD_ST_FAIL:
		if (zd_fail_site_parse(st->u.fail.site_name, &site))
			return zd_exec_err(e, -EINVAL, "unknown site %s", st->u.fail.site_name);
		zd_world_fail(w, site, st->u.fail.count);
		return 0;
	case ZD_ST_BUG:
		ret = zd_world_enable_bug(w, st->u.bug.id);
		switch (ret) {
		case 0:
			return 0;
		case -ENOENT:
			return zd_exec_err(e, -EINVAL, "unknown bug '%s' (see zonedev bugs)",
					   st->u.bug.id);
		case -EINVAL:
			return zd_exec_err(e, -EINVAL, "bug '%s' cannot exist in the %s regime",
					   st->u.bug.id, zd_regime_name(zd_world_regime(w)));
		case -EOPNOTSUPP:
			return zd_exec_err(e, -EOPNOTSUPP, "bug '%s' is not modelled yet",
					   st->u.bug.id);
		default:
			return zd_exec_err(e, ret, "bug '%s' must come before the first device",
					   st->u.bug.id);
		}
	default:
		return 0;
	}
}

void zd_exec_action(struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	struct zd_device *dev;

	if (zd_stmt_is_vm(st)) {
		zd_exec_vm_action(e);
		return;
	}
	if (zd_stmt_is_dev(st)) {
		zd_exec_dev_action(e);
		return;
	}
	if (zd_stmt_is_gup(st)) {
		zd_exec_gup_action(e);
		return;
	}
	if (zd_stmt_is_failure(st)) {
		zd_exec_failure_action(e);
		return;
	}
	if (zd_stmt_is_dax(st)) {
		zd_exec_dax_action(e);
		return;
	}
	switch (st->kind) {
	case ZD_ST_REGIME:
	case ZD_ST_RAM:
	case ZD_ST_SEED:
	case ZD_ST_FAIL:
	case ZD_ST_BUG:
		e->ret = zd_exec_world(e);
		return;
	case ZD_ST_DEVICE:
		e->ret = zd_exec_device(e);
		return;
	case ZD_ST_REMOVE:
		dev = zd_exec_dev(e, st->u.dev.device);
		e->ret = dev ? zd_device_remove(dev) : -EINVAL;
		if (e->ret)
			zd_exec_err(e, e->ret, "remove %s: memunmap_pages failed",
				    st->u.dev.device);
		return;
	case ZD_ST_ALLOC_PAGE:
		e->ret = zd_exec_alloc_page(e);
		return;
	case ZD_ST_FREE_PAGE:
	case ZD_ST_P2P_FREE:
		e->ret = zd_exec_release(e, false);
		return;
	case ZD_ST_P2P_ALLOC:
		e->ret = zd_exec_p2p_alloc(e);
		return;
	case ZD_ST_PUT:
		e->ret = zd_exec_release(e, true);
		return;
	case ZD_ST_TRYGET:
	case ZD_ST_GET_PAGEMAP:
		e->ret = zd_exec_page_ref(e);
		return;
	default:
		e->ret =
		    zd_exec_err(e, -ENOSYS, "'%s' is not implemented in this version of zonedev",
				zd_stmt_kind_name(st->kind));
		return;
	}
}

void zd_exec_apply(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	struct zd_rdevice *d;
	struct zd_rhandle *h;
	int i;

	if (zd_stmt_is_vm(st)) {
		zd_exec_vm_apply(run, e);
		return;
	}
	if (zd_stmt_is_gup(st)) {
		zd_exec_gup_apply(run, e);
		return;
	}
	switch (st->kind) {
	case ZD_ST_DEVICE:
		if (!e->new_dev)
			return;
		d = realloc(run->devices, (run->nr_devices + 1) * sizeof(*d));
		if (!d)
			return;
		run->devices = d;
		run->devices[run->nr_devices].name = strdup(st->u.device.name);
		run->devices[run->nr_devices++].dev = e->new_dev;
		return;
	case ZD_ST_ALLOC_PAGE:
	case ZD_ST_TRYGET:
	case ZD_ST_GET_PAGEMAP:
	case ZD_ST_P2P_ALLOC:
		h = &run->handles[e->slot];
		h->ended = false; /* a failed `~` statement leaves a handle holding nothing */
		h->kind = st->kind == ZD_ST_ALLOC_PAGE	? ZD_H_PAGES
			  : st->kind == ZD_ST_TRYGET	? ZD_H_REF
			  : st->kind == ZD_ST_P2P_ALLOC ? ZD_H_P2PMEM
							: ZD_H_PGMAP;
		h->dev = st->kind == ZD_ST_ALLOC_PAGE || st->kind == ZD_ST_P2P_ALLOC
			     ? zd_exec_dev(e, st->u.handle.device)
			     : NULL;
		if (e->ret) {
			h->kind = ZD_H_REF; /* holds nothing: put is a no-op */
			return;
		}
		h->pfn = e->pfn;
		h->nr = e->nr;
		for (i = 0; i < e->nr; i++)
			h->folios[i] = e->folios[i];
		h->pgmap = e->pgmap;
		/* the pages `pinned H` reaches (a DEV alloc: its SIZE, in pages) */
		zd_run_handle_list_pages(
		    h, (unsigned long)((st->u.handle.size + ZD_PAGE_SIZE - 1) >> ZD_PAGE_SHIFT));
		return;
	case ZD_ST_FREE_PAGE:
	case ZD_ST_P2P_FREE:
	case ZD_ST_PUT:
		h = zd_run_handle(run, st->u.handle.handle);
		if (h) {
			h->ended = true;
			zd_run_handle_drop_pages(h);
		}
		return;
	default:
		return;
	}
}
