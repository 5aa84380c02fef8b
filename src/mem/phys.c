/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the physical address space above System RAM: handing out free
 * regions to device drivers (request_free_mem_region).
 */
#include <string.h>

#include "mem/mem.h"

int zd_request_free_mem_region(struct zd_world *w, uint64_t size, uint64_t align,
			       struct zd_range *range)
{
	struct zd_mem *mem = w->mem;
	uint64_t start = ZD_DEVICE_PHYS_BASE, limit = 1ull << 52;
	struct zd_range *regions;
	size_t i, pos;

	if (!size || (size & (ZD_PAGE_SIZE - 1)) || align < ZD_PAGE_SIZE || (align & (align - 1)))
		return -EINVAL;
	/* Device ranges are kept at least 1 GiB aligned so any geometry fits. */
	if (align < (1ull << 30))
		align = 1ull << 30;
	zd_mutex_lock(&mem->region_lock);
	/* First fit above the base, regions kept sorted. */
	for (pos = 0; pos <= mem->nr_regions; pos++) {
		uint64_t s = (start + align - 1) & ~(align - 1);
		uint64_t gap_end = pos < mem->nr_regions ? mem->regions[pos].start : limit;

		if (s + size <= gap_end && s + size > s) {
			start = s;
			break;
		}
		if (pos < mem->nr_regions)
			start = mem->regions[pos].end + 1;
	}
	if (pos > mem->nr_regions) {
		zd_mutex_unlock(&mem->region_lock);
		return -ENOSPC;
	}
	regions = zd_kzalloc(w, (mem->nr_regions + 1) * sizeof(*regions));
	if (!regions) {
		zd_mutex_unlock(&mem->region_lock);
		return -ENOMEM;
	}
	for (i = 0; i < pos; i++)
		regions[i] = mem->regions[i];
	regions[pos] = (struct zd_range){start, start + size - 1};
	for (i = pos; i < mem->nr_regions; i++)
		regions[i + 1] = mem->regions[i];
	zd_kfree(w, mem->regions, mem->nr_regions * sizeof(*regions));
	mem->regions = regions;
	mem->nr_regions++;
	zd_mutex_unlock(&mem->region_lock);
	*range = regions[pos];
	return 0;
}

void zd_release_mem_region(struct zd_world *w, const struct zd_range *range)
{
	struct zd_mem *mem = w->mem;
	size_t i;

	zd_mutex_lock(&mem->region_lock);
	for (i = 0; i < mem->nr_regions; i++) {
		if (mem->regions[i].start == range->start) {
			/* Shrinking in place keeps the array valid; no allocation needed. */
			memmove(&mem->regions[i], &mem->regions[i + 1],
				(mem->nr_regions - i - 1) * sizeof(*mem->regions));
			mem->nr_regions--;
			zd_atomic_long_add_return_relaxed(&w->bytes_in_use,
							  -(long)sizeof(*mem->regions));
			break;
		}
	}
	if (!mem->nr_regions && mem->regions) {
		zd_kfree(NULL, mem->regions, 0);
		mem->regions = NULL;
	}
	zd_mutex_unlock(&mem->region_lock);
}
