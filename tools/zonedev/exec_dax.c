/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the §8 DAX file statements of an fsdax device: create,
 * truncate, punch, reflink, delete (src/dax/fs.c does the work).
 */
#include <stdarg.h>
#include <stdio.h>

#include "runner.h"
#include "zonedev/dax.h"

bool zd_stmt_is_dax(const struct zd_stmt *st)
{
	switch (st->kind) {
	case ZD_ST_DAX_CREATE:
	case ZD_ST_DAX_TRUNCATE:
	case ZD_ST_DAX_PUNCH:
	case ZD_ST_DAX_REFLINK:
	case ZD_ST_DAX_DELETE:
		return true;
	default:
		return false;
	}
}

static int zd_dax_err(struct zd_exec *e, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int zd_dax_err(struct zd_exec *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return ret;
}

int zd_exec_dax_prepare(struct zd_run *run, struct zd_exec *e)
{
	struct zd_rdevice *d = zd_run_device(run, e->st->u.file.device);

	e->vm_dev = d ? d->dev : NULL;
	return 0;
}

static const char *zd_dax_why(int ret)
{
	switch (ret) {
	case -ENOENT:
		return "no such file";
	case -EEXIST:
		return "the file exists";
	case -ENOMEM:
		return "no free blocks";
	case -EINVAL:
		return "bad name, offset or length";
	case -ENXIO:
		return "the device is being removed";
	case -EINTR:
		return "cancelled while waiting for a busy page";
	default:
		return "failed";
	}
}

void zd_exec_dax_action(struct zd_exec *e)
{
	const struct zd_st_file *f = &e->st->u.file;
	struct zd_daxfs *fs = zd_pmem_fs(e->vm_dev);
	long blocks;
	int ret;

	if (!fs) {
		e->ret = zd_dax_err(e, -EINVAL, "%s is not a live fsdax device", f->device);
		return;
	}
	switch (e->st->kind) {
	case ZD_ST_DAX_CREATE:
		ret = zd_dax_create(fs, f->file, f->size);
		break;
	case ZD_ST_DAX_TRUNCATE:
		ret = zd_dax_truncate(fs, f->file, f->size);
		break;
	case ZD_ST_DAX_PUNCH:
		ret = zd_dax_punch(fs, f->file, f->offset, f->size);
		break;
	case ZD_ST_DAX_REFLINK:
		ret = zd_dax_reflink(fs, f->file, f->src_file);
		break;
	case ZD_ST_DAX_DELETE:
		ret = zd_dax_delete(fs, f->file);
		break;
	default:
		ret = -ENOSYS;
		break;
	}
	if (ret) {
		e->ret = zd_dax_err(e, ret, "%s %s of %s: %s", f->device,
				    zd_stmt_kind_name(e->st->kind) + 4, f->file, zd_dax_why(ret));
		return;
	}
	e->ret = 0;
	if (e->st->kind != ZD_ST_DAX_DELETE) {
		blocks = zd_dax_file_blocks(fs, f->file);
		if (blocks >= 0 && e->nr_results < ZD_MAX_RESULTS)
			e->results[e->nr_results++] = (struct zd_result){"blocks", blocks};
	}
	if (e->nr_results < ZD_MAX_RESULTS)
		e->results[e->nr_results++] =
		    (struct zd_result){"free", (int64_t)zd_daxfs_nr_free(fs)};
}
