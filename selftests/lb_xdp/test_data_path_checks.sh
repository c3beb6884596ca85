#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The XDP LB's data-path checks on a real path (standard topology, the
# program attached natively to the LB's veth, service rr / insert over
# srv1, hand-built frames from the client):
# - frames to another MAC, broadcast or multicast are not balanced: passed,
#   counted as mac_not_ours (a switch floods them to every port);
# - insert mode never grows a SYN past the egress MTU: a 1500-byte SYN is
#   refused (no_room), a 1492-byte one grows to 1500 and is forwarded, with
#   the next hop from the FIB, with one resolved by the control plane
#   (`crabctl lb xdp nexthops`) and with a static next-hop MAC;
# - a multicast, broadcast or zero next-hop MAC is refused by crabctl (exit
#   2, naming the value: backend add and apply), and one that reaches the
#   data path anyway (written into the map behind crabctl's back) is never
#   sent to: dropped, nh_mac_bad and tx_error;
# - a next hop on a device the LB does not run on natively (a VLAN device,
#   a device without XDP) is handed to the stack (tx_port_pass), which
#   forwards it, instead of a bpf_redirect() the kernel drops; a device the
#   LB runs on natively is redirected to (next hops from the FIB and
#   resolved by the control plane alike);
# - a VLAN-tagged SYN whose next hop needs the FIB, or was resolved by the
#   control plane, is handed to the stack (vlan_pass), which forwards it,
#   untagged, to the backend on its own VLAN, instead of XDP_TX keeping a
#   tag the backend's segment lacks;
# - a service entry whose id is out of range (written behind crabctl's
#   back) has no per-CPU state: its SYNs are dropped, counted svc_id_bad.
# (The IP version check is a conformance fixture: ip_version_not_4_pass.)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/xdp_lib.sh"

crab_require_root
crab_check_tool nsenter bpftool ethtool python3
crab_need_nettest
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"

crab_topo_setup 3
DIR=$(mktemp -d)
crab_defer "rm -rf $DIR"
SVC=$VIP:80
PIN=/sys/fs/bpf/crab/eth0

lbctl lb xdp attach eth0 --mode native 2>"$DIR/attach.err" ||
	{ cat "$DIR/attach.err"; crab_fail "cannot attach the XDP LB natively to eth0"; }
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
xdp_peer_napi || crab_fail "cannot attach an XDP program to the LB's veth peer (XDP_TX needs it)"
lbctl lb xdp service add "$SVC" --policy rr --legacy insert --dev eth0 &&
	lbctl lb xdp backend add "$SVC" "${IP_SRV[1]}" --dev eth0 ||
	crab_fail "service $SVC over srv1"
MAC1=$(ip -n "${NS_SRV[1]}" -j link show eth0 | "$CRAB_NETTEST" json /0/address)

stats() { lbctl -j lb xdp stats --dev eth0 >"$DIR/stats.json"; }
svc_c() { "$CRAB_NETTEST" json "/services/[service=$SVC]/counters/$1" <"$DIR/stats.json"; }
glob_c() { "$CRAB_NETTEST" json "/global/$1" <"$DIR/stats.json"; }
# snap: remember the counters; delta NAME: svc counter change since snap,
# gdelta NAME the same for a global one, srv_segs the TCP segments srv1 got.
# path fib|resolved: the backends' next hops withdrawn (the FIB lookup per
# SYN) or resolved by the control plane; each case checks the path taken.
path() {
	if [ "$1" = fib ]; then
		lbctl lb xdp nexthops --clear --dev eth0 >/dev/null
	else
		lbctl lb xdp nexthops --dev eth0 >/dev/null &&
			! lbctl -j lb xdp show --dev eth0 | grep -q '"nexthop":"fib"'
	fi || crab_fail "next hops: $1"
}
snap() {
	stats
	cp "$DIR/stats.json" "$DIR/stats0.json"
	segs0=$(crab_snmp "${NS_SRV[1]}" Tcp InSegs)
}
delta() {
	echo $(($(svc_c "$1") - $("$CRAB_NETTEST" json "/services/[service=$SVC]/counters/$1" <"$DIR/stats0.json")))
}
gdelta() {
	echo $(($(glob_c "$1") - $("$CRAB_NETTEST" json "/global/$1" <"$DIR/stats0.json")))
}
srv_segs() { echo $(($(crab_snmp "${NS_SRV[1]}" Tcp InSegs) - segs0)); }
# Wait until srv1 got $1 segments more than at snap (or 3 s), then stats.
settle() {
	local i
	for i in $(seq 30); do
		[ "$(srv_segs)" -ge "$1" ] && break
		sleep 0.1
	done
	stats
}
send() {
	ip netns exec "$NS_CLI" "$CRAB_NETTEST" send src="$IP_CLI" dst="$VIP" dport=80 flags=S "$@"
}

