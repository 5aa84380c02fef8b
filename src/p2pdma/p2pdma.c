/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the P2PDMA core's page references: user-mapped pages (one pgmap
 * reference each) and kernel allocations (one pgmap reference each).
 */
#include "pgmap/pgmap.h"

int zd_p2pdma_page_get_new(struct zd_folio *folio, struct zd_holder h)
{
	struct zd_dev_pagemap *pgmap = folio ? folio->pgmap : NULL;
	const struct zd_type_policy *tp;
	struct zd_world *w;

	if (!pgmap || pgmap->type != ZD_MEMORY_DEVICE_PCI_P2PDMA)
		return -EINVAL;
	w = pgmap->world;
	if (!w->policy->p2p_user_pages)
		return -EOPNOTSUPP;
	tp = zd_policy_type(w->policy, pgmap->type);
	if (zd_folio_ref_count(folio) != tp->free_refcount) {
		zd_report(w, ZD_INV_BAD_FOLIO_INIT, folio->pfn,
			  "P2PDMA page handed to a mapping with refcount %d (free is %d)",
			  zd_folio_ref_count(folio), tp->free_refcount);
		return -EBUSY;
	}
	if (!zd_pgmap_ref_tryget_live(pgmap, ZD_PGREF_P2P_USER))
		return -ENXIO;
	zd_folio_clear_flag(folio, ZD_PG_devfree);
	if (tp->free_refcount == 0)
		zd_folio_set_refcount(folio, 1, h);
	else
		zd_folio_ref_transfer(folio, ZD_HOLDER(ZD_HOLD_BASE, 0), h);
	return 0;
}

void zd_p2pdma_page_freed(struct zd_folio *folio)
{
	zd_pgmap_ref_put(folio->pgmap, ZD_PGREF_P2P_USER, 1);
}

int zd_p2pdma_kernel_ref_get(struct zd_dev_pagemap *pgmap)
{
	if (!pgmap || pgmap->type != ZD_MEMORY_DEVICE_PCI_P2PDMA)
		return -EINVAL;
	return zd_pgmap_ref_tryget_live(pgmap, ZD_PGREF_P2P_KERNEL) ? 0 : -ENXIO;
}

void zd_p2pdma_kernel_ref_put(struct zd_dev_pagemap *pgmap)
{
	zd_pgmap_ref_put(pgmap, ZD_PGREF_P2P_KERNEL, 1);
}

int zd_p2pdma_op_ref_get(struct zd_dev_pagemap *pgmap)
{
	if (!pgmap || pgmap->type != ZD_MEMORY_DEVICE_PCI_P2PDMA)
		return -EINVAL;
	return zd_pgmap_ref_tryget_live(pgmap, ZD_PGREF_TEMP) ? 0 : -ENXIO;
}

void zd_p2pdma_op_ref_put(struct zd_dev_pagemap *pgmap)
{
	zd_pgmap_ref_put(pgmap, ZD_PGREF_TEMP, 1);
}
