#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# A client with net.ipv4.tcp_early_demux=0 (the socket is looked up after
# routing, not at IP receive): the eBPF client translates the redirected
# connection's packets before either lookup, so 30 connections through the
# rr LB are all redirected with their data echoed, the servers split them
# 10/10/10, and the flow table drains.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_early_demux=0 ||
	crab_fail "net.ipv4.tcp_early_demux in the client's namespace"
[ "$(ip netns exec "$NS_CLI" sysctl -n net.ipv4.tcp_early_demux)" = 0 ]
log_test $? "early demux off in the client's namespace"

read -r -a o0 <<<"$(ep_opens)"
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count 30 --timeout 10 --json)
read -r -a o1 <<<"$(ep_opens)"
d="$((o1[0] - o0[0])) $((o1[1] - o0[1])) $((o1[2] - o0[2]))"
crab_log "client: ${out:0:200}; servers $d"
[ "$(crab_json "$out" "j['ok']")" = 30 ] && [ "$(ep_stat redirected)" = 30 ] &&
	[ "$(crab_json "$out" "j['peers']")" = "{'$VIP': 30}" ] && [ "$d" = "10 10 10" ]
log_test $? "30 connections redirected and echoed, rr $d"
ep_maps_drained && [ "$EP_CLOSED" = 30 ]
log_test $? "the flow table drains ($EP_CLOSED flows closed)"

crab_exit
