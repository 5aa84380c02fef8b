#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CLI test of the scenario front end: every malformed .zds must be rejected by `check` and `run`
# with exit status 2 and a `FILE:LINE:COL: error: ` line at the right place; valid files pass.
#
# usage: syntax_errors.sh ZONEDEV_BINARY SOURCE_DIR

set -u

zonedev=${1:?usage: syntax_errors.sh ZONEDEV_BINARY SOURCE_DIR}
srcdir=${2:-.}
[ -x "$zonedev" ] || { echo "syntax_errors: '$zonedev' is not executable"; exit 2; }
[ -d "$srcdir" ] || { echo "syntax_errors: '$srcdir' is not a directory"; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zd-syntax.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
cr=$'\r'

ok() {
	passed=$((passed + 1))
	echo "ok   $1"
}

not_ok() {
	failed=$((failed + 1))
	echo "FAIL $1: $2"
}

# A common prelude: two live devices, a process with a mapping, a pinned handle.
prelude='device gpu0 private 2M
device pmem0 fsdax 4M
process P
P mmap A 8K
P gup hp A 1 pin'

# bad NAME LINE COL: stdin is the file. COL may be '-' when only the line matters.
bad() {
	local name=$1 line=$2 col=$3 f="$tmp/$1.zds" out rc prefix
	cat >"$f"
	out=$("$zonedev" check "$f" 2>&1)
	rc=$?
	if [ "$rc" -ne 2 ]; then
		not_ok "$name" "check exited $rc, expected 2; output: $out"
		return
	fi
	if [ "$col" = - ]; then
		prefix="$f:$line:"
	else
		prefix="$f:$line:$col: error: "
	fi
	if ! printf '%s\n' "$out" | awk -v p="$prefix" 'index($0, p) == 1 && /: error: / { found = 1 }
		END { exit !found }'; then
		not_ok "$name" "no line starting with '$prefix'; output: $out"
		return
	fi
	"$zonedev" run "$f" >/dev/null 2>&1
	rc=$?
	if [ "$rc" -ne 2 ]; then
		not_ok "$name" "run exited $rc, expected 2"
		return
	fi
	ok "$name"
}

# good NAME: stdin is a file that `check` must accept.
good() {
	local name=$1 f="$tmp/$1.zds" out rc
	cat >"$f"
	out=$("$zonedev" check "$f" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		not_ok "$name" "check exited $rc, expected 0; output: $out"
		return
	fi
	ok "$name"
}

# ---- statements and options ----
bad unknown-statement 2 1 <<'EOF'
process P
mmapp P A 4K
EOF

bad unknown-process-operation 6 3 <<EOF
$prelude
P mmapp B 4K
EOF

bad unknown-option 6 19 <<EOF
$prelude
gpu0 alloc-page h ordr=2
EOF

bad bad-number 1 6 <<'EOF'
seed 12x
EOF

bad bad-size-suffix 6 10 <<EOF
$prelude
P mmap B 4X
EOF

bad missing-argument 6 9 <<EOF
$prelude
P mmap B
EOF

bad extra-argument 6 8 <<EOF
$prelude
P exit now
EOF

bad duplicate-option 6 18 <<EOF
$prelude
P mmap B 2M huge huge
EOF

bad zero-size 6 10 <<EOF
$prelude
P mmap B 0
EOF

# ---- names ----
bad name-reused-while-live 6 8 <<EOF
$prelude
device gpu0 coherent 2M
EOF

bad mapping-reused 6 8 <<EOF
$prelude
P mmap A 4K
EOF

bad undefined-process 6 1 <<EOF
$prelude
Q mmap B 4K
EOF

bad undefined-device 6 1 <<EOF
$prelude
gpu9 migrate P A 4K
EOF

bad undefined-handle 6 5 <<EOF
$prelude
put h9
EOF

bad undefined-mapping 6 8 <<EOF
$prelude
P read Z 4K
EOF

bad process-after-exit 7 1 <<EOF
$prelude
P exit
P mmap B 4K
EOF

bad ref-on-wrong-kind 6 13 <<EOF
$prelude
expect page P+1p refcount=1
EOF

bad keyword-as-name 1 9 <<'EOF'
process expect
EOF

bad thread-name-scope 9 5 <<EOF
$prelude
thread T1
  P gup h A 1
end
put h
EOF

# ---- device kinds ----
bad wrong-device-kind 6 1 <<EOF
$prelude
pmem0 migrate P A 4K
EOF

bad dax-needs-fsdax 6 17 <<EOF
$prelude
P mmap F 4K dax=gpu0:f
EOF

bad unpin-without-pin 7 7 <<EOF
$prelude
P gup g A 1
unpin g
EOF

bad page-beyond-device 6 15 <<EOF
$prelude
tryget t gpu0+999p
EOF

bad device-size-vs-align 1 22 <<'EOF'
device gpu1 coherent 3M align=2M
EOF

# ---- world ----
bad regime-after-device 6 1 <<EOF
$prelude
regime legacy
EOF

bad unknown-regime 1 8 <<'EOF'
regime newest
EOF

bad fail-unknown-site 1 6 <<'EOF'
fail disk count=2
EOF

bad bug-malformed-id 1 5 <<'EOF'
bug Free_Private_Refcount
EOF

# ---- data ----
bad bad-pattern 6 14 <<EOF
$prelude
P write A 4K fil=3
EOF

bad fill-out-of-range 6 25 <<EOF
$prelude
P read A 4K expect=fill=256
EOF

bad snapshot-length 6 29 <<EOF
$prelude
gpu0 snapshot P A 8K expect=read*3
EOF

bad bad-snapshot-code 6 34 <<EOF
$prelude
gpu0 snapshot P A 8K expect=read,wrote
EOF

# ---- prefixes ----
bad bad-errno 6 3 <<EOF
$prelude
! EFOO P exit
EOF

bad prefix-without-statement 6 8 <<EOF
$prelude
! EBUSY
EOF

bad prefix-on-expect 6 1 <<EOF
$prelude
! EBUSY expect clean
EOF

# ---- expectations ----
bad bad-expect-key 6 17 <<EOF
$prelude
expect page P A refcnt=1
EOF

bad bad-entry-kind 6 23 <<EOF
$prelude
expect entry P A kind=foo
EOF

bad order-out-of-range 6 25 <<EOF
$prelude
gpu0 alloc-page h order=99
EOF

bad unknown-expectation 6 8 <<EOF
$prelude
expect pagemap gpu0
EOF

# ---- threads and exploration ----
bad end-without-thread 6 1 <<EOF
$prelude
end
EOF

bad unterminated-thread 6 1 <<EOF
$prelude
thread T1
  P gup h A 1
EOF

bad nested-thread 7 3 <<EOF
$prelude
thread T1
  thread T2
  end
end
EOF

bad always-inside-thread 7 3 <<EOF
$prelude
thread T1
  always clean
end
EOF

bad explore-bad-mode 1 14 <<'EOF'
explore mode=dfs
EOF

# ---- lexical ----
bad continuation-at-eof 6 8 <<EOF
$prelude
P exit \\
EOF

bad continued-line-position 7 5 <<EOF
$prelude
P mmap B \\
    4X
EOF

bad stray-backslash 6 8 <<EOF
$prelude
P exit \\ now
EOF

bad bad-character 6 13 <<EOF
$prelude
P mmap B 4K \$x
EOF

bad non-ascii-in-statement 1 10 <<'EOF'
process Pé
EOF

bad control-character 1 9 <<EOF
process $(printf '\001')P
EOF

# ---- valid files ----
good empty </dev/null

good comments-only <<'EOF'
# nothing but comments — and UTF-8: é ✓ 日本
   # indented comment \
EOF

good continuation-and-crlf <<EOF
device gpu0 private 2M   # trailing comment
process P${cr}
P mmap A 8K \\
   prot=rw \\
   huge
P write A 8K index${cr}
gpu0 migrate P A 8K
! EBUSY remove gpu0
P exit
EOF

good threads-and-explore <<EOF
$prelude
thread T1
  P gup h A 1 pin longterm
  unpin h
end
thread T2
  gpu0 migrate P A 4K
end
explore mode=bounded preemptions=2
always clean
always P read A 4K expect=index
sometimes page P A type=private
run-threads repeat=3
unpin hp dirty
EOF

good handles <<EOF
$prelude
gpu0 alloc-page pg order=1 at=4
tryget t gpu0+4p
get-pagemap gm gpu0+4p
expect page gpu0+4p refcount=2
put t
put gm
gpu0 free-page pg
~ unpin hp
pmem0 create f 2M
P mmap F 2M dax=pmem0:f
pmem0 truncate f 0
expect pgmap pmem0 state=live
EOF

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
