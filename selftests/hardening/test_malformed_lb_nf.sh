#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Malformed packets at the nf LB (docs/PROTOCOL.md 2, 3.2, 6): every
# class of malformed.py sent by a host on the segment to VIP:81 (a service
# of its own, so its counters move only for the barrage) while real
# connections run through VIP:80 on the same LB. Each case increments
# exactly the counters it should (parse_error for truncated headers and
# bogus doff, opt_malformed / opt_bad_len / syn_legacy_drop for the option
# walk, fragment for each fragment, syn_redirected for well-formed SYNs
# with duplicate options, IP options, odd addresses or data), real
# connections succeed during and after, and the kernel logs no oops/WARN.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/hd_lib.sh"

BPORT=81
crab_check_tool dmesg nsenter
nf_setup_connections
crab_add_host EVIL "$IP_EVIL"
ip -n "$NS_EVIL" route add "$VIP/32" via "$IP_LB"
hd_evil_quiet
lbctl lb nf service add "$VIP:$BPORT" --policy rr --legacy drop || crab_fail "service add $VIP:$BPORT"
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	lbctl lb nf backend add "$VIP:$BPORT" "${IP_SRV[i]}" || crab_fail "backend add"
done
ip netns exec "$NS_EVIL" ping -c1 -W5 "$IP_LB" >/dev/null
hd_dmesg_mark

hd_traffic_start "$NS_CLI" "$VIP" "$NF_PORT" "$NF_DIR/traffic.json"
HD_TARGET=crab_lb_nf
hd_run_cases "$NF_DIR/lb.out" "$NS_EVIL" --role lb --src "$IP_EVIL" --dst "$VIP" \
	--sport 44000 --dport $BPORT \
	--counters "file:$(crab_ns_file "$NS_LB" crab_lb)" --fmt "nfproc:$VIP:$BPORT" \
	--noise g.not_vip
hd_traffic_stop "$NF_DIR/traffic.json"
crab_log "during the barrage: $HD_OK connections ok, $HD_FAILED failed, $HD_ROUNDS rounds"
[ "$HD_FAILED" = 0 ] && [ "$HD_OK" -gt 0 ]
log_test $? "real connections through the LB during the barrage: all succeeded"
r=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port "$NF_PORT" --count 6 --timeout 20)
crab_log "after: $r"
p=$(crab_peers "$r")
crab_conns_ok "$r" 6 && [ "$(wc -w <<<"$p")" = 3 ]
log_test $? "real connections through the LB after the barrage: all succeeded, 3 backends"
hd_dmesg_check
log_test $? "no oops, WARN or BUG in the kernel log"

crab_exit
