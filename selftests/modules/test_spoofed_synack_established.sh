#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Spoofed SYN-ACKs for ESTABLISHED sockets (docs/PROTOCOL.md 3.4, 6): with
# two connections held open, c4 redirected to the backend S by a stateless
# LB and c5 dialed to S directly, a host on the segment that read both
# SYNs sends a SYN-ACK with the right ack from an allowed source naming the
# dialed address: refused for both (c4 is keyed on S now: rej_no_socket;
# c5 is not in SYN-SENT: rej_not_synsent). c4's real SYN-ACK replayed
# after the redirect is left to TCP (synack_known). No socket is re-keyed
# again (redirected unchanged), both stay ESTABLISHED with peer S (ss,
# getpeername()) and keep exchanging data.
# (test_spoofed_synack_refused.sh covers the sockets in SYN-SENT.)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8107
SP4=40104 SP5=40106
crab_require_root
crab_check_tool ip tc ss bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
# Redirects only from the servers' /29 (198.18.0.8-15).
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow 198.18.0.8/29
crab_server_config "${NS_SRV[1]}"
crab_echo_servers $PORT
S=${IP_SRV[1]}
ep_tc_lb $PORT "$S" || crab_fail "cannot install the tc LB"
EPT="python3 $(dirname "$0")/ep_tool.py"
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"
ep_att_start "$NS_EVIL"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
# spoof_case COUNTER DESCRIPTION PORT ACK NAMED [seq=N]
spoof_case() {
	local before got c=$1 d=$2 p=$3 a=$4 n=$5; shift 5
	before=$(cnt "$c")
	ep_att synack 198.18.0.12 "$IP_CLI" $PORT "$p" "$a" opt="$n" "$@" >/dev/null
	got=$(ep_wait_counter "$NS_CLI" crab_client "$c" $((before + 1)) 50)
	[ "$got" = $((before + 1)) ]
	log_test $? "$d: refused, $c counted"
}

ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP4 \
	--wait 120 --hold "$tmp/go" >"$tmp/c4.json" &
c4=$!
crab_defer "kill $c4"
ip netns exec "$NS_CLI" $EPT connect --addr "$S" --port $PORT --sport $SP5 \
	--wait 120 --hold "$tmp/go" >"$tmp/c5.json" &
c5=$!
crab_defer "kill $c5"
syn4=$(ep_att syn_from $SP4 60) && syn5=$(ep_att syn_from $SP5 60) &&
	sa4=$(ep_att synack_to $SP4 60) || crab_fail "SYNs or SYN-ACK not seen: $syn4 $syn5 $sa4"
isn4=$(ep_field "$syn4" seq) isn5=$(ep_field "$syn5" seq)
est() { ip netns exec "$NS_CLI" ss -Htn state established "sport = :$1" | awk '{ print $4 }'; }
for _ in $(seq 300); do
	[ "$(est $SP4)" = "$S:$PORT" ] && [ "$(est $SP5)" = "$S:$PORT" ] && break
	sleep 0.2
done
red1=$(cnt redirected)
crab_log "held: c4 -> $(est $SP4) (ISN $isn4), c5 -> $(est $SP5) (ISN $isn5); redirected $red1"
[ "$(est $SP4)" = "$S:$PORT" ] && [ "$(est $SP5)" = "$S:$PORT" ] && [ "$red1" = 1 ] ||
	crab_fail "the held connections did not come up ($(cat "$tmp/c4.json" "$tmp/c5.json"))"

# From another allowed source (198.18.0.12, in the allow list's /29).
spoof_case rej_no_socket "redirect for a redirected ESTABLISHED socket (right ack, allowed source)" \
	$SP4 $((isn4 + 1)) "$VIP"
spoof_case rej_not_synsent "redirect for an ESTABLISHED socket dialed directly (right ack, allowed source)" \
	$SP5 $((isn5 + 1)) "$S"
# c4's real SYN-ACK, again.
before=$(cnt synack_known)
ep_att synack "$S" "$IP_CLI" $PORT $SP4 "$(ep_field "$sa4" ack)" opt="$VIP" seq="$(ep_field "$sa4" seq)" >/dev/null
got=$(ep_wait_counter "$NS_CLI" crab_client synack_known $((before + 1)) 50)
[ "$got" = $((before + 1)) ]
log_test $? "replayed SYN-ACK after the redirect: left to TCP, synack_known counted"

touch "$tmp/go"
wait $c4 $c5
r4=$(cat "$tmp/c4.json") r5=$(cat "$tmp/c5.json")
crab_log "$r4"
crab_log "$r5"
[ "$(cnt redirected)" = "$red1" ] &&
	[ "$(ep_peer "$r4")" = "$S" ] && [ "$(ep_jget "$r4" echo2)" = true ] && [ "$(ep_jget "$r4" peer2)" = "$S" ] &&
	[ "$(ep_peer "$r5")" = "$S" ] && [ "$(ep_jget "$r5" echo2)" = true ] && [ "$(ep_jget "$r5" peer2)" = "$S" ]
log_test $? "no socket re-keyed again; both connections keep peer $S and exchange data"

crab_exit
