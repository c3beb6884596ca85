#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Tests of the test harness itself: its failure paths are proven, not assumed.
#  1. selftests/run.sh over selftests/harness-fixtures: a failing, hanging,
#     check-less or reason-less test fails the run and is counted; a skip is
#     a skip with its reason; a missing build output is a skip, or a failure
#     with CRAB_STRICT=1; a missing or misspelled tag line is refused; a
#     manual test is listed and counted; a run that executed nothing fails;
#     two runners sharing a queue run every test exactly once; no test
#     skips with crab_skip on something the build should have made.
#  2. tools/run-unit.sh: "No tests were found" is a failure.
#  3. tools/check-report.py: a test a VM queue selected that never reported
#     fails make check; a skip on the patched kernel fails it; the summary
#     groups skips by reason, lists the slowest tests, ends with the count
#     line.
#  4. run-vm.sh (QEMU): a queue run in a guest passes and reports every
#     test; a failing guest status fails the run; a module's WARN_ON fails
#     it although every command succeeded; a hung guest is killed at
#     --timeout and leaves no QEMU behind; a missing module build tree fails
#     --prepare with CRAB_STRICT=1. Without QEMU or the kernel these checks
#     fail with CRAB_STRICT=1 and are counted as skipped otherwise.
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
pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n harness: $*"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n harness: $*"; }
skipped() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n harness: $* # SKIP"; }
# check DESC CMD...: one check; CMD may be a function of several conditions.
check() { local desc=$1; shift; if "$@"; then ok "$desc"; else notok "$desc"; fi; }
has() { grep -qE -- "$2" "$1"; }
start_all=$(date +%s)

