/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: `poison P REF` and `poison DEV+Np` (§8): memory_failure on
 * the page behind a user address (a device-private page through its entry)
 * or on a device page. docs/failure.md says what each memory type does.
 */
#include <stdarg.h>
#include <string.h>

#include "runner.h"
#include "zonedev/failure.h"
#include "zonedev/gup.h"

bool zd_stmt_is_failure(const struct zd_stmt *st)
{
	return st->kind == ZD_ST_POISON;
}

static int zd_failure_err(struct zd_exec *e, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int zd_failure_err(struct zd_exec *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return ret;
}

static void zd_failure_result(struct zd_exec *e, const char *name, int64_t v)
{
	if (e->nr_results < ZD_MAX_RESULTS)
		e->results[e->nr_results++] = (struct zd_result){ name, v };
}

/* On the runner thread: the process and address, or the device page's pfn. */
int zd_exec_failure_prepare(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_scr_loc *loc = &e->st->u.loc;
	struct zd_rprocess *p;

	if (loc->is_page) {
		if (zd_run_page_pfn(run, &loc->page, &e->pfn))
			return zd_failure_err(e, -EINVAL, "%s", run->reason);
		return 0;
	}
	if (zd_run_ref_addr(run, loc->process, &loc->ref, &p, NULL, &e->addr))
		return zd_failure_err(e, -EINVAL, "%s", run->reason);
	if (!p->mm)
		return zd_failure_err(e, -EINVAL, "process %s has no address space", loc->process);
	e->mm = p->mm;
	return 0;
}

static const char *zd_failure_why(int ret)
{
	switch (ret) {
	case -ENXIO:
		return "not handled: device-private or device-coherent memory, device metadata, "
		       "or no live pagemap";
	case -EBUSY:
		return "the page cannot be handled: the zero page, a page in no DAX mapping "
		       "(P2PDMA, an FS DAX page no file owns), or a page being freed";
	case -EFAULT:
		return "nothing can be mapped there (no VMA, or the fault failed)";
	case -EREMOTEIO:
		return "a P2PDMA page (GUP needs FOLL_PCI_P2PDMA)";
	default:
		return "memory_failure failed";
	}
}

void zd_exec_failure_action(struct zd_exec *e)
{
	const struct zd_scr_loc *loc = &e->st->u.loc;
	struct zd_holder gup = ZD_HOLDER(ZD_HOLD_GUP, e);
	unsigned long pfn = e->pfn;
	bool held = false;
	int ret;

	if (!loc->is_page) {
		struct zd_entry_info info;

		ret = zd_mm_entry(e->mm, e->addr, &info);
		if (!ret && info.kind == ZD_ENTRY_NONE) {
			/*
			 * Nothing mapped yet: fault it in as madvise(MADV_HWPOISON) does
			 * (get_user_pages_fast of the page) and hold it across the handler.
			 */
			long got = zd_get_user_pages_fast(e->mm, e->addr, 1, ZD_FOLL_GET, &pfn, gup);

			ret = got == 1 ? 0 : got < 0 ? (int)got : -EFAULT;
			held = got == 1;
		} else if (!ret) {
			pfn = info.pfn;
		}
		if (ret) {
			e->ret = zd_failure_err(e, ret, "poison %s at %#llx: %s", loc->process,
						(unsigned long long)e->addr, zd_failure_why(ret));
			return;
		}
	}
	ret = zd_memory_failure(e->run->w, pfn, ZD_MF_SW_SIMULATED);
	if (held)
		zd_put_user_pages(e->run->w, &pfn, 1, gup);
	zd_failure_result(e, "pfn", (int64_t)pfn);
	/* A second report of a poisoned RAM page (-EHWPOISON) leaves it as asked: success. */
	zd_failure_result(e, "already", ret == -EHWPOISON);
	if (ret == -EHWPOISON)
		ret = 0;
	e->ret = ret ? zd_failure_err(e, ret, "memory_failure(pfn %#lx): %s", pfn,
				      zd_failure_why(ret))
		     : 0;
}
