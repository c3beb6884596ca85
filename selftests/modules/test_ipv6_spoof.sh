#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crab_client's checks of docs/PROTOCOL.md 3.4 and the option rules of
# docs/PROTOCOL.md 2 in IPv6. Client sockets wait in SYN-SENT to VIP6 (the
# LB black-holes it); a host on the hub segment reads their SYNs and forges
# SYN-ACKs naming VIP6 with the right ack, from sources that must be
# refused: unspecified, link-local, the client's own address,
# IPv4-compatible, v4-mapped, one routed out of another interface, a
# backend with a bad checksum, a source outside the allow list; a wrong
# ack; TCP-MD5; the IPv4
# option (length 6) in an IPv6 SYN-ACK and the IPv6 one in an IPv4
# SYN-ACK; malformed option lengths; a fragment header. None moves the
# socket, each is counted by its reason. Multicast and loopback sources
# never reach netfilter (IPv6 input drops them: Ip6InHdrErrors).
# A valid SYN-ACK behind a destination options header is then taken.
# crab_server: an IPv6 SYN with the IPv4 option or a malformed one gets no
# echo (counted), with the IPv6 option it gets it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8133
crab_require_root
crab_check_tool ip bridge python3 ss
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_topo6_setup || crab_fail "cannot give the topology its IPv6 addresses"
crab_add_host6 EVIL "$CRAB_SUBNET.66" "$CRAB_SUBNET6::66"
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI" "${NS_SRV[1]}"
S=${IP_SRV[1]} S6=${IP6_SRV[1]} EVIL6=$CRAB_SUBNET6::66
# Redirects only from the servers (::10/124, .8/29): the attacker is outside.
crab_client_config "$NS_CLI" --announce "$VIP/32,$VIP6/128" \
	--allow "$CRAB_SUBNET.8/29,$CRAB_SUBNET6::10/124"
crab_server_config "${NS_SRV[1]}"
# Another interface of the client, with its own prefix.
ip -n "$NS_CLI" link add dummy0 type dummy &&
	ip -n "$NS_CLI" addr add fd00:77::1/64 dev dummy0 nodad &&
	ip -n "$NS_CLI" link set dummy0 up || crab_fail "cannot add dummy0"
# The LB drops the SYNs: the sockets wait in SYN-SENT.
ip -n "$NS_LB" -6 route add blackhole "$VIP6/128" &&
	ip -n "$NS_LB" route add blackhole "$VIP/32" || crab_fail "cannot black-hole the VIPs"
ep_hold_start cli "$NS_CLI"
ep_hold_start srv "${NS_SRV[1]}"
ep_att_start "$NS_EVIL"
[ "$(ep_hold srv "listen $PORT dual")" = ok ] || crab_fail "listener on the server"

cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
scnt() { ep_counter "${NS_SRV[1]}" "$1" crab_server; }
# held ADDR: a socket waiting in SYN-SENT to ADDR; sets P (its port) and
# ISN (its SYN's sequence number, as the attacker saw it).
held() {
	local r m
	# after the mark: the kernel's pick may be an earlier socket's port
	m=$(ep_att mark) && m=${m#ok } || crab_fail "no mark from the sniffer: $m"
	P=$(ep_hold cli "connect $1 $PORT")
	r=$(ep_att syn_from "$P" 30 after="$m") || crab_fail "the attacker did not see the SYN from $P: $r"
	ISN=$(ep_field "$r" seq)
	crab_log "held $P: $r"
}
# forge COUNTER DESCRIPTION SRC ACK [ep_attack options]: a SYN-ACK from SRC
# to the held socket; COUNTER +1, nothing redirected.
forge() {
	local c=$1 desc=$2 src=$3 ack=$4 before got dst=$IP6_CLI; shift 4
	[[ $src == *:* ]] || dst=$IP_CLI
	before=$(cnt "$c")
	ep_att synack "$src" "$dst" $PORT "$P" "$ack" "$@" >/dev/null
	got=$(ep_wait_counter "$NS_CLI" crab_client "$c" $((before + 1)) 50)
	[ "$got" = $((before + 1)) ] && [ "$(cnt redirected)" = 0 ]
	log_test $? "$desc: refused, $c +$((got - before))"
}
syn_sent() {
	ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$1" | awk '{ print $4 }'
}

held "$VIP6"
P6=$P A6=$((ISN + 1))
forge rej_src_zero "SYN-ACK from :: (unspecified)" :: $A6 opt="$VIP6"
forge rej_src_linklocal "SYN-ACK from fe80::5 (link-local)" fe80::5 $A6 opt="$VIP6"
forge rej_src_local "SYN-ACK from $IP6_CLI (the client's own address)" "$IP6_CLI" $A6 opt="$VIP6"
forge rej_src_martian "SYN-ACK from ::198.18.0.66 (IPv4-compatible)" ::198.18.0.66 $A6 opt="$VIP6"
forge rej_rpf "SYN-ACK from fd00:77::5 (routed out of dummy0, came in on eth0)" fd00:77::5 $A6 opt="$VIP6"
forge rej_bad_csum "SYN-ACK from the backend with a bad checksum (IPv6 pseudo-header)" "$S6" $A6 opt="$VIP6" csum=bad
forge rej_not_allowed "SYN-ACK from $EVIL6 (outside the allow list)" "$EVIL6" $A6 opt="$VIP6"
forge rej_bad_ack "SYN-ACK from the backend with ack != ISN + 1" "$S6" $((A6 + 1)) opt="$VIP6"
# TCP-MD5 (18 bytes) and NOP NOP 42 18 VIP6: 38 bytes, no room for an MSS
forge rej_signed "SYN-ACK carrying TCP-MD5 (option 19)" "$S6" $A6 md5=crab \
	raw=01012a12fd00c4ab010000000000000000000001
forge opt_bad_len "the IPv4 option (length 6) in an IPv6 SYN-ACK" "$S6" $A6 opt="$VIP"
# NOP NOP 42 19, VIP6 and one byte more, EOL
forge opt_bad_len "a redirect option of length 19 in an IPv6 SYN-ACK" "$S6" $A6 \
	raw=01012a13fd00c4ab010000000000000000000001ff00
forge opt_malformed "an option of length 1" "$S6" $A6 raw=0204059401012a01
forge opt_malformed "an option running past doff" "$S6" $A6 raw=020405942a12fd00c4ab0100
forge fragment "a SYN-ACK behind a fragment header" "$S6" $A6 opt="$VIP6" ext=frag

forge rej_src_v4mapped "SYN-ACK from ::ffff:$S (v4-mapped)" "::ffff:$S" $A6 opt="$VIP6"

# Sources IPv6 input drops before any netfilter hook (RFC 4291 2.7,
# 2.5.3): counted by the stack.
h0=$(ep_counter "$NS_CLI" Ip6InHdrErrors snmp6)
for src in ff02::1 ::1; do
	ep_att synack "$src" "$IP6_CLI" $PORT "$P" $A6 opt="$VIP6" >/dev/null
done
h=$(ep_wait_counter "$NS_CLI" snmp6 Ip6InHdrErrors $((h0 + 2)) 50)
[ "$h" -ge $((h0 + 2)) ] && [ "$(cnt redirected)" = 0 ]
log_test $? "SYN-ACKs from ff02::1 and ::1: dropped by IPv6 input (Ip6InHdrErrors +$((h - h0)))"

held "$VIP"
P4=$P
forge opt_bad_len "the IPv6 option (length 18) in an IPv4 SYN-ACK" "$S" $((ISN + 1)) opt="$VIP6"
crab_log "client counters: $(ip netns exec "$NS_CLI" awk '$2 != 0' /proc/net/crab_client | tr '\n' ' ')"
[ "$(syn_sent $P6)" = "[$VIP6]:$PORT" ] && [ "$(syn_sent $P4)" = "$VIP:$PORT" ] &&
	[ "$(cnt redirected)" = 0 ]
log_test $? "no socket re-keyed: both still SYN-SENT to the VIPs"

# The valid one, behind a destination options header, is taken.
P=$P6
ep_att synack "$S6" "$IP6_CLI" $PORT $P6 $A6 opt="$VIP6" ext=dst >/dev/null
got=$(ep_wait_counter "$NS_CLI" crab_client redirected 1 50)
[ "$got" = 1 ]
log_test $? "a valid SYN-ACK from the backend (destination options header) is taken (redirected $got)"

# The server: the option of the wrong family or malformed is no request.
# sent SPORT DESCRIPTION COUNTER WANT SRC [options]: a SYN from the
# attacker; COUNTER +1 and the SYN-ACK's option WANT ("-": none).
sent() {
	local sp=$1 desc=$2 c=$3 want=$4 src=$5 dst=$S6 before got r; shift 5
	[[ $src == *:* ]] || dst=$S
	before=$(scnt "$c")
	ep_att syn "$src" "$dst" "$sp" $PORT 1000 "$@" >/dev/null
	r=$(ep_att synack_to "$sp" 10)
	got=$(ep_wait_counter "${NS_SRV[1]}" crab_server "$c" $((before + 1)) 50)
	crab_log "SYN-ACK to $sp: $r"
	[ "$got" = $((before + 1)) ] && [ "$(ep_field "$r" opt)" = "$want" ]
	log_test $? "server: $desc: $c +$((got - before)), SYN-ACK option $want"
}
sent 41001 "IPv6 SYN with the IPv6 option" synack_echoed "$VIP6" "$EVIL6" opt="$VIP6"
sent 41002 "IPv6 SYN with the IPv4 option" opt_bad_len - "$EVIL6" opt="$VIP"
sent 41003 "IPv4 SYN with the IPv6 option" opt_bad_len - "$CRAB_SUBNET.66" opt="$VIP6"
sent 41004 "IPv6 SYN with a malformed option" opt_malformed - "$EVIL6" raw=020405b42a01

crab_exit
