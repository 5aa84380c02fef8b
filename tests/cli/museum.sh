#!/bin/bash
# zonedev CLI tests: the bug museum is complete and consistent. Every ID
# `zonedev bugs` lists as modelled has scenarios/museum/ID.zds (which turns
# the bug on and fails as the kernel did) and ID.fixed.zds (without it,
# clean); `bug ID` is refused where the ID does not apply; `zonedev run`
# passes the whole directory.
Z=$1
SRC=$2
. "$SRC/tests/cli/lib/checks.sh"

"$Z" bugs >"$tmp/bugs"
has "bugs lists at least the 13 museum IDs" "stale-compound-reinit" "$tmp/bugs"
n=$(grep -cE '^[a-z0-9-]+ +[a-z,]+ +(modelled|not modelled yet)$' "$tmp/bugs")
if [ "$n" -ge 13 ]; then ok "bugs lists $n IDs"; else bad "bugs lists $n IDs, wanted >= 13"; fi
grep -E ' modelled$' "$tmp/bugs" | awk '{print $1 " " $2}' >"$tmp/modelled"
while read -r id regimes; do
	buggy="$SRC/scenarios/museum/$id.zds" fixed="$SRC/scenarios/museum/$id.fixed.zds"
	case $id in
	memory-failure-metadata) continue ;; # needs an altmap device: tests/unit/test_failure.c
	esac
	if [ -f "$buggy" ] && grep -qE "^bug $id\$" "$buggy"; then ok "$id: buggy scenario turns the bug on"
	else bad "$id: no scenarios/museum/$id.zds with 'bug $id'"; fi
	if [ -f "$fixed" ] && ! grep -qE '^bug ' "$fixed"; then ok "$id: fixed twin without the bug"
	else bad "$id: no scenarios/museum/$id.fixed.zds without a bug line"; fi
	# The buggy scenario must depend on its bug: without the line it fails.
	if [ -f "$buggy" ]; then
		grep -vE "^bug $id\$" "$buggy" >"$tmp/nobug.zds"
		expect_rc "$id: the buggy scenario fails without its bug line" 1 "$Z" run -q "$tmp/nobug.zds"
	fi
	# A regime the bug never lived in refuses it.
	for r in unified split legacy; do
		case ,$regimes, in *,$r,*) continue ;; esac
		printf 'regime %s\nbug %s\n' "$r" "$id" >"$tmp/wrong.zds"
		expect_rc "$id: refused under $r" 1 "$Z" run -q "$tmp/wrong.zds"
		break
	done
done <"$tmp/modelled"
expect_rc "run scenarios/museum/ passes" 0 "$Z" run -q "$SRC/scenarios/museum"
finish
