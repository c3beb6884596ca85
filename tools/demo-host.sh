#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The demo on the running kernel, no guest (make demo MODE=host): the eBPF
# endpoints (endpoints/ebpf, `crabctl ebpf`) and the XDP LB (lb/ebpf_xdp,
# `crabctl lb xdp`) in network namespaces on the host. The same
# topology, traffic and report as the guest demo (tools/demo-guest.sh), and
# the demo fails (exit 1, with the reason) unless every connection was
# redirected: the LB must have seen only the SYNs.
#
#   bash tools/demo-host.sh [--conns N]
#
# Needs root, a kernel with BPF (>= 5.17, BTF), cgroup2, and `make bpf
# userspace` built (tools/demo.sh builds it). Runs in a private mount
# namespace with its own bpffs: the pinned maps and links go with it;
# namespaces, cgroups and attachments are removed on exit, failed or not.
set -uo pipefail
conns=${CONNS:-30}
while [ $# -gt 0 ]; do
	case $1 in
	--conns) conns=${2:-}; shift 2 ;;
	*) echo "error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ $conns =~ ^[0-9]+$ ]] && [ "$conns" -ge 3 ] && [ "$conns" -le 3000 ] ||
	{ echo "error: --conns '$conns': expected 3..3000" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "error: the demo needs root (namespaces, cgroups, BPF)" >&2; exit 1; }

if [ -z "${CRAB_DEMO_PRIVATE_MNT:-}" ]; then
	CRAB_DEMO_PRIVATE_MNT=1 exec unshare -m --propagation private bash "$0" --conns "$conns"
fi
mount -t bpf bpf /sys/fs/bpf || { echo "error: cannot mount a bpffs at /sys/fs/bpf" >&2; exit 1; }

