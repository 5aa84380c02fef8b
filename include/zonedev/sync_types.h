/* SPDX-License-Identifier: MIT */
/*
 * zonedev: storage types of the synchronisation layer (src/sync/).
 * Only the layout lives here; every operation on these is in src/sync/.
 */
#ifndef ZONEDEV_SYNC_TYPES_H
#define ZONEDEV_SYNC_TYPES_H

#include <stdbool.h>
#include <stddef.h>

/* Atomic counters. Operate on them only through src/sync/sync.h. */
typedef struct {
	_Atomic int counter;
} zd_atomic_t;

typedef struct {
	_Atomic long counter;
} zd_atomic_long_t;

typedef struct {
	_Atomic unsigned long counter;
} zd_atomic_ulong_t;

/* A spinning lock; never held across a sleep. */
typedef struct {
	_Atomic int locked;
} zd_spinlock_t;

/* A sleeping mutex: 0 when free, else an owner token. */
typedef struct {
	_Atomic unsigned long owner;
} zd_mutex_t;

/* A sleeping reader/writer semaphore (mmap_lock): >0 readers, -1 a writer, 0 free. */
typedef struct {
	_Atomic long count;
} zd_rwsem_t;

/* A completion: `done` counts complete() calls not yet consumed by a waiter. */
struct zd_completion {
	_Atomic unsigned int done;
};

struct zd_percpu_ref;
typedef void (*zd_percpu_ref_func_t)(struct zd_percpu_ref *ref);

/*
 * A reference count with the kernel's percpu_ref semantics: starts at 1
 * (the initial reference), kill() marks it dead and drops the initial
 * reference, tryget_live() fails once dead, and `release` runs when the
 * count reaches zero after kill. The count is one atomic word here (the
 * model must be able to read it exactly); the per-CPU fast path is not
 * modelled.
 */
struct zd_percpu_ref {
	_Atomic long count;	     /* references held, excluding nothing */
	_Atomic unsigned long flags; /* ZD_PERCPU_REF_DEAD, ZD_PERCPU_REF_EXITED */
	zd_percpu_ref_func_t release;
};

#endif
