#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Whole connections through the XDP LB, attached natively to the LB's veth,
# with the endpoint modules (crab_client in the client, crab_server on the
# servers), through libxdp's dispatcher or, where the kernel refuses it,
# directly (crabctl warns, and `stats` reports which):
#   1. 300 connections via the VIP echo data, peers are the DIPs split
#      exactly 100/100/100 (rr), and the LB saw one packet per connection;
#   2. a backend removed while connections to it are open: they keep
#      exchanging data, new connections avoid it;
#   3. a client that does not announce (a legacy SYN) per service mode:
#      drop (no connection, counted), insert (the LB adds the option, the
#      server echoes it, the client refuses a redirect its SYN did not
#      announce: docs/PROTOCOL.md 3.4), hash (DSR to servers owning the VIP: every packet
#      of the flow through the LB, connections succeed with the VIP as peer).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/xdp_lib.sh"

PORT=8201
SVC=$VIP:$PORT
N=300

crab_require_root
crab_has_modules || crab_skip "kernel without loadable module support"
crab_check_tool nsenter ping taskset ethtool
crab_need_nettest
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"

crab_topo_setup 3
crab_load_module crab_client
crab_load_module crab_server
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
DIR=$(mktemp -d)
crab_defer "rm -rf $DIR"

lbctl lb xdp attach eth0 --mode native 2>"$DIR/attach.err" ||
	{ cat "$DIR/attach.err"; crab_fail "cannot attach the XDP LB natively to eth0"; }
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
sed 's/^/# attach: /' "$DIR/attach.err"
how=$(xdp_check_attach eth0 "$DIR/attach.err")
log_test $? "attach reported as $how"
xdp_peer_napi || crab_fail "cannot attach an XDP program to the LB's veth peer (XDP_TX needs it)"
lbctl lb xdp service add "$SVC" --policy rr --legacy drop --dev eth0 || crab_fail "service add"
for i in 1 2 3; do
	lbctl lb xdp backend add "$SVC" "${IP_SRV[i]}" --dev eth0 || crab_fail "backend add ${IP_SRV[i]}"
	# Resolved neighbours: bpf_fib_lookup() then finds the next hop and the
	# SYN leaves by XDP_TX (without one it would take the stack's path).
	ip netns exec "$NS_LB" ping -c1 -W5 "${IP_SRV[i]}" >/dev/null ||
		crab_fail "LB cannot reach ${IP_SRV[i]}"
done
crab_echo_servers $PORT
# A local socket's segments leave a veth with a partial checksum (offload:
# only the pseudo-header sum, ip_summed = CHECKSUM_PARTIAL). XDP sees raw
# bytes without that flag, and a frame it sends on by XDP_TX arrives with
# the partial sum as its checksum: the server would drop it. On a wire the
# client's NIC completes the checksum; here the client's stack must.
ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null ||
	crab_fail "cannot turn off tx checksum offload on the client's eth0"

# Counter NAME of the service ($SVC) or, with "global", of the program.
cnt() {
	if [ "${2:-}" = global ]; then
		lbctl -j lb xdp stats --dev eth0 | crab_jget "/global/$1"
	else
		lbctl -j lb xdp stats --dev eth0 | crab_jget "/services/[service=${2:-$SVC}]/counters/$1"
	fi
}
# The servers' synack_echoed, summed.
echoed() {
	local i n=0
	for i in 1 2 3; do
		n=$((n + $(crab_proc_counter "${NS_SRV[i]}" crab_server synack_echoed)))
	done
	echo $n
}

# One CPU sends everything: the rr position is a per-CPU counter, and on a
# veth the LB's XDP runs on the CPU that sent the frame.
client() {
	taskset -c 0 ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port $PORT "$@"
}

