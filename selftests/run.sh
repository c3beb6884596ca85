#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kselftest-style runner: runs selftests/<area>/test_*.sh whose tag line
# ("# crab-test: host vm") names WHERE, prints TAP 13, writes the counts to
# RESULTS/counts ("pass fail skip") and exits 1 if any test failed.
#   run.sh --where host|vm [--filter GLOB] [--results DIR] [--list]
# GLOB matches "area/test_name" or "test_name" (shell glob, default *).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# The harness's own tests point this at selftests/harness-fixtures.
tdir=${CRAB_SELFTESTS_DIR:-$top/selftests}
where=host filter='*' results= list=0
while [ $# -gt 0 ]; do
	case $1 in
	--where) where=$2; shift 2 ;;
	--filter) filter=${2:-*}; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--list) list=1; shift ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case $where in host|vm) ;; *) echo "error: --where must be host or vm, not '$where'" >&2; exit 2 ;; esac
# Tests may size their workload by where they run (TCG guests are slow).
export CRAB_WHERE=$where

tests=()
for f in "$tdir"/*/test_*.sh; do
	[ -e "$f" ] || continue
	tag=$(grep -m1 '^# crab-test:' "$f" | cut -d: -f2-)
	# "vm-manual" (or "host-manual"): too slow for make check's budget, run
	# only when a filter other than '*' picks it (make check-vm T=area/...).
	[[ " $tag " == *" $where "* ||
		( " $tag " == *" $where-manual "* && "$filter" != '*' ) ]] || continue
	rel=${f#"$tdir"/}
	area=${rel%%/*} name=$(basename "$f" .sh)
	# shellcheck disable=SC2053
	[[ "$area/$name" == $filter || "$name" == $filter || "$area" == $filter ]] || continue
	tests+=("$f")
done

if [ "$list" = 1 ]; then
	printf '%s\n' "${tests[@]#"$tdir"/}"
	exit 0
fi

pass=0 fail=0 skip=0 n=0
echo "TAP version 13"
echo "1..${#tests[@]}"
for f in "${tests[@]}"; do
	n=$((n + 1))
	rel=${f#"$tdir"/}
	area=${rel%%/*}
	timeout=300
	if [ -f "$tdir/$area/settings" ]; then
		t=$(sed -n 's/^timeout=//p' "$tdir/$area/settings")
		[ -n "$t" ] && timeout=$t
	fi
	echo "# selftests: $area: $(basename "$f")"
	start=$(date +%s)
	timeout -k 10 "$timeout" bash "$f" 2>&1 | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	dur=$(($(date +%s) - start))
	case $rc in
	0) echo "ok $n selftests: $area: $(basename "$f") # ${dur}s"; pass=$((pass + 1)) ;;
	4) echo "ok $n selftests: $area: $(basename "$f") # SKIP"; skip=$((skip + 1)) ;;
	124|137) echo "not ok $n selftests: $area: $(basename "$f") # TIMEOUT ${timeout}s"; fail=$((fail + 1)) ;;
	*) echo "not ok $n selftests: $area: $(basename "$f") # exit=$rc"; fail=$((fail + 1)) ;;
	esac
done
echo "# $where: $pass passed, $fail failed, $skip skipped"
if [ -n "$results" ]; then
	mkdir -p "$results"
	echo "$pass $fail $skip" >"$results/counts"
fi
[ "$fail" -eq 0 ]
