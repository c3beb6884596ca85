#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# crab-kernels: oldest
#
# NodePort behind an nft DNAT LB (experiments/nodeport/): connections to
# the VIP work without redirection (kube-proxy Cluster rules only) and with
# it (tc programs on the nodes and the LB): N connections echo data, the LB
# spread them over all three nodes, and with redirection every connection
# that node1 forwarded to a pod was moved: node1 added the option, the pod's
# node recorded and echoed it, the LB learned it.
source "$(dirname "$0")/../lib.sh"
source "$CRAB_TOP/experiments/nodeport/np_lib.sh"
np_unshare "$@"
np_require
N=${NP_CONNS:-30}
# round-robin at the LB: every node gets a third, whatever N
export NP_LB_NUMGEN=inc
[ "${CRAB_WHERE:-host}" = vm ] && N=${NP_CONNS:-15}

np_topo_setup
np_pods_start

run_conns() {	# mode
	local out
	out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr $NP_VIP \
		--port $NP_VPORT --count "$N" --size 256 --timeout 20 --deadline 100)
	crab_log "$1: $out"
	crab_conns_ok "$out" "$N"
}

for mode in cluster redirect; do
	np_apply $mode
	run_conns $mode
	log_test $? "$mode: $N connections through the LB echo their data"
	read -r s1 s2 s3 <<<"$(np_lb_spread)"
	crab_log "$mode: LB DNAT per node: $s1 $s2 $s3"
	[ "${s1:-0}" -gt 0 ] && [ "${s2:-0}" -gt 0 ] && [ "${s3:-0}" -gt 0 ]
	log_test $? "$mode: the LB spread the connections over node1, node2, node3"
done

# mode is redirect here
n1=$(np_stats node1)
n2=$(np_stats node2)
n3=$(np_stats node3)
lb=$(np_stats lb)
crab_log "node1: $n1"
crab_log "node2: $n2"
crab_log "node3: $n3"
crab_log "lb: $lb"
added=$(( $(crab_json "$n1" 'j["counters"]["syn_opt_added"]') + \
	  $(crab_json "$n2" 'j["counters"]["syn_opt_added"]') + \
	  $(crab_json "$n3" 'j["counters"]["syn_opt_added"]') ))
recorded=$(( $(crab_json "$n2" 'j["counters"]["flow_recorded"]') + \
	     $(crab_json "$n3" 'j["counters"]["flow_recorded"]') ))
learned=$(crab_json "$lb" 'j["counters"]["learned"]')
direct=$(crab_json "$lb" 'j["counters"]["fwd_direct"]')
n1conns=$s1
crab_log "options added $added, recorded $recorded, learned $learned, LB direct packets $direct"
# node1 has no pod: each of its connections is forwarded and redirected
# (SYN retransmissions may add SYNs, never fewer).
[ "$(crab_json "$n1" 'j["counters"]["syn_opt_added"]')" -ge "$n1conns" ] &&
	[ "$recorded" -ge "$added" ] && [ "$learned" -ge "$n1conns" ] && [ "$direct" -gt 0 ]
log_test $? "redirect: node1's $n1conns connections got the option, were recorded and learned by the LB"
rej=0
for v in $(crab_jget /counters/rejected_no_ct /counters/rejected_not_reply /counters/rejected_seen_reply \
	/counters/rejected_not_peer <<<"$lb"); do
	rej=$((rej + v))
done
[ "$rej" -eq 0 ] && [ "$(crab_json "$n1" 'j["counters"]["syn_port_changed"]')" -eq 0 ]
log_test $? "redirect: no rejected echo at the LB, no port changed by node1's masquerade"
crab_exit
