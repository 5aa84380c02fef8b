/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the statements of §6, device access through a mirror (the
 * dmirror driver's commands): read, write, migrate, evict, exclusive,
 * check-exclusive, release, snapshot and fail-alloc.
 *
 * As for every action (see exec.c): prepare runs on the runner thread and
 * resolves the device, the process's address space and the REF's address
 * into the zd_exec; the action runs on a task and only calls the library.
 * These statements define no names, so they need no apply step.
 *
 * Results: cpages and faults (read, write, migrate, evict, exclusive,
 * release: whatever the driver reports, also when the command fails), and
 * exclusive (check-exclusive). `DEV read ... expect=PATTERN` compares as
 * `P read` does (words counted from the mapping's start); `DEV snapshot`
 * compares each page's codes with the LIST and names the first page that
 * differs, with both code sets.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

bool zd_stmt_is_dev(const struct zd_stmt *st)
{
	switch (st->kind) {
	case ZD_ST_DEV_READ:
	case ZD_ST_DEV_WRITE:
	case ZD_ST_DEV_MIGRATE:
	case ZD_ST_DEV_EVICT:
	case ZD_ST_DEV_EXCLUSIVE:
	case ZD_ST_DEV_CHECK_EXCLUSIVE:
	case ZD_ST_DEV_RELEASE:
	case ZD_ST_DEV_SNAPSHOT:
	case ZD_ST_DEV_FAIL_ALLOC:
		return true;
	default:
		return false;
	}
}

static int zd_dev_err(struct zd_exec *e, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int zd_dev_err(struct zd_exec *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return ret;
}

static void zd_dev_result(struct zd_exec *e, const char *name, int64_t v)
{
	if (e->nr_results < ZD_MAX_RESULTS)
		e->results[e->nr_results++] = (struct zd_result){name, v};
}

/* The device statement's name of its device. */
static const char *zd_dev_name(const struct zd_stmt *st)
{
	if (st->kind == ZD_ST_DEV_RELEASE || st->kind == ZD_ST_DEV_FAIL_ALLOC)
		return st->u.dev.device;
	return st->u.range.device;
}

int zd_exec_dev_prepare(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	const struct zd_st_range *r = &st->u.range;
	struct zd_rdevice *d = zd_run_device(run, zd_dev_name(st));
	struct zd_rprocess *p;

	e->vm_dev = d ? d->dev : NULL;
	if (st->kind == ZD_ST_DEV_RELEASE || st->kind == ZD_ST_DEV_FAIL_ALLOC)
		return 0;
	if (zd_run_ref_addr(run, r->process, &r->ref, &p, NULL, &e->addr))
		return zd_dev_err(e, -EINVAL, "%s", run->reason);
	e->mm = p->mm;
	e->len = r->size;
	return 0;
}

/* What each errno of the dmirror commands means (include/zonedev/drivers.h). */
static const char *zd_dev_why(int ret)
{
	switch (ret) {
	case -EINVAL:
		return "not page aligned, not a mirror device, or a mapping that cannot be read or "
		       "migrated";
	case -ENXIO:
		return "the device was removed";
	case -ENOENT:
		return "the device does not map every page of the range afterwards";
	case -EFAULT:
		return "a device fault failed (no mapping, no read permission, or the CPU fault "
		       "failed)";
	case -EPERM:
		return "a device write fault on a mapping without write permission";
	case -EBUSY:
		return "the device faults never made the range usable";
	case -ENOMEM:
		return "out of memory";
	case -EOPNOTSUPP:
		return "not anonymous memory";
	default:
		return "failed";
	}
}

/* The outcome of a command: its results, and a reason naming the statement on failure. */
static int zd_dev_done(struct zd_exec *e, int ret, const struct zd_dmirror_result *res,
		       const char *op)
{
	const struct zd_stmt *st = e->st;
	char where[160];

	if (res) {
		zd_dev_result(e, "cpages", (int64_t)res->cpages);
		zd_dev_result(e, "faults", (int64_t)res->faults);
	}
	if (!ret)
		return 0;
	if (st->kind == ZD_ST_DEV_RELEASE || st->kind == ZD_ST_DEV_FAIL_ALLOC)
		return zd_dev_err(e, ret, "%s %s: %s", zd_dev_name(st), op, zd_dev_why(ret));
	zd_exec_where(&st->u.range, where, sizeof(where));
	return zd_dev_err(e, ret, "%s %s of %#llx bytes at %s (%#llx): %s", zd_dev_name(st), op,
			  (unsigned long long)e->len, where, (unsigned long long)e->addr,
			  zd_dev_why(ret));
}

static int zd_dev_read(struct zd_exec *e)
{
	const struct zd_st_range *r = &e->st->u.range;
	struct zd_dmirror_result res = {0, 0};
	unsigned char *buf;
	char op[96];
	int ret;

	buf = malloc(e->len ? e->len : 1);
	if (!buf)
		return zd_dev_err(e, -ENOMEM, "no memory for a %#llx-byte buffer",
				  (unsigned long long)e->len);
	ret = zd_dmirror_read(e->vm_dev, e->mm, e->addr, e->len, buf, &res);
	ret = zd_dev_done(e, ret, &res, "read");
	if (!ret && r->has_expect) {
		snprintf(op, sizeof(op), "%s read", r->device);
		ret = zd_exec_pattern_compare(e, buf, op);
	}
	free(buf);
	return ret;
}

static int zd_dev_write(struct zd_exec *e)
{
	const struct zd_st_range *r = &e->st->u.range;
	struct zd_dmirror_result res = {0, 0};
	unsigned char *buf;
	int ret;

	buf = malloc(e->len ? e->len : 1);
	if (!buf)
		return zd_dev_err(e, -ENOMEM, "no memory for a %#llx-byte buffer",
				  (unsigned long long)e->len);
	zd_exec_pattern_bytes(&r->pattern, r->ref.offset, buf, e->len);
	ret = zd_dmirror_write(e->vm_dev, e->mm, e->addr, e->len, buf, &res);
	free(buf);
	return zd_dev_done(e, ret, &res, "write");
}

/* A test_hmm snapshot byte as the language's code bits (ZD_SCR_SNAP_*). */
static uint32_t zd_dev_snap_codes(unsigned char code)
{
	uint32_t c = 0;

	if (code == ZD_DMIRROR_PROT_ERROR)
		return ZD_SCR_SNAP_ERROR;
	switch (code & ZD_DMIRROR_PROT_TYPE_MASK) {
	case ZD_DMIRROR_PROT_ZERO:
		c |= ZD_SCR_SNAP_ZERO;
		break;
	case ZD_DMIRROR_PROT_DEV_PRIVATE_LOCAL:
		c |= ZD_SCR_SNAP_PRIVATE_LOCAL;
		break;
	case ZD_DMIRROR_PROT_DEV_PRIVATE_REMOTE:
		c |= ZD_SCR_SNAP_PRIVATE_REMOTE;
		break;
	case ZD_DMIRROR_PROT_DEV_COHERENT_LOCAL:
		c |= ZD_SCR_SNAP_COHERENT_LOCAL;
		break;
	case ZD_DMIRROR_PROT_DEV_COHERENT_REMOTE:
		c |= ZD_SCR_SNAP_COHERENT_REMOTE;
		break;
	default:
		break;
	}
	if (code & ZD_DMIRROR_PROT_READ)
		c |= ZD_SCR_SNAP_READ;
	if (code & ZD_DMIRROR_PROT_WRITE)
		c |= ZD_SCR_SNAP_WRITE;
	if (code & ZD_DMIRROR_PROT_PMD)
		c |= ZD_SCR_SNAP_PMD;
	if (code & ZD_DMIRROR_PROT_PUD)
		c |= ZD_SCR_SNAP_PUD;
	return c;
}

static int zd_dev_snapshot(struct zd_exec *e)
{
	const struct zd_st_range *r = &e->st->u.range;
	const struct zd_scr_snapshot *want = &r->snapshot;
	uint64_t npages = e->len >> ZD_PAGE_SHIFT, page = 0;
	unsigned char *codes;
	char where[160], got_s[128], want_s[128];
	size_t k;
	int ret;

	if (e->len & (ZD_PAGE_SIZE - 1))
		return zd_dev_done(e, -EINVAL, NULL, "snapshot");
	codes = malloc(npages ? npages : 1);
	if (!codes)
		return zd_dev_err(e, -ENOMEM, "no memory for %llu snapshot codes",
				  (unsigned long long)npages);
	ret = zd_dmirror_snapshot(e->vm_dev, e->mm, e->addr, e->len, codes);
	if (ret) {
		free(codes);
		return zd_dev_done(e, ret, NULL, "snapshot");
	}
	for (k = 0; k < want->nr_runs && !ret; k++) {
		uint64_t n;

		for (n = 0; n < want->runs[k].count && page < npages; n++, page++) {
			uint32_t got = zd_dev_snap_codes(codes[page]);

			if (got == want->runs[k].codes)
				continue;
			zd_exec_where(r, where, sizeof(where));
			zd_scr_snapshot_codes_name(got, got_s, sizeof(got_s));
			zd_scr_snapshot_codes_name(want->runs[k].codes, want_s, sizeof(want_s));
			ret = zd_dev_err(
			    e, -EIO,
			    "%s snapshot at %s: page %llu (offset %#llx) is %s, "
			    "expected %s",
			    r->device, where, (unsigned long long)page,
			    (unsigned long long)(r->ref.offset + (page << ZD_PAGE_SHIFT)), got_s,
			    want_s);
			break;
		}
	}
	free(codes);
	return ret;
}

void zd_exec_dev_action(struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	struct zd_dmirror_result res = {0, 0};
	bool exclusive = false;
	int ret;

	if (!e->vm_dev) {
		e->ret = zd_dev_err(e, -EINVAL, "%s is not a device", zd_dev_name(st));
		return;
	}
	if (st->kind != ZD_ST_DEV_RELEASE && st->kind != ZD_ST_DEV_FAIL_ALLOC && !e->mm) {
		e->ret =
		    zd_dev_err(e, -ENOENT, "process %s has no address space", st->u.range.process);
		return;
	}
	switch (st->kind) {
	case ZD_ST_DEV_READ:
		e->ret = zd_dev_read(e);
		return;
	case ZD_ST_DEV_WRITE:
		e->ret = zd_dev_write(e);
		return;
	case ZD_ST_DEV_MIGRATE:
		ret = zd_dmirror_migrate_to_dev(e->vm_dev, e->mm, e->addr, e->len, &res);
		e->ret = zd_dev_done(e, ret, &res, "migrate");
		return;
	case ZD_ST_DEV_EVICT:
		ret = zd_dmirror_migrate_to_sys(e->vm_dev, e->mm, e->addr, e->len, &res);
		e->ret = zd_dev_done(e, ret, &res, "evict");
		return;
	case ZD_ST_DEV_EXCLUSIVE:
		ret = zd_dmirror_exclusive(e->vm_dev, e->mm, e->addr, e->len, &res);
		e->ret = zd_dev_done(e, ret, &res, "exclusive");
		return;
	case ZD_ST_DEV_CHECK_EXCLUSIVE:
		ret = zd_dmirror_check_exclusive(e->vm_dev, e->mm, e->addr, e->len, &exclusive);
		zd_dev_result(e, "exclusive", exclusive);
		e->ret = zd_dev_done(e, ret, NULL, "check-exclusive");
		return;
	case ZD_ST_DEV_RELEASE:
		ret = zd_dmirror_release(e->vm_dev, &res);
		e->ret = zd_dev_done(e, ret, &res, "release");
		return;
	case ZD_ST_DEV_SNAPSHOT:
		e->ret = zd_dev_snapshot(e);
		return;
	case ZD_ST_DEV_FAIL_ALLOC:
		ret = zd_dmirror_fail_alloc(e->vm_dev, (unsigned long)st->u.dev.count);
		e->ret = zd_dev_done(e, ret, NULL, "fail-alloc");
		return;
	default:
		e->ret = zd_dev_err(e, -ENOSYS, "'%s' is not a device statement",
				    zd_stmt_kind_name(st->kind));
		return;
	}
}
