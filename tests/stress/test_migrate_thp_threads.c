/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: 2 MiB folios under concurrent migration on real threads.
 * One process maps two THPs; two dmirror devices that hand out 2 MiB folios
 * (private and coherent, align=2M) move whole THPs and parts of them (which
 * splits them) to the device and back and evict everything, while readers
 * read every page through the CPU (faulting device-private PMDs and PTEs
 * back) and through the devices, and a forker forks and drops children
 * (copying device-private PMD entries). Every page keeps its value, nothing
 * leaks, and the world ends clean.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/drivers.h"
#include "sync/sync.h"

#define HPAGES 512u
#define NPAGES (2 * HPAGES)
#define ITERS 300

struct ctx {
	struct zd_world *w;
	struct zd_device *dev[2];
	struct zd_mm *mm;
	uint64_t addr;
	uint64_t seed; /* zd_test_seed(), read once before the threads start */
	zd_atomic_t errors;
};

struct worker {
	struct ctx *c;
	int id;
};

static void fill(uint32_t *b, uint32_t v)
{
	for (size_t i = 0; i < ZD_PAGE_SIZE / 4; i++)
		b[i] = v;
}

static bool all(const uint32_t *b, uint32_t v)
{
	for (size_t i = 0; i < ZD_PAGE_SIZE / 4; i++)
		if (b[i] != v)
			return false;
	return true;
}

static void error(struct ctx *c, const char *what, int id, int ret)
{
	fprintf(stderr, "thread %d: %s (%d)\n", id, what, ret);
	zd_atomic_add_return_relaxed(&c->errors, 1);
}

/* Errors a concurrent world explains: pages moved or mirrored away by someone else. */
static bool benign(int ret)
{
	return !ret || ret == -ENOENT || ret == -EBUSY;
}

/* Whole THPs or random parts of them to the device and back, releases, snapshots. */
static void *mover(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	struct zd_device *dev = c->dev[wk->id];
	uint64_t rnd = c->seed * 31 + (uint64_t)wk->id;
	unsigned char *codes = malloc(NPAGES);
	struct zd_dmirror_result r;
	int ret;

	if (!codes) {
		error(c, "malloc", wk->id, -ENOMEM);
		return NULL;
	}
	for (int it = 0; it < ITERS; it++) {
		unsigned int p, n;
		uint64_t a, len;

		if (zd_test_rand(&rnd) % 2) {
			p = (unsigned int)(zd_test_rand(&rnd) % 2) * HPAGES; /* a whole THP */
			n = HPAGES;
		} else {
			p = (unsigned int)(zd_test_rand(&rnd) % NPAGES);
			n = 1 + (unsigned int)(zd_test_rand(&rnd) % (NPAGES - p));
		}
		a = c->addr + (uint64_t)p * ZD_PAGE_SIZE;
		len = (uint64_t)n * ZD_PAGE_SIZE;
		switch (zd_test_rand(&rnd) % 5) {
		case 0:
		case 1:
			ret = zd_dmirror_migrate_to_dev(dev, c->mm, a, len, &r);
			break;
		case 2:
		case 3:
			ret = zd_dmirror_migrate_to_sys(dev, c->mm, a, len, &r);
			break;
		default:
			ret = it % 4 ? zd_dmirror_snapshot(dev, c->mm, a, len, codes)
				     : zd_dmirror_release(dev, &r);
			break;
		}
		if (!benign(ret))
			error(c, "a migration failed", wk->id, ret);
	}
	free(codes);
	return NULL;
}

/* Every page holds its index: read it through the CPU or a device. */
static void *reader(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	uint64_t rnd = c->seed * 37 + (uint64_t)wk->id;
	uint32_t b[ZD_PAGE_SIZE / 4];
	struct zd_dmirror_result r;
	int ret;

	for (int it = 0; it < ITERS * 4; it++) {
		unsigned int p = (unsigned int)(zd_test_rand(&rnd) % NPAGES);
		uint64_t a = c->addr + (uint64_t)p * ZD_PAGE_SIZE;

		if (it & 1)
			ret = zd_dmirror_read(c->dev[it & 2 ? 1 : 0], c->mm, a, ZD_PAGE_SIZE, b, &r);
		else
			ret = zd_access_read(c->mm, a, b, sizeof(b));
		if (ret == -EBUSY)
			continue;
		if (ret)
			error(c, "a read failed", wk->id, ret);
		else if (!all(b, p)) {
			fprintf(stderr, "thread %d: page %u holds %#x\n", wk->id, p, b[0]);
			error(c, "a page changed", wk->id, (int)p);
		}
	}
	return NULL;
}

