#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# SYN flood at the VIP through the DPDK LB (crab-lb-dpdk, one worker,
# net_af_packet on the LB's veth), syncookies forced on the servers: the
# same checks as test_synflood_xdp.sh (sf_lib.sh).

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ebpf_endpoints/ep_lib.sh"
source "$(dirname "$0")/sf_lib.sh"

ep_unshare "$@"
crab_check_tool ethtool
EP_LB=dpdk
sf_run

crab_exit
