/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the page cache of the world's ordinary filesystem and of shared
 * anonymous memory: files are created on first use and read as zero; the
 * cache holds one reference on each cached page.
 */
#include <string.h>

#include "vm/vm.h"

static struct zd_address_space *zd_as_alloc(struct zd_world *w, const char *name, bool shmem)
{
	struct zd_address_space *as = zd_kzalloc(w, sizeof(*as));

	if (!as)
		return NULL;
	as->world = w;
	as->shmem = shmem;
	snprintf(as->name, sizeof(as->name), "%s", name);
	zd_mutex_init(&as->lock);
	return as;
}

struct zd_address_space *zd_file_lookup(struct zd_world *w, const char *name, bool create)
{
	struct zd_vm_world *vw = w->vm;
	struct zd_address_space *as;

	zd_mutex_lock(&vw->lock);
	for (as = vw->files; as; as = as->next)
		if (!strcmp(as->name, name))
			break;
	if (!as && create) {
		as = zd_as_alloc(w, name, false);
		if (as) {
			as->next = vw->files;
			vw->files = as;
		}
	}
	zd_mutex_unlock(&vw->lock);
	return as;
}

struct zd_address_space *zd_shmem_create(struct zd_world *w, const char *name)
{
	return zd_as_alloc(w, name, true);
}

static struct zd_page_cache_entry *zd_pc_find(struct zd_address_space *as, unsigned long index,
					      size_t *pos)
{
	size_t lo = 0, hi = as->nr_pages;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (as->pages[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return lo < as->nr_pages && as->pages[lo].index == index ? &as->pages[lo] : NULL;
}

int zd_page_cache_get(struct zd_address_space *as, unsigned long index, struct zd_folio **out)
{
	struct zd_page_cache_entry *e;
	struct zd_folio *folio;
	size_t pos;

	zd_mutex_lock(&as->lock);
	e = zd_pc_find(as, index, &pos);
	if (e) {
		*out = e->folio;
		zd_mutex_unlock(&as->lock);
		return 0;
	}
	if (as->nr_pages == as->cap_pages) {
		size_t cap = as->cap_pages ? 2 * as->cap_pages : 16;
		struct zd_page_cache_entry *p = zd_kzalloc(as->world, cap * sizeof(*p));

		if (!p) {
			zd_mutex_unlock(&as->lock);
			return -ENOMEM;
		}
		if (as->nr_pages)
			memcpy(p, as->pages, as->nr_pages * sizeof(*p));
		zd_kfree(as->world, as->pages, as->cap_pages * sizeof(*p));
		as->pages = p;
		as->cap_pages = cap;
	}
	folio = zd_folio_alloc(as->world, 0, ZD_HOLDER(ZD_HOLD_FILE, as));
	if (!folio) {
		zd_mutex_unlock(&as->lock);
		return -ENOMEM;
	}
	memset(zd_page_data(as->world, folio->pfn), 0, ZD_PAGE_SIZE);
	ZD_WRITE_ONCE(folio->mapping, (void *)as);
	folio->index = index;
	zd_folio_set_flag(folio, ZD_PG_uptodate);
	memmove(&as->pages[pos + 1], &as->pages[pos], (as->nr_pages - pos) * sizeof(*as->pages));
	as->pages[pos] = (struct zd_page_cache_entry){ index, folio };
	as->nr_pages++;
	*out = folio;
	zd_mutex_unlock(&as->lock);
	return 0;
}

void zd_page_cache_truncate(struct zd_address_space *as)
{
	size_t i, n;
	struct zd_page_cache_entry *pages;

	zd_mutex_lock(&as->lock);
	pages = as->pages;
	n = as->nr_pages;
	as->pages = NULL;
	as->nr_pages = 0;
	zd_mutex_unlock(&as->lock);
	for (i = 0; i < n; i++) {
		ZD_WRITE_ONCE(pages[i].folio->mapping, NULL);
		zd_folio_put(pages[i].folio, ZD_HOLDER(ZD_HOLD_FILE, as));
	}
	zd_kfree(as->world, pages, as->cap_pages * sizeof(*pages));
	as->cap_pages = 0;
}
