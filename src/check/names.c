/* SPDX-License-Identifier: MIT */
/*
 * zonedev check: printable names of the basic enums (memory types, regimes,
 * holder kinds) and of page flags, shared by traces, dumps and messages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "check/check.h"

/* clang-format off */
static const char *const zd_memory_type_names[ZD_NR_MEMORY_TYPES] = {
	[ZD_MEMORY_DEVICE_NONE] = "none",
	[ZD_MEMORY_DEVICE_PRIVATE] = "private",
	[ZD_MEMORY_DEVICE_COHERENT] = "coherent",
	[ZD_MEMORY_DEVICE_FS_DAX] = "fsdax",
	[ZD_MEMORY_DEVICE_GENERIC] = "generic",
	[ZD_MEMORY_DEVICE_PCI_P2PDMA] = "p2pdma",
};

static const char *const zd_regime_names[ZD_NR_REGIMES] = {
	[ZD_REGIME_UNIFIED] = "unified",
	[ZD_REGIME_SPLIT] = "split",
	[ZD_REGIME_LEGACY] = "legacy",
};

static const char *const zd_holder_kind_names[ZD_NR_HOLDER_KINDS] = {
	[ZD_HOLD_OTHER] = "other",
	[ZD_HOLD_BASE] = "base",
	[ZD_HOLD_DRIVER] = "driver",
	[ZD_HOLD_HANDLE] = "handle",
	[ZD_HOLD_MAPPING] = "mapping",
	[ZD_HOLD_PIN] = "pin",
	[ZD_HOLD_GUP] = "gup",
	[ZD_HOLD_FILE] = "file",
	[ZD_HOLD_MIGRATE] = "migrate",
	[ZD_HOLD_TEMP] = "temp",
	[ZD_HOLD_ALLOCATOR] = "allocator",
	[ZD_HOLD_PIN_LONGTERM] = "pin-longterm",
};

/* The kernel's pageflag names, in bit order (enum zd_pageflags). */
static const char *const zd_pageflag_names[ZD_NR_PAGEFLAGS] = {
	[ZD_PG_locked] = "locked",
	[ZD_PG_waiters] = "waiters",
	[ZD_PG_referenced] = "referenced",
	[ZD_PG_uptodate] = "uptodate",
	[ZD_PG_dirty] = "dirty",
	[ZD_PG_lru] = "lru",
	[ZD_PG_head] = "head",
	[ZD_PG_active] = "active",
	[ZD_PG_reserved] = "reserved",
	[ZD_PG_private] = "private",
	[ZD_PG_writeback] = "writeback",
	[ZD_PG_anon_exclusive] = "anon_exclusive",
	[ZD_PG_hwpoison] = "hwpoison",
	[ZD_PG_large_rmappable] = "large_rmappable",
	[ZD_PG_buddy] = "buddy",
	[ZD_PG_zero] = "zero",
	[ZD_PG_shared_tail] = "shared_tail",
	[ZD_PG_devfree] = "devfree",
	[ZD_PG_base_ref] = "base_ref",
};
/* clang-format on */

const char *zd_memory_type_name(enum zd_memory_type type)
{
	if ((unsigned int)type >= ZD_NR_MEMORY_TYPES)
		return "unknown";
	return zd_memory_type_names[type];
}

const char *zd_regime_name(enum zd_regime regime)
{
	if ((unsigned int)regime >= ZD_NR_REGIMES)
		return "unknown";
	return zd_regime_names[regime];
}

const char *zd_holder_kind_name(enum zd_holder_kind kind)
{
	if ((unsigned int)kind >= ZD_NR_HOLDER_KINDS)
		return "unknown";
	return zd_holder_kind_names[kind];
}

/**
 * zd_regime_parse - a regime by name ("unified", "split", "legacy"; any case).
 * Return: 0 and *out set, or -EINVAL for NULL or an unknown name.
 */
int zd_regime_parse(const char *name, enum zd_regime *out)
{
	unsigned int i;

	if (!name)
		return -EINVAL;
	for (i = 0; i < ZD_NR_REGIMES; i++) {
		if (!strcasecmp(name, zd_regime_names[i])) {
			if (out)
				*out = (enum zd_regime)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Shared with trace.c and dump.c; see the report for the header it belongs in. */

/*
 * zd_check_format_page_flags - the names of the PG_ bits set in @flags
 * joined by '|', followed by "zone_device" when the zone bits say so (the
 * kernel's %pGp, without node and section). Writes "" when nothing is set.
 * Return: the length the full text needs (as snprintf).
 */
size_t zd_check_format_page_flags(unsigned long flags, char *buf, size_t n)
{
	size_t len = 0;
	unsigned int bit;
	int r;

	if (n)
		buf[0] = '\0';
	for (bit = 0; bit < ZD_NR_PAGEFLAGS; bit++) {
		if (!(flags & (1ul << bit)))
			continue;
		if (zd_pageflag_names[bit])
			r = snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "%s%s",
				     len ? "|" : "", zd_pageflag_names[bit]);
		else /* a flag added to the enum without a name here */
			r = snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "%sbit%u",
				     len ? "|" : "", bit);
		if (r > 0)
			len += (size_t)r;
	}
	if (((flags & ZD_PAGE_ZONE_MASK) >> ZD_PAGE_ZONE_SHIFT) == ZD_ZONE_DEVICE) {
		r = snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "%szone_device",
			     len ? "|" : "");
		if (r > 0)
			len += (size_t)r;
	}
	return len;
}
