#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Malformed packets at the XDP LB (docs/PROTOCOL.md 2, 3.2, 6), attached
# natively to the LB's veth: every class of malformed.py sent by a host on
# the segment to VIP:81 (a service of its own) while real connections run
# through VIP:80 on the same program. Each case increments exactly the
# counters it should (truncated for short headers and bogus doff,
# opt_malformed / opt_bad_len with syn_legacy_drop for the option walk,
# fragment for both fragments, syn_redirected for well-formed SYNs with
# duplicate options, IP options, odd addresses or data); real connections
# succeed during and after; no oops/WARN in the kernel log.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_xdp/xdp_lib.sh"
source "$(dirname "$0")/hd_lib.sh"

PORT=80 BPORT=81
crab_require_root
crab_has_modules || crab_skip "kernel without loadable module support"
crab_check_tool python3 nsenter ping ethtool dmesg
crab_need_nettest
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"
HD_NSENTER=1

crab_topo_setup 3
crab_add_host EVIL "$IP_EVIL"
ip -n "$NS_EVIL" route add "$VIP/32" via "$IP_LB"
crab_load_module crab_client
crab_load_module crab_server
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
hd_evil_quiet
DIR=$(mktemp -d)
crab_defer "rm -rf $DIR"
lbctl lb xdp attach eth0 --mode native 2>"$DIR/attach.err" ||
	{ cat "$DIR/attach.err"; crab_fail "cannot attach the XDP LB natively to eth0"; }
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
xdp_peer_napi || crab_fail "cannot attach an XDP program to the LB's veth peer (XDP_TX needs it)"
# A fragment (or a bogus header) has no usable ports: the program counts
# it on the VIP's first service. Add the barrage's service first.
for p in $BPORT $PORT; do
	lbctl lb xdp service add "$VIP:$p" --policy rr --legacy drop --dev eth0 || crab_fail "service add $p"
	for i in 1 2 3; do
		lbctl lb xdp backend add "$VIP:$p" "${IP_SRV[i]}" --dev eth0 || crab_fail "backend add"
	done
done
for i in 1 2 3; do
	ip netns exec "$NS_LB" ping -c1 -W5 "${IP_SRV[i]}" >/dev/null ||
		crab_fail "LB cannot reach ${IP_SRV[i]}"
done
crab_echo_servers $PORT
# XDP_TX sends a local socket's partial checksum as is (see lb_xdp).
ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null ||
	crab_fail "cannot turn off tx checksum offload on the client's eth0"
ip netns exec "$NS_EVIL" ping -c1 -W5 "$IP_LB" >/dev/null
hd_dmesg_mark

# The barrage's counters straight from the pinned maps (malformed.py reads
# them with bpf(): no crabctl process per read in the guest).
svc_id=$(lbctl -j lb xdp show --dev eth0 | crab_jget "/[service=$VIP:$BPORT]/id") ||
	crab_fail "no id for service $VIP:$BPORT"
hd_traffic_start "$NS_CLI" "$VIP" $PORT "$DIR/traffic.json"
HD_TARGET=crab_lb_xdp
hd_run_cases "$DIR/lb.out" "$NS_EVIL" --role lb --src "$IP_EVIL" --dst "$VIP" \
	--sport 45000 --dport $BPORT \
	--counters "bpf:/sys/fs/bpf/crab/eth0:$svc_id" \
	--fmt "xdp:$VIP:$BPORT" --noise g.pass,g.mac_not_ours,g.xdp_tx,g.xdp_redirect,g.fib_pass,g.nh_static,g.nh_resolved,g.nh_fib
hd_traffic_stop "$DIR/traffic.json"
crab_log "during the barrage: $HD_OK connections ok, $HD_FAILED failed, $HD_ROUNDS rounds"
[ "$HD_FAILED" = 0 ] && [ "$HD_OK" -gt 0 ]
log_test $? "real connections through the LB during the barrage: all succeeded"
r=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port $PORT --count 6 --timeout 20)
crab_log "after: $r"
crab_conns_ok "$r" 6 && crab_peers_among "$r" "${IP_SRV[1]}" "${IP_SRV[2]}" "${IP_SRV[3]}"
log_test $? "real connections through the LB after the barrage: all succeeded, peers are DIPs"
hd_dmesg_check
log_test $? "no oops, WARN or BUG in the kernel log"

crab_exit
