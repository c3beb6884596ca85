#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# TCP Fast Open end to end through a redirect (docs/PROTOCOL.md 3.6):
# client, LB, server. The first connection fetches a cookie; the next three
# carry their data in the SYN (with the cookie and the redirect option: 40
# bytes of options), which the server takes (TCPFastOpenPassive) and
# acknowledges in its redirecting SYN-ACK, beyond ISN + 1: the client
# accepts those redirects and every echo comes back, without a SYN
# retransmission. One backend: Linux binds a cookie to both addresses of
# the SYN, the server's DIP included, so a cookie is good only at the
# server that issued it (elsewhere the server ignores the data, which the
# client sends again after the handshake).

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump
# 0x403: client and server, and a listener needs no TCP_FASTOPEN option.
EP_SERVER_SYSCTLS="net.ipv4.tcp_fastopen=1027"
EP_RR_DIPS="${CRAB_SUBNET}.11 ${CRAB_SUBNET}.11 ${CRAB_SUBNET}.11"
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_fastopen=1
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
pcap=$EP_TMP/syn.pcap
crab_capture_start "$NS_CLI" "$pcap" "tcp dst port $EP_PORT and tcp[13] & 18 == 2"

passive() {
	local i n=0
	for i in 1 2 3; do n=$((n + $(crab_tcpext "${NS_SRV[i]}" TCPFastOpenPassive))); done
	echo $n
}
r0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
p0=$(passive)
a0=$(crab_tcpext "$NS_CLI" TCPFastOpenActive)
o=$(ep_helper hold "tfo $VIP $EP_PORT 200")
crab_log "first connection (cookie request): $o"
rc=0
for i in 1 2 3; do
	o=$(ep_helper hold "tfo $VIP $EP_PORT 200")
	crab_log "connection $((i + 1)): $o"
	[ "$o" = "ok $VIP" ] || rc=1
done
crab_capture_stop "$pcap"
syns=$(tcpdump -nn -v -r "$pcap" 2>/dev/null | grep "Flags \[S\]")
echo "$syns" | sed 's/^ */# SYN: /' | cut -c1-240
p=$(($(passive) - p0))
a=$(($(crab_tcpext "$NS_CLI" TCPFastOpenActive) - a0))
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - r0))
crab_log "servers' TCPFastOpenPassive +$p, client's TCPFastOpenActive +$a, SYN retransmissions $retr, redirected $(ep_stat redirected)"
[ "$rc" = 0 ] && [ "$(ep_stat redirected)" = 4 ] && [ "$retr" = 0 ]
log_test $? "4 connections with TCP Fast Open through the LB: all redirected, data echoed, no SYN retransmission"
[ "$p" = 3 ] && [ "$a" = 3 ] && [ "$(echo "$syns" | grep "unknown-42" | grep -c "length 200")" = 3 ]
log_test $? "3 SYNs carried 200 bytes, the cookie and the option, and the server took the data ($p)"

crab_exit
