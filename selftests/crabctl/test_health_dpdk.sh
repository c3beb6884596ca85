#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# crabctl health with the DPDK LB (crab-lb-dpdk on the LB's veth through
# net_af_packet; crabctl reaches it over its telemetry socket, and the
# daemon runs in the client's namespace, since the LB's kernel stack has
# no address of its own): the scenario of cc_health_suite (cc_lib.sh) —
# reachable/down probes, drain after --fall failures, new SYNs avoid the
# backend, open connections continue, restore after --rise, logged
# transitions, SIGTERM.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/cc_lib.sh"

crab_require_root
crab_check_tool tcpdump python3 nft
crab_require_built "$CRABCTL" crabctl
cc_dpdk_setup
CC_PORT=80
crab_echo_servers $CC_PORT
cc_dpdk_conf "$WORK/lb.toml" rr "${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}"
"$CRABCTL" apply -f "$WORK/lb.toml" >/dev/null && cc_dpdk_wait_macs
log_test $? "apply: 3 backends, MACs learned"

CC_HCTL=(ip netns exec "$NS_CLI" "$CRABCTL")
cc_split() { cc_dpdk_syns "$@"; }
cc_health_suite "$WORK" --lb dpdk --prefix "$PREFIX"
kill -TERM $LB_PID
wait $LB_PID 2>/dev/null
crab_exit
