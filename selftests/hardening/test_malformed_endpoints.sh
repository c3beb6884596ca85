#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Malformed packets at the endpoint modules (docs/PROTOCOL.md 2, 3.4, 6):
# every class of malformed.py (truncated TCP headers, doff past the packet
# or < 5, option lengths 0/1/5/7/255, an option split at the 40-byte limit,
# 40 NOPs, duplicate options, IP options, fragments, zero/multicast/
# broadcast addresses in the option, data) from a host on the segment
#   - at crab_client, as SYN-ACKs for a socket held in SYN-SENT (its VIP is
#     black-holed at the LB), with that socket's ISN + 1 as ack;
#   - at crab_server, as SYNs to a listener.
# Each case increments exactly its counter (others only where real
# traffic runs), the held socket is never re-keyed (duplicate options: the
# first, naming an address never dialed, wins over a second naming the
# VIP), the server echoes the first option, real connections between the
# same two namespaces succeed during and after, and the kernel logs no
# oops/WARN/BUG.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/hd_lib.sh"

PORT=8301
SP1=40301
HD_EPT="python3 $CRAB_TOP/selftests/modules/ep_tool.py"
crab_require_root
crab_check_tool ip tcpdump python3 ss dmesg nsenter
crab_topo_setup 1
crab_add_host EVIL "$IP_EVIL"
crab_load_module crab_server
crab_load_module crab_client
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
hd_evil_quiet
hd_dmesg_mark
S=${IP_SRV[1]}
tmp=$(mktemp -d /tmp/crab-hd-XXXXXX)
crab_defer "rm -rf $tmp"
crab_echo_servers $PORT
ip -n "$NS_LB" route add blackhole "$VIP/32"
# The held socket must outlive the barrage even when TCG is slow.
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_syn_retries=8
ip netns exec "$NS_EVIL" ping -c1 -W5 "$IP_CLI" >/dev/null
ip netns exec "$NS_EVIL" ping -c1 -W5 "$S" >/dev/null

# tcpdump stops after the first SYN: one parse of the capture, no polling.
crab_capture_start "$NS_CLI" "$tmp/syn.pcap" -c 1 "tcp[tcpflags] == tcp-syn and dst port $PORT"
ip netns exec "$NS_CLI" $HD_EPT connect --addr "$VIP" --port $PORT --sport $SP1 \
	--wait 280 >"$tmp/held.json" &
held=$!
crab_defer "kill $held"
for _ in $(seq 300); do
	kill -0 "${CRAB_CAP_PID[$tmp/syn.pcap]}" 2>/dev/null || break
	sleep 0.1
done
isn=$($HD_EPT isn "$tmp/syn.pcap" --sport $SP1) || crab_fail "did not capture the held socket's SYN"
crab_log "held socket $IP_CLI:$SP1 -> $VIP:$PORT, ISN $isn"

hd_ns_pid "$NS_CLI" >/dev/null
hd_ns_pid "${NS_SRV[1]}" >/dev/null
# Real connections client -> server (both modules on the path) meanwhile.
hd_traffic_start "$NS_CLI" "$S" $PORT "$tmp/traffic.json"

HD_TARGET=crab_client
hd_run_cases "$tmp/client.out" "$NS_EVIL" --role client --src "$S" --dst "$IP_CLI" \
	--sport $PORT --dport $SP1 --ack $((isn + 1)) --vip "$VIP" \
	--counters "file:/proc/$(hd_ns_pid "$NS_CLI")/net/crab_client" --fmt proc \
	--noise syn_announced,syn_not_listed,synack_direct

peers=$(ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$SP1" | awk '{ print $4 }')
red=$(ip netns exec "$NS_CLI" awk '$1 == "redirected" { print $2 }' /proc/net/crab_client)
crab_log "held socket peer: $peers, redirected=$red"
[ "$peers" = "$VIP:$PORT" ] && [ "$red" = 0 ]
log_test $? "crab_client: held socket still SYN-SENT to the VIP, nothing redirected"

HD_TARGET=crab_server
crab_capture_start "$NS_EVIL" "$tmp/sa.pcap" "tcp[tcpflags] & tcp-syn != 0 and src port $PORT"
hd_run_cases "$tmp/server.out" "$NS_EVIL" --role server --src "$IP_EVIL" --dst "$S" \
	--sport 43000 --dport $PORT \
	--counters "file:/proc/$(hd_ns_pid "${NS_SRV[1]}")/net/crab_server" --fmt proc \
	--noise syn_opt_seen,synack_echoed
crab_capture_stop "$tmp/sa.pcap"
dsp=$(sed -n 's/^ok dup_option sport=\([0-9]*\).*/\1/p' "$tmp/server.out")
echoed=$($HD_EPT pcap "$tmp/sa.pcap" | python3 -c '
import json, sys
print(",".join(sorted({j["opt"] or "-" for j in map(json.loads, sys.stdin)
                       if j["flags"] == "SA" and j["dport"] == int(sys.argv[1])})))' "${dsp:-0}")
crab_log "SYN-ACK to the duplicate-option SYN (sport ${dsp:-?}) names: $echoed"
[ "$echoed" = "$S" ]
log_test $? "crab_server: duplicate options, the first one is echoed"

hd_traffic_stop "$tmp/traffic.json"
crab_log "during the barrage: $HD_OK connections ok, $HD_FAILED failed, $HD_ROUNDS rounds"
[ "$HD_FAILED" = 0 ] && [ "$HD_OK" -gt 0 ]
log_test $? "real connections during the barrage: all succeeded"
r=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$S" --port $PORT --count 5 --timeout 20)
crab_log "after: $r"
[ "$(crab_json "$r" 'j["ok"] == 5 and j["peers"] == {"'"$S"'": 5}')" = True ]
log_test $? "real connections after the barrage: all succeeded"
hd_dmesg_check
log_test $? "no oops, WARN or BUG in the kernel log"

crab_exit
