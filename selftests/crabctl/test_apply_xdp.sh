#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crabctl apply/show with the XDP LB: a TOML file converges the LB (traffic
# follows: capable SYNs reach exactly the configured backends), a second
# apply changes nothing, an edited file converges (add before remove), an
# invalid file exits 2 naming FILE:LINE and the field and changes nothing,
# --dry-run changes nothing, and `show` prints TOML that apply accepts.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/../lb_xdp/xdp_lib.sh"
source "$(dirname "$0")/cc_lib.sh"

crab_require_root
crab_check_tool python3 tcpdump nsenter taskset unshare
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"
cc_xdp_setup
N=6
F=$NF_DIR/lb.toml

# 1. first apply: service + 3 backends, traffic follows
cc_conf "$F" rr "${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}"
out=$(lbctl apply -f "$F")
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] && [ "$(echo "$out" | grep -c '^service add\|^backend add')" = 4 ]
log_test $? "apply: service add + 3 backend adds"
got=$(cc_syns $((3 * N)) 20000)
[ "$got" = "$N $N $N" ]
log_test $? "traffic follows: $((3 * N)) SYNs split $got"

# 2. same file again: nothing to do
out=$(lbctl apply -f "$F")
[ $? -eq 0 ] && [ "$out" = "no changes" ]
log_test $? "second apply of the same file: no changes"

# 3. edit: drop srv1, srv3 drained, srv2 weight 3, policy wrr; converge
cc_conf "$F" wrr "${IP_SRV[2]}:3 ${IP_SRV[3]}:1:drain"
before=$(lbctl show --lb xdp --dev eth0)
out=$(lbctl apply -f "$F" --dry-run)
[ $? -eq 0 ] && [ "$(lbctl show --lb xdp --dev eth0)" = "$before" ] && echo "$out" | grep -q '^would service set'
log_test $? "--dry-run lists the changes and applies none"
out=$(lbctl apply -f "$F")
rc=$?
echo "$out" | sed 's/^/# /'
order=$(echo "$out" | awk '/^service set/ {print "s"} /^backend set/ {print "b"} /^backend del/ {print "d"}' | tr -d '\n')
[ $rc -eq 0 ] && [ "$order" = sbbd ]
log_test $? "edited file: service set, backend sets, then the delete ($order)"
got=$(cc_syns $((2 * N)) 21000)
[ "$got" = "0 $((2 * N)) 0" ]
log_test $? "traffic follows the edit: only the active backend gets SYNs ($got)"
[ "$(lbctl apply -f "$F")" = "no changes" ]
log_test $? "converged: re-apply changes nothing"

# 4. invalid file: exit 2, FILE:LINE and field named, nothing changed
before=$(lbctl show --lb xdp --dev eth0)
cc_conf "$NF_DIR/bad.toml" rr "${IP_SRV[1]} ${IP_SRV[2]}:300"
lbctl apply -f "$NF_DIR/bad.toml" >"$NF_DIR/bad.out" 2>"$NF_DIR/bad.err"
rc=$?
line=$(grep -n 'weight = 300' "$NF_DIR/bad.toml" | cut -d: -f1)
sed 's/^/# /' "$NF_DIR/bad.err"
[ $rc -eq 2 ] && grep -q "bad.toml:$line: service\[1\].backend\[2\].weight: 300" "$NF_DIR/bad.err" &&
	[ "$(lbctl show --lb xdp --dev eth0)" = "$before" ]
log_test $? "invalid weight: exit 2, names bad.toml:$line and the field, nothing changed"
printf '[[service]]\nvip = "%s"\nport = 80\nbogus = 1\n' "$VIP" >"$NF_DIR/bad2.toml"
lbctl apply -f "$NF_DIR/bad2.toml" --lb xdp --dev eth0 2>"$NF_DIR/bad2.err" >/dev/null
rc=$?
[ $rc -eq 2 ] && grep -q "bad2.toml:4: service\[1\].bogus: unknown key" "$NF_DIR/bad2.err" &&
	[ "$(lbctl show --lb xdp --dev eth0)" = "$before" ]
log_test $? "unknown key: exit 2, names bad2.toml:4, nothing changed"

# 5. show -> apply round trip on the live LB; JSON show agrees
lbctl show --lb xdp --dev eth0 >"$NF_DIR/shown.toml"
[ "$(lbctl apply -f "$NF_DIR/shown.toml")" = "no changes" ]
log_test $? "show prints TOML that apply accepts unchanged"
js=$(lbctl -j show --lb xdp --dev eth0)
[ "$(crab_json "$js" '[(b["addr"], b["weight"], b["drain"]) for b in j["service"][0]["backend"]]')" = \
	"[('${IP_SRV[2]}', 3, False), ('${IP_SRV[3]}', 1, True)]" ] &&
	[ "$(crab_json "$js" 'j["service"][0]["policy"]')" = wrr ]
log_test $? "show --json: policy and backends as applied"

# 6. the imperative in-place commands are seen by show/apply
lbctl lb xdp service set "$VIP:$NF_PORT" --legacy hash --dev eth0 &&
	lbctl lb xdp backend set "$VIP:$NF_PORT" "${IP_SRV[3]}" --weight 7 --state active --dev eth0
rc=$?
js=$(lbctl -j show --lb xdp --dev eth0)
[ $rc -eq 0 ] && [ "$(crab_json "$js" '(j["service"][0]["policy"], j["service"][0]["legacy"])')" = "('wrr', 'hash')" ] &&
	[ "$(crab_json "$js" '[(b["weight"], b["drain"]) for b in j["service"][0]["backend"] if b["addr"] == "'"${IP_SRV[3]}"'"]')" = "[(7, False)]" ]
log_test $? "lb xdp service set / backend set change settings in place"
out=$(lbctl apply -f "$F")
[ "$(printf '%s\n' "$out" | head -n 2 | tr '\n' ';')" = \
	"service set $VIP:$NF_PORT policy wrr legacy drop;backend set $VIP:$NF_PORT ${IP_SRV[3]} weight 1 draining;" ]
log_test $? "apply reverts them to the file"
lbctl lb xdp backend set "$VIP:$NF_PORT" "${IP_SRV[3]}" --weight 0 --dev eth0 2>/dev/null
[ $? -eq 2 ] && [ "$(lbctl apply -f "$F")" = "no changes" ]
log_test $? "backend set with a bad weight: exit 2, nothing changed"

# 7. empty file removes everything; runtime failure names the step
printf '[lb]\ntype = "xdp"\ndev = "eth0"\n' >"$NF_DIR/empty.toml"
out=$(lbctl apply -f "$NF_DIR/empty.toml")
[ "$out" = "$(printf 'service del %s:%s\n1 change applied' "$VIP" "$NF_PORT")" ] &&
	[ "$(lbctl -j show --lb xdp --dev eth0 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["service"]))')" = 0 ]
log_test $? "a file without services removes the service"
lbctl apply -f "$F" --dev nosuchdev0 >/dev/null 2>"$NF_DIR/nodev.err"
rc=$?
[ $rc -eq 3 ] && grep -q "nosuchdev0" "$NF_DIR/nodev.err"
log_test $? "LB not attached to the device: exit 3 naming it"

crab_exit
