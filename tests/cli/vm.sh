#!/usr/bin/env bash
# zonedev tests: the address-space statements' CLI behaviour: how a CPU read
# names the first differing word, how signals are reported (FAIL lines, `!`
# and `~` results), `dump mm` / `dump page P REF` output and -q, and that a
# file ending with live processes tears them down cleanly.
# usage: vm.sh ZONEDEV_BINARY SOURCE_DIR
set -u
Z=$1
SRC=$2
. "$SRC/tests/cli/lib/checks.sh"

# a mismatch names the first differing 32-bit word, counted from the mapping's start
cat >"$tmp/mismatch.zds" <<'S'
process P
P mmap A 8K
P write A 4K index
P read A+8 8184 expect=index
S
cat >"$tmp/mismatch2.zds" <<'S'
process P
P mmap A 8K
P write A 8K index
P read A+4K 4K expect=-index
S
# a partial word at the end of the range is compared byte by byte
cat >"$tmp/mismatch3.zds" <<'S'
process P
P mmap A 8K
P write A 4K fill=0x12
P read A+4094 5 expect=fill=0x12
S
# a signal nobody expected
cat >"$tmp/segv.zds" <<'S'
process P
P mmap A 4K
P munmap A
P write A 4 index
S
# a signal expected with `!`, and recorded by `~`
cat >"$tmp/signals.zds" <<'S'
process P
P mmap A 8K
! SIGSEGV P read A+8K 4
P mprotect A 4K prot=r
~ P write A 4 zero
expect result ok=0 errno=SIGSEGV
~ P write A+4K 4 zero
expect result ok=1 errno=0
P exit
expect clean
S
cat >"$tmp/wrong-signal.zds" <<'S'
process P
P mmap A 4K
! SIGBUS P read A+4K 4
S
# dumps, and processes still alive at the end of the file
cat >"$tmp/dump.zds" <<'S'
process P
P mmap A 16K
P mmap H 2M huge
P write A 8K index
P write H 4K index
P fork C
dump mm P
dump page P A
dump mm C
expect clean
S

expect_rc "mismatch fails" 1 "$Z" run "$tmp/mismatch.zds"
has "mismatch names the word and its offset" "^FAIL $tmp/mismatch.zds:4: .*word 1024 \(offset 0x1000\) is 0x00000000, expected 0x00000400" "$tmp/out"
expect_rc "mismatch in the middle fails" 1 "$Z" run "$tmp/mismatch2.zds"
has "words count from the mapping's start" "word 1024 \(offset 0x1000\) is 0x00000400, expected 0xfffffc00" "$tmp/out"
expect_rc "partial word mismatch fails" 1 "$Z" run "$tmp/mismatch3.zds"
has "a partial word is compared bytewise" "byte at offset 0x1000 \(in word 1024\) is 0x00, expected 0x12" "$tmp/out"
expect_rc "unexpected SIGSEGV fails" 1 "$Z" run "$tmp/segv.zds"
has "FAIL line names SIGSEGV" "^FAIL $tmp/segv.zds:4: SIGSEGV: " "$tmp/out"
expect_rc "! SIGSEGV and ~ results" 0 "$Z" run "$tmp/signals.zds"
expect_rc "wrong signal fails" 1 "$Z" run "$tmp/wrong-signal.zds"
has "expected SIGBUS, got SIGSEGV" "^FAIL $tmp/wrong-signal.zds:3: expected SIGBUS, got SIGSEGV" "$tmp/out"
expect_rc "dumps and live processes at the end" 0 "$Z" run "$tmp/dump.zds"
has "dump mm names the process" "^mm P" "$tmp/out"
has "dump mm of the child" "^mm C" "$tmp/out"
has "dump mm lists the VMAs" "^vma 0x" "$tmp/out"
has "dump page prints a page" "refcount" "$tmp/out"
has "mapping holders are named after their process" "mapping:C=1 mapping:P=1|mapping:P=1 mapping:C=1" "$tmp/out"
lines=$(wc -l <"$tmp/out")
if [ "$lines" -ge 6 ]; then ok "dumps print several lines ($lines)"; else bad "dumps print only $lines lines"; fi
expect_rc "dumps under -q" 0 "$Z" run -q "$tmp/dump.zds"
if [ ! -s "$tmp/out" ] || [ "$(cat "$tmp/out")" = "1 passed, 0 failed" ]; then ok "-q silences dumps"; else bad "-q printed dumps"; head -3 "$tmp/out"; fi
# every vm scenario passes under the regime it names
expect_rc "scenarios/vm" 0 "$Z" run -q "$SRC/scenarios/vm"

finish
