#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crab-lb-dpdk with an IPv6 service on af_packet (docs/PROTOCOL.md 2, 3.2):
# the backends' MACs are resolved by Neighbour Discovery (solicitations to
# their solicited-node addresses, learned from the advertisements their
# kernels send back); the client's kernel resolves the VIP and the LB's
# IPv6 address and gets the LB's answers; capable IPv6 SYNs go to the DIPs,
# rr 2/2, the 18-byte option naming the VIP, TCP checksums valid; forged
# advertisements for a backend's address (solicited-looking to the LB, and
# unsolicited to all nodes) are counted (nd_unsolicited) and not learned;
# legacy IPv6 SYNs to an insert-mode service leave with the 20-byte option
# inserted (the frame grown into the mbuf's headroom), checksums valid.
# crabctl with the DPDK LB over IPv6: show lists the IPv6 services and
# prints TOML that apply accepts unchanged, apply -f changes a backend's
# weight in place and converges, stats report the IPv6 service's backend
# counters, a file mixing families is refused (exit 2) and changes nothing,
# `crabctl lb dpdk backend drain` takes the IPv6 service.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/dpdk_lib.sh"

DIR=$(cd "$(dirname "$0")" && pwd)
TEL="python3 $DIR/dpdk_tel.py"
IP6="python3 $DIR/dpdk_ip6.py"
NET6=2001:db8:c2ab
LB6=$NET6::1 CLI6=$NET6::10 VIP6=$NET6:100::1
SVC="[$VIP6]:80"

crab_require_root
crab_check_tool tcpdump python3
crab_need_nettest
crab_require_built "$CRABCTL" crabctl

crab_topo_setup 2
WORK=$(mktemp -d)
crab_defer rm -rf "$WORK"
mac_of() { ip netns exec "$1" cat /sys/class/net/eth0/address; }
# IPv6 on the segment: the client and the servers get addresses (no
# duplicate address detection to wait for); the switch floods multicast
# (the LB's solicited-node groups are joined by nobody). The client
# reaches the VIP on-link: it solicits the VIP itself.
ip -n "$NS_SW" link set br0 type bridge mcast_snooping 0
ip -n "$NS_CLI" addr add "$CLI6/64" dev eth0 nodad
ip -n "$NS_CLI" -6 route add "$VIP6/128" dev eth0
for i in 1 2; do
	SRV6[i]=$NET6::$((10 + i))
	SMAC[i]=$(mac_of "${NS_SRV[i]}")
	ip -n "${NS_SRV[i]}" addr add "${SRV6[i]}/64" dev eth0 nodad
done
LB_MAC=$(mac_of "$NS_LB")
CLI_MAC=$(mac_of "$NS_CLI")

dpdk_start "$WORK" --port-ip6 "$LB6" --service "$SVC,policy=rr,legacy=drop" \
	--backend "$SVC,${SRV6[1]}" --backend "$SVC,${SRV6[2]}" \
	--service "[$VIP6]:81,policy=rr,legacy=insert" \
	--backend "[$VIP6]:81,${SRV6[1]}" --backend "[$VIP6]:81,${SRV6[2]}" ||
	{ log_test 1 "LB started"; crab_exit; }
dpdk_wait_ready "$LB_PID" "$PREFIX" "$SVC" "${SRV6[2]}"
be=$($TEL "$PREFIX" "/crab/backends,$SVC")
crab_log "backends: $be"
[ $ready = 0 ] && grep -q "${SRV6[1]} .*mac=${SMAC[1]} neigh=reachable" <<<"$be" &&
	grep -q "${SRV6[2]} .*mac=${SMAC[2]} neigh=reachable" <<<"$be"
rc=$?
[ $rc = 0 ] || sed 's/^/# lb: /' "$WORK/lb.log"
log_test $rc "IPv6 backends' MACs learned by Neighbour Discovery"
[ $rc = 0 ] || crab_exit

G=
gstats() { G=$($TEL "$PREFIX" /crab/stats); }
g() { crab_jnum "$G" "$1"; }
gstats
crab_log "nd_ns_sent $(g nd_ns_sent) nd_learned $(g nd_learned) nd_na_sent $(g nd_na_sent)"
[ "$(g nd_learned)" -ge 2 ] && [ "$(g nd_ns_sent)" -ge 2 ]
log_test $? "solicitations sent, learned from the advertisements answering them"

