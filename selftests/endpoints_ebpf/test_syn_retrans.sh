#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# SYN retransmission onto another backend (docs/PROTOCOL.md 3.5), over a
# lossy path: the segment loses server 1's first two SYN-ACKs (an nft rule
# in the bridge; this kernel has no netem, and a deterministic loss makes
# the case reproducible; a drop in server 1's own output would make its
# stack give up the half-open connection instead). The client's SYN reaches server 1 through the rr LB,
# no answer comes; its retransmission reaches server 2, whose SYN-ACK wins:
# the connection is redirected to server 2 and carries data. Server 1's
# third SYN-ACK, seconds later (a retransmission, which echoes the option
# too: the listener saved the SYN), finds no socket in SYN-SENT: it is
# refused (counted), the client's stack answers it with a reset, and that
# reset clears server 1's half-open connection (its EmbryonicRsts).

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool nft
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
ip netns exec "$NS_SW" nft -f - <<-EOF || crab_fail "loss rule in the bridge"
table bridge crabloss {
	chain loss {
		type filter hook forward priority filter; policy accept;
		ip saddr ${IP_SRV[1]} tcp flags & (syn | ack) == syn | ack numgen inc mod 1000000 < 2 counter drop
	}
}
EOF
crab_check_tool tcpdump
crab_capture_start "$NS_CLI" "$EP_TMP/s1.pcap" "src host ${IP_SRV[1]} and tcp[13] & 18 == 18"
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"

read -r -a o0 <<<"$(ep_opens)"
r0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
e0=$(crab_tcpext "${NS_SRV[1]}" EmbryonicRsts)
ref0=$(($(ep_stat rejected_not_syn_sent) + $(ep_stat rejected_claimed)))
p=$(ep_helper hold "connect $VIP $EP_PORT")
w=$(ep_helper hold "wait $p 8")
e=$(ep_helper hold "echo $p 4000")
read -r -a o1 <<<"$(ep_opens)"
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - r0))
crab_log "connection: $w, echo $e; SYN retransmissions $retr; servers +$((o1[0] - o0[0])) +$((o1[1] - o0[1])) +$((o1[2] - o0[2])); LB packets $(ep_lb_packets)"
[ "$w" = "up $VIP" ] && [ "$e" = ok ] && [ "$retr" -ge 1 ] && [ "$(ep_stat redirected)" = 1 ] &&
	[ $((o1[0] - o0[0])) = 0 ] && [ $((o1[1] - o0[1])) = 1 ]
log_test $? "server 1's SYN-ACKs lost: the retransmitted SYN lands on server 2, redirected there, data flows"

for i in $(seq 100); do
	[ "$(crab_tcpext "${NS_SRV[1]}" EmbryonicRsts)" -gt "$e0" ] && break
	sleep 0.1
done
dropped=$(ip netns exec "$NS_SW" nft list chain bridge crabloss loss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
ref=$(($(ep_stat rejected_not_syn_sent) + $(ep_stat rejected_claimed) - ref0))
crab_log "server 1: $dropped SYN-ACKs lost, EmbryonicRsts $e0 -> $(crab_tcpext "${NS_SRV[1]}" EmbryonicRsts); client refused $ref"
[ "$dropped" = 2 ] && [ "$(crab_tcpext "${NS_SRV[1]}" EmbryonicRsts)" -gt "$e0" ] && [ "$ref" -ge 1 ] &&
	[ "$(ep_stat redirected)" = 1 ]
log_test $? "server 1's late SYN-ACK is refused, reset by the client's stack, its half-open cleared"

crab_capture_stop "$EP_TMP/s1.pcap"
s1=$(tcpdump -nn -v -r "$EP_TMP/s1.pcap" 2>/dev/null | grep "Flags")
echo "$s1" | sed 's/^ */# from server 1: /'
[ "$(echo "$s1" | grep -c "unknown-42 ")" = 1 ]
log_test $? "server 1's retransmitted SYN-ACK echoes the option (the listener saved the SYN)"
e=$(ep_helper hold "echo $p 4000")
[ "$e" = ok ]
log_test $? "the connection to server 2 is unaffected"

crab_exit
