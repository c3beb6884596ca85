// SPDX-License-Identifier: GPL-2.0-only
// How a crabctl command group plugs in: each cmd_<name>.cpp registers a setup
// function with CRABCTL_COMMAND (a top-level object, `crabctl NAME ...`) or
// CRABCTL_LB_IMPL (an LB implementation, `crabctl lb NAME ...`). main() builds
// the CLI from the registry, so adding a group never touches main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "crab/common.hpp"

namespace crab::cli {

struct Globals {
    bool json = false;    // machine-readable output (errors too)
    bool pretty = false;  // indent JSON
};

using SetupFn = void (*)(CLI::App& parent, Globals& g);

struct Entry {
    std::string name;
    SetupFn fn;
    bool lb_impl;
};

std::vector<Entry>& registry();

struct Registrar {
    Registrar(const char* name, SetupFn fn, bool lb_impl)
    {
        registry().push_back(Entry{name, fn, lb_impl});
    }
};

// Print a JSON document honouring --pretty.
void print_json(const Globals& g, const std::string& dumped_compact, const std::string& dumped_pretty);

// The time now, UTC, to the millisecond: 2026-12-07T10:14:45.123Z.
std::string utc_timestamp();

// One event of a long-running command (health, bgp, nexthops --watch):
// @j with its "time" as a JSON line when @as_json, else the time and @text.
void log_event(bool as_json, const nlohmann::json& j, const std::string& text);
// The same as JSON when --json was given.
void log_event(const Globals& g, const nlohmann::json& j, const std::string& text);

}  // namespace crab::cli

#define CRABCTL_COMMAND(name, fn) \
    static ::crab::cli::Registrar crabctl_reg_cmd_##name(#name, fn, false)
#define CRABCTL_LB_IMPL(name, fn) \
    static ::crab::cli::Registrar crabctl_reg_lb_##name(#name, fn, true)
