#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of `make bench` (bench/e2e/run.sh boots the VM and runs this):
# one guest boot, the standard selftest topology (client, LB, N servers on
# one bridge, selftests/lib.sh), then the experiments, each alternative set
# up, measured with crab-loadgen against crab-benchd, and torn down again.
#
#   guest.sh --out DIR [--samples N] [--exp "1 4"] [--policy-samples N]
#            [--service-us U] [--loads "0.2 0.4 ..."] [--variants "direct ..."]
#            [--rounds R]
#            [--rate-mbit R] [--sizes "64 1024 ..."] [--tput-seconds S] [--tput-conns K]
#            [--tput-variants "nolimit direct crab-nf ipvs-dr ipvs-nat"]
#            [--cap-seconds S] [--cap-clients K] [--cap-requests N] [--cap-size B]
#            [--cap-variants "idle direct fwd crab-nf crab-xdp ipvs-dr ipvs-nat nft-dnat"]
#            [--flood-seconds S] [--flood-rate PPS] [--flood-batch N] [--train-variants "fwd ipvs-dr ..."]
#            [--cap-spinner 0|1] [--endpoints modules|ebpf]
#
# --endpoints ebpf (bench/host/run.sh, on the host kernel): the client and
# server endpoints are the eBPF ones (crabctl ebpf, cgroups of this run),
# no module is loaded; variants that need a module (crab-nf, IPVS) are
# recorded as skipped with the reason.
#
# Writes DIR/exp1/<variant>-<crr|rr>.{json,csv,log} (with --rounds R > 1:
# <variant>-<crr|rr>.r<k>.*, samples/R per round, plot.py pools them),
# DIR/exp4/<policy>-<load>.*, DIR/exp3/<variant>-<crr|rr>-<size>-<k>.*,
# DIR/exp2/<variant>.txt (+ <variant>-<k>.{json,log}, LB state)
# and DIR/guest-env.txt. A variant that cannot be set up is recorded as
# DIR/exp1/<variant>.skip with the reason; the run goes on.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out= samples=1000 rounds=1 exps="1 4" psamples=1000 service_us=1000 loads="0.2 0.4 0.6 0.8 0.9"
variants="direct crab-xdp crab-nf ipvs-nat ipvs-dr nft-dnat haproxy"
endpoints=modules
policies="crab-rr crab-random hash"
warmup=
# Experiment 3: every link of the LB and of each server shaped to rate_mbit
# (both directions), K closed-loop clients for tput_seconds per point.
rate_mbit=5 sizes="64 1024 8192 65536" tput_seconds=20 tput_conns=6
tput_variants="nolimit direct crab-nf ipvs-dr ipvs-nat"
# Experiment 2: LB CPU cost per connection, K closed-loop crr clients with N
# requests of B bytes per connection for cap_seconds per alternative.
cap_seconds=20 cap_clients=4 cap_requests=4 cap_size=64
cap_variants="idle direct fwd crab-nf crab-xdp ipvs-dr ipvs-nat nft-dnat"
# ... and a packet-train flood (crab-syngen) for flood_seconds per point at
# flood_rate packets/s offered: one SYN per connection for every LB, SYN +
# K client packets per connection (K from the real connections through IPVS
# DR) for train_variants. 0 seconds: no flood points.
flood_seconds=10 flood_rate=40000 flood_batch=32 train_variants="fwd ipvs-dr ipvs-nat nft-dnat"
cap_spinner=1
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--samples) samples=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--exp) exps=$2; shift 2 ;;
	--policy-samples) psamples=$2; shift 2 ;;
	--service-us) service_us=$2; shift 2 ;;
	--loads) loads=$2; shift 2 ;;
	--variants) variants=$2; shift 2 ;;
	--policies) policies=$2; shift 2 ;;
	--rate-mbit) rate_mbit=$2; shift 2 ;;
	--sizes) sizes=$2; shift 2 ;;
	--tput-seconds) tput_seconds=$2; shift 2 ;;
	--tput-conns) tput_conns=$2; shift 2 ;;
	--tput-variants) tput_variants=$2; shift 2 ;;
	--cap-seconds) cap_seconds=$2; shift 2 ;;
	--cap-clients) cap_clients=$2; shift 2 ;;
	--cap-requests) cap_requests=$2; shift 2 ;;
	--cap-size) cap_size=$2; shift 2 ;;
	--cap-variants) cap_variants=$2; shift 2 ;;
	--flood-seconds) flood_seconds=$2; shift 2 ;;
	--flood-rate) flood_rate=$2; shift 2 ;;
	--flood-batch) flood_batch=$2; shift 2 ;;
	--train-variants) train_variants=$2; shift 2 ;;
	--cap-spinner) cap_spinner=$2; shift 2 ;;
	--endpoints) endpoints=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$out" ] || { echo "error: --out DIR is required" >&2; exit 2; }
case $endpoints in modules | ebpf) ;; *) echo "error: --endpoints: modules or ebpf" >&2; exit 2 ;; esac
case $rounds in '' | *[!0-9]* | 0) echo "error: --rounds must be a positive integer" >&2; exit 2 ;; esac
[ $((samples / rounds)) -ge 100 ] || { echo "error: --samples / --rounds must be >= 100" >&2; exit 2; }
: "${warmup:=$((samples / 10 > 200 ? 200 : samples / 10))}"
# shellcheck source=../../selftests/lib.sh
source "$here/../../selftests/lib.sh"
PORT=8080
mkdir -p "$out/exp1" "$out/exp4" "$out/exp3" "$out/exp2"

# Where CMake puts them (a find over the build tree takes minutes over 9p).
find_bin() {
	local f=$CRAB_TOP/build/userspace/bench/loadgen/$1
	[ -x "$f" ] && echo "$f"
}
LOADGEN=$(find_bin crab-loadgen)
BENCHD=$(find_bin crab-benchd)
SYNGEN=$(find_bin crab-syngen)
if [ -x "$LOADGEN" ] && [ -x "$BENCHD" ] && [ -z "${BENCH_PYLOAD:-}" ]; then
	TOOL=c++
else
	# The C++ tools are not built: the Python stand-in (results say so).
	echo "# bench: crab-loadgen/crab-benchd not found: using bench/e2e/pyload.py" >&2
	LOADGEN="python3 $here/pyload.py client" BENCHD="python3 $here/pyload.py server" TOOL=pyload.py
fi
log() { echo "# bench: $*"; }

