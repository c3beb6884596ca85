#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Safe by default, lists parsed whole, the namespace is the ceiling
# (docs/PROTOCOL.md 3.1, 3.4, 3.8):
#  - a new namespace has tcp_crab_client 0, tcp_crab_server 0, empty
#    tcp_crab_announce and tcp_crab_allow, kind 42, ExID 0xC4AB and
#    nf_conntrack_tcp_crab 0;
#  - with the client on, an empty announce list announces to no one and an
#    empty allow list accepts no server (refusal counted); both set, the
#    connection is redirected;
#  - a list write is parsed whole: a second write() on the same descriptor
#    (offset > 0), an over-long input, more than 64 entries or one bad entry
#    fail with an error and leave the old list; entries read back
#    normalised; per namespace; tcp_crab_kind takes 42 or 254 only;
#  - TCP_CRAB_REDIRECT, set by an unprivileged program (uid 65534), can turn
#    redirection off but never on where the namespace did not: 1 with the
#    client off, or with a destination outside the announce list, announces
#    nothing; values other than 0 and 1 are refused; the default reads 1.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8211
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 setpriv
crab_topo_setup 3
for i in 1 2 3; do kp_sysctls "${NS_SRV[i]}" 0 1; done
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
SYS=/proc/sys/net/ipv4

# ---- defaults ---------------------------------------------------------------
d=
for s in tcp_crab_client tcp_crab_server tcp_crab_announce tcp_crab_allow tcp_crab_kind tcp_crab_exid; do
	d+="$s=$(ip netns exec "$NS_CLI" cat "$SYS/$s"),"
done
d+="ct=$(ip netns exec "$NS_CLI" cat /proc/sys/net/netfilter/nf_conntrack_tcp_crab)"
[ "$d" = "tcp_crab_client=0,tcp_crab_server=0,tcp_crab_announce=,tcp_crab_allow=,tcp_crab_kind=42,tcp_crab_exid=50347,ct=0" ]
log_test $? "defaults of a new namespace: $d"

kp_helper cli "$NS_CLI" serve
kp_helper nobody "$NS_CLI" serve setpriv --reuid=65534 --regid=65534 --clear-groups

# attempt HELPER ID [connect options]: one connection to the VIP, given 3 s;
# prints "connected peer" or "failed error".
attempt() {
	local r
	r=$(kp_call "$1" "{\"cmd\": \"connect\", \"id\": \"$2\", \"addr\": \"$VIP\", \"port\": $PORT${3:+, $3}}")
	[ "$(kp_get "$r" ok)" = true ] || { echo "failed $r"; return; }
	r=$(kp_call "$1" "{\"cmd\": \"wait\", \"id\": \"$2\", \"timeout\": ${4:-3}}")
	kp_call "$1" "{\"cmd\": \"close\", \"id\": \"$2\"}" >/dev/null
	if [ "$(kp_get "$r" connected)" = true ]; then
		echo "connected $(kp_get "$r" peer)"
	else
		echo "failed $(kp_get "$r" error)"
	fi
}
echoed() { # servers' TCPCrabEchoed, summed
	local i n=0
	for i in 1 2 3; do n=$((n + $(kp_mib "${NS_SRV[i]}" TCPCrabEchoed))); done
	echo $n
}

# ---- empty lists mean none ----------------------------------------------------
kp_sysctls "$NS_CLI" 1 0
a0=$(kp_mib "$NS_CLI" TCPCrabAnnounced) e0=$(echoed)
r=$(attempt cli empty1)
[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$a0" ] && [ "$(echoed)" = "$e0" ] && [ "${r%% *}" = failed ]
log_test $? "client on, empty tcp_crab_announce: the SYN announces nothing, no redirect ($r)"

kp_lists "$NS_CLI" "$VIP/32" ""
n0=$(kp_mib "$NS_CLI" TCPCrabRejectNotAllowed) r0=$(kp_mib "$NS_CLI" TCPCrabRedirected)
r=$(attempt cli empty2)
n1=$(kp_mib "$NS_CLI" TCPCrabRejectNotAllowed)
[ "$n1" -gt "$n0" ] && [ "$(kp_mib "$NS_CLI" TCPCrabRedirected)" = "$r0" ] && [ "${r%% *}" = failed ]
log_test $? "empty tcp_crab_allow: no server accepted, TCPCrabRejectNotAllowed $n0 -> $n1 ($r)"

kp_lists "$NS_CLI" "$VIP/32" "$CRAB_SUBNET.0/24"
r=$(attempt cli both '' 10)
case $r in "connected ${IP_SRV[1]}"|"connected ${IP_SRV[2]}"|"connected ${IP_SRV[3]}") true ;; *) false ;; esac
log_test $? "both lists set: redirected ($r)"

