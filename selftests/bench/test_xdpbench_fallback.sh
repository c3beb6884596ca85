#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# make bench-xdp's generators (bench/xdp/xdpbench gen) between two
# namespaces. The raw-socket generator (--generator raw) sends the template
# SYNs with the live generator's port/address sequence: the receiving
# stack takes them with both checksums right, IPv4 and IPv6 (the 20-byte
# option form, doff 15: 114-byte frames). On a kernel that refuses
# live-frame test runs (here: a seccomp filter makes bpf(BPF_PROG_TEST_RUN)
# fail with EPERM, then EOPNOTSUPP; and this kernel, if it refuses them
# itself) auto falls back to raw and says why,
# --generator live fails with the kernel's error, and a whole
# bench/xdp/run.sh completes with its table naming the raw generator (and
# the program-cost column n/a), rows for the LB's IPv6 SYNs and for IPv4
# next hops found by the program's FIB lookup, both redirected, each with
# its live cost from the kernel's BPF statistics, which are off again
# afterwards. Correctness only: no rate is asserted.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_check_tool ip cc make clang bpftool python3
crab_require_built "$CRABCTL" crabctl
make -s -C "$CRAB_TOP/bench/xdp" >/dev/null || crab_fail "building bench/xdp failed"
XB=$CRAB_TOP/build/bench/xdp/xdpbench
tmp=$(mktemp -d)
crab_defer "rm -rf $tmp"
cc -O2 -Wall -Wextra -Werror -o "$tmp/refuse" "$CRAB_TOP/selftests/bench/refuse_test_run.c" ||
	crab_fail "cannot build the seccomp fixture"

NS_G=crab-xbg-$CRAB_SFX NS_D=crab-xbd-$CRAB_SFX
crab_ns_add "$NS_G"
crab_ns_add "$NS_D"
ip link add eth0 netns "$NS_G" type veth peer name eth0 netns "$NS_D" ||
	crab_fail "cannot create the veth pair"
ip -n "$NS_G" addr add 198.18.0.2/24 dev eth0
ip -n "$NS_D" addr add 198.18.0.1/24 dev eth0
ip -n "$NS_D" addr add 198.18.100.1/32 dev lo
ip -n "$NS_G" link set eth0 up
ip -n "$NS_D" link set eth0 up
MAC_G=$(ip -n "$NS_G" -br link show eth0 | awk '{print $3}')
MAC_D=$(ip -n "$NS_D" -br link show eth0 | awk '{print $3}')

