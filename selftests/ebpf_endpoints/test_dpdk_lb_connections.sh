#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Whole TCP connections through the DPDK LB: crab-lb-dpdk (one worker
# lcore, net_af_packet on the LB's veth) in front of three servers, eBPF
# endpoints on the client and the servers (this host's kernel, no modules):
#   1. $N (90) connections to the VIP succeed with their data echoed, every
#      one redirected by the eBPF client; the LB counted one SYN per
#      connection (plus the client's SYN retransmissions) and no other
#      packet of the service; one worker means one rr position, so the
#      servers completed exactly N/3 each (within the retransmissions;
#      with LBD_WORKERS=W, rr is per worker: within W-1 more, and every
#      worker received packets);
#   2. the client's maps are empty again after the connections close;
#   3. a backend removed through crabctl (telemetry) while 30 redirected
#      connections are open: all keep exchanging data, 30 new connections
#      avoid it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

N=${EP_CONNS:-90}
H=30
SVC=$VIP:$EP_PORT

ep_unshare "$@"
crab_check_tool ethtool
EP_LB=dpdk
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"

client() {
	ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port "$EP_PORT" "$@"
}
opens() {
	local i
	for i in 1 2 3; do printf '%s ' "$(ep_server_opens $i)"; done
}

o0=($(opens))
red0=$(ep_stat redirected)
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
syn0=$(ep_dpdk_counter syn_redirected)
nsd0=$(ep_dpdk_counter nonsyn_drop)

# 1. $N connections, rr
out=$(client --count $N --timeout 10 --deadline 400)
crab_log "client: ${out:0:300}"
[ "$(crab_json "$out" 'j["ok"]')" = $N ] && [ "$(crab_json "$out" 'j["failed"]')" = 0 ]
log_test $? "$N connections via crab-lb-dpdk succeed, data echoed"

retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
red=$(($(ep_stat redirected) - red0))
[ "$red" = $N ] && [ "$(crab_json "$out" 'j["peers"]')" = "{'$VIP': $N}" ]
log_test $? "every connection redirected by the eBPF client ($red), getpeername() = VIP"

syn=$(($(ep_dpdk_counter syn_redirected) - syn0))
nsd=$(($(ep_dpdk_counter nonsyn_drop) - nsd0))
crab_log "LB: syn_redirected +$syn nonsyn_drop +$nsd; client SYN retransmissions $retr"
[ "$syn" = $((N + retr)) ] && [ "$nsd" = 0 ]
log_test $? "LB saw one packet per connection: $syn SYNs = $N + $retr retransmitted, $nsd others"

o1=($(opens))
W=${LBD_WORKERS:-1}
tol=$((retr + W - 1))
ok=0
for i in 0 1 2; do
	d=$((o1[i] - o0[i]))
	[ $((d - N / 3)) -le "$tol" ] && [ $((N / 3 - d)) -le "$tol" ] || ok=1
done
log_test $ok "rr over $W worker(s): servers completed $((o1[0] - o0[0])) $((o1[1] - o0[1])) $((o1[2] - o0[2])) (N/3 = $((N / 3)) within $tol)"
if [ "$W" -gt 1 ]; then
	wrx=$("$CRABCTL" -j lb dpdk --prefix "$PREFIX" stats | python3 -c '
import json, sys
print(" ".join(str(x) for x in json.load(sys.stdin)["global"]["worker_rx"]))')
	n=0
	for x in $wrx; do [ "$x" -gt 0 ] && n=$((n + 1)); done
	[ "$n" = "$W" ]
	log_test $? "each of the $W workers received packets (worker_rx $wrx)"
fi

# 2. Maps drain once the connections are closed.
for i in $(seq 1 300); do
	p=$(ep_stat maps.pending) fo=$(ep_stat maps.flows_out) fi=$(ep_stat maps.flows_in)
	[ "$p$fo$fi" = 000 ] && break
	sleep 0.1
done
[ "$p$fo$fi" = 000 ]
log_test $? "client maps are empty after close (pending=$p flows_out=$fo flows_in=$fi)"

# 3. Remove a backend while $H redirected connections are open.
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
rm -f "$EP_TMP/ready"
client --count $H --hold --rounds 5 --interval 3 --timeout 10 --deadline 300 \
	--ready "$EP_TMP/ready" >"$EP_TMP/hold.json" &
hpid=$!
crab_defer "kill $hpid"
for i in $(seq 600); do
	[ -e "$EP_TMP/ready" ] && break
	kill -0 $hpid 2>/dev/null || break
	sleep 0.2
done
[ -e "$EP_TMP/ready" ] || crab_fail "the $H held connections did not come up: $(cat "$EP_TMP/hold.json")"
on2=$(ip netns exec "${NS_SRV[2]}" ss -Htn state established "sport = :$EP_PORT" | wc -l)
"$CRABCTL" lb dpdk --prefix "$PREFIX" backend del "$SVC" "${IP_SRV[2]}"
log_test $? "backend ${IP_SRV[2]} removed with $on2 of $H redirected connections open to it"

o2=($(opens))
out=$(client --count 30 --timeout 10 --deadline 300)
o3=($(opens))
new1=$((o3[0] - o2[0])) new2=$((o3[1] - o2[1])) new3=$((o3[2] - o2[2]))
crab_log "new connections: ${out:0:200}; per server: $new1 $new2 $new3"
[ "$(crab_json "$out" 'j["ok"]')" = 30 ] && [ "$new2" = 0 ] && [ $((new1 + new3)) = 30 ]
log_test $? "30 new connections avoid the removed backend ($new1/$new3)"

wait $hpid
hrc=$?
hold=$(cat "$EP_TMP/hold.json")
crab_log "held connections: ${hold:0:300}"
[ $hrc = 0 ] && [ "$(crab_json "$hold" 'j["ok"]')" = $H ] &&
	[ "$(crab_json "$hold" 'j["failed"]')" = 0 ] && [ "$on2" -gt 0 ]
log_test $? "all $H open connections, $on2 of them to the removed backend, kept exchanging data"

crab_exit
