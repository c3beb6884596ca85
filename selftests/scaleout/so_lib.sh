#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Scale-out topology of the scaleout selftests and of `make
# scaleout-experiment` (sourced after ../lib.sh and ../endpoints_ebpf/ep_lib.sh):
# N CRAB XDP LBs side by side behind a router that spreads the VIP over
# them by equal-cost multipath; each LB announces the VIP by BGP (FRR's
# bgpd, driven by `crabctl bgp`), the router detects a dead LB by BFD.
#
#   NS_CLI 198.18.1.2 --- cli0 198.18.1.1  NS_RT (FRR: zebra, bgpd, bfdd;
#                                          AS 65000, ECMP, L4 multipath hash)
#                          rt0 198.18.0.254 ---+
#   NS_LBS[i] lb<i> 198.18.0.<i> (AS 65100) ----+--- br0 (NS_SW)
#   NS_SRV[i] eth0 198.18.0.(10+i) -------------+
#
# Every LB runs its own FRR (zebra, bgpd, bfdd) in its namespace with its
# own directory (config files, pid files, vty and zebra sockets, bfdd's
# control socket, logs): nothing reads or writes /etc/frr or the host's
# /var/run/frr, and no system FRR service is involved. The LB's device is
# named lb<i> (not eth0) because the XDP LBs pin their maps per device name
# in the one bpffs the test mounts.
#
# The client and the servers run the eBPF endpoints (../endpoints_ebpf);
# servers answer from their own address, so a connection's packets after the
# SYN go client <-> router <-> server and never touch an LB.

SO_PORT=8080
SO_RT_ASN=65000
SO_LB_ASN=65100
IP_RT_CLI=198.18.1.1
IP_CLI=198.18.1.2
IP_RT=198.18.0.254
SO_FRR=/usr/lib/frr
# BFD: 100 ms x 3 (a dead LB is noticed within 300 ms).
SO_BFD_MS=${SO_BFD_MS:-100}
SO_BFD_MULT=${SO_BFD_MULT:-3}
declare -a NS_LBS IP_LBS SO_LBDIR SO_BGP_PID

# so_frr_start NS DIR: start zebra, bfdd and bgpd in namespace NS with every
# path under DIR (DIR/<daemon>.conf must exist; DIR is made the frr user's,
# as the daemons drop to it); waits until each answers on its vty socket.
so_frr_start() {
	local ns=$1 d=$2 dm i
	touch "$d/vtysh.conf"
	chown -R frr:frr "$d"
	for dm in zebra bfdd bgpd; do
		local extra=()
		[ $dm = bfdd ] && extra=(--bfdctl "$d/bfdd.sock")
		ip netns exec "$ns" "$SO_FRR/$dm" -d -f "$d/$dm.conf" -i "$d/$dm.pid" \
			--vty_socket "$d" -z "$d/zserv.api" -P 0 --log "file:$d/$dm.log" --log-level info \
			"${extra[@]}" >>"$d/start.log" 2>&1 ||
			{ cat "$d/start.log" "$d/$dm.log" 2>/dev/null; return 1; }
	done
	for i in $(seq "${SO_FRR_WAIT:-100}"); do
		if so_vtysh "$d" -c 'show daemons' 2>/dev/null | grep -q 'zebra.*bfdd.*bgpd\|zebra.*bgpd.*bfdd'; then
			# bfdd at real-time priority, as routers run BFD: on a
			# loaded host a normal task can wait longer than the 300 ms
			# detection time, and the router then drops a healthy LB
			# (seen: both other LBs dropped while a third restarted its
			# FRR). Raised only once it runs: its start-up is CPU work
			# that must not starve the rest (RT throttling in a guest).
			chrt -a -f -p 50 "$(cat "$d/bfdd.pid")" >/dev/null ||
				echo "cannot raise bfdd's priority in $ns"
			return 0
		fi
		sleep 0.1
	done
	echo "FRR in $ns did not come up: $(so_vtysh "$d" -c 'show daemons' 2>&1)"
	return 1
}

# so_frr_stop DIR: stop the daemons of DIR (bounded wait).
so_frr_stop() {
	local d=$1 f pid i
	for f in "$d"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null
		for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
		rm -f "$f"
	done
}

