#!/usr/bin/env bash
# zonedev tests: the explorer (contract §10). Every race of scenarios/races/
# in its buggy configuration (the `#!buggy ` lines enabled) is found, prints
# a one-line schedule that `zonedev replay` re-runs to the same failure, and
# a trace with the thread of each step; deadlocks and waits nothing can
# satisfy are reported with who waits for what; always / sometimes;
# run-threads; bad schedules are usage errors.
# usage: explore.sh ZONEDEV_BINARY SOURCE_DIR
set -u
Z=$1
SRC=$2
. "$SRC/tests/cli/lib/checks.sh"

# --- the races: found when buggy, replayable (clean as shipped: the scenario tests run each file) ---
for f in "$SRC"/scenarios/races/*.zds; do
	grep -q '^#!buggy ' "$f" || continue
	n=$(basename "$f" .zds)
	sed 's/^#!buggy //' "$f" >"$tmp/$n-buggy.zds"
	expect_rc "$n: the buggy configuration fails" 1 "$Z" run "$tmp/$n-buggy.zds"
	has "$n: one schedule= line" "^schedule=[0-9x.]*$" "$tmp/out"
	threads=$(sed -n 's/^thread \([^ ]*\).*/\1/p' "$f" | paste -sd'|')
	has "$n: the trace names the threads" "^\[($threads)\]$" "$tmp/out"
	s=$(sed -n 's/^schedule=//p' "$tmp/out")
	reason=$(sed -n 's/^FAIL [^:]*:[0-9]*: explore: \(violation [a-z-]*\).*/\1/p' "$tmp/out")
	expect_rc "$n: replay of schedule=$s fails again" 1 "$Z" replay "$tmp/$n-buggy.zds" --schedule="$s"
	has "$n: replay fails the same way ($reason)" "^FAIL .*$reason" "$tmp/out"
done

# --- a lost wake-up: two threads each wait for the other (a deadlock) ---
cat >"$tmp/deadlock.zds" <<'S'
ram 4M
device gpu0 private 64K
gpu0 alloc-page a
gpu0 alloc-page b
get-pagemap p gpu0+0p
thread T1
  remove gpu0
end
thread T2
  gpu0 free-page a
end
explore
S
expect_rc "a wait nothing satisfies is found" 1 "$Z" run "$tmp/deadlock.zds"
has "BLOCKED names the thread, line and what it waits for" "BLOCKED: thread T1, line 7 \(remove gpu0\) waits for" "$tmp/out"

# `! BLOCKED` in a thread accepts it, and `expect pending` after the block is the world before it
cat >"$tmp/blocked-ok.zds" <<'S'
ram 4M
device gpu0 private 64K
gpu0 alloc-page a
thread T1
  ! BLOCKED remove gpu0
end
thread T2
  expect device gpu0 allocated=1
end
explore preemptions=0
always pending 1
expect result executions=2
expect pending 0
expect pgmap gpu0 state=live
S
expect_rc "! BLOCKED in a thread: accepted, and pending" 0 "$Z" run "$tmp/blocked-ok.zds"

# --- always / sometimes ---
cat >"$tmp/sometimes.zds" <<'S'
ram 4M
device gpu0 private 64K
gpu0 alloc-page a
thread T1
  ~ tryget r gpu0+0p
end
thread T2
  gpu0 free-page a
end
explore
sometimes result ok=1
sometimes result ok=0
S
expect_rc "sometimes: both outcomes of a try-get racing a free occur" 0 "$Z" run "$tmp/sometimes.zds"
sed 's/^sometimes result ok=0/always result ok=1/' "$tmp/sometimes.zds" >"$tmp/always.zds"
expect_rc "always: a try-get racing a free does not always succeed" 1 "$Z" run "$tmp/always.zds"
has "the failing always is named" "always \(line 12\) does not hold" "$tmp/out"
has "with its schedule" "^schedule=" "$tmp/out"
sed 's/^sometimes result ok=0/sometimes result ok=2/' "$tmp/sometimes.zds" >"$tmp/never.zds"
expect_rc "sometimes that never holds fails" 1 "$Z" run -q "$tmp/never.zds"
has "named with the executions" "sometimes \(line 12\) never held in [0-9]+ executions" "$tmp/out"

# modes: random and bounded run and count their executions
for m in "mode=random runs=20 seed=7" "mode=bounded preemptions=0" "mode=exhaustive runs=30" "mode=pct runs=20 seed=3" "mode=dpor runs=30"; do
	sed -e "s/^explore\$/explore $m/" -e '/^sometimes result ok=0/d' "$tmp/sometimes.zds" >"$tmp/mode.zds"
	echo "expect result executions=0" >>"$tmp/mode.zds"
	expect_rc "explore $m runs" 1 "$Z" run -q "$tmp/mode.zds"
	has "explore $m counts its executions" "result executions is [1-9][0-9]*, expected 0" "$tmp/out"
