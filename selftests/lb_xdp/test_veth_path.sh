#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The XDP LB on a real path: standard topology, the program attached
# natively to the LB's veth with crabctl (libxdp), hand-built SYNs from the
# client (crab-nettest), captures on the servers. Capable SYNs reach the
# DIPs round-robin, exactly N/N/N, with daddr rewritten, the option naming
# the VIP and valid checksums; round robin goes on in order across 2^32
# (its position is 64 bits wide) and across generations with another
# number of backends (the remainder kept beside the position, out of range
# after the change, is worked out again); random passes a chi-square bound a
# narrow random source fails; legacy SYNs are dropped (drop mode) or get the
# option where every walk sees it, also when their options end in EOL
# (insert mode); counters match; detach removes the program and its pinned
# maps.
source "$(dirname "$0")/../lib.sh"
# Capture helpers of the nf LB tests; xdp_lib.sh after them, so
# that its lbctl (nsenter, keeps our bpffs) wins.
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/xdp_lib.sh"

crab_require_root
crab_check_tool tcpdump nsenter ethtool taskset bpftool
crab_need_nettest
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"

crab_topo_setup 3
NF_DIR=$(mktemp -d)
crab_defer "rm -rf $NF_DIR"
SVC=$VIP:$NF_PORT
N=10

# send WORDS: SYNs from the client, all from CPU 0 (the rr position is
# per CPU, and on a veth the LB's XDP runs on the sending CPU).
send() {
	taskset -c 0 ip netns exec "$NS_CLI" "$CRAB_NETTEST" send src="$IP_CLI" dst="$VIP" \
		dport="$NF_PORT" sport=20000 opt=mss:1460,crab "$@"
}

lbctl lb xdp attach eth0 --mode native 2>"$NF_DIR/attach.err"
rc=$?
[ $rc -eq 0 ] || cat "$NF_DIR/attach.err"
log_test $rc "crabctl lb xdp attach eth0 --mode native"
crab_defer "nsenter --net=/run/netns/$NS_LB $CRABCTL lb xdp detach eth0"
xdp_peer_napi || crab_log "could not attach an XDP program to the LB's veth peer"
lbctl lb xdp service add "$SVC" --policy rr --legacy drop --dev eth0 &&
	for i in 1 2 3; do lbctl lb xdp backend add "$SVC" "${IP_SRV[i]}" --dev eth0 || false; done
log_test $? "service $SVC with 3 backends configured"
[ -e /sys/fs/bpf/crab/eth0/crab_services ]
log_test $? "maps pinned under /sys/fs/bpf/crab/eth0"
! lbctl lb xdp attach eth0 2>/dev/null
log_test $? "a second attach to eth0 is refused"

# 1. capable SYNs, rr
nf_capture_start
send count=$((3 * N)) opt=mss:1460,crab:203.0.113.9
nf_capture_stop
[ "$(nf_syns)" = "$N $N $N" ]
log_test $? "rr: $((3 * N)) capable SYNs split exactly $N/$N/$N ($(nf_syns))"
ok=0
for i in 1 2 3; do [ "$(nf_get $i dst)" = "${IP_SRV[i]}:$N" ] || ok=1; done
log_test $ok "SYN daddr rewritten to the DIP"
ok=0
for i in 1 2 3; do [ "$(nf_get $i opt)" = "$VIP:$N" ] || ok=1; done
[ "$(nf_sum csum_bad)" = 0 ] || ok=1
log_test $ok "option names the VIP, IP and TCP checksums valid"
[ "$(xdp_counter syn_redirected "$SVC")" = $((3 * N)) ]
log_test $? "syn_redirected = $((3 * N))"
be=$(lbctl -j lb xdp stats --dev eth0 | crab_jget "/services/[service=$SVC]/backends/${IP_SRV[1]}" \
	"/services/[service=$SVC]/backends/${IP_SRV[2]}" "/services/[service=$SVC]/backends/${IP_SRV[3]}" | tr '\n' ' ')
[ "$be" = "$N $N $N " ]
log_test $? "per-backend counters $be"

