// SPDX-License-Identifier: GPL-2.0-only
// crab::LbDriver: one interface over the three LB implementations (XDP maps,
// netfilter generic netlink, DPDK telemetry). `crabctl apply/show/stats/
// health` speak only to it; `crabctl lb <impl> ...` subcommands call the same
// functions the drivers wrap. Each cmd_lb_<impl>.cpp registers its driver
// with CRABCTL_LB_DRIVER(name, factory).
//
// The state model is crab::config (crab/config.hpp): services with policy
// and legacy mode, backends with weight, drain flag and optional MAC.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crab/config.hpp"

namespace crab {

// Which LB and where to find it.
struct LbTarget {
    std::string type;    // xdp | nf | dpdk
    std::string dev;     // xdp: device the LB is attached to
    std::string prefix;  // dpdk: EAL --file-prefix (default "rte")
    std::string socket;  // dpdk: telemetry socket path (overrides prefix)
};

// Counters of one moment (monotonic values, not rates).
struct LbStats {
    struct Service {
        Endpoint ep;
        std::map<std::string, uint64_t> counters;          // crab_lb.h names
        std::map<std::string, uint64_t> backends;          // DIP -> packets sent to it
        bool has_backend_counters = false;
    };
    std::map<std::string, uint64_t> global;
    std::vector<Service> services;
};

class LbDriver {
public:
    virtual ~LbDriver() = default;

    virtual std::string type() const = 0;
    // The running configuration (lb settings filled with the target).
    virtual config::Config read() = 0;
    virtual LbStats stats() = 0;

    virtual void service_add(const Endpoint& ep, crab_policy pol, crab_legacy_mode leg) = 0;
    virtual void service_set(const Endpoint& ep, crab_policy pol, crab_legacy_mode leg) = 0;
    virtual void service_del(const Endpoint& ep) = 0;
    virtual void backend_add(const Endpoint& ep, const config::Backend& b) = 0;
    // New weight, drain flag and MAC of an existing backend.
    virtual void backend_set(const Endpoint& ep, const config::Backend& b) = 0;
    virtual void backend_del(const Endpoint& ep, Ipv4 dip) = 0;

    // False when read() cannot report static next-hop MACs: apply then
    // compares without them and sets a MAC only when it adds a backend.
    virtual bool tracks_mac() const { return true; }

    // Check what this LB cannot express before anything is changed.
    virtual void check(const config::Config& want) const { (void)want; }

    // One planned change (crab/config.hpp); errors name the change.
    void apply(const config::Change& c);
};

using LbDriverFactory = std::unique_ptr<LbDriver> (*)(const LbTarget&);

struct LbDriverRegistrar {
    LbDriverRegistrar(const char* name, LbDriverFactory f);
};

// The driver for @t.type; throws crab::Error(kExitUsage) for an unknown type.
std::unique_ptr<LbDriver> make_lb_driver(const LbTarget& t);
std::vector<std::string> lb_driver_names();

}  // namespace crab

#define CRABCTL_LB_DRIVER(name, factory) \
    static ::crab::LbDriverRegistrar crabctl_reg_driver_##name(#name, factory)
