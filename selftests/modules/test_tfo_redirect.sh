#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# TCP Fast Open through a redirect (docs/PROTOCOL.md 3.6): the client sends
# 1000 bytes in its SYN (tcp_fastopen=5: client, no cookie needed), the
# stateless LB forwards it, the server takes the data from the SYN
# (tcp_fastopen=0x202: server, no cookie required) and its SYN-ACK,
# echoing the option, acknowledges the SYN and the data. crab_client
# accepts that ack (past the SYN, not past what it sent) and re-keys; the
# data arrives once (the server saw 1000 bytes, echoed), no SYN was
# retransmitted and the kernel counts the Fast Open as taken
# (TCPFastOpenActive, no TCPFastOpenActiveFail).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8118
SP=40180
crab_require_root
crab_check_tool ip tc bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_fastopen=5
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_fastopen=0x202
ip netns exec "${NS_SRV[1]}" $EPT serve --port $PORT --tfo --log "$tmp/srv.log" &
crab_defer "kill $!"
for _ in $(seq 100); do
	ip netns exec "${NS_SRV[1]}" ss -Htln "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ep_tc_lb $PORT "$S" || crab_fail "cannot install the tc LB"
ep_att_start "$NS_EVIL"

a0=$(ep_tcpext "$NS_CLI" TCPFastOpenActive) f0=$(ep_tcpext "$NS_CLI" TCPFastOpenActiveFail)
retr0=$(ep_tcpext "$NS_CLI" TCPSynRetrans)
r=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP --tfo --wait 20)
syn=$(ep_att syn_from $SP 10) && sa=$(ep_att synack_to $SP 10) || crab_fail "SYN or SYN-ACK not seen: $syn $sa"
a=$(($(ep_tcpext "$NS_CLI" TCPFastOpenActive) - a0)) f=$(($(ep_tcpext "$NS_CLI" TCPFastOpenActiveFail) - f0))
retr=$(($(ep_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "client: $r"
crab_log "SYN: $syn"
crab_log "SYN-ACK: $sa"
crab_log "TCPFastOpenActive +$a, TCPFastOpenActiveFail +$f, SYN retransmissions $retr; redirected $(ep_counter "$NS_CLI" redirected crab_client), rej_bad_ack $(ep_counter "$NS_CLI" rej_bad_ack crab_client)"
[ "$(ep_field "$syn" len)" = 1000 ] && [ "$(ep_field "$syn" opt)" = "$VIP" ] &&
	[ "$(ep_field "$sa" opt)" = "$VIP" ] &&
	[ "$(ep_field "$sa" ack)" = $(( ($(ep_field "$syn" seq) + 1001) % 4294967296 )) ]
log_test $? "the SYN carries 1000 bytes and the option; the SYN-ACK echoes it and acknowledges the data"
[ "$(ep_peer "$r")" = "$S" ] && [ "$a" = 1 ] && [ "$f" = 0 ] && [ "$retr" = 0 ]
log_test $? "redirected to $S with the Fast Open data taken, no SYN retransmitted"
for _ in $(seq 50); do [ -s "$tmp/srv.log" ] && break; sleep 0.1; done
crab_log "server: $(cat "$tmp/srv.log")"
[ "$(ep_jget "$(cat "$tmp/srv.log")" bytes)" = 1000 ]
log_test $? "the server received the data once (1000 bytes)"

crab_exit
