#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SYNs per second through crab-lb-dpdk on one worker lcore, next to
# dpdk-testpmd io forwarding fed the same way in the same run
# (bench/dpdk/README.md).
#
#   bash bench/dpdk/run.sh [--seconds S] [--reps N] [--out DIR] [--backends N]
#                          [--vdevs pcap,af_packet,af_xdp] [--gen-cpu C] [--dut-cpu C]
#                          [--napi-cpu C] [--no-fifo] [--no-build]
#                          [--compare LBD] [--no-testpmd] [--family 4|6]
#
# --family 6 (pcap only): the same SYNs in IPv6 (the 20-byte form of the
# redirect option, 114-byte frames) to an IPv6 VIP, [2001:db8:100::1]:80,
# with IPv6 backends; testpmd replays the same file.
#
# --compare LBD (an A/B comparison of two builds): another crab-lb-dpdk
# binary, measured as mode lb_ref in every repetition next to the tree's
# (or CRAB_LBD's) binary as mode lb, the order of the modes rotating from
# one repetition to the next; the summary adds the ratio of their median
# busy cycles per packet and the per-repetition ratios. --no-testpmd
# leaves the baseline out (an A/B run of the two LBs only).
#
# pcap (the default, the benchmark): the DPDK process reads its frames
# from DPDK itself, net_pcap with infinite_rx=1 replaying a file of
# capable SYNs (bench/dpdk/synpcap.py) and dropping what it transmits, so
# the worker lcore never waits for a generator: the difference between
# the LB and testpmd is the forwarding work. Figure: the port's transmitted
# packets per second, and busy cycles per packet.
#
# af_packet, af_xdp (functional smoke runs, generator-bound): two
# namespaces joined by one veth pair. GEN: bench/xdp's generator
# (xdpbench gen: BPF_PROG_TEST_RUN live frames, XDP_TX into the peer) and
# its sink (an XDP program counting and dropping what comes back: the
# receiver-side count). DUT: the DPDK process on the other veth through
# net_af_packet or net_af_xdp, --no-huge, its one worker lcore on
# --dut-cpu: either the LB (1 service rr/legacy drop, N backends with
# static MACs) or testpmd --forward-mode=io. LB and baseline alternate,
# --reps times per vdev; every run of the generator is bounded in time and
# every wait has a deadline. The DPDK process runs SCHED_FIFO 50 (unless
# --no-fifo; the kernel's RT throttling leaves 5 % of the CPU to others)
# so that other load on the shared machine does not decide the figure; the
# DUT veth's NAPI thread (the kernel's receive half of the vdev) runs
# SCHED_FIFO 50 on --napi-cpu (default: the generator's CPU, since a
# busy-polling FIFO worker would starve it on its own CPU).
set -u
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_RUN=5
REPS=5
OUT=
NBE=3
VDEVS=pcap
GEN_CPU=0
DUT_CPU=1
NAPI_CPU=
FIFO=1
BUILD=1
WARM=2
BATCH=256
REF_SRC=
TESTPMD=1
FAMILY=4
ARGS=("$@")

USAGE_LINES=4,29
source "$TOP/bench/opts.sh"

while [ $# -gt 0 ]; do
	bench_opt "$@"
	[ "$BENCH_SHIFT" -gt 0 ] && { shift "$BENCH_SHIFT"; continue; }
	case $1 in
	--vdevs) [[ ${2:-} =~ ^(pcap|af_packet|af_xdp)(,(pcap|af_packet|af_xdp))*$ ]] ||
			die "--vdevs '${2:-}': expected a list of pcap, af_packet, af_xdp"; VDEVS=$2; shift 2 ;;
	--dut-cpu) bench_cpu "$1" "${2:-}"; DUT_CPU=$2; shift 2 ;;
	--napi-cpu) bench_cpu "$1" "${2:-}"; NAPI_CPU=$2; shift 2 ;;
	--compare) [ -n "${2:-}" ] || die "--compare needs a crab-lb-dpdk binary"
		REF_SRC=$(realpath -e "$2" 2>/dev/null) || die "--compare '$2': no such file"; shift 2 ;;
	--no-testpmd) TESTPMD=0; shift ;;
	--family) [[ ${2:-} =~ ^[46]$ ]] || die "--family '${2:-}': expected 4 or 6"; FAMILY=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; usage 2 ;;
	esac