{
	echo "guest_kernel=$(uname -r)"
	echo "guest_cpus=$(nproc)"
	echo "guest_cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "tool=$TOOL"
	echo "loadgen=$LOADGEN"
	echo "benchd=$BENCHD"
	echo "haproxy=$(haproxy -v 2>/dev/null | head -n1)"
	echo "ipvsadm=$(ipvsadm --version 2>/dev/null | head -n1)"
	echo "nft=$(nft --version 2>/dev/null)"
	echo "endpoints=$endpoints"
	echo "samples=$samples rounds=$rounds warmup=$warmup policy_samples=$psamples service_us=$service_us"
	echo "exp3: rate_mbit=$rate_mbit sizes=$sizes tput_seconds=$tput_seconds tput_conns=$tput_conns"
	echo "exp2: cap_seconds=$cap_seconds cap_clients=$cap_clients cap_requests=$cap_requests cap_size=$cap_size"
	echo "exp2 flood: syngen=${SYNGEN:-none} flood_seconds=$flood_seconds flood_rate=$flood_rate flood_batch=$flood_batch train_variants=$train_variants"
	echo "start=$(date -u +%FT%TZ)"
} >"$out/guest-env.txt"

nservers=3
crab_topo_setup $nservers
# in_cli CMD...: CMD in the client namespace (with the eBPF endpoints: as
# a member of the client's cgroup; nsenter keeps /sys, so the cgroup2
# and bpffs mounts, where `ip netns exec` remounts it).
if [ "$endpoints" = modules ]; then
	crab_load_module crab_client
	crab_load_module crab_server
	# The endpoints start off: the client announces to the VIP and accepts
	# redirects from the segment (client_crab turns it on and off per
	# alternative), the servers echo.
	crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
	crab_server_config "${NS_SRV[@]:1}"
	in_cli() { ip netns exec "$NS_CLI" "$@"; }
	in_srv() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
	client_crab() { ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled="$1"; }
	crab_client_counters() { ip netns exec "$NS_CLI" cat /proc/net/crab_client 2>/dev/null | awk '$2 != 0 {printf "%s=%s ", $1, $2}'; }
else
	cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$cgroot" ] || crab_fail "no cgroup2 mount (the eBPF endpoints attach to cgroups)"
	CG_BASE=$cgroot/crab-bench-$CRAB_SFX
	CG_CLI=$CG_BASE/client CG_SRV=$CG_BASE/servers
	mkdir -p "$CG_CLI" "$CG_SRV" || crab_fail "cannot create cgroups under $cgroot"
	cg_remove() {
		local cg
		for cg in "$CG_CLI" "$CG_SRV"; do
			xargs -r kill -9 <"$cg/cgroup.procs" 2>/dev/null
			rmdir "$cg" 2>/dev/null
		done
		rmdir "$CG_BASE" 2>/dev/null
	}
	crab_defer cg_remove
	# The servers echo (listeners created after this attach).
	"$CRABCTL" ebpf server attach --cgroup "$CG_SRV" --echo on >"$out/ebpf-server-attach.log" 2>&1 ||
		crab_fail "crabctl ebpf server attach: $(tail -n1 "$out/ebpf-server-attach.log")"
	crab_defer "$CRABCTL ebpf server detach --cgroup $CG_SRV"
	# The strict reverse-path check the eBPF client asks for.
	ip netns exec "$NS_CLI" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
	in_cg() {
		local cg=$1 ns=$2; shift 2
		sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
			nsenter --net="/run/netns/$ns" "$@"
	}
	in_cli() { in_cg "$CG_CLI" "$NS_CLI" "$@"; }
	in_srv() { local ns=$1; shift; in_cg "$CG_SRV" "$ns" "$@"; }
	CLIENT_ON=
	# The client endpoint attached (announce to the VIP, accept redirects
	# from the servers' segment; more attach options in CLIENT_OPTS, e.g.
	# --input-probe off) or detached ("").
	client_crab() {
		local want=
		[ "$1" = 1 ] && want="on ${CLIENT_OPTS:-}"
		[ "$want" = "$CLIENT_ON" ] && return 0
		if [ -n "$CLIENT_ON" ]; then
			nsenter --net="/run/netns/$NS_CLI" "$CRABCTL" ebpf client detach --cgroup "$CG_CLI" --dev eth0 \
				>>"$out/ebpf-client-attach.log" 2>&1 || crab_fail "crabctl ebpf client detach failed"
			CLIENT_ON=
		fi
		if [ -n "$want" ]; then
			# shellcheck disable=SC2086
			nsenter --net="/run/netns/$NS_CLI" "$CRABCTL" ebpf client attach --cgroup "$CG_CLI" --dev eth0 \
				--announce "$VIP/32" --allow "$CRAB_SUBNET.0/24" ${CLIENT_OPTS:-} \
				>>"$out/ebpf-client-attach.log" 2>&1 ||
				crab_fail "crabctl ebpf client attach: $(tail -n1 "$out/ebpf-client-attach.log")"
			CLIENT_ON=$want
		fi
	}
	crab_defer "client_crab 0"
	crab_client_counters() { "$CRABCTL" ebpf stats 2>/dev/null | awk 'NF == 2 && $2 ~ /^[0-9]+$/ && $2 != 0 {printf "%s=%s ", $1, $2}'; }
fi
# Segments the XDP LB forwards with XDP_TX keep the client's partial
# checksum on a veth: the client's stack must complete it. Same setting for
# every alternative, so they all pay the same.
ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null
# Many short connections from one client: reuse TIME_WAIT ports.
for ns in "$NS_CLI" "$NS_LB"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65535"
done
for ((i = 1; i <= nservers; i++)); do
	ip netns exec "${NS_SRV[i]}" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
done

# ---- servers -------------------------------------------------------------------
declare -a SRV_PID
servers_start() { # servers_start [benchd options...]
	local i j f
	servers_stop
	for ((i = 1; i <= nservers; i++)); do
		f=$out/benchd-$i.log
		in_srv "${NS_SRV[i]}" $BENCHD --listen "0.0.0.0:$PORT" --size 8 "$@" >"$f" 2>&1 &
		SRV_PID[i]=$!
	done
	for ((i = 1; i <= nservers; i++)); do
		for j in $(seq 300); do
			grep -q '^ready' "$out/benchd-$i.log" 2>/dev/null && break
			kill -0 "${SRV_PID[i]}" 2>/dev/null || break
			sleep 0.1
		done
		grep -q '^ready' "$out/benchd-$i.log" || { cat "$out/benchd-$i.log"; crab_fail "crab-benchd $i did not start"; }
	done
}
servers_stop() {
	local i
	for i in "${!SRV_PID[@]}"; do
		kill -TERM "${SRV_PID[i]}" 2>/dev/null
		wait "${SRV_PID[i]}" 2>/dev/null
	done
	SRV_PID=()
}
crab_defer servers_stop


