#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The XDP LB's cost per SYN alone (`xdpbench cost`), A/B: builds of crabctl
# (each carries its own LB object) measured alternately in one run, next to
# the XDP_TX reflector (bench/xdp/README.md, "Cost A/B").
#
#   bash bench/xdp/cost.sh [--rounds N] [--modes "lb lb6 lbfib"] [--cpu C]
#                          [--out DIR] [--no-build] [NAME=CRABCTL ...]
#
# NAME=CRABCTL: a label and a crabctl binary (copied at the start: a
# rebuild during the run changes nothing); without any, "cur" = this
# tree's build. --modes: lb (IPv4 service, static next-hop MACs), lb6
# (IPv6 service, static MACs), lbfib (IPv4, next hops by the program's FIB
# lookup: resolved next hops withdrawn with `nexthops --clear` where the
# variant has them), lbnh (IPv4, next hops resolved by crabctl from the
# routes and neighbours, CRAB_XDP_BE_NH: needs a crabctl with `lb xdp
# nexthops`); default "lb lb6". Every round runs every variant in every mode
# and the reflector, the variants' order reversed every other round, each
# `xdpbench cost` (median of 20001 kernel-timed BPF_PROG_TEST_RUN calls)
# pinned to --cpu (default 1). Prints, per variant and mode, the median
# of the rounds' medians, their min and max, and the difference to the
# first variant; writes cost.csv, summary.txt and env.txt into --out (default
# build/bench/xdp/cost-<UTC time>). Default 7 rounds.
set -u
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=7
MODES="lb lb6"
CPU=1
OUT=
BUILD=1
NBE=3
VARIANTS=()
ARGS=("$@")

USAGE_LINES=4,21
source "$TOP/bench/opts.sh"

while [ $# -gt 0 ]; do
	case $1 in
	--rounds) bench_range "$1" "${2:-}" 1 100; ROUNDS=$2; shift 2 ;;
	--modes) MODES=${2:-}; shift 2 ;;
	--cpu) bench_cpu "$1" "${2:-}"; CPU=$2; shift 2 ;;
	--out) [ -n "${2:-}" ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	-h|--help) usage 0 ;;
	*=*) VARIANTS+=("$1"); shift ;;
	*) echo "error: unknown argument '$1'" >&2; usage 2 ;;
	esac
done
for m in $MODES; do
	case $m in lb|lb6|lbfib|lbnh) ;; *) die "mode '$m': expected lb, lb6, lbfib or lbnh" ;; esac
done
[ -n "$MODES" ] || die "--modes is empty"
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, XDP)"
bench_tools ip nsenter unshare taskset python3
[ -n "$OUT" ] || OUT=$TOP/build/bench/xdp/cost-$(date -u +%Y%m%dT%H%M%SZ)

if [ -z "${XDPCOST_UNSHARED:-}" ]; then
	if [ $BUILD = 1 ]; then
		[ ${#VARIANTS[@]} -gt 0 ] || make -s -C "$TOP" bpf userspace >/dev/null ||
			die "make bpf userspace failed"
		make -s -C "$TOP/bench/xdp" >/dev/null || die "building bench/xdp failed"
	fi
	mkdir -p "$OUT" || die "cannot create --out '$OUT'"
	XDPCOST_UNSHARED=1 exec unshare -m bash "$0" "${ARGS[@]}" --out "$OUT" --no-build
fi
mount --make-rprivate / 2>/dev/null
mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs"

XB=$TOP/build/bench/xdp/xdpbench
[ -x "$XB" ] || die "$XB not built"
bench_variants "$OUT"

VIP=198.18.100.1
VIP6=fd00:c4ab:100::1
PORT=80

source "$TOP/bench/xdp/topo.sh"
xb_topo c

in_dut() { nsenter --net="/run/netns/$NS_DUT" "$@"; }

attach() {
	local ctl=$1 mode=$2 svc=$VIP:$PORT be mac i
	if [ "$mode" = reflect ]; then
		in_dut "$XB" attach --dev "$DEV_DUT" --prog reflect --pin /sys/fs/bpf/reflect
		return
	fi
	[ "$mode" = lb6 ] && svc=[$VIP6]:$PORT
	in_dut "$ctl" lb xdp attach "$DEV_DUT" --mode native >/dev/null 2>>"$OUT/attach.log" || return 1
	in_dut "$ctl" lb xdp service add "$svc" --policy rr --legacy drop --dev "$DEV_DUT" || return 1
	for ((i = 1; i <= NBE; i++)); do
		be=198.18.0.$((10 + i))
		[ "$mode" = lb6 ] && be=fd00:c4ab:0:1::1$i
		mac=(--mac "$(printf '02:00:00:00:00:%02x' $i)")
		[ "$mode" = lbfib ] || [ "$mode" = lbnh ] && mac=()
		in_dut "$ctl" lb xdp backend add "$svc" "$be" "${mac[@]}" --dev "$DEV_DUT" 2>>"$OUT/attach.log" ||
			return 1
	done
	# The next-hop path each mode names, checked: a build that resolves
	# next hops at backend add has them withdrawn for lbfib; lbnh needs
	# every backend resolved.
	case $mode in
	lbfib)
		if in_dut "$ctl" lb xdp --help 2>/dev/null | grep -qw nexthops; then
			in_dut "$ctl" lb xdp nexthops --clear --dev "$DEV_DUT" >/dev/null || return 1
		fi
		! in_dut "$ctl" -j lb xdp show --dev "$DEV_DUT" | grep -q '"nexthop":"resolved"' || return 1
		;;
	lbnh)
		in_dut "$ctl" lb xdp nexthops --no-keep --dev "$DEV_DUT" >/dev/null 2>>"$OUT/attach.log" || return 1
		[ "$(in_dut "$ctl" -j lb xdp show --dev "$DEV_DUT" | grep -o '"nexthop":"resolved"' | wc -l)" = "$NBE" ] ||
			{ echo "lbnh: not every backend resolved" >>"$OUT/attach.log"; return 1; }
		;;
	esac
}

