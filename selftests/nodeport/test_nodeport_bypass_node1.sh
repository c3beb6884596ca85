#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# crab-kernels: oldest
#
# With redirection, after the handshake no packet of a connection crosses
# the node without a pod: the LB sends every connection to node1 (no pod,
# kube-proxy forwards to pod2 or pod3), and node1's forward-hook counters
# see only the SYN and the SYN-ACK of each (retransmissions allowed), while
# without redirection they see every packet. After close, the flow maps of
# the LB and the nodes are empty and the LB's conntrack holds no open entry.
source "$(dirname "$0")/../lib.sh"
source "$CRAB_TOP/experiments/nodeport/np_lib.sh"
np_unshare "$@"
np_require
N=${NP_CONNS:-20}
[ "${CRAB_WHERE:-host}" = vm ] && N=${NP_CONNS:-10}
export NP_LB_NODES=1

np_topo_setup
np_pods_start

run_conns() {	# mode
	local out
	out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr $NP_VIP \
		--port $NP_VPORT --count "$N" --size 1000 --timeout 20 --deadline 100)
	crab_log "$1: $out"
	crab_conns_ok "$out" "$N"
}

# Polls until the last ACKs of the closes went through: $1 = command that
# succeeds when done; up to 15 s.
wait_for() {
	local i
	for i in $(seq 75); do
		eval "$1" && return 0
		sleep 0.2
	done
	return 1
}

np_apply cluster
np_meter_reset
run_conns cluster
log_test $? "cluster: $N connections via node1 echo their data"
other=$(np_meter fwd_other)
crab_log "cluster: node1 forwarded $(np_meter fwd_syn) SYN/SYN-ACKs and $other other packets"
[ "$other" -ge $((N * 4)) ]
log_test $? "cluster: node1 forwards every packet of the connections ($other non-SYN)"

np_apply redirect
np_meter_reset
run_conns redirect
log_test $? "redirect: $N connections via node1 echo their data"
lb_done() { [ "$(np_stats lb | crab_jget /flows/np_lb)" = 0 ]; }
wait_for lb_done
syn=$(np_meter fwd_syn)
other=$(np_meter fwd_other)
crab_log "redirect: node1 forwarded $syn SYN/SYN-ACKs and $other other packets"
crab_log "node1: $(np_stats node1)"
crab_log "lb: $(np_stats lb)"
[ "$other" -eq 0 ] && [ "$syn" -ge $((2 * N)) ]
log_test $? "redirect: node1 saw only SYN and SYN-ACK ($syn), no other packet ($other)"

lb=$(np_stats lb)
[ "$(crab_json "$lb" 'j["counters"]["learned"]')" -ge "$N" ] &&
	[ "$(crab_json "$lb" 'j["counters"]["flows_closed"]')" -ge "$N" ] &&
	[ "$(crab_json "$lb" 'j["flows"]["np_lb"]')" = 0 ]
log_test $? "redirect: the LB learned $N flows and removed them at close"
nodes_done() {
	local i s
	for i in 2 3; do
		s=$(np_stats node$i)
		[ "$(crab_jget /flows/np_in /flows/np_out <<<"$s" | tr '\n' ' ')" = "0 0 " ] || return 1
	done
}
wait_for nodes_done
log_test $? "redirect: the pods' nodes removed their flows at close"
open_ct() {
	ip netns exec "$NS_LB" conntrack -L -p tcp -d $NP_VIP 2>/dev/null |
		grep -Ev 'TIME_WAIT|CLOSE ' | grep -c tcp
}
wait_for '[ "$(open_ct)" = 0 ]'
rc=$?
crab_log "LB conntrack: $(ip netns exec "$NS_LB" conntrack -L -p tcp -d $NP_VIP 2>/dev/null | awk '{ print $4 }' | sort | uniq -c | tr '\n' ' ')"
log_test $rc "redirect: the LB's conntrack holds no open entry after close"
crab_exit
