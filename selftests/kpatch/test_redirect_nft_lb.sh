#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Patched kernel, both ends (docs/PROTOCOL.md 3): a stateless nft LB rewrites
# only the SYN's destination (round robin over 3 servers); the client's own
# option already names the VIP, the servers echo it, the clients re-key.
# Run twice: with the client's tcp_early_demux at its default (1) and at 0
# (every segment of the redirected connections then takes the full input
# route lookup). Each time all connections succeed, every peer is a server
# address, the LB sees one packet per connection (plus SYN retransmissions,
# if any), and the TcpExt counters of both ends agree.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8201
N=60
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 ss
crab_topo_setup 3
kp_client "$NS_CLI"
for i in 1 2 3; do kp_sysctls "${NS_SRV[i]}" 0 1; done
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"

echoed() { local i n=0; for i in 1 2 3; do n=$((n + $(kp_mib "${NS_SRV[i]}" TCPCrabEchoed))); done; echo $n; }
for demux in 1 0; do
	ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_early_demux=$demux
	synr0=$(kp_mib "$NS_CLI" TCPSynRetrans) lb0=$(kp_nft_lb_packets)
	red0=$(kp_mib "$NS_CLI" TCPCrabRedirected) ann0=$(kp_mib "$NS_CLI" TCPCrabAnnounced) e0=$(echoed)
	out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
		--count $N --json)
	echo "# $out"
	[ "$(crab_json "$out" 'j["ok"]')" = $N ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
	log_test $? "tcp_early_demux=$demux: $N connections through the nft LB succeed"

	[ "$(crab_json "$out" 'sorted(j["peers"])')" = "['${IP_SRV[1]}', '${IP_SRV[2]}', '${IP_SRV[3]}']" ] &&
		[ "$(crab_json "$out" 'min(j["peers"].values())')" -ge $((N / 3 - 2)) ]
	log_test $? "tcp_early_demux=$demux: getpeername() names the servers, round robin, never the VIP"

	synr=$(($(kp_mib "$NS_CLI" TCPSynRetrans) - synr0))
	lb=$(($(kp_nft_lb_packets) - lb0))
	red=$(($(kp_mib "$NS_CLI" TCPCrabRedirected) - red0))
	ann=$(($(kp_mib "$NS_CLI" TCPCrabAnnounced) - ann0))
	e=$(($(echoed) - e0))
	echo "# LB packets $lb, SYN retransmissions $synr; announced $ann, redirected $red, echoed $e"
	[ "$lb" = $((N + synr)) ] && [ "$red" = $N ] && [ "$ann" = $N ] && [ "$e" -ge $N ]
	log_test $? "tcp_early_demux=$demux: one LB packet per connection; $N announced, $N redirected, >= $N echoed"
done

crab_exit
