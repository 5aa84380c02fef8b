/* SPDX-License-Identifier: MIT */
/*
 * zonedev: MMU interval notifiers: secondary MMUs (device mirrors) hear of
 * every invalidation of their range, with the event and its owner.
 */
#include "vm/vm.h"

int zd_mmu_interval_notifier_insert(struct zd_mmu_interval_notifier *mni, struct zd_mm *mm,
				    uint64_t start, uint64_t length,
				    const struct zd_mmu_interval_notifier_ops *ops)
{
	if (!mni || !mm || !ops || !ops->invalidate || !length || start + length < start)
		return -EINVAL;
	mni->mm = mm;
	mni->start = start;
	mni->end = start + length;
	mni->ops = ops;
	mni->active = 0;
	zd_atomic_ulong_set_relaxed(&mni->invalidate_seq, 2);
	zd_spin_lock(&mm->notifier_lock);
	mni->next = mm->notifiers;
	/* published with release: a lockless invalidation sees it initialised */
	ZD_STORE_RELEASE(mm->notifiers, mni);
	zd_spin_unlock(&mm->notifier_lock);
	return 0;
}

/*
 * Invalidations the calling task is inside (a callback may remove its own
 * notifier): task-local, as model threads under the explorer share OS threads.
 */
static unsigned long *zd_notifier_depth(void)
{
	return zd_task_local(ZD_TASK_LOCAL_NOTIFIER);
}

static bool zd_no_walkers(void *arg)
{
	return zd_atomic_read_acquire(arg) == 0;
}

/*
 * Not every invalidation holds mmap_lock: eviction by pfn reaches the
 * mappings through the rmap. So removal waits until no invalidation walks
 * the list any more before the caller may free the notifier - as the
 * kernel's removal waits for SRCU readers - unless it is called from a
 * callback, whose own walk must go on.
 */
void zd_mmu_interval_notifier_remove(struct zd_mmu_interval_notifier *mni)
{
	struct zd_mm *mm = mni->mm;
	struct zd_mmu_interval_notifier **pp;

	if (!mm)
		return;
	zd_spin_lock(&mm->notifier_lock);
	for (pp = &mm->notifiers; *pp; pp = &(*pp)->next) {
		if (*pp == mni) {
			ZD_STORE_RELEASE(*pp, mni->next);
			break;
		}
	}
	zd_spin_unlock(&mm->notifier_lock);
	mni->mm = NULL;
	if (!*zd_notifier_depth())
		zd_wait_var_event(&mm->notifier_walkers, zd_no_walkers, &mm->notifier_walkers,
				  "mmu_interval_notifier_remove waits for invalidations to leave the list");
}

static bool zd_seq_even(void *arg)
{
	return !(zd_atomic_ulong_read_acquire(arg) & 1);
}

unsigned long zd_mmu_interval_read_begin(struct zd_mmu_interval_notifier *mni)
{
	/* An odd sequence means an invalidation is running: wait for it to end. */
	zd_wait_var_event(&mni->invalidate_seq, zd_seq_even, &mni->invalidate_seq,
			  "mmu_interval_read_begin waits for an invalidation to end");
	return zd_atomic_ulong_read_acquire(&mni->invalidate_seq);
}

bool zd_mmu_interval_read_retry(struct zd_mmu_interval_notifier *mni, unsigned long seq)
{
	return zd_atomic_ulong_read_acquire(&mni->invalidate_seq) != seq;
}

void zd_mmu_interval_set_seq(struct zd_mmu_interval_notifier *mni, unsigned long cur_seq)
{
	(void)mni;
	(void)cur_seq; /* the sequence is advanced by the invalidation itself here */
}

/*
 * invalidate_range_start: every notifier overlapping [start, end) hears of
 * the change, and its sequence stays odd until the matching _end, which the
 * caller runs after changing the entries. A mirror that began reading
 * before _end (mmu_interval_read_begin waits for it) must retry.
 */
void zd_mmu_notifier_invalidate_start(struct zd_mm *mm, uint64_t start, uint64_t end,
				      enum zd_mmu_notify_event event, void *owner)
{
	struct zd_mmu_notifier_range range = { mm, start, end, event, owner };
	struct zd_mmu_interval_notifier *mni;

	/*
	 * The callbacks run without the notifier lock (they may sleep on a
	 * driver lock); a notifier removed meanwhile stays valid until every
	 * walker has left (zd_mmu_interval_notifier_remove).
	 */
	zd_atomic_add_return_acq_rel(&mm->notifier_walkers, 1);
	(*zd_notifier_depth())++;
	for (mni = ZD_LOAD_ACQUIRE(mm->notifiers); mni; mni = ZD_LOAD_ACQUIRE(mni->next)) {
		unsigned long seq;

		if (mni->end <= start || mni->start >= end)
			continue;
		/*
		 * Invalidations of one range may overlap (several run under the
		 * read lock): the sequence turns odd when the first begins and
		 * even again when the last ends.
		 */
		zd_spin_lock(&mm->notifier_lock);
		seq = zd_atomic_ulong_read_relaxed(&mni->invalidate_seq);
		if (mni->active++ == 0)
			zd_atomic_ulong_set_release(&mni->invalidate_seq, ++seq);
		zd_spin_unlock(&mm->notifier_lock);
		mni->ops->invalidate(mni, &range, seq);
	}
	(*zd_notifier_depth())--;
	if (zd_atomic_add_return_acq_rel(&mm->notifier_walkers, -1) == 0)
		zd_wake_up_var(&mm->notifier_walkers);
}

/*
 * invalidate_range_end. A notifier inserted between _start and _end has no
 * invalidation of ours to end (active is 0); one removed meanwhile is not
 * found. (The kernel keeps one mm-wide sequence for this; a notifier
 * inserted while another invalidation of the same range is open may see its
 * sequence turn even one _end early - a window zonedev accepts.)
 */
void zd_mmu_notifier_invalidate_end(struct zd_mm *mm, uint64_t start, uint64_t end)
{
	struct zd_mmu_interval_notifier *mni;

	zd_atomic_add_return_acq_rel(&mm->notifier_walkers, 1);
	for (mni = ZD_LOAD_ACQUIRE(mm->notifiers); mni; mni = ZD_LOAD_ACQUIRE(mni->next)) {
		bool last = false;

		if (mni->end <= start || mni->start >= end)
			continue;
		zd_spin_lock(&mm->notifier_lock);
		if (mni->active > 0 && --mni->active == 0) {
			last = true;
			zd_atomic_ulong_set_release(&mni->invalidate_seq,
						    zd_atomic_ulong_read_relaxed(&mni->invalidate_seq) + 1);
		}
		zd_spin_unlock(&mm->notifier_lock);
		if (last)
			zd_wake_up_var(&mni->invalidate_seq);
	}
	if (zd_atomic_add_return_acq_rel(&mm->notifier_walkers, -1) == 0)
		zd_wake_up_var(&mm->notifier_walkers);
}

void zd_mmu_notifier_invalidate(struct zd_mm *mm, uint64_t start, uint64_t end,
				enum zd_mmu_notify_event event, void *owner)
{
	zd_mmu_notifier_invalidate_start(mm, start, end, event, owner);
	zd_mmu_notifier_invalidate_end(mm, start, end);
}
