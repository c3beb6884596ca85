// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the DPDK LB core's IPv6 path (docs/PROTOCOL.md 2, 3.2, 6):
// IPv6 services and backends, the extension header walk and its bound,
// fragments, the option's family, redirect, insert (+20 bytes), hash mode
// (the shared model's pick), non-SYN packets. Input and expected packets
// are built here, checksums computed from scratch over the whole segment.
#include <gtest/gtest.h>

#include <cstring>

#include "config.hpp"
#include "lb_core.hpp"

using namespace crab::lb_dpdk;
using Bytes = std::vector<uint8_t>;

namespace {

using A16 = std::array<uint8_t, 16>;

A16 a6(uint16_t last, uint16_t net = 0x0100)
{
    // 2001:db8:NET::LAST
    return {0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(net >> 8), static_cast<uint8_t>(net), 0, 0, 0, 0, 0, 0,
            0,    0,    static_cast<uint8_t>(last >> 8), static_cast<uint8_t>(last)};
}

const A16 kVip = a6(1);
const A16 kCli = a6(0x10, 0);
const A16 kDip[3] = {a6(0x21, 0), a6(0x22, 0), a6(0x23, 0)};
const Mac kPortMac = {0x02, 0, 0, 0, 0, 0x01};
const Mac kCliMac = {0x02, 0, 0, 0, 0, 0x0a};
Mac be_mac(int i) { return {0x02, 0, 0, 0, 0, static_cast<uint8_t>(0x21 + i)}; }
Addr addr(const A16& a) { return Addr::from6(a.data()); }

uint16_t ref_csum(const Bytes& b)
{
    uint64_t s = 0;
    for (size_t i = 0; i < b.size(); i += 2)
        s += (b[i] << 8) | (i + 1 < b.size() ? b[i + 1] : 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

// An extension header: next header filled in by build().
struct Ext {
    uint8_t type;  // 0, 43, 44, 60
    Bytes body;    // after next header and length; padded to 8n - 2
};

struct Pkt6 {
    Mac dst = kPortMac, src = kCliMac;
    A16 saddr = kCli, daddr = kVip;
    uint16_t sport = 40000, dport = 80;
    uint8_t flags = 0x02;  // SYN
    uint8_t hlim = 64;
    std::vector<Ext> ext;
    Bytes tcpopts, payload;
    A16 csum_daddr{};  // pseudo-header destination if not daddr (a routing header's final one)
    bool csum_daddr_set = false;

    Bytes build() const
    {
        Bytes b(dst.begin(), dst.end());
        b.insert(b.end(), src.begin(), src.end());
        b.push_back(0x86);
        b.push_back(0xdd);
        Bytes exts;
        for (size_t i = 0; i < ext.size(); i++) {
            const Ext& e = ext[i];
            uint8_t next = i + 1 < ext.size() ? ext[i + 1].type : 6;
            Bytes h = {next, 0};
            h.insert(h.end(), e.body.begin(), e.body.end());
            while (h.size() % 8)
                h.push_back(0);
            if (e.type != 44)
                h[1] = static_cast<uint8_t>(h.size() / 8 - 1);
            exts.insert(exts.end(), h.begin(), h.end());
        }
        Bytes th(20, 0);
        th[0] = static_cast<uint8_t>(sport >> 8);
        th[1] = static_cast<uint8_t>(sport);
        th[2] = static_cast<uint8_t>(dport >> 8);
        th[3] = static_cast<uint8_t>(dport);
        th[4] = 0x11;
        th[12] = static_cast<uint8_t>((20 + tcpopts.size()) / 4 << 4);
        th[13] = flags;
        th[14] = 0xfa;
        th.insert(th.end(), tcpopts.begin(), tcpopts.end());
        th.insert(th.end(), payload.begin(), payload.end());
        Bytes ph(saddr.begin(), saddr.end());
        const A16& cd = csum_daddr_set ? csum_daddr : daddr;
        ph.insert(ph.end(), cd.begin(), cd.end());
        ph.insert(ph.end(), {0, 0, static_cast<uint8_t>(th.size() >> 8), static_cast<uint8_t>(th.size()), 0, 0, 0, 6});
        ph.insert(ph.end(), th.begin(), th.end());
        uint16_t c = ref_csum(ph);
        th[16] = static_cast<uint8_t>(c >> 8);
        th[17] = static_cast<uint8_t>(c);
        size_t plen = exts.size() + th.size();
        Bytes ip = {0x60, 0, 0, 0, static_cast<uint8_t>(plen >> 8), static_cast<uint8_t>(plen),
                    ext.empty() ? uint8_t{6} : ext[0].type, hlim};
        ip.insert(ip.end(), saddr.begin(), saddr.end());
        ip.insert(ip.end(), daddr.begin(), daddr.end());
        b.insert(b.end(), ip.begin(), ip.end());
        b.insert(b.end(), exts.begin(), exts.end());
        b.insert(b.end(), th.begin(), th.end());
        return b;
    }
};

// The IPv6 option: NOP NOP 42 18 ADDR (or without the NOPs).
Bytes opt6(const A16& a, bool nops = true)
{
    Bytes o;
    if (nops)
        o = {1, 1};
    o.push_back(CRAB_OPT_KIND_DEFAULT);
    o.push_back(18);
    o.insert(o.end(), a.begin(), a.end());
    return o;
}
// The IPv4 form (length 6) carrying the first 4 bytes of @a.
Bytes opt4(const A16& a) { return {1, 1, CRAB_OPT_KIND_DEFAULT, 6, a[0], a[1], a[2], a[3]}; }
const Bytes kMss = {2, 4, 0x05, 0xa0};

Bytes cat(Bytes a, const Bytes& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

struct Fixture6 : ::testing::Test {
    Config cfg;
    Table t;
    NeighTable nt;
    std::unique_ptr<LcoreState> st = std::make_unique<LcoreState>();
    static constexpr uint32_t kHeadroom = 128;
    Bytes buf;
    Frame f{};

    void SetUp() override { cfg.port_mac = kPortMac; }

    void svc(crab_policy p, crab_legacy_mode l, int nbe = 3, bool macs = true)
    {
        ServiceSpec s;
        s.ep = {addr(kVip), 80};
        s.policy = p;
        s.legacy = l;
        service_add(t, s);
        for (int i = 0; i < nbe; i++) {
            BackendSpec b;
            b.svc = s.ep;
            b.dip = addr(kDip[i]);
            if (macs)
                b.mac = be_mac(i);
            backend_add(t, b);
        }
    }

    Verdict run(const Bytes& in, uint32_t headroom = kHeadroom)
    {
        buf.assign(kHeadroom, 0xee);
        buf.insert(buf.end(), in.begin(), in.end());
        f = Frame{buf.data() + kHeadroom, static_cast<uint32_t>(in.size()), headroom};
        return process(cfg, t, nt, *st, f);
    }
    Bytes out() const { return Bytes(f.data, f.data + f.len); }
    uint64_t c(int counter) const { return st->cnt[t.services.at(0).slot][counter].get(); }
    uint64_t g(int counter) const { return st->g[counter].get(); }
};

Pkt6 expect_to(const Pkt6& in, int be)
{
    Pkt6 e = in;
    e.daddr = kDip[be];
    e.dst = be_mac(be);
    e.src = kPortMac;
    return e;
}

Pkt6 capable()
{
    Pkt6 p;
    p.tcpopts = cat(kMss, opt6(kVip));
    return p;
}

}  // namespace

TEST_F(Fixture6, CapableSynGoesToDipWithOptionNamingVipRoundRobin)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP);
    Pkt6 in = capable();
    in.tcpopts = cat(kMss, opt6(a6(0x99, 0x77)));  // the client named another address
    for (int n = 0; n < 6; n++) {
        in.sport = static_cast<uint16_t>(40000 + n);
        ASSERT_EQ(run(in.build()), Verdict::Tx);
        Pkt6 e = expect_to(in, n % 3);
        e.tcpopts = cat(kMss, opt6(kVip));
        EXPECT_EQ(out(), e.build()) << "SYN " << n;
    }
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED), 6u);
}

