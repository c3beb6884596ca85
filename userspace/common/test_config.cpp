// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the declarative configuration (crab/config.hpp): good files
// parse to the expected model, every bad field is rejected with FILE:LINE and
// the field's name, to_toml() round-trips, and the planner converges.
#include <gtest/gtest.h>

#include "crab/config.hpp"

using namespace crab;
using namespace crab::config;

namespace {

const char* kGood = R"([lb]
type = "xdp"
dev = "eth0"

[[service]]
vip = "198.18.100.1"
port = 80
policy = "wrr"
legacy = "insert"

  [[service.backend]]
  addr = "198.18.0.11"
  weight = 3

  [[service.backend]]
  addr = "198.18.0.12"
  drain = true
  mac = "02:00:00:00:00:0A"

[[service]]
vip = "198.18.100.2"
port = 8080
)";

std::string error_of(const std::string& text)
{
    try {
        parse_string(text, "t.toml");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), kExitUsage);
        return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return {};
}

// Replace the first @from in kGood by @to.
std::string good_with(const std::string& from, const std::string& to)
{
    std::string s = kGood;
    auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return s.replace(p, from.size(), to);
}

Config cfg(std::initializer_list<Service> s)
{
    Config c;
    c.services = s;
    return c;
}

Service svc(const char* ep, std::initializer_list<Backend> b, crab_policy p = CRAB_POLICY_RR)
{
    Service s;
    s.ep = parse_ip_endpoint(ep);
    s.policy = p;
    s.backends = b;
    return s;
}

Backend be(const char* ip, uint32_t w = 1, bool drain = false)
{
    Backend b;
    b.addr = parse_ip(ip);
    b.weight = w;
    b.drain = drain;
    return b;
}

std::vector<std::string> describe(const std::vector<Change>& ch)
{
    std::vector<std::string> out;
    for (const auto& c : ch)
        out.push_back(c.describe());
    return out;
}

// Apply @ch to @c the way a driver would (for convergence checks), and
// check that no service loses its last backend when it keeps some.
Config apply_plan(Config c, const std::vector<Change>& ch, bool* emptied = nullptr)
{
    for (const auto& x : ch) {
        Service* s = nullptr;
        for (auto& t : c.services)
            if (t.ep == x.svc)
                s = &t;
        switch (x.op) {
        case Op::ServiceAdd: {
            Service n;
            n.ep = x.svc;
            n.policy = x.policy;
            n.legacy = x.legacy;
            c.services.push_back(n);
            break;
        }
        case Op::ServiceSet:
            s->policy = x.policy;
            s->legacy = x.legacy;
            break;
        case Op::ServiceDel:
            std::erase_if(c.services, [&](const Service& t) { return t.ep == x.svc; });
            break;
        case Op::BackendAdd:
            s->backends.push_back(x.be);
            break;
        case Op::BackendSet:
            for (auto& b : s->backends)
                if (b.addr == x.be.addr)
                    b = x.be;
            break;
        case Op::BackendDel:
            std::erase_if(s->backends, [&](const Backend& b) { return b.addr == x.be.addr; });
            if (emptied && s->backends.empty())
                *emptied = true;
            break;
        }
    }
    return c;
}

}  // namespace

TEST(Config, GoodFile)
{
    Config c = parse_string(kGood, "t.toml");
    EXPECT_EQ(c.lb.type, "xdp");
    EXPECT_EQ(c.lb.dev, "eth0");
    ASSERT_EQ(c.services.size(), 2u);
    const Service& s = c.services[0];
    EXPECT_EQ(to_string(s.ep), "198.18.100.1:80");
    EXPECT_EQ(s.policy, CRAB_POLICY_WRR);
    EXPECT_EQ(s.legacy, CRAB_LEGACY_INSERT);
    EXPECT_EQ(s.line, 5);
    ASSERT_EQ(s.backends.size(), 2u);
    EXPECT_EQ(to_string(s.backends[0].addr), "198.18.0.11");
    EXPECT_EQ(s.backends[0].weight, 3u);
    EXPECT_FALSE(s.backends[0].drain);
    EXPECT_FALSE(s.backends[0].has_mac);
    EXPECT_EQ(s.backends[1].weight, 1u);
    EXPECT_TRUE(s.backends[1].drain);
    EXPECT_TRUE(s.backends[1].has_mac);
    EXPECT_EQ(to_string(s.backends[1].mac), "02:00:00:00:00:0a");
    const Service& t = c.services[1];
    EXPECT_EQ(t.policy, CRAB_POLICY_RR);
    EXPECT_EQ(t.legacy, CRAB_LEGACY_DROP);
    EXPECT_TRUE(t.backends.empty());
}

