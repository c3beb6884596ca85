#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Next hops resolved by the control plane (include/crab/crab_xdp.h
# CRAB_XDP_BE_NH, lb/ebpf_xdp/ctl/nexthop.hpp), on a real path: standard
# topology with IPv4 and IPv6, the LB attached natively to its veth, an
# IPv4 service (capable SYNs from crab-nettest) and an IPv6 one (legacy
# hash, plain SYNs from a raw socket) over server 1. Per family:
#   1. `backend add` resolves the next hop once (route + neighbour): the
#      map holds server 1's MAC and the LB's own as source, and SYNs go
#      that way (nh_resolved moves, nh_fib does not), to server 1's MAC;
#   2. with `crabctl lb xdp nexthops --watch` running (a refresh far
#      longer than the test: only rtnetlink events drive it), server 1's
#      MAC changes and the LB's neighbour entry follows (`ip neigh
#      replace`, as an ARP/NDP update would): the watcher writes the new
#      MAC, SYNs arrive at it;
#   3. server 1 stops answering for its address and the LB's neighbour
#      entry is deleted: the watcher withdraws the next hop, SYNs take the
#      FIB lookup (nh_fib, fib_pass: the stack cannot resolve it either)
#      and not one frame goes to server 1's still valid, stale, MAC; the
#      neighbour is managed (NTF_EXT_MANAGED) so the kernel keeps probing
#      it;
#   4. server 1 answers again: the kernel's probe of the managed entry
#      resolves it, the watcher publishes it, SYNs take the resolved path;
#   5. (IPv4) route changes: the DIP routed via a gateway that answers
#      gets the gateway's MAC; via a gateway nobody answers for, the next
#      hop is withdrawn; the route removed, it is back;
#   6. a pass that cannot take the LB's write lock fails, said and
#      counted, and the watcher goes on, resolving the next change;
#      SIGTERM ends it with its counters; `nexthops --clear` withdraws
#      every next hop (FIB), `nexthops` (one shot) resolves them again;
#   and a backend without a route is added all the same, on the FIB path,
#   the reason on stderr.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/xdp_lib.sh"

crab_require_root
crab_check_tool nsenter tcpdump python3 flock
crab_need_nettest
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"

crab_topo_setup 1
crab_topo6_setup || crab_fail "IPv6 addresses of the topology"
DIR=$(mktemp -d)
crab_defer "rm -rf $DIR"
SVC=$VIP:80
SVC6=[$VIP6]:80
IP1=${IP_SRV[1]}
IP61=${IP6_SRV[1]}
NS1=${NS_SRV[1]}

lbctl lb xdp attach eth0 --mode native 2>"$DIR/attach.err" ||
	{ cat "$DIR/attach.err"; crab_fail "cannot attach the XDP LB natively to eth0"; }
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
xdp_peer_napi || crab_fail "cannot attach an XDP program to the LB's veth peer (XDP_TX needs it)"
LB_MAC=$(ip -n "$NS_LB" -j link show eth0 | crab_jget /0/address)
MAC1=$(ip -n "$NS1" -j link show eth0 | crab_jget /0/address)

# The LB's neighbours of server 1 exist (crab_topo6_setup pinged the IPv6
# one), so `backend add` finds them.
ip netns exec "$NS_LB" ping -c1 -W2 "$IP1" >/dev/null || crab_fail "LB cannot reach $IP1"
lbctl lb xdp service add "$SVC" --policy rr --legacy drop --dev eth0 &&
	lbctl lb xdp backend add "$SVC" "$IP1" --dev eth0 2>"$DIR/add.err" &&
	lbctl lb xdp service add "$SVC6" --policy rr --legacy hash --dev eth0 &&
	lbctl lb xdp backend add "$SVC6" "$IP61" --dev eth0 2>>"$DIR/add.err" ||
	crab_fail "services over server 1: $(cat "$DIR/add.err")"

