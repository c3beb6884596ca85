#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# make check: build everything, then unit tests (plain and ASan/UBSan), fuzz,
# the harness's own tests, host selftests, the Debian packages, VM selftests
# on Debian 6.1 and 6.12 and the kpatch selftests on our patched 6.12 (built
# unless cached). Every suite runs even when an earlier one failed; the last
# line is the sum:
#   N passed, N failed, N skipped
#
# Scheduling (the VM suites are the critical path: TCG, one vCPU a guest):
#  1. build (make all), the patched kernel (cached by hash), the packages
#     (make deb: the VM test that installs them needs them), then each VM
#     kernel's modules and initramfs (run-vm.sh --prepare), one after the
#     other.
#  2. One queue of VM tests per kernel (build/vmq/<name>/tests; a test
#     marked "# crab-kernels: newest|oldest" only in that one's), longest
#     first by the durations of the last run (build/durations.txt, else the
#     committed selftests/durations.txt). Guests of a kernel share its queue:
#     each claims the next test until none is left (selftests/run.sh --queue).
#  3. CRAB_CHECK_SLOTS (default: cores + 1) jobs at a time. One slot runs the
#     host job (unit, unit-san, fuzz, harness, host selftests, one after the
#     other, at normal priority); the others boot guests (nice
#     CRAB_VM_NICE, default 5). Whenever a slot frees, a guest boots for the
#     kernel with the most estimated work left per running guest, as long as
#     that is at least CRAB_VM_MIN_SHARD seconds (default 240) or the kernel
#     has no guest yet.
#  4. Every test a queue selected must report a result: a test whose guest
#     crashed, hung or never booted is a failure. On the patched kernel a
#     skip is a failure too (its tests exist to run there).
# Environment: CRAB_STRICT=1 (.ci/run sets it): a missing build output or
# dependency is a failure, not a skip. CRAB_PATCHED_KERNEL=none|PATH,
# CRAB_VM_KERNELS (the Debian kernels, default "6.1 6.12"), CRAB_VM_TIMEOUT
# (per guest, default 4800), CRAB_FUZZ_SECONDS (30).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
T=${1:-*}
cd "$top" || exit 2
export CRAB_STRICT=${CRAB_STRICT:-0}
check_start=${CRAB_CI_START:-$(date +%s)}
R=build/results Q=build/vmq
rm -rf "$R" "$Q"
mkdir -p "$R" "$Q"
slots=${CRAB_CHECK_SLOTS:-$(($(nproc) + 1))}
vm_nice=${CRAB_VM_NICE:-5}
vm_timeout=${CRAB_VM_TIMEOUT:-4800}
min_shard=${CRAB_VM_MIN_SHARD:-240}
durations=(--durations build/durations.txt --durations selftests/durations.txt)
echo "=== make check: CRAB_STRICT=$CRAB_STRICT, $slots slots on $(nproc) cores, T='$T'"

phase() { echo "$1 $2 $(date +%s)" >>"$R/phases"; }

# step NAME CMD...: one suite. Its results directory gets rc, wall, start,
# end; a suite that wrote no counts gets "1 0 0" (passed) or "0 1 0".
step() {
	local name=$1 start rc; shift
	start=$(date +%s)
	mkdir -p "$R/$name"
	echo "=== $name: $*"
	"$@"
	rc=$?
	echo "$start" >"$R/$name/start"
	date +%s >"$R/$name/end"
	echo "$rc" >"$R/$name/rc"
	[ -s "$R/$name/wall" ] || echo "$(($(date +%s) - start))" >"$R/$name/wall"
	[ -s "$R/$name/counts" ] || { [ "$rc" = 0 ] && echo "1 0 0" || echo "0 1 0"; } >"$R/$name/counts"
	echo "=== $name: exit $rc, $(($(date +%s) - start))s"
}

summary() {
	local manual=()
	[ -f "$R/host/manual" ] && manual+=(--manual "host=$R/host/manual")
	[ -f "$Q/manual-vm" ] && manual+=(--manual "vm=$Q/manual-vm")
	python3 tools/check-report.py summary --results "$R" --queues "$Q" "${manual[@]}" \
		"${durations[@]}" --durations-out build/durations.txt --start "$check_start" |
		tee "$R/summary.txt"
	exit "${PIPESTATUS[0]}"
}

# ---- 1. build, kernel, packages, VM preparation ---------------------------------
t0=$(date +%s)
step build make -s all
phase build "$t0"
if [ "$(cat "$R/build/rc")" != 0 ]; then
	echo "=== build failed: nothing else can run"
	summary
fi

