#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host-manual
#
# SYN flood at the VIP through the DPDK LB (crab-lb-dpdk, one worker,
# net_af_packet on the LB's veth), syncookies forced on the servers: the
# same checks as test_synflood_xdp.sh (sf_lib.sh), but the exact SYN
# accounting: net_af_packet lost about half of a 4000 SYN/s flood on the
# loaded 2-core host with no counter showing it (veth drops 0, ethdev
# imissed 0), so that check is a SKIP here and the LB's counters are only
# checked to be consistent (total = redirected + legacy dropped, at most
# what was sent). Tagged host-manual for that reason (a partial check);
# run it with `bash selftests/hardening/test_synflood_dpdk.sh`.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ebpf_endpoints/ep_lib.sh"
source "$(dirname "$0")/sf_lib.sh"

ep_unshare "$@"
crab_check_tool ethtool
EP_LB=dpdk
sf_run

crab_exit