# so_frr_kill DIR: the daemons of DIR die at once (SIGKILL: a crash).
so_frr_kill() {
	local f
	for f in "$1"/*.pid; do
		[ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
}

so_vtysh() {
	local d=$1; shift
	vtysh --vty_socket "$d" --config_dir "$d" "$@"
}

# The router's FRR configuration: eBGP with every LB (BFD, fast timers),
# ECMP over up to 16 paths, no policy needed for eBGP.
so_router_conf() {
	local n=$1 d=$2 i
	cat >"$d/zebra.conf" <<-EOF2
	hostname router
	EOF2
	cat >"$d/bfdd.conf" <<-EOF2
	bfd
	 profile crab-lbs
	  transmit-interval $SO_BFD_MS
	  receive-interval $SO_BFD_MS
	  detect-multiplier $SO_BFD_MULT
	 exit
	exit
	EOF2
	{
		echo "router bgp $SO_RT_ASN"
		echo " bgp router-id $IP_RT"
		echo " bgp log-neighbor-changes"
		echo " no bgp ebgp-requires-policy"
		echo " timers bgp 1 3"
		for ((i = 1; i <= n; i++)); do
			echo " neighbor ${IP_LBS[i]} remote-as $SO_LB_ASN"
			echo " neighbor ${IP_LBS[i]} bfd profile crab-lbs"
			echo " neighbor ${IP_LBS[i]} timers connect 1"
			echo " neighbor ${IP_LBS[i]} advertisement-interval 0"
		done
		echo " address-family ipv4 unicast"
		echo "  maximum-paths 16"
		echo " exit-address-family"
		echo "exit"
	} >"$d/bgpd.conf"
}

# so_topo_setup NLB NSRV: the namespaces, links and the router's FRR.
so_topo_setup() {
	local nlb=$1 nsrv=$2 i ns peer
	crab_require_root
	crab_check_tool ip vtysh nsenter
	[ -x "$SO_FRR/bgpd" ] && [ -x "$SO_FRR/bfdd" ] && [ -x "$SO_FRR/zebra" ] ||
		crab_missing "FRR daemons not installed in $SO_FRR (scripts/install-deps.sh installs frr)"
	id frr >/dev/null 2>&1 || crab_missing "no frr user (scripts/install-deps.sh installs frr)"
	SO_DIR=$(mktemp -d /tmp/crab-so.XXXXXX)
	chmod 755 "$SO_DIR"	# the FRR daemons run as the frr user
	crab_defer "rm -rf $SO_DIR"
	NS_SW=crab-sw-$CRAB_SFX
	NS_CLI=crab-cli-$CRAB_SFX
	NS_RT=crab-rt-$CRAB_SFX
	crab_ns_add "$NS_SW"
	ip -n "$NS_SW" link add br0 type bridge
	ip -n "$NS_SW" link set br0 type bridge forward_delay 0 2>/dev/null
	ip -n "$NS_SW" link set br0 up

	crab_ns_add "$NS_RT"
	ip netns exec "$NS_RT" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv4.conf.all.send_redirects=0
	ip link add rt0 netns "$NS_RT" type veth peer name rtp-$RANDOM netns "$NS_SW" ||
		crab_fail "cannot create the router's veth"
	peer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' '/rtp-/ { sub(/@.*/, "", $2); print $2; exit }')
	ip -n "$NS_SW" link set "$peer" master br0 up
	ip -n "$NS_RT" addr add "$IP_RT/24" dev rt0
	ip -n "$NS_RT" link set rt0 up
	ip netns exec "$NS_RT" sysctl -qw net.ipv4.conf.rt0.rp_filter=0

	crab_ns_add "$NS_CLI"
	ip link add eth0 netns "$NS_CLI" type veth peer name cli0 netns "$NS_RT" ||
		crab_fail "cannot create the client's veth"
	ip -n "$NS_CLI" addr add "$IP_CLI/24" dev eth0
	ip -n "$NS_CLI" link set eth0 up
	ip -n "$NS_RT" addr add "$IP_RT_CLI/24" dev cli0
	ip -n "$NS_RT" link set cli0 up
	ip -n "$NS_CLI" route add default via "$IP_RT_CLI"

	NS_LBS=() IP_LBS=()
	for ((i = 1; i <= nlb; i++)); do
		NS_LBS[i]=crab-lb$i-$CRAB_SFX
		IP_LBS[i]=198.18.0.$i
		crab_ns_add "${NS_LBS[i]}"
		ip link add "lb$i" netns "${NS_LBS[i]}" type veth peer name "lbp$i-$RANDOM" netns "$NS_SW" ||
			crab_fail "cannot create the veth of LB $i"
		peer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' -v p="lbp$i-" 'index($2, p) == 1 { sub(/@.*/, "", $2); print $2; exit }')
		ip -n "$NS_SW" link set "$peer" master br0 up
		ip -n "${NS_LBS[i]}" addr add "${IP_LBS[i]}/24" dev "lb$i"
		ip -n "${NS_LBS[i]}" link set "lb$i" up
		ip netns exec "${NS_LBS[i]}" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv4.conf.all.send_redirects=0 "net.ipv4.conf.lb$i.rp_filter=0"
		SO_LBDIR[i]=$SO_DIR/lb$i
		mkdir -p "${SO_LBDIR[i]}"
	done
	NS_SRV=() IP_SRV=()
	for ((i = 1; i <= nsrv; i++)); do
		NS_SRV[i]=crab-srv$i-$CRAB_SFX
		IP_SRV[i]=$CRAB_SUBNET.$((10 + i))
		crab_ns_add "${NS_SRV[i]}"
		crab_ns_attach "${NS_SRV[i]}" "${IP_SRV[i]}"
		ip -n "${NS_SRV[i]}" route add default via "$IP_RT"
	done
	CRAB_NSERVERS=$nsrv
	SO_NLB=$nlb

	SO_RTDIR=$SO_DIR/router
	mkdir -p "$SO_RTDIR"
	so_router_conf "$nlb" "$SO_RTDIR"
	so_frr_start "$NS_RT" "$SO_RTDIR" || crab_fail "cannot start FRR in the router namespace"
	crab_defer "so_frr_stop $SO_RTDIR"
	for ((i = 1; i <= nlb; i++)); do
		: >"${SO_LBDIR[i]}/zebra.conf"
		: >"${SO_LBDIR[i]}/bfdd.conf"
		: >"${SO_LBDIR[i]}/bgpd.conf"
		so_frr_start "${NS_LBS[i]}" "${SO_LBDIR[i]}" || crab_fail "cannot start FRR in LB $i"
		crab_defer "so_frr_stop ${SO_LBDIR[i]}"
	done
	for i in $(seq 50); do
		ip netns exec "$NS_CLI" ping -c1 -W1 "${IP_SRV[1]}" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	crab_fail "the client cannot reach ${IP_SRV[1]} through the router"
}

