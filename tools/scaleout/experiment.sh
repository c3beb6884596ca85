#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# One scale-out run (make scaleout-experiment runs it through run.sh): three
# LBs behind the ECMP router of selftests/scaleout/so_lib.sh (FRR, BGP + BFD),
# three backends, for each alternative in turn:
#   a steady stream of new connections (open loop, --rate per second) and
#   --held long-lived connections exchanging data every 100 ms
#   (tools/scaleout/traffic.py); at --kill-at s LB 2 dies (its link cut,
#   its FRR and crabctl killed), at --back-at s it comes back.
# Recorded per alternative in OUT/ALT/: every connection (conns.csv), every
# held-connection failure (held.csv, held.json), the router's route changes
# (route.txt, `ip -ts monitor route`), the LBs' SYN counters every
# --sample s (syns.csv), the kill/return times (events.txt), FRR's logs.
#
#   experiment.sh --out DIR --alts "xdp" | "nf ipvs" [--rate R] [--duration S]
#                 [--kill-at S] [--back-at S] [--held H] [--held-interval S]
#                 [--sample S] [--bfd-ms MS] [--converge-s S]
# Alternatives:
#   xdp   CRAB XDP LBs + eBPF endpoints, `crabctl bgp` announcing (host kernel)
#   xdp-noflood  the same, the switch not flooding unknown unicast to the LBs'
#         ports: a frame the router still sends to a dead LB's MAC is then
#         lost instead of reaching the other LBs (whose XDP programs take
#         frames whatever their destination MAC)
#   nf    CRAB nf LB module + endpoint modules, `crabctl bgp` (needs modules)
#   ipvs  IPVS NAT LBs (SNAT to the LB so replies return through it), the VIP
#         announced by the same FRR configuration through vtysh (needs modules)
top=$(cd "$(dirname "$0")/../.." && pwd)
source "$top/selftests/lib.sh"
source "$top/selftests/endpoints_ebpf/ep_lib.sh"
source "$top/selftests/scaleout/so_lib.sh"

OUT= ALTS=xdp RATE=50 DURATION=40 KILL_AT=12 BACK_AT=26 HELD=30 HELD_INTERVAL=0.1 SAMPLE=0.5 CONVERGE_S=30
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--out) OUT=$2; shift 2 ;;
	--alts) ALTS=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--kill-at) KILL_AT=$2; shift 2 ;;
	--back-at) BACK_AT=$2; shift 2 ;;
	--held) HELD=$2; shift 2 ;;
	--held-interval) HELD_INTERVAL=$2; shift 2 ;;
	--bfd-ms) SO_BFD_MS=$2; shift 2 ;;
	--converge-s) CONVERGE_S=$2; shift 2 ;;
	--sample) SAMPLE=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$OUT" ] || { echo "error: --out DIR is required" >&2; exit 2; }
# FRR's daemons start slowly in an emulated guest: wait as long as for convergence.
export SO_FRR_WAIT=$((CONVERGE_S * 10))
for a in $ALTS; do
	case $a in xdp | xdp-noflood | nf | ipvs) ;; *) echo "error: --alts: unknown alternative '$a'" >&2; exit 2 ;; esac
done
ep_unshare "${args[@]}"
crab_check_tool python3 ethtool vtysh
[ -x "$CRABCTL" ] || crab_fail "crabctl not built ($CRABCTL)"
mkdir -p "$OUT"

log() { echo "# $(date -u +%H:%M:%S) $*"; }

# LB I as CRAB's nf LB (crab_lb_nf, per network namespace).
so_lb_nf() {
	local i=$1 s
	so_lb_conf "$i" | sed 's/^type = "xdp"/type = "nf"/; /^dev = /d' >"$SO_DIR/lb$i.toml"
	ip netns exec "${NS_LBS[i]}" "$CRABCTL" apply -f "$SO_DIR/lb$i.toml" >/dev/null || return 1
	for ((s = 1; s <= CRAB_NSERVERS; s++)); do
		ip netns exec "${NS_LBS[i]}" ping -c1 -W5 "${IP_SRV[s]}" >/dev/null || return 1
	done
}

