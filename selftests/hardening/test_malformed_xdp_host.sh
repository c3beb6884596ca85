#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Malformed packets at the XDP LB on the host's own kernel (docs/PROTOCOL.md 2, 3.2, 6):
# the native-speed companion of test_malformed_lb_xdp.sh (which runs in
# the emulated guests). The LB is attached natively to the LB's veth
# with the eBPF endpoints (ep_setup, EP_LB=xdp) carrying real connections
# through $VIP:$EP_PORT, while a host on the segment sends every class of
# malformed.py to a second VIP ($VIP2:81, that VIP's first service, which
# counts the fragments). Each case increments exactly the counters of
# malformed.py's "xdp" column, nothing else moves; the real connections
# succeed during the barrage, and after it ep_conns_round counts them at
# the client, the LB and the servers; no oops or WARN is logged.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/hd_lib.sh"

VIP2=198.18.100.3 BPORT=81
ep_unshare "$@"
crab_check_tool taskset dmesg
HD_NSENTER=1
EP_LB=xdp
hd_dmesg_mark
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"

client() {
	ep_in_cg "$CG_CLI" "$NS_CLI" taskset -c 0 $CRAB_TCPECHO client --addr "$VIP" \
		--port "$EP_PORT" "$@"
}

crab_add_host EVIL "$IP_EVIL"
ip -n "$NS_EVIL" route add "$VIP2/32" via "$IP_LB"
ep_crabctl "$NS_LB" lb xdp service add "$VIP2:$BPORT" --policy rr --legacy drop --dev eth0 ||
	crab_fail "service add $VIP2:$BPORT"
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	ep_crabctl "$NS_LB" lb xdp backend add "$VIP2:$BPORT" "${IP_SRV[i]}" --dev eth0 ||
		crab_fail "backend add"
done
ip netns exec "$NS_EVIL" ping -c1 -W5 "$IP_LB" >/dev/null || crab_fail "the spoofing host cannot reach the LB"

probe=$(client --count 3 --timeout 10 --deadline 60)
[ "$(crab_json "$probe" 'j["ok"]')" = 3 ] || crab_fail "3 probe connections via the VIP failed: ${probe:0:300}"

DIR=$EP_TMP
HD_TRAFFIC_CG=$CG_CLI hd_traffic_start "$NS_CLI" "$VIP" "$EP_PORT" "$DIR/traffic.json"
HD_TARGET=crab_lb_xdp
t0=$(date +%s)
hd_run_cases "$DIR/lb.out" "$NS_EVIL" --role lb --src "$IP_EVIL" --dst "$VIP2" \
	--sport 45000 --dport $BPORT \
	--counters "nsenter --net=/run/netns/$NS_LB $CRABCTL -j lb xdp stats --dev eth0" \
	--fmt "xdp:$VIP2:$BPORT" --noise g.pass,g.mac_not_ours,g.xdp_tx,g.xdp_redirect,g.fib_pass,g.nh_static,g.nh_resolved,g.nh_fib
hd_traffic_stop "$DIR/traffic.json"
crab_log "barrage: $(($(date +%s) - t0)) s; connections meanwhile: $HD_OK ok, $HD_FAILED failed, $HD_ROUNDS rounds"
[ "$HD_FAILED" = 0 ] && [ "$HD_OK" -gt 0 ]
log_test $? "real connections through the LB during the barrage: all succeeded"

# Rounds of 3 connections kept the rr position at 0 (mod 3).
ep_conns_round 30 $(($(nproc) - 1))
hd_dmesg_check
log_test $? "no oops, WARN or BUG in the kernel log"

crab_exit
