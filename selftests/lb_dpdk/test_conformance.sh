#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The shared LB conformance fixtures (selftests/conformance/fixtures.py)
# through the DPDK LB's core: verdict, output bytes and counters per case.
source "$(dirname "$0")/../lib.sh"

RUNNER=${CRAB_LBD_CONFORMANCE:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-dpdk-conformance}
crab_require_built "$RUNNER" crab-lb-dpdk-conformance
crab_require_python_module scapy

WORK=$(mktemp -d)
crab_defer rm -rf "$WORK"
python3 "$CRAB_TOP/selftests/conformance/fixtures.py" -o "$WORK/fixtures.json" ||
	crab_fail "fixtures.py failed"
"$RUNNER" "$WORK/fixtures.json" >"$WORK/out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/out"
log_test $rc "DPDK core passes the LB conformance fixtures ($(tail -n1 "$WORK/out"))"
crab_exit
