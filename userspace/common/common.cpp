// SPDX-License-Identifier: GPL-2.0-only
#include "crab/common.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace crab {

namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

uint32_t parse_u32(std::string_view s, std::string_view what, uint32_t min, uint32_t max)
{
    uint64_t v = 0;
    if (s.empty())
        throw Error("empty " + std::string(what), kExitUsage);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
    if (ec != std::errc() || p != s.data() + s.size())
        throw Error("invalid " + std::string(what) + " " + quoted(s), kExitUsage);
    if (v < min || v > max)
        throw Error(std::string(what) + " " + quoted(s) + " out of range [" +
                        std::to_string(min) + ", " + std::to_string(max) + "]",
                    kExitUsage);
    return static_cast<uint32_t>(v);
}

uint64_t parse_u64(std::string_view s, std::string_view what, int code)
{
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        throw Error("invalid " + std::string(what) + " " + quoted(s) + " (not an unsigned 64-bit decimal)", code);
    return v;
}

Ipv4 parse_ipv4(std::string_view s)
{
    uint32_t out = 0;
    std::string_view rest = s;
    for (int i = 0; i < 4; i++) {
        auto dot = rest.find('.');
        std::string_view part = i < 3 ? rest.substr(0, dot) : rest;
        if ((i < 3 && dot == std::string_view::npos) || part.empty() || part.size() > 3)
            throw Error("invalid IPv4 address " + quoted(s), kExitUsage);
        unsigned v = 0;
        auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v, 10);
        if (ec != std::errc() || p != part.data() + part.size() || v > 255)
            throw Error("invalid IPv4 address " + quoted(s), kExitUsage);
        out = (out << 8) | v;
        if (i < 3)
            rest.remove_prefix(dot + 1);
    }
    return Ipv4{out};
}

bool Cidr::contains(Ipv4 a) const
{
    if (len == 0)
        return true;
    uint32_t mask = len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
    return (a.addr & mask) == (net.addr & mask);
}

Cidr parse_cidr(std::string_view s)
{
    auto slash = s.find('/');
    Cidr c;
    c.net = parse_ipv4(s.substr(0, slash));
    c.len = 32;
    if (slash != std::string_view::npos) {
        std::string_view l = s.substr(slash + 1);
        try {
            c.len = static_cast<uint8_t>(parse_u32(l, "prefix length", 0, 32));
        } catch (const Error&) {
            throw Error("invalid CIDR " + quoted(s) + ": prefix length must be 0..32", kExitUsage);
        }
    }
    uint32_t mask = c.len == 0 ? 0 : (c.len >= 32 ? 0xffffffffu : ~(0xffffffffu >> c.len));
    if ((c.net.addr & ~mask) != 0)
        throw Error("invalid CIDR " + quoted(s) + ": host bits set (did you mean " +
                        to_string(Ipv4{c.net.addr & mask}) + "/" + std::to_string(c.len) + "?)",
                    kExitUsage);
    return c;
}

std::vector<Cidr> parse_cidr_list(std::string_view s)
{
    std::vector<Cidr> out;
    while (!s.empty()) {
        auto comma = s.find(',');
        std::string_view item = s.substr(0, comma);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        if (item.empty())
            throw Error("empty entry in CIDR list", kExitUsage);
        out.push_back(parse_cidr(item));
        if (comma == std::string_view::npos)
            break;
        s.remove_prefix(comma + 1);
        if (s.empty())
            throw Error("trailing comma in CIDR list", kExitUsage);
    }
    return out;
}

uint16_t parse_port(std::string_view s)
{
    return static_cast<uint16_t>(parse_u32(s, "port", 1, 65535));
}

Endpoint parse_endpoint(std::string_view s)
{
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos)
        throw Error("invalid endpoint " + quoted(s) + ": expected ADDRESS:PORT", kExitUsage);
    return Endpoint{parse_ipv4(s.substr(0, colon)), parse_port(s.substr(colon + 1))};
}

IpAddr IpAddr::v4(Ipv4 a)
{
    IpAddr r;
    r.family = 4;
    r.bytes[0] = static_cast<uint8_t>(a.addr >> 24);
    r.bytes[1] = static_cast<uint8_t>(a.addr >> 16);
    r.bytes[2] = static_cast<uint8_t>(a.addr >> 8);
    r.bytes[3] = static_cast<uint8_t>(a.addr);
    return r;
}

Ipv4 IpAddr::to_v4() const
{
    return Ipv4{(uint32_t(bytes[0]) << 24) | (uint32_t(bytes[1]) << 16) | (uint32_t(bytes[2]) << 8) | bytes[3]};
}

