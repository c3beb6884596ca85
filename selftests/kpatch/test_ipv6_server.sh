#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# The patched kernel as an IPv6 server (docs/PROTOCOL.md 2, 3.3): the
# client module (crab_client.ko) dials VIP6 through a stateless IPv6 LB
# (nft, SYNs only) to two backends that run the patched kernel with
# net.ipv4.tcp_crab_server=1 and no module. Connections complete only
# if the backends echo the 20-byte IPv6 option. A sniffer on the hub
# segment checks the echo on the wire; SYNs an attacker forges check that
# the option must be of the SYN's family (else TCPCrabBadOption, no
# echo), that a SYN cookie SYN-ACK echoes it, the RFC 6994 form, and that
# nothing is echoed with the sysctl off.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../modules/ep_lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8231
N=20
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft tc bridge python3
ep_load_module crab_client
crab_topo_setup 2
crab_topo6_setup || crab_fail "cannot give the topology its IPv6 addresses"
crab_add_host6 EVIL "$CRAB_SUBNET.66" "$CRAB_SUBNET6::66"
EVIL6=$CRAB_SUBNET6::66
S=${IP_SRV[1]} S6=${IP6_SRV[1]}
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI" "${NS_SRV[@]:1}"
crab_client_config "$NS_CLI" --announce "$VIP6/128" --allow "$CRAB_SUBNET6::/64"
# The kernel's own client stays off; its server side is all the backends run.
kp_sysctls "$NS_CLI" 0 0
kp_sysctls "${NS_SRV[1]}" 0 1
kp_sysctls "${NS_SRV[2]}" 0 1
ep_hold_pair $PORT
ep_lb6 $PORT "${IP6_SRV[1]}" "${IP6_SRV[2]}" || crab_fail "cannot install the IPv6 LB"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
echoed() { echo $(($(kp_mib "${NS_SRV[1]}" TCPCrabEchoed) + $(kp_mib "${NS_SRV[2]}" TCPCrabEchoed))); }

# One connection: the echo on the wire, the peer.
e0=$(echoed)
ep_dial cli "$VIP6" $PORT
sa=$(ep_att synack_to "$p" 10 after="$m")
crab_log "connection from $p: $up; SYN $syn; SYN-ACK $sa"
# MSS, SACK permitted + timestamps, window scale: 20 bytes; the option last.
[ "$(ep_field "$syn" opt)" = "$VIP6" ] && [ "$(ep_field "$sa" opt)" = "$VIP6" ] &&
	[ "$(ep_field "$sa" kinds)" = 2,4,8,3,42 ] && [ "$(ep_field "$sa" doff)" = 15 ]
log_test $? "the patched backend's SYN-ACK echoes VIP6 in the 20-byte form, after its own options (doff 15)"
[[ "$up" == "up ${IP6_SRV[1]}" || "$up" == "up ${IP6_SRV[2]}" ]] &&
	[ "$(ep_hold cli "echo $p 1000")" = ok ] && [ "$(echoed)" = $((e0 + 1)) ]
log_test $? "getpeername() is a backend's IPv6 DIP, data echoed, TCPCrabEchoed +1"

r=$(ep_hold cli "conns $VIP6 $PORT $N 10")
a1=$(cat "$EP_HOLD_DIR/acc1" 2>/dev/null) a2=$(cat "$EP_HOLD_DIR/acc2" 2>/dev/null)
crab_log "conns: $r; accepted $a1 + $a2; LB syn $(ep_lb6_count syn) other $(ep_lb6_count other); echoed $(echoed); client redirected $(cnt redirected)"
[ "$r" = "ok $N" ] && [ "${a1:-0}" -gt 0 ] && [ "${a2:-0}" -gt 0 ] &&
	[ "$(cnt redirected)" = $((N + 1)) ] && [ "$(echoed)" -ge $((e0 + N + 1)) ] &&
	[ "$(ep_lb6_count other)" = 0 ]
log_test $? "$N more IPv6 connections redirected to both patched backends, the LB saw SYNs only"