/* fork copies whatever is mapped (device-private PMDs too); the child reads a page, then exits. */
static void *forker(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	uint64_t rnd = c->seed * 41 + (uint64_t)wk->id;
	uint32_t b[ZD_PAGE_SIZE / 4];
	struct zd_mm *child;
	int ret;

	for (int it = 0; it < ITERS / 4; it++) {
		unsigned int p = (unsigned int)(zd_test_rand(&rnd) % NPAGES);

		ret = zd_mm_fork(c->mm, "child", &child);
		if (ret) {
			error(c, "fork failed", wk->id, ret);
			continue;
		}
		ret = zd_access_read(child, c->addr + (uint64_t)p * ZD_PAGE_SIZE, b, sizeof(b));
		if (ret && ret != -EBUSY)
			error(c, "a child's read failed", wk->id, ret);
		else if (!ret && !all(b, p))
			error(c, "a child's page changed", wk->id, (int)p);
		zd_mm_exit(child);
	}
	return NULL;
}

static void test_thp_migration_threads(void **state)
{
	struct zd_world_opts o;
	struct zd_mmap_args ma = {.kind = ZD_MAP_ANON,
				  .size = (uint64_t)NPAGES * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE,
				  .huge = true};
	struct zd_device_config cfg = {.name = "gpu0",
				       .type = ZD_MEMORY_DEVICE_PRIVATE,
				       .size = 8ull << 20,
				       .chunk = 4ull << 20,
				       .align_order = ZD_PMD_ORDER};
	struct zd_device_counters dc;
	struct zd_entry_info info;
	uint32_t b[ZD_PAGE_SIZE / 4];
	struct worker wk[8];
	struct zd_thread *t[8];
	struct ctx c;
	int i, nt = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.seed = zd_test_seed();
	zd_world_opts_init(&o);
	o.ram_bytes = 64ull << 20;
	assert_int_equal(zd_world_create(&o, &c.w), 0);
	assert_int_equal(zd_device_create(c.w, &cfg, &c.dev[0]), 0);
	cfg.name = "cxl0";
	cfg.type = ZD_MEMORY_DEVICE_COHERENT;
	assert_int_equal(zd_device_create(c.w, &cfg, &c.dev[1]), 0);
	assert_int_equal(zd_mm_create(c.w, "P", &c.mm), 0);
	assert_int_equal(zd_mmap(c.mm, &ma, &c.addr), 0);
	for (i = 0; i < (int)NPAGES; i++) {
		fill(b, (uint32_t)i);
		assert_int_equal(zd_access_write(c.mm, c.addr + i * ZD_PAGE_SIZE, b, sizeof(b)), 0);
	}
	assert_int_equal(zd_mm_entry(c.mm, c.addr, &info), 0);
	assert_int_equal(info.kind, ZD_ENTRY_PMD); /* two THPs to start with */
	for (i = 0; i < 2; i++) {
		wk[nt] = (struct worker){&c, i};
		t[nt] = zd_thread_start(mover, &wk[nt]);
		nt++;
	}
	for (i = 0; i < 2; i++) {
		wk[nt] = (struct worker){&c, 10 + i};
		t[nt] = zd_thread_start(reader, &wk[nt]);
		nt++;
	}
	wk[nt] = (struct worker){&c, 20};
	t[nt] = zd_thread_start(forker, &wk[nt]);
	nt++;
	for (i = 0; i < nt; i++) {
		assert_non_null(t[i]);
		zd_thread_join(t[i]);
	}
	assert_int_equal(zd_atomic_read_relaxed(&c.errors), 0);
	for (i = 0; i < (int)NPAGES; i++) {
		assert_int_equal(zd_access_read(c.mm, c.addr + i * ZD_PAGE_SIZE, b, sizeof(b)), 0);
		assert_true(all(b, (uint32_t)i));
	}
	assert_int_equal(zd_audit(c.w), 0);
	zd_mm_exit(c.mm);
	assert_int_equal(zd_audit(c.w), 0);
	assert_int_equal(zd_violation_count(c.w), 0);
	for (i = 0; i < 2; i++) {
		zd_device_counters(c.dev[i], &dc);
		assert_true(dc.allocated > 0); /* something moved */
		assert_int_equal(dc.allocated, dc.freed);
		assert_int_equal(zd_device_remove(c.dev[i]), 0);
	}
	zd_world_destroy(c.w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thp_migration_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
