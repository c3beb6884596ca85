#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# IPv6 through the nf LB with the endpoint modules, as a user runs it:
# crabctl configures an IPv6 service ([VIP6]:80, three IPv6 backends) and
# connections to VIP6 go through it in each mode:
#   - capable SYNs (the client announces VIP6): whole connections complete
#     and echo data, redirected; rr spreads them over the three backends;
#     the LB counts one SYN per connection and sees nothing else;
#   - legacy SYNs, insert mode: the LB inserts the 20-byte option naming
#     VIP6, a backend echoes it, and the client, which did not announce,
#     refuses the redirect (rej_not_announced), as for IPv4;
#   - legacy SYNs, hash mode: DSR to backends holding VIP6 on loopback;
#     whole connections complete over at least two backends, every segment
#     hashed (syn_hashed, nonsyn_hashed).
# Then what an IPv6 LB must refuse: a SYN behind a fragment header and one
# behind nine destination options headers are dropped and counted
# (fragment, ipv6_ext_limit). `crabctl lb nf show` lists the service in
# the [IPV6]:PORT form with its IPv6 backends.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"
source "$(dirname "$0")/../modules/ep_lib.sh"

N=30
crab_check_tool python3
crab_has_modules || crab_skip "kernel without loadable module support"
nf_setup
crab_load_module crab_client
crab_load_module crab_server
crab_topo6_setup || crab_fail "cannot give the topology its IPv6 addresses"
crab_client_config "$NS_CLI" --announce "$VIP6/128" --allow "$CRAB_SUBNET6::/64"
crab_server_config "${NS_SRV[@]:1}"
SVC6="[$VIP6]:$NF_PORT"

# Listeners on the three servers (IPv6), accepted connections counted.
ep_hold_start cli "$NS_CLI"
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	ep_hold_start "s$i" "${NS_SRV[i]}"
done
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	[ "$(ep_hold "s$i" "listen $NF_PORT v6")" = ok ] &&
		[ "$(ep_hold "s$i" "serve $NF_PORT $EP_HOLD_DIR/acc$i")" = ok ] ||
		crab_fail "listener on server $i"
done
accepted() {
	local i out=
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		out+="$(cat "$EP_HOLD_DIR/acc$i" 2>/dev/null || echo 0) "
	done
	echo "${out% }"
}
# spread_grew BEFORE AFTER N: the accepted counts grew by N in total, on
# at least MIN servers.
spread_grew() {
	local -a b=($1) a=($2)
	local i d sum=0 used=0
	for ((i = 0; i < CRAB_NSERVERS; i++)); do
		d=$((a[i] - b[i]))
		sum=$((sum + d))
		[ "$d" -gt 0 ] && used=$((used + 1))
	done
	[ "$sum" = "$3" ] && [ "$used" -ge "$4" ]
}
c6() { nf_counter "$1" "$SVC6"; }

lbctl lb nf service add "$SVC6" --policy rr --legacy drop || crab_fail "service add $SVC6"
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	lbctl lb nf backend add "$SVC6" "${IP6_SRV[i]}" || crab_fail "backend add ${IP6_SRV[i]}"
done

# 1. Capable SYNs: redirected.
a0=$(accepted) retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
r=$(ep_hold cli "conns $VIP6 $NF_PORT $N 20")
a1=$(accepted) retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "capable: $r; accepted $a0 -> $a1; SYN retransmissions $retr; syn_redirected $(c6 syn_redirected)"
[ "$r" = "ok $N" ] && spread_grew "$a0" "$a1" "$N" 3
log_test $? "$N IPv6 connections to VIP6 complete, echo, and reach all three backends"
[ "$(c6 syn_redirected)" = $((N + retr)) ] && [ "$(c6 nonsyn_drop)" = 0 ]
log_test $? "the LB redirected one SYN per connection ($N + $retr retransmitted) and saw nothing else"

j=$(lbctl -j lb nf show)
crab_log "show: $j"
[[ $j == *"\"service\":\"$SVC6\""* ]] && [[ $j == *"\"dip\":\"${IP6_SRV[1]}\""* ]] &&
	[[ $j == *"\"dip\":\"${IP6_SRV[3]}\""* ]]
