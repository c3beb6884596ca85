# SPDX-License-Identifier: GPL-2.0-only
# SYN flood at the VIP (overload), shared by test_synflood_xdp.sh
# and test_synflood_dpdk.sh (sourced after ../lib.sh and
# ../endpoints_ebpf/ep_lib.sh; EP_LB chooses the LB). Runs on the host
# kernel: eBPF client and servers, no module.
#
# The servers answer every SYN with a syncookie (net.ipv4.tcp_syncookies=2:
# no SYN queue at all). A flood host on the segment ($NS_FLOOD) sends
# $SF_RATE SYNs/s to VIP:port, from before the legitimate connections
# start until they are done (bounded: $SF_DURATION s, $SF_COUNT SYNs), from
# random spoofed sources of 198.19.0.0/16 (a benchmarking range off the
# segment: the servers route it to the flood host, which does not forward,
# so their SYN-ACKs die there), 7 in 8 with the redirect option, 1 in 8
# without (legacy SYNs, dropped by the service). While it runs, legitimate
# connections of the eBPF client must all succeed, redirected, data echoed,
# completed by the servers through the cookie path; then the LB's counters
# must account for every SYN: redirected + legacy-dropped = flood SYNs that
# reached the LB + the client's SYNs (first and retransmitted), the
# per-backend counts sum to the redirected total; and normal traffic works
# after the flood.

SF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SF_FLOOD="python3 $SF_DIR/synflood.py"
IP_FLOOD=$CRAB_SUBNET.60
SF_SPOOF_NET=198.19.0.0
SF_RATE=${SF_RATE:-4000}
SF_DURATION=${SF_DURATION:-90}
SF_COUNT=${SF_COUNT:-400000}
SF_LEGIT=${SF_LEGIT:-30}

# Per-backend SYNs the LB sent, summed over the three servers.
sf_backend_sum() {
	case $EP_LB in
	xdp)
		ep_crabctl "$NS_LB" -j lb xdp stats --dev eth0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
be = [s for s in j["services"] if s["service"] == sys.argv[1]][0]["backends"]
print(sum(be.get(ip, 0) for ip in sys.argv[2:]))' "$VIP:$EP_PORT" "${IP_SRV[@]:1}" ;;
	dpdk)
		"$CRABCTL" -j lb dpdk --prefix "$PREFIX" stats | python3 -c '
import json, sys
be = json.load(sys.stdin)["services"][sys.argv[1]]["backends"]
print(sum(be.get(ip, 0) for ip in sys.argv[2:]))' "$VIP:$EP_PORT" "${IP_SRV[@]:1}" ;;
	*) echo none ;;
	esac
}

# Sum of a TcpExt counter over the servers.
sf_srv_tcpext() {
	local i n=0
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		n=$((n + $(crab_tcpext "${NS_SRV[i]}" "$1")))
	done
	echo $n
}

# tx_dropped / rx_dropped of interface IFNAME in namespace NS.
sf_dropped() {
	ip -n "$1" -s -j link show "$2" | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["stats64"][sys.argv[1]]["dropped"])' "$3"
}

# Frames lost on the way to the LB: dropped by the veths (sf_veth_drops)
# or by the LB's port (sf_lb_missed).
sf_path_drops() {
	echo $(($(sf_veth_drops) + $(sf_lb_missed)))
}

