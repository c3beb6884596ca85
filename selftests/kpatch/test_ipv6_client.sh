#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# The patched kernel as an IPv6 client (docs/PROTOCOL.md 2, 3.2, 3.4):
# net.ipv4.tcp_crab_client with IPv6 prefixes in its lists dials VIP6
# through a stateless IPv6 LB (nft, SYNs only) to two patched backends
# (tcp_crab_server). Connections complete only if the client re-keys its
# socket to the backend. Checked on the wire (a sniffer on the hub
# segment) and in the TcpExt counters:
#  - the SYN carries the 18-byte option after MSS, SACK permitted,
#    timestamps and window scale (doff 15); getpeername() is the DIP; the
#    LB sees SYNs only; a destination outside the list gets no option;
#  - a SYN with no room left (a TCP Fast Open cookie request) goes
#    without it, counted;
#  - a dual-stack socket dialing ::ffff:VIP announces and is redirected in
#    the IPv4 form (peer ::ffff:DIP);
#  - behind an IPv6 stateful firewall (policy drop): with
#    nf_conntrack_tcp_crab 0 the redirecting SYN-ACK is INVALID and
#    dropped; with 1 redirects complete and conntrack holds client ->
#    DIP6; a rule dropping a backend stops its redirects;
#  - a redirect onto the client's own IPv6 TIME-WAIT replaces it;
#  - the lists take IPv6 prefixes, masked, and refuse bad ones whole;
#  - forged SYN-ACKs (a host on the segment, the right ack) from sources
#    that must be refused: unspecified, link-local, the client's own
#    address, IPv4-compatible, v4-mapped, off the reverse path, outside
#    the allow list; a bad checksum, a wrong ack, a socket with a TCP-MD5
#    key, the IPv4 option or a malformed one, no socket: none moves a
#    socket, each is counted by reason; multicast and loopback sources
#    are dropped by IPv6 input; then a valid one behind a destination
#    options header moves its socket.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../modules/ep_lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8232
N=20
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft tc bridge python3 ss
crab_topo_setup 2
crab_topo6_setup || crab_fail "cannot give the topology its IPv6 addresses"
crab_add_host6 EVIL "$CRAB_SUBNET.66" "$CRAB_SUBNET6::66"
EVIL6=$CRAB_SUBNET6::66
S6=${IP6_SRV[1]}
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
# Another interface of the client, with its own prefix (reverse path).
ip -n "$NS_CLI" link add dummy0 type dummy &&
	ip -n "$NS_CLI" addr add fd00:77::1/64 dev dummy0 nodad &&
	ip -n "$NS_CLI" link set dummy0 up || crab_fail "cannot add dummy0"
