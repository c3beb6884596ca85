#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Backends added, drained and removed while SYNs flow (SPEC 5): after each
# change the next SYNs go exactly to the new active set; with no active
# backend SYNs are dropped and counted (no_backend).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup
lbctl lb nf service add "$NF_SVC" --policy rr || crab_fail "service add"

nf_send --count 2 --opt vip
[ "$(nf_counter no_backend)" = 2 ]
log_test $? "no backend: SYNs dropped, no_backend counted"

lbctl lb nf backend add "$NF_SVC" "${IP_SRV[1]}" &&
	lbctl lb nf backend add "$NF_SVC" "${IP_SRV[2]}" || crab_fail "backend add"
nf_capture_start
nf_send --count 10 --sport 21000 --opt vip
nf_capture_stop
[ "$(nf_res '[L(i)["syn"] for i in (1,2,3)]')" = "[5, 5, 0]" ]
log_test $? "two backends: 10 SYNs -> 5/5/0"

lbctl lb nf backend add "$NF_SVC" "${IP_SRV[3]}" || crab_fail "backend add"
nf_capture_start
nf_send --count 9 --sport 22000 --opt vip
nf_capture_stop
[ "$(nf_res '[L(i)["syn"] for i in (1,2,3)]')" = "[3, 3, 3]" ]
log_test $? "backend added at runtime: 9 SYNs -> 3/3/3"

lbctl lb nf backend drain "$NF_SVC" "${IP_SRV[2]}" || crab_fail "drain"
nf_capture_start
nf_send --count 10 --sport 23000 --opt vip
nf_capture_stop
[ "$(nf_res '[L(i)["syn"] for i in (1,2,3)]')" = "[5, 0, 5]" ]
log_test $? "drained backend gets no new SYNs"
st=$(lbctl -j lb nf show)
[ "$(crab_json "$st" '[b["state"] for b in j["services"][0]["backends"]]')" = "['active', 'draining', 'active']" ]
log_test $? "show reports the draining state"

lbctl lb nf backend del "$NF_SVC" "${IP_SRV[1]}" || crab_fail "backend del"
nf_capture_start
nf_send --count 4 --sport 24000 --opt vip
nf_capture_stop
[ "$(nf_res '[L(i)["syn"] for i in (1,2,3)]')" = "[0, 0, 4]" ]
log_test $? "removed backend gets nothing, the last active one everything"

# Changes while SYNs flow: every SYN reaches some active backend; none is
# lost or sent to a half-built set.
lbctl lb nf backend set "$NF_SVC" "${IP_SRV[2]}" --state active || crab_fail "set"
nf_capture_start
nf_send --count 200 --sport 25000 --opt vip --inter 0.002 &
spid=$!
for k in 1 2 3 4 5; do
	lbctl lb nf backend add "$NF_SVC" "${IP_SRV[1]}"
	lbctl lb nf backend drain "$NF_SVC" "${IP_SRV[3]}"
	lbctl lb nf backend del "$NF_SVC" "${IP_SRV[1]}"
	lbctl lb nf backend set "$NF_SVC" "${IP_SRV[3]}" --state active
done
wait $spid
nf_capture_stop
drops=$(nf_counter no_backend)
[ "$(nf_res 'total("syn")')" = 200 ] && [ "$drops" = 2 ]
log_test $? "200 SYNs during 20 backend changes: all delivered"

lbctl lb nf service del "$NF_SVC" || crab_fail "service del"
nf_capture_start
nf_send --count 3 --sport 26000 --opt vip
nf_capture_stop
[ "$(nf_res 'total("n")')" = 0 ] && [ "$(crab_json "$(lbctl -j lb nf show)" 'len(j["services"])')" = 0 ]
log_test $? "service removed: VIP traffic no longer redirected"

crab_exit
