/* SPDX-License-Identifier: MIT */
/*
 * zonedev check: dumps of a struct page in the layout of the kernel's
 * dump_page() (plus pgmap and holder lines), and of a dev_pagemap.
 */
#include <stdio.h>

#include "check/check.h"
#include "mem/mem.h"

/* Defined in names.c; see the report for the header it belongs in. */

#define ZD_PAGE_WORDS (sizeof(struct zd_page) / sizeof(unsigned long))

_Static_assert(sizeof(struct zd_page) == 8 * sizeof(unsigned long), "struct zd_page is 8 words");

/* Two 32-bit counters that share one word, in memory order (little endian). */
static unsigned long zd_pair_word(int lo, int hi)
{
	return (unsigned long)(uint32_t)lo | (unsigned long)(uint32_t)hi << 32;
}

/* The 8 words of a struct page, each field read through the sync layer. */
static void zd_page_raw_words(const struct zd_page *page, unsigned long *words)
{
	words[0] = zd_atomic_ulong_read_relaxed(&page->flags);
	words[1] = (unsigned long)page->compound_head;
	words[2] = (unsigned long)(uintptr_t)page->zone_device_data;
	words[3] = (unsigned long)(uintptr_t)page->mapping;
	words[4] = page->index;
	words[5] = page->private;
	words[6] = zd_pair_word(zd_atomic_read_relaxed(&page->_mapcount),
				zd_atomic_read_relaxed(&page->_refcount));
	words[7] = page->pfn;
}

/* The 8 words of a large folio's first tail (the folio metadata page). */
static void zd_folio_page1_raw_words(const struct zd_folio *folio, unsigned long *words)
{
	words[0] = zd_atomic_ulong_read_relaxed(&folio->_flags_1);
	words[1] = (unsigned long)folio->_head_1;
	words[2] = zd_pair_word(zd_atomic_read_relaxed(&folio->_large_mapcount),
				zd_atomic_read_relaxed(&folio->_entire_mapcount));
	words[3] = zd_pair_word(zd_atomic_read_relaxed(&folio->_nr_pages_mapped),
				zd_atomic_read_relaxed(&folio->_pincount));
	words[4] = zd_pair_word((int)folio->_nr_pages, (int)folio->_pad_1);
	words[5] = folio->_private_1;
	words[6] = zd_pair_word(zd_atomic_read_relaxed(&folio->_mapcount_1),
				zd_atomic_read_relaxed(&folio->_refcount_1));
	words[7] = folio->_pfn_1;
}

/* print_hex_dump style: 4 words (32 bytes) a line. */
static void zd_dump_words(FILE *out, const char *prefix, const unsigned long *words, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		fprintf(out, "%s%016lx%s", i % 4 ? " " : prefix, words[i],
			i % 4 == 3 || i == nr - 1 ? "\n" : "");
}

/**
 * zd_dump_page - print the page at @pfn of @w to @out as dump_page() does:
 *
 *   page: refcount:R mapcount:M mapping:... index:0x.. pfn:0x..
 *   head: order:O mapcount:.. entire_mapcount:.. nr_pages_mapped:.. pincount:..
 *   pgmap: NAME type=T state=S refs=N
 *   holders: KIND:NAME=N ...
 *   flags: 0x..(names)
 *   raw: 4 words / raw: 4 words
 *   head: the folio's two struct pages (large folios)
 *   page dumped because: REASON
 *
 * refcount, mapping, index and flags are the folio's (as the kernel reads
 * them through the head), mapcount is the page's own. A tail page's head
 * line also names the head pfn. Reads without locks: meant for quiescence
 * or diagnostics.
 */
