// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the userspace value parsers: good values parse, bad ones are
// rejected with a message naming the value.
#include <gtest/gtest.h>

#include "crab/common.hpp"

using namespace crab;

namespace {

template <typename F>
std::string error_of(F f)
{
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), kExitUsage);
        return e.what();
    }
    ADD_FAILURE() << "no error thrown";
    return {};
}

TEST(Parse, Ipv4)
{
    EXPECT_EQ(parse_ipv4("198.18.100.1").addr, 0xC6126401u);
    EXPECT_EQ(parse_ipv4("0.0.0.0").addr, 0u);
    EXPECT_EQ(to_string(parse_ipv4("255.255.255.255")), "255.255.255.255");
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d", "1.2.3.4 ",
                            "-1.2.3.4", "1.2.3.0004"})
        EXPECT_NE(error_of([&] { parse_ipv4(bad); }).find(std::string("'") + bad + "'"),
                  std::string::npos)
            << bad;
}

TEST(Parse, Cidr)
{
    auto c = parse_cidr("198.18.0.0/24");
    EXPECT_EQ(c.len, 24);
    EXPECT_TRUE(c.contains(parse_ipv4("198.18.0.77")));
    EXPECT_FALSE(c.contains(parse_ipv4("198.18.1.1")));
    EXPECT_EQ(parse_cidr("10.1.2.3").len, 32);
    EXPECT_TRUE(parse_cidr("0.0.0.0/0").contains(parse_ipv4("1.2.3.4")));
    EXPECT_NE(error_of([] { parse_cidr("10.0.0.1/24"); }).find("host bits"), std::string::npos);
    EXPECT_NE(error_of([] { parse_cidr("10.0.0.0/33"); }).find("10.0.0.0/33"), std::string::npos);
}

TEST(Parse, CidrList)
{
    EXPECT_TRUE(parse_cidr_list("").empty());
    auto l = parse_cidr_list("10.0.0.0/8, 198.18.0.0/15");
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(to_string(l), "10.0.0.0/8,198.18.0.0/15");
    error_of([] { parse_cidr_list("10.0.0.0/8,"); });
    error_of([] { parse_cidr_list(",10.0.0.0/8"); });
}

TEST(Parse, Endpoint)
{
    auto e = parse_endpoint("198.18.100.1:8080");
    EXPECT_EQ(e.port, 8080);
    EXPECT_EQ(to_string(e), "198.18.100.1:8080");
    for (const char* bad : {"198.18.100.1", "198.18.100.1:0", "198.18.100.1:65536", ":80",
                            "198.18.100.1:http"})
        error_of([&] { parse_endpoint(bad); });
}

TEST(Parse, IpAddrBothFamilies)
{
    IpAddr a = parse_ip("198.18.100.1");
    EXPECT_FALSE(a.is_v6());
    EXPECT_EQ(a.to_v4().addr, 0xC6126401u);
    EXPECT_EQ(a.model_words(), (std::array<uint32_t, 4>{0, 0, 0, 0xC6126401u}));
    IpAddr b = parse_ip("2001:DB8:0:0:0:0:0:1");
    EXPECT_TRUE(b.is_v6());
    EXPECT_EQ(b.bytes[0], 0x20);
    EXPECT_EQ(b.bytes[15], 1);
    EXPECT_EQ(to_string(b), "2001:db8::1");  // RFC 5952 form
    EXPECT_EQ(b.model_words(), (std::array<uint32_t, 4>{0x20010db8u, 0, 0, 1}));
    EXPECT_EQ(to_string(parse_ip("::ffff:1.2.3.4")), "::ffff:1.2.3.4");
    EXPECT_LT(a, b);  // IPv4 orders before IPv6
    EXPECT_NE(IpAddr::v4(parse_ipv4("0.0.0.1")), parse_ip("::1"));
    for (const char* bad : {"2001:db8::1::2", "2001:db8::g", "fe80::1%eth0", "[2001:db8::1]", "2001:db8:1",
                            ":::", "2001:db8::1 ", "1:2:3:4:5:6:7:8:9"})
        EXPECT_NE(error_of([&] { parse_ip(bad); }).find(std::string("'") + bad + "'"), std::string::npos)
            << bad;
}

TEST(Parse, IpEndpointBothFamilies)
{
    auto e = parse_ip_endpoint("198.18.100.1:8080");
    EXPECT_FALSE(e.ip.is_v6());
    EXPECT_EQ(to_string(e), "198.18.100.1:8080");
    auto f = parse_ip_endpoint("[2001:db8:100::1]:80");
    EXPECT_TRUE(f.ip.is_v6());
    EXPECT_EQ(f.port, 80);
    EXPECT_EQ(to_string(f), "[2001:db8:100::1]:80");
    EXPECT_EQ(parse_ip_endpoint(to_string(f)), f);
    for (const char* bad : {"2001:db8::1:80", "[2001:db8::1]", "[2001:db8::1]:", "[2001:db8::1]80",
                            "[198.18.100.1]:80", "[2001:db8::1:80", "[]:80", "[2001:db8::1]:0",
                            "198.18.100.1:80:1"})
        EXPECT_NE(error_of([&] { parse_ip_endpoint(bad); }).find(std::string("'")), std::string::npos) << bad;
    EXPECT_NE(error_of([] { parse_ip_endpoint("2001:db8::1:80"); }).find("[IPV6]:PORT"), std::string::npos);
}

TEST(Parse, Counter)
{
    EXPECT_EQ(parse_u64("0", "c"), 0u);
    EXPECT_EQ(parse_u64("18446744073709551615", "c"), UINT64_MAX);
    for (const char* bad : {"", "-1", "18446744073709551616", "12 ", "0x10", "1e3"}) {
        try {
            parse_u64(bad, "counter");
            ADD_FAILURE() << "no error for '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), kExitError) << bad;
            EXPECT_NE(std::string(e.what()).find(std::string("counter '") + bad + "'"), std::string::npos)
                << e.what();
        }
    }
}

TEST(Parse, PolicyAndLegacyMode)
{
    EXPECT_EQ(parse_policy("rr"), CRAB_POLICY_RR);
    EXPECT_EQ(parse_policy("random"), CRAB_POLICY_RANDOM);
    EXPECT_EQ(parse_policy("wrr"), CRAB_POLICY_WRR);
    EXPECT_NE(error_of([] { parse_policy("RR"); }).find("'RR'"), std::string::npos);
    EXPECT_EQ(parse_legacy_mode("insert"), CRAB_LEGACY_INSERT);
    EXPECT_EQ(to_string(parse_legacy_mode("hash")), "hash");
    error_of([] { parse_legacy_mode("dsr"); });
}

TEST(Parse, CounterNamesMatchEnum)
{
    EXPECT_EQ(lb_counter_names().size(), static_cast<size_t>(CRAB_LB_CNT_MAX));
    EXPECT_EQ(lb_counter_names()[CRAB_LB_CNT_SYN_REDIRECTED], "syn_redirected");
}

}  // namespace
