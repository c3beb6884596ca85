// SPDX-License-Identifier: GPL-2.0-only
// The declarative LB configuration of `crabctl apply -f FILE` / `crabctl show`:
// the service model of crab_lb.h as data (services with policy, legacy mode
// and backends), a TOML reader that validates the whole file before anything
// is applied, a TOML writer whose output the reader accepts, and the diff
// planner that turns (running state, desired state) into ordered changes.
//
// File format (TOML, parsed with toml11):
//
//   [lb]                      # optional; the command line overrides it
//   type = "xdp"              # xdp | nf | dpdk
//   dev = "eth0"              # xdp: device the LB is attached to
//   prefix = "rte"            # dpdk: EAL --file-prefix
//   socket = "/path"          # dpdk: telemetry socket (overrides prefix)
//
//   [[service]]
//   vip = "198.18.100.1"      # IPv4 or IPv6 ("2001:db8:100::1")
//   port = 80
//   policy = "rr"             # rr | random | wrr        (default rr)
//   legacy = "drop"           # drop | insert | hash     (default drop)
//
//     [[service.backend]]
//     addr = "198.18.0.11"    # the VIP's family: a service is IPv4 or IPv6
//     weight = 1              # 1..100                   (default 1)
//     drain = false           # no new connections       (default false)
//     mac = "02:00:00:00:00:01"   # xdp/dpdk: static next hop (optional)
//
//   [bgp]                     # optional: announce the VIPs by BGP (crabctl bgp)
//   asn = 65100               # this LB's AS number (required)
//   router_id = "198.18.0.1"  # optional (FRR picks one otherwise)
//   vips = ["198.18.100.1"]   # optional: default every VIP of [[service]]
//                             # (IPv4 only: an IPv6 service needs vips)
//   frr_dir = "/run/frr"      # optional: the FRR instance's vty sockets
//   interval_ms = 200         # how often the LB is checked (default 200)
//
//     [[bgp.peer]]            # one or more
//     addr = "198.18.0.254"
//     asn = 65000
//     bfd = true              # default true
//     bfd_interval_ms = 100   # BFD tx/rx interval (default 100)
//     bfd_multiplier = 3      # detection: multiplier x interval (default 3)
//
// Every error is a crab::Error with code kExitUsage whose message starts
// with "FILE:LINE:" and names the field (service[2].backend[1].weight).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "crab/common.hpp"

namespace crab::config {

using Mac = std::array<uint8_t, 6>;

struct Backend {
    IpAddr addr;  // the service VIP's family
    uint32_t weight = 1;
    bool drain = false;
    bool has_mac = false;
    Mac mac{};
    int line = 0;  // where it was defined (0: not from a file)

    // Same settings (the source line does not count).
    bool same(const Backend& o) const
    {
        return addr == o.addr && weight == o.weight && drain == o.drain && has_mac == o.has_mac &&
               (!has_mac || mac == o.mac);
    }
};

struct Service {
    IpEndpoint ep;
    crab_policy policy = CRAB_POLICY_RR;
    crab_legacy_mode legacy = CRAB_LEGACY_DROP;
    std::vector<Backend> backends;
    int line = 0;

    const Backend* find(const IpAddr& a) const;
};

struct LbSettings {
    std::string type;    // "", xdp, nf, dpdk
    std::string dev;     // xdp
    std::string prefix;  // dpdk
    std::string socket;  // dpdk
};

struct BgpPeer {
    Ipv4 addr;
    uint32_t asn = 0;
    bool bfd = true;
    uint32_t bfd_interval_ms = 100;
    uint32_t bfd_multiplier = 3;
    int line = 0;
};

// [bgp]: read by `crabctl bgp`; `apply` validates it and otherwise ignores it.
struct BgpSettings {
    bool present = false;  // the file has a [bgp] table
    uint32_t asn = 0;
    bool has_router_id = false;
    Ipv4 router_id;
    std::vector<Ipv4> vips;  // as written; empty: every service VIP
    std::string frr_dir;     // "" : FRR's own default
    uint32_t interval_ms = 200;
    std::vector<BgpPeer> peers;
};

struct Config {
    LbSettings lb;
    std::vector<Service> services;
    BgpSettings bgp;

    // The VIPs `crabctl bgp` announces: bgp.vips, or every service VIP
    // (sorted, each once).
    std::vector<Ipv4> bgp_vips() const;

    const Service* find(const IpEndpoint& ep) const;
    bool same(const Config& o) const;  // same services/backends (order-insensitive)
};

// Read and validate a whole file; nothing is returned unless all of it is valid.
Config parse_file(const std::string& path);
Config parse_string(const std::string& text, const std::string& name = "<string>");

// TOML that parse_string() accepts and that describes @c exactly.
std::string to_toml(const Config& c);

Mac parse_mac(std::string_view s);  // aa:bb:cc:dd:ee:ff
std::string to_string(const Mac& m);

// The checks every service and backend value passes, wherever it comes from
// (a file read by parse_file(), a `crabctl lb IMPL ...` command line): ""
// when @a may be a VIP or a backend address, else why not. A VIP or a
// backend is one host: not 0.0.0.0/8, loopback (127.0.0.0/8), multicast
// (224.0.0.0/4), reserved or broadcast (240.0.0.0/4).
// IPv6: not unspecified (::), loopback (::1), multicast (ff00::/8),
// link-local (fe80::/10) or IPv4-mapped (::ffff:0:0/96).
std::string why_not_host_addr(Ipv4 a);
std::string why_not_host_addr(const IpAddr& a);
// "" when @be may be a backend of the service @svc (a service is one
// family: its backends are its VIP's), else why not.
std::string why_not_backend_of(const IpEndpoint& svc, const IpAddr& be);
// "" when @m may be a backend's static next-hop MAC (one host's: neither a
// group address nor all zero), else why not.
std::string why_not_host_mac(const Mac& m);

// ---- planner -------------------------------------------------------------------

enum class Op {
    ServiceAdd,  // service (policy, legacy), no backends yet
    ServiceSet,  // policy and/or legacy of an existing service
    ServiceDel,
    BackendAdd,  // backend with weight, drain, mac
    BackendSet,  // weight, drain and/or mac of an existing backend
    BackendDel,
};

struct Change {
    Op op;
    IpEndpoint svc;
    crab_policy policy = CRAB_POLICY_RR;          // ServiceAdd/Set
    crab_legacy_mode legacy = CRAB_LEGACY_DROP;   // ServiceAdd/Set
    Backend be;                                   // Backend*

    std::string describe() const;  // "backend add 198.18.100.1:80 198.18.0.11 weight 1"
};

// Ordered changes that turn @cur into @want. Pure: no I/O.
// Order: new services (each followed by its backends), changed services;
// within an existing service backends are added, then changed, then
// removed, so that a service whose backend set is replaced never passes
// through zero backends; removed services go last. Equal input -> empty.
std::vector<Change> plan(const Config& cur, const Config& want);

}  // namespace crab::config