done
[ -n "$NAPI_CPU" ] || NAPI_CPU=$GEN_CPU
[ "$FAMILY" = 4 ] || [ "$VDEVS" = pcap ] || die "--family 6: only with --vdevs pcap (the veth generator sends IPv4)"
[ -n "$REF_SRC" ] || [ "$TESTPMD" = 1 ] || die "--no-testpmd without --compare: nothing to compare the LB with"
[ "$FIFO" = 0 ] || [ "$NAPI_CPU" != "$DUT_CPU" ] ||
	die "--napi-cpu $NAPI_CPU: with SCHED_FIFO the worker lcore would starve the NAPI thread on CPU $DUT_CPU (use --no-fifo)"
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, XDP, DPDK vdevs)"
bench_tools ip nsenter unshare taskset chrt ps python3 make clang bpftool ethtool dpdk-testpmd timeout
[ "$GEN_CPU" != "$DUT_CPU" ] || die "--gen-cpu and --dut-cpu must differ ($DUT_CPU)"
for c in $GEN_CPU $DUT_CPU $NAPI_CPU; do
	[ -d /sys/devices/system/cpu/cpu$c ] || die "no CPU $c on this machine"
done
[ -n "$OUT" ] || OUT=$TOP/build/bench/dpdk/results-$(date -u +%Y%m%dT%H%M%SZ)

# Build (outside the private mount namespace, once): the LB, and the
# generator from bench/xdp (not copied: its own Makefile).
if [ -z "${DPDKBENCH_UNSHARED:-}" ]; then
	if [ $BUILD = 1 ]; then
		make -s -C "$TOP" userspace >/dev/null || die "make userspace failed"
		make -s -C "$TOP/bench/xdp" >/dev/null || die "building bench/xdp failed"
	fi
	mkdir -p "$OUT" || die "cannot create --out '$OUT'"
	# A private bpffs for the sink's pinned map and libxdp (af_xdp).
	DPDKBENCH_UNSHARED=1 exec unshare -m bash "$0" "${ARGS[@]}" --out "$OUT" --no-build
fi
mount --make-rprivate / 2>/dev/null
mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs"

XB=$TOP/build/bench/xdp/xdpbench
VETH=0
[[ ,$VDEVS, =~ ,af_ ]] && VETH=1
[ $VETH = 0 ] || [ -x "$XB" ] || die "$XB not built (make -C bench/xdp)"
LBD_SRC=${CRAB_LBD:-$TOP/build/userspace/lb/dpdk/crab-lb-dpdk}
[ -x "$LBD_SRC" ] || die "$LBD_SRC not built (DPDK found by CMake?)"
# A copy: a rebuild of the tree during the run must not change the binary.
LBD=$OUT/crab-lb-dpdk
cp "$LBD_SRC" "$LBD" || die "cannot copy crab-lb-dpdk to $OUT"
LBD_REF=
if [ -n "$REF_SRC" ]; then
	[ -x "$REF_SRC" ] || die "--compare $REF_SRC: not executable"
	LBD_REF=$OUT/crab-lb-dpdk-ref
	cp "$REF_SRC" "$LBD_REF" || die "cannot copy $REF_SRC to $OUT"
fi
MODES=(lb)
[ -z "$LBD_REF" ] || MODES+=(lb_ref)
[ "$TESTPMD" = 0 ] || MODES+=(testpmd)
TEL="python3 $TOP/selftests/lb_dpdk/dpdk_tel.py"

SFX=$$
NS_GEN=crab-dgen-$SFX
NS_DUT=crab-ddut-$SFX
DEV_GEN=dg$((SFX % 100000))
DEV_DUT=dd$((SFX % 100000))
PORT=80
if [ "$FAMILY" = 6 ]; then
	VIP=2001:db8:100::1
	SVC=[$VIP]:$PORT
	be_addr() { printf '2001:db8::%x' $((16 + $1)); }