# Frames the veths dropped: the flood host's (the switch side's backlog
# full), the switch side of the LB's veth (the LB's XDP ring full), the
# LB's eth0 itself.
sf_veth_drops() {
	local peer
	peer=$(ip -n "$NS_LB" -j link show eth0 | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["link_index"])')
	peer=$(ip -n "$NS_SW" -j link show | python3 -c '
import json, sys
print([l["ifname"] for l in json.load(sys.stdin) if l["ifindex"] == int(sys.argv[1])][0])' "$peer")
	echo $(($(sf_dropped "$NS_FLOOD" eth0 tx) + $(sf_dropped "$NS_SW" "$peer" tx) +
		$(sf_dropped "$NS_LB" eth0 rx)))
}

# Frames the LB's port lost before the LB saw them: for the DPDK LB, the
# ethdev's imissed and rx_nombuf, and the frames the kernel dropped
# because net_af_packet's RX ring was full (the LB's ring_drops: the
# sockets' PACKET_STATISTICS, which the PMD itself does not report); 0
# for the XDP LB (its losses are the veth's, above).
sf_lb_missed() {
	[ "$EP_LB" = dpdk ] || { echo 0; return; }
	echo $(($(python3 "$CRAB_TOP/selftests/lb_dpdk/dpdk_tel.py" "$PREFIX" /ethdev/stats,0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["imissed"] + j["rx_nombuf"])') + $(sf_lb_global ring_drops)))
}

# A global counter of the DPDK LB.
sf_lb_global() {
	"$CRABCTL" -j lb dpdk --prefix "$PREFIX" stats | python3 -c '
import json, sys
print(json.load(sys.stdin)["global"][sys.argv[1]])' "$1"
}

sf_lb_total() {
	echo $(($(ep_lb_counter syn_redirected) + $(ep_lb_counter syn_legacy_drop) +
		$(ep_lb_counter nonsyn_drop)))
}

# Setup: the eBPF endpoints behind EP_LB, cookies on the servers, the
# flood host.
sf_setup() {
	local i mac
	ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		ip netns exec "${NS_SRV[i]}" sysctl -qw net.ipv4.tcp_syncookies=2 ||
			crab_fail "cannot force syncookies in ${NS_SRV[i]}"
		ip -n "${NS_SRV[i]}" route add "$SF_SPOOF_NET/16" via "$IP_FLOOD"
	done
	crab_add_host FLOOD "$IP_FLOOD"
	ip -n "$NS_FLOOD" route add "$VIP/32" via "$IP_LB"
	ip netns exec "$NS_FLOOD" sysctl -qw net.ipv4.ip_forward=0
	# The LB's MAC as a static neighbour (the DPDK LB's namespace stack is
	# inert: nobody there answers ARP).
	mac=$(ip -n "$NS_LB" -j link show eth0 | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["address"])')
	ip -n "$NS_FLOOD" neigh replace "$IP_LB" lladdr "$mac" dev eth0 nud permanent ||
		crab_fail "cannot set the LB's MAC on the flood host"
}

sf_client() {
	ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$EP_PORT" "$@"
}

# sf_legit N WHAT: N connections succeed, every one redirected by the eBPF
# client and completed by a server (PassiveOpens) through a syncookie
# (SyncookiesRecv: the flood never ACKs, so the cookies validated are the
# client's). A client's ACK and its first data segment handled on two CPUs
# at once can both find only the listener and both validate the cookie
# (one child is kept): up to one in ten more validations than connections.
sf_legit() {
	local n=$1 what=$2 red0 po0 rcv0 out red po rcv
	red0=$(ep_stat redirected)
	po0=$(ep_opens | tr ' ' '+')
	rcv0=$(sf_srv_tcpext SyncookiesRecv)
	out=$(sf_client --count "$n" --timeout 10 --deadline 120)
	crab_log "client ($what): ${out:0:300}"
	[ "$(crab_json "$out" 'j["ok"]')" = "$n" ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
	log_test $? "$what: $n connections to the VIP succeed, data echoed"
	red=$(($(ep_stat redirected) - red0))
	po=$(($(ep_opens | tr ' ' '+') - (po0)))
	rcv=$(($(sf_srv_tcpext SyncookiesRecv) - rcv0))
	crab_log "redirected +$red, server PassiveOpens +$po, SyncookiesRecv +$rcv"
	[ "$red" = "$n" ] && [ "$po" = "$n" ] && [ "$rcv" -ge "$n" ] && [ "$rcv" -le $((n + n / 10 + 1)) ]
	log_test $? "$what: all $n redirected to a backend, each completed through a syncookie"
}

sf_run() {
	local t0=$SECONDS t_flood t_end
	local lb0 be0 red0 leg0 retr0 sent0 cs0 drop0 fpid fout flood i
	local lb red leg be retr cs drops sent wo total want rd0 rp0 rx0 vdrop0 vdrops rd rp other
	sf_setup
	# One connection before anything: a broken setup fails here, not as
	# $SF_LEGIT timeouts under the flood.
	sf_legit 3 "before the flood"

	lb0=$(sf_lb_total) red0=$(ep_lb_counter syn_redirected)
	leg0=$(ep_lb_counter syn_legacy_drop) be0=$(sf_backend_sum)
	retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
	cs0=$(sf_srv_tcpext SyncookiesSent)
	drop0=$(sf_path_drops) vdrop0=$(sf_veth_drops)
	sent0=$(ip netns exec "$NS_FLOOD" cat /sys/class/net/eth0/statistics/tx_packets)
	[ "$EP_LB" = dpdk ] && rd0=$(sf_lb_global ring_drops) rp0=$(sf_lb_global ring_packets) rx0=$(sf_lb_global rx)

	t_flood=$SECONDS
	fout=$EP_TMP/flood.json
	ip netns exec "$NS_FLOOD" $SF_FLOOD --addr "$VIP" --port "$EP_PORT" \
		--src-net "$SF_SPOOF_NET" --rate "$SF_RATE" --duration "$SF_DURATION" \
		--count "$SF_COUNT" >"$fout" &
	fpid=$!
	crab_defer "kill $fpid 2>/dev/null"
	# The flood is on once its host has sent a thousand SYNs.
	for i in $(seq 300); do
		[ $(($(ip netns exec "$NS_FLOOD" cat /sys/class/net/eth0/statistics/tx_packets) -
			sent0)) -ge 1000 ] && break
		kill -0 $fpid 2>/dev/null || break
		sleep 0.1
	done

	if [ "$EP_LB" = dpdk ]; then
		# Stop the LB for a second during the flood: its af_packet RX
		# ring (512 frames by default) overflows as it does when a
		# loaded host deschedules it, and the loss must be counted.
		kill -STOP "$LB_PID" && sleep 1
		kill -CONT "$LB_PID"
	fi
	sf_legit "$SF_LEGIT" "during the flood"
	# Enough: the flood stops now (SIGTERM), unless its own bound came first.
	kill -TERM $fpid 2>/dev/null
	wait $fpid
	t_end=$SECONDS
	flood=$(cat "$fout")
	crab_log "flood: $flood"
	[ "$(crab_json "$flood" 'j["stopped"]')" = True ]
	log_test $? "the flood was still running when the last connection completed"
	sent=$(crab_json "$flood" 'j["sent"]') wo=$(crab_json "$flood" 'j["without_opt"]')
	[ "$sent" -ge 1000 ] || crab_fail "the flood sent only $sent SYNs"

	# Counters settle once the last frames are through (bounded wait).
	total=-1
	for i in $(seq 50); do
		lb=$(sf_lb_total)
		[ "$lb" = "$total" ] && break
		total=$lb
		sleep 0.2
	done
	red=$(($(ep_lb_counter syn_redirected) - red0))
	leg=$(($(ep_lb_counter syn_legacy_drop) - leg0))
	be=$(sf_backend_sum)
	[ "$be" = none ] || be=$((be - be0))
	lb=$((lb - lb0))
	retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
	drops=$(($(sf_path_drops) - drop0)) vdrops=$(($(sf_veth_drops) - vdrop0))
	cs=$(($(sf_srv_tcpext SyncookiesSent) - cs0))
	crab_log "flood host eth0 tx +$(($(ip netns exec "$NS_FLOOD" cat /sys/class/net/eth0/statistics/tx_packets) - sent0))"
	crab_log "LB: +$lb packets to the service (redirected +$red, legacy dropped +$leg); path drops +$drops"
	crab_log "client: $SF_LEGIT SYNs + $retr retransmitted; servers: SyncookiesSent +$cs"
	if [ "$be" = none ]; then
		log_test $ksft_skip "per-backend counts: the $EP_LB LB keeps none"
	else
		[ "$be" = "$red" ]
		log_test $? "per-backend counts sum to the service's redirected SYNs ($be = $red)"
	fi
	want=$((sent + SF_LEGIT + retr - drops))
	[ "$lb" = $((red + leg)) ] && [ "$lb" -le $((sent + SF_LEGIT + retr)) ] && [ "$leg" -le "$wo" ]
	log_test $? "LB counted only SYNs: $lb = $red redirected + $leg legacy dropped, at most the $((sent + SF_LEGIT + retr)) sent"
	if [ "$EP_LB" = dpdk ]; then
		# The af_packet ring drops whatever frame arrives while it is
		# full: the SYNs, and any other frame offered to it in the
		# meantime (ARP and other broadcasts of the segment). Those are
		# the frames the ring was offered beyond the SYNs that reached it;
		# without any, the count is exact.
		rd=$(($(sf_lb_global ring_drops) - rd0)) rp=$(($(sf_lb_global ring_packets) - rp0))
		other=$((rp - (sent + SF_LEGIT + retr - vdrops)))
		crab_log "DPDK LB: af_packet rings offered +$rp frames ($other not SYNs of this test), dropped +$rd (ring full); the LB's core saw +$(($(sf_lb_global rx) - rx0))"
		[ "$rd" -gt 0 ]
		log_test $? "the LB stopped for 1 s during the flood: its af_packet ring overflowed, $rd frames dropped and counted (ring_drops)"
		[ "$other" -ge 0 ] && [ "$lb" -ge "$want" ] && [ "$lb" -le $((want + other)) ]
		log_test $? "LB total $lb = flood $sent + client $SF_LEGIT + $retr retransmitted - $drops lost on the path ($rd of them in the af_packet ring; + at most $other other frames the ring dropped instead)"
		[ "$leg" -ge $((wo - drops)) ]
		log_test $? "legacy SYNs of the flood dropped and counted ($leg of $wo sent)"
	else
		[ "$lb" = "$want" ]
		log_test $? "LB total $lb = flood $sent + client $SF_LEGIT + $retr retransmitted - $drops lost on the path"
		[ "$leg" -ge $((wo - drops)) ]
		log_test $? "legacy SYNs of the flood dropped and counted ($leg of $wo sent)"
	fi
	[ "$cs" -ge "$SF_LEGIT" ] && [ "$cs" -le "$red" ]
	log_test $? "servers answered with syncookies ($cs, of $red SYNs the LB forwarded)"

	sf_legit 10 "after the flood"
	crab_log "setup $((t_flood - t0)) s, flood $((t_end - t_flood)) s, all $((SECONDS - t0)) s"
}
