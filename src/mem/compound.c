/* SPDX-License-Identifier: MIT */
/*
 * zonedev: compound folio layout: building a large folio out of contiguous
 * struct pages, and dissolving it again (the scrub every former tail needs).
 */
#include "mem/mem.h"

#define ZD_FOLIO_ORDER_MASK 0xfful

void zd_page_flags_set(struct zd_page *page, unsigned long mask)
{
	zd_atomic_ulong_fetch_or_acq_rel(&page->flags, mask);
}

void zd_page_flags_clear(struct zd_page *page, unsigned long mask)
{
	zd_atomic_ulong_fetch_andnot_acq_rel(&page->flags, mask);
}

void zd_prep_compound(struct zd_page *head, unsigned int order)
{
	struct zd_folio *folio = (struct zd_folio *)head;
	unsigned long nr = 1ul << order, i, f;

	if (!order)
		return;
	zd_page_flags_set(head, 1ul << ZD_PG_head);
	for (i = 1; i < nr; i++) {
		struct zd_page *tail = head + i;

		ZD_WRITE_ONCE(tail->compound_head, (uintptr_t)head | 1);
		ZD_WRITE_ONCE(tail->mapping, NULL);
		tail->index = 0;
	}
	/* The first tail carries the folio metadata; keep its zone/world bits. */
	f = zd_atomic_ulong_read_relaxed(&head[1].flags);
	zd_atomic_ulong_set_relaxed(&head[1].flags, (f & ~ZD_FOLIO_ORDER_MASK) | order);
	zd_atomic_set_relaxed(&folio->_large_mapcount, -1);
	zd_atomic_set_relaxed(&folio->_entire_mapcount, -1);
	zd_atomic_set_relaxed(&folio->_nr_pages_mapped, 0);
	zd_atomic_set_relaxed(&folio->_pincount, 0);
	folio->_nr_pages = (unsigned int)nr;
	folio->_private_1 = 0;
}

void zd_clear_compound(struct zd_page *head, unsigned int order)
{
	unsigned long nr = 1ul << order, i, f;
	struct zd_dev_pagemap *pgmap = NULL;
	bool device = ((zd_atomic_ulong_read_relaxed(&head->flags) & ZD_PAGE_ZONE_MASK) >>
		       ZD_PAGE_ZONE_SHIFT) == ZD_ZONE_DEVICE;

	if (device)
		pgmap = head->pgmap;
	zd_page_flags_clear(head, 1ul << ZD_PG_head);
	for (i = 1; i < nr; i++) {
		struct zd_page *tail = head + i;

		f = zd_atomic_ulong_read_relaxed(&tail->flags);
		if (i == 1)
			f &= ~ZD_FOLIO_ORDER_MASK;
		f &= ~(1ul << ZD_PG_head);
		zd_atomic_ulong_set_relaxed(&tail->flags, f);
		if (device)
			ZD_WRITE_ONCE(tail->pgmap, pgmap);
		else
			ZD_WRITE_ONCE(tail->compound_head, 0);
		tail->zone_device_data = NULL;
		ZD_WRITE_ONCE(tail->mapping, NULL);
		tail->index = 0;
		tail->private = 0;
		zd_atomic_set_relaxed(&tail->_mapcount, -1);
	}
}
