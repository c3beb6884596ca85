#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kselftest-style runner: runs selftests/<area>/test_*.sh whose tag line
# ("# crab-test: host vm") names WHERE, prints TAP 13 (each test's duration,
# each skip's reason), writes its results to RESULTS/ and exits 1 if the
# run failed.
#   run.sh --where host|vm [--filter GLOB] [--results DIR]
#   run.sh --where host|vm [--filter GLOB] --list | --list-manual
#   run.sh --where vm --queue DIR [--results DIR]
# GLOB matches "area/test_name", "test_name" or "area" (shell glob, default *).
#
# The tag line is "# crab-test: " and one or more of: host, vm, host-manual,
# vm-manual. A test file without it, or with any other word, is refused: it
# counts as a failed test (it would otherwise never run anywhere).
# "<where>-manual" tests are not run when the filter is '*' (make check);
# they are printed and counted as manual. A filter that names one runs it.
#
# A test fails when it exits non-zero (other than 4), times out (the area's
# settings: timeout=SECONDS, default 300), passes without a single check
# (no "TEST: ... [ OK ]" line) or skips without saying why (no "SKIP:"
# line). The run fails when a test failed, or when it executed no test
# (none selected, or every one skipped).
#
# --queue DIR: the tests are DIR/tests (area/test_x.sh lines, in order);
# several runners (guests of one kernel, tools/check-all.sh) share it, each
# claiming the next unclaimed test with mkdir DIR/claim/<line> (atomic on
# the shared directory). A runner that finds nothing left is not a
# failure there: check-all.sh checks that every listed test reported.
#
# RESULTS/: counts ("pass fail skip"), times ("seconds<TAB>ok|fail|skip|
# timeout<TAB>area/test"), skips ("area/test<TAB>reason"), skipped-checks
# ("area/test<TAB>check"), manual ("area/test"), wall (seconds).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# The harness's own tests point this at selftests/harness-fixtures.
tdir=${CRAB_SELFTESTS_DIR:-$top/selftests}
where=host filter='*' results= list=0 queue=
while [ $# -gt 0 ]; do
	case $1 in
	--where) where=$2; shift 2 ;;
	--filter) filter=${2:-*}; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--list) list=1; shift ;;
	--list-manual) list=2; shift ;;
	--queue) queue=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case $where in host|vm) ;; *) echo "error: --where must be host or vm, not '$where'" >&2; exit 2 ;; esac
# Tests may size their workload by where they run (TCG guests are slow).
export CRAB_WHERE=$where
run_start=$(date +%s)

# tag_of FILE: the words of its tag line, or an error on stderr and status 1.
tag_of() {
	local line w bad=
	line=$(grep -m1 '^# crab-test:' "$1")
	if [ -z "$line" ]; then
		echo "no '# crab-test: host|vm' tag line"
		return 1
	fi
	line=${line#"# crab-test:"}
	# shellcheck disable=SC2086
	set -- $line
	[ $# -gt 0 ] || { echo "empty tag line"; return 1; }
	for w in "$@"; do
		case $w in host|vm|host-manual|vm-manual) ;; *) bad+=" '$w'" ;; esac
	done
	if [ -n "$bad" ]; then
		echo "unknown word(s) in the tag line:$bad (known: host vm host-manual vm-manual)"
		return 1
	fi
	echo " $line "
}

tests=() refused=() refused_why=() manual=()
if [ -n "$queue" ]; then
	[ -s "$queue/tests" ] || { echo "error: empty or missing queue $queue/tests" >&2; exit 2; }
	mkdir -p "$queue/claim"
