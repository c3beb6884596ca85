// SPDX-License-Identifier: GPL-2.0-only
// Declarative LB configuration: TOML reader/validator, writer, planner.
#include "crab/config.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <toml.hpp>

namespace crab::config {

namespace {

// Where a value was written, "FILE:LINE:" (or the file name alone).
std::string where(const toml::value& v, const std::string& fallback)
{
    auto loc = v.location();
    std::string f = loc.file_name().empty() || loc.file_name() == "unknown file" ? fallback : loc.file_name();
    if (loc.line() == 0)
        return f + ":";
    return f + ":" + std::to_string(loc.line()) + ":";
}

int line_of(const toml::value& v) { return static_cast<int>(v.location().line()); }

[[noreturn]] void fail(const toml::value& v, const std::string& file, const std::string& field,
                       const std::string& msg)
{
    throw Error(where(v, file) + " " + field + ": " + msg, kExitUsage);
}

const char* type_name(const toml::value& v)
{
    switch (v.type()) {
    case toml::value_t::boolean:
        return "a boolean";
    case toml::value_t::integer:
        return "an integer";
    case toml::value_t::floating:
        return "a float";
    case toml::value_t::string:
        return "a string";
    case toml::value_t::array:
        return "an array";
    case toml::value_t::table:
        return "a table";
    default:
        return "a date/time";
    }
}

// Keys of a table in source order (toml11 keeps an unordered map), so
// that the first bad key in the file is the one reported.
std::vector<std::string> keys_in_order(const toml::value& t)
{
    std::vector<std::pair<int, std::string>> k;
    for (const auto& [name, v] : t.as_table())
        k.emplace_back(line_of(v), name);
    std::sort(k.begin(), k.end());
    std::vector<std::string> out;
    for (auto& p : k)
        out.push_back(p.second);
    return out;
}

void check_keys(const toml::value& t, const std::string& file, const std::string& field,
                std::initializer_list<const char*> allowed)
{
    for (const auto& k : keys_in_order(t)) {
        bool ok = false;
        for (const char* a : allowed)
            ok |= k == a;
        if (!ok) {
            std::string list;
            for (const char* a : allowed)
                list += std::string(list.empty() ? "" : ", ") + a;
            fail(t.as_table().at(k), file, field + (field.empty() ? "" : ".") + k,
                 "unknown key '" + k + "' (expected one of: " + list + ")");
        }
    }
}

const toml::value* get(const toml::value& t, const char* key)
{
    const auto& tab = t.as_table();
    auto it = tab.find(key);
    return it == tab.end() ? nullptr : &it->second;
}

std::string get_string(const toml::value& v, const std::string& file, const std::string& field)
{
    if (!v.is_string())
        fail(v, file, field, std::string("expected a string, got ") + type_name(v));
    return v.as_string().str;
}

int64_t get_int(const toml::value& v, const std::string& file, const std::string& field, int64_t min,
                int64_t max)
{
    if (!v.is_integer())
        fail(v, file, field, std::string("expected an integer, got ") + type_name(v));
    int64_t x = v.as_integer();
    if (x < min || x > max)
        fail(v, file, field, std::to_string(x) + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
    return x;
}

bool get_bool(const toml::value& v, const std::string& file, const std::string& field)
{
    if (!v.is_boolean())
        fail(v, file, field, std::string("expected true or false, got ") + type_name(v));
    return v.as_boolean();
}

// Run a parser of crab/common.hpp; its message (naming the value) gets the location.
template <typename F>
auto parse_value(const toml::value& v, const std::string& file, const std::string& field, F f)
{
    std::string s = get_string(v, file, field);
    try {
        return f(s);
    } catch (const Error& e) {
        fail(v, file, field, e.what());
    }
}

const toml::array& get_table_array(const toml::value& v, const std::string& file, const std::string& field)
{
    if (!v.is_array())
        fail(v, file, field, std::string("expected an array of tables ([[") + field + "]]), got " + type_name(v));
    for (const auto& e : v.as_array())
        if (!e.is_table())
            fail(e, file, field, std::string("expected tables, got ") + type_name(e));
    return v.as_array();
}

Backend parse_backend(const toml::value& t, const std::string& file, const std::string& field)
{
    check_keys(t, file, field, {"addr", "weight", "drain", "mac"});
    Backend b;
    b.line = line_of(t);
    const toml::value* a = get(t, "addr");
    if (!a)
        fail(t, file, field + ".addr", "missing (the backend's address, e.g. addr = \"198.18.0.11\")");
    b.addr = parse_value(*a, file, field + ".addr", [](const std::string& s) { return parse_ip(s); });
    if (b.line == 0)
        b.line = line_of(*a);
    if (auto why = why_not_host_addr(b.addr); !why.empty())
        fail(*a, file, field + ".addr", crab::to_string(b.addr) + " is not a backend address: " + why);
    if (auto* w = get(t, "weight"))
        b.weight = static_cast<uint32_t>(get_int(*w, file, field + ".weight", 1, CRAB_WEIGHT_MAX));
    if (auto* d = get(t, "drain"))
        b.drain = get_bool(*d, file, field + ".drain");
    if (auto* m = get(t, "mac")) {
        b.mac = parse_value(*m, file, field + ".mac", [](const std::string& s) { return parse_mac(s); });
        if (auto why = why_not_host_mac(b.mac); !why.empty())
            fail(*m, file, field + ".mac", to_string(b.mac) + " is not a next-hop MAC: " + why);
        b.has_mac = true;
    }
    return b;
}

Service parse_service(const toml::value& t, const std::string& file, const std::string& field)
{
    check_keys(t, file, field, {"vip", "port", "policy", "legacy", "backend"});
    Service s;
    s.line = line_of(t);
    const toml::value* vip = get(t, "vip");
    if (!vip)
        fail(t, file, field + ".vip", "missing (the service address, e.g. vip = \"198.18.100.1\")");
    if (s.line == 0)
        s.line = line_of(*vip);
    s.ep.ip = parse_value(*vip, file, field + ".vip", [](const std::string& x) { return parse_ip(x); });
    if (auto why = why_not_host_addr(s.ep.ip); !why.empty())
        fail(*vip, file, field + ".vip", crab::to_string(s.ep.ip) + " is not a VIP: " + why);
    const toml::value* port = get(t, "port");
    if (!port)
        fail(t, file, field + ".port", "missing (the TCP port, e.g. port = 80)");
    s.ep.port = static_cast<uint16_t>(get_int(*port, file, field + ".port", 1, 65535));
    if (auto* p = get(t, "policy"))
        s.policy = parse_value(*p, file, field + ".policy", [](const std::string& x) { return parse_policy(x); });
    if (auto* l = get(t, "legacy"))
        s.legacy =
            parse_value(*l, file, field + ".legacy", [](const std::string& x) { return parse_legacy_mode(x); });
    if (auto* bl = get(t, "backend")) {
        const auto& arr = get_table_array(*bl, file, field + ".backend");
        if (arr.size() > CRAB_MAX_BACKENDS)
            fail(*bl, file, field + ".backend",
                 std::to_string(arr.size()) + " backends, the limit is " + std::to_string(CRAB_MAX_BACKENDS));
        for (size_t i = 0; i < arr.size(); i++) {
            std::string bf = field + ".backend[" + std::to_string(i + 1) + "]";
            Backend b = parse_backend(arr[i], file, bf);
            if (auto why = why_not_backend_of(s.ep, b.addr); !why.empty())
                fail(arr[i].as_table().at("addr"), file, bf + ".addr", why);
            if (const Backend* prev = s.find(b.addr))
                fail(arr[i].as_table().at("addr"), file, bf + ".addr",
                     "backend " + crab::to_string(b.addr) + " is listed twice (first at line " +
                         std::to_string(prev->line) + ")");
            s.backends.push_back(b);
        }
    }
    return s;
}

BgpPeer parse_bgp_peer(const toml::value& t, const std::string& file, const std::string& field)
{
    check_keys(t, file, field, {"addr", "asn", "bfd", "bfd_interval_ms", "bfd_multiplier"});
    BgpPeer p;
    p.line = line_of(t);
    const toml::value* a = get(t, "addr");
    if (!a)
        fail(t, file, field + ".addr", "missing (the BGP neighbour's address, e.g. addr = \"198.18.0.254\")");
    if (p.line == 0)
        p.line = line_of(*a);
    p.addr = parse_value(*a, file, field + ".addr", [](const std::string& s) { return parse_ipv4(s); });
    if (p.addr.addr == 0)
        fail(*a, file, field + ".addr", "0.0.0.0 is not a neighbour address");
    const toml::value* asn = get(t, "asn");
    if (!asn)
        fail(t, file, field + ".asn", "missing (the neighbour's AS number, e.g. asn = 65000)");
    p.asn = static_cast<uint32_t>(get_int(*asn, file, field + ".asn", 1, 4294967295LL));
    if (auto* v = get(t, "bfd"))
        p.bfd = get_bool(*v, file, field + ".bfd");
    // FRR's bfdd accepts 10..60000 ms and multipliers 2..255.
    if (auto* v = get(t, "bfd_interval_ms"))
        p.bfd_interval_ms = static_cast<uint32_t>(get_int(*v, file, field + ".bfd_interval_ms", 10, 60000));
    if (auto* v = get(t, "bfd_multiplier"))
        p.bfd_multiplier = static_cast<uint32_t>(get_int(*v, file, field + ".bfd_multiplier", 2, 255));
    return p;
}

BgpSettings parse_bgp(const toml::value& t, const std::string& file)
{
    if (!t.is_table())
        fail(t, file, "bgp", std::string("expected a table ([bgp]), got ") + type_name(t));
    check_keys(t, file, "bgp", {"asn", "router_id", "vips", "frr_dir", "interval_ms", "peer"});
    BgpSettings b;
    b.present = true;
    const toml::value* asn = get(t, "asn");
    if (!asn)
        fail(t, file, "bgp.asn", "missing (this LB's AS number, e.g. asn = 65100)");
    b.asn = static_cast<uint32_t>(get_int(*asn, file, "bgp.asn", 1, 4294967295LL));
    if (auto* v = get(t, "router_id")) {
        b.router_id = parse_value(*v, file, "bgp.router_id", [](const std::string& s) { return parse_ipv4(s); });
        if (b.router_id.addr == 0)
            fail(*v, file, "bgp.router_id", "0.0.0.0 is not a router ID");
        b.has_router_id = true;
    }
    if (auto* v = get(t, "vips")) {
        if (!v->is_array())
            fail(*v, file, "bgp.vips", std::string("expected an array of addresses, got ") + type_name(*v));
        const auto& arr = v->as_array();
        for (size_t i = 0; i < arr.size(); i++) {
            std::string f = "bgp.vips[" + std::to_string(i + 1) + "]";
            Ipv4 a = parse_value(arr[i], file, f, [](const std::string& s) {
                if (parse_ip(s).is_v6())
                    throw Error("'" + s + "': crabctl bgp announces IPv4 VIPs only", kExitUsage);
                return parse_ipv4(s);
            });
            if (a.addr == 0)
                fail(arr[i], file, f, "0.0.0.0 is not a VIP");
            if (std::find(b.vips.begin(), b.vips.end(), a) != b.vips.end())
                fail(arr[i], file, f, crab::to_string(a) + " is listed twice");
            b.vips.push_back(a);
        }
        if (b.vips.empty())
            fail(*v, file, "bgp.vips", "empty (leave vips out to announce every service VIP)");
    }
    if (auto* v = get(t, "frr_dir")) {
        b.frr_dir = get_string(*v, file, "bgp.frr_dir");
        if (b.frr_dir.empty() || b.frr_dir[0] != '/')
            fail(*v, file, "bgp.frr_dir", "'" + b.frr_dir + "' is not an absolute directory path");
    }
    if (auto* v = get(t, "interval_ms"))
        b.interval_ms = static_cast<uint32_t>(get_int(*v, file, "bgp.interval_ms", 10, 60000));
    const toml::value* pl = get(t, "peer");
    if (!pl)
        fail(t, file, "bgp.peer", "missing (at least one [[bgp.peer]] with addr and asn)");
    const auto& arr = get_table_array(*pl, file, "bgp.peer");
    if (arr.empty())
        fail(*pl, file, "bgp.peer", "empty (at least one [[bgp.peer]] with addr and asn)");
    for (size_t i = 0; i < arr.size(); i++) {
        std::string f = "bgp.peer[" + std::to_string(i + 1) + "]";
        BgpPeer p = parse_bgp_peer(arr[i], file, f);
        for (const auto& q : b.peers)
            if (q.addr == p.addr)
                fail(arr[i].as_table().at("addr"), file, f + ".addr",
                     "neighbour " + crab::to_string(p.addr) + " is listed twice (first at line " +
                         std::to_string(q.line) + ")");
        b.peers.push_back(p);
    }
    return b;
}

Config parse_value_root(const toml::value& root, const std::string& file)
{
    Config c;
    check_keys(root, file, "", {"lb", "service", "bgp"});
    if (auto* lb = get(root, "lb")) {
        if (!lb->is_table())
            fail(*lb, file, "lb", std::string("expected a table ([lb]), got ") + type_name(*lb));
        check_keys(*lb, file, "lb", {"type", "dev", "prefix", "socket"});
        if (auto* v = get(*lb, "type")) {
            c.lb.type = get_string(*v, file, "lb.type");
            if (c.lb.type != "xdp" && c.lb.type != "nf" && c.lb.type != "dpdk")
                fail(*v, file, "lb.type", "invalid LB type '" + c.lb.type + "' (expected xdp, nf or dpdk)");
        }
        if (auto* v = get(*lb, "dev")) {
            c.lb.dev = get_string(*v, file, "lb.dev");
            if (c.lb.dev.empty() || c.lb.dev.size() >= 16 || c.lb.dev.find('/') != std::string::npos)
                fail(*v, file, "lb.dev", "invalid device name '" + c.lb.dev + "'");
        }
        if (auto* v = get(*lb, "prefix"))
            c.lb.prefix = get_string(*v, file, "lb.prefix");
        if (auto* v = get(*lb, "socket"))
            c.lb.socket = get_string(*v, file, "lb.socket");
    }
    if (auto* sl = get(root, "service")) {
        const auto& arr = get_table_array(*sl, file, "service");
        if (arr.size() > CRAB_MAX_SERVICES)
            fail(*sl, file, "service",
                 std::to_string(arr.size()) + " services, the limit is " + std::to_string(CRAB_MAX_SERVICES));
        for (size_t i = 0; i < arr.size(); i++) {
            std::string f = "service[" + std::to_string(i + 1) + "]";
            Service s = parse_service(arr[i], file, f);
            if (const Service* prev = c.find(s.ep))
                fail(arr[i], file, f, "service " + crab::to_string(s.ep) + " is defined twice (first at line " +
                                          std::to_string(prev->line) + ")");
            c.services.push_back(std::move(s));
        }
    }
    if (auto* bt = get(root, "bgp")) {
        c.bgp = parse_bgp(*bt, file);
        // A VIP announced here but not served by this LB would draw
        // traffic it can only drop.
        if (auto* v = get(*bt, "vips"))
            for (size_t i = 0; i < c.bgp.vips.size(); i++) {
                bool served = false;
                for (const auto& s : c.services)
                    served |= s.ep.ip == IpAddr::v4(c.bgp.vips[i]);
                if (!served)
                    fail(v->as_array()[i], file, "bgp.vips[" + std::to_string(i + 1) + "]",
                         crab::to_string(c.bgp.vips[i]) + " is not the VIP of any [[service]] in this file");
            }
        if (c.bgp.vips.empty())
            for (size_t i = 0; i < c.services.size(); i++)
                if (c.services[i].ep.ip.is_v6())
                    fail(*bt, file, "bgp.vips",
                         "missing: crabctl bgp announces IPv4 VIPs only and service[" + std::to_string(i + 1) +
                             "] has the IPv6 VIP " + crab::to_string(c.services[i].ep.ip) +
                             " (list the VIPs to announce in bgp.vips)");
        if (c.bgp_vips().empty())
            fail(*bt, file, "bgp", "nothing to announce: the file defines no [[service]]");
    }
    return c;
}

// "file:LINE: message" from a toml11 syntax error (its what() is a
// multi-line excerpt; the first line is the message).
[[noreturn]] void syntax(const toml::exception& e, const std::string& file)
{
    std::string w = e.what();
    std::string first = w.substr(0, w.find('\n'));
    const std::string tag = "[error] ";
    if (first.rfind(tag, 0) == 0)
        first = first.substr(tag.size());
    auto line = e.location().line();
    throw Error(file + ":" + (line ? std::to_string(line) + ":" : std::string()) + " TOML syntax error: " +
                    first + "\n" + w,
                kExitUsage);
}

// TOML files must be UTF-8 (TOML 1.0, "Spec"). toml11 3.7 trusts the
// lead byte of a sequence inside strings and steps past the end of the
// buffer on a malformed one (a two-byte file "'\xff'" read out of bounds:
// found by fuzz/fuzz_toml_config.cpp), so refuse anything that is not
// well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF) before toml11 sees it, naming the line and the byte.
void check_utf8(const std::string& text, const std::string& file)
{
    int line = 1;
    for (size_t i = 0; i < text.size();) {
        const auto b = static_cast<unsigned char>(text[i]);
        size_t n = 0;
        unsigned lo = 0x80, hi = 0xbf;  // range of the second byte
        if (b < 0x80) {
            line += b == '\n';
            i++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            n = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            n = 2;
            lo = b == 0xe0 ? 0xa0 : 0x80;  // overlong
            hi = b == 0xed ? 0x9f : 0xbf;  // surrogates
        } else if (b >= 0xf0 && b <= 0xf4) {
            n = 3;
            lo = b == 0xf0 ? 0x90 : 0x80;  // overlong
            hi = b == 0xf4 ? 0x8f : 0xbf;  // above U+10FFFF
        }
        bool ok = n > 0 && i + n < text.size();  // all n continuation bytes present
        for (size_t k = 1; ok && k <= n; k++) {
            const auto c = static_cast<unsigned char>(text[i + k]);
            ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xbf);
        }
        if (!ok) {
            char hex[8];
            std::snprintf(hex, sizeof(hex), "0x%02X", b);
            throw Error(file + ":" + std::to_string(line) + ": not valid UTF-8 (byte " + hex +
                            " at offset " + std::to_string(i) + "); a TOML file must be UTF-8",
                        kExitUsage);
        }
        i += n + 1;
    }
}

// toml11 parses nested arrays and inline tables recursively, without a
// limit: a file of a few thousand '[' overflowed the stack (crash) and a few
// hundred nested inline tables took tens of seconds (found by
// fuzz/fuzz_toml_config.cpp). No valid configuration nests more than a
// table-array header's two brackets, so refuse anything deeper than
// kMaxNesting before toml11 sees it. Strings and comments are skipped so
// that brackets inside them do not count.
constexpr int kMaxNesting = 16;

void check_nesting(const std::string& text, const std::string& file)
{
    int depth = 0, line = 1;
    for (size_t i = 0; i < text.size(); i++) {
        char c = text[i];
        if (c == '\n') {
            line++;
        } else if (c == '#') {
            while (i + 1 < text.size() && text[i + 1] != '\n')
                i++;
        } else if (c == '"' || c == '\'') {
            // Basic ("...", escapes) or literal ('...') string, single or
            // triple quoted; an unterminated one is toml11's to report.
            bool triple = text.compare(i, 3, std::string(3, c)) == 0;
            size_t j = i + (triple ? 3 : 1);
            for (; j < text.size(); j++) {
                if (text[j] == '\n')
                    line++;
                if (c == '"' && text[j] == '\\') {
                    j++;
                    if (j < text.size() && text[j] == '\n')
                        line++;
                } else if (text[j] == c && (!triple || text.compare(j, 3, std::string(3, c)) == 0)) {
                    j += triple ? 2 : 0;
                    break;
                } else if (!triple && text[j] == '\n') {
                    break;
                }
            }
            i = j;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxNesting)
                throw Error(file + ":" + std::to_string(line) + ": arrays or inline tables nested deeper than " +
                                std::to_string(kMaxNesting) + " levels",
                            kExitUsage);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
}

}  // namespace

const Backend* Service::find(const IpAddr& a) const
{
    for (const auto& b : backends)
        if (b.addr == a)
            return &b;
    return nullptr;
}

const Service* Config::find(const IpEndpoint& ep) const
{
    for (const auto& s : services)
        if (s.ep == ep)
            return &s;
    return nullptr;
}

std::vector<Ipv4> Config::bgp_vips() const
{
    std::vector<Ipv4> v = bgp.vips;
    if (v.empty())
        for (const auto& s : services)
            if (!s.ep.ip.is_v6())
                v.push_back(s.ep.ip.to_v4());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

bool Config::same(const Config& o) const
{
    if (services.size() != o.services.size())
        return false;
    for (const auto& s : services) {
        const Service* t = o.find(s.ep);
        if (!t || t->policy != s.policy || t->legacy != s.legacy || t->backends.size() != s.backends.size())
            return false;
        for (const auto& b : s.backends) {
            const Backend* ob = t->find(b.addr);
            if (!ob || !ob->same(b))
                return false;
        }
    }
    return true;
}

Config parse_string(const std::string& text, const std::string& name)
{
    check_utf8(text, name);
    check_nesting(text, name);
    std::istringstream is(text);
    toml::value root;
    try {
        root = toml::parse(is, name);
    } catch (const toml::exception& e) {
        syntax(e, name);
    } catch (const std::exception& e) {
        throw Error(name + ": " + e.what(), kExitUsage);
    }
    return parse_value_root(root, name);
}

Config parse_file(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw Error("cannot read configuration file '" + path + "'", kExitUsage);
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_string(ss.str(), path);
}

std::string why_not_host_addr(Ipv4 a)
{
    uint32_t x = a.addr;
    if ((x >> 24) == 0)
        return "0.0.0.0/8 is \"this network\", not a host";
    if ((x >> 24) == 127)
        return "a loopback address";
    if ((x >> 28) == 0xe)
        return "a multicast address";
    if (x == 0xffffffffu)
        return "the broadcast address";
    if ((x >> 28) == 0xf)
        return "a reserved address (240.0.0.0/4)";
    return {};
}

std::string why_not_host_addr(const IpAddr& a)
{
    if (!a.is_v6())
        return why_not_host_addr(a.to_v4());
    const auto& b = a.bytes;
    bool zero10 = true;  // the first ten bytes zero
    for (int i = 0; i < 10; i++)
        zero10 &= b[i] == 0;
    if (zero10 && b[10] == 0xff && b[11] == 0xff)
        return "an IPv4-mapped address (::ffff:0:0/96): write the IPv4 address";
    bool zero15 = zero10 && !b[10] && !b[11] && !b[12] && !b[13] && !b[14];
    if (zero15 && b[15] == 0)
        return "the unspecified address (::), not a host";
    if (zero15 && b[15] == 1)
        return "a loopback address";
    if (b[0] == 0xff)
        return "a multicast address (ff00::/8)";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "a link-local address (fe80::/10)";
    return {};
}

std::string why_not_backend_of(const IpEndpoint& svc, const IpAddr& be)
{
    if (svc.ip.family == be.family)
        return {};
    return crab::to_string(be) + " is an " + std::string(be.family_name()) + " address but the service " +
           crab::to_string(svc) + " is " + std::string(svc.ip.family_name()) +
           ": a service's backends are of its VIP's family";
}

std::string why_not_host_mac(const Mac& m)
{
    if (m[0] & 1)
        return "a multicast or broadcast address";
    if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
        return "all zero";
    return {};
}

Mac parse_mac(std::string_view s)
{
    Mac m{};
    if (s.size() != 17)
        throw Error("invalid MAC address '" + std::string(s) + "' (expected aa:bb:cc:dd:ee:ff)", kExitUsage);
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    for (int i = 0; i < 6; i++) {
        int hi = hex(s[i * 3]), lo = hex(s[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
            throw Error("invalid MAC address '" + std::string(s) + "' (expected aa:bb:cc:dd:ee:ff)", kExitUsage);
        m[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return m;
}

std::string to_string(const Mac& m)
{
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

namespace {

// A TOML basic string. Control characters cannot appear raw in one (TOML
// 1.0 "Basic strings"): a newline in lb.prefix written as is made a file
// that `crabctl show` wrote and `crabctl apply -f` rejected (found by
// fuzz/fuzz_toml_config.cpp).
std::string q(std::string_view s)
{
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            char e[8];
            std::snprintf(e, sizeof(e), "\\u%04x", u);
            out += e;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace

std::string to_toml(const Config& c)
{
    std::ostringstream o;
    o << "# CRAB load balancer configuration (crabctl apply -f FILE)\n";
    if (!c.lb.type.empty() || !c.lb.dev.empty() || !c.lb.prefix.empty() || !c.lb.socket.empty()) {
        o << "[lb]\n";
        if (!c.lb.type.empty())
            o << "type = " << q(c.lb.type) << "\n";
        if (!c.lb.dev.empty())
            o << "dev = " << q(c.lb.dev) << "\n";
        if (!c.lb.prefix.empty())
            o << "prefix = " << q(c.lb.prefix) << "\n";
        if (!c.lb.socket.empty())
            o << "socket = " << q(c.lb.socket) << "\n";
    }
    if (c.bgp.present) {
        const auto& b = c.bgp;
        o << "\n[bgp]\nasn = " << b.asn << "\n";
        if (b.has_router_id)
            o << "router_id = " << q(crab::to_string(b.router_id)) << "\n";
        if (!b.vips.empty()) {
            o << "vips = [";
            for (size_t i = 0; i < b.vips.size(); i++)
                o << (i ? ", " : "") << q(crab::to_string(b.vips[i]));
            o << "]\n";
        }
        if (!b.frr_dir.empty())
            o << "frr_dir = " << q(b.frr_dir) << "\n";
        o << "interval_ms = " << b.interval_ms << "\n";
        for (const auto& p : b.peers)
            o << "\n  [[bgp.peer]]\n"
              << "  addr = " << q(crab::to_string(p.addr)) << "\n"
              << "  asn = " << p.asn << "\n"
              << "  bfd = " << (p.bfd ? "true" : "false") << "\n"
              << "  bfd_interval_ms = " << p.bfd_interval_ms << "\n"
              << "  bfd_multiplier = " << p.bfd_multiplier << "\n";
    }
    for (const auto& s : c.services) {
        o << "\n[[service]]\n"
          << "vip = " << q(crab::to_string(s.ep.ip)) << "\n"
          << "port = " << s.ep.port << "\n"
          << "policy = " << q(crab::to_string(s.policy)) << "\n"
          << "legacy = " << q(crab::to_string(s.legacy)) << "\n";
        for (const auto& b : s.backends) {
            o << "\n  [[service.backend]]\n"
              << "  addr = " << q(crab::to_string(b.addr)) << "\n"
              << "  weight = " << b.weight << "\n"
              << "  drain = " << (b.drain ? "true" : "false") << "\n";
            if (b.has_mac)
                o << "  mac = " << q(to_string(b.mac)) << "\n";
        }
    }
    return o.str();
}

// ---- planner -------------------------------------------------------------------

std::string Change::describe() const
{
    std::string s = crab::to_string(svc);
    auto be_attrs = [this] {
        std::string a = " weight " + std::to_string(be.weight) + (be.drain ? " draining" : " active");
        if (be.has_mac)
            a += " mac " + to_string(be.mac);
        return a;
    };
    switch (op) {
    case Op::ServiceAdd:
        return "service add " + s + " policy " + std::string(crab::to_string(policy)) + " legacy " +
               std::string(crab::to_string(legacy));
    case Op::ServiceSet:
        return "service set " + s + " policy " + std::string(crab::to_string(policy)) + " legacy " +
               std::string(crab::to_string(legacy));
    case Op::ServiceDel:
        return "service del " + s;
    case Op::BackendAdd:
        return "backend add " + s + " " + crab::to_string(be.addr) + be_attrs();
    case Op::BackendSet:
        return "backend set " + s + " " + crab::to_string(be.addr) + be_attrs();
    case Op::BackendDel:
        return "backend del " + s + " " + crab::to_string(be.addr);
    }
    return "?";
}

std::vector<Change> plan(const Config& cur, const Config& want)
{
    std::vector<Change> out;
    auto svc_change = [](Op op, const Service& s) {
        Change c{};
        c.op = op;
        c.svc = s.ep;
        c.policy = s.policy;
        c.legacy = s.legacy;
        return c;
    };
    auto be_change = [](Op op, const IpEndpoint& ep, const Backend& b) {
        Change c{};
        c.op = op;
        c.svc = ep;
        c.be = b;
        return c;
    };
    for (const auto& w : want.services) {
        const Service* c = cur.find(w.ep);
        if (!c) {
            out.push_back(svc_change(Op::ServiceAdd, w));
            for (const auto& b : w.backends)
                out.push_back(be_change(Op::BackendAdd, w.ep, b));
            continue;
        }
        if (c->policy != w.policy || c->legacy != w.legacy)
            out.push_back(svc_change(Op::ServiceSet, w));
        // add, then change (activations before drains), then remove: the
        // active set only shrinks once its replacements are in.
        for (const auto& b : w.backends)
            if (!c->find(b.addr))
                out.push_back(be_change(Op::BackendAdd, w.ep, b));
        for (int pass = 0; pass < 2; pass++)
            for (const auto& b : w.backends) {
                const Backend* cb = c->find(b.addr);
                if (cb && !cb->same(b) && b.drain == (pass == 1))
                    out.push_back(be_change(Op::BackendSet, w.ep, b));
            }
        for (const auto& b : c->backends)
            if (!w.find(b.addr))
                out.push_back(be_change(Op::BackendDel, w.ep, b));
    }
    for (const auto& c : cur.services)
        if (!want.find(c.ep))
            out.push_back(svc_change(Op::ServiceDel, c));
    return out;
}

}  // namespace crab::config
