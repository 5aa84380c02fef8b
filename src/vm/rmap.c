/* SPDX-License-Identifier: MIT */
/*
 * zonedev: rmap: what mapping a folio costs (reference and mapcount, or
 * nothing for devmap entries), anonymous folios and anon_vmas, and the walk
 * that finds every mapping of a folio.
 */
#include "vm/vm.h"


bool zd_mapping_takes_ref(const struct zd_folio *folio)
{
	if (!zd_folio_is_zone_device(folio))
		return true;
	return zd_folio_policy(folio)->mapping_takes_ref;
}

void zd_rmap_add(struct zd_mm *mm, struct zd_folio *folio, unsigned int level, bool take_ref)
{
	if (take_ref)
		zd_folio_get(folio, ZD_HOLDER(ZD_HOLD_MAPPING, mm));
	if (zd_folio_test_large(folio)) {
		zd_atomic_add_return_relaxed(&folio->_large_mapcount, 1);
		if (level > ZD_LEVEL_PTE)
			zd_atomic_add_return_relaxed(&folio->_entire_mapcount, 1);
		else
			zd_atomic_add_return_relaxed(&folio->_nr_pages_mapped, 1);
	} else {
		zd_atomic_add_return_relaxed(&folio->_mapcount, 1);
	}
}

/* Drop the mapcount only: the reference goes through the zap's batched put. */
void zd_rmap_remove(struct zd_mm *mm, struct zd_folio *folio, unsigned int level)
{
	(void)mm;
	if (zd_folio_test_large(folio)) {
		zd_atomic_add_return_relaxed(&folio->_large_mapcount, -1);
		if (level > ZD_LEVEL_PTE)
			zd_atomic_add_return_relaxed(&folio->_entire_mapcount, -1);
		else
			zd_atomic_add_return_relaxed(&folio->_nr_pages_mapped, -1);
	} else {
		zd_atomic_add_return_relaxed(&folio->_mapcount, -1);
	}
}

void zd_folio_add_new_anon(struct zd_vma *vma, struct zd_folio *folio, uint64_t addr)
{
	unsigned long nr = zd_folio_nr_pages(folio), i;
	uint64_t base = addr & ~((nr << ZD_PAGE_SHIFT) - 1);

	ZD_WRITE_ONCE(folio->mapping, (void *)((uintptr_t)vma->anon_vma | ZD_PAGE_MAPPING_ANON));
	folio->index = zd_vma_index(vma, base);
	for (i = 0; i < nr; i++)
		zd_page_set_flag(&(&folio->page)[i], ZD_PG_anon_exclusive);
}

bool zd_folio_maybe_dma_pinned(const struct zd_folio *folio)
{
	if (zd_folio_test_large(folio))
		return zd_atomic_read_relaxed(&folio->_pincount) > 0;
	return zd_folio_ref_count(folio) >= ZD_GUP_PIN_COUNTING_BIAS;
}

struct zd_anon_vma *zd_anon_vma_alloc(struct zd_world *w)
{
	struct zd_anon_vma *av = zd_kzalloc(w, sizeof(*av));

	if (av)
		zd_mutex_init(&av->lock);
	return av;
}

void zd_anon_vma_link(struct zd_anon_vma *av, struct zd_vma *vma)
{
	zd_mutex_lock(&av->lock);
	vma->anon_vma = av;
	vma->anon_next = av->vmas;
	av->vmas = vma;
	av->refs++;
	zd_mutex_unlock(&av->lock);
}

void zd_anon_vma_unlink(struct zd_vma *vma)
{
	struct zd_anon_vma *av = vma->anon_vma;
	struct zd_vma **pp;
	bool last;

	if (!av)
		return;
	zd_mutex_lock(&av->lock);
	for (pp = &av->vmas; *pp; pp = &(*pp)->anon_next) {
		if (*pp == vma) {
			*pp = vma->anon_next;
			break;
		}
	}
	last = --av->refs == 0;
	zd_mutex_unlock(&av->lock);
	vma->anon_vma = NULL;
	/*
	 * A folio whose last mapping went may still name this anon_vma (a pinned
	 * page, a page on its way to the driver): the anon_vma is kept until the
	 * world ends, as the kernel keeps it while folios reference it.
	 */
	(void)last;
}

/* The VMAs of one list: an anon_vma's (anon_next links) or an i_mmap (file_next links). */
static void zd_rmap_walk_list(struct zd_vma *vma, bool anon, struct zd_folio *folio,
			      bool (*fn)(struct zd_vma *vma, uint64_t addr, void *arg), void *arg)
{
	unsigned long nr = zd_folio_nr_pages(folio);

	for (; vma; vma = anon ? vma->anon_next : vma->file_next) {
		uint64_t addr;

		if (folio->index + nr <= vma->pgoff)
			continue;
		/* modular: below vma->start when the folio begins in an earlier VMA */
		addr = vma->start + ((folio->index - vma->pgoff) << ZD_PAGE_SHIFT);
		if (addr + (nr << ZD_PAGE_SHIFT) > vma->start && addr < vma->end &&
		    !fn(vma, addr, arg))
			return;
	}
}

void zd_rmap_walk(struct zd_world *w, struct zd_folio *folio,
		  bool (*fn)(struct zd_vma *vma, uint64_t addr, void *arg), void *arg)
{
	uintptr_t mapping = (uintptr_t)ZD_READ_ONCE(folio->mapping);

	(void)w;
	if (!mapping)
		return;
	if (mapping & ZD_PAGE_MAPPING_ANON) {
		struct zd_anon_vma *av = (struct zd_anon_vma *)(mapping & ~ZD_PAGE_MAPPING_ANON);

		zd_mutex_lock(&av->lock);
		zd_rmap_walk_list(av->vmas, true, folio, fn, arg);
		zd_mutex_unlock(&av->lock);
	} else {
		struct zd_address_space *as = (struct zd_address_space *)mapping;

		zd_mutex_lock(&as->lock);
		zd_rmap_walk_list(as->i_mmap, false, folio, fn, arg);
		zd_mutex_unlock(&as->lock);
	}
}