# A few connections first: when those fail, say why now instead of after
# 300 timeouts. Three keep the rr position at 0 (mod 3) for the run below.
P=3
# A slow emulated guest may retransmit a SYN: the LB then sees (and rr
# counts) one more SYN for that connection. Counted from here on.
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(client --count $P --timeout 10 --deadline 60)
if [ "$(crab_jnum "$out" ok)" != $P ]; then
	crab_log "probe: ${out:0:300}"
	lbctl -j lb xdp stats --dev eth0
	for ns in "$NS_CLI" "${NS_SRV[@]}"; do
		crab_log "$ns: $(cat "$(crab_ns_file "$ns" crab_client)" "$(crab_ns_file "$ns" crab_server)" 2>/dev/null | awk '$2 != 0' | tr '\n' ' ')"
	done
	crab_fail "$P probe connections via the VIP did not all succeed"
fi

# 1. 300 connections, rr
out=$(client --count $N --timeout 10 --deadline 400)
crab_log "client: ${out:0:300}"
crab_conns_ok "$out" $N
log_test $? "$N connections via the XDP LB succeed, data echoed"
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
peers=$(crab_peers "$out")
# Exact without SYN retransmissions; each one can move one connection.
crab_peers_within "$out" 100 "$retr" "${IP_SRV[1]}" "${IP_SRV[2]}" "${IP_SRV[3]}"
log_test $? "peers are the DIPs, 100/100/100 (rr) within $retr SYN retransmissions: $peers"
red=$(cnt syn_redirected)
nsd=$(cnt nonsyn_drop)
tx=$(cnt xdp_tx global)
crab_log "LB: syn_redirected=$red nonsyn_drop=$nsd xdp_tx=$tx fib_pass=$(cnt fib_pass global); client SYN retransmissions $retr"
[ "$red" = $((N + P + retr)) ] && [ "$nsd" = 0 ]
log_test $? "LB saw one packet per connection: $red SYNs = $((N + P)) + $retr retransmitted, $nsd other packets"
[ "$tx" = "$red" ]
log_test $? "every SYN left the LB by XDP_TX (xdp_tx = $tx)"
r=$(crab_proc_counter "$NS_CLI" crab_client redirected)
[ "$r" = $((N + P)) ]
log_test $? "client module re-keyed $r sockets"

# 2. remove a backend while connections to it are open
H=30
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
rm -f "$DIR/ready"
client --count $H --hold --rounds 5 --interval 3 --timeout 10 --deadline 300 \
	--ready "$DIR/ready" >"$DIR/hold.json" &
hpid=$!
for i in $(seq 600); do
	[ -e "$DIR/ready" ] && break
	kill -0 $hpid 2>/dev/null || break
	sleep 0.2
done
[ -e "$DIR/ready" ] || crab_fail "the $H held connections did not come up"
# The first exchange round starts 3 s after "ready": the backend is gone by
# then, so every round runs on connections whose backend was removed.
lbctl lb xdp backend del "$SVC" "${IP_SRV[2]}" --dev eth0
log_test $? "backend ${IP_SRV[2]} removed while $H connections are open"
t_del=$(date +%s)
out=$(client --count 30 --timeout 10 --deadline 300)
crab_log "new connections: ${out:0:300}"
peers=$(crab_peers "$out")
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_conns_ok "$out" 30 && crab_peers_within "$out" 15 "$retr" "${IP_SRV[1]}" "${IP_SRV[3]}"
log_test $? "new connections avoid the removed backend: $peers (15/15 within $retr SYN retransmissions)"
wait $hpid
hrc=$?
hold=$(cat "$DIR/hold.json")
t_end=$(stat -c %Y "$DIR/hold.json")
crab_log "held connections: ${hold:0:300}; last round $((t_end - t_del)) s after the removal"
# The client wrote its result after its last round: at least one full
# interval after the removal means that round ran without the backend.
[ $((t_end - t_del)) -ge 3 ]
log_test $? "exchange rounds ran after the removal"
h2=$(crab_peer "$hold" "${IP_SRV[2]}")
[ $hrc = 0 ] && crab_conns_ok "$hold" $H &&
	[ "$h2" -ge $((H / 3 - retr)) ] && [ "$h2" -gt 0 ]
