#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# The RFC 6994 form of the option end to end on the modules (docs/PROTOCOL.md
# 2): both loaded with opt_kind=254 (ExID 0xC4AB), connections through a
# stateless LB are redirected; on the wire the SYN and the SYN-ACK carry
# kind 254 with the ExID and the VIP, and no kind 42.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8120
N=10
SP=40200
crab_require_root
crab_check_tool ip tc bridge python3
ep_load_module crab_server opt_kind=254
ep_load_module crab_client opt_kind=254
crab_topo_setup 2
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
EPT="python3 $(dirname "$0")/ep_tool.py"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" "${IP_SRV[2]}" || crab_fail "cannot install the tc LB"
ep_att_start "$NS_EVIL" --kind 254 --exid 0xC4AB

r=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP --wait 20)
syn=$(ep_att syn_from $SP 10) && sa=$(ep_att synack_to $SP 10) || crab_fail "SYN or SYN-ACK not seen: $syn $sa"
crab_log "$r"
crab_log "SYN: $syn"
crab_log "SYN-ACK: $sa"
[[ ",$(ep_field "$syn" kinds)," == *,254,* && ",$(ep_field "$syn" kinds)," != *,42,* ]] &&
	[[ ",$(ep_field "$sa" kinds)," == *,254,* && ",$(ep_field "$sa" kinds)," != *,42,* ]] &&
	[ "$(ep_field "$syn" opt)" = "$VIP" ] && [ "$(ep_field "$sa" opt)" = "$VIP" ] &&
	[ "$(ep_peer "$r")" = "$(ep_field "$sa" src)" ]
log_test $? "SYN and SYN-ACK carry kind 254 with ExID 0xC4AB naming the VIP; redirected"

red0=$(ep_counter "$NS_CLI" redirected crab_client)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 5 --deadline 120 --json)
red=$(($(ep_counter "$NS_CLI" redirected crab_client) - red0))
crab_log "client: ${out:0:200}; redirected +$red"
[ "$(ep_jget "$out" ok)" = $N ] && [ "$red" = $N ] &&
	[ $(($(ep_jpeers "$out" "${IP_SRV[1]}") + $(ep_jpeers "$out" "${IP_SRV[2]}"))) = $N ]
log_test $? "$N connections redirected with the RFC 6994 form, data echoed"

crab_exit