# ---- frames not addressed to the LB -----------------------------------------
snap
for mac in 02:00:00:00:99:99 ff:ff:ff:ff:ff:ff 01:00:5e:00:00:01; do
	send dev=eth0 dmac=$mac sport=21000 opt=mss:1460,crab || crab_fail "send to $mac"
done
send sport=21010 opt=mss:1460,crab || crab_fail "send to the LB"
settle 1
crab_log "mac_not_ours +$(gdelta mac_not_ours), syn_redirected +$(delta syn_redirected), srv1 segments +$(srv_segs)"
[ "$(delta syn_redirected)" = 1 ] && [ "$(gdelta mac_not_ours)" -ge 3 ] && [ "$(srv_segs)" = 1 ]
log_test $? "SYNs in frames to another MAC, broadcast, multicast: passed (mac_not_ours), only the LB's own balanced"

# ---- insert never grows past the MTU ----------------------------------------
# IP 20 + TCP 20 + MSS 4 + payload: 1456 -> 1500 bytes (no room for 8 more),
# 1448 -> 1492 (grows to exactly 1500).
mtu_case() {
	[ "$2" ] && path "$2"
	snap
	send sport=22000 opt=mss:1460 payload=1456 || crab_fail "send the 1500-byte SYN"
	send sport=22001 opt=mss:1460 payload=1448 || crab_fail "send the 1492-byte SYN"
	settle 1
	crab_log "$1: no_room +$(delta no_room), syn_inserted +$(delta syn_inserted), srv1 segments +$(srv_segs)," \
		"nh_${3:-$2} +$(gdelta "nh_${3:-$2}")"
	[ "$(delta no_room)" = 1 ] && [ "$(delta syn_inserted)" = 1 ] && [ "$(srv_segs)" = 1 ] &&
		[ "$(gdelta "nh_${3:-$2}")" = 2 ]
	log_test $? "insert ($1): a 1500-byte SYN refused as no_room, a 1492-byte one grown to 1500 and delivered"
}
mtu_case "next hop from the FIB" fib
ip netns exec "$NS_LB" ping -c1 -W2 "${IP_SRV[1]}" >/dev/null || crab_fail "LB cannot reach srv1"
mtu_case "next hop resolved by the control plane" resolved
lbctl lb xdp backend del "$SVC" "${IP_SRV[1]}" --dev eth0 &&
	lbctl lb xdp backend add "$SVC" "${IP_SRV[1]}" --mac "$MAC1" --dev eth0 ||
	crab_fail "srv1 with its static MAC"
mtu_case "static next-hop MAC" "" static

# ---- next-hop MACs that are no host's -----------------------------------------
ok=0
for mac in 01:00:5e:00:00:01 ff:ff:ff:ff:ff:ff 00:00:00:00:00:00; do
	lbctl lb xdp backend add "$SVC" "${IP_SRV[2]}" --mac $mac --dev eth0 2>"$DIR/err"
	rc=$?
	[ $rc = 2 ] && grep -q "$mac" "$DIR/err" || { ok=1; crab_log "backend add --mac $mac: rc $rc: $(cat "$DIR/err")"; }
	cat >"$DIR/lb.toml" <<-EOF
		[lb]
		type = "xdp"
		dev = "eth0"
		[[service]]
		vip = "$VIP"
		port = 80
		legacy = "insert"
		[[service.backend]]
		addr = "${IP_SRV[1]}"
		mac = "$mac"
	EOF
	nsenter --net="/run/netns/$NS_LB" "$CRABCTL" apply -f "$DIR/lb.toml" 2>"$DIR/err"
	rc=$?
	[ $rc = 2 ] && grep -q "$mac" "$DIR/err" || { ok=1; crab_log "apply mac = $mac: rc $rc: $(cat "$DIR/err")"; }
