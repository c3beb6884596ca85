#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Backend-set updates are atomic for the XDP data path (docs/PROTOCOL.md 5):
# a packet is decided by the old set or by the new one, never by a mix, and
# crabctl never rewrites a generation a packet may still be reading.
#
# 1. Hammer under a flood: the LB attached natively to its veth, service
#    rr over set A = {srv1, srv2}, every backend with its static MAC. While
#    the client floods capable SYNs (crab-nettest send, bounded in count and
#    time), crabctl moves the service from A to B = {srv3, srv4} and back,
#    one backend at a time (del srv1, add srv3, del srv2, add srv4, ...: a
#    slot freed by one set is taken by the other, the set is never empty),
#    HAMMER_ROUNDS times each way. Then: every SYN a server received was
#    addressed to it (no Ip InAddrErrors: a slot mixing one backend's DIP
#    with another's MAC would show there), the servers received exactly
#    what the LB says it forwarded (Tcp InSegs = syn_redirected, so nothing
#    went to a zeroed slot or out of the set), and the LB counted no
#    no_backend, tx_error, nh_mac_bad or adjust_fail (a table from one
#    generation read against the backend slots of another shows up as
#    no_backend: every published set has a backend).
# 2. A reader that cannot be missed: gen_reader.bpf.c, run through
#    BPF_PROG_TEST_RUN (one RCU read-side critical section per run, as one
#    run of the LB program is), holds the service's generation for tens of
#    milliseconds and counts reads that found it changed, while crabctl
#    publishes six backend-set changes. crabctl must wait for the reader
#    (grace period) instead of rewriting what it holds: 0 changed reads.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/xdp_lib.sh"

HAMMER_ROUNDS=${HAMMER_ROUNDS:-20}	# A -> B -> A round trips: 8 publishes each
HAMMER_SECONDS=${HAMMER_SECONDS:-90}	# bound on the hammer's time
FLOOD_MAX=${FLOOD_MAX:-400000}		# bound on the flood's SYNs
READER_RUNS=${READER_RUNS:-12}		# gen_reader runs, some 30-60 ms each

crab_require_root
crab_check_tool nsenter bpftool clang timeout
crab_need_nettest
crab_require_built "$CRABCTL" crabctl
[ "$(nproc)" -ge 2 ] || crab_skip "one CPU: a reader cannot run while crabctl publishes"
xdp_private_bpffs "$@"

crab_topo_setup 4
DIR=$(mktemp -d)
crab_defer "rm -rf $DIR"
SVC=$VIP:80
PIN=/sys/fs/bpf/crab/eth0

lbctl lb xdp attach eth0 --mode native 2>"$DIR/attach.err" ||
	{ cat "$DIR/attach.err"; crab_fail "cannot attach the XDP LB natively to eth0"; }
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
xdp_peer_napi || crab_fail "cannot attach an XDP program to the LB's veth peer (XDP_TX needs it)"
declare -a MAC
for i in 1 2 3 4; do
	MAC[i]=$(ip -n "${NS_SRV[i]}" -j link show eth0 | "$CRAB_NETTEST" json /0/address) ||
		crab_fail "no MAC for server $i"
done
be_add() { lbctl lb xdp backend add "$SVC" "${IP_SRV[$1]}" --mac "${MAC[$1]}" --dev eth0; }
be_del() { lbctl lb xdp backend del "$SVC" "${IP_SRV[$1]}" --dev eth0; }
lbctl lb xdp service add "$SVC" --policy rr --legacy drop --dev eth0 && be_add 1 && be_add 2
log_test $? "service $SVC rr over set A (srv1, srv2), static MACs"

