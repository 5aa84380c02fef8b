/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: the shared device object and the per-type driver ops.
 */
#ifndef ZONEDEV_DRIVERS_INTERNAL_H
#define ZONEDEV_DRIVERS_INTERNAL_H

#include "zonedev/drivers.h"
#include "zonedev/world.h"
#include "zonedev/check.h"
#include "zonedev/vm.h"
#include "sync/sync.h"

struct zd_device;

struct zd_device_ops {
	int (*probe)(struct zd_device *dev);
	int (*alloc)(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
		     struct zd_folio **folios, int *nr);
	int (*free)(struct zd_device *dev, struct zd_folio **folios, int nr, struct zd_holder h);
	unsigned long (*nr_free)(struct zd_device *dev);
	unsigned long (*nr_busy)(struct zd_device *dev); /* NULL: pages not idle */
	void (*audit)(struct zd_world *w, struct zd_audit *a, void *arg);
	/* the driver's own state for the state digest (zd_world_state_hash); NULL: none */
	void (*state_hash)(struct zd_device *dev, struct zd_state_hash *h);
	void (*destroy)(struct zd_device *dev);
	/* file_operations->mmap; NULL: the device cannot be mapped */
	int (*mmap)(struct zd_device *dev, struct zd_mm *mm, uint64_t size, unsigned int prot,
		    uint64_t *addr);
	/* unbind: move what can move out of device memory before memunmap; pages moved or -errno */
	long (*evict)(struct zd_device *dev);
};

struct zd_device {
	struct zd_world *world;
	char name[64];
	struct zd_device_config cfg;
	const struct zd_device_ops *ops;
	struct zd_dev_pagemap **pgmaps;
	int nr_pgmaps;
	bool removed;
	bool audit_registered;
	zd_spinlock_t lock;
	zd_atomic_long_t allocated;
	zd_atomic_long_t freed;
	void *priv; /* the driver's own state */
};

/*
 * Register one pgmap of `size` bytes for the device (request a region,
 * fill the pgmap, memremap). Appends to dev->pgmaps.
 */
int zd_device_add_pgmap(struct zd_device *dev, uint64_t size, unsigned int shift,
			const struct zd_dev_pagemap_ops *ops, void *owner,
			struct zd_dev_pagemap **out);
struct zd_device *zd_pgmap_device(struct zd_dev_pagemap *pgmap);
/* The folio containing the device's page `index`, or NULL. */
struct zd_folio *zd_device_index_folio(struct zd_device *dev, unsigned long index);

extern const struct zd_device_ops zd_dmirror_ops;
extern const struct zd_device_ops zd_pmem_ops;
extern const struct zd_device_ops zd_devdax_ops;
extern const struct zd_device_ops zd_p2p_ops;

#endif
