#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make bench-host: experiment 1 (unloaded CRR and RR latency) on the host
# kernel, where nothing is emulated (bench/host/README.md): the standard
# topology in network namespaces, CRAB with the eBPF endpoints and the XDP
# LB (native XDP on veth) against direct, a stateless DSR LB (the XDP LB
# in hash mode, clients without CRAB), nft DNAT and HAProxy, in
# interleaved rounds; bench/e2e/guest.sh --endpoints ebpf does the work,
# bench/e2e/plot.py the tables and plots.
#
#   bash bench/host/run.sh [--quick] [--out DIR] [--samples N] [--rounds R]
#                          [--variants "direct crab-xdp crab-xdp-noprobe dsr-xdp nft-dnat haproxy"]
#                          [--prog-stats]
#
# --prog-stats: the kernel's BPF run-time statistics on for the run
# (kernel.bpf_stats_enabled, restored at the end): every point also
# records the runs and run time of the project's programs, summarized in
# DIR/prog-cost.md (nanoseconds per run, runs per transaction). The
# statistics cost time in every run of every program, so this run's
# latencies are not comparable to a run without them.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
top=$(cd "$(dirname "$0")/../.." && pwd)
cmdline="$0 $*"
samples=10000 rounds=10 out= label=full prog_stats=0
variants="direct crab-xdp crab-xdp-noprobe dsr-xdp nft-dnat haproxy"
while [ $# -gt 0 ]; do
	case $1 in
	--quick) samples=2000 rounds=4 label=quick; shift ;;
	--out) out=$2; shift 2 ;;
	--samples) samples=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--variants) variants=$2; shift 2 ;;
	--prog-stats) prog_stats=1; shift ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "error: make bench-host needs root (namespaces, XDP, cgroups)" >&2; exit 1; }
for t in haproxy nft nsenter ethtool $([ $prog_stats = 1 ] && echo bpftool); do
	command -v "$t" >/dev/null || { echo "error: $t not installed (make deps)" >&2; exit 1; }
done
python3 -c 'import matplotlib' 2>/dev/null || { echo "error: python3-matplotlib not installed (make deps)" >&2; exit 1; }
[ -n "$out" ] || out=$top/build/bench/host/$(date -u +%Y%m%dT%H%M%SZ)-$label
mkdir -p "$out"
out=$(cd "$out" && pwd)
{
	echo "label=$label (host)"
	echo "command=$cmdline"
	echo "host_kernel=$(uname -r)"
	echo "host_cpus=$(nproc)"
	echo "host_cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "vm=none: the host kernel, network namespaces, native XDP on veth"
	echo "guest_kernel=$(uname -r) (host)"
	echo "git=$(git -C "$top" rev-parse --short HEAD 2>/dev/null)$(git -C "$top" diff --quiet 2>/dev/null || echo -dirty)"
	echo "host_load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "start=$(date -u +%FT%TZ)"
	echo "prog_stats=$prog_stats"
} >"$out/env.txt"

make -C "$top" -s bpf
cmake -S "$top" -B "$top/build/userspace" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRAB_BPF_DIR="$top/build/bpf" >/dev/null
cmake --build "$top/build/userspace" -j "$(nproc)" --target crabctl crab-loadgen crab-benchd -- --no-print-directory
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
if [ $prog_stats = 1 ]; then
	sysctl -qw kernel.bpf_stats_enabled=1 || { echo "error: cannot turn kernel.bpf_stats_enabled on" >&2; exit 1; }
fi
export PROG_STATS=$prog_stats
(while :; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 15; done) >"$out/host-load.txt" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled=$stats_was' EXIT
t0=$(date +%s)
rc=0
# A private mount namespace: the XDP LB and the endpoints pin their maps
# in a bpffs of this run only.
unshare -m --propagation private bash -c 'mount -t bpf bpf /sys/fs/bpf && exec "$@"' sh \
	bash "$top/bench/e2e/guest.sh" --out "$out" --exp 1 --endpoints ebpf --samples "$samples" \
	--rounds "$rounds" --variants "$variants" || rc=$?
kill $sampler 2>/dev/null
{
	echo "end=$(date -u +%FT%TZ)"
	echo "duration_s=$(($(date +%s) - t0))"
	echo "host_load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "host_load_1min_max=$(awk '{print $2}' "$out/host-load.txt" | sort -g | tail -n1)"
	echo "rc=$rc"
} >>"$out/env.txt"
python3 "$top/bench/e2e/plot.py" "$out"
[ $prog_stats = 1 ] && python3 "$top/bench/host/prog_cost.py" "$out" | tee "$out/prog-cost.md"
echo "bench-host: results in $out (status $rc)"
exit $rc
