#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# bench/endpoints/cost.sh, one short round: the eBPF client's ingress
# program attached by this tree's crabctl, timed on a segment of a moved
# IPv4 connection (rewritten to come from A), of a moved IPv6 one, of a
# connection not moved (left alone), and on a redirecting SYN-ACK (every
# check run, refused last by the full flow table). cost.py checks each
# output frame and the refusal counter, so a program that stops
# translating or deciding fails the run. Correctness only: no time is
# asserted.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_check_tool ip python3 bpftool nsenter unshare taskset
CTL=$CRAB_TOP/build/userspace/userspace/crabctl/crabctl
crab_require_built "$CTL" crabctl
tmp=$(mktemp -d)
crab_defer "rm -rf $tmp"

bash "$CRAB_TOP/bench/endpoints/cost.sh" --rounds 1 --repeat 20000 --cpu 0 --no-build \
	--out "$tmp/out" "cur=$CTL" >"$tmp/log" 2>&1
rc=$?
crab_log "$(tail -n 6 "$tmp/log")"
[ $rc = 0 ]
log_test $? "cost.sh ran one round (exit $rc)"

rows=$(tail -n +2 "$tmp/out/cost.csv" 2>/dev/null | awk -F, '$4 > 0' | cut -d, -f3 | sort | tr '\n' ' ')
[ "$rows" = "moved moved6 other synack " ]
log_test $? "a positive time for each kind of segment ($rows)"

# The namespace and cgroup of the run are gone.
! ip netns list | grep -q crab-epcost &&
	! find /sys/fs/cgroup -maxdepth 2 -name 'crab-epcost-*' 2>/dev/null | grep -q .
log_test $? "the run left no namespace or cgroup behind"

crab_exit