TEST(Config, EmptyFileIsNoServices)
{
    EXPECT_TRUE(parse_string("", "t.toml").services.empty());
    EXPECT_TRUE(parse_string("# nothing\n", "t.toml").services.empty());
}

TEST(Config, InlineBackendTables)
{
    Config c = parse_string("[[service]]\nvip = \"10.0.0.1\"\nport = 1\n"
                            "backend = [{addr = \"10.0.1.1\"}, {addr = \"10.0.1.2\", weight = 2}]\n");
    ASSERT_EQ(c.services.at(0).backends.size(), 2u);
    EXPECT_EQ(c.services[0].backends[1].weight, 2u);
}

TEST(Config, BadFieldsAreNamedWithTheirLine)
{
    struct Case {
        std::string from, to, want;
    } cases[] = {
        {"type = \"xdp\"", "type = \"ipvs\"", "t.toml:2: lb.type: invalid LB type 'ipvs'"},
        {"type = \"xdp\"", "typo = \"xdp\"", "t.toml:2: lb.typo: unknown key 'typo'"},
        {"dev = \"eth0\"", "dev = 7", "t.toml:3: lb.dev: expected a string, got an integer"},
        {"dev = \"eth0\"", "dev = \"a/b\"", "t.toml:3: lb.dev: invalid device name 'a/b'"},
        {"vip = \"198.18.100.1\"", "vip = \"198.18.100.300\"",
         "t.toml:6: service[1].vip: invalid IPv4 address '198.18.100.300'"},
        {"vip = \"198.18.100.1\"", "vip = \"0.0.0.0\"", "t.toml:6: service[1].vip: 0.0.0.0 is not a VIP"},
        {"vip = \"198.18.100.1\"", "vip = \"224.0.0.1\"",
         "t.toml:6: service[1].vip: 224.0.0.1 is not a VIP: a multicast address"},
        {"vip = \"198.18.100.1\"", "vip = \"127.0.0.1\"",
         "t.toml:6: service[1].vip: 127.0.0.1 is not a VIP: a loopback address"},
        {"addr = \"198.18.0.11\"", "addr = \"255.255.255.255\"",
         "t.toml:12: service[1].backend[1].addr: 255.255.255.255 is not a backend address: the broadcast address"},
        {"mac = \"02:00:00:00:00:0A\"", "mac = \"01:00:5e:00:00:01\"",
         "t.toml:18: service[1].backend[2].mac: 01:00:5e:00:00:01 is not a next-hop MAC: a multicast or broadcast"},
        {"mac = \"02:00:00:00:00:0A\"", "mac = \"00:00:00:00:00:00\"",
         "t.toml:18: service[1].backend[2].mac: 00:00:00:00:00:00 is not a next-hop MAC: all zero"},
        {"vip = \"198.18.100.1\"", "", "t.toml:5: service[1].vip: missing"},
        {"port = 80", "port = 0", "t.toml:7: service[1].port: 0 is out of range 1..65535"},
        {"port = 80", "port = 65536", "t.toml:7: service[1].port: 65536 is out of range 1..65535"},
        {"port = 80", "port = \"80\"", "t.toml:7: service[1].port: expected an integer, got a string"},
        {"port = 80", "", "t.toml:5: service[1].port: missing"},
        {"policy = \"wrr\"", "policy = \"lc\"", "t.toml:8: service[1].policy: invalid policy 'lc'"},
        {"legacy = \"insert\"", "legacy = \"nat\"", "t.toml:9: service[1].legacy: invalid legacy mode 'nat'"},
        {"legacy = \"insert\"", "legcy = \"hash\"", "t.toml:9: service[1].legcy: unknown key 'legcy'"},
        {"addr = \"198.18.0.11\"", "addr = \"198.18.0\"",
         "t.toml:12: service[1].backend[1].addr: invalid IPv4 address '198.18.0'"},
        {"addr = \"198.18.0.11\"", "", "t.toml:11: service[1].backend[1].addr: missing"},
        {"weight = 3", "weight = 0", "t.toml:13: service[1].backend[1].weight: 0 is out of range 1..100"},
        {"weight = 3", "weight = 101", "t.toml:13: service[1].backend[1].weight: 101 is out of range 1..100"},
        {"weight = 3", "weight = 2.5", "t.toml:13: service[1].backend[1].weight: expected an integer, got a float"},
        {"drain = true", "drain = \"yes\"", "t.toml:17: service[1].backend[2].drain: expected true or false"},
        {"mac = \"02:00:00:00:00:0A\"", "mac = \"02:00:00:00:00\"",
         "t.toml:18: service[1].backend[2].mac: invalid MAC address '02:00:00:00:00'"},
        {"mac = \"02:00:00:00:00:0A\"", "mac = \"02:00:00:00:00:0G\"",
         "t.toml:18: service[1].backend[2].mac: invalid MAC address"},
        {"mac = \"02:00:00:00:00:0A\"", "mac = \"ff:ff:ff:ff:ff:ff\"",
         "t.toml:18: service[1].backend[2].mac: ff:ff:ff:ff:ff:ff is not a next-hop MAC: a multicast or broadcast"},
        {"addr = \"198.18.0.12\"", "addr = \"198.18.0.11\"",
         "t.toml:16: service[1].backend[2].addr: backend 198.18.0.11 is listed twice (first at line 11)"},
        {"vip = \"198.18.100.2\"\nport = 8080", "vip = \"198.18.100.1\"\nport = 80",
         "t.toml:20: service[2]: service 198.18.100.1:80 is defined twice (first at line 5)"},
        {"[[service]]\nvip = \"198.18.100.2\"", "[[servce]]\nvip = \"198.18.100.2\"",
         "t.toml:20: servce: unknown key 'servce'"},
        {"port = 8080", "port = 8080 8081", "t.toml:22: TOML syntax error"},
    };
    for (const auto& c : cases) {
        std::string e = error_of(good_with(c.from, c.to));
        EXPECT_EQ(e.rfind(c.want, 0), 0u) << "got:  " << e << "\nwant: " << c.want;
    }
}

