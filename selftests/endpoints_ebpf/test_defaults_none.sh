#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Attaching the eBPF endpoints changes nothing until an administrator
# configures them (docs/PROTOCOL.md 3.8). Client and server attached without
# options: crabctl says that the announce and allow lists are empty and echo
# is off, and the configuration shows exactly that. A direct connection to
# a server is stock TCP (no option in the SYN nor in the SYN-ACK, nothing
# counted). Then each setting is given in turn, through a stateless
# round-robin LB: announcing alone gets an option-less SYN-ACK from a server
# whose echo is off (counted there); echo on gets a redirect that the
# client refuses while its allow list is empty (counted); the allow list
# finally lets the redirect through.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump
EP_SERVER_BARE=1
ep_setup

grep -q "announce list is empty" "$EP_TMP/attach-cli.err" &&
	grep -q "allow list is empty" "$EP_TMP/attach-cli.err" &&
	grep -q "echo is off" "$EP_TMP/attach-srv.err"
log_test $? "crabctl says: announce list empty, allow list empty, echo off"

conf=$("$CRABCTL" -j ebpf stats)
crab_log "config: $(crab_json "$conf" "j['config']")"
[ "$(crab_json "$conf" "(j['config']['announce'], j['config']['allow'], j['config']['echo'])")" = \
	"([], [], False)" ]
log_test $? "configuration after attaching: announce none, allow none, echo off"

# vip_conn: one connection to the VIP (2 s at most); prints failed count.
vip_conn() {
	local out
	out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
		--port "$EP_PORT" --count 1 --timeout 2 --json)
	crab_log "to the VIP: $out" >&2
	crab_json "$out" "j['ok']"
}

pcap=$EP_TMP/direct.pcap
crab_capture_start "$NS_CLI" "$pcap" "tcp port $EP_PORT and tcp[13] & 2 != 0"
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "${IP_SRV[1]}" \
	--port "$EP_PORT" --count 3 --json)
crab_capture_stop "$pcap"
opts=$(tcpdump -nn -v -r "$pcap" 2>/dev/null)
crab_log "direct: $out; $(echo "$opts" | grep -c 'Flags \[S') SYN/SYN-ACK captured"
[ "$(crab_json "$out" "j['ok']")" = 3 ] && ! echo "$opts" | grep -q "unknown-42" &&
	[ "$(echo "$opts" | grep -c 'Flags \[S')" -ge 6 ] &&
	[ "$(ep_stat announced)$(ep_stat echoed)$(ep_stat redirected)" = 000 ]
log_test $? "a direct connection is stock TCP: no option in SYN or SYN-ACK, nothing counted"

[ "$(vip_conn)" = 0 ] && [ "$(ep_stat announced)" = 0 ]
log_test $? "through the LB, unconfigured: no announcement, no redirect (the connection fails)"

"$CRABCTL" ebpf set --announce "$VIP/32" || crab_fail "crabctl ebpf set --announce"
[ "$(vip_conn)" = 0 ] && [ "$(ep_stat announced)" -gt 0 ] && [ "$(ep_stat echo_off)" -gt 0 ] &&
	[ "$(ep_stat echoed)" = 0 ]
log_test $? "announce set, echo off: the servers answer without the option (echo_off $(ep_stat echo_off))"

"$CRABCTL" ebpf set --echo on || crab_fail "crabctl ebpf set --echo on"
[ "$(vip_conn)" = 0 ] && [ "$(ep_stat echoed)" -gt 0 ] && [ "$(ep_stat rejected_allow)" -gt 0 ] &&
	[ "$(ep_stat redirected)" = 0 ]
log_test $? "echo on, allow list empty: the redirect is refused (rejected_allow $(ep_stat rejected_allow))"

"$CRABCTL" ebpf set --allow "$CRAB_SUBNET.0/24" || crab_fail "crabctl ebpf set --allow"
[ "$(vip_conn)" = 1 ] && [ "$(ep_stat redirected)" = 1 ]
log_test $? "allow list set: the redirect is accepted"

crab_exit
