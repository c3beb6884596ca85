#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Patched kernel, both ends (docs/PROTOCOL.md 3): a stateless nft LB rewrites only the
# SYN's destination (round robin over 3 servers); the client's own option
# already names the VIP, the servers echo it, the clients re-key. 300
# connections succeed, every peer is a server address, the LB sees one
# packet per connection (plus SYN retransmissions, if any), and the TcpExt
# counters of both ends agree.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8201
N=300
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 ss
crab_topo_setup 3
kp_sysctls "$NS_CLI" 1 0
for i in 1 2 3; do kp_sysctls "${NS_SRV[i]}" 0 1; done
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"

synr0=$(kp_mib "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --json)
echo "# $out"
[ "$(crab_json "$out" 'j["ok"]')" = $N ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
log_test $? "$N connections through the nft LB succeed"

crab_json "$out" 'sorted(j["peers"].items())'
[ "$(crab_json "$out" 'sorted(j["peers"])')" = "['${IP_SRV[1]}', '${IP_SRV[2]}', '${IP_SRV[3]}']" ] &&
	[ "$(crab_json "$out" 'min(j["peers"].values())')" -ge $((N / 3 - 2)) ]
log_test $? "getpeername() names the servers, round robin, never the VIP"

synr=$(($(kp_mib "$NS_CLI" TCPSynRetrans) - synr0))
lb=$(kp_nft_lb_packets)
echo "# LB packets $lb, client SYN retransmissions $synr"
[ "$lb" = $((N + synr)) ]
log_test $? "the LB saw one packet per connection"

red=$(kp_mib "$NS_CLI" TCPCrabRedirected)
ann=$(kp_mib "$NS_CLI" TCPCrabAnnounced)
echoed=0
for i in 1 2 3; do echoed=$((echoed + $(kp_mib "${NS_SRV[i]}" TCPCrabEchoed))); done
echo "# client announced $ann redirected $red; servers echoed $echoed"
[ "$red" = $N ] && [ "$ann" = $N ] && [ "$echoed" -ge $N ]
log_test $? "counters: $N announced, $N redirected, >= $N echoed"

crab_exit