# The client's kernel resolves the VIP and the LB's address: the LB answers.
ip netns exec "$NS_CLI" ping -6 -c1 -W1 "$LB6" >/dev/null 2>&1
ip netns exec "$NS_CLI" ping -6 -c1 -W1 "$VIP6" >/dev/null 2>&1
n_lb=$(ip -n "$NS_CLI" -6 neigh show "$LB6" dev eth0)
n_vip=$(ip -n "$NS_CLI" -6 neigh show "$VIP6" dev eth0)
crab_log "client: $n_lb / $n_vip"
gstats
[[ $n_lb == *"lladdr $LB_MAC"* ]] && [[ $n_vip == *"lladdr $LB_MAC"* ]] && [ "$(g nd_na_sent)" -ge 2 ]
log_test $? "the LB answers solicitations for its IPv6 address and the VIP"

# Forged advertisements for server 1's address, no solicitation outstanding.
unsol0=$(g nd_unsolicited) learned0=$(g nd_learned)
ip netns exec "$NS_CLI" $IP6 send eth0 kind=na dmac="$LB_MAC" smac="$CLI_MAC" src="${SRV6[1]}" dst="$LB6" \
	target="${SRV6[1]}" tlla="$CLI_MAC" solicited=1
ip netns exec "$NS_CLI" $IP6 send eth0 kind=na dmac=33:33:00:00:00:01 smac="$CLI_MAC" src="${SRV6[1]}" \
	dst=ff02::1 target="${SRV6[1]}" tlla="$CLI_MAC" solicited=0
for _ in $(seq 25); do
	gstats
	[ "$(g nd_unsolicited)" -ge $((unsol0 + 2)) ] && break
	sleep 0.2
done
be=$($TEL "$PREFIX" "/crab/backends,$SVC")
crab_log "nd_unsolicited $(g nd_unsolicited) (was $unsol0); $be"
[ "$(g nd_unsolicited)" = $((unsol0 + 2)) ] && [ "$(g nd_learned)" = "$learned0" ] &&
	grep -q "${SRV6[1]} .*mac=${SMAC[1]} neigh=reachable" <<<"$be"
log_test $? "2 forged advertisements for a backend: counted (nd_unsolicited +2), not learned"

# Capable IPv6 SYNs through the LB, to the MAC the client learned.
vmac=$(grep -o 'lladdr [0-9a-f:]*' <<<"$n_vip" | cut -d' ' -f2)
for i in 1 2; do crab_capture_start "${NS_SRV[i]}" "$WORK/s$i.pcap" "ip6 and tcp and src host $CLI6"; done
ip netns exec "$NS_CLI" $IP6 send eth0 dmac="${vmac:-$LB_MAC}" smac="$CLI_MAC" src="$CLI6" dst="$VIP6" \
	sport=30000 count=4 opt="$CLI6"
for _ in $(seq 25); do
	[ "$(crab_jnum "$($TEL "$PREFIX" "/crab/stats,$SVC")" syn_redirected)" = 4 ] && break
	sleep 0.2
done
crab_capture_stop "$WORK/s1.pcap" "$WORK/s2.pcap"
sum=$($IP6 summary "$WORK/s1.pcap" "$WORK/s2.pcap")
crab_log "$sum"
st=$($TEL "$PREFIX" "/crab/stats,$SVC")
grep -qx "s1 syn=2 dst=${SRV6[1]}:2 opt=$VIP6:2 csum_bad=0" <<<"$sum" &&
	grep -qx "s2 syn=2 dst=${SRV6[2]}:2 opt=$VIP6:2 csum_bad=0" <<<"$sum" &&
	[ "$(crab_jnum "$st" syn_redirected)" = 4 ]
log_test $? "4 capable IPv6 SYNs: 2/2 at the DIPs, option names the VIP, checksums valid"

# Legacy SYNs (no option) to the insert-mode service.
for i in 1 2; do crab_capture_start "${NS_SRV[i]}" "$WORK/i$i.pcap" "ip6 and tcp and src host $CLI6"; done
ip netns exec "$NS_CLI" $IP6 send eth0 dmac="${vmac:-$LB_MAC}" smac="$CLI_MAC" src="$CLI6" dst="$VIP6" \
	dport=81 sport=31000 count=2
for _ in $(seq 25); do
	[ "$(crab_jnum "$($TEL "$PREFIX" "/crab/stats,[$VIP6]:81")" syn_inserted)" = 2 ] && break
	sleep 0.2
