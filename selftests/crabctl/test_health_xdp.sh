#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crabctl health with the XDP LB (the daemon runs in the LB's namespace):
# the scenario of cc_health_suite (cc_lib.sh) — reachable/down probes,
# drain after --fall failures, new SYNs avoid the backend, open
# connections continue, restore after --rise, logged transitions, SIGTERM.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/../lb_xdp/xdp_lib.sh"
source "$(dirname "$0")/cc_lib.sh"

crab_require_root
crab_check_tool python3 tcpdump nsenter taskset unshare nft
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"
cc_xdp_setup
crab_echo_servers "$NF_PORT"
CC_PORT=$NF_PORT
cc_conf "$NF_DIR/lb.toml" rr "${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}"
lbctl apply -f "$NF_DIR/lb.toml" >/dev/null
log_test $? "apply: 3 backends"

CC_HCTL=(nsenter --net="/run/netns/$NS_LB" "$CRABCTL")
cc_split() { cc_syns "$@"; }
cc_health_suite "$NF_DIR" --lb xdp --dev eth0
crab_exit