else
	VIP=198.18.100.1
	SVC=$VIP:$PORT
	be_addr() { echo "198.18.0.$((10 + $1))"; }
fi
DUT_PID=

cleanup() {
	[ -n "$DUT_PID" ] && kill -KILL "$DUT_PID" 2>/dev/null
	# Whatever still runs in our namespaces (nothing must outlive the run).
	ip netns pids "$NS_DUT" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$NS_GEN" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns del "$NS_GEN" 2>/dev/null
	ip netns del "$NS_DUT" 2>/dev/null
	rm -rf "/var/run/dpdk/cbd$SFX"-* 2>/dev/null
	rm -f "$LBD" ${LBD_REF:+"$LBD_REF"}
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# net_pcap's port MAC (DPDK 22.11: 02:70:63:61:70:<index>), checked
# against the port once it runs.
PCAP_MAC=02:70:63:61:70:00
PCAP=$OUT/syns.pcap
if [[ ,$VDEVS, == *,pcap,* ]]; then
	python3 "$TOP/bench/dpdk/synpcap.py" --out "$PCAP" --dst-mac "$PCAP_MAC" --vip "$VIP" \
		--port "$PORT" --frames 4096 >/dev/null || die "cannot write $PCAP"
fi

ip netns add "$NS_GEN" && ip netns add "$NS_DUT" || die "cannot create namespaces"
ip link add "$DEV_GEN" netns "$NS_GEN" type veth peer name "$DEV_DUT" netns "$NS_DUT" ||
	die "cannot create the veth pair"
for n in "$NS_GEN:$DEV_GEN" "$NS_DUT:$DEV_DUT"; do
	ip -n "${n%%:*}" link set lo up
	ip -n "${n%%:*}" link set "${n#*:}" up
	# No IPv6 chatter in the counts.
	ip netns exec "${n%%:*}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
MAC_GEN=$(ip -n "$NS_GEN" -br link show "$DEV_GEN" | awk '{print $3}')
MAC_DUT=$(ip -n "$NS_DUT" -br link show "$DEV_DUT" | awk '{print $3}')
in_gen() { nsenter --net="/run/netns/$NS_GEN" "$@"; }
in_dut() { nsenter --net="/run/netns/$NS_DUT" "$@"; }

# The sink on the generator's veth: counts what the DUT sends back (every
# frame, whatever its MAC) and gives that veth the NAPI queue it needs.
[ $VETH = 0 ] || in_gen "$XB" attach --dev "$DEV_GEN" --prog sink --pin /sys/fs/bpf/sink || die "sink attach failed"
# af_packet: XDP_TX from the generator needs NAPI on the DUT veth, which
# without an XDP program there comes with GRO (af_xdp brings its program).
[ $VETH = 0 ] || ip netns exec "$NS_DUT" ethtool -K "$DEV_DUT" gro on >/dev/null ||
	die "cannot enable GRO on $DEV_DUT"

# Threaded NAPI for a device, its thread pinned to CPU $3, SCHED_FIFO 50
# if $4 is 1. Deadline 5 s.
napi_pin() {
	local ns=$1 dev=$2 cpu=$3 rt=${4:-0} pid i
	ip netns exec "$ns" sh -c "echo 1 > /sys/class/net/$dev/threaded" ||
		die "cannot enable threaded NAPI on $dev"
	for i in $(seq 50); do
		pid=$(ps -eo pid=,comm= | awk -v p="napi/$dev-" 'index($2, p) == 1 { print $1 }')
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || die "no NAPI thread for $dev"
	for i in $pid; do
		taskset -pc "$cpu" "$i" >/dev/null || die "cannot pin NAPI thread $i to CPU $cpu"
		[ "$rt" = 0 ] || chrt -f -p 50 "$i" || die "cannot make NAPI thread $i SCHED_FIFO"
	done
}
[ $VETH = 0 ] || napi_pin "$NS_GEN" "$DEV_GEN" "$GEN_CPU"

vdev_arg() {
	case $1 in
	af_packet) echo "net_af_packet0,iface=$DEV_DUT" ;;
	af_xdp) echo "net_af_xdp0,iface=$DEV_DUT,start_queue=0,queue_count=1" ;;
	pcap) echo "net_pcap0,rx_pcap=$PCAP,infinite_rx=1" ;;
	esac
}

