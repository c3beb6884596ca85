#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# TCP-MD5 (RFC 2385) sockets are never redirected and signed segments are
# never touched (docs/PROTOCOL.md 3.4), with both modules configured on the
# path. Client: a socket with a key for the VIP sends a signed SYN (kind
# 19) without the redirect option (syn_signed); a socket with a key for
# another peer only does not announce either; an unsigned redirecting
# SYN-ACK with the right ack moves neither (rej_signed, still SYN-SENT to
# the VIP). Server: a validly signed SYN carrying the option gets a signed
# SYN-ACK without it (syn_signed); before, the module grew the SYN-ACK
# after TCP had signed it. (TCP-AO takes the same paths, kind 29 and the
# socket's ao_info; Debian's kernels are built without it.)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8113
SP1=40121 SP2=40122
KEY=crab-md5-key
IP_EVIL=198.18.0.66
crab_require_root
crab_check_tool ip ss bridge python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
crab_add_host EVIL $IP_EVIL
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI" "${NS_SRV[1]}"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
ip -n "$NS_LB" route add blackhole "$VIP/32"	# the sockets wait in SYN-SENT
ip netns exec "${NS_SRV[1]}" $EPT serve --port $PORT --md5 $KEY --md5-peer $IP_EVIL &
crab_defer "kill $!"
ep_att_start "$NS_EVIL"
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }

# c1: key for the VIP (signed SYN); c2: key for another peer (unsigned SYN).
ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SP1 \
	--md5 $KEY --wait 120 >/dev/null &
crab_defer "kill $!"
ip netns exec "$NS_CLI" python3 -c '
import socket, sys, time
sys.path.insert(0, sys.argv[1])
from ep_tool import md5sig, TCP_MD5SIG
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig("10.1.1.1", "other-peer"))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.settimeout(120)
try:
    s.connect((sys.argv[3], int(sys.argv[4])))
except OSError:
    pass' "$(dirname "$0")" $SP2 "$VIP" $PORT &
crab_defer "kill $!"
syn1=$(ep_att syn_from $SP1 60) || crab_fail "the attacker did not see c1's SYN: $syn1"
syn2=$(ep_att syn_from $SP2 60) || crab_fail "the attacker did not see c2's SYN: $syn2"
crab_log "c1 SYN: $syn1"
crab_log "c2 SYN: $syn2"
[[ ",$(ep_field "$syn1" kinds)," == *,19,* ]] && [ "$(ep_field "$syn1" opt)" = - ]
log_test $? "a signed SYN (kind 19) is sent without the redirect option"
[[ ",$(ep_field "$syn2" kinds)," != *,19,* ]] && [ "$(ep_field "$syn2" opt)" = - ] &&
	[ "$(cnt syn_signed)" -ge 2 ] && [ "$(cnt syn_announced)" = 0 ]
log_test $? "a socket with a key for another peer does not announce either (syn_signed $(cnt syn_signed))"

before=$(cnt rej_signed)
for r in "$syn1" "$syn2"; do
	ep_att synack "$S" "$IP_CLI" $PORT "$(ep_field "$r" sport)" \
		$(($(ep_field "$r" seq) + 1)) opt="$VIP" >/dev/null
done
got=$(ep_wait_counter "$NS_CLI" crab_client rej_signed $((before + 2)) 50)
peers=$(ip netns exec "$NS_CLI" ss -Htn state syn-sent "( sport = :$SP1 or sport = :$SP2 )" |
	awk '{ print $4 }' | sort -u | tr '\n' ' ')
crab_log "rej_signed +$((got - before)); SYN-SENT peers: $peers"
[ "$got" = $((before + 2)) ] && [ "$peers" = "$VIP:$PORT " ] && [ "$(cnt redirected)" = 0 ]
log_test $? "unsigned redirecting SYN-ACKs with the right ack move neither socket (rej_signed)"

# Server: a validly signed SYN with the option, to an MD5 listener.
before=$(ep_counter "${NS_SRV[1]}" syn_signed crab_server)
ep_att syn $IP_EVIL "$S" 43113 $PORT 5000 opt="$VIP" md5=$KEY >/dev/null
sa=$(ep_att synack_to 43113 30) || crab_fail "no SYN-ACK to the signed SYN (signature refused?): $sa"
crab_log "SYN-ACK of the MD5 listener: $sa"
[[ ",$(ep_field "$sa" kinds)," == *,19,* ]] && [ "$(ep_field "$sa" opt)" = - ] &&
	[ "$(ep_wait_counter "${NS_SRV[1]}" crab_server syn_signed $((before + 1)) 30)" = $((before + 1)) ]
log_test $? "crab_server: a signed SYN with the option gets a signed SYN-ACK without it"

crab_exit
