/* SPDX-License-Identifier: MIT */
/* zonedev tests: shared helpers (cmocka includes, seeded randomness). */
#ifndef ZD_TESTLIB_H
#define ZD_TESTLIB_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* The test's random seed: $ZD_SEED or 1; printed once so a failure can be replayed. */
unsigned long zd_test_seed(void);
/* xorshift64 random numbers from a caller-held state. */
uint64_t zd_test_rand(uint64_t *state);
#endif
