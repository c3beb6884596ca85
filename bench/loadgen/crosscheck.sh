#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Cross-check crab-loadgen's rr latency against Debian's sockperf on the same
# path in the same run: two namespaces joined by a veth pair, crab-benchd and
# a sockperf server in one, crab-loadgen --mode rr and sockperf ping-pong
# (--full-rtt, TCP) in the other, alternated --reps times with the same
# message size. Prints p50/p99 of both and the ratio loadgen/sockperf.
#   sudo bash bench/loadgen/crosscheck.sh [--seconds S] [--reps R] [--size N]
#                                         [--out DIR] [--rt]
# --rt runs servers and clients SCHED_FIFO (chrt -f 10): on a loaded shared
# machine both tools otherwise mostly measure the CPU scheduler.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
top=$(cd "$(dirname "$0")/../.." && pwd)
LG=${CRAB_LOADGEN_DIR:-$top/build/userspace/bench/loadgen}
seconds=5 reps=2 size=16 out='' rt=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--rt) rt=(chrt -f 10); shift ;;
	-h | --help) sed -n '3,13p' "$0"; exit 0 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "error: needs root (namespaces)" >&2; exit 1; }
command -v sockperf >/dev/null || { echo "error: sockperf not installed (scripts/install-deps.sh)" >&2; exit 1; }
[ -x "$LG/crab-loadgen" ] || { echo "error: $LG/crab-loadgen not built (make userspace)" >&2; exit 1; }
# sockperf's smallest message carries its 14-byte header.
[ "$size" -ge 14 ] || { echo "error: --size must be >= 14 (sockperf's header)" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/crab-crosscheck.XXXXXX)
mkdir -p "$out"

sfx=$$-$RANDOM C=crab-xc-c-$sfx S=crab-xc-s-$sfx
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	ip netns del "$C" 2>/dev/null || true
	ip netns del "$S" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$C"
ip netns add "$S"
ip link add eth0 netns "$C" type veth peer name eth0 netns "$S"
ip -n "$C" addr add 198.18.250.2/24 dev eth0
ip -n "$S" addr add 198.18.250.1/24 dev eth0
for n in "$C" "$S"; do ip -n "$n" link set lo up; ip -n "$n" link set eth0 up; done

ip netns exec "$S" "${rt[@]}" "$LG/crab-benchd" --listen 198.18.250.1:7000 --size "$size" >"$out/benchd.out" 2>&1 &
pids+=($!)
ip netns exec "$S" "${rt[@]}" sockperf server --tcp -i 198.18.250.1 -p 11111 >"$out/sockperf-server.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	grep -q '^ready$' "$out/benchd.out" &&
		ip netns exec "$S" ss -Htln '( sport = :11111 )' | grep -q . && break
	sleep 0.1
done
grep -q '^ready$' "$out/benchd.out" || { echo "error: crab-benchd did not start" >&2; exit 1; }

# sockperf prints "---> percentile 50.000 =   12.345" (usec, RTT with --full-rtt).
sp_pct() { sed -n "s/.*---> percentile $2 = *\([0-9.]*\).*/\1/p" "$1" | head -n1; }
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

printf '%-4s %-12s %10s %10s %10s\n' rep tool samples p50_us p99_us | tee "$out/summary.txt"
for r in $(seq 1 "$reps"); do
	ip netns exec "$C" "${rt[@]}" "$LG/crab-loadgen" --target 198.18.250.1:7000 --mode rr --size "$size" \
		--duration "$seconds" --warmup 1000 --out "$out/loadgen-$r.json" --hist "$out/loadgen-$r.csv" \
		>"$out/loadgen-$r.log" 2>&1 || { cat "$out/loadgen-$r.log"; exit 1; }
	lg50=$(jget "$out/loadgen-$r.json" 'j["latency_us"]["p50"]')
	lg99=$(jget "$out/loadgen-$r.json" 'j["latency_us"]["p99"]')
	lgn=$(jget "$out/loadgen-$r.json" 'j["samples"]')
	printf '%-4s %-12s %10s %10.2f %10.2f\n' "$r" crab-loadgen "$lgn" "$lg50" "$lg99" | tee -a "$out/summary.txt"
	ip netns exec "$C" "${rt[@]}" sockperf ping-pong --tcp --full-rtt -i 198.18.250.1 -p 11111 -m "$size" \
		-t "$seconds" >"$out/sockperf-$r.log" 2>&1 || { cat "$out/sockperf-$r.log"; exit 1; }
	sp50=$(sp_pct "$out/sockperf-$r.log" 50.000)
	sp99=$(sp_pct "$out/sockperf-$r.log" 99.000)
	spn=$(sed -n 's/.*\[Valid Duration\].*SentMessages=\([0-9]*\).*/\1/p' "$out/sockperf-$r.log" | head -n1)
	{ [ -n "$sp50" ] && [ -n "$sp99" ]; } || { echo "error: no percentiles in sockperf output" >&2; cat "$out/sockperf-$r.log"; exit 1; }
	printf '%-4s %-12s %10s %10.2f %10.2f\n' "$r" sockperf "${spn:-?}" "$sp50" "$sp99" | tee -a "$out/summary.txt"
	printf '%-4s %-12s %10s %10.3f %10.3f\n' "$r" ratio "" "$(echo "$lg50 / $sp50" | bc -l)" \
		"$(echo "$lg99 / $sp99" | bc -l)" | tee -a "$out/summary.txt"
done
echo "# same run, same path (veth between two namespaces), ${size}-byte messages, ${seconds} s each," \
	"kernel $(uname -r), $(nproc) CPUs, ${rt[*]:-no RT priority}; files in $out" | tee -a "$out/summary.txt"
