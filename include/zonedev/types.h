/* SPDX-License-Identifier: MIT */
/*
 * zonedev: basic types shared by every layer: page geometry, memory types,
 * regimes, and the holder tags that say who owns a reference.
 */
#ifndef ZONEDEV_TYPES_H
#define ZONEDEV_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZD_PAGE_SHIFT 12
#define ZD_PAGE_SIZE (1ul << ZD_PAGE_SHIFT)
#define ZD_PMD_ORDER 9	/* 2 MiB */
#define ZD_PUD_ORDER 18 /* 1 GiB */
#define ZD_MAX_FOLIO_ORDER ZD_PUD_ORDER
/* The kernel's GUP_PIN_COUNTING_BIAS: a pin on an order-0 folio adds this. */
#define ZD_GUP_PIN_COUNTING_BIAS 1024

/*
 * enum zd_memory_type - the kernel's enum memory_type. Value 0 is left unused
 * on purpose, so an uninitialised type is detectable.
 */
enum zd_memory_type {
	ZD_MEMORY_DEVICE_NONE = 0,
	ZD_MEMORY_DEVICE_PRIVATE = 1,
	ZD_MEMORY_DEVICE_COHERENT,
	ZD_MEMORY_DEVICE_FS_DAX,
	ZD_MEMORY_DEVICE_GENERIC,
	ZD_MEMORY_DEVICE_PCI_P2PDMA,
	ZD_NR_MEMORY_TYPES,
};

/*
 * enum zd_regime - which kernel's ZONE_DEVICE reference-counting rules apply.
 * UNIFIED: v6.15 and later. SPLIT: v6.1 .. v6.14 (v5.18 .. v6.0 differ only by
 * the bugs the museum re-introduces). LEGACY: v4.5 .. v5.17.
 */
enum zd_regime {
	ZD_REGIME_UNIFIED = 0,
	ZD_REGIME_SPLIT,
	ZD_REGIME_LEGACY,
	ZD_NR_REGIMES,
};

/*
 * enum zd_holder_kind - who holds a reference on a folio or a pgmap. Every
 * get and put names its holder, so the auditor can explain each count and
 * name the one that leaked it.
 */
enum zd_holder_kind {
	ZD_HOLD_OTHER = 0, /* untagged caller */
	ZD_HOLD_BASE,	   /* the permanent base reference of a 1-based page */
	ZD_HOLD_DRIVER,	   /* a driver's allocation reference */
	ZD_HOLD_HANDLE,	   /* a scenario handle / API caller's reference */
	ZD_HOLD_MAPPING,   /* a page-table entry */
	ZD_HOLD_PIN,	   /* a FOLL_PIN */
	ZD_HOLD_GUP,	   /* a FOLL_GET */
	ZD_HOLD_FILE,	   /* a page cache / file */
	ZD_HOLD_MIGRATE,   /* migration in progress */
	ZD_HOLD_TEMP,	   /* a transient reference inside one operation */
	ZD_HOLD_ALLOCATOR, /* the system RAM allocator (free pages) */
	ZD_HOLD_PIN_LONGTERM, /* a FOLL_PIN | FOLL_LONGTERM */
	ZD_NR_HOLDER_KINDS,
};

struct zd_holder {
	enum zd_holder_kind kind;
	uintptr_t id; /* who, within the kind: a handle, an mm, a device... */
};

#define ZD_HOLDER(k, who) ((struct zd_holder){.kind = (k), .id = (uintptr_t)(who)})
#define ZD_HOLDER_OTHER ZD_HOLDER(ZD_HOLD_OTHER, 0)

const char *zd_memory_type_name(enum zd_memory_type type);
const char *zd_regime_name(enum zd_regime regime);
const char *zd_holder_kind_name(enum zd_holder_kind kind);
/* Parse a regime name ("unified", "split", "legacy"); -EINVAL if unknown. */
int zd_regime_parse(const char *name, enum zd_regime *out);

#endif
