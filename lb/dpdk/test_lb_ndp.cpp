// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the DPDK LB's Neighbour Discovery (core/ndp.hpp) and of the
// neighbour table with IPv6 next hops: solicitations for the LB's
// addresses and IPv6 VIPs are answered, RFC 4861 7.1 checks refuse bad
// messages, solicitations go to the solicited-node address, MACs are
// learned only from solicited advertisements addressed to the LB that
// answer its own solicitation, entries age, a full table refuses. Frames
// are built here with checksums computed from scratch. Time is given
// explicitly (ms).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "config.hpp"
#include "ndp.hpp"

using namespace crab::lb_dpdk;
using Bytes = std::vector<uint8_t>;
using A16 = std::array<uint8_t, 16>;
using W = NeighTable::Want;
using S = NeighTable::State;

namespace {

const Mac kMe = {0x02, 0, 0, 0, 0, 0x01};
const Mac kHostMac = {0x02, 0, 0, 0, 0, 0x21};
const Mac kEvil = {0x02, 0xba, 0xd0, 0, 0, 0x66};
A16 a6(uint16_t last, uint16_t net = 0)
{
    return {0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(net >> 8), static_cast<uint8_t>(net), 0, 0, 0, 0, 0, 0,
            0,    0,    static_cast<uint8_t>(last >> 8), static_cast<uint8_t>(last)};
}
const A16 kVip = a6(1, 0x100), kPortIp = a6(2), kHost = a6(0x21), kOther = a6(0x55);
const A16 kUnspec{};
const A16 kAllNodes = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
Addr addr(const A16& a) { return Addr::from6(a.data()); }
A16 bytes(const Addr& a)
{
    A16 b;
    a.put6(b.data());
    return b;
}
A16 sn(const A16& t) { return {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]}; }
Mac mmac(const A16& a) { return {0x33, 0x33, a[12], a[13], a[14], a[15]}; }

uint16_t ref_csum(const Bytes& b)
{
    uint64_t s = 0;
    for (size_t i = 0; i < b.size(); i += 2)
        s += (b[i] << 8) | (i + 1 < b.size() ? b[i + 1] : 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

// A Neighbour Solicitation (135) or Advertisement (136).
struct Nd {
    uint8_t type = 135, code = 0, hlim = 255, flags = 0;
    Mac edst = kMe, esrc = kHostMac;
    A16 src = kHost, dst = sn(kVip), target = kVip;
    Bytes opts;  // whole options
    bool bad_csum = false;

    Bytes build() const
    {
        Bytes ic = {type, code, 0, 0, flags, 0, 0, 0};
        ic.insert(ic.end(), target.begin(), target.end());
        ic.insert(ic.end(), opts.begin(), opts.end());
        Bytes ph(src.begin(), src.end());
        ph.insert(ph.end(), dst.begin(), dst.end());
        ph.insert(ph.end(), {0, 0, static_cast<uint8_t>(ic.size() >> 8), static_cast<uint8_t>(ic.size()), 0, 0, 0, 58});
        ph.insert(ph.end(), ic.begin(), ic.end());
        uint16_t c = static_cast<uint16_t>(ref_csum(ph) ^ (bad_csum ? 1 : 0));
        ic[2] = static_cast<uint8_t>(c >> 8);
        ic[3] = static_cast<uint8_t>(c);
        Bytes b(edst.begin(), edst.end());
        b.insert(b.end(), esrc.begin(), esrc.end());
        b.insert(b.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, static_cast<uint8_t>(ic.size()), 58, hlim});
        b.insert(b.end(), src.begin(), src.end());
        b.insert(b.end(), dst.begin(), dst.end());
        b.insert(b.end(), ic.begin(), ic.end());
        return b;
    }
};
Bytes ll_opt(uint8_t type, const Mac& m) { return {type, 1, m[0], m[1], m[2], m[3], m[4], m[5]}; }

Nd ns_for(const A16& target)
{
    Nd n;
    n.target = target;
    n.dst = sn(target);
    n.opts = ll_opt(1, kHostMac);
    return n;
}

// The solicited advertisement a host sends for itself to the LB.
Nd na_from(const A16& host, const Mac& mac, const A16& to = kPortIp)
{
    Nd n;
    n.type = 136;
    n.flags = 0x60;  // solicited, override
    n.src = host;
    n.target = host;
    n.dst = to;
    n.esrc = mac;
    n.opts = ll_opt(2, mac);
    return n;
}

struct NdFix : ::testing::Test {
    NdpSelf me;
    Table t;
    NeighTable nt{8, 10000};
    Bytes buf;
    uint32_t len = 0;

    void SetUp() override
    {
        me.mac = kMe;
        me.addrs = {link_local(kMe), addr(kPortIp)};
        ServiceSpec s;
        s.ep = {addr(kVip), 80};
        service_add(t, s);
    }
    NdpResult in(const Bytes& b, uint64_t now = 0)
    {
        buf = b;
        buf.resize(std::max<size_t>(b.size(), 128), 0xee);
        len = static_cast<uint32_t>(b.size());
        return ndp_input(me, t, nt, now, buf.data(), len, static_cast<uint32_t>(buf.size()));
    }
    Bytes out() const { return Bytes(buf.begin(), buf.begin() + len); }
};

}  // namespace

