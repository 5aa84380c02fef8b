/* SPDX-License-Identifier: MIT */
/*
 * zonedev tests: migration on real threads: one thread migrates a range to
 * device memory and evicts it back, others read and write through the CPU
 * (faulting device pages back), one forks. Data never tears (X1), nothing
 * leaks (X2), and the world ends clean.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "zonedev/zonedev.h"
#include "zonedev/vm.h"
#include "zonedev/migrate.h"
#include "sync/sync.h"

#define NDEV 64
#define NPAGES 16
#define ITERS 1500
#define OWNER ((void *)0x77)

static struct zd_world *w;
static struct zd_dev_pagemap *pgmap;
static unsigned long first_pfn;
static zd_spinlock_t lock;
static bool used[NDEV];
static zd_atomic_t errors;

static void drv_folio_free(struct zd_folio *folio)
{
	unsigned long i = folio->pfn - first_pfn;

	zd_spin_lock(&lock);
	used[i] = false;
	zd_spin_unlock(&lock);
}

static struct zd_folio *drv_alloc(void)
{
	unsigned long i;

	for (i = 0; i < NDEV; i++) {
		bool mine = false;

		zd_spin_lock(&lock);
		if (!used[i]) {
			used[i] = true;
			mine = true;
		}
		zd_spin_unlock(&lock);
		if (mine) {
			struct zd_folio *f = zd_pfn_folio(w, first_pfn + i);

			if (!zd_zone_device_folio_init(f, pgmap, 0, ZD_MIGRATE_DST_HOLDER))
				return f;
			zd_spin_lock(&lock);
			used[i] = false;
			zd_spin_unlock(&lock);
		}
	}
	return NULL;
}

static void copy(unsigned long to, unsigned long from)
{
	memcpy(zd_page_address(w, to), zd_page_address(w, from), ZD_PAGE_SIZE);
}

static int drv_migrate_to_ram(struct zd_vm_fault *vmf)
{
	unsigned long src, dst = 0;
	struct zd_migrate_vma a = { .mm = vmf->mm, .start = vmf->address & ~(ZD_PAGE_SIZE - 1),
				    .src = &src, .dst = &dst, .pgmap_owner = OWNER,
				    .flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
				    .fault_page = vmf->page };
	struct zd_folio *n;

	a.end = a.start + ZD_PAGE_SIZE;
	if (zd_migrate_vma_setup(&a))
		return ZD_VM_FAULT_SIGBUS;
	if (src & ZD_MIGRATE_PFN_MIGRATE) {
		n = zd_folio_alloc(w, 0, ZD_MIGRATE_DST_HOLDER);
		if (!n)
			return ZD_VM_FAULT_OOM;
		zd_folio_lock(n);
		copy(n->pfn, zd_migrate_pfn_to_pfn(src));
		dst = zd_migrate_pfn(n->pfn);
	}
	zd_migrate_vma_pages(&a);
	zd_migrate_vma_finalize(&a);
	return 0;
}

static const struct zd_dev_pagemap_ops ops = { .folio_free = drv_folio_free,
					       .migrate_to_ram = drv_migrate_to_ram };

struct ctx {
	struct zd_mm *mm;
	uint64_t addr;
};

static void fill(uint32_t *b, uint32_t v)
{
	for (unsigned int i = 0; i < ZD_PAGE_SIZE / 4; i++)
		b[i] = v;
}

static bool uniform(const uint32_t *b, uint32_t *v)
{
	for (unsigned int i = 1; i < ZD_PAGE_SIZE / 4; i++)
		if (b[i] != b[0])
			return false;
	*v = b[0];
	return true;
}

static void *migrator(void *arg)
{
	struct ctx *c = arg;
	unsigned long src[NDEV], dst[NDEV], i;

	for (int it = 0; it < ITERS; it++) {
		struct zd_migrate_vma a = { .mm = c->mm, .start = c->addr,
					    .end = c->addr + NPAGES * ZD_PAGE_SIZE, .src = src,
					    .dst = dst, .pgmap_owner = OWNER,
					    .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };

		zd_mmap_read_lock(c->mm);
		if (zd_migrate_vma_setup(&a) == 0) {
			for (i = 0; i < NPAGES; i++) {
				struct zd_folio *d;

				if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE) || !(d = drv_alloc()))
					continue;
				if (src[i] & ZD_MIGRATE_PFN_VALID)
					copy(d->pfn, zd_migrate_pfn_to_pfn(src[i]));
				else
					memset(zd_page_address(w, d->pfn), 0, ZD_PAGE_SIZE);
				dst[i] = zd_migrate_pfn(d->pfn);
			}
			zd_migrate_vma_pages(&a);
			zd_migrate_vma_finalize(&a);
		}
		zd_mmap_read_unlock(c->mm);
		if (it % 3 == 0) {
			/* evict everything back by pfn range */
			zd_migrate_device_range(w, src, first_pfn, NDEV);
			for (i = 0; i < NDEV; i++) {
				struct zd_folio *n;

				dst[i] = 0;
				if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE))
					continue;
				n = zd_folio_alloc(w, 0, ZD_MIGRATE_DST_HOLDER);
				if (!n)
					continue;
				zd_folio_lock(n);
				copy(n->pfn, zd_migrate_pfn_to_pfn(src[i]));
				dst[i] = zd_migrate_pfn(n->pfn);
			}
			zd_migrate_device_pages(w, src, dst, NDEV);
			zd_migrate_device_finalize(w, src, dst, NDEV);
		}
	}
	return NULL;
}

