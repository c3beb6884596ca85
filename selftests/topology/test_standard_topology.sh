#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The standard topology itself works: the client reaches the LB and every
# server on the segment, the VIP is routed via the LB, and echo traffic
# flows client <-> server with the checking client. Every other selftest
# builds on this, so it must fail loudly when the plumbing is broken.
source "$(dirname "$0")/../lib.sh"
crab_require_root
crab_check_tool ip ping
crab_need_nettest
crab_topo_setup 3

rc=0
for i in 1 2 3; do
	ip netns exec "$NS_CLI" ping -c1 -W2 "${IP_SRV[i]}" >/dev/null || rc=1
done
log_test $rc "client reaches every server on the segment"

rt=$(ip -n "$NS_CLI" route get "$VIP" | head -n1)
[[ "$rt" == *"via $IP_LB"* ]]
log_test $? "VIP is routed via the LB ($rt)"

CRAB_TOPO_REPORT=$(mktemp)
crab_defer "rm -f $CRAB_TOPO_REPORT"
crab_echo_server "${NS_SRV[1]}" 7001
out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "${IP_SRV[1]}" --port 7001 --count 20 --size 1000)
crab_conns_ok "$out" 20 && [ "$(crab_peers "$out")" = "${IP_SRV[1]}:20" ]
log_test $? "20 echo connections to server 1 succeed, peer is ${IP_SRV[1]} ($out)"

# The same with 4 in parallel, each reported with its addresses.
out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "${IP_SRV[1]}" --port 7001 --count 8 \
	--parallel 4 --report "$CRAB_TOPO_REPORT")
n=0
while read -r _ i local peer st; do
	[ "$peer" = "peer=${IP_SRV[1]}:7001" ] && [ "${local%:*}" = "local=$IP_CLI" ] && [ "$st" = ok ] && n=$((n + 1))
done <"$CRAB_TOPO_REPORT"
crab_conns_ok "$out" 8 && [ "$n" = 8 ]
log_test $? "8 connections 4 at a time, each reported ok from $IP_CLI to ${IP_SRV[1]}:7001"

# A closed port must fail: the checking client is not a test that cannot fail.
out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "${IP_SRV[2]}" --port 7999 --count 2 --timeout 2)
[ "$(crab_jnum "$out" failed)" = 2 ] && [ "$(crab_jnum "$out" ok)" = 0 ]
log_test $? "connections to a closed port are reported as failed"
crab_exit