# ---- alternatives: <name>_up / <name>_down, target in TARGET -------------------
# The bridge-side veth of namespace $1's eth0 (in NS_SW).
sw_peer() {
	local idx
	idx=$(ip -n "$1" -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
	ip -n "$NS_SW" -o link show | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }'
}
vip_lb_lo() { ip -n "$NS_LB" addr "$1" "$VIP/32" dev lo; }
srv_route_via_lb() {
	local i
	for ((i = 1; i <= nservers; i++)); do
		ip -n "${NS_SRV[i]}" route "$1" "$IP_CLI/32" via "$IP_LB"
	done
}
srv_vip_lo_del() {
	local i
	for ((i = 1; i <= nservers; i++)); do
		ip -n "${NS_SRV[i]}" addr del "$VIP/32" dev lo 2>/dev/null
		ip netns exec "${NS_SRV[i]}" sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0
	done
}
ipvs_ok() { modprobe ip_vs >/dev/null 2>&1 && modprobe ip_vs_rr >/dev/null 2>&1 && command -v ipvsadm >/dev/null; }
# IPVS keeps its connection entries after `ipvsadm -C`: minutes for a DR
# entry, which never sees the server's half of the close. A later
# alternative's SYN from a reused client port can then follow the old entry
# (a DR entry forwards it to a server that no longer holds the VIP), and the
# client gets EHOSTUNREACH or a timeout. That is one suspected cause, not
# confirmed, of the few IPVS NAT connections that failed that way in the
# runs up to full run 2 (docs/PERFORMANCE.md). Unloading IPVS drops every
# entry; ipvs_ok loads it again for the next IPVS alternative.
ipvs_flush() {
	ip netns exec "$NS_LB" ipvsadm -C
	modprobe -r ip_vs_rr ip_vs 2>/dev/null ||
		log "warning: ip_vs stays loaded ($(lsmod | awk '$1 == "ip_vs" {print "used by " $3}')): its connection entries may misroute the next alternative's first connections"
}
xctl() { nsenter --net="/run/netns/$NS_LB" "$CRABCTL" lb xdp "$@"; }
nctl() { ip netns exec "$NS_LB" "$CRABCTL" lb nf "$@"; }
XDP_PEER=

direct_up() { client_crab 0; TARGET=${IP_SRV[1]}:$PORT; }
direct_down() { :; }

# Experiment 2's baseline: no LB, the LB namespace only routes the VIP to
# server 1 (plain IPv4 forwarding, the receive/route/transmit every
# in-kernel LB pays too); server 1 answers from the VIP on its lo, DSR.
fwd_up() {
	client_crab 0
	crab_servers_vip_on_lo
	ip -n "$NS_LB" route add "$VIP/32" via "${IP_SRV[1]}" || { SKIP_REASON="cannot route the VIP in the LB namespace"; return 1; }
	TARGET=$VIP:$PORT
}
fwd_down() {
	ip -n "$NS_LB" route del "$VIP/32" via "${IP_SRV[1]}" 2>/dev/null
	srv_vip_lo_del
}

crab-xdp_up() {
	local i
	client_crab 1
	# XDP_MODE=generic (experiment 2): skb-mode XDP, which runs in the
	# receive path of the LB's veth (and so on the CPU RPS steers it to);
	# its XDP_TX needs no program on the peer.
	xctl attach eth0 ${XDP_MODE:+--mode $XDP_MODE} 2>"$out/xdp-attach.err" ||
		{ SKIP_REASON="crabctl lb xdp attach failed: $(tail -n1 "$out/xdp-attach.err")"; return 1; }
	if [ "${XDP_MODE:-}" != generic ]; then
		# XDP_TX on a veth needs an XDP program on the peer (selftests/lb_xdp/xdp_lib.sh)
		XDP_PEER=$(sw_peer "$NS_LB")
		nsenter --net="/run/netns/$NS_SW" "$CRABCTL" lb xdp attach "$XDP_PEER" --mode native >/dev/null 2>&1 ||
			{ SKIP_REASON="cannot attach XDP to the LB's veth peer"; return 1; }
	fi
	xctl service add "$VIP:$PORT" --policy "${POLICY:-rr}" ${LEGACY:+--legacy $LEGACY} --dev eth0 ||
		{ SKIP_REASON="xdp service add failed"; return 1; }
	for ((i = 1; i <= nservers; i++)); do
		xctl backend add "$VIP:$PORT" "${IP_SRV[i]}" --dev eth0 || { SKIP_REASON="xdp backend add failed"; return 1; }
		ip netns exec "$NS_LB" ping -c1 -W5 "${IP_SRV[i]}" >/dev/null
	done
	TARGET=$VIP:$PORT
}
crab-xdp_down() {
	nsenter --net="/run/netns/$NS_LB" "$CRABCTL" -j lb xdp stats --dev eth0 >"$out/crab-xdp-lbstats-$(date +%s).json" 2>/dev/null
	xctl detach eth0 >/dev/null 2>&1
	[ -n "$XDP_PEER" ] && nsenter --net="/run/netns/$NS_SW" "$CRABCTL" lb xdp detach "$XDP_PEER" >/dev/null 2>&1
	XDP_PEER=
}

# CRAB with the eBPF client's input-path probe off (what the probe costs:
# it sends an ICMP probe from the server through the client's input path
# and requeues the SYN-ACK behind it, so that netfilter rules on the
# server's address apply, docs/PROTOCOL.md 3.7).
crab-xdp-noprobe_up() {
	[ "$endpoints" = ebpf ] || { SKIP_REASON="the input-path probe is the eBPF client's (--endpoints ebpf)"; return 1; }
	CLIENT_OPTS="--input-probe off" crab-xdp_up
}
crab-xdp-noprobe_down() { crab-xdp_down; }

# A stateless DSR LB, as IPVS DR is: the XDP LB in legacy hash mode, the
# client without CRAB, so every packet of a connection crosses the LB,
# which only rewrites the destination MAC (Maglev over the 5-tuple); the
# servers hold the VIP on lo and answer the client directly.
dsr-xdp_up() {
	LEGACY=hash crab-xdp_up || return 1
	client_crab 0
	crab_servers_vip_on_lo
}
dsr-xdp_down() { crab-xdp_down; srv_vip_lo_del; }

