#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Whole TCP connections through the DPDK LB: crab-lb-dpdk (one worker
# lcore, net_af_packet on the LB's veth) in front of three servers, eBPF
# endpoints on the client and the servers (this host's kernel, no modules):
#   1. $N (90) connections to the VIP succeed with their data echoed, every
#      one redirected by the eBPF client; the LB counted one SYN per
#      connection (plus the client's SYN retransmissions) and no other
#      packet of the service; one worker means one rr position, so the
#      servers completed exactly N/3 each (within the retransmissions;
#      with LBD_WORKERS=W, rr is per worker: within W-1 more, and every
#      worker received packets);
#   2. the client's maps are empty again after the connections close;
#   3. a backend removed through crabctl (telemetry) while 30 redirected
#      connections are open: all keep exchanging data, 30 new connections
#      avoid it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"

N=${EP_CONNS:-90}
H=30

ep_unshare "$@"
crab_check_tool ethtool
EP_LB=dpdk
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"

client() {
	ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$EP_PORT" "$@"
}
W=${LBD_WORKERS:-1}

# 1. $N connections; rr is per worker.
ep_conns_round $N $((W - 1))
if [ "$W" -gt 1 ]; then
	wrx=$("$CRABCTL" -j lb dpdk --prefix "$PREFIX" stats | python3 -c '
import json, sys
print(" ".join(str(x) for x in json.load(sys.stdin)["global"]["worker_rx"]))')
	n=0
	for x in $wrx; do [ "$x" -gt 0 ] && n=$((n + 1)); done
	[ "$n" = "$W" ]
	log_test $? "each of the $W workers received packets (worker_rx $wrx)"
fi

# 2. Maps drain once the connections are closed.
ep_maps_drained
log_test $? "client maps are empty after close ($EP_CLOSED flows removed)"

# 3. Remove a backend (crabctl, telemetry) while $H connections are open.
ep_backend_removal $H $((W - 1))

crab_exit
