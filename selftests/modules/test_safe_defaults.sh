#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Loading crab_client.ko and crab_server.ko changes nothing until an
# administrator configures them (docs/PROTOCOL.md 3.8), in every namespace,
# the existing ones and those created afterwards: client_enabled and
# server_enabled read 0, both lists are empty, and an empty list is none.
# Seen on the wire by a host on the segment (a hub): a SYN to the VIP
# carries no option, the backend's SYN-ACK (to a SYN that does carry it)
# neither; a redirect for the waiting socket, with the right ack, is
# refused (rej_disabled). Enabled with empty lists: still no option
# (syn_not_listed), a redirect refused (rej_not_allowed). Configured with
# crab_client_config / crab_server_config: redirected.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8112
SP1=40112 SP2=40113 SP3=40114
IP_EVIL=198.18.0.66
crab_require_root
crab_check_tool ip tc ss bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL $IP_EVIL
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI" "${NS_SRV[1]}"
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
crab_echo_servers $PORT
ep_tc_lb $PORT "$S" || crab_fail "cannot install the tc LB"

rd() { ip netns exec "$1" sh -c 'cd /proc/sys/net/crab && echo "$(cat client_enabled)|$(cat client_announce_cidrs)|$(cat client_allow_cidrs)|$(cat server_enabled)"'; }
d1=$(rd "$NS_CLI") d2=$(rd "${NS_SRV[1]}") d0=$(sh -c 'cd /proc/sys/net/crab && echo "$(cat client_enabled)|$(cat client_announce_cidrs)|$(cat client_allow_cidrs)|$(cat server_enabled)"')
crab_log "enabled|announce|allow|server_enabled: client ns $d1, server ns $d2, initial ns $d0"
[ "$d1" = "0|||0" ] && [ "$d2" = "0|||0" ] && [ "$d0" = "0|||0" ]
log_test $? "after load: client and server off, lists empty, in every namespace"

ep_att_start "$NS_EVIL"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
# connect_bg SPORT: a connection to the VIP left to run in the background.
connect_bg() {
	ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport "$1" --wait 20 >/dev/null &
	crab_defer "kill $!"
}

connect_bg $SP1
syn=$(ep_att syn_from $SP1 60) || crab_fail "the attacker did not see the SYN: $syn"
sa=$(ep_att synack_to $SP1 60) || crab_fail "the attacker did not see the SYN-ACK: $sa"
crab_log "SYN: $syn"
crab_log "SYN-ACK: $sa"
[ "$(ep_field "$syn" opt)" = - ] && [ "$(ep_field "$sa" opt)" = - ] && [ "$(cnt syn_announced)" = 0 ]
log_test $? "a SYN to the VIP carries no option, the backend's SYN-ACK neither"

before=$(cnt rej_disabled)
ep_att synack "$S" "$IP_CLI" $PORT $SP1 $(($(ep_field "$syn" seq) + 1)) opt="$VIP" >/dev/null
got=$(ep_wait_counter "$NS_CLI" crab_client rej_disabled $((before + 1)) 50)
[ "$got" = $((before + 1)) ] && [ "$(cnt redirected)" = 0 ]
log_test $? "a redirect with the right ack is refused: rej_disabled +$((got - before))"

# The server echoes nothing for a SYN that carries the option.
before=$(ep_counter "${NS_SRV[1]}" disabled crab_server)
m=$(ep_att mark) && m=${m#ok }
ep_att syn "$IP_EVIL" "$S" 43112 $PORT 1000 opt="$VIP" >/dev/null
sa=$(ep_att synack_to 43112 30 after="$m") || crab_fail "no SYN-ACK to the attacker's SYN: $sa"
[ "$(ep_field "$sa" opt)" = - ] &&
	[ "$(ep_wait_counter "${NS_SRV[1]}" crab_server disabled $((before + 1)) 50)" = $((before + 1)) ]
log_test $? "crab_server: a SYN with the option gets a SYN-ACK without it (disabled counted)"

# Enabled, lists empty: none announced, none accepted.
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=1
nl=$(cnt syn_not_listed)
connect_bg $SP2
syn=$(ep_att syn_from $SP2 60) || crab_fail "the attacker did not see the SYN: $syn"
before=$(cnt rej_not_allowed)
ep_att synack "$S" "$IP_CLI" $PORT $SP2 $(($(ep_field "$syn" seq) + 1)) opt="$VIP" >/dev/null
got=$(ep_wait_counter "$NS_CLI" crab_client rej_not_allowed $((before + 1)) 50)
[ "$(ep_field "$syn" opt)" = - ] && [ "$(cnt syn_not_listed)" -gt "$nl" ] &&
	[ "$got" = $((before + 1)) ] && [ "$(cnt redirected)" = 0 ]
log_test $? "enabled with empty lists: no option (syn_not_listed), redirect refused (rej_not_allowed)"

# Configured explicitly: redirected.
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
out=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP3 --wait 20)
crab_log "configured: $out"
# (The sockets still waiting from before may be redirected too now.)
[ "$(ep_peer "$out")" = "$S" ] && [ "$(cnt redirected)" -ge 1 ]
log_test $? "configured (announce $VIP/32, allow $CRAB_SUBNET.0/24, server on): redirected to $S"

crab_exit
