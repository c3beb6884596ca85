#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SYNs per second through the CRAB XDP LB on one core, next to an XDP_TX
# reflector measured in the same run on the same veth pair (bench/xdp/README.md).
#
#   bash bench/xdp/run.sh [--seconds S] [--reps N] [--out DIR] [--backends N]
#                         [--gen-cpu C] [--xdp-cpu C] [--no-fifo] [--no-build]
#                         [--generator auto|live|raw] [--family 4|6|both]
#                         [--nexthop static|fib|both] [--quick]
#
# --generator (or CRAB_BENCH_GENERATOR): live frames from BPF_PROG_TEST_RUN,
# or raw (an AF_PACKET socket, sendmmsg); auto, the default, uses live and
# falls back to raw where the kernel refuses live-frame test runs. The
# table names the generator used. --family: the LB's IPv4 SYNs, its IPv6
# SYNs (the 20-byte option form, an IPv6 service and backends), or both
# (the default), each repetition measuring every one next to the
# baseline. --nexthop (IPv4; the IPv6 backends have static MACs): the
# backends' next hops given as static MACs, found by the program's FIB
# lookup (neighbours resolved in the DUT namespace), or both (the
# default). The program's own run time is also read from the kernel's
# BPF statistics (kernel.bpf_stats_enabled) in a second window of 1 s
# after the rate window, so that their cost is not in the rate.
# --quick: 1 repetition of 2 s, a smoke run (not a figure).
#
# Two namespaces joined by one veth pair: GEN (the generator's veth, with an
# XDP sink that counts and drops what comes back) and DUT (the device under
# test: the LB, 1 service with N backends with static next-hop MACs, or the
# reflector). Both veths run threaded NAPI; the DUT's NAPI thread is pinned
# to --xdp-cpu, the generator and the sink's thread to --gen-cpu. The
# processed rate is read from the DUT program's own per-CPU counters over a
# fixed window after a warm-up, LB and baseline alternating, --reps times.
set -u
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_RUN=5
REPS=5
OUT=
NBE=3
GEN_CPU=0
XDP_CPU=1
FIFO=1
BUILD=1
WARM=1
STATS_S=1
BATCH=256
GENERATOR=${CRAB_BENCH_GENERATOR:-auto}
FAMILY=both
NEXTHOP=both
ARGS=("$@")

USAGE_LINES=4,25
source "$TOP/bench/opts.sh"

while [ $# -gt 0 ]; do
	bench_opt "$@"
	[ "$BENCH_SHIFT" -gt 0 ] && { shift "$BENCH_SHIFT"; continue; }
	case $1 in
	--xdp-cpu) bench_cpu "$1" "${2:-}"; XDP_CPU=$2; shift 2 ;;
	--generator) GENERATOR=${2:-}; shift 2 ;;
	--family) FAMILY=${2:-}; shift 2 ;;
	--nexthop) NEXTHOP=${2:-}; shift 2 ;;
	--quick) SECONDS_RUN=2; REPS=1; shift ;;
	*) echo "error: unknown argument '$1'" >&2; usage 2 ;;
	esac
done
case $GENERATOR in auto|live|raw) ;; *) die "generator '$GENERATOR': expected auto, live or raw" ;; esac
# The LB's modes: lb (IPv4, static MACs), lbfib (IPv4, next hops by the
# FIB), lb6 (IPv6, static MACs).
case $FAMILY in 4|6|both) ;; *) die "family '$FAMILY': expected 4, 6 or both" ;; esac
case $NEXTHOP in static|fib|both) ;; *) die "nexthop '$NEXTHOP': expected static, fib or both" ;; esac
LBMODES=()
if [ "$FAMILY" != 6 ]; then
	[ "$NEXTHOP" = fib ] || LBMODES+=(lb)
	[ "$NEXTHOP" = static ] || LBMODES+=(lbfib)
