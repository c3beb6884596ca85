#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# IPv6 end to end through the project's XDP LB (lb/ebpf_xdp, attached
# natively to the LB's veth) and the eBPF endpoints, configured with
# `crabctl apply -f` (two IPv6 services on VIP6: rr with legacy drop, and
# rr with legacy hash):
#   1. $N IPv6 connections to each service succeed with data echoed, every
#      one redirected by the eBPF client; the LB saw only their SYNs (its
#      counters: SYNs redirected, nothing else) and split them round robin
#      over the three IPv6 backends (per-backend counters);
#   2. a legacy client (VIP6 taken out of its announce list) on the hash
#      service: its SYN and every later segment go through the LB by the
#      IPv6 flow hash (DSR to a server holding VIP6 on lo), data echoed;
#      on the drop service its SYN is dropped and counted;
#   3. `crabctl show` prints the IPv6 services as TOML that apply accepts
#      unchanged (no changes), `crabctl stats` the [VIP6]:PORT rows;
#      `crabctl health --once` probes the six IPv6 backends with the 20-byte
#      option: all capable (the eBPF servers echo it).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"

N=${EP_CONNS6:-30}
P6=8086   # rr, legacy drop
P6H=8087  # rr, legacy hash
D=$CRAB_TOP/selftests/endpoints_ebpf

ep_unshare "$@"
EP_LB=xdp
ep_setup --announce "$VIP/32,$VIP6/128" --allow "$CRAB_SUBNET.0/24,$EP6_NET::10/124"
ep_v6_setup || crab_fail "IPv6 addresses of the topology"

cat >"$EP_TMP/lb6.toml" <<EOF
[lb]
type = "xdp"
dev = "eth0"

[[service]]
vip = "$VIP6"
port = $P6
policy = "rr"
legacy = "drop"
$(for i in 1 2 3; do printf '  [[service.backend]]\n  addr = "%s"\n' "${IP6_SRV[i]}"; done)

[[service]]
vip = "$VIP6"
port = $P6H
policy = "rr"
legacy = "hash"
$(for i in 1 2 3; do printf '  [[service.backend]]\n  addr = "%s"\n' "${IP6_SRV[i]}"; done)
EOF
out=$(ep_crabctl "$NS_LB" apply -f "$EP_TMP/lb6.toml" 2>&1)
rc=$?
crab_log "apply: $(tr '\n' ';' <<<"$out")"
[ $rc = 0 ] && grep -q "service add \[$VIP6\]:$P6 policy rr legacy drop" <<<"$out" &&
	grep -q "service add \[$VIP6\]:$P6H policy rr legacy hash" <<<"$out" &&
	grep -q "service del $VIP:$EP_PORT" <<<"$out"
log_test $? "crabctl apply -f: two IPv6 services with three IPv6 backends each (the IPv4 one removed)"

for i in 1 2 3; do
	ep_helper_start "srv$i" "${NS_SRV[i]}" "$CG_SRV" "$D/ep_hold.py"
	for p in $P6 $P6H; do
		[ "$(ep_helper "srv$i" "listen $p v6")" = ok ] &&
			[ "$(ep_helper "srv$i" "serve $p $EP_TMP/acc-$p-$i")" = ok ] ||
			crab_fail "IPv6 listener on server $i port $p"
	done
	# Hash mode is DSR: the server receives segments to VIP6 itself.
	ip -n "${NS_SRV[i]}" addr add "$VIP6/128" dev lo nodad || crab_fail "VIP6 on server $i"
done
ep_helper_start cli "$NS_CLI" "$CG_CLI" "$D/ep_hold.py"

acc() {
	local v=0
	[ -e "$EP_TMP/acc-$1-$2" ] && read -r v <"$EP_TMP/acc-$1-$2"
	echo "${v:-0}"
}

# lbv PORT COUNTER: a counter of the service [VIP6]:PORT; lbb PORT: its
# per-backend packets "a b c" in server order.
lbj() { ep_crabctl "$NS_LB" -j lb xdp stats --dev eth0; }
lbv() {
	lbj | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([s for s in j["services"] if s["service"] == sys.argv[1]][0]["counters"][sys.argv[2]])' "[$VIP6]:$1" "$2"
}
lbb() {
	lbj | python3 -c '
import json, sys
j = json.load(sys.stdin)
be = [s for s in j["services"] if s["service"] == sys.argv[1]][0]["backends"]
print(" ".join(str(be.get(a, 0)) for a in sys.argv[2:]))' "[$VIP6]:$1" "${IP6_SRV[@]:1}"
}

