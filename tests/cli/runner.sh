#!/usr/bin/env bash
# zonedev tests: the CLI's output and exit statuses: PASS/FAIL lines, the
# closing line, -q, --regime, --trace (valid JSON), --trace-text, --help,
# usage errors, directories.
# usage: runner.sh ZONEDEV_BINARY SOURCE_DIR
set -u
Z=$1
SRC=$2
. "$SRC/tests/cli/lib/checks.sh"

cat >"$tmp/good.zds" <<'S'
device gpu0 private 2M
gpu0 alloc-page h1
expect page gpu0+0p refcount=1
gpu0 free-page h1
expect clean
S
cat >"$tmp/failing.zds" <<'S'
device gpu0 private 2M
gpu0 alloc-page h1
expect page gpu0+0p refcount=7
S
cat >"$tmp/blocks.zds" <<'S'
device gpu0 private 2M
gpu0 alloc-page h1
remove gpu0
S
cat >"$tmp/unexpected-errno.zds" <<'S'
device gpu0 coherent 8K
gpu0 alloc-page a
gpu0 alloc-page b
gpu0 alloc-page c
S
cat >"$tmp/wrong-errno.zds" <<'S'
device gpu0 private 2M
! EBUSY tryget t gpu0+0p
S
cat >"$tmp/syntax.zds" <<'S'
device gpu0 private 2M
gpu0 alloc-pagee h1
S
cat >"$tmp/legacy-only.zds" <<'S'
device gpu0 private 2M
expect page gpu0+0p refcount=1
S

expect_rc "good file passes" 0 "$Z" run "$tmp/good.zds"
has "PASS line" "^PASS $tmp/good.zds$" "$tmp/out"
has "closing line" "^1 passed, 0 failed$" "$tmp/out"
expect_rc "failing expectation" 1 "$Z" run "$tmp/failing.zds"
has "FAIL line names the line and the value" "^FAIL $tmp/failing.zds:3: page pfn 0x[0-9a-f]+: refcount is 1, expected 7$" "$tmp/out"
expect_rc "an unexpected BLOCKED fails" 1 "$Z" run "$tmp/blocks.zds"
has "BLOCKED reason" "^FAIL $tmp/blocks.zds:3: BLOCKED: memunmap_pages\(gpu0\) waits" "$tmp/out"
expect_rc "an unexpected errno fails" 1 "$Z" run "$tmp/unexpected-errno.zds"
has "errno name in the reason" "^FAIL $tmp/unexpected-errno.zds:4: ENOMEM: " "$tmp/out"
expect_rc "a different errno fails" 1 "$Z" run "$tmp/wrong-errno.zds"
has "expected/got" "expected EBUSY, got EAGAIN" "$tmp/out"
expect_rc "syntax error: exit 2" 2 "$Z" run "$tmp/syntax.zds"
has "compiler-style error" "^$tmp/syntax.zds:2:[0-9]+: error: " "$tmp/err"
expect_rc "mixed files: worst status" 2 "$Z" run "$tmp/good.zds" "$tmp/syntax.zds"
has "mixed closing line" "^1 passed, 1 failed$" "$tmp/out"
expect_rc "-q hides PASS" 0 "$Z" run -q "$tmp/good.zds"
if grep -q PASS "$tmp/out"; then bad "-q printed PASS"; else ok "-q printed no PASS"; fi
expect_rc "--regime overrides" 0 "$Z" run --regime=legacy "$tmp/legacy-only.zds"
expect_rc "default regime is unified" 1 "$Z" run "$tmp/legacy-only.zds"
expect_rc "--trace writes JSON" 0 "$Z" run --trace="$tmp/t.json" "$tmp/good.zds"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(e.get("ph")=="C" for e in d["traceEvents"])' "$tmp/t.json" 2>/dev/null; then
	ok "trace is JSON with counter tracks"
else
	bad "trace is not valid JSON with counter tracks"
fi
expect_rc "--trace-text" 0 "$Z" run --trace-text "$tmp/good.zds"
has "page_ref_set event" "^page_ref_set: pfn=0x[0-9a-f]+ .*count=1 .*holder=handle:h1" "$tmp/out"
has "folio_free event" "^folio_free: pfn=0x" "$tmp/out"
has "page_ref_mod_and_test event" "^page_ref_mod_and_test: .*count=0 .*ret=1" "$tmp/out"
expect_rc "check a valid file" 0 "$Z" check "$tmp/good.zds"
expect_rc "check an invalid file" 2 "$Z" check "$tmp/syntax.zds"
expect_rc "a directory runs recursively" 0 "$Z" run -q "$SRC/scenarios/lifecycle"
n=$(find "$SRC/scenarios/lifecycle" -name "*.zds" | wc -l)
has "directory closing line" "^$n passed, 0 failed$" "$tmp/out"
for c in run check invariants sites bugs; do
	expect_rc "$c --help" 0 "$Z" "$c" --help
	has "$c --help prints usage" "^usage: zonedev" "$tmp/out"
done
expect_rc "no command" 2 "$Z"
expect_rc "unknown command" 2 "$Z" frobnicate
expect_rc "unknown option" 2 "$Z" run --frob "$tmp/good.zds"
expect_rc "unknown regime" 2 "$Z" run --regime=ancient "$tmp/good.zds"
expect_rc "run without files" 2 "$Z" run
expect_rc "missing file" 2 "$Z" run "$tmp/nope.zds"
expect_rc "invariants" 0 "$Z" invariants
has "invariants list IDs" "^refcount-underflow " "$tmp/out"
expect_rc "bugs" 0 "$Z" bugs
has "bugs list IDs" "^unplug-before-drain " "$tmp/out"
expect_rc "sites" 0 "$Z" sites
has "sites list memmap" "^memmap " "$tmp/out"
finish
