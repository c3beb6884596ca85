// SPDX-License-Identifier: GPL-2.0-only
// The DPDK LB's policies at their edges (docs/PROTOCOL.md 5): round robin
// goes on in order where a 32-bit position would wrap, and random draws
// from a full-width source with a split no narrower source gives. Input
// frames come from the shared packet builder (crab/pktbuild.hpp); which
// backend a SYN went to is read from its destination MAC.
#include <gtest/gtest.h>

#include <crab/pktbuild.hpp>

#include <array>
#include <bit>
#include <memory>
#include <set>

#include "config.hpp"
#include "lb_core.hpp"

using namespace crab::lb_dpdk;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr uint32_t kVip = 0xC6126401;  // 198.18.100.1
constexpr uint32_t kCli = 0xC6120002;  // 198.18.0.2
const Mac kPortMac = {0x02, 0, 0, 0, 0, 0x01};
const Mac kCliMac = {0x02, 0, 0, 0, 0, 0x02};
Mac be_mac(int i) { return {0x02, 0, 0, 0, 1, static_cast<uint8_t>(i)}; }

struct Policies : ::testing::Test {
    Config cfg;
    Table t;
    NeighTable nt;
    std::unique_ptr<LcoreState> st = std::make_unique<LcoreState>();
    Bytes buf;

    void SetUp() override { cfg.port_mac = kPortMac; }

    void svc(crab_policy p, std::vector<uint16_t> weights)
    {
        ServiceSpec s;
        s.ep = {{kVip}, 80};
        s.policy = p;
        service_add(t, s);
        for (size_t i = 0; i < weights.size(); i++) {
            BackendSpec b;
            b.svc = s.ep;
            b.dip = {0xC612000Bu + static_cast<uint32_t>(i)};
            b.weight = weights[i];
            b.mac = be_mac(static_cast<int>(i));
            backend_add(t, b);
        }
    }

    // A capable SYN from source port @sport; the index of the backend it
    // was sent to, or -1 when it was not sent.
    int syn(uint16_t sport)
    {
        crab::pkt::Segment s;
        s.saddr = kCli;
        s.daddr = kVip;
        s.sport = sport;
        s.dport = 80;
        s.tcp_opts = {2, 4, 0x05, 0xb4, 1, 1, CRAB_OPT_KIND_DEFAULT, 6, 198, 18, 100, 1};
        Bytes ip = crab::pkt::build_segment(s);
        buf.assign(64, 0);  // headroom
        buf.insert(buf.end(), kPortMac.begin(), kPortMac.end());
        buf.insert(buf.end(), kCliMac.begin(), kCliMac.end());
        buf.push_back(0x08);
        buf.push_back(0x00);
        buf.insert(buf.end(), ip.begin(), ip.end());
        Frame f{buf.data() + 64, static_cast<uint32_t>(buf.size() - 64), 64};
        if (process(cfg, t, nt, *st, f) != Verdict::Tx)
            return -1;
        return f.data[5];
    }
};

}  // namespace

// The position starts 2 short of 2^32: the SYNs go on 2 0 1 2 0 1, where
// a 32-bit position would wrap to 0 after two of them (2 0 0 1 2 0).
TEST_F(Policies, RoundRobinGoesOnInOrderAcross2To32)
{
    svc(CRAB_POLICY_RR, {1, 1, 1});
    const uint64_t start = (uint64_t{1} << 32) - 2;
    st->rr[0].pos = start;
    for (uint16_t k = 0; k < 6; k++)
        EXPECT_EQ(syn(static_cast<uint16_t>(40000 + k)), static_cast<int>((start + k) % 3)) << "SYN " << k;
    EXPECT_EQ(st->rr[0].pos, start + 6);
}

// Weighted round robin uses the same position over its ring (weights 1:2,
// ring B A B): in order across 2^32 too.
TEST_F(Policies, WeightedRoundRobinGoesOnInOrderAcross2To32)
{
    svc(CRAB_POLICY_WRR, {1, 2});
    const Service* s = t.find(kVip, 80);
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(s->tables.nwrr, 3u);
    const uint64_t start = (uint64_t{1} << 32) - 2;
    st->rr[0].pos = start;
    for (uint16_t k = 0; k < 6; k++)
        EXPECT_EQ(syn(static_cast<uint16_t>(41000 + k)), s->tables.wrr[(start + k) % 3]) << "SYN " << k;
}