# 1. Capable connections to both services.
for p in $P6 $P6H; do
	red0=$(ep_stat redirected)
	retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
	out=$(ep_helper cli "conns $VIP6 $p $N 10")
	retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
	red=$(($(ep_stat redirected) - red0))
	syn=$(lbv $p syn_redirected) nsd=$(lbv $p nonsyn_drop) nsh=$(lbv $p nonsyn_hashed)
	read -r b1 b2 b3 <<<"$(lbb $p)"
	a1=$(acc $p 1) a2=$(acc $p 2) a3=$(acc $p 3)
	crab_log "port $p: $out; redirected +$red; retrans $retr; LB syn_redirected $syn nonsyn_drop $nsd" \
		"nonsyn_hashed $nsh; LB per backend $b1 $b2 $b3; servers accepted $a1 $a2 $a3"
	[ "$out" = "ok $N" ] && [ "$red" = "$N" ]
	log_test $? "[$VIP6]:$p: $N IPv6 connections succeed, each redirected by the eBPF client"
	ok=0
	[ "$syn" = $((N + retr)) ] && [ "$nsd" = 0 ] && [ "$nsh" = 0 ] || ok=1
	[ $((b1 + b2 + b3)) = "$syn" ] || ok=1
	# The rr position is per CPU and XDP runs on the CPU polling the
	# veth: each CPU's share is an exact rr, so each backend is within one
	# per extra CPU of N/3, and one more per SYN retransmission.
	tol=$((retr + $(nproc) - 1))
	for b in $b1 $b2 $b3; do
		[ $((b - N / 3)) -le "$tol" ] && [ $((N / 3 - b)) -le "$tol" ] || ok=1
	done
	[ $((a1 + a2 + a3)) = "$N" ] || ok=1
	log_test $ok "[$VIP6]:$p: the XDP LB saw only the SYNs ($syn), round robin over the IPv6 backends ($b1 $b2 $b3)"
done

# 2. A legacy client: no announcement for VIP6.
"$CRABCTL" ebpf set --announce "$VIP/32" || crab_fail "announce list without VIP6"
h0=$(lbv $P6H syn_hashed) nh0=$(lbv $P6H nonsyn_hashed) red0=$(ep_stat redirected)
out=$(ep_helper cli "conns $VIP6 $P6H 3 10")
h=$(($(lbv $P6H syn_hashed) - h0)) nh=$(($(lbv $P6H nonsyn_hashed) - nh0))
red=$(($(ep_stat redirected) - red0))
crab_log "legacy on hash service: $out; syn_hashed +$h nonsyn_hashed +$nh redirected +$red"
[ "$out" = "ok 3" ] && [ "$h" -ge 3 ] && [ "$nh" -ge 6 ] && [ "$red" = 0 ]
log_test $? "[$VIP6]:$P6H legacy clients: SYN and later segments hashed through the LB (DSR), data echoed"
d0=$(lbv $P6 syn_legacy_drop)
out=$(ep_helper cli "conns $VIP6 $P6 1 1")
d=$(($(lbv $P6 syn_legacy_drop) - d0))
crab_log "legacy on drop service: $out; syn_legacy_drop +$d"
[[ $out == fail* ]] && [ "$d" -ge 1 ]
log_test $? "[$VIP6]:$P6 legacy client: its SYN dropped and counted ($d)"

# 3. show / stats.
ep_crabctl "$NS_LB" show --lb xdp --dev eth0 >"$EP_TMP/show.toml"
out=$(ep_crabctl "$NS_LB" apply -f "$EP_TMP/show.toml" --dry-run 2>&1)
grep -q "vip = \"$VIP6\"" "$EP_TMP/show.toml" && grep -q "addr = \"${IP6_SRV[2]}\"" "$EP_TMP/show.toml" &&
	[ "$out" = "no changes" ]
log_test $? "crabctl show: the IPv6 services as TOML; apply of it changes nothing ($out)"
st=$(ep_crabctl "$NS_LB" stats --lb xdp --dev eth0)
grep -Eq "^\[$VIP6\]:$P6 +syn_redirected " <<<"$st" &&
	grep -Eq "^\[$VIP6\]:$P6H +-> ${IP6_SRV[1]} " <<<"$st"
rc=$?
[ $rc = 0 ] || crab_log "stats: $st"
[ $rc = 0 ]
log_test $? "crabctl stats: rows of [$VIP6]:PORT and its IPv6 backends"

h=$(ep_crabctl "$NS_LB" -j health --once --lb xdp --dev eth0 --timeout 3000)
rc=$?
n=$(crab_json "$h" 'sum(1 for p in j if p["state"] == "capable" and ":" in p["backend"])')
[ $rc = 0 ] && [ "$n" = 6 ] || crab_log "health: exit $rc: $h"
[ $rc = 0 ] && [ "$n" = 6 ]
log_test $? "crabctl health --once: the six IPv6 backends probed with the IPv6 option, all capable"

crab_exit
