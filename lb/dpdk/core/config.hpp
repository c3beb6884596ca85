// SPDX-License-Identifier: GPL-2.0-only
// Service/backend definitions of the DPDK LB, shared by the command line,
// the --vip-config file and runtime control: parse a spec, then apply it to
// a copy of the table; the copy is published only when everything applied
// (docs/PROTOCOL.md 6: never a half-applied configuration).
#pragma once

#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crab/common.hpp"
#include "lb_core.hpp"

namespace crab::lb_dpdk {

// Addresses of either family: "a.b.c.d" or an IPv6 address; a service
// "a.b.c.d:PORT" or "[IPV6]:PORT". A service is one family: its backends
// are of the VIP's family.
struct ServiceSpec {
    ServiceAddr ep;
    crab_policy policy = CRAB_POLICY_RR;
    crab_legacy_mode legacy = CRAB_LEGACY_DROP;
};

struct BackendSpec {
    ServiceAddr svc;
    Addr dip;
    uint16_t weight = 1;
    std::optional<Mac> mac;
};

// In-place changes: only the fields given are changed.
struct ServiceUpdate {
    ServiceAddr ep;
    std::optional<crab_policy> policy;
    std::optional<crab_legacy_mode> legacy;
};

struct BackendUpdate {
    ServiceAddr svc;
    Addr dip;
    std::optional<uint16_t> weight;
    std::optional<Mac> mac;
};

// An IPv4 address, or an IPv6 address of a host: not unspecified,
// loopback, multicast, link-local or IPv4-mapped (give the IPv4 form).
Addr parse_addr(std::string_view s);
// "a.b.c.d:PORT" or "[IPV6]:PORT"
ServiceAddr parse_service_addr(std::string_view s);
// "VIP:PORT,DIP": a service and one of its backends' address.
std::pair<ServiceAddr, Addr> parse_service_dip(std::string_view s);

// "VIP:PORT[,policy=rr|random|wrr][,legacy=drop|insert|hash]"
ServiceSpec parse_service_spec(std::string_view s);
// "VIP:PORT[,policy=P][,legacy=L]" with at least one setting
ServiceUpdate parse_service_update(std::string_view s);
// "VIP:PORT,DIP[,weight=W][,mac=MAC]" with at least one setting
BackendUpdate parse_backend_update(std::string_view s);
// "VIP:PORT,DIP[,weight=W][,mac=aa:bb:cc:dd:ee:ff]"
BackendSpec parse_backend_spec(std::string_view s);
Mac parse_mac(std::string_view s);
std::string mac_to_string(const Mac& m);

// Table edits; each throws crab::Error naming the bad value and leaves the
// table unchanged.
void service_add(Table& t, const ServiceSpec& s);
void service_set(Table& t, const ServiceUpdate& u);
void service_del(Table& t, const ServiceAddr& ep);
void backend_add(Table& t, const BackendSpec& b);
void backend_set(Table& t, const BackendUpdate& u);
void backend_del(Table& t, const ServiceAddr& svc, const Addr& dip);
void backend_set_state(Table& t, const ServiceAddr& svc, const Addr& dip, crab_backend_state st);

// A --vip-config file: one "service SPEC" or "backend SPEC" per line,
// '#' comments and blank lines ignored. Errors name the file and line.
void load_config_file(const std::string& path, std::vector<ServiceSpec>& svcs, std::vector<BackendSpec>& bes);
// The same from a stream; @name stands for the file in error messages.
void load_config_stream(std::istream& in, const std::string& name, std::vector<ServiceSpec>& svcs,
                        std::vector<BackendSpec>& bes);

}  // namespace crab::lb_dpdk
