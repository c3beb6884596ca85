#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Path-MTU discovery on a redirected connection. The LB sends the SYNs to a
# server FAR behind a router R whose link to FAR has an MTU of 1280 while
# both ends use 1500: the client learns of the bottleneck only from R's
# ICMP "fragmentation needed", which quotes a segment to FAR. The eBPF
# client rewrites such ICMP errors to quote the connection to the VIP (the
# one its socket knows), so TCP lowers its segment size: a 1 MB upload
# completes, the PMTU 1280 is cached for the VIP, and the rewrite is
# counted. (Without it the upload stalls: a PMTU black hole.)
#
#   client 198.18.0.2 --br0-- R 198.18.0.5 ==(mtu 1280)== FAR 198.19.0.2
#   (VIP via the rr LB, whose backend is FAR; FAR answers via R)

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

FAR=198.19.0.2
IP_R=$CRAB_SUBNET.5
ep_unshare "$@"
EP_RR_DIPS="$FAR $FAR $FAR"
ep_setup --announce "$VIP/32" --allow "198.19.0.0/24"

crab_add_host R "$IP_R"
crab_ns_add "crab-far-$CRAB_SFX"
NS_FAR=crab-far-$CRAB_SFX
ip link add low netns "$NS_R" type veth peer name eth0 netns "$NS_FAR" || crab_fail "veth R-FAR"
ip -n "$NS_R" addr add 198.19.0.1/24 dev low
ip -n "$NS_R" link set low mtu 1280 up
ip -n "$NS_FAR" addr add "$FAR/24" dev eth0
ip -n "$NS_FAR" link set eth0 up
ip -n "$NS_FAR" route add default via 198.19.0.1
ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1
ip -n "$NS_CLI" route add 198.19.0.0/24 via "$IP_R"
ip -n "$NS_LB" route add 198.19.0.0/24 via "$IP_R"

ep_helper_start srv "$NS_FAR" "$CG_SRV" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
[ "$(ep_helper srv "listen $EP_PORT")" = ok ] && [ "$(ep_helper srv "accept $EP_PORT 30 sink")" = ok ] ||
	crab_fail "sink on FAR"

i0=$(ep_stat icmp_rewritten)
p=$(ep_helper hold "connect $VIP $EP_PORT")
w=$(ep_helper hold "wait $p 5")
[ "$w" = "up $VIP" ] || crab_fail "connection to the VIP: $w"
[ "$(ep_stat redirected)" = 1 ]
log_test $? "the connection to the VIP is redirected to FAR (behind R)"

t0=$(date +%s%N)
b=$(ep_helper hold "bulk $p 1000000 10")
t1=$(date +%s%N)
crab_log "upload: $b in $(((t1 - t0) / 1000000)) ms; icmp_rewritten $i0 -> $(ep_stat icmp_rewritten)"
[ "$b" = "ok 1000000" ]
log_test $? "a 1 MB upload over the 1280-byte bottleneck completes"
[ "$(ep_stat icmp_rewritten)" -gt "$i0" ]
log_test $? "R's 'fragmentation needed' was rewritten to quote the connection to the VIP"
route=$(ip -n "$NS_CLI" route get "$VIP")
crab_log "route to the VIP: $(echo "$route" | tr '\n' ' ')"
echo "$route" | grep -q "mtu 1280"
log_test $? "the client cached the path MTU 1280 for the VIP"

crab_exit
