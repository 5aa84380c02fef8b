/* SPDX-License-Identifier: MIT */
/*
 * zonedev CLI: the statements of §5 (processes, mappings, CPU access), and
 * the run's process table: process name -> address space, and per process
 * mapping name -> start and size.
 *
 * As for every action (see exec.c): prepare runs on the runner thread and
 * resolves names into the zd_exec (the tables may move while a blocked
 * statement sleeps, so a task never reads them); the action runs on a task
 * and only calls the library; apply, on the runner thread again, records the
 * names the statement defined or ended.
 *
 * Data patterns: byte b of a mapping (b counted from the mapping's start) is
 * byte b % 4 of the little-endian 32-bit word zd_scr_pattern_word(b / 4), so
 * a REF or a SIZE that is not a multiple of 4 writes and compares exactly
 * the bytes of the range, partial words included. `read ... expect=` names
 * the first differing byte's 32-bit word when the whole word lies inside the
 * range read, else that byte alone.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "zonedev/dax.h"

bool zd_stmt_is_vm(const struct zd_stmt *st)
{
	switch (st->kind) {
	case ZD_ST_PROCESS:
	case ZD_ST_MMAP:
	case ZD_ST_MUNMAP:
	case ZD_ST_MPROTECT:
	case ZD_ST_MADVISE:
	case ZD_ST_FORK:
	case ZD_ST_EXIT:
	case ZD_ST_WRITE:
	case ZD_ST_READ:
		return true;
	default:
		return false;
	}
}

static int zd_vm_err(struct zd_exec *e, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int zd_vm_err(struct zd_exec *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- The process table --------------------------------------------------- */

struct zd_rprocess *zd_run_process(struct zd_run *run, const char *name)
{
	size_t i;

	for (i = run->nr_procs; i-- > 0;)
		if (!run->procs[i].ended && !strcmp(run->procs[i].name, name))
			return &run->procs[i];
	return NULL;
}

struct zd_rmapping *zd_run_mapping(struct zd_rprocess *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nr_maps; i++)
		if (!strcmp(p->maps[i].name, name))
			return &p->maps[i];
	return NULL;
}

int zd_run_ref_addr(struct zd_run *run, const char *process, const struct zd_scr_ref *ref,
		    struct zd_rprocess **proc, struct zd_rmapping **map, uint64_t *addr)
{
	struct zd_rprocess *p = zd_run_process(run, process);
	struct zd_rmapping *m;

	if (!p) {
		snprintf(run->reason, sizeof(run->reason), "%s is not a live process", process);
		return -1;
	}
	m = zd_run_mapping(p, ref->mapping);
	if (!m) {
		snprintf(run->reason, sizeof(run->reason), "%s has no mapping %s", process,
			 ref->mapping);
		return -1;
	}
	if (proc)
		*proc = p;
	if (map)
		*map = m;
	*addr = m->start + ref->offset;
	return 0;
}

/* Add a process entry; NULL when out of memory. */
static struct zd_rprocess *zd_run_add_process(struct zd_run *run, const char *name,
					      struct zd_mm *mm)
{
	struct zd_rprocess *p = realloc(run->procs, (run->nr_procs + 1) * sizeof(*p));

	if (!p)
		return NULL;
	run->procs = p;
	p = &run->procs[run->nr_procs];
	memset(p, 0, sizeof(*p));
	p->name = strdup(name);
	if (!p->name)
		return NULL;
	p->mm = mm;
	run->nr_procs++;
	return p;
}

static int zd_run_add_mapping(struct zd_rprocess *p, const char *name, uint64_t start,
			      uint64_t size)
{
	struct zd_rmapping *m = zd_run_mapping(p, name);

	if (!m) {
		m = realloc(p->maps, (p->nr_maps + 1) * sizeof(*m));
		if (!m)
			return -ENOMEM;
		p->maps = m;
		m = &p->maps[p->nr_maps];
		m->name = strdup(name);
		if (!m->name)
			return -ENOMEM;
		p->nr_maps++;
	}
	m->start = start;
	m->size = size;
	return 0;
}

