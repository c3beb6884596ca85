#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crab_server's state cannot be turned against it (docs/PROTOCOL.md 3.3):
#  - a SYN without the option on a 4-tuple that earlier asked for the echo
#    gets a plain SYN-ACK (the old address is not echoed; stale_cleared);
#  - a SYN flood carrying the option (600 SYNs, the table sized to 64
#    entries) cannot push out a genuine entry: the genuine half-open
#    connection's retransmitted SYN-ACK, after the flood, still carries
#    its address (synack_rtx_echoed), the flood is refused room
#    (table_full), and a new connection still gets the echo (the first
#    SYN-ACK never depends on the table).
# The peer is a raw-socket client on the segment (ep_attack.py); its RSTs
# to the genuine connection's SYN-ACKs are dropped so that the backend
# keeps retransmitting them.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8115
IP_EVIL=198.18.0.66
crab_require_root
crab_check_tool ip nft python3
ep_load_module crab_server table_entries=16
crab_topo_setup 1
crab_add_host EVIL $IP_EVIL
S=${IP_SRV[1]}
ep_ns_watch "${NS_SRV[1]}"
crab_server_config "${NS_SRV[1]}"
crab_echo_servers $PORT
# The flood's sources are routed through the attacker, which drops them.
ip -n "${NS_SRV[1]}" route add 10.99.0.0/16 via $IP_EVIL
ip netns exec "$NS_EVIL" nft add table ip crab_norst '{ chain o { type filter hook output priority 0; tcp sport 43201 tcp flags rst drop; }; }' ||
	crab_fail "cannot install the RST filter"
sc() { ep_counter "${NS_SRV[1]}" "$1" crab_server; }
ep_att_start "$NS_EVIL"

# Stale: the same 4-tuple, first with the option, then without.
sa1=$(ep_att syn $IP_EVIL "$S" 43200 $PORT 1000 opt="$VIP" >/dev/null && ep_att synack_to 43200 20) ||
	crab_fail "no SYN-ACK to the first SYN: $sa1"
m=$(ep_att mark) && m=${m#ok }
st0=$(sc stale_cleared)
sa2=$(ep_att syn $IP_EVIL "$S" 43200 $PORT 900000 >/dev/null && ep_att synack_to 43200 20 after="$m") ||
	crab_fail "no SYN-ACK to the second SYN: $sa2"
crab_log "with the option: $sa1"
crab_log "then without: $sa2; stale_cleared +$(($(sc stale_cleared) - st0))"
[ "$(ep_field "$sa1" opt)" = "$VIP" ] && [ "$(ep_field "$sa2" opt)" = - ] &&
	[ "$(sc stale_cleared)" = $((st0 + 1)) ]
log_test $? "a SYN without the option on a remembered 4-tuple: plain SYN-ACK, entry cleared"

# Flood: a genuine half-open connection, then 600 SYNs with the option.
sa=$(ep_att syn $IP_EVIL "$S" 43201 $PORT 7000 opt="$VIP" >/dev/null && ep_att synack_to 43201 20) ||
	crab_fail "no SYN-ACK to the genuine SYN: $sa"
full0=$(sc table_full) rtx0=$(sc synack_rtx_echoed)
f=$(ep_att flood 600 10.99 "$S" $PORT opt=192.0.2.1) || crab_fail "flood: $f"
m=$(ep_att mark) && m=${m#ok }
# The next retransmission of the genuine SYN-ACK (1, 3, 7 s after the first).
# (to this host: a flood source may have drawn port 43201 too)
rtx=$(ep_att synack_to 43201 20 after="$m" dst="$IP_EVIL") || crab_fail "no retransmitted SYN-ACK after the flood: $rtx"
crab_log "genuine SYN-ACK: $sa"
crab_log "after the flood: $rtx; table_full +$(($(sc table_full) - full0)), synack_rtx_echoed +$(($(sc synack_rtx_echoed) - rtx0))"
[ "$(ep_field "$sa" opt)" = "$VIP" ] && [ "$(ep_field "$rtx" opt)" = "$VIP" ] &&
	[ "$(sc synack_rtx_echoed)" -gt "$rtx0" ] && [ "$(sc table_full)" -gt "$full0" ]
log_test $? "a flood with the option does not push out a genuine entry (its retransmission is echoed)"

sa=$(ep_att syn $IP_EVIL "$S" 43202 $PORT 8000 opt="$VIP" >/dev/null && ep_att synack_to 43202 20) ||
	crab_fail "no SYN-ACK to the new SYN: $sa"
[ "$(ep_field "$sa" opt)" = "$VIP" ]
log_test $? "with the table full, a new SYN still gets the echo"

crab_exit
