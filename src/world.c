/* SPDX-License-Identifier: MIT */
/*
 * zonedev: the world: creation and teardown, the process-wide table that
 * maps the world index kept in page->flags back to its world, regime, RAM,
 * fault-injection sites and the bug museum switches.
 */
#include <string.h>

#include "world.h"
#include "mem/mem.h"
#include "page/regime.h"
#include "pgmap/pgmap.h"
#include "check/check.h"
#include "vm/vm.h"

void zd_gup_audit(struct zd_world *w, struct zd_audit *a, void *arg);
void zd_failure_audit(struct zd_world *w, struct zd_audit *a, void *arg);

#define ZD_MAX_WORLDS (1u << ZD_PAGE_WORLD_BITS)

static struct zd_world *zd_worlds[ZD_MAX_WORLDS];
static zd_mutex_t zd_worlds_lock;
static zd_once_t zd_worlds_once = ZD_ONCE_INIT;

static void zd_worlds_init(void)
{
	zd_mutex_init(&zd_worlds_lock);
}

struct zd_world *zd_world_by_id(unsigned int id)
{
	return id < ZD_MAX_WORLDS ? zd_worlds[id] : NULL;
}

void zd_world_opts_init(struct zd_world_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->regime = ZD_REGIME_UNIFIED;
	opts->ram_bytes = 1ull << 30;
	opts->seed = 1;
	opts->track_holders = true;
}

static int zd_world_register(struct zd_world *w)
{
	unsigned int i;

	zd_once(&zd_worlds_once, zd_worlds_init);
	zd_mutex_lock(&zd_worlds_lock);
	/* Index 0 is never used, so a zeroed page is recognisably worldless. */
	for (i = 1; i < ZD_MAX_WORLDS; i++) {
		if (!zd_worlds[i]) {
			zd_worlds[i] = w;
			w->id = i;
			break;
		}
	}
	zd_mutex_unlock(&zd_worlds_lock);
	return i < ZD_MAX_WORLDS ? 0 : -ENOSPC;
}

static void zd_world_unregister(struct zd_world *w)
{
	zd_mutex_lock(&zd_worlds_lock);
	if (w->id && zd_worlds[w->id] == w)
		zd_worlds[w->id] = NULL;
	zd_mutex_unlock(&zd_worlds_lock);
}

