#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# A client whose interface is in a VRF (docs/PROTOCOL.md 3.4): crab_client
# looks sockets up with the interface indexes TCP uses for the packet (the
# VRF device and its slave), and checks the reverse path in the VRF's
# table. Sockets bound to the VRF are redirected to the backends through
# a stateless LB, with data echoed; before, their lookups passed no slave
# index and they were never found (rej_no_socket).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8116
crab_require_root
crab_check_tool ip tc python3
modprobe vrf 2>/dev/null
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 2
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
ip -n "$NS_CLI" link add vrf-blue type vrf table 10 ||
	crab_skip "kernel without VRF support (vrf.ko)"
ip -n "$NS_CLI" link set vrf-blue up
ip -n "$NS_CLI" link set eth0 master vrf-blue || crab_fail "cannot enslave eth0 to the VRF"
ip -n "$NS_CLI" route add "$VIP/32" via "$IP_LB" table 10 || crab_fail "no VIP route in the VRF"
EPT="python3 $(dirname "$0")/ep_tool.py"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" "${IP_SRV[2]}" || crab_fail "cannot install the tc LB"

rc=0
for sp in 40160 40162; do
	r=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $sp --dev vrf-blue --wait 20)
	crab_log "bound to vrf-blue, port $sp: $r"
	case $(ep_peer "$r") in
	"${IP_SRV[1]}" | "${IP_SRV[2]}") ;;
	*) rc=1 ;;
	esac
done
red=$(ep_counter "$NS_CLI" redirected crab_client)
crab_log "redirected $red, rej_no_socket $(ep_counter "$NS_CLI" rej_no_socket crab_client), rej_rpf $(ep_counter "$NS_CLI" rej_rpf crab_client)"
[ $rc = 0 ] && [ "$red" = 2 ]
log_test $? "sockets bound to a VRF are redirected to the backends, data echoed"

crab_exit
