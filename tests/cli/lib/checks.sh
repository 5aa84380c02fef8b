# zonedev CLI tests: the helpers every tests/cli/*.sh script shares. Source
# it after setting Z and SRC; it makes $tmp (removed on exit) and counts
# results in $pass / $fail. `finish` prints the tally and sets the status.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
expect_rc() { # name want-rc cmd...
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
	if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, wanted $want"; cat "$tmp/out" "$tmp/err" | head -5; fi
}
has() { # name pattern file
	if grep -qE -- "$2" "$3"; then ok "$1"; else bad "$1: no /$2/ in output"; head -5 "$3"; fi
}
hasnt() { # name pattern file
	if grep -qE -- "$2" "$3"; then bad "$1: /$2/ in output"; head -5 "$3"; else ok "$1"; fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
}