# LB I as IPVS NAT: the VIP local on lo (IPVS takes packets at LOCAL_IN),
# the servers' replies return through this LB because it also rewrites
# the source to its own address (conntrack + masquerade).
so_lb_ipvs() {
	local i=$1 s ns=${NS_LBS[i]}
	ip -n "$ns" addr add "$VIP/32" dev lo
	# The servers' answers go back to the client through this LB.
	ip -n "$ns" route add default via "$IP_RT" || return 1
	ip netns exec "$ns" sysctl -qw net.ipv4.vs.conntrack=1 || return 1
	ip netns exec "$ns" ipvsadm -A -t "$VIP:$SO_PORT" -s rr || return 1
	for ((s = 1; s <= CRAB_NSERVERS; s++)); do
		ip netns exec "$ns" ipvsadm -a -t "$VIP:$SO_PORT" -r "${IP_SRV[s]}:$SO_PORT" -m || return 1
	done
	ip netns exec "$ns" nft -f - <<-EOF || return 1
	table ip crab_so_snat {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			ip daddr $CRAB_SUBNET.0/24 tcp dport $SO_PORT masquerade
		}
	}
	EOF
}

# The VIP announced by LB I's FRR as `crabctl bgp` would (for IPVS).
so_ipvs_announce() {
	local i=$1
	so_vtysh "${SO_LBDIR[i]}" -c 'configure terminal' -c 'bfd' -c 'profile crab' \
		-c "transmit-interval $SO_BFD_MS" -c "receive-interval $SO_BFD_MS" \
		-c "detect-multiplier $SO_BFD_MULT" -c exit -c exit -c "router bgp $SO_LB_ASN" \
		-c "bgp router-id ${IP_LBS[i]}" -c 'no bgp ebgp-requires-policy' \
		-c 'no bgp network import-check' -c "neighbor $IP_RT remote-as $SO_RT_ASN" \
		-c "neighbor $IP_RT timers connect 1" -c "neighbor $IP_RT advertisement-interval 0" \
		-c "neighbor $IP_RT bfd profile crab" -c 'address-family ipv4 unicast' \
		-c "network $VIP/32" -c end >/dev/null
}

# Connections each LB handled so far, "a b c": SYNs it redirected (CRAB),
# connections it scheduled (IPVS).
lb_counts() {
	local i out=
	for ((i = 1; i <= SO_NLB; i++)); do
		case $ALT in
		xdp*) out+="$(so_lb_syns "$i" 2>/dev/null || echo -1) " ;;
		nf)
			# (no interpreter per sample: each costs seconds in a TCG guest)
			local n
			n=$(ip netns exec "${NS_LBS[i]}" "$CRABCTL" -j lb nf stats 2>/dev/null |
				grep -o '"syn_redirected":[0-9]*' | head -n1 | cut -d: -f2)
			out+="${n:--1} " ;;
		ipvs)
			out+="$(ip netns exec "${NS_LBS[i]}" ipvsadm -L -n -t "$VIP:$SO_PORT" --stats 2>/dev/null |
				awk '$1 == "TCP" { print $3 }' || echo -1) " ;;
		esac
	done
	echo "${out% }"
}

sampler() {
	local d=$1
	echo "t_wall lb1 lb2 lb3" >"$d/syns.csv"
	while [ ! -e "$d/.stop" ]; do
		echo "$(date +%s.%N) $(lb_counts)" >>"$d/syns.csv"
		sleep "$SAMPLE"
	done
}

# What the router and the LBs' FRR say, for a run that did not converge.
so_diag() {
	local i
	so_vtysh "$SO_RTDIR" -c 'show bgp summary' -c 'show bfd peers brief'
	ip -n "$NS_RT" route show
	for i in 1 2 3; do
		echo "--- LB $i"
		so_vtysh "${SO_LBDIR[i]}" -c 'show running-config' -c 'show bgp summary'
		cat "$SO_DIR/bgp$i.log" "${SO_LBDIR[i]}/start.log" 2>/dev/null
	done
	cat "$SO_RTDIR"/*.log
}

lb2_kill() {
	local peer
	peer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' '/lbp2-/ { sub(/@.*/, "", $2); print $2; exit }')
	echo "kill $(date +%s.%N)" >>"$D/events.txt"
	ip -n "$NS_SW" link set "$peer" down
	[ -n "${SO_BGP_PID[2]:-}" ] && kill -9 "${SO_BGP_PID[2]}" 2>/dev/null
	so_frr_kill "${SO_LBDIR[2]}"
	echo "killed $(date +%s.%N)" >>"$D/events.txt"
}