TEST_F(Fixture6, Rfc6994FormAndUnalignedOptionKeepTheChecksumRight)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP, 1);
    for (bool exp : {false, true}) {
        cfg.opt.kind = exp ? CRAB_OPT_KIND_EXP : CRAB_OPT_KIND_DEFAULT;
        auto opt = [&](const A16& a) {
            Bytes o = {1};  // the option at an odd offset
            if (exp)
                o.insert(o.end(), {CRAB_OPT_KIND_EXP, 20, CRAB_OPT_EXID_DEFAULT >> 8, CRAB_OPT_EXID_DEFAULT & 0xff});
            else
                o.insert(o.end(), {CRAB_OPT_KIND_DEFAULT, 18});
            o.insert(o.end(), a.begin(), a.end());
            o.push_back(0);  // EOL
            while (o.size() % 4)
                o.push_back(0);
            return o;
        };
        Pkt6 in;
        in.tcpopts = opt(a6(5, 5));
        in.payload = {'d', 'a', 't', 'a', '!'};  // odd length
        ASSERT_EQ(run(in.build()), Verdict::Tx) << exp;
        Pkt6 e = expect_to(in, 0);
        e.tcpopts = opt(kVip);
        EXPECT_EQ(out(), e.build()) << exp;
    }
}

// The option's family is the segment's (docs/PROTOCOL.md 2): the IPv4
// form in an IPv6 SYN is a wrong length, the SYN is a legacy one.
TEST_F(Fixture6, Ipv4FormOptionInIpv6SynIsBadLength)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP);
    Pkt6 in;
    in.tcpopts = opt4(kVip);
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    EXPECT_EQ(c(CRAB_LB_CNT_OPT_BAD_LEN), 1u);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_LEGACY_DROP), 1u);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED), 0u);
    // The IPv4 form first, then a good IPv6 one: the first well-formed wins.
    in.tcpopts = cat(opt4(kVip), opt6(kVip));
    EXPECT_EQ(run(in.build()), Verdict::Tx);
    EXPECT_EQ(c(CRAB_LB_CNT_OPT_BAD_LEN), 2u);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED), 1u);
}