mkdir -p "$top/build"
tmp=$(mktemp -d "$top/build/harness.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"

# ---- 1. the selftest runner -------------------------------------------------
fx=$top/selftests/harness-fixtures
runfx() { # runfx STRICT NAME [run.sh args]: run the fixtures, rc in $rc
	local strict=$1 name=$2; shift 2
	CRAB_STRICT=$strict CRAB_SELFTESTS_DIR=$fx bash "$top/selftests/run.sh" --where host \
		--results "$tmp/$name" "$@" >"$tmp/$name.log" 2>&1
	rc=$?
}
runfx 0 r
sed 's/^/# /' "$tmp/r.log"
counts() { cat "$1/counts" 2>/dev/null; }
check "runner exits non-zero when a test fails (rc=$rc)" [ "$rc" -ne 0 ]
# pass: pass, partial; fail: fail, hang, nochecks, nochecks_raw,
# skip_noreason, badtag, notag; skip: skip, missing, missing_tool.
check "runner counts 2 pass, 7 fail, 3 skip: '$(counts "$tmp/r")'" [ "$(counts "$tmp/r")" = "2 7 3" ]
check "hanging test reported as TIMEOUT" has "$tmp/r.log" '^not ok .*test_hang.sh # TIMEOUT'
check "a skip is printed with its reason" \
	has "$tmp/r.log" '^ok .*test_skip.sh # SKIP fixture: this kernel lacks the feature under test'
check "a test that made no check fails (crab_exit)" \
	has "$tmp/r.log" '^not ok .*test_nochecks.sh '
check "a test that exits 0 without a check line fails (runner)" \
	has "$tmp/r.log" '^not ok .*test_nochecks_raw.sh # passed without a single check'
check "a skip without a reason fails" \
	has "$tmp/r.log" '^not ok .*test_skip_noreason.sh # skipped without a reason'
check "a misspelled tag line is refused and counted, not dropped" \
	has "$tmp/r.log" "^not ok .*test_badtag.sh # refused: unknown word.*'vn'"
check "a missing tag line is refused and counted, not dropped" \
	has "$tmp/r.log" '^not ok .*test_notag.sh # refused: no '
check "a manual test is printed, not run, and listed in results/manual" \
	eval "has '$tmp/r.log' 'manual .*area/test_manual.sh' && ! has '$tmp/r.log' 'fixture manual test ran' &&
	[ \"\$(cat '$tmp/r/manual')\" = area/test_manual ]"
check "without CRAB_STRICT a missing build output is a skip naming it" \
	has "$tmp/r/skips" $'^area/test_missing\tcrab-fixture-tool not built'
check "a check that cannot be made is recorded as a skipped check" \
	has "$tmp/r/skipped-checks" $'^area/test_partial\tfixture check of a missing part'
check "every test run has a duration line in results/times" \
	eval "[ \$(wc -l <'$tmp/r/times') = 12 ] && has '$tmp/r/times' $'^[0-9]+\ttimeout\tarea/test_hang'"

runfx 1 rs
sed -n '/^not ok\|^ok\|^# host/p' "$tmp/rs.log" | sed 's/^/# strict: /'
check "CRAB_STRICT=1: missing output, tool and check fail; a reason outside the project still skips: '$(counts "$tmp/rs")'" \
	[ "$(counts "$tmp/rs")" = "1 10 1" ]
check "CRAB_STRICT=1: the failure names what is missing" \
	eval "has '$tmp/rs.log' '^not ok .*test_missing.sh' &&
	has '$tmp/rs.log' 'FAIL: test_missing: crab-fixture-tool not built .*CRAB_STRICT=1'"

runfx 0 r2 --filter test_pass
check "runner exits 0 when the selected tests pass (rc=$rc)" [ "$rc" -eq 0 ]
runfx 0 r3 --filter test_no_such_test
check "a run that selected no test fails (rc=$rc)" \
	eval "[ $rc -ne 0 ] && has '$tmp/r3.log' 'no test selected'"
runfx 0 r4 --filter test_skip
check "a run whose every test skipped fails (rc=$rc)" \
	eval "[ $rc -ne 0 ] && has '$tmp/r4.log' 'no test executed'"
runfx 0 r5 --filter test_manual
check "a filter naming a manual test runs it (rc=$rc)" \
	eval "[ $rc -eq 0 ] && has '$tmp/r5.log' 'fixture manual test ran'"

# Two runners sharing one queue: each test runs once, in one of them.
mkdir -p "$tmp/q"
printf 'area/%s.sh\n' test_pass test_fail test_skip test_partial test_missing >"$tmp/q/tests"
for i in 1 2; do
	CRAB_RUNNER_ID=runner$i CRAB_SELFTESTS_DIR=$fx bash "$top/selftests/run.sh" --where vm \
		--queue "$tmp/q" --results "$tmp/q$i" >"$tmp/q$i.log" 2>&1 &
done
wait
cut -f3 "$tmp/q1/times" "$tmp/q2/times" 2>/dev/null | sort >"$tmp/q.ran"
check "two runners sharing a queue ran each of its 5 tests exactly once: $(tr '\n' ' ' <"$tmp/q.ran")" \
	eval "[ \"\$(sort -u '$tmp/q.ran' | wc -l)\" = 5 ] && [ \"\$(wc -l <'$tmp/q.ran')\" = 5 ]"

# Static: crab_skip is for reasons outside the project; a reason saying that
# something is not built or not installed must go through crab_missing.
grep -rnE 'crab_skip(_env)? +"[^"]*(not built|not installed|not found|missing)' \
	"$top/selftests" "$top/experiments" --include='*.sh' | grep -v harness-fixtures >"$tmp/lint" || true
sed 's/^/# /' "$tmp/lint"
check "no selftest skips with crab_skip on a missing build output or tool ($(wc -l <"$tmp/lint") found)" \
	[ ! -s "$tmp/lint" ]

# ---- 2. the unit test runner --------------------------------------------------------
if [ -d "$top/build/userspace" ]; then
	bash "$top/tools/run-unit.sh" --results "$tmp/unit" 'CrabNoSuchUnitTest*' >"$tmp/unit.log" 2>&1
	rc=$?
	check "run-unit.sh fails when no unit test matched (rc=$rc, counts '$(counts "$tmp/unit")')" \
		eval "[ $rc -ne 0 ] && [ \"\$(counts '$tmp/unit')\" = '0 1 0' ]"
elif [ "${CRAB_STRICT:-0}" = 1 ]; then
	notok "run-unit.sh: build/userspace missing (make userspace; CRAB_STRICT=1)"
else
	skipped "run-unit.sh fails when no unit test matched: build/userspace missing (make userspace)"
fi

# ---- 3. make check's closing summary --------------------------------------------------
S=$tmp/sum
mkdir -p "$S/res/host" "$S/res/vm-6.1.g1" "$S/res/vm-patched.g1" "$S/res/vm-patched.g2" \
	"$S/q/6.1/claim/1" "$S/q/patched/claim/1" "$S/q/patched/claim/2" "$S/q/patched/claim/3"
echo "3 0 1" >"$S/res/host/counts"
printf '%s\t%s\t%s\n' 40 ok a/test_h1 5 ok a/test_h2 1 skip a/test_h3 >"$S/res/host/times"
printf 'a/test_h3\tkernel without the feature\n' >"$S/res/host/skips"
echo "2 1 1" >"$S/res/vm-6.1.g1/counts"
printf '%s\t%s\t%s\n' 300 ok b/test_v1 2 skip b/test_v2 7 fail b/test_v3 >"$S/res/vm-6.1.g1/times"
printf '%s\n' '# selftests: b: test_v1.sh' '# # TEST: v1 check  [ OK ]' 'ok 1 selftests: b: test_v1.sh' \
	'# selftests: b: test_v3.sh' '# # TEST: v3 first check  [ OK ]' '# # TEST: v3 second check  [FAIL]' \
	'not ok 3 selftests: b: test_v3.sh # exit=1' >"$S/res/vm-6.1.g1.log"
printf 'b/test_v2\tkernel without the feature\n' >"$S/res/vm-6.1.g1/skips"
printf 'b/test_v%s.sh\n' 1 2 3 >"$S/q/6.1/tests"
# patched: k1 ran, k2 skipped, k3 claimed by g2 which died, k4 never claimed.
echo "2 0 1" >"$S/res/vm-patched.g1/counts"
printf '%s\t%s\t%s\n' 100 ok kpatch/test_k1 1 skip kpatch/test_k2 >"$S/res/vm-patched.g1/times"
printf 'kpatch/test_k2\tkernel without net.ipv4.tcp_crab_client\n' >"$S/res/vm-patched.g1/skips"
echo "0 1 0" >"$S/res/vm-patched.g2/counts"
echo vm-patched.g2 >"$S/q/patched/claim/3/by"
printf 'kpatch/test_k%s.sh\n' 1 2 3 4 >"$S/q/patched/tests"
touch "$S/q/patched/noskip"
python3 "$top/tools/check-report.py" summary --results "$S/res" --queues "$S/q" >"$S/out" 2>&1
rc=$?
sed 's/^/# /' "$S/out"
# host 3 + vm-6.1 2 + patched 2 pass; fail: v3 + g2's 1 + k2 skipped + k3 + k4.
check "summary: the last line is the sum, with the patched kernel's gaps as failures ('$(tail -n1 "$S/out")')" \
	eval "[ \"\$(tail -n1 '$S/out')\" = '7 passed, 5 failed, 3 skipped' ] && [ $rc -ne 0 ]"
check "summary: a test started in a guest that died is named" \
	has "$S/out" 'not run: kpatch/test_k3 \(started in guest vm-patched.g2'
check "summary: a test no guest started is named" has "$S/out" 'not run: kpatch/test_k4 \(never started'
check "summary: a skip on the patched kernel is a failure" \
	has "$S/out" 'skipped, must run on this kernel: kpatch/test_k2'
check "summary: a kernel whose tests all reported passes its coverage check" \
	has "$S/out" '^=== vm-6.1: 3 tests selected, 2 executed, 0 never reported: ok'
check "summary: skips grouped by reason" \
	eval "has '$S/out' '^  \[2\] kernel without the feature' && has '$S/out' 'host a/test_h3, vm-6.1 b/test_v2'"
check "summary: slowest tests, longest first" \
	eval "sed -n '/=== slowest/,/===/p' '$S/out' | sed -n 2p | grep -q '300s  vm-6.1 *b/test_v1'"
check "summary: the failed tests come last, before the sum, each with its failed checks" \
	eval "sed -n '/^=== failed/,\$p' '$S/out' | grep -A1 '^  vm-6.1 *b/test_v3 (fail)' | grep -q 'TEST: v3 second check  \[FAIL\]' &&
		sed -n '/^=== failed/,\$p' '$S/out' | grep -q 'kpatch/test_k4 (not run)'"

# ---- 4. the VM runner ----------------------------------------------------------------
vmdescs=("VM: prepare (modules, initramfs)" "VM: a queue run passes" "VM: guest output is streamed back"
	"VM: the queue's tests all report once" "VM: a failing guest status fails the run"
	"VM: a WARN_ON fails the run" "VM: the WARNING is shown" "VM: a hung guest is killed at the timeout"
	"VM: the timeout is reported" "VM: no QEMU left behind" "VM: CRAB_STRICT=1 fails a kernel without module build tree")
image=$(ls /boot/vmlinuz-"$kernel".* 2>/dev/null | grep -v -e cloud -e rt | sort -V | tail -n1)
if ! command -v qemu-system-x86_64 >/dev/null || [ -z "$image" ]; then
	why="qemu-system-x86_64 or the Debian $kernel kernel is missing (make deps)"
	for d in "${vmdescs[@]}"; do
		if [ "${CRAB_STRICT:-0}" = 1 ]; then notok "$d: $why (CRAB_STRICT=1)"; else skipped "$d: $why"; fi
	done
else
	vm() { bash "$top/tools/vm/run-vm.sh" --kernel "$kernel" --no-build "$@" >"$tmp/vm.log" 2>&1; }
	bash "$top/tools/vm/run-vm.sh" --kernel "$kernel" --prepare >"$tmp/prep.log" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/prep.log"
	check "${vmdescs[0]} (rc=$rc)" [ "$rc" -eq 0 ]

	# A queue of two fixtures (a pass and a skip) in one guest.
	mkdir -p "$tmp/vq"
	printf 'harness-fixtures/area/%s.sh\n' test_pass test_skip >"$tmp/vq/tests"
	vm --timeout 300 --queue "$tmp/vq" --results "$tmp/vqr"
	rc=$?
	sed 's/^/# /' "$tmp/vm.log"
	check "${vmdescs[1]} (rc=$rc, counts '$(counts "$tmp/vqr")': 1 test + the kernel log, 1 skip)" \
		eval "[ $rc -eq 0 ] && [ \"\$(counts '$tmp/vqr')\" = '2 0 1' ]"
	check "${vmdescs[2]}" has "$tmp/vm.log" '^ok 1 selftests: harness-fixtures: test_pass.sh'
	check "${vmdescs[3]}" eval "[ \"\$(cut -f3 '$tmp/vqr/times' 2>/dev/null | sort | tr '\n' ' ')\" = \
		'harness-fixtures/area/test_pass harness-fixtures/area/test_skip ' ]"

	vm --timeout 300 --cmd 'exit 3'
	rc=$?
	check "${vmdescs[4]} (rc=$rc)" [ "$rc" -ne 0 ]

	kver=$(file -bL "$image" | sed -n 's/.*version \([^ ]*\) .*/\1/p')
	wdir=$tmp/warn
	cp -a "$top/tools/vm/harness/warn_module" "$wdir"
	if make -s -C "/lib/modules/$kver/build" M="$wdir" modules >"$tmp/warn-build.log" 2>&1; then
		vm --timeout 300 --cmd "insmod $wdir/crab_harness_warn.ko && echo loaded"
		rc=$?
		check "${vmdescs[5]} although the command succeeded (rc=$rc)" \
			eval "[ $rc -ne 0 ] && has '$tmp/vm.log' '^loaded'"
		check "${vmdescs[6]} in the run's error report" \
			eval "grep -A5 '^not ok vm: guest kernel log has errors' '$tmp/vm.log' | grep -q '^#   .*WARNING:'"
	else
		sed 's/^/# /' "$tmp/warn-build.log"
		notok "${vmdescs[5]}: cannot build the WARN_ON fixture module against $kver"
		notok "${vmdescs[6]}: no fixture module"
	fi

	start=$(date +%s)
	vm --timeout 45 --cmd 'sleep 100000'
	rc=$? dur=$(($(date +%s) - start))
	check "${vmdescs[7]} and fails (rc=$rc, ${dur}s, limit 120s)" eval "[ $rc -ne 0 ] && [ $dur -lt 120 ]"
	check "${vmdescs[8]}" has "$tmp/vm.log" 'timed out'
	# QEMU's command line carries crab.run=<the run directory>, printed at boot.
	rundir=$(sed -n 's/^# vm: booting .*, run directory \(.*\)$/\1/p' "$tmp/vm.log" | head -n1)
	left=
	[ -n "$rundir" ] && left=$(pgrep -f "crab\.run=$rundir( |$)")
	check "${vmdescs[9]} (run directory '${rundir:-not found in the log}', processes: '${left}')" \
		eval "[ -n '$rundir' ] && [ -z '$left' ]"
	# shellcheck disable=SC2086
	[ -z "$left" ] || kill -9 $left 2>/dev/null

	CRAB_STRICT=1 bash "$top/tools/vm/run-vm.sh" --kernel "$kernel" --kdir "$tmp/no-such-tree" \
		--prepare >"$tmp/strict.log" 2>&1
	rc=$?
	check "${vmdescs[10]} (rc=$rc)" \
		eval "[ $rc -ne 0 ] && has '$tmp/strict.log' 'no module build tree.*CRAB_STRICT=1'"
fi

echo "1..$n"
echo "# harness: $pass passed, $fail failed, $skip skipped, $(($(date +%s) - start_all))s"
if [ -n "$results" ]; then
	mkdir -p "$results"
	echo "$pass $fail $skip" >"$results/counts"
fi
[ "$fail" -eq 0 ]
