#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers of the netfilter LB selftests (sourced after ../lib.sh): load
# crab_lb_nf.ko, run crabctl in the LB namespace, capture on the servers
# and read the LB's counters.

NF_PKT="python3 $(dirname "${BASH_SOURCE[0]}")/nf_pkt.py"
NF_PORT=80
NF_SVC=$VIP:$NF_PORT

# Standard topology with 3 servers, the module loaded, crabctl present.
nf_setup() {
	crab_require_root
	crab_check_tool python3 tcpdump
	crab_require_python_module scapy
	crab_require_built "$CRABCTL" crabctl
	crab_topo_setup 3
	crab_load_module crab_lb_nf
	NF_DIR=$(mktemp -d)
	crab_defer "rm -rf $NF_DIR"
}

# Whole connections: nf_setup plus the endpoint modules, the service
# $NF_SVC (rr, legacy drop) over the 3 servers and echo servers on them.
nf_setup_connections() {
	crab_has_modules || crab_skip "kernel without loadable module support"
	nf_setup
	crab_load_module crab_client
	crab_load_module crab_server
	nf_service --policy rr --legacy drop || crab_fail "service add"
	crab_echo_servers "$NF_PORT"
}

lbctl() {
	ip netns exec "$NS_LB" "$CRABCTL" "$@"
}

# Start tcpdump on every server (and the client with $1 = all); wait until
# each one is capturing.
nf_capture_start() {
	local i
	rm -f "$NF_DIR"/*.pcap "$NF_DIR"/*.err
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		crab_capture_start "${NS_SRV[i]}" "$NF_DIR/srv$i.pcap" \
			"tcp dst port $NF_PORT or tcp dst port 81"
	done
}

# Stop the captures and analyse them: NF_RES holds nf_pkt.py check's JSON.
nf_capture_stop() {
	local i files=() args=()
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		files+=("$NF_DIR/srv$i.pcap")
		args+=("srv$i=$NF_DIR/srv$i.pcap")
	done
	crab_capture_stop "${files[@]}"
	NF_RES=$($NF_PKT check --port "$NF_PORT" "${args[@]}")
}

# nf_res PYEXPR: evaluate on the capture result (j), with L(i) = label i.
nf_res() {
	python3 -c '
import json, sys
j = json.loads(sys.argv[1])
def L(i): return j["labels"]["srv%d" % i]
def total(k): return sum(v[k] for v in j["labels"].values())
print(eval(sys.argv[2]))' "$NF_RES" "$1"
}

# Send from the client: nf_send [nf_pkt.py send options]
nf_send() {
	ip netns exec "$NS_CLI" $NF_PKT send --dst "$VIP" --dport "$NF_PORT" "$@"
}

# nf_counter NAME [SERVICE]: a per-service counter (or global with SERVICE=-)
nf_counter() {
	local name=$1 svc=${2:-$NF_SVC}
	lbctl -j lb nf stats | python3 -c '
import json, sys
j = json.load(sys.stdin)
name, svc = sys.argv[1], sys.argv[2]
print(j["global"][name] if svc == "-" else j["services"][svc][name])' "$name" "$svc"
}

# Add the service $NF_SVC with the 3 servers as backends: nf_service [opts]
nf_service() {
	local i
	lbctl lb nf service add "$NF_SVC" "$@" || return 1
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		lbctl lb nf backend add "$NF_SVC" "${IP_SRV[i]}" || return 1
	done
}
