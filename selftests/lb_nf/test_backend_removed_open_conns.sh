#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# A backend removed from the nf LB while 50 redirected connections
# are open: all 50 keep exchanging data (they no longer pass the LB), and
# new connections avoid the removed backend.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup_connections

# 50 connections held open, data exchanged every 2 s for 8 rounds (the
# removal happens during the first rounds).
ready=$NF_DIR/ready
ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" \
	--count 50 --hold --rounds 8 --interval 2 --timeout 20 --ready "$ready" >"$NF_DIR/held.json" &
held=$!
crab_defer "kill $held"
for i in $(seq 600); do
	[ -e "$ready" ] && break
	kill -0 $held 2>/dev/null || break
	sleep 0.2
done
[ -e "$ready" ] || crab_fail "the 50 connections were not established: $(cat "$NF_DIR/held.json")"
on2=0
while read -r _ _ _ _ _; do on2=$((on2 + 1)); done < <(ip netns exec "${NS_SRV[2]}" ss -Htn state established "sport = :$NF_PORT")
lbctl lb nf backend del "$NF_SVC" "${IP_SRV[2]}"
log_test $? "backend ${IP_SRV[2]} removed with $on2 connections open to it"

new=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" --count 20)
crab_log "new connections: $new"
crab_conns_ok "$new" 20 && [ "$(crab_peer "$new" "${IP_SRV[2]}")" = 0 ]
log_test $? "20 new connections succeed, none to the removed backend"

wait $held
rc=$?
out=$(cat "$NF_DIR/held.json")
crab_log "held: $out"
[ $rc = 0 ] && crab_conns_ok "$out" 50 && [ "$on2" -ge 16 ] && [ "$(crab_jnum "$out" rounds)" = 8 ]
log_test $? "all 50 open connections kept exchanging data (8 rounds)"

crab_exit
