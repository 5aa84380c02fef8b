/* SPDX-License-Identifier: MIT */
/*
 * zonedev: Linux's ZONE_DEVICE memory model in userspace. The umbrella
 * header: include this one.
 */
#ifndef ZONEDEV_ZONEDEV_H
#define ZONEDEV_ZONEDEV_H

#include "zonedev/types.h"
#include "zonedev/sync_types.h"
#include "zonedev/world.h"
#include "zonedev/page.h"
#include "zonedev/memremap.h"
#include "zonedev/check.h"
#include "zonedev/drivers.h"

#define ZONEDEV_VERSION "0.1.0"

#endif
