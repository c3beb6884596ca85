#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The eBPF client accepts a redirect only with every check of docs/PROTOCOL.md 3.4,
# behind the project's XDP LB. Client sockets are held in SYN-SENT (the LB
# drops port 9999); a host on the segment ($NS_SPOOF, scapy) sends SYN-ACKs
# naming the dialed address: with a wrong ack, with the right ack but from
# outside the allow-list, for a socket whose SYN did not announce, for a
# redirected socket already ESTABLISHED (right ack, allowed source), and the
# real server's SYN-ACK replayed after the redirect and after the close.
# None may redirect (no new flow, the socket keeps its state and peer),
# each is counted by reason, and real connections keep working. With
# redirection disabled, real redirects are refused and counted too.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump timeout
crab_require_python_module scapy
# Allow-list: the servers' /28; the spoofer (.50) is outside it.
EP_LB=xdp
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/28"
crab_add_host SPOOF "$CRAB_SUBNET.50"

# wait_pkts FILE N: until the capture FILE holds N packets (30 s at most).
wait_pkts() {
	local i
	for i in $(seq 300); do
		[ "$(tcpdump -r "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# spoof PCAP MODE [ARGS]: the spoofer answers the first SYN in PCAP (see the
# modes below).
spoof() {
	ip netns exec "$NS_SPOOF" python3 - "$@" <<-'PY'
	import sys
	from scapy.all import IP, TCP, rdpcap, send, conf
	conf.verb = 0
	pk = rdpcap(sys.argv[1])
	mode = sys.argv[2]
	syn = [p for p in pk if p[TCP].flags & 0x12 == 0x02][0]
	if mode == "replay":
	    # the real server's SYN-ACK, byte for byte
	    sa = [p for p in pk if p[TCP].flags & 0x12 == 0x12][0]
	    print("# replay SYN-ACK %s:%d -> %s:%d" % (sa[IP].src, sa[TCP].sport, sa[IP].dst, sa[TCP].dport))
	    send(sa[IP])
	    sys.exit(0)
	# badack | rightack: a SYN-ACK naming the dialed address from SRC
	src, dialed = sys.argv[3], syn[IP].dst
	ack = syn[TCP].seq + 1 + (1000 if mode == "badack" else 0)
	print("# SYN %s:%d seq %d; SYN-ACK from %s ack %d naming %s" %
	      (syn[IP].src, syn[TCP].sport, syn[TCP].seq, src, ack, dialed))
	a = bytes(int(x) for x in dialed.split("."))
	send(IP(src=src, dst=syn[IP].src) /
	     TCP(sport=syn[TCP].dport, dport=syn[TCP].sport, flags="SA", seq=12345, ack=ack,
	         options=[("MSS", 1460), (42, a), ("NOP", None), ("NOP", None)]))
	PY
}

# spoof_case DIALED MODE SRC COUNTER DESC: hold a socket to DIALED:9999,
# capture its SYN, send the spoofed SYN-ACK from the spoofer with source
# SRC, check the counter and that the socket is still connecting to DIALED.
spoof_case() {
	local dialed=$1 mode=$2 src=$3 counter=$4 desc=$5 before pcap cpid
	local red_before red_after flows rc=0

	pcap=$EP_TMP/syn-$mode-$counter.pcap
	before=$(ep_stat "$counter")
	red_before=$(ep_stat redirected)
	crab_capture_start "$NS_CLI" "$pcap" "dst host $dialed and tcp dst port 9999 and tcp[13] == 2"
	ep_in_cg_bg "$CG_CLI" "$NS_CLI" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(60)
try:
    s.connect((sys.argv[1], 9999))
except OSError:
    pass' "$dialed"
	cpid=$EP_BG_PID
	wait_pkts "$pcap" 1 || { crab_log "no SYN captured"; kill $cpid; log_test 1 "$desc"; return; }
	spoof "$pcap" "$mode" "$src" || rc=1
	ep_wait_stat "$counter" $((before + 1)) || crab_log "$counter did not move"
	ip netns exec "$NS_CLI" ss -Htn state syn-sent | sed 's/^/# /'
	# The socket must still be connecting to the dialed address.
	ip netns exec "$NS_CLI" ss -Htn state syn-sent "dst $dialed:9999" | grep -q . || {
		crab_log "socket to $dialed left SYN-SENT"; rc=1; }
	kill $cpid 2>/dev/null
	wait $cpid 2>/dev/null
	crab_capture_stop "$pcap"
	red_after=$(ep_stat redirected)
	flows=$(ep_stat maps.flows)
	crab_log "$counter $before -> $(ep_stat "$counter"), redirected $red_before -> $red_after, flows $flows"
	[ "$(ep_stat "$counter")" = $((before + 1)) ] && [ "$red_after" = "$red_before" ] &&
		[ "$flows" = 0 ] || rc=1
	log_test $rc "$desc"
}

# (The wrong ack and the silent socket are forged from an allowed source,
# a server's address: only the check at stake can refuse them.)
spoof_case "$VIP" badack "${IP_SRV[3]}" rejected_bad_ack \
	"spoofed SYN-ACK with a wrong ack: rejected and counted"
spoof_case "$VIP" rightack "$CRAB_SUBNET.50" rejected_allow \
	"right ack from outside the allow-list: rejected and counted"
# $HOLD_ADDR is not in the announce list: its SYN carries no option.
spoof_case "$HOLD_ADDR" rightack "${IP_SRV[3]}" rejected_not_announced \
	"SYN-ACK for a socket that did not announce: rejected and counted"

# A redirected connection held open (one echo, then one more on "go").
pcap=$EP_TMP/est.pcap
crab_capture_start "$NS_CLI" "$pcap" "tcp port $EP_PORT and tcp[13] & 2 != 0"
cat >"$EP_TMP/est.py" <<'PY'
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
def echo(n):
    d = os.urandom(n)
    s.sendall(d)
    got = b""
    while len(got) < n:
        c = s.recv(n - len(got))
        if not c:
            raise OSError("closed")
        got += c
    assert got == d
echo(100)
open(sys.argv[3] + "/est.ready", "w").close()
for _ in range(1200):
    if os.path.exists(sys.argv[3] + "/est.go"):
        break
    time.sleep(0.1)
echo(100)
print("ok", s.getpeername()[0])
s.close()
PY
ep_in_cg_bg "$CG_CLI" "$NS_CLI" python3 "$EP_TMP/est.py" "$VIP" "$EP_PORT" "$EP_TMP" >"$EP_TMP/est.out"
epid=$EP_BG_PID
crab_defer "kill $epid"
for i in $(seq 600); do
	[ -e "$EP_TMP/est.ready" ] && break
	kill -0 $epid 2>/dev/null || break
	sleep 0.1
done
[ -e "$EP_TMP/est.ready" ] && wait_pkts "$pcap" 2 ||
	crab_fail "the held redirected connection did not come up ($(cat "$EP_TMP/est.out"))"
cp "$pcap" "$EP_TMP/est-syn.pcap"
srv=$(tcpdump -nn -r "$pcap" 'tcp[13] & 18 == 18' 2>/dev/null | head -n1 | awk '{ print $3 }')
srv=${srv%.*}
other=${IP_SRV[1]}
[ "$srv" = "$other" ] && other=${IP_SRV[3]}
crab_log "held connection redirected to $srv; the spoofed SYN-ACK comes from $other (allowed)"
red=$(ep_stat redirected)
flows=$(ep_stat maps.flows)
before=$(ep_stat rejected_not_syn_sent)
spoof "$EP_TMP/est-syn.pcap" rightack "$other"
ep_wait_stat rejected_not_syn_sent $((before + 1))
rc=$?
[ "$(ep_stat redirected)" = "$red" ] && [ "$(ep_stat maps.flows)" = "$flows" ] || rc=1
ip netns exec "$NS_CLI" ss -Htn state established "dst $VIP:$EP_PORT" | sed 's/^/# /'
ip netns exec "$NS_CLI" ss -Htn state established "dst $VIP:$EP_PORT" | grep -q . || rc=1
log_test $rc "SYN-ACK (right ack, allowed source) for an ESTABLISHED socket: rejected and counted"

before=$(ep_stat rx_rewritten)
spoof "$EP_TMP/est-syn.pcap" replay
ep_wait_stat rx_rewritten $((before + 1))
rc=$?
crab_log "replay: rx_rewritten $before -> $(ep_stat rx_rewritten), redirected $red -> $(ep_stat redirected)"
[ "$(ep_stat redirected)" = "$red" ] && [ "$(ep_stat maps.flows)" = "$flows" ] || rc=1
touch "$EP_TMP/est.go"
wait $epid
erc=$?
crab_log "held connection: $(cat "$EP_TMP/est.out")"
[ $erc = 0 ] && [ "$(cat "$EP_TMP/est.out")" = "ok $VIP" ] || rc=1
log_test $rc "replayed SYN-ACK after the redirect: no new redirect, the connection keeps its data"
crab_capture_stop "$pcap"

# The same SYN-ACK replayed once the connection is closed: no flow, no
# SYN-SENT socket, so no redirect (the stack answers RST).
for i in $(seq 100); do
	[ "$(ep_stat maps.flows)" = 0 ] && break
	sleep 0.1
done
before=$(ep_stat rejected_not_announced)
spoof "$EP_TMP/est-syn.pcap" replay
ep_wait_stat rejected_not_announced $((before + 1))
rc=$?
[ "$(ep_stat redirected)" = "$red" ] && [ "$(ep_stat maps.flows)" = 0 ] || rc=1
log_test $rc "replayed SYN-ACK after the close: rejected and counted, no flow"

# Redirection disabled: a real server's redirect is refused and counted.
"$CRABCTL" ebpf set --disable || crab_fail "crabctl ebpf set --disable"
before=$(ep_stat rejected_disabled)
red=$(ep_stat redirected)
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count 1 --timeout 2 --json)
after=$(ep_stat rejected_disabled)
crab_log "disabled: $out rejected_disabled $before -> $after"
[ "$(crab_json "$out" "j['failed']")" = 1 ] && [ "$after" -gt "$before" ] &&
	[ "$(ep_stat redirected)" = "$red" ]
log_test $? "redirection disabled: redirects refused and counted"
"$CRABCTL" ebpf set --enable || crab_fail "crabctl ebpf set --enable"

out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count 30 --json)
[ "$(crab_json "$out" "j['ok']")" = 30 ] && [ "$(ep_stat redirected)" = $((red + 30)) ]
log_test $? "real connections are redirected and echoed after the spoofing"

crab_exit