# Start the DUT ($1 lb|lb_ref|testpmd, $2 vdev) in the background; sets DUT_PID
# and PREFIX; ready when its telemetry answers /ethdev/stats,0 (20 s).
start_dut() {
	local mode=$1 vdev=$2 log=$3 i b
	PREFIX=cbd$SFX-$mode-$vdev
	local rt=()
	[ "$FIFO" = 0 ] || rt=(chrt -f 50)
	local eal=(--no-huge -m 512 --no-pci -l "$GEN_CPU,$DUT_CPU" --main-lcore "$GEN_CPU"
		--file-prefix "$PREFIX" --vdev "$(vdev_arg "$vdev")" --log-level=user1,info)
	if [ "$mode" != testpmd ]; then
		local bin=$LBD
		[ "$mode" = lb ] || bin=$LBD_REF
		b=()
		for ((i = 1; i <= NBE; i++)); do
			b+=(--backend "$SVC,$(be_addr $i),mac=$(printf '02:00:00:00:00:%02x' "$i")")
		done
		# nsenter execs the program: $! is the DPDK process itself.
		"${rt[@]}" nsenter --net="/run/netns/$NS_DUT" "$bin" "${eal[@]}" -- --service "$SVC,policy=rr,legacy=drop" "${b[@]}" \
			--port-ip 198.18.0.1 --mbufs 8192 >"$log" 2>&1 &
	else
		# io forwarding, one forwarding lcore, the same pool size and burst;
		# --record-core-cycles: busy cycles per packet at the end.
		"${rt[@]}" nsenter --net="/run/netns/$NS_DUT" dpdk-testpmd "${eal[@]}" -- --forward-mode=io --port-topology=loop \
			--nb-cores=1 --rxq=1 --txq=1 --burst=32 --total-num-mbufs=8192 \
			--record-core-cycles --stats-period 1 >"$log" 2>&1 &
	fi
	DUT_PID=$!
	for i in $(seq 200); do
		kill -0 "$DUT_PID" 2>/dev/null || break
		$TEL "$PREFIX" /ethdev/stats,0 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	sed 's/^/# dut: /' "$log" | tail -20 >&2
	return 1
}

# SIGINT, exit within 10 s or be killed.
stop_dut() {
	local i
	kill -INT "$DUT_PID" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$DUT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$DUT_PID" 2>/dev/null
	wait "$DUT_PID" 2>/dev/null
	DUT_PID=
}

sink_count() {
	"$XB" count --pin /sys/fs/bpf/sink | python3 -c 'import json, sys; print(json.load(sys.stdin)["sink"])'
}
# DPDK's port stats of the DUT: "ipackets opackets imissed oerrors"
port_stats() {
	$TEL "$PREFIX" /ethdev/stats,0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["ipackets"], j["opackets"], j["imissed"], j["oerrors"])'
}
cpu_ticks() {
	awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}
now() { date +%s.%N; }
# "sink_time sink port_time ipackets opackets imissed oerrors busy steal
# total": each counter with the midpoint of its own read (a read takes a
# while on a loaded machine).
sample() {
	local a b c s p
	a=$(now)
	s=$(sink_count) || return 1
	b=$(now)
	p=$(port_stats) || return 1
	c=$(now)
	echo "$(python3 -c "print(($a + $b) / 2, $s, ($b + $c) / 2)") $p $(cpu_ticks "$DUT_CPU")"
}

