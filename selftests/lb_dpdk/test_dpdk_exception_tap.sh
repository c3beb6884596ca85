#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crab-lb-dpdk --exception tap (af_packet on the LB's veth): traffic that is
# not LB traffic reaches the LB namespace's kernel through the TAP device
# crab0 and what the kernel sends out of crab0 leaves by the port, while the
# LB keeps balancing the VIP. Checked: ping to the LB host's address (no
# duplicates), 5 TCP echo connections to a server in the LB namespace
# (getpeername and echoed data), 3 capable SYNs to the VIP 1/1/1 at the
# servers, and the exception_tx / exception_rx counters.
#
# af_packet leaves every frame to the kernel as well, so the kernel must not
# act on eth0's copy: eth0 has no address and no ARP (arp off), and strict
# reverse-path filtering on eth0 drops IPv4 arriving there (the route back
# to the segment is via crab0, which holds $IP_LB/24). The kernel therefore
# sees each frame once, from the TAP. IPv6 is off in the namespace (no
# neighbour discovery chatter through both paths). The client computes its
# TCP checksums in software (tx offload off on its veth): with offload a
# veth frame carries only the pseudo-header sum, which af_packet hands to
# DPDK as is and the kernel behind the TAP rejects; a frame from a wire
# always has its full checksum.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/dpdk_lib.sh"

DIR=$(cd "$(dirname "$0")" && pwd)
LBD=${CRAB_LBD:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-dpdk}
TEL="python3 $DIR/dpdk_tel.py"
SVC=$VIP:80
TAP=crab0

crab_require_root
crab_check_tool tcpdump python3 ping ss ethtool
crab_require_built "$LBD" "crab-lb-dpdk (libdpdk found by CMake?)"
[ -c /dev/net/tun ] || crab_skip "no /dev/net/tun (net_tap needs it)"
crab_need_nettest

crab_topo_setup 3
ip netns exec "$NS_LB" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.eth0.rp_filter=1
ip -n "$NS_LB" addr flush dev eth0
ip -n "$NS_LB" link set eth0 arp off
ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null || crab_skip "cannot turn off tx checksum offload"

PREFIX=crabx$$
WORK=$(mktemp -d)
crab_defer rm -rf "$WORK" "/var/run/dpdk/$PREFIX"
ip netns exec "$NS_LB" "$LBD" --no-huge -m 512 --no-pci -l 0 --log-level=user1,info \
	--vdev net_af_packet0,iface=eth0 --file-prefix "$PREFIX" -- \
	--service "$SVC,policy=rr,legacy=drop" \
	--backend "$SVC,${IP_SRV[1]}" --backend "$SVC,${IP_SRV[2]}" --backend "$SVC,${IP_SRV[3]}" \
	--port-ip "$IP_LB" --exception tap --tap-name "$TAP" --idle-us 100 >"$WORK/lb.log" 2>&1 &
LB_PID=$!
crab_defer "kill -KILL $LB_PID 2>/dev/null"

# The TAP appears once the port is up; the kernel's address goes on it.
ok=1
for _ in $(seq 1 100); do
	kill -0 $LB_PID 2>/dev/null || break
	if ip -n "$NS_LB" link show "$TAP" >/dev/null 2>&1; then
		ok=0
		break
	fi
	sleep 0.1
done
if [ $ok = 0 ]; then
	ip -n "$NS_LB" addr add "$IP_LB/24" dev "$TAP" && ip -n "$NS_LB" link set "$TAP" up || ok=1
	[ "$(ip -n "$NS_LB" -br link show "$TAP" | awk '{print $3}')" = \
		"$(ip -n "$NS_LB" -br link show eth0 | awk '{print $3}')" ] || ok=1
fi
[ $ok = 0 ] || sed 's/^/# lb: /' "$WORK/lb.log"
log_test $ok "exception TAP $TAP created with the port's MAC, $IP_LB/24 on it"
[ $ok = 0 ] || crab_exit

dpdk_wait_ready "$LB_PID" "$PREFIX" "$SVC" "${IP_SRV[3]}"
log_test $ready "LB up, backend MACs learned by ARP"
[ $ready = 0 ] || { sed 's/^/# lb: /' "$WORK/lb.log"; crab_exit; }

stat() {  # global counter
	$TEL "$PREFIX" /crab/stats | python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"
}

# 1. ping the LB host's kernel through the TAP (ARP both ways through it too)
out=$(ip netns exec "$NS_CLI" ping -c 3 -i 0.3 -W 3 "$IP_LB" 2>&1)
rc=$?
crab_log "$(tail -2 <<<"$out" | head -1)"
[ $rc = 0 ] && ! grep -q DUP <<<"$out" && [ "$(grep -c 'bytes from' <<<"$out")" = 3 ]
log_test $? "ping $IP_LB: 3 replies from the kernel via the TAP, no duplicates"
tx=$(stat exception_tx) rx=$(stat exception_rx)
[ "$tx" -ge 3 ] && [ "$rx" -ge 3 ]
log_test $? "counters: exception_tx $tx, exception_rx $rx (>= 3 each)"

# 2. TCP: 5 echo connections to a server of the LB namespace's kernel
crab_echo_server "$NS_LB" 7007 --bind "$IP_LB"
r=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$IP_LB" --port 7007 --count 5 --size 3000 \
	--timeout 10 --deadline 60)
crab_log "tcp: $r"
crab_conns_ok "$r" 5 && [ "$(crab_peers "$r")" = "$IP_LB:5" ]
log_test $? "5 TCP echo connections to $IP_LB:7007 (kernel of the LB namespace) exchange data"

# 3. meanwhile the LB balances the VIP: 3 capable SYNs, one per server
for i in 1 2 3; do
	crab_capture_start "${NS_SRV[i]}" "$WORK/s$i.pcap" "tcp and src host $IP_CLI"
done
dpdk_send count=3 sport=24000
crab_capture_stop "$WORK/s1.pcap" "$WORK/s2.pcap" "$WORK/s3.pcap"
ok=0
for i in 1 2 3; do
	dpdk_syns_ok "$WORK/s$i.pcap" "${IP_SRV[i]}" "$VIP" 1 || ok=1
done
n=$($TEL "$PREFIX" "/crab/stats,$SVC" | python3 -c 'import json,sys; print(json.load(sys.stdin)["syn_redirected"])')
[ $ok = 0 ] && [ "$n" = 3 ]
log_test $? "VIP balanced meanwhile: 3 SYNs 1/1/1 at the DIPs, syn_redirected $n"

# 4. SIGTERM: clean exit, the TAP goes with the process
dpdk_stop "$LB_PID"
[ $rc = 0 ] && ! ip -n "$NS_LB" link show "$TAP" >/dev/null 2>&1
log_test $? "SIGTERM: exit status 0 ($rc), TAP removed"

crab_exit
