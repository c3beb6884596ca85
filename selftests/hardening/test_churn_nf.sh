#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Backend churn at the nf LB (crab_lb_nf.ko in the LB's namespace),
# with the netfilter endpoints (crab_client.ko announcing $VIP/32 and
# accepting redirects from the segment, crab_server.ko on the three
# servers): 42 crabctl operations (two periods: each backend drained,
# removed and re-added twice, weights changed in between; at least one
# active at any time) while new connections start at 10/s and 30
# long-lived ones exchange data throughout. No connection fails; every one
# is re-keyed to a DIP by crab_client; the LB's service and per-backend
# counters account for every SYN; a draining or removed backend gets no
# new connection (churn_lib.sh says exactly what is asserted); no oops,
# WARN or BUG in the kernel log. The issue's full size (10,000 connections
# at 166/s, 600 operations): CHURN_CONNS=10000 CHURN_SECONDS=60 in --cmd
# (the guest does not inherit the host's environment).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/churn_lib.sh"
source "$(dirname "$0")/hd_lib.sh"

ep_unshare "$@"
crab_has_modules || crab_skip "kernel without loadable module support"
EP_LB=nf EP_CLIENT=module EP_SERVER=module
hd_dmesg_mark
# The servers count what they accept: TcpPassiveOpens can count one
# handshake twice (churn_completions).
EP_ACCEPTED_DIR=$(mktemp -d)
crab_defer "rm -rf $EP_ACCEPTED_DIR"
ep_setup
# As the eBPF variants: announce to the VIP only, redirects from the
# segment (ep_setup configures the modules so).
churn_run "${CHURN_CONNS:-40}" "${CHURN_SECONDS:-4}" 30
hd_dmesg_check
log_test $? "no oops, WARN or BUG in the kernel log"
crab_exit
