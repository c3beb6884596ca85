#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# SYN flood at the VIP through the DPDK LB (crab-lb-dpdk, one worker,
# net_af_packet on the LB's veth), syncookies forced on the servers: the
# same checks as test_synflood_xdp.sh (sf_lib.sh), plus: the LB is stopped
# for 1 s during the flood so its af_packet RX ring overflows, and those
# drops must show in its ring_drops (PACKET_STATISTICS, which the PMD does
# not report) and account for the SYNs the LB did not see. About 6 s on an
# idle host; the flood's size: SF_RATE, SF_DURATION, SF_COUNT, SF_LEGIT
# (sf_lib.sh).

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/sf_lib.sh"

ep_unshare "$@"
crab_check_tool ethtool
EP_LB=dpdk
sf_run

crab_exit
