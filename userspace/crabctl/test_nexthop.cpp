// SPDX-License-Identifier: GPL-2.0-only
// The rtnetlink parsers of the XDP LB's control-plane next hops
// (lb/ebpf_xdp/ctl/nexthop.hpp): route, neighbour and link messages as the
// kernel sends them, and the malformed ones it never should.
#include <arpa/inet.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "nexthop.hpp"

namespace {

using namespace crab::nexthop;

// A netlink message: header, body, attributes.
struct Msg {
    std::vector<uint8_t> b;

    template <typename Body>
    Msg(uint16_t type, const Body& body)
    {
        b.resize(NLMSG_SPACE(sizeof(Body)), 0);
        std::memcpy(b.data() + NLMSG_HDRLEN, &body, sizeof(body));
        hdr(type);
    }
    void hdr(uint16_t type)
    {
        nlmsghdr h{};
        h.nlmsg_len = static_cast<uint32_t>(b.size());
        h.nlmsg_type = type;
        std::memcpy(b.data(), &h, sizeof(h));
    }
    Msg& attr(uint16_t type, const void* data, size_t len)
    {
        size_t off = NLMSG_ALIGN(b.size());
        b.resize(off + RTA_SPACE(len), 0);
        rtattr ra{};
        ra.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        ra.rta_type = type;
        std::memcpy(b.data() + off, &ra, sizeof(ra));
        std::memcpy(b.data() + off + RTA_LENGTH(0), data, len);
        nlmsghdr h;
        std::memcpy(&h, b.data(), sizeof(h));
        hdr(h.nlmsg_type);
        return *this;
    }
    Msg& u32(uint16_t type, uint32_t v) { return attr(type, &v, 4); }
    Msg& addr(uint16_t type, const char* a)
    {
        uint8_t buf[16];
        if (inet_pton(AF_INET, a, buf) == 1)
            return attr(type, buf, 4);
        EXPECT_EQ(inet_pton(AF_INET6, a, buf), 1);
        return attr(type, buf, 16);
    }
};

rtmsg route_body(uint8_t family, uint8_t type)
{
    rtmsg r{};
    r.rtm_family = family;
    r.rtm_type = type;
    return r;
}

ndmsg neigh_body(uint8_t family, int ifindex, uint16_t state, uint8_t flags = 0)
{
    ndmsg n{};
    n.ndm_family = family;
    n.ndm_ifindex = ifindex;
    n.ndm_state = state;
    n.ndm_flags = flags;
    return n;
}

const uint8_t kMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x11};

TEST(NexthopRoute, Ipv4ViaGateway)
{
    Msg m(RTM_NEWROUTE, route_body(AF_INET, RTN_UNICAST));
    m.addr(RTA_DST, "198.18.0.11").u32(RTA_OIF, 7).addr(RTA_GATEWAY, "198.18.0.1");
    auto r = parse_route(m.b.data(), m.b.size());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.type, RTN_UNICAST);
    EXPECT_EQ(r.oif, 7u);
    ASSERT_TRUE(r.has_gw);
    EXPECT_EQ(crab::to_string(r.gw), "198.18.0.1");
}

TEST(NexthopRoute, Ipv6OnLinkHasNoGateway)
{
    Msg m(RTM_NEWROUTE, route_body(AF_INET6, RTN_UNICAST));
    m.addr(RTA_DST, "fd00:c4ab:0:1::11").u32(RTA_OIF, 3);
    auto r = parse_route(m.b.data(), m.b.size());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.oif, 3u);
    EXPECT_FALSE(r.has_gw);
}

TEST(NexthopRoute, Ipv4ViaIpv6Gateway)
{
    // RFC 5549: RTA_VIA with its own family.
    Msg m(RTM_NEWROUTE, route_body(AF_INET, RTN_UNICAST));
    uint8_t via[18] = {};
    uint16_t fam = AF_INET6;
    std::memcpy(via, &fam, 2);
    ASSERT_EQ(inet_pton(AF_INET6, "fe80::1", via + 2), 1);
    m.u32(RTA_OIF, 2).attr(RTA_VIA, via, sizeof(via));
    auto r = parse_route(m.b.data(), m.b.size());
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_TRUE(r.has_gw);
    EXPECT_TRUE(r.gw.is_v6());
    EXPECT_EQ(crab::to_string(r.gw), "fe80::1");
}

