#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# IPv6 end to end with crab_client and crab_server (docs/PROTOCOL.md 2,
# 3): a stateless IPv6 LB (nft, notrack, SYNs only: any other segment to
# the VIP is dropped) spreads SYNs to VIP6 over two backends. Connections
# complete and echo data only if redirected; getpeername() names a DIP.
# On the hub segment a sniffer checks the option space: a Linux SYN (MSS,
# SACK permitted, timestamps, window scale: 20 bytes) gets the 20-byte
# IPv6 option (NOP NOP 42 18 VIP6) and doff 15, and the backend's
# SYN-ACK the same echo. A dual-stack socket dialing ::ffff:VIP sends
# IPv4 and is redirected by the IPv4 path (peer ::ffff:DIP).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8131
N=30
crab_require_root
crab_check_tool ip nft tc bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 2
crab_topo6_setup || crab_fail "cannot give the topology its IPv6 addresses"
crab_add_host6 EVIL "$CRAB_SUBNET.66" "$CRAB_SUBNET6::66"
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI" "${NS_SRV[@]:1}"
# One list for both families.
crab_client_config "$NS_CLI" --announce "$VIP/32,$VIP6/128" \
	--allow "$CRAB_SUBNET.0/24,$CRAB_SUBNET6::/64"
crab_server_config "${NS_SRV[@]:1}"
ep_hold_pair $PORT
ep_lb6 $PORT "${IP6_SRV[1]}" "${IP6_SRV[2]}" || crab_fail "cannot install the IPv6 LB"
ep_tc_lb $PORT "${IP_SRV[1]}" "${IP_SRV[2]}" || crab_fail "cannot install the IPv4 LB"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
scnt() { echo $(($(ep_counter "${NS_SRV[1]}" "$1" crab_server) + $(ep_counter "${NS_SRV[2]}" "$1" crab_server))); }

# One connection from a known port: the option space on the wire, the peer.
ep_dial cli "$VIP6" $PORT
sa=$(ep_att synack_to "$p" 10 after="$m")
crab_log "connection from $p: $up; SYN $syn; SYN-ACK $sa"
[ "$(ep_field "$syn" kinds)" = 42,2,4,8,3 ] && [ "$(ep_field "$syn" doff)" = 15 ] &&
	[ "$(ep_field "$syn" opt)" = "$VIP6" ]
log_test $? "SYN with MSS, SACK_PERM, timestamps, wscale + the 18-byte option: doff 15, names VIP6"
[ "$(ep_field "$sa" opt)" = "$VIP6" ] && [ "$(ep_field "$sa" doff)" = 15 ]
log_test $? "the backend's SYN-ACK echoes VIP6 in the 20-byte form"
[[ "$up" == "up ${IP6_SRV[1]}" || "$up" == "up ${IP6_SRV[2]}" ]] &&
	[ "$(ep_hold cli "echo $p 1000")" = ok ]
log_test $? "getpeername() is a backend's IPv6 DIP, data echoed"

r=$(ep_hold cli "conns $VIP6 $PORT $N 10")
a1=$(cat "$EP_HOLD_DIR/acc1" 2>/dev/null) a2=$(cat "$EP_HOLD_DIR/acc2" 2>/dev/null)
syns=$(ep_lb6_count syn) other=$(ep_lb6_count other)
crab_log "conns: $r; accepted $a1 + $a2; LB syn $syns other $other"
[ "$r" = "ok $N" ] && [ "${a1:-0}" -gt 0 ] && [ "${a2:-0}" -gt 0 ] &&
	[ $((a1 + a2)) = $((N + 1)) ]
log_test $? "$N more IPv6 connections to VIP6 complete on both backends"
[ "$other" = 0 ] && [ "$syns" -ge $((N + 1)) ] && [ "$syns" -le $((N + 1 + N / 10)) ]
log_test $? "the LB saw only SYNs ($syns), nothing else ($other)"
crab_log "client: announced $(cnt syn_announced) redirected $(cnt redirected); servers: seen $(scnt syn_opt_seen) echoed $(scnt synack_echoed)"
[ "$(cnt redirected)" = $((N + 1)) ] && [ "$(cnt syn_announced)" -ge $((N + 1)) ] &&
	[ "$(scnt synack_echoed)" -ge $((N + 1)) ]
log_test $? "counters: every connection announced, echoed, redirected"

# A destination outside the announce list (a DIP dialed directly): no
# option, counted.
nl=$(cnt syn_not_listed) ann=$(cnt syn_announced)
ep_dial cli "${IP6_SRV[1]}" $PORT
crab_log "direct connection from $p: $up; SYN $syn"
[ "$up" = "up ${IP6_SRV[1]}" ] && [ "$(ep_field "$syn" opt)" = - ] &&
	[ "$(cnt syn_not_listed)" = $((nl + 1)) ] && [ "$(cnt syn_announced)" = "$ann" ]
log_test $? "a SYN to an IPv6 address outside the announce list carries no option"

# Dual stack: an IPv6 socket dialing ::ffff:VIP is IPv4 on the wire.
red=$(cnt redirected)
ep_dial cli "::ffff:$VIP" $PORT
crab_log "v4-mapped connection from $p: $up; SYN $syn"
[[ "$up" == "up ::ffff:${IP_SRV[1]}" || "$up" == "up ::ffff:${IP_SRV[2]}" ]] &&
	[ "$(ep_field "$syn" opt)" = "$VIP" ] && [ "$(ep_field "$syn" dst)" = "$VIP" ] &&
	[ "$(cnt redirected)" = $((red + 1)) ] && [ "$(ep_hold cli "echo $p 1000")" = ok ]
log_test $? "a v4-mapped socket: IPv4 SYN with the IPv4 option, redirected (peer ::ffff:DIP)"

crab_exit