kp_sysctls "$NS_CLI" 1 0
ALLOW="$CRAB_SUBNET6::10/124,$CRAB_SUBNET.0/24"
kp_lists "$NS_CLI" "$VIP6/128,$VIP/32" "$ALLOW" || crab_fail "cannot set the prefix lists"
kp_sysctls "${NS_SRV[1]}" 0 1
kp_sysctls "${NS_SRV[2]}" 0 1
ep_hold_pair $PORT
ep_lb6 $PORT "${IP6_SRV[1]}" "${IP6_SRV[2]}" || crab_fail "cannot install the IPv6 LB"
kp_nft_lb $PORT || crab_fail "cannot install the IPv4 LB"
mib() { kp_mib "$NS_CLI" "$1"; }
mark() { m=$(ep_att mark) && m=${m#ok } || crab_fail "no mark from the sniffer: $m"; }

# ---- redirects --------------------------------------------------------------
a0=$(mib TCPCrabAnnounced) r0=$(mib TCPCrabRedirected)
ep_dial cli "$VIP6" $PORT
crab_log "connection from $p: $up; SYN $syn"
# MSS 4, SACK permitted + timestamps 12, window scale 4: the 20 bytes left
# take NOP NOP 42 18 VIP6.
[ "$(ep_field "$syn" opt)" = "$VIP6" ] && [ "$(ep_field "$syn" kinds)" = 2,4,8,3,42 ] &&
	[ "$(ep_field "$syn" doff)" = 15 ]
log_test $? "the SYN names VIP6 in 18 bytes after MSS, SACK_PERM, timestamps and wscale (doff 15)"
[[ "$up" == "up ${IP6_SRV[1]}" || "$up" == "up ${IP6_SRV[2]}" ]] &&
	[ "$(ep_hold cli "echo $p 1000")" = ok ] &&
	[ "$(mib TCPCrabAnnounced)" = $((a0 + 1)) ] && [ "$(mib TCPCrabRedirected)" = $((r0 + 1)) ]
log_test $? "getpeername() is a backend's IPv6 DIP ($up), data echoed, Announced and Redirected +1"

r=$(ep_hold cli "conns $VIP6 $PORT $N 10")
a1=$(cat "$EP_HOLD_DIR/acc1" 2>/dev/null) a2=$(cat "$EP_HOLD_DIR/acc2" 2>/dev/null)
syns=$(ep_lb6_count syn) other=$(ep_lb6_count other)
crab_log "conns: $r; accepted $a1 + $a2; LB syn $syns other $other; $(kp_mibs "$NS_CLI" TCPCrabAnnounced TCPCrabRedirected)"
[ "$r" = "ok $N" ] && [ "${a1:-0}" -gt 0 ] && [ "${a2:-0}" -gt 0 ] &&
	[ "$(mib TCPCrabRedirected)" = $((r0 + N + 1)) ] && [ "$other" = 0 ]
log_test $? "$N more IPv6 connections redirected to both backends, the LB saw SYNs only ($syns)"

# A destination outside the announce list: no option.
a0=$(mib TCPCrabAnnounced)
ep_dial cli "$S6" $PORT
crab_log "direct connection from $p: $up; SYN $syn"
[ "$up" = "up $S6" ] && [ "$(ep_field "$syn" opt)" = - ] && [ "$(mib TCPCrabAnnounced)" = "$a0" ]
log_test $? "a SYN to an IPv6 address outside tcp_crab_announce carries no option"

# No room: a TCP Fast Open cookie request (4 bytes) leaves 16, the IPv6
# option needs 20: the SYN goes without it (the connection then fails:
# the backend's plain SYN-ACK is reset).
n0=$(mib TCPCrabAnnounceNoRoom) a0=$(mib TCPCrabAnnounced) r0=$(mib TCPCrabRedirected)
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_syn_retries=1
t=$(ep_hold cli "tfo $VIP6 $PORT 100")
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_syn_retries=6
crab_log "TFO connection: $t; $(kp_mibs "$NS_CLI" TCPCrabAnnounced TCPCrabAnnounceNoRoom TCPFastOpenActiveFail)"
[ "$(mib TCPCrabAnnounceNoRoom)" = $((n0 + 1)) ] && [ "$(mib TCPCrabAnnounced)" = $((a0 + 1)) ] &&
	[ "$(mib TCPCrabRedirected)" = "$r0" ] && [[ "$t" == fail* ]]
log_test $? "an IPv6 SYN with a TFO cookie request has no room for the option: sent without it, AnnounceNoRoom +1"

# Dual stack: an IPv6 socket dialing ::ffff:VIP is IPv4 on the wire.
r0=$(mib TCPCrabRedirected)
ep_dial cli "::ffff:$VIP" $PORT
crab_log "v4-mapped connection from $p: $up; SYN $syn"
[[ "$up" == "up ::ffff:${IP_SRV[1]}" || "$up" == "up ::ffff:${IP_SRV[2]}" ]] &&
	[ "$(ep_field "$syn" opt)" = "$VIP" ] && [ "$(ep_field "$syn" dst)" = "$VIP" ] &&
	[ "$(mib TCPCrabRedirected)" = $((r0 + 1)) ] && [ "$(ep_hold cli "echo $p 1000")" = ok ]
log_test $? "a v4-mapped socket: IPv4 SYN with the IPv4 option, redirected (peer ::ffff:DIP)"

# ---- behind a stateful firewall (conntrack) ---------------------------------
ip netns exec "$NS_CLI" nft -f - <<-NFT || crab_fail "cannot install the firewall"
table ip6 fw6 {
	counter invalid { }
	counter from_s1 { }
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid counter name "invalid" drop
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
	}
}
NFT
ctr() { ip netns exec "$NS_CLI" nft list counter ip6 fw6 "$1" | sed -n 's/.*packets \([0-9]*\) .*/\1/p'; }
accepted() { echo $(($(cat "$EP_HOLD_DIR/acc1" 2>/dev/null || echo 0) + 0)) $(($(cat "$EP_HOLD_DIR/acc2" 2>/dev/null || echo 0) + 0)); }
r0=$(mib TCPCrabRedirected) i0=$(ctr invalid)
r=$(ep_hold cli "conns $VIP6 $PORT 1 3")
i1=$(ctr invalid)
crab_log "nf_conntrack_tcp_crab 0: $r; invalid $i0 -> $i1"
[[ "$r" == fail* ]] && [ "$(mib TCPCrabRedirected)" = "$r0" ] && [ "$i1" -gt "$i0" ]
log_test $? "firewall, nf_conntrack_tcp_crab 0: the IPv6 redirecting SYN-ACK is INVALID, dropped"
ip netns exec "$NS_CLI" sysctl -qw net.netfilter.nf_conntrack_tcp_crab=1
r0=$(mib TCPCrabRedirected) i0=$(ctr invalid) acc0=$(accepted)
r=$(ep_hold cli "conns $VIP6 $PORT 6 10")
acc1=$(accepted)
# /proc/net/nf_conntrack prints IPv6 addresses in full.
s6x=$(python3 -c "import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]).exploded)" "$S6")
n=$(ip netns exec "$NS_CLI" grep -c "dst=$s6x sport=[0-9]* dport=$PORT src=$s6x" /proc/net/nf_conntrack)
# Under "policy drop", a redirected connection completes only if its
# SYN-ACK was ESTABLISHED for conntrack. (The invalid counter may still
# move: the backends retransmit the SYN-ACKs of the connection refused
# above.)
crab_log "nf_conntrack_tcp_crab 1: $r; Redirected +$(($(mib TCPCrabRedirected) - r0)); invalid $i0 -> $(ctr invalid); accepted $acc0 -> $acc1; conntrack entries with $S6: $n"
[ "$r" = "ok 6" ] && [ "$(mib TCPCrabRedirected)" = $((r0 + 6)) ] && [ "$n" -ge 1 ]
log_test $? "firewall, nf_conntrack_tcp_crab 1: 6 IPv6 connections redirected through policy drop, conntrack client -> DIP6"
ip netns exec "$NS_CLI" nft insert rule ip6 fw6 input ip6 saddr "$S6" counter name from_s1 drop
p0=$(ctr from_s1) acc0=$(accepted)
r=$(ep_hold cli "conns $VIP6 $PORT 4 10")
p1=$(ctr from_s1) acc1=$(accepted)
crab_log "ip6 saddr $S6 drop: $r; dropped $p0 -> $p1; accepted $acc0 -> $acc1"
[ "$r" = "ok 4" ] && [ "$p1" -gt "$p0" ] && [ "${acc1%% *}" = "${acc0%% *}" ]
log_test $? "ip6 saddr $S6 drop in the input chain: no connection ends on it, 4 on the other backend"
ip netns exec "$NS_CLI" nft delete table ip6 fw6

# TIME-WAIT: the client closes a direct connection to backend 1 first,
# then dials VIP6 from the same port; the LB sends that SYN to backend 1.
ip netns exec "$NS_LB" nft delete table ip6 crab_mod_lb6 &&
	ep_lb6 $PORT "$S6" || crab_fail "cannot point the IPv6 LB at backend 1"
TWP=40777
p=$(ep_hold cli "connect $S6 $PORT $TWP")
up=$(ep_hold cli "wait $p 30")
[ "$up" = "up $S6" ] && [ "$(ep_hold cli "echo $p 100")" = ok ] && ep_hold cli "close $p" >/dev/null
for i in $(seq 50); do
	[ -n "$(ip netns exec "$NS_CLI" ss -Htn state time-wait "sport = :$TWP")" ] && break
	sleep 0.1
done
tw=$(ip netns exec "$NS_CLI" ss -Htn state time-wait "sport = :$TWP" | awk '{ print $4 }')
t0=$(mib TCPCrabTwReplaced)
p=$(ep_hold cli "connect $VIP6 $PORT $TWP")
up=$(ep_hold cli "wait $p 10")
crab_log "TIME-WAIT before: $tw; redirect from $TWP: $up; $(kp_mibs "$NS_CLI" TCPCrabTwReplaced TCPCrabRejectDuplicate)"
[ "$tw" = "[$S6]:$PORT" ] && [ "$up" = "up $S6" ] && [ "$(mib TCPCrabTwReplaced)" = $((t0 + 1)) ] &&
	[ "$(ep_hold cli "echo $p 100")" = ok ]
log_test $? "a redirect onto the client's IPv6 TIME-WAIT replaces it (TCPCrabTwReplaced +1)"

# ---- the lists in IPv6 --------------------------------------------------------
lw() { printf '%s' "$1" | ip netns exec "$NS_CLI" tee /proc/sys/net/ipv4/tcp_crab_announce >/dev/null 2>&1; }
lr() { ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_announce; }
lw "2001:DB8:0:0::ff/120 10.1.2.3/8,fd00::1" && got=$(lr)
[ "$got" = "2001:db8::/120,10.0.0.0/8,fd00::1/128" ]
log_test $? "an IPv6 prefix is masked and printed in its shortest form ($got)"
ok=0
for bad in "fd00::/129" "fd00::1::2" "fd00::/" "fd00::g" "10.0.0.0/8,fd00::/200"; do
	lw "$bad" && { crab_log "'$bad' was taken"; ok=1; }
done
[ $ok = 0 ] && [ "$(lr)" = "$got" ]
log_test $ok "bad IPv6 entries fail the write, the list is unchanged"
long="fd00::/8$(printf '%*s' 2900 '')10.0.0.0/8"
! lw "$long" && [ "$(lr)" = "$got" ]
log_test $? "a ${#long}-byte write fails, the list is unchanged"
many=$(printf 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:%x/128,' $(seq 4096 4159))
lw "${many%,}" && [ "$(lr)" = "${many%,}" ]
log_test $? "64 entries of the longest IPv6 form (${#many} bytes) are taken and read back whole"
kp_lists "$NS_CLI" "$VIP6/128,$VIP/32" "$ALLOW" || crab_fail "cannot set the prefix lists"

# ---- forged SYN-ACKs ------------------------------------------------------------
# The LB drops the SYNs to VIP6: the sockets wait in SYN-SENT.
ip netns exec "$NS_LB" nft delete table ip6 crab_mod_lb6 &&
	ip -n "$NS_LB" -6 route add blackhole "$VIP6/128" || crab_fail "cannot black-hole VIP6"
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_syn_retries=8
# held [md5]: a socket waiting in SYN-SENT to VIP6; sets P and ACK (its
# SYN's sequence number + 1, as the attacker saw it).
held() {
	local r
	mark
	P=$(ep_hold cli "connect $VIP6 $PORT")
	r=$(ep_att syn_from "$P" 30 after="$m") || crab_fail "the attacker did not see the SYN from $P: $r"
	ACK=$(($(ep_field "$r" seq) + 1))
	crab_log "held $P: $r"
}
syn_sent() {
	ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$1" | awk '{ print $4 }'
}
# cnt NAME: TcpExt counter NAME of the client, or Tcp InCsumErrors.
cnt() {
	case $1 in
	InCsumErrors) crab_snmp "$NS_CLI" Tcp InCsumErrors ;;
	*) mib "$1" ;;
	esac
}
# wait_cnt NAME BEFORE: counter NAME once it passed BEFORE (5 s at most).
wait_cnt() {
	local i v
	for ((i = 0; i < 50; i++)); do
		v=$(cnt "$1")
		[ "$v" -gt "$2" ] && break
		sleep 0.1
	done
	echo "$v"
}
# forge COUNTER DESCRIPTION SRC ACK [ep_attack options]: a SYN-ACK from SRC
# to the held socket P; COUNTER +1, nothing moved, P still SYN-SENT (when
# it is a socket: NOSOCK=1 says it is not).
forge() {
	local c=$1 desc=$2 src=$3 ack=$4 before red got want=; shift 4
	[ "${NOSOCK:-0}" = 1 ] || want="[$VIP6]:$PORT"
	before=$(cnt "$c") red=$(mib TCPCrabRedirected)
	ep_att synack "$src" "$IP6_CLI" $PORT "$P" "$ack" "$@" >/dev/null
	got=$(wait_cnt "$c" "$before")
	[ "$got" = $((before + 1)) ] && [ "$(mib TCPCrabRedirected)" = "$red" ] &&
		[ "$(syn_sent "$P")" = "$want" ]
	log_test $? "$desc: refused, $c +$((got - before))"
}

