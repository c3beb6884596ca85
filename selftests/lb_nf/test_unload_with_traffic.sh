#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# rmmod crab_lb_nf while services are configured (in two namespaces) and
# SYNs flow: no crash (the VM runner checks the kernel log), the module is
# gone, and VIP traffic is no longer redirected.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup
nf_service --policy random --legacy hash || crab_fail "service add"
crab_servers_vip_on_lo
ip netns exec "$NS_CLI" "$CRABCTL" lb nf service add 198.18.100.2:80 ||
	crab_fail "service in a second namespace"

stop=$NF_DIR/stop
nf_send count=20000 sport=20000 inter=0.001 --until "$stop" &
spid=$!
nf_send count=20000 sport=20000 opt=none flags=A inter=0.001 --until "$stop" &
apid=$!
crab_defer "touch $stop; kill $spid $apid"
# Unload only once SYNs are really being redirected: poll the counter,
# bounded at 60 s.
n1=0
for _ in $(seq 300); do
	n1=$(nf_counter syn_redirected)
	[ "${n1:-0}" -gt 0 ] 2>/dev/null && break
	sleep 0.2
done
kill -0 $spid && kill -0 $apid
alive=$?
rmmod crab_lb_nf
rc=$?
kill -0 $spid && kill -0 $apid || alive=1
touch "$stop"
wait $spid $apid
[ $rc -eq 0 ] && ! grep -q '^crab_lb_nf ' /proc/modules && [ "${n1:-0}" -gt 0 ] && [ $alive = 0 ]
log_test $? "rmmod with 2 services and traffic flowing ($n1 SYNs redirected before)"

nf_capture_start
nf_send count=3 sport=30000
nf_capture_stop
[ "$(nf_sum n)" = 0 ]
log_test $? "after unload: VIP traffic no longer redirected"

crab_load_module crab_lb_nf
[ -e "$(crab_ns_file "$NS_LB" crab_lb)" ]
log_test $? "module loads again"

crab_exit
