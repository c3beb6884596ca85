#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The eBPF client endpoint's tc ingress cost per segment, A/B: builds of
# crabctl (each carries its own programs) measured alternately in one run
# (bench/endpoints/README.md).
#
#   bash bench/endpoints/cost.sh [--rounds N] [--repeat R] [--cpu C]
#                                [--modes "moved moved6 other synack"]
#                                [--out DIR] [--no-build] [NAME=CRABCTL ...]
#
# NAME=CRABCTL: a label and a crabctl binary (copied at the start); without
# any, "cur" = this tree's build. Every round attaches each variant's
# client endpoint to a veth in a namespace of its own and times its ingress
# program (bench/endpoints/cost.py: BPF_PROG_TEST_RUN, the kernel's mean
# over --repeat runs, default 1000000), pinned to --cpu (default 1), in
# each of --modes (default all): a data segment of a moved IPv4
# connection (moved), of a moved IPv6 one (moved6), of a connection that
# was not moved (other), and a redirecting SYN-ACK for a socket in
# SYN-SENT, every check of accepting it run (synack: the endpoint is
# attached with --max-flows 1, whose full table refuses it last, so that
# every run decides afresh). The variants' order is reversed every other
# round. Prints per variant and mode the median of the rounds, their min
# and max; writes cost.csv, summary.txt and env.txt into --out (default
# build/bench/endpoints/cost-<UTC time>). Default 7 rounds.
set -u
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=7
REPEAT=1000000
MODES="moved moved6 other synack"
CPU=1
OUT=
BUILD=1
VARIANTS=()
ARGS=("$@")

USAGE_LINES=4,24
source "$TOP/bench/opts.sh"

while [ $# -gt 0 ]; do
	case $1 in
	--rounds) bench_range "$1" "${2:-}" 1 100; ROUNDS=$2; shift 2 ;;
	--repeat) bench_range "$1" "${2:-}" 1000 100000000; REPEAT=$2; shift 2 ;;
	--cpu) bench_cpu "$1" "${2:-}"; CPU=$2; shift 2 ;;
	--modes) MODES=${2:-}; shift 2 ;;
	--out) [ -n "${2:-}" ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	-h|--help) usage 0 ;;
	*=*) VARIANTS+=("$1"); shift ;;
	*) echo "error: unknown argument '$1'" >&2; usage 2 ;;
	esac
done
[ -n "$MODES" ] || die "--modes is empty"
MODEARGS=()
for m in $MODES; do
	case $m in moved|moved6|other|synack) MODEARGS+=(--mode "$m") ;; *) die "mode '$m': expected moved, moved6, other or synack" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, cgroups, BPF)"
bench_tools ip nsenter unshare taskset python3 bpftool
[ -n "$OUT" ] || OUT=$TOP/build/bench/endpoints/cost-$(date -u +%Y%m%dT%H%M%SZ)

if [ -z "${EPCOST_UNSHARED:-}" ]; then
	if [ $BUILD = 1 ] && [ ${#VARIANTS[@]} = 0 ]; then
		make -s -C "$TOP" bpf userspace >/dev/null || die "make bpf userspace failed"
	fi
	mkdir -p "$OUT" || die "cannot create --out '$OUT'"
	EPCOST_UNSHARED=1 exec unshare -m bash "$0" "${ARGS[@]}" --out "$OUT" --no-build
fi
mount --make-rprivate / 2>/dev/null
mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs"

# The binaries and frames of the run: not results, removed at the end.
WORK=$(mktemp -d) || die "cannot create a work directory"
bench_variants "$WORK"

# A cgroup v2 directory for the client's sockets (none connect: only the
# tc programs run here, but attach wants one).
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CG_ROOT" ] || die "no cgroup v2 hierarchy mounted"
NS=crab-epcost-$$
CG=$CG_ROOT/crab-epcost-$$
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rmdir "$CG" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS" || die "cannot create namespace $NS"
mkdir "$CG" || die "cannot create cgroup $CG"
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
in_ns ip link add ep0 type veth peer name ep1 || die "cannot create the veth"
in_ns ip link set ep0 up && in_ns ip link set ep1 up || die "cannot bring the veth up"
# The SYN-ACK mode's connection: from 10.1.0.2 to A (10.9.0.1) through a
# next hop that never answers (its MAC is static), so the socket stays in
# SYN-SENT; its SYN shows on ep1.
in_ns ip addr add 10.1.0.2/24 dev ep0 &&
	in_ns ip neigh add 10.1.0.1 lladdr 02:00:00:00:00:01 dev ep0 nud permanent &&
	in_ns ip route add 10.9.0.0/24 via 10.1.0.1 dev ep0 || die "cannot set up the addresses"

# cost NAME ROUND: attach NAME's client endpoint, time it, detach; CSV lines.
cost() {
	local name=$1 round=$2 ctl=$WORK/crabctl-$1 j
	in_ns "$ctl" ebpf client attach --cgroup "$CG" --dev ep0 --announce 10.9.0.0/24,fd00:9::/64 \
		--allow 10.1.0.0/24,fd00:1::/64 --max-flows 1 --input-probe off >/dev/null 2>>"$OUT/attach.log" ||
		die "attaching $name failed: $(tail -n 3 "$OUT/attach.log")"
	j=$(taskset -c "$CPU" nsenter --net="/run/netns/$NS" python3 "$TOP/bench/endpoints/cost.py" \
		--repeat "$REPEAT" "${MODEARGS[@]}" --work "$WORK" \
		--cgroup "$CG" --crabctl "$ctl" --dev ep0 --peer ep1) ||
		die "cost.py failed for $name"
	in_ns "$ctl" ebpf client detach --cgroup "$CG" --dev ep0 >/dev/null 2>>"$OUT/attach.log" ||
		die "detaching $name failed"
	python3 -c 'import json, sys
j = json.loads(sys.argv[3])
for m in j:
    print("%s,%s,%s,%d" % (sys.argv[1], sys.argv[2], m, j[m]))' "$round" "$name" "$j" | tee -a "$OUT/cost.csv"
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) kernel $(uname -r), $(nproc) CPUs, cost on CPU $CPU, $ROUNDS rounds of $REPEAT runs, load $(cut -d' ' -f1-3 /proc/loadavg), git $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)" | tee "$OUT/env.txt"
echo "command: bash bench/endpoints/cost.sh ${ARGS[*]}" >>"$OUT/env.txt"
echo "round,variant,mode,ns_per_run" | tee "$OUT/cost.csv"
for ((r = 1; r <= ROUNDS; r++)); do
	bench_order "$r"
	for n in "${ORDER[@]}"; do cost "$n" "$r"; done
done
python3 - "$OUT/cost.csv" "${NAMES[@]}" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
names = sys.argv[2:]
print("%-12s %-7s %10s %6s %6s %8s" % ("variant", "mode", "ns median", "min", "max", "vs " + names[0]))
for m in ("moved", "moved6", "other", "synack"):
    if not any(r["mode"] == m for r in rows):
        continue
    base = None
    for n in names:
        v = [int(r["ns_per_run"]) for r in rows if r["variant"] == n and r["mode"] == m]
        med = statistics.median(v)
        if base is None:
            base = med
        print("%-12s %-7s %10.0f %6d %6d %+8.0f" % (n, m, med, min(v), max(v), med - base))
PY
echo "endpoints cost: results in $OUT"
