#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# SYN flood at the VIP through the project's XDP LB (lb/ebpf_xdp, native on
# the LB's veth), syncookies forced on the servers (sf_lib.sh says how):
# legitimate connections of the eBPF client all succeed during the flood,
# redirected and completed through syncookies; the LB's counters account
# for every SYN it received; normal traffic works after the flood.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/sf_lib.sh"

ep_unshare "$@"
EP_LB=xdp
sf_run

crab_exit
