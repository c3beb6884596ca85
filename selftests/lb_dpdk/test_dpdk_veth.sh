#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crab-lb-dpdk on the LB's veth through net_af_packet (docs/PROTOCOL.md 3.2): the LB
# answers ARP for its address and the VIP, learns the backends' MACs by ARP,
# sends capable SYNs to the DIPs with the option naming the VIP and valid
# checksums, rr exactly 10/10/10; legacy SYNs are dropped and counted;
# SIGTERM stops it cleanly.
#
# af_packet does not take frames away from the kernel: $NS_LB's own stack
# sees every frame too. So the LB namespace is made inert: ip_forward=0 and
# its address (and with it the connected route) flushed from eth0, so the
# kernel neither forwards VIP traffic nor answers ARP; the DPDK app answers
# ARP for $IP_LB (--port-ip) instead.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/dpdk_lib.sh"

DIR=$(cd "$(dirname "$0")" && pwd)
TEL="python3 $DIR/dpdk_tel.py"
SVC=$VIP:80

crab_require_root
crab_check_tool tcpdump python3
crab_need_nettest

crab_topo_setup 3
WORK=$(mktemp -d)
crab_defer rm -rf "$WORK"
dpdk_start "$WORK" --service "$SVC,policy=rr,legacy=drop" \
	--backend "$SVC,${IP_SRV[1]}" --backend "$SVC,${IP_SRV[2]}" --backend "$SVC,${IP_SRV[3]}"

# Ready when every backend's MAC is learned (ARP requests go out once a second).
dpdk_wait_ready "$LB_PID" "$PREFIX" "$SVC" "${IP_SRV[3]}"
[ $ready = 0 ] || { sed 's/^/# lb: /' "$WORK/lb.log"; }
log_test $ready "LB up on af_packet, backend MACs learned by ARP"
[ $ready = 0 ] || crab_exit

lb_stat() {  # stat VIP:PORT COUNTER
	$TEL "$PREFIX" "/crab/stats,$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$2"
}

cap_start() {
	local i
	for i in 1 2 3; do
		crab_capture_start "${NS_SRV[i]}" "$WORK/s$i.pcap" "tcp and src host $IP_CLI"
	done
}
cap_stop() {
	crab_capture_stop "$WORK/s1.pcap" "$WORK/s2.pcap" "$WORK/s3.pcap"
}
syns() {  # syns SERVER_INDEX -> the SYNs it got
	dpdk_syns "$WORK/s$1.pcap"
	echo "${CRAB_PCAP[s.syn]}"
}

# 1. 30 capable SYNs (option naming another address): 10 per server
cap_start
dpdk_send count=30 sport=20000 opt=mss:1460,crab:203.0.113.9
cap_stop
ok=0
for i in 1 2 3; do
	dpdk_syns_ok "$WORK/s$i.pcap" "${IP_SRV[i]}" "$VIP" 10 || ok=1
	crab_log "server $i: syn ${CRAB_PCAP[s.syn]} dst ${CRAB_PCAP[s.dst]} opt ${CRAB_PCAP[s.opt]} csum_bad ${CRAB_PCAP[s.csum_bad]}"
done
log_test $ok "rr: 30 capable SYNs -> 10/10/10 at the DIPs, option names the VIP, checksums valid"
[ "$(lb_stat "$SVC" syn_redirected)" = 30 ]
log_test $? "syn_redirected counts 30"

# 2. legacy SYNs (no option), legacy=drop: nothing reaches a server, counted
cap_start
dpdk_send count=5 sport=21000 opt=mss:1460
cap_stop
n=0
for i in 1 2 3; do
	n=$((n + $(syns $i)))
done
[ $n = 0 ] && [ "$(lb_stat "$SVC" syn_legacy_drop)" = 5 ]
log_test $? "legacy SYNs dropped (legacy=drop) and counted in syn_legacy_drop"

