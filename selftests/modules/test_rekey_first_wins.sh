#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Two valid redirects for one socket (docs/PROTOCOL.md 3.4, 3.5): the LB
# duplicates every SYN to both backends (tc mirrors a copy rewritten for
# server 1, forwards the original rewritten for server 2), so each
# connection gets two SYN-ACKs with the option, both with the right ack.
# Exactly one re-keys the socket, the first one on the wire (seen by a host
# on the segment); the other finds no socket for the VIP (rej_no_socket)
# and TCP answers it with RST, which clears the loser's half-open
# connection. The re-key re-checks, under the socket lock, that the socket
# is still SYN-SENT and keyed on the VIP, and moves it only if no other
# socket holds the new 4-tuple; RPS spreads the two SYN-ACKs over the CPUs
# when the guest has several. Server 2's packets are delayed 10 ms: its
# SYN-ACK tends to arrive once connect() has released the socket, while
# server 1's, which came back inside the softirq the SYN's transmission ran,
# may still be held back for the socket owned by user; it must still win
# (later redirects queue behind a held one).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8114
N=20
SP=40150
crab_require_root
crab_check_tool ip tc ss bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 2
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
S1=${IP_SRV[1]} S2=${IP_SRV[2]}
EPT="python3 $(dirname "$0")/ep_tool.py"
crab_echo_servers $PORT
ip netns exec "$NS_CLI" sh -c 'echo ff >/sys/class/net/eth0/queues/rx-0/rps_cpus' 2>/dev/null
modprobe sch_netem 2>/dev/null
ip netns exec "${NS_SRV[2]}" tc qdisc add dev eth0 root netem delay 10ms ||
	crab_fail "cannot delay server 2 (sch_netem)"
mac() { ip -n "$1" -o link show eth0 | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p'; }
ip netns exec "$NS_LB" tc qdisc add dev eth0 clsact
ip netns exec "$NS_LB" tc filter add dev eth0 ingress protocol ip pref 1 u32 \
	match ip dst "$VIP/32" match ip dport $PORT 0xffff \
	action pedit ex munge ip dst set "$S1" munge eth dst set "$(mac "${NS_SRV[1]}")" \
		munge eth src set "$(mac "$NS_LB")" pipe \
	action csum ip4h tcp pipe \
	action mirred egress mirror dev eth0 pipe \
	action pedit ex munge ip dst set "$S2" pipe \
	action csum ip4h tcp || crab_fail "cannot install the duplicating tc LB"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
ep_att_start "$NS_EVIL"

# One connection at a time: the winner is the first SYN-ACK on the wire.
rc=0
for ((i = 0; i < 3; i++)); do
	sp=$((SP + 4 * i))
	m=$(ep_att mark) && m=${m#ok }
	r=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $sp --wait 20)
	first=$(ep_att synack_to $sp 10 after="$m")
	n=$(ep_att count_synack $sp after="$m")
	crab_log "port $sp: $r; first SYN-ACK from $(ep_field "$first" src), SYN-ACKs seen ${n#ok }"
	[ "$(ep_peer "$r")" = "$(ep_field "$first" src)" ] &&
		[ "${n#ok }" -ge 2 ] || rc=1
done
log_test $rc "each socket is redirected to the backend whose SYN-ACK came first"

red0=$(cnt redirected) ns0=$(cnt rej_no_socket)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 5 --deadline 120 --json)
red=$(($(cnt redirected) - red0)) ns=$(($(cnt rej_no_socket) - ns0))
crab_log "client: ${out:0:200}; redirected +$red, rej_no_socket +$ns; rej_raced $(cnt rej_raced), rej_tuple_taken $(cnt rej_tuple_taken)"
[ "$(ep_jget "$out" ok)" = $N ] && [ "$red" = $N ] && [ "$ns" = $N ]
log_test $? "$N connections, each re-keyed once; the other SYN-ACK finds no socket"

# The losers' half-open connections are cleared by the client's RST.
left=
for _ in $(seq 50); do
	left=$(for s in "${NS_SRV[@]:1}"; do ip netns exec "$s" ss -Htn state syn-recv "sport = :$PORT"; done | wc -l)
	[ "$left" = 0 ] && break
	sleep 0.2
done
[ "$left" = 0 ]
log_test $? "no half-open connection left on the backends ($left)"

crab_exit
