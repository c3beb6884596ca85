#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Whole IPv6 TCP connections through the DPDK LB: crab-lb-dpdk (one worker
# lcore, net_af_packet) with an IPv6 service added at run time through
# telemetry, its three backends resolved by Neighbour Discovery (from the
# link-local address: no --port-ip6), the client reaching the VIP on-link
# (the LB answers its solicitation for the VIP); eBPF endpoints on the
# client and the servers (this host's kernel). $N (30) connections to VIP6
# complete with their data echoed, each redirected by the eBPF client with
# the 18-byte option; the LB counted one SYN per connection (plus the
# client's SYN retransmissions), no other packet, round robin 1/1/1 within
# the retransmissions.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"

N=${EP_CONNS6:-30}
P6=8086
D=$CRAB_TOP/selftests/endpoints_ebpf
TEL="python3 $CRAB_TOP/selftests/lb_dpdk/dpdk_tel.py"
SVC6="[$VIP6]:$P6"

ep_unshare "$@"
crab_check_tool ethtool
EP_LB=dpdk
ep_setup --announce "$VIP6/128" --allow "$EP6_NET::10/124"

# IPv6 on the segment (no duplicate address detection); the switch floods
# multicast (nobody joins the LB's solicited-node groups); the client's
# reverse-path check needs a FIB lookup (forwarding on its lo).
ip -n "$NS_SW" link set br0 type bridge mcast_snooping 0
ip -n "$NS_CLI" addr add "$IP6_CLI/64" dev eth0 nodad
ip -n "$NS_CLI" -6 route add "$VIP6/128" dev eth0
for i in 1 2 3; do
	IP6_SRV[i]=$EP6_NET::1$i
	ip -n "${NS_SRV[i]}" addr add "${IP6_SRV[i]}/64" dev eth0 nodad
done
"$CRAB_NETTEST" sysctl "@$NS_CLI" net.ipv6.conf.lo.forwarding=1 || crab_fail "client sysctl"

r=$($TEL "$PREFIX" "/crab/service_add,$SVC6,policy=rr,legacy=drop")
for i in 1 2 3; do r+=" $($TEL "$PREFIX" "/crab/backend_add,$SVC6,${IP6_SRV[i]}")"; done
crab_log "$r"
dpdk_wait_ready "$LB_PID" "$PREFIX" "$SVC6" "${IP6_SRV[3]}"
crab_log "$($TEL "$PREFIX" "/crab/backends,$SVC6")"
log_test $ready "IPv6 service added through telemetry, its backends resolved by Neighbour Discovery"
[ $ready = 0 ] || crab_exit

for i in 1 2 3; do
	ep_helper_start "srv$i" "${NS_SRV[i]}" "$CG_SRV" "$D/ep_hold.py"
	[ "$(ep_helper "srv$i" "listen $P6 v6")" = ok ] &&
		[ "$(ep_helper "srv$i" "serve $P6 $EP_TMP/acc6-$i")" = ok ] ||
		crab_fail "IPv6 listener on server $i"
done
ep_helper_start cli "$NS_CLI" "$CG_CLI" "$D/ep_hold.py"
acc6() {
	local v=0
	[ -e "$EP_TMP/acc6-$1" ] && read -r v <"$EP_TMP/acc6-$1"
	echo "${v:-0}"
}
svc6() { crab_jnum "$($TEL "$PREFIX" "/crab/stats,$SVC6")" "$1"; }

red0=$(ep_stat redirected)
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ep_helper cli "conns $VIP6 $P6 $N 10")
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
red=$(($(ep_stat redirected) - red0))
crab_log "client: $out; redirected +$red; SYN retransmissions $retr"
[ "$out" = "ok $N" ] && [ "$red" = "$N" ]
log_test $? "$N IPv6 connections through the DPDK LB succeed, data echoed, each redirected"

syn=$(svc6 syn_redirected) other=$(($(svc6 nonsyn_drop) + $(svc6 syn_legacy_drop)))
crab_log "LB: $syn SYNs redirected, $other other packets of the service"
[ "$syn" = $((N + retr)) ] && [ "$other" = 0 ]
log_test $? "the LB saw only SYNs: $syn = $N + $retr retransmitted, $other others"

a1=$(acc6 1) a2=$(acc6 2) a3=$(acc6 3)
crab_log "accepted per server: $a1 $a2 $a3"
ok=0
[ $((a1 + a2 + a3)) = "$N" ] || ok=1
for a in $a1 $a2 $a3; do
	[ $((a - N / 3)) -le "$retr" ] && [ $((N / 3 - a)) -le "$retr" ] || ok=1
done
log_test $ok "each connection completed on a backend, round robin ($a1 $a2 $a3, N/3 = $((N / 3)))"

crab_exit