std::array<uint32_t, 4> IpAddr::model_words() const
{
    if (family != 6)
        return {0, 0, 0, to_v4().addr};
    std::array<uint32_t, 4> w{};
    for (int i = 0; i < 4; i++)
        w[i] = (uint32_t(bytes[i * 4]) << 24) | (uint32_t(bytes[i * 4 + 1]) << 16) |
               (uint32_t(bytes[i * 4 + 2]) << 8) | bytes[i * 4 + 3];
    return w;
}

IpAddr parse_ip(std::string_view s)
{
    if (s.find(':') == std::string_view::npos)
        return IpAddr::v4(parse_ipv4(s));
    // inet_pton() takes a C string; the longest IPv6 text form is 45 characters.
    IpAddr r;
    r.family = 6;
    char buf[INET6_ADDRSTRLEN + 1];
    if (s.size() >= sizeof(buf) || s.find('%') != std::string_view::npos ||
        s.find('\0') != std::string_view::npos)
        throw Error("invalid IPv6 address " + quoted(s), kExitUsage);
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = 0;
    if (inet_pton(AF_INET6, buf, r.bytes.data()) != 1)
        throw Error("invalid IPv6 address " + quoted(s), kExitUsage);
    return r;
}

IpEndpoint parse_ip_endpoint(std::string_view s)
{
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos || close + 2 >= s.size() || s[close + 1] != ':')
            throw Error("invalid endpoint " + quoted(s) + ": expected [IPV6]:PORT", kExitUsage);
        IpAddr a = parse_ip(s.substr(1, close - 1));
        if (!a.is_v6())
            throw Error("invalid endpoint " + quoted(s) + ": brackets are for IPv6 addresses", kExitUsage);
        return IpEndpoint{a, parse_port(s.substr(close + 2))};
    }
    auto colon = s.find(':');
    if (colon == std::string_view::npos)
        throw Error("invalid endpoint " + quoted(s) + ": expected ADDRESS:PORT", kExitUsage);
    if (s.find(':', colon + 1) != std::string_view::npos)
        throw Error("invalid endpoint " + quoted(s) + ": an IPv6 address is written [IPV6]:PORT", kExitUsage);
    return IpEndpoint{IpAddr::v4(parse_ipv4(s.substr(0, colon))), parse_port(s.substr(colon + 1))};
}

enum crab_policy parse_policy(std::string_view s)
{
    if (s == "rr")
        return CRAB_POLICY_RR;
    if (s == "random")
        return CRAB_POLICY_RANDOM;
    if (s == "wrr")
        return CRAB_POLICY_WRR;
    throw Error("invalid policy " + quoted(s) + ": expected rr, random or wrr", kExitUsage);
}

enum crab_legacy_mode parse_legacy_mode(std::string_view s)
{
    if (s == "drop")
        return CRAB_LEGACY_DROP;
    if (s == "insert")
        return CRAB_LEGACY_INSERT;
    if (s == "hash")
        return CRAB_LEGACY_HASH;
    throw Error("invalid legacy mode " + quoted(s) + ": expected drop, insert or hash", kExitUsage);
}

std::string to_string(Ipv4 a)
{
    return std::to_string(a.addr >> 24) + "." + std::to_string((a.addr >> 16) & 255) + "." +
           std::to_string((a.addr >> 8) & 255) + "." + std::to_string(a.addr & 255);
}

std::string to_string(const Cidr& c) { return to_string(c.net) + "/" + std::to_string(c.len); }

std::string to_string(const Endpoint& e) { return to_string(e.ip) + ":" + std::to_string(e.port); }

std::string to_string(const IpAddr& a)
{
    if (!a.is_v6())
        return to_string(a.to_v4());
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof(buf));
    return buf;
}

std::string to_string(const IpEndpoint& e)
{
    if (e.ip.is_v6())
        return "[" + to_string(e.ip) + "]:" + std::to_string(e.port);
    return to_string(e.ip) + ":" + std::to_string(e.port);
}

std::string to_string(const std::vector<Cidr>& l)
{
    std::string out;
    for (const auto& c : l) {
        if (!out.empty())
            out += ",";
        out += to_string(c);
    }
    return out;
}

std::string_view to_string(enum crab_policy p)
{
    switch (p) {
    case CRAB_POLICY_RR: return "rr";
    case CRAB_POLICY_RANDOM: return "random";
    case CRAB_POLICY_WRR: return "wrr";
    default: return "unknown";
    }
}

std::string_view to_string(enum crab_legacy_mode m)
{
    switch (m) {
    case CRAB_LEGACY_DROP: return "drop";
    case CRAB_LEGACY_INSERT: return "insert";
    case CRAB_LEGACY_HASH: return "hash";
    default: return "unknown";
    }
}

const std::vector<std::string_view>& lb_counter_names()
{
#define CRAB_NAME(e, n, h) n,
    static const std::vector<std::string_view> names = {CRAB_LB_COUNTERS(CRAB_NAME)};
#undef CRAB_NAME
    return names;
}

}  // namespace crab
