#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# `crabctl bgp` announces the VIP only while the local LB serves it, on two
# CRAB XDP LBs behind an ECMP router (so_lib.sh):
#   1. a bad [bgp] value, a configuration FRR refuses and a BGP AS that
#      contradicts FRR's own exit non-zero naming the problem, and leave
#      FRR's running configuration as it was;
#   2. LB 1 loses its backends (their answers dropped on LB 1): its
#      `crabctl health` drains all of them and `crabctl bgp` withdraws the
#      VIP; the router keeps only LB 2, and LB 1 gets no new SYN while new
#      connections succeed; the backends back, LB 1 announces again;
#      LB 1's FRR restarted empty: `crabctl bgp` configures it again;
#   3. LB 2's XDP program removed (`ip link set dev lb2 xdp off`, its maps
#      still pinned): LB 2 withdraws;
#   4. `crabctl bgp run` stopped (SIGTERM) on LB 1: it withdraws and
#      exits 0, the router has no route to the VIP left.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/so_lib.sh"

ep_unshare "$@"
crab_check_tool python3 ethtool nft
crab_require_built "$CRABCTL" crabctl
so_topo_setup 2 3
so_endpoints
for i in 1 2; do so_lb_xdp $i || crab_fail "XDP LB $i setup"; done

lb1() { nsenter --net="/run/netns/${NS_LBS[1]}" "$CRABCTL" "$@"; }
frr1() { so_vtysh "${SO_LBDIR[1]}" -c 'show running-config' | grep -v '^Building\|^Current\|^$'; }

# 1. errors, nothing applied
before=$(frr1)
sed 's/^  asn = 65000$/  asn = 0/' "$SO_DIR/lb1.toml" >"$SO_DIR/bad.toml"
err=$(lb1 bgp run -f "$SO_DIR/bad.toml" --once 2>&1)
rc=$?
crab_log "bad value: rc $rc: $err"
[ $rc = 2 ] && [[ $err == *"bgp.peer[1].asn: 0 is out of range"* ]] && [ "$(frr1)" = "$before" ]
log_test $? "a bad [bgp] value exits 2 naming bgp.peer[1].asn; FRR unchanged"

# FRR refuses its own address as a neighbour: the session commands fail
# half-way and what they added is removed again.
so_lb_conf 1 >"$SO_DIR/refused.toml"
printf '\n[[bgp.peer]]\naddr = "%s"\nasn = 65000\n' "${IP_LBS[1]}" >>"$SO_DIR/refused.toml"
python3 - "$SO_DIR/refused.toml" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
# [[bgp.peer]] must precede [[service]]: move the appended table up.
head, svc = t.split("[[service]]", 1)
svc, extra = svc.split("\n[[bgp.peer]]", 1)
open(p, "w").write(head + "[[bgp.peer]]" + extra + "\n[[service]]" + svc)
PY
err=$(lb1 bgp run -f "$SO_DIR/refused.toml" --once 2>&1)
rc=$?
crab_log "refused: rc $rc: $err"
diff <(echo "$before") <(frr1) | sed 's/^/# FRR changed: /'
[ $rc = 1 ] && [[ $err == *"refused the BGP configuration"*"removed again"* ]] && [ "$(frr1)" = "$before" ]
log_test $? "a configuration FRR refuses exits 1 and is removed again; FRR unchanged"

so_vtysh "${SO_LBDIR[1]}" -c 'configure terminal' -c 'router bgp 65999' -c 'end' >/dev/null
before=$(frr1)
err=$(lb1 bgp run -f "$SO_DIR/lb1.toml" --once 2>&1)
rc=$?
crab_log "other AS: rc $rc: $err"
[ $rc = 2 ] && [[ $err == *"bgp.asn: 65100, but FRR's bgpd"*"already runs AS 65999"* ]] && [ "$(frr1)" = "$before" ]
log_test $? "an AS other than FRR's exits 2 naming bgp.asn; FRR unchanged"
so_vtysh "${SO_LBDIR[1]}" -c 'configure terminal' -c 'no router bgp 65999' -c 'end' >/dev/null

