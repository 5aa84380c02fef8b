/* SPDX-License-Identifier: MIT */
/* zonedev: hmm_range_fault internals shared with its checks and tests. */
#ifndef ZONEDEV_SRC_HMM_H
#define ZONEDEV_SRC_HMM_H

#include "zonedev/migrate.h"

struct zd_world;

/*
 * M4 on a filled range: report (hmm-remote-private) every valid pfn that is
 * a device-private page whose owner is not the range's. Returns how many.
 */
int zd_hmm_check_range(struct zd_world *w, const struct zd_hmm_range *range);

#endif