TEST(Config, WrongShapes)
{
    EXPECT_NE(error_of("service = 3\n").find("t.toml:1: service: expected an array of tables"), std::string::npos);
    EXPECT_NE(error_of("lb = \"xdp\"\n").find("t.toml:1: lb: expected a table"), std::string::npos);
    EXPECT_NE(error_of("[[service]]\nvip = \"1.2.3.4\"\nport = 1\nbackend = 5\n")
                  .find("t.toml:4: service[1].backend: expected an array of tables"),
              std::string::npos);
    std::string many = "[[service]]\nvip = \"1.2.3.4\"\nport = 1\n";
    for (int i = 0; i <= CRAB_MAX_BACKENDS; i++)
        many += "[[service.backend]]\naddr = \"10.0.0." + std::to_string(i + 1) + "\"\n";
    EXPECT_NE(error_of(many).find("65 backends, the limit is 64"), std::string::npos);
}

TEST(Config, MissingFile)
{
    try {
        parse_file("/nonexistent/crab.toml");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), kExitUsage);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/crab.toml"), std::string::npos);
    }
}

TEST(Config, RoundTrip)
{
    Config c = parse_string(kGood, "t.toml");
    std::string out = to_toml(c);
    Config d = parse_string(out, "out.toml");
    EXPECT_TRUE(c.same(d));
    EXPECT_EQ(d.lb.type, "xdp");
    EXPECT_EQ(d.lb.dev, "eth0");
    EXPECT_EQ(to_toml(d), out);
    EXPECT_TRUE(plan(c, d).empty());
}

// Caught by fuzz/fuzz_toml_config.cpp's round trip: control characters were written raw.
TEST(Config, RoundTripEscapesControlCharacters)
{
    Config c = parse_string("[lb]\nprefix = \"a\\nb\\tc\\u0001\\\"\\\\\"\nsocket = \"\\u007f\"\n", "t.toml");
    EXPECT_EQ(c.lb.prefix, "a\nb\tc\x01\"\\");
    Config d = parse_string(to_toml(c), "out.toml");
    EXPECT_EQ(d.lb.prefix, c.lb.prefix);
    EXPECT_EQ(d.lb.socket, "\x7f");
}

// Caught by fuzz/fuzz_toml_config.cpp: toml11 recursed once per '[' until the
// stack overflowed.
TEST(Config, DeepNestingIsAnErrorNotACrash)
{
    EXPECT_NE(error_of("a = " + std::string(100000, '[')).find("t.toml:1: arrays or inline tables nested deeper"),
              std::string::npos);
    std::string t = "\n\nb = ";
    for (int i = 0; i < 17; i++)
        t += "{x = ";
    t += "1" + std::string(17, '}');
    EXPECT_NE(error_of(t).find("t.toml:3: "),
              std::string::npos);
}