void zd_run_vm_teardown(struct zd_run *run)
{
	size_t i, j;

	/* Youngest first, as a shell's children go before it; any order would do. */
	for (i = run->nr_procs; i-- > 0;) {
		struct zd_rprocess *p = &run->procs[i];

		if (p->mm && !p->ended)
			zd_mm_exit(p->mm);
		p->mm = NULL;
		for (j = 0; j < p->nr_maps; j++)
			free(p->maps[j].name);
		free(p->maps);
		free(p->name);
	}
	free(run->procs);
	run->procs = NULL;
	run->nr_procs = 0;
}

/* ---- prepare / action / apply ------------------------------------------- */

int zd_exec_vm_prepare(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	const struct zd_st_range *r = &st->u.range;
	struct zd_rprocess *p;
	struct zd_rmapping *m;
	struct zd_rdevice *d;

	switch (st->kind) {
	case ZD_ST_PROCESS:
		return 0;
	case ZD_ST_MMAP:
		p = zd_run_process(run, st->u.mmap.process);
		e->mm = p ? p->mm : NULL;
		if (st->u.mmap.device) {
			d = zd_run_device(run, st->u.mmap.device);
			e->vm_dev = d ? d->dev : NULL;
		}
		return 0;
	case ZD_ST_FORK:
		p = zd_run_process(run, st->u.fork.parent);
		e->mm = p ? p->mm : NULL;
		return 0;
	case ZD_ST_EXIT:
		/* From here on the address space belongs to this statement (see zd_rprocess). */
		p = zd_run_process(run, st->u.proc.process);
		e->mm = p ? p->mm : NULL;
		if (p)
			p->mm = NULL;
		return 0;
	case ZD_ST_MUNMAP:
	case ZD_ST_MPROTECT:
	case ZD_ST_MADVISE:
	case ZD_ST_WRITE:
	case ZD_ST_READ:
		if (zd_run_ref_addr(run, r->process, &r->ref, &p, &m, &e->addr))
			return zd_vm_err(e, -EINVAL, "%s", run->reason);
		e->mm = p->mm;
		if (r->has_size)
			e->len = r->size;
		else /* munmap REF: the rest of the mapping */
			e->len = m->size > r->ref.offset ? m->size - r->ref.offset : 0;
		return 0;
	default:
		return 0;
	}
}

static unsigned int zd_vm_prot(enum zd_scr_prot prot)
{
	switch (prot) {
	case ZD_SCR_PROT_R:
		return ZD_PROT_READ;
	case ZD_SCR_PROT_NONE:
		return ZD_PROT_NONE;
	case ZD_SCR_PROT_RW:
	default:
		return ZD_PROT_READ | ZD_PROT_WRITE;
	}
}

static const char *zd_vm_prot_name(enum zd_scr_prot prot)
{
	return prot == ZD_SCR_PROT_R ? "r" : prot == ZD_SCR_PROT_NONE ? "none" : "rw";
}

static const char *zd_vm_kind_word(enum zd_scr_map_kind kind)
{
	switch (kind) {
	case ZD_SCR_MAP_ANON:
		return "anon";
	case ZD_SCR_MAP_SHARED:
		return "shared";
	case ZD_SCR_MAP_FILE:
		return "file";
	case ZD_SCR_MAP_DAX:
		return "dax";
	case ZD_SCR_MAP_DEVDAX:
		return "devdax";
	case ZD_SCR_MAP_P2P:
		return "p2p";
	}
	return "?";
}

/* What each errno of zd_mmap means (include/zonedev/vm.h). */
static const char *zd_vm_mmap_why(int ret)
{
	switch (ret) {
	case -EINVAL:
		return "bad size, protection, kind, device type or alignment";
	case -EEXIST:
		return "the range overlaps a mapping";
	case -ENOMEM:
		return "no room, an allocation failed, or a page could not be inserted";
	case -ENOSYS:
		return "not implemented";
	case -ENODEV:
		return "the device's driver cannot be mapped";
	case -ENXIO:
		return "the device is being removed";
	case -EOPNOTSUPP:
		return "not supported in this regime";
	default:
		return "failed";
	}
}

