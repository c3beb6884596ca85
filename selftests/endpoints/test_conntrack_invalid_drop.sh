#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# A client with conntrack and the common "ct state invalid drop" rule
# (input and output) still completes redirected connections: crab_client
# marks the redirected SYN-ACK untracked (conntrack would call a SYN-ACK
# from the DIP, for an entry keyed on the VIP, INVALID), and the client's
# ACK opens the flow's entry by mid-stream pickup, so the rest of the
# connection is tracked ESTABLISHED. 30 connections through a stateless
# LB succeed, the invalid-drop counters stay 0, the entries to the DIPs
# are ESTABLISHED/ASSURED. That pickup needs nf_conntrack_tcp_loose=1
# (the default); with 0, crab_client leaves the SYN-ACK to conntrack, the
# rule drops it, and each connection completes after one SYN
# retransmission to the DIP. (Without the untracking, every connection
# paid that retransmission: the rule dropped 31 SYN-ACKs for 30.)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8106
N=30
crab_require_root
crab_check_tool ip tc nft python3
ep_load_module crab_server
ep_load_module crab_client
modprobe nf_conntrack 2>/dev/null
crab_topo_setup 2
TMP=$(mktemp -d)
crab_defer "rm -rf $TMP"
crab_echo_servers $PORT
ep_tc_lb $PORT "${IP_SRV[1]}" "${IP_SRV[2]}" || crab_fail "cannot install the tc LB"
ip netns exec "$NS_CLI" nft -f - <<NFT || crab_skip "nft with conntrack expressions unavailable"
table inet crab_ct {
	counter inv_in { }
	counter inv_out { }
	chain in {
		type filter hook input priority filter; policy accept;
		ct state invalid counter name "inv_in" drop
	}
	chain out {
		type filter hook output priority filter; policy accept;
		ct state invalid counter name "inv_out" drop
	}
}
NFT
inv() {  # inv in|out: packets the rule dropped
	ip netns exec "$NS_CLI" nft -j list counter inet crab_ct "inv_$1" | python3 -c '
import json, sys
print([o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o][0])'
}
conns() {  # conns N TIMEOUT DEADLINE: the client's JSON report
	ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
		--count "$1" --timeout "$2" --deadline "$3" --json
}

loose=$(ip netns exec "$NS_CLI" sysctl -n net.netfilter.nf_conntrack_tcp_loose)
red0=$(ep_counter "$NS_CLI" redirected crab_client)
out=$(conns $N 5 180)
echo "# client (nf_conntrack_tcp_loose=$loose): ${out:0:300}"
red=$(($(ep_counter "$NS_CLI" redirected crab_client) - red0))
[ "$(crab_json "$out" 'j["ok"]')" = $N ] && [ "$red" = $N ] &&
	[ "$(crab_json "$out" 'sorted(j["peers"])')" = "['${IP_SRV[1]}', '${IP_SRV[2]}']" ]
log_test $? "$N redirected connections succeed with ct state invalid drop ($red redirected)"
[ "$(inv in)" = 0 ] && [ "$(inv out)" = 0 ]
log_test $? "the invalid-drop rules dropped nothing (in $(inv in), out $(inv out))"

# The redirected flows are tracked: held connections show ESTABLISHED,
# ASSURED entries to the DIPs (conntrack's table of the client's netns).
# The client holds its connections until told to stop; conntrack's table
# is polled (deadline 120 s: a python start in a loaded TCG guest takes
# seconds) until both show ESTABLISHED, ASSURED or the client ends.
ct_est() {
	grep -E "dport=$PORT" "$TMP/ct.txt" | grep -E "dst=(${IP_SRV[1]}|${IP_SRV[2]}) " |
		grep -c 'ESTABLISHED.*ASSURED'
}
rm -f "$TMP/ready" "$TMP/stop"
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT --count 2 \
	--hold --rounds 120 --interval 1 --ready "$TMP/ready" --stop "$TMP/stop" --json 2>&1 &
	cli=$!
	end=$((SECONDS + 120))
	: >"$TMP/ct.txt"
	while [ $SECONDS -lt $end ] && kill -0 $cli 2>/dev/null; do
		if [ -e "$TMP/ready" ]; then
			ip netns exec "$NS_CLI" cat /proc/net/nf_conntrack 2>/dev/null >"$TMP/ct.txt"
			{ [ ! -s "$TMP/ct.txt" ] || [ "$(ct_est)" -ge 2 ]; } && break
		fi
		sleep 0.5
	done
	touch "$TMP/stop"
	wait $cli)
est=$(ct_est)
sed 's/^/# ct: /' "$TMP/ct.txt" | grep "dport=$PORT" | head -4
if [ -s "$TMP/ct.txt" ]; then
	[ "$est" -ge 2 ] && [ "$(crab_json "$out" 'j["ok"]')" = 2 ]
	log_test $? "held redirected connections are ESTABLISHED, ASSURED in conntrack ($est entries)"
else
	crab_log "no /proc/net/nf_conntrack on this kernel: entry states not checked"
fi

# Without mid-stream pickup (nf_conntrack_tcp_loose=0) the client's first
# ACK to the DIP would be INVALID: crab_client then leaves the SYN-ACK to
# conntrack, the rule drops it, and the re-keyed socket's SYN
# retransmission to the DIP opens a proper entry: connections complete,
# one retransmission (about 1 s) later each.
ip netns exec "$NS_CLI" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
in0=$(inv in)
out=$(conns 3 5 60)
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
echo "# client (nf_conntrack_tcp_loose=0): ${out:0:300}; SYN retransmissions $retr"
[ "$(crab_json "$out" 'j["ok"]')" = 3 ] && [ "$retr" -ge 3 ] && [ $(($(inv in) - in0)) -ge 3 ] && [ "$(inv out)" = 0 ]
log_test $? "with nf_conntrack_tcp_loose=0 connections complete after a SYN retransmission each ($retr; SYN-ACKs dropped $(($(inv in) - in0)))"
ip netns exec "$NS_CLI" sysctl -qw net.netfilter.nf_conntrack_tcp_loose="$loose"

crab_exit
