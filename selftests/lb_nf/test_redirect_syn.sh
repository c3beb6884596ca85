#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Redirect-capable SYNs through crab_lb_nf.ko (SPEC 3.2): each reaches a
# DIP with daddr rewritten, the option naming the VIP and valid IP and TCP
# checksums, whatever the option's position, IP options or payload; rr
# spreads exactly N/N/N, random passes a chi-square bound; non-SYNs are
# dropped and counted; traffic not for VIP:port is untouched.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup
nf_service --policy rr --legacy drop || crab_fail "cannot configure the service"

# 1. capable SYNs, rr: 30 SYNs -> 10 per server, all well-formed
nf_capture_start
nf_send --count 30 --opt vip --opt-addr 203.0.113.9
nf_capture_stop
ok=$(nf_res '[L(i)["syn"] for i in (1,2,3)] == [10,10,10]')
[ "$ok" = True ]
log_test $? "rr: 30 capable SYNs split exactly 10/10/10"
ok=$(nf_res 'all(L(i)["dst"] == {"198.18.0.%d" % (10+i): 10} for i in (1,2,3))')
[ "$ok" = True ]
log_test $? "SYN daddr rewritten to the DIP"
ok=$(nf_res 'all(L(i)["opt"] == {"'"$VIP"'": 10} for i in (1,2,3)) and total("csum_bad") == 0')
[ "$ok" = True ]
log_test $? "option names the VIP (was another address), checksums valid"
[ "$(nf_counter syn_redirected)" = 30 ]
log_test $? "syn_redirected counts 30"

# 2. option at an odd offset, IP options (ihl 6), SYN with payload
nf_capture_start
nf_send --count 3 --sport 21000 --opt odd --opt-addr 10.9.8.7
nf_send --count 3 --sport 21100 --opt vip --ipopts
nf_send --count 3 --sport 21200 --opt vip --payload 101
nf_capture_stop
ok=$(nf_res 'total("syn") == 9 and total("csum_bad") == 0 and sum(v["opt"].get("'"$VIP"'", 0) for v in j["labels"].values()) == 9')
[ "$ok" = True ]
log_test $? "odd option offset, IP options, payload: rewritten, checksums valid"

# 3. random: 300 SYNs; chi-square with 2 degrees of freedom < 13.8 (p=0.001)
lbctl lb nf service set "$NF_SVC" --policy random || crab_fail "service set"
nf_capture_start
nf_send --count 300 --sport 30000 --opt vip
nf_capture_stop
chi=$(nf_res 'round(sum((L(i)["syn"] - 100) ** 2 / 100 for i in (1,2,3)), 2)')
n=$(nf_res 'total("syn")')
crab_log "random: $(nf_res '[L(i)["syn"] for i in (1,2,3)]') chi2=$chi"
[ "$n" = 300 ] && python3 -c "import sys; sys.exit(0 if $chi < 13.8 else 1)"
log_test $? "random: 300 SYNs, chi-square $chi < 13.8"

# 4. wrr 1:2:3 over 60 SYNs -> 10/20/30
lbctl lb nf service set "$NF_SVC" --policy wrr &&
for i in 1 2 3; do
	lbctl lb nf backend set "$NF_SVC" "${IP_SRV[i]}" --weight "$i"
done
nf_capture_start
nf_send --count 60 --sport 31000 --opt vip
nf_capture_stop
ok=$(nf_res '[L(i)["syn"] for i in (1,2,3)] == [10,20,30]')
[ "$ok" = True ]
log_test $? "wrr weights 1:2:3: 60 SYNs split 10/20/30"

# 5. non-SYN to the VIP: dropped and counted
before=$(nf_counter nonsyn_drop)
nf_capture_start
nf_send --count 5 --sport 32000 --flags A --opt none
nf_send --count 5 --sport 32100 --flags PA --opt none --payload 10
nf_capture_stop
[ "$(nf_res 'total("n")')" = 0 ] && [ "$(nf_counter nonsyn_drop)" = $((before + 10)) ]
log_test $? "non-SYN to the VIP dropped and counted (nonsyn_drop)"

# 6. malformed options and wrong-length options: no crash, counted
before=$(nf_counter opt_malformed)
bl=$(nf_counter opt_bad_len)
nf_send --count 4 --sport 33000 --opt malformed
nf_send --count 3 --sport 33100 --opt badlen
[ "$(nf_counter opt_malformed)" = $((before + 4)) ] &&
	[ "$(nf_counter opt_bad_len)" = $((bl + 3)) ]
log_test $? "malformed option walk and wrong-length option counted"

# 7. not for VIP:port: untouched (other port of the VIP, a server directly)
nv=$(nf_counter not_vip -)
nf_capture_start
ip netns exec "$NS_CLI" $NF_PKT send --dst "$VIP" --dport 81 --count 3 --opt vip
ip netns exec "$NS_CLI" $NF_PKT send --dst "${IP_SRV[1]}" --dport "$NF_PORT" \
	--count 3 --opt vip --opt-addr 192.0.2.1 --sport 34000
nf_capture_stop
ok=$(nf_res 'L(1)["dst"] == {"198.18.0.11": 3} and L(1)["opt"] == {"192.0.2.1": 3} and total("n") == 3')
[ "$ok" = True ] && [ "$(nf_counter not_vip -)" -ge $((nv + 3)) ]
log_test $? "traffic not for VIP:port passes untouched (not_vip counted)"

# 8. the same counters without crabctl
ip netns exec "$NS_LB" grep -q "^service $NF_SVC policy wrr legacy drop" /proc/net/crab_lb &&
	ip netns exec "$NS_LB" grep -q "^  syn_redirected " /proc/net/crab_lb
log_test $? "/proc/net/crab_lb lists the service and its counters"

crab_exit