static int zd_vm_mmap(struct zd_exec *e)
{
	const struct zd_st_mmap *s = &e->st->u.mmap;
	struct zd_mmap_args args;
	int ret;

	if (!e->mm)
		return zd_vm_err(e, -ENOENT, "process %s has no address space", s->process);
	if (s->device && !e->vm_dev)
		return zd_vm_err(e, -EINVAL, "%s is not a device", s->device);
	switch (s->kind) {
	case ZD_SCR_MAP_DEVDAX:
	case ZD_SCR_MAP_P2P:
		/*
		 * The driver's file_operations->mmap: devdax faults at the device's own
		 * alignment (`huge` changes nothing), p2p inserts its pages now.
		 */
		ret = zd_device_mmap(e->vm_dev, e->mm, s->size, zd_vm_prot(s->prot), &e->new_addr);
		goto out;
	case ZD_SCR_MAP_DAX:
		/* the DAX filesystem's mmap: shared, aligned to the device's alignment */
		ret = zd_pmem_fs(e->vm_dev) ? zd_dax_mmap(zd_pmem_fs(e->vm_dev), s->file, e->mm,
							  s->size, zd_vm_prot(s->prot),
							  &e->new_addr)
					    : -ENXIO;
		goto out;
	default:
		break;
	}
	memset(&args, 0, sizeof(args));
	args.kind = s->kind == ZD_SCR_MAP_SHARED ? ZD_MAP_SHARED
		    : s->kind == ZD_SCR_MAP_FILE ? ZD_MAP_FILE
						 : ZD_MAP_ANON;
	args.size = s->size;
	args.prot = zd_vm_prot(s->prot);
	args.shared = s->shared;
	args.huge = s->huge;
	args.file = s->file;
	args.addr = 0;
	ret = zd_mmap(e->mm, &args, &e->new_addr);
out:
	if (ret)
		return zd_vm_err(e, ret, "mmap %s of %#llx bytes (%s%s%s) in %s: %s", s->name,
				 (unsigned long long)s->size, zd_vm_kind_word(s->kind),
				 s->device ? "=" : "", s->device ? s->device : "", s->process,
				 zd_vm_mmap_why(ret));
	return 0;
}

/* Bytes [off, off + len) of a mapping filled with pattern (words count from the start). */
void zd_exec_pattern_bytes(const struct zd_scr_pattern *pat, uint64_t off, unsigned char *buf,
			   size_t len)
{
	size_t j = 0;

	/* a partial word at the start and at the end byte by byte, whole words four at once */
	while (j < len) {
		uint64_t b = off + j;
		uint32_t word = zd_scr_pattern_word(pat, b >> 2);
		unsigned int k;

		if (!(b & 3) && j + 4 <= len) {
			buf[j] = (unsigned char)word;
			buf[j + 1] = (unsigned char)(word >> 8);
			buf[j + 2] = (unsigned char)(word >> 16);
			buf[j + 3] = (unsigned char)(word >> 24);
			j += 4;
			continue;
		}
		for (k = (unsigned int)(b & 3); k < 4 && j < len; k++, j++)
			buf[j] = (unsigned char)(word >> (8 * k));
	}
}

/* A location for messages: "P A+0x1000", or "handle H" for a pinned access. */
void zd_exec_where(const struct zd_st_range *r, char *buf, size_t n)
{
	if (r->handle)
		snprintf(buf, n, "handle %s", r->handle);
	else if (r->ref.offset)
		snprintf(buf, n, "%s %s+%#llx", r->process, r->ref.mapping,
			 (unsigned long long)r->ref.offset);
	else
		snprintf(buf, n, "%s %s", r->process, r->ref.mapping);
}

/* The outcome of a CPU access: signals become ZD_EXEC_RET_SIG*, errnos stay. */
static int zd_vm_access_ret(struct zd_exec *e, int ret, const char *op)
{
	const struct zd_st_range *r = &e->st->u.range;
	char where[160];

	if (!ret)
		return 0;
	zd_exec_where(r, where, sizeof(where));
	if (ret == ZD_SIGSEGV)
		return zd_vm_err(e, ZD_EXEC_RET_SIGSEGV,
				 "%s of %#llx bytes at %s (%#llx): no mapping or no permission", op,
				 (unsigned long long)e->len, where, (unsigned long long)e->addr);
	if (ret == ZD_SIGBUS)
		return zd_vm_err(e, ZD_EXEC_RET_SIGBUS,
				 "%s of %#llx bytes at %s (%#llx): a poisoned page or a fault the "
				 "handler could not satisfy",
				 op, (unsigned long long)e->len, where,
				 (unsigned long long)e->addr);
	if (ret < 0)
		return zd_vm_err(e, ret, "%s of %#llx bytes at %s (%#llx): the fault failed%s", op,
				 (unsigned long long)e->len, where, (unsigned long long)e->addr,
				 ret == -ENOMEM ? " (out of memory: VM_FAULT_OOM)" : "");
	return zd_vm_err(e, -EFAULT, "%s at %s: the library returned %d", op, where, ret);
}