RAW=$OUT/raw.csv
# fwd_pps: what the figure is: the sink's count (veth vdevs) or the port's
# transmitted packets (pcap), per second.
echo "vdev,mode,rep,seconds,fwd_pps,dut_rx_pps,dut_tx_pps,imissed,oerrors,offered_pps,dut_cpu_steal,cycles_per_pkt" >"$RAW"
{
	echo "# kernel $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
	echo "# DPDK $(dpkg-query -W -f '${Version}' dpdk 2>/dev/null), --no-huge -m 512, 8192 mbufs, burst 32"
	if [ $VETH = 1 ]; then
		echo "# generator + sink NAPI (+ DPDK main lcore, sleeping) on CPU $GEN_CPU; DUT worker lcore on CPU $DUT_CPU; DUT veth NAPI thread on CPU $NAPI_CPU; SCHED_FIFO 50 for the DPDK process and that NAPI thread: $([ $FIFO = 1 ] && echo yes || echo no)"
	else
		echo "# DPDK main lcore (sleeping) on CPU $GEN_CPU; DUT worker lcore on CPU $DUT_CPU; SCHED_FIFO 50 for the DPDK process: $([ $FIFO = 1 ] && echo yes || echo no)"
	fi
	echo "# load before the run:$(uptime | sed 's/.*load average//')"
	echo "# vdevs $VDEVS; $REPS reps x $SECONDS_RUN s, warm-up $WARM s; $NBE backends; modes ${MODES[*]}"
	echo "# lb: $LBD_SRC ($(sha256sum "$LBD" | cut -c1-16))"
	[ -z "$LBD_REF" ] || echo "# lb_ref: $REF_SRC ($(sha256sum "$LBD_REF" | cut -c1-16))"
	echo "# pcap: net_pcap rx_pcap=<4096 capable SYNs, IPv$FAMILY, $([ "$FAMILY" = 6 ] && echo 114 || echo 82) bytes, to $SVC>,infinite_rx=1, transmit dropped by the PMD (the figure); af_packet/af_xdp: veth + xdpbench generator (functional smoke runs, generator-bound)"
} | tee "$OUT/env.txt"

# pcap: "time ipackets opackets imissed oerrors busy steal total"
sample_port() {
	local a b p
	a=$(now)
	p=$(port_stats) || return 1
	b=$(now)
	echo "$(python3 -c "print(($a + $b) / 2)") $p $(cpu_ticks "$DUT_CPU")"
}