crab-nf_up() {
	local i
	[ "$endpoints" = modules ] || { SKIP_REASON="needs the crab_lb_nf module (this run: --endpoints ebpf, no module loaded)"; return 1; }
	client_crab 1
	crab_load_module crab_lb_nf
	nctl service add "$VIP:$PORT" --policy "${POLICY:-rr}" ${LEGACY:+--legacy $LEGACY} || { SKIP_REASON="nf service add failed"; return 1; }
	for ((i = 1; i <= nservers; i++)); do
		nctl backend add "$VIP:$PORT" "${IP_SRV[i]}" || { SKIP_REASON="nf backend add failed"; return 1; }
	done
	TARGET=$VIP:$PORT
}
crab-nf_down() {
	ip netns exec "$NS_LB" "$CRABCTL" -j lb nf stats >"$out/crab-nf-lbstats-$(date +%s).json" 2>/dev/null
	nctl service del "$VIP:$PORT" >/dev/null 2>&1
	rmmod crab_lb_nf 2>/dev/null
}

ipvs-nat_up() {
	local i
	client_crab 0
	ipvs_ok || { SKIP_REASON="IPVS (ip_vs module or ipvsadm) not available"; return 1; }
	vip_lb_lo add
	srv_route_via_lb add
	ip netns exec "$NS_LB" ipvsadm -A -t "$VIP:$PORT" -s rr || return 1
	for ((i = 1; i <= nservers; i++)); do
		ip netns exec "$NS_LB" ipvsadm -a -t "$VIP:$PORT" -r "${IP_SRV[i]}:$PORT" -m || return 1
	done
	TARGET=$VIP:$PORT
}
ipvs-nat_down() {
	ip netns exec "$NS_LB" ipvsadm -L -n --stats >"$out/${EXPDIR:-exp1}/ipvs-nat-stats.txt" 2>&1
	ipvs_flush
	srv_route_via_lb del
	vip_lb_lo del
}

ipvs-dr_up() {
	local i
	client_crab 0
	ipvs_ok || { SKIP_REASON="IPVS (ip_vs module or ipvsadm) not available"; return 1; }
	vip_lb_lo add
	crab_servers_vip_on_lo
	ip netns exec "$NS_LB" ipvsadm -A -t "$VIP:$PORT" -s rr || return 1
	for ((i = 1; i <= nservers; i++)); do
		ip netns exec "$NS_LB" ipvsadm -a -t "$VIP:$PORT" -r "${IP_SRV[i]}:$PORT" -g || return 1
	done
	TARGET=$VIP:$PORT
}
ipvs-dr_down() {
	ip netns exec "$NS_LB" ipvsadm -L -n --stats >"$out/${EXPDIR:-exp1}/ipvs-dr-stats.txt" 2>&1
	ipvs_flush
	srv_vip_lo_del
	vip_lb_lo del
}

nft-dnat_up() {
	client_crab 0
	command -v nft >/dev/null || { SKIP_REASON="nft not installed"; return 1; }
	srv_route_via_lb add
	# What kube-proxy's nftables mode does for a ClusterIP: DNAT to one
	# endpoint picked by numgen, conntrack keeps the mapping.
	ip netns exec "$NS_LB" nft -f - <<-EOF || { SKIP_REASON="nft ruleset rejected"; return 1; }
	table ip crabbench {
		chain pre {
			type nat hook prerouting priority dstnat; policy accept;
			ip daddr $VIP tcp dport $PORT counter dnat to numgen inc mod 3 map { 0 : ${IP_SRV[1]}, 1 : ${IP_SRV[2]}, 2 : ${IP_SRV[3]} }
		}
	}
	EOF
	TARGET=$VIP:$PORT
}
nft-dnat_down() {
	ip netns exec "$NS_LB" nft list table ip crabbench >"$out/${EXPDIR:-exp1}/nft-dnat-ruleset.txt" 2>&1
	ip netns exec "$NS_LB" nft delete table ip crabbench
	srv_route_via_lb del
}

HAP_PID=
haproxy_up() {
	local i cfg=$out/haproxy.cfg
	client_crab 0
	command -v haproxy >/dev/null || { SKIP_REASON="haproxy not installed"; return 1; }
	vip_lb_lo add
	{
		printf 'global\n\tnbthread 1\n\tmaxconn 8000\n'
		printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 60s\n\ttimeout server 60s\n'
		printf 'frontend fe\n\tbind %s:%s\n\tdefault_backend be\n' "$VIP" "$PORT"
		printf 'backend be\n\tbalance roundrobin\n'
		for ((i = 1; i <= nservers; i++)); do printf '\tserver s%d %s:%s\n' "$i" "${IP_SRV[i]}" "$PORT"; done
	} >"$cfg"
	ip netns exec "$NS_LB" haproxy -db -f "$cfg" >"$out/haproxy.log" 2>&1 &
	HAP_PID=$!
	for i in $(seq 200); do
		ip netns exec "$NS_LB" ss -Htln "sport = :$PORT" | grep -q . && break
		kill -0 "$HAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	ip netns exec "$NS_LB" ss -Htln "sport = :$PORT" | grep -q . || { SKIP_REASON="haproxy did not listen: $(tail -n1 "$out/haproxy.log")"; return 1; }
	TARGET=$VIP:$PORT
}
haproxy_down() {
	[ -n "$HAP_PID" ] && { kill -TERM "$HAP_PID"; wait "$HAP_PID"; } 2>/dev/null
	HAP_PID=
	vip_lb_lo del
}

# One loadgen run: loadgen NAME ARGS... (writes NAME.json/.csv/.log)
#
# With PROG_STATS=1 (bench/host/run.sh --prog-stats: the kernel's BPF
# run-time statistics are on), also NAME.progstats.json: for every program
# whose name starts with crab_, the runs and the nanoseconds spent in them
# during this point (the kernel's run_cnt and run_time_ns, before and after).
prog_stats() {
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
print(json.dumps({"%s/%s" % (p["name"], p["id"]): [p.get("run_cnt", 0), p.get("run_time_ns", 0)]
                  for p in json.load(sys.stdin) if p.get("name", "").startswith("crab_")}))'
}
loadgen() {
	local name=$1 rc t0 ps0=; shift
	t0=$(date +%s)
	[ "${PROG_STATS:-0}" = 1 ] && ps0=$(prog_stats)
	in_cli $LOADGEN --target "$TARGET" --out "$name.json" --hist "$name.csv" "$@" >"$name.log" 2>&1
	rc=$?
	if [ -n "$ps0" ]; then
		python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for k, (cnt, ns) in b.items():
    c0, n0 = a.get(k, [0, 0])
    if cnt > c0:
        name = k.split("/")[0]
        o = out.setdefault(name, {"run_cnt": 0, "run_time_ns": 0})
        o["run_cnt"] += cnt - c0
        o["run_time_ns"] += ns - n0
json.dump(out, open(sys.argv[3], "w"), indent=1)' "$ps0" "$(prog_stats)" "$name.progstats.json"
	fi
	# When each point ran (UTC epoch seconds): plot.py matches it against
	# the host's load, which run.sh samples while the guest runs.
	echo "$(basename "$name") $t0 $(date +%s)" >>"$out/timeline.txt"
	log "$(basename "$name"): exit $rc, $(($(date +%s) - t0)) s, $(python3 -c '
import json, sys
try:
    j = json.load(open(sys.argv[1])); l = j["latency_us"]
    print("samples %s errors %s p50 %.0f us p99 %.0f us" % (j["samples"], j.get("errors_total", j.get("errors")), l["p50"], l["p99"]))
except Exception as e:
    print("no result (%s)" % e)' "$name.json")"
	[ $rc = 0 ] || tail -n 5 "$name.log" | sed 's/^/#   /'
	return $rc
}