done

# PCT (an addition to the contract's modes) finds the legacy unplug race too, and replays it
sed -e 's/^#!buggy //' -e 's/^explore preemptions=1$/explore mode=pct runs=50 seed=3/' \
	"$SRC/scenarios/races/unplug-before-drain.zds" >"$tmp/pct.zds"
expect_rc "mode=pct finds unplug-before-drain" 1 "$Z" run "$tmp/pct.zds"
s=$(sed -n 's/^schedule=//p' "$tmp/out")
expect_rc "its schedule ($s) replays the failure" 1 "$Z" replay "$tmp/pct.zds" --schedule="$s"

# DPOR (an addition: exhaustive with dynamic partial-order reduction) finds the split-regime
# fault-vs-free race, and replays it
sed -e 's/^#!buggy //' -e 's/^explore preemptions=1$/explore mode=dpor runs=200/' \
	"$SRC/scenarios/races/private-fault-vs-evict.zds" >"$tmp/dpor.zds"
expect_rc "mode=dpor finds private-fault-free-race" 1 "$Z" run "$tmp/dpor.zds"
has "in dpor mode" "dpor mode" "$tmp/out"
s=$(sed -n 's/^schedule=//p' "$tmp/out")
expect_rc "its schedule ($s) replays the failure" 1 "$Z" replay "$tmp/dpor.zds" --schedule="$s"

# a budget: runs= caps a bounded search, and the cut is reported on stderr
sed -e 's/^explore$/explore runs=3/' -e '/^sometimes/d' "$tmp/sometimes.zds" >"$tmp/budget.zds"
echo "expect result executions=3" >>"$tmp/budget.zds"
expect_rc "runs=3 caps a bounded search" 0 "$Z" run "$tmp/budget.zds"
has "the cut is reported" "explore stopped after 3 executions" "$tmp/err"

# --- run-threads on real threads ---
cat >"$tmp/threads.zds" <<'S'
ram 4M
process P
P mmap A 16K
P write A 16K index
thread T1
  P read A 16K expect=index
end
thread T2
  P read A 16K expect=index
end
run-threads repeat=20
always clean
expect result executions=20
S
expect_rc "run-threads repeat=20" 0 "$Z" run "$tmp/threads.zds"

# --- replay: usage ---
expect_rc "replay without --schedule is a usage error" 2 "$Z" replay "$tmp/sometimes.zds"
expect_rc "a malformed schedule fails the explore" 1 "$Z" replay "$tmp/sometimes.zds" --schedule=1x.0
has "and says so" "bad schedule '1x\.0'" "$tmp/out"
expect_rc "replay of a passing execution passes" 0 "$Z" replay "$tmp/sometimes.zds" --schedule=

# --- state hashing: threads of several commuting statements meet states again ---
cat >"$tmp/converge.zds" <<'S'
ram 4M
device gpu0 private 64K
thread T1
  get-pagemap a gpu0+0p
  put a
  get-pagemap b gpu0+1p
end
thread T2
  get-pagemap c gpu0+2p
  put c
  get-pagemap d gpu0+3p
end
explore preemptions=2 runs=100000
always clean
expect result executions=-1
S
expect_rc "converge: the explore passes (the expect after it reads the results)" 1 "$Z" run "$tmp/converge.zds"
n=$(sed -n 's/.*result executions is \([0-9]*\).*/\1/p' "$tmp/out")
sed -i 's/^expect result executions=-1$/expect result pruned=-1/' "$tmp/converge.zds"
"$Z" run "$tmp/converge.zds" >"$tmp/out" 2>&1
p=$(sed -n 's/.*result pruned is \([0-9]*\).*/\1/p' "$tmp/out")
sed -i 's/^expect result pruned=-1$/expect result states=-1/' "$tmp/converge.zds"
"$Z" run "$tmp/converge.zds" >"$tmp/out" 2>&1
st=$(sed -n 's/.*result states is \([0-9]*\).*/\1/p' "$tmp/out")
# 1422 executions without state hashing (measured before it existed)
if [ -n "$n" ] && [ "$n" -le 1422 ]; then ok "converge: $n executions, no more than without hashing"; else bad "converge: executions '$n'"; fi
if [ -n "$p" ] && [ "$p" -gt 0 ]; then ok "converge: $p executions cut short at a known state"; else bad "converge: pruned '$p'"; fi
if [ -n "$st" ] && [ "$st" -gt 0 ]; then ok "converge: $st boundary states"; else bad "converge: states '$st'"; fi
finish
