// SPDX-License-Identifier: GPL-2.0-only
// The service and backend verbs shared by every `crabctl lb IMPL`
// (cmd_lb_verbs.cpp): one parser, one validation, one driver interface.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "lb_driver.hpp"

namespace crab::cli {

struct LbVerbTarget {
    // Where the LB is, read when a verb runs (after parsing).
    std::function<LbTarget()> target;
    // Options that locate the LB on each verb (xdp: --dev), or empty.
    std::function<void(CLI::App*)> leaf_options;
};

// Add `service add|set|del` and `backend add|set|drain|activate|del` under
// @impl (the `crabctl lb IMPL` subcommand).
void add_lb_verbs(CLI::App& impl, const LbVerbTarget& where);

}  // namespace crab::cli
