#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Backend churn at the DPDK LB (crab-lb-dpdk, one worker on af_packet):
# 210 crabctl operations (ten periods: each backend drained, removed and
# re-added ten times, weights changed in between; at least one active at
# any time) while new connections start at 100/s and 30 long-lived ones
# exchange data throughout. No connection fails; the LB's service counters
# account for every SYN; a draining or removed backend gets no new
# connection; the LB's per-backend counters sum to its service total and
# stay still while a backend drains (churn_lib.sh says exactly what is
# asserted). The servers count the connections they accept (the "extra
# completion" of TcpPassiveOpens, hardening/README.md, is not counted).
# The issue's full size: CHURN_CONNS=10000 CHURN_SECONDS=60.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/churn_lib.sh"

ep_unshare "$@"
EP_LB=dpdk
crab_check_tool ethtool
# The servers count what they accept: TcpPassiveOpens can count one
# handshake twice (churn_completions).
EP_ACCEPTED_DIR=$(mktemp -d)
crab_defer "rm -rf $EP_ACCEPTED_DIR"
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
churn_run "${CHURN_CONNS:-2000}" "${CHURN_SECONDS:-20}" 30
crab_exit