TEST(Config, BracketsInStringsAndCommentsAreNotNesting)
{
    std::string b(40, '['), c(40, '{');
    Config x = parse_string("# " + b + "\n[lb]\nprefix = \"" + b + "\\\"" + c + "\"\nsocket = '" + c +
                                "'\ndev = \"eth0\" # " + b + "\n[[service]]\nvip = \"10.0.0.1\"\nport = 80\n",
                            "t.toml");
    EXPECT_EQ(x.lb.prefix, b + "\"" + c);
    EXPECT_EQ(x.lb.socket, c);
    EXPECT_EQ(x.services.size(), 1u);
    x = parse_string("[lb]\nprefix = \"\"\"\n" + b + "\n\"\"\"\nsocket = \'\'\'" + c + "\'\'\'\n", "t.toml");
    EXPECT_EQ(x.lb.prefix, b + "\n");
    EXPECT_EQ(x.lb.socket, c);
}

const char* kGood6 = R"([[service]]
vip = "2001:db8:100::1"
port = 80
policy = "rr"
legacy = "hash"

  [[service.backend]]
  addr = "2001:db8::11"

  [[service.backend]]
  addr = "2001:DB8:0::12"
  weight = 2
  drain = true
  mac = "02:00:00:00:00:0b"

[[service]]
vip = "198.18.100.1"
port = 80

  [[service.backend]]
  addr = "198.18.0.11"
)";

TEST(ConfigIpv6, GoodFile)
{
    Config c = parse_string(kGood6, "t.toml");
    ASSERT_EQ(c.services.size(), 2u);
    const Service& s = c.services[0];
    EXPECT_TRUE(s.ep.ip.is_v6());
    EXPECT_EQ(to_string(s.ep), "[2001:db8:100::1]:80");
    EXPECT_EQ(s.legacy, CRAB_LEGACY_HASH);
    ASSERT_EQ(s.backends.size(), 2u);
    EXPECT_EQ(to_string(s.backends[1].addr), "2001:db8::12");
    EXPECT_TRUE(s.backends[1].drain);
    EXPECT_TRUE(s.find(parse_ip("2001:db8::12")));
    EXPECT_FALSE(s.find(parse_ip("2001:db8::13")));
    // The same port on an IPv4 VIP is another service.
    EXPECT_FALSE(c.services[1].ep.ip.is_v6());
    EXPECT_TRUE(c.find(parse_ip_endpoint("[2001:db8:100::1]:80")));
    EXPECT_TRUE(c.find(parse_ip_endpoint("198.18.100.1:80")));
}

TEST(ConfigIpv6, MixedFamiliesAreRefusedNamingTheField)
{
    std::string v6svc_v4be = "[[service]]\nvip = \"2001:db8:100::1\"\nport = 80\n"
                             "[[service.backend]]\naddr = \"2001:db8::11\"\n"
                             "[[service.backend]]\naddr = \"198.18.0.12\"\n";
    auto e = error_of(v6svc_v4be);
    EXPECT_NE(e.find("t.toml:7: service[1].backend[2].addr: 198.18.0.12 is an IPv4 address but the service "
                     "[2001:db8:100::1]:80 is IPv6"),
              std::string::npos)
        << e;
    std::string v4svc_v6be = "[[service]]\nvip = \"198.18.100.1\"\nport = 80\n"
                             "[[service.backend]]\naddr = \"2001:db8::11\"\n";
    e = error_of(v4svc_v6be);
    EXPECT_NE(e.find("t.toml:5: service[1].backend[1].addr: 2001:db8::11 is an IPv6 address but the service "
                     "198.18.100.1:80 is IPv4"),
              std::string::npos)
        << e;
    EXPECT_EQ(why_not_backend_of(parse_ip_endpoint("[2001:db8::1]:80"), parse_ip("2001:db8::2")), "");
    EXPECT_NE(why_not_backend_of(parse_ip_endpoint("[2001:db8::1]:80"), parse_ip("10.0.0.1")), "");
}

TEST(ConfigIpv6, HostAddressRules)
{
    for (const char* ok : {"2001:db8::1", "fd00::1", "2a00:1450::200e", "fec0::1", "64:ff9b::1.2.3.4"})
        EXPECT_EQ(why_not_host_addr(parse_ip(ok)), "") << ok;
    const std::pair<const char*, const char*> bad[] = {
        {"::", "unspecified"},         {"::1", "loopback"},        {"ff02::1", "multicast"},
        {"ff0e::1", "multicast"},      {"fe80::1", "link-local"},  {"febf::1", "link-local"},
        {"::ffff:10.0.0.1", "IPv4-mapped"},
    };
    for (const auto& [a, why] : bad) {
        EXPECT_NE(why_not_host_addr(parse_ip(a)).find(why), std::string::npos) << a;
        auto e = error_of(std::string("[[service]]\nvip = \"") + a + "\"\nport = 80\n");
        EXPECT_NE(e.find("t.toml:2: service[1].vip: "), std::string::npos) << e;
        EXPECT_NE(e.find(" is not a VIP: "), std::string::npos) << e;
        e = error_of(std::string("[[service]]\nvip = \"2001:db8::1\"\nport = 80\n[[service.backend]]\naddr = \"") +
                     a + "\"\n");
        EXPECT_NE(e.find("t.toml:5: service[1].backend[1].addr: "), std::string::npos) << e;
    }
    // The IPv4 rules are unchanged for an IPv4 address in the new type.
    EXPECT_NE(why_not_host_addr(parse_ip("127.0.0.1")), "");
    EXPECT_EQ(why_not_host_addr(parse_ip("198.18.0.1")), "");
}

