#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Booting the patched kernel changes nothing (docs/PROTOCOL.md 3.8): with
# every setting at its default, a plain workload between a client and a
# server of the patched kernel, captured whole on both ends: sequential
# connections with data, simultaneous small transfers, a SYN to a closed
# port answered by RST. Everything works, no segment in either capture
# carries an option of kind 42 or 254, and every TCPCrab* counter of both
# namespaces stays 0.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8203
crab_require_root
kp_require_patched_kernel
crab_check_tool ip python3 ss tcpdump
crab_topo_setup 1
S=${IP_SRV[1]}
tmp=$(mktemp -d /tmp/crab-kp-XXXXXX)
crab_defer "rm -rf $tmp"

d=
for s in tcp_crab_client tcp_crab_server tcp_crab_announce tcp_crab_allow; do
	d+="$(ip netns exec "$NS_CLI" cat "/proc/sys/net/ipv4/$s"),$(ip netns exec "${NS_SRV[1]}" cat "/proc/sys/net/ipv4/$s"),"
done
[ "$d" = "0,0,0,0,,,,," ]
log_test $? "new namespaces: client and server off, empty lists ($d)"

crab_echo_servers $PORT
# Headers only (160 bytes hold Ethernet, IP and TCP with options; the scan
# takes payload lengths from the IP header) and a larger ring: an emulated
# guest's tcpdump falls behind full 4000-byte segments and the kernel drops.
crab_capture_start "$NS_CLI" "$tmp/cli.pcap" -s 160 -B 8192 tcp
crab_capture_start "${NS_SRV[1]}" "$tmp/srv.pcap" -s 160 -B 8192 tcp

out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$S" --port $PORT \
	--count 20 --size 4000 --timeout 10 --deadline 200)
crab_log "sequential: ${out:0:200}"
[ "$(crab_json "$out" 'j["ok"]')" = 20 ] && [ "$(crab_json "$out" 'j["peers"]')" = "{'$S': 20}" ]
log_test $? "20 sequential connections, 4000 bytes each echoed, peer $S"

pids=()
for i in 1 2 3 4; do
	ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$S" --port $PORT \
		--count 5 --size 1000 --timeout 10 --deadline 200 >"$tmp/par$i.json" &
	pids+=($!)
done
ok=0
for i in 1 2 3 4; do
	wait "${pids[i - 1]}" || ok=1
	[ "$(crab_json "$(cat "$tmp/par$i.json")" 'j["ok"]')" = 5 ] || ok=1
done
log_test $ok "4 simultaneous clients x 5 connections, small transfers echoed"

r=$(ip netns exec "$NS_CLI" python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(10)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print(e)' "$S" $((PORT + 1)))
[ "$r" = refused ]
log_test $? "SYN to a closed port: connection refused (RST) ($r)"

crab_capture_stop "$tmp/cli.pcap" "$tmp/srv.pcap"
c=$($KP_TOOL pcap "$tmp/cli.pcap")
s=$($KP_TOOL pcap "$tmp/srv.pcap")
crab_log "client capture: ${c%%, \"segs\"*}"
crab_log "server capture: ${s%%, \"segs\"*}"
grep -h "dropped by kernel" "$tmp/cli.pcap.err" "$tmp/srv.pcap.err" | sed 's/^/# tcpdump: /'
# Every SYN and SYN-ACK crosses both captures unchanged (one veth pair), so
# together they must hold all 41 SYNs and 40 SYN-ACKs; on a loaded emulated
# guest one capture may miss a packet the other one holds.
ok=0
for j in "$c" "$s"; do
	[ "$(kp_get "$j" rst)" -ge 1 ] && [ "$(kp_get "$j" data)" -ge 40 ] &&
		[ "$(kp_get "$j" opt42)" = 0 ] && [ "$(kp_get "$j" opt254)" = 0 ] || ok=1
done
max() { [ "$1" -ge "$2" ] && echo "$1" || echo "$2"; }
[ "$(max "$(kp_get "$c" syn)" "$(kp_get "$s" syn)")" -ge 41 ] &&
	[ "$(max "$(kp_get "$c" synack)" "$(kp_get "$s" synack)")" -ge 40 ] || ok=1
log_test $ok "captures of both ends: 41 SYNs and 40 SYN-ACKs seen, a RST, data, no option 42 or 254"

a=$(kp_crab_mibs "$NS_CLI")
b=$(kp_crab_mibs "${NS_SRV[1]}")
n=$(wc -w <<<"$KP_MIBS")
[ "$a" = "$n 0" ] && [ "$b" = "$n 0" ]
log_test $? "all $n TCPCrab* counters stay 0 on both ends ($a / $b)"

crab_exit