TEST(Ndp, AddressesOfTheLink)
{
    EXPECT_EQ(to_string(link_local(kMe)), "fe80::ff:fe00:1");
    EXPECT_EQ(to_string(solicited_node(addr(a6(0x1234)))), "ff02::1:ff00:1234");
}

TEST_F(NdFix, SolicitationForAVipOrOurAddressIsAnswered)
{
    for (const A16& target : {kVip, kPortIp, bytes(link_local(kMe))}) {
        ASSERT_EQ(in(ns_for(target).build()), NdpResult::Reply);
        Nd na;
        na.type = 136;
        na.flags = 0x60;  // solicited, override; not a router
        na.edst = kHostMac;
        na.esrc = kMe;
        na.src = target;
        na.dst = kHost;
        na.target = target;
        na.opts = ll_opt(2, kMe);
        EXPECT_EQ(out(), na.build());
    }
    // Asked at the address itself (a reachability probe).
    Nd probe = ns_for(kVip);
    probe.dst = kVip;
    EXPECT_EQ(in(probe.build()), NdpResult::Reply);
}

TEST_F(NdFix, DuplicateAddressDetectionIsAnsweredToAllNodes)
{
    Nd dad = ns_for(kVip);
    dad.src = kUnspec;
    dad.opts.clear();
    ASSERT_EQ(in(dad.build()), NdpResult::Reply);
    Nd na;
    na.type = 136;
    na.flags = 0x20;  // override, not solicited
    na.edst = mmac(kAllNodes);
    na.esrc = kMe;
    na.src = kVip;
    na.dst = kAllNodes;
    na.target = kVip;
    na.opts = ll_opt(2, kMe);
    EXPECT_EQ(out(), na.build());
}

TEST_F(NdFix, SolicitationsForOthersAreIgnored)
{
    EXPECT_EQ(in(ns_for(kOther).build()), NdpResult::Ignored);
    Nd wrong_group = ns_for(kVip);
    wrong_group.dst = sn(kOther);
    EXPECT_EQ(in(wrong_group.build()), NdpResult::Ignored);
}

// RFC 4861 7.1.1 / 7.1.2: each check refuses on its own.
TEST_F(NdFix, InvalidMessagesAreRefused)
{
    std::vector<std::pair<const char*, Nd>> bad;
    Nd n = ns_for(kVip);
    n.hlim = 254;
    bad.push_back({"hop limit 254 (forwarded)", n});
    n = ns_for(kVip);
    n.bad_csum = true;
    bad.push_back({"checksum", n});
    n = ns_for(kVip);
    n.code = 1;
    bad.push_back({"code 1", n});
    n = ns_for(kVip);
    n.target = kAllNodes;
    bad.push_back({"multicast target", n});
    n = ns_for(kVip);
    n.opts = {1, 0, 0, 0, 0, 0, 0, 0};
    bad.push_back({"option of length 0", n});
    n = ns_for(kVip);
    n.opts = {1, 2, 0, 0, 0, 0, 0, 0};
    bad.push_back({"option past the message", n});
    n = ns_for(kVip);
    n.src = kUnspec;  // with a source link-layer address option
    bad.push_back({"unspecified source with SLLA", n});
    n = ns_for(kVip);
    n.src = kUnspec;
    n.opts.clear();
    n.dst = kVip;
    bad.push_back({"unspecified source, unicast destination", n});
    n = ns_for(kVip);
    n.src = kAllNodes;
    bad.push_back({"multicast source", n});
    n = na_from(kHost, kHostMac, kAllNodes);
    bad.push_back({"solicited advertisement to a multicast address", n});
    for (auto& [what, m] : bad)
        EXPECT_EQ(in(m.build()), NdpResult::Invalid) << what;
    // Shorter than 24 bytes of ICMPv6.
    Bytes b = ns_for(kVip).build();
    b.resize(14 + 40 + 20);
    b[14 + 5] = 20;
    EXPECT_EQ(in(b), NdpResult::Invalid);
    // A payload length past the frame.
    b = ns_for(kVip).build();
    b[14 + 5]++;
    EXPECT_EQ(in(b), NdpResult::Invalid);
}

