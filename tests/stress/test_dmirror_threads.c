/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: two dmirror devices (private, coherent) and the CPU on real
 * threads: migrations both ways, releases, snapshots, device and CPU reads
 * and writes, exclusive access. Data never changes under a reader that does
 * not own it, nothing leaks, and the world ends clean.
 *
 * test_dmirror_per_process: every thread has its own process, so the
 * devices (free lists, BO references, mirror lists) are shared but each
 * address space hears invalidations from one thread at a time.
 * test_dmirror_shared_process: all threads in one process, so
 * invalidations of one mm overlap (several run under mmap_lock for read);
 * it found the interval sequence left odd by overlapping invalidations
 * (now counted by zd_mmu_notifier_invalidate).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/drivers.h"
#include "sync/sync.h"

#define NPAGES 32
#define OWNED 8 /* pages 0..7 are rewritten by their owners; 8.. keep value i */
#define ITERS 300

struct ctx {
	struct zd_world *w;
	struct zd_device *dev[2];
	struct zd_mm *mm;
	uint64_t addr;
	zd_atomic_t errors;
};

struct worker {
	struct ctx *c;
	int id;
};

static void fill(uint32_t *b, uint32_t v)
{
	for (unsigned int i = 0; i < ZD_PAGE_SIZE / 4; i++)
		b[i] = v;
}

static bool all(const uint32_t *b, uint32_t v)
{
	for (unsigned int i = 0; i < ZD_PAGE_SIZE / 4; i++)
		if (b[i] != v)
			return false;
	return true;
}

static void error(struct ctx *c, const char *what, int id, int ret)
{
	fprintf(stderr, "thread %d: %s (%d)\n", id, what, ret);
	zd_atomic_add_return_relaxed(&c->errors, 1);
}

/* ---- One process per thread ------------------------------------------------------------ */

#define PP_THREADS 6
#define PP_PAGES 16

struct pp {
	struct zd_world *w;
	struct zd_device *dev[2];
	zd_atomic_t errors;
};

struct pp_worker {
	struct pp *c;
	int id;
};

static void pp_error(struct pp *c, int id, const char *what, int ret)
{
	fprintf(stderr, "thread %d: %s (%d)\n", id, what, ret);
	zd_atomic_add_return_relaxed(&c->errors, 1);
}

