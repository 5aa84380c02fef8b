#!/usr/bin/env bash
# zonedev tests: what the §7 statements show outside expectations: the
# holders of gup handles in traces and dumps (gup:H, pin:H, pin-longterm:H),
# the reasons of failing gup / put / unpin / pinned statements, where a
# pinned read names its first differing word, and a file that ends with
# pages still pinned.
# usage: gup.sh ZONEDEV_BINARY SOURCE_DIR
set -u
Z=$1
SRC=$2
. "$SRC/tests/cli/lib/checks.sh"

cat >"$tmp/holders.zds" <<'S'
process P
P mmap A 16K
P write A 16K index
P gup g1 A 1
P gup p1 A 1 pin
P gup l1 A 1 pin longterm
dump page P A
put g1
unpin p1
unpin l1
expect clean
S
expect_rc "holders: the file passes" 0 "$Z" run --trace-text "$tmp/holders.zds"
has "a get's references belong to gup:H" "^page_ref_mod: .*val=1 .*holder=gup:g1$" "$tmp/out"
has "a pin's belong to pin:H" "^page_ref_mod: .*val=1024 .*holder=pin:p1$" "$tmp/out"
has "a long-term pin's to pin-longterm:H" "^page_ref_mod: .*val=1024 .*holder=pin-longterm:l1$" "$tmp/out"
has "put releases gup:H" "^page_ref_mod.*val=-1 .*holder=gup:g1$" "$tmp/out"
has "unpin releases pin:H" "^page_ref_mod.*val=-1024 .*holder=pin:p1$" "$tmp/out"
has "dump page lists the holders" "^holders: mapping:P=1 (.* )?gup:g1=1( |$)" "$tmp/out"
has "dump page lists the pin holders" "^holders: .*pin:p1=1024 .*pin-longterm:l1=1024$" "$tmp/out"

# failing statements name the call, the place and the reason
fails_with() { # name statement-lines pattern
	printf 'process P\nP mmap A 16K\nP mmap R 8K prot=r\nP write A 16K index\nP gup p A 2 pin\n%s\n' "$2" >"$tmp/f.zds"
	expect_rc "$1: fails" 1 "$Z" run "$tmp/f.zds"
	has "$1: reason" "$3" "$tmp/out"
}
fails_with "write gup of a read-only mapping" "P gup w R 1 write" \
	"^FAIL $tmp/f.zds:6: EFAULT: get_user_pages\(FOLL_WRITE\) of 1 page at P R \(0x[0-9a-f]+\): no mapping, no permission"
fails_with "longterm without pin" "P gup w A+4K 3 longterm fast" \
	"^FAIL $tmp/f.zds:6: EINVAL: get_user_pages_fast\(FOLL_LONGTERM\) of 3 pages at P A\+0x1000 .*FOLL_LONGTERM is only for pins"
fails_with "put of a pinned handle" "put p" \
	"^FAIL $tmp/f.zds:6: EINVAL: put p: the handle holds pins .*use unpin for pinned pages$"
fails_with "pinned read beyond the handle" "pinned p read 12K" \
	"^FAIL $tmp/f.zds:6: EINVAL: pinned read of 0x3000 bytes: handle p holds 2 pages \(0x2000 bytes\)$"
fails_with "pinned write through a read pin" "pinned p write 4 zero" \
	"^FAIL $tmp/f.zds:6: EPERM: pinned write through p: its pages were taken without 'write'"
fails_with "pinned read mismatch" "pinned p read 8K expect=index+1" \
	"^FAIL $tmp/f.zds:6: EIO: pinned read at handle p: word 0 \(offset 0x0\) is 0x00000000, expected 0x00000001$"
fails_with "an unexpected success" "! EFAULT P gup q A 1" \
	"^FAIL $tmp/f.zds:6: expected EFAULT, but the statement succeeded$"

# pinned access reaches the pages of any handle that holds pages
cat >"$tmp/handles.zds" <<'S'
device p2p0 p2pdma 2M
p2p0 alloc k 8K
pinned k write 8K index+5
pinned k read 8K expect=index+5
p2p0 free k
device gpu0 private 2M
gpu0 alloc-page d
pinned d write 4K fill=9
pinned d read 4K expect=fill=9
! EINVAL pinned d read 8K
gpu0 free-page d
expect clean
S
expect_rc "pinned access through alloc and alloc-page handles" 0 "$Z" run "$tmp/handles.zds"

# a file that ends with pages still pinned and got tears down cleanly
cat >"$tmp/leftover.zds" <<'S'
process P
P mmap A 2M huge
P write A 2M index
P gup p A 512 pin
P gup g A 1000
expect result pages=512
S
expect_rc "pins left at the end of a file" 0 "$Z" run "$tmp/leftover.zds"
finish
