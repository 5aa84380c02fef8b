/* SPDX-License-Identifier: MIT */
/*
 * zonedev: accounted allocation. Every allocation the library makes for a
 * world goes through here, so fault injection and leak checks see them all.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mem/mem.h"

/* True when the n-th-allocation countdown says this one must fail. */
static bool zd_alloc_should_fail(struct zd_world *w)
{
	zd_atomic_long_add_return_relaxed(&w->alloc_count, 1);
	if (zd_atomic_long_read_relaxed(&w->fail_nth) <= 0)
		return false;
	return zd_atomic_long_add_return_acq_rel(&w->fail_nth, -1) == 0;
}

void *zd_kzalloc(struct zd_world *w, size_t size)
{
	void *p;

	if (w && zd_alloc_should_fail(w))
		return NULL;
	p = calloc(1, size ? size : 1);
	if (p && w)
		zd_atomic_long_add_return_relaxed(&w->bytes_in_use, (long)size);
	return p;
}

void zd_kfree(struct zd_world *w, void *p, size_t size)
{
	if (!p)
		return;
	free(p);
	if (w)
		zd_atomic_long_add_return_relaxed(&w->bytes_in_use, -(long)size);
}

/*
 * Large allocations are mappings of their own. The explorer builds and drops
 * a world per execution, thousands a second, and the mmap/munmap pairs and
 * first-touch faults of a small world's memmaps were a third of each one. So
 * freed mappings wait in a small process-wide cache and are handed out again
 * for the same size: a small one (a memmap: written whole anyway) is zeroed
 * by memset when reused; a large one (page contents, touched sparsely) is
 * given back to the kernel with MADV_DONTNEED as it is cached, so it reads as
 * zero again and holds no memory while it waits. The lock is taken in a
 * quiet section: allocating is no scheduling point for the explorer.
 */
#define ZD_VCACHE_SLOTS 16
#define ZD_VCACHE_MEMSET_MAX (256ul << 10)
#define ZD_VCACHE_SIZE_MAX (64ul << 20)

static struct {
	void *p;
	size_t size;
} zd_vcache[ZD_VCACHE_SLOTS];
static zd_spinlock_t zd_vcache_lock; /* zero: unlocked */

static void *zd_vcache_take(size_t size)
{
	void *p = NULL;
	int i;

	if (size > ZD_VCACHE_SIZE_MAX)
		return NULL;
	zd_sync_quiet_begin();
	zd_spin_lock(&zd_vcache_lock);
	for (i = 0; i < ZD_VCACHE_SLOTS; i++) {
		if (zd_vcache[i].p && zd_vcache[i].size == size) {
			p = zd_vcache[i].p;
			zd_vcache[i].p = NULL;
			break;
		}
	}
	zd_spin_unlock(&zd_vcache_lock);
	zd_sync_quiet_end();
	if (p && size <= ZD_VCACHE_MEMSET_MAX)
		memset(p, 0, size);
	return p;
}

static bool zd_vcache_put(void *p, size_t size)
{
	bool kept = false;
	int i;

	if (size > ZD_VCACHE_SIZE_MAX)
		return false;
	if (size > ZD_VCACHE_MEMSET_MAX && madvise(p, size, MADV_DONTNEED))
		return false;
	zd_sync_quiet_begin();
	zd_spin_lock(&zd_vcache_lock);
	for (i = 0; i < ZD_VCACHE_SLOTS && !kept; i++) {
		if (!zd_vcache[i].p) {
			zd_vcache[i].p = p;
			zd_vcache[i].size = size;
			kept = true;
		}
	}
	zd_spin_unlock(&zd_vcache_lock);
	zd_sync_quiet_end();
	return kept;
}

void *zd_vzalloc(struct zd_world *w, size_t size)
{
	void *p;

	if (w && zd_alloc_should_fail(w))
		return NULL;
	p = zd_vcache_take(size);
	if (!p)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (w)
		zd_atomic_long_add_return_relaxed(&w->bytes_in_use, (long)size);
	return p;
}

void zd_vfree(struct zd_world *w, void *p, size_t size)
{
	if (!p)
		return;
	if (!zd_vcache_put(p, size))
		munmap(p, size);
	if (w)
		zd_atomic_long_add_return_relaxed(&w->bytes_in_use, -(long)size);
}

char *zd_kstrdup(struct zd_world *w, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = zd_kzalloc(w, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

void zd_kfree_str(struct zd_world *w, char *s)
{
	if (s)
		zd_kfree(w, s, strlen(s) + 1);
}
