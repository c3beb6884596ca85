# SPDX-License-Identifier: GPL-2.0-only
# crabctl lb xdp: a command line over the XDP LB's control library
# (lb/ebpf_xdp/ctl, target crab_lb_xdp_ctl: libbpf, libxdp and the skeleton).
target_link_libraries(crabctl PRIVATE crab_lb_xdp_ctl)
