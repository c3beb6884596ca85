#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Patched kernel, a redirect onto the 4-tuple of the client's own TIME-WAIT
# (patch 0007). connect() checks the port against the dialed VIP, not
# against the server S the connection ends on: a second connection from the
# same port (SO_REUSEADDR), redirected to S while the first one's TIME-WAIT
# (client closed first) is keyed on S, had its SYN-ACK answered by the
# TIME-WAIT (stale ACK, S resets, the SYN is retransmitted after 1 s). The
# redirect must replace the TIME-WAIT: the second connect() completes
# with S as peer and data echoed, S sends no reset, and TCPCrabTwReplaced
# is 1 (the time connect() took is logged: ~10 ms against ~1.1 s before). Then, with S
# outside net.ipv4.tcp_crab_allow, a third connection from the same port
# leaves the TIME-WAIT alone (stock behaviour): it fails, the refusal is
# counted in tcp_crab_allow_rejected and TCPCrabTwReplaced stays 1.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8205
SP=40205
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 ss
crab_topo_setup 1
S=${IP_SRV[1]}
kp_sysctls "$NS_CLI" 1 0
kp_sysctls "${NS_SRV[1]}" 0 1
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
tmp=$(mktemp -d /tmp/crab-kp-XXXXXX)
crab_defer "rm -rf $tmp"

# Tcp OutRsts of namespace $1 (/proc/net/snmp).
out_rsts() {
	ip netns exec "$1" awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) idx[$i] = i; h = 1; next }
		$1 == "Tcp:" && h { print $idx["OutRsts"]; exit }' /proc/net/snmp
}

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

conn() { # conn NAME WAIT: one connection from port SP to the VIP
	ip netns exec "$NS_CLI" $KP_TOOL connect --addr "$VIP" --port $PORT \
		--sport $SP --wait "$2" >"$tmp/$1.json"
	echo "# $1: $(cat "$tmp/$1.json")" >&2
	cat "$tmp/$1.json"
}

synr0=$(kp_mib "$NS_CLI" TCPSynRetrans)
out=$(conn first 60)
echo "# first connection: SYN retransmissions $(($(kp_mib "$NS_CLI" TCPSynRetrans) - synr0))"
[ "$(crab_json "$out" 'j["peer"]')" = "$S" ] && [ "$(crab_json "$out" 'j["echo"]')" = True ]
log_test $? "first connection redirected to $S, data echoed"

wait_tw
log_test $? "TIME-WAIT on the client keyed on $S:$PORT, server side closed"

red0=$(kp_mib "$NS_CLI" TCPCrabRedirected)
dup0=$(kp_mib "$NS_CLI" TCPCrabRejectDuplicate)
synr0=$(kp_mib "$NS_CLI" TCPSynRetrans)
rst0=$(out_rsts "${NS_SRV[1]}")
out=$(conn second 30)
ms=$(crab_json "$out" 'j["ms"]')
[ "$(crab_json "$out" 'j["peer"]')" = "$S" ] && [ "$(crab_json "$out" 'j["echo"]')" = True ]
log_test $? "second connection from port $SP: redirected to $S, data echoed"

# The old behaviour needs a SYN retransmission (1 s) to complete.
synr=$(($(kp_mib "$NS_CLI" TCPSynRetrans) - synr0))
rst=$(($(out_rsts "${NS_SRV[1]}") - rst0))
echo "# connect() ${ms} ms, SYN retransmissions $synr, resets from S $rst"
# Asserted on the reset, not on the time: a loaded TCG guest can stall
# for a second by itself (the time and retransmissions are logged).
[ "$rst" = 0 ]
log_test $? "second connect(): no reset from $S (${ms} ms, $synr SYN retransmissions)"

repl=$(kp_mib "$NS_CLI" TCPCrabTwReplaced)
red=$(($(kp_mib "$NS_CLI" TCPCrabRedirected) - red0))
dup=$(($(kp_mib "$NS_CLI" TCPCrabRejectDuplicate) - dup0))
echo "# TCPCrabTwReplaced $repl, TCPCrabRedirected +$red, TCPCrabRejectDuplicate +$dup"
[ "$repl" = 1 ] && [ "$red" = 1 ] && [ "$dup" = 0 ]
log_test $? "TCPCrabTwReplaced 1, redirected +1, no duplicate refusal"

# A redirect that fails a check leaves the TIME-WAIT to the stock path.
if [ -e /proc/sys/net/ipv4/tcp_crab_allow ]; then
	wait_tw
	log_test $? "second connection closed, TIME-WAIT keyed on $S:$PORT again"
	echo 192.0.2.0/24 | ip netns exec "$NS_CLI" tee /proc/sys/net/ipv4/tcp_crab_allow >/dev/null
	rej0=$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow_rejected)
	out=$(conn third 3)
	rej=$(($(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow_rejected) - rej0))
	repl=$(kp_mib "$NS_CLI" TCPCrabTwReplaced)
	echo "# tcp_crab_allow_rejected +$rej, TCPCrabTwReplaced $repl"
	[ "$(crab_json "$out" 'j["connected"]')" = False ] && [ "$rej" -ge 1 ] && [ "$repl" = 1 ]
	log_test $? "$S not allowed: no connection, refusal counted, TIME-WAIT not replaced"
fi

crab_exit