lb2_back() {
	local peer
	peer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' '/lbp2-/ { sub(/@.*/, "", $2); print $2; exit }')
	echo "back $(date +%s.%N)" >>"$D/events.txt"
	ip -n "$NS_SW" link set "$peer" up
	cp "${SO_LBDIR[2]}/bgpd.log" "$D/frr-lb2-before-kill-bgpd.log" 2>/dev/null
	so_frr_start "${NS_LBS[2]}" "${SO_LBDIR[2]}" || log "LB 2: FRR did not restart"
	if [ "$ALT" = ipvs ]; then
		so_ipvs_announce 2
	else
		so_bgp_start 2
	fi
	echo "restarted $(date +%s.%N)" >>"$D/events.txt"
}

# Client side: the eBPF client's cgroup for xdp, the module (or nothing) else.
client_run() {
	if [ "${ALT%-noflood}" = xdp ]; then
		ep_in_cg "$CG_CLI" "$NS_CLI" "$@"
	else
		ip netns exec "$NS_CLI" "$@"
	fi
}

run_alt() {
	ALT=$1
	D=$OUT/$ALT
	rm -rf "$D"
	mkdir -p "$D"
	log "$ALT: setup"
	so_topo_setup 3 3
	case $ALT in
	xdp | xdp-noflood)
		so_endpoints
		for i in 1 2 3; do so_lb_xdp $i || crab_fail "XDP LB $i"; done
		if [ "$ALT" = xdp-noflood ]; then
			for i in 1 2 3; do
				port=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' -v p="lbp$i-" 'index($2, p) == 1 { sub(/@.*/, "", $2); print $2; exit }')
				bridge -n "$NS_SW" link set dev "$port" flood off || crab_fail "flood off on $port"
			done
		fi
		;;
	nf)
		crab_load_module crab_client
		crab_load_module crab_server
		crab_load_module crab_lb_nf
		ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=1 \
			"net.crab.client_announce_cidrs=$VIP/32" "net.crab.client_allow_cidrs=$CRAB_SUBNET.0/24" ||
			crab_fail "client module settings"
		for i in 1 2 3; do
			ip netns exec "${NS_SRV[i]}" sysctl -qw net.crab.server_enabled=1
			crab_echo_server "${NS_SRV[i]}" "$SO_PORT"
		done
		for i in 1 2 3; do so_lb_nf $i || crab_fail "nf LB $i"; done
		;;
	ipvs)
		modprobe ip_vs && modprobe ip_vs_rr || crab_fail "IPVS modules"
		[ -e /proc/net/crab_client ] && ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=0
		for i in 1 2 3; do crab_echo_server "${NS_SRV[i]}" "$SO_PORT"; done
		for i in 1 2 3; do so_lb_ipvs $i || crab_fail "IPVS LB $i"; done
		;;
	esac
	for ns in "$NS_CLI" "${NS_SRV[@]:1}"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="10000 60999"
	done
	for i in 1 2 3; do
		if [ "$ALT" = ipvs ]; then so_ipvs_announce $i; else so_bgp_start $i; fi
	done
	if ! so_wait_nexthops "${IP_LBS[1]} ${IP_LBS[2]} ${IP_LBS[3]}" $((CONVERGE_S * 10)) ||
		! so_wait_bfd 3 $((CONVERGE_S * 10)); then
		so_diag >"$D/diag.txt" 2>&1
		crab_fail "$ALT: router: VIP over '$(so_rt_nexthops)', BFD up with $(so_bfd_up) of 3 (diag.txt)"
	fi
	log "$ALT: router has $(so_rt_nexthops), BFD up"
	{
		echo "alt $ALT"
		echo "rate $RATE"
		echo "duration $DURATION"
		echo "kill_at $KILL_AT"
		echo "back_at $BACK_AT"
		echo "held $HELD"
		echo "held_interval $HELD_INTERVAL"
		echo "bfd_ms $SO_BFD_MS"
		echo "bfd_mult $SO_BFD_MULT"
	} >"$D/params.txt"
	ip -n "$NS_RT" route show >"$D/router-routes-before.txt"
	so_vtysh "$SO_RTDIR" -c 'show running-config' >"$D/router-frr.conf" 2>&1

	ip -n "$NS_RT" -ts -o monitor route 2>/dev/null >"$D/route.txt" &
	local mpid=$!
	rm -f "$D/.stop"
	sampler "$D" &
	local spid=$!
	client_run python3 "$top/tools/scaleout/traffic.py" --addr "$VIP" --port "$SO_PORT" \
		--rate "$RATE" --duration "$DURATION" --held "$HELD" --held-interval "$HELD_INTERVAL" \
		--out "$D" --ready "$D/.ready" \
		>"$D/traffic.log" 2>&1 &
	local tpid=$!
	local i
	for i in $(seq 600); do
		[ -e "$D/.ready" ] && break
		kill -0 $tpid 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$D/.ready" ] || crab_fail "$ALT: traffic did not start: $(cat "$D/traffic.log")"
	if [ -n "${SO_CAPTURE:-}" ]; then
		ip netns exec "$NS_CLI" tcpdump -i eth0 -nn -U -w "$D/client.pcap" "tcp or icmp" 2>/dev/null &
		crab_defer "kill $!"
		# (on the switch's ports: XDP takes the LB's frames before a tap there)
		for i in 1 2 3; do
			local port
			port=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' -v p="lbp$i-" 'index($2, p) == 1 { sub(/@.*/, "", $2); print $2; exit }')
			ip netns exec "$NS_SW" tcpdump -i "$port" -e -nn -U -w "$D/lb$i.pcap" "tcp[tcpflags] & tcp-syn != 0" 2>/dev/null &
			crab_defer "kill $!"
		done
		sleep 1
	fi
	local t0
	t0=$(date +%s.%N)
	echo "start $t0" >"$D/events.txt"
	log "$ALT: traffic started"
	sleep "$(python3 -c "import time; print(max(0, $t0 + $KILL_AT - time.time()))")"
	lb2_kill
	log "$ALT: LB 2 killed"
	sleep "$(python3 -c "import time; print(max(0, $t0 + $BACK_AT - time.time()))")"
	lb2_back
	log "$ALT: LB 2 back"
	wait $tpid
	echo "end $(date +%s.%N)" >>"$D/events.txt"
	touch "$D/.stop"
	wait $spid
	sleep 0.2
	kill $mpid 2>/dev/null
	wait $mpid 2>/dev/null
	rm -f "$D/.ready" "$D/.stop"
	for i in 1 2 3; do
		cp "${SO_LBDIR[i]}/bgpd.log" "$D/frr-lb$i-bgpd.log" 2>/dev/null
		[ -e "$SO_DIR/bgp$i.log" ] && cp "$SO_DIR/bgp$i.log" "$D/crabctl-bgp-lb$i.log"
		[ "$ALT" = ipvs ] && ip netns exec "${NS_LBS[i]}" ipvsadm -L -n --stats >"$D/ipvs-lb$i.txt" 2>&1
	done
	cp "$SO_RTDIR/bgpd.log" "$D/frr-router-bgpd.log"
	cp "$SO_RTDIR/bfdd.log" "$D/frr-router-bfdd.log"
	log "$ALT: done ($(tail -n +2 "$D/conns.csv" | wc -l) connections; held failures $(python3 -c "import json; print(json.load(open('$D/held.json'))['failed'])"))"
	crab_cleanup
	[ "$ALT" = ipvs ] && { modprobe -r ip_vs_rr ip_vs 2>/dev/null || true; }
}

for a in $ALTS; do
	run_alt "$a"
done
exit 0