TEST(NexthopRoute, TypeIsReported)
{
    Msg m(RTM_NEWROUTE, route_body(AF_INET, RTN_BLACKHOLE));
    auto r = parse_route(m.b.data(), m.b.size());
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.type, RTN_BLACKHOLE);
    EXPECT_EQ(r.oif, 0u);
}

TEST(NexthopRoute, MalformedRefused)
{
    Msg m(RTM_NEWROUTE, route_body(AF_INET, RTN_UNICAST));
    m.u32(RTA_OIF, 7);
    // An attribute longer than the message.
    auto bad = m.b;
    rtattr ra;
    size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg));
    std::memcpy(&ra, bad.data() + off, sizeof(ra));
    ra.rta_len = 200;
    std::memcpy(bad.data() + off, &ra, sizeof(ra));
    EXPECT_FALSE(parse_route(bad.data(), bad.size()).ok);
    // Truncated: the header claims more than there is.
    EXPECT_FALSE(parse_route(m.b.data(), m.b.size() - 4).ok);
    EXPECT_FALSE(parse_route(m.b.data(), 8).ok);
    // A gateway of the wrong length.
    Msg g(RTM_NEWROUTE, route_body(AF_INET, RTN_UNICAST));
    uint8_t two[2] = {1, 2};
    g.attr(RTA_GATEWAY, two, 2);
    auto r = parse_route(g.b.data(), g.b.size());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("RTA_GATEWAY"), std::string::npos);
    // Not a route.
    Msg n(RTM_NEWNEIGH, neigh_body(AF_INET, 1, NUD_REACHABLE));
    EXPECT_FALSE(parse_route(n.b.data(), n.b.size()).ok);
}

TEST(NexthopNeigh, ReachableUsable)
{
    Msg m(RTM_NEWNEIGH, neigh_body(AF_INET, 4, NUD_REACHABLE));
    m.addr(NDA_DST, "198.18.0.11").attr(NDA_LLADDR, kMac, 6);
    auto n = parse_neigh(m.b.data(), m.b.size());
    ASSERT_TRUE(n.ok) << n.error;
    EXPECT_EQ(n.ifindex, 4);
    EXPECT_EQ(crab::to_string(n.dst), "198.18.0.11");
    ASSERT_TRUE(n.has_lladdr);
    EXPECT_EQ(mac_string(n.lladdr), "02:00:00:00:00:11");
    EXPECT_EQ(why_not_usable(n), "");
}

TEST(NexthopNeigh, ValidStatesUsableOthersNot)
{
    for (uint16_t st : {NUD_REACHABLE, NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_PERMANENT, NUD_NOARP}) {
        Msg m(RTM_NEWNEIGH, neigh_body(AF_INET6, 4, st));
        m.addr(NDA_DST, "fd00::11").attr(NDA_LLADDR, kMac, 6);
        auto n = parse_neigh(m.b.data(), m.b.size());
        ASSERT_TRUE(n.ok);
        EXPECT_EQ(why_not_usable(n), "") << nud_name(st);
    }
    for (uint16_t st : {NUD_INCOMPLETE, NUD_FAILED, NUD_NONE}) {
        Msg m(RTM_NEWNEIGH, neigh_body(AF_INET6, 4, st));
        m.addr(NDA_DST, "fd00::11").attr(NDA_LLADDR, kMac, 6);  // a stale MAC kept by the entry
        auto n = parse_neigh(m.b.data(), m.b.size());
        ASSERT_TRUE(n.ok);
        EXPECT_EQ(why_not_usable(n), "neighbour " + nud_name(st));
    }
}

