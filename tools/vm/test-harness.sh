#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Tests of the test harness itself: its failure paths are proven, not assumed.
#  1. run.sh: a failing test fails the run and is counted; a skip is a skip;
#     a hanging test is killed by the area's timeout and counted as failed.
#  2. run-vm.sh: the guest's failing status fails the run.
#  3. run-vm.sh: a module that fires WARN_ON in the guest fails the run even
#     though every command in the guest succeeded.
#  4. run-vm.sh: a hung guest is killed at --timeout and the run fails.
#  5. run-vm.sh: a passing guest command passes (the control case).
# Usage: test-harness.sh [--results DIR] [--kernel 6.1]
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
results= kernel=6.1
while [ $# -gt 0 ]; do
	case $1 in
	--results) results=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
pass=0 fail=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n harness: $*"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n harness: $*"; }
check() { local desc=$1; shift; if "$@"; then ok "$desc"; else notok "$desc"; fi; }

tmp=$(mktemp -d "$top/build/harness.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"

# ---- 1. the selftest runner -------------------------------------------------
fx=$top/selftests/harness-fixtures
CRAB_SELFTESTS_DIR=$fx bash "$top/selftests/run.sh" --where host --results "$tmp/r" >"$tmp/run.log" 2>&1
rc=$?
sed 's/^/# /' "$tmp/run.log"
check "runner exits non-zero when a test fails (rc=$rc)" [ "$rc" -ne 0 ]
check "runner counts 1 pass, 2 fail (fail + hang), 1 skip: '$(cat "$tmp/r/counts" 2>/dev/null)'" \
	[ "$(cat "$tmp/r/counts" 2>/dev/null)" = "1 2 1" ]
check "hanging test reported as TIMEOUT" grep -q 'not ok .*test_hang.sh # TIMEOUT' "$tmp/run.log"
CRAB_SELFTESTS_DIR=$fx bash "$top/selftests/run.sh" --where host --filter 'test_pass' --results "$tmp/r2" >/dev/null 2>&1
check "runner exits 0 when the selected tests pass" [ $? -eq 0 ]

# ---- 2..5. the VM runner ------------------------------------------------------------
vm() { bash "$top/tools/vm/run-vm.sh" --kernel "$kernel" "$@" >"$tmp/vm.log" 2>&1; }
if ! command -v qemu-system-x86_64 >/dev/null || ! ls /boot/vmlinuz-"$kernel".* >/dev/null 2>&1; then
	echo "# SKIP VM harness tests: qemu or the Debian $kernel kernel is missing"
else
	kver=$(file -bL "$(ls /boot/vmlinuz-"$kernel".* | grep -v cloud | sort -V | tail -n1)" |
		sed -n 's/.*version \([^ ]*\) .*/\1/p')
	vm --timeout 300 --cmd 'echo crab-harness-control; true'
	rc=$?
	check "VM: a passing guest command passes (rc=$rc)" [ "$rc" -eq 0 ]
	check "VM: guest output is streamed back" grep -q crab-harness-control "$tmp/vm.log"

	vm --timeout 300 --cmd 'exit 3'
	rc=$?
	check "VM: a failing guest status fails the run (rc=$rc)" [ "$rc" -ne 0 ]

	wdir=$tmp/warn
	cp -a "$top/tools/vm/harness/warn_module" "$wdir"
	if make -s -C "/lib/modules/$kver/build" M="$wdir" modules >"$tmp/warn-build.log" 2>&1; then
		vm --timeout 300 --cmd "insmod $wdir/crab_harness_warn.ko && echo loaded"
		rc=$?
		check "VM: a WARN_ON in the guest fails the run although the command succeeded (rc=$rc)" \
			[ "$rc" -ne 0 ]
		check "VM: the WARNING is shown" grep -q 'WARNING:' "$tmp/vm.log"
	else
		sed 's/^/# /' "$tmp/warn-build.log"
		notok "VM: cannot build the WARN_ON fixture module against $kver"
	fi

	start=$(date +%s)
	vm --timeout 45 --cmd 'sleep 100000'
	rc=$? dur=$(($(date +%s) - start))
	check "VM: a hung guest is killed at the timeout and fails (rc=$rc, ${dur}s)" \
		[ "$rc" -ne 0 ] && [ "$dur" -lt 120 ]
	check "VM: the timeout is reported" grep -q 'timed out' "$tmp/vm.log"
	! pgrep -f "crabtop.*$tmp" >/dev/null
	check "VM: no QEMU left behind" [ $? -eq 0 ]
fi

echo "1..$n"
echo "# harness: $pass passed, $fail failed"
if [ -n "$results" ]; then
	mkdir -p "$results"
	echo "$pass $fail 0" >"$results/counts"
fi
[ "$fail" -eq 0 ]
