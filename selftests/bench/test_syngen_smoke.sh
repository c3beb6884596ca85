#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crab-syngen between two namespaces: the receiver's TCP stack (no listener
# on the port) takes every packet as a valid segment and answers each with a
# RST, so its Tcp InSegs/OutRsts grow by what the generator says it sent and
# InCsumErrors stays 0 (both checksums right); tcpdump, when installed, sees
# the MSS and redirect option bytes. SYN-only and train mode. Correctness
# only: no rate is asserted.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_check_tool ip python3
SG=$CRAB_TOP/build/userspace/bench/loadgen/crab-syngen
crab_require_built "$SG" crab-syngen

NS_C=crab-sgc-$CRAB_SFX NS_S=crab-sgs-$CRAB_SFX
crab_ns_add "$NS_C"
crab_ns_add "$NS_S"
ip link add eth0 netns "$NS_C" type veth peer name eth0 netns "$NS_S" ||
	crab_fail "cannot create the veth pair"
ip -n "$NS_C" addr add 198.18.0.2/24 dev eth0
ip -n "$NS_S" addr add 198.18.0.1/24 dev eth0
ip -n "$NS_S" addr add 198.18.100.1/32 dev lo
ip -n "$NS_C" link set eth0 up
ip -n "$NS_S" link set eth0 up
ip -n "$NS_C" route add 198.18.100.1/32 via 198.18.0.1
tmp=$(mktemp -d)
crab_defer "rm -rf $tmp"

jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
# tcp FIELD: the receiver's /proc/net/snmp Tcp counter.
tcp() { ip netns exec "$NS_S" awk -v f="$1" '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) c[$i] = i; n = 1 } else print $c[f] }' /proc/net/snmp; }

cap=
if command -v tcpdump >/dev/null; then
	ip netns exec "$NS_S" tcpdump -c 2 -vvv -nn -i eth0 'tcp[13] == 2' >"$tmp/dump.txt" 2>&1 &
	cap=$!
	crab_defer "kill $cap 2>/dev/null"
	for _ in $(seq 1 50); do grep -q listening "$tmp/dump.txt" && break; sleep 0.1; done
fi

for mode in syn train; do
	args=(--mode "$mode")
	[ "$mode" = train ] && args+=(--train-pkts 8)
	seg0=$(tcp InSegs) rst0=$(tcp OutRsts) bad0=$(tcp InCsumErrors)
	ip netns exec "$NS_C" "$SG" --src 198.18.0.2 --target 198.18.100.1:7000 "${args[@]}" \
		--rate 2000 --duration 1 --batch 16 --out "$tmp/$mode.json" >"$tmp/$mode.log" 2>&1
	rc=$?
	sent=$(jget "$tmp/$mode.json" 'j["packets_sent"]' 2>/dev/null)
	ppc=$(jget "$tmp/$mode.json" 'j["packets_per_conn"]' 2>/dev/null)
	log_test $([ "$rc" = 0 ] && [ "${sent:-0}" -gt 0 ]; echo $?) "$mode: exit $rc, sent ${sent:-?} packets ($ppc per connection)"
	# The RSTs follow in softirq: poll until they are all counted (deadline 10 s).
	for _ in $(seq 1 100); do
		[ $(($(tcp OutRsts) - rst0)) -ge "${sent:-1}" ] && break
		sleep 0.1
	done
	seg=$(($(tcp InSegs) - seg0)) rst=$(($(tcp OutRsts) - rst0)) bad=$(($(tcp InCsumErrors) - bad0))
	[ "$seg" = "$sent" ] && [ "$rst" = "$sent" ] && [ "$bad" = 0 ]
	log_test $? "$mode: receiver took $seg segments (want $sent), sent $rst RSTs (want $sent), $bad checksum errors"
done

if [ -n "$cap" ]; then
	for _ in $(seq 1 50); do kill -0 "$cap" 2>/dev/null || break; sleep 0.1; done
	grep -q 'cksum 0x[0-9a-f]* (correct)' "$tmp/dump.txt" && grep -q 'options \[mss 1460,nop,nop,unknown-42 0xc6126401\]' "$tmp/dump.txt"
	log_test $? "tcpdump: SYN checksum correct, options MSS 1460 + NOP NOP 42 6 198.18.100.1"
fi

ip netns exec "$NS_C" "$SG" --src 198.18.0.2 --target 198.18.100.1:7000 --mode train >"$tmp/usage.log" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q -- '--train-pkts' "$tmp/usage.log"
log_test $? "--mode train without --train-pkts: exit $rc (want 2), message names the option"

crab_exit
