#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crab_server echoes the option only in SYN-ACKs answering a SYN that had
# it (docs/PROTOCOL.md 3.3), with the SYN's address; a plain SYN gets a plain SYN-ACK.
# Checked on the wire with a capture in the server's namespace.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8102
SP1=40201 SP2=40202
crab_require_root
crab_check_tool ip tcpdump python3
ep_load_module crab_server
ep_load_module crab_client
crab_topo_setup 1
# The client announces to the server's subnet (it dials the server directly).
crab_client_config "$NS_CLI" --announce "$CRAB_SUBNET.0/24" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[1]}"
crab_echo_servers $PORT
S=${IP_SRV[1]}
EPT="python3 $(dirname "$0")/ep_tool.py"
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"

crab_capture_start "${NS_SRV[1]}" "$tmp/s.pcap" \
	"tcp[tcpflags] & tcp-syn != 0 and port $PORT"

# Direct connections to the server: the first announces (option naming S),
# the second is sent with the client module disabled (no option).
r1=$(ip netns exec "$NS_CLI" $EPT connect --addr "$S" --port $PORT --sport $SP1 --wait 10)
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_enabled=0
r2=$(ip netns exec "$NS_CLI" $EPT connect --addr "$S" --port $PORT --sport $SP2 --wait 10)
crab_capture_stop "$tmp/s.pcap"
echo "# $r1"
echo "# $r2"
[ "$(crab_json "$r1" 'j["echo"]')" = True ] && [ "$(crab_json "$r2" 'j["echo"]')" = True ]
log_test $? "both connections echo data"

segs=$($EPT pcap "$tmp/s.pcap")
echo "$segs" | sed 's/^/# /'
opt_of() { # FLAGS CLIENT_PORT -> option address of the first such segment
	echo "$segs" | python3 -c '
import json, sys
for l in sys.stdin:
    s = json.loads(l)
    if s["flags"] == sys.argv[1] and sys.argv[2] in (str(s["sport"]), str(s["dport"])):
        print(s["opt"]); break' "$1" "$2"
}
[ "$(opt_of S $SP1)" = "$S" ] && [ "$(opt_of SA $SP1)" = "$S" ]
log_test $? "SYN with the option: SYN-ACK echoes its address"
[ "$(opt_of S $SP2)" = None ] && [ "$(opt_of SA $SP2)" = None ]
log_test $? "SYN without the option: SYN-ACK without it"

e=$(ep_counter "${NS_SRV[1]}" synack_echoed crab_server)
s=$(ep_counter "${NS_SRV[1]}" syn_opt_seen crab_server)
[ "$e" = 1 ] && [ "$s" = 1 ]
log_test $? "server counters: syn_opt_seen=$s synack_echoed=$e"

crab_exit