# ---- list writes ------------------------------------------------------------------
for list in tcp_crab_allow tcp_crab_announce; do
	lw() { kp_call cli "{\"cmd\": \"write\", \"path\": \"$SYS/$list\", \"chunks\": [$1]}"; }
	lr() { ip netns exec "$NS_CLI" cat "$SYS/$list"; }
	r=$(lw '"192.0.2.77/24, 10.9.8.7 198.51.100.0/25\n"')
	[ "$(kp_get "$r" errors)" = "0," ] && [ "$(lr)" = "192.0.2.0/24,10.9.8.7/32,198.51.100.0/25" ]
	log_test $? "$list: entries separated by commas or spaces read back normalised ($(lr))"
	good=$(lr)

	r=$(lw '"10.0.0.0/8", ",172.16.0.0/12"')
	[ "$(kp_get "$r" errors)" = "0,22," ] && [ "$(lr)" = "10.0.0.0/8" ]
	log_test $? "$list: a second write() on the same descriptor fails with EINVAL, the first one stands ($(kp_get "$r" errors) '$(lr)')"
	lw "\"$good\"" >/dev/null

	long="10.0.0.0/8$(printf '%*s' 2900 '')192.0.2.0/24"
	r=$(lw "\"$long\"")
	[ "$(kp_get "$r" errors)" = "7," ] && [ "$(lr)" = "$good" ]
	log_test $? "$list: a ${#long}-byte write fails with E2BIG, the list is unchanged"

	many=$(printf '10.0.0.%d,' $(seq 1 65))
	r=$(lw "\"$many\"")
	[ "$(kp_get "$r" errors)" = "7," ] && [ "$(lr)" = "$good" ]
	log_test $? "$list: 65 entries (${#many} bytes) fail with E2BIG, the list is unchanged"

	ok=0
	for bad in "10.0.0.0/8,1.2.3.4/33" "1.2.3" "example" "1.2.3.4/" "1.2.3.4/-1" "1.2.3.4,,/8" "::1/129" "fd00::1::2"; do
		r=$(lw "\"$bad\"")
		[ "$(kp_get "$r" errors)" = "22," ] || { crab_log "'$bad': $r"; ok=1; }
	done
	[ "$(lr)" = "$good" ] || ok=1
	log_test $ok "$list: a write with a bad entry fails with EINVAL as a whole, the list is unchanged"

	r=$(lw '"\n"')
	[ "$(kp_get "$r" errors)" = "0," ] && [ -z "$(lr)" ]
	log_test $? "$list: an empty write empties it"
done
[ -z "$(ip netns exec "${NS_SRV[1]}" cat $SYS/tcp_crab_allow)" ] &&
	[ -z "$(ip netns exec "${NS_SRV[1]}" cat $SYS/tcp_crab_announce)" ]
log_test $? "per namespace: the servers' lists are still empty"

ok=0
for v in 0 43 255 -1 abc; do
	ip netns exec "$NS_CLI" sh -c "echo $v > $SYS/tcp_crab_kind" 2>/dev/null && { crab_log "kind $v accepted"; ok=1; }
done
ip netns exec "$NS_CLI" sh -c "echo 70000 > $SYS/tcp_crab_exid" 2>/dev/null && ok=1
ip netns exec "$NS_CLI" sh -c "echo 254 > $SYS/tcp_crab_kind && echo 42 > $SYS/tcp_crab_kind" || ok=1
[ "$(ip netns exec "$NS_CLI" cat $SYS/tcp_crab_kind),$(ip netns exec "$NS_CLI" cat $SYS/tcp_crab_exid)" = "42,50347" ] || ok=1
log_test $ok "tcp_crab_kind takes 42 and 254 only, tcp_crab_exid 0..65535"

# ---- the namespace is the ceiling (uid 65534) ---------------------------------------
kp_lists "$NS_CLI" "$VIP/32" "$CRAB_SUBNET.0/24"
r=$(kp_call nobody '{"cmd": "crabopt", "values": [2, -1, 1, 0]}')
[ "$(kp_get "$r" default)" = 1 ] && [ "$(kp_get "$r" errors)" = "22,22,0,0," ] && [ "$(kp_get "$r" final)" = 0 ]
log_test $? "TCP_CRAB_REDIRECT: default 1, 2 and -1 refused (EINVAL), 0 and 1 taken ($r)"

kp_sysctls "$NS_CLI" 0 0
a0=$(kp_mib "$NS_CLI" TCPCrabAnnounced) e0=$(echoed)
r=$(attempt nobody up1 '"crab": 1')
[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$a0" ] && [ "$(echoed)" = "$e0" ] && [ "${r%% *}" = failed ]
log_test $? "uid 65534, TCP_CRAB_REDIRECT 1, tcp_crab_client 0: no announce, no redirect ($r)"

kp_sysctls "$NS_CLI" 1 0
kp_lists "$NS_CLI" "203.0.113.0/24" "$CRAB_SUBNET.0/24"
r=$(attempt nobody up2 '"crab": 1')
[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$a0" ] && [ "$(echoed)" = "$e0" ] && [ "${r%% *}" = failed ]
log_test $? "uid 65534, TCP_CRAB_REDIRECT 1, VIP not in tcp_crab_announce: no announce ($r)"

kp_lists "$NS_CLI" "$VIP/32" "$CRAB_SUBNET.0/24"
r=$(attempt nobody down '"crab": 0')
[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$a0" ] && [ "${r%% *}" = failed ]
log_test $? "uid 65534, TCP_CRAB_REDIRECT 0 where the namespace allows: no announce ($r)"

r=$(attempt nobody dflt '' 10)
[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = $((a0 + 1)) ] && [ "${r%% *}" = connected ] && [ "${r#* }" != "$VIP" ]
log_test $? "uid 65534, default: announced and redirected ($r)"

crab_exit
