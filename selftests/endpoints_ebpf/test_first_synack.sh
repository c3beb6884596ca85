#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The first valid SYN-ACK wins (docs/PROTOCOL.md 3.5). For each of 8
# sockets held in SYN-SENT to $VIP:9999, a host on the segment sends two
# valid redirecting SYN-ACKs (right ack, allowed sources: servers 2 and 3)
# at the same instant from two threads on two CPUs. Every time exactly one
# moves the socket (redirected +1, one flow) and the other is left to the
# stack, which answers it with a reset from the client (captured), counted
# as refused.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

N=8
ep_unshare "$@"
crab_check_tool tcpdump
crab_require_python_module scapy
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
ep_spoofer_start
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
pcap=$EP_TMP/syn.pcap
crab_capture_start "$NS_CLI" "$pcap" "tcp port 9999"

# Refusals of a second SYN-ACK: the claim was taken, the socket left
# SYN-SENT, or it is gone (the real server reset the forged connection), or
# TCP on another CPU already took the first SYN-ACK's ack (snd_una moved
# while the socket still read SYN-SENT: the ack is no longer ISN + 1).
refused() {
	echo $(($(ep_stat rejected_claimed) + $(ep_stat rejected_not_syn_sent) +
		$(ep_stat rejected_not_announced) + $(ep_stat rejected_bad_ack)))
}

bad=0
for ((t = 1; t <= N; t++)); do
	red=$(ep_stat redirected)
	ref=$(refused)
	lport=$(ep_helper hold "connect $VIP 9999")
	seq=$(ep_syn_seq "$pcap" "$lport") || { crab_log "trial $t: no SYN"; bad=$((bad + 1)); continue; }
	a=$(ep_synack_json "${IP_SRV[2]}" "$lport" $((seq + 1)))
	b=$(ep_synack_json "${IP_SRV[3]}" "$lport" $((seq + 1)))
	out=$(ep_helper spoof "{\"op\": \"race\", \"cpus\": [0, 1], \"pkts\": [$a, $b]}")
	ep_wait_stat redirected $((red + 1))
	# The loser is answered with a reset from the client's port.
	for i in $(seq 50); do
		rst=$(tcpdump -nn -r "$pcap" "tcp src port $lport and tcp[13] & 4 != 0" 2>/dev/null |
			awk '{ print $5 }' | sort -u | tr '\n' ' ')
		[ -n "$rst" ] && break
		sleep 0.1
	done
	nref=$(($(refused) - ref))
	nred=$(($(ep_stat redirected) - red))
	crab_log "trial $t: $out; redirected +$nred, refused +$nref, reset to: $rst"
	[ "$nred" = 1 ] && [ "$nref" = 1 ] && [ "$(echo $rst | wc -w)" = 1 ] || bad=$((bad + 1))
	ep_helper hold "close $lport" >/dev/null
done
c=$(ep_stat rejected_claimed)
log_test $((bad > 0)) "$N races of two valid SYN-ACKs: one redirect and one reset each ($c lost the claim itself)"

# A loser that passed the socket's checks while the winner was being taken
# must not claim the socket once it left SYN-SENT: its flow would stay, and
# its packets would reach the connection as if they came from the VIP.
for i in $(seq 100); do
	[ "$(ep_stat maps.flows)" = 0 ] && break
	sleep 0.1
done
[ "$(ep_stat maps.flows)" = 0 ]
log_test $? "the races left no flow behind once their connections closed"

crab_exit