# ---- experiment 1: unloaded CRR and RR latency -----------------------------------
exp1() {
	local v r i n per wu order sfx
	local -a vs
	read -ra vs <<<"$variants"
	n=${#vs[@]}
	per=$((samples / rounds)) wu=$((warmup / rounds > 20 ? warmup / rounds : 20))
	[ "$rounds" = 1 ] && wu=$warmup
	servers_start
	for ((r = 1; r <= rounds; r++)); do
		# Interleaved rounds: every alternative gets a slice of the samples
		# in every round, the order rotated each round, so the drift of a
		# shared host's load falls on all alternatives alike.
		order=()
		for ((i = 0; i < n; i++)); do order+=("${vs[(i + r - 1) % n]}"); done
		for v in "${order[@]}"; do
			[ -e "$out/exp1/$v.skip" ] && continue
			sfx=$([ "$rounds" = 1 ] || echo ".r$r")
			SKIP_REASON="setup failed" TARGET=
			log "exp1 $v: setting up${sfx:+ (round $r of $rounds)}"
			if ! "${v}_up"; then
				log "exp1 $v: SKIP: $SKIP_REASON"
				echo "$SKIP_REASON" >"$out/exp1/$v.skip"
				"${v}_down" >/dev/null 2>&1
				continue
			fi
			echo "before$sfx: $(crab_client_counters)" >>"$out/exp1/$v-client-counters.txt"
			loadgen "$out/exp1/$v-crr$sfx" --mode crr --size 8 --samples "$per" --warmup "$wu"
			loadgen "$out/exp1/$v-rr$sfx" --mode rr --size 8 --samples "$per" --warmup "$wu"
			echo "after$sfx: $(crab_client_counters)" >>"$out/exp1/$v-client-counters.txt"
			"${v}_down"
		done
	done
	servers_stop
}

# ---- experiment 4: policies under open-loop Poisson load ---------------------------
hash_up() {
	# Stateless hash balancing: the nf LB's legacy hash mode (Maglev over
	# the 5-tuple, DSR), clients without CRAB.
	LEGACY=hash crab-nf_up || return 1
	client_crab 0
	crab_servers_vip_on_lo
}
hash_down() { crab-nf_down; srv_vip_lo_del; }
exp4() {
	local p load rate cap
	servers_start --one-at-a-time --service-us "$service_us"
	# capacity of N single-request servers
	cap=$(awk -v n=$nservers -v s="$service_us" 'BEGIN { printf "%.1f", n * 1e6 / s }')
	echo "capacity_rps=$cap servers=$nservers service_us=$service_us" >"$out/exp4/params.txt"
	for p in $policies; do
		SKIP_REASON="setup failed" TARGET=
		case $p in
		crab-rr) POLICY=rr; up=crab-nf_up; down=crab-nf_down ;;
		crab-random) POLICY=random; up=crab-nf_up; down=crab-nf_down ;;
		hash) POLICY=rr; up=hash_up; down=hash_down ;;
		esac
		log "exp4 $p: setting up"
		if ! POLICY=$POLICY $up; then
			log "exp4 $p: SKIP: $SKIP_REASON"
			echo "$SKIP_REASON" >"$out/exp4/$p.skip"
			$down >/dev/null 2>&1
			continue
		fi
		for load in $loads; do
			rate=$(awk -v c="$cap" -v l="$load" 'BEGIN { printf "%.1f", c * l }')
			loadgen "$out/exp4/$p-$load" --mode poisson --rate "$rate" --size 8 \
				--samples "$psamples" --warmup "$((psamples / 10))" --seed 1
		done
		$down
	done
	unset POLICY LEGACY
	servers_stop
}

# ---- experiment 3: throughput scaling with rate-limited links ----------------------
# The LB's link and each server's link are shaped to rate_mbit in BOTH
# directions: a tbf on the namespace's eth0 limits what it sends, a tbf on
# its bridge-side veth (in NS_SW) what it receives. The client's link is not
# shaped. With echo requests of S bytes (S each way):
#   CRAB      request and response go client <-> server: 3 links of R -> 3R
#   IPVS-DR   requests cross the LB's link (in, then out), responses go
#             server -> client directly -> R
#   IPVS-NAT  requests and responses both cross the LB's link in each
#             direction (client->LB + server->LB in, LB->server + LB->client
#             out) -> R/2
#   direct    the client talks to the 3 servers itself (no LB): the 3R bound
#             as this guest reaches it, the same-run baseline
#   nolimit   direct without any shaping: the guest's own ceiling (is the
#             emulated CPU fast enough to fill 3R?)
TPUT_TC="burst 32kb latency 100ms"
shape_links() { # shape_links R_mbit
	local ns peer
	unshape_links
	for ns in "$NS_LB" "${NS_SRV[@]}"; do
		peer=$(sw_peer "$ns")
		[ -n "$peer" ] || { SKIP_REASON="no bridge-side veth for $ns"; return 1; }
		# shellcheck disable=SC2086
		ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "${1}mbit" $TPUT_TC &&
			ip netns exec "$NS_SW" tc qdisc add dev "$peer" root tbf rate "${1}mbit" $TPUT_TC ||
			{ SKIP_REASON="tc tbf failed (sch_tbf?)"; return 1; }
	done
}
unshape_links() {
	local ns peer
	for ns in "$NS_LB" "${NS_SRV[@]}"; do
		ip netns exec "$ns" tc qdisc del dev eth0 root 2>/dev/null
		peer=$(sw_peer "$ns")
		[ -n "$peer" ] && ip netns exec "$NS_SW" tc qdisc del dev "$peer" root 2>/dev/null
	done
	return 0
}
tc_stats() {
	local ns peer
	for ns in "$NS_LB" "${NS_SRV[@]}"; do
		peer=$(sw_peer "$ns")
		echo "== $ns eth0 (what it sends)"
		ip netns exec "$ns" tc -s qdisc show dev eth0
		echo "== $ns bridge side $peer (what it receives)"
		ip netns exec "$NS_SW" tc -s qdisc show dev "$peer"
	done
}
servers3_up() { client_crab 0; TARGET=servers; }
servers3_down() { :; }

