// SPDX-License-Identifier: GPL-2.0-only
// The endpoints' announce and allow lists as crabctl reads them: one
// comma-separated list holding IPv4 and IPv6 prefixes ("CIDR,..."; an item
// with a ':' is IPv6), "any"/"all" for every address of both families,
// "none" (or nothing) for the empty list. Shared by `crabctl ebpf` (one
// LPM trie per family) and `crabctl client` (the modules' sysctls, one
// mixed list).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "crab/common.hpp"

namespace crab::cli {

// An IPv6 prefix (network order).
struct Cidr6 {
    std::array<uint8_t, 16> addr{};
    uint8_t len = 0;
    auto operator<=>(const Cidr6&) const = default;
};

inline std::string to_string(const Cidr6& c)
{
    char buf[INET6_ADDRSTRLEN];

    inet_ntop(AF_INET6, c.addr.data(), buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(c.len);
}

// "ADDR/LEN" or a bare address (/128); host bits must be zero.
inline Cidr6 parse_cidr6(const std::string& s)
{
    auto slash = s.find('/');
    std::string a = s.substr(0, slash);
    Cidr6 c;

    if (inet_pton(AF_INET6, a.c_str(), c.addr.data()) != 1)
        throw crab::Error("invalid IPv6 CIDR '" + s + "'", crab::kExitUsage);
    c.len = 128;
    if (slash != std::string::npos) {
        std::string l = s.substr(slash + 1);
        if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos ||
            std::stoul(l) > 128)
            throw crab::Error("invalid IPv6 CIDR '" + s + "': prefix length must be 0..128",
                              crab::kExitUsage);
        c.len = (uint8_t)std::stoul(l);
    }
    Cidr6 net = c;
    for (int i = 0; i < 16; i++) {
        int keep = std::clamp((int)c.len - 8 * i, 0, 8);
        net.addr[i] &= (uint8_t)(0xff00 >> keep);
    }
    if (net.addr != c.addr)
        throw crab::Error("invalid IPv6 CIDR '" + s + "': host bits set (did you mean " + to_string(net) +
                              "?)",
                          crab::kExitUsage);
    return c;
}

// A list split by family; @items: every prefix normalised, in the order
// written.
struct CidrLists {
    std::vector<crab::Cidr> v4;
    std::vector<Cidr6> v6;
    std::vector<std::string> items;
};

// Parse a whole list (the syntax of crab::parse_cidr_list(), per item by
// family); any bad item refuses it all.
inline CidrLists parse_cidr_lists(const std::string& s)
{
    CidrLists out;

    if (s == "any" || s == "all") {
        out.v4 = {crab::parse_cidr("0.0.0.0/0")};
        out.v6 = {Cidr6{}};
        out.items = {crab::to_string(out.v4[0]), to_string(out.v6[0])};
        return out;
    }
    if (s == "none" || s.empty())
        return out;
    size_t pos = 0;
    for (;;) {
        size_t comma = s.find(',', pos);
        std::string t = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        t.erase(0, t.find_first_not_of(' '));
        if (!t.empty())
            t.erase(t.find_last_not_of(' ') + 1);
        if (t.empty())
            throw crab::Error(comma == std::string::npos && pos > 0 ? "trailing comma in CIDR list"
                                                                    : "empty entry in CIDR list",
                              crab::kExitUsage);
        if (t.find(':') != std::string::npos) {
            out.v6.push_back(parse_cidr6(t));
            out.items.push_back(to_string(out.v6.back()));
        } else {
            out.v4.push_back(crab::parse_cidr(t));
            out.items.push_back(crab::to_string(out.v4.back()));
        }
        if (comma == std::string::npos)
            break;
        pos = comma + 1;
    }
    return out;
}

}  // namespace crab::cli
