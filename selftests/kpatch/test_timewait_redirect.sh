#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# A redirect onto the 4-tuple of the client's own TIME-WAIT. connect()
# checks the port against the dialed VIP, not against the server S the
# connection ends on: a second connection from the same port (SO_REUSEADDR),
# redirected to S while the first one's TIME-WAIT (the client closed first)
# is keyed on S, used to have its SYN-ACK answered by the TIME-WAIT (stale
# ACK, S resets, the SYN is retransmitted after 1 s). The redirect takes
# the TIME-WAIT's place: the second connect() completes with S as peer and
# data echoed, S sends no reset, TCPCrabTwReplaced is 1 (the time connect()
# took is logged). Then, with S outside net.ipv4.tcp_crab_allow, a third
# connection from the same port leaves the TIME-WAIT alone (stock
# behaviour): it fails, the refusal is counted and TCPCrabTwReplaced stays 1.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8205
SP=40205
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 ss
crab_topo_setup 1
S=${IP_SRV[1]}
kp_client "$NS_CLI"
kp_sysctls "${NS_SRV[1]}" 0 1
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
kp_helper cli "$NS_CLI" serve

# The client closed first: its TIME-WAIT is keyed on S; the server's side
# must be gone too (its LAST-ACK ended by the client's last ACK).
wait_tw() {
	local i tw='' srv=x
	for i in $(seq 150); do
		tw=$(ip netns exec "$NS_CLI" ss -Htan state time-wait "sport = :$SP" | grep -c "$S:$PORT")
		srv=$(ip netns exec "${NS_SRV[1]}" ss -Htan "dport = :$SP" | wc -l)
		[ "$tw" = 1 ] && [ "$srv" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# conn NAME WAIT: one connection from port SP to the VIP: "peer echo ms".
conn() {
	local w e
	kp_call cli "{\"cmd\": \"connect\", \"id\": \"$1\", \"addr\": \"$VIP\", \"port\": $PORT, \"sport\": $SP}" >/dev/null
	w=$(kp_call cli "{\"cmd\": \"wait\", \"id\": \"$1\", \"timeout\": $2}" $(($2 + 30)))
	e=$(kp_call cli "{\"cmd\": \"echo\", \"id\": \"$1\"}")
	kp_call cli "{\"cmd\": \"close\", \"id\": \"$1\"}" >/dev/null
	echo "$(kp_get "$w" peer) $(kp_get "$e" echo) $(kp_get "$w" ms)"
}

r=$(conn first 60)
[ "${r% *}" = "$S true" ]
log_test $? "first connection redirected to $S, data echoed ($r)"

wait_tw
log_test $? "TIME-WAIT on the client keyed on $S:$PORT, server side closed"

m0=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPCrabRejectDuplicate TCPSynRetrans TCPCrabTwReplaced)
rst0=$(kp_out_rsts "${NS_SRV[1]}")
r=$(conn second 30)
m1=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPCrabRejectDuplicate TCPSynRetrans TCPCrabTwReplaced)
rst=$(($(kp_out_rsts "${NS_SRV[1]}") - rst0))
crab_log "second connection: $r; $m0 -> $m1; resets from S: $rst"
[ "${r% *}" = "$S true" ]
log_test $? "second connection from port $SP: redirected to $S, data echoed (${r##* } ms)"

# Asserted on the reset, not on the time: a loaded TCG guest can stall for
# a second by itself (the time and SYN retransmissions are logged).
[ "$rst" = 0 ]
log_test $? "second connect(): no reset from $S"

val() { local re="$2=([0-9]+)"; [[ $1 =~ $re ]] && echo "${BASH_REMATCH[1]}"; }
[ $(( $(val "$m1" TCPCrabTwReplaced) - $(val "$m0" TCPCrabTwReplaced) )) = 1 ] &&
	[ $(( $(val "$m1" TCPCrabRedirected) - $(val "$m0" TCPCrabRedirected) )) = 1 ] &&
	[ "$(val "$m1" TCPCrabRejectDuplicate)" = "$(val "$m0" TCPCrabRejectDuplicate)" ]
log_test $? "TCPCrabTwReplaced +1, redirected +1, no duplicate refusal"

# A redirect that fails a check leaves the TIME-WAIT to the stock path.
wait_tw
log_test $? "second connection closed, TIME-WAIT keyed on $S:$PORT again"
kp_lists "$NS_CLI" "$VIP/32" "192.0.2.0/24"
rej0=$(kp_mib "$NS_CLI" TCPCrabRejectNotAllowed) tw0=$(kp_mib "$NS_CLI" TCPCrabTwReplaced)
r=$(conn third 3)
rej=$(($(kp_mib "$NS_CLI" TCPCrabRejectNotAllowed) - rej0))
crab_log "third: $r; TCPCrabRejectNotAllowed +$rej"
[ "${r%% *}" = null ] && [ "$rej" -ge 1 ] && [ "$(kp_mib "$NS_CLI" TCPCrabTwReplaced)" = "$tw0" ]
log_test $? "$S not allowed: no connection, refusal counted, TIME-WAIT not replaced"

crab_exit
