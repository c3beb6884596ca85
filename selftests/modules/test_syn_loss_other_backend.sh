#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# SYN retransmissions land on another backend (docs/PROTOCOL.md 3.5): the
# LB is a stateless round robin (nft numgen rewriting the destination,
# untracked), so a retransmitted SYN goes to the other server.
#  - Late SYN-ACK: server 1's SYN-ACK path is delayed (netem, 1.5 s) past
#    the client's SYN retransmission; the retransmission reaches server 2,
#    whose SYN-ACK wins: the connection completes with server 2; server
#    1's late SYN-ACK finds no socket (rej_no_socket) and gets RST, which
#    clears its half-open connection.
#  - Lossy LB -> servers path: the LB drops every third SYN it forwards
#    (nft numgen, deterministic: random loss made the test fail when one
#    connection lost all its SYNs): every connection completes, whatever
#    the backend its surviving SYN reached.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8117
N=10
crab_require_root
crab_check_tool ip tc nft ss python3
modprobe sch_netem 2>/dev/null
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 2
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
S1=${IP_SRV[1]} S2=${IP_SRV[2]}
EPT="python3 $(dirname "$0")/ep_tool.py"
crab_echo_servers $PORT
ip netns exec "$NS_LB" nft -f - <<NFT || crab_fail "cannot install the round-robin LB"
table ip crab_rr {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip daddr $VIP tcp dport $PORT notrack ip daddr set numgen inc mod 2 map { 0 : $S1, 1 : $S2 }
	}
}
NFT
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }

# Late SYN-ACK from server 1.
ip netns exec "${NS_SRV[1]}" tc qdisc add dev eth0 root netem delay 1500ms ||
	crab_fail "cannot delay server 1's packets (sch_netem)"
ns0=$(cnt rej_no_socket) retr0=$(ep_tcpext "$NS_CLI" TCPSynRetrans)
r=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport 40170 --wait 30)
retr=$(($(ep_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
ns=$(ep_wait_counter "$NS_CLI" crab_client rej_no_socket $((ns0 + 1)) 100)
crab_log "$r; SYN retransmissions $retr, rej_no_socket +$((ns - ns0))"
[ "$(ep_peer "$r")" = "$S2" ] && [ "$retr" -ge 1 ]
log_test $? "SYN-ACK of server 1 late: the retransmitted SYN's server 2 wins, data echoed"
left=x
for _ in $(seq 50); do
	left=$(ip netns exec "${NS_SRV[1]}" ss -Htn state syn-recv "sport = :$PORT" | wc -l)
	[ "$left" = 0 ] && break
	sleep 0.2
done
[ "$ns" -ge $((ns0 + 1)) ] && [ "$left" = 0 ]
log_test $? "server 1's late SYN-ACK: refused (rej_no_socket), RST, its half-open connection gone"
ip netns exec "${NS_SRV[1]}" tc qdisc del dev eth0 root

# Lossy path from the LB to the servers: one SYN in three dropped. A
# connection's retransmission takes the next number, so none loses two
# in a row while it is alone; ten at once lose a third of each round.
ip netns exec "$NS_LB" nft -f - <<NFT || crab_fail "cannot install the SYN loss"
table ip crab_loss {
	counter lost {}
	chain loss {
		type filter hook forward priority filter; policy accept;
		tcp dport $PORT tcp flags & (syn | ack) == syn numgen inc mod 3 == 0 counter name lost drop
	}
}
NFT
red0=$(cnt redirected) retr0=$(ep_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 60 --deadline 300 --json)
retr=$(($(ep_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
red=$(($(cnt redirected) - red0))
lost=$(ip netns exec "$NS_LB" nft list counter ip crab_loss lost | sed -n 's/.*packets \([0-9]*\).*/\1/p')
crab_log "one SYN in three lost LB -> servers: ${out:0:200}; redirected +$red, SYN retransmissions $retr, lost $lost"
[ "$(ep_jget "$out" ok)" = $N ] && [ "$red" = $N ] && [ "${lost:-0}" -gt 0 ] && [ "$retr" -ge "${lost:-0}" ]
log_test $? "one SYN in three lost between LB and servers: $N connections complete ($lost SYNs lost, $retr retransmitted)"
ip netns exec "$NS_LB" nft delete table ip crab_loss

crab_exit