fi
[ "$FAMILY" = 4 ] || LBMODES+=(lb6)
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, XDP)"
bench_tools ip nsenter unshare taskset chrt ps python3 make clang bpftool
[ "$GEN_CPU" != "$XDP_CPU" ] || die "--gen-cpu and --xdp-cpu must differ ($XDP_CPU)"
for c in $GEN_CPU $XDP_CPU; do
	[ -d /sys/devices/system/cpu/cpu$c ] || die "no CPU $c on this machine"
done
[ -n "$OUT" ] || OUT=$TOP/build/bench/xdp/results-$(date -u +%Y%m%dT%H%M%SZ)

# Build (outside the private mount namespace, once).
if [ -z "${XDPBENCH_UNSHARED:-}" ]; then
	if [ $BUILD = 1 ]; then
		make -s -C "$TOP" bpf userspace >/dev/null || die "make bpf userspace failed"
		make -s -C "$TOP/bench/xdp" >/dev/null || die "building bench/xdp failed"
	fi
	mkdir -p "$OUT" || die "cannot create --out '$OUT'"
	# A private bpffs: pinned maps never show on the host.
	XDPBENCH_UNSHARED=1 exec unshare -m bash "$0" "${ARGS[@]}" --out "$OUT" --no-build
fi
mount --make-rprivate / 2>/dev/null
mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs"

XB=$TOP/build/bench/xdp/xdpbench
[ -x "$XB" ] || die "$XB not built"
# A copy of crabctl: a rebuild of the tree during the run must not change
# (or remove) the binary between repetitions.
CRABCTL_SRC=${CRABCTL:-$TOP/build/userspace/userspace/crabctl/crabctl}
[ -x "$CRABCTL_SRC" ] || die "$CRABCTL_SRC not built"
CRABCTL=$OUT/crabctl
cp "$CRABCTL_SRC" "$CRABCTL" || die "cannot copy crabctl to $OUT"

VIP=198.18.100.1
VIP6=fd00:c4ab:100::1
PORT=80
SVC=$VIP:$PORT
SVC6=[$VIP6]:$PORT

source "$TOP/bench/xdp/topo.sh"
xb_topo b

in_gen() { nsenter --net="/run/netns/$NS_GEN" "$@"; }
in_dut() { nsenter --net="/run/netns/$NS_DUT" "$@"; }

# The sink on the generator's veth: XDP_TX on the DUT needs a NAPI queue on
# this side, and its counter says how much came back.
in_gen "$XB" attach --dev "$DEV_GEN" --prog sink --pin /sys/fs/bpf/sink || die "sink attach failed"

# Threaded NAPI for a device (sysfs of its own namespace), its thread pinned
# to CPU $3 (and SCHED_FIFO with --fifo for the DUT, so that other load on
# the shared machine does not decide the figure). Prints the thread's PID.
napi_pin() {
	local ns=$1 dev=$2 cpu=$3 rt=$4 pid i
	ip netns exec "$ns" sh -c "echo 1 > /sys/class/net/$dev/threaded" ||
		die "cannot enable threaded NAPI on $dev"
	for i in $(seq 50); do
		# Thread names are "napi/<dev>-<id>", cut at 15 characters.
		pid=$(ps -eo pid=,comm= | awk -v p="napi/$dev-" 'index($2, p) == 1 { print $1 }')
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] && [ "$(wc -w <<<"$pid")" = 1 ] || die "no single NAPI thread for $dev ($pid)"
	taskset -pc "$cpu" "$pid" >/dev/null || die "cannot pin NAPI thread $pid to CPU $cpu"
	if [ "$rt" = 1 ]; then
		chrt -f -p 50 "$pid" || die "cannot make NAPI thread $pid SCHED_FIFO"
	fi
	echo "$pid"
}
napi_pin "$NS_GEN" "$DEV_GEN" "$GEN_CPU" 0 >/dev/null