# 2. LB 1 loses its backends
so_bgp_start 1
so_bgp_start 2
so_wait_nexthops "${IP_LBS[1]} ${IP_LBS[2]}"
log_test $? "router: VIP over both LBs ($(so_rt_nexthops))"
lb1 health --lb xdp --dev lb1 --interval 0.2 --fall 2 --rise 2 --timeout 300 >"$SO_DIR/health1.log" 2>&1 &
crab_defer "kill $!"
ip netns exec "${NS_LBS[1]}" nft -f - <<EOF2
table ip crab_so_cut {
	chain in {
		type filter hook prerouting priority raw; policy accept;
		ip saddr $CRAB_SUBNET.0/24 tcp sport $SO_PORT counter drop
	}
}
EOF2
so_wait_nexthops "${IP_LBS[2]}" 150
rc=$?
crab_log "LB 1: $(grep -c 'up -> down' "$SO_DIR/health1.log") backends drained; $(grep 'withdrawn' "$SO_DIR/bgp1.log" | tail -n1)"
[ $rc = 0 ] && grep -q "withdrawn (no active backend" "$SO_DIR/bgp1.log"
log_test $? "LB 1 with every backend unhealthy withdraws the VIP ($(so_rt_nexthops) left)"
read -r -a s0 <<<"$(so_all_syns)"
out=$(so_client --count 40 --timeout 5 --deadline 120)
read -r -a s1 <<<"$(so_all_syns)"
crab_log "client: ${out:0:200}; SYNs per LB: $((s1[0] - s0[0])) $((s1[1] - s0[1]))"
[ "$(crab_json "$out" 'j["ok"]')" = 40 ] && [ $((s1[0] - s0[0])) = 0 ] && [ $((s1[1] - s0[1])) -ge 40 ]
log_test $? "the withdrawn LB 1 gets no new SYN; 40 connections succeed via LB 2"
ip netns exec "${NS_LBS[1]}" nft delete table ip crab_so_cut
so_wait_nexthops "${IP_LBS[1]} ${IP_LBS[2]}" 150
log_test $? "backends back: LB 1 announces again ($(so_rt_nexthops))"

# FRR restarted on LB 1 (its configuration lost): crabctl bgp notices
# within its 5 s check and configures the session and the VIP again.
so_frr_kill "${SO_LBDIR[1]}"
so_wait_nexthops "${IP_LBS[2]}" 100 || crab_log "LB 1 not withdrawn after its FRR died: $(so_rt_nexthops)"
so_frr_start "${NS_LBS[1]}" "${SO_LBDIR[1]}" || crab_fail "cannot restart FRR in LB 1"
so_wait_nexthops "${IP_LBS[1]} ${IP_LBS[2]}" 200
rc=$?
crab_log "$(grep 'configured it again' "$SO_DIR/bgp1.log" | tail -n1)"
[ $rc = 0 ] && grep -q "FRR had lost the session; configured it again" "$SO_DIR/bgp1.log"
log_test $? "FRR restarted on LB 1: crabctl bgp configures it again, the router takes LB 1 back"

# 3. LB 2 detached
# Removed behind crabctl's back (its maps stay pinned and readable).
ip -n "${NS_LBS[2]}" link set dev lb2 xdp off
so_wait_nexthops "${IP_LBS[1]}" 100
rc=$?
crab_log "$(grep 'withdrawn' "$SO_DIR/bgp2.log" | tail -n1)"
[ $rc = 0 ] && grep -q "withdrawn (LB not serving" "$SO_DIR/bgp2.log"
log_test $? "LB 2 with its XDP program detached withdraws the VIP"

# 4. stop
kill -TERM "${SO_BGP_PID[1]}"
wait "${SO_BGP_PID[1]}"
rc=$?
so_wait_nexthops "" 100
log_test $? "crabctl bgp stopped on LB 1 (exit $rc): withdrawn, no route to the VIP left"
[ $rc = 0 ] && grep -q "withdrawn (stopping)" "$SO_DIR/bgp1.log"
log_test $? "it withdrew the VIP on SIGTERM and exited 0"

crab_exit
