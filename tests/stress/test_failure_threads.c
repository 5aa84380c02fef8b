/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: memory failure racing faults on real threads. Two threads
 * keep touching a device-dax mapping (2 MiB folios) and an anonymous
 * mapping, and mapping / unmapping device-dax in a second process, while a
 * third poisons two device-dax folios and two RAM pages. Whatever the
 * interleaving: every access either worked or was SIGBUS, a poisoned page
 * is SIGBUS afterwards, the others still work, and the audit is clean (no
 * present entry maps a poisoned page, nothing left unexplained).
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/drivers.h"
#include "zonedev/failure.h"
#include "sync/sync.h"

#define ITERS 200
#define ANON_PAGES 16

struct ctx {
	struct zd_world *w;
	struct zd_device *dax;
	struct zd_mm *mm, *mm2;
	uint64_t dax_addr, anon;
	unsigned long ram_pfn[2];
	zd_atomic_t errors;
};

static void error(struct ctx *c, const char *what, int ret)
{
	fprintf(stderr, "%s (%d)\n", what, ret);
	zd_atomic_add_return_relaxed(&c->errors, 1);
}

static void *toucher(void *arg)
{
	struct ctx *c = arg;
	char buf[8];
	int i, ret;

	for (i = 0; i < ITERS; i++) {
		ret = zd_access_read(c->mm, c->dax_addr + (uint64_t)(i % 4) * (2u << 20), buf, 4);
		if (ret && ret != ZD_SIGBUS)
			error(c, "device-dax read", ret);
		ret = zd_access_write(c->mm, c->anon + (uint64_t)(i % ANON_PAGES) * ZD_PAGE_SIZE,
				      "abcd", 4);
		if (ret && ret != ZD_SIGBUS)
			error(c, "anon write", ret);
	}
	return NULL;
}

static void *mapper(void *arg)
{
	struct ctx *c = arg;
	uint64_t addr;
	char buf[8];
	int i, ret;

	for (i = 0; i < ITERS / 4; i++) {
		ret = zd_device_mmap(c->dax, c->mm2, 8u << 20, ZD_PROT_READ | ZD_PROT_WRITE, &addr);
		if (ret) {
			error(c, "device-dax mmap", ret);
			continue;
		}
		ret = zd_access_read(c->mm2, addr + (uint64_t)(i % 4) * (2u << 20), buf, 4);
		if (ret && ret != ZD_SIGBUS)
			error(c, "second process read", ret);
		if (i % 2)
			zd_munmap(c->mm2, addr, 8u << 20);
	}
	return NULL;
}

static void *poisoner(void *arg)
{
	struct ctx *c = arg;
	unsigned long pfn;
	int ret;

	zd_device_page_pfn(c->dax, 512 + 3, &pfn);
	ret = zd_memory_failure(c->w, pfn, 0);
	if (ret)
		error(c, "memory_failure on device-dax", ret);
	ret = zd_memory_failure(c->w, c->ram_pfn[0], 0);
	if (ret && ret != -EBUSY)
		error(c, "memory_failure on RAM", ret);
	zd_device_page_pfn(c->dax, 3 * 512, &pfn);
	ret = zd_memory_failure(c->w, pfn, 0);
	if (ret)
		error(c, "memory_failure on device-dax", ret);
	ret = zd_memory_failure(c->w, c->ram_pfn[1], 0);
	if (ret && ret != -EBUSY)
		error(c, "memory_failure on RAM", ret);
	return NULL;
}

static void test_failure_vs_faults(void **state)
{
	struct zd_device_config cfg = { .name = "dax0", .type = ZD_MEMORY_DEVICE_GENERIC,
					.size = 8u << 20, .align_order = 9 };
	struct zd_mmap_args a = { .kind = ZD_MAP_ANON, .size = ANON_PAGES * ZD_PAGE_SIZE,
				  .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	struct zd_world_opts o;
	struct zd_entry_info info;
	struct zd_thread *th[4];
	struct ctx c;
	char buf[8];
	int i;

	(void)state;
	memset(&c, 0, sizeof(c));
	zd_world_opts_init(&o);
	o.ram_bytes = 16ull << 20;
	assert_int_equal(zd_world_create(&o, &c.w), 0);
	assert_int_equal(zd_device_create(c.w, &cfg, &c.dax), 0);
	assert_int_equal(zd_mm_create(c.w, "P", &c.mm), 0);
	assert_int_equal(zd_mm_create(c.w, "Q", &c.mm2), 0);
	assert_int_equal(zd_device_mmap(c.dax, c.mm, 8u << 20, ZD_PROT_READ | ZD_PROT_WRITE,
					&c.dax_addr), 0);
	assert_int_equal(zd_mmap(c.mm, &a, &c.anon), 0);
	for (i = 0; i < ANON_PAGES; i++)
		assert_int_equal(zd_access_write(c.mm, c.anon + i * ZD_PAGE_SIZE, "x", 1), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(zd_mm_entry(c.mm, c.anon + (3 + 7 * i) * ZD_PAGE_SIZE, &info), 0);
		c.ram_pfn[i] = info.pfn;
	}
	th[0] = zd_thread_start(toucher, &c);
	th[1] = zd_thread_start(toucher, &c);
	th[2] = zd_thread_start(mapper, &c);
	th[3] = zd_thread_start(poisoner, &c);
	for (i = 0; i < 4; i++) {
		assert_non_null(th[i]);
		zd_thread_join(th[i]);
	}
	assert_int_equal(zd_atomic_read_relaxed(&c.errors), 0);
	/* folios 1 and 3 are poisoned, 0 and 2 are not; the two RAM pages are markers */
	assert_int_equal(zd_access_read(c.mm, c.dax_addr + (2u << 20), buf, 4), ZD_SIGBUS);
	assert_int_equal(zd_access_read(c.mm, c.dax_addr + (6u << 20), buf, 4), ZD_SIGBUS);
	assert_int_equal(zd_access_read(c.mm, c.dax_addr, buf, 4), 0);
	assert_int_equal(zd_access_read(c.mm, c.dax_addr + (4u << 20), buf, 4), 0);
	assert_int_equal(zd_access_read(c.mm, c.anon + 3 * ZD_PAGE_SIZE, buf, 4), ZD_SIGBUS);
	assert_int_equal(zd_access_read(c.mm, c.anon + 10 * ZD_PAGE_SIZE, buf, 4), ZD_SIGBUS);
	assert_int_equal(zd_access_read(c.mm, c.anon, buf, 4), 0);
	assert_int_equal(zd_audit(c.w), 0);
	assert_int_equal(zd_violation_count(c.w), 0);
	zd_mm_exit(c.mm);
	zd_mm_exit(c.mm2);
	assert_int_equal(zd_audit(c.w), 0);
	assert_int_equal(zd_device_remove(c.dax), 0);
	zd_device_destroy(c.dax);
	zd_world_destroy(c.w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_vs_faults),
	};

	zd_test_seed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