# One move between the sets: del a1, add b1, del a2, add b2.
move() {
	be_del "$1" && be_add "$3" && be_del "$2" && be_add "$4"
}
stats() { lbctl -j lb xdp stats --dev eth0 >"$DIR/stats.json"; }
svc_c() { "$CRAB_NETTEST" json "/services/[service=$SVC]/counters/$1" <"$DIR/stats.json"; }
glob_c() { "$CRAB_NETTEST" json "/global/$1" <"$DIR/stats.json"; }
srv_sum() {
	local i s=0
	for i in 1 2 3 4; do s=$((s + $(crab_snmp "${NS_SRV[i]}" "$1" "$2"))); done
	echo "$s"
}

# Frames dropped on their way from the LB into the servers (a loaded
# machine overruns a ring or a backlog): the LB's XDP_TX into its switch
# port (the LB's eth0 tx drops), what each server's switch port failed to
# hand to its eth0 (that port's tx drops) and eth0's own rx drops.
veth_drops() {
	local i n idx d
	n=$(ip -n "$NS_LB" -j -s link show eth0 | "$CRAB_NETTEST" json /0/stats64/tx/dropped)
	for i in 1 2 3 4; do
		idx=$(ip -n "${NS_SRV[i]}" -j link show eth0 | "$CRAB_NETTEST" json /0/link_index)
		d=$(ip -n "$NS_SW" -j -s link show | python3 -c '
import json, sys
idx = int(sys.argv[1])
print(sum(l["stats64"]["tx"]["dropped"] for l in json.load(sys.stdin) if l["ifindex"] == idx))' "$idx")
		n=$((n + d + $(ip -n "${NS_SRV[i]}" -j -s link show eth0 | "$CRAB_NETTEST" json /0/stats64/rx/dropped)))
	done
	echo "$n"
}

# ---- 1. hammer under a flood ----------------------------------------------
drops0=$(veth_drops)
insegs0=$(srv_sum Tcp InSegs)
addrerr0=$(srv_sum Ip InAddrErrors)
ip netns exec "$NS_CLI" timeout $((HAMMER_SECONDS + 30)) "$CRAB_NETTEST" send --verbose \
	--until "$DIR/stop" src="$IP_CLI" dst="$VIP" dport=80 sport=1024 flags=S \
	opt=mss:1460,crab count="$FLOOD_MAX" >"$DIR/flood.out" 2>&1 &
flood=$!
crab_defer "kill $flood 2>/dev/null"
# The flood is on once the LB has forwarded some of it.
for i in $(seq 100); do
	stats
	[ "$(svc_c syn_redirected)" -gt 100 ] 2>/dev/null && break
	sleep 0.05
done
t0=$(date +%s%N)
pubs=0 ok=0
deadline=$((SECONDS + HAMMER_SECONDS))
for ((r = 0; r < HAMMER_ROUNDS && SECONDS < deadline; r++)); do
	move 1 2 3 4 || { ok=1; break; }
	move 3 4 1 2 || { ok=1; break; }
	pubs=$((pubs + 8))
done
t1=$(date +%s%N)
stats
during=$(svc_c syn_redirected)
touch "$DIR/stop"
wait "$flood"
sent=$(sed -n 's/^sent //p' "$DIR/flood.out")
crab_log "$pubs publishes in $(((t1 - t0) / 1000000)) ms ($(((t1 - t0) / 1000 / (pubs ? pubs : 1))) us each, grace period included), flood sent ${sent:-?} SYNs"
[ $ok = 0 ] && [ "$r" = "$HAMMER_ROUNDS" ]
log_test $? "$pubs backend-set publishes (A <-> B, one backend at a time) while the flood ran"

# Everything the LB forwarded has reached a server (wait for the last ones).
for i in $(seq 50); do
	stats
	red=$(svc_c syn_redirected)
	insegs=$(($(srv_sum Tcp InSegs) - insegs0))
	[ "$insegs" -ge "$red" ] && break
	sleep 0.1
done
addrerr=$(($(srv_sum Ip InAddrErrors) - addrerr0))
drops=$(($(veth_drops) - drops0))
crab_log "LB: syn_redirected $red (by the hammer's end: $during), no_backend $(svc_c no_backend), tx_error $(svc_c tx_error), nh_mac_bad $(glob_c nh_mac_bad), adjust_fail $(glob_c adjust_fail); servers: InSegs $insegs, InAddrErrors $addrerr"
[ "$red" -gt 0 ] && [ "$during" -gt 0 ] && [ -n "$sent" ] && [ "$red" -le "$sent" ]
log_test $? "the flood crossed the LB during the updates ($red of ${sent:-?} SYNs forwarded)"
[ "$(svc_c no_backend)" = 0 ] && [ "$(svc_c tx_error)" = 0 ] && [ "$(glob_c nh_mac_bad)" = 0 ] &&
	[ "$(glob_c adjust_fail)" = 0 ] && [ "$(glob_c truncated)" = 0 ]
log_test $? "no SYN decided by a mix of generations (no_backend, tx_error, nh_mac_bad, adjust_fail all 0)"
[ "$addrerr" = 0 ]
log_test $? "every SYN reached the server its DIP names (Ip InAddrErrors 0: no slot mixing two backends)"
# Every forwarded SYN reached a server of set A or B, or was dropped on
# the way by a veth (counted there); none went anywhere else.
[ "$insegs" -le "$red" ] && [ $((insegs + drops)) -ge "$red" ]
log_test $? "the servers of sets A and B received what the LB forwarded, but for veth drops ($insegs + $drops >= $red)"

# ---- 2. a long reader -----------------------------------------------------
# gen_reader shares the LB's pinned service and generation maps.
clang -O2 -g -target bpf -I"$CRAB_TOP/include" -I/usr/include/x86_64-linux-gnu \
	-c "$CRAB_TOP/selftests/lb_xdp/gen_reader.bpf.c" -o "$DIR/gen_reader.o" &&
	bpftool prog load "$DIR/gen_reader.o" /sys/fs/bpf/crabtest_reader type xdp \
		map name crab_services pinned "$PIN/crab_services" \
		map name crab_gens pinned "$PIN/crab_gens" pinmaps /sys/fs/bpf/crabtest_reader_maps ||
	crab_fail "the gen_reader fixture"
# struct crab_xdp_svc_key of $SVC (198.18.100.1:80), padded to a frame.
printf '\xc6\x12\x64\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x50\x04\x00' >"$DIR/key.bin"
# result I: the reader's result[I] (a u64, bytes little-endian in bpftool's JSON).
result() {
	local v b i n=0
	v=$(bpftool -j map lookup pinned /sys/fs/bpf/crabtest_reader_maps/result key "$1" 0 0 0 |
		"$CRAB_NETTEST" json /value) || return 1
	v=${v//[\[\]\" ]/}
	IFS=, read -r -a b <<<"$v"
	for ((i = ${#b[@]} - 1; i >= 0; i--)); do
		n=$((n * 256 + b[i]))
	done
	echo "$n"
}
bpftool prog run pinned /sys/fs/bpf/crabtest_reader data_in "$DIR/key.bin" repeat "$READER_RUNS" \
	>"$DIR/reader.out" 2>&1 &
reader=$!
for i in $(seq 200); do
	[ "$(result 0)" -ge 1 ] 2>/dev/null && break
	sleep 0.01
done
kill -0 "$reader" 2>/dev/null
running=$?
t0=$(date +%s%N)
move 1 2 3 4 && move 3 4 1 2
rc=$?
t1=$(date +%s%N)
wait "$reader"
crab_log "reader: $(tr '\n' ' ' <"$DIR/reader.out")runs $(result 0); 8 publishes took $(((t1 - t0) / 1000000)) ms"
[ "$running" = 0 ] && [ "$rc" = 0 ]
log_test $? "crabctl published 8 changes while the reader held the service's generation (reader running: $running = 0, crabctl: $rc = 0)"
changed=$(result 1)
[ "$changed" = 0 ]
log_test $? "the reader never saw its generation rewritten ($changed changed reads of $(result 0) runs)"

crab_exit
