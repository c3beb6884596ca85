#!/bin/bash
# Per-step A/B: consecutive builds alternating in one run each, both families.
cd /work/wt/dpdk-cycles
R=build/ref/crab-lb-dpdk
for fam in 4 6; do
for pair in "0a7bda7:step1" "step1:step2" "step2:step4" "step4:step7"; do
	old=${pair%%:*}; new=${pair##*:}
	echo "== family $fam: $new against $old ($(date -u +%FT%TZ), load:$(uptime | sed 's/.*load average//'))"
	CRAB_LBD=$R-$new timeout 600 bash bench/dpdk/run.sh --no-build --family $fam --compare $R-$old --no-testpmd \
		--reps 4 --seconds 3 --out build/bench/steps/ipv$fam-$new-vs-$old 2>&1 | grep 'LB --compare ='
done
done