TEST(ConfigIpv6, BadValuesAndDuplicates)
{
    auto e = error_of("[[service]]\nvip = \"2001:db8::1::2\"\nport = 80\n");
    EXPECT_NE(e.find("t.toml:2: service[1].vip: invalid IPv6 address '2001:db8::1::2'"), std::string::npos) << e;
    e = error_of("[[service]]\nvip = \"2001:db8::1\"\nport = 80\n[[service.backend]]\naddr = \"2001:db8::11\"\n"
                 "[[service.backend]]\naddr = \"2001:DB8::0011\"\n");
    EXPECT_NE(e.find("service[1].backend[2].addr: backend 2001:db8::11 is listed twice"), std::string::npos) << e;
    e = error_of("[[service]]\nvip = \"2001:db8::1\"\nport = 80\n[[service]]\nvip = \"2001:0db8::01\"\nport = 80\n");
    EXPECT_NE(e.find("service [2001:db8::1]:80 is defined twice"), std::string::npos) << e;
}

TEST(ConfigIpv6, RoundTrip)
{
    Config c = parse_string(kGood6, "t.toml");
    std::string out = to_toml(c);
    EXPECT_NE(out.find("vip = \"2001:db8:100::1\""), std::string::npos) << out;
    EXPECT_NE(out.find("addr = \"2001:db8::12\""), std::string::npos) << out;
    Config d = parse_string(out, "out.toml");
    EXPECT_TRUE(c.same(d));
    EXPECT_EQ(to_toml(d), out);
    EXPECT_TRUE(plan(c, d).empty());
}

TEST(ConfigIpv6, Planner)
{
    Config cur = cfg({svc("[2001:db8::1]:80", {be("2001:db8::11")}), svc("10.0.0.1:80", {be("10.1.0.1")})});
    Config want = cfg({svc("[2001:db8::1]:80", {be("2001:db8::12", 3)}), svc("[2001:db8::2]:443", {be("2001:db8::13")})});
    auto ch = plan(cur, want);
    std::vector<std::string> expect = {
        "backend add [2001:db8::1]:80 2001:db8::12 weight 3 active",
        "backend del [2001:db8::1]:80 2001:db8::11",
        "service add [2001:db8::2]:443 policy rr legacy drop",
        "backend add [2001:db8::2]:443 2001:db8::13 weight 1 active",
        "service del 10.0.0.1:80",
    };
    EXPECT_EQ(describe(ch), expect);
    bool emptied = false;
    EXPECT_TRUE(apply_plan(cur, ch, &emptied).same(want));
    EXPECT_FALSE(emptied);
    EXPECT_TRUE(plan(want, want).empty());
}

TEST(ConfigIpv6, BgpAnnouncesIpv4Only)
{
    std::string f = std::string(kGood6) + "[bgp]\nasn = 65100\n[[bgp.peer]]\naddr = \"198.18.0.254\"\nasn = 65000\n";
    auto e = error_of(f);
    EXPECT_NE(e.find("bgp.vips: missing: crabctl bgp announces IPv4 VIPs only and service[1] has the IPv6 VIP "
                     "2001:db8:100::1"),
              std::string::npos)
        << e;
    e = error_of(std::string(kGood6) + "[bgp]\nasn = 65100\nvips = [\"2001:db8:100::1\"]\n[[bgp.peer]]\n"
                                       "addr = \"198.18.0.254\"\nasn = 65000\n");
    EXPECT_NE(e.find("bgp.vips[1]: '2001:db8:100::1': crabctl bgp announces IPv4 VIPs only"), std::string::npos) << e;
    Config c = parse_string(std::string(kGood6) + "[bgp]\nasn = 65100\nvips = [\"198.18.100.1\"]\n[[bgp.peer]]\n"
                                                  "addr = \"198.18.0.254\"\nasn = 65000\n",
                            "t.toml");
    ASSERT_EQ(c.bgp_vips().size(), 1u);
    EXPECT_EQ(to_string(c.bgp_vips()[0]), "198.18.100.1");
}

