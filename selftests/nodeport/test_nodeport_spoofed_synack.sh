#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# A SYN-ACK carrying the option that does not answer a SYN the LB forwarded,
# or does not come from the node it claims, moves nothing at the LB (each
# counted by reason): from an address with no flow (no conntrack entry);
# with node1's address but another MAC, for a flow waiting for its SYN-ACK;
# with node1's address and MAC naming a host that is not a node; and for an
# established, already redirected connection (naming another node), which
# keeps working. Host only: scapy is slow in a TCG guest.
source "$(dirname "$0")/../lib.sh"
source "$CRAB_TOP/experiments/nodeport/np_lib.sh"
np_unshare "$@"
np_require
crab_require_python_module scapy
export NP_LB_NODES=1
ATT_IP=198.18.0.66
SPOOF="python3 $CRAB_TOP/selftests/nodeport/np_spoof.py"

np_topo_setup
np_pods_start
NS_ATT=crab-npatt-$CRAB_SFX
crab_ns_add "$NS_ATT"
np_veth "$NS_ATT" eth0 "$NS_SW" att-$RANDOM
ip -n "$NS_SW" link set "$(ip -n "$NS_SW" -br link | awk '/^att-/ { sub(/@.*/, "", $1); print $1 }')" master br0
ip -n "$NS_ATT" addr add $ATT_IP/24 dev eth0
np_apply redirect
LB_MAC=$(np_mac "$NS_LB" eth1)
ATT_MAC=$(np_mac "$NS_ATT" eth0)

# An established, redirected connection that exchanges data for ~20 s.
hold=$CRAB_TOP/build/nodeport/hold-$CRAB_SFX.json
ready=$CRAB_TOP/build/nodeport/ready-$CRAB_SFX
crab_defer "rm -f $hold $ready"
ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr $NP_VIP --port $NP_VPORT \
	--count 1 --hold --rounds 40 --interval 0.5 --timeout 20 --ready "$ready" >"$hold" &
hold_pid=$!
for i in $(seq 100); do [ -e "$ready" ] && break; sleep 0.2; done
[ -e "$ready" ] || crab_fail "held connection did not connect"
hport=$(ip netns exec "$NS_LB" conntrack -L -p tcp -d $NP_VIP --state ESTABLISHED 2>/dev/null |
	sed -n 's/.*sport=\([0-9]*\) dport=80 .*/\1/p' | head -1)
# Flows waiting for their SYN-ACK (one per spoof: a spoof that reaches
# the client is answered with RST, which ends that flow at the LB): node1
# drops the client's SYNs from 40001-40002.
ip netns exec "${NP_NODE_NS[1]}" nft -f - <<EOR
table ip crab_test { chain pre { type filter hook prerouting priority -300;
	ip saddr $NP_CLI_IP tcp sport 40001-40002 drop; }; }
EOR
for port in 40001 40002; do
	ip netns exec "$NS_CLI" python3 -c '
import socket, time
s = socket.socket(); s.bind(("", '$port')); s.setblocking(False)
s.connect_ex(("'$NP_VIP'", '$NP_VPORT')); time.sleep(60)' &
	crab_defer "kill $!"
done
pending() { ip netns exec "$NS_LB" conntrack -L -p tcp --sport "$1" 2>/dev/null | grep -q SYN_SENT; }
for i in $(seq 50); do pending 40001 && pending 40002 && break; sleep 0.2; done
pending 40001 && pending 40002 || crab_fail "no pending flows at the LB"
before=$(np_stats lb)
crab_log "held connection port $hport; lb before: $before"

cnt() { crab_json "$(np_stats lb)" "j['counters']['$1']"; }
spoof() { ip netns exec "$NS_ATT" $SPOOF eth0 "$LB_MAC" "$@"; }

spoof "$ATT_MAC" $ATT_IP 30080 $NP_CLI_IP 40001 "${NP_NODE_IP[3]}"
spoof "$ATT_MAC" "${NP_NODE_IP[1]}" 30080 $NP_CLI_IP 40001 "${NP_NODE_IP[3]}"
spoof "${NP_NODE_MAC[1]}" "${NP_NODE_IP[1]}" 30080 $NP_CLI_IP 40002 $ATT_IP
spoof "${NP_NODE_MAC[1]}" "${NP_NODE_IP[1]}" 30080 $NP_CLI_IP "$hport" "${NP_NODE_IP[3]}"
after=$(np_stats lb)
crab_log "lb after: $after"
d() { echo $(( $(crab_json "$after" "j['counters']['$1']") - $(crab_json "$before" "j['counters']['$1']") )); }
[ "$(d rejected_no_ct)" = 1 ]
log_test $? "SYN-ACK from an address with no flow: rejected (no conntrack entry)"
[ "$(d rejected_src_mac)" = 1 ]
log_test $? "node1's address from another MAC, pending flow: rejected (source MAC)"
[ "$(d rejected_not_peer)" = 1 ]
log_test $? "option naming a host that is not a node: rejected (not a node)"
[ "$(d rejected_seen_reply)" = 1 ]
log_test $? "option for an established connection: rejected (reply already seen)"
[ "$(d learned)" = 0 ] && [ "$(crab_json "$after" 'j["flows"]["np_lb"]')" -le 1 ]
log_test $? "no spoofed SYN-ACK was learned: at most the held flow in the LB's map"
wait "$hold_pid"
out=$(cat "$hold")
crab_log "held: $out"
[ "$(crab_json "$out" 'j["ok"]')" = 1 ]
log_test $? "the held redirected connection kept echoing data after the spoofs"
crab_exit
