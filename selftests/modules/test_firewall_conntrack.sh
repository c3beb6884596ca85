#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Firewalls and conntrack on the client (docs/PROTOCOL.md 3.7). crab_client
# re-keys only at LOCAL_IN's last priority, after every filter, and gives
# the redirecting SYN-ACK the conntrack entry of the SYN to the VIP as a
# reply (ct_attached), so "ct state" sees it established:
#  - behind "policy drop; ct state established,related accept; ct state
#    invalid drop" redirects complete at once: the firewall drops nothing
#    and no SYN is retransmitted; the client's ACK then opens the flow's
#    own entry by loose pickup, ESTABLISHED/ASSURED in conntrack;
#  - with net.netfilter.nf_conntrack_tcp_loose=0 that pickup is refused,
#    so the re-keyed socket sends its SYN again to the backend at once
#    (ct_resyn, one SYN retransmission each, connect() well under the 1 s
#    retransmission timeout) and the flow is tracked from a SYN;
#  - a rule dropping traffic from the backend, at prerouting priority
#    filter or at input, stops the redirect: the socket is not re-keyed
#    and sends no SYN to the backend (its next SYN, seen on the segment,
#    goes to the VIP).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

PORT=8106
N=10
SPA=40140 SPB=40144	# bit 1 clear: the tc LB sends them to server 1
crab_require_root
crab_check_tool ip tc nft bridge python3
ep_load_module crab_server
ep_load_module crab_client
modprobe nf_conntrack 2>/dev/null
crab_topo_setup 2
crab_add_host EVIL 198.18.0.66
ep_bridge_hub || crab_fail "cannot turn MAC learning off on the bridge"
ep_ns_watch "$NS_CLI"
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
S1=${IP_SRV[1]} S2=${IP_SRV[2]}
EPT="python3 $(dirname "$0")/ep_tool.py"
crab_echo_servers $PORT
ep_tc_lb $PORT "$S1" "$S2" || crab_fail "cannot install the tc LB"
ip netns exec "$NS_CLI" nft -f - <<NFT || crab_fail "cannot install the firewall"
table inet crab_fw {
	counter inv_in { }
	counter inv_out { }
	counter fallen { }
	chain in {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid counter name "inv_in" drop
		iif lo accept
		counter name "fallen"
	}
	chain out {
		type filter hook output priority filter; policy accept;
		ct state invalid counter name "inv_out" drop
	}
}
NFT
nftc() {  # nftc NAME: packets of counter NAME of table inet crab_fw
	ip netns exec "$NS_CLI" nft list counter inet crab_fw "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
cnt() { ep_counter "$NS_CLI" "$1" crab_client; }
ep_att_start "$NS_EVIL"

red0=$(cnt redirected) ct0=$(cnt ct_attached) retr0=$(ep_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT \
	--count $N --timeout 5 --deadline 120 --json)
red=$(($(cnt redirected) - red0)) ct=$(($(cnt ct_attached) - ct0))
retr=$(($(ep_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "client: ${out:0:200}; redirected +$red, ct_attached +$ct, SYN retransmissions $retr"
crab_log "firewall: invalid in $(nftc inv_in), out $(nftc inv_out), fall-through drop $(nftc fallen)"
[ "$(ep_jget "$out" ok)" = $N ] && [ "$red" = $N ] && [ "$ct" = $N ] &&
	[ "$(ep_jpeers "$out" "$S1")" -gt 0 ] && [ "$(ep_jpeers "$out" "$S2")" -gt 0 ]
log_test $? "$N redirected connections behind policy drop + ct state established accept"
[ "$retr" = 0 ] && [ "$(nftc inv_in)" = 0 ] && [ "$(nftc inv_out)" = 0 ] && [ "$(nftc fallen)" = 0 ]
log_test $? "nothing dropped by the firewall, no SYN retransmitted"

# The flows are tracked from the client's ACK on: held connections show
# ESTABLISHED, ASSURED entries to the backends.
tmp=$(mktemp -d /tmp/crab-ep-XXXXXX)
crab_defer "rm -rf $tmp"
ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $SPA --wait 60 \
	--hold "$tmp/go" >"$tmp/held.json" &
held=$!
crab_defer "kill $held"
for _ in $(seq 300); do [ -e "$tmp/go.ready" ] && break; sleep 0.1; done
ct=$(ip netns exec "$NS_CLI" cat /proc/net/nf_conntrack | grep "dport=$PORT" | grep "sport=$SPA")
echo "$ct" | sed 's/^/# ct: /'
touch "$tmp/go"
wait $held
echo "$ct" | grep "dst=$S1 " | grep -q 'ESTABLISHED.*ASSURED'
log_test $? "a held redirected connection is ESTABLISHED, ASSURED in conntrack (to $S1)"

# No mid-stream pickup: the SYN is sent again to the backend, at once.
loose=$(ip netns exec "$NS_CLI" sysctl -n net.netfilter.nf_conntrack_tcp_loose)
ip netns exec "$NS_CLI" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
rs0=$(cnt ct_resyn) retr0=$(ep_tcpext "$NS_CLI" TCPSynRetrans)
r1=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $((SPA + 1)) --wait 20)
r2=$(ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport $((SPA + 3)) --wait 20)
rs=$(($(cnt ct_resyn) - rs0)) retr=$(($(ep_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "nf_conntrack_tcp_loose=0: $r1 $r2; ct_resyn +$rs, SYN retransmissions $retr"
[ "$(ep_peer "$r1")" != - ] && [ "$(ep_jget "$r1" ms)" -lt 900 ] &&
	[ "$(ep_peer "$r2")" != - ] && [ "$(ep_jget "$r2" ms)" -lt 900 ] &&
	[ "$rs" = 2 ] && [ "$retr" = 2 ] && [ "$(nftc inv_in)" = 0 ] && [ "$(nftc inv_out)" = 0 ]
log_test $? "nf_conntrack_tcp_loose=0: the SYN is resent to the backend at once, connections complete"
ip netns exec "$NS_CLI" sysctl -qw net.netfilter.nf_conntrack_tcp_loose="$loose"

# A rule dropping the backend's packets stops the redirect.
# drop_case PRIORITY-DESCRIPTION HOOK PRIO SPORT
drop_case() {
	local desc=$1 hook=$2 prio=$3 sp=$4 m r red0 red peer n
	ip netns exec "$NS_CLI" nft -f - <<NFT || return 1
table ip crab_drop {
	counter d { }
	chain c { type filter hook $hook priority $prio; ip saddr $S1 counter name "d" drop; }
}
NFT
	red0=$(cnt redirected)
	m=$(ep_att mark) && m=${m#ok }
	ip netns exec "$NS_CLI" $EPT connect --addr "$VIP" --port $PORT --sport "$sp" --wait 60 >/dev/null &
	crab_defer "kill $!"
	# The backend's SYN-ACK is dropped; the socket's next SYN (its
	# retransmission, 1 s later) shows where it is keyed.
	r=$(ep_att synack_to "$sp" 30 after="$m")
	n=$(ep_att syns "$sp" 2 30 after="$m" from="$IP_CLI")
	peer=$(ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$sp" | awk '{ print $4 }')
	# Judged while the rule is still there: once it is gone, the
	# backend's next SYN-ACK retransmission may redirect the socket.
	red=$(($(cnt redirected) - red0))
	crab_log "$desc: backend's SYN-ACK ($r); SYNs from port $sp ($n); socket SYN-SENT to '$peer', redirected +$red, dropped $(ip netns exec "$NS_CLI" nft list counter ip crab_drop d | sed -n 's/.*packets \([0-9]*\).*/\1/p')"
	ip netns exec "$NS_CLI" nft delete table ip crab_drop
	[ "$peer" = "$VIP:$PORT" ] && [ "$n" = "ok n=2 dst=$VIP,$VIP" ] && [ "$red" = 0 ]
}
drop_case "prerouting, priority filter" prerouting filter $SPB
log_test $? "'ip saddr $S1 drop' at prerouting priority filter: not re-keyed, no SYN to $S1"
drop_case "input, priority 0" input 0 $((SPB + 1))
log_test $? "'ip saddr $S1 drop' at input: not re-keyed, no SYN to $S1"

crab_exit
