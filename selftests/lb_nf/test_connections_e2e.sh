#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Whole connections through the nf LB with the endpoint modules
# (crab_client.ko in the client, crab_server.ko on the servers): 300
# connections via the VIP all succeed, the peers are the DIPs (redirected),
# rr spreads them 100/100/100 and the LB saw exactly one SYN per connection
# (its counters and a capture on its interface agree), and it kept no
# conntrack entry for them although a rule in its namespace makes conntrack
# track everything there; then the random policy's picks for 150
# connections stay within a chi-square bound.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup_connections
# A ct rule makes conntrack follow every packet of the LB's namespace.
ip netns exec "$NS_LB" nft -f - <<-NFT || crab_fail "cannot install the conntrack rule"
table ip ctprobe {
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		ct state new counter
	}
}
NFT
ct_entries() {
	ip netns exec "$NS_LB" cat /proc/net/nf_conntrack 2>/dev/null | grep -c "dport=$NF_PORT "
}

crab_capture_start "$NS_LB" "$NF_DIR/lb.pcap" "tcp and dst host $VIP and dst port $NF_PORT"
# A slow emulated guest may retransmit a SYN: one more at the LB (and one
# rr step) for that connection. Counted.
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" --count 300)
crab_log "client: $out"
crab_conns_ok "$out" 300
log_test $? "300 connections via the LB succeed"
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_peers_within "$out" 100 "$retr" "${IP_SRV[1]}" "${IP_SRV[2]}" "${IP_SRV[3]}"
log_test $? "peers are the DIPs, 100 each (rr; $retr SYN retransmissions): $(crab_peers "$out")"
n=$(nf_counter syn_redirected)
d=$(nf_counter nonsyn_drop)
[ "$n" = $((300 + retr)) ] && [ "$d" = 0 ]
log_test $? "LB saw exactly one SYN per connection ($n = 300 + $retr retransmitted), no other packet ($d)"
crab_capture_stop "$NF_DIR/lb.pcap"
crab_pcap_summary --port "$NF_PORT" --filter "dst=$VIP" lb="$NF_DIR/lb.pcap"
c=${CRAB_PCAP[lb.n]} s=${CRAB_PCAP[lb.syn]}
[ "$c" = "$n" ] && [ "$s" = "$n" ]
log_test $? "capture on the LB agrees: $c packets to the VIP, $s of them SYNs"
ct=$(ct_entries)
ip netns exec "$NS_LB" test -r /proc/net/nf_conntrack ||
	crab_fail "no /proc/net/nf_conntrack in the LB's namespace"
[ "$ct" = 0 ]
log_test $? "the redirected SYNs left no conntrack entry in the LB ($ct)"

# random: the LB's picks (each SYN of 150 connections, retransmitted ones
# included: a connection whose SYN was retransmitted ends where the new
# pick sent it, so the connections' final peers are not independent
# draws, the picks are): chi-square, 2 degrees of freedom, < 18.42
# (p = 0.0001 for a fair split).
selected() { # DIP: the LB's picks of backend DIP so far (/proc/net/crab_lb)
	awk -v s="$NF_SVC" -v d="$1" '$1 == "service" { in_svc = ($2 == s) }
		in_svc && $1 == "backend" && $2 == d { print $NF }' "$(crab_ns_file "$NS_LB" crab_lb)"
}
lbctl lb nf service set "$NF_SVC" --policy random || crab_fail "service set"
sel0=() picks= total=0
for i in 1 2 3; do sel0[i]=$(selected "${IP_SRV[i]}"); done
out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" --count 150)
for i in 1 2 3; do
	d=$(($(selected "${IP_SRV[i]}") - sel0[i]))
	picks+="${picks:+ }$d" total=$((total + d))
done
spread="$(crab_peer "$out" "${IP_SRV[1]}") $(crab_peer "$out" "${IP_SRV[2]}") $(crab_peer "$out" "${IP_SRV[3]}")"
chi=$(nf_chi2 "$picks" "$total")
crab_log "random: $out; picks $picks; chi2=$((chi / 100)).$((chi % 100))"
crab_conns_ok "$out" 150 && [ "$total" -ge 150 ] && [ "$chi" -lt 1842 ]
log_test $? "random: the LB's $total picks for 150 connections ($picks; peers $spread), chi-square $((chi / 100)).$((chi % 100)) < 18.42"

crab_exit