# 2. round robin across 2^32: the service's per-CPU position set to
# 2^32 - 2 on every CPU; 6 SYNs go to active[(2^32 - 2 + k) mod 3]:
# servers 3 1 2 3 1 2 (a 32-bit position would wrap: 3 1 1 2 3 1).
id=$(lbctl -j lb xdp show --dev eth0 | crab_jget "/[service=$SVC]/id")
# set_rr_pos POS: the service's per-CPU state (struct crab_xdp_svc_pcpu,
# 128 bytes) on every CPU: the cursor at position POS with no remainder
# kept yet (at, n, i zero: the first pick works it out), the counters zero.
set_rr_pos() {
	local v=() b
	for b in 0 1 2 3 4 5 6 7; do v+=($(($1 >> (8 * b) & 255))); done
	for b in $(seq 8 127); do v+=(0); done
	bpftool map update pinned /sys/fs/bpf/crab/eth0/crab_svc_pcpu key $((id & 255)) $((id >> 8 & 255)) 0 0 \
		value "${v[@]}" || crab_fail "cannot set the rr position of service $id"
}
start=$((2 ** 32 - 2))
set_rr_pos $start
nf_capture_start
send count=6 sport=26000
nf_capture_stop
want=
for k in 0 1 2 3 4 5; do want+="$((26000 + k)):srv$(((start + k) % 3 + 1)) "; done
got=$(nf_flows)
crab_log "rr from 2^32 - 2: $got"
[ "$got" = "${want% }" ]
log_test $? "rr goes on in order across 2^32 (no early wrap): ${want% }"

# 2b. a generation with another number of backends: position 4 over 3
# backends picks server 2 and leaves the kept remainder at 2; with server 3
# drained (2 backends, remainder now out of range) positions 5 6 7 go to
# active[pos mod 2]: servers 2 1 2; with it active again, 8 9 go to
# servers 3 1 (a cursor reset to 0 would give 2 1 2 1 then 3 1 ..., one
# trusted out of range would drop the first SYN after the change).
set_rr_pos 4
nf_capture_start
send count=1 sport=26100
lbctl lb xdp backend drain "$SVC" "${IP_SRV[3]}" --dev eth0 || crab_fail "backend drain"
send count=3 sport=26101
lbctl lb xdp backend activate "$SVC" "${IP_SRV[3]}" --dev eth0 || crab_fail "backend activate"
send count=2 sport=26104
nf_capture_stop
want="26100:srv2 26101:srv2 26102:srv1 26103:srv2 26104:srv3 26105:srv1"
got=$(nf_flows)
crab_log "rr across backend-count changes: $got"
[ "$got" = "$want" ] && [ "$(xdp_counter syn_redirected "$SVC")" = 6 ]
log_test $? "rr follows position mod backends across generations of 3, 2, 3 backends: $want"

# 3. random: 300 SYNs, chi-square (2 degrees of freedom) < 18.42, p = 1e-4.
lbctl lb xdp service set "$SVC" --policy random --dev eth0 || crab_fail "service set --policy random"
nf_capture_start
send count=300 sport=27000 inter=0.001
nf_capture_stop
chi=$(nf_chi2 "$(nf_syns)" 300)
[ "$(nf_sum syn)" = 300 ] && [ "$chi" -lt 1842 ]
log_test $? "random: 300 SYNs ($(nf_syns)), chi-square $((chi / 100)).$((chi % 100)) < 18.42"
lbctl lb xdp service set "$SVC" --policy rr --dev eth0 || crab_fail "service set --policy rr"

# 4. legacy SYNs in drop mode: nothing reaches a server, counted.
nf_capture_start
send count=5 sport=25000 opt=mss:1460
nf_capture_stop
[ "$(nf_sum n)" = 0 ] && [ "$(xdp_counter syn_legacy_drop "$SVC")" = 5 ]
log_test $? "legacy SYNs dropped and counted (syn_legacy_drop = 5)"

# 5. insert mode, SYNs whose options end in EOL: the option goes where
# every walk sees it.
lbctl lb xdp service set "$SVC" --legacy insert --dev eth0 || crab_fail "service set --legacy insert"
nf_capture_start
send count=3 sport=28000 opt=mss:1460,eol
send count=3 sport=28100 opt=eol
nf_capture_stop
[ "$(nf_sum syn)" = 6 ] && [ "$(nf_hist_sum opt "$VIP")" = 6 ] && [ "$(nf_sum csum_bad)" = 0 ] &&
	[ "$(nf_hist_sum len 36)" = 3 ] && [ "$(nf_hist_sum len 32)" = 3 ]
log_test $? "legacy insert into SYNs ending in EOL: the option is seen by the walk, checksums valid"

# 6. a bad command leaves the configuration untouched
lbctl lb xdp backend add "$SVC" 300.1.1.1 --dev eth0 2>/dev/null
rc=$?
n=$(lbctl -j lb xdp show --dev eth0 | crab_jget "/[service=$SVC]/backends" | grep -o '"dip"' | wc -l)
[ $rc -ne 0 ] && [ "$n" = 3 ]
log_test $? "invalid backend address rejected, nothing applied"

# 7. detach: program and pins gone
lbctl lb xdp detach eth0 2>/dev/null &&
	! ip -n "$NS_LB" link show eth0 2>/dev/null | grep -q xdp &&
	[ ! -e /sys/fs/bpf/crab/eth0/crab_services ]
log_test $? "detach removes the program and the pinned maps"

crab_exit
