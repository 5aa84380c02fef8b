/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: fibers (see fiber.h). On x86-64 Linux a switch is a few
 * instructions of hand-written assembly (callee-saved registers and the
 * floating-point control words go on the old stack, the stack pointer is
 * swapped); elsewhere it is swapcontext(), which is portable but also saves
 * the signal mask with a system call.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiber.h"
#include "sync_internal.h"

#ifdef __has_feature
#define ZD_HAS_FEATURE(x) __has_feature(x)
#else
#define ZD_HAS_FEATURE(x) 0
#endif

#if defined(__SANITIZE_ADDRESS__) || ZD_HAS_FEATURE(address_sanitizer)
#define ZD_FIBER_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif
#if defined(__SANITIZE_THREAD__) || ZD_HAS_FEATURE(thread_sanitizer)
#define ZD_FIBER_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

/*
 * Stack size of a fiber. Mappings are lazy, so only the pages a model thread
 * touches cost memory; the sanitizers' frames are several times larger.
 */
#if defined(ZD_FIBER_ASAN) || defined(ZD_FIBER_TSAN)
#define ZD_FIBER_STACK (4ul << 20)
#else
#define ZD_FIBER_STACK (1ul << 20)
#endif
/* Idle stacks kept for reuse; more are unmapped. */
#define ZD_FIBER_POOL_MAX 64

static pthread_mutex_t zd_fiber_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zd_fiber *zd_fiber_pool;
static unsigned int zd_fiber_pool_nr;

/*
 * Switch bookkeeping of the OS thread: the context that switched last (so
 * the one that lands learns where it came from) and a fiber that has exited
 * and whose stack can be recycled as soon as another context runs.
 */
static __thread struct zd_fiber *zd_fiber_from;
static __thread struct zd_fiber *zd_fiber_cur; /* the context running (set before the switch) */
static __thread struct zd_fiber *zd_fiber_dead;

