#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Two network namespaces with the same addresses (two copies of the
# standard topology: client, rr LB, three servers, 198.18.0.0/24 each),
# their eBPF clients sharing one set of pinned maps. A connection from the
# same local port in each world is redirected to the same server address:
# two redirects with the same 4-tuple, told apart by the namespace in the
# flow key. Both exchange data; closing the first leaves the second
# working; a segment forged in the first world with the second's 4-tuple
# is not translated by the second's flow.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_require_python_module scapy
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
ep_spoofer_start
ep_helper_start hold1 "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
W1_CLI=$NS_CLI

# The second world: same addresses, its own bridge, LB, servers, client
# cgroup; the same pin directory (one flow table for both).
CRAB_SFX=$CRAB_SFX-w2
crab_topo_setup 3
EP_LB_PIN=2 ep_lb_rr_setup "$EP_TMP" || crab_fail "second LB"
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	ep_echo_server "${NS_SRV[i]}" "$EP_PORT"
done
CG_CLI2=$CG_BASE/cli2
mkdir "$CG_CLI2" || crab_fail "cgroup $CG_CLI2"
ep_crabctl "$NS_CLI" ebpf client attach --cgroup "$CG_CLI2" --dev eth0 \
	--announce "$VIP/32" --allow "$CRAB_SUBNET.0/24" 2>/dev/null ||
	crab_fail "crabctl ebpf client attach in the second world"
crab_defer "ep_crabctl $NS_CLI ebpf client detach --cgroup $CG_CLI2 --dev eth0"
ep_helper_start hold2 "$NS_CLI" "$CG_CLI2" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"

LPORT=40000
rc=0
for h in hold1 hold2; do
	p=$(ep_helper $h "connect $VIP $EP_PORT $LPORT")
	w=$(ep_helper $h "wait $LPORT 5")
	crab_log "$h: port $p, $w"
	[ "$w" = "up $VIP" ] || rc=1
done
[ "$(ep_stat redirected)" = 2 ] && [ "$(ep_stat maps.flows)" = 2 ] || rc=1
for ns in "$W1_CLI" "$NS_CLI"; do
	crab_log "$ns: $(ip netns exec "$ns" ss -Htn state established "sport = :$LPORT")"
done
log_test $rc "the same 4-tuple redirected in two namespaces: 2 redirects, 2 flows ($(ep_stat maps.flows))"

[ "$(ep_helper hold1 "echo $LPORT 3000")" = ok ] && [ "$(ep_helper hold2 "echo $LPORT 3000")" = ok ]
log_test $? "both connections exchange data"

ep_helper hold1 "close $LPORT" >/dev/null
for i in $(seq 100); do
	[ "$(ep_stat maps.flows)" = 1 ] && break
	sleep 0.1
done
e=$(ep_helper hold2 "echo $LPORT 3000")
crab_log "second world after the first closed: $e, flows $(ep_stat maps.flows)"
[ "$e" = ok ] && [ "$(ep_stat maps.flows)" = 1 ]
log_test $? "closing the first world's connection leaves the second's flow and data"

# A segment from the server to the first world's client with the second
# world's 4-tuple, then a marker the first world counts (a martian
# SYN-ACK): the segment went by untranslated.
rx=$(ep_stat rx_rewritten)
m=$(ep_stat rejected_martian)
ack='{"op": "synack", "dst_mac": "%s", "src": "%s", "dst": "%s", "sport": %s, "dport": %s, "seq": 1, "ack": 1, "flags": "A", "name": null}'
# shellcheck disable=SC2059
ep_helper spoof "$(printf "$ack" "$CLI_MAC" "${IP_SRV[1]}" "$IP_CLI" "$EP_PORT" "$LPORT")" >/dev/null
ep_helper spoof "$(ep_synack_json 127.0.0.1 "$LPORT" 1)" >/dev/null
ep_wait_stat rejected_martian $((m + 1))
rc=$?
crab_log "rx_rewritten $rx -> $(ep_stat rx_rewritten)"
[ "$(ep_stat rx_rewritten)" = "$rx" ] || rc=1
log_test $rc "a segment in the first world is not translated by the second world's flow"

ep_helper hold2 "close $LPORT" >/dev/null
crab_exit