/* Readers see whole pages of one value (X1); writers own pages 0..3 each. */
static void *cpu(void *arg)
{
	struct ctx *c = arg;
	uint32_t b[ZD_PAGE_SIZE / 4], v;
	uint64_t rnd = zd_test_seed();

	for (int it = 0; it < ITERS * 4; it++) {
		unsigned int p = (unsigned int)(zd_test_rand(&rnd) % NPAGES);

		int r = zd_access_read(c->mm, c->addr + p * ZD_PAGE_SIZE, b, sizeof(b));

		if (r || !uniform(b, &v)) {
			fprintf(stderr, "read p=%u r=%d uniform=%d\n", p, r, r ? -1 : uniform(b, &v));
			zd_atomic_add_return_relaxed(&errors, 1);
		} else if (p >= 4 && v != p) {
			fprintf(stderr, "read p=%u v=%u\n", p, v);
			zd_atomic_add_return_relaxed(&errors, 1); /* pages 4.. are never rewritten */
		}
		if (p < 4) {
			fill(b, p);
			int r2 = zd_access_write(c->mm, c->addr + p * ZD_PAGE_SIZE, b, sizeof(b));
			if (r2) {
				fprintf(stderr, "write p=%u r=%d\n", p, r2);
				zd_atomic_add_return_relaxed(&errors, 1);
			}
		}
	}
	return NULL;
}

static void *forker(void *arg)
{
	struct ctx *c = arg;
	uint32_t b[ZD_PAGE_SIZE / 4], v;

	for (int it = 0; it < ITERS / 10; it++) {
		struct zd_mm *child;

		if (zd_mm_fork(c->mm, "child", &child)) {
			continue; /* fork may fail (ENOMEM) while a device holds a page locked */
		}
		if (zd_access_read(child, c->addr + 9 * ZD_PAGE_SIZE, b, sizeof(b)) ||
		    !uniform(b, &v) || v != 9)
			zd_atomic_add_return_relaxed(&errors, 1);
		zd_mm_exit(child);
	}
	return NULL;
}

static void test_migration_races(void **state)
{
	struct zd_world_opts o;
	struct zd_mmap_args ma = { .kind = ZD_MAP_ANON, .size = NPAGES * ZD_PAGE_SIZE,
				   .prot = ZD_PROT_READ | ZD_PROT_WRITE };
	uint32_t b[ZD_PAGE_SIZE / 4];
	struct zd_thread *t[4];
	struct ctx c;
	int i;

	zd_world_opts_init(&o);
	o.ram_bytes = 32ull << 20;
	assert_int_equal(zd_world_create(&o, &w), 0);
	zd_spin_lock_init(&lock);
	pgmap = zd_pgmap_alloc(1);
	assert_int_equal(zd_request_free_mem_region(w, NDEV * ZD_PAGE_SIZE, ZD_PAGE_SIZE,
						    &pgmap->ranges[0]), 0);
	pgmap->type = ZD_MEMORY_DEVICE_PRIVATE;
	pgmap->ops = &ops;
	pgmap->owner = OWNER;
	pgmap->name = "dev";
	assert_int_equal(zd_memremap_pages(w, pgmap), 0);
	first_pfn = pgmap->ranges[0].start >> ZD_PAGE_SHIFT;
	assert_int_equal(zd_mm_create(w, "P", &c.mm), 0);
	assert_int_equal(zd_mmap(c.mm, &ma, &c.addr), 0);
	for (i = 0; i < NPAGES; i++) {
		fill(b, (uint32_t)i);
		assert_int_equal(zd_access_write(c.mm, c.addr + i * ZD_PAGE_SIZE, b, sizeof(b)), 0);
	}
	t[0] = zd_thread_start(migrator, &c);
	t[1] = zd_thread_start(cpu, &c);
	t[2] = zd_thread_start(cpu, &c);
	t[3] = zd_thread_start(forker, &c);
	for (i = 0; i < 4; i++) {
		assert_non_null(t[i]);
		zd_thread_join(t[i]);
	}
	assert_int_equal(zd_atomic_read_relaxed(&errors), 0);
	assert_int_equal(zd_audit(w), 0);
	zd_mm_exit(c.mm);
	assert_int_equal(zd_audit(w), 0);
	assert_int_equal(zd_violation_count(w), 0);
	assert_int_equal(zd_memunmap_pages(pgmap), 0); /* nothing left allocated */
	zd_world_destroy(w);
	zd_pgmap_free(pgmap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migration_races),
	};

	zd_test_seed();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