# sent SPORT DESCRIPTION COUNTER DELTA WANT SRC [options]: a SYN from the
# attacker to backend 1; TcpExt COUNTER +DELTA and the SYN-ACK's option
# WANT ("-": none).
sent() {
	local sp=$1 desc=$2 c=$3 d=$4 want=$5 src=$6 dst=$S6 before r; shift 6
	[[ $src == *:* ]] || dst=$S
	before=$(kp_mib "${NS_SRV[1]}" "$c")
	ep_att syn "$src" "$dst" "$sp" $PORT 1000 "$@" >/dev/null
	r=$(ep_att synack_to "$sp" 10)
	crab_log "SYN-ACK to $sp: $r"
	[ "$(kp_mib "${NS_SRV[1]}" "$c")" = $((before + d)) ] && [ "$(ep_field "$r" opt)" = "$want" ]
	log_test $? "$desc: $c +$d, SYN-ACK option $want"
}
sent 41001 "IPv6 SYN with the IPv6 option" TCPCrabEchoed 1 "$VIP6" "$EVIL6" opt="$VIP6"
sent 41002 "IPv6 SYN with the IPv4 option (length 6)" TCPCrabBadOption 1 - "$EVIL6" opt="$VIP"
sent 41003 "IPv4 SYN with the IPv6 option (length 18)" TCPCrabBadOption 1 - "$CRAB_SUBNET.66" opt="$VIP6"
sent 41004 "IPv4 SYN with the IPv4 option" TCPCrabEchoed 1 "$VIP" "$CRAB_SUBNET.66" opt="$VIP"
# kind 42 with length 17: malformed; before a valid one, the valid one
# is echoed (the first well-formed option wins).
bad=2a11$(printf '00%.0s' {1..15})010101
sent 41005 "IPv6 SYN, only a 42 option of length 17" TCPCrabBadOption 1 - "$EVIL6" raw=$bad
sent 41009 "IPv6 SYN, a 42 option of length 17 before a valid one" TCPCrabEchoed 1 \
	102:304:506:708:90a:b0c:d0e:f10 "$EVIL6" raw=${bad}01012a12$(printf '%02x' {1..16})

# SYN cookies: the SYN-ACK is built from the request sock of the SYN.
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_syncookies=2
c0=$(kp_mib "${NS_SRV[1]}" SyncookiesSent)
sent 41006 "tcp_syncookies=2: the IPv6 cookie SYN-ACK echoes" TCPCrabEchoed 1 "$VIP6" "$EVIL6" opt="$VIP6"
[ "$(kp_mib "${NS_SRV[1]}" SyncookiesSent)" -gt "$c0" ]
log_test $? "that SYN-ACK was a SYN cookie one (SyncookiesSent +$(($(kp_mib "${NS_SRV[1]}" SyncookiesSent) - c0)))"
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_syncookies=1

# RFC 6994 form: kind 254, length 20, ExID 0xC4AB, the IPv6 address. The
# sniffer looks for kind 42: the echo is read from kinds and doff (MSS 4
# + 20 bytes).
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_crab_kind=254
e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
ep_att syn "$EVIL6" "$S6" 41007 $PORT 1000 raw=fe14c4ab$(printf '%02x' {1..16}) >/dev/null
r=$(ep_att synack_to 41007 10)
crab_log "SYN-ACK to 41007: $r"
[ "$(ep_field "$r" kinds)" = 2,254 ] && [ "$(ep_field "$r" doff)" = 11 ] &&
	[ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = $((e0 + 1)) ]
log_test $? "tcp_crab_kind=254: an IPv6 SYN's 20-byte RFC 6994 option is echoed"
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_crab_kind=42

# Off: nothing is echoed, nothing counted.
kp_sysctls "${NS_SRV[1]}" 0 0
sent 41008 "tcp_crab_server=0: an IPv6 SYN with the option" TCPCrabEchoed 0 - "$EVIL6" opt="$VIP6"

crab_exit
