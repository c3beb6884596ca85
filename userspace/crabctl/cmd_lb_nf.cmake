# SPDX-License-Identifier: GPL-2.0-only
# crabctl lb nf: generic netlink to crab_lb_nf.ko through libmnl (genl.cpp
# is the reusable client; other command groups may use it too).
pkg_check_modules(LIBMNL REQUIRED IMPORTED_TARGET libmnl)
target_sources(crabctl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/genl.cpp)
target_link_libraries(crabctl PRIVATE PkgConfig::LIBMNL)
