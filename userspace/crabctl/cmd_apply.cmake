# SPDX-License-Identifier: GPL-2.0-only
# crabctl apply/show/stats/health: the LB driver layer (lb_driver.cpp, one
# crab::LbDriver per implementation, registered by cmd_lb_*.cpp), the
# health prober, and the install rules (binary, man page, bash completion).
target_sources(crabctl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/lb_driver.cpp)
include(GNUInstallDirs)
install(TARGETS crabctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/crabctl.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/crabctl.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME crabctl)
