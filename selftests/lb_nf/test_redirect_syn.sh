#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
# crab-kernels: newest
#
# Redirect-capable SYNs through crab_lb_nf.ko (docs/PROTOCOL.md 3.2, 5):
# each reaches a DIP with daddr rewritten, the option naming the VIP and
# valid IP and TCP checksums, whatever the option's position, IP options or
# payload; rr spreads exactly N/N/N, random passes a chi-square bound a
# narrow random source fails; wrr follows the weights; non-SYNs are dropped
# and counted; traffic not for VIP:port is untouched. Then, with the module
# loaded again: round robin goes on in order across 2^32 (the position is
# 64 bits wide), and the RFC 6994 form (kind 254, ExID) is read, rewritten
# and inserted when the module is configured for it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup
nf_service --policy rr --legacy drop || crab_fail "cannot configure the service"

# 1. capable SYNs, rr: 30 SYNs -> 10 per server, all well-formed
nf_capture_start
nf_send count=30 opt=mss:1460,crab:203.0.113.9
nf_capture_stop
[ "$(nf_syns)" = "10 10 10" ]
log_test $? "rr: 30 capable SYNs split exactly 10/10/10 ($(nf_syns))"
ok=0
for i in 1 2 3; do [ "$(nf_get $i dst)" = "${IP_SRV[i]}:10" ] || ok=1; done
log_test $ok "SYN daddr rewritten to the DIP"
ok=0
for i in 1 2 3; do [ "$(nf_get $i opt)" = "$VIP:10" ] || ok=1; done
[ "$(nf_sum csum_bad)" = 0 ] || ok=1
log_test $ok "option names the VIP (was another address), checksums valid"
[ "$(nf_counter syn_redirected)" = 30 ]
log_test $? "syn_redirected counts 30"

# 2. option at an odd offset, IP options (ihl 6), SYN with payload
nf_capture_start
nf_send count=3 sport=21000 opt=mss:1460,nop,crab6:10.9.8.7,eol
nf_send count=3 sport=21100 ipopt=01010100
nf_send count=3 sport=21200 payload=101
nf_capture_stop
[ "$(nf_sum syn)" = 9 ] && [ "$(nf_sum csum_bad)" = 0 ] && [ "$(nf_hist_sum opt "$VIP")" = 9 ]
log_test $? "odd option offset, IP options, payload: rewritten, checksums valid"

# 3. random: 300 SYNs, chi-square with 2 degrees of freedom < 18.42
# (p = 0.0001 for a fair split). A random source narrower than the scaling
# expects (16 bits into reciprocal_scale()'s 32) sends every SYN to one
# backend: chi-square 600.
lbctl lb nf service set "$NF_SVC" --policy random || crab_fail "service set"
nf_capture_start
nf_send count=300 sport=30000 inter=0.002
nf_capture_stop
chi=$(nf_chi2 "$(nf_syns)" 300)
crab_log "random: $(nf_syns) chi2=$((chi / 100)).$((chi % 100))"
[ "$(nf_sum syn)" = 300 ] && [ "$chi" -lt 1842 ]
log_test $? "random: 300 SYNs ($(nf_syns)), chi-square $((chi / 100)).$((chi % 100)) < 18.42"

# 4. wrr 1:2:3 over 60 SYNs -> 10/20/30
lbctl lb nf service set "$NF_SVC" --policy wrr &&
for i in 1 2 3; do
	lbctl lb nf backend set "$NF_SVC" "${IP_SRV[i]}" --weight "$i"
done
nf_capture_start
nf_send count=60 sport=31000
nf_capture_stop
[ "$(nf_syns)" = "10 20 30" ]
log_test $? "wrr weights 1:2:3: 60 SYNs split 10/20/30 ($(nf_syns))"

# 5. non-SYN to the VIP: dropped and counted
before=$(nf_counter nonsyn_drop)
nf_capture_start
nf_send count=5 sport=32000 flags=A opt=none
nf_send count=5 sport=32100 flags=PA opt=none payload=10
nf_capture_stop
[ "$(nf_sum n)" = 0 ] && [ "$(nf_counter nonsyn_drop)" = $((before + 10)) ]
log_test $? "non-SYN to the VIP dropped and counted (nonsyn_drop)"

