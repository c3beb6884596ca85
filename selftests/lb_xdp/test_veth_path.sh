#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The XDP LB on a real path: standard topology, the program attached
# natively to the LB's veth with crabctl (libxdp), scapy SYNs from the
# client, captures on the servers. Capable SYNs reach the DIPs round-robin,
# exactly N/N/N, with daddr rewritten, the option naming the VIP and valid
# checksums; legacy SYNs are dropped (drop mode); counters match; detach
# removes the program and its pinned maps.
source "$(dirname "$0")/../lib.sh"
# Capture/send helpers (nf_pkt.py) of the netfilter LB tests; xdp_lib.sh
# after it, so that its lbctl (nsenter, keeps our bpffs) wins.
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/xdp_lib.sh"

crab_require_root
crab_check_tool python3 tcpdump nsenter ethtool taskset
crab_require_python_module scapy
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"

crab_topo_setup 3
NF_DIR=$(mktemp -d)
crab_defer "rm -rf $NF_DIR"
SVC=$VIP:$NF_PORT
N=10

lbctl lb xdp attach eth0 --mode native 2>"$NF_DIR/attach.err"
rc=$?
[ $rc -eq 0 ] || cat "$NF_DIR/attach.err"
log_test $rc "crabctl lb xdp attach eth0 --mode native"
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
xdp_peer_napi || crab_log "could not attach an XDP program to the LB's veth peer"
lbctl lb xdp service add "$SVC" --policy rr --legacy drop --dev eth0 &&
	for i in 1 2 3; do lbctl lb xdp backend add "$SVC" "${IP_SRV[i]}" --dev eth0 || false; done
log_test $? "service $SVC with 3 backends configured"
[ -e /sys/fs/bpf/crab/eth0/crab_services ]
log_test $? "maps pinned under /sys/fs/bpf/crab/eth0"
! lbctl lb xdp attach eth0 2>/dev/null
log_test $? "a second attach to eth0 is refused"

# 1. capable SYNs, rr. One CPU sends them all: the rr counter is per CPU.
nf_capture_start
taskset -c 0 ip netns exec "$NS_CLI" $NF_PKT send --dst "$VIP" --dport "$NF_PORT" \
	--count $((3 * N)) --opt vip --opt-addr 203.0.113.9
nf_capture_stop
crab_log "per server: $(nf_res '[L(i)["syn"] for i in (1,2,3)]')"
[ "$(nf_res '[L(i)["syn"] for i in (1,2,3)]')" = "[$N, $N, $N]" ]
log_test $? "rr: $((3 * N)) capable SYNs split exactly $N/$N/$N"
[ "$(nf_res 'all(L(i)["dst"] == {"198.18.0.%d" % (10+i): '$N'} for i in (1,2,3))')" = True ]
log_test $? "SYN daddr rewritten to the DIP"
[ "$(nf_res 'all(L(i)["opt"] == {"'"$VIP"'": '$N'} for i in (1,2,3)) and total("csum_bad") == 0')" = True ]
log_test $? "option names the VIP, IP and TCP checksums valid"
[ "$(xdp_counter syn_redirected "$SVC")" = $((3 * N)) ]
log_test $? "syn_redirected = $((3 * N))"
be=$(lbctl -j lb xdp stats --dev eth0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(sorted(j["services"][0]["backends"].values()))')
[ "$be" = "[$N, $N, $N]" ]
log_test $? "per-backend counters $be"

# 2. legacy SYNs in drop mode: nothing reaches a server, counted.
nf_capture_start
ip netns exec "$NS_CLI" $NF_PKT send --dst "$VIP" --dport "$NF_PORT" --count 5 --sport 25000 --opt none
nf_capture_stop
[ "$(nf_res 'total("n")')" = 0 ] && [ "$(xdp_counter syn_legacy_drop "$SVC")" = 5 ]
log_test $? "legacy SYNs dropped and counted (syn_legacy_drop = 5)"

# 3. a bad command leaves the configuration untouched
lbctl lb xdp backend add "$SVC" 300.1.1.1 --dev eth0 2>/dev/null
rc=$?
n=$(lbctl -j lb xdp show --dev eth0 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["backends"]))')
[ $rc -ne 0 ] && [ "$n" = 3 ]
log_test $? "invalid backend address rejected, nothing applied"

# 4. detach: program and pins gone
lbctl lb xdp detach eth0 2>/dev/null &&
	! ip -n "$NS_LB" link show eth0 2>/dev/null | grep -q xdp &&
	[ ! -e /sys/fs/bpf/crab/eth0/crab_services ]
log_test $? "detach removes the program and the pinned maps"

crab_exit
