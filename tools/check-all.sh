#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# make check: build everything, then unit tests, the harness's own tests,
# host selftests, VM selftests on Debian 6.1 and 6.12, and the kpatch
# selftests on our patched 6.12 (built unless up to date; see below). Every suite runs
# even when an earlier one failed; the last line is the sum:
#   N passed, N failed, N skipped
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
T=${1:-*}
cd "$top" || exit 2
check_start=$(date +%s)
rm -rf build/results
mkdir -p build/results
suites_failed=0
step() {
	local name=$1; shift
	echo "=== $name: $*"
	local start=$(date +%s)
	"$@"
	local rc=$?
	echo "=== $name: exit $rc, $(($(date +%s) - start))s"
	if [ "$rc" != 0 ]; then
		suites_failed=$((suites_failed + 1))
		# A suite that died before writing counts still counts as a failure.
		[ -s "build/results/$name/counts" ] || { mkdir -p "build/results/$name"; echo "0 1 0" >"build/results/$name/counts"; }
	fi
}

if ! make -s all; then
	echo "=== build failed"
	mkdir -p build/results/build && echo "0 1 0" >build/results/build/counts
else
	echo "0 0 0" >/dev/null
	step unit bash tools/run-unit.sh "$T"
	# Bounded libFuzzer run, ${CRAB_FUZZ_SECONDS:-30}s per target (fuzz/README.md).
	case fuzz in $T) step fuzz bash fuzz/run.sh --seconds "${CRAB_FUZZ_SECONDS:-30}" --results build/results/fuzz ;; esac
	step harness bash tools/vm/test-harness.sh --results build/results/harness
	step host bash selftests/run.sh --where host --filter "$T" --results build/results/host
	# The Debian packages (packaging/) build and pass lintian; the VM test
	# that installs them (selftests/packaging/test_install_debs.sh) is manual.
	case deb in $T) step deb make -s deb ;; esac
	# The VM suites are CPU-bound under TCG and mostly sequential inside:
	# run one VM per kernel side by side, one vCPU each, so two host cores
	# serve two kernels at once. Their logs are printed one after the other.
	kernels=(6.1 6.12)
	filters=("$T" "$T")
	names=(6.1 6.12)
	# The patched kernel (kernel-patches/6.12): built (or found up to date)
	# by tools/kernel/build-kernel.sh, it runs the kpatch selftests. With
	# CRAB_PATCHED_KERNEL=none it is left out; a path uses that bzImage.
	pk=${CRAB_PATCHED_KERNEL:-build}
	if [ "$pk" = build ]; then
		echo "=== kernel: tools/kernel/build-kernel.sh"
		kstart=$(date +%s)
		if pk=$(nice bash tools/kernel/build-kernel.sh 2>build/results/kernel-build.log | tail -n1) &&
		   [ -f "$pk" ]; then
			tail -n3 build/results/kernel-build.log
			echo "=== kernel: $pk, $(($(date +%s) - kstart))s"
		else
			tail -n30 build/results/kernel-build.log
			echo "=== kernel: build failed"
			mkdir -p build/results/kernel && echo "0 1 0" >build/results/kernel/counts
			suites_failed=$((suites_failed + 1))
			pk=none
		fi
	fi
	if [ "$pk" != none ]; then
		kernels+=("$pk")
		filters+=("kpatch")
		names+=(patched)
		[ "$T" = '*' ] || filters[2]=$T
	fi
	pids=()
	for i in "${!kernels[@]}"; do
		CRAB_VM_CPUS=${CRAB_VM_CPUS:-1} bash tools/vm/run-vm.sh --kernel "${kernels[$i]}" \
			--filter "${filters[$i]}" --timeout "${CRAB_VM_TIMEOUT:-4800}" \
			>"build/results/vm-${names[$i]}.log" 2>&1 &
		pids+=($!)
	done
	for i in "${!kernels[@]}"; do
		k=${kernels[$i]}
		wait "${pids[$i]}"
		rc=$?
		echo "=== vm-${names[$i]}: tools/vm/run-vm.sh --kernel $k --filter '${filters[$i]}'"
		cat "build/results/vm-${names[$i]}.log"
		echo "=== vm-${names[$i]}: exit $rc"
		if [ "$rc" != 0 ]; then
			suites_failed=$((suites_failed + 1))
		fi
	done
fi

p=0 f=0 s=0
for c in build/results/*/counts; do
	[ -e "$c" ] || continue
	read -r a b d <"$c"
	printf '%-28s %s passed, %s failed, %s skipped\n' "$(basename "$(dirname "$c")")" "$a" "$b" "$d"
	p=$((p + a)) f=$((f + b)) s=$((s + d))
done
# A suite that failed without any failed count (e.g. the VM kernel log) is a failure.
if [ "$suites_failed" -gt 0 ] && [ "$f" -eq 0 ]; then f=$suites_failed; fi
echo "=== wall time: $(($(date +%s) - ${CRAB_CI_START:-$check_start}))s"
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
