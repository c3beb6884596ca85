#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# eBPF endpoints end to end: 300 connections to the VIP through a stateless
# round-robin LB all succeed with their data echoed, the LB sees one
# packet per connection, the servers see exactly 100 SYNs each, the server
# echoes the option only when the SYN carried it, and the client's maps are
# empty again once the connections are closed.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

N=${EP_CONNS:-300}

ep_unshare "$@"
crab_check_tool tcpdump
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"

# 1. 300 redirected connections, data echoed.
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count $N --json)
ok=$(crab_json "$out" "j['ok']")
failed=$(crab_json "$out" "j['failed']")
crab_log "client: ok=$ok failed=$failed"
[ "$ok" = "$N" ] && [ "$failed" = 0 ]
log_test $? "$N connections to the VIP succeed with data echoed"

red=$(ep_stat redirected)
[ "$red" = "$N" ]
log_test $? "every connection was redirected (redirected=$red)"

lbp=$(ep_lb_packets)
[ "$lbp" = "$N" ]
log_test $? "the LB saw exactly one packet per connection ($lbp)"

s1=$(ep_server_opens 1) s2=$(ep_server_opens 2) s3=$(ep_server_opens 3)
crab_log "connections per server: $s1 $s2 $s3"
[ "$s1" = 100 ] && [ "$s2" = 100 ] && [ "$s3" = 100 ]
log_test $? "round-robin split exactly 100/100/100 on the servers"

# 2. Maps drain when the connections close (bounded wait for the last FINs).
ep_maps_drained && [ "$EP_CLOSED" = "$N" ]
log_test $? "client flow table is empty again after the connections close"

# 3. The server echoes only for SYNs carrying the option: SYNs from a plain
# host (no eBPF), with and without the option, captured SYN-ACKs checked.
crab_add_host PROBE "$CRAB_SUBNET.60"
ip netns exec "$NS_PROBE" python3 - "${IP_SRV[1]}" "$EP_PORT" <<'PY'
import sys
from scapy.all import IP, TCP, sr1, conf
conf.verb = 0
dst, port = sys.argv[1], int(sys.argv[2])
want = bytes([198, 51, 100, 7])
bad = 0
for sport, opts in ((40001, [(42, want), ("NOP", None), ("NOP", None)]), (40002, [])):
    r = sr1(IP(dst=dst) / TCP(sport=sport, dport=port, flags="S", seq=1000,
            options=[("MSS", 1460)] + opts), timeout=3)
    if r is None or not r.haslayer(TCP) or (r[TCP].flags & 0x12) != 0x12:
        print("# no SYN-ACK for sport", sport); bad += 1; continue
    raw = bytes(r[TCP])[20:r[TCP].dataofs * 4]
    has = any(raw[i:i + 6] == bytes([42, 6]) + want for i in range(len(raw)))
    print("# sport", sport, "SYN-ACK options", raw.hex(), "echo" if has else "no echo")
    if has != bool(opts):
        bad += 1
sys.exit(1 if bad else 0)
PY
log_test $? "server echoes the option only in answer to SYNs that carry it"

crab_exit
