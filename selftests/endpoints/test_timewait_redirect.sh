#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# A redirect onto the 4-tuple of a TIME_WAIT (issue #9). connect() checks
# the port against the dialed VIP, not against the DIP the connection ends
# on: a second connection from the same port, redirected to the same
# backend while the first one's TIME_WAIT (client closed first) is keyed on
# that DIP, got its SYN-ACK taken by the TIME_WAIT (stale ACK, the backend
# resets, SYN retransmitted after 1 s, again and again). crab_client must
# replace the TIME_WAIT: the second connect() completes at once with the
# DIP as peer and data echoed, tw_replaced counts it, no SYN is
# retransmitted.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8108
SP=40108
crab_require_root
crab_check_tool ip tc tcpdump python3 ss
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" || crab_fail "cannot install the tc LB"
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"
crab_capture_start "$NS_CLI" "$tmp/syn.pcap" \
	"tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst port $PORT"

ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP \
	--wait 60 >"$tmp/c1.json"
echo "# first: $(cat "$tmp/c1.json")"
[ "$(crab_json "$(cat "$tmp/c1.json")" 'j["peer"]')" = "$S" ]
log_test $? "first connection redirected to $S"

# The client closed first: its TIME_WAIT is keyed on the DIP; the server's
# side must be gone too (its LAST_ACK ended by the client's last ACK).
tw= srv=x
for i in $(seq 150); do
	tw=$(ip netns exec "$NS_CLI" ss -Htan state time-wait "sport = :$SP" | grep -c "$S:$PORT")
	srv=$(ip netns exec "${NS_SRV[1]}" ss -Htan "dport = :$SP" | wc -l)
	[ "$tw" = 1 ] && [ "$srv" = 0 ] && break
	sleep 0.2
done
[ "$tw" = 1 ] && [ "$srv" = 0 ]
log_test $? "TIME_WAIT on the client keyed on $S:$PORT, server side closed"

known0=$(ep_counter "$NS_CLI" synack_known crab_client)
t0=$(date +%s%N)
ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP \
	--wait 30 >"$tmp/c2.json"
ms=$((($(date +%s%N) - t0) / 1000000))
out=$(cat "$tmp/c2.json")
echo "# second: $out (${ms} ms)"
[ "$(crab_json "$out" 'j["peer"]')" = "$S" ] && [ "$(crab_json "$out" 'j["echo"]')" = True ]
log_test $? "second connection from the same port: redirected to $S, data echoed"

repl=$(ep_counter "$NS_CLI" tw_replaced crab_client)
red=$(ep_counter "$NS_CLI" redirected crab_client)
known=$(ep_counter "$NS_CLI" synack_known crab_client)
echo "# tw_replaced=$repl redirected=$red synack_known=$known0->$known"
[ "$repl" = 1 ] && [ "$red" = 2 ] && [ "$known" = "$known0" ]
log_test $? "tw_replaced 1, redirected 2, no SYN-ACK left to the TIME_WAIT"

crab_capture_stop
syns=$($EPT pcap "$tmp/syn.pcap" | grep -c "\"sport\": $SP,")
echo "# SYNs from port $SP: $syns"
# Two SYNs: one per connection. A slow emulated CPU could retransmit one,
# the bug retransmits the second one until its connect() gives up.
[ "$syns" -ge 2 ] && [ "$syns" -le 3 ]
log_test $? "$syns SYNs for two connections (no retransmission loop)"

crab_exit
