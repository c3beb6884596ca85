#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# SYNs without the redirect option (legacy clients), per service mode
# (SPEC 3.2): drop counts and drops; insert grows the header by the 8-byte
# option naming the VIP (checksums valid, no room -> counted); hash forwards
# every packet of a flow DSR-style (daddr stays the VIP, TTL decremented)
# to one backend chosen by the consistent hash.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup
nf_service --policy rr --legacy drop || crab_fail "cannot configure the service"

# drop
nf_capture_start
nf_send --count 6 --opt none
nf_capture_stop
[ "$(nf_res 'total("n")')" = 0 ] && [ "$(nf_counter syn_legacy_drop)" = 6 ]
log_test $? "legacy drop: 6 SYNs without option dropped, counted"

# insert
lbctl lb nf service set "$NF_SVC" --legacy insert || crab_fail "service set"
nf_capture_start
nf_send --count 6 --sport 21000 --opt none
nf_send --count 3 --sport 21100 --opt none --payload 33
nf_send --count 3 --sport 21200 --opt none --ipopts
nf_capture_stop
ok=$(nf_res 'total("syn") == 12 and total("csum_bad") == 0 and all(L(i)["opt"] == {"'"$VIP"'": 4} for i in (1,2,3))')
[ "$ok" = True ]
log_test $? "legacy insert: option naming the VIP added, checksums valid, rr 4/4/4"
ok=$(nf_res 'sum(v["len"].get("32", 0) for v in j["labels"].values()) == 9 and sum(v["len"].get("65", 0) for v in j["labels"].values()) == 3')
[ "$ok" = True ]
log_test $? "legacy insert: TCP header grown by 8 bytes, payload kept"
[ "$(nf_counter syn_inserted)" = 12 ]
log_test $? "syn_inserted counts 12"

nf_capture_start
nf_send --count 2 --sport 21300 --opt full
nf_capture_stop
[ "$(nf_res 'total("n")')" = 0 ] && [ "$(nf_counter no_room)" = 2 ]
log_test $? "legacy insert: 40 option bytes already -> dropped, no_room counted"

# hash (DSR): servers own the VIP on loopback
crab_servers_vip_on_lo
lbctl lb nf service set "$NF_SVC" --legacy hash || crab_fail "service set"
nf_capture_start
nf_send --count 60 --sport 40000 --opt none
nf_send --count 60 --sport 40000 --opt none --flags A
nf_send --count 60 --sport 40000 --opt none --flags PA --payload 20
nf_capture_stop
ok=$(nf_res 'total("n") == 180 and all(L(i)["dst"] == {"'"$VIP"'": L(i)["n"]} for i in (1,2,3)) and total("csum_bad") == 0')
[ "$ok" = True ]
log_test $? "legacy hash: 180 packets forwarded with daddr = VIP, checksums valid"
ok=$(nf_res 'all(len(v) == 1 for v in j["sports"].values()) and len(j["sports"]) == 60')
[ "$ok" = True ]
log_test $? "legacy hash: every flow (SYN, ACK, data) at exactly one backend"
crab_log "hash spread: $(nf_res '[L(i)["n"] for i in (1,2,3)]')"
ok=$(nf_res 'all(L(i)["n"] > 0 for i in (1,2,3)) and all(L(i)["ttl"] == {"63": L(i)["n"]} for i in (1,2,3))')
[ "$ok" = True ]
log_test $? "legacy hash: flows spread over all backends, TTL decremented"
[ "$(nf_counter syn_hashed)" = 60 ] && [ "$(nf_counter nonsyn_hashed)" = 120 ]
log_test $? "syn_hashed 60, nonsyn_hashed 120"

# capable SYNs are still redirected in hash mode
nf_capture_start
nf_send --count 3 --sport 41000 --opt vip
nf_capture_stop
ok=$(nf_res 'total("syn") == 3 and sum(v["opt"].get("'"$VIP"'", 0) for v in j["labels"].values()) == 3 and all("'"$VIP"'" not in L(i)["dst"] for i in (1,2,3))')
[ "$ok" = True ]
log_test $? "hash mode: capable SYNs still redirected to a DIP"

# draining a backend: the Maglev table is rebuilt without it
lbctl lb nf backend drain "$NF_SVC" "${IP_SRV[2]}" || crab_fail "drain"
nf_capture_start
nf_send --count 60 --sport 40000 --opt none --flags A
nf_capture_stop
moved_ok=$(nf_res 'L(2)["n"] == 0 and total("n") == 60')
[ "$moved_ok" = True ]
log_test $? "hash mode: drained backend gets no packets"

crab_exit
