// SPDX-License-Identifier: GPL-2.0-only
#include "config.hpp"

#include "crab/config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <fstream>

namespace crab::lb_dpdk {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> out;
    size_t b = 0;
    for (;;) {
        size_t e = s.find(sep, b);
        out.push_back(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
        if (e == std::string_view::npos)
            return out;
        b = e + 1;
    }
}

bool kv(std::string_view item, std::string_view key, std::string_view& val)
{
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
        val = item.substr(key.size() + 1);
        return true;
    }
    return false;
}

Service* find_mut(Table& t, const ServiceAddr& ep)
{
    for (auto& s : t.services)
        if (s.vip == ep.ip && s.port == ep.port)
            return &s;
    return nullptr;
}

Service& need(Table& t, const ServiceAddr& ep)
{
    Service* s = find_mut(t, ep);
    if (!s)
        throw Error("no service " + to_string(ep), kExitNotFound);
    return *s;
}

Backend& need_be(Service& s, const ServiceAddr& ep, const Addr& dip)
{
    for (auto& b : s.backends)
        if (b.dip == dip)
            return b;
    throw Error("no backend " + to_string(dip) + " in service " + to_string(ep), kExitNotFound);
}

}  // namespace

namespace {

// The shared parsers' address (crab/common.hpp) as the LB's; an IPv6 one
// must name a host (crab::config::why_not_host_addr(): not unspecified,
// loopback, multicast, link-local or IPv4-mapped).
Addr lb_addr(const IpAddr& a, std::string_view text)
{
    if (!a.is_v6())
        return Addr(a.to_v4());
    if (std::string why = config::why_not_host_addr(a); !why.empty())
        throw Error("'" + std::string(text) + "': " + why, kExitUsage);
    return Addr::from6(a.bytes.data());
}

}  // namespace

Addr parse_addr(std::string_view s) { return lb_addr(parse_ip(s), s); }

ServiceAddr parse_service_addr(std::string_view s)
{
    IpEndpoint e = parse_ip_endpoint(s);
    return {lb_addr(e.ip, s), e.port};
}

std::pair<ServiceAddr, Addr> parse_service_dip(std::string_view p)
{
    auto c = p.find(',');
    if (c == std::string_view::npos)
        throw Error("want VIP:PORT,DIP, got '" + std::string(p) + "'", kExitUsage);
    return {parse_service_addr(p.substr(0, c)), parse_addr(p.substr(c + 1))};
}

Mac parse_mac(std::string_view s)
{
    Mac m{};
    auto parts = split(s, ':');
    if (parts.size() != 6)
        throw Error("bad MAC address '" + std::string(s) + "'", kExitUsage);
    for (int i = 0; i < 6; i++) {
        auto p = parts[i];
        // isxdigit() of a negative char (a byte >= 0x80) is undefined.
        auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
        if (p.empty() || p.size() > 2 || !std::all_of(p.begin(), p.end(), hex))
            throw Error("bad MAC address '" + std::string(s) + "'", kExitUsage);
        m[i] = static_cast<uint8_t>(std::stoul(std::string(p), nullptr, 16));
    }
    return m;
}

