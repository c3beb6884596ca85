#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Overlapping addresses in two namespaces (docs/PROTOCOL.md 4): two copies
# of the standard topology, each with its own bridge, LB and server, with
# the same addresses (client 198.18.0.2, VIP, server 198.18.0.11). The
# modules keep their state per namespace: the client configured in copy A
# is redirected; the unconfigured client of copy B, same address, same
# ports, announces nothing and is not redirected (its connections fail
# through the stateless LB); counters move only in A.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8121
N=5
crab_require_root
crab_check_tool ip tc python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
A_CLI=$NS_CLI A_LB=$NS_LB A_SRV=${NS_SRV[1]}
crab_client_config "$A_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "$A_SRV"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" || crab_fail "cannot install the tc LB in A"
CRAB_SFX=$CRAB_SFX-b crab_topo_setup 1
B_CLI=$NS_CLI B_LB=$NS_LB B_SRV=${NS_SRV[1]}
crab_server_config "$B_SRV"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" || crab_fail "cannot install the tc LB in B"
ep_ns_watch "$A_CLI" "$B_CLI" "$A_SRV" "$B_SRV"
crab_log "A: $A_CLI, B: $B_CLI, clients both $IP_CLI, servers both ${IP_SRV[1]}"

outa=$(ip netns exec "$A_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 5 --deadline 120 --json)
outb=$(ip netns exec "$B_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count 2 --timeout 3 --deadline 30 --json)
crab_log "A: ${outa:0:200}"
crab_log "B: ${outb:0:200}"
[ "$(ep_jget "$outa" ok)" = $N ] && [ "$(ep_jpeers "$outa" "${IP_SRV[1]}")" = $N ] &&
	[ "$(ep_counter "$A_CLI" redirected crab_client)" = $N ]
log_test $? "A (configured): $N connections redirected to ${IP_SRV[1]}"
[ "$(ep_jget "$outb" ok)" = 0 ] && [ "$(ep_counter "$B_CLI" syn_announced crab_client)" = 0 ] &&
	[ "$(ep_counter "$B_CLI" redirected crab_client)" = 0 ]
log_test $? "B (same addresses, not configured): nothing announced, nothing redirected"
ea=$(ep_counter "$A_SRV" synack_echoed crab_server) eb=$(ep_counter "$B_SRV" synack_echoed crab_server)
[ "$ea" -ge $N ] && [ "$eb" = 0 ]
log_test $? "server counters per namespace: A echoed $ea, B echoed $eb"

crab_exit