TEST(Planner, SameConfigTwiceNoChanges)
{
    Config c = parse_string(kGood, "t.toml");
    EXPECT_TRUE(plan(c, c).empty());
    // Order of services and backends does not matter.
    Config r = c;
    std::reverse(r.services.begin(), r.services.end());
    std::reverse(r.services[1].backends.begin(), r.services[1].backends.end());
    EXPECT_TRUE(plan(c, r).empty());
    EXPECT_TRUE(plan(Config{}, Config{}).empty());
}

TEST(Planner, FromEmpty)
{
    Config want = cfg({svc("10.0.0.1:80", {be("10.1.0.1"), be("10.1.0.2", 5, true)}, CRAB_POLICY_WRR)});
    auto ch = plan(Config{}, want);
    std::vector<std::string> expect = {
        "service add 10.0.0.1:80 policy wrr legacy drop",
        "backend add 10.0.0.1:80 10.1.0.1 weight 1 active",
        "backend add 10.0.0.1:80 10.1.0.2 weight 5 draining",
    };
    EXPECT_EQ(describe(ch), expect);
    EXPECT_TRUE(apply_plan(Config{}, ch).same(want));
}

TEST(Planner, ToEmptyDeletesServices)
{
    Config cur = cfg({svc("10.0.0.1:80", {be("10.1.0.1")}), svc("10.0.0.2:80", {})});
    auto ch = plan(cur, Config{});
    std::vector<std::string> expect = {"service del 10.0.0.1:80", "service del 10.0.0.2:80"};
    EXPECT_EQ(describe(ch), expect);
}

TEST(Planner, ReplaceBackendsNeverPassesThroughZero)
{
    Config cur = cfg({svc("10.0.0.1:80", {be("10.1.0.1")})});
    Config want = cfg({svc("10.0.0.1:80", {be("10.1.0.2")})});
    auto ch = plan(cur, want);
    std::vector<std::string> expect = {
        "backend add 10.0.0.1:80 10.1.0.2 weight 1 active",
        "backend del 10.0.0.1:80 10.1.0.1",
    };
    EXPECT_EQ(describe(ch), expect);
    bool emptied = false;
    EXPECT_TRUE(apply_plan(cur, ch, &emptied).same(want));
    EXPECT_FALSE(emptied);
}

TEST(Planner, ActivationsBeforeDrains)
{
    Config cur = cfg({svc("10.0.0.1:80", {be("10.1.0.1"), be("10.1.0.2", 1, true)})});
    Config want = cfg({svc("10.0.0.1:80", {be("10.1.0.1", 1, true), be("10.1.0.2")})});
    auto ch = plan(cur, want);
    std::vector<std::string> expect = {
        "backend set 10.0.0.1:80 10.1.0.2 weight 1 active",
        "backend set 10.0.0.1:80 10.1.0.1 weight 1 draining",
    };
    EXPECT_EQ(describe(ch), expect);
}

TEST(Planner, MixedEditConverges)
{
    Config cur = cfg({svc("10.0.0.1:80", {be("10.1.0.1"), be("10.1.0.2"), be("10.1.0.3")}),
                      svc("10.0.0.9:22", {be("10.1.0.9")})});
    Service s = svc("10.0.0.1:80", {be("10.1.0.2", 4), be("10.1.0.3"), be("10.1.0.4")}, CRAB_POLICY_WRR);
    s.legacy = CRAB_LEGACY_HASH;
    Backend m = be("10.1.0.3");
    m.has_mac = true;
    m.mac = parse_mac("02:00:00:00:00:03");
    s.backends[1] = m;
    Config want = cfg({s, svc("10.0.0.5:443", {be("10.1.0.5")})});
    auto ch = plan(cur, want);
    std::vector<std::string> expect = {
        "service set 10.0.0.1:80 policy wrr legacy hash",
        "backend add 10.0.0.1:80 10.1.0.4 weight 1 active",
        "backend set 10.0.0.1:80 10.1.0.2 weight 4 active",
        "backend set 10.0.0.1:80 10.1.0.3 weight 1 active mac 02:00:00:00:00:03",
        "backend del 10.0.0.1:80 10.1.0.1",
        "service add 10.0.0.5:443 policy rr legacy drop",
        "backend add 10.0.0.5:443 10.1.0.5 weight 1 active",
        "service del 10.0.0.9:22",
    };
    EXPECT_EQ(describe(ch), expect);
    Config got = apply_plan(cur, ch);
    EXPECT_TRUE(got.same(want));
    EXPECT_TRUE(plan(got, want).empty());
}

