#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers of the kernel patch selftests: they need a kernel with the CRAB
# patch series (kernel-patches/6.12) and SKIP on any other kernel.

KP_TOOL="python3 $(dirname "${BASH_SOURCE[0]}")/kp_tool.py"

kp_require_patched_kernel() {
	[ -e /proc/sys/net/ipv4/tcp_crab_client ] ||
		crab_skip "kernel $(uname -r) has no net.ipv4.tcp_crab_client (not patched)"
}

# kp_mib NS NAME: value of TcpExt counter NAME in namespace NS.
# "missing" when this kernel has no such counter (not the patched kernel).
kp_mib() {
	crab_tcpext "$1" "$2" missing
}

# kp_sysctls NS CLIENT SERVER
kp_sysctls() {
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_crab_client="$2" \
		net.ipv4.tcp_crab_server="$3"
}

# Stateless LB in $NS_LB: SYNs to VIP:PORT get their destination rewritten to
# one of the servers, round robin, untracked. Counter "lb" counts them.
kp_nft_lb() {
	local port=$1 i map=
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		map+="${map:+, }$((i - 1)) : ${IP_SRV[i]}"
	done
	ip netns exec "$NS_LB" nft -f - <<-NFT
	table ip crablb {
		counter lb { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			ip daddr $VIP tcp dport $port counter name "lb" ip daddr set numgen inc mod $CRAB_NSERVERS map { $map } notrack
		}
	}
	NFT
}

# Black hole LB: SYNs to VIP:PORT are counted and dropped.
kp_nft_blackhole() {
	ip netns exec "$NS_LB" nft -f - <<-NFT
	table ip crablb {
		counter lb { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			ip daddr $VIP tcp dport $1 counter name "lb" drop
		}
	}
	NFT
}

kp_nft_lb_packets() {
	ip netns exec "$NS_LB" nft -j list counter ip crablb lb |
		python3 -c 'import json,sys
for o in json.load(sys.stdin)["nftables"]:
    if "counter" in o: print(o["counter"]["packets"])'
}

