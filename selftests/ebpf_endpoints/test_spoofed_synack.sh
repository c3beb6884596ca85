#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The eBPF client accepts a redirect only with every check of SPEC 3.4.
# Client sockets are held in SYN-SENT (the LB fixture drops port 9999);
# a host outside the allow-list ($NS_SPOOF, scapy) sends SYN-ACKs naming
# the dialed address: with a wrong ack, with the right ack (source not
# allowed), and for a socket whose SYN did not announce. None may redirect
# (no flow recorded, the socket stays in SYN-SENT to the dialed address),
# each is counted by reason, and real connections keep working. With
# redirection disabled, real redirects are refused and counted too.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump timeout
# Allow-list: the servers' /28; the spoofer (.50) is outside it.
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/28"
crab_add_host SPOOF "$CRAB_SUBNET.50"

# spoof_case DIALED MODE COUNTER: hold a socket to DIALED:9999, capture its
# SYN, send the spoofed SYN-ACK, check the counter and the socket.
spoof_case() {
	local dialed=$1 mode=$2 counter=$3 desc=$4 before after pcap pid cpid
	local red_before red_after flows rc=0

	pcap=$EP_TMP/syn-$mode.pcap
	before=$(ep_stat "$counter")
	red_before=$(ep_stat redirected)
	nsenter --net="/run/netns/$NS_CLI" timeout 30 tcpdump -nn -i eth0 -c 1 \
		-w "$pcap" "tcp dst port 9999 and tcp[13] == 2" 2>/dev/null &
	pid=$!
	sleep 1
	ep_in_cg "$CG_CLI" "$NS_CLI" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(60)
try:
    s.connect((sys.argv[1], 9999))
except OSError:
    pass' "$dialed" &
	cpid=$!
	wait $pid || { crab_log "no SYN captured"; kill $cpid; return 1; }
	ip netns exec "$NS_SPOOF" python3 - "$pcap" "$dialed" "$mode" <<-'PY' || rc=1
	import sys
	from scapy.all import IP, TCP, rdpcap, send, conf
	conf.verb = 0
	syn = rdpcap(sys.argv[1])[0]
	print("# SYN %s:%d seq %d opts %s" % (syn[IP].src, syn[TCP].sport, syn[TCP].seq, syn[TCP].options))
	dialed, mode = sys.argv[2], sys.argv[3]
	ack = syn[TCP].seq + 1 + (1000 if mode == "badack" else 0)
	a = bytes(int(x) for x in dialed.split("."))
	send(IP(src="198.18.0.50", dst=syn[IP].src) /
	     TCP(sport=9999, dport=syn[TCP].sport, flags="SA", seq=12345, ack=ack,
	         options=[("MSS", 1460), (42, a), ("NOP", None), ("NOP", None)]))
	PY
	sleep 0.5
	ip netns exec "$NS_CLI" ss -Htn state syn-sent | sed 's/^/# /'
	# The socket must still be connecting to the dialed address.
	ip netns exec "$NS_CLI" ss -Htn state syn-sent "dst $dialed:9999" | grep -q . || {
		crab_log "socket to $dialed left SYN-SENT"; rc=1; }
	kill $cpid 2>/dev/null
	wait $cpid 2>/dev/null
	after=$(ep_stat "$counter")
	red_after=$(ep_stat redirected)
	flows=$(ep_stat maps.flows_out)
	crab_log "$counter $before -> $after, redirected $red_before -> $red_after, flows $flows"
	[ "$after" = $((before + 1)) ] && [ "$red_after" = "$red_before" ] && [ "$flows" = 0 ] || rc=1
	log_test $rc "$desc"
}

spoof_case "$VIP" badack rejected_bad_ack "spoofed SYN-ACK with a wrong ack: rejected and counted"
spoof_case "$VIP" rightack rejected_allow "right ack from outside the allow-list: rejected and counted"
# $HOLD_ADDR is not in the announce list: its SYN carries no option.
spoof_case "$HOLD_ADDR" rightack rejected_not_announced \
	"SYN-ACK for a socket that did not announce: rejected and counted"

# Redirection disabled: a real server's redirect is refused and counted.
"$CRABCTL" ebpf set --disable || crab_fail "crabctl ebpf set --disable"
before=$(ep_stat rejected_disabled)
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count 1 --timeout 2 --json)
after=$(ep_stat rejected_disabled)
crab_log "disabled: $out rejected_disabled $before -> $after"
[ "$(crab_json "$out" "j['failed']")" = 1 ] && [ "$after" -gt "$before" ] &&
	[ "$(ep_stat redirected)" = 0 ]
log_test $? "redirection disabled: redirects refused and counted"
"$CRABCTL" ebpf set --enable || crab_fail "crabctl ebpf set --enable"

out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count 30 --json)
[ "$(crab_json "$out" "j['ok']")" = 30 ] && [ "$(ep_stat redirected)" = 30 ]
log_test $? "real connections are redirected and echoed after the spoofing"

crab_exit
