# SPDX-License-Identifier: GPL-2.0-only
# crabctl lb xdp: libbpf + libxdp, and the skeleton `make bpf` generates
# (build/bpf/crab_lb.skel.h, found through CRAB_BPF_DIR).
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
pkg_check_modules(LIBXDP REQUIRED IMPORTED_TARGET libxdp)
target_link_libraries(crabctl PRIVATE PkgConfig::LIBBPF PkgConfig::LIBXDP)