detach() {
	if [ "$2" = reflect ]; then
		in_dut "$XB" detach --dev "$DEV_DUT" && rm -f /sys/fs/bpf/reflect
	else
		in_dut "$1" lb xdp detach "$DEV_DUT"
	fi
}

# cost NAME MODE ROUND: one `xdpbench cost`, one CSV line.
cost() {
	local name=$1 mode=$2 round=$3 ctl=$OUT/crabctl-$1 addrs j
	addrs=(--saddr 198.18.1.0 --daddr $VIP)
	[ "$mode" = lb6 ] && addrs=(--saddr fd00:c4ab:1::1:0 --daddr $VIP6)
	attach "$ctl" "$mode" || die "attaching $name ($mode) failed: $(cat "$OUT/attach.log")"
	j=$(taskset -c "$CPU" nsenter --net="/run/netns/$NS_DUT" "$XB" cost --dev "$DEV_DUT" \
		--src-mac "$MAC_GEN" --dst-mac "$MAC_DUT" "${addrs[@]}" --dport $PORT) ||
		die "xdpbench cost failed ($name, $mode)"
	detach "$ctl" "$mode" || die "detaching $name ($mode) failed"
	line=$(python3 -c 'import json, sys
j = json.loads(sys.argv[4])
print(",".join(sys.argv[1:4] + [str(j[k]) for k in ("ns_median", "ns_p10", "ns_p90", "verdict")]))' \
		"$round" "$name" "$mode" "$j") || die "cannot read the cost of $name ($mode): $j"
	echo "$line" | tee -a "$OUT/cost.csv"
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) kernel $(uname -r), $(nproc) CPUs, cost on CPU $CPU, $ROUNDS rounds, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/env.txt"
echo "round,variant,mode,ns_median,ns_p10,ns_p90,verdict" | tee "$OUT/cost.csv"
for ((r = 1; r <= ROUNDS; r++)); do
	bench_order "$r"
	[ $((r % 2)) = 0 ] && cost reflector reflect "$r"
	for m in $MODES; do
		for n in "${ORDER[@]}"; do cost "$n" "$m" "$r"; done
	done
	[ $((r % 2)) = 1 ] && cost reflector reflect "$r"
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"

python3 - "$OUT" "${NAMES[@]}" <<'PY' | tee "$OUT/summary.txt"
import csv, os, statistics, sys
out, names = sys.argv[1], sys.argv[2:]
rows = list(csv.DictReader(open(os.path.join(out, "cost.csv"))))
modes = []
for r in rows:
    if r["mode"] not in modes:
        modes.append(r["mode"])
print("| variant | mode | median ns (of round medians) | min | max | rounds | verdict | vs " + names[0] + " |")
print("|---|---|---|---|---|---|---|---|")
base = {}
for m in modes:
    for n in (["reflector"] if m == "reflect" else names):
        v = [int(r["ns_median"]) for r in rows if r["variant"] == n and r["mode"] == m]
        verdicts = sorted({r["verdict"] for r in rows if r["variant"] == n and r["mode"] == m})
        med = statistics.median(v)
        base.setdefault(m, med)
        d = "" if n in (names[0], "reflector") else f"{med - base[m]:+.0f} ns ({med / base[m]:.2f}x)"
        print(f"| {n} | {m} | {med:.0f} | {min(v)} | {max(v)} | {len(v)} | {','.join(verdicts)} | {d} |")
PY
rm -f "$OUT"/crabctl-*
echo "# $OUT/cost.csv, $OUT/summary.txt"
