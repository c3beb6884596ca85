#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The LB conformance fixtures (selftests/conformance/fixtures.py) through the
# XDP program with BPF_PROG_TEST_RUN (crab-lb-xdp-conformance): every
# case's verdict, output frame (byte for byte, checksums included) and
# per-service counters. Nothing pinned; the frames arrive on a veth of a
# namespace built from the fixtures' topology (the port's MAC and address,
# a permanent neighbour entry per backend), whose FIB and neighbours answer
# bpf_fib_lookup() for the backends without a static MAC.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_need_nettest
crab_check_tool python3
crab_require_python_module scapy
RUNNER=${CRAB_XDP_CONFORMANCE:-$CRAB_TOP/build/userspace/lb/ebpf_xdp/crab-lb-xdp-conformance}
crab_require_built "$RUNNER" crab-lb-xdp-conformance

dir=$(mktemp -d)
crab_defer "rm -rf $dir"
python3 "$CRAB_TOP/selftests/conformance/fixtures.py" -o "$dir/fixtures.json" ||
	crab_fail "cannot generate the fixtures"
n=$(crab_json "$(cat "$dir/fixtures.json")" 'len([c for c in j["cases"] if "xdp" in c.get("lbs", ["xdp"])])')

# The topology: eth0 with the port's MAC, in a namespace that forwards.
ns=crab-xdpfib-$CRAB_SFX
crab_ns_add "$ns"
fx() { "$CRAB_NETTEST" json --file "$dir/fixtures.json" "$@"; }
b="link add eth0 address $(fx /topology/port_mac) type veth peer name eth1"$'\n'
b+="link set eth1 up"$'\n'"link set eth0 up"$'\n'"addr add 198.18.0.1/24 dev eth0"$'\n'
for i in 0 1 2; do
	b+="neigh replace $(fx /topology/neighbours/$i/ip) lladdr $(fx /topology/neighbours/$i/mac) dev eth0 nud permanent"$'\n'
done
ip -n "$ns" -b - <<<"$b" || crab_fail "cannot build the fixtures' topology"
ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || crab_fail "cannot enable forwarding in $ns"

ip netns exec "$ns" "$RUNNER" --json --ingress-dev eth0 "$dir/fixtures.json" >"$dir/res.json" 2>"$dir/err"
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