done
n=$(lbctl -j lb xdp show --dev eth0 | "$CRAB_NETTEST" json "/0/backends/0/mac" "/0/active_backends" | tr '\n' ' ')
[ "$n" = "$MAC1 1 " ] || { ok=1; crab_log "configuration after the refusals: $n"; }
log_test $ok "multicast, broadcast and zero next-hop MACs refused (exit 2, value named), nothing applied"

# Behind crabctl's back: srv1's slot in the active generation gets a
# multicast MAC (bpftool). The data path must not send to it.
{ read -r id && read -r gen; } < <(lbctl -j lb xdp show --dev eth0 | "$CRAB_NETTEST" json /0/id /0/generation)
key=$((id * 2 + gen))
bpftool -j map lookup pinned "$PIN/crab_gens" key $key 0 0 0 >"$DIR/gen.json" &&
	python3 - "$DIR/gen.json" "$DIR/gen.hex" <<-'PY' &&
	import json, sys
	v = [int(x, 16) for x in json.load(open(sys.argv[1]))["value"]]
	v[16:22] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]  # slot 0: struct crab_xdp_backend .mac (after dip[4])
	open(sys.argv[2], "w").write(" ".join("%02x" % b for b in v))
	PY
	bpftool map update pinned "$PIN/crab_gens" key $key 0 0 0 value hex $(cat "$DIR/gen.hex") ||
	crab_fail "cannot write a multicast MAC into the generation"
snap
send sport=23000 opt=mss:1460,crab || crab_fail "send"
sleep 0.3	# nothing may arrive: give it the time a delivery takes
stats
crab_log "nh_mac_bad +$(gdelta nh_mac_bad), tx_error +$(delta tx_error), xdp_tx +$(gdelta xdp_tx), srv1 segments +$(srv_segs)"
[ "$(gdelta nh_mac_bad)" = 1 ] && [ "$(delta tx_error)" = 1 ] && [ "$(gdelta xdp_tx)" = 0 ] && [ "$(srv_segs)" = 0 ]
log_test $? "a multicast next-hop MAC in the map: the SYN is dropped (nh_mac_bad, tx_error), never sent"
lbctl lb xdp backend del "$SVC" "${IP_SRV[1]}" --dev eth0 &&
	lbctl lb xdp backend add "$SVC" "${IP_SRV[1]}" --dev eth0 ||
	crab_fail "srv1 back without a static MAC"

# ---- a service id out of range -------------------------------------------------
# VIP:81 with id 300 (>= CRAB_MAX_SERVICES) in crab_services (bpftool): key
# struct crab_xdp_svc_key (the VIP in the first of 4 words, port, family 4,
# pad), value struct crab_xdp_svc (id 300 LE, rr, drop, generation 0). The
# entry goes before stats (crabctl cannot show a service it has no state for).
IFS=. read -r a b c d <<<"$VIP"
bkey="$a $b $c $d $(printf '0 %.0s' {1..12}) 0 81 4 0"
snap
bpftool map update pinned "$PIN/crab_services" key $bkey value 0x2c 0x01 0 0 0 0 0 0 ||
	crab_fail "cannot write a service with id 300"
ip netns exec "$NS_CLI" "$CRAB_NETTEST" send src="$IP_CLI" dst="$VIP" dport=81 flags=S sport=23500 \
	opt=mss:1460,crab || crab_fail "send to port 81"
sleep 0.3	# nothing may arrive: give it the time a delivery takes
bpftool map delete pinned "$PIN/crab_services" key $bkey || crab_fail "cannot remove the service with id 300"
stats
crab_log "svc_id_bad +$(gdelta svc_id_bad), pass +$(gdelta pass), srv1 segments +$(srv_segs)"
[ "$(gdelta svc_id_bad)" = 1 ] && [ "$(srv_segs)" = 0 ]
log_test $? "a service id out of range in the map: its SYN is dropped and counted (svc_id_bad)"

