#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The shared LB conformance fixtures (selftests/conformance/fixtures.py)
# through the DPDK LB's core: verdict, output bytes and counters per case.
source "$(dirname "$0")/../lib.sh"

RUNNER=${CRAB_LBD_CONFORMANCE:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-dpdk-conformance}
[ -x "$RUNNER" ] || crab_skip "crab-lb-dpdk-conformance not built ($RUNNER)"
python3 -c 'import scapy' 2>/dev/null || crab_skip "python3-scapy missing"

WORK=$(mktemp -d)
crab_defer rm -rf "$WORK"
python3 "$CRAB_TOP/selftests/conformance/fixtures.py" -o "$WORK/fixtures.json" ||
	crab_fail "fixtures.py failed"
"$RUNNER" "$WORK/fixtures.json" >"$WORK/out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/out"
log_test $rc "DPDK core passes the LB conformance fixtures ($(tail -n1 "$WORK/out"))"
crab_exit