# The generator's addresses for a mode: source (its low 16 bits vary)
# and the VIP.
gen_addrs() {
	if [ "$1" = lb6 ]; then
		echo "--saddr fd00:c4ab:1::1:0 --daddr $VIP6"
	else
		echo "--saddr 198.18.1.0 --daddr $VIP"
	fi
}

attach_dut() {
	local mode=$1 i svc=$SVC be mac
	if [ "$mode" != reflect ]; then
		[ "$mode" = lb6 ] && svc=$SVC6
		# libxdp explains on stderr why it falls back to a single program.
		in_dut "$CRABCTL" lb xdp attach "$DEV_DUT" --mode native >/dev/null \
			2>>"$OUT/attach.log" || { cat "$OUT/attach.log" >&2; return 1; }
		in_dut "$CRABCTL" lb xdp service add "$svc" --policy rr --legacy drop \
			--dev "$DEV_DUT" || return 1
		for ((i = 1; i <= NBE; i++)); do
			be=198.18.0.$((10 + i))
			[ "$mode" = lb6 ] && be=fd00:c4ab:0:1::1$i
			mac=(--mac "$(printf '02:00:00:00:00:%02x' $((i)))")
			[ "$mode" = lbfib ] && mac=()
			in_dut "$CRABCTL" lb xdp backend add "$svc" "$be" \
				"${mac[@]}" --dev "$DEV_DUT" || return 1
		done
	else
		in_dut "$XB" attach --dev "$DEV_DUT" --prog reflect --pin /sys/fs/bpf/reflect || return 1
	fi
}

detach_dut() {
	if [ "$1" != reflect ]; then
		in_dut "$CRABCTL" -j lb xdp stats --dev "$DEV_DUT" >"$OUT/lbstats-$1-$2.json"
		in_dut "$CRABCTL" lb xdp detach "$DEV_DUT"
	else
		in_dut "$XB" detach --dev "$DEV_DUT" && rm -f /sys/fs/bpf/reflect
	fi
}

# Packets the DUT program processed so far (its own per-CPU counters).
dut_count() {
	if [ "$1" != reflect ]; then
		in_dut "$CRABCTL" -j lb xdp stats --dev "$DEV_DUT" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(sum(s["counters"]["syn_redirected"] for s in j["services"]))'
	else
		in_dut "$XB" count --pin /sys/fs/bpf/reflect | python3 -c '
import json, sys
print(json.load(sys.stdin)["reflect"])'
	fi
}

sink_count() {
	"$XB" count --pin /sys/fs/bpf/sink | python3 -c 'import json, sys; print(json.load(sys.stdin)["sink"])'
}

# Busy (user, nice, system, irq, softirq), steal and total jiffies of one
# CPU (guest time is already inside user).
cpu_ticks() {
	awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

now() { date +%s.%N; }

# Sample: "time busy steal total dut_count sink_count"; the time is the
# midpoint of the counter reads (crabctl takes a few ms to start).
sample() {
	local a b c s k
	a=$(now)
	c=$(dut_count "$1") || return 1
	s=$(sink_count) || return 1
	b=$(now)
	k=$(cpu_ticks "$XDP_CPU")
	echo "$(python3 -c "print(($a + $b) / 2)") $k $c $s"
}

# The DUT program's run time and run count from the kernel's BPF
# statistics: "run_time_ns run_cnt" (0 0 while they are off).
dut_prog_stats() {
	local id
	id=$(ip -n "$NS_DUT" -j -d link show dev "$DEV_DUT" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])') || return 1
	bpftool -j prog show id "$id" |
		python3 -c 'import json, sys; j = json.load(sys.stdin); print(j.get("run_time_ns", 0), j.get("run_cnt", 0))'
}

# kernel.bpf_stats_enabled is the machine's: on only for the stats
# windows, back to what it was when the run ends.
STATS0=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo -)
stats_restore() {
	[ "$STATS0" = - ] || sysctl -qw kernel.bpf_stats_enabled="$STATS0"
}
trap 'stats_restore; xb_cleanup' EXIT

