// SPDX-License-Identifier: GPL-2.0-only
// Shared userspace helpers: parsing and formatting of the values every CRAB
// tool takes (addresses, CIDRs, VIP:PORT, policies, legacy modes). Parsers
// throw crab::Error whose message names the bad value.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include <crab/crab_lb.h>
#include <crab/crab_opt.h>
}

namespace crab {

// An error a user can act on; `code` is the process exit code to use.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& msg, int code = 1) : std::runtime_error(msg), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

// Exit codes shared by the tools.
enum ExitCode : int {
    kExitOk = 0,
    kExitError = 1,     // operation failed
    kExitUsage = 2,     // bad command line or configuration value
    kExitNotFound = 3,  // the named object does not exist
    kExitNoSupport = 4, // the kernel or a module lacks the feature
};

// IPv4 address in host byte order.
struct Ipv4 {
    uint32_t addr = 0;
    auto operator<=>(const Ipv4&) const = default;
};

struct Cidr {
    Ipv4 net;
    uint8_t len = 0;
    bool contains(Ipv4 a) const;
    auto operator<=>(const Cidr&) const = default;
};

struct Endpoint {
    Ipv4 ip;
    uint16_t port = 0;
    auto operator<=>(const Endpoint&) const = default;
};

// An IPv4 or IPv6 address: what a VIP or a backend (DIP) is. @bytes in
// network order; an IPv4 address sits in bytes[0..3], the rest zero. Ordered
// by family first (IPv4 before IPv6), then by address.
struct IpAddr {
    uint8_t family = 4;  // 4 or 6
    std::array<uint8_t, 16> bytes{};
    auto operator<=>(const IpAddr&) const = default;

    static IpAddr v4(Ipv4 a);
    bool is_v6() const { return family == 6; }
    Ipv4 to_v4() const;  // the IPv4 address (family 4)
    // Four host-order words, most significant first, the form of
    // struct crab_lb_backend (crab_lb_model.h): IPv4 is { 0, 0, 0, a }.
    std::array<uint32_t, 4> model_words() const;
    std::string_view family_name() const { return family == 6 ? "IPv6" : "IPv4"; }
};

// A service: VIP (either family) and TCP port.
struct IpEndpoint {
    IpAddr ip;
    uint16_t port = 0;
    auto operator<=>(const IpEndpoint&) const = default;
};

Ipv4 parse_ipv4(std::string_view s);
// "a.b.c.d" or an IPv6 address in RFC 4291 text form (no zone index, no
// brackets).
IpAddr parse_ip(std::string_view s);
// "a.b.c.d:port" or "[ipv6]:port".
IpEndpoint parse_ip_endpoint(std::string_view s);
Cidr parse_cidr(std::string_view s);  // "a.b.c.d/len" or a bare address (/32)
std::vector<Cidr> parse_cidr_list(std::string_view s);  // comma separated, "" = empty
Endpoint parse_endpoint(std::string_view s);  // "a.b.c.d:port"
uint16_t parse_port(std::string_view s);
enum crab_policy parse_policy(std::string_view s);
enum crab_legacy_mode parse_legacy_mode(std::string_view s);
uint32_t parse_u32(std::string_view s, std::string_view what, uint32_t min, uint32_t max);
// A counter read from the kernel or a daemon: a bad one is that side's
// fault, not the user's, hence the exit code.
uint64_t parse_u64(std::string_view s, std::string_view what, int code = kExitError);

std::string to_string(Ipv4 a);
std::string to_string(const Cidr& c);
std::string to_string(const Endpoint& e);
std::string to_string(const IpAddr& a);      // RFC 5952 form for IPv6
std::string to_string(const IpEndpoint& e);  // "[2001:db8::1]:80" for IPv6
std::string to_string(const std::vector<Cidr>& l);
std::string_view to_string(enum crab_policy p);
std::string_view to_string(enum crab_legacy_mode m);

// Names of the per-service LB counters (crab_lb.h), indexed by enum crab_lb_counter.
const std::vector<std::string_view>& lb_counter_names();

}  // namespace crab
