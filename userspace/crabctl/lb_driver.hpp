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
        IpEndpoint ep;
        std::map<std::string, uint64_t> counters;          // crab_lb.h names
        std::map<std::string, uint64_t> backends;          // DIP -> packets sent to it
        bool has_backend_counters = false;
    };
    std::map<std::string, uint64_t> global;
    std::vector<Service> services;
};

// An exclusive flock(2) on @path, held while the object lives. crabctl
// changes an LB by read-modify-write (a backend set is rebuilt from the
// current one), so two crabctl processes writing the same LB at once --
// an operator's `apply` and a `health --daemon`, say -- could each undo
// the other's change. Every writer takes this lock first. It waits up to
// $CRABCTL_LOCK_TIMEOUT seconds (default 10), then fails with kExitError
// naming @path and @what. @path is a directory (XDP pin directory, the
// DPDK runtime directory) or a lock file created on demand.
class WriteLock {
public:
    WriteLock(const std::string& path, const std::string& what, bool create);
    ~WriteLock();
    WriteLock(const WriteLock&) = delete;
    WriteLock& operator=(const WriteLock&) = delete;

private:
    int fd_ = -1;
};

class LbDriver {
public:
    virtual ~LbDriver() = default;

    virtual std::string type() const = 0;
    // The running configuration (lb settings filled with the target).
    virtual config::Config read() = 0;
    virtual LbStats stats() = 0;

    virtual void service_add(const IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) = 0;
    virtual void service_set(const IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) = 0;
    virtual void service_del(const IpEndpoint& ep) = 0;
    virtual void backend_add(const IpEndpoint& ep, const config::Backend& b) = 0;
    // New weight, drain flag and MAC of an existing backend.
    virtual void backend_set(const IpEndpoint& ep, const config::Backend& b) = 0;
    virtual void backend_del(const IpEndpoint& ep, const IpAddr& dip) = 0;

    // The lock that serialises writers of this LB instance (see WriteLock).
    // Callers take it around a whole read-modify-write; the methods above
    // never take it themselves (flock locks conflict within one process).
    virtual std::unique_ptr<WriteLock> write_lock() = 0;

    // False when read() cannot report static next-hop MACs: apply then
    // compares without them and sets a MAC only when it adds a backend.
    virtual bool tracks_mac() const { return true; }

    // Why this LB is not in the data path although its state can be read
    // (the XDP program detached while its maps stay pinned, its device
    // down), or "" when it is. `crabctl bgp` announces a VIP only while
    // this is "".
    virtual std::string not_serving() { return {}; }

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
