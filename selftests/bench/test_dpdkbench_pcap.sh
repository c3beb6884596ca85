#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# make bench-dpdk's benchmark (bench/dpdk/run.sh --vdevs pcap): the LB and
# dpdk-testpmd each replay the same file of capable SYNs from net_pcap
# (infinite_rx) on one worker lcore. One short repetition: both rows in the
# table, every frame the LB received was forwarded (the run stops
# otherwise), the frames are what synpcap.py says (82-byte capable SYNs for
# the VIP, checksums right). The same for --family 6 (the SYNs in IPv6 to
# an IPv6 VIP). Correctness only: no rate is asserted.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_check_tool python3 tcpdump dpdk-testpmd chrt
LBD=${CRAB_LBD:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-dpdk}
crab_require_built "$LBD" crab-lb-dpdk
tmp=$(mktemp -d)
crab_defer "rm -rf $tmp"

# The replayed file: 4096 frames, each a capable SYN to the VIP from its
# own source, checksums verified by tcpdump.
python3 "$CRAB_TOP/bench/dpdk/synpcap.py" --out "$tmp/s.pcap" --dst-mac 02:70:63:61:70:00 \
	--vip 198.18.100.1 --frames 4096 >/dev/null
n=$(tcpdump -nr "$tmp/s.pcap" -vv 2>/dev/null | grep -c 'Flags \[S\], cksum 0x[0-9a-f]* (correct).*unknown-42 0xc6126401')
srcs=$(tcpdump -nr "$tmp/s.pcap" 2>/dev/null | awk '{print $3}' | sort -u | wc -l)
[ "$n" = 4096 ] && [ "$srcs" = 4096 ]
log_test $? "synpcap.py: $n of 4096 frames capable SYNs with right checksums, $srcs distinct sources"

# IPv6: the 20-byte option naming the IPv6 VIP, checksums verified.
python3 "$CRAB_TOP/bench/dpdk/synpcap.py" --out "$tmp/s6.pcap" --dst-mac 02:70:63:61:70:00 \
	--vip 2001:db8:100::1 --frames 4096 >/dev/null
n=$(tcpdump -nr "$tmp/s6.pcap" -vv 2>/dev/null |
	grep -c 'Flags \[S\], cksum 0x[0-9a-f]* (correct).*unknown-42 0x20010db8010000000000000000000001')
srcs=$(tcpdump -nr "$tmp/s6.pcap" 2>/dev/null | awk '{print $3}' | sort -u | wc -l)
[ "$n" = 4096 ] && [ "$srcs" = 4096 ]
log_test $? "synpcap.py --vip IPv6: $n of 4096 frames capable IPv6 SYNs with right checksums, $srcs distinct sources"

for fam in 4 6; do
	out=$tmp/run$fam
	CRAB_LBD=$LBD timeout 120 bash "$CRAB_TOP/bench/dpdk/run.sh" --reps 1 --seconds 1 --no-build \
		--family $fam --out "$out" >"$tmp/log" 2>&1
	rc=$?
	crab_log "$(tail -8 "$tmp/log")"
	rows=$(grep -c '^| pcap |' "$out/summary.txt" 2>/dev/null)
	[ $rc = 0 ] && [ "$rows" = 2 ] && grep -q 'LB / testpmd = ' "$out/summary.txt"
	log_test $? "bench/dpdk/run.sh --vdevs pcap --family $fam: exit $rc, $rows table rows (LB and testpmd), a ratio"

	# The LB redirected what it forwarded (its counters, not the port's).
	python3 - "$out"/lbstats-pcap-lb-1.json <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
ok = j["rx"] > 100000 and j["tx"] >= 0.99 * j["rx"] and j["pass"] == 0 and j["tx_drop"] == 0
print(f"rx {j['rx']} tx {j['tx']} pass {j['pass']} tx_drop {j['tx_drop']}")
sys.exit(0 if ok else 1)
PY
	log_test $? "IPv$fam: the LB forwarded what it received from net_pcap (rx > 100000, tx >= 99 %, nothing passed)"
done
crab_exit
