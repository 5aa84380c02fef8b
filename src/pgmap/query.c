/* SPDX-License-Identifier: MIT */
/*
 * zonedev: what the regime says, for drivers: answers read from the policy
 * table, so drivers never test the regime themselves.
 */
#include "pgmap/pgmap.h"

int zd_pgmap_free_refcount(struct zd_world *w, enum zd_memory_type type)
{
	return zd_policy_type(w->policy, type)->free_refcount;
}

bool zd_pgmap_free_callback(struct zd_world *w, enum zd_memory_type type)
{
	return zd_policy_type(w->policy, type)->free_callback;
}

bool zd_pgmap_large_folios(struct zd_world *w, enum zd_memory_type type)
{
	return zd_policy_type(w->policy, type)->large_folios;
}

uint64_t zd_memmap_bytes(struct zd_world *w)
{
	return zd_mem_device_memmap_bytes(w);
}
