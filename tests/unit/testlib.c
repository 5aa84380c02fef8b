/* SPDX-License-Identifier: MIT */
/* zonedev tests: shared helpers (seeded randomness). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "explore/explore.h"

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

void zd_test_xrun(struct zd_xsearch *s, const struct zd_test_xsim *sim)
{
	int cur = -1, t;
	unsigned int step = 0;

	zd_xsearch_begin(s);
	for (;;) {
		struct zd_explore_point p;
		uint32_t en = 0;

		memset(&p, 0, sizeof(p));
		for (t = 0; t < sim->nt; t++)
			if (sim->next(sim->arg, t, &p.pend_kind[t], &p.pend_addr[t]))
				en |= 1u << t;
		if (!en)
			break;
		if (cur >= 0 && !(en & (1u << cur)))
			cur = -1;
		if (en & (en - 1)) {
			p.step = step++;
			p.enabled = en;
			p.current = cur;
			p.kind = cur >= 0 ? p.pend_kind[cur] : 0;
			p.addr = cur >= 0 ? p.pend_addr[cur] : NULL;
			if (sim->key)
				zd_xsearch_note_state(s, sim->key(sim->arg));
			t = zd_xsearch_pick(s, &p);
		} else {
			t = __builtin_ctz(en);
			zd_xsearch_note(s, t, p.pend_kind[t], p.pend_addr[t]);
		}
		assert_true(en & (1u << t));
		sim->step(sim->arg, t);
		cur = t;
	}
}
