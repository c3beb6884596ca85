#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Backend churn at the XDP LB (lb/ebpf_xdp, native on the LB's veth; issue
# #8): $CHURN_CONNS (2000) new connections over $CHURN_SECONDS (20) s and
# 30 long-lived ones exchanging data throughout, while a crabctl operation
# every 100 ms drains, removes, re-adds and re-weights the three backends
# (at least two active at any time). No connection fails; the LB's
# service and per-backend counters account for every SYN; a draining or
# removed backend gets no new connection (churn_lib.sh says exactly what
# is asserted). The issue's full size: CHURN_CONNS=10000 CHURN_SECONDS=60.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/churn_lib.sh"

ep_unshare "$@"
EP_LB=xdp
# The servers count what they accept: TcpPassiveOpens can count one
# handshake twice (churn_completions).
EP_ACCEPTED_DIR=$(mktemp -d)
crab_defer "rm -rf $EP_ACCEPTED_DIR"
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
churn_run "${CHURN_CONNS:-2000}" "${CHURN_SECONDS:-20}" 30
crab_exit
