/* SPDX-License-Identifier: MIT */
/*
 * zonedev drivers: devdax, a device-dax character device: a GENERIC pgmap
 * whose folios have the device alignment's order (vmemmap_shift), each
 * resting on a base reference that never drops.
 */
#include "device_internal.h"

int zd_dax_device_alloc(struct zd_device *dev, unsigned int order, long at, struct zd_holder h,
			struct zd_folio **folios, int *nr);
int zd_dax_device_free(struct zd_device *dev, struct zd_folio **folios, int nr, struct zd_holder h);
unsigned long zd_dax_device_nr_free(struct zd_device *dev);

/*
 * The device-dax fault (dev_dax_huge_fault): map the device's folio at the
 * largest level the device alignment and the mapping allow.
 */
static int zd_devdax_fault(struct zd_vm_fault *vmf, unsigned int level)
{
	struct zd_device *dev = zd_vma_private(vmf->vma);
	unsigned int order = dev->cfg.align_order;
	uint64_t size = ZD_PAGE_SIZE << (9 * (level - 1));
	uint64_t base = vmf->address & ~(size - 1);
	unsigned long index = zd_vma_pgoff(vmf->vma, vmf->address), pfn;
	struct zd_folio *folio;

	if (level > 1 && (level - 1) * 9 != order)
		return ZD_VM_FAULT_FALLBACK; /* only at the device's own folio size */
	if (base < zd_vma_start(vmf->vma) || base + size > zd_vma_end(vmf->vma))
		return ZD_VM_FAULT_FALLBACK;
	if (zd_pgmap_state(dev->pgmaps[0]) != ZD_PGMAP_LIVE)
		return ZD_VM_FAULT_SIGBUS; /* the device is going away */
	if (zd_device_page_pfn(dev, index, &pfn))
		return ZD_VM_FAULT_SIGBUS;
	folio = zd_pfn_folio(dev->world, pfn);
	if (!folio)
		return ZD_VM_FAULT_SIGBUS;
	if (level == 1 && order)
		return ZD_VM_FAULT_SIGBUS; /* a device with large folios maps them whole */
	/* Memory failure marked the folio (its head): it is never mapped again. */
	if (zd_page_test_flag(&folio->page, ZD_PG_hwpoison))
		return ZD_VM_FAULT_HWPOISON;
	return zd_vmf_insert_folio(vmf, folio, pfn, level, true);
}

/* dev_dax_may_split: mappings split only at the device alignment. */
static int zd_devdax_may_split(struct zd_vma *vma, uint64_t addr)
{
	struct zd_device *dev = zd_vma_private(vma);

	return addr & ((ZD_PAGE_SIZE << dev->cfg.align_order) - 1) ? -EINVAL : 0;
}

static const struct zd_vm_operations zd_devdax_vm_ops = {
	.fault = zd_devdax_fault,
	.may_split = zd_devdax_may_split,
};

static int zd_devdax_mmap(struct zd_device *dev, struct zd_mm *mm, uint64_t size,
			  unsigned int prot, uint64_t *addr)
{
	struct zd_mmap_args args = {
		.kind = ZD_MAP_DEVDAX,
		.size = size,
		.prot = prot,
		.shared = true,
		.align = ZD_PAGE_SIZE << dev->cfg.align_order,
		.vm_ops = &zd_devdax_vm_ops,
		.vm_private = dev,
	};

	if (size > dev->cfg.size || size % args.align)
		return -EINVAL;
	return zd_mmap(mm, &args, addr);
}

static int zd_devdax_probe(struct zd_device *dev)
{
	/* No ops: device-dax has no free callback. */
	return zd_device_add_pgmap(dev, dev->cfg.size, dev->cfg.align_order, NULL, NULL, NULL);
}

const struct zd_device_ops zd_devdax_ops = {
    .probe = zd_devdax_probe,
    .alloc = zd_dax_device_alloc,
    .free = zd_dax_device_free,
    .nr_free = zd_dax_device_nr_free,
    .mmap = zd_devdax_mmap,
};
