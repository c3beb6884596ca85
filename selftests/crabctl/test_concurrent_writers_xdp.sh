#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Concurrent crabctl writers on one XDP LB do not lose each other's
# changes: every change to a service's backend set is a read-modify-write
# of a generation in the pinned maps, so crabctl serialises writers with
# a lock on the LB's pin directory. Two processes each add 30 distinct
# backends to the same service at the same time while a third repeatedly
# flips the service's policy: all 60 backends are present afterwards, the
# policy change did not undo any, and the LB still forwards to them. A
# writer that cannot take the lock in time fails with a message naming
# the holder's directory (exit code 1), and changes nothing.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/../lb_xdp/xdp_lib.sh"
source "$(dirname "$0")/cc_lib.sh"

crab_require_root
crab_check_tool python3 tcpdump nsenter taskset unshare flock
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"
cc_xdp_setup
SVC=$VIP:$NF_PORT

lbctl lb xdp service add "$SVC" --dev eth0 --policy rr || crab_fail "service add"

# writer A adds 10.1.0.1..30, writer B 10.2.0.1..30, writer C flips policy
writer() {
	local net=$1 i
	for ((i = 1; i <= 30; i++)); do
		lbctl lb xdp backend add "$SVC" "10.$net.0.$i" --dev eth0 || echo "add 10.$net.0.$i failed" >>"$NF_DIR/errors"
	done
}
flipper() {
	local i
	for ((i = 0; i < 30; i++)); do
		lbctl lb xdp service set "$SVC" --dev eth0 --policy $([ $((i % 2)) = 0 ] && echo random || echo rr) ||
			echo "service set $i failed" >>"$NF_DIR/errors"
	done
}
: >"$NF_DIR/errors"
writer 1 & a=$!
writer 2 & b=$!
flipper & c=$!
wait $a $b $c
sed 's/^/# /' "$NF_DIR/errors"
[ ! -s "$NF_DIR/errors" ]
log_test $? "no writer failed"

n=$(lbctl -j lb xdp show --dev eth0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(sum(len(s["backends"]) for s in j))')
[ "$n" = 60 ]
log_test $? "all 60 backends added by two concurrent writers are present ($n)"

# The data path follows the final set: a service with 60 backends spreads
# SYNs over them. The three real servers are not among them and the LB has
# no route to the 10.x backends, so every SYN is decided (a backend picked)
# and then counted as a forwarding failure (tx_error, as in the DPDK LB: a
# SYN that was not sent is not syn_redirected); none finds no backend.
sent() { echo $(($(xdp_counter syn_redirected "$SVC") + $(xdp_counter tx_error "$SVC"))); }
before=$(sent) nb=$(xdp_counter no_backend "$SVC")
cc_syns 6 >/dev/null
after=$(sent)
[ $((after - before)) = 6 ] && [ "$(xdp_counter no_backend "$SVC")" = "$nb" ]
log_test $? "the LB forwards with the merged backend set ($((after - before)) of 6 SYNs decided)"

# A writer blocked by a held lock fails cleanly after its timeout.
pin=/sys/fs/bpf/crab/eth0
flock "$pin" sleep 8 &
h=$!
sleep 0.5
out=$(CRABCTL_LOCK_TIMEOUT=1 lbctl lb xdp backend add "$SVC" 10.3.0.1 --dev eth0 2>&1)
rc=$?
wait $h
echo "$out" | sed 's/^/# /'
[ $rc = 1 ] && echo "$out" | grep -q "$pin" &&
	! lbctl -j lb xdp show --dev eth0 | grep -q 10.3.0.1
log_test $? "a writer that cannot take the lock exits 1 naming $pin and changes nothing"

crab_exit
