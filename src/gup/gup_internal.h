/* SPDX-License-Identifier: MIT */
/* zonedev: GUP internals shared by gup.c, its audit and tests. */
#ifndef ZONEDEV_SRC_GUP_INTERNAL_H
#define ZONEDEV_SRC_GUP_INTERNAL_H

#include "zonedev/gup.h"

/* References holder h holds over all folios (the ledger; 0 when untracked). */
long zd_gup_holder_refs(struct zd_world *w, struct zd_holder h);
/*
 * G5 after a long-term pin returned the error ret: h must hold what it held
 * before the call (`before`); otherwise report gup-error-pinned.
 */
void zd_gup_check_error_unpinned(struct zd_world *w, struct zd_holder h, long before, long ret);

#endif
