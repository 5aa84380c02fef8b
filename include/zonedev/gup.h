/* SPDX-License-Identifier: MIT */
/*
 * zonedev: get_user_pages and pin_user_pages, the fast (lockless) and slow
 * paths, FOLL_LONGTERM's rules per memory type, and unpin.
 */
#ifndef ZONEDEV_GUP_H
#define ZONEDEV_GUP_H

#include "zonedev/types.h"
#include "zonedev/page.h"
#include "zonedev/vm.h"

#define ZD_FOLL_WRITE (1u << 0)      /* the pages will be written */
#define ZD_FOLL_GET (1u << 1)        /* plain references (get_user_pages) */
#define ZD_FOLL_PIN (1u << 2)        /* DMA pins (pin_user_pages) */
#define ZD_FOLL_LONGTERM (1u << 3)   /* the pin lasts: only longterm-pinnable memory */
#define ZD_FOLL_PCI_P2PDMA (1u << 4) /* P2PDMA pages may be returned */
#define ZD_FOLL_FAST_ONLY (1u << 5)  /* get_user_pages_fast_only: no fallback */

/*
 * The slow path: with mmap_lock, faulting as needed (a device-private page
 * is migrated to RAM first, a device-exclusive entry restored, a migration
 * waited for). LONGTERM: device-coherent pages are migrated to RAM and the
 * whole call retried; FS DAX mappings refuse (-EOPNOTSUPP).
 *
 * pfns[0..ret) receive the pages (one per 4 KiB page); the references are
 * held by h (a pin by a ZD_HOLD_PIN holder, a get by a ZD_HOLD_GUP one).
 * start need not be page aligned: the page holding it is the first (the
 * kernel masks with PAGE_MASK). GUP stops at the first page it cannot take:
 * after at least one page it returns the number taken (fewer than asked),
 * whatever the error was; at the first page it returns the error:
 * -EINVAL (flags), -EFAULT (no mapping / no permission / a fault failed),
 * -EREMOTEIO (P2PDMA without FOLL_PCI_P2PDMA), -EOPNOTSUPP (longterm FS DAX),
 * -ENOMEM, -EBUSY (a longterm migration failed: the first failure stops the
 * migrating, everything is unpinned). On an error nothing stays held.
 */
long zd_get_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned int gup_flags, unsigned long *pfns, struct zd_holder h);
long zd_pin_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned int gup_flags, unsigned long *pfns, struct zd_holder h);
/*
 * The fast path first (lockless: RCU, speculative references, rechecks),
 * then the slow path for the rest - or, with ZD_FOLL_FAST_ONLY, no fallback:
 * the pages obtained so far (possibly 0).
 */
long zd_get_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned int gup_flags, unsigned long *pfns, struct zd_holder h);
long zd_pin_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned int gup_flags, unsigned long *pfns, struct zd_holder h);

/* Unpin pages pinned by h (unpin_user_pages / unpin_user_pages_dirty_lock). */
void zd_unpin_user_pages(struct zd_world *w, const unsigned long *pfns, unsigned long n,
			 bool make_dirty, struct zd_holder h);
/* Release pages got by h through the batched path (release_pages / folios_put_refs). */
void zd_put_user_pages(struct zd_world *w, const unsigned long *pfns, unsigned long n,
		       struct zd_holder h);

/* folio_is_longterm_pinnable */
bool zd_folio_is_longterm_pinnable(const struct zd_folio *folio);
/* folio_maybe_dma_pinned */
bool zd_folio_maybe_pinned(const struct zd_folio *folio);

#endif