// The pick follows the 64-bit position whatever the table: a backend
// added, one drained, the service switched to wrr and back, the position
// set from outside; each SYN goes where crab_lb_pick() sends that
// position over the table of the moment (the remainder kept beside the
// position is worked out again whenever the table's length changes).
TEST_F(Policies, RoundRobinFollowsThePositionAcrossTableChanges)
{
    svc(CRAB_POLICY_RR, {1, 1, 1});
    uint64_t pos = 0;
    auto expect = [&](int k, const char* what) {
        const Service* s = t.find(kVip, 80);
        ASSERT_NE(s, nullptr);
        int want = crab_lb_pick(&s->tables, s->policy, pos, 0);
        EXPECT_EQ(syn(static_cast<uint16_t>(42000 + pos)), want) << what << ", SYN " << k << ", position " << pos;
        pos++;
    };
    for (int k = 0; k < 5; k++)
        expect(k, "3 backends");
    BackendSpec b;
    b.svc = {{kVip}, 80};
    b.dip = {0xC612000Bu + 3};
    b.mac = be_mac(3);
    backend_add(t, b);
    for (int k = 0; k < 6; k++)
        expect(k, "a 4th added");
    backend_set_state(t, b.svc, {0xC612000Bu + 1}, CRAB_BACKEND_DRAINING);
    for (int k = 0; k < 5; k++)
        expect(k, "one of 4 draining");
    ServiceUpdate u;
    u.ep = b.svc;
    u.policy = CRAB_POLICY_WRR;
    service_set(t, u);
    for (int k = 0; k < 4; k++)
        expect(k, "wrr");
    u.policy = CRAB_POLICY_RR;
    service_set(t, u);
    pos = st->rr[0].pos = 1000;  // the position set from outside
    for (int k = 0; k < 4; k++)
        expect(k, "position set to 1000");
    EXPECT_EQ(st->rr[0].pos, pos);
}

// The random source is 64 bits wide: over 4096 draws every bit is set in
// 40-60 % of them and the upper 32 bits almost never repeat. A 16- or
// 32-bit source leaves the upper bits at zero.
TEST_F(Policies, RandomSourceIsFullWidth)
{
    uint64_t s = 0x1234;
    std::array<int, 64> ones{};
    std::set<uint32_t> high;
    for (int i = 0; i < 4096; i++) {
        uint64_t r = next_random(s);
        for (int b = 0; b < 64; b++)
            ones[b] += (r >> b) & 1;
        high.insert(static_cast<uint32_t>(r >> 32));
    }
    for (int b = 0; b < 64; b++) {
        EXPECT_GT(ones[b], 4096 * 40 / 100) << "bit " << b;
        EXPECT_LT(ones[b], 4096 * 60 / 100) << "bit " << b;
    }
    EXPECT_GE(high.size(), 4090u);
}

// 30000 SYNs over three backends from a fixed seed (deterministic):
// chi-square with 2 degrees of freedom under 18.42 (p = 0.0001 for a fair
// split). The split scales the draw by its top bits (Lemire): a source
// narrower than 64 bits sends everything to backend 0.
TEST_F(Policies, RandomSplitPassesChiSquare)
{
    svc(CRAB_POLICY_RANDOM, {1, 1, 1});
    st->rng = 0x5eed;
    std::array<int, 3> n{};
    const int total = 30000;
    for (int k = 0; k < total; k++) {
        int b = syn(static_cast<uint16_t>(1024 + k % 60000));
        ASSERT_GE(b, 0);
        ASSERT_LT(b, 3);
        n[b]++;
    }
    double chi = 0, e = total / 3.0;
    for (int v : n)
        chi += (v - e) * (v - e) / e;
    EXPECT_LT(chi, 18.42) << n[0] << " " << n[1] << " " << n[2];
}