# so_lb_xdp I: the XDP LB on lb<I> with service $VIP:$SO_PORT (rr) over
# every server, natively, with its veth peer given a NAPI (XDP_TX).
so_lb_xdp() {
	local i=$1 s idx peer
	local ns=${NS_LBS[i]}
	nsenter --net="/run/netns/$ns" "$CRABCTL" lb xdp attach "lb$i" --mode native 2>/dev/null ||
		return 1
	crab_defer "nsenter --net=/run/netns/$ns $CRABCTL lb xdp detach lb$i"
	idx=$(ip -n "$ns" -o link show "lb$i" 2>/dev/null | sed -n "s/.*lb$i@if\([0-9]*\):.*/\1/p")
	peer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }')
	nsenter --net="/run/netns/$NS_SW" "$CRABCTL" lb xdp attach "$peer" --mode native 2>/dev/null ||
		return 1
	crab_defer "nsenter --net=/run/netns/$NS_SW $CRABCTL lb xdp detach $peer"
	so_lb_conf "$i" >"$SO_DIR/lb$i.toml"
	nsenter --net="/run/netns/$ns" "$CRABCTL" apply -f "$SO_DIR/lb$i.toml" >/dev/null || return 1
	for ((s = 1; s <= CRAB_NSERVERS; s++)); do
		ip netns exec "$ns" ping -c1 -W5 "${IP_SRV[s]}" >/dev/null || return 1
	done
}

# so_lb_conf I [EXTRA-BGP-LINES]: LB I's `crabctl apply -f` file: the
# service, and the [bgp] table that `crabctl bgp` reads.
so_lb_conf() {
	local i=$1 s
	cat <<-EOF2
	[lb]
	type = "xdp"
	dev = "lb$i"

	[bgp]
	asn = $SO_LB_ASN
	router_id = "${IP_LBS[i]}"
	frr_dir = "${SO_LBDIR[i]}"
	interval_ms = ${SO_BGP_INTERVAL_MS:-100}
	$2

	  [[bgp.peer]]
	  addr = "$IP_RT"
	  asn = $SO_RT_ASN
	  bfd_interval_ms = $SO_BFD_MS
	  bfd_multiplier = $SO_BFD_MULT

	[[service]]
	vip = "$VIP"
	port = $SO_PORT
	policy = "rr"
	legacy = "drop"
	EOF2
	for ((s = 1; s <= CRAB_NSERVERS; s++)); do
		printf '\n  [[service.backend]]\n  addr = "%s"\n' "${IP_SRV[s]}"
	done
}

