#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# A SYN-ACK with no room left for the echo (docs/PROTOCOL.md 3.3): it goes
# out without the option, the event is counted, nothing overflows. Another
# sock_ops program (room_hog.bpf.c, a fixture) takes 16 bytes of every
# SYN-ACK of a listener on server 1; the client's SYN (MSS, SACK,
# timestamps, window scale and the redirect option) leaves the SYN-ACK 20
# bytes, so 4 remain: the SYN-ACK carries the fixture's option and no echo,
# echo_no_room counts it, and the (direct) connection works. The same
# server's other listener still echoes.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump
S1=$CRAB_SUBNET.11	# server 1
ep_setup --announce "$VIP/32,$S1/32" --allow "$CRAB_SUBNET.0/24"

CG_HOG=$CG_SRV/hog
mkdir "$CG_HOG" || crab_fail "cgroup $CG_HOG"
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
	-c "$CRAB_TOP/selftests/endpoints_ebpf/room_hog.bpf.c" -o "$EP_TMP/room_hog.o" &&
	bpftool prog load "$EP_TMP/room_hog.o" /sys/fs/bpf/crabtest_hog type sockops &&
	bpftool cgroup attach "$CG_HOG" sock_ops pinned /sys/fs/bpf/crabtest_hog multi ||
	crab_fail "the room_hog fixture"
crab_defer "bpftool cgroup detach $CG_HOG sock_ops pinned /sys/fs/bpf/crabtest_hog"
ep_helper_start srv "${NS_SRV[1]}" "$CG_HOG" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
[ "$(ep_helper srv "listen 8081")" = ok ] && [ "$(ep_helper srv "accept 8081 20")" = ok ] ||
	crab_fail "listener on server 1"
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"

pcap=$EP_TMP/synack.pcap
crab_capture_start "$NS_CLI" "$pcap" "src host $S1 and tcp[13] & 18 == 18"
n0=$(ep_stat echo_no_room)
e0=$(ep_stat echoed)
p=$(ep_helper hold "connect $S1 8081")
w=$(ep_helper hold "wait $p 5")
e=$(ep_helper hold "echo $p 1000")
p2=$(ep_helper hold "connect $S1 $EP_PORT")
w2=$(ep_helper hold "wait $p2 5")
crab_capture_stop "$pcap"
sa=$(tcpdump -nn -v -r "$pcap" 2>/dev/null | grep "Flags \[S\.\]")
echo "$sa" | sed 's/^ */# SYN-ACK: /' | cut -c1-260
crab_log "crowded listener: $w, echo $e; echo_no_room $n0 -> $(ep_stat echo_no_room), echoed $e0 -> $(ep_stat echoed)"
full=$(echo "$sa" | grep "\.8081 >")
[ "$w" = "up $S1" ] && [ "$e" = ok ] && [ "$(ep_stat echo_no_room)" = $((n0 + 1)) ] &&
	echo "$full" | grep -q "unknown-253" && ! echo "$full" | grep -q "unknown-42"
log_test $? "no room in the SYN-ACK: sent without the echo, counted, the connection works"
[ "$w2" = "up $S1" ] && echo "$sa" | grep "\.$EP_PORT >" | grep -q "unknown-42" &&
	[ "$(ep_stat echoed)" = $((e0 + 1)) ]
log_test $? "the server's listener with room echoes"

crab_exit