/* Random commands on the thread's own process; a shadow copy says what every page holds. */
static void *pp_thread(void *arg)
{
	struct pp_worker *wk = arg;
	struct pp *c = wk->c;
	struct zd_mmap_args ma = {.kind = ZD_MAP_ANON,
				  .size = PP_PAGES * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE};
	uint64_t rnd = zd_test_seed() * 53 + (uint64_t)wk->id, addr;
	uint32_t shadow[PP_PAGES], b[ZD_PAGE_SIZE / 4];
	unsigned char codes[PP_PAGES];
	struct zd_dmirror_result r;
	char name[16];
	struct zd_mm *mm;
	bool excl;
	int it, ret;

	snprintf(name, sizeof(name), "P%d", wk->id);
	if (zd_mm_create(c->w, name, &mm) || zd_mmap(mm, &ma, &addr)) {
		pp_error(c, wk->id, "no process", 0);
		return NULL;
	}
	/*
	 * Every page is written first, so no device maps the shared zero page:
	 * a CPU write that COWs it away does not tell the device yet (see the
	 * report on zd_do_wp_page); madvise'd pages are rewritten at once.
	 */
	for (int i = 0; i < PP_PAGES; i++) {
		shadow[i] = (uint32_t)i;
		fill(b, shadow[i]);
		if (zd_access_write(mm, addr + (uint64_t)i * ZD_PAGE_SIZE, b, sizeof(b)))
			pp_error(c, wk->id, "the first write failed", i);
	}
	for (it = 0; it < ITERS * 10; it++) {
		unsigned int p = (unsigned int)(zd_test_rand(&rnd) % PP_PAGES);
		unsigned int n = 1 + (unsigned int)(zd_test_rand(&rnd) % (PP_PAGES - p));
		uint64_t a = addr + (uint64_t)p * ZD_PAGE_SIZE, len = (uint64_t)n * ZD_PAGE_SIZE;
		struct zd_device *dev = c->dev[zd_test_rand(&rnd) % 2];
		uint32_t v = (uint32_t)(wk->id << 20) + (uint32_t)it;

		ret = 0;
		switch (zd_test_rand(&rnd) % 8) {
		case 0:
			fill(b, v);
			ret = zd_access_write(mm, a, b, sizeof(b));
			if (!ret)
				shadow[p] = v;
			break;
		case 1:
			fill(b, v);
			ret = zd_dmirror_write(dev, mm, a, ZD_PAGE_SIZE, b, &r);
			if (!ret)
				shadow[p] = v;
			break;
		case 2:
		case 3:
			ret = zd_dmirror_migrate_to_dev(dev, mm, a, len, &r);
			break;
		case 4:
			ret = zd_dmirror_migrate_to_sys(dev, mm, a, len, &r);
			break;
		case 5:
			ret = zd_dmirror_exclusive(dev, mm, a, len, &r);
			if (!ret)
				ret = zd_dmirror_check_exclusive(dev, mm, a, len, &excl);
			break;
		case 6:
			ret = zd_dmirror_snapshot(dev, mm, a, len, codes);
			break;
		default:
			if (it % 16 == 0 && zd_madvise_dontneed(mm, a, len) == 0) {
				for (unsigned int k = p; k < p + n; k++) {
					shadow[k] = v + k;
					fill(b, shadow[k]);
					ret = zd_access_write(mm, addr + (uint64_t)k * ZD_PAGE_SIZE,
							      b, sizeof(b));
					if (ret)
						break;
				}
			}
			break;
		}
		if (ret && ret != -ENOENT && ret != -EBUSY)
			pp_error(c, wk->id, "a command failed", ret);
		/* check one page through a device and one through the CPU */
		p = (unsigned int)(zd_test_rand(&rnd) % PP_PAGES);
		ret = zd_dmirror_read(c->dev[it % 2], mm, addr + (uint64_t)p * ZD_PAGE_SIZE,
				      ZD_PAGE_SIZE, b, &r);
		if (ret && ret != -EBUSY)
			pp_error(c, wk->id, "a device read failed", ret);
		else if (!ret && !all(b, shadow[p]))
			pp_error(c, wk->id, "a device read saw wrong data", (int)p);
		p = (unsigned int)(zd_test_rand(&rnd) % PP_PAGES);
		ret = zd_access_read(mm, addr + (uint64_t)p * ZD_PAGE_SIZE, b, sizeof(b));
		if (ret || !all(b, shadow[p]))
			pp_error(c, wk->id, "a CPU read saw wrong data", ret ? ret : (int)p);
	}
	zd_mm_exit(mm);
	return NULL;
}

static void test_dmirror_per_process(void **state)
{
	struct zd_world_opts o;
	struct zd_device_config cfg = {.name = "gpu0",
				       .type = ZD_MEMORY_DEVICE_PRIVATE,
				       .size = 1ull << 20,
				       .chunk = 128ull << 10};
	struct zd_device_counters dc;
	struct zd_dmirror_stats st;
	struct pp_worker wk[PP_THREADS];
	struct zd_thread *t[PP_THREADS];
	struct pp c;
	int i;

	memset(&c, 0, sizeof(c));
	zd_world_opts_init(&o);
	o.ram_bytes = 32ull << 20;
	assert_int_equal(zd_world_create(&o, &c.w), 0);
	assert_int_equal(zd_device_create(c.w, &cfg, &c.dev[0]), 0);
	cfg.name = "cxl0";
	cfg.type = ZD_MEMORY_DEVICE_COHERENT;
	assert_int_equal(zd_device_create(c.w, &cfg, &c.dev[1]), 0);
	for (i = 0; i < PP_THREADS; i++) {
		wk[i] = (struct pp_worker){&c, i};
		t[i] = zd_thread_start(pp_thread, &wk[i]);
	}
	for (i = 0; i < PP_THREADS; i++) {
		assert_non_null(t[i]);
		zd_thread_join(t[i]);
	}
	assert_int_equal(zd_atomic_read_relaxed(&c.errors), 0);
	assert_int_equal(zd_audit(c.w), 0);
	assert_int_equal(zd_violation_count(c.w), 0);
	for (i = 0; i < 2; i++) {
		zd_device_counters(c.dev[i], &dc);
		assert_int_equal(dc.allocated, dc.freed);
		assert_int_equal(zd_dmirror_stats(c.dev[i], &st), 0);
		assert_int_equal(st.bo_refs, 0);
		assert_int_equal(st.mirrors, 0);
		assert_int_equal(zd_device_remove(c.dev[i]), 0);
	}
	zd_world_destroy(c.w);
}

