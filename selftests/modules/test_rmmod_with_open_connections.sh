#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# rmmod crab_client and crab_server while redirected connections are open
# (docs/PROTOCOL.md 4): no oops/WARN (the VM runner checks the kernel log), the sysctls
# and /proc files go away, and the connections keep exchanging data with
# the backends (they are ordinary TCP connections by then).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8105
N=20
crab_require_root
crab_check_tool ip tc python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 2
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" "${IP_SRV[2]}" || crab_fail "cannot install the tc LB"
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"

ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT --count $N \
	--hold --rounds 6 --interval 1 --ready "$tmp/ready" --timeout 5 --json >"$tmp/out" &
cpid=$!
crab_defer "kill $cpid"
for i in $(seq 300); do [ -e "$tmp/ready" ] && break; sleep 0.2; done
[ -e "$tmp/ready" ] || crab_fail "connections not established"

rc=0
rmmod crab_client || rc=1
rmmod crab_server || rc=1
log_test $rc "rmmod of both modules with $N connections open"

rc=0
[ -e /proc/sys/net/crab/client_enabled ] && rc=1
[ -e /proc/net/crab_client ] && rc=1
ip netns exec "$NS_CLI" test -e /proc/net/crab_client && rc=1
ip netns exec "${NS_SRV[1]}" test -e /proc/net/crab_server && rc=1
log_test $rc "sysctls and /proc files removed in every namespace"

wait $cpid
out=$(cat "$tmp/out")
echo "# ${out:0:300}"
p1=$(ep_jpeers "$out" "${IP_SRV[1]}")
p2=$(ep_jpeers "$out" "${IP_SRV[2]}")
[ "$(ep_jget "$out" ok)" = $N ] && [ "$(ep_jget "$out" failed)" = 0 ] &&
	[ $((p1 + p2)) = $N ]
log_test $? "redirected connections keep exchanging data after rmmod"

# Load again: a fresh start in every namespace (off until configured
# again), and it still redirects.
ep_load_module crab_server
ep_load_module crab_client
[ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/crab/client_enabled)" = 0 ]
log_test $? "reloaded: the client namespace is off again"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count 5 --timeout 5 --json)
[ "$(ep_jget "$out" ok)" = 5 ]
log_test $? "reloaded modules redirect new connections"

crab_exit