# gen [wrapper...] -- ARGS: xdpbench gen in the generator namespace; its
# JSON in $tmp/gen.json, stderr in $tmp/gen.err, exit status in $rc.
gen() {
	local pre=()
	while [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	ip netns exec "$NS_G" "${pre[@]}" "$XB" gen --dev eth0 --src-mac "$MAC_G" \
		--dst-mac "$MAC_D" --saddr 198.18.1.0 --daddr 198.18.100.1 --dport 80 \
		--batch 256 "$@" >"$tmp/gen.json" 2>"$tmp/gen.err"
	rc=$?
}
jf() { crab_jget "$1" <"$tmp/gen.json" 2>/dev/null; }

# 1. Raw, into the receiver's stack: every SYN a valid TCP segment (no
# listener: each answered by a RST where a route back exists).
seg0=$(crab_snmp "$NS_D" Tcp InSegs) tbad0=$(crab_snmp "$NS_D" Tcp InCsumErrors)
ibad0=$(crab_netstat_get "$NS_D" netstat IpExt: InCsumErrors 0)
gen -- --seconds 1 --generator raw
sent=$(jf /sent)
crab_log "raw: $(cat "$tmp/gen.json") $(cat "$tmp/gen.err")"
[ $rc = 0 ] && [ "$(jf /generator)" = raw ] && [ "${sent:-0}" -gt 64512 ]
log_test $? "--generator raw: exit $rc, generator $(jf /generator), sent ${sent:-?} (more than one source address)"
for _ in $(seq 1 50); do
	[ "$(crab_snmp "$NS_D" Tcp InSegs)" -gt "$seg0" ] && break
	sleep 0.1
done
seg=$(($(crab_snmp "$NS_D" Tcp InSegs) - seg0)) tbad=$(($(crab_snmp "$NS_D" Tcp InCsumErrors) - tbad0))
ibad=$(($(crab_netstat_get "$NS_D" netstat IpExt: InCsumErrors 0) - ibad0))
[ "$seg" -gt 0 ] && [ "$seg" -le "${sent:-0}" ] && [ "$tbad" = 0 ] && [ "$ibad" = 0 ]
log_test $? "receiver took $seg TCP segments, $tbad TCP and $ibad IP checksum errors"

# 1b. The IPv6 template, raw, into the receiver's IPv6 stack.
ip -n "$NS_D" addr add fd00:c4ab:100::1/128 dev lo nodad
ip -n "$NS_D" link set lo up
seg0=$(crab_snmp "$NS_D" Tcp InSegs) tbad0=$(crab_snmp "$NS_D" Tcp InCsumErrors)
gen -- --seconds 0.5 --generator raw --saddr fd00:c4ab:1::1:0 --daddr fd00:c4ab:100::1
sent=$(jf /sent)
crab_log "raw IPv6: $(cat "$tmp/gen.json") $(cat "$tmp/gen.err")"
for _ in $(seq 1 50); do
	[ "$(crab_snmp "$NS_D" Tcp InSegs)" -gt "$seg0" ] && break
	sleep 0.1
done
seg=$(($(crab_snmp "$NS_D" Tcp InSegs) - seg0)) tbad=$(($(crab_snmp "$NS_D" Tcp InCsumErrors) - tbad0))
[ $rc = 0 ] && [ "$(jf /frame_len)" = 114 ] && [ "$seg" -gt 0 ] && [ "$seg" -le "${sent:-0}" ] &&
	[ "$tbad" = 0 ]
log_test $? "IPv6 raw: exit $rc, $(jf /frame_len)-byte frames, receiver took $seg TCP segments, $tbad checksum errors"
gen -- --seconds 0.1 --generator raw --saddr 198.18.1.0 --daddr fd00:c4ab:100::1
[ $rc = 2 ] && grep -q "^error: --saddr and --daddr must be of one family" "$tmp/gen.err"
log_test $? "mixed families refused: exit $rc"

# 2. A kernel that refuses live frames.
for e in 1:"Operation not permitted" 95:"Operation not supported"; do
	gen "$tmp/refuse" "${e%%:*}" -- --seconds 0.3
	crab_log "auto, errno ${e%%:*}: $(cat "$tmp/gen.json") $(cat "$tmp/gen.err")"
	[ $rc = 0 ] && [ "$(jf /generator)" = raw ] && [ "$(jf /sent)" -gt 0 ] &&
		[ "$(jf /fallback_reason)" = "live-frame BPF_PROG_TEST_RUN refused: ${e#*:}" ] &&
		grep -q "falling back to the raw-socket generator" "$tmp/gen.err"
	log_test $? "auto, live frames refused (${e#*:}): raw used, reason in the report and on stderr"
done
gen "$tmp/refuse" 1 -- --seconds 0.3 --generator live
[ $rc = 1 ] && grep -q "^error: BPF_PROG_TEST_RUN (live frames) on eth0: Operation not permitted" "$tmp/gen.err"
log_test $? "--generator live, live frames refused: exit $rc, the kernel's error"
# This kernel, without the fixture: auto takes live frames where the
# kernel runs them (--generator live succeeds), else falls back to raw
# with the kernel's own refusal as the reason.
gen -- --seconds 0.3 --generator live
live_rc=$rc live_err=$(sed -n 's/^error: BPF_PROG_TEST_RUN (live frames) on eth0: //p' "$tmp/gen.err")
gen -- --seconds 0.3
if [ $live_rc = 0 ]; then
	[ $rc = 0 ] && [ "$(jf /generator)" = live ] && [ -z "$(jf /fallback_reason)" ]
	log_test $? "auto where this kernel runs live frames: generator $(jf /generator)"
else
	crab_log "this kernel refuses live frames: ${live_err:-$(cat "$tmp/gen.err")}"
	[ -n "$live_err" ] && [ $rc = 0 ] && [ "$(jf /generator)" = raw ] &&
		[ "$(jf /fallback_reason)" = "live-frame BPF_PROG_TEST_RUN refused: $live_err" ]
	log_test $? "auto where this kernel refuses live frames ($live_err): generator $(jf /generator), the kernel's reason"
fi

# 3. The whole benchmark on such a kernel: it completes, and says how.
"$tmp/refuse" 1 bash "$CRAB_TOP/bench/xdp/run.sh" --seconds 1 --reps 1 --no-fifo --no-build \
	--out "$tmp/run" >"$tmp/run.log" 2>&1
rc=$?
sed 's/^/# run.sh: /' "$tmp/run.log"
[ $rc = 0 ] &&
	grep -q '^Generator: raw socket (AF_PACKET sendmmsg, qdisc bypass: an skb per frame); fallback: live-frame BPF_PROG_TEST_RUN refused: Operation not permitted$' "$tmp/run.log" &&
	grep -q '^| CRAB XDP LB (rr, 1 service) | .* | n/a | [0-9]* ns |$' "$tmp/run.log" &&
	[ "$(awk -F, 'NR > 1 { print $NF }' "$tmp/run/raw.csv" | sort -u)" = raw ]
log_test $? "bench/xdp/run.sh with live frames refused: exit $rc, table names the raw generator and why"
# The IPv6 LB's row and the next-hop (FIB) row: their own SYNs redirected
# (the rate is the LB's syn_redirected counter, so a row above zero means
# redirected); the kernel's BPF statistics give every row its live cost.
r6=$(awk -F, '$1 == "lb6" { print $5 }' "$tmp/run/raw.csv")
rf=$(awk -F, '$1 == "lbfib" { print $5 }' "$tmp/run/raw.csv")
grep -q '^| CRAB XDP LB, IPv6 (rr, 1 service) | .* | n/a | [0-9]* ns |$' "$tmp/run.log" &&
	grep -q '^LB IPv6 / LB IPv4: ' "$tmp/run.log" && [ "${r6:-0}" -gt 0 ]
log_test $? "bench/xdp/run.sh measures the IPv6 LB beside the IPv4 one: ${r6:-no} SYN/s redirected"
grep -q '^| CRAB XDP LB, next hops by FIB lookup (rr, 1 service) | .* | n/a | [0-9]* ns |$' "$tmp/run.log" &&
	[ "${rf:-0}" -gt 0 ] && [ "$(sysctl -n kernel.bpf_stats_enabled)" = 0 ]
log_test $? "... and with next hops by FIB lookup: ${rf:-no} SYN/s redirected; bpf_stats off again"

crab_exit