source "$(dirname "$0")/../selftests/lib.sh"
source "$(dirname "$0")/../selftests/endpoints_ebpf/ep_lib.sh"
CRAB_TEST=demo	# the name crab_fail and the selftest library print
PORT=80
SVC=$VIP:$PORT
say() { printf '\n== %s\n' "$*"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }
# run WHERE CMD...: show the command, then run it; WHERE is a namespace
# (the command runs in it through nsenter --net, which keeps the bpffs
# and the cgroup2 mount) or "host".
declare -A WHERE_NS
run() {
	local w=$1 shown; shift
	shown="$*"
	shown=${shown//$CRABCTL/crabctl}
	printf '  [%s] # %s\n' "$w" "$shown"
	if [ "$w" = host ]; then
		"$@"
	else
		nsenter --net="/run/netns/${WHERE_NS[$w]}" "$@"
	fi
}

for t in nsenter unshare taskset ethtool tcpdump python3; do
	command -v "$t" >/dev/null || die "tool '$t' not found (make deps installs it)"
done
[ -x "$CRABCTL" ] || die "crabctl not built ($CRABCTL): make bpf userspace"
[ -x "$CRAB_NETTEST" ] || die "crab-nettest not built ($CRAB_NETTEST): make userspace"
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || die "no cgroup2 mount (the eBPF endpoints attach to cgroups)"

say "topology: client $IP_CLI, LB $IP_LB (VIP $VIP), servers $CRAB_SUBNET.11-13 on one bridge"
crab_topo_setup 3
WHERE_NS=([client]=$NS_CLI [lb]=$NS_LB [switch]=$NS_SW)
echo "namespaces: client $NS_CLI, LB $NS_LB, servers ${NS_SRV[*]:1}"
echo "commands below: [where] # command, where [client] and [lb] run in that namespace"
echo "  (nsenter --net=/run/netns/NAMESPACE, which keeps the bpffs and cgroup2 mounts); crabctl is $CRABCTL"
CG_BASE=$cgroot/crab-demo-$CRAB_SFX
CG_CLI=$CG_BASE/client
CG_SRV=$CG_BASE/servers
run host mkdir -p "$CG_CLI" "$CG_SRV" || die "cannot create cgroups under $cgroot"
crab_defer "ep_cg_remove $CG_BASE"
EP_TMP=$(mktemp -d)
crab_defer "rm -rf $EP_TMP"
EP_ACCEPTED_DIR=$EP_TMP/accepted
mkdir -p "$EP_ACCEPTED_DIR"

say "load balancer: xdp, service $SVC, policy rr, backends ${IP_SRV[*]:1}"
run lb "$CRABCTL" lb xdp attach eth0 --mode native || die "XDP attach failed"
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
echo "  (XDP_TX on a veth needs an XDP program on the peer: the LB with no service, on the switch's port)"
xdp_peer_napi || die "cannot attach an XDP program to the LB's veth peer"
run lb "$CRABCTL" lb xdp service add "$SVC" --policy rr --dev eth0 || die "service add failed"
for i in 1 2 3; do
	run lb "$CRABCTL" lb xdp backend add "$SVC" "${IP_SRV[i]}" --dev eth0 ||
		die "backend add ${IP_SRV[i]} failed"
	# a resolved neighbour: bpf_fib_lookup() finds the next hop
	ip netns exec "$NS_LB" ping -c1 -W5 "${IP_SRV[i]}" >/dev/null || die "LB cannot reach ${IP_SRV[i]}"
done
echo "  (segments XDP_TX forwards keep the client's partial checksum on a veth: the client's stack completes it)"
run client ethtool -K eth0 tx off >/dev/null || die "ethtool -K eth0 tx off failed"
run lb "$CRABCTL" lb xdp show --dev eth0

say "endpoints: eBPF (sock_ops + tc), nothing announced, accepted or echoed until configured"
echo "servers: every process of cgroup $CG_SRV echoes the option in its SYN-ACKs"
run host "$CRABCTL" ebpf server attach --cgroup "$CG_SRV" --echo on 2>"$EP_TMP/srv.err" ||
	die "crabctl ebpf server attach: $(cat "$EP_TMP/srv.err")"
crab_defer "$CRABCTL ebpf server detach --cgroup $CG_SRV"
echo "client: the strict reverse-path check applies to redirecting servers (crabctl asks for it)"
run client sysctl -qw net.ipv4.conf.eth0.rp_filter=1 || die "cannot set rp_filter in the client"
echo "client: processes of cgroup $CG_CLI announce to the VIP, accept redirects from the servers' segment"
run client "$CRABCTL" ebpf client attach --cgroup "$CG_CLI" --dev eth0 \
	--announce "$VIP/32" --allow "$CRAB_SUBNET.0/24" 2>"$EP_TMP/cli.err" ||
	die "crabctl ebpf client attach: $(cat "$EP_TMP/cli.err")"
sed 's/^/  /' "$EP_TMP/cli.err"
crab_defer "ep_crabctl $NS_CLI ebpf client detach --cgroup $CG_CLI --dev eth0"
run host "$CRABCTL" ebpf stats | sed -n '1,3p'
echo "echo servers on port $PORT in each server namespace, as members of $CG_SRV"
for i in 1 2 3; do ep_echo_server "${NS_SRV[i]}" $PORT; done

# Three connections first: a setup that does not redirect fails here within
# seconds, with the endpoints' counters, instead of after $conns timeouts.
# (Three keep the rr position where it was, modulo the three backends.)
probe=$(ep_in_cg "$CG_CLI" "$NS_CLI" taskset -c 0 "$CRAB_NETTEST" client --addr "$VIP" --port $PORT \
	--count 3 --size 100 --timeout 5 --deadline 8)
if ! crab_conns_ok "$probe" 3; then
	echo "first 3 connections to $SVC: ${probe:0:400}"
	"$CRABCTL" ebpf stats | awk 'NR <= 3 || $2 != 0'
	nsenter --net="/run/netns/$NS_LB" "$CRABCTL" lb xdp stats --dev eth0 | awk '$2 != 0'
	die "the first 3 connections to $SVC did not all succeed (the counters above say where they stopped)"
fi
echo "first 3 connections to $SVC succeeded"

cap=$EP_TMP/client.pcap
crab_capture_start "$NS_CLI" "$cap" "tcp port $PORT"
acc0=("$(ep_server_opens 1)" "$(ep_server_opens 2)" "$(ep_server_opens 3)")
red0=$(ep_stat redirected) || die "cannot read the eBPF client's counters"
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
lbstats() { nsenter --net="/run/netns/$NS_LB" "$CRABCTL" -j lb xdp stats --dev eth0; }
lb0=$(lbstats) || die "cannot read the LB's counters"

say "traffic: $conns connections to $SVC, 1000 bytes echoed on each"
# One CPU sends everything: the LB's rr position is per CPU, and on a veth
# its XDP program runs on the CPU that sent the frame.
printf '  [client, cgroup %s] # %s\n' "${CG_CLI#"$cgroot"/}" \
	"taskset -c 0 crab-nettest client --addr $VIP --port $PORT --count $conns --size 1000"
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" taskset -c 0 "$CRAB_NETTEST" client --addr "$VIP" --port $PORT \
	--count "$conns" --size 1000 --timeout 5 --deadline 120)
crab_capture_stop "$cap"
ok=$(crab_jnum "$out" ok) failed=$(crab_jnum "$out" failed)
[ -n "$ok" ] || die "the client printed no report: ${out:0:300}"
red=$(($(ep_stat redirected) - red0))
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
lb1=$(lbstats) || die "cannot read the LB's counters"
# The LB's counters for the service, as deltas over the traffic: SYNs it
# redirected, everything else of the service it handled, per backend.
read -r syn other lbpkts < <(python3 - "$lb0" "$lb1" "$SVC" <<'PY'
import json, sys
def svc(doc):
    return [s for s in json.loads(doc)["services"] if s["service"] == sys.argv[3]][0]
a, b = svc(sys.argv[1]), svc(sys.argv[2])
d = {k: v - a["counters"].get(k, 0) for k, v in b["counters"].items()}
syn = d.get("syn_redirected", 0)
total = sum(d.values())
print(syn, total - syn, total)
PY
) || die "cannot read the LB's service counters"

echo "connections ok: $ok, failed: $failed"
echo "connections per backend (the connections each server's echo server accepted):"
sum=0 zero=0
for i in 1 2 3; do
	n=$(($(ep_server_opens "$i") - acc0[i - 1]))
	sum=$((sum + n))
	[ "$n" -gt 0 ] || zero=$((zero + 1))
	printf '  %-15s %3d  %s\n' "${IP_SRV[i]}" "$n" "$(printf '%*s' "$n" '' | tr ' ' '#')"
done
[ -n "$(crab_peers "$out")" ] &&
	echo "  (the client's sockets still name the VIP: getpeername() gave $(crab_peers "$out"); the eBPF client translates addresses at tc)"
crab_pcap_summary cli="$cap"
cli_pkts=${CRAB_PCAP[cli.n]:-0}
say "packets: the connections carried $cli_pkts packets (client capture); the LB handled $lbpkts (its counters)"
echo "  => the LB handled $(awk -v a="$lbpkts" -v b="$conns" 'BEGIN{printf "%.2f", a/b}') packets per connection"
say "LB counters"
run lb "$CRABCTL" lb xdp stats --dev eth0
say "client endpoint counters (crabctl ebpf stats; non-zero)"
"$CRABCTL" ebpf stats | awk 'NR <= 3 || $2 != 0'
say "one connection's path, as the client sees it"
first=$(tcpdump -n -r "$cap" 2>/dev/null | awk '/Flags \[S\]/ {print $3; exit}')
tcpdump -n -r "$cap" 2>/dev/null | grep -F "$first" | head -n 8 |
	sed -E 's/^[0-9:.]+ IP //' | awk '{printf "  %s\n", $0}'
echo "  (SYN to the VIP via the LB; SYN-ACK straight from a server carrying the"
echo "   redirect option, captured twice: the eBPF client requeues it on eth0 behind"
echo "   its input-path probe, endpoints/ebpf/README.md; everything after goes"
echo "   client <-> server directly)"

say "checks"
bad=()
[ "$ok" = "$conns" ] && [ "$failed" = 0 ] ||
	bad+=("$ok of $conns connections succeeded ($failed failed)")
[ "$red" = "$conns" ] ||
	bad+=("the eBPF client redirected $red of $conns connections (its 'redirected' counter)")
[ "$syn" = $((conns + retr)) ] && [ "$other" = 0 ] ||
	bad+=("the LB handled $syn SYNs (expected $conns + $retr retransmitted) and $other other packets of the service (expected 0): connections went through the LB, not around it")
[ "$sum" = "$conns" ] && [ "$zero" = 0 ] ||
	bad+=("the servers accepted $sum connections ($zero of them none), expected $conns over all three")
if [ ${#bad[@]} -gt 0 ]; then
	printf '  not as expected: %s\n' "${bad[@]}"
	"$CRABCTL" ebpf stats >&2
	die "${#bad[@]} check(s) failed; the connections were not redirected as they should be"
fi
echo "  $conns connections, all redirected by the eBPF client; the LB saw only their SYNs"
echo "  ($syn = $conns + $retr retransmitted), split over the three backends"
echo "demo: OK"