# 3. runtime control: drain server 2, 4 SYNs -> only servers 1 and 3
r=$($TEL "$PREFIX" "/crab/backend_drain,$SVC,${IP_SRV[2]}")
cap_start
dpdk_send count=4 sport=22000
cap_stop
d1=$(syns 1)
d3=$(syns 3)
[ "$(syns 2)" = 0 ] &&
	[ "$((d1 + d3))" = 4 ]
log_test $? "telemetry backend_drain: drained backend gets no new SYNs ($r)"
r=$($TEL "$PREFIX" "/crab/backend_add,$SVC,bogus")
grep -q '"error"' <<<"$r" && grep -q bogus <<<"$r"
log_test $? "bad control value rejected with an error naming it"

# crabctl lb dpdk reads the same counters (when crabctl is built)
if [ -x "$CRABCTL" ]; then
	n=$("$CRABCTL" --json lb dpdk --prefix "$PREFIX" stats |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][sys.argv[1]]["syn_redirected"])' "$SVC")
	[ "$n" = 34 ] && ! "$CRABCTL" lb dpdk --prefix "$PREFIX" backend add "$SVC" 198.18.0.300 2>/dev/null
	log_test $? "crabctl lb dpdk stats: syn_redirected 34; bad DIP refused"
	# Per-backend counts = the SYNs each server captured: 10 each in
	# step 1, then server 2 drained and the 4 of step 3 on 1 and 3.
	want="${IP_SRV[1]} $((10 + d1)) ${IP_SRV[2]} 10 ${IP_SRV[3]} $((10 + d3))"
	got=$("$CRABCTL" lb dpdk --prefix "$PREFIX" stats | awk '$1 == "backend" { printf "%s %s ", $2, $3 }')
	jgot=$("$CRABCTL" -j lb dpdk --prefix "$PREFIX" stats | python3 -c '
import json, sys
be = json.load(sys.stdin)["services"][sys.argv[1]]["backends"]
print(" ".join(f"{ip} {be[ip]}" for ip in sys.argv[2:]))' "$SVC" "${IP_SRV[@]:1}")
	[ "${got% }" = "$want" ] && [ "$jgot" = "$want" ]
	log_test $? "crabctl lb dpdk stats per backend (text and JSON) = SYNs each server captured: $want"
else
	crab_check_missing "crabctl lb dpdk" "crabctl not built ($CRABCTL)"
fi

# 4. a service added at runtime with legacy=insert: legacy SYNs get the
#    option (TCP header grown by 8 in the mbuf), one per server
for c in "/crab/service_add,$VIP:81,policy=rr,legacy=insert" \
	"/crab/backend_add,$VIP:81,${IP_SRV[1]}" "/crab/backend_add,$VIP:81,${IP_SRV[2]}" \
	"/crab/backend_add,$VIP:81,${IP_SRV[3]}"; do
	$TEL "$PREFIX" "$c" | grep -q '"ok"' || crab_log "control $c failed"
done
cap_start
dpdk_send dport=81 count=3 sport=23000 opt=mss:1460
cap_stop
ok=0
for i in 1 2 3; do
	dpdk_syns_ok "$WORK/s$i.pcap" "${IP_SRV[i]}" "$VIP" 1 || ok=1
	crab_log "server $i: syn ${CRAB_PCAP[s.syn]} dst ${CRAB_PCAP[s.dst]} opt ${CRAB_PCAP[s.opt]}"
done
[ $ok = 0 ] && [ "$(lb_stat "$VIP:81" syn_inserted)" = 3 ]
log_test $? "legacy=insert (added at runtime): option inserted, checksums valid, 1/1/1"

# 5. SIGTERM: clean exit, status 0
dpdk_stop "$LB_PID"
[ $rc = 0 ] && grep -q "crab-lb-dpdk: bye" "$WORK/lb.log"
log_test $? "SIGTERM: ports closed, exit status 0 (rc=$rc)"
[ $rc = 0 ] || sed 's/^/# lb: /' "$WORK/lb.log"

crab_exit
