// SPDX-License-Identifier: GPL-2.0-only
// The options that pick an LB for the driver-based commands (apply, show,
// stats, health): --lb TYPE, --dev DEV (xdp), --prefix/--socket (dpdk).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "crab/config.hpp"
#include "lb_driver.hpp"

namespace crab::cli {

struct TargetOptions {
    std::string type, dev, prefix, socket;
};

inline void add_target_options(CLI::App& c, TargetOptions& o)
{
    c.add_option("--lb", o.type, "LB implementation: xdp, nf or dpdk")
        ->check(CLI::IsMember({"xdp", "nf", "dpdk"}));
    c.add_option("--dev", o.dev, "xdp: the device the LB is attached to");
    c.add_option("--prefix", o.prefix, "dpdk: the LB's EAL --file-prefix (default rte)");
    c.add_option("--socket", o.socket, "dpdk: telemetry socket path (overrides --prefix)");
}

// Command line first, then the file's [lb] table.
inline LbTarget resolve_target(const TargetOptions& o, const config::LbSettings* file)
{
    LbTarget t{o.type, o.dev, o.prefix, o.socket};
    if (file) {
        if (t.type.empty())
            t.type = file->type;
        if (t.dev.empty())
            t.dev = file->dev;
        if (t.prefix.empty())
            t.prefix = file->prefix;
        if (t.socket.empty())
            t.socket = file->socket;
    }
    return t;
}

}  // namespace crab::cli