measure() {
	local vdev=$1 mode=$2 rep=$3 tag genout s0 s1 gpid r cyc log
	tag=$vdev-$mode-$rep
	log=$OUT/dut-$tag.log
	start_dut "$mode" "$vdev" "$log" || die "$mode on $vdev did not come up (rep $rep), see $log"
	if [ "$vdev" = pcap ]; then
		local mac
		mac=$($TEL "$PREFIX" /ethdev/info,0 | python3 -c 'import json, sys; print(json.load(sys.stdin)["mac_addr"])')
		[ "${mac,,}" = "$PCAP_MAC" ] ||
			die "net_pcap's port MAC is '$mac', the frames in $PCAP are for $PCAP_MAC"
		sleep "$WARM"
		s0=$(sample_port) || die "cannot read the counters (rep $rep, $mode, $vdev)"
		sleep "$SECONDS_RUN"
		s1=$(sample_port) || die "cannot read the counters (rep $rep, $mode, $vdev)"
	else
		napi_pin "$NS_DUT" "$DEV_DUT" "$NAPI_CPU" "$FIFO"
		genout=$OUT/gen-$tag.json
	taskset -c "$GEN_CPU" timeout $((WARM + SECONDS_RUN + 30)) nsenter --net="/run/netns/$NS_GEN" "$XB" gen \
		--dev "$DEV_GEN" --src-mac "$MAC_GEN" --dst-mac "$MAC_DUT" --saddr 198.18.1.0 --daddr "$VIP" \
		--dport $PORT --batch "$BATCH" --seconds $((WARM + SECONDS_RUN + 1)) >"$genout" &
		gpid=$!
		sleep "$WARM"
		s0=$(sample) || die "cannot read the counters (rep $rep, $mode, $vdev)"
		sleep "$SECONDS_RUN"
		s1=$(sample) || die "cannot read the counters (rep $rep, $mode, $vdev)"
		{ ip -n "$NS_DUT" -s link show "$DEV_DUT"; ip -n "$NS_GEN" -s link show "$DEV_GEN"; } >"$OUT/links-$tag.txt"
		wait "$gpid" || die "generator failed (rep $rep, $mode, $vdev): $(cat "$genout")"
	fi
	# Busy cycles per received packet over the whole run (idle polls not
	# counted), as testpmd's --record-core-cycles reports it.
	if [ "$mode" != testpmd ]; then
		$TEL "$PREFIX" /crab/stats >"$OUT/lbstats-$tag.json"
		cyc=$(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print("%.1f" % (j["busy_cycles"] / j["rx"]) if j["rx"] else "nan")' "$OUT/lbstats-$tag.json")
		stop_dut
	else
		stop_dut
		cyc=$(sed -n 's/.*CPU cycles\/packet=\([0-9.]*\).*/\1/p' "$log" | tail -1)
		[ -n "$cyc" ] || cyc=nan
	fi
	r=$(python3 - "$vdev" "$mode" "$rep" "$s0" "$s1" "${genout:-}" "$cyc" <<'PY'
import json, sys
vdev, mode, rep = sys.argv[1], sys.argv[2], int(sys.argv[3])
if vdev == "pcap":
    # No generator: the port's own counters give the rates.
    u0, i0, o0, m0, e0, b0, st0, tt0 = map(float, sys.argv[4].split())
    u1, i1, o1, m1, e1, b1, st1, tt1 = map(float, sys.argv[5].split())
    t0, t1, k0, k1 = u0, u1, o0, o1
    offered = None
else:
    t0, k0, u0, i0, o0, m0, e0, b0, st0, tt0 = map(float, sys.argv[4].split())
    t1, k1, u1, i1, o1, m1, e1, b1, st1, tt1 = map(float, sys.argv[5].split())
    offered = json.load(open(sys.argv[6]))["pps"]
dt, du = t1 - t0, u1 - u0
if offered is None:
    offered = (i1 - i0) / du
steal = (st1 - st0) / (tt1 - tt0) if tt1 > tt0 else 0.0
print(f"{vdev},{mode},{rep},{dt:.3f},{(k1 - k0) / dt:.0f},{(i1 - i0) / du:.0f},{(o1 - o0) / du:.0f},"
      f"{m1 - m0:.0f},{e1 - e0:.0f},{offered:.0f},{steal:.2f},{sys.argv[7]}")
PY
) || die "cannot compute the result of rep $rep ($mode, $vdev)"
	# With the pcap feed every frame is a capable SYN for the service: an LB
	# that does not forward (nearly) all it receives is misconfigured, and
	# its figure would measure something else.
	if [ "$vdev" = pcap ] && [ "$mode" != testpmd ]; then
		python3 - "$OUT/lbstats-$tag.json" <<'PY' || die "the LB did not forward what it received (rep $rep), see $OUT/lbstats-$tag.json"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if j["rx"] and j["tx"] >= 0.99 * j["rx"] and j["pass"] == 0 else 1)
PY
	fi
	echo "$r" >>"$RAW"
	echo "# $r"
}

