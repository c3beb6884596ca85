#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests through ctest; writes build/results/unit/counts ("pass fail skip").
# Usage: run-unit.sh [--sanitize] [--results DIR] [GLOB]   (GLOB filters test names, default all)
#
# --sanitize: the GoogleTest binaries built again with AddressSanitizer and
# UBSan (CMake -DCRAB_SANITIZE=ON, build/userspace-san, target
# crab-unit-tests) and run through ctest with every report fatal; results
# in build/results/unit-san. The tests that claim memory safety (truncated
# or bogus headers never read outside the frame, ...) prove it only there.
#
# Fails when ctest fails, when it found no test ("No tests were found": an
# empty run proves nothing), and in the sanitizer run on any sanitizer
# report in the log, even one that did not stop its test.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
san=0 res=
while [ $# -gt 0 ]; do
	case $1 in
	--sanitize) san=1; shift ;;
	--results) res=$2; shift 2 ;;
	*) break ;;
	esac
done
glob=${1:-*}
if [ "$san" = 1 ]; then
	: "${res:=$top/build/results/unit-san}"; bdir=$top/build/userspace-san
else
	: "${res:=$top/build/results/unit}"; bdir=$top/build/userspace
fi
mkdir -p "$res"
args=()
if [ "$glob" != '*' ]; then
	# ctest takes a regex; turn the shell glob into one.
	re=$(printf '%s' "$glob" | sed 's/[.]/\\./g; s/[*]/.*/g; s/[?]/./g')
	args=(-R "$re")
fi
start=$(date +%s)
if [ "$san" = 1 ]; then
	echo "unit-san: building the unit tests with -fsanitize=address,undefined in $bdir"
	if ! cmake -S "$top" -B "$bdir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG='-g -O1' \
		-DCRAB_SANITIZE=ON -DCRAB_BPF_DIR="$top/build/bpf" >"$res/cmake.log" 2>&1 ||
	   ! nice cmake --build "$bdir" -j "${J:-2}" --target crab-unit-tests -- --no-print-directory \
		>"$res/build.log" 2>&1; then
		tail -n 40 "$res/cmake.log" "$res/build.log" 2>/dev/null
		echo "error: the sanitizer build of the unit tests failed"
		echo "0 1 0" >"$res/counts"
		exit 1
	fi
	# halt_on_error: the first report ends the test (and fails it);
	# LeakSanitizer on: a leak is a report too.
	export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fi
cd "$bdir" || { echo "error: run 'make userspace' first" >&2; echo "0 1 0" >"$res/counts"; exit 2; }
ctest --output-on-failure "${args[@]}" 2>&1 | tee "$res/ctest.log"
rc=${PIPESTATUS[0]}
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$res/ctest.log")
failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$res/ctest.log")
skipped=$(grep -c '\*\*\*Skipped\| Not Run' "$res/ctest.log")
if [ -z "$total" ] || [ "$total" = 0 ]; then
	# "No tests were found": a filter that matches nothing, or a build that
	# registered no test. Either way nothing was proven.
	echo "not ok unit: no unit test ran$([ "$glob" != '*' ] && echo " (filter '$glob')")"
	total=1 failed=1 skipped=0 rc=1
fi
if [ "$san" = 1 ] && grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$res/ctest.log"; then
	echo "not ok unit-san: sanitizer report in the log:"
	grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: ' "$res/ctest.log" | head -n 10
	[ "$failed" -gt 0 ] || { failed=1; total=$((total + 1)); }
	rc=1
fi
echo "$((total - failed - skipped)) $failed $skipped" >"$res/counts"
echo "$(($(date +%s) - start))" >"$res/wall"
exit "$rc"
