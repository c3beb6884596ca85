# SPDX-License-Identifier: GPL-2.0-only
# The XDP LB's rtnetlink next-hop parsing (lb/ebpf_xdp/ctl/nexthop.cpp: no
# libbpf, no socket needed by the parsers).
target_sources(${name} PRIVATE ${CMAKE_SOURCE_DIR}/lb/ebpf_xdp/ctl/nexthop.cpp)
target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/lb/ebpf_xdp/ctl)