TEST_F(Fixture6, ExtensionHeadersAreWalkedToTcp)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP, 1);
    Pkt6 in = capable();
    in.ext = {{0, {1, 4, 0, 0, 0, 0}},         // hop-by-hop: PadN
              {43, {0, 0, 0, 0, 0, 0}},        // routing type 0, segments left 0
              {60, {1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}};  // destination options, 16 bytes
    ASSERT_EQ(run(in.build()), Verdict::Tx);
    EXPECT_EQ(out(), expect_to(in, 0).build());
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED), 1u);
}

TEST_F(Fixture6, ExtensionHeaderChainLongerThanTheBoundIsDropped)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP, 1);
    Pkt6 in = capable();
    for (unsigned i = 0; i < kMaxExtHdrs; i++)
        in.ext.push_back({60, {1, 4, 0, 0, 0, 0}});
    ASSERT_EQ(run(in.build()), Verdict::Tx);  // exactly the bound: walked
    in.ext.push_back({60, {1, 4, 0, 0, 0, 0}});
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    EXPECT_EQ(g(G_EXT_HDR_LIMIT), 1u);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED), 1u);
}

TEST_F(Fixture6, FragmentsToAVipAreDropped)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_HASH, 1);
    Pkt6 in = capable();
    in.ext = {{44, {0, 0, 0, 0, 0, 1}}};  // first fragment of a SYN, offset 0, M = 0 (atomic)
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    in.ext = {{60, {1, 4, 0, 0, 0, 0}}, {44, {0x01, 0x01, 0, 0, 0, 2}}};  // a later one, behind options
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    EXPECT_EQ(c(CRAB_LB_CNT_FRAGMENT), 2u);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED) + c(CRAB_LB_CNT_SYN_HASHED), 0u);
}

TEST_F(Fixture6, BrokenHeadersToAVipAreDroppedAsBadL3)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP, 1);
    Pkt6 in = capable();
    // A routing header with segments left: the VIP is not the final
    // destination (whose address the checksum covers): not the LB's
    // packet, passed to the stack untouched (as by the XDP LB), not counted.
    in.ext = {{43, {0, 1, 0, 0, 0, 0}}};
    EXPECT_EQ(run(in.build()), Verdict::Pass);
    EXPECT_EQ(g(G_BAD_L3), 0u);
    // Hop-by-hop options after another header.
    in.ext = {{60, {1, 4, 0, 0, 0, 0}}, {0, {1, 4, 0, 0, 0, 0}}};
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    // A payload length past the frame.
    Bytes b = capable().build();
    b[14 + 5] = static_cast<uint8_t>(b[14 + 5] + 1);
    EXPECT_EQ(run(b), Verdict::Drop);
    // Not version 6.
    b = capable().build();
    b[14] = 0x40;
    EXPECT_EQ(run(b), Verdict::Drop);
    EXPECT_EQ(g(G_BAD_L3), 3u);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED), 0u);
}

