#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Whole connections through the netfilter LB with the endpoint modules
# (crab_client.ko in the client, crab_server.ko on the servers): 300
# connections via the VIP all succeed, the peers are the DIPs (redirected),
# rr spreads them 100/100/100 and the LB saw exactly one SYN per connection
# (its counters and a capture on its interface agree); then 150 connections
# with the random policy stay within a chi-square bound.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup_connections

crab_capture_start "$NS_LB" "$NF_DIR/lb.pcap" "tcp and dst host $VIP and dst port $NF_PORT"
# A slow emulated guest may retransmit a SYN: one more at the LB (and one
# rr step) for that connection. Counted.
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$NF_PORT" \
	--count 300 --json)
crab_log "client: $out"
[ "$(crab_json "$out" 'j["ok"]')" = 300 ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
log_test $? "300 connections via the LB succeed"
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
[ "$(crab_json "$out" "sorted(j['peers'])")" = "['${IP_SRV[1]}', '${IP_SRV[2]}', '${IP_SRV[3]}']" ] &&
	[ "$(crab_json "$out" "int(all(abs(v - 100) <= $retr for v in j['peers'].values()))")" = 1 ]
log_test $? "peers are the DIPs, 100 each (rr; $retr SYN retransmissions)"
n=$(nf_counter syn_redirected)
d=$(nf_counter nonsyn_drop)
[ "$n" = $((300 + retr)) ] && [ "$d" = 0 ]
log_test $? "LB saw exactly one SYN per connection ($n = 300 + $retr retransmitted), no other packet ($d)"
crab_capture_stop "$NF_DIR/lb.pcap"
c=$(tcpdump -nn -r "$NF_DIR/lb.pcap" 2>/dev/null | wc -l)
s=$(tcpdump -nn -r "$NF_DIR/lb.pcap" 'tcp[tcpflags] == tcp-syn' 2>/dev/null | wc -l)
[ "$c" = "$n" ] && [ "$s" = "$n" ]
log_test $? "capture on the LB agrees: $c packets to the VIP, $s of them SYNs"

# random over whole connections: chi-square, 2 degrees of freedom, < 13.8
# (p = 0.001 for a fair split of 150).
lbctl lb nf service set "$NF_SVC" --policy random || crab_fail "service set"
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$NF_PORT" \
	--count 150 --json)
chi=$(crab_json "$out" "round(sum((j['peers'].get(a, 0) - 50) ** 2 / 50 for a in '${IP_SRV[*]}'.split()), 2)")
crab_log "random: $out chi2=$chi"
[ "$(crab_json "$out" 'j["ok"]')" = 150 ] && python3 -c "import sys; sys.exit(0 if $chi < 13.8 else 1)"
log_test $? "random: 150 connections, chi-square $chi < 13.8"

crab_exit
