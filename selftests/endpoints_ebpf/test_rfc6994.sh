#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The RFC 6994 form of the option (kind 254, 16-bit ExID, then the address;
# docs/PROTOCOL.md 2) end to end through the rr LB: with `crabctl ebpf set
# --kind 254` the client's SYNs and the servers' SYN-ACKs carry
# 254 len 8 C4AB + address and no kind 42, and 30 connections are redirected
# with their data echoed. A kind-254 option with another ExID is someone
# else's experiment: a SYN carrying only that gets no echo. Kinds with an
# assigned meaning are refused by crabctl.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump
crab_require_python_module scapy
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
"$CRABCTL" ebpf set --kind 254 || crab_fail "crabctl ebpf set --kind 254"
[ "$(crab_json "$("$CRABCTL" -j ebpf stats)" "(j['config']['kind'], j['config']['exid'])")" = "(254, 50347)" ]
log_test $? "configuration: kind 254, ExID 0xc4ab"

# A kind with an assigned meaning (MSS, TCP-MD5, the other experimental
# kind, ...) is refused as the modules refuse it: exit 2, nothing changed.
rc=0
for k in 2 8 19 29 30 253; do
	"$CRABCTL" ebpf set --kind $k 2>"$EP_TMP/kind.err"
	r=$?
	[ $r = 2 ] && grep -q "is assigned" "$EP_TMP/kind.err" || { rc=1; crab_log "kind $k: exit $r, $(cat "$EP_TMP/kind.err")"; }
done
[ "$(crab_json "$("$CRABCTL" -j ebpf stats)" "j['config']['kind']")" = 254 ] || rc=1
log_test $rc "assigned kinds 2, 8, 19, 29, 30, 253 refused (exit 2), kind still 254"

pcap=$EP_TMP/syn.pcap
crab_capture_start "$NS_CLI" "$pcap" "tcp port $EP_PORT and tcp[13] & 2 != 0"
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count 30 --timeout 10 --json)
crab_capture_stop "$pcap"
crab_log "client: ${out:0:200}"
[ "$(crab_json "$out" "j['ok']")" = 30 ] && [ "$(ep_stat redirected)" = 30 ]
log_test $? "30 connections redirected with the RFC 6994 form, data echoed"

# The option bytes: 254, 8, 0xc4ab, the VIP (tcpdump -x, TCP options).
want="fe08c4ab$(printf '%02x' ${VIP//./ })"
n=$(tcpdump -nn -r "$pcap" -x 2>/dev/null | awk '
	/^[0-9]/ { if (h != "") print h; h = ""; next }
	{ for (i = 2; i <= NF; i++) h = h $i }
	END { if (h != "") print h }' | grep -c "$want")
k42=$(tcpdump -nn -v -r "$pcap" 2>/dev/null | grep -c "unknown-42")
syns=$(tcpdump -nn -r "$pcap" 2>/dev/null | grep -c "Flags \[S")
crab_log "$syns SYN/SYN-ACK captured, $n with 254 8 c4ab VIP, $k42 with kind 42"
[ "$n" = "$syns" ] && [ "$syns" -ge 60 ] && [ "$k42" = 0 ]
log_test $? "every SYN and SYN-ACK carried 254 8 c4ab + VIP and none kind 42"

ep_spoofer_start
e0=$(ep_stat echoed)
o=$(ep_helper spoof "{\"op\": \"syn\", \"dst\": \"${IP_SRV[1]}\", \"dport\": $EP_PORT, \"sport\": 41001, \"name\": \"$VIP\", \"kind\": 254, \"exid\": 4660}")
crab_log "SYN-ACK to a kind-254 option with ExID 0x1234: $o"
[ "$o" != none ] && [[ $o != *fe08* ]] && [ "$(ep_stat echoed)" = "$e0" ]
log_test $? "a kind-254 option with another ExID gets no echo"

crab_exit