TEST(NexthopNeigh, DeletedWithoutMacOrGroupMacNotUsable)
{
    Msg d(RTM_DELNEIGH, neigh_body(AF_INET, 4, NUD_REACHABLE));
    d.addr(NDA_DST, "198.18.0.11").attr(NDA_LLADDR, kMac, 6);
    EXPECT_EQ(why_not_usable(parse_neigh(d.b.data(), d.b.size())), "neighbour deleted");
    Msg nomac(RTM_NEWNEIGH, neigh_body(AF_INET, 4, NUD_STALE));
    nomac.addr(NDA_DST, "198.18.0.11");
    EXPECT_NE(why_not_usable(parse_neigh(nomac.b.data(), nomac.b.size())).find("without a MAC"), std::string::npos);
    const uint8_t group[6] = {0x01, 0x00, 0x5e, 0, 0, 1}, zero[6] = {};
    Msg g(RTM_NEWNEIGH, neigh_body(AF_INET, 4, NUD_PERMANENT));
    g.addr(NDA_DST, "198.18.0.11").attr(NDA_LLADDR, group, 6);
    EXPECT_NE(why_not_usable(parse_neigh(g.b.data(), g.b.size())).find("group address"), std::string::npos);
    Msg z(RTM_NEWNEIGH, neigh_body(AF_INET, 4, NUD_PERMANENT));
    z.addr(NDA_DST, "198.18.0.11").attr(NDA_LLADDR, zero, 6);
    EXPECT_NE(why_not_usable(parse_neigh(z.b.data(), z.b.size())).find("all zero"), std::string::npos);
}

TEST(NexthopNeigh, ExtendedFlags)
{
    Msg m(RTM_NEWNEIGH, neigh_body(AF_INET, 4, NUD_REACHABLE, NTF_EXT_LEARNED));
    m.addr(NDA_DST, "198.18.0.11").attr(NDA_LLADDR, kMac, 6).u32(NDA_FLAGS_EXT, NTF_EXT_MANAGED);
    auto n = parse_neigh(m.b.data(), m.b.size());
    ASSERT_TRUE(n.ok);
    EXPECT_TRUE(n.flags & NTF_EXT_LEARNED);
    EXPECT_TRUE(n.flags & (NTF_EXT_MANAGED << 8));
}

TEST(NexthopNeigh, MalformedRefused)
{
    Msg nodst(RTM_NEWNEIGH, neigh_body(AF_INET, 4, NUD_REACHABLE));
    nodst.attr(NDA_LLADDR, kMac, 6);
    EXPECT_FALSE(parse_neigh(nodst.b.data(), nodst.b.size()).ok);
    Msg shortdst(RTM_NEWNEIGH, neigh_body(AF_INET6, 4, NUD_REACHABLE));
    uint8_t four[4] = {1, 2, 3, 4};
    shortdst.attr(NDA_DST, four, 4);
    EXPECT_FALSE(parse_neigh(shortdst.b.data(), shortdst.b.size()).ok);
    Msg r(RTM_NEWROUTE, route_body(AF_INET, RTN_UNICAST));
    EXPECT_FALSE(parse_neigh(r.b.data(), r.b.size()).ok);
}

TEST(NexthopLink, EthernetAddressAndName)
{
    ifinfomsg ifi{};
    ifi.ifi_index = 9;
    ifi.ifi_type = ARPHRD_ETHER;
    Msg m(RTM_NEWLINK, ifi);
    m.attr(IFLA_ADDRESS, kMac, 6).attr(IFLA_IFNAME, "eth0", 5);
    auto l = parse_link(m.b.data(), m.b.size());
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(l.ifindex, 9);
    EXPECT_EQ(l.type, ARPHRD_ETHER);
    ASSERT_TRUE(l.has_addr);
    EXPECT_EQ(mac_string(l.addr), "02:00:00:00:00:11");
    EXPECT_EQ(l.name, "eth0");
}

TEST(NexthopEvents, ChangeEventsAndNames)
{
    for (uint16_t t : {RTM_NEWNEIGH, RTM_DELNEIGH, RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWLINK, RTM_DELLINK,
                       RTM_NEWADDR, RTM_DELADDR})
        EXPECT_TRUE(is_change_event(t)) << t;
    for (uint16_t t : {uint16_t(NLMSG_ERROR), uint16_t(NLMSG_DONE), uint16_t(RTM_NEWRULE), uint16_t(RTM_NEWQDISC)})
        EXPECT_FALSE(is_change_event(t)) << t;
    EXPECT_EQ(nud_name(NUD_REACHABLE), "REACHABLE");
    EXPECT_EQ(nud_name(NUD_NONE), "NONE");
    EXPECT_EQ(nud_name(NUD_FAILED), "FAILED");
}

}  // namespace