void zd_dump_page(struct zd_world *w, unsigned long pfn, const char *reason, FILE *out)
{
	unsigned long words[2 * ZD_PAGE_WORDS], flags, idx;
	char text[256], holders[512];
	struct zd_dev_pagemap *pgmap;
	struct zd_folio *folio;
	struct zd_page *page;
	bool large;

	if (!out)
		out = stderr;
	page = w ? zd_pfn_to_page(w, pfn) : NULL;
	if (!page) {
		fprintf(out, "page: pfn:0x%lx is not backed by a memmap\n", pfn);
		if (reason)
			fprintf(out, "page dumped because: %s\n", reason);
		return;
	}
	folio = zd_pfn_folio(w, pfn);
	if (!folio)
		folio = (struct zd_folio *)page;
	large = zd_folio_test_large(folio);
	idx = pfn >= folio->pfn ? pfn - folio->pfn : 0;

	fprintf(out, "page: refcount:%d mapcount:%d mapping:%016lx index:0x%lx pfn:0x%lx\n",
		zd_atomic_read_relaxed(&folio->_refcount),
		zd_atomic_read_relaxed(&page->_mapcount) + 1,
		(unsigned long)(uintptr_t)folio->mapping, folio->index + idx, pfn);
	if (large) {
		fprintf(
		    out,
		    "head: order:%u mapcount:%d entire_mapcount:%d nr_pages_mapped:%d pincount:%d",
		    zd_folio_order(folio), zd_atomic_read_relaxed(&folio->_large_mapcount) + 1,
		    zd_atomic_read_relaxed(&folio->_entire_mapcount) + 1,
		    zd_atomic_read_relaxed(&folio->_nr_pages_mapped),
		    zd_atomic_read_relaxed(&folio->_pincount));
		if (idx)
			fprintf(out, " pfn:0x%lx", folio->pfn);
		fputc('\n', out);
	}
	if (zd_folio_is_zone_device(folio)) {
		pgmap = zd_page_pgmap(&folio->page);
		if (pgmap)
			fprintf(out, "pgmap: %s type=%s state=%s refs=%ld\n",
				pgmap->name ? pgmap->name : "(unnamed)",
				zd_memory_type_name(pgmap->type),
				zd_pgmap_state_name(zd_pgmap_state(pgmap)), zd_pgmap_refs(pgmap));
		else
			fprintf(out, "pgmap: none\n");
	}
	if (w->track_holders) {
		zd_holders_format(w, folio, holders, sizeof(holders));
		fprintf(out, "holders: %s\n", holders);
	}
	flags = zd_atomic_ulong_read_relaxed(&folio->flags);
	zd_check_format_page_flags(flags, text, sizeof(text));
	fprintf(out, "flags: 0x%lx(%s)\n", flags, text);

	zd_page_raw_words(page, words);
	zd_dump_words(out, "raw: ", words, ZD_PAGE_WORDS);
	if (large) {
		zd_page_raw_words(&folio->page, words);
		zd_folio_page1_raw_words(folio, words + ZD_PAGE_WORDS);
		zd_dump_words(out, "head: ", words, 2 * ZD_PAGE_WORDS);
	}
	if (reason)
		fprintf(out, "page dumped because: %s\n", reason);
}

/**
 * zd_dump_pgmap - print @pgmap to @out: name, type, state and references
 * (with the debug breakdown by holder kind), folio geometry, altmap and each
 * range with its pfns and memmap size. Reads without locks (diagnostics).
 */
void zd_dump_pgmap(struct zd_dev_pagemap *pgmap, FILE *out)
{
	unsigned long total_pages = 0, first, end;
	struct zd_memmap_range *mm;
	unsigned int kind;
	bool any = false;
	long refs;
	int i;

	if (!out)
		out = stderr;
	if (!pgmap) {
		fprintf(out, "pgmap: (null)\n");
		return;
	}
	fprintf(out, "pgmap: %s type=%s state=%s refs=%ld\n",
		pgmap->name ? pgmap->name : "(unnamed)", zd_memory_type_name(pgmap->type),
		zd_pgmap_state_name(zd_pgmap_state(pgmap)), zd_pgmap_refs(pgmap));

	fprintf(out, "  refs by holder:");
	for (kind = 0; kind < ZD_NR_PGREF_KINDS; kind++) {
		refs = zd_atomic_long_read_relaxed(&pgmap->dbg_refs[kind]);
		if (!refs)
			continue;
		fprintf(out, " %s=%ld", zd_pgmap_ref_kind_name((enum zd_pgmap_ref_kind)kind), refs);
		any = true;
	}
	fprintf(out, "%s\n", any ? "" : " none");

	for (i = 0; i < pgmap->nr_range; i++)
		total_pages += (unsigned long)(zd_range_len(&pgmap->ranges[i]) >> ZD_PAGE_SHIFT);
	fprintf(out, "  vmemmap_shift=%lu (%lu pages a folio) ranges=%d pages=%lu\n",
		pgmap->vmemmap_shift,
		pgmap->vmemmap_shift < 8 * sizeof(unsigned long) ? 1ul << pgmap->vmemmap_shift : 0,
		pgmap->nr_range, total_pages);
	if (pgmap->flags & ZD_PGMAP_ALTMAP_VALID)
		fprintf(out,
			"  altmap: base_pfn=0x%lx end_pfn=0x%lx reserve=%lu free=%lu align=%lu "
			"alloc=%lu\n",
			pgmap->altmap.base_pfn, pgmap->altmap.end_pfn, pgmap->altmap.reserve,
			pgmap->altmap.free, pgmap->altmap.align, pgmap->altmap.alloc);

	for (i = 0; i < pgmap->nr_range; i++) {
		const struct zd_range *r = &pgmap->ranges[i];

		first = (unsigned long)(r->start >> ZD_PAGE_SHIFT);
		end = (unsigned long)((r->end + 1) >> ZD_PAGE_SHIFT);
		fprintf(out, "  range %d: [0x%llx-0x%llx] pfn 0x%lx-0x%lx (%lu pages)", i,
			(unsigned long long)r->start, (unsigned long long)r->end, first,
			end ? end - 1 : 0, end - first);
		mm = pgmap->memmaps ? pgmap->memmaps[i] : NULL;
		if (mm)
			fprintf(out, " memmap=%zu bytes%s%s\n", mm->bytes,
				mm->dedup ? " dedup" : "", mm->unplugged ? " unplugged" : "");
		else
			fprintf(out, " memmap=none\n");
	}
}
