#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# TCP Fast Open through a redirect (docs/PROTOCOL.md 3.6): the client sends
# its first bytes in the SYN (tcp_fastopen 0x5: client, no cookie needed),
# the stateless nft LB rewrites the SYN's destination (checksum over the
# data too), the server takes the data from the SYN (tcp_fastopen 0x602:
# on every listener, no cookie needed)
# and echoes the option; its SYN-ACK acknowledges the SYN and its data,
# which the client accepts as a redirect. The bytes come back echoed, the
# connection ends on the server, and the Fast Open counters of both ends
# say the data rode in the SYN.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8215
N=3
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3
crab_topo_setup 3
kp_client "$NS_CLI"
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_fastopen=5
for i in 1 2 3; do
	kp_sysctls "${NS_SRV[i]}" 0 1
	ip netns exec "${NS_SRV[i]}" sysctl -qw net.ipv4.tcp_fastopen=0x602
done
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
kp_helper cli "$NS_CLI" serve

passive() { local i n=0; for i in 1 2 3; do n=$((n + $(kp_mib "${NS_SRV[i]}" TCPFastOpenPassive))); done; echo $n; }
p0=$(passive)
m0=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPFastOpenActive)
ok=0 peers=
for i in $(seq $N); do
	kp_call cli "{\"cmd\": \"connect\", \"id\": \"t$i\", \"addr\": \"$VIP\", \"port\": $PORT, \"tfo\": \"hello-$i\"}" >/dev/null
	w=$(kp_call cli "{\"cmd\": \"wait\", \"id\": \"t$i\", \"timeout\": 10}")
	r=$(kp_call cli "{\"cmd\": \"recv\", \"id\": \"t$i\", \"n\": $((6 + ${#i}))}")
	e=$(kp_call cli "{\"cmd\": \"echo\", \"id\": \"t$i\"}")
	kp_call cli "{\"cmd\": \"close\", \"id\": \"t$i\"}" >/dev/null
	crab_log "connection $i: $w; SYN data back: $r; echo: $e"
	[ "$(kp_get "$r" data)" = "hello-$i" ] && [ "$(kp_get "$e" echo)" = true ] &&
		[ "$(kp_get "$w" connected)" = true ] && [ "$(kp_get "$w" peer)" != "$VIP" ] || ok=1
	peers+="$(kp_get "$w" peer) "
done
log_test $ok "$N Fast Open connections through the LB: SYN data echoed, peers $peers"

m1=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPFastOpenActive)
p1=$(passive)
val() { local re="$2=([0-9]+)"; [[ $1 =~ $re ]] && echo "${BASH_REMATCH[1]}"; }
red=$(( $(val "$m1" TCPCrabRedirected) - $(val "$m0" TCPCrabRedirected) ))
act=$(( $(val "$m1" TCPFastOpenActive) - $(val "$m0" TCPFastOpenActive) ))
[ "$red" = $N ] && [ "$act" = $N ] && [ $((p1 - p0)) = $N ]
log_test $? "redirected $red, client TCPFastOpenActive +$act, servers TCPFastOpenPassive +$((p1 - p0)) (all $N)"

crab_exit
