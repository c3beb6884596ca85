#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# eBPF endpoints (client and three servers) through the project's XDP LB
# (lb/ebpf_xdp, attached natively to the LB's veth by crabctl):
#   1. $EP_CONNS (300) connections to the VIP succeed with their data echoed,
#      every one redirected by the eBPF client; the LB saw one packet per
#      connection (its counters: SYNs redirected, nothing else) and split
#      them N/3 each (rr, its per-backend counters and the connections
#      each server completed), within the client's SYN retransmissions;
#   2. the client's maps are empty again after the connections close;
#   3. a backend removed at the LB while 30 redirected connections are
#      open: all keep exchanging data, new connections avoid it.
# getpeername() on the client returns the VIP (the eBPF client translates
# addresses instead of re-keying the socket), so the split is read on the
# LB and the servers.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"

# 300 on the host; 90 (30 per server) in an emulated guest, where each
# connection costs far more.
N=${EP_CONNS:-300}
[ "$CRAB_WHERE" = vm ] && N=${EP_CONNS:-90}
H=30
SVC=$VIP:$EP_PORT

ep_unshare "$@"
crab_check_tool taskset
EP_LB=xdp
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"

# One CPU sends everything: the rr position is a per-CPU counter, and on a
# veth the LB's XDP runs on the CPU that sent the frame.
client() {
	ep_in_cg "$CG_CLI" "$NS_CLI" taskset -c 0 $CRAB_TCPECHO client --addr "$VIP" \
		--port "$EP_PORT" "$@"
}

# Per-backend packets the LB sent: "a b c" in server order.
lb_split() {
	ep_crabctl "$NS_LB" -j lb xdp stats --dev eth0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
be = [s for s in j["services"] if s["service"] == sys.argv[1]][0]["backends"]
print(" ".join(str(be.get(ip, 0)) for ip in sys.argv[2:]))' "$SVC" "${IP_SRV[@]:1}"
}

# Three probe connections first: a broken setup says why now instead of
# after $N timeouts; three keep the rr position at 0 (mod 3).
P=3
probe=$(client --count $P --timeout 10 --deadline 60)
if [ "$(crab_json "$probe" 'j["ok"]')" != $P ]; then
	crab_log "probe: ${probe:0:300}"
	ep_crabctl "$NS_LB" -j lb xdp stats --dev eth0
	"$CRABCTL" -j ebpf stats
	crab_fail "$P probe connections via the VIP did not all succeed"
fi
split0=$(lb_split)

# 1. $N connections, rr. The rr position is per CPU, and XDP runs on the
# CPU polling the LB veth's NAPI: the sender's (pinned to CPU 0), unless a
# poll already running on another CPU takes the frame (seen under load).
# Each CPU's share is an exact rr, so each backend is within one per extra
# CPU of N/3; each SYN retransmission can move one connection more.
ep_conns_round $N $(($(nproc) - 1))

# The LB's own per-backend counters: the servers completed what it sent.
read -r a1 a2 a3 <<<"$(lb_split)"
read -r b1 b2 b3 <<<"$split0"
d=($((a1 - b1)) $((a2 - b2)) $((a3 - b3)))
ok=0
for i in 0 1 2; do [ "${EP_D[i]}" -le "${d[i]}" ] || ok=1; done
log_test $ok "LB per-backend counters ${d[*]} cover the servers' completions ${EP_D[*]}"

# 2. Maps drain once the connections are closed.
ep_maps_drained && [ "$EP_CLOSED" = $((N + P)) ]
log_test $? "client maps are empty after close ($EP_CLOSED flows removed)"

# 3. Remove a backend while $H redirected connections are open.
ep_backend_removal $H $(($(nproc) - 1))

crab_exit
