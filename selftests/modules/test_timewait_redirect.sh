#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# A redirect onto the 4-tuple of a TIME_WAIT, with TCP early demux on (the
# default) and off (net.ipv4.tcp_early_demux=0). connect() checks the port
# against the dialed VIP, not against the DIP the connection ends on: a
# second connection from the same port, redirected to the same backend
# while the first one's TIME_WAIT (client closed first) is keyed on that
# DIP, would have its SYN-ACK taken by the TIME_WAIT (stale ACK, the
# backend resets, SYN retransmitted after 1 s, again and again). Early
# demux even attaches that TIME_WAIT to the SYN-ACK before LOCAL_IN, where
# crab_client re-keys. crab_client replaces the TIME_WAIT: the second
# connect() completes at once with the DIP as peer and data echoed,
# tw_replaced counts it, no SYN is retransmitted. Both connections of each
# round are ordinary redirects too, so a client without early demux is
# covered as well.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8108
crab_require_root
crab_check_tool ip tc bridge python3 ss
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" || crab_fail "cannot install the tc LB"
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
ep_att_start "$NS_EVIL"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }

# round EARLY_DEMUX SPORT
round() {
	local ed=$1 sp=$2 m r1 r2 tw srv repl0 red0 known0 syns
	ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_early_demux="$ed"
	m=$(ep_att mark) && m=${m#ok }
	repl0=$(cnt tw_replaced) red0=$(cnt redirected) known0=$(cnt synack_known)
	r1=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport "$sp" --wait 60)
	crab_log "tcp_early_demux=$ed, first: $r1"
	[ "$(ep_peer "$r1")" = "$S" ]
	log_test $? "tcp_early_demux=$ed: first connection redirected to $S"

	# The client closed first: its TIME_WAIT is keyed on the DIP; the
	# server's side must be gone too (its LAST_ACK ended by the last ACK).
	tw= srv=x
	for _ in $(seq 150); do
		tw=$(ip netns exec "$NS_CLI" ss -Htan state time-wait "sport = :$sp" | grep -c "$S:$PORT")
		srv=$(ip netns exec "${NS_SRV[1]}" ss -Htan "dport = :$sp" | wc -l)
		[ "$tw" = 1 ] && [ "$srv" = 0 ] && break
		sleep 0.2
	done
	[ "$tw" = 1 ] && [ "$srv" = 0 ]
	log_test $? "tcp_early_demux=$ed: TIME_WAIT on the client keyed on $S:$PORT, server side closed"

	r2=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport "$sp" --wait 30)
	syns=$(ep_att count_syn "$sp" after="$m") && syns=${syns#ok }
	crab_log "tcp_early_demux=$ed, second: $r2; tw_replaced +$(($(cnt tw_replaced) - repl0)), redirected +$(($(cnt redirected) - red0)), synack_known +$(($(cnt synack_known) - known0)), SYNs from $sp $syns"
	[ "$(ep_peer "$r2")" = "$S" ]
	log_test $? "tcp_early_demux=$ed: second connection from the same port redirected to $S, data echoed"
	# Two SYNs per connection on the segment (the client's and the LB's
	# forwarded copy); a slow emulated CPU could retransmit one, the bug
	# retransmits the second one until its connect() gives up.
	[ "$(cnt tw_replaced)" = $((repl0 + 1)) ] && [ "$(cnt redirected)" = $((red0 + 2)) ] &&
		[ "$(cnt synack_known)" = "$known0" ] && [ "$syns" -ge 4 ] && [ "$syns" -le 6 ]
	log_test $? "tcp_early_demux=$ed: TIME_WAIT replaced, no SYN-ACK left to it, no SYN retransmission loop"
}
round 1 40108
round 0 40112
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_early_demux=1

crab_exit
