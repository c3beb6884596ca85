#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crabctl apply/show with the DPDK LB (crab-lb-dpdk on the LB's veth through
# net_af_packet, started without services, see ../lb_dpdk/test_dpdk_veth.sh
# for why the LB namespace is made inert): a TOML file converges it (SYNs
# follow), a second apply changes nothing, an edited file converges
# (including a weight change and a policy change, both in place through
# /crab/backend_set and /crab/service_set), an invalid file exits 2 and changes nothing, show round-trips.
source "$(dirname "$0")/../lib.sh"

LBD=${CRAB_LBD:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-dpdk}
PKT="python3 $CRAB_TOP/selftests/lb_dpdk/lbd_pkt.py"
SVC=$VIP:80

crab_require_root
crab_check_tool tcpdump python3
[ -x "$LBD" ] || crab_skip "crab-lb-dpdk not built ($LBD)"
[ -x "$CRABCTL" ] || crab_skip "crabctl not built ($CRABCTL)"
python3 -c 'import scapy' 2>/dev/null || crab_skip "python3-scapy missing"

crab_topo_setup 3
ip netns exec "$NS_LB" sysctl -qw net.ipv4.ip_forward=0
ip -n "$NS_LB" addr flush dev eth0

PREFIX=crabcc$$
WORK=$(mktemp -d)
crab_defer rm -rf "$WORK" "/var/run/dpdk/$PREFIX"
ip netns exec "$NS_LB" "$LBD" --no-huge -m 512 --no-pci -l 0 --log-level=user1,info \
	--vdev net_af_packet0,iface=eth0 --file-prefix "$PREFIX" -- \
	--port-ip "$IP_LB" --idle-us 100 >"$WORK/lb.log" 2>&1 &
LB_PID=$!
crab_defer "kill -KILL $LB_PID 2>/dev/null"

ctl() { "$CRABCTL" "$@"; }
# Until the LB answers and every backend of $SVC has a MAC (ARP once a second).
wait_macs() {
	local i b
	for i in $(seq 1 100); do
		kill -0 $LB_PID 2>/dev/null || return 1
		b=$(ctl -j lb dpdk --prefix "$PREFIX" show 2>/dev/null) && [ -n "$b" ] &&
			! grep -q unresolved <<<"$b" && return 0
		sleep 0.2
	done
	return 1
}
# syns N SPORT: capable SYNs per server, "a b c"
syns() {
	local i out=
	for i in 1 2 3; do
		crab_capture_start "${NS_SRV[i]}" "$WORK/s$i.pcap" "tcp and src host $IP_CLI"
	done
	ip netns exec "$NS_CLI" $PKT send --vip "$VIP" --count "$1" --sport "$2" --opt
	crab_capture_stop "$WORK/s1.pcap" "$WORK/s2.pcap" "$WORK/s3.pcap"
	for i in 1 2 3; do
		out+="$($PKT check --pcap "$WORK/s$i.pcap" | python3 -c 'import json,sys; print(json.load(sys.stdin)["syn"])') "
	done
	echo "${out% }"
}
conf() {  # conf FILE POLICY "DIP[:W[:drain]] ..."
	local spec ip w d
	{
		printf '[lb]\ntype = "dpdk"\nprefix = "%s"\n\n[[service]]\nvip = "%s"\nport = 80\npolicy = "%s"\n' \
			"$PREFIX" "$VIP" "$2"
		for spec in $3; do
			IFS=: read -r ip w d <<<"$spec"
			printf '\n  [[service.backend]]\n  addr = "%s"\n' "$ip"
			[ -n "$w" ] && printf '  weight = %s\n' "$w"
			[ "$d" = drain ] && printf '  drain = true\n'
		done
	} >"$1"
}

for _ in $(seq 1 100); do
	[ -S "/var/run/dpdk/$PREFIX/dpdk_telemetry.v2" ] && ctl lb dpdk --prefix "$PREFIX" show >/dev/null 2>&1 && break
	sleep 0.2
done
F=$WORK/lb.toml
conf "$F" rr "${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}"
out=$(ctl apply -f "$F")
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] && [ "$(grep -c '^service add\|^backend add' <<<"$out")" = 4 ] && wait_macs
log_test $? "apply: service + 3 backends on crab-lb-dpdk, MACs learned"
got=$(syns 30 20000)
[ "$got" = "10 10 10" ]
log_test $? "traffic follows: 30 SYNs split $got"
[ "$(ctl apply -f "$F")" = "no changes" ]
log_test $? "second apply of the same file: no changes"

# edit: srv1 removed, srv2 weight 2 (in place), srv3 drained
conf "$F" rr "${IP_SRV[2]}:2 ${IP_SRV[3]}:1:drain"
out=$(ctl apply -f "$F")
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] && [ "$(ctl apply -f "$F")" = "no changes" ] && wait_macs
log_test $? "edited file applied; re-apply changes nothing"
got=$(syns 6 21000)
[ "$got" = "0 6 0" ]
log_test $? "traffic follows the edit: only the active backend ($got)"
js=$(ctl -j show --lb dpdk --prefix "$PREFIX")
[ "$(crab_json "$js" 'sorted((b["addr"], b["weight"], b["drain"]) for b in j["service"][0]["backend"])')" = \
	"[('${IP_SRV[2]}', 2, False), ('${IP_SRV[3]}', 1, True)]" ]
log_test $? "show --json: weights and drain state as applied"

# policy change: in place (/crab/service_set), backends and counters stay
conf "$F" random "${IP_SRV[2]}:2 ${IP_SRV[3]}:1:drain"
ctl apply -f "$F" >/dev/null && [ "$(ctl -j show --lb dpdk --prefix "$PREFIX" | python3 -c '
import json, sys
j = json.load(sys.stdin)["service"][0]
print(j["policy"], len(j["backend"]))')" = "random 2" ] && [ "$(ctl apply -f "$F")" = "no changes" ]
log_test $? "policy change converges in place (backends kept)"

# invalid file: exit 2, named line, nothing changed
before=$(ctl show --lb dpdk --prefix "$PREFIX")
conf "$WORK/bad.toml" rr "${IP_SRV[1]} 198.18.0.300"
ctl apply -f "$WORK/bad.toml" >/dev/null 2>"$WORK/bad.err"
rc=$?
line=$(grep -n '198.18.0.300' "$WORK/bad.toml" | cut -d: -f1)
[ $rc -eq 2 ] && grep -q "bad.toml:$line: service\[1\].backend\[2\].addr: invalid IPv4 address '198.18.0.300'" "$WORK/bad.err" &&
	[ "$(ctl show --lb dpdk --prefix "$PREFIX")" = "$before" ]
log_test $? "invalid address: exit 2 naming bad.toml:$line, nothing changed"

ctl show --lb dpdk --prefix "$PREFIX" >"$WORK/shown.toml"
[ "$(ctl apply -f "$WORK/shown.toml")" = "no changes" ]
log_test $? "show prints TOML that apply accepts unchanged"
n=$(ctl -j stats --lb dpdk --prefix "$PREFIX" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["services"][0]["counters"]["syn_redirected"]["total"])')
[ "$n" = 36 ]
log_test $? "stats: counters kept through the in-place edits (syn_redirected $n = 30 + 6)"

kill -TERM $LB_PID
wait $LB_PID 2>/dev/null
crab_exit
