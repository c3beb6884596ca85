#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# End to end through a stateless LB (tc pedit daddr rewrite, no conntrack): 300
# connections to the VIP all succeed and echo data, getpeername() names the
# backends' DIPs, and the LB saw one packet per connection (the SYN).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8101
N=300
crab_require_root
crab_check_tool ip tc python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 2
ep_ns_watch "$NS_CLI" "${NS_SRV[@]:1}"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" "${IP_SRV[2]}" || crab_fail "cannot install the tc LB"

out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 5 --deadline 240 --json)
echo "# client: ${out:0:300}"
ok=$(ep_jget "$out" ok)
p1=$(ep_jpeers "$out" "${IP_SRV[1]}")
p2=$(ep_jpeers "$out" "${IP_SRV[2]}")
[ "$ok" = $N ]
log_test $? "$N connections to the VIP succeed with data echoed"
[ $((p1 + p2)) = $N ] && [ "$p1" -gt 0 ] && [ "$p2" -gt 0 ]
log_test $? "getpeername() returns the DIPs ($p1 + $p2)"

seen=$(ep_tc_count $PORT)
echo "# LB packets: $seen"
# SYN retransmissions under a slow emulated CPU may add a few.
[ "$seen" -ge $N ] && [ "$seen" -le $((N + N / 50)) ]
log_test $? "LB saw one packet per connection ($seen for $N)"

red=$(ep_counter "$NS_CLI" redirected crab_client)
ann=$(ep_counter "$NS_CLI" syn_announced crab_client)
e1=$(ep_counter "${NS_SRV[1]}" synack_echoed crab_server)
e2=$(ep_counter "${NS_SRV[2]}" synack_echoed crab_server)
echo "# client announced=$ann redirected=$red; servers echoed $e1 + $e2"
[ "$red" = $N ] && [ "$ann" -ge $N ] && [ $((e1 + e2)) -ge $N ]
log_test $? "counters: $N redirected, SYNs announced, SYN-ACKs echoed"

crab_exit
