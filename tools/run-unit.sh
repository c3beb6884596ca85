#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Unit tests through ctest; writes build/results/unit/counts ("pass fail skip").
# Usage: run-unit.sh [GLOB]   (GLOB filters test names, default all)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
glob=${1:-*}
res=$top/build/results/unit
mkdir -p "$res"
args=()
if [ "$glob" != '*' ]; then
	# ctest takes a regex; turn the shell glob into one.
	re=$(printf '%s' "$glob" | sed 's/[.]/\\./g; s/[*]/.*/g; s/[?]/./g')
	args=(-R "$re")
fi
cd "$top/build/userspace" || { echo "error: run 'make userspace' first" >&2; exit 2; }
ctest --output-on-failure "${args[@]}" 2>&1 | tee "$res/ctest.log"
rc=${PIPESTATUS[0]}
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$res/ctest.log")
failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$res/ctest.log")
skipped=$(grep -c '\*\*\*Skipped\| Not Run' "$res/ctest.log")
if [ -z "$total" ]; then
	if grep -q 'No tests were found' "$res/ctest.log"; then total=0 failed=0; else total=0 failed=1; fi
fi
echo "$((total - failed - skipped)) $failed $skipped" >"$res/counts"
exit "$rc"