# One point: tput_conns closed-loop clients at once for tput_seconds;
# TARGET=servers spreads them over the servers' own addresses.
tput_point() { # tput_point VARIANT MODE SIZE
	local v=$1 mode=$2 size=$3 k tgt rc=0 t0 name pids=()
	t0=$(date +%s)
	for ((k = 1; k <= tput_conns; k++)); do
		tgt=$TARGET
		[ "$TARGET" = servers ] && tgt=${IP_SRV[(k - 1) % nservers + 1]}:$PORT
		name=$out/exp3/$v-$mode-$size-$k
		in_cli $LOADGEN --target "$tgt" --mode "$mode" --size "$size" \
			--duration "$tput_seconds" --timeout-ms 10000 --max-error-frac 0.05 \
			--out "$name.json" >"$name.log" 2>&1 &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || rc=1; done
	log "exp3 $v $mode $size B: exit $rc, $(($(date +%s) - t0)) s, $(python3 -c '
import json, sys
t = r = 0
for f in sys.argv[1:]:
    try:
        j = json.load(open(f)); t += j["goodput"]["mbit_per_s"]; r += j["rate"]["completed_per_s"]
    except Exception as e:
        print("%s: no result (%s);" % (f.rsplit("/", 1)[-1], e), end=" ")
print("%.1f req/s, goodput %.3f Mbit/s" % (r, t))' "$out/exp3/$v-$mode-$size"-*.json)"
	[ $rc = 0 ] || tail -n 3 "$out/exp3/$v-$mode-$size"-*.log | sed 's/^/#   /'
}

# 20 connections, one at a time, before the first point of an alternative:
# a point must not start while the alternative is still coming up (in quick
# runs 1 and 3 the first few connections through IPVS NAT failed with
# EHOSTUNREACH, and with --max-error-frac the clients of that point quit
# after a handful of samples). What the probe saw is logged and kept
# (exp3/VARIANT-probe.log), not hidden; failures in it do not stop the run.
tput_probe() { # tput_probe VARIANT SIZE
	local v=$1 tgt=$TARGET
	[ "$TARGET" = servers ] && tgt=${IP_SRV[1]}:$PORT
	in_cli $LOADGEN --target "$tgt" --mode crr --size "$2" --samples 20 \
		--timeout-ms 3000 --max-error-frac 1 >"$out/exp3/$v-probe.log" 2>&1
	log "exp3 $v: setup probe: $(grep -m1 'samples' "$out/exp3/$v-probe.log" | sed 's/^ *//')"
}

exp3() {
	local v size mode up down
	printf '%s\n' "rate_mbit=$rate_mbit" "servers=$nservers" "conns=$tput_conns" "seconds=$tput_seconds" \
		"sizes=$sizes" "tbf=tbf rate ${rate_mbit}mbit $TPUT_TC" >"$out/exp3/params.txt"
	EXPDIR=exp3
	for v in $tput_variants; do
		SKIP_REASON="setup failed" TARGET=
		up=${v}_up down=${v}_down
		case $v in nolimit | direct) up=servers3_up down=servers3_down ;; esac
		log "exp3 $v: setting up"
		if [ "$v" = nolimit ]; then unshape_links; else shape_links "$rate_mbit"; fi &&
			POLICY=rr $up
		if [ $? != 0 ]; then
			log "exp3 $v: SKIP: $SKIP_REASON"
			echo "$SKIP_REASON" >"$out/exp3/$v.skip"
			$down >/dev/null 2>&1
			continue
		fi
		echo "before: $(crab_client_counters)" >"$out/exp3/$v-client-counters.txt"
		for size in $sizes; do
			servers_start --size "$size"
			[ "$size" = "${sizes%% *}" ] && tput_probe "$v" "$size"
			for mode in crr rr; do
				tput_point "$v" "$mode" "$size"
			done
		done
		echo "after: $(crab_client_counters)" >>"$out/exp3/$v-client-counters.txt"
		tc_stats >"$out/exp3/$v-tc.txt" 2>&1
		$down
	done
	unshape_links
	servers_stop
	EXPDIR=exp1
}


