/* SPDX-License-Identifier: MIT */
/* zonedev internal: memory failure (failure.c) and its part of the audit (audit.c). */
#ifndef ZONEDEV_SRC_FAILURE_H
#define ZONEDEV_SRC_FAILURE_H

#include "zonedev/failure.h"
#include "zonedev/check.h"
#include "pgmap/pgmap.h"

/*
 * Invariant 12 (memory-failure-args), checked as the callback is entered:
 * the pfn is one of the pgmap's pages (not the altmap prefix) and the core
 * holds a pgmap reference. Reports a violation otherwise.
 */
void zd_mf_check_callback_args(struct zd_dev_pagemap *pgmap, unsigned long pfn);

/* The audit hook: poisoned-page-handed-out. */
struct zd_audit;
void zd_failure_audit(struct zd_world *w, struct zd_audit *a, void *arg);

#endif