TEST_F(NdFix, NotNdIsNotLookedAt)
{
    Bytes b = ns_for(kVip).build();
    b[14 + 6] = 6;  // TCP
    EXPECT_EQ(in(b), NdpResult::NotNdp);
    b = ns_for(kVip).build();
    b[14 + 40] = 128;  // echo request
    EXPECT_EQ(in(b), NdpResult::NotNdp);
    b = ns_for(kVip).build();
    b[12] = 0x08;
    b[13] = 0x00;
    EXPECT_EQ(in(b), NdpResult::NotNdp);
    for (size_t n = 0; n < b.size(); n++) {  // every truncation: no reply
        Bytes c = ns_for(kVip).build();
        c.resize(n);
        EXPECT_NE(in(c), NdpResult::Reply) << n;
    }
}

TEST_F(NdFix, SolicitationGoesToTheSolicitedNodeAddress)
{
    uint8_t f[kNdpFrameLen];
    ASSERT_EQ(ndp_solicit(kMe, addr(kPortIp), addr(kHost), f), kNdpFrameLen);
    Nd ns;
    ns.edst = mmac(sn(kHost));
    ns.esrc = kMe;
    ns.src = kPortIp;
    ns.dst = sn(kHost);
    ns.target = kHost;
    ns.opts = ll_opt(1, kMe);
    EXPECT_EQ(Bytes(f, f + kNdpFrameLen), ns.build());
}

TEST_F(NdFix, LearnedOnlyFromASolicitedAdvertisementToUs)
{
    const Addr h = addr(kHost);
    Mac m;
    // Nobody asked: unsolicited, nothing created.
    EXPECT_EQ(in(na_from(kHost, kEvil).build(), 1), NdpResult::Unsolicited);
    EXPECT_EQ(nt.state(h), S::None);
    ASSERT_EQ(nt.want(h, 10), W::Send);
    // Refused while the request is outstanding, and counted as unsolicited:
    Nd n = na_from(kHost, kEvil);
    n.flags = 0x20;  // not solicited
    EXPECT_EQ(in(n.build(), 11), NdpResult::Unsolicited);
    n = na_from(kHost, kEvil, kAllNodes);
    n.flags = 0x20;  // to all nodes
    n.edst = mmac(kAllNodes);
    EXPECT_EQ(in(n.build(), 12), NdpResult::Unsolicited);
    n = na_from(kHost, kEvil, kOther);  // to another host's address
    EXPECT_EQ(in(n.build(), 13), NdpResult::Unsolicited);
    n = na_from(kHost, kEvil);
    n.edst = kHostMac;  // to another MAC
    EXPECT_EQ(in(n.build(), 14), NdpResult::Unsolicited);
    n = na_from(kHost, kEvil);
    n.opts.clear();  // no target link-layer address
    EXPECT_EQ(in(n.build(), 15), NdpResult::Unsolicited);
    EXPECT_FALSE(nt.get(h, m));
    EXPECT_EQ(nt.state(h), S::Pending);
    // The answer: learned, once.
    EXPECT_EQ(in(na_from(kHost, kHostMac).build(), 20), NdpResult::Learned);
    ASSERT_TRUE(nt.get(h, m));
    EXPECT_EQ(m, kHostMac);
    EXPECT_EQ(in(na_from(kHost, kEvil).build(), 21), NdpResult::Unsolicited);
    ASSERT_TRUE(nt.get(h, m));
    EXPECT_EQ(m, kHostMac);
    // To the link-local address too (the default source of solicitations).
    const Addr o = addr(kOther);
    ASSERT_EQ(nt.want(o, 30), W::Send);
    EXPECT_EQ(in(na_from(kOther, kEvil, bytes(link_local(kMe))).build(), 31), NdpResult::Learned);
}