static size_t zd_fiber_page(void)
{
	static size_t page;

	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

#ifdef ZD_FIBER_ASM
/*
 * zd__fiber_swap(save, load): push the callee-saved registers and the
 * MXCSR/x87 control words, store the stack pointer in *save, load @load and
 * pop the same from there. A new fiber's stack is prepared so that the pops
 * and the return land in zd__fiber_boot, which calls the C entry held in r12
 * on a 16-byte aligned stack; the return address is undefined there, which
 * ends backtraces cleanly.
 */
void zd__fiber_swap(void **save, void *load);
void zd__fiber_boot(void);

__asm__(".text\n"
	".p2align 4\n"
	".globl zd__fiber_swap\n"
	".hidden zd__fiber_swap\n"
	".type zd__fiber_swap,@function\n"
	"zd__fiber_swap:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size zd__fiber_swap, .-zd__fiber_swap\n"
	".p2align 4\n"
	".globl zd__fiber_boot\n"
	".hidden zd__fiber_boot\n"
	".type zd__fiber_boot,@function\n"
	"zd__fiber_boot:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined rip\n"
	"	xorl %ebp, %ebp\n"
	"	callq *%r12\n"
	"	ud2\n"
	"	.cfi_endproc\n"
	".size zd__fiber_boot, .-zd__fiber_boot\n");
#endif

/* Give a dead fiber's stack back to the pool (or unmap it). */
static void zd_fiber_recycle(struct zd_fiber *f)
{
#ifdef ZD_FIBER_TSAN
	__tsan_destroy_fiber(f->tsan);
	f->tsan = NULL;
#endif
#ifdef ZD_FIBER_ASAN
	/* its frames never returned: their redzones are still poisoned */
	ASAN_UNPOISON_MEMORY_REGION((char *)f->map + zd_fiber_page(),
				    f->map_size - zd_fiber_page());
#endif
	pthread_mutex_lock(&zd_fiber_pool_lock);
	if (zd_fiber_pool_nr < ZD_FIBER_POOL_MAX) {
		f->next = zd_fiber_pool;
		zd_fiber_pool = f;
		zd_fiber_pool_nr++;
		f = NULL;
	}
	pthread_mutex_unlock(&zd_fiber_pool_lock);
	if (f) {
		munmap(f->map, f->map_size);
		free(f);
	}
}

/* What a context does first whenever it gets the CPU: finish the sanitizers' switch, reap. */
static void zd_fiber_landed(struct zd_fiber *self)
{
	struct zd_fiber *dead;

#ifdef ZD_FIBER_ASAN
	__sanitizer_finish_switch_fiber(self->asan_fake, &zd_fiber_from->asan_bottom,
					&zd_fiber_from->asan_size);
#else
	(void)self;
#endif
	dead = zd_fiber_dead;
	if (dead) {
		zd_fiber_dead = NULL;
		zd_fiber_recycle(dead);
	}
}

/* The C entry of every fiber, on its own stack; the body must end in zd_fiber_exit(). */
static void zd_fiber_entry(void)
{
	struct zd_fiber *self = zd_fiber_cur;

	zd_fiber_landed(self);
	self->fn(self->arg);
	abort();
}

void zd_fiber_thread_init(struct zd_fiber *f)
{
	memset(f, 0, sizeof(*f));
#ifdef ZD_FIBER_TSAN
	f->tsan = __tsan_get_current_fiber();
#endif
}

/* An idle stack from the pool, or a new mapping with its lowest page as the guard. */
static struct zd_fiber *zd_fiber_alloc(void)
{
	struct zd_fiber *f;
	size_t page = zd_fiber_page();

	pthread_mutex_lock(&zd_fiber_pool_lock);
	f = zd_fiber_pool;
	if (f) {
		zd_fiber_pool = f->next;
		zd_fiber_pool_nr--;
	}
	pthread_mutex_unlock(&zd_fiber_pool_lock);
	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->map_size = ZD_FIBER_STACK + page;
	f->map = mmap(NULL, f->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (f->map == MAP_FAILED) {
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	if (mprotect(f->map, page, PROT_NONE)) {
		munmap(f->map, f->map_size);
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	return f;
}

struct zd_fiber *zd_fiber_new(void (*fn)(void *arg), void *arg)
{
	struct zd_fiber *f = zd_fiber_alloc();
	char *bottom, *top;

	if (!f)
		return NULL;
	bottom = (char *)f->map + zd_fiber_page();
	top = (char *)f->map + f->map_size;
	f->fn = fn;
	f->arg = arg;
	f->next = NULL;
	f->asan_fake = NULL;
	f->asan_bottom = bottom;
	f->asan_size = (size_t)(top - bottom);
#ifdef ZD_FIBER_ASM
	{
		/*
		 * The frame zd__fiber_swap pops: control words, r15, r14, r13,
		 * r12 (the C entry), rbx, rbp, then the return into
		 * zd__fiber_boot, placed so that its call is 16-byte aligned.
		 */
		uint64_t *sp = (uint64_t *)(void *)(top - 80);

		memset(sp, 0, 80);
		sp[0] = 0x1f80 | ((uint64_t)0x037f << 32); /* MXCSR, x87 control word: defaults */
		sp[4] = (uint64_t)(uintptr_t)zd_fiber_entry;
		sp[7] = (uint64_t)(uintptr_t)zd__fiber_boot;
		f->sp = sp;
	}
#else
	if (getcontext(&f->uc)) {
		zd_fiber_recycle(f);
		return NULL;
	}
	f->uc.uc_stack.ss_sp = bottom;
	f->uc.uc_stack.ss_size = (size_t)(top - bottom);
	f->uc.uc_link = NULL;
	makecontext(&f->uc, zd_fiber_entry, 0);
#endif
#ifdef ZD_FIBER_TSAN
	f->tsan = __tsan_create_fiber(0);
#endif
	return f;
}

void zd_fiber_free(struct zd_fiber *f)
{
	if (f)
		zd_fiber_recycle(f);
}

/* Hand the CPU from @from to @to; @save_from: whether @from will be resumed. */
static inline void zd_fiber_jump(struct zd_fiber *from, struct zd_fiber *to, bool save_from)
{
	zd_fiber_from = from;
	zd_fiber_cur = to;
#ifdef ZD_FIBER_ASAN
	/* a NULL save slot tells ASan that @from is gone (its fake stack is freed) */
	__sanitizer_start_switch_fiber(save_from ? &from->asan_fake : NULL, to->asan_bottom,
				       to->asan_size);
#endif
#ifdef ZD_FIBER_TSAN
	__tsan_switch_to_fiber(to->tsan, 0); /* flags 0: the switch synchronises */
#endif
#ifdef ZD_FIBER_ASM
	zd__fiber_swap(&from->sp, to->sp);
#else
	swapcontext(&from->uc, &to->uc);
#endif
}

void zd_fiber_switch(struct zd_fiber *from, struct zd_fiber *to)
{
	zd_fiber_jump(from, to, true);
	zd_fiber_landed(from);
}

void zd_fiber_exit(struct zd_fiber *from, struct zd_fiber *to)
{
	zd_fiber_dead = from;
	zd_fiber_jump(from, to, false);
	abort(); /* nothing switches back to an exited fiber */
}

void zd_fiber_abandon(struct zd_fiber *f)
{
	if (!f || !f->map)
		return;
#ifdef ZD_FIBER_ASAN
	__lsan_register_root_region((char *)f->map + zd_fiber_page(),
				    f->map_size - zd_fiber_page());
#endif
}
