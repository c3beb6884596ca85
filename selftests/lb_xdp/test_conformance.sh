#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The LB conformance fixtures (selftests/conformance/fixtures.py) through the
# XDP program with BPF_PROG_TEST_RUN (crab-lb-xdp-conformance): every
# case's verdict, output frame (byte for byte, checksums included) and
# per-service counters. No interface, nothing pinned.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_check_tool python3
crab_require_python_module scapy
RUNNER=${CRAB_XDP_CONFORMANCE:-$CRAB_TOP/build/userspace/lb/ebpf_xdp/crab-lb-xdp-conformance}
crab_require_built "$RUNNER" crab-lb-xdp-conformance

dir=$(mktemp -d)
crab_defer "rm -rf $dir"
python3 "$CRAB_TOP/selftests/conformance/fixtures.py" -o "$dir/fixtures.json" ||
	crab_fail "cannot generate the fixtures"
n=$(crab_json "$(cat "$dir/fixtures.json")" 'len(j["cases"])')

"$RUNNER" --json "$dir/fixtures.json" >"$dir/res.json" 2>"$dir/err"
rc=$?
# When cases fail, crabctl -j prints the results and then its error object:
# keep the first document, the results.
if ! python3 -c 'import json, sys
j, _ = json.JSONDecoder().raw_decode(open(sys.argv[1]).read())
json.dump(j, open(sys.argv[1], "w"))' "$dir/res.json" 2>/dev/null; then
	cat "$dir/err"
	crab_fail "the conformance runner produced no result (rc $rc)"
fi
python3 - "$dir/res.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for c in j["cases"]:
    print("TEST: %-64s [%s]" % ("xdp conformance: " + c["name"], " OK " if c["ok"] else "FAIL"))
    for e in c["errors"]:
        print("#   " + e)
PY
passed=$(crab_json "$(cat "$dir/res.json")" 'j["passed"]')
[ "$rc" -eq 0 ] && [ "$passed" -eq "$n" ]
log_test $? "all $n conformance cases pass through the XDP program ($passed passed)"

crab_exit