// Caught by fuzz/fuzz_toml_config.cpp: toml11 read past the end of the buffer
// on the two-byte literal string "'\xff'" (a malformed UTF-8 lead byte).
TEST(Config, InvalidUtf8IsAnErrorNotACrash)
{
    EXPECT_NE(error_of("'\xff'").find("t.toml:1: not valid UTF-8 (byte 0xFF at offset 1)"), std::string::npos);
    EXPECT_NE(error_of("[lb]\n\nprefix = \"a\xc3\"\n").find("t.toml:3: not valid UTF-8 (byte 0xC3"),
              std::string::npos);                                             // truncated sequence
    EXPECT_NE(error_of("a = \"\xc0\xaf\"").find("byte 0xC0"), std::string::npos);          // overlong '/'
    EXPECT_NE(error_of("a = \"\xed\xa0\x80\"").find("byte 0xED"), std::string::npos);      // surrogate
    EXPECT_NE(error_of("a = \"\xf4\x90\x80\x80\"").find("byte 0xF4"), std::string::npos);  // > U+10FFFF
    EXPECT_NE(error_of("a = '\xe2\x82'").find("byte 0xE2"), std::string::npos);            // cut short
    // Well-formed multi-byte text passes the check (1, 2, 3 and 4 bytes).
    Config x = parse_string("# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n[lb]\nprefix = \"\xc3\xa9\xe2\x82\xac\"\n",
                            "t.toml");
    EXPECT_EQ(x.lb.prefix, "\xc3\xa9\xe2\x82\xac");
}

// ---- [bgp] (crabctl bgp) ----------------------------------------------------------

namespace {

const char* kBgp = R"([lb]
type = "xdp"
dev = "lb1"

[bgp]
asn = 65100
router_id = "198.18.0.1"
vips = ["198.18.100.1"]
frr_dir = "/run/crab/frr"
interval_ms = 100

  [[bgp.peer]]
  addr = "198.18.0.254"
  asn = 65000
  bfd_interval_ms = 50
  bfd_multiplier = 4

  [[bgp.peer]]
  addr = "198.18.0.253"
  asn = 65000
  bfd = false

[[service]]
vip = "198.18.100.1"
port = 80

[[service]]
vip = "198.18.100.2"
port = 80
)";

std::string bgp_with(const std::string& from, const std::string& to)
{
    std::string s = kBgp;
    auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return s.replace(p, from.size(), to);
}

}  // namespace

TEST(ConfigBgp, GoodFile)
{
    Config c = parse_string(kBgp, "t.toml");
    const auto& b = c.bgp;
    EXPECT_TRUE(b.present);
    EXPECT_EQ(b.asn, 65100u);
    EXPECT_TRUE(b.has_router_id);
    EXPECT_EQ(to_string(b.router_id), "198.18.0.1");
    EXPECT_EQ(b.frr_dir, "/run/crab/frr");
    EXPECT_EQ(b.interval_ms, 100u);
    ASSERT_EQ(b.peers.size(), 2u);
    EXPECT_EQ(to_string(b.peers[0].addr), "198.18.0.254");
    EXPECT_EQ(b.peers[0].asn, 65000u);
    EXPECT_TRUE(b.peers[0].bfd);
    EXPECT_EQ(b.peers[0].bfd_interval_ms, 50u);
    EXPECT_EQ(b.peers[0].bfd_multiplier, 4u);
    EXPECT_FALSE(b.peers[1].bfd);
    EXPECT_EQ(b.peers[1].bfd_interval_ms, 100u);  // default
    ASSERT_EQ(c.bgp_vips().size(), 1u);
    EXPECT_EQ(to_string(c.bgp_vips()[0]), "198.18.100.1");
    EXPECT_FALSE(parse_string(kGood, "t.toml").bgp.present);
}

TEST(ConfigBgp, VipsDefaultToEveryServiceVip)
{
    Config c = parse_string(bgp_with("vips = [\"198.18.100.1\"]\n", ""), "t.toml");
    ASSERT_EQ(c.bgp_vips().size(), 2u);
    EXPECT_EQ(to_string(c.bgp_vips()[1]), "198.18.100.2");
}