TEST_F(Fixture6, EveryTruncationIsDroppedOrPassedNeverForwarded)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_INSERT, 1);
    Pkt6 in = capable();
    in.ext = {{0, {1, 4, 0, 0, 0, 0}}, {60, {1, 4, 0, 0, 0, 0}}};
    in.payload = {1, 2, 3};
    Bytes full = in.build();
    for (size_t n = 0; n < full.size(); n++) {
        Bytes b(full.begin(), full.begin() + static_cast<long>(n));
        EXPECT_NE(run(b), Verdict::Tx) << n;
    }
    EXPECT_EQ(run(full), Verdict::Tx);
}

TEST_F(Fixture6, OtherTrafficPasses)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_HASH, 1);
    Pkt6 in = capable();
    in.daddr = a6(2);  // not a VIP
    EXPECT_EQ(run(in.build()), Verdict::Pass);
    in = capable();
    in.dport = 81;  // not a service port
    EXPECT_EQ(run(in.build()), Verdict::Pass);
    Bytes b = capable().build();
    b[14 + 6] = 58;  // ICMPv6 to the VIP
    EXPECT_EQ(run(b), Verdict::Pass);
    in = capable();
    in.dst = {0x33, 0x33, 0, 0, 0, 1};  // not our MAC
    EXPECT_EQ(run(in.build()), Verdict::Pass);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_REDIRECTED), 0u);
}

TEST_F(Fixture6, InsertModeGrowsTheHeaderBy20)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_INSERT, 1);
    Pkt6 in;
    in.ext = {{60, {1, 4, 0, 0, 0, 0}}};
    in.tcpopts = kMss;
    in.payload = {1, 2, 3};
    Bytes b = in.build();
    b.insert(b.end(), {0, 0, 0});  // Ethernet padding: not part of the output
    ASSERT_EQ(run(b), Verdict::Tx);
    Pkt6 e = expect_to(in, 0);
    e.tcpopts = cat(opt6(kVip), kMss);  // first in the option space
    EXPECT_EQ(out(), e.build());
    EXPECT_EQ(f.headroom, kHeadroom - 20);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_INSERTED), 1u);
}

TEST_F(Fixture6, InsertWithoutRoomIsRefusedAndCounted)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_INSERT, 1);
    Pkt6 in;
    in.tcpopts = Bytes(24, 1);  // 20 + 24 + 20 > 60: doff would pass 15
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    in.tcpopts = Bytes(20, 1);  // just fits
    EXPECT_EQ(run(in.build()), Verdict::Tx);
    EXPECT_EQ(c(CRAB_LB_CNT_NO_ROOM), 1u);

    in.tcpopts = kMss;
    in.payload = Bytes(1500 - 40 - 24 - 20 + 1, 7);  // the grown packet passes the MTU by 1
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    in.payload.pop_back();
    EXPECT_EQ(run(in.build()), Verdict::Tx);
    EXPECT_EQ(c(CRAB_LB_CNT_NO_ROOM), 2u);

    in.payload.clear();
    EXPECT_EQ(run(in.build(), 19), Verdict::Drop);  // headroom
    EXPECT_EQ(c(CRAB_LB_CNT_NO_ROOM), 3u);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_INSERTED), 2u);
}

// Hash mode: the backend is the shared model's pick over the IPv6 5-tuple
// (crab_lb_pick_flow6(), which the XDP LB runs); only L2 changes.
TEST_F(Fixture6, HashModePicksTheModelsBackendForSynAndNonSyn)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_HASH, 3);
    const Service& s = t.services[0];
    int seen[3] = {};
    for (int n = 0; n < 60; n++) {
        Pkt6 in;
        in.sport = static_cast<uint16_t>(1024 + 977 * n);
        in.saddr = a6(static_cast<uint16_t>(0x100 + n), 0);
        for (uint8_t flags : {uint8_t{0x02}, uint8_t{0x10}}) {
            in.flags = flags;
            Bytes b = in.build();
            ASSERT_EQ(run(b), Verdict::Tx);
            __be32 sa[4], da[4];
            std::memcpy(sa, b.data() + 14 + 8, 16);
            std::memcpy(da, b.data() + 14 + 24, 16);
            __be16 sp, dp;
            std::memcpy(&sp, b.data() + 54, 2);
            std::memcpy(&dp, b.data() + 56, 2);
            uint8_t id = crab_lb_pick_flow6(&s.tables, sa, da, sp, dp, flags == 0x02);
            ASSERT_LT(id, 3);
            Pkt6 e = in;
            e.dst = be_mac(id);
            e.src = kPortMac;
            EXPECT_EQ(out(), e.build()) << n;
            seen[id]++;
        }
    }
    EXPECT_GT(seen[0], 0);
    EXPECT_GT(seen[1], 0);
    EXPECT_GT(seen[2], 0);
    EXPECT_EQ(c(CRAB_LB_CNT_SYN_HASHED), 60u);
    EXPECT_EQ(c(CRAB_LB_CNT_NONSYN_HASHED), 60u);
}

