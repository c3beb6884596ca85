# SPDX-License-Identifier: GPL-2.0-only
# crabctl ebpf: libbpf for the eBPF endpoint skeletons (build/bpf/crab_ep_*.skel.h).
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
target_link_libraries(crabctl PRIVATE PkgConfig::LIBBPF)
