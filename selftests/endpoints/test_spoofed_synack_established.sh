#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm-manual
#
# Spoofed SYN-ACKs for ESTABLISHED sockets (SPEC 3.4, 6), crab_client.ko:
# with two connections held open, c4 redirected to the backend S by a
# stateless LB and c5 dialed to S directly, a host on the segment sends a
# SYN-ACK with the right ack from an allowed source naming the dialed
# address: refused for both (c4 is keyed on S now: rej_no_socket; c5 is
# not in SYN-SENT: rej_not_synsent). The real SYN-ACK of c4 replayed after
# the redirect is left to TCP (synack_known). No socket is re-keyed again
# (redirected unchanged), both stay ESTABLISHED with peer S (ss,
# getpeername()) and keep exchanging data.
# (test_spoofed_synack_refused.sh covers the sockets in SYN-SENT.)
#
# Tagged vm-manual: 256 s and 355 s in a 1-CPU TCG guest on the loaded
# shared host, over the CI budget. Run it with
#   make check-vm KERNEL=6.1 T=endpoints/test_spoofed_synack_established
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8107
SP4=40104 SP5=40105
crab_require_root
crab_check_tool ip tc tcpdump python3 ss
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
crab_echo_servers $PORT
S=${IP_SRV[1]}
ep_tc_lb $PORT "$S" || crab_fail "cannot install the tc LB"
EPT="python3 $(dirname "$0")/ep_tool.py"
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"
# Redirects only from the servers' /29 (198.18.0.8-15).
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_allow_cidrs=198.18.0.8/29
crab_capture_start "$NS_CLI" "$tmp/syn.pcap" \
	"tcp[tcpflags] == tcp-syn and dst port $PORT"

cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
# Resolve the client's MAC first: a raw packet waiting for ARP arrives late.
ip netns exec "$NS_EVIL" ping -c1 -W2 "$IP_CLI" >/dev/null
spoof() { ip netns exec "$NS_EVIL" $EPT spoof --pkt "$1"; }
# spoof_case COUNTER DESCRIPTION PKT
spoof_case() {
	local before after i
	before=$(cnt "$1")
	spoof "$3"
	for i in $(seq 50); do
		after=$(cnt "$1")
		[ "$after" != "$before" ] && break
		sleep 0.2
	done
	[ "$after" = $((before + 1)) ]
	log_test $? "$2: refused, $1 counted"
}

# ESTABLISHED sockets: c4 redirected to S through the tc LB, c5 dialed
# to S directly; both held open until $tmp/go exists.
crab_capture_start "$NS_CLI" "$tmp/sa.pcap" \
	"tcp[tcpflags] == (tcp-syn|tcp-ack) and src port $PORT and dst port $SP4"
red0=$(cnt redirected)
ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP4 \
	--wait 120 --hold "$tmp/go" >"$tmp/c4.json" &
c4=$!
crab_defer "kill $c4"
ip netns exec "$NS_CLI" $EPT connect --addr "$S" --port $PORT --sport $SP5 \
	--wait 120 --hold "$tmp/go" >"$tmp/c5.json" &
c5=$!
crab_defer "kill $c5"
for i in $(seq 600); do
	[ -e "$tmp/go.ready" ] && [ "$(ip netns exec "$NS_CLI" ss -Htn state established \
		"( sport = :$SP4 or sport = :$SP5 )" | wc -l)" = 2 ] && break
	kill -0 $c4 2>/dev/null || break
	sleep 0.2
done
est() { ip netns exec "$NS_CLI" ss -Htn state established "sport = :$1" | awk '{ print $4 }'; }
isn4=$($EPT isn "$tmp/syn.pcap" --sport $SP4) isn5=$($EPT isn "$tmp/syn.pcap" --sport $SP5)
red1=$(cnt redirected)
echo "# held: c4 -> $(est $SP4) (ISN $isn4), c5 -> $(est $SP5) (ISN $isn5); redirected $red0 -> $red1"
[ "$(est $SP4)" = "$S:$PORT" ] && [ "$(est $SP5)" = "$S:$PORT" ] && [ "$red1" = $((red0 + 1)) ] &&
	[ -n "$isn4" ] && [ -n "$isn5" ] ||
	crab_fail "the held connections did not come up ($(cat "$tmp/c4.json" "$tmp/c5.json"))"

# From another allowed source (198.18.0.12, in the allow list's /29).
spoof_case rej_no_socket "redirect for a redirected ESTABLISHED socket (right ack, allowed source)" \
	"198.18.0.12,$IP_CLI,$PORT,$SP4,$((isn4 + 1)),$VIP"
spoof_case rej_not_synsent "redirect for an ESTABLISHED socket dialed directly (right ack, allowed source)" \
	"198.18.0.12,$IP_CLI,$PORT,$SP5,$((isn5 + 1)),$S"
crab_capture_stop "$tmp/sa.pcap"
before=$(cnt synack_known)
ip netns exec "$NS_EVIL" $EPT replay "$tmp/sa.pcap" --dport $SP4 ||
	crab_fail "no SYN-ACK to port $SP4 captured"
for i in $(seq 20); do
	after=$(cnt synack_known)
	[ "$after" != "$before" ] && break
	sleep 0.2
done
[ "$after" = $((before + 1)) ]
log_test $? "replayed SYN-ACK after the redirect: left to TCP, synack_known counted"

touch "$tmp/go"
wait $c4 $c5
r4=$(cat "$tmp/c4.json") r5=$(cat "$tmp/c5.json")
echo "# $r4"
echo "# $r5"
[ "$(cnt redirected)" = "$red1" ] &&
	[ "$(crab_json "$r4" 'j["echo"] and j.get("echo2") and j["peer"] == j.get("peer2") and j["peer"]')" = "$S" ] &&
	[ "$(crab_json "$r5" 'j["echo"] and j.get("echo2") and j["peer"] == j.get("peer2") and j["peer"]')" = "$S" ]
log_test $? "no socket re-keyed again; both connections keep peer $S and exchange data"