# ---- a next hop on a device the LB is not attached to ---------------------------
# A backend behind the LB's second port eth1, a veth whose peer runs no XDP:
# it takes no redirected frames (as a VLAN device never does). The LB must
# hand the rewritten SYN to the stack, which forwards it. Once the LB runs
# natively on eth1 too (and the peer can take XDP frames), crabctl makes
# eth1 a redirect target of eth0 and the LB redirects there itself.
NS_X=crab-x-$CRAB_SFX
crab_ns_add "$NS_X"
ip link add eth1 netns "$NS_LB" type veth peer name xb0 netns "$NS_X" &&
	ip -n "$NS_LB" addr add 10.20.0.1/24 dev eth1 && ip -n "$NS_LB" link set eth1 up &&
	ip -n "$NS_X" addr add 10.20.0.2/24 dev xb0 && ip -n "$NS_X" link set xb0 up ||
	crab_fail "the LB's second port"
ip netns exec "$NS_LB" ping -c1 -W5 10.20.0.2 >/dev/null || crab_fail "eth1 does not carry traffic"
lbctl lb xdp backend del "$SVC" "${IP_SRV[1]}" --dev eth0 &&
	lbctl lb xdp backend add "$SVC" 10.20.0.2 --dev eth0 || crab_fail "backend 10.20.0.2"
