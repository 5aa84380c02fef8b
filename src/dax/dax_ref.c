/* SPDX-License-Identifier: MIT */
/*
 * zonedev: references the DAX paths take on FS DAX and device-dax pages
 * (the fault path's raw increment in the unified regime).
 */
#include "pgmap/pgmap.h"

int zd_dax_folio_get(struct zd_folio *folio, struct zd_holder h)
{
	enum zd_memory_type type;

	if (!folio)
		return -EINVAL;
	type = zd_folio_memory_type(folio);
	if (type != ZD_MEMORY_DEVICE_FS_DAX && type != ZD_MEMORY_DEVICE_GENERIC)
		return -EINVAL;
	if (zd_pgmap_state(folio->pgmap) != ZD_PGMAP_LIVE)
		return -ENXIO;
	if (zd_folio_ref_count(folio) == 0 && zd_folio_policy(folio)->free_refcount == 0)
		zd_folio_ref_inc_raw(folio, h); /* the legal FS DAX 0 -> 1 */
	else
		zd_folio_get(folio, h);
	return 0;
}
