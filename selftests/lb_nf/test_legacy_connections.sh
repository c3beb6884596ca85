#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Legacy clients over real TCP connections through the nf LB, per
# legacy-SYN mode (docs/PROTOCOL.md 3.2, 3.4); test_legacy_modes.sh checks the same
# modes packet by packet.
#   Client without the client module:
#   - drop: connections time out, the SYNs are counted (syn_legacy_drop);
#   - insert: the LB adds the option, a server echoes it, and the client's
#     stack, which knows no redirect, answers the DIP's SYN-ACK with RST
#     (seen in a capture on the client): no connection;
#   - hash: DSR to servers owning the VIP on their loopback; 30 connections
#     echo their data with the VIP as peer, spread over the three servers
#     (their own PassiveOpens), every packet of them through the LB.
#   Client with the module but not announcing to the VIP:
#   - insert: the redirect is refused as not announced (rej_not_announced).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

crab_has_modules || crab_skip "kernel without loadable module support"
grep -q '^crab_client ' /proc/modules &&
	crab_missing "crab_client is loaded already (left by an earlier test? this test needs a client without it first)"
nf_setup
crab_load_module crab_server
crab_server_config "${NS_SRV[@]:1}"
nf_service --policy rr --legacy drop || crab_fail "service add"
crab_echo_servers "$NF_PORT"

client() {
	ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" "$@"
}
# Tcp PassiveOpens of a namespace: connections its stack accepted.
passive_opens() {
	crab_snmp "$1" Tcp PassiveOpens
}
# The servers' synack_echoed, summed.
echoed() {
	local i n=0
	for i in 1 2 3; do
		n=$((n + $(crab_proc_counter "${NS_SRV[i]}" crab_server synack_echoed)))
	done
	echo $n
}

# drop
d0=$(nf_counter syn_legacy_drop)
out=$(client --count 3 --timeout 3 --deadline 60)
d=$(($(nf_counter syn_legacy_drop) - d0))
crab_log "drop: ${out:0:200}; syn_legacy_drop +$d"
[ "$(crab_jnum "$out" ok)" = 0 ] && [ "$d" -ge 3 ] && [ "$(nf_counter syn_redirected)" = 0 ]
log_test $? "legacy drop: 3 connections refused, their $d SYNs dropped and counted"

# insert, no client module
lbctl lb nf service set "$NF_SVC" --legacy insert || crab_fail "service set --legacy insert"
e0=$(echoed)
crab_capture_start "$NS_CLI" "$NF_DIR/cli.pcap" "tcp port $NF_PORT"
out=$(client --count 2 --timeout 3 --deadline 60)
crab_capture_stop "$NF_DIR/cli.pcap"
e1=$(echoed)
ins=$(nf_counter syn_inserted)
# From the client's capture: SYN-ACKs from the DIPs (with the option
# naming the VIP), and the client's RSTs to them.
synack=0 synack_opt=0 rst=0
while read -r line; do
	[[ $line =~ \ src=([0-9.]+)\ dst=([0-9.]+)\ .*\ flags=([A-Z.]+)\ .*\ opt=([^ ]+) ]] || continue
	src=${BASH_REMATCH[1]} dst=${BASH_REMATCH[2]} fl=${BASH_REMATCH[3]} opt=${BASH_REMATCH[4]}
	if [[ " ${IP_SRV[*]} " == *" $src "* ]] && [[ $fl == *S* && $fl == *A* ]]; then
		synack=$((synack + 1))
		[ "$opt" = "$VIP" ] && synack_opt=$((synack_opt + 1))
	fi
	[[ " ${IP_SRV[*]} " == *" $dst "* ]] && [[ $fl == *R* ]] && rst=$((rst + 1))
done < <("$CRAB_NETTEST" pcap "$NF_DIR/cli.pcap")
crab_log "insert (no module): ${out:0:200}; syn_inserted=$ins, servers echoed +$((e1 - e0)); client capture: $synack SYN-ACKs from DIPs ($synack_opt with the option), $rst RSTs to DIPs"
[ "$ins" -ge 2 ] && [ $((e1 - e0)) -ge 2 ] && [ "$synack_opt" -ge 2 ]
log_test $? "legacy insert: option added by the LB ($ins), echoed by the servers in SYN-ACKs from the DIPs"
[ "$(crab_jnum "$out" ok)" = 0 ] && [ "$rst" -ge 2 ] && [ "$rst" -ge "$synack" ]
log_test $? "legacy insert: a client without the module answers each SYN-ACK from a DIP with RST ($rst), no connection"

# hash, no client module: DSR
crab_servers_vip_on_lo
lbctl lb nf service set "$NF_SVC" --legacy hash || crab_fail "service set --legacy hash"
for i in 1 2 3; do po0[i]=$(passive_opens "${NS_SRV[i]}"); done
sh0=$(nf_counter syn_hashed)
nh0=$(nf_counter nonsyn_hashed)
N=30
out=$(client --count $N --size 1000 --timeout 10 --deadline 300)
crab_log "hash: ${out:0:300}"
crab_conns_ok "$out" $N && [ "$(crab_peers "$out")" = "$VIP:$N" ]
log_test $? "legacy hash: $N connections echo their data, DSR (peer stays the VIP)"
spread=() sum=0 all=1
for i in 1 2 3; do
	n=$(($(passive_opens "${NS_SRV[i]}") - po0[i]))
	spread+=("$n")
	sum=$((sum + n))
	[ "$n" -gt 0 ] || all=0
done
crab_log "hash: connections accepted per server ${spread[*]}"
# Each server gets a flow with probability 1 - 3 (2/3)^30 > 0.9999.
[ $sum = $N ] && [ $all = 1 ]
log_test $? "legacy hash: the hash spreads them over all three servers (${spread[*]})"
sh=$(($(nf_counter syn_hashed) - sh0))
nh=$(($(nf_counter nonsyn_hashed) - nh0))
crab_log "hash: syn_hashed +$sh nonsyn_hashed +$nh"
# Each connection: its SYN, then at least the handshake ACK, data and FIN;
# a SYN retransmitted on a slow emulated guest is hashed again.
[ "$sh" -ge $N ] && [ "$nh" -ge $((3 * N)) ]
log_test $? "legacy hash: every packet of the flows through the LB ($sh SYNs, $nh others)"

# insert, client module loaded, announce off for the VIP
crab_load_module crab_client
crab_client_config "$NS_CLI" --announce "$CRAB_SUBNET.0/24" --allow "$CRAB_SUBNET.0/24"
lbctl lb nf service set "$NF_SVC" --legacy insert || crab_fail "service set --legacy insert"
rej0=$(crab_proc_counter "$NS_CLI" crab_client rej_not_announced)
ins0=$(nf_counter syn_inserted)
out=$(client --count 2 --timeout 3 --deadline 60)
rej=$(($(crab_proc_counter "$NS_CLI" crab_client rej_not_announced) - rej0))
ins=$(($(nf_counter syn_inserted) - ins0))
crab_log "insert (module, announce off): ${out:0:200}; syn_inserted +$ins, client rej_not_announced +$rej"
[ "$(crab_jnum "$out" ok)" = 0 ] && [ "$ins" -ge 2 ] && [ "$rej" -ge 2 ]
log_test $? "legacy insert: the client module refuses the unannounced redirect (rej_not_announced +$rej)"

crab_exit
