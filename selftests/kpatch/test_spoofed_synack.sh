#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Spoofed SYN-ACKs (docs/PROTOCOL.md 3.4, 6): while the client's connection to the VIP is
# held in SYN-SENT by a black-hole LB, SYN-ACKs from another host naming the
# VIP are refused unless everything matches: wrong ack, a socket that did not
# announce, no socket at all, redirection disabled. Each refusal is counted,
# no socket is re-keyed, and the real connection then completes with the
# real server once the LB forwards.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8203
SP1=40201 SP2=40202 SP3=40203
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 ss tcpdump
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
S=${IP_SRV[1]}
kp_sysctls "$NS_CLI" 1 0
kp_sysctls "${NS_SRV[1]}" 0 1
crab_echo_servers $PORT
kp_nft_blackhole $PORT || crab_fail "cannot install the nft black hole"
tmp=$(mktemp -d /tmp/crab-kp-XXXXXX)
crab_defer "rm -rf $tmp"
crab_capture_start "$NS_CLI" "$tmp/syn.pcap" "tcp[tcpflags] == tcp-syn and dst port $PORT"

# Socket 1 announces, socket 2 refuses (TCP_CRAB_REDIRECT=0). SYNs are
# retransmitted at 1, 3, 7, ... 255 s: the sockets must outlive a slow
# emulated run of the spoofing phase (a socket that gave up is "not found").
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_syn_retries=8
ip netns exec "$NS_CLI" $KP_TOOL connect --addr "$VIP" --port $PORT \
	--sport $SP1 --wait 280 >"$tmp/c1.json" &
c1=$!
crab_defer "kill $c1"
ip netns exec "$NS_CLI" $KP_TOOL connect --addr "$VIP" --port $PORT \
	--sport $SP2 --mode 0 --wait 280 >"$tmp/c2.json" &
c2=$!
crab_defer "kill $c2"
isn1='' isn2=''
for i in $(seq 50); do
	sleep 0.2
	isn1=$($KP_TOOL isn "$tmp/syn.pcap" --sport $SP1 --dport $PORT) || continue
	isn2=$($KP_TOOL isn "$tmp/syn.pcap" --sport $SP2 --dport $PORT) && break
done
[ -n "$isn1" ] && [ -n "$isn2" ] || crab_fail "did not capture both SYNs"
echo "# ISNs: $isn1 $isn2"

# spoof_case COUNTER DESCRIPTION SPORT ACK
spoof_case() {
	local before after
	before=$(kp_mib "$NS_CLI" "$1")
	ip netns exec "$NS_EVIL" $KP_TOOL spoof --src "$S" --dst "$IP_CLI" \
		--sport $PORT --dport "$3" --ack "$4" --opt "$VIP"
	# The segment crosses two veths and a bridge: poll, a loaded emulated
	# guest may take a while.
	for i in $(seq 30); do
		after=$(kp_mib "$NS_CLI" "$1")
		[ "$after" != "$before" ] && break
		sleep 0.1
	done
	local rc=0
	[ "$after" = $((before + 1)) ] || rc=1
	log_test $rc "$2: refused, $1 counted ($before -> $after)"
	[ $rc = 0 ] || ip netns exec "$NS_CLI" nstat -saz 'TcpExtTCPCrab*' | sed 's/^/# /'
	return 0
}

spoof_case TCPCrabRejectBadAck "SYN-ACK with ack != ISN+1" $SP1 $((isn1 + 2))
spoof_case TCPCrabRejectBadAck "SYN-ACK with ack == ISN" $SP1 "$isn1"
spoof_case TCPCrabRejectNotAnnounced "SYN-ACK for a socket that did not announce" $SP2 $((isn2 + 1))
spoof_case TCPCrabRejectNotSynSent "SYN-ACK naming an address without a socket" $SP3 1
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_crab_client=0
spoof_case TCPCrabRejectDisabled "SYN-ACK while redirection is disabled" $SP1 $((isn1 + 1))
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_crab_client=1

red=$(kp_mib "$NS_CLI" TCPCrabRedirected)
peers=$(ip netns exec "$NS_CLI" ss -Htn state syn-sent "dport = :$PORT" | awk '{ print $4 }' | sort | tr '\n' ' ')
echo "# SYN-SENT peers: $peers"
[ "$red" = 0 ] && [ "$(echo "$peers" | grep -o "$VIP:$PORT" | wc -l)" = 2 ]
log_test $? "no socket re-keyed: both still SYN-SENT to the VIP"

# The LB starts forwarding to S: the next SYN retransmission of socket 1
# reaches S, which echoes; socket 1 is redirected to S. Socket 2 did not
# announce: its SYN-ACK from S is reset and it keeps retrying until --wait.
ip netns exec "$NS_LB" nft flush chain ip crablb pre
ip netns exec "$NS_LB" nft add rule ip crablb pre ip daddr "$VIP" tcp dport $PORT \
	counter name lb ip daddr set "$S" notrack
wait $c1
r1=$(cat "$tmp/c1.json")
echo "# $r1"
[ "$(crab_json "$r1" 'j["connected"] and j["echo"] and j["peer"]')" = "$S" ] &&
	[ "$(kp_mib "$NS_CLI" TCPCrabRedirected)" = 1 ]
log_test $? "real connection unaffected: redirected to the server, data echoed"

crab_exit
