# SPDX-License-Identifier: GPL-2.0-only
# The cross-LB test compiles each LB's own table code: the DPDK core's
# sources (no DPDK needed) and the netfilter module's freestanding header.
target_sources(${name} PRIVATE ${CMAKE_SOURCE_DIR}/lb/dpdk/core/lb_core.cpp ${CMAKE_SOURCE_DIR}/lb/dpdk/core/config.cpp)
target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/lb/dpdk/core ${CMAKE_SOURCE_DIR}/lb/netfilter)