std::string mac_to_string(const Mac& m)
{
    char b[18];
    std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

ServiceSpec parse_service_spec(std::string_view s)
{
    auto items = split(s, ',');
    ServiceSpec sp;
    sp.ep = parse_service_addr(items[0]);
    for (size_t i = 1; i < items.size(); i++) {
        std::string_view v;
        if (kv(items[i], "policy", v))
            sp.policy = parse_policy(v);
        else if (kv(items[i], "legacy", v))
            sp.legacy = parse_legacy_mode(v);
        else
            throw Error("unknown service setting '" + std::string(items[i]) + "'", kExitUsage);
    }
    return sp;
}

BackendSpec parse_backend_spec(std::string_view s)
{
    auto items = split(s, ',');
    if (items.size() < 2)
        throw Error("backend '" + std::string(s) + "' needs VIP:PORT,DIP", kExitUsage);
    BackendSpec b;
    b.svc = parse_service_addr(items[0]);
    b.dip = parse_addr(items[1]);
    for (size_t i = 2; i < items.size(); i++) {
        std::string_view v;
        if (kv(items[i], "weight", v))
            b.weight = static_cast<uint16_t>(parse_u32(v, "weight", 1, CRAB_WEIGHT_MAX));
        else if (kv(items[i], "mac", v))
            b.mac = parse_mac(v);
        else
            throw Error("unknown backend setting '" + std::string(items[i]) + "'", kExitUsage);
    }
    return b;
}

ServiceUpdate parse_service_update(std::string_view s)
{
    auto items = split(s, ',');
    ServiceUpdate u;
    u.ep = parse_service_addr(items[0]);
    for (size_t i = 1; i < items.size(); i++) {
        std::string_view v;
        if (kv(items[i], "policy", v))
            u.policy = parse_policy(v);
        else if (kv(items[i], "legacy", v))
            u.legacy = parse_legacy_mode(v);
        else
            throw Error("unknown service setting '" + std::string(items[i]) + "'", kExitUsage);
    }
    if (!u.policy && !u.legacy)
        throw Error("service '" + std::string(s) + "': nothing to change (give policy= and/or legacy=)", kExitUsage);
    return u;
}

BackendUpdate parse_backend_update(std::string_view s)
{
    auto items = split(s, ',');
    if (items.size() < 2)
        throw Error("backend '" + std::string(s) + "' needs VIP:PORT,DIP", kExitUsage);
    BackendUpdate u;
    u.svc = parse_service_addr(items[0]);
    u.dip = parse_addr(items[1]);
    for (size_t i = 2; i < items.size(); i++) {
        std::string_view v;
        if (kv(items[i], "weight", v))
            u.weight = static_cast<uint16_t>(parse_u32(v, "weight", 1, CRAB_WEIGHT_MAX));
        else if (kv(items[i], "mac", v))
            u.mac = parse_mac(v);
        else
            throw Error("unknown backend setting '" + std::string(items[i]) + "'", kExitUsage);
    }
    if (!u.weight && !u.mac)
        throw Error("backend '" + std::string(s) + "': nothing to change (give weight= and/or mac=)", kExitUsage);
    return u;
}

void service_add(Table& t, const ServiceSpec& sp)
{
    if (find_mut(t, sp.ep))
        throw Error("service " + to_string(sp.ep) + " exists", kExitUsage);
    if (t.services.size() >= CRAB_MAX_SERVICES)
        throw Error("too many services (max " + std::to_string(CRAB_MAX_SERVICES) + ")", kExitUsage);
    std::vector<bool> used(CRAB_MAX_SERVICES, false);
    for (const auto& s : t.services)
        used[s.slot] = true;
    Service s;
    s.vip = sp.ep.ip;
    s.port = sp.ep.port;
    s.policy = sp.policy;
    s.legacy = sp.legacy;
    s.slot = static_cast<uint16_t>(std::find(used.begin(), used.end(), false) - used.begin());
    s.build();
    t.services.push_back(std::move(s));
    t.index();
}

// Policy and legacy mode change in place: the slot (counters, rr cursor)
// and the backends stay.
void service_set(Table& t, const ServiceUpdate& u)
{
    Service& s = need(t, u.ep);
    if (u.policy)
        s.policy = *u.policy;
    if (u.legacy)
        s.legacy = *u.legacy;
    s.build();
}

void service_del(Table& t, const ServiceAddr& ep)
{
    need(t, ep);
    std::erase_if(t.services, [&](const Service& s) { return s.vip == ep.ip && s.port == ep.port; });
    t.index();
}

void backend_add(Table& t, const BackendSpec& bs)
{
    Service& s = need(t, bs.svc);
    if (bs.dip.v6 != s.vip.v6)
        throw Error("backend " + to_string(bs.dip) + " is " + (bs.dip.v6 ? "IPv6" : "IPv4") + ", service " +
                        to_string(bs.svc) + " is " + (s.vip.v6 ? "IPv6" : "IPv4") + ": a service is one family",
                    kExitUsage);
    for (const auto& b : s.backends)
        if (b.dip == bs.dip)
            throw Error("backend " + to_string(bs.dip) + " already in " + to_string(bs.svc), kExitUsage);
    if (s.backends.size() >= CRAB_MAX_BACKENDS)
        throw Error("too many backends in " + to_string(bs.svc), kExitUsage);
    // A stable counter slot: the lowest one no backend of the service holds
    // (indices into `backends` shift when one is removed).
    std::array<bool, CRAB_MAX_BACKENDS> used{};
    for (const auto& o : s.backends)
        used[o.slot] = true;
    Backend b;
    b.slot = static_cast<uint16_t>(std::find(used.begin(), used.end(), false) - used.begin());
    b.dip = bs.dip;
    b.weight = bs.weight;
    if (bs.mac) {
        b.has_mac = true;
        b.mac = *bs.mac;
    }
    s.backends.push_back(b);
    s.build();
}

// Weight and static MAC change in place; the state (active/draining) stays.
void backend_set(Table& t, const BackendUpdate& u)
{
    Service& s = need(t, u.svc);
    Backend& b = need_be(s, u.svc, u.dip);
    if (u.weight)
        b.weight = *u.weight;
    if (u.mac) {
        b.has_mac = true;
        b.mac = *u.mac;
    }
    s.build();
}

void backend_del(Table& t, const ServiceAddr& svc, const Addr& dip)
{
    Service& s = need(t, svc);
    need_be(s, svc, dip);
    std::erase_if(s.backends, [&](const Backend& b) { return b.dip == dip; });
    s.build();
}

void backend_set_state(Table& t, const ServiceAddr& svc, const Addr& dip, crab_backend_state st)
{
    Service& s = need(t, svc);
    need_be(s, svc, dip).state = st;
    s.build();
}

void load_config_file(const std::string& path, std::vector<ServiceSpec>& svcs, std::vector<BackendSpec>& bes)
{
    std::ifstream in(path);
    if (!in)
        throw Error("cannot open --vip-config file '" + path + "'", kExitUsage);
    load_config_stream(in, path, svcs, bes);
}

void load_config_stream(std::istream& in, const std::string& path, std::vector<ServiceSpec>& svcs,
                        std::vector<BackendSpec>& bes)
{
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
        auto hash = line.find('#');
        if (hash != std::string::npos)
            line.resize(hash);
        auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos)
            continue;
        auto e = line.find_last_not_of(" \t\r");
        std::string_view l(line);
        l = l.substr(b, e - b + 1);
        auto sp = l.find_first_of(" \t");
        std::string_view word = l.substr(0, sp);
        std::string_view arg = sp == std::string_view::npos ? std::string_view() : l.substr(sp);
        arg.remove_prefix(std::min(arg.find_first_not_of(" \t"), arg.size()));
        try {
            if (word == "service")
                svcs.push_back(parse_service_spec(arg));
            else if (word == "backend")
                bes.push_back(parse_backend_spec(arg));
            else
                throw Error("unknown keyword '" + std::string(word) + "' (want service or backend)", kExitUsage);
        } catch (const Error& e) {
            throw Error(path + ":" + std::to_string(n) + ": " + e.what(), kExitUsage);
        }
    }
}

}  // namespace crab::lb_dpdk
