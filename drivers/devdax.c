/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: devdax, a device-dax character device: a GENERIC pgmap
 * whose folios have the device alignment's order (vmemmap_shift), each
 * resting on a base reference that never drops.
 */
#include "device_internal.h"

int zd_dax_device_alloc(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			struct zd_folio **folios, int *nr);
int zd_dax_device_free(struct zd_device *dev, struct zd_folio **folios, int nr, struct zd_holder h);
unsigned long zd_dax_device_nr_free(struct zd_device *dev);

static int zd_devdax_probe(struct zd_device *dev)
{
	/* No ops: device-dax has no free callback. */
	return zd_device_add_pgmap(dev, dev->cfg.size, dev->cfg.align_order, NULL, NULL, NULL);
}

const struct zd_device_ops zd_devdax_ops = {
    .probe = zd_devdax_probe,
    .alloc = zd_dax_device_alloc,
    .free = zd_dax_device_free,
    .nr_free = zd_dax_device_nr_free,
};
