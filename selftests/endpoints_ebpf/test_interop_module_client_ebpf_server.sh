#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Interoperability: the module client (crab_client.ko) with the eBPF server
# (sock_ops in the servers' cgroup) on the three backends, through the
# nf LB (crab_lb_nf.ko). $N connections to the VIP succeed with data
# echoed; the eBPF servers echoed the option and the module re-keyed every
# socket (getpeername() = the DIPs, rr split evenly); the LB saw one packet
# per connection. Then the same pair over IPv6, through the IPv6 nft LB
# (SYNs only, every other segment to VIP6 dropped).

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

N=${EP_CONNS:-30}

ep_unshare "$@"
crab_has_modules || crab_skip "kernel without loadable module support"
EP_LB=nf EP_CLIENT=module
ep_setup

r0=$(ep_mod_counter "$NS_CLI" crab_client redirected)
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count $N --timeout 10 --deadline 300)
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "client: ${out:0:300}"
[ "$(crab_json "$out" 'j["ok"]')" = $N ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
log_test $? "$N connections crab_client.ko -> nf LB -> eBPF server, data echoed"

red=$(($(ep_mod_counter "$NS_CLI" crab_client redirected) - r0))
echoed=$(ep_stat echoed)
crab_log "eBPF server echoed=$echoed; crab_client redirected +$red; SYN retransmissions $retr"
[ "$echoed" -ge $N ] && [ "$red" = $N ]
log_test $? "the eBPF servers' echoed option redirected every connection ($red)"

# The module re-keys the socket: getpeername() is the DIP.
[ "$(crab_json "$out" "sorted(j['peers'])")" = "['${IP_SRV[1]}', '${IP_SRV[2]}', '${IP_SRV[3]}']" ] &&
	[ "$(crab_json "$out" "int(all(abs(v - $N // 3) <= $retr for v in j['peers'].values()))")" = 1 ]
log_test $? "peers are the DIPs, rr split within $retr SYN retransmissions: $(crab_json "$out" 'sorted(j["peers"].values())')"

syn=$(ep_nf_counter syn_redirected)
nsd=$(ep_nf_counter nonsyn_drop)
[ "$syn" = $((N + retr)) ] && [ "$nsd" = 0 ]
log_test $? "LB saw one packet per connection: $syn SYNs ($retr retransmitted), $nsd others"

# IPv6: the module announces and re-keys, the eBPF servers echo the
# 20-byte form.
P6=8086 N6=${EP_CONNS6:-15}
ep_v6_setup || crab_fail "IPv6 addresses of the topology"
ep_lb6_setup $P6 || crab_fail "the IPv6 nft LB"
crab_client_config "$NS_CLI" --announce "$VIP/32,$VIP6/128" --allow "$CRAB_SUBNET.0/24,$EP6_NET::/64"
for i in 1 2 3; do
	ep_helper_start "srv$i" "${NS_SRV[i]}" "$CG_SRV" "$(dirname "$0")/ep_hold.py"
done
ep_helper_start cli "$NS_CLI" "" "$(dirname "$0")/ep_hold.py"
for i in 1 2 3; do
	[ "$(ep_helper "srv$i" "listen $P6 v6")" = ok ] &&
		[ "$(ep_helper "srv$i" "serve $P6 $EP_TMP/acc6-$i")" = ok ] ||
		crab_fail "IPv6 listener on server $i"
done
r0=$(ep_mod_counter "$NS_CLI" crab_client redirected)
e0=$(ep_stat echoed)
r=$(ep_helper cli "conns $VIP6 $P6 $N6 10")
p=$(ep_helper cli "connect $VIP6 $P6")
up=$(ep_helper cli "wait $p 30")
red=$(($(ep_mod_counter "$NS_CLI" crab_client redirected) - r0))
echoed=$(($(ep_stat echoed) - e0))
crab_log "IPv6: conns $r; one more $up; redirected +$red, eBPF echoed +$echoed; LB6 syn $(ep_lb6_count syn) other $(ep_lb6_count other)"
[ "$r" = "ok $N6" ] && [ "$red" = $((N6 + 1)) ] && [ "$echoed" -ge $((N6 + 1)) ] &&
	[ "$(ep_lb6_count other)" = 0 ] &&
	[[ $up == "up ${IP6_SRV[1]}" || $up == "up ${IP6_SRV[2]}" || $up == "up ${IP6_SRV[3]}" ]]
log_test $? "IPv6: $N6 connections crab_client.ko -> IPv6 LB -> eBPF server, redirected to a DIP, only SYNs via the LB"

crab_exit