# 6. malformed options and wrong-length options: no crash, counted
before=$(nf_counter opt_malformed)
bl=$(nf_counter opt_bad_len)
nf_send count=4 sport=33000 opt=mss:1460,raw:08010000,crab
nf_send count=3 sport=33100 opt=mss:1460,kind:42:c612
[ "$(nf_counter opt_malformed)" = $((before + 4)) ] &&
	[ "$(nf_counter opt_bad_len)" = $((bl + 3)) ]
log_test $? "malformed option walk and wrong-length option counted"

# 7. not for VIP:port: untouched (other port of the VIP, a server directly)
nv=$(nf_counter not_vip -)
nf_capture_start
nf_send count=3 dport=81
nf_send count=3 dst="${IP_SRV[1]}" opt=mss:1460,crab:192.0.2.1 sport=34000
nf_capture_stop
[ "$(nf_get 1 dst)" = "${IP_SRV[1]}:3" ] && [ "$(nf_get 1 opt)" = "192.0.2.1:3" ] &&
	[ "$(nf_sum n)" = 3 ] && [ "$(nf_counter not_vip -)" -ge $((nv + 3)) ]
log_test $? "traffic not for VIP:port passes untouched (not_vip counted)"

# 8. the same counters without crabctl
f=$(crab_ns_file "$NS_LB" crab_lb)
grep -q "^service $NF_SVC policy wrr legacy drop" "$f" && grep -q "^  syn_redirected " "$f"
log_test $? "/proc/net/crab_lb lists the service and its counters"

# 9. round robin across 2^32: the position starts at 2^32 - 2 (module
# parameter rr_start); 6 SYNs go to active[(2^32 - 2 + k) mod 3]: servers
# 3 1 2 3 1 2. A 32-bit position would wrap to 0 after two: 3 1 1 2 3 1.
start=$((2 ** 32 - 2))
nf_reload rr_start=$start
nf_service --policy rr --legacy drop || crab_fail "service add after reload"
nf_capture_start
nf_send count=6 sport=35000
nf_capture_stop
want=
for k in 0 1 2 3 4 5; do want+="$((35000 + k)):srv$(((start + k) % 3 + 1)) "; done
got=$(nf_flows)
crab_log "rr from 2^32 - 2: $got"
[ "$got" = "${want% }" ]
log_test $? "rr goes on in order across 2^32 (no early wrap): ${want% }"

# 10. RFC 6994 form: the module loaded with opt_kind=254 reads kind 254
# with its ExID, rewrites its address, and inserts that form for legacy
# SYNs; the kind-42 form is then no announcement.
nf_reload opt_kind=254
NF_PCAP_ARGS=(--opt-kind 254)
nf_service --policy rr --legacy insert || crab_fail "service add after reload"
nf_capture_start
nf_send count=3 sport=36000 opt=mss:1460,exp:203.0.113.9
nf_capture_stop
ok=0
for i in 1 2 3; do [ "$(nf_get $i opt)" = "$VIP:1" ] && [ "$(nf_get $i dst)" = "${IP_SRV[i]}:1" ] || ok=1; done
[ "$(nf_sum csum_bad)" = 0 ] && [ "$(nf_counter syn_redirected)" = 3 ] || ok=1
log_test $ok "RFC 6994 form: kind 254 option rewritten to the VIP, 1/1/1, checksums valid"
nf_capture_start
nf_send count=3 sport=36100 opt=mss:1460,crab:203.0.113.9
nf_send count=3 sport=36200 opt=mss:1460,exp:203.0.113.9:0x1234
nf_capture_stop
[ "$(nf_counter syn_inserted)" = 6 ] && [ "$(nf_counter syn_redirected)" = 3 ] &&
	[ "$(nf_hist_sum opt "$VIP")" = 6 ] && [ "$(nf_sum csum_bad)" = 0 ]
log_test $? "RFC 6994 form: kind 42 and a foreign ExID are legacy SYNs, the kind 254 option is inserted"
NF_PCAP_ARGS=()
nf_capture_start
nf_send count=3 sport=36300 opt=mss:1460,crab:203.0.113.9
nf_capture_stop
[ "$(nf_hist_sum opt 203.0.113.9)" = 3 ]
log_test $? "RFC 6994 form: the kind 42 option passes unchanged next to the inserted one"

crab_exit