done
crab_capture_stop "$WORK/i1.pcap" "$WORK/i2.pcap"
sum=$($IP6 summary "$WORK/i1.pcap" "$WORK/i2.pcap")
crab_log "$sum"
grep -qx "i1 syn=1 dst=${SRV6[1]}:1 opt=$VIP6:1 csum_bad=0" <<<"$sum" &&
	grep -qx "i2 syn=1 dst=${SRV6[2]}:1 opt=$VIP6:1 csum_bad=0" <<<"$sum"
log_test $? "2 legacy IPv6 SYNs in insert mode: the option naming the VIP inserted, checksums valid"

# crabctl over IPv6.
ctl() { "$CRABCTL" "$@"; }
ctl show --lb dpdk --prefix "$PREFIX" >"$WORK/shown.toml" 2>"$WORK/ctl.err"
out=$(ctl apply -f "$WORK/shown.toml" 2>&1)
crab_log "show: $(grep -c '^\[\[service\]\]' "$WORK/shown.toml") services, $(grep -c 'addr = "2001' "$WORK/shown.toml") IPv6 backends; apply: $out"
grep -q "vip = \"$VIP6\"" "$WORK/shown.toml" && [ "$out" = "no changes" ]
log_test $? "crabctl show lists the IPv6 services; apply of its TOML changes nothing"
conf() {  # conf FILE WEIGHT2 [EXTRA BACKEND]
	{
		printf '[lb]\ntype = "dpdk"\nprefix = "%s"\n' "$PREFIX"
		printf '\n[[service]]\nvip = "%s"\nport = 80\npolicy = "rr"\nlegacy = "drop"\n' "$VIP6"
		printf '\n  [[service.backend]]\n  addr = "%s"\n' "${SRV6[1]}"
		printf '\n  [[service.backend]]\n  addr = "%s"\n  weight = %s\n' "${SRV6[2]}" "$2"
		[ -n "${3:-}" ] && printf '\n  [[service.backend]]\n  addr = "%s"\n' "$3"
		printf '\n[[service]]\nvip = "%s"\nport = 81\npolicy = "rr"\nlegacy = "insert"\n' "$VIP6"
		printf '\n  [[service.backend]]\n  addr = "%s"\n' "${SRV6[1]}" "${SRV6[2]}"
	} >"$1"
}
conf "$WORK/w2.toml" 2
out=$(ctl apply -f "$WORK/w2.toml" 2>&1)
rc=$?
crab_log "$out"
[ $rc = 0 ] && grep -q "^backend set" <<<"$out" && [ "$(ctl apply -f "$WORK/w2.toml")" = "no changes" ] &&
	grep -q "${SRV6[2]} weight=2 " <<<"$($TEL "$PREFIX" "/crab/backends,$SVC")"
log_test $? "crabctl apply -f: an IPv6 backend's weight changed in place, re-apply changes nothing"
j=$(ctl -j stats --lb dpdk --prefix "$PREFIX")
n=$(crab_json "$j" "[s for s in j['services'] if s['service'] == '$SVC'][0]['counters']['syn_redirected']['total']")
crab_log "stats: syn_redirected of $SVC: $n"
[ "$n" = 4 ]
log_test $? "crabctl stats: the IPv6 service's counters (syn_redirected $n)"
before=$(ctl show --lb dpdk --prefix "$PREFIX")
conf "$WORK/mixed.toml" 2 198.18.0.13
ctl apply -f "$WORK/mixed.toml" >/dev/null 2>"$WORK/mixed.err"
rc=$?
crab_log "mixed families: exit $rc, $(head -n1 "$WORK/mixed.err")"
[ $rc = 2 ] && grep -q "198.18.0.13 is an IPv4 address but the service \[$VIP6\]:80 is IPv6" "$WORK/mixed.err" &&
	[ "$(ctl show --lb dpdk --prefix "$PREFIX")" = "$before" ]
log_test $? "crabctl apply -f: a file mixing families exits 2 naming the backend, nothing changed"
ctl lb dpdk --prefix "$PREFIX" backend drain "$SVC" "${SRV6[1]}" >/dev/null &&
	grep -q "${SRV6[1]} weight=1 state=draining" <<<"$($TEL "$PREFIX" "/crab/backends,$SVC")"
log_test $? "crabctl lb dpdk backend drain on the IPv6 service"

dpdk_stop "$LB_PID"
log_test $rc "LB stops cleanly on SIGTERM"
crab_exit