else
	for f in "$tdir"/*/test_*.sh; do
		[ -e "$f" ] || continue
		rel=${f#"$tdir"/}
		area=${rel%%/*} name=$(basename "$f" .sh)
		# shellcheck disable=SC2053
		[[ "$area/$name" == $filter || "$name" == $filter || "$area" == $filter ]] || continue
		if ! tag=$(tag_of "$f"); then
			refused+=("$f") refused_why+=("$tag")
			continue
		fi
		if [[ "$tag" == *" $where "* ]]; then
			tests+=("$f")
		elif [[ "$tag" == *" $where-manual "* ]]; then
			# Too slow or not reliable enough for make check: run only
			# when a filter names it, listed as manual otherwise.
			if [ "$filter" != '*' ]; then tests+=("$f"); else manual+=("$rel"); fi
		fi
	done
fi

if [ "$list" = 1 ]; then
	printf '%s\n' "${tests[@]#"$tdir"/}"
	for i in "${!refused[@]}"; do
		echo "error: ${refused[$i]#"$tdir"/}: ${refused_why[$i]}" >&2
	done
	[ ${#refused[@]} -eq 0 ]
	exit
fi
if [ "$list" = 2 ]; then
	[ ${#manual[@]} -eq 0 ] || printf '%s\n' "${manual[@]}"
	exit 0
fi

if [ -n "$results" ]; then
	mkdir -p "$results"
	: >"$results/times"; : >"$results/skips"; : >"$results/skipped-checks"; : >"$results/manual"
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/crab-run.XXXXXX")
trap 'rm -rf "$out"' EXIT
pass=0 fail=0 skip=0 n=0
record() { # record SECONDS STATUS REL
	[ -z "$results" ] || printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results/times"
}

echo "TAP version 13"
[ -n "$queue" ] || echo "1..$((${#tests[@]} + ${#refused[@]}))"

for i in "${!refused[@]}"; do
	n=$((n + 1)) fail=$((fail + 1))
	rel=${refused[$i]#"$tdir"/}
	echo "not ok $n selftests: ${rel%%/*}: $(basename "$rel") # refused: ${refused_why[$i]}"
	record 0 fail "${rel%.sh}"
done
for m in "${manual[@]}"; do
	echo "# manual (not run; a filter naming it runs it): $m"
	[ -z "$results" ] || echo "${m%.sh}" >>"$results/manual"
done

# run_one FILE: runs a test, prints its TAP line, counts it.
run_one() {
	local f=$1 rel area base timeout t start rc dur checks reason
	rel=${f#"$tdir"/}
	area=${rel%%/*} base=$(basename "$f")
	n=$((n + 1))
	timeout=300
	if [ -f "$tdir/$area/settings" ]; then
		t=$(sed -n 's/^timeout=//p' "$tdir/$area/settings")
		[ -n "$t" ] && timeout=$t
	fi
	echo "# selftests: $area: $base"
	start=$(date +%s)
	timeout -k 10 "$timeout" bash "$f" </dev/null 2>&1 | tee "$out/log" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	dur=$(($(date +%s) - start))
	checks=$(grep -c '^TEST: .*\[ OK \]$' "$out/log")
	case $rc in
	0)
		if [ "$checks" -gt 0 ]; then
			echo "ok $n selftests: $area: $base # ${dur}s"
			pass=$((pass + 1))
			record "$dur" ok "${rel%.sh}"
		else
			echo "not ok $n selftests: $area: $base # passed without a single check (no TEST: ... [ OK ] line) ${dur}s"
			fail=$((fail + 1))
			record "$dur" fail "${rel%.sh}"
		fi
		;;
	4)
		reason=$(sed -n 's/^SKIP: [^:]*: //p' "$out/log" | tail -n1)
		if [ -n "$reason" ]; then
			echo "ok $n selftests: $area: $base # SKIP $reason (${dur}s)"
			skip=$((skip + 1))
			record "$dur" skip "${rel%.sh}"
			[ -z "$results" ] || printf '%s\t%s\n' "${rel%.sh}" "$reason" >>"$results/skips"
		else
			echo "not ok $n selftests: $area: $base # skipped without a reason (no SKIP: line) ${dur}s"
			fail=$((fail + 1))
			record "$dur" fail "${rel%.sh}"
		fi
		;;
	124|137)
		echo "not ok $n selftests: $area: $base # TIMEOUT ${timeout}s"
		fail=$((fail + 1))
		record "$dur" timeout "${rel%.sh}"
		;;
	*)
		echo "not ok $n selftests: $area: $base # exit=$rc ${dur}s"
		fail=$((fail + 1))
		record "$dur" fail "${rel%.sh}"
		;;
	esac
	# Checks skipped inside a test that ran (TEST: ... [SKIP]).
	if [ -n "$results" ]; then
		sed -n 's/^TEST: \(.*[^ ]\) *\[SKIP\]$/\1/p' "$out/log" |
			while IFS= read -r c; do printf '%s\t%s\n' "${rel%.sh}" "$c"; done >>"$results/skipped-checks"
	fi
}

if [ -n "$queue" ]; then
	i=0
	while IFS= read -r rel; do
		i=$((i + 1))
		[ -n "$rel" ] || continue
		mkdir "$queue/claim/$i" 2>/dev/null || continue
		echo "${CRAB_RUNNER_ID:-$(hostname)}" >"$queue/claim/$i/by"
		run_one "$tdir/$rel"
	done <"$queue/tests"
	echo "1..$n"
else
	for f in "${tests[@]}"; do
		run_one "$f"
	done
fi

echo "# $where: $pass passed, $fail failed, $skip skipped${manual[0]:+, ${#manual[@]} manual not run}"
if [ -z "$queue" ] && [ $((pass + fail)) -eq 0 ]; then
	if [ $((${#tests[@]} + ${#refused[@]})) -eq 0 ]; then
		echo "not ok - $where: no test selected (filter '$filter')"
	else
		echo "not ok - $where: no test executed (all ${#tests[@]} skipped)"
	fi
	fail=$((fail + 1))
fi
if [ -n "$results" ]; then
	echo "$pass $fail $skip" >"$results/counts"
	echo "$(($(date +%s) - run_start))" >"$results/wall"
fi
[ "$fail" -eq 0 ]
