#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Interoperability: the module (crab_client.ko) as client with
# the patched kernel as server on the three backends, through the
# nf LB (crab_lb_nf.ko). kp_interop (kp_lib.sh) asserts data echoed,
# redirect and echo counters of both sides, getpeername() and one LB
# packet per connection.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../endpoints_ebpf/ep_lib.sh"
source "$(dirname "$0")/kp_lib.sh"

ep_unshare "$@"
kp_interop module patched nf
crab_exit
