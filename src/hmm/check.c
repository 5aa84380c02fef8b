/* SPDX-License-Identifier: MIT */
/*
 * zonedev: what hmm_range_fault may hand back (migrate §6 M4): never a
 * device-private page of another owner. Those must have been faulted back
 * to system memory, or reported as not present when no fault was asked for.
 */
#include "zonedev/check.h"
#include "zonedev/memremap.h"
#include "hmm/hmm.h"

int zd_hmm_check_range(struct zd_world *w, const struct zd_hmm_range *range)
{
	unsigned long i, npages = (unsigned long)((range->end - range->start) >> ZD_PAGE_SHIFT);
	int found = 0;

	for (i = 0; i < npages; i++) {
		unsigned long hpfn = range->hmm_pfns[i];
		struct zd_folio *folio;

		if (!(hpfn & ZD_HMM_PFN_VALID) || (hpfn & ZD_HMM_PFN_ERROR))
			continue;
		folio = zd_pfn_folio(w, zd_hmm_pfn_to_pfn(hpfn));
		if (!folio || !zd_folio_is_device_private(folio) ||
		    folio->pgmap->owner == range->dev_private_owner)
			continue;
		zd_report(w, ZD_INV_HMM_REMOTE_PRIVATE, zd_hmm_pfn_to_pfn(hpfn),
			  "hmm_range_fault reported page %lu of the range (%#llx) as another "
			  "owner's device-private page",
			  i, (unsigned long long)(range->start + (i << ZD_PAGE_SHIFT)));
		found++;
	}
	return found;
}
