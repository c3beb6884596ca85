#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
# crab-kernels: newest
#
# crabctl apply and health with the nf LB and the endpoint modules
# (crab_client.ko on the client, crab_server.ko on the servers): apply ->
# whole redirected connections reach the configured DIPs; a second apply
# changes nothing; health --once finds every backend "capable" (its SYN-ACK
# echoes the option); a backend refusing new connections (nft drops its SYNs)
# is drained by the health daemon, new connections avoid it while connections
# already established to every backend (redirected, so not via the LB) keep
# working; when it accepts SYNs again it is restored.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"

crab_has_modules || crab_skip "kernel without loadable module support"
crab_check_tool nft
nf_setup
crab_load_module crab_client
crab_load_module crab_server
crab_client_config "$NS_CLI" --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
crab_server_config "${NS_SRV[@]:1}"
crab_echo_servers "$NF_PORT"
# crab_client.ko starts off in every namespace; the LB is no client, keep it
# so: it would otherwise rewrite the option of the health probes to the DIP
# it dials.
lbctl client set announce none || crab_fail "client set announce none in the LB namespace"

F=$NF_DIR/lb.toml
cat >"$F" <<TOML
[lb]
type = "nf"

[[service]]
vip = "$VIP"
port = $NF_PORT
policy = "rr"

  [[service.backend]]
  addr = "${IP_SRV[1]}"

  [[service.backend]]
  addr = "${IP_SRV[2]}"

  [[service.backend]]
  addr = "${IP_SRV[3]}"
TOML
out=$(lbctl apply -f "$F")
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] && [ "$(grep -c '^service add\|^backend add' <<<"$out")" = 4 ]
log_test $? "apply: nf service with 3 backends"
[ "$(lbctl apply -f "$F")" = "no changes" ]
log_test $? "second apply: no changes"

conns() {  # conns N: peers of N connections via the VIP, "IP:N ..." sorted
	local out
	out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" --count "$1")
	crab_conns_ok "$out" "$1" || crab_log "client: $out"
	crab_peers "$out"
}
got=$(conns 3)
[ "$got" = "${IP_SRV[1]}:1 ${IP_SRV[2]}:1 ${IP_SRV[3]}:1" ]
log_test $? "connections follow the applied config: $got"

out=$(lbctl -j health --lb nf --once --timeout 3000)
rc=$?
crab_log "health: $out"
[ $rc -eq 0 ] && [ "$(crab_jget /0/state /1/state /2/state /3 <<<"$out" 2>/dev/null | tr '\n' ' ')" = "capable capable capable - " ]
log_test $? "health --once: every backend capable (SYN-ACK echoes the option)"

# Connections established to every backend, held open throughout.
ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" --count 3 \
	--hold --rounds 600 --interval 1 --ready "$NF_DIR/ready" --stop "$NF_DIR/hold.stop" \
	>"$NF_DIR/hold.json" 2>&1 &
hold=$!
crab_defer "kill $hold"
for _ in $(seq 300); do [ -e "$NF_DIR/ready" ] && break; sleep 0.1; done

# srv1 stops accepting connections: its new SYNs are dropped.
ip netns exec "${NS_SRV[1]}" nft -f - <<NFT
table inet cc_health {
	chain in { type filter hook input priority 0; tcp dport $NF_PORT tcp flags & (syn | ack) == syn drop; }
}
NFT
ip netns exec "$NS_LB" "$CRABCTL" health --lb nf --interval 1 --fall 2 --rise 2 --timeout 1000 \
	>"$NF_DIR/health.log" 2>&1 &
hpid=$!
crab_defer "kill $hpid"
wait_log() {
	local i
	for i in $(seq 600); do
		grep -q "$1" "$NF_DIR/health.log" && return 0
		sleep 0.1
	done
	return 1
}
state() {
	nf_show "/services/0/backends/[dip=$1]/state"
}
wait_log "${IP_SRV[1]}: up -> down.*drained$" && [ "$(state "${IP_SRV[1]}")" = draining ]
log_test $? "health daemon drains the backend that drops SYNs"
got=$(conns 4)
[ "$got" = "${IP_SRV[2]}:2 ${IP_SRV[3]}:2" ]
log_test $? "new connections avoid it: $got"

ip netns exec "${NS_SRV[1]}" nft delete table inet cc_health
wait_log "${IP_SRV[1]}: down -> up.*activated$" && [ "$(state "${IP_SRV[1]}")" = active ]
log_test $? "health daemon restores it when it answers again"
got=$(conns 3)
[ "$got" = "${IP_SRV[1]}:1 ${IP_SRV[2]}:1 ${IP_SRV[3]}:1" ]
log_test $? "restored backend gets connections again: $got"

kill -TERM $hpid
wait $hpid
rc=$?
sed 's/^/# /' "$NF_DIR/health.log"
[ $rc -eq 0 ]
log_test $? "SIGTERM: health daemon exits 0"
# One more exchange round after the restore, then the held connections end.
touch "$NF_DIR/hold.stop"
wait $hold
res=$(cat "$NF_DIR/hold.json")
crab_log "held: $res"
crab_conns_ok "$res" 3 && [ "$(wc -w <<<"$(crab_peers "$res")")" = 3 ]
log_test $? "connections established to all 3 backends survived drain and restore"

crab_exit