read -r -a kernels <<<"${CRAB_VM_KERNELS-6.1 6.12}"
knames=("${kernels[@]}")
newest=${knames[${#knames[@]} - 1]:-} oldest=${knames[0]:-}
# The patched kernel (kernel-patches/6.12): built (or found up to date) by
# tools/kernel/build-kernel.sh, it runs the kpatch selftests. With
# CRAB_PATCHED_KERNEL=none it is left out; a path uses that bzImage.
pk=${CRAB_PATCHED_KERNEL:-build}
if [ "$pk" = build ]; then
	t0=$(date +%s)
	mkdir -p "$R/kernel"
	echo "=== kernel: tools/kernel/build-kernel.sh"
	if pk=$(nice bash tools/kernel/build-kernel.sh 2>"$R/kernel/build.log" | tail -n1) && [ -f "$pk" ]; then
		tail -n3 "$R/kernel/build.log"
		echo "=== kernel: $pk, $(($(date +%s) - t0))s"
	else
		tail -n30 "$R/kernel/build.log"
		echo "=== kernel: build failed"
		echo "0 1 0" >"$R/kernel/counts"
		pk=none
	fi
	phase kernel "$t0"
fi
if [ "$pk" != none ]; then
	kernels+=("$pk") knames+=(patched)
else
	echo "=== patched kernel left out (CRAB_PATCHED_KERNEL=none or its build failed)"
fi

# The packages first: selftests/packaging/test_cloud_image.sh (host job) bakes them into an image.
case deb in $T) t0=$(date +%s); step deb make -s deb; phase deb "$t0" ;; esac

# Queues: Debian kernels run every "vm" test but the kpatch area (those need
# the patched kernel); the patched kernel runs the kpatch area.
bash selftests/run.sh --where vm --list-manual >"$Q/manual-vm"
declare -A qtests qest kimage gcount grun broken
t0=$(date +%s)
for i in "${!knames[@]}"; do
	n=${knames[$i]} k=${kernels[$i]}
	if [ "$n" = patched ]; then
		f=$([ "$T" = '*' ] && echo kpatch || echo "$T")
		bash selftests/run.sh --where vm --filter "$f" --list 2>/dev/null | grep '^kpatch/' >"$Q/$n.list"
	else
		bash selftests/run.sh --where vm --filter "$T" --list 2>/dev/null | grep -v '^kpatch/' >"$Q/$n.list"
		# "# crab-kernels: newest" in a test's header: it runs on the
		# last kernel of CRAB_VM_KERNELS only (its subject is policy or
		# userspace logic; the kernel interfaces it uses are exercised
		# on the older kernels by other tests). "oldest": on the first
		# only (eBPF alone, no module: the host's own, newer kernel runs
		# it too). A filter naming such a test runs it anywhere.
		if [ "$T" = '*' ]; then
			while read -r t; do
				mark=$(sed -n 's/^# crab-kernels: \(newest\|oldest\)$/\1/p' "selftests/$t")
				case $mark in
				newest) [ "$n" = "$newest" ] && echo "$t" ;;
				oldest) [ "$n" = "$oldest" ] && echo "$t" ;;
				*) echo "$t" ;;
				esac
			done <"$Q/$n.list" >"$Q/$n.list.tmp"
			echo "=== vm-$n: $(($(wc -l <"$Q/$n.list") - $(wc -l <"$Q/$n.list.tmp"))) tests marked crab-kernels: newest/oldest left to the other kernel"
			mv "$Q/$n.list.tmp" "$Q/$n.list"
		fi
	fi
	read -r cnt est < <(python3 tools/check-report.py plan --group "vm-$n" --list "$Q/$n.list" \
		--out "$Q/$n" "${durations[@]}")
	[ "$n" = patched ] && touch "$Q/$n/noskip"
	if [ "$cnt" = 0 ]; then
		echo "=== vm-$n: no test selected"
		continue
	fi
	echo "=== vm-$n: $cnt tests, ~${est}s by the last durations; preparing $k"
	mkdir -p "$R/prepare-$n"
	if bash tools/vm/run-vm.sh --kernel "$k" --prepare >"$R/prepare-$n/log" 2>&1; then
		tail -n2 "$R/prepare-$n/log"
		qtests[$n]=$cnt kimage[$n]=$k gcount[$n]=0 grun[$n]=0
		mapfile -t est_lines <"$Q/$n/est"
		qest[$n]="${est_lines[*]}"
	else
		cat "$R/prepare-$n/log"
		echo "=== vm-$n: cannot prepare $k: its tests will not run"
		echo "0 1 0" >"$R/prepare-$n/counts"
	fi
done
phase vm-prepare "$t0"

