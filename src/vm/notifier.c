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

void zd_mmu_notifier_invalidate(struct zd_mm *mm, uint64_t start, uint64_t end,
				enum zd_mmu_notify_event event, void *owner)
{
	struct zd_mmu_notifier_range range = { mm, start, end, event, owner };
	struct zd_mmu_interval_notifier *mni;

	/*
	 * The callbacks run without the notifier lock (they may sleep on a
	 * driver lock); notifiers are added and removed by their owners under
	 * mmap_lock, which the callers of invalidate hold.
	 */
	for (mni = ZD_LOAD_ACQUIRE(mm->notifiers); mni; mni = ZD_LOAD_ACQUIRE(mni->next)) {
		unsigned long seq;
		bool last;

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
		zd_spin_lock(&mm->notifier_lock);
		last = --mni->active == 0;
		if (last)
			zd_atomic_ulong_set_release(&mni->invalidate_seq,
						    zd_atomic_ulong_read_relaxed(&mni->invalidate_seq) + 1);
		zd_spin_unlock(&mm->notifier_lock);
		if (last)
			zd_wake_up_var(&mni->invalidate_seq);
	}
}