log_test $? "all $H open connections, $h2 of them to the removed backend, kept exchanging data"

# 3. legacy SYNs: the client module stops announcing to the VIP (it still
# runs, so insert mode shows what it does with an unannounced redirect).
ip netns exec "$NS_CLI" sysctl -qw net.crab.client_announce_cidrs=198.18.0.0/24 ||
	crab_fail "cannot restrict the client's announce list"
lbctl lb xdp backend add "$SVC" "${IP_SRV[2]}" --dev eth0 || crab_fail "backend add"
rej0=$(crab_proc_counter "$NS_CLI" crab_client rej_not_announced)

ld0=$(cnt syn_legacy_drop)
out=$(client --count 2 --timeout 2 --deadline 60)
ld=$(( $(cnt syn_legacy_drop) - ld0 ))
crab_log "drop: ${out:0:200}; syn_legacy_drop +$ld"
[ "$(crab_jnum "$out" ok)" = 0 ] && [ "$ld" -ge 2 ]
log_test $? "legacy drop: no connection, SYNs dropped and counted ($ld)"

lbctl lb xdp service del "$SVC" --dev eth0 &&
	lbctl lb xdp service add "$SVC" --policy rr --legacy insert --dev eth0 &&
	for i in 1 2 3; do lbctl lb xdp backend add "$SVC" "${IP_SRV[i]}" --dev eth0 || false; done
log_test $? "service re-created with --legacy insert"
e0=$(echoed)
out=$(client --count 2 --timeout 2 --deadline 60)
ins=$(cnt syn_inserted)
e1=$(echoed)
rej=$(( $(crab_proc_counter "$NS_CLI" crab_client rej_not_announced) - rej0 ))
crab_log "insert: ${out:0:200}; syn_inserted=$ins, servers echoed +$((e1 - e0)), client rej_not_announced +$rej"
[ "$ins" -ge 2 ] && [ $((e1 - e0)) -ge 2 ] && [ "$rej" -ge 2 ]
log_test $? "legacy insert: option added by the LB and echoed by the servers"
[ "$(crab_jnum "$out" ok)" = 0 ]
log_test $? "legacy insert: an unannounced redirect is refused by the client (docs/PROTOCOL.md 3.4)"

crab_servers_vip_on_lo
lbctl lb xdp service del "$SVC" --dev eth0 &&
	lbctl lb xdp service add "$SVC" --policy rr --legacy hash --dev eth0 &&
	for i in 1 2 3; do lbctl lb xdp backend add "$SVC" "${IP_SRV[i]}" --dev eth0 || false; done
log_test $? "service re-created with --legacy hash"
out=$(client --count 30 --timeout 10 --deadline 300)
crab_log "hash: ${out:0:300}"
crab_conns_ok "$out" 30 && [ "$(crab_peers "$out")" = "$VIP:30" ]
log_test $? "legacy hash: 30 connections succeed, DSR (peer stays the VIP)"
sh=$(cnt syn_hashed)
nh=$(cnt nonsyn_hashed)
be=0
for v in $(lbctl -j lb xdp stats --dev eth0 | crab_jget "/services/0/backends/${IP_SRV[1]}" \
	"/services/0/backends/${IP_SRV[2]}" "/services/0/backends/${IP_SRV[3]}"); do
	be=$((be + v))
done
crab_log "hash: syn_hashed=$sh nonsyn_hashed=$nh per-backend sum=$be"
# Each connection: SYN, then at least the handshake ACK, the data and FIN.
# A SYN retransmitted on a slow emulated CPU is hashed again (same flow,
# same backend): allow a few.
[ "$sh" -ge 30 ] && [ "$sh" -le 33 ] && [ "$nh" -ge 90 ] && [ "$be" = $((sh + nh)) ]
log_test $? "legacy hash: every packet of the flows through the LB ($sh SYNs, $nh others)"

crab_exit
