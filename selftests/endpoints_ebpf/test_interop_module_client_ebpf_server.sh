#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Interoperability: the module client (crab_client.ko) with the eBPF server
# (sock_ops in the servers' cgroup) on the three backends, through the
# netfilter LB (crab_lb_nf.ko). $N connections to the VIP succeed with data
# echoed; the eBPF servers echoed the option and the module re-keyed every
# socket (getpeername() = the DIPs, rr split evenly); the LB saw one packet
# per connection.

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
log_test $? "$N connections crab_client.ko -> netfilter LB -> eBPF server, data echoed"

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

crab_exit