# so_bgp_start I: `crabctl bgp run` for LB I in the background (log in
# $SO_DIR/bgp<I>.log); SO_BGP_PID[I].
so_bgp_start() {
	local i=$1
	nsenter --net="/run/netns/${NS_LBS[i]}" "$CRABCTL" bgp run -f "$SO_DIR/lb$i.toml" \
		>>"$SO_DIR/bgp$i.log" 2>&1 &
	SO_BGP_PID[i]=$!
	crab_defer "kill ${SO_BGP_PID[i]}"
}

# Next hops of the VIP's route in the router's kernel table, sorted: "198.18.0.1 198.18.0.2".
so_rt_nexthops() {
	ip -n "$NS_RT" -4 route show "$VIP/32" | grep -o 'via [0-9.]*' | awk '{ print $2 }' | sort | tr '\n' ' ' |
		sed 's/ $//'
}

# so_wait_nexthops "EXPECTED" [TENTHS]: until the router's VIP route has
# exactly these next hops (bounded: TENTHS x 0.1 s, default 150).
so_wait_nexthops() {
	local want=$1 n=${2:-150} i
	for ((i = 0; i < n; i++)); do
		[ "$(so_rt_nexthops)" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# BFD sessions the router has up.
so_bfd_up() {
	so_vtysh "$SO_RTDIR" -c 'show bfd peers json' 2>/dev/null | python3 -c '
import json, sys
try:
    print(sum(1 for p in json.load(sys.stdin) if p.get("status") == "up"))
except ValueError:
    print(0)'
}

# so_wait_bfd N [TENTHS]: until the router has N BFD sessions up (bounded,
# default 15 s). A BGP session comes up before its BFD session; until then
# a dead LB is found only by the BGP hold timer (3 s).
so_wait_bfd() {
	local i
	for i in $(seq "${2:-150}"); do
		[ "$(so_bfd_up)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# SYNs LB I redirected (its service counter).
so_lb_syns() {
	nsenter --net="/run/netns/${NS_LBS[$1]}" "$CRABCTL" -j lb xdp stats --dev "lb$1" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([s for s in j["services"] if s["service"] == sys.argv[1]][0]["counters"]["syn_redirected"])' "$VIP:$SO_PORT"
}

so_all_syns() {
	local i out=
	for ((i = 1; i <= SO_NLB; i++)); do out+="$(so_lb_syns "$i") "; done
	echo "${out% }"
}

# The eBPF endpoints: client in $CG_CLI (announces to the VIP, accepts
# redirects from the servers' subnet), servers in $CG_SRV, echo servers.
so_endpoints() {
	local cgroot i
	cgroot=$(ep_cgroup2)
	CG_BASE=$cgroot/crab-so-$CRAB_SFX
	mkdir -p "$CG_BASE/cli" "$CG_BASE/srv" || crab_skip "cannot create cgroups under $cgroot"
	crab_defer "ep_cg_remove $CG_BASE"
	CG_CLI=$CG_BASE/cli
	CG_SRV=$CG_BASE/srv
	"$CRABCTL" ebpf server attach --cgroup "$CG_SRV" --echo on || crab_fail "crabctl ebpf server attach"
	crab_defer "$CRABCTL ebpf server detach --cgroup $CG_SRV"
	ep_crabctl "$NS_CLI" ebpf client attach --cgroup "$CG_CLI" --dev eth0 \
		--announce "$VIP/32" --allow "$CRAB_SUBNET.0/24" || crab_fail "crabctl ebpf client attach"
	crab_defer "ep_crabctl $NS_CLI ebpf client detach --cgroup $CG_CLI --dev eth0"
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		ep_echo_server "${NS_SRV[i]}" "$SO_PORT"
	done
	# XDP sees the raw bytes of the client's frames (checksum offload off:
	# ../lb_xdp/README.md); the router forwards them unchanged.
	ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null
}

# crab-nettest client in the client's cgroup and namespace.
so_client() {
	ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$SO_PORT" "$@"
}
