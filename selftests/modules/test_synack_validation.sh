#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# A redirect is taken only from a source that can be a peer on the path it
# came in on (docs/PROTOCOL.md 3.4). A host on the client's segment reads
# the client's SYN (the segment is a hub) and forges SYN-ACKs with the
# right ack (ISN + 1) naming the VIP, from 127.0.0.1, 0.0.0.0,
# 255.255.255.255, 224.0.0.1, the client's own address, an address whose
# route leaves through another interface of the client, and from the
# backend with a bad TCP checksum. The allow list takes any source and
# rp_filter is off, so only crab_client's own checks stand in the way:
# none re-keys the socket (ss: still SYN-SENT to the VIP), each is counted
# by its reason. A last one, valid, from the backend is taken: the checks
# refuse only what they should.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8111
SP=40111
crab_require_root
crab_check_tool ip ss bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow 0.0.0.0/0
# Another interface of the client, with its own subnet.
ip -n "$NS_CLI" link add dummy0 type dummy &&
	ip -n "$NS_CLI" addr add 10.77.0.1/24 dev dummy0 &&
	ip -n "$NS_CLI" link set dummy0 up || crab_fail "cannot add dummy0"
# The LB drops the SYN: the socket waits in SYN-SENT.
ip -n "$NS_LB" route add blackhole "$VIP/32"
S=${IP_SRV[1]}
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"

ep_att_start "$NS_EVIL"
ip netns exec "$NS_CLI" python3 "$(dirname "$0")/ep_tool.py" connect --addr "$VIP" \
	--port $PORT --sport $SP --wait 200 >"$tmp/c.json" &
crab_defer "kill $!"
r=$(ep_att syn_from $SP 60) || crab_fail "the attacker did not see the SYN: $r"
isn=$(ep_field "$r" seq)
crab_log "SYN seen by the attacker: $r"

cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
# forge SOURCE COUNTER DESCRIPTION [csum=bad]
forge() {
	local src=$1 c=$2 desc=$3 before got; shift 3
	before=$(cnt "$c")
	ep_att synack "$src" "$IP_CLI" $PORT $SP $((isn + 1)) opt="$VIP" "$@" >/dev/null
	got=$(ep_wait_counter "$NS_CLI" crab_client "$c" $((before + 1)) 50)
	[ "$got" = $((before + 1)) ] && [ "$(cnt redirected)" = 0 ]
	log_test $? "SYN-ACK from $desc: refused, $c +$((got - before))"
}
forge 127.0.0.1 rej_src_loopback "127.0.0.1 (loopback)"
forge 0.0.0.0 rej_src_zero "0.0.0.0 (unspecified)"
forge 255.255.255.255 rej_src_bcast "255.255.255.255 (broadcast)"
forge 224.0.0.1 rej_src_mcast "224.0.0.1 (multicast)"
forge "$IP_CLI" rej_src_local "$IP_CLI (the client's own address)"
forge 10.77.0.5 rej_rpf "10.77.0.5 (routed out of dummy0, came in on eth0)"
forge "$S" rej_bad_csum "the backend $S with a bad TCP checksum" csum=bad

peer=$(ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$SP" | awk '{ print $4 }')
crab_log "socket after the forgeries: SYN-SENT to '$peer'; $(ip netns exec "$NS_CLI" awk '$2 != 0' /proc/net/crab_client | tr '\n' ' ')"
[ "$peer" = "$VIP:$PORT" ] && [ "$(cnt redirected)" = 0 ]
log_test $? "no socket re-keyed: still SYN-SENT to the VIP"

# The same SYN-ACK from the backend with a good checksum is a redirect.
ep_att synack "$S" "$IP_CLI" $PORT $SP $((isn + 1)) opt="$VIP" >/dev/null
got=$(ep_wait_counter "$NS_CLI" crab_client redirected 1 50)
[ "$got" = 1 ]
log_test $? "a valid SYN-ACK from the backend is taken (redirected $got)"

crab_exit
