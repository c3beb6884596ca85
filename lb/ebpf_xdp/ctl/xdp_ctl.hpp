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
void backend_add(const Maps& m, const IpEndpoint& ep, const IpAddr& dip, uint32_t weight,
                 const std::optional<std::array<uint8_t, 6>>& mac, bool drain = false);
void backend_set(const Maps& m, const IpEndpoint& ep, const IpAddr& dip, uint32_t weight, bool drain,
                 const std::optional<std::array<uint8_t, 6>>& mac);
// Drain (@remove false) or remove a backend.
void backend_change(const Maps& m, const IpEndpoint& ep, const IpAddr& dip, bool remove);

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
