#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
# crab-kernels: newest
#
# Backends added, drained and removed while SYNs flow (docs/PROTOCOL.md 5):
# after each change the next SYNs go exactly to the new active set; with no
# active backend SYNs are dropped and counted (no_backend); 20 changes made
# while a stream of SYNs runs (it demonstrably started before the first
# change and went on after the last) lose no SYN and send none to a
# half-built set.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup
lbctl lb nf service add "$NF_SVC" --policy rr || crab_fail "service add"

nf_send count=2
[ "$(nf_counter no_backend)" = 2 ]
log_test $? "no backend: SYNs dropped, no_backend counted"

lbctl lb nf backend add "$NF_SVC" "${IP_SRV[1]}" &&
	lbctl lb nf backend add "$NF_SVC" "${IP_SRV[2]}" || crab_fail "backend add"
nf_capture_start
nf_send count=10 sport=21000
nf_capture_stop
[ "$(nf_syns)" = "5 5 0" ]
log_test $? "two backends: 10 SYNs -> 5/5/0 ($(nf_syns))"

lbctl lb nf backend add "$NF_SVC" "${IP_SRV[3]}" || crab_fail "backend add"
nf_capture_start
nf_send count=9 sport=22000
nf_capture_stop
[ "$(nf_syns)" = "3 3 3" ]
log_test $? "backend added at runtime: 9 SYNs -> 3/3/3 ($(nf_syns))"

lbctl lb nf backend drain "$NF_SVC" "${IP_SRV[2]}" || crab_fail "drain"
nf_capture_start
nf_send count=10 sport=23000
nf_capture_stop
[ "$(nf_syns)" = "5 0 5" ]
log_test $? "drained backend gets no new SYNs ($(nf_syns))"
[ "$(nf_show /services/0/backends/0/state /services/0/backends/1/state /services/0/backends/2/state |
	tr '\n' ' ')" = "active draining active " ]
log_test $? "show reports the draining state"

lbctl lb nf backend del "$NF_SVC" "${IP_SRV[1]}" || crab_fail "backend del"
nf_capture_start
nf_send count=4 sport=24000
nf_capture_stop
[ "$(nf_syns)" = "0 0 4" ]
log_test $? "removed backend gets nothing, the last active one everything ($(nf_syns))"

# Changes while SYNs flow: every SYN reaches some active backend; none is
# lost or sent to a half-built set. The stream (one SYN per 20 ms, at most
# 20000) runs until told to stop; the changes start once the LB has
# redirected SYNs of it, and the stream stops only once the LB redirected
# more after the last change: the changes overlapped it.
lbctl lb nf backend set "$NF_SVC" "${IP_SRV[2]}" --state active || crab_fail "set"
red0=$(nf_counter syn_redirected)
stop=$NF_DIR/stream.stop
nf_capture_start
nf_send count=20000 sport=25000 inter=0.02 --until "$stop" --verbose >"$NF_DIR/stream.out" &
spid=$!
crab_defer "touch $stop; kill $spid"
wait_red() {	# wait_red N: until syn_redirected > N (at most 60 s)
	local i
	for i in $(seq 600); do
		[ "$(nf_counter syn_redirected)" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_red "$red0"
first=$(nf_counter syn_redirected)
nops=0 nbad=0
for k in 1 2 3 4 5; do
	for op in "add $NF_SVC ${IP_SRV[1]}" "drain $NF_SVC ${IP_SRV[3]}" "del $NF_SVC ${IP_SRV[1]}" \
		"set $NF_SVC ${IP_SRV[3]} --state active"; do
		# shellcheck disable=SC2086
		lbctl lb nf backend $op || nbad=$((nbad + 1))
		nops=$((nops + 1))
	done
done
last=$(nf_counter syn_redirected)
wait_red "$last"
after=$?
touch "$stop"
wait $spid
sent=$(sed -n 's/^sent //p' "$NF_DIR/stream.out")
nf_capture_stop
drops=$(nf_counter no_backend)
crab_log "stream: $sent SYNs; redirected $((first - red0)) before the first change, $((last - first)) during the $nops changes, then more after the last"
[ "$nbad" = 0 ] && [ $((first - red0)) -gt 0 ] && [ $((last - first)) -gt 0 ] && [ "$after" = 0 ]
log_test $? "$nops backend changes made while the SYN stream ran (SYNs redirected before, during and after them)"
[ -n "$sent" ] && [ "$(nf_sum syn)" = "$sent" ] && [ "$drops" = 2 ] &&
	[ "$(nf_counter syn_redirected)" = $((red0 + sent)) ]
log_test $? "$sent SYNs during the changes: all delivered to active backends, none without one"

lbctl lb nf service del "$NF_SVC" || crab_fail "service del"
nf_capture_start
nf_send count=3 sport=26000
nf_capture_stop
[ "$(nf_sum n)" = 0 ] && [ "$(nf_show /services)" = "[]" ]
log_test $? "service removed: VIP traffic no longer redirected"

crab_exit
