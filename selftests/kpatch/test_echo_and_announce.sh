#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# What goes on the wire (docs/PROTOCOL.md 3.1, 3.3): with the sysctls off nothing changes
# (no option, plain connections work); the client announces the address it
# dials unless the socket refused with TCP_CRAB_REDIRECT=0, and may request
# it with 1 while the sysctl is 0; the server echoes only when the SYN had
# the option, also when it answers with a SYN cookie.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8202
crab_require_root
kp_require_patched_kernel
crab_check_tool ip python3 ss tcpdump
crab_topo_setup 1
S=${IP_SRV[1]}
crab_echo_servers $PORT
tmp=$(mktemp -d /tmp/crab-kp-XXXXXX)
crab_defer "rm -rf $tmp"

# conn NAME [connect args...]: one connection from the client to S:PORT,
# with captures on both ends; prints the tool's JSON.
conn() {
	local name=$1; shift
	crab_capture_start "$NS_CLI" "$tmp/$name.cli.pcap" "tcp port $PORT and tcp[tcpflags] & tcp-syn != 0"
	crab_capture_start "${NS_SRV[1]}" "$tmp/$name.srv.pcap" "tcp port $PORT and tcp[tcpflags] & tcp-syn != 0"
	ip netns exec "$NS_CLI" $KP_TOOL connect --addr "$S" --port $PORT "$@" >"$tmp/$name.json"
	crab_capture_stop "$tmp/$name.cli.pcap" "$tmp/$name.srv.pcap"
	cat "$tmp/$name.json"
}
opts() { $KP_TOOL opts "$tmp/$1.$2.pcap"; }
ok() { [ "$(crab_json "$(cat "$tmp/$1.json")" 'j["connected"] and j["echo"] and j["peer"]')" = "$S" ]; }

# 1. Everything off: a stock kernel's behaviour.
kp_sysctls "$NS_CLI" 0 0
kp_sysctls "${NS_SRV[1]}" 0 0
conn off
ok off && [ "$(opts off cli)" = '{"syn": [0, 1], "synack": [0, 1], "addrs": []}' ]
log_test $? "sysctls off: no option on the wire, plain connection works"

# 2. Client on, server off: announced, not echoed.
kp_sysctls "$NS_CLI" 1 0
conn cli_only
o=$(opts cli_only srv)
echo "# $o"
ok cli_only && [ "$o" = "{\"syn\": [1, 0], \"synack\": [0, 1], \"addrs\": [\"$S\"]}" ]
log_test $? "client on: SYN announces the dialed address; server off: no echo"

# 3. Both on: echoed (the dialed address is S itself: no redirect needed).
kp_sysctls "${NS_SRV[1]}" 0 1
e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
conn both
o=$(opts both cli)
echo "# $o"
ok both && [ "$o" = "{\"syn\": [1, 0], \"synack\": [1, 0], \"addrs\": [\"$S\"]}" ] &&
	[ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = $((e0 + 1)) ]
log_test $? "server on: SYN-ACK echoes the option, TCPCrabEchoed counted"

# 4. Socket refuses: no announce, so no echo.
conn refuse --mode 0
o=$(opts refuse cli)
echo "# $o"
ok refuse && [ "$(crab_json "$(cat "$tmp/refuse.json")" 'j["mode"]')" = 0 ] &&
	[ "$o" = '{"syn": [0, 1], "synack": [0, 1], "addrs": []}' ]
log_test $? "TCP_CRAB_REDIRECT=0: no announce, server echoes nothing"

# 5. Socket requests while the client sysctl is off.
kp_sysctls "$NS_CLI" 0 0
conn request --mode 1
o=$(opts request cli)
echo "# $o"
ok request && [ "$(crab_json "$(cat "$tmp/request.json")" 'j["mode"]')" = 1 ] &&
	[ "$o" = "{\"syn\": [1, 0], \"synack\": [1, 0], \"addrs\": [\"$S\"]}" ]
log_test $? "TCP_CRAB_REDIRECT=1 with the sysctl off: announced and echoed"

# 6. Bad values are refused, the default reads back as -1.
r=$(ip netns exec "$NS_CLI" python3 -c '
import socket
s = socket.socket()
d = int.from_bytes(s.getsockopt(6, 50, 4), "little", signed=True)
bad = 0
for v in (-2, 2, 100):
    try:
        s.setsockopt(6, 50, v)
    except OSError:
        bad += 1
print(d, bad)')
[ "$r" = "-1 3" ]
log_test $? "TCP_CRAB_REDIRECT: default -1, values outside -1..1 get EINVAL ($r)"

# 7. SYN cookies on the server: the cookie SYN-ACK still echoes.
kp_sysctls "$NS_CLI" 1 0
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_syncookies=2
c0=$(kp_mib "${NS_SRV[1]}" SyncookiesSent)
conn cookie
o=$(opts cookie cli)
echo "# $o"
ok cookie && [ "$o" = "{\"syn\": [1, 0], \"synack\": [1, 0], \"addrs\": [\"$S\"]}" ] &&
	[ "$(kp_mib "${NS_SRV[1]}" SyncookiesSent)" -gt "$c0" ]
log_test $? "tcp_syncookies=2: the cookie SYN-ACK echoes the option"

crab_exit
