#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crab_server echoes the option only in SYN-ACKs answering a SYN that had
# it (docs/PROTOCOL.md 3.3), with the SYN's address; a plain SYN gets a
# plain SYN-ACK. Seen on the wire by a host on the segment (a hub).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8102
SP1=40201 SP2=40202
crab_require_root
crab_check_tool ip bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "${NS_SRV[1]}"
# The client announces to the server's subnet (it dials the server directly).
crab_client_config "$NS_CLI" --announce "$CRAB_SUBNET.0/24" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
crab_echo_servers $PORT
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
ep_att_start "$NS_EVIL"

# Direct connections to the server: the first announces (option naming S),
# the second is sent with the client module disabled (no option).
r1=$(ip netns exec "$NS_CLI" $EPT connect --addr "$S" --port $PORT --sport $SP1 --wait 10)
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=0
r2=$(ip netns exec "$NS_CLI" $EPT connect --addr "$S" --port $PORT --sport $SP2 --wait 10)
crab_log "$r1"
crab_log "$r2"
[ "$(ep_peer "$r1")" = "$S" ] && [ "$(ep_peer "$r2")" = "$S" ]
log_test $? "both connections echo data"

s1=$(ep_att syn_from $SP1 10) && a1=$(ep_att synack_to $SP1 10) &&
	s2=$(ep_att syn_from $SP2 10) && a2=$(ep_att synack_to $SP2 10) ||
	crab_fail "SYNs or SYN-ACKs not seen: $s1 $a1 $s2 $a2"
printf '# %s\n' "$s1" "$a1" "$s2" "$a2"
[ "$(ep_field "$s1" opt)" = "$S" ] && [ "$(ep_field "$a1" opt)" = "$S" ]
log_test $? "SYN with the option: SYN-ACK echoes its address"
[ "$(ep_field "$s2" opt)" = - ] && [ "$(ep_field "$a2" opt)" = - ]
log_test $? "SYN without the option: SYN-ACK without it"

e=$(ep_counter "${NS_SRV[1]}" synack_echoed crab_server)
s=$(ep_counter "${NS_SRV[1]}" syn_opt_seen crab_server)
[ "$e" = 1 ] && [ "$s" = 1 ]
log_test $? "server counters: syn_opt_seen=$s synack_echoed=$e"

crab_exit