log_test $? "crabctl lb nf show lists $SVC6 with its IPv6 backends"

# 2. Legacy SYNs (the client no longer announces VIP6), insert mode.
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET6::/64"
lbctl lb nf service set "$SVC6" --legacy insert || crab_fail "service set --legacy insert"
echoed() {
	local i n=0
	for ((i = 1; i <= CRAB_NSERVERS; i++)); do
		n=$((n + $(ep_counter "${NS_SRV[i]}" synack_echoed crab_server)))
	done
	echo "$n"
}
ins0=$(c6 syn_inserted) e0=$(echoed) rej0=$(ep_counter "$NS_CLI" rej_not_announced crab_client)
p=$(ep_hold cli "connect $VIP6 $NF_PORT")
rej=$(ep_wait_counter "$NS_CLI" crab_client rej_not_announced $((rej0 + 1)) 100)
crab_log "insert: from port $p; syn_inserted $ins0 -> $(c6 syn_inserted); echoed $e0 -> $(echoed); rej_not_announced $rej0 -> $rej"
[ "$rej" -gt "$rej0" ] && [ "$(c6 syn_inserted)" -gt "$ins0" ] && [ "$(echoed)" -gt "$e0" ]
log_test $? "insert mode: the LB inserts the IPv6 option, a backend echoes it, the client refuses it (not announced)"
ep_hold cli "close $p" >/dev/null

# 3. Hash mode: DSR, the servers own VIP6 on loopback.
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	ip -n "${NS_SRV[i]}" addr add "$VIP6/128" dev lo || crab_fail "VIP6 on server $i"
done
lbctl lb nf service set "$SVC6" --legacy hash || crab_fail "service set --legacy hash"
a0=$(accepted) h0=$(c6 syn_hashed) n0=$(c6 nonsyn_hashed)
r=$(ep_hold cli "conns $VIP6 $NF_PORT $N 20")
a1=$(accepted)
crab_log "hash: $r; accepted $a0 -> $a1; syn_hashed $h0 -> $(c6 syn_hashed); nonsyn_hashed $n0 -> $(c6 nonsyn_hashed)"
[ "$r" = "ok $N" ] && spread_grew "$a0" "$a1" "$N" 2 &&
	[ "$(c6 syn_hashed)" -ge $((h0 + N)) ] && [ "$(c6 nonsyn_hashed)" -ge $((n0 + 3 * N)) ]
log_test $? "hash mode: $N IPv6 connections complete DSR over the backends, every segment hashed"

# 4. What the LB drops: a fragment header, too many extension headers.
f0=$(c6 fragment) e0=$(nf_counter ipv6_ext_limit -) s0=$(c6 syn_hashed)
lbmac=$(ip netns exec "$NS_LB" cat /sys/class/net/eth0/address) || crab_fail "the LB's MAC"
# Ethernet frames to the LB's port (the client's route to VIP6 is via it).
out=$(ip netns exec "$NS_CLI" python3 - "$IP6_CLI" "$VIP6" "$NF_PORT" "$lbmac" 2>&1 <<'EOF'
import sys
from scapy.all import Ether, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, TCP, sendp, conf
conf.verb = 0
src, dst, port, mac = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
l2 = Ether(dst=mac)
syn = TCP(sport=40001, dport=port, flags="S", seq=1)
sendp(l2 / IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(m=1, id=9) / syn, iface="eth0")
chain = IPv6(src=src, dst=dst)
for _ in range(9):
    chain = chain / IPv6ExtHdrDestOpt()
sendp(l2 / chain / TCP(sport=40002, dport=port, flags="S", seq=1), iface="eth0")
print("sent")
EOF
)
crab_log "scapy: $out"
for _ in $(seq 50); do
	[ "$(c6 fragment)" -gt "$f0" ] && [ "$(nf_counter ipv6_ext_limit -)" -gt "$e0" ] && break
	sleep 0.1
done
[ "$(c6 fragment)" = $((f0 + 1)) ] && [ "$(nf_counter ipv6_ext_limit -)" = $((e0 + 1)) ] &&
	[ "$(c6 syn_hashed)" = "$s0" ]
log_test $? "a SYN behind a fragment header and one behind 9 extension headers: dropped, counted"

crab_exit
