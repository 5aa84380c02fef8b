/* SPDX-License-Identifier: MIT */
/*
 * zonedev sync: fibers, cooperative contexts that share the OS thread that
 * switches between them. The explore backend runs its model threads as
 * fibers on the thread that schedules them, so that handing the CPU from one
 * model thread to another is a context switch in user space, not a futex
 * round trip through the kernel's scheduler.
 *
 * A fiber is created by zd_fiber_new() (its stack comes from a pool of
 * mmap'd stacks with a guard page, reused across fibers), first runs when
 * something switches to it, and ends with zd_fiber_exit(), which switches
 * away for good; its stack goes back to the pool as soon as the next context
 * runs. The context of the OS thread itself (whatever it was running when it
 * first switched to a fiber) is described by zd_fiber_thread_init().
 *
 * Every switch is annotated for the sanitizers: ASan learns each stack's
 * bounds, TSan sees each fiber as its own thread and every switch as a
 * synchronisation (so the hand-overs order memory as the baton's lock did).
 *
 * Private to src/sync/.
 */
#ifndef ZONEDEV_SRC_SYNC_FIBER_H
#define ZONEDEV_SRC_SYNC_FIBER_H

#include <stddef.h>

#if defined(__x86_64__) && defined(__linux__) && !defined(ZD_FIBER_UCONTEXT)
/* A hand-written switch: no signal-mask system call (-DZD_FIBER_UCONTEXT: the fallback). */
#define ZD_FIBER_ASM 1
#else
#include <ucontext.h>
#endif

struct zd_fiber {
#ifdef ZD_FIBER_ASM
	void *sp; /* saved stack pointer while switched out */
#else
	ucontext_t uc;
#endif
	void *map; /* the stack mapping (guard page first); NULL: an OS thread's own stack */
	size_t map_size;
	void (*fn)(void *arg); /* the fiber's body; must end in zd_fiber_exit() */
	void *arg;
	struct zd_fiber *next;	 /* on the pool of idle stacks */
	void *tsan;		 /* TSan's fiber handle */
	void *asan_fake;	 /* ASan's fake stack, saved while switched out */
	const void *asan_bottom; /* the stack ASan is told about when switching here */
	size_t asan_size;
};

/* Describe the calling context (an OS thread's stack, or a running fiber) as @f. */
void zd_fiber_thread_init(struct zd_fiber *f);
/* A new fiber that will run @fn(@arg) when first switched to. NULL (errno set) on failure. */
struct zd_fiber *zd_fiber_new(void (*fn)(void *arg), void *arg);
/* Suspend @from (the running context) and run @to; returns when something switches back. */
void zd_fiber_switch(struct zd_fiber *from, struct zd_fiber *to);
/* End the running fiber @from and run @to; @from's stack is recycled once @to runs. */
void zd_fiber_exit(struct zd_fiber *from, struct zd_fiber *to) __attribute__((noreturn));
/* Free a fiber that never ran. */
void zd_fiber_free(struct zd_fiber *f);
/*
 * @f is suspended and will never run again, but is kept (it is left as a
 * blocked thread would be left parked): its stack stays mapped and, under
 * LeakSanitizer, is scanned for pointers as a live thread's stack would be.
 */
void zd_fiber_abandon(struct zd_fiber *f);

#endif
