/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: the pgmap registry (the kernel's pfn -> pgmap xarray and
 * the list of every pgmap) and pgmap references booked by holder kind.
 */
#ifndef ZONEDEV_SRC_PGMAP_H
#define ZONEDEV_SRC_PGMAP_H

#include "page/page_internal.h"

struct zd_pgmap_registry {
	struct zd_rangetab pfnmap; /* pfn -> live or dying pgmap */
	zd_mutex_t lock;	   /* protects list */
	struct zd_dev_pagemap **list;
	size_t nr, cap;
};

int zd_pgmap_registry_init(struct zd_world *w);
/* Tear down every pgmap still mapped, without waiting. */
void zd_pgmap_registry_exit(struct zd_world *w);

/* Pgmap references, booked to a holder kind and traced. */
void zd_pgmap_ref_get(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind, unsigned long nr);
bool zd_pgmap_ref_tryget_live(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind);
bool zd_pgmap_ref_tryget_many(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind,
			      unsigned long nr);
void zd_pgmap_ref_put(struct zd_dev_pagemap *pgmap, enum zd_pgmap_ref_kind kind, unsigned long nr);
/* percpu_ref_kill: the initial reference goes. */
void zd_pgmap_ref_kill(struct zd_dev_pagemap *pgmap);

/* Folios of range i (device pfns, excluding the altmap prefix). */
unsigned long zd_pgmap_range_folios(const struct zd_dev_pagemap *pgmap, int i);
/* Call fn on every folio head of every mapped range. */
void zd_pgmap_for_each_folio(struct zd_dev_pagemap *pgmap,
			     void (*fn)(struct zd_folio *folio, void *arg), void *arg);

/* Unpublish and free the memmaps of ranges [0, nr); keep_busy keeps them as zombies. */
void zd_pgmap_unmap_ranges(struct zd_world *w, struct zd_dev_pagemap *pgmap, int nr,
			   bool keep_busy);
void zd_pgmap_registry_remove(struct zd_world *w, struct zd_dev_pagemap *pgmap);

#endif
