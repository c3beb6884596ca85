#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# No room left for the option (docs/PROTOCOL.md 3.3, 3.6): a sock_ops
# program (opt_fill.bpf.c) adds a 20-byte option to the SYNs and SYN-ACKs
# of sockets in its cgroup, so that with MSS, SACK permitted, timestamps
# and window scale they carry the full 40 bytes of options.
#  - Server: a listener in the cgroup answers an announced SYN with a full
#    SYN-ACK: it goes out without the option, unchanged (doff 15, the
#    fixture's option intact), counted synack_no_room; the connection
#    completes (as a direct one).
#  - Client: a socket in the cgroup sends a full SYN: not announced,
#    unchanged, counted syn_no_room; the connection completes.
#  - Both again in IPv6, whose option takes 20 bytes: a SYN or SYN-ACK
#    with MSS, SACK permitted, timestamps and window scale (20 bytes) has
#    room for it (the other IPv6 tests), with the fixture's 20 bytes more
#    it does not.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8119
SP1=40190 SP2=40192 SP3=40194 SP4=40196
crab_require_root
crab_check_tool ip bridge python3 clang bpftool
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_topo6_setup || crab_fail "cannot give the topology its IPv6 addresses"
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI" "${NS_SRV[1]}"
# The client dials the server directly and announces to it.
crab_client_config "$NS_CLI" --announce "$CRAB_SUBNET.0/24,$CRAB_SUBNET6::/64" \
	--allow "$CRAB_SUBNET.0/24,$CRAB_SUBNET6::/64"
crab_server_config "${NS_SRV[1]}"
S=${IP_SRV[1]} S6=${IP6_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"

# The fixture, compiled once into the build tree.
obj=$CRAB_TOP/build/selftests/modules/opt_fill.bpf.o
src=$(dirname "$0")/opt_fill.bpf.c
if [ ! -s "$obj" ] || [ "$src" -nt "$obj" ]; then
	mkdir -p "$(dirname "$obj")"
	clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src" -o "$obj.tmp" &&
		mv "$obj.tmp" "$obj" || crab_fail "cannot compile opt_fill.bpf.c"
fi
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || crab_skip "no cgroup2 mount"
CG=$cgroot/crab-fill-$CRAB_SFX
PIN=/sys/fs/bpf/crab_fill_$CRAB_SFX
mkdir -p "$CG" || crab_fail "cannot create cgroup $CG"
crab_defer "rmdir $CG"
crab_defer "for p in \$(cat $CG/cgroup.procs); do kill \$p; done; sleep 0.2"
bpftool prog load "$obj" "$PIN" type sockops || crab_fail "cannot load opt_fill.bpf.o"
crab_defer "rm -f $PIN"
bpftool cgroup attach "$CG" sock_ops pinned "$PIN" || crab_fail "cannot attach opt_fill to $CG"
crab_defer "bpftool cgroup detach $CG sock_ops pinned $PIN"
# in_cg NS CMD...: CMD in namespace NS, as a member of the cgroup.
in_cg() {
	local ns=$1; shift
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" ip netns exec "$ns" "$@"
}
in_cg "${NS_SRV[1]}" $EPT serve --port $PORT --dual &
for _ in $(seq 100); do
	ip netns exec "${NS_SRV[1]}" ss -Htln "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ep_att_start "$NS_EVIL"
cc() { ep_counter "$NS_CLI" "$1" crab_client; }
sc() { ep_counter "${NS_SRV[1]}" "$1" crab_server; }

# no_room_server ADDR SPORT FAMILY, no_room_client ADDR SPORT FAMILY
no_room_server() {
	local r syn sa nr0 ec0
	nr0=$(sc synack_no_room) ec0=$(sc synack_echoed)
	r=$(ip netns exec "$NS_CLI" $EPT connect --addr "$1" --port $PORT --sport "$2" --wait 20)
	syn=$(ep_att syn_from "$2" 10) && sa=$(ep_att synack_to "$2" 10) ||
		crab_fail "SYN or SYN-ACK not seen: $syn $sa"
	crab_log "SYN: $syn"
	crab_log "SYN-ACK: $sa; $r"
	[ "$(ep_field "$syn" opt)" = "$1" ] && [ "$(ep_field "$sa" kinds)" = 2,4,8,3,253 ] &&
		[ "$(ep_field "$sa" doff)" = 15 ] &&
		[ "$(sc synack_no_room)" = $((nr0 + 1)) ] && [ "$(sc synack_echoed)" = "$ec0" ] &&
		[ "$(ep_peer "$r")" = "$1" ]
	log_test $? "$3: a full SYN-ACK goes out unchanged without the option (synack_no_room), connection completes"
}

no_room_client() {
	local r syn nr0 an0
	nr0=$(cc syn_no_room) an0=$(cc syn_announced)
	r=$(in_cg "$NS_CLI" $EPT connect --addr "$1" --port $PORT --sport "$2" --wait 20)
	syn=$(ep_att syn_from "$2" 10) || crab_fail "SYN not seen: $syn"
	crab_log "SYN: $syn; $r"
	[ "$(ep_field "$syn" kinds)" = 2,4,8,3,253 ] && [ "$(ep_field "$syn" doff)" = 15 ] &&
		[ "$(cc syn_no_room)" = $((nr0 + 1)) ] &&
		[ "$(cc syn_announced)" = "$an0" ] && [ "$(ep_peer "$r")" = "$1" ]
	log_test $? "$3: a full SYN goes out unchanged, not announced (syn_no_room), connection completes"
}

no_room_server "$S" $SP1 IPv4
no_room_client "$S" $SP2 IPv4
no_room_server "$S6" $SP3 IPv6
no_room_client "$S6" $SP4 IPv6

crab_exit
