#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Three CRAB XDP LBs behind a router (FRR) that spreads the VIP over them
# by ECMP; each LB's `crabctl bgp run` announces the VIP (so_lib.sh):
#   1. the router learns three equal-cost next hops, and 90 new
#      connections are spread over all three LBs (L4 multipath hash);
#   2. LB 2 dies (its link cut, its FRR and crabctl killed) while 30
#      connections are open: the router withdraws it within 1 s (BFD),
#      every open connection keeps exchanging data, and new connections
#      succeed through LBs 1 and 3 only;
#   3. LB 2 comes back: the router has three next hops again and LB 2
#      gets SYNs again.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/so_lib.sh"

ep_unshare "$@"
crab_check_tool python3 ethtool
crab_require_built "$CRABCTL" crabctl
so_topo_setup 3 3
so_endpoints
for i in 1 2 3; do
	so_lb_xdp $i || crab_fail "XDP LB $i setup"
	so_bgp_start $i
done
all="${IP_LBS[1]} ${IP_LBS[2]} ${IP_LBS[3]}"
so_wait_nexthops "$all" && so_wait_bfd 3 ||
	crab_fail "router: VIP over $(so_rt_nexthops), BFD up with $(so_bfd_up) of 3 LBs"
log_test 0 "router: VIP $VIP/32 over three equal-cost next hops ($(so_rt_nexthops)), BFD up"

# 1. spread
N=90
read -r -a s0 <<<"$(so_all_syns)"
out=$(so_client --count $N --timeout 5 --deadline 120)
read -r -a s1 <<<"$(so_all_syns)"
d=($((s1[0] - s0[0])) $((s1[1] - s0[1])) $((s1[2] - s0[2])))
crab_log "client: ${out:0:200}; SYNs per LB: ${d[*]}"
[ "$(crab_json "$out" 'j["ok"]')" = $N ]
log_test $? "$N connections through the VIP succeed"
# A fair 3-way split puts fewer than N/9 on one LB with probability
# below 1e-4; a hash that ignores the ports puts all N on one.
[ $((d[0] + d[1] + d[2])) -ge $N ] && [ "${d[0]}" -ge $((N / 9)) ] &&
	[ "${d[1]}" -ge $((N / 9)) ] && [ "${d[2]}" -ge $((N / 9)) ]
log_test $? "ECMP spreads the SYNs over all three LBs: ${d[*]} (each >= $((N / 9)))"

# 2. LB 2 dies with 30 connections open
H=30
rm -f "$SO_DIR/ready" "$SO_DIR/stop"
so_client --count $H --hold --rounds 60 --interval 0.5 --stop "$SO_DIR/stop" --timeout 5 \
	--deadline 120 --ready "$SO_DIR/ready" >"$SO_DIR/hold.json" &
hpid=$!
crab_defer "kill $hpid"
for i in $(seq 300); do
	[ -e "$SO_DIR/ready" ] && break
	kill -0 $hpid 2>/dev/null || break
	sleep 0.1
done
[ -e "$SO_DIR/ready" ] || crab_fail "the $H held connections did not come up: $(cat "$SO_DIR/hold.json")"
read -r -a s0 <<<"$(so_all_syns)"
# The link first (the LB cannot say goodbye), then its processes.
lbpeer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' '/lbp2-/ { sub(/@.*/, "", $2); print $2; exit }')
t0=$(date +%s%N)
ip -n "$NS_SW" link set "$lbpeer" down
kill -9 "${SO_BGP_PID[2]}"
wait "${SO_BGP_PID[2]}" 2>/dev/null
so_frr_kill "${SO_LBDIR[2]}"
want="${IP_LBS[1]} ${IP_LBS[3]}"
so_wait_nexthops "$want" 100
rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
crab_log "router after the failure: $(so_rt_nexthops) after $ms ms"
[ $rc = 0 ] && [ $ms -lt 1000 ]
log_test $? "router withdrew LB 2 within 1 s (BFD): $ms ms"

out=$(so_client --count 60 --timeout 5 --deadline 120)
read -r -a s1 <<<"$(so_all_syns)"
d=($((s1[0] - s0[0])) $((s1[1] - s0[1])) $((s1[2] - s0[2])))
crab_log "new connections: ${out:0:200}; SYNs per LB: ${d[*]}"
[ "$(crab_json "$out" 'j["ok"]')" = 60 ] && [ "${d[1]}" = 0 ] && [ "${d[0]}" -gt 0 ] && [ "${d[2]}" -gt 0 ]
log_test $? "60 new connections succeed through LBs 1 and 3 only: ${d[*]}"

touch "$SO_DIR/stop"
wait $hpid
hrc=$?
hold=$(cat "$SO_DIR/hold.json")
crab_log "held connections: ${hold:0:300}"
[ $hrc = 0 ] && [ "$(crab_json "$hold" 'j["ok"]')" = $H ] && [ "$(crab_json "$hold" 'j["failed"]')" = 0 ] &&
	[ "$(crab_json "$hold" 'j["rounds"]')" -ge 2 ]
log_test $? "all $H established connections kept exchanging data through the failure"

# 3. LB 2 comes back
ip -n "$NS_SW" link set "$lbpeer" up
so_frr_start "${NS_LBS[2]}" "${SO_LBDIR[2]}" || crab_fail "cannot restart FRR in LB 2"
so_bgp_start 2
so_wait_nexthops "$all" 200
log_test $? "LB 2 back: three next hops again ($(so_rt_nexthops))"
read -r -a s0 <<<"$(so_all_syns)"
out=$(so_client --count 60 --timeout 5 --deadline 120)
read -r -a s1 <<<"$(so_all_syns)"
d=($((s1[0] - s0[0])) $((s1[1] - s0[1])) $((s1[2] - s0[2])))
crab_log "after the return: ${out:0:200}; SYNs per LB: ${d[*]}"
[ "$(crab_json "$out" 'j["ok"]')" = 60 ] && [ "${d[1]}" -gt 0 ]
log_test $? "LB 2 takes SYNs again: ${d[*]}"

crab_exit
