#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Spoofed SYN-ACKs from another host on the segment (docs/PROTOCOL.md 3.4,
# 6), for sockets held in SYN-SENT by a black-hole LB, the ISNs read off
# the segment: wrong ack, source outside the allow list, a socket that did
# not announce, no socket, redirection disabled. None re-keys a socket,
# each increments its own counter. A SYN-ACK from the dialed address
# itself ("direct") with a wrong ack, from a spoofer who knows the 4-tuple
# but not the ISN, leaves the socket's announce entry alone: a genuine
# redirect right after it is still taken. The real connections (the LB
# forwards at the end) complete with the backend.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8103
SP1=40101 SP2=40102 SP3=40103 SP4=40105
crab_require_root
crab_check_tool ip tc ss bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
# Redirects only from the servers' /29 (198.18.0.8-15).
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow 198.18.0.8/29
crab_server_config "${NS_SRV[1]}"
crab_echo_servers $PORT
# The LB drops the SYNs (no route to the VIP) until the end.
ip -n "$NS_LB" route add blackhole "$VIP/32"
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"
ep_att_start "$NS_EVIL"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
# held SPORT: a connection to the VIP in the background, its ISN read off
# the segment (in ISN_<SPORT>).
held() {
	local r
	ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport "$1" \
		--wait 200 >"$tmp/c$1.json" &
	crab_defer "kill $!"
	r=$(ep_att syn_from "$1" 60) || crab_fail "the attacker did not see the SYN from $1: $r"
	printf -v "ISN_$1" '%s' "$(ep_field "$r" seq)"
	crab_log "SYN from $1: $r"
}
# spoof_case COUNTER DESCRIPTION SRC SPORT ACK NAMED
spoof_case() {
	local before got
	before=$(cnt "$1")
	ep_att synack "$3" "$IP_CLI" $PORT "$4" "$5" opt="$6" >/dev/null
	got=$(ep_wait_counter "$NS_CLI" crab_client "$1" $((before + 1)) 50)
	[ "$got" = $((before + 1)) ]
	log_test $? "$2: refused, $1 counted"
}

held $SP1
held $SP4
# Socket 2 does not announce: its SYNs leave while the announce list is
# empty. Each retransmission is judged again, so the list stays empty
# until its case is done (the entries of sockets 1 and 4 stay).
ip netns exec "$NS_CLI" sh -c "echo >/proc/sys/net/crab/client_announce_cidrs"
held $SP2

spoof_case rej_bad_ack "SYN-ACK with ack != ISN+1" "$S" $SP1 $((ISN_40101 + 2)) "$VIP"
spoof_case rej_not_allowed "SYN-ACK from a source outside the allow list" 198.18.0.66 $SP1 $((ISN_40101 + 1)) "$VIP"
spoof_case rej_not_announced "SYN-ACK for a socket that did not announce" "$S" $SP2 $((ISN_40102 + 1)) "$VIP"
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_announce_cidrs="$VIP/32"
spoof_case rej_no_socket "SYN-ACK naming an address without a socket" "$S" $SP3 1 "$VIP"
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=0
spoof_case rej_disabled "SYN-ACK while redirection is disabled" "$S" $SP1 $((ISN_40101 + 1)) "$VIP"
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=1

peers=$(ip netns exec "$NS_CLI" ss -Htn state syn-sent "dport = :$PORT" | awk '{ print $4 }' | sort | uniq -c | awk '{ print $1 "x" $2 }')
crab_log "SYN-SENT peers: $peers"
[ "$(cnt redirected)" = 0 ] && [ "$peers" = "3x$VIP:$PORT" ]
log_test $? "no socket re-keyed: all still SYN-SENT to the VIP"

# Socket 4: a "direct" SYN-ACK (from the VIP, naming it) with a wrong ack,
# then at once a genuine redirect for it.
d0=$(cnt synack_direct)
ep_att synack "$VIP" "$IP_CLI" $PORT $SP4 12345 opt="$VIP" >/dev/null
ep_att synack "$S" "$IP_CLI" $PORT $SP4 $((ISN_40105 + 1)) opt="$VIP" >/dev/null
got=$(ep_wait_counter "$NS_CLI" crab_client redirected 1 50)
crab_log "synack_direct +$(($(cnt synack_direct) - d0)), redirected $got, rej_not_announced $(cnt rej_not_announced)"
[ "$got" = 1 ] && [ "$(cnt synack_direct)" = $((d0 + 1)) ]
log_test $? "a spoofed direct SYN-ACK (wrong ack) does not erase the socket's announce entry"

# The LB starts forwarding: the next SYN retransmissions reach the backend
# and the other two connections complete with it.
# (tc rewrites before routing: the blackhole route goes only once tc
# forwards, or a SYN in between would draw an ICMP net unreachable.)
ep_tc_lb $PORT "$S" || crab_fail "cannot install the tc LB"
ip -n "$NS_LB" route del blackhole "$VIP/32"
for _ in $(seq 600); do
	[ -s "$tmp/c$SP1.json" ] && [ -s "$tmp/c$SP2.json" ] && break
	sleep 0.2
done
r1=$(cat "$tmp/c$SP1.json") r2=$(cat "$tmp/c$SP2.json")
crab_log "$r1"
crab_log "$r2"
[ "$(ep_peer "$r1")" = "$S" ] &&
	[ "$(ep_peer "$r2")" = "$S" ]
log_test $? "real connections unaffected: completed with the backend, data echoed"

crab_exit