# ---- 2. the pool: host job and guests ----------------------------------------------
# left NAME: estimated seconds of the tests of NAME's queue nobody claimed.
left() {
	local n=$1 i=0 sum=0 e
	for e in ${qest[$n]}; do
		i=$((i + 1))
		[ -d "$Q/$n/claim/$i" ] || sum=$((sum + e))
	done
	echo "$sum"
}
unclaimed() {
	local n=$1 c
	c=$(find "$Q/$n/claim" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
	echo $((qtests[$n] - c))
}
# pick: the queue that most needs another guest, or nothing.
pick() {
	local n l best= bestscore=-1 score
	for n in "${!qtests[@]}"; do
		[ -z "${broken[$n]:-}" ] || continue
		[ "$(unclaimed "$n")" -gt 0 ] || continue
		l=$(left "$n")
		score=$((l / (grun[$n] + 1)))
		if [ "${grun[$n]}" -gt 0 ] && [ "$score" -lt "$min_shard" ]; then continue; fi
		if [ "$score" -gt "$bestscore" ]; then best=$n bestscore=$score; fi
	done
	[ -n "$best" ] && echo "$best"
}

declare -A job_name
host_job() {
	if [ "$T" = '*' ] || ctest --test-dir build/userspace -N -R "$(printf '%s' "$T" |
		sed 's/[.]/\\./g; s/[*]/.*/g; s/[?]/./g')" 2>/dev/null | grep -q 'Total Tests: [1-9]'; then
		step unit bash tools/run-unit.sh "$T"
		step unit-san bash tools/run-unit.sh --sanitize "$T"
	fi
	# Bounded libFuzzer run, ${CRAB_FUZZ_SECONDS:-30}s per target (fuzz/README.md).
	case fuzz in $T) step fuzz bash fuzz/run.sh --seconds "${CRAB_FUZZ_SECONDS:-30}" --results "$R/fuzz" ;; esac
	case harness in $T) step harness bash tools/vm/test-harness.sh --results "$R/harness" ;; esac
	if [ -n "$(bash selftests/run.sh --where host --filter "$T" --list 2>/dev/null)" ] || [ "$T" = '*' ]; then
		step host bash selftests/run.sh --where host --filter "$T" --results "$R/host"
	fi
}

t_pool=$(date +%s)
host_job >"$R/host-job.log" 2>&1 &
job_name[$!]=host-job
running=1
echo "=== host job started (unit, unit-san, fuzz, harness, host selftests): $R/host-job.log"
first_guest= last_guest=
while :; do
	while [ "$running" -lt "$slots" ] && n=$(pick); do
		gcount[$n]=$((gcount[$n] + 1)) grun[$n]=$((grun[$n] + 1))
		g=vm-$n.g${gcount[$n]}
		mkdir -p "$R/$g"
		date +%s >"$R/$g/start"
		echo "=== $g: booting ${kimage[$n]} for queue $n ($(unclaimed "$n") tests unclaimed, ~$(left "$n")s), $((running + 1))/$slots slots busy"
		CRAB_RUNNER_ID=$g CRAB_VM_CPUS=1 nice -n "$vm_nice" bash tools/vm/run-vm.sh \
			--kernel "${kimage[$n]}" --no-build --queue "$Q/$n" --results "$R/$g" \
			--timeout "$vm_timeout" >"$R/$g.log" 2>&1 &
		job_name[$!]=$g
		running=$((running + 1))
		[ -n "$first_guest" ] || first_guest=$(date +%s)
	done
	[ "$running" -gt 0 ] || break
	done_pid=
	wait -n -p done_pid
	rc=$?
	if [ -z "$done_pid" ]; then
		echo "=== scheduler: $running jobs counted but none left to wait for"
		break
	fi
	name=${job_name[$done_pid]:-}
	[ -n "$name" ] || continue # not one of ours (a process substitution)
	unset "job_name[$done_pid]"
	running=$((running - 1))
	if [ "$name" = host-job ]; then
		cat "$R/host-job.log"
		echo "=== host job done, $(($(date +%s) - t_pool))s"
		phase host-job "$t_pool"
		continue
	fi
	last_guest=$(date +%s)
	date +%s >"$R/$name/end"
	echo "$rc" >"$R/$name/rc"
	n=${name#vm-}
	n=${n%.g*}
	grun[$n]=$((grun[$n] - 1))
	claimed=$(grep -lx "$name" "$Q/$n"/claim/*/by 2>/dev/null | wc -l)
	echo "=== $name: exit $rc, $(($(date +%s) - $(cat "$R/$name/start")))s, $claimed tests"
	cat "$R/$name.log"
	echo "=== $name: end of log"
	# A guest that claimed nothing while tests were left did not boot or
	# could not run them: booting more guests of that kernel will not help.
	if [ "$claimed" = 0 ] && [ "$(unclaimed "$n")" -gt 0 ]; then
		echo "=== vm-$n: guest $name ran no test: no more guests of this kernel"
		broken[$n]=1
	fi
done
[ -n "$first_guest" ] && echo "vm $first_guest ${last_guest:-$first_guest}" >>"$R/phases"

summary
