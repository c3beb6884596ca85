#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Two client namespaces behind the same stateless LB, the client module
# configured in one only (docs/PROTOCOL.md 4: per network namespace; the
# other keeps the defaults: off). The configured one is
# redirected to the backend; the other one does not announce, so the backend
# answers without the option and its connections cannot complete through a
# stateless LB. Each namespace counts only its own SYNs.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8104
N=20
crab_require_root
crab_check_tool ip tc python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host CLI2 198.18.0.3
ip -n "$NS_CLI2" route add "$VIP/32" via "$IP_LB"
ep_ns_watch "$NS_CLI" "$NS_CLI2"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" || crab_fail "cannot install the tc LB"

out1=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 5 --deadline 120 --json)
out2=$(ip netns exec "$NS_CLI2" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count 2 --timeout 3 --deadline 30 --json)
echo "# enabled:  ${out1:0:200}"
echo "# disabled: ${out2:0:200}"
[ "$(ep_jget "$out1" ok)" = $N ] &&
	[ "$(ep_jpeers "$out1" "${IP_SRV[1]}")" = $N ]
log_test $? "enabled namespace: $N connections redirected to the DIP"
[ "$(ep_jget "$out2" ok)" = 0 ]
log_test $? "disabled namespace: no announcement, no connection via the stateless LB"

a1=$(ep_counter "$NS_CLI" syn_announced crab_client)
a2=$(ep_counter "$NS_CLI2" syn_announced crab_client)
r2=$(ep_counter "$NS_CLI2" redirected crab_client)
echo "# announced: enabled=$a1 disabled=$a2; redirected in disabled=$r2"
[ "$a1" -ge $N ] && [ "$a2" = 0 ] && [ "$r2" = 0 ]
log_test $? "counters are per namespace"

crab_exit
