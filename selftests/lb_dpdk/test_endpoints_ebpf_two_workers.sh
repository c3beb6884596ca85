#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# test_endpoints_ebpf_connections.sh with crab-lb-dpdk running two worker lcores
# on two queue pairs of its af_packet port (PACKET_FANOUT_HASH spreads the
# flows): the same whole connections, rr per worker, both workers busy.
LBD_WORKERS=2 exec bash "$(dirname "$0")/test_endpoints_ebpf_connections.sh" "$@"