held
# Any sender allowed: the checks of the sender hold whatever the list says.
kp_lists "$NS_CLI" "$VIP6/128" "::/0"
forge TCPCrabRejectMartian "SYN-ACK from :: (unspecified)" :: "$ACK" opt="$VIP6"
forge TCPCrabRejectMartian "SYN-ACK from fe80::5 (link-local)" fe80::5 "$ACK" opt="$VIP6"
forge TCPCrabRejectMartian "SYN-ACK from $IP6_CLI (the client's own address)" "$IP6_CLI" "$ACK" opt="$VIP6"
forge TCPCrabRejectMartian "SYN-ACK from ::198.18.0.66 (IPv4-compatible)" ::198.18.0.66 "$ACK" opt="$VIP6"
forge TCPCrabRejectMartian "SYN-ACK from ::ffff:${IP_SRV[1]} (v4-mapped)" "::ffff:${IP_SRV[1]}" "$ACK" opt="$VIP6"
forge TCPCrabRejectRpFilter "SYN-ACK from fd00:77::5 (routed out of dummy0, came in on eth0)" \
	fd00:77::5 "$ACK" opt="$VIP6"
# Sources IPv6 input drops before TCP (RFC 4291 2.7, 2.5.3).
h0=$(ep_counter "$NS_CLI" Ip6InHdrErrors snmp6)
for src in ff02::1 ::1; do
	ep_att synack "$src" "$IP6_CLI" $PORT "$P" "$ACK" opt="$VIP6" >/dev/null
