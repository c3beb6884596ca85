#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Firewalls and connection tracking (docs/PROTOCOL.md 3.7) on the eBPF
# client. Behind the usual stateful host firewall (input: ct state
# established,related accept; ct state invalid drop; policy drop) redirected
# connections complete without a SYN retransmission: tc translates the
# redirecting SYN-ACK into the reply of the connection to the VIP before
# conntrack sees it. A rule that drops traffic from one server S2 then
# stops the redirects to S2, whether it sits in a prerouting filter chain
# or first in the input chain: the input-path probe from S2 (an ICMP error
# RELATED to the connection to the VIP) is dropped by the rule, the
# SYN-ACK is refused (rejected_probe), the client sends nothing to S2 and
# its SYN retransmission finds another server. Without the rule S2 is used
# again. (What the probe cannot do, see endpoints/ebpf/README.md: rules
# see the VIP, not S, on a connection already redirected.)

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool nft tcpdump
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
S2=${IP_SRV[2]}

ip netns exec "$NS_CLI" nft -f - <<-EOF || crab_fail "client firewall"
table inet crabfw {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid counter drop
		iifname "lo" accept
	}
}
EOF

# round N DESC: N connections to the VIP through the rr LB, all succeed with
# data echoed; sets RETR (client SYN retransmissions), RED (redirected),
# D (completions per server, array).
round() {
	local n=$1 out o0 o1 r0 red0 i
	read -r -a o0 <<<"$(ep_opens)"
	r0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
	red0=$(ep_stat redirected)
	out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
		--port "$EP_PORT" --count "$n" --timeout 10 --json)
	read -r -a o1 <<<"$(ep_opens)"
	RETR=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - r0))
	RED=$(($(ep_stat redirected) - red0))
	D=()
	for i in 0 1 2; do D[i]=$((o1[i] - o0[i])); done
	crab_log "$2: ${out:0:160}; SYN retransmissions $RETR, redirected $RED, servers ${D[*]}"
	[ "$(crab_json "$out" "j['ok']")" = "$n" ] && [ "$RED" = "$n" ]
}

round 30 "stateful firewall"
rc=$?
[ "$RETR" = 0 ] && [ "${D[*]}" = "10 10 10" ] || rc=1
log_test $rc "behind a stateful firewall: 30 of 30 redirected, no SYN retransmission, rr ${D[*]}"
inv=$(ip netns exec "$NS_CLI" nft list chain inet crabfw input | sed -n 's/.*invalid counter packets \([0-9]*\).*/\1/p')
[ "$inv" = 0 ]
log_test $? "no packet was conntrack-invalid ($inv)"


if ! ep_probe_expected; then
	log_test $ksft_skip "rules on S: kernel $(uname -r) has no BPF netfilter programs (Linux 6.4), no input-path probe"
	crab_exit
fi
ep_probe_attached
log_test $? "the client's input-path probe is attached (netfilter link pinned)"

ip netns exec "$NS_CLI" nft -f - <<-EOF || crab_fail "prerouting rule"
table inet crabfw_pre {
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		ip saddr $S2 drop
	}
}
EOF
ep_s2_blocked prerouting 6 ip "$S2"
ip netns exec "$NS_CLI" nft delete table inet crabfw_pre

ip netns exec "$NS_CLI" nft insert rule inet crabfw input ip saddr "$S2" drop ||
	crab_fail "input rule"
ep_s2_blocked input 6 ip "$S2"
h=$(ip netns exec "$NS_CLI" nft -a list chain inet crabfw input | sed -n "s/.*ip saddr $S2 drop # handle \([0-9]*\)/\1/p")
ip netns exec "$NS_CLI" nft delete rule inet crabfw input handle "$h"

round 6 "rule removed"
[ "${D[1]}" -gt 0 ]
log_test $? "without the rule, S2 is used again (servers ${D[*]})"

crab_exit
