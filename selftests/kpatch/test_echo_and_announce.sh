#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# What goes on the wire (docs/PROTOCOL.md 2, 3.1, 3.3), seen on both ends:
# with the sysctls off nothing changes; the client announces the address
# it dials (it is in tcp_crab_announce) unless the socket refused with
# TCP_CRAB_REDIRECT 0; the server echoes only when the SYN had the option,
# also in a SYN cookie SYN-ACK; with tcp_crab_kind 254 on both ends both
# use the RFC 6994 form (kind 254, length 8, ExID 0xC4AB); a server in the
# other encoding does not echo. Each connection goes straight to the
# server (the option names the server itself): no redirect needed.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8202
crab_require_root
kp_require_patched_kernel
crab_check_tool ip python3
crab_topo_setup 1
S=${IP_SRV[1]}
crab_echo_servers $PORT
kp_lists "$NS_CLI" "$S/32" "$S/32" || crab_fail "cannot set the lists"
kp_helper cli "$NS_CLI" serve
kp_helper srv "${NS_SRV[1]}" serve
kp_call cli '{"cmd": "capture", "iface": "eth0"}' >/dev/null
kp_call srv '{"cmd": "capture", "iface": "eth0"}' >/dev/null

# conn NAME [connect options]: one connection to S; prints
# "peer echo | SYN kinds crab form | SYN-ACK kinds crab form" as seen by the
# server (SYN) and the client (SYN-ACK).
conn() {
	local r w e sp syn sa
	r=$(kp_call cli "{\"cmd\": \"connect\", \"id\": \"$1\", \"addr\": \"$S\", \"port\": $PORT${2:+, $2}}")
	sp=$(kp_get "$r" sport)
	w=$(kp_call cli "{\"cmd\": \"wait\", \"id\": \"$1\", \"timeout\": 10}")
	e=$(kp_call cli "{\"cmd\": \"echo\", \"id\": \"$1\"}")
	kp_call cli "{\"cmd\": \"close\", \"id\": \"$1\"}" >/dev/null
	syn=$(kp_call srv "{\"cmd\": \"syn\", \"sport\": $sp, \"dport\": $PORT, \"timeout\": 5}")
	sa=$(kp_call cli "{\"cmd\": \"synack\", \"sport\": $PORT, \"dport\": $sp, \"timeout\": 5}")
	echo "$(kp_get "$w" peer) $(kp_get "$e" echo) | $(kp_get "$syn" crab) $(kp_get "$syn" form) | $(kp_get "$sa" crab) $(kp_get "$sa" form)"
}

# 1. Everything off: a stock kernel's behaviour.
kp_sysctls "$NS_CLI" 0 0
kp_sysctls "${NS_SRV[1]}" 0 0
r=$(conn off)
[ "$r" = "$S true | null null | null null" ]
log_test $? "sysctls off: no option on the wire, plain connection works ($r)"

# 2. Client on, server off: announced, not echoed.
kp_sysctls "$NS_CLI" 1 0
r=$(conn cli_only)
[ "$r" = "$S true | $S 42 | null null" ]
log_test $? "client on: the SYN names the dialed address; server off: no echo ($r)"

# 3. Both on: echoed.
kp_sysctls "${NS_SRV[1]}" 0 1
e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
r=$(conn both)
[ "$r" = "$S true | $S 42 | $S 42" ] && [ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = $((e0 + 1)) ]
log_test $? "server on: the SYN-ACK echoes the option, TCPCrabEchoed counted ($r)"

# 4. The socket refuses: no announce, so no echo.
r=$(conn refuse '"crab": 0')
[ "$r" = "$S true | null null | null null" ]
log_test $? "TCP_CRAB_REDIRECT 0: no announce, the server echoes nothing ($r)"

# 5. SYN cookies on the server: the cookie SYN-ACK still echoes.
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_syncookies=2
c0=$(kp_mib "${NS_SRV[1]}" SyncookiesSent)
r=$(conn cookie)
[ "$r" = "$S true | $S 42 | $S 42" ] && [ "$(kp_mib "${NS_SRV[1]}" SyncookiesSent)" -gt "$c0" ]
log_test $? "tcp_syncookies=2: the cookie SYN-ACK echoes the option ($r)"
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_syncookies=1

# 6. RFC 6994 form on both ends.
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_crab_kind=254
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_crab_kind=254
r=$(conn exp)
[ "$r" = "$S true | $S 254 | $S 254" ]
log_test $? "tcp_crab_kind 254: SYN and SYN-ACK carry kind 254, length 8, ExID 0xC4AB ($r)"

# 7. Encodings differ: the server does not recognise the option.
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_crab_kind=42
e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
b0=$(kp_mib "${NS_SRV[1]}" TCPCrabBadOption)
r=$(conn mixed)
[ "$r" = "$S true | $S 254 | null null" ] && [ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = "$e0" ] &&
	[ "$(kp_mib "${NS_SRV[1]}" TCPCrabBadOption)" = "$b0" ]
log_test $? "client 254, server 42: the server ignores the option, counts nothing ($r)"

# 8. Another ExID on the client: the server (254, 0xC4AB) ignores it too.
ip netns exec "${NS_SRV[1]}" sysctl -qw net.ipv4.tcp_crab_kind=254
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_crab_exid=4660
r=$(conn exid)
[ "$r" = "$S true | null null | null null" ] && [ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = "$e0" ]
log_test $? "ExID 0x1234 against 0xC4AB: someone else's experiment, not echoed ($r)"

crab_exit
