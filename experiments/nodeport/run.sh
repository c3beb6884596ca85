#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The NodePort redirection experiment, one command (root):
#     sudo bash experiments/nodeport/run.sh [--quick]
# Builds the topology of np_lib.sh, then for each configuration measures,
# in the same run: packets node1 (no pod) forwards per connection, and
# closed-loop CRR and RR latency (np_bench.py, Python timing client) with
# p50/p99. Configurations: the LB over all three nodes, and the LB sending
# everything to node1 (the path redirection changes), each with
#   cluster  - kube-proxy externalTrafficPolicy: Cluster, no redirection
#   redirect - the same rules plus the redirection tc programs
#   local    - externalTrafficPolicy: Local (the LB targets only nodes with
#              a pod; the reference point; only with the LB over all nodes)
# Writes build/nodeport/results.json and prints a Markdown table.
source "$(dirname "$0")/../../selftests/lib.sh"
source "$(dirname "$0")/np_lib.sh"
np_unshare "$@"
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
CRR=${NP_CRR:-2000}
RR=${NP_RR:-5000}
[ $QUICK = 1 ] && CRR=${NP_CRR:-300} RR=${NP_RR:-1000}
[ -e "$NP_BUILD/crab_np_node.bpf.o" ] || make -s -C "$NP_TOP" nodeport
np_require
BENCH="python3 $NP_DIR/np_bench.py"
OUT=$NP_BUILD/results.json
start=$(date -u +%FT%TZ)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

np_topo_setup
np_pods_start

results=()
measure() {	# label mode lbnodes
	local label=$1 mode=$2 crr rr syn other conns spread spread0
	NP_LB_NODES=$3 np_apply "$mode"
	# warm-up: neighbours resolved, code paths hot
	ip netns exec "$NS_CLI" $BENCH crr --addr $NP_VIP --port $NP_VPORT --count 30 >/dev/null
	np_meter_reset
	# the LB's DNAT counters are inline counters (nft 1.0.6 cannot reset
	# them): the CRR phase's connections per node are a difference
	spread0=$(np_lb_spread)
	crr=$(ip netns exec "$NS_CLI" $BENCH crr --addr $NP_VIP --port $NP_VPORT --count "$CRR")
	syn=$(np_meter fwd_syn)
	other=$(np_meter fwd_other)
	spread=$(echo "$spread0 $(np_lb_spread)" | awk '{ print $4 - $1, $5 - $2, $6 - $3 }')
	conns=$(echo "$spread" | awk '{ print $1 + $2 + $3 }')
	rr=$(ip netns exec "$NS_CLI" $BENCH rr --addr $NP_VIP --port $NP_VPORT --count "$RR" --conns 6)
	local stats="{}"
	[ "$mode" = redirect ] && stats="{\"node1\": $(np_stats node1), \"node2\": $(np_stats node2), \"node3\": $(np_stats node3), \"lb\": $(np_stats lb)}"
	results+=("{\"config\": \"$label\", \"mode\": \"$mode\", \"lb_nodes\": \"$3\", \"crr\": $crr, \"rr\": $rr, \"crr_conns_per_node\": \"$spread\", \"node1_fwd_syn\": $syn, \"node1_fwd_other\": $other, \"crr_conns\": $conns, \"counters\": $stats}")
	echo "# $label: crr $crr rr $rr node1 syn $syn other $other spread $spread" >&2
}

for mode in cluster redirect local; do
	measure "all-nodes/$mode" $mode "1 2 3"
done
for mode in cluster redirect; do
	measure "node1-only/$mode" $mode "1"
done

load1=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "{\"command\": \"sudo bash experiments/nodeport/run.sh${1:+ $1}\", \"start\": \"$start\","
	echo " \"kernel\": \"$(uname -r)\", \"where\": \"${CRAB_WHERE:-host}\", \"cpus\": $(nproc),"
	echo " \"loadavg_start\": \"$load0\", \"loadavg_end\": \"$load1\","
	echo " \"latency_client\": \"np_bench.py (Python, closed loop, 64-byte echo)\","
	echo " \"results\": ["
	(IFS=,; echo "${results[*]}")
	echo "]}"
} | python3 -m json.tool >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"kernel {d['kernel']} ({d['where']}), {d['cpus']} CPUs, load {d['loadavg_start']} -> {d['loadavg_end']}, {d['start']}")
print("| config | CRR conns (n1/n2/n3) | node1 pkts per conn (SYN+SYN-ACK / other) | node1 pkts per node1 conn | CRR p50 / p99 µs | RR p50 / p99 µs |")
print("|---|---|---|---|---|---|")
for r in d["results"]:
    c = r["crr_conns"] or 1
    n1 = int(r["crr_conns_per_node"].split()[0])
    s, o = r["node1_fwd_syn"], r["node1_fwd_other"]
    per1 = f"{(s + o) / n1:.2f}" if n1 else "-"
    print(f"| {r['config']} | {r['crr_conns']} ({r['crr_conns_per_node'].strip().replace(' ', '/')}) "
          f"| {(s + o) / c:.2f} ({s / c:.2f} / {o / c:.2f}) | {per1} "
          f"| {r['crr']['p50_us']} / {r['crr']['p99_us']} | {r['rr']['p50_us']} / {r['rr']['p99_us']} |")
PY
echo "# raw: $OUT"