done
h=$(ep_wait_counter "$NS_CLI" snmp6 Ip6InHdrErrors $((h0 + 2)) 50)
[ "$h" -ge $((h0 + 2)) ] && [ "$(syn_sent "$P")" = "[$VIP6]:$PORT" ]
log_test $? "SYN-ACKs from ff02::1 and ::1: dropped by IPv6 input (Ip6InHdrErrors +$((h - h0)))"
kp_lists "$NS_CLI" "$VIP6/128" "$CRAB_SUBNET6::10/124"
forge TCPCrabRejectNotAllowed "SYN-ACK from $EVIL6 (outside tcp_crab_allow)" "$EVIL6" "$ACK" opt="$VIP6"
forge TCPCrabRejectBadAck "SYN-ACK from the backend with ack = ISN + 2" "$S6" $((ACK + 1)) opt="$VIP6"
forge TCPCrabBadOption "the IPv4 option (length 6) in an IPv6 SYN-ACK" "$S6" "$ACK" opt="$VIP"
# NOP NOP 42 19, VIP6 and one byte more, EOL
forge TCPCrabBadOption "a redirect option of length 19" "$S6" "$ACK" \
	raw=01012a13fd00c4ab010000000000000000000001ff00
forge TCPCrabBadOption "an option running past doff" "$S6" "$ACK" raw=020405942a12fd00c4ab0100
forge InCsumErrors "SYN-ACK from the backend with a bad checksum (IPv6 pseudo-header)" "$S6" "$ACK" \
	opt="$VIP6" csum=bad
P=40999 NOSOCK=1 forge TCPCrabRejectNotSynSent "SYN-ACK to a port with no socket" "$S6" "$ACK" opt="$VIP6"
held
r=$(ep_hold cli "md5 $P secret $VIP6")
[ "$r" = ok ] || crab_fail "cannot give socket $P a TCP-MD5 key: $r"
forge TCPCrabRejectKeyed "socket with a TCP-MD5 key (for VIP6) after its SYN" "$S6" "$ACK" opt="$VIP6"

# The valid one, behind a destination options header, moves the socket.
held
r0=$(mib TCPCrabRedirected)
ep_att synack "$S6" "$IP6_CLI" $PORT "$P" "$ACK" opt="$VIP6" ext=dst >/dev/null
got=$(wait_cnt TCPCrabRedirected "$r0")
# The backend never saw that SYN: it resets the socket's ACK. The socket
# left SYN-SENT to VIP6 either way.
[ "$got" = $((r0 + 1)) ] && [ -z "$(syn_sent "$P")" ]
log_test $? "a valid SYN-ACK from the backend (destination options header) moves the socket (Redirected +$((got - r0)))"
crab_log "client: $(kp_mibs "$NS_CLI" $KP_MIBS)"

crab_exit