# nh FIELD SERVICE DIP: the backend's next hop as `lb xdp show` reports it.
nh() {
	lbctl -j lb xdp show --dev eth0 | crab_jget "/[service=$2]/backends/[dip=$3]/$1" 2>/dev/null
}
# wait_nh WANT FIELD SERVICE DIP: until FIELD is WANT (10 s at most).
wait_nh() {
	local i
	for i in $(seq 100); do
		[ "$(nh "$2" "$3" "$4")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
glob() { lbctl -j lb xdp stats --dev eth0 | crab_jget "/global/$1"; }
snap() { for c in nh_resolved nh_fib nh_static fib_pass fib_fail; do eval "G0_$c=$(glob $c)"; done; }
gdelta() { local v="G0_$1"; echo $(($(glob "$1") - ${!v})); }

# send4 N SPORT / send6 N SPORT: N SYNs to the service of that family.
send4() {
	ip netns exec "$NS_CLI" "$CRAB_NETTEST" send src="$IP_CLI" dst="$VIP" dport=80 sport="$2" \
		count="$1" opt=mss:1460,crab
}
send6() {
	ip netns exec "$NS_CLI" python3 - "$IP6_CLI" "$VIP6" "$2" "$1" <<-'EOF'
		import socket, struct, sys
		src, dst, sport, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
		s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
		s.setsockopt(socket.IPPROTO_IPV6, 7, 16)  # IPV6_CHECKSUM: the kernel sums at offset 16
		s.bind((src, 0))
		for i in range(n):
		    s.sendto(struct.pack("!HHIIBBHHH", sport + i, 80, 1000 + i, 0, 5 << 4, 0x02, 65535, 0, 0), (dst, 0))
	EOF
}

# frames_to FAMILY MAC N SPORT: send N SYNs of FAMILY (4 or 6), print how
# many TCP frames to port 80 with destination MAC MAC reached server 1.
frames_to() {
	local f=$1 mac=$2 n=$3 sport=$4 cap=$DIR/cap-$RANDOM.pcap proto=ip
	[ "$f" = 6 ] && proto=ip6
	crab_capture_start "$NS1" "$cap" "ether dst $mac and $proto and tcp dst port 80"
	"send$f" "$n" "$sport" || crab_fail "sending IPv$f SYNs"
	sleep 0.3
	crab_capture_stop "$cap"
	tcpdump -nn -r "$cap" 2>/dev/null | wc -l
}

# ---- 1. resolved once by backend add ---------------------------------------------
check_resolved() {
	local f=$1 svc=$2 dip=$3 mac=$4 sport=$5 got
	snap
	got=$(frames_to "$f" "$mac" 5 "$sport")
	crab_log "IPv$f: nexthop $(nh nexthop "$svc" "$dip") $(nh nh_smac "$svc" "$dip") -> $(nh nh_dmac "$svc" "$dip"); " \
		"nh_resolved +$(gdelta nh_resolved) nh_fib +$(gdelta nh_fib), $got frames to $mac"
	[ "$(nh nexthop "$svc" "$dip")" = resolved ] && [ "$(nh nh_dmac "$svc" "$dip")" = "$mac" ] &&
		[ "$(nh nh_smac "$svc" "$dip")" = "$LB_MAC" ] && [ "$(nh nh_dev "$svc" "$dip")" = eth0 ] &&
		[ "$(gdelta nh_resolved)" = 5 ] && [ "$(gdelta nh_fib)" = 0 ] && [ "$got" = 5 ]
}
check_resolved 4 "$SVC" "$IP1" "$MAC1" 20000
log_test $? "IPv4: backend add resolves the next hop; 5 SYNs via it (nh_resolved +5, nh_fib +0) to $MAC1"
check_resolved 6 "$SVC6" "$IP61" "$MAC1" 20100
log_test $? "IPv6: backend add resolves the next hop; 5 SYNs via it (nh_resolved +5, nh_fib +0) to $MAC1"

# A backend with no route: added all the same, its next hop the FIB's,
# the reason said.
lbctl lb xdp service add "$VIP:81" --dev eth0 &&
	lbctl lb xdp backend add "$VIP:81" 203.0.113.7 --dev eth0 2>"$DIR/noroute.err"
rc=$?
crab_log "$(cat "$DIR/noroute.err")"
[ $rc = 0 ] && [ "$(nh nexthop "$VIP:81" 203.0.113.7)" = fib ] &&
	grep -q "backend 203.0.113.7: next hop not resolved (no route" "$DIR/noroute.err"
log_test $? "a backend without a route is added with the FIB path, the reason on stderr"
lbctl lb xdp service del "$VIP:81" --dev eth0 || crab_fail "service del $VIP:81"

# ---- the watcher -----------------------------------------------------------------
CRABCTL_LOCK_TIMEOUT=1 nsenter --net="/run/netns/$NS_LB" "$CRABCTL" lb xdp nexthops --dev eth0 --watch --refresh 3600 \
	>"$DIR/watch.log" 2>&1 &
WATCH=$!
crab_defer "kill $WATCH"
for i in $(seq 50); do grep -q "nexthop resolved" "$DIR/watch.log" && break; sleep 0.1; done
grep -q "nexthops: resolving" "$DIR/watch.log" || crab_fail "the watcher did not start: $(cat "$DIR/watch.log")"
[ "$(ip -n "$NS_LB" neigh show "$IP1" dev eth0 | grep -c managed)" = 1 ] &&
	[ "$(ip -n "$NS_LB" neigh show "$IP61" dev eth0 | grep -c managed)" = 1 ]
log_test $? "the LB's neighbours of the backends are managed (NTF_EXT_MANAGED): the kernel keeps them resolved"

# ---- 2. the neighbour's MAC changes ----------------------------------------------
# new_mac F: server 1 takes another MAC; the LB's neighbour entry of
# family F follows, as the server's announcement would make it.
MAC_N=0
new_mac() {
	MAC_N=$((MAC_N + 1))
	NEWMAC=$(printf '02:c4:ab:00:00:%02x' $MAC_N)
	ip -n "$NS1" link set eth0 address "$NEWMAC" || crab_fail "server 1 MAC"
	ip -n "$NS_LB" neigh replace "$2" lladdr "$NEWMAC" dev eth0 nud reachable || crab_fail "neigh replace"
	wait_nh "$NEWMAC" nh_dmac "$1" "$2"
}
for f in 4 6; do
	svc=$SVC dip=$IP1 sp=21000
	[ $f = 6 ] && svc=$SVC6 dip=$IP61 sp=21100
	new_mac "$svc" "$dip"
	rc=$?
	crab_log "IPv$f: server 1 now $NEWMAC, map $(nh nh_dmac "$svc" "$dip"); $(tail -n1 "$DIR/watch.log")"
	[ $rc = 0 ] && check_resolved $f "$svc" "$dip" "$NEWMAC" $sp
	log_test $? "IPv$f: the neighbour's MAC changes: the watcher writes $NEWMAC, SYNs go to it"
done
CURMAC=$NEWMAC
# The other family's entry still names the old MAC: make it follow too
# (the IPv4 check above left IPv6 on the MAC before).
ip -n "$NS_LB" neigh replace "$IP1" lladdr "$CURMAC" dev eth0 nud reachable
wait_nh "$CURMAC" nh_dmac "$SVC" "$IP1" || crab_fail "IPv4 next hop did not follow $CURMAC"

# ---- 3. the neighbour fails: FIB, never the stale MAC -------------------------------
# fail_case F SVC DIP ADDRCMD: server 1 drops its address of family F
# (answers no ARP/NS for it, still takes frames to its MAC), the LB's
# entry is deleted.
for f in 4 6; do
	# The IPv4 service rewrites daddr: the stack gets the SYN (fib_pass)
	# and cannot resolve it either; the IPv6 one is hash mode (DSR, daddr
	# stays the VIP): nothing the stack could forward, dropped (fib_fail).
	svc=$SVC dip=$IP1 plen=24 sp=22000 extra= fibc=fib_pass
	[ $f = 6 ] && svc=$SVC6 dip=$IP61 plen=64 sp=22100 extra=nodad fibc=fib_fail
	ip -n "$NS1" addr del "$dip/$plen" dev eth0 || crab_fail "server 1 address"
	ip -n "$NS_LB" neigh del "$dip" dev eth0 || crab_fail "neigh del"
	wait_nh fib nexthop "$svc" "$dip"
	rc=$?
	snap
	got=$(frames_to $f "$CURMAC" 5 $sp)
	crab_log "IPv$f: nexthop $(nh nexthop "$svc" "$dip"), neighbour $(ip -n "$NS_LB" neigh show "$dip" dev eth0);" \
		"nh_fib +$(gdelta nh_fib) $fibc +$(gdelta $fibc) nh_resolved +$(gdelta nh_resolved), $got frames to $CURMAC"
	[ $rc = 0 ] && [ "$(gdelta nh_fib)" = 5 ] && [ "$(gdelta $fibc)" = 5 ] &&
		[ "$(gdelta nh_resolved)" = 0 ] && [ "$got" = 0 ]
	log_test $? "IPv$f: neighbour deleted and unanswered: next hop withdrawn, SYNs take the FIB (nh_fib +5), none to the stale MAC"

	# ---- 4. it answers again ----
	ip -n "$NS1" addr add "$dip/$plen" dev eth0 $extra || crab_fail "server 1 address back"
	for i in $(seq 150); do [ "$(nh nexthop "$svc" "$dip")" = resolved ] && break; sleep 0.1; done
	check_resolved $f "$svc" "$dip" "$CURMAC" $((sp + 50))
	log_test $? "IPv$f: server 1 answers again: the managed neighbour resolves, the watcher publishes it, SYNs take it"
done

# ---- 5. route changes (IPv4) ------------------------------------------------------
# Via a gateway that answers (the client, as a router would): the next hop
# is the gateway's MAC, not the DIP's.
CLI_MAC=$(ip -n "$NS_CLI" -j link show eth0 | crab_jget /0/address)
ip netns exec "$NS_LB" ping -c1 -W2 "$IP_CLI" >/dev/null || crab_fail "LB cannot reach the client"
ip -n "$NS_LB" route add "$IP1/32" via "$IP_CLI" dev eth0 || crab_fail "route via the client"
wait_nh "$CLI_MAC" nh_dmac "$SVC" "$IP1"
rc=$?
crab_log "route via $IP_CLI: nexthop $(nh nexthop "$SVC" "$IP1") -> $(nh nh_dmac "$SVC" "$IP1")"
ip -n "$NS_LB" route del "$IP1/32" via "$IP_CLI" dev eth0
wait_nh "$CURMAC" nh_dmac "$SVC" "$IP1" && [ $rc = 0 ]
log_test $? "IPv4: the DIP routed via a gateway: the next hop is the gateway's MAC ($CLI_MAC); the route gone, the DIP's again"
ip -n "$NS_LB" route add "$IP1/32" via "$CRAB_SUBNET.99" dev eth0 || crab_fail "route via .99"
wait_nh fib nexthop "$SVC" "$IP1"
rc=$?
crab_log "route via .99: nexthop $(nh nexthop "$SVC" "$IP1")"
ip -n "$NS_LB" route del "$IP1/32" via "$CRAB_SUBNET.99" dev eth0
wait_nh resolved nexthop "$SVC" "$IP1" && [ $rc = 0 ]
log_test $? "IPv4: the DIP routed via an unanswered gateway withdraws the next hop; the route gone, it is back"

# ---- 6. a pass that fails, clear, one shot, the watcher's end ----------------------
# Another writer holds the LB's lock past the watcher's patience
# (CRABCTL_LOCK_TIMEOUT=1): the pass a change starts fails, said and
# counted, and the watcher goes on; the lock released, the next change is
# resolved again.
flock /sys/fs/bpf/crab/eth0 sleep 4 &
HOLD=$!
crab_defer "kill $HOLD"
sleep 0.3
ip -n "$NS_LB" neigh replace "$IP1" lladdr "$CURMAC" dev eth0 nud reachable
for i in $(seq 50); do grep -q "error: another crabctl is changing" "$DIR/watch.log" && break; sleep 0.1; done
grep -q "error: another crabctl is changing" "$DIR/watch.log"
rc=$?
wait "$HOLD"
ip -n "$NS_LB" route add "$IP1/32" via "$IP_CLI" dev eth0 || crab_fail "route via the client"
wait_nh "$CLI_MAC" nh_dmac "$SVC" "$IP1" && [ $rc = 0 ] && kill -0 "$WATCH"
rc=$?
ip -n "$NS_LB" route del "$IP1/32" via "$IP_CLI" dev eth0
wait_nh "$CURMAC" nh_dmac "$SVC" "$IP1" || rc=1
crab_log "$(grep -m1 "error:" "$DIR/watch.log")"
log_test $rc "a pass that cannot take the LB's lock fails with the reason, the watcher goes on and resolves the next change"
kill "$WATCH"
wait "$WATCH"
crab_log "watcher: $(tail -n1 "$DIR/watch.log")"
grep -q "nexthops: stopped after .* passes (.* events, 0 overruns, [1-9][0-9]* errors," "$DIR/watch.log"
log_test $? "SIGTERM ends the watcher, which reports its counters (the failed passes among them)"
lbctl lb xdp nexthops --dev eth0 --clear >/dev/null && [ "$(nh nexthop "$SVC" "$IP1")" = fib ] &&
	[ "$(nh nexthop "$SVC6" "$IP61")" = fib ] &&
	lbctl lb xdp nexthops --dev eth0 >"$DIR/oneshot.txt" && [ "$(nh nexthop "$SVC" "$IP1")" = resolved ] &&
	[ "$(nh nexthop "$SVC6" "$IP61")" = resolved ] && grep -q "resolved 2, fib 0" "$DIR/oneshot.txt"
log_test $? "nexthops --clear withdraws every next hop (FIB), nexthops resolves them again"
! lbctl lb xdp nexthops --dev eth0 --watch --clear 2>/dev/null
log_test $? "nexthops --watch --clear refused"

crab_exit
