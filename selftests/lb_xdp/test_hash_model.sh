#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Hash mode in the XDP program sends every flow where the DPDK LB does:
# crab-lb-hash-fixtures writes, for 200 flows (SYN and ACK each) and a
# backend set that changes as an operator changes it (6 backends, one
# drained, one added, the drained one removed), the frames the DPDK LB core
# sends and its counters; the XDP program must produce the same frames,
# byte for byte, the same drops (a new flow never starts on a draining
# backend) and the same counters (crab-lb-xdp-conformance,
# BPF_PROG_TEST_RUN). Both LBs build their tables and pick with the shared
# model (include/crab/crab_lb_model.h); this checks the programs that run.
source "$(dirname "$0")/../lib.sh"

crab_require_root
GEN=${CRAB_LB_HASH_FIXTURES:-$CRAB_TOP/build/userspace/lb/dpdk/crab-lb-hash-fixtures}
crab_require_built "$GEN" crab-lb-hash-fixtures
RUNNER=${CRAB_XDP_CONFORMANCE:-$CRAB_TOP/build/userspace/lb/ebpf_xdp/crab-lb-xdp-conformance}
crab_require_built "$RUNNER" crab-lb-xdp-conformance

dir=$(mktemp -d)
crab_defer "rm -rf $dir"
"$GEN" 200 >"$dir/fixtures.json" || crab_fail "crab-lb-hash-fixtures failed"
# (too large for an argument: read from the file)
n=$(python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join("%s:%s" % (c["name"], c["counters"]["syn_hash_draining"]) for c in j["cases"]),
      file=sys.stderr)
print(len(j["cases"]))' "$dir/fixtures.json" 2>"$dir/summary") || crab_fail "fixtures unreadable"
crab_log "SYNs refused per case: $(cat "$dir/summary")"

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
    print("TEST: %-64s [%s]" % ("xdp = dpdk: " + c["name"], " OK " if c["ok"] else "FAIL"))
    for e in c["errors"][:5]:
        print("#   " + e)
PY
passed=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["passed"])' "$dir/res.json")
[ "$rc" -eq 0 ] && [ "$passed" -eq "$n" ]
log_test $? "hash mode: the XDP program sends 200 flows where the DPDK LB does, through drain, add, remove ($passed of $n)"

crab_exit
