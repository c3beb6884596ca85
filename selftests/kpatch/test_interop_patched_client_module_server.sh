#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Interoperability: the patched kernel as client with
# the module (crab_server.ko) as server on the three backends, through the
# nf LB (crab_lb_nf.ko). kp_interop (kp_lib.sh) asserts data echoed,
# redirect and echo counters of both sides, getpeername() and one LB
# packet per connection. Then the same pair over IPv6 (kp_interop6),
# through an IPv6 nft LB.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/kp_lib.sh"

ep_unshare "$@"
kp_interop patched module nf
kp_interop6 patched module
crab_exit
