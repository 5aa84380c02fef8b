/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: one address space on four real threads: two fault and
 * check data, one forks and exits children, one maps, unmaps and drops
 * pages. Afterwards the data is right and the audit is clean.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "sync/sync.h"

#define PAGES 64
#define ITERS 6000

struct ctx {
	struct zd_world *w;
	struct zd_mm *mm;
	uint64_t shared_anon; /* PAGES pages, each page i holds words of value i (never changed) */
	uint64_t scratch;     /* PAGES pages, each thread writes its own quarter */
	uint64_t huge;        /* 4 MiB huge mapping, madvised and refaulted */
	zd_atomic_t stop;
	zd_atomic_t errors;
};

static void fill(uint32_t *buf, uint32_t v)
{
	int i;

	for (i = 0; i < (int)(ZD_PAGE_SIZE / 4); i++)
		buf[i] = v;
}

static bool all(const uint32_t *buf, uint32_t v)
{
	int i;

	for (i = 0; i < (int)(ZD_PAGE_SIZE / 4); i++)
		if (buf[i] != v)
			return false;
	return true;
}

struct worker {
	struct ctx *c;
	int id;
};

/* Faulting threads: read the constant pages, write and re-read their own scratch pages. */
static void *fault_thread(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	uint64_t rnd = zd_test_seed() * 31 + (uint64_t)wk->id;
	uint32_t buf[ZD_PAGE_SIZE / 4];
	int i;

	for (i = 0; i < ITERS; i++) {
		unsigned int p = (unsigned int)(zd_test_rand(&rnd) % PAGES);
		unsigned int q = (unsigned int)(wk->id * (PAGES / 4) + zd_test_rand(&rnd) % (PAGES / 4));

		if (zd_access_read(c->mm, c->shared_anon + p * ZD_PAGE_SIZE, buf, sizeof(buf)) ||
		    !all(buf, p + 1))
			zd_atomic_add_return_relaxed(&c->errors, 1);
		fill(buf, (uint32_t)(i + 1000 * wk->id));
		if (zd_access_write(c->mm, c->scratch + q * ZD_PAGE_SIZE, buf, sizeof(buf)))
			zd_atomic_add_return_relaxed(&c->errors, 1);
		memset(buf, 0, sizeof(buf));
		if (zd_access_read(c->mm, c->scratch + q * ZD_PAGE_SIZE, buf, sizeof(buf)) ||
		    !all(buf, (uint32_t)(i + 1000 * wk->id)))
			zd_atomic_add_return_relaxed(&c->errors, 1);
		/* the huge range: whatever is there reads as a whole page of one value or zero */
		if (zd_access_read(c->mm, c->huge + p * ZD_PAGE_SIZE, buf, sizeof(buf)))
			zd_atomic_add_return_relaxed(&c->errors, 1);
	}
	return NULL;
}

/* Fork and exit children; each child checks a constant page through its COW copy. */
static void *fork_thread(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	uint32_t buf[ZD_PAGE_SIZE / 4];
	int i;

	for (i = 0; i < ITERS / 20; i++) {
		struct zd_mm *child;

		if (zd_mm_fork(c->mm, "child", &child)) {
			zd_atomic_add_return_relaxed(&c->errors, 1);
			continue;
		}
		if (zd_access_read(child, c->shared_anon + 5 * ZD_PAGE_SIZE, buf, sizeof(buf)) ||
		    !all(buf, 6))
			zd_atomic_add_return_relaxed(&c->errors, 1);
		fill(buf, 0xdead);
		/* a write in the child never shows in the parent */
		if (zd_access_write(child, c->shared_anon + 7 * ZD_PAGE_SIZE, buf, sizeof(buf)))
			zd_atomic_add_return_relaxed(&c->errors, 1);
		zd_mm_exit(child);
	}
	return NULL;
}

/* Map and unmap a private region, and drop pages of the huge range. */
static void *map_thread(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	uint32_t buf[ZD_PAGE_SIZE / 4];
	int i;

	for (i = 0; i < ITERS / 5; i++) {
		struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = 8 * ZD_PAGE_SIZE,
					  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
		uint64_t addr;

		if (zd_mmap(c->mm, &a, &addr)) {
			zd_atomic_add_return_relaxed(&c->errors, 1);
			continue;
		}
		fill(buf, (uint32_t)i);
		zd_access_write(c->mm, addr + ZD_PAGE_SIZE, buf, sizeof(buf));
		zd_munmap(c->mm, addr, 8 * ZD_PAGE_SIZE);
		zd_madvise_dontneed(c->mm, c->huge + (uint64_t)(i % 2) * (2 << 20) + 4 * ZD_PAGE_SIZE,
				    2 * ZD_PAGE_SIZE);
		fill(buf, 7);
		zd_access_write(c->mm, c->huge + (uint64_t)(i % 512) * ZD_PAGE_SIZE, buf, sizeof(buf));
	}
	return NULL;
}

static void test_four_threads_one_mm(void **state)
{
	struct zd_world_opts o;
	struct ctx c;
	struct worker wk[4];
	struct zd_thread *th[4];
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = PAGES * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	uint32_t buf[ZD_PAGE_SIZE / 4];
	int i;

	memset(&c, 0, sizeof(c));
	zd_world_opts_init(&o);
	o.ram_bytes = 64ull << 20;
	assert_int_equal(zd_world_create(&o, &c.w), 0);
	assert_int_equal(zd_mm_create(c.w, "P", &c.mm), 0);
	assert_int_equal(zd_mmap(c.mm, &a, &c.shared_anon), 0);
	assert_int_equal(zd_mmap(c.mm, &a, &c.scratch), 0);
	a.size = 4 << 20;
	a.huge = true;
	assert_int_equal(zd_mmap(c.mm, &a, &c.huge), 0);
	for (i = 0; i < PAGES; i++) {
		fill(buf, (uint32_t)i + 1);
		assert_int_equal(zd_access_write(c.mm, c.shared_anon + i * ZD_PAGE_SIZE, buf,
						 sizeof(buf)), 0);
	}
	wk[0] = (struct worker){ &c, 0 };
	wk[1] = (struct worker){ &c, 1 };
	wk[2] = (struct worker){ &c, 2 };
	wk[3] = (struct worker){ &c, 3 };
	th[0] = zd_thread_start(fault_thread, &wk[0]);
	th[1] = zd_thread_start(fault_thread, &wk[1]);
	th[2] = zd_thread_start(fork_thread, &wk[2]);
	th[3] = zd_thread_start(map_thread, &wk[3]);
	for (i = 0; i < 4; i++) {
		assert_non_null(th[i]);
		zd_thread_join(th[i]);
	}
	assert_int_equal(zd_atomic_read_relaxed(&c.errors), 0);
	/* the parent's page 7 was never written by a child */
	assert_int_equal(zd_access_read(c.mm, c.shared_anon + 7 * ZD_PAGE_SIZE, buf, sizeof(buf)), 0);
	assert_true(all(buf, 8));
	assert_int_equal(zd_audit(c.w), 0);
	zd_mm_exit(c.mm);
	assert_int_equal(zd_audit(c.w), 0);
	assert_int_equal(zd_violation_count(c.w), 0);
	assert_int_equal(zd_ram_nr_free(c.w), (64ul << 20) >> ZD_PAGE_SHIFT);
	zd_world_destroy(c.w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_threads_one_mm),
	};

	zd_test_seed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
