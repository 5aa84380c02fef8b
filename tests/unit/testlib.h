/* SPDX-License-Identifier: MIT */
/* zonedev tests: shared helpers (cmocka includes, seeded randomness). */
#ifndef ZD_TESTLIB_H
#define ZD_TESTLIB_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* The test's random seed: $ZD_SEED or 1; printed once so a failure can be replayed. */
unsigned long zd_test_seed(void);
/* xorshift64 random numbers from a caller-held state. */
uint64_t zd_test_rand(uint64_t *state);

/*
 * A simulated program for the explorer's search tests, without threads: @nt
 * model threads; next() gives thread t's next operation (false once t is
 * done), step() runs it, key() (optional) is the state told to the search
 * before each choice. zd_test_xrun() runs one execution under search @s as
 * the explore backend does: a choice point wherever two or more threads can
 * run (the running one is the default), the note hook everywhere else.
 */
struct zd_xsearch;
struct zd_test_xsim {
	int nt;
	bool (*next)(void *arg, int t, int *kind, const void **addr);
	void (*step)(void *arg, int t);
	uint64_t (*key)(void *arg);
	void *arg;
};
void zd_test_xrun(struct zd_xsearch *s, const struct zd_test_xsim *sim);
#endif