TEST(ConfigBgp, BadFieldsAreNamedWithTheirLine)
{
    struct Case {
        std::string from, to, want;
    } cases[] = {
        {"asn = 65100", "asn = 0", "t.toml:6: bgp.asn: 0 is out of range 1..4294967295"},
        {"asn = 65100", "asn = 4294967296", "t.toml:6: bgp.asn: 4294967296 is out of range 1..4294967295"},
        {"asn = 65100", "asn = \"65100\"", "t.toml:6: bgp.asn: expected an integer, got a string"},
        {"asn = 65100", "", "t.toml:5: bgp.asn: missing"},
        {"asn = 65100", "asm = 65100", "t.toml:6: bgp.asm: unknown key 'asm'"},
        {"router_id = \"198.18.0.1\"", "router_id = \"198.18.0\"",
         "t.toml:7: bgp.router_id: invalid IPv4 address '198.18.0'"},
        {"vips = [\"198.18.100.1\"]", "vips = [\"198.18.100.9\"]",
         "t.toml:8: bgp.vips[1]: 198.18.100.9 is not the VIP of any [[service]] in this file"},
        {"vips = [\"198.18.100.1\"]", "vips = [\"198.18.100.1\", \"198.18.100.1\"]",
         "t.toml:8: bgp.vips[2]: 198.18.100.1 is listed twice"},
        {"vips = [\"198.18.100.1\"]", "vips = []", "t.toml:8: bgp.vips: empty"},
        {"vips = [\"198.18.100.1\"]", "vips = \"198.18.100.1\"", "t.toml:8: bgp.vips: expected an array"},
        {"frr_dir = \"/run/crab/frr\"", "frr_dir = \"run/frr\"",
         "t.toml:9: bgp.frr_dir: 'run/frr' is not an absolute directory path"},
        {"interval_ms = 100", "interval_ms = 5", "t.toml:10: bgp.interval_ms: 5 is out of range 10..60000"},
        {"addr = \"198.18.0.254\"", "addr = \"198.18.0.300\"",
         "t.toml:13: bgp.peer[1].addr: invalid IPv4 address '198.18.0.300'"},
        {"addr = \"198.18.0.254\"", "", "t.toml:12: bgp.peer[1].addr: missing"},
        {"asn = 65000\n  bfd_interval_ms", "asn = -1\n  bfd_interval_ms",
         "t.toml:14: bgp.peer[1].asn: -1 is out of range 1..4294967295"},
        {"bfd_interval_ms = 50", "bfd_interval_ms = 5",
         "t.toml:15: bgp.peer[1].bfd_interval_ms: 5 is out of range 10..60000"},
        {"bfd_multiplier = 4", "bfd_multiplier = 1", "t.toml:16: bgp.peer[1].bfd_multiplier: 1 is out of range 2..255"},
        {"bfd = false", "bfd = \"no\"", "t.toml:21: bgp.peer[2].bfd: expected true or false"},
        {"addr = \"198.18.0.253\"", "addr = \"198.18.0.254\"",
         "t.toml:19: bgp.peer[2].addr: neighbour 198.18.0.254 is listed twice (first at line 12)"},
        {"bfd = false", "bfd = false\n  hold = 3", "t.toml:22: bgp.peer[2].hold: unknown key 'hold'"},
    };
    for (const auto& c : cases) {
        std::string e = error_of(bgp_with(c.from, c.to));
        EXPECT_EQ(e.rfind(c.want, 0), 0u) << "got:  " << e << "\nwant: " << c.want;
    }
}

TEST(ConfigBgp, WrongShapes)
{
    EXPECT_NE(error_of("bgp = 1\n").find("t.toml:1: bgp: expected a table"), std::string::npos);
    EXPECT_NE(error_of("[bgp]\nasn = 1\n").find("bgp.peer: missing"), std::string::npos);
    EXPECT_NE(error_of("[bgp]\nasn = 1\npeer = []\n").find("bgp.peer: empty"), std::string::npos);
    EXPECT_NE(error_of("[bgp]\nasn = 1\n[[bgp.peer]]\naddr = \"1.2.3.4\"\nasn = 2\n")
                  .find("bgp: nothing to announce: the file defines no [[service]]"),
              std::string::npos);
}

TEST(ConfigBgp, RoundTrip)
{
    Config c = parse_string(kBgp, "t.toml");
    std::string out = to_toml(c);
    Config d = parse_string(out, "out.toml");
    EXPECT_EQ(to_toml(d), out);
    EXPECT_EQ(d.bgp.asn, c.bgp.asn);
    ASSERT_EQ(d.bgp.peers.size(), 2u);
    EXPECT_EQ(d.bgp.peers[0].bfd_interval_ms, 50u);
    EXPECT_FALSE(d.bgp.peers[1].bfd);
    EXPECT_EQ(d.bgp.vips, c.bgp.vips);
    EXPECT_EQ(d.bgp.frr_dir, c.bgp.frr_dir);
}