static int zd_vm_write(struct zd_exec *e)
{
	const struct zd_st_range *r = &e->st->u.range;
	unsigned char *buf;
	int ret;

	if (!e->mm)
		return zd_vm_err(e, -ENOENT, "process %s has no address space", r->process);
	buf = malloc(e->len ? e->len : 1);
	if (!buf)
		return zd_vm_err(e, -ENOMEM, "no memory for a %#llx-byte buffer",
				 (unsigned long long)e->len);
	zd_exec_pattern_bytes(&r->pattern, r->ref.offset, buf, e->len);
	ret = zd_access_write(e->mm, e->addr, buf, e->len);
	free(buf);
	return zd_vm_access_ret(e, ret, "write");
}

/*
 * Compare what was read (e->len bytes at the statement's REF) with its expected pattern; name
 * the first difference. `op` names the access in the message ("read", "gpu0 read").
 */
int zd_exec_pattern_compare(struct zd_exec *e, const unsigned char *buf, const char *op)
{
	const struct zd_st_range *r = &e->st->u.range;
	uint64_t off = r->ref.offset, len = e->len, j, b, wo, wi;
	unsigned char want, chunk[512];
	char where[160];

	/* the expected bytes a chunk at a time; the first differing byte is looked for after */
	for (j = 0; j < len; j += sizeof(chunk)) {
		size_t n = len - j < sizeof(chunk) ? (size_t)(len - j) : sizeof(chunk);

		zd_exec_pattern_bytes(&r->pattern, off + j, chunk, n);
		if (memcmp(chunk, buf + j, n))
			break;
	}
	if (j >= len)
		return 0;
	for (;; j++) {
		b = off + j;
		want = (unsigned char)(zd_scr_pattern_word(&r->pattern, b >> 2) >> (8 * (b & 3)));
		if (buf[j] != want)
			break;
	}
	zd_exec_where(r, where, sizeof(where));
	wi = b >> 2;
	wo = wi << 2;
	if (wo >= off && wo + 4 <= off + len) {
		const unsigned char *p = buf + (wo - off);
		uint32_t got = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			       (uint32_t)p[3] << 24;

		return zd_vm_err(e, -EIO,
				 "%s at %s: word %llu (offset 0x%llx) is 0x%08x, expected 0x%08x",
				 op, where, (unsigned long long)wi, (unsigned long long)wo, got,
				 zd_scr_pattern_word(&r->pattern, wi));
	}
	return zd_vm_err(e, -EIO,
			 "%s at %s: byte at offset 0x%llx (in word %llu) is 0x%02x, expected "
			 "0x%02x",
			 op, where, (unsigned long long)b, (unsigned long long)wi, buf[j], want);
}

static int zd_vm_read(struct zd_exec *e)
{
	const struct zd_st_range *r = &e->st->u.range;
	unsigned char *buf;
	int ret;

	if (!e->mm)
		return zd_vm_err(e, -ENOENT, "process %s has no address space", r->process);
	buf = malloc(e->len ? e->len : 1);
	if (!buf)
		return zd_vm_err(e, -ENOMEM, "no memory for a %#llx-byte buffer",
				 (unsigned long long)e->len);
	ret = zd_access_read(e->mm, e->addr, buf, e->len);
	ret = zd_vm_access_ret(e, ret, "read");
	if (!ret && r->has_expect)
		ret = zd_exec_pattern_compare(e, buf, "read");
	free(buf);
	return ret;
}

