// SPDX-License-Identifier: GPL-2.0-only
// The XDP LB's control library: everything that reads or writes the LB's
// pinned maps (/sys/fs/bpf/crab/<DEV>/, layout in include/crab/crab_xdp.h),
// attaches and detaches the program (libxdp), and runs the conformance
// fixtures through BPF_PROG_TEST_RUN. Backend set changes are written to a
// service's inactive generation and published by one update of the service
// entry, each write after an RCU grace period (wait_for_readers()).
//
// Users: crabctl (userspace/crabctl/cmd_lb_xdp.cpp: `crabctl lb xdp ...` and
// crab::LbDriver "xdp") and crab-lb-xdp-conformance (conformance_main.cpp).
// Errors are crab::Error with the exit codes of crab/common.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" {
#include <crab/crab_lb.h>
#include <crab/crab_xdp.h>
#include <xdp/libxdp.h>
}

#include "crab/common.hpp"
#include "nexthop.hpp"

struct crab_lb_bpf;  // the skeleton (build/bpf/crab_lb.skel.h)

namespace crab::xdp_ctl {

using nlohmann::json;

// Names of the global counters, CRAB_XDP_G_* order.
extern const char* const kGlobalNames[CRAB_XDP_G_MAX];

// /sys/fs/bpf/crab/<dev>: where an attached LB's maps are pinned.
std::string pin_dir(const std::string& dev);

// File descriptors of the LB's maps: from the pins of a device, or borrowed
// from a loaded skeleton (conformance runner).
struct Maps {
    int services = -1, vips = -1, gens = -1, svc_pcpu = -1, be_cnt = -1, glob_cnt = -1;
    bool owned = false;

    Maps() = default;
    Maps(const Maps&) = delete;
    Maps& operator=(const Maps&) = delete;
    ~Maps();

    static std::unique_ptr<Maps> open_pinned(const std::string& dev);
    static std::unique_ptr<Maps> from_skel(crab_lb_bpf* s);
};

struct Service {
    IpEndpoint ep;
    crab_xdp_svc svc;
};

// A backend slot's address (either family).
IpAddr backend_addr(const crab_xdp_backend& b);

// Sum of a per-CPU counter.
uint64_t percpu_sum(int fd, uint32_t key);

// The counters of service @id (CRAB_LB_COUNTERS order), summed over the
// CPUs from its per-CPU state (crab_svc_pcpu).
std::array<uint64_t, CRAB_LB_CNT_MAX> svc_counters(const Maps& m, uint32_t id);

std::vector<Service> list_services(const Maps& m);
std::optional<crab_xdp_svc> find_service(const Maps& m, const IpEndpoint& ep);
crab_xdp_svc need_service(const Maps& m, const IpEndpoint& ep);
std::unique_ptr<crab_xdp_gen> read_gen(const Maps& m, uint32_t id, uint32_t gen);

void service_add(const Maps& m, const IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg);
void service_set(const Maps& m, const IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg);
void service_del(const Maps& m, const IpEndpoint& ep);
// What resolving one backend's next hop at a backend change gave.
struct NhNote {
    bool tried = false;      // no static MAC: resolved through netlink
    bool resolved = false;
    std::string reason;      // !resolved: why
    std::string keep_error;  // the neighbour could not be kept resolved
};

// With @nl, a backend without a static MAC gets its next hop resolved
// through it before the generation is published (the fast path from the
// first SYN), and its neighbour kept resolved (nexthop.hpp); *@note (when
// given) says how that went. A backend whose next hop cannot be resolved
// is written all the same: its SYNs take the FIB lookup until `nexthops`
// resolves it.
void backend_add(const Maps& m, const IpEndpoint& ep, const IpAddr& dip, uint32_t weight,
                 const std::optional<std::array<uint8_t, 6>>& mac, bool drain = false,
                 nexthop::NetlinkSocket* nl = nullptr, NhNote* note = nullptr);
void backend_set(const Maps& m, const IpEndpoint& ep, const IpAddr& dip, uint32_t weight, bool drain,
                 const std::optional<std::array<uint8_t, 6>>& mac, nexthop::NetlinkSocket* nl = nullptr,
                 NhNote* note = nullptr);
// Drain (@remove false) or remove a backend.
void backend_change(const Maps& m, const IpEndpoint& ep, const IpAddr& dip, bool remove);

// Control-plane next hops (include/crab/crab_xdp.h CRAB_XDP_BE_NH).
// What one pass over every backend of every service found and did.
struct NhPassCounters {
    uint64_t backends = 0;      // backends looked at
    uint64_t static_mac = 0;    // ... with a static MAC (left alone)
    uint64_t resolved = 0;      // ... with a resolved next hop now
    uint64_t unresolved = 0;    // ... without one (FIB lookup per SYN)
    uint64_t changed = 0;       // backends whose next hop changed (set, moved or withdrawn)
    uint64_t invalidated = 0;   // ... of them withdrawn (valid before, not now)
    uint64_t published = 0;     // generations published
    uint64_t keep_managed = 0;  // neighbours marked managed (NTF_EXT_MANAGED)
    uint64_t keep_use = 0;      // neighbours refreshed with NTF_USE
    uint64_t keep_errors = 0;   // neighbours that could not be kept resolved
};
// Resolve every backend's next hop and publish the generations whose
// next hops changed. @keep: also keep the neighbours resolved. @clear:
// withdraw every resolved next hop instead (the FIB lookup per SYN).
// Returns {"backends": [...], "counters": {...}} (NhPassCounters) and adds
// this pass's counters to *@total when given. The caller holds the LB's
// write lock.
json nexthops_pass(const Maps& m, nexthop::NetlinkSocket* nl, bool keep, bool clear,
                   NhPassCounters* total = nullptr);

// `show` and `stats` as JSON.
json show_json(const Maps& m);
json stats_json(const Maps& m);

struct AttachOptions {
    std::string dev;
    std::string mode;                 // "", native, generic
    std::string dispatcher = "auto";  // auto, on, off
    uint32_t kind = CRAB_OPT_KIND_DEFAULT;
    uint32_t exid = CRAB_OPT_EXID_DEFAULT;
};

// How the CRAB LB sits on @ifindex: absent, alone (attached directly) or as
// one of the programs of libxdp's dispatcher.
struct AttachState {
    bool attached = false;
    bool dispatcher = false;
    xdp_attach_mode mode = XDP_MODE_UNSPEC;
    int programs = 0;  // XDP programs on the device (dispatcher: its slots)
};

AttachState attach_state(int ifindex);
json attach_json(const std::string& dev);       // the attachment as show/stats report it
std::string attach_line(const json& attach);    // ... as one line of text
void run_attach(const AttachOptions& o);
void run_detach(const std::string& dev);

// Run the fixtures of @file (selftests/conformance/fixtures.py), only case
// @only if not empty, with @port_mac as the device's MAC. Prints a TAP-like
// line per case, or fills *@out with the results as JSON. Returns 0 when
// every case passed, 1 otherwise.
int run_conformance(const std::string& file, const std::string& only, const std::string& port_mac, json* out,
                    const std::string& ingress_dev = "");

}  // namespace crab::xdp_ctl
