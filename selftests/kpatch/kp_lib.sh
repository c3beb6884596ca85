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


# ---- interoperability with the module and eBPF endpoints -------------------
# kp_interop CLIENT SERVER LB: CLIENT and SERVER are patched, module or ebpf
# (one of them patched), LB is xdp or nf (the project's LBs), in the
# topology of ../endpoints_ebpf/ep_lib.sh (the test must have called
# ep_unshare "$@" first). $N (default 30) connections to the VIP from one
# CPU: all succeed with data echoed; the client's redirect counter and the
# servers' echo counters account for every connection; getpeername() is the
# DIP (patched and module clients re-key the socket) or the VIP (the eBPF
# client translates around it); each server completed N/3 connections
# (rr); the LB saw one packet per connection (plus SYN retransmissions).
kp_interop() {
	local cli=$1 srv=$2 i out retr retr0 red red0 ech ech0 s=() ok peers tol
	N=${N:-30}
	kp_require_patched_kernel
	crab_check_tool taskset
	EP_CLIENT=$cli EP_SERVER=$srv EP_LB=$3
	case $cli in patched) EP_CLIENT=none ;; esac
	case $srv in patched) EP_SERVER=none ;; esac
	if [ "$cli" = ebpf ]; then ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"; else ep_setup; fi
	# Patched ends: only the sysctl of their side on; the others off.
	kp_sysctls "$NS_CLI" "$([ "$cli" = patched ] && echo 1 || echo 0)" 0
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		kp_sysctls "${NS_SRV[i]}" 0 "$([ "$srv" = patched ] && echo 1 || echo 0)"
	done

	kp_interop_red() {
		case $cli in
		patched) kp_mib "$NS_CLI" TCPCrabRedirected ;;
		module) ep_mod_counter "$NS_CLI" crab_client redirected ;;
		ebpf) ep_stat redirected ;;
		esac
	}
	kp_interop_echoed() {
		local i n=0
		for ((i = 1; i <= CRAB_NSERVERS; i++)); do
			case $srv in
			patched) n=$((n + $(kp_mib "${NS_SRV[i]}" TCPCrabEchoed))) ;;
			module) n=$((n + $(ep_mod_counter "${NS_SRV[i]}" crab_server synack_echoed))) ;;
			esac
		done
		[ "$srv" = ebpf ] && n=$(ep_stat echoed)
		echo "$n"
	}
	red0=$(kp_interop_red)
	ech0=$(kp_interop_echoed)
	retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
	out=$(ep_in_cg "$CG_CLI" "$NS_CLI" taskset -c 0 $CRAB_TCPECHO client --addr "$VIP" \
		--port "$EP_PORT" --count "$N" --timeout 10 --deadline 300)
	retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
	crab_log "client: ${out:0:300}"
	[ "$(crab_json "$out" 'j["ok"]')" = "$N" ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
	log_test $? "$N connections $cli client -> $3 LB -> $srv server, data echoed"

	red=$(($(kp_interop_red) - red0))
	ech=$(($(kp_interop_echoed) - ech0))
	crab_log "$cli client redirected +$red, $srv servers echoed +$ech, SYN retransmissions $retr"
	ok=0
	[ "$red" = "$N" ] && [ "$ech" -ge "$N" ] || ok=1
	if [ "$cli" = patched ]; then
		[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$N" ] || ok=1
	fi
	log_test $ok "counters: $cli client redirected $red/$N, $srv servers echoed $ech (>= $N)"

	peers=$(crab_json "$out" 'sorted(j["peers"])')
	if [ "$cli" = ebpf ]; then
		[ "$peers" = "['$VIP']" ]
	else
		[ "$peers" = "['${IP_SRV[1]}', '${IP_SRV[2]}', '${IP_SRV[3]}']" ]
	fi
	log_test $? "getpeername() on the $cli client: $(crab_json "$out" 'j["peers"]')"

	# Per-CPU rr position (XDP LB): within one per extra CPU.
	tol=$((retr + $(nproc) - 1))
	ok=0
	for i in 1 2 3; do
		s[i]=$(ep_server_opens $i)
		[ $((s[i] - N / 3)) -le $tol ] && [ $((N / 3 - s[i])) -le $tol ] || ok=1
	done
	[ $((s[1] + s[2] + s[3])) = "$N" ] || ok=1
	[ "$(ep_lb_packets)" = $((N + retr)) ] || ok=1
	log_test $ok "LB saw one packet per connection ($(ep_lb_packets), $retr SYN retransmissions), rr split ${s[*]:1}"
}

# kp_crab_mibs NS: "COUNT SUM" over the TcpExt counters named TCPCrab*.
kp_crab_mibs() {
	ip netns exec "$1" awk '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
		$1 == "TcpExt:" && h { for (i = 2; i <= NF; i++) if (n[i] ~ /^TCPCrab/) { c++; s += $i }
			print c + 0, s + 0; exit }' /proc/net/netstat
}