/* ---- One shared process ------------------------------------------------------------------ */

/* Migration errors that a concurrent world explains: pages moved by someone else. */
static bool benign(int ret)
{
	return !ret || ret == -ENOENT || ret == -EBUSY;
}

/* Devices move the constant pages around: to the device, back, release, snapshot. */
static void *mover(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	struct zd_device *dev = c->dev[wk->id];
	uint64_t rnd = zd_test_seed() * 17 + (uint64_t)wk->id;
	struct zd_dmirror_result r;
	unsigned char codes[NPAGES];
	int ret;

	for (int it = 0; it < ITERS; it++) {
		unsigned int p = OWNED + (unsigned int)(zd_test_rand(&rnd) % (NPAGES - OWNED));
		unsigned int n = 1 + (unsigned int)(zd_test_rand(&rnd) % (NPAGES - p));
		uint64_t a = c->addr + (uint64_t)p * ZD_PAGE_SIZE, len = (uint64_t)n * ZD_PAGE_SIZE;

		switch (zd_test_rand(&rnd) % 4) {
		case 0:
		case 1:
			ret = zd_dmirror_migrate_to_dev(dev, c->mm, a, len, &r);
			break;
		case 2:
			ret = zd_dmirror_migrate_to_sys(dev, c->mm, a, len, &r);
			break;
		default:
			ret = it % 8 ? zd_dmirror_snapshot(dev, c->mm, a, len, codes)
				     : zd_dmirror_release(dev, &r);
			break;
		}
		if (!benign(ret))
			error(c, "a migration failed", wk->id, ret);
	}
	return NULL;
}

/* Readers check the constant pages through a device and through the CPU. */
static void *reader(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	uint64_t rnd = zd_test_seed() * 29 + (uint64_t)wk->id;
	uint32_t b[ZD_PAGE_SIZE / 4];
	struct zd_dmirror_result r;
	int ret;

	for (int it = 0; it < ITERS * 2; it++) {
		unsigned int p = OWNED + (unsigned int)(zd_test_rand(&rnd) % (NPAGES - OWNED));
		uint64_t a = c->addr + (uint64_t)p * ZD_PAGE_SIZE;

		if (it & 1)
			ret =
			    zd_dmirror_read(c->dev[it & 2 ? 1 : 0], c->mm, a, ZD_PAGE_SIZE, b, &r);
		else
			ret = zd_access_read(c->mm, a, b, sizeof(b));
		if (ret == -EBUSY)
			continue;
		if (ret)
			error(c, "a read failed", wk->id, ret);
		else if (!all(b, p)) {
			fprintf(stderr, "thread %d: page %u read %s holds %#x\n", wk->id, p,
				it & 1 ? (it & 2 ? "by cxl0" : "by the private device") : "by the CPU",
				b[0]);
			error(c, "a constant page changed", wk->id, (int)p);
		}
	}
	return NULL;
}