int zd_world_create(const struct zd_world_opts *opts, struct zd_world **out)
{
	struct zd_world_opts defaults;
	struct zd_world *w;
	int ret;

	if (!out)
		return -EINVAL;
	if (!opts) {
		zd_world_opts_init(&defaults);
		opts = &defaults;
	}
	if ((unsigned int)opts->regime >= ZD_NR_REGIMES)
		return -EINVAL;
	w = zd_kzalloc(NULL, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->regime = opts->regime;
	w->policy = zd_regime_policy(opts->regime);
	w->seed = opts->seed ? opts->seed : 1;
	w->track_holders = opts->track_holders;
	ret = zd_world_register(w);
	if (ret)
		goto err_free;
	ret = zd_check_init(w);
	if (ret)
		goto err_unregister;
	ret = zd_mem_init(w, opts->ram_bytes ? opts->ram_bytes : 1ull << 30);
	if (ret)
		goto err_check;
	ret = zd_pgmap_registry_init(w);
	if (ret)
		goto err_mem;
	ret = zd_vm_init(w);
	if (ret)
		goto err_pgmaps;
	ret = zd_audit_register(w, zd_gup_audit, NULL);
	if (!ret)
		ret = zd_audit_register(w, zd_failure_audit, NULL);
	if (ret)
		goto err_vm;
	zd_mutex_init(&w->mf_mutex);
	if (opts->trace)
		zd_trace_enable(w, true);
	*out = w;
	return 0;

err_vm:
	zd_vm_exit(w);
err_pgmaps:
	zd_pgmap_registry_exit(w);
err_mem:
	zd_mem_exit(w);
err_check:
	zd_check_exit(w);
err_unregister:
	zd_world_unregister(w);
err_free:
	zd_kfree(NULL, w, sizeof(*w));
	return ret;
}

void zd_world_destroy(struct zd_world *w)
{
	if (!w)
		return;
	zd_check_step_enable(w, false);
	w->dying = true;
	zd_vm_exit(w); /* processes first: their mappings hold device pages */
	zd_pgmap_registry_exit(w);
	while (w->nr_cleanups) {
		struct zd_world_cleanup c = w->cleanups[--w->nr_cleanups];

		c.fn(c.arg);
	}
	zd_kfree(NULL, w->cleanups, 0);
	zd_mem_exit(w);
	zd_check_exit(w);
	zd_world_unregister(w);
	zd_kfree(NULL, w->policy_owned, 0);
	zd_kfree(NULL, w, sizeof(*w));
}

int zd_world_add_cleanup(struct zd_world *w, void (*fn)(void *arg), void *arg)
{
	struct zd_world_cleanup *c = zd_kzalloc(NULL, (w->nr_cleanups + 1) * sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (w->nr_cleanups)
		memcpy(c, w->cleanups, w->nr_cleanups * sizeof(*c));
	zd_kfree(NULL, w->cleanups, 0);
	w->cleanups = c;
	w->cleanups[w->nr_cleanups++] = (struct zd_world_cleanup){fn, arg};
	return 0;
}

void zd_world_remove_cleanup(struct zd_world *w, void (*fn)(void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < w->nr_cleanups; i++) {
		if (w->cleanups[i].fn == fn && w->cleanups[i].arg == arg) {
			memmove(&w->cleanups[i], &w->cleanups[i + 1],
				(w->nr_cleanups - i - 1) * sizeof(*w->cleanups));
			w->nr_cleanups--;
			return;
		}
	}
}

enum zd_regime zd_world_regime(const struct zd_world *w)
{
	return w->regime;
}

int zd_world_set_regime(struct zd_world *w, enum zd_regime regime)
{
	if ((unsigned int)regime >= ZD_NR_REGIMES)
		return -EINVAL;
	if (w->nr_pgmaps_ever)
		return -EBUSY;
	w->regime = regime;
	w->policy = zd_regime_policy(regime);
	w->bugs = 0; /* bugs are regime-specific: enable them after the regime */
	zd_kfree(NULL, w->policy_owned, 0);
	w->policy_owned = NULL;
	return 0;
}

int zd_world_set_ram(struct zd_world *w, uint64_t bytes)
{
	return zd_mem_set_ram(w, bytes);
}

uint64_t zd_world_seed(const struct zd_world *w)
{
	return w->seed;
}

void zd_world_set_seed(struct zd_world *w, uint64_t seed)
{
	w->seed = seed ? seed : 1;
}

/* ---- Fault injection -------------------------------------------------------- */

static const struct {
	const char *name;
	const char *help;
} zd_fail_sites[ZD_NR_FAIL_SITES] = {
    [ZD_FAIL_RAM] = {"ram", "a system RAM page allocation"},
    [ZD_FAIL_PGTABLE] = {"pgtable", "a page-table page allocation"},
    [ZD_FAIL_INSERT] = {"insert", "inserting a page into a user mapping (vm_insert_page)"},
    [ZD_FAIL_MEMMAP] = {"memmap", "the struct pages of a range at memremap"},
    [ZD_FAIL_ALLOC] = {"alloc", "any internal allocation of the library"},
};

const char *zd_fail_site_name(enum zd_fail_site site)
{
	return (unsigned int)site < ZD_NR_FAIL_SITES ? zd_fail_sites[site].name : "?";
}

const char *zd_fail_site_help(enum zd_fail_site site)
{
	return (unsigned int)site < ZD_NR_FAIL_SITES ? zd_fail_sites[site].help : "?";
}

int zd_fail_site_parse(const char *name, enum zd_fail_site *out)
{
	unsigned int i;

	for (i = 0; i < ZD_NR_FAIL_SITES; i++) {
		if (!strcmp(name, zd_fail_sites[i].name)) {
			*out = (enum zd_fail_site)i;
			return 0;
		}
	}
	return -ENOENT;
}

void zd_world_fail(struct zd_world *w, enum zd_fail_site site, unsigned long count)
{
	if ((unsigned int)site >= ZD_NR_FAIL_SITES)
		return;
	if (site == ZD_FAIL_ALLOC) {
		zd_world_fail_nth_alloc(w, count ? 1 : 0);
		return;
	}
	zd_atomic_long_set_relaxed(&w->fail[site], (long)count);
}

bool zd_should_fail(struct zd_world *w, enum zd_fail_site site)
{
	long left = zd_atomic_long_read_relaxed(&w->fail[site]);

	while (left > 0) {
		long seen = zd_atomic_long_add_return_acq_rel(&w->fail[site], -1);

		if (seen >= 0)
			return true;
		/* Lost a race to the last one: undo and report no failure. */
		zd_atomic_long_add_return_relaxed(&w->fail[site], 1);
		left = 0;
	}
	return false;
}

void zd_world_fail_nth_alloc(struct zd_world *w, unsigned long n)
{
	zd_atomic_long_set_relaxed(&w->fail_nth, (long)n);
}

unsigned long zd_world_alloc_count(const struct zd_world *w)
{
	return (unsigned long)zd_atomic_long_read_relaxed(&w->alloc_count);
}

uint64_t zd_world_bytes_in_use(const struct zd_world *w)
{
	return (uint64_t)zd_atomic_long_read_relaxed(&w->bytes_in_use);
}
