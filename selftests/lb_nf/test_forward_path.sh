#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# What the nf LB forwards leaves the way the kernel forwards
# (ip_forward()): hash mode (DSR, sent from the LB's hook) and insert mode
# (rewritten, then routed by the stack) alike. The LB's route to the
# backends has an MTU of 1000 below the device's 1500; an fq qdisc on the
# LB's port drops packets whose timestamp lies beyond its horizon, and a
# socket asking for receive timestamps makes the kernel stamp every packet
# it receives; nft chains in FORWARD and POST_ROUTING count and drop. One
# crab-nettest script on the client sends everything and waits for the
# ICMP answers; tcpdump on the servers sees what was forwarded.
#   - TTL 1: dropped, ICMP time exceeded to the client; TTL 2: forwarded
#     with TTL 1
#   - DF and longer than the route's MTU: dropped, ICMP fragmentation needed
#     naming 1000 (the route's MTU, not the device's); without DF: sent on
#     in fragments; an option inserted into a SYN that then no longer fits
#     (994 -> 1002 bytes): the same ICMP
#   - the receive timestamp cleared: fq sends the packets on
#   - the FORWARD hook's drop rule stops a flow, POST_ROUTING counts one
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

crab_check_tool nft tc
nf_setup
nf_service --policy rr --legacy hash || crab_fail "cannot add the hash-mode service"
INS=$VIP:81
lbctl lb nf service add "$INS" --policy rr --legacy insert || crab_fail "cannot add the insert service"
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	lbctl lb nf backend add "$INS" "${IP_SRV[i]}" || crab_fail "backend add"
done
ip -n "$NS_LB" route replace "$CRAB_SUBNET.0/24" dev eth0 proto kernel scope link src "$IP_LB" mtu 1000 ||
	crab_fail "cannot set the route MTU"
ip netns exec "$NS_LB" tc qdisc replace dev eth0 root fq horizon 10s horizon_drop ||
	crab_fail "cannot put fq on the LB's port"
ip netns exec "$NS_LB" nft -f - <<EOF || crab_fail "cannot add the nft chains"
table ip crab_fwd {
	chain crab_forward {
		type filter hook forward priority 0; policy accept;
		tcp sport 30030 counter drop
		tcp sport 30031 counter
	}
	chain crab_postrouting {
		type filter hook postrouting priority 0; policy accept;
		tcp sport 30031 counter
	}
}
EOF

nf_capture_start
ip netns exec "$NS_CLI" "$CRAB_NETTEST" script >"$NF_DIR/script.out" 2>&1 <<EOF
capture dev=eth0 tstamp
send dst=$VIP dport=80 sport=30000 flags=A opt=none ttl=1
expect timeout=10 dir=in src=$IP_LB icmp_type=11 icmp_code=0
send dst=$VIP dport=80 sport=30001 flags=A opt=none ttl=2
send dst=$VIP dport=80 sport=30010 flags=A opt=none df=1 payload=1000
expect timeout=10 dir=in src=$IP_LB icmp_type=3 icmp_code=4 icmp_mtu=1000
send dst=$VIP dport=80 sport=30011 flags=A opt=none df=1 payload=900
send dst=$VIP dport=80 sport=30012 flags=A opt=none df=0 payload=1000
send dst=$VIP dport=81 sport=30040 flags=S opt=mss:1460 df=1 payload=950
expect timeout=10 dir=in src=$IP_LB icmp_type=3 icmp_code=4 icmp_mtu=1000
send dst=$VIP dport=81 sport=30041 flags=S opt=mss:1460 df=1 payload=900
send dst=$VIP dport=80 sport=30020 flags=A opt=none count=3
send dst=$VIP dport=80 sport=30030 flags=A opt=none
send dst=$VIP dport=80 sport=30031 flags=A opt=none
EOF
script_rc=$?
nf_capture_stop
sed 's/^/# client: /' "$NF_DIR/script.out"
pk=$("$CRAB_NETTEST" pcap "srv1=$NF_DIR/srv1.pcap" "srv2=$NF_DIR/srv2.pcap" "srv3=$NF_DIR/srv3.pcap")

# seen SPORT [PATTERN]: how many captured packets of source port SPORT
# (whose line also holds PATTERN) reached a server.
seen() {
	local line n=0
	while read -r line; do
		[[ $line == *" sport=$1 "* && $line == *"${2:-}"* ]] && n=$((n + 1))
	done <<<"$pk"
	echo "$n"
}
crab_log "tx_error $(nf_counter tx_error), nonsyn_hashed $(nf_counter nonsyn_hashed)"
crab_log "fq on the LB's port: $(ip netns exec "$NS_LB" tc -s qdisc show dev eth0 | tr -s ' \n' ' ')"

# The script's verdicts on its three expects, in order: "ok" or "FAIL".
mapfile -t res < <(sed -n 's/^\(ok\|FAIL\) expect.*/\1/p' "$NF_DIR/script.out")
[ "${res[0]}" = ok ] && [ "$(seen 30000)" = 0 ]
log_test $? "hash mode, TTL 1: not forwarded, ICMP time exceeded to the client"
[ "$(seen 30001 ' ttl=1 ')" = 1 ]
log_test $? "hash mode, TTL 2: forwarded with TTL 1"
[ "${res[1]}" = ok ] && [ "$(seen 30010)" = 0 ]
log_test $? "hash mode, DF over the route MTU: not forwarded, ICMP fragmentation needed with MTU 1000"
[ "$(seen 30011 ' iplen=940 ')" = 1 ] && [ "$(seen 30012 ' mf=1 ')" = 1 ] && [ "$(seen 30012 ' mf=0 ')" = 0 ]
log_test $? "hash mode: DF within the route MTU forwarded whole, without DF forwarded in fragments"
[ "${res[2]}" = ok ] && [ "$(seen 30040)" = 0 ] && [ "$(seen 30041 ' iplen=952 ')" = 1 ]
log_test $? "insert mode: a SYN the option makes too big (DF) gets fragmentation needed (MTU 1000), one that fits goes on"
[ "$(seen 30020)" = 1 ] && [ "$(seen 30021)" = 1 ] && [ "$(seen 30022)" = 1 ]
log_test $? "hash mode with receive timestamps and fq on the port: the timestamp cleared, 3 of 3 sent on"
counts=$(ip netns exec "$NS_LB" nft list table ip crab_fwd | grep -o 'packets [0-9]*' | tr '\n' ' ')
crab_log "nft counters (forward drop, forward, postrouting): $counts"
[ "$(seen 30030)" = 0 ] && [ "$(seen 30031)" = 1 ] && [ "$counts" = "packets 1 packets 1 packets 1 " ]
log_test $? "hash mode: the FORWARD hook's drop rule stops a flow, FORWARD and POST_ROUTING see the other"
[ "$(nf_counter tx_error)" = 2 ]
log_test $? "hash mode: the packet whose TTL expired and the one too big counted as tx_error (2)"
[ "$script_rc" = 0 ]
log_test $? "every expected ICMP reached the client (crab-nettest script exit $script_rc)"

crab_exit