/* Owners write their pages by CPU and by device, and read back through both. */
static void *owner(void *arg)
{
	struct worker *wk = arg;
	struct ctx *c = wk->c;
	uint64_t rnd = zd_test_seed() * 43 + (uint64_t)wk->id;
	uint32_t b[ZD_PAGE_SIZE / 4];
	struct zd_dmirror_result r;
	bool excl;
	int ret;

	for (int it = 0; it < ITERS; it++) {
		unsigned int p = (unsigned int)wk->id * 2 + (unsigned int)(zd_test_rand(&rnd) % 2);
		uint64_t a = c->addr + (uint64_t)p * ZD_PAGE_SIZE;
		struct zd_device *dev = c->dev[zd_test_rand(&rnd) % 2];
		uint32_t v = 1000u * (uint32_t)wk->id + (uint32_t)it;

		fill(b, v);
		switch (zd_test_rand(&rnd) % 4) {
		case 0:
			ret = zd_access_write(c->mm, a, b, sizeof(b));
			break;
		case 1:
			ret = zd_dmirror_write(dev, c->mm, a, ZD_PAGE_SIZE, b, &r);
			break;
		case 2:
			ret = zd_access_write(c->mm, a, b, sizeof(b));
			if (!ret)
				ret = zd_dmirror_exclusive(dev, c->mm, a, ZD_PAGE_SIZE, &r);
			if (!ret)
				ret =
				    zd_dmirror_check_exclusive(dev, c->mm, a, ZD_PAGE_SIZE, &excl);
			break;
		default:
			ret = zd_access_write(c->mm, a, b, sizeof(b));
			if (!benign(ret))
				break;
			ret = zd_dmirror_migrate_to_dev(dev, c->mm, a, ZD_PAGE_SIZE, &r);
			ret = benign(ret) ? 0 : ret;
			break;
		}
		/*
		 * In one shared process other threads' invalidations (another
		 * device migrating a neighbouring window, a COW) may erase this
		 * device's mirror entries before the command reads them back:
		 * -ENOENT, as in the kernel. Retry like -EBUSY.
		 */
		if (ret == -EBUSY || ret == -ENOENT)
			continue;
		if (ret) {
			error(c, "an owner's write failed", wk->id, ret);
			continue;
		}
		memset(b, 0, sizeof(b));
		ret = zd_access_read(c->mm, a, b, sizeof(b));
		if (ret || !all(b, v))
			error(c, "an owner's page lost its data (CPU)", wk->id, ret);
		ret = zd_dmirror_read(c->dev[it % 2], c->mm, a, ZD_PAGE_SIZE, b, &r);
		if (ret == -EBUSY)
			continue;
		if (ret || !all(b, v))
			error(c, "an owner's page lost its data (device)", wk->id, ret);
	}
	return NULL;
}

static void test_dmirror_shared_process(void **state)
{
	struct zd_world_opts o;
	struct zd_mmap_args ma = {.kind = ZD_MAP_ANON,
				  .size = NPAGES * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE};
	struct zd_device_config cfg = {.name = "gpu0",
				       .type = ZD_MEMORY_DEVICE_PRIVATE,
				       .size = 1ull << 20,
				       .chunk = 256ull << 10};
	struct zd_device_counters dc;
	uint32_t b[ZD_PAGE_SIZE / 4];
	struct worker wk[8];
	struct zd_thread *t[8];
	struct ctx c;
	int i, nt = 0;

	memset(&c, 0, sizeof(c));
	zd_world_opts_init(&o);
	o.ram_bytes = 32ull << 20;
	assert_int_equal(zd_world_create(&o, &c.w), 0);
	assert_int_equal(zd_device_create(c.w, &cfg, &c.dev[0]), 0);
	cfg.name = "cxl0";
	cfg.type = ZD_MEMORY_DEVICE_COHERENT;
	assert_int_equal(zd_device_create(c.w, &cfg, &c.dev[1]), 0);
	assert_int_equal(zd_mm_create(c.w, "P", &c.mm), 0);
	assert_int_equal(zd_mmap(c.mm, &ma, &c.addr), 0);
	for (i = 0; i < NPAGES; i++) {
		fill(b, (uint32_t)i);
		assert_int_equal(zd_access_write(c.mm, c.addr + i * ZD_PAGE_SIZE, b, sizeof(b)), 0);
	}
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
	for (i = 0; i < OWNED / 2; i++) {
		wk[nt] = (struct worker){&c, i};
		t[nt] = zd_thread_start(owner, &wk[nt]);
		nt++;
	}
	for (i = 0; i < nt; i++) {
		assert_non_null(t[i]);
		zd_thread_join(t[i]);
	}
	assert_int_equal(zd_atomic_read_relaxed(&c.errors), 0);
	for (i = OWNED; i < NPAGES; i++) {
		assert_int_equal(zd_access_read(c.mm, c.addr + i * ZD_PAGE_SIZE, b, sizeof(b)), 0);
		assert_true(all(b, (uint32_t)i));
	}
	assert_int_equal(zd_audit(c.w), 0);
	zd_mm_exit(c.mm);
	assert_int_equal(zd_audit(c.w), 0);
	assert_int_equal(zd_violation_count(c.w), 0);
	for (i = 0; i < 2; i++) {
		zd_device_counters(c.dev[i], &dc);
		assert_int_equal(dc.allocated, dc.freed);
		assert_int_equal(zd_device_remove(c.dev[i]), 0); /* nothing left: no wait */
	}
	zd_world_destroy(c.w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dmirror_per_process),
	    cmocka_unit_test(test_dmirror_shared_process),
	};

	zd_test_seed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