x_case() {
	local i xs0
	path "$2"
	snap
	xs0=$(crab_snmp "$NS_X" Tcp InSegs)
	send sport="$1" opt=mss:1460,crab || crab_fail "send"
	for i in $(seq 30); do
		[ "$(crab_snmp "$NS_X" Tcp InSegs)" -gt "$xs0" ] && break
		sleep 0.1
	done
	stats
	xsegs=$(($(crab_snmp "$NS_X" Tcp InSegs) - xs0))
	crab_log "$2: tx_port_pass +$(gdelta tx_port_pass), xdp_redirect +$(gdelta xdp_redirect), syn_redirected +$(delta syn_redirected), backend segments +$xsegs, nh_$2 +$(gdelta "nh_$2")"
	[ "$(gdelta "nh_$2")" = 1 ]
}
for p in fib resolved; do
	x_case $((25000 + ${#p})) $p &&
		[ "$(gdelta tx_port_pass)" = 1 ] && [ "$(gdelta xdp_redirect)" = 0 ] && [ "$(delta syn_redirected)" = 1 ] &&
		[ "$xsegs" = 1 ]
	log_test $? "$p: a next hop on a port without the LB: the SYN goes to the stack (tx_port_pass), which delivers it"
done
lbctl lb xdp attach eth1 --mode native 2>/dev/null || crab_fail "attach to eth1"
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth1"
nsenter --net="/run/netns/$NS_X" "$CRABCTL" lb xdp attach xb0 --mode native 2>/dev/null ||
	crab_fail "attach to the peer xb0 (XDP frames into a veth need it)"
crab_defer "nsenter --net=/run/netns/$NS_X $CRABCTL lb xdp detach xb0"
for p in fib resolved; do
	x_case $((25010 + ${#p})) $p &&
		[ "$(gdelta tx_port_pass)" = 0 ] && [ "$(gdelta xdp_redirect)" = 1 ] && [ "$(delta syn_redirected)" = 1 ] &&
		[ "$xsegs" = 1 ]
	log_test $? "$p: with the LB native on eth1 too, the SYN is redirected there (xdp_redirect) and delivered"
done
lbctl lb xdp detach eth1 2>/dev/null || crab_fail "detach from eth1"
for p in fib resolved; do
	x_case $((25020 + ${#p})) $p && [ "$(gdelta tx_port_pass)" = 1 ] && [ "$(gdelta xdp_redirect)" = 0 ] &&
		[ "$xsegs" = 1 ]
	log_test $? "$p: after detaching eth1, it is no redirect target any more: to the stack again"
done
lbctl lb xdp backend del "$SVC" 10.20.0.2 --dev eth0 &&
	lbctl lb xdp backend add "$SVC" "${IP_SRV[1]}" --dev eth0 || crab_fail "srv1 back"

# ---- a tagged SYN the program cannot send on its VLAN ---------------------------
# VLAN 10 between the client and the LB only; srv1 is untagged. The client's
# tag goes on the wire in the frame (tx VLAN offload off). Without 802.1Q
# devices in the kernel (8021q not built in, no modules), the client sends
# the tagged frame itself (scapy) and the LB's stack cannot take it: then
# only what the program does with it is checked. The bridge takes the tag
# off into the frame's metadata on receive; the switch side of the LB's
# veth must put it back into the frame (tx VLAN offload off there), or the
# LB's XDP program, which sees only the frame's bytes, gets it untagged.
idx=$(ip -n "$NS_LB" -o link show eth0 2>/dev/null | sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
lbpeer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }')
ip netns exec "$NS_SW" ethtool -K "$lbpeer" txvlan off >/dev/null ||
	crab_fail "cannot turn off tx VLAN offload on the LB's veth peer $lbpeer"
if ip -n "$NS_LB" link add link eth0 name eth0.10 type vlan id 10 2>/dev/null; then
	ip -n "$NS_LB" addr add 10.10.0.1/24 dev eth0.10 && ip -n "$NS_LB" link set eth0.10 up &&
		ip netns exec "$NS_CLI" ethtool -K eth0 txvlan off >/dev/null &&
		ip -n "$NS_CLI" link add link eth0 name eth0.10 type vlan id 10 &&
		ip -n "$NS_CLI" addr add 10.10.0.2/24 dev eth0.10 && ip -n "$NS_CLI" link set eth0.10 up &&
		ip -n "$NS_CLI" route replace "$VIP/32" via 10.10.0.1 dev eth0.10 ||
		crab_fail "VLAN 10 between the client and the LB"
	ip netns exec "$NS_CLI" ping -c1 -W5 10.10.0.1 >/dev/null || crab_fail "VLAN 10 does not carry traffic"
	send_tagged() {
		ip netns exec "$NS_CLI" "$CRAB_NETTEST" send src=10.10.0.2 dst="$VIP" dport=80 flags=S sport="$1" \
			opt=mss:1460,crab || crab_fail "send on VLAN 10"
		settle 1
	}
	want_segs=1 how="which delivers it to srv1"
else
	crab_require_python_module scapy
	lbmac=$(ip -n "$NS_LB" -j link show eth0 | "$CRAB_NETTEST" json /0/address)
	send_tagged() {
		ip netns exec "$NS_CLI" python3 - "$lbmac" "$IP_CLI" "$VIP" "$1" <<-'PY' || crab_fail "send a tagged frame"
		import sys
		from scapy.all import IP, TCP, Dot1Q, Ether, sendp
		lbmac, src, vip, sport = sys.argv[1:]
		opt = bytes(int(x) for x in vip.split("."))
		sendp(Ether(dst=lbmac) / Dot1Q(vlan=10) / IP(src=src, dst=vip) /
		      TCP(sport=int(sport), dport=80, flags="S", options=[("MSS", 1460), ("NOP", None), ("NOP", None), (42, opt)]),
		      iface="eth0", verbose=False)
		PY
		sleep 0.3	# what the program sends would arrive by then
		stats
	}
	want_segs=0 how="no 802.1Q devices in this kernel: the stack's part not checked"
fi
for p in fib resolved; do
	path $p
	snap
	send_tagged $((24000 + ${#p}))
	crab_log "$p: vlan_pass +$(gdelta vlan_pass), syn_redirected +$(delta syn_redirected), xdp_tx +$(gdelta xdp_tx), srv1 segments +$(srv_segs)"
	[ "$(gdelta vlan_pass)" = 1 ] && [ "$(delta syn_redirected)" = 1 ] && [ "$(gdelta xdp_tx)" = 0 ] &&
		[ "$(srv_segs)" = "$want_segs" ]
	log_test $? "$p: a tagged SYN whose next hop is not static goes to the stack (vlan_pass), not out with its tag ($how)"
done

crab_exit
