#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
# crab-kernels: newest
#
# SYNs without the redirect option (legacy clients), per service mode
# (docs/PROTOCOL.md 3.2, 5): drop counts and drops; insert grows the header
# by the 8-byte option naming the VIP, where every option walk sees it (also
# when the SYN's options end in EOL), checksums valid, no room -> counted;
# hash forwards every packet of a flow DSR-style (daddr stays the VIP, TTL
# decremented) to one backend chosen by the consistent hash (the one the
# DPDK LB core picks for the flow: crab-lb-hash-fixtures --picks), and a draining
# backend keeps the flows hashed to it while new SYNs, capable or legacy,
# avoid it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

# Where the DPDK LB core sends the same flows: the three LBs share one model.
HASHFIX=${CRAB_LB_HASH_FIXTURES:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-hash-fixtures}
crab_require_built "$HASHFIX" crab-lb-hash-fixtures

nf_setup
nf_service --policy rr --legacy drop || crab_fail "cannot configure the service"

# drop
nf_capture_start
nf_send count=6 opt=mss:1460
nf_capture_stop
[ "$(nf_sum n)" = 0 ] && [ "$(nf_counter syn_legacy_drop)" = 6 ]
log_test $? "legacy drop: 6 SYNs without option dropped, counted"

# insert
lbctl lb nf service set "$NF_SVC" --legacy insert || crab_fail "service set"
nf_capture_start
nf_send count=6 sport=21000 opt=mss:1460
nf_send count=3 sport=21100 opt=mss:1460 payload=33
nf_send count=3 sport=21200 opt=mss:1460 ipopt=01010100
nf_capture_stop
ok=0
for i in 1 2 3; do [ "$(nf_get $i opt)" = "$VIP:4" ] || ok=1; done
[ "$(nf_sum syn)" = 12 ] && [ "$(nf_sum csum_bad)" = 0 ] || ok=1
log_test $ok "legacy insert: option naming the VIP added, checksums valid, rr 4/4/4"
[ "$(nf_hist_sum len 32)" = 9 ] && [ "$(nf_hist_sum len 65)" = 3 ]
log_test $? "legacy insert: TCP header grown by 8 bytes, payload kept"
[ "$(nf_counter syn_inserted)" = 12 ]
log_test $? "syn_inserted counts 12"

# A SYN whose options end in EOL (MSS, EOL, padding): an option added
# behind the EOL would be seen by no walk, the server's included.
nf_capture_start
nf_send count=3 sport=21400 opt=mss:1460,eol
nf_send count=3 sport=21500 opt=eol
nf_capture_stop
[ "$(nf_sum syn)" = 6 ] && [ "$(nf_hist_sum opt "$VIP")" = 6 ] && [ "$(nf_sum csum_bad)" = 0 ] &&
	[ "$(nf_hist_sum len 36)" = 3 ] && [ "$(nf_hist_sum len 32)" = 3 ]
log_test $? "legacy insert into a SYN ending in EOL: the option is seen by the walk (before the EOL)"

nf_capture_start
nf_send count=2 sport=21300 opt=mss:1460,raw:$(printf '01%.0s' {1..36})
nf_capture_stop
[ "$(nf_sum n)" = 0 ] && [ "$(nf_counter no_room)" = 2 ]
log_test $? "legacy insert: 40 option bytes already -> dropped, no_room counted"

