#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crabctl health with the XDP LB: servers with plain TCP listeners answer
# the probe SYN (which carries the redirect option) with a SYN-ACK without
# it: "reachable". A server whose port is filtered (nft drop) is "down";
# the health daemon drains it after --fall failed probes, new SYNs avoid it,
# an open connection to another backend keeps working; when the filter
# goes, the daemon restores the backend after --rise good probes and it gets
# SYNs again. Transitions are logged with timestamps; SIGTERM ends it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/../lb_xdp/xdp_lib.sh"
source "$(dirname "$0")/cc_lib.sh"

crab_require_root
crab_check_tool python3 tcpdump nsenter taskset unshare nft
python3 -c 'import scapy' 2>/dev/null || crab_skip "python3-scapy not installed"
[ -x "$CRABCTL" ] || crab_skip "crabctl not built ($CRABCTL)"
xdp_private_bpffs "$@"
cc_xdp_setup
crab_echo_servers "$NF_PORT"
N=6
F=$NF_DIR/lb.toml
cc_conf "$F" rr "${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}"
lbctl apply -f "$F" >/dev/null
log_test $? "apply: 3 backends"

# drained IP: "true" or "false" as the LB reports it
drained() {
	lbctl -j show --lb xdp --dev eth0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([str(b["drain"]).lower() for b in j["service"][0]["backend"] if b["addr"] == sys.argv[1]][0])' "$1"
}
# wait_log PATTERN: until the daemon's log has it (at most 20 s)
wait_log() {
	local i
	for i in $(seq 200); do
		grep -q "$1" "$NF_DIR/health.log" && return 0
		sleep 0.1
	done
	return 1
}

# 1. one-shot: all reachable
out=$(lbctl -j health --lb xdp --dev eth0 --once --timeout 1000)
rc=$?
[ $rc -eq 0 ] && [ "$(crab_json "$out" 'sorted(set(p["state"] for p in j))')" = "['reachable']" ] &&
	[ "$(crab_json "$out" 'len(j)')" = 3 ]
log_test $? "health --once: 3 backends reachable (SYN-ACK without the option), exit 0"

# 2. srv1 filtered: --once says down, exit 1
ip netns exec "${NS_SRV[1]}" nft -f - <<NFT
table inet cc_health {
	chain in { type filter hook input priority 0; tcp dport $NF_PORT drop; }
}
NFT
lbctl health --lb xdp --dev eth0 --once --timeout 300 >"$NF_DIR/once.out" 2>&1
rc=$?
sed 's/^/# /' "$NF_DIR/once.out"
[ $rc -eq 1 ] && grep -q "^198.18.100.1:80 *${IP_SRV[1]} *down" "$NF_DIR/once.out" &&
	[ "$(grep -c ' reachable ' "$NF_DIR/once.out")" = 2 ]
log_test $? "health --once: filtered backend down, exit 1"
[ "$(drained "${IP_SRV[1]}")" = false ]
log_test $? "--once changes nothing"

# Open connections to srv2 (redirected connections talk to the backend
# directly) while srv1 is drained and restored.
ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "${IP_SRV[2]}" --port "$NF_PORT" --count 2 \
	--hold --rounds 24 --interval 0.5 --ready "$NF_DIR/ready" >"$NF_DIR/hold.json" 2>&1 &
hold=$!
crab_defer "kill $hold"
for i in $(seq 100); do [ -e "$NF_DIR/ready" ] && break; sleep 0.1; done

# 3. daemon: drains srv1 after --fall failures
nsenter --net="/run/netns/$NS_LB" "$CRABCTL" health --lb xdp --dev eth0 --interval 0.5 --fall 2 --rise 2 \
	--timeout 300 >"$NF_DIR/health.log" 2>&1 &
hpid=$!
crab_defer "kill $hpid"
wait_log "${IP_SRV[1]}: up -> down.*drained$" && [ "$(drained "${IP_SRV[1]}")" = true ] &&
	[ "$(drained "${IP_SRV[2]}")" = false ]
log_test $? "daemon: filtered backend drained after 2 failed probes"
got=$(cc_syns $((2 * N)) 22000)
[ "$got" = "[0, $N, $N]" ]
log_test $? "new SYNs avoid the drained backend ($got)"

# 4. filter removed: restored after --rise good probes
ip netns exec "${NS_SRV[1]}" nft delete table inet cc_health
wait_log "${IP_SRV[1]}: down -> up.*activated$" && [ "$(drained "${IP_SRV[1]}")" = false ]
log_test $? "daemon: backend restored after 2 good probes"
got=$(cc_syns $((3 * N)) 23000)
[ "$got" = "[$N, $N, $N]" ]
log_test $? "restored backend gets SYNs again ($got)"

wait $hold
[ "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["ok"], j["failed"])' "$NF_DIR/hold.json")" = "2 0" ]
log_test $? "open connections to another backend kept working while it was drained"

# 5. transitions logged with timestamps; SIGTERM ends the daemon cleanly
sed 's/^/# /' "$NF_DIR/health.log"
[ "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z .*(up -> down|down -> up)' "$NF_DIR/health.log")" = 2 ]
log_test $? "exactly two transitions logged, with timestamps"
kill -TERM $hpid
for i in $(seq 50); do kill -0 $hpid 2>/dev/null || break; sleep 0.1; done
wait $hpid
rc=$?
[ $rc -eq 0 ] && grep -q "stopping" "$NF_DIR/health.log"
log_test $? "SIGTERM: daemon stops, exit 0"

crab_exit
