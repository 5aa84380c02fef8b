/* SPDX-License-Identifier: MIT */
/* zonedev tests: shared helpers (seeded randomness). */
#include <stdio.h>
#include <stdlib.h>
#include "testlib.h"

unsigned long zd_test_seed(void)
{
	static unsigned long seed;
	if (!seed) {
		const char *s = getenv("ZD_SEED");
		seed = s ? strtoul(s, NULL, 0) : 1;
		if (!seed)
			seed = 1;
		fprintf(stderr, "test seed: ZD_SEED=%lu\n", seed);
	}
	return seed;
}

uint64_t zd_test_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}
