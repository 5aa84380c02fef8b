/* SPDX-License-Identifier: MIT */
/*
 * zonedev internal: struct zd_world, the root object every layer hangs its
 * state from. Lower layers see only pointers to the higher layers' state.
 */
#ifndef ZONEDEV_SRC_WORLD_H
#define ZONEDEV_SRC_WORLD_H

#include "zonedev/world.h"
#include "zonedev/sync_types.h"

struct zd_mem;
struct zd_pgmap_registry;
struct zd_check;
struct zd_vm_world;
struct zd_regime_policy;

struct zd_world_cleanup {
	void (*fn)(void *arg);
	void *arg;
};

/* Bugs of the museum that are modelled (index into the museum table). */
enum zd_bug {
	ZD_BUG_RELEASE_PAGES_DEVMAP = 0,
	ZD_BUG_UNPLUG_BEFORE_DRAIN,
	ZD_BUG_COMPOUND_DEVMAP_PER_PFN_PUT,
	ZD_BUG_FREE_PRIVATE_REFCOUNT_ONE,
	ZD_BUG_MEMUNMAP_NO_WAIT_PRIVATE,
	ZD_BUG_PRIVATE_FAULT_FREE_RACE,
	ZD_BUG_FSDAX_MISSED_WAKE,
	ZD_BUG_DEVMAP_WALKER_PUT,
	ZD_BUG_P2P_ALLOC_INIT_FIRST_PAGE,
	ZD_BUG_P2P_MMAP_ERROR_PGMAP_LEAK,
	ZD_BUG_P2P_MMAP_ERROR_PAGE_REF,
	ZD_BUG_FREE_PATH_REQUIRES_OPS,
	ZD_BUG_STALE_COMPOUND_REINIT,
	ZD_BUG_MEMORY_FAILURE_METADATA,
	ZD_NR_BUGS,
};

/*
 * What the step checks look at (src/check/step.c): the head pfns the
 * reference operations touched since the last pass, and the free
 * transitions and free callbacks counted meanwhile.
 */
#define ZD_STEP_LOG 64
struct zd_step_log {
	unsigned long pfn[ZD_STEP_LOG];
	unsigned int nr;
	bool overflow; /* more pfns than fit: the next pass looks at every folio */
	unsigned long free_events, free_calls;
	unsigned long passes;
};

struct zd_world {
	unsigned int id; /* index in the process-wide world table (kept in page->flags) */
	enum zd_regime regime;
	const struct zd_regime_policy *policy;
	struct zd_regime_policy *policy_owned; /* a copy changed by museum bugs, or NULL */
	uint64_t seed;
	bool track_holders;
	struct zd_step_log *step; /* step checks on (src/check/step.c), or NULL */
	/*
	 * zd_world_destroy is tearing the world down: its owner guarantees no
	 * other user, so no RCU reader can be inside its tables and teardown
	 * skips the grace periods (an explorer destroys a world per execution).
	 */
	bool dying;
	unsigned long bugs; /* bit (1 << enum zd_bug) */
	int nr_pgmaps_ever; /* regime and bugs are fixed once a device exists */

	zd_atomic_long_t fail[ZD_NR_FAIL_SITES];
	zd_atomic_long_t fail_nth;    /* countdown to the failing allocation; 0 = off */
	zd_atomic_long_t alloc_count; /* internal allocations made */
	zd_atomic_long_t bytes_in_use;

	struct zd_world_cleanup *cleanups;
	size_t nr_cleanups;

	struct zd_mem *mem;
	struct zd_pgmap_registry *pgmaps;
	struct zd_check *check;
	struct zd_vm_world *vm;

	/* memory failure (src/failure/): one handler at a time, as the kernel's mf_mutex */
	zd_mutex_t mf_mutex;
	zd_atomic_long_t nr_poisoned; /* num_poisoned_pages */
};

/* The world whose index is stored in a page's flags. */
struct zd_world *zd_world_by_id(unsigned int id);

static inline bool zd_bug_on(const struct zd_world *w, enum zd_bug bug)
{
	return (w->bugs >> bug) & 1;
}

/* Consume one injected failure at `site`: true if this operation must fail. */
bool zd_should_fail(struct zd_world *w, enum zd_fail_site site);

#endif