static int zd_vm_range_op(struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	const struct zd_st_range *r = &st->u.range;
	char where[160];
	int ret;

	if (!e->mm)
		return zd_vm_err(e, -ENOENT, "process %s has no address space", r->process);
	zd_exec_where(r, where, sizeof(where));
	switch (st->kind) {
	case ZD_ST_MUNMAP:
		ret = zd_munmap(e->mm, e->addr, e->len);
		if (ret)
			return zd_vm_err(e, ret, "munmap of %#llx bytes at %s (%#llx)%s",
					 (unsigned long long)e->len, where,
					 (unsigned long long)e->addr,
					 ret == -EINVAL ? ": not page aligned" : " failed");
		return 0;
	case ZD_ST_MPROTECT:
		ret = zd_mprotect(e->mm, e->addr, e->len, zd_vm_prot(r->prot));
		if (ret)
			return zd_vm_err(e, ret, "mprotect of %#llx bytes at %s to %s%s",
					 (unsigned long long)e->len, where,
					 zd_vm_prot_name(r->prot),
					 ret == -ENOMEM	  ? ": part of the range is not mapped"
					 : ret == -EACCES ? ": beyond the file's rights"
					 : ret == -EINVAL ? ": not page aligned"
							  : " failed");
		return 0;
	case ZD_ST_MADVISE:
		ret = zd_madvise_dontneed(e->mm, e->addr, e->len);
		if (ret)
			return zd_vm_err(e, ret,
					 "madvise(MADV_DONTNEED) of %#llx bytes at %s failed",
					 (unsigned long long)e->len, where);
		return 0;
	default:
		return 0;
	}
}

void zd_exec_vm_action(struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	int ret;

	switch (st->kind) {
	case ZD_ST_PROCESS:
		ret = zd_mm_create(e->run->w, st->u.proc.process, &e->new_mm);
		e->ret = ret ? zd_vm_err(e, ret, "cannot create the address space of %s",
					 st->u.proc.process)
			     : 0;
		return;
	case ZD_ST_MMAP:
		e->ret = zd_vm_mmap(e);
		return;
	case ZD_ST_FORK:
		if (!e->mm) {
			e->ret = zd_vm_err(e, -ENOENT, "process %s has no address space",
					   st->u.fork.parent);
			return;
		}
		ret = zd_mm_fork(e->mm, st->u.fork.child, &e->new_mm);
		e->ret = ret ? zd_vm_err(e, ret,
					 "fork of %s failed (an allocation, or a device-exclusive "
					 "entry that cannot be restored)",
					 st->u.fork.parent)
			     : 0;
		return;
	case ZD_ST_EXIT:
		if (e->mm)
			zd_mm_exit(e->mm);
		e->ret = 0;
		return;
	case ZD_ST_MUNMAP:
	case ZD_ST_MPROTECT:
	case ZD_ST_MADVISE:
		e->ret = zd_vm_range_op(e);
		return;
	case ZD_ST_WRITE:
		e->ret = zd_vm_write(e);
		return;
	case ZD_ST_READ:
		e->ret = zd_vm_read(e);
		return;
	default:
		e->ret = zd_vm_err(e, -ENOSYS, "'%s' is not an address-space statement",
				   zd_stmt_kind_name(st->kind));
		return;
	}
}

/*
 * Names: `process P` and `P fork Q` define a process, `P mmap NAME` a mapping, `P exit` ends
 * the process. A `~` statement that failed defines its names all the same (a process with no
 * address space, a mapping at 0 whose accesses fault).
 */
void zd_exec_vm_apply(struct zd_run *run, struct zd_exec *e)
{
	const struct zd_stmt *st = e->st;
	struct zd_rprocess *p, *child;
	size_t i;

	switch (st->kind) {
	case ZD_ST_PROCESS:
		if (!zd_run_add_process(run, st->u.proc.process, e->ret ? NULL : e->new_mm) &&
		    !e->ret)
			zd_mm_exit(e->new_mm); /* out of memory: do not leak the process */
		return;
	case ZD_ST_FORK:
		child = zd_run_add_process(run, st->u.fork.child, e->ret ? NULL : e->new_mm);
		if (!child) {
			if (!e->ret)
				zd_mm_exit(e->new_mm);
			return;
		}
		p = zd_run_process(run, st->u.fork.parent); /* after the realloc above */
		for (i = 0; p && i < p->nr_maps; i++)
			zd_run_add_mapping(child, p->maps[i].name, p->maps[i].start,
					   p->maps[i].size);
		return;
	case ZD_ST_MMAP:
		p = zd_run_process(run, st->u.mmap.process);
		if (p)
			zd_run_add_mapping(p, st->u.mmap.name, e->ret ? 0 : e->new_addr,
					   st->u.mmap.size);
		return;
	case ZD_ST_EXIT:
		p = zd_run_process(run, st->u.proc.process);
		if (p) {
			p->mm = NULL;
			p->ended = true;
		}
		return;
	default:
		return;
	}
}
