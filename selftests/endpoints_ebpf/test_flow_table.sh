#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# No redirected connection is ever evicted: the eBPF client keeps its state
# per socket (socket storage, freed with the socket) and in a bounded flow
# table that refuses a new redirect at the handshake when full (counted),
# never dropping a live entry. With a table of 4 (--max-flows 4): 4
# redirected connections held open; a 5th is refused (rejected_flow_full)
# while the 4 keep exchanging data; once one of them closes, the 5th gets
# through on its next SYN retransmission.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24" --max-flows 4
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"

ports=()
rc=0
for i in 1 2 3 4; do
	p=$(ep_helper hold "connect $VIP $EP_PORT")
	ports+=("$p")
	w=$(ep_helper hold "wait $p 5")
	[ "$w" = "up $VIP" ] || { crab_log "connection $i: $w"; rc=1; }
done
[ "$(ep_stat maps.flows)" = 4 ] && [ "$(ep_stat redirected)" = 4 ] || rc=1
log_test $rc "4 redirected connections fill the flow table of 4 ($(ep_stat maps.flows) flows)"

f0=$(ep_stat rejected_flow_full)
p5=$(ep_helper hold "connect $VIP $EP_PORT")
w=$(ep_helper hold "wait $p5 2")
crab_log "5th connection: $w; rejected_flow_full $f0 -> $(ep_stat rejected_flow_full)"
[ "${w%% *}" = down ] && [ "$(ep_stat rejected_flow_full)" -gt "$f0" ] &&
	[ "$(ep_stat maps.flows)" = 4 ]
log_test $? "a 5th redirect is refused at the handshake and counted, the table keeps its 4 flows"

rc=0
for p in "${ports[@]}"; do
	e=$(ep_helper hold "echo $p 5000")
	[ "$e" = ok ] || { crab_log "held $p: $e"; rc=1; }
done
log_test $rc "the 4 held connections keep exchanging data"

ep_helper hold "close ${ports[0]}" >/dev/null
# The 5th socket's SYN goes again 3 s after its first retransmission.
w=$(ep_helper hold "wait $p5 12")
e=$(ep_helper hold "echo $p5 5000")
crab_log "5th connection after a close: $w, $e; flows $(ep_stat maps.flows)"
[ "$w" = "up $VIP" ] && [ "$e" = ok ] && [ "$(ep_stat maps.flows)" = 4 ]
log_test $? "once a connection closes, the 5th gets through on its SYN retransmission"

crab_exit