TEST_F(NdFix, EntriesAgeAndAreSolicitedAgain)
{
    const Addr h = addr(kHost);
    Mac m;
    ASSERT_EQ(nt.want(h, 0), W::Send);
    ASSERT_EQ(in(na_from(kHost, kHostMac).build(), 1), NdpResult::Learned);  // valid until 10001
    EXPECT_EQ(nt.want(h, 4000), W::Resolved);
    EXPECT_EQ(nt.want(h, 5002), W::Send);  // in the last refresh_ms(): asked again
    EXPECT_EQ(in(na_from(kHost, kHostMac).build(), 5003), NdpResult::Refreshed);  // valid until 15003
    EXPECT_EQ(nt.want(h, 14000), W::Send);  // unanswered
    EXPECT_EQ(nt.expire(15002), 0u);
    EXPECT_TRUE(nt.get(h, m));
    EXPECT_EQ(nt.expire(15003), 1u);
    EXPECT_FALSE(nt.get(h, m));
    EXPECT_EQ(nt.state(h), S::Expired);
    EXPECT_EQ(nt.want(h, 15004), W::Send);
    EXPECT_EQ(in(na_from(kHost, kEvil).build(), 15005), NdpResult::Learned);  // a solicited answer
    EXPECT_TRUE(nt.get(h, m));
    EXPECT_EQ(m, kEvil);
}

TEST(Neigh6, FullTableRefusesAndFamiliesAreDistinctKeys)
{
    NeighTable nt(2);
    const A16 compat = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};
    const Addr v6 = Addr::from6(compat.data());  // ::b
    const Addr v4(0x0000000bu);                  // 0.0.0.11: the same four words
    EXPECT_EQ(nt.want(v6, 0), W::Send);
    EXPECT_EQ(nt.want(v4, 0), W::Send);
    EXPECT_EQ(nt.want(Addr::from6(a6(0x0c).data()), 0), W::Full);
    EXPECT_EQ(nt.learn(v6, kHostMac, 1), NeighTable::Learn::Learned);
    Mac m;
    EXPECT_TRUE(nt.get(v6, m));
    EXPECT_FALSE(nt.get(v4, m));
    EXPECT_EQ(nt.state(v4), S::Pending);
    EXPECT_EQ(nt.used(), 2u);
    // One slot: the IPv4 address with the same words is another key.
    NeighTable one(1);
    EXPECT_EQ(one.want(v6, 0), W::Send);
    EXPECT_EQ(one.want(v4, 0), W::Full);
    EXPECT_EQ(one.learn(v4, kEvil, 1), NeighTable::Learn::Unsolicited);
    EXPECT_EQ(one.learn(v6, kHostMac, 1), NeighTable::Learn::Learned);
    EXPECT_FALSE(one.get(v4, m));
    EXPECT_EQ(one.state(v4), S::None);
    // Multicast and unspecified are never next hops.
    EXPECT_EQ(nt.want(Addr::from6(kAllNodes.data()), 0), W::Full);
    EXPECT_EQ(nt.want(Addr::from6(kUnspec.data()), 0), W::Full);
}

// The worker calls ndp_input() (and reads the clock for it) only where
// ndp_maybe() says so: false exactly where ndp_input() answers NotNdp.
// Solicitations, advertisements and other IPv6 and IPv4 frames with the
// bytes ndp_maybe() and ndp_input()'s first checks read mutated, and cut
// at random lengths.
TEST_F(NdFix, NdpMaybeIsNdpInputsFirstAnswer)
{
    std::vector<Bytes> bases = {ns_for(kVip).build(), na_from(kHost, kHostMac).build(), ns_for(kOther).build()};
    Bytes syn = bases[0];
    syn[20] = 6;  // TCP, not ICMPv6
    bases.push_back(syn);
    Bytes v4 = bases[1];
    v4[12] = 0x08;
    v4[13] = 0x00;
    bases.push_back(v4);
    const size_t spots[] = {12, 13, 14, 20, 54, 18, 19};
    std::mt19937 rng(11);
    int maybe = 0, no = 0;
    for (int i = 0; i < 200000; i++) {
        Bytes b = bases[rng() % bases.size()];
        for (int k = static_cast<int>(rng() % 3); k > 0; k--) {
            uint8_t& x = b[spots[rng() % std::size(spots)]];
            x = (rng() % 2) ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(x ^ (1u << (rng() % 8)));
        }
        if (rng() % 4 == 0)
            b.resize(rng() % (b.size() + 1));
        const bool m = ndp_maybe(b.data(), static_cast<uint32_t>(b.size()));
        const NdpResult r = in(b);
        ASSERT_EQ(m, r != NdpResult::NotNdp) << "i=" << i << " result " << static_cast<int>(r);
        maybe += m;
        no += !m;
    }
    EXPECT_GT(maybe, 20000);
    EXPECT_GT(no, 20000);
}
