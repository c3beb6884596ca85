#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Firewalls and IPv6 redirects (docs/PROTOCOL.md 3.7) on the eBPF client.
# Behind a stateful IPv6 host firewall (input: ct state established,related
# accept; ct state invalid drop; neighbour discovery; policy drop)
# redirected IPv6 connections complete, each after one input-path probe:
# an ICMPv6 Packet Too Big from the server (MTU 65535, which TCP ignores)
# that conntrack finds RELATED to the connection to VIP6. A rule that drops
# traffic from one server S2 then stops the redirects to S2, whether it
# sits in a prerouting filter chain or first in the input chain: the probe
# from S2 is dropped, the SYN-ACK is refused (rejected_probe), the client
# sends nothing to S2 and its SYN retransmission finds another server.
# Without the rule S2 is used again.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

P6=8086
D=$(dirname "$0")

ep_unshare "$@"
crab_check_tool nft tcpdump
ep_setup --announce "$VIP6/128" --allow "$EP6_NET::10/124"
ep_v6_setup || crab_fail "IPv6 addresses of the topology"
ep_lb6_setup $P6 || crab_fail "the IPv6 nft LB"
S2=${IP6_SRV[2]}
for i in 1 2 3; do
	ep_helper_start "srv$i" "${NS_SRV[i]}" "$CG_SRV" "$D/ep_hold.py"
	[ "$(ep_helper "srv$i" "listen $P6 v6")" = ok ] &&
		[ "$(ep_helper "srv$i" "serve $P6 $EP_TMP/acc6-$i")" = ok ] ||
		crab_fail "IPv6 listener on server $i"
done
ep_helper_start cli "$NS_CLI" "$CG_CLI" "$D/ep_hold.py"

if ! ep_probe_expected; then
	log_test $ksft_skip "kernel $(uname -r) has no BPF netfilter programs (Linux 6.4), no input-path probe"
	crab_exit
fi
ep_probe6_attached
log_test $? "the client's IPv6 input-path probe is attached (its netfilter link pinned)"

ip netns exec "$NS_CLI" nft -f - <<-FW || crab_fail "client firewall"
	table inet crabfw6 {
		chain input {
			type filter hook input priority filter; policy drop;
			ct state established,related accept
			ct state invalid counter drop
			iifname "lo" accept
			icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		}
	}
	FW

acc6() {
	local v=0
	[ -e "$EP_TMP/acc6-$1" ] && read -r v <"$EP_TMP/acc6-$1"
	echo "${v:-0}"
}

# round N DESC: N connections to VIP6 through the round-robin LB, all
# succeed with data echoed; sets RED (redirected), PRB (probes sent) and D
# (connections accepted per server, an array).
round() {
	local n=$1 out a0 red0 prb0 i
	for i in 1 2 3; do a0[i]=$(acc6 $i); done
	red0=$(ep_stat redirected)
	prb0=$(ep_stat probes_sent)
	out=$(ep_helper cli "conns $VIP6 $P6 $n 10")
	RED=$(($(ep_stat redirected) - red0))
	PRB=$(($(ep_stat probes_sent) - prb0))
	D=()
	for i in 1 2 3; do D[i - 1]=$(($(acc6 $i) - a0[i])); done
	crab_log "$2: $out; redirected $RED, probes sent $PRB, servers ${D[*]}"
	[ "$out" = "ok $n" ] && [ "$RED" = "$n" ]
}

round 12 "stateful firewall"
rc=$?
[ "$PRB" = 12 ] && [ "${D[*]}" = "4 4 4" ] || rc=1
log_test $rc "behind a stateful firewall: 12 of 12 redirected over IPv6, one probe each, rr ${D[*]}"
inv=$(ip netns exec "$NS_CLI" nft list chain inet crabfw6 input | sed -n 's/.*invalid counter packets \([0-9]*\).*/\1/p')
[ "$inv" = 0 ]
log_test $? "no packet was conntrack-invalid ($inv)"


ip netns exec "$NS_CLI" nft -f - <<-FW || crab_fail "prerouting rule"
	table inet crabfw6_pre {
		chain pre {
			type filter hook prerouting priority filter; policy accept;
			ip6 saddr $S2 drop
		}
	}
	FW
ep_s2_blocked prerouting 6 ip6 "$S2"
ip netns exec "$NS_CLI" nft delete table inet crabfw6_pre

ip netns exec "$NS_CLI" nft insert rule inet crabfw6 input ip6 saddr "$S2" drop ||
	crab_fail "input rule"
ep_s2_blocked input 6 ip6 "$S2"
h=$(ip netns exec "$NS_CLI" nft -a list chain inet crabfw6 input | sed -n "s/.*ip6 saddr $S2 drop # handle \([0-9]*\)/\1/p")
ip netns exec "$NS_CLI" nft delete rule inet crabfw6 input handle "$h"

round 6 "rule removed"
[ "${D[1]}" -gt 0 ]
log_test $? "without the rule, S2 is used again (servers ${D[*]})"

crab_exit