# ---- experiment 2: LB capacity (LB CPU cost per connection) ------------------------
# Two vCPUs: every packet the LB's namespace receives is processed on CPU 1,
# everything else on CPU 0. veths without NAPI (no native XDP) deliver with
# netif_rx, which honours RPS: the LB's eth0 gets rps_cpus 2 (CPU 1), every
# other veth (client, servers, both sides of the bridge) rps_cpus 1, and the
# load generator and the servers are pinned to CPU 0 (this shell is, its
# children inherit it). A forwarding LB (IPVS, nft, crab_lb_nf, skb-mode
# XDP) does all its work in that receive softirq, so CPU 1's busy time is
# the LB's cost; `direct` (no LB) and `idle` (no traffic) are the controls.
# The CPU time comes from /proc/stat (ticks, USER_HZ), the per-CPU NET_RX
# softirq counts from /proc/softirqs, the LB's packets from its eth0.
rps_set() { # rps_set MASK_LB MASK_OTHERS
	local ns dev q m
	for ns in "$NS_SW" "$NS_CLI" "$NS_LB" "${NS_SRV[@]}"; do
		for dev in $(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
			[ "$dev" = lo ] && continue
			m=$2
			[ "$ns" = "$NS_LB" ] && [ "$dev" = eth0 ] && m=$1
			for q in $(ip netns exec "$ns" sh -c "ls -d /sys/class/net/$dev/queues/rx-* 2>/dev/null"); do
				ip netns exec "$ns" sh -c "echo $m >$q/rps_cpus" || return 1
			done
		done
	done
}
rps_show() {
	local ns
	for ns in "$NS_SW" "$NS_CLI" "$NS_LB" "${NS_SRV[@]}"; do
		ip netns exec "$ns" sh -c 'for f in /sys/class/net/*/queues/rx-*/rps_cpus; do echo "'"$ns"' $f $(cat $f)"; done'
	done
}
# One snapshot as key=value: cpu<N>_<field> ticks, net_rx_cpu<N>, lb_rx/tx.
cap_snap() { # cap_snap PREFIX
	awk -v p="$1" '/^cpu[0-9]/ { n = split("user nice system idle iowait irq softirq steal", f, " ");
		for (i = 1; i <= n; i++) printf "%s_%s_%s=%s\n", p, $1, f[i], $(i + 1) }' /proc/stat
	awk -v p="$1" '$1 == "NET_RX:" { for (i = 2; i <= NF; i++) printf "%s_net_rx_cpu%d=%s\n", p, i - 2, $i }' /proc/softirqs
	ip netns exec "$NS_LB" sh -c 'd=/sys/class/net/eth0/statistics; echo "'"$1"'_lb_rx_packets=$(cat $d/rx_packets)"; echo "'"$1"'_lb_tx_packets=$(cat $d/tx_packets)"; echo "'"$1"'_lb_rx_dropped=$(cat $d/rx_dropped)"; echo "'"$1"'_lb_tx_dropped=$(cat $d/tx_dropped)"'
	# Per CPU: packets the backlog took, and dropped for a full backlog (hex).
	local a b n=0
	while read -r a b _; do
		echo "${1}_softnet_cpu${n}_processed=$((16#$a))"
		echo "${1}_softnet_cpu${n}_dropped=$((16#$b))"
		n=$((n + 1))
	done </proc/net/softnet_stat
	echo "${1}_time=$(date +%s.%N)"
}
cap_point() { # cap_point VARIANT: K clients for cap_seconds, snapshots around
	local v=$1 k pids=() rc=0 f=$out/exp2/$1.txt t0
	t0=$(date +%s)
	{
		echo "variant=$v"
		echo "seconds=$cap_seconds clients=$cap_clients requests=$cap_requests size=$cap_size"
		cap_snap before
	} >"$f"
	if [ "$v" = idle ]; then
		sleep "$cap_seconds"
	else
		for ((k = 1; k <= cap_clients; k++)); do
			in_cli $LOADGEN --target "$TARGET" --mode crr --size "$cap_size" \
				--requests "$cap_requests" --duration "$cap_seconds" --timeout-ms 10000 \
				--max-error-frac 0.05 --out "$out/exp2/$v-$k.json" >"$out/exp2/$v-$k.log" 2>&1 &
			pids+=($!)
		done
		for k in "${pids[@]}"; do wait "$k" || rc=1; done
	fi
	cap_snap after >>"$f"
	echo "loadgen_rc=$rc" >>"$f"
	echo "exp2/$v $t0 $(date +%s)" >>"$out/timeline.txt"
	log "exp2 $v: exit $rc, $(python3 - "$f" "$out/exp2/$v" <<-'PY'
	import glob, json, sys
	kv = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l and " " not in l.strip())
	d = lambda k: float(kv["after_" + k]) - float(kv["before_" + k])
	busy = sum(d("cpu1_" + x) for x in ("user", "system", "irq", "softirq", "steal"))
	tot = busy + d("cpu1_nice") + d("cpu1_idle") + d("cpu1_iowait")
	conns = 0
	for p in glob.glob(sys.argv[2] + "-[0-9]*.json"):
	    j = json.load(open(p)); conns += j["samples"] + j["warmup_discarded"]
	print("%d conns, LB rx %d pkts, CPU1 busy %d of %d ticks, NET_RX cpu0 %d cpu1 %d" % (conns,
	      d("lb_rx_packets"), busy, tot, d("net_rx_cpu0"), d("net_rx_cpu1")))
	PY
	)"
	[ $rc = 0 ] || tail -n 3 "$out/exp2/$v"-*.log | sed 's/^/#   /'
}
# Flood points (crab-syngen): marked with TOS 0x20 (DSCP CS1), which the
# servers drop at their ingress (nft, prerouting at raw priority): the
# answers (SYN-ACKs, RSTs) would be CPU 0's work and, for IPVS DR and the
# fwd baseline, the client's RSTs to them would cross the LB again. The LB
# handles the flood exactly as a real client's packets; real connections
# (TOS 0) are untouched.
FLOOD_TOS=32
flood_drop() { # flood_drop add|del
	local i
	for ((i = 1; i <= nservers; i++)); do
		if [ "$1" = add ]; then
			ip netns exec "${NS_SRV[i]}" nft -f - <<-'EOF' || return 1
			table ip crabflood {
				chain pre {
					type filter hook prerouting priority raw; policy accept;
					ip dscp cs1 counter drop
				}
			}
			EOF
		else
			ip netns exec "${NS_SRV[i]}" nft list table ip crabflood >"$out/exp2/flood-drop-srv$i.txt" 2>&1
			ip netns exec "${NS_SRV[i]}" nft delete table ip crabflood 2>/dev/null
		fi
	done
}
TRAIN_K=
flood_point() { # flood_point VARIANT syn|train [K]: crab-syngen for flood_seconds
	local v=$1 mode=$2 k=${3:-0} name f rc=0 t0 args=()
	name=$v-flood-$mode f=$out/exp2/$v-flood-$mode.txt
	args=(--mode "$mode")
	# The same SYN for every LB (with the redirect option a CRAB client
	# announces); the trains are a legacy client's connections (no option).
	[ "$mode" = train ] && args+=(--train-pkts "$k" --no-opt --payload "$cap_size")
	t0=$(date +%s)
	{
		echo "variant=$v"
		echo "flood_mode=$mode"
		echo "flood_seconds=$flood_seconds flood_rate=$flood_rate train_pkts=$k"
		cap_snap before
	} >"$f"
	ip netns exec "$NS_CLI" "$SYNGEN" --src "$IP_CLI" --target "$VIP:$PORT" "${args[@]}" --rate "$flood_rate" \
		--duration "$flood_seconds" --batch "$flood_batch" --tos "$FLOOD_TOS" \
		--out "$out/exp2/$name.json" >"$out/exp2/$name.log" 2>&1 || rc=1
	cap_snap after >>"$f"
	echo "syngen_rc=$rc" >>"$f"
	echo "exp2/$name $t0 $(date +%s)" >>"$out/timeline.txt"
	log "exp2 $name: exit $rc, $(python3 - "$f" "$out/exp2/$name.json" <<-'PY'
	import json, sys
	kv = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l and " " not in l.strip())
	d = lambda k: float(kv["after_" + k]) - float(kv["before_" + k])
	busy = sum(d("cpu1_" + x) for x in ("user", "system", "irq", "softirq", "steal"))
	tot = busy + d("cpu1_nice") + d("cpu1_idle") + d("cpu1_iowait")
	try:
	    j = json.load(open(sys.argv[2])); sent = j["packets_sent"]; conns = j["conns_started"]
	except Exception as e:
	    sent = conns = -1
	print("sent %d pkts (%d conns), LB rx %d tx %d, backlog drops cpu0 %d cpu1 %d, CPU1 busy %d of %d ticks" % (
	      sent, conns, d("lb_rx_packets"), d("lb_tx_packets"), d("softnet_cpu0_dropped"),
	      d("softnet_cpu1_dropped"), busy, tot))
	PY
	)"
	[ $rc = 0 ] || tail -n 3 "$out/exp2/$name.log" | sed 's/^/#   /'
}
# Client packets per connection the LB saw in a real point where it sees
# all of them and nothing else (fwd, IPVS DR): LB rx packets / connections.
real_pkts_per_conn() { # real_pkts_per_conn VARIANT
	python3 - "$out/exp2/$1.txt" "$out/exp2/$1" <<-'PY'
	import glob, json, sys
	kv = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l and " " not in l.strip())
	rx = float(kv["after_lb_rx_packets"]) - float(kv["before_lb_rx_packets"])
	conns = 0
	for p in glob.glob(sys.argv[2] + "-[0-9]*.json"):
	    j = json.load(open(p)); conns += j["samples"] + j["warmup_discarded"]
	print("%.2f" % (rx / conns) if conns else "")
	PY
}
exp2() {
	local v up down ppc
	[ "$(nproc)" -ge 2 ] || {
		log "exp2: SKIP: needs 2 vCPUs (CRAB_VM_CPUS=2), the guest has $(nproc)"
		echo "needs 2 vCPUs, the guest has $(nproc)" >"$out/exp2/all.skip"
		return 0
	}
	printf '%s\n' "seconds=$cap_seconds" "clients=$cap_clients" "requests=$cap_requests" "size=$cap_size" \
		"servers=$nservers" "lb_cpu=1" "others_cpu=0" >"$out/exp2/params.txt"
	rps_set 2 1 || { log "exp2: SKIP: cannot set rps_cpus"; echo "cannot set rps_cpus (CONFIG_RPS?)" >"$out/exp2/all.skip"; rps_set 0 0; return 0; }
	rps_show >"$out/exp2/rps.txt" 2>&1
	taskset -pc 0 $$ >/dev/null
	# CPU 1 never idles: a spinner at the lowest priority (SCHED_IDLE, nice
	# 19) takes whatever the LB leaves. Without it the tick-sampled busy
	# time of an otherwise idle NOHZ CPU is biased by its wakeups (the first
	# run of this version: 71 softirq ticks in the idle point, 239 for 2,737
	# packets of real connections, 108 for 120,000 flood packets). With it
	# the tick runs all the time and samples fairly; the spinner's ticks are
	# "nice" and count as the LB's free time, not as busy.
	SPIN_PID=
	if [ "$cap_spinner" = 1 ]; then
		taskset -c 1 nice -n 19 chrt -i 0 bash -c 'while :; do :; done' &
		SPIN_PID=$!
		echo "spinner=1" >>"$out/exp2/params.txt"
	fi
	EXPDIR=exp2
	servers_start --size "$cap_size"
	if [ "$flood_seconds" != 0 ]; then
		if [ -z "$SYNGEN" ]; then
			log "exp2: no crab-syngen: flood points skipped"
			echo "crab-syngen not built" >"$out/exp2/flood.skip"
			flood_seconds=0
		elif ! flood_drop add; then
			log "exp2: cannot add the servers' flood drop rule: flood points skipped"
			echo "nft drop rule on the servers failed" >"$out/exp2/flood.skip"
			flood_seconds=0
		fi
	fi
	for v in $cap_variants; do
		SKIP_REASON="setup failed" TARGET=
		up=${v}_up down=${v}_down
		[ "$v" = idle ] && up=direct_up down=direct_down
		log "exp2 $v: setting up"
		if ! POLICY=rr XDP_MODE=generic $up; then
			log "exp2 $v: SKIP: $SKIP_REASON"
			echo "$SKIP_REASON" >"$out/exp2/$v.skip"
			$down >/dev/null 2>&1
			continue
		fi
		# Warm the neighbour caches and the LB's state, then measure.
		[ "$v" = idle ] || in_cli $LOADGEN --target "$TARGET" --mode crr --size "$cap_size" \
			--requests "$cap_requests" --samples 20 --timeout-ms 10000 --max-error-frac 1 >/dev/null 2>&1
		echo "before: $(crab_client_counters)" >"$out/exp2/$v-client-counters.txt"
		cap_point "$v"
		echo "after: $(crab_client_counters)" >>"$out/exp2/$v-client-counters.txt"
		if [ "$flood_seconds" != 0 ] && [ "$v" != idle ] && [ "$v" != direct ]; then
			case $v in fwd | ipvs-dr)
				ppc=$(real_pkts_per_conn "$v")
				echo "$v real_pkts_per_conn=$ppc" >>"$out/exp2/train-k.txt"
				# K = the client packets after the SYN, from the first such point.
				[ -z "$TRAIN_K" ] && [ -n "$ppc" ] && TRAIN_K=$(python3 -c "print(max(1, round($ppc) - 1))")
				;;
			esac
			flood_point "$v" syn
			case " $train_variants " in *" $v "*)
				echo "$v train_k_used=${TRAIN_K:-8}" >>"$out/exp2/train-k.txt"
				flood_point "$v" train "${TRAIN_K:-8}" ;;
			esac
		fi
		case $v in
		crab-nf) ip netns exec "$NS_LB" "$CRABCTL" -j lb nf stats >"$out/exp2/crab-nf-lbstats.json" 2>&1 ;;
		crab-xdp) nsenter --net="/run/netns/$NS_LB" "$CRABCTL" -j lb xdp stats --dev eth0 >"$out/exp2/crab-xdp-lbstats.json" 2>&1
			ip -n "$NS_LB" -d link show eth0 >"$out/exp2/crab-xdp-link.txt" 2>&1 ;;
		esac
		XDP_MODE=generic $down
	done
	servers_stop
	[ -n "$SPIN_PID" ] && kill "$SPIN_PID" 2>/dev/null
	[ "$flood_seconds" != 0 ] && flood_drop del
	EXPDIR=exp1
	taskset -pc "0-$(($(nproc) - 1))" $$ >/dev/null
	rps_set 0 0
}

for e in $exps; do
	case $e in
	1) exp1 ;;
	2) exp2 ;;
	3) exp3 ;;
	4) exp4 ;;
	*) log "experiment $e is not implemented by this runner" ;;
	esac
done
echo "end=$(date -u +%FT%TZ)" >>"$out/guest-env.txt"
log "done"
