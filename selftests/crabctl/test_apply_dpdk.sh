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
source "$(dirname "$0")/cc_lib.sh"

crab_require_root
crab_check_tool tcpdump python3
crab_require_built "$CRABCTL" crabctl
cc_dpdk_setup
SVC=$VIP:80
ctl() { "$CRABCTL" "$@"; }
F=$WORK/lb.toml
cc_dpdk_conf "$F" rr "${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}"
out=$(ctl apply -f "$F")
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] && [ "$(grep -c '^service add\|^backend add' <<<"$out")" = 4 ] && cc_dpdk_wait_macs
log_test $? "apply: service + 3 backends on crab-lb-dpdk, MACs learned"
got=$(cc_dpdk_syns 30 20000)
[ "$got" = "10 10 10" ]
log_test $? "traffic follows: 30 SYNs split $got"
[ "$(ctl apply -f "$F")" = "no changes" ]
log_test $? "second apply of the same file: no changes"

# edit: srv1 removed, srv2 weight 2 (in place), srv3 drained
cc_dpdk_conf "$F" rr "${IP_SRV[2]}:2 ${IP_SRV[3]}:1:drain"
out=$(ctl apply -f "$F")
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] && [ "$(ctl apply -f "$F")" = "no changes" ] && cc_dpdk_wait_macs
log_test $? "edited file applied; re-apply changes nothing"
got=$(cc_dpdk_syns 6 21000)
[ "$got" = "0 6 0" ]
log_test $? "traffic follows the edit: only the active backend ($got)"
js=$(ctl -j show --lb dpdk --prefix "$PREFIX")
[ "$(crab_json "$js" 'sorted((b["addr"], b["weight"], b["drain"]) for b in j["service"][0]["backend"])')" = \
	"[('${IP_SRV[2]}', 2, False), ('${IP_SRV[3]}', 1, True)]" ]
log_test $? "show --json: weights and drain state as applied"

# policy change: in place (/crab/service_set), backends and counters stay
cc_dpdk_conf "$F" random "${IP_SRV[2]}:2 ${IP_SRV[3]}:1:drain"
ctl apply -f "$F" >/dev/null && [ "$(ctl -j show --lb dpdk --prefix "$PREFIX" | python3 -c '
import json, sys
j = json.load(sys.stdin)["service"][0]
print(j["policy"], len(j["backend"]))')" = "random 2" ] && [ "$(ctl apply -f "$F")" = "no changes" ]
log_test $? "policy change converges in place (backends kept)"

# invalid file: exit 2, named line, nothing changed
before=$(ctl show --lb dpdk --prefix "$PREFIX")
cc_dpdk_conf "$WORK/bad.toml" rr "${IP_SRV[1]} 198.18.0.300"
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
