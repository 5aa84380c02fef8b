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

void *zd_vzalloc(struct zd_world *w, size_t size)
{
	void *p;

	if (w && zd_alloc_should_fail(w))
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
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