# hash (DSR): servers own the VIP on loopback
crab_servers_vip_on_lo
lbctl lb nf service set "$NF_SVC" --legacy hash || crab_fail "service set"
nf_capture_start
nf_send count=60 sport=40000 opt=mss:1460
nf_send count=60 sport=40000 opt=none flags=A
nf_send count=60 sport=40000 opt=none flags=PA payload=20
nf_capture_stop
ok=0
for i in 1 2 3; do [ "$(nf_get $i dst)" = "$VIP:$(nf_get $i n)" ] || ok=1; done
[ "$(nf_sum n)" = 180 ] && [ "$(nf_sum csum_bad)" = 0 ] || ok=1
log_test $ok "legacy hash: 180 packets forwarded with daddr = VIP, checksums valid"
[ "${CRAB_PCAP[sports.multi]}" = 0 ] && [ "${CRAB_PCAP[sports.total]}" = 60 ]
log_test $? "legacy hash: every flow (SYN, ACK, data) at exactly one backend"
got=$(nf_flows)
want=$("$HASHFIX" --picks "$IP_CLI" "$VIP:$NF_PORT" 40000 60 "${IP_SRV[1]}" "${IP_SRV[2]}" "${IP_SRV[3]}")
crab_log "hash: flows at ${got:0:120}..."
[ -n "$want" ] && [ "$got" = "$want" ]
log_test $? "legacy hash: each of the 60 flows at the backend the DPDK LB picks for it"
if [ "$got" != "$want" ]; then
	crab_log "netfilter: $got"
	crab_log "DPDK:      $want"
fi
crab_log "hash spread: $(nf_get 1 n) $(nf_get 2 n) $(nf_get 3 n)"
ok=0
for i in 1 2 3; do [ "$(nf_get $i n)" -gt 0 ] && [ "$(nf_get $i ttl)" = "63:$(nf_get $i n)" ] || ok=1; done
log_test $ok "legacy hash: flows spread over all backends, TTL decremented"
[ "$(nf_counter syn_hashed)" = 60 ] && [ "$(nf_counter nonsyn_hashed)" = 120 ]
log_test $? "syn_hashed 60, nonsyn_hashed 120"

# capable SYNs are still redirected in hash mode
nf_capture_start
nf_send count=3 sport=41000
nf_capture_stop
[ "$(nf_sum syn)" = 3 ] && [ "$(nf_hist_sum opt "$VIP")" = 3 ] && [ "$(nf_hist_sum dst "$VIP")" = 0 ]
log_test $? "hash mode: capable SYNs still redirected to a DIP"

# A draining backend keeps the flows hashed to it (docs/PROTOCOL.md 5):
# the same 60 flows' packets reach the same servers as before the drain,
# server 2's among them; new capable SYNs avoid server 2.
nf_capture_start
nf_send count=60 sport=40000 opt=none flags=A
nf_capture_stop
before=$(nf_flows)
on2=$(nf_get 2 n)
lbctl lb nf backend drain "$NF_SVC" "${IP_SRV[2]}" || crab_fail "drain"
nf_capture_start
nf_send count=60 sport=40000 opt=none flags=A
nf_send count=6 sport=42000
nf_capture_stop
after=$(nf_flows)
after=${after%% 42000:*}
crab_log "server 2 had $on2 of the 60 flows before the drain; new SYNs after it: $(nf_syns)"
[ "$on2" -gt 0 ] && [ "$after" = "$before" ] && [ "$(nf_get 2 n)" = "$on2" ]
log_test $? "hash mode: the drained backend keeps its $on2 hashed flows, every flow at the same backend"
[ "$(nf_get 2 syn)" = 0 ] && [ "$(nf_get 1 syn)" = 3 ] && [ "$(nf_get 3 syn)" = 3 ]
log_test $? "hash mode: new capable SYNs avoid the draining backend ($(nf_syns))"

# No new flow starts on a draining backend either: legacy SYNs of the
# flows hashed to server 2 are dropped and counted, the others go on to
# the server their flow is at.
nf_capture_start
nf_send count=60 sport=40000 opt=mss:1460
nf_capture_stop
crab_log "legacy SYNs after the drain: $(nf_syns); syn_hash_draining $(nf_counter syn_hash_draining)"
[ "${CRAB_PCAP[srv2.n]:-0}" = 0 ] && [ "$(nf_sum syn)" = $((60 - on2)) ] &&
	[ "$(nf_counter syn_hash_draining)" = "$on2" ]
log_test $? "hash mode: legacy SYNs of the $on2 flows at the draining backend dropped (syn_hash_draining), the others forwarded"

crab_exit