RAW=$OUT/raw.csv
echo "mode,rep,seconds,processed,pps,offered_pps,returned_pps,xdp_cpu_busy,xdp_cpu_steal,prog_ns,stats_ns,generator" >"$RAW"
echo "# kernel $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
echo "# generator + sink NAPI on CPU $GEN_CPU, DUT NAPI thread on CPU $XDP_CPU$([ $FIFO = 1 ] && echo ' (SCHED_FIFO 50)'); $REPS reps x $SECONDS_RUN s, warm-up $WARM s"
echo "# generator: $GENERATOR$([ "$GENERATOR" = auto ] && echo ' (live frames; raw socket if the kernel refuses them)')"
# The generator auto chose on its first run, and why it fell back: every
# later run uses the same one.
GEN_REASON=
COST_WARNED=0

measure() {
	local mode=$1 rep=$2 genout s0 s1 gpid r st0 st1 stats_ns=
	attach_dut "$mode" || die "attaching the $mode program to $DEV_DUT failed"
	napi_pin "$NS_DUT" "$DEV_DUT" "$XDP_CPU" "$FIFO" >/dev/null || exit 1
	genout=$OUT/gen-$mode-$rep.json
	# shellcheck disable=SC2046
	taskset -c "$GEN_CPU" nsenter --net="/run/netns/$NS_GEN" "$XB" gen --dev "$DEV_GEN" \
		--src-mac "$MAC_GEN" --dst-mac "$MAC_DUT" $(gen_addrs "$mode") \
		--dport $PORT --batch "$BATCH" --seconds $((WARM + SECONDS_RUN + STATS_S + 1)) \
		--generator "$GENERATOR" >"$genout" 2>"$genout.err" &
	gpid=$!
	sleep "$WARM"
	s0=$(sample "$mode") || die "cannot read the counters (rep $rep, $mode)"
	sleep "$SECONDS_RUN"
	s1=$(sample "$mode") || die "cannot read the counters (rep $rep, $mode)"
	# The stats window: the kernel times every run of the program while
	# kernel.bpf_stats_enabled is on (which slows every BPF program: not
	# during the rate window). Empty where the sysctl cannot be set.
	if [ "$STATS0" != - ] && sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null; then
		st0=$(dut_prog_stats) || st0=
		sleep "$STATS_S"
		st1=$(dut_prog_stats) || st1=
		stats_restore
		if [ -n "$st0" ] && [ -n "$st1" ]; then
			# shellcheck disable=SC2086
			stats_ns=$(python3 -c 'import sys
a, b, c, d = map(int, sys.argv[1:])
print(f"{(c - a) / (d - b):.0f}" if d > b else "")' $st0 $st1)
		fi
	fi
	wait "$gpid" || die "generator failed (rep $rep, $mode): $(cat "$genout.err" "$genout")"
	if [ "$GENERATOR" = auto ]; then
		GENERATOR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generator"])' "$genout") ||
			die "cannot read the generator's report $genout"
		GEN_REASON=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fallback_reason"])' "$genout")
		sed 's/^/# /' "$genout.err"
		echo "# generator: $GENERATOR${GEN_REASON:+ ($GEN_REASON)}, for every run"
	fi
	# The program alone, same SYN, BPF_PROG_TEST_RUN on the DUT's CPU. A
	# kernel that refuses test runs leaves the column empty (said once).
	# shellcheck disable=SC2046
	if ! taskset -c "$XDP_CPU" nsenter --net="/run/netns/$NS_DUT" "$XB" cost --dev "$DEV_DUT" \
		--src-mac "$MAC_GEN" --dst-mac "$MAC_DUT" $(gen_addrs "$mode") \
		--dport $PORT >"$OUT/cost-$mode-$rep.json" 2>"$OUT/cost-$mode-$rep.err"; then
		[ $COST_WARNED = 1 ] || echo "# program cost not measured: $(cat "$OUT/cost-$mode-$rep.err")"
		COST_WARNED=1
		echo '{"ns_median": null}' >"$OUT/cost-$mode-$rep.json"
	fi
	detach_dut "$mode" "$rep" || die "detaching $mode from $DEV_DUT failed"
	r=$(python3 - "$mode" "$rep" "$s0" "$s1" "$genout" "$OUT/cost-$mode-$rep.json" "$GENERATOR" "$stats_ns" <<'PY'
import json, sys
mode, rep = sys.argv[1], int(sys.argv[2])
stats_ns = sys.argv[8]
t0, b0, st0, tt0, c0, k0 = map(float, sys.argv[3].split())
t1, b1, st1, tt1, c1, k1 = map(float, sys.argv[4].split())
gen = json.load(open(sys.argv[5]))
cost = json.load(open(sys.argv[6]))
dt = t1 - t0
busy = (b1 - b0) / (tt1 - tt0) if tt1 > tt0 else 0.0
steal = (st1 - st0) / (tt1 - tt0) if tt1 > tt0 else 0.0
ns = cost["ns_median"]
print(f"{mode},{rep},{dt:.3f},{c1 - c0:.0f},{(c1 - c0) / dt:.0f},{gen['pps']:.0f},"
      f"{(k1 - k0) / dt:.0f},{busy:.2f},{steal:.2f},{'' if ns is None else ns},{stats_ns},{gen['generator']}")
PY
) || die "cannot compute the result of rep $rep ($mode)"
	echo "$r" >>"$RAW"
	echo "# $r"
}

for ((rep = 1; rep <= REPS; rep++)); do
	# Alternate which one goes first, so a drift in the machine's load
	# does not always favour the same side.
	if [ $((rep % 2)) = 1 ]; then
		for m in "${LBMODES[@]}"; do measure "$m" $rep; done
		measure reflect $rep
	else
		measure reflect $rep
		for ((m = ${#LBMODES[@]} - 1; m >= 0; m--)); do measure "${LBMODES[m]}" $rep; done
	fi
done

python3 - "$OUT" "$RAW" "$GENERATOR" "$GEN_REASON" <<'PY'
import csv, json, os, platform, statistics, sys
out, raw, generator, reason = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = list(csv.DictReader(open(raw)))
res = {}
modes = [m for m in ("lb", "lbfib", "lb6", "reflect") if any(r["mode"] == m for r in rows)]
for mode in modes:
    v = [float(r["pps"]) for r in rows if r["mode"] == mode]
    res[mode] = {"pps": v, "median": statistics.median(v), "min": min(v), "max": max(v),
                 "offered_median": statistics.median(float(r["offered_pps"]) for r in rows if r["mode"] == mode),
                 "xdp_cpu_busy_median": statistics.median(float(r["xdp_cpu_busy"]) for r in rows if r["mode"] == mode),
                 "xdp_cpu_steal_median": statistics.median(float(r["xdp_cpu_steal"]) for r in rows if r["mode"] == mode),
                 "prog_ns_median": None, "stats_ns_median": None}
    for col in ("prog_ns", "stats_ns"):
        ns = [float(r[col]) for r in rows if r["mode"] == mode and r.get(col)]
        if ns:
            res[mode][col + "_median"] = statistics.median(ns)
pairs = {}
for r in rows:
    pairs.setdefault(r["rep"], {})[r["mode"]] = float(r["pps"])
lbmodes = [m for m in ("lb", "lbfib", "lb6") if m in res]
ratio, ratios = {}, {}
for m in lbmodes:
    ratios[m] = [p[m] / p["reflect"] for p in pairs.values() if p.get("reflect") and m in p]
    ratio[m] = res[m]["median"] / res["reflect"]["median"]
gens = sorted({r["generator"] for r in rows})
# "ratio_of_medians" and friends: the IPv4 LB's when it ran (as before
# IPv6 was measured), else the IPv6 LB's; *_ipv6: the IPv6 LB's.
first = lbmodes[0]
summary = {"kernel": platform.release(), "cpus": os.cpu_count(), "generator": ",".join(gens),
           "generator_fallback_reason": reason, "results": res,
           "ratio_of_medians": ratio[first], "per_rep_ratios": ratios[first],
           "ratio_min": min(ratios[first]), "ratio_max": max(ratios[first])}
if "lb6" in ratio:
    summary.update({"ratio_of_medians_ipv6": ratio["lb6"], "per_rep_ratios_ipv6": ratios["lb6"]})
if "lbfib" in ratio:
    summary.update({"ratio_of_medians_fib": ratio["lbfib"], "per_rep_ratios_fib": ratios["lbfib"]})
if "lb" in res and "lb6" in res:
    summary["ipv6_over_ipv4"] = res["lb6"]["median"] / res["lb"]["median"]
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)
lines = ["| program | median SYN/s | min | max | offered (median) | DUT CPU busy / steal | program alone (test run) | program, live (bpf_stats) |",
         "|---|---|---|---|---|---|---|---|"]
names = {"reflect": "XDP_TX reflector (baseline)", "lb": "CRAB XDP LB (rr, 1 service)",
         "lbfib": "CRAB XDP LB, next hops by FIB lookup (rr, 1 service)",
         "lb6": "CRAB XDP LB, IPv6 (rr, 1 service)"}
for mode in ["reflect"] + lbmodes:
    name = names[mode]
    m = res[mode]
    lines.append(f"| {name} | {m['median'] / 1e6:.3f} M | {m['min'] / 1e6:.3f} M | {m['max'] / 1e6:.3f} M | "
                 f"{m['offered_median'] / 1e6:.2f} M | {m['xdp_cpu_busy_median'] * 100:.0f} % / {m['xdp_cpu_steal_median'] * 100:.0f} % | "
                 + ("n/a |" if m['prog_ns_median'] is None else f"{m['prog_ns_median']:.0f} ns |")
                 + (" n/a |" if m['stats_ns_median'] is None else f" {m['stats_ns_median']:.0f} ns |"))
lines.append("")
desc = {"live": "live frames (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, xdp_frames)",
        "raw": "raw socket (AF_PACKET sendmmsg, qdisc bypass: an skb per frame)"}
lines.append("Generator: " + ", ".join(desc.get(g, g) for g in gens) + (f"; fallback: {reason}" if reason else ""))
for mode in ["reflect"] + lbmodes:
    name = {"reflect": "reflector", "lb": "LB", "lbfib": "LB (FIB next hops)", "lb6": "IPv6 LB"}[mode]
    m = res[mode]
    if m["offered_median"] < 1.2 * m["median"]:
        lines.append(f"Note: the generator offered {m['offered_median'] / 1e6:.2f} M/s, within 20 % of what the {name} "
                     "processed: the generator was the limit, not the program.")
for m in lbmodes:
    label = {"lb": "LB / baseline", "lbfib": "LB, FIB next hops / baseline", "lb6": "LB IPv6 / baseline"}[m]
    lines.append(f"{label}: {ratio[m]:.3f} (ratio of medians); per repetition "
                 f"{min(ratios[m]):.3f} .. {max(ratios[m]):.3f}")
if "ipv6_over_ipv4" in summary:
    lines.append(f"LB IPv6 / LB IPv4: {summary['ipv6_over_ipv4']:.3f} (ratio of medians)")
text = "\n".join(lines)
open(os.path.join(out, "summary.txt"), "w").write(text + "\n")
print(text)
PY
rm -f "$CRABCTL"
echo "# raw: $RAW; summary: $OUT/summary.txt, $OUT/summary.json"