T0=$(date +%s)
for ((rep = 1; rep <= REPS; rep++)); do
	for vdev in ${VDEVS//,/ }; do
		# Rotate which one goes first (two modes: alternate).
		for ((k = 0; k < ${#MODES[@]}; k++)); do
			measure "$vdev" "${MODES[(k + rep - 1) % ${#MODES[@]}]}" "$rep"
		done
	done
done
echo "# $(($(date +%s) - T0)) s for all repetitions"
echo "# load after the run:$(uptime | sed 's/.*load average//')" | tee -a "$OUT/env.txt"

python3 - "$OUT" "$RAW" <<'PY'
import csv, json, math, os, platform, statistics, sys
out, raw = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(raw)))
med = statistics.median
summary = {"kernel": platform.release(), "cpus": os.cpu_count(), "vdevs": {}}
lines = ["| vdev | DUT | median SYN/s forwarded | min | max | DUT rx (median) | offered (median) | busy cycles/pkt (median) |",
         "|---|---|---|---|---|---|---|---|"]
notes = []
names = {"testpmd": "testpmd io (baseline)", "lb": "crab-lb-dpdk (rr, 1 service)",
         "lb_ref": "crab-lb-dpdk --compare (rr, 1 service)"}


def per_rep(vdev, key):
    """{rep: {mode: value}} of column @key."""
    pairs = {}
    for r in rows:
        if r["vdev"] == vdev:
            pairs.setdefault(r["rep"], {})[r["mode"]] = float(r[key])
    return pairs


for vdev in dict.fromkeys(r["vdev"] for r in rows):
    res = {}
    modes = [m for m in names if any(r["vdev"] == vdev and r["mode"] == m for r in rows)]
    for mode in modes:
        rr = [r for r in rows if r["vdev"] == vdev and r["mode"] == mode]
        v = [float(r["fwd_pps"]) for r in rr]
        cyc = [float(r["cycles_per_pkt"]) for r in rr if not math.isnan(float(r["cycles_per_pkt"]))]
        res[mode] = {"fwd_pps": v, "median": med(v), "min": min(v), "max": max(v),
                     "dut_rx_median": med(float(r["dut_rx_pps"]) for r in rr),
                     "offered_median": med(float(r["offered_pps"]) for r in rr),
                     "cycles_per_pkt": cyc, "cycles_median": med(cyc) if cyc else float("nan")}
    summary["vdevs"][vdev] = entry = {"results": res}
    label = vdev if vdev == "pcap" else vdev + " (smoke, generator-bound)"
    for mode in modes:
        m = res[mode]
        lines.append(f"| {label} | {names[mode]} | {m['median'] / 1e6:.3f} M | {m['min'] / 1e6:.3f} M | {m['max'] / 1e6:.3f} M | "
                     f"{m['dut_rx_median'] / 1e6:.3f} M | {m['offered_median'] / 1e6:.2f} M | {m['cycles_median']:.0f} |")
    where = "transmitted by the port" if vdev == "pcap" else "at the sink"
    for lb in ("lb", "lb_ref"):
        if lb not in res or "testpmd" not in res:
            continue
        pairs = per_rep(vdev, "fwd_pps")
        ratios = [p[lb] / p["testpmd"] for p in pairs.values() if p.get("testpmd") and lb in p]
        ratio = res[lb]["median"] / res["testpmd"]["median"]
        cratio = res["testpmd"]["cycles_median"] / res[lb]["cycles_median"]
        sfx = "" if lb == "lb" else "_ref"
        entry["ratio_of_medians" + sfx] = ratio
        entry["per_rep_ratios" + sfx] = ratios
        entry["cycles_ratio_testpmd_over_lb" + sfx] = cratio
        name = "LB" if lb == "lb" else "LB --compare"
        notes.append(f"{vdev}: {name} / testpmd = {ratio:.3f} (ratio of medians {where}); per repetition "
                     f"{min(ratios):.3f} .. {max(ratios):.3f}; busy cycles per packet testpmd / {name} = {cratio:.3f}")
    if "lb" in res and "lb_ref" in res:
        # The A/B figure: busy cycles per packet of the two builds, per
        # repetition (measured next to each other) and as medians.
        cyc = per_rep(vdev, "cycles_per_pkt")
        cr = [p["lb"] / p["lb_ref"] for p in cyc.values()
              if "lb" in p and "lb_ref" in p and p["lb_ref"] > 0 and not math.isnan(p["lb"] / p["lb_ref"])]
        c = res["lb"]["cycles_median"] / res["lb_ref"]["cycles_median"]
        entry["cycles_lb_over_ref"] = c
        entry["per_rep_cycles_lb_over_ref"] = cr
        notes.append(f"{vdev}: busy cycles per packet LB / LB --compare = {c:.3f} "
                     f"({res['lb']['cycles_median']:.1f} / {res['lb_ref']['cycles_median']:.1f}, medians); "
                     f"per repetition {min(cr):.3f} .. {max(cr):.3f} (median {med(cr):.3f})" if cr else
                     f"{vdev}: busy cycles per packet LB / LB --compare = {c:.3f} (medians)")
text = "\n".join(lines + [""] + notes)
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)
open(os.path.join(out, "summary.txt"), "w").write(text + "\n")
print(text)
PY
echo "# raw: $RAW; summary: $OUT/summary.txt, $OUT/summary.json"
