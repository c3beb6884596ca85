#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# An LB that flaps (its link down and up again, $FLAPS times) behind the
# ECMP router, two CRAB XDP LBs (so_lib.sh): each time the router
# withdraws it and takes it back, a steady stream of new connections and
# 20 open connections go on without a failure, and at the end the
# router's FRR daemons still run, every BGP session is up and both LBs
# get SYNs.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/so_lib.sh"

FLAPS=5
ep_unshare "$@"
crab_check_tool python3 ethtool
crab_require_built "$CRABCTL" crabctl
so_topo_setup 2 3
so_endpoints
for i in 1 2; do
	so_lb_xdp $i || crab_fail "XDP LB $i setup"
	so_bgp_start $i
done
both="${IP_LBS[1]} ${IP_LBS[2]}"
so_wait_nexthops "$both" && so_wait_bfd 2 ||
	crab_fail "router: VIP over $(so_rt_nexthops), BFD up with $(so_bfd_up) of 2 LBs"
log_test 0 "router: VIP over both LBs ($(so_rt_nexthops)), BFD up with both"
rtpids=$(cat "$SO_RTDIR"/*.pid | tr '\n' ' ')

H=20
rm -f "$SO_DIR/ready" "$SO_DIR/stop"
so_client --count $H --hold --rounds 200 --interval 0.5 --stop "$SO_DIR/stop" --timeout 5 \
	--deadline 200 --ready "$SO_DIR/ready" >"$SO_DIR/hold.json" &
hpid=$!
crab_defer "kill $hpid"
for i in $(seq 300); do
	[ -e "$SO_DIR/ready" ] && break
	sleep 0.1
done
[ -e "$SO_DIR/ready" ] || crab_fail "the $H held connections did not come up"
# New connections all along: 10/s for 15 s, about as long as the flaps.
so_client --count 150 --rate 10 --parallel 4 --timeout 5 --deadline 60 >"$SO_DIR/stream.json" &
spid=$!
crab_defer "kill $spid"

lbpeer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' '/lbp1-/ { sub(/@.*/, "", $2); print $2; exit }')
ok=0 down_ms=() up_ms=()
for ((f = 1; f <= FLAPS; f++)); do
	t0=$(date +%s%N)
	ip -n "$NS_SW" link set "$lbpeer" down
	so_wait_nexthops "${IP_LBS[2]}" 50 || { ok=1; crab_log "flap $f: not withdrawn: $(so_rt_nexthops)"; }
	t1=$(date +%s%N)
	ip -n "$NS_SW" link set "$lbpeer" up
	so_wait_nexthops "$both" 150 || { ok=1; crab_log "flap $f: not back: $(so_rt_nexthops)"; }
	# BFD up again before the next cut (else the hold timer finds it).
	so_wait_bfd 2 || { ok=1; crab_log "flap $f: BFD not up again"; }
	[ $ok = 0 ] || break
	t2=$(date +%s%N)
	down_ms+=($(((t1 - t0) / 1000000)))
	up_ms+=($(((t2 - t1) / 1000000)))
done
crab_log "withdrawn after ${down_ms[*]} ms; back after ${up_ms[*]} ms"
log_test $ok "$FLAPS flaps of LB 1: each withdrawn and taken back by the router"
slow=0
for m in "${down_ms[@]}"; do [ "$m" -lt 1000 ] || slow=1; done
log_test $slow "every withdrawal within 1 s (BFD): ${down_ms[*]} ms"
touch "$SO_DIR/stop"
wait $spid
stream=$(cat "$SO_DIR/stream.json")
wait $hpid
hold=$(cat "$SO_DIR/hold.json")
crab_log "stream: ${stream:0:300}"
crab_log "held: ${hold:0:300}"
[ "$(crab_json "$stream" 'j["failed"]')" = 0 ] && [ "$(crab_json "$stream" 'j["ok"]')" = 150 ]
log_test $? "the stream of new connections had no failure ($(crab_json "$stream" 'j["ok"]') connections)"
[ "$(crab_json "$hold" 'j["ok"]')" = $H ] && [ "$(crab_json "$hold" 'j["failed"]')" = 0 ]
log_test $? "all $H established connections kept exchanging data"

alive=0
for p in $rtpids; do kill -0 "$p" 2>/dev/null || alive=1; done
est=$(so_vtysh "$SO_RTDIR" -c 'show bgp ipv4 unicast summary json' | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["peers"].values() if p["state"] == "Established"))')
[ $alive = 0 ] && [ "$est" = 2 ]
log_test $? "router: zebra, bfdd and bgpd still run, $est of 2 BGP sessions established"
read -r -a s0 <<<"$(so_all_syns)"
out=$(so_client --count 40 --timeout 5 --deadline 60)
read -r -a s1 <<<"$(so_all_syns)"
crab_log "after the flaps: ${out:0:200}; SYNs per LB: $((s1[0] - s0[0])) $((s1[1] - s0[1]))"
[ "$(crab_json "$out" 'j["ok"]')" = 40 ] && [ $((s1[0] - s0[0])) -gt 0 ] && [ $((s1[1] - s0[1])) -gt 0 ]
log_test $? "after the flaps both LBs take SYNs, 40 connections succeed"

crab_exit