TEST_F(Fixture6, NonSynOutsideHashModeIsDropped)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_INSERT, 1);
    Pkt6 in = capable();
    in.flags = 0x12;  // SYN-ACK
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    in.flags = 0x10;
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    EXPECT_EQ(c(CRAB_LB_CNT_NONSYN_DROP), 2u);
}

TEST_F(Fixture6, BackendMacFromTheNeighbourTableOrDropped)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP, 1, false);
    Pkt6 in = capable();
    EXPECT_EQ(run(in.build()), Verdict::Drop);
    EXPECT_EQ(g(G_NO_NEIGH), 1u);
    EXPECT_EQ(c(CRAB_LB_CNT_TX_ERROR), 1u);
    ASSERT_EQ(nt.want(addr(kDip[0]), 0), NeighTable::Want::Send);
    ASSERT_EQ(nt.learn(addr(kDip[0]), be_mac(0), 1), NeighTable::Learn::Learned);
    ASSERT_EQ(run(in.build()), Verdict::Tx);
    EXPECT_EQ(out(), expect_to(in, 0).build());
}

// An IPv4 SYN to an IPv4 VIP whose number equals an IPv6 VIP's last word
// is not the IPv6 service's, and the other way round.
TEST_F(Fixture6, FamiliesDoNotMix)
{
    svc(CRAB_POLICY_RR, CRAB_LEGACY_DROP, 1);
    BackendSpec b;
    b.svc = {addr(kVip), 80};
    b.dip = Addr(0xC6120015u);
    EXPECT_THROW(backend_add(t, b), crab::Error);
    ServiceSpec s4;
    s4.ep = {Addr(addr(kVip).w[3]), 80};
    service_add(t, s4);
    EXPECT_EQ(t.find(Addr(addr(kVip).w[3]), 80)->vip.v6, false);
    EXPECT_EQ(t.find(addr(kVip), 80)->vip.v6, true);
}

TEST(Config6, ParsesIpv6ServicesAndBackendsAndRefusesBadOnes)
{
    ServiceSpec s = parse_service_spec("[2001:db8:100::1]:80,policy=random,legacy=hash");
    EXPECT_TRUE(s.ep.ip.v6);
    EXPECT_EQ(s.ep.ip, addr(kVip));
    EXPECT_EQ(s.ep.port, 80);
    EXPECT_EQ(to_string(s.ep), "[2001:db8:100::1]:80");
    BackendSpec b = parse_backend_spec("[2001:db8:100::1]:80,2001:db8::21,weight=3,mac=02:00:00:00:00:21");
    EXPECT_EQ(b.dip, addr(kDip[0]));
    EXPECT_EQ(b.weight, 3);
    auto [ep, dip] = parse_service_dip("[2001:db8:100::1]:80,2001:db8::22");
    EXPECT_EQ(dip, addr(kDip[1]));
    EXPECT_EQ(parse_service_addr("198.18.100.1:80").ip.v6, false);
    for (const char* bad : {"[2001:db8::1]", "[2001:db8::1]80", "2001:db8::1:80", "[2001:db8::zz]:80", "[]:80",
                            "[1.2.3.4]:80", "[ff02::1]:80", "[::]:80", "[::ffff:1.2.3.4]:80", "[::1]:80", "[fe80::1]:80",
                            "[2001:db8::1]:0",
                            "[2001:db8::1]:65536"})
        EXPECT_THROW(parse_service_spec(bad), crab::Error) << bad;
    EXPECT_THROW(parse_backend_spec("[2001:db8::1]:80,2001:db8::1::2"), crab::Error);
}
