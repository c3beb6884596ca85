#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Whole connections through the netfilter LB with the endpoint modules
# (crab_client.ko in the client, crab_server.ko on the servers): 300
# connections via the VIP all succeed, the peers are the DIPs (redirected),
# rr spreads them 100/100/100 and the LB saw exactly one SYN per connection.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

crab_has_modules || crab_skip "kernel without loadable module support"
nf_setup
crab_load_module crab_client
crab_load_module crab_server
nf_service --policy rr --legacy drop || crab_fail "service add"
crab_echo_servers "$NF_PORT"

out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$NF_PORT" \
	--count 300 --json)
crab_log "client: $out"
[ "$(crab_json "$out" 'j["ok"]')" = 300 ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
log_test $? "300 connections via the LB succeed"
[ "$(crab_json "$out" 'sorted(j["peers"].items())')" = \
  "[('${IP_SRV[1]}', 100), ('${IP_SRV[2]}', 100), ('${IP_SRV[3]}', 100)]" ]
log_test $? "peers are the DIPs, 100 each (rr)"
n=$(nf_counter syn_redirected)
d=$(nf_counter nonsyn_drop)
[ "$n" = 300 ] && [ "$d" = 0 ]
log_test $? "LB saw exactly one SYN per connection ($n), no other packet ($d)"

crab_exit
