#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The demo's guest side (run by tools/demo.sh inside the VM; works on any
# kernel that can load the modules): topology, endpoints, LB, traffic, report.
set -uo pipefail
lb=xdp conns=30
while [ $# -gt 0 ]; do
	case $1 in
	--lb) lb=$2; shift 2 ;;
	--conns) conns=$2; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
source "$(dirname "$0")/../selftests/lib.sh"
PORT=80
say() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

say "topology: client $IP_CLI, LB $IP_LB (VIP $VIP), servers $CRAB_SUBNET.11-13 on one bridge"
crab_topo_setup 3
crab_load_module crab_client
crab_load_module crab_server
echo "endpoint modules loaded: $(grep -o '^crab_[a-z_]*' /proc/modules | tr '\n' ' ')"
echo "they start off in every namespace; configured explicitly:"
echo "  client ($NS_CLI): client_enabled=1, client_announce_cidrs=$VIP/32 (the VIP),"
echo "    client_allow_cidrs=$CRAB_SUBNET.0/24 (the backends' segment)"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
echo "  servers: server_enabled=1"
crab_server_config "${NS_SRV[@]:1}"

say "load balancer: $lb, service $VIP:$PORT, policy rr, backends ${IP_SRV[*]:1}"
case $lb in
nf)
	lbctl() { ip netns exec "$NS_LB" "$CRABCTL" lb nf "$@"; }
	crab_load_module crab_lb_nf
	lbctl service add "$VIP:$PORT" --policy rr || die "service add failed"
	for i in 1 2 3; do lbctl backend add "$VIP:$PORT" "${IP_SRV[i]}" || die "backend add failed"; done
	lbctl show
	;;
xdp)
	# nsenter keeps the mount namespace (and so the pinned maps on bpffs);
	# `ip netns exec` would give each command an empty /sys/fs/bpf.
	source "$(dirname "$0")/../selftests/lb_xdp/xdp_lib.sh"
	lbctl() { nsenter --net="/run/netns/$NS_LB" "$CRABCTL" lb xdp "$@"; }
	lbctl attach eth0 || die "XDP attach failed"
	crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
	# XDP_TX on a veth needs an XDP program on the peer (see xdp_lib.sh)
	xdp_peer_napi || die "cannot attach an XDP program to the LB's veth peer"
	lbctl service add "$VIP:$PORT" --policy rr --dev eth0 || die "service add failed"
	for i in 1 2 3; do
		lbctl backend add "$VIP:$PORT" "${IP_SRV[i]}" --dev eth0 || die "backend add failed"
		# a resolved neighbour: bpf_fib_lookup() finds the next hop
		ip netns exec "$NS_LB" ping -c1 -W5 "${IP_SRV[i]}" >/dev/null || die "LB cannot reach ${IP_SRV[i]}"
	done
	# Segments XDP_TX forwards keep the client's partial checksum on a
	# veth (no NIC completes it): the client's stack must.
	ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null || die "ethtool -K eth0 tx off failed"
	lbctl show --dev eth0
	;;
esac
crab_echo_servers $PORT

# Captures: every TCP packet of the service on the client, and every packet
# of it that reaches the LB.
cap=$(mktemp -d)
ip netns exec "$NS_CLI" tcpdump -q -n -i eth0 -w "$cap/client.pcap" "tcp port $PORT" 2>/dev/null &
crab_defer "kill $!"
ip netns exec "$NS_LB" tcpdump -q -n -i eth0 -w "$cap/lb.pcap" "tcp and dst host $VIP and dst port $PORT" 2>/dev/null &
crab_defer "kill $!"
sleep 2

say "traffic: $conns connections to $VIP:$PORT, 1000 bytes echoed on each"
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT --count "$conns" --size 1000)
sleep 1
kill $(jobs -p) 2>/dev/null
wait 2>/dev/null
python3 - "$out" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
print("connections ok: %d, failed: %d" % (j["ok"], j["failed"]))
print("connections per backend (getpeername() after connect):")
for peer, n in sorted(j["peers"].items()):
    print("  %-15s %3d  %s" % (peer, n, "#" * n))
for e in j["errors"]:
    print("  error:", e)
PY
cli_pkts=$(tcpdump -n -r "$cap/client.pcap" 2>/dev/null | wc -l)
case $lb in
nf)
	lb_pkts=$(tcpdump -n -r "$cap/lb.pcap" 2>/dev/null | wc -l)
	say "packets: the connections carried $cli_pkts packets (client capture); the LB saw $lb_pkts"
	;;
xdp)
	# XDP handles the packets before a capture on the LB could see them:
	# every packet to the service is in exactly one of its counters.
	lb_pkts=$(nsenter --net="/run/netns/$NS_LB" "$CRABCTL" -j lb xdp stats --dev eth0)
	lb_pkts=$(python3 -c 'import json,sys; print(sum(sum(s["counters"].values()) for s in json.loads(sys.argv[1])["services"]))' "$lb_pkts")
	say "packets: the connections carried $cli_pkts packets (client capture); the LB handled $lb_pkts (its counters)"
	;;
esac
echo "  => the LB handled $(awk -v a="$lb_pkts" -v b="$conns" 'BEGIN{printf "%.2f", a/b}') packets per connection"
say "LB counters"
case $lb in nf) lbctl stats ;; xdp) lbctl stats --dev eth0 ;; esac
say "client endpoint counters (/proc/net/crab_client in the client namespace)"
ip netns exec "$NS_CLI" cat /proc/net/crab_client | awk '$2 != 0'
say "one connection's path, as the client sees it"
first=$(tcpdump -n -r "$cap/client.pcap" 2>/dev/null | awk '/Flags \[S\]/ {print $3; exit}')
tcpdump -n -r "$cap/client.pcap" 2>/dev/null | grep -F "$first" | head -n 8 |
	sed -E 's/^[0-9:.]+ IP //' | awk '{printf "  %s\n", $0}'
echo "  (SYN to the VIP via the LB; SYN-ACK straight from a server carrying the"
echo "   redirect option; everything after goes client <-> server directly)"
python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["failed"] == 0 else 1)' "$out"
