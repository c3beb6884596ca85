#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# docs/PROTOCOL.md 3.4, the client's redirect allow-list (net.ipv4.tcp_crab_allow,
# patch 0006): its syntax (CIDRs or addresses, normalised on read; bad
# entries and more than 16 refused with the list unchanged), per network
# namespace; through the round-robin nft LB with servers 1 and 2 allowed,
# every connection ends on server 1 or 2: a SYN-ACK from server 3 is
# refused (counted in net.ipv4.tcp_crab_allow_rejected), answered with
# RST, and the SYN
# retransmission reaches the next server.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8204
N=6
crab_require_root
kp_require_patched_kernel
[ -e /proc/sys/net/ipv4/tcp_crab_allow ] ||
	crab_skip "kernel $(uname -r) has no net.ipv4.tcp_crab_allow (series without patch 0006)"
crab_check_tool ip nft python3 ss
crab_topo_setup 3
kp_sysctls "$NS_CLI" 1 0
for i in 1 2 3; do kp_sysctls "${NS_SRV[i]}" 0 1; done
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"

allow() { ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow; }
set_allow() { echo "$1" | ip netns exec "$NS_CLI" tee /proc/sys/net/ipv4/tcp_crab_allow >/dev/null 2>&1; }

set_allow "192.0.2.77/24, 10.9.8.7" && [ "$(allow)" = "192.0.2.0/24 10.9.8.7/32" ]
log_test $? "syntax: 'a.b.c.d/n, a.b.c.d' reads back normalised ($(allow))"

ok=0
for bad in "1.2.3.4/33" "1.2.3" "example" "1.2.3.4/" \
	"$(for i in $(seq 17); do printf '10.0.0.%d ' "$i"; done)"; do
	set_allow "$bad" && { crab_log "accepted '$bad'"; ok=1; }
done
[ "$(allow)" = "192.0.2.0/24 10.9.8.7/32" ] || ok=1
log_test $ok "malformed entries and 17 entries are refused, the list is unchanged"

[ -z "$(ip netns exec "${NS_SRV[1]}" cat /proc/sys/net/ipv4/tcp_crab_allow)" ]
log_test $? "per namespace: the servers' namespaces still have an empty list"

set_allow "${IP_SRV[1]} ${IP_SRV[2]}/32" &&
	[ "$(allow)" = "${IP_SRV[1]}/32 ${IP_SRV[2]}/32" ]
log_test $? "allow servers 1 and 2 only ($(allow))"

synr0=$(kp_mib "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 20 --deadline 200)
synr=$(($(kp_mib "$NS_CLI" TCPSynRetrans) - synr0))
crab_log "client: ${out:0:300}"
[ "$(crab_json "$out" 'j["ok"]')" = $N ] &&
	[ "$(crab_json "$out" "int(set(j['peers']) <= {'${IP_SRV[1]}', '${IP_SRV[2]}'})")" = 1 ]
log_test $? "$N connections succeed, only with the allowed servers ($(crab_json "$out" 'j["peers"]'))"

na=$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow_rejected)
red=$(kp_mib "$NS_CLI" TCPCrabRedirected)
e3=$(kp_mib "${NS_SRV[3]}" TCPCrabEchoed)
lb=$(kp_nft_lb_packets)
crab_log "redirected $red, rejected not allowed $na, server 3 echoed $e3, LB $lb, SYN retransmissions $synr"
# Round robin: one SYN in three reaches server 3; its SYN-ACKs are refused
# (at most all of them: one that arrives after the SYN retransmission
# reached server 1 or 2 finds no SYN-SENT socket), each refusal costs a
# SYN retransmission.
[ "$red" = $N ] && [ "$na" -ge 1 ] && [ "$na" -le "$e3" ] &&
	[ "$synr" -ge "$na" ] && [ "$lb" = $((N + synr)) ]
log_test $? "tcp_crab_allow_rejected counts server 3's SYN-ACKs ($na), $N redirected"

set_allow "" && [ -z "$(allow)" ]
log_test $? "an empty write clears the list (any server allowed again)"

crab_exit
