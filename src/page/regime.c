/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the regime policy table: reference-counting rules of each memory
 * type in the unified (v6.15+), split (v6.1-v6.14) and legacy (<= v5.17) kernels.
 */
#include "page/regime.h"

/* Unified: every type idle at 0 except GENERIC at 1; mappings take references. */
#define U_DEVICE_MEMORY                                                                            \
	{                                                                                          \
		.memremap_refcount = 0, .free_refcount = 0, .at_zero = ZD_ZERO_FREE,               \
		.zero_violation = -1, .free_callback = true, .free_puts_pgmap = true,              \
		.free_clears_mapping = true, .alloc_mode = ZD_ALLOC_INIT,                          \
		.alloc_pgmap_refs = true, .large_folios = true, .mapping_takes_ref = true          \
	}

/* Split: PRIVATE/COHERENT as unified (from v6.1) but order 0 only. */
#define S_DEVICE_MEMORY                                                                            \
	{                                                                                          \
		.memremap_refcount = 0, .free_refcount = 0, .at_zero = ZD_ZERO_FREE,               \
		.zero_violation = -1, .free_callback = true, .free_puts_pgmap = true,              \
		.free_clears_mapping = true, .alloc_mode = ZD_ALLOC_INIT,                          \
		.alloc_pgmap_refs = true, .large_folios = false, .mapping_takes_ref = true         \
	}

/* Legacy: devmap-managed device memory: free on 2 -> 1, pgmap ref dropped on 1 -> 0. */
#define L_DEVICE_MEMORY                                                                            \
	{                                                                                          \
		.memremap_refcount = 1, .memremap_page_refs = true, .free_refcount = 1,            \
		.at_one = ZD_ONE_FREE, .at_zero = ZD_ZERO_PUT_PGMAP, .zero_violation = -1,         \
		.free_callback = true, .free_clears_mapping = true, .alloc_mode = ZD_ALLOC_GET,    \
		.large_folios = false, .mapping_takes_ref = true                                   \
	}

static const struct zd_regime_policy zd_policies[ZD_NR_REGIMES] = {
	[ZD_REGIME_UNIFIED] = {
		.regime = ZD_REGIME_UNIFIED,
		.name = "unified",
		.kernels = "v6.15 and later",
		.type = {
			[ZD_MEMORY_DEVICE_PRIVATE] = U_DEVICE_MEMORY,
			[ZD_MEMORY_DEVICE_COHERENT] = U_DEVICE_MEMORY,
			[ZD_MEMORY_DEVICE_FS_DAX] = {
				.memremap_refcount = 0, .memremap_bulk_refs = true,
				.free_refcount = 0, .at_zero = ZD_ZERO_FREE, .zero_violation = -1,
				.free_wakes = true, .large_folios = true,
				.mapping_takes_ref = true },
			[ZD_MEMORY_DEVICE_GENERIC] = {
				.memremap_refcount = 1, .memremap_bulk_refs = true,
				.free_refcount = 1, .at_zero = ZD_ZERO_FREE_RESET,
				.zero_violation = ZD_INV_GENERIC_REFCOUNT_ZERO,
				.large_folios = true, .mapping_takes_ref = true },
			[ZD_MEMORY_DEVICE_PCI_P2PDMA] = {
				.memremap_refcount = 0, .memremap_bulk_refs = true,
				.free_refcount = 0, .at_zero = ZD_ZERO_FREE, .zero_violation = -1,
				.free_callback = true, .free_clears_mapping = true,
				.mapping_takes_ref = true },
		},
		.memunmap_puts_base_refs = false,
		.gup_holds_pgmap = false,
		.p2p_user_pages = true,
		/* zone_device_page_init uses percpu_ref_tryget_many (§4.4 R3 item 5). */
		.alloc_tryget_live = false,
	},
	[ZD_REGIME_SPLIT] = {
		.regime = ZD_REGIME_SPLIT,
		.name = "split",
		.kernels = "v6.1 .. v6.14",
		.type = {
			[ZD_MEMORY_DEVICE_PRIVATE] = S_DEVICE_MEMORY,
			[ZD_MEMORY_DEVICE_COHERENT] = S_DEVICE_MEMORY,
			[ZD_MEMORY_DEVICE_FS_DAX] = {
				.memremap_refcount = 1, .memremap_bulk_refs = true,
				.free_refcount = 1, .at_one = ZD_ONE_FREE,
				.at_zero = ZD_ZERO_WARN,
				.zero_violation = ZD_INV_FREE_TRANSITION,
				.free_wakes = true, .mapping_takes_ref = false },
			[ZD_MEMORY_DEVICE_GENERIC] = {
				.memremap_refcount = 1, .memremap_bulk_refs = true,
				.free_refcount = 1, .at_zero = ZD_ZERO_WARN,
				.zero_violation = ZD_INV_GENERIC_REFCOUNT_ZERO,
				.large_folios = true, .mapping_takes_ref = false },
			[ZD_MEMORY_DEVICE_PCI_P2PDMA] = {
				.memremap_refcount = 1, .memremap_bulk_refs = true,
				.free_refcount = 1, .at_zero = ZD_ZERO_FREE_RESET,
				.zero_violation = -1, .free_callback = true,
				.free_clears_mapping = true, .mapping_takes_ref = true },
		},
		.memunmap_puts_base_refs = false,
		.gup_holds_pgmap = true,
		.p2p_user_pages = true,
		.alloc_tryget_live = true,
	},
	[ZD_REGIME_LEGACY] = {
		.regime = ZD_REGIME_LEGACY,
		.name = "legacy",
		.kernels = "v4.5 .. v5.17",
		.type = {
			[ZD_MEMORY_DEVICE_PRIVATE] = L_DEVICE_MEMORY,
			/* COHERENT arrived in v6.0; legacy treats it as PRIVATE (docs/regimes.md). */
			[ZD_MEMORY_DEVICE_COHERENT] = L_DEVICE_MEMORY,
			[ZD_MEMORY_DEVICE_FS_DAX] = {
				.memremap_refcount = 1, .memremap_page_refs = true,
				.free_refcount = 1, .at_one = ZD_ONE_FREE,
				.at_zero = ZD_ZERO_PUT_PGMAP, .zero_violation = -1,
				/* pmem's page_free only woke the truncate waiters */
				.free_callback = true, .free_wakes = true,
				.mapping_takes_ref = false },
			[ZD_MEMORY_DEVICE_GENERIC] = {
				.memremap_refcount = 1, .memremap_page_refs = true,
				.free_refcount = 1, .at_zero = ZD_ZERO_PUT_PGMAP,
				.zero_violation = -1, .large_folios = true,
				.mapping_takes_ref = false },
			[ZD_MEMORY_DEVICE_PCI_P2PDMA] = {
				.memremap_refcount = 1, .memremap_page_refs = true,
				.free_refcount = 1, .at_zero = ZD_ZERO_PUT_PGMAP,
				.zero_violation = -1, .mapping_takes_ref = true },
		},
		.memunmap_puts_base_refs = true,
		.gup_holds_pgmap = true,
		.p2p_user_pages = false,
		.alloc_tryget_live = true,
	},
};

const struct zd_regime_policy *zd_regime_policy(enum zd_regime regime)
{
	if ((unsigned int)regime >= ZD_NR_REGIMES)
		return &zd_policies[ZD_REGIME_UNIFIED];
	return &zd_policies[regime];
}
