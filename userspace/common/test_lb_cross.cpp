// SPDX-License-Identifier: GPL-2.0-only
// The three LBs decide alike (docs/PROTOCOL.md 5): for the same service and
// the same flows, hash mode sends every packet to the same backend in the
// netfilter module, the XDP program and the DPDK LB, before and after a
// backend is drained, added and removed; a new flow never starts on a
// draining backend; rr and wrr walk the backends in the same order. For an
// IPv6 service, the same hash steps with IPv6 flows and backends.
//
// Each LB's own code builds its tables, kept the way that LB keeps its
// backend set across changes:
//   netfilter  lb_nf_tables_build() (lb/netfilter/lb_nf_tables.h, what
//              the module runs) over an array that appends on add and
//              closes the gap on delete, as lb_nf_svc.c does; the data
//              path's crab_lb_pick_flow() / crab_lb_pick() over it;
//   XDP        crab::xdp::build_gen_tables() (crab/lb_tables.hpp, what
//              crabctl publishes) over slots taken first-free and cleared
//              on delete, as cmd_lb_xdp.cpp does; the program's
//              crab_lb_pick_flow() / crab_lb_pick() over it;
//   DPDK       the LB core itself: its control-plane edits (config.hpp)
//              and process() on whole Ethernet frames, the backend read
//              from the destination MAC of the frame it sends.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "config.hpp"
#include "crab/lb_tables.hpp"
#include "crab/pktbuild.hpp"
#include "lb_core.hpp"

extern "C" {
#include "lb_nf_tables.h"
}

namespace {

constexpr uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 | static_cast<uint32_t>(c) << 8 | d;
}

const uint32_t kVip = ip4(198, 18, 100, 1);
const uint16_t kPort = 80;
const crab::lb_dpdk::Mac kPortMac = {0x02, 0, 0, 0, 0, 0x01};

// A backend's MAC names its address: the DPDK LB's choice is read off the
// frame it sends.
crab::lb_dpdk::Mac mac_of(uint32_t dip)
{
    return {0x02, 0x42, static_cast<uint8_t>(dip >> 24), static_cast<uint8_t>(dip >> 16),
            static_cast<uint8_t>(dip >> 8), static_cast<uint8_t>(dip)};
}

constexpr uint32_t kNone = 0;          // no backend / dropped
constexpr uint32_t kDrainDrop = 1;     // SYN refused: the flow maps to a draining backend

struct Flow {
    uint32_t saddr;
    uint16_t sport;
};

// ---- the nf LB's backend array ------------------------------------
struct NfLb {
    std::vector<lb_be> be;  // the module's be[], in its order
    crab_lb_tables t{};
    crab_lb_backend in[CRAB_MAX_BACKENDS];
    crab_lb_work wk;

    void rebuild() { ASSERT_EQ(lb_nf_tables_build(&t, in, &wk, be.data(), static_cast<uint32_t>(be.size())), 0); }
    void add(uint32_t dip, uint16_t w)
    {
        be.push_back({{0, 0, 0, htonl(dip)}, w, CRAB_BACKEND_ACTIVE, static_cast<uint8_t>(be.size())});
        rebuild();
    }
    void drain(uint32_t dip)
    {
        for (auto& b : be)
            if (b.dip[3] == htonl(dip))
                b.state = CRAB_BACKEND_DRAINING;
        rebuild();
    }
    void del(uint32_t dip)
    {
        be.erase(std::remove_if(be.begin(), be.end(), [&](const lb_be& b) { return b.dip[3] == htonl(dip); }),
                 be.end());
        rebuild();
    }
    uint32_t dip(uint8_t id) const
    {
        if (id == CRAB_LB_DRAINING)
            return kDrainDrop;
        return id < be.size() ? ntohl(be[id].dip[3]) : kNone;
    }
    uint32_t hash(const Flow& f, bool syn) const
    {
        return dip(crab_lb_pick_flow(&t, htonl(f.saddr), htonl(kVip), htons(f.sport), htons(kPort), syn));
    }
    uint32_t policy(uint8_t pol, uint64_t pos) const { return dip(crab_lb_pick(&t, pol, pos, 0)); }
};

// ---- the XDP LB's generation -------------------------------------------------
struct XdpLb {
    std::unique_ptr<crab_xdp_gen> g = std::make_unique<crab_xdp_gen>();

    XdpLb()
    {
        std::memset(g.get(), 0, sizeof(*g));
        crab::xdp::build_gen_tables(*g);
    }
    int slot_of(uint32_t dip) const
    {
        for (int s = 0; s < CRAB_MAX_BACKENDS; s++)
            if ((g->be[s].flags & CRAB_XDP_BE_VALID) && g->be[s].dip[0] == htonl(dip))
                return s;
        return -1;
    }
    void add(uint32_t dip, uint16_t w)
    {
        int s = 0;
        while (g->be[s].flags & CRAB_XDP_BE_VALID)
            s++;
        std::memset(&g->be[s], 0, sizeof(g->be[s]));
        g->be[s].dip[0] = htonl(dip);
        g->be[s].flags = CRAB_XDP_BE_VALID;
        g->be[s].weight = static_cast<uint8_t>(w);
        crab::xdp::build_gen_tables(*g);
    }
    void drain(uint32_t dip)
    {
        g->be[slot_of(dip)].state = CRAB_BACKEND_DRAINING;
        crab::xdp::build_gen_tables(*g);
    }
    void del(uint32_t dip)
    {
        std::memset(&g->be[slot_of(dip)], 0, sizeof(g->be[0]));
        crab::xdp::build_gen_tables(*g);
    }
    uint32_t dip(uint8_t id) const
    {
        if (id == CRAB_LB_DRAINING)
            return kDrainDrop;
        if (id >= CRAB_MAX_BACKENDS || !(g->be[id].flags & CRAB_XDP_BE_VALID))
            return kNone;
        return ntohl(g->be[id].dip[0]);
    }
    uint32_t hash(const Flow& f, bool syn) const
    {
        return dip(crab_lb_pick_flow(&g->t, htonl(f.saddr), htonl(kVip), htons(f.sport), htons(kPort), syn));
    }
    uint32_t policy(uint8_t pol, uint64_t pos) const { return dip(crab_lb_pick(&g->t, pol, pos, 0)); }
};

// ---- the DPDK LB -------------------------------------------------------------
struct DpdkLb {
    crab::lb_dpdk::Config cfg;
    crab::lb_dpdk::Table t;
    crab::lb_dpdk::NeighTable nt;
    std::unique_ptr<crab::lb_dpdk::LcoreState> st = std::make_unique<crab::lb_dpdk::LcoreState>();
    crab::Endpoint ep{{kVip}, kPort};

    explicit DpdkLb(crab_policy pol = CRAB_POLICY_RR, crab_legacy_mode leg = CRAB_LEGACY_HASH)
    {
        cfg.port_mac = kPortMac;
        crab::lb_dpdk::ServiceSpec s;
        s.ep = ep;
        s.policy = pol;
        s.legacy = leg;
        crab::lb_dpdk::service_add(t, s);
    }
    void add(uint32_t dip, uint16_t w)
    {
        crab::lb_dpdk::BackendSpec b;
        b.svc = ep;
        b.dip = {dip};
        b.weight = w;
        b.mac = mac_of(dip);
        crab::lb_dpdk::backend_add(t, b);
    }
    void drain(uint32_t dip) { crab::lb_dpdk::backend_set_state(t, ep, {dip}, CRAB_BACKEND_DRAINING); }
    void del(uint32_t dip) { crab::lb_dpdk::backend_del(t, ep, {dip}); }
    uint64_t cnt(int c) const { return st->cnt[t.services[0].slot][c].get(); }

    // The backend a frame went to, kDrainDrop for a SYN dropped and counted
    // as syn_hash_draining, kNone for any other drop.
    uint32_t send(const crab::pkt::Segment& seg)
    {
        std::vector<uint8_t> ip = crab::pkt::build_segment(seg);
        std::vector<uint8_t> buf(64, 0);
        buf.insert(buf.end(), kPortMac.begin(), kPortMac.end());
        buf.insert(buf.end(), {0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00});
        buf.insert(buf.end(), ip.begin(), ip.end());
        crab::lb_dpdk::Frame f{buf.data() + 64, static_cast<uint32_t>(buf.size() - 64), 64};
        uint64_t before = cnt(CRAB_LB_CNT_SYN_HASH_DRAINING);
        crab::lb_dpdk::Verdict v = crab::lb_dpdk::process(cfg, t, nt, *st, f);
        if (v != crab::lb_dpdk::Verdict::Tx)
            return cnt(CRAB_LB_CNT_SYN_HASH_DRAINING) == before + 1 ? kDrainDrop : kNone;
        const uint8_t* m = f.data;
        return static_cast<uint32_t>(m[2]) << 24 | m[3] << 16 | m[4] << 8 | m[5];
    }
    uint32_t hash(const Flow& f, bool syn)
    {
        crab::pkt::Segment s;
        s.saddr = f.saddr;
        s.daddr = kVip;
        s.sport = f.sport;
        s.dport = kPort;
        s.flags = syn ? crab::pkt::kTcpSyn : crab::pkt::kTcpAck;
        s.seq = 1000;
        s.ack = syn ? 0 : 2000;
        return send(s);
    }
    // A SYN with the redirect option: the policy's pick (daddr rewritten
    // to it), the lcore's rr position advancing by one.
    uint32_t redirect()
    {
        crab::pkt::Segment s;
        s.saddr = ip4(198, 18, 0, 10);
        s.daddr = kVip;
        s.sport = 40000;
        s.dport = kPort;
        s.tcp_opts.resize(TCPOLEN_CRAB_ALIGNED);
        crab_opt_write(s.tcp_opts.data(), &cfg.opt, kVip);
        return send(s);
    }
};

std::vector<Flow> flows(size_t n)
{
    std::mt19937 rng(20261206);
    std::vector<Flow> v;
    for (size_t i = 0; i < n; i++)
        v.push_back({ip4(198, 18, static_cast<uint8_t>(rng() % 4), static_cast<uint8_t>(1 + rng() % 250)),
                     static_cast<uint16_t>(1024 + rng() % 64000)});
    return v;
}

struct Picks {
    std::vector<uint32_t> syn, ack;
};

// Every flow's SYN and ACK through the three LBs: they must agree; the
// common answer is returned.
Picks all_agree(NfLb& nf, XdpLb& xdp, DpdkLb& dpdk, const std::vector<Flow>& fl, const char* step)
{
    Picks p;
    for (size_t i = 0; i < fl.size(); i++) {
        for (bool syn : {true, false}) {
            uint32_t a = nf.hash(fl[i], syn), b = xdp.hash(fl[i], syn), c = dpdk.hash(fl[i], syn);
            EXPECT_EQ(a, b) << step << ": flow " << i << (syn ? " SYN" : " ACK") << ": netfilter vs XDP";
            EXPECT_EQ(a, c) << step << ": flow " << i << (syn ? " SYN" : " ACK") << ": netfilter vs DPDK";
            (syn ? p.syn : p.ack).push_back(a);
        }
    }
    return p;
}

size_t count(const std::vector<uint32_t>& v, uint32_t x) { return static_cast<size_t>(std::count(v.begin(), v.end(), x)); }

}  // namespace

// The backend set changes as an operator changes it: 6 backends with
// different weights, one drained, one added, the drained one removed, one
// more removed from the middle of every LB's array. After each step all
// three LBs send every flow's SYN and ACK to the same backend, and the
// flows behave as the model says.
TEST(CrossLb, HashModeSameBackendThroughDrainAddRemove)
{
    NfLb nf;
    XdpLb xdp;
    DpdkLb dpdk;
    const auto fl = flows(3000);
    std::vector<uint32_t> dips;
    for (int i = 0; i < 6; i++) {
        dips.push_back(ip4(10, 1, static_cast<uint8_t>(i * 37 % 5), static_cast<uint8_t>(10 + i * 13)));
        uint16_t w = static_cast<uint16_t>(1 + i % 3);
        nf.add(dips.back(), w);
        xdp.add(dips.back(), w);
        dpdk.add(dips.back(), w);
    }
    Picks p0 = all_agree(nf, xdp, dpdk, fl, "6 backends");
    ASSERT_EQ(p0.syn, p0.ack);
    for (uint32_t d : dips)
        EXPECT_GT(count(p0.ack, d), fl.size() / 12) << "backend " << d << " barely used";
    EXPECT_EQ(count(p0.ack, kNone), 0u);

    // Drain the third: its flows' packets still reach it, their SYNs (new
    // flows) are refused; every other flow is untouched.
    const uint32_t drained = dips[2];
    nf.drain(drained);
    xdp.drain(drained);
    dpdk.drain(drained);
    Picks p1 = all_agree(nf, xdp, dpdk, fl, "drained");
    EXPECT_EQ(p1.ack, p0.ack);
    for (size_t i = 0; i < fl.size(); i++)
        EXPECT_EQ(p1.syn[i], p0.ack[i] == drained ? kDrainDrop : p0.ack[i]) << "flow " << i;
    EXPECT_GT(count(p1.syn, kDrainDrop), 0u);

    // Add a backend (at the end of the nf array, the first free XDP slot):
    // it takes about 1/7 of the flows, few move between the old ones
    // (Maglev's disruption is small, not zero); the drained one keeps
    // most of its flows.
    const uint32_t added = ip4(10, 1, 9, 99);
    nf.add(added, 2);
    xdp.add(added, 2);
    dpdk.add(added, 2);
    Picks p2 = all_agree(nf, xdp, dpdk, fl, "added");
    size_t to_new = 0, between_old = 0;
    for (size_t i = 0; i < fl.size(); i++)
        if (p2.ack[i] == added)
            to_new++;
        else if (p2.ack[i] != p1.ack[i])
            between_old++;
    EXPECT_GT(to_new, fl.size() / 10);
    EXPECT_LT(to_new, fl.size() / 5);
    EXPECT_LT(between_old, fl.size() / 20);
    EXPECT_GT(count(p2.ack, drained), count(p1.ack, drained) / 2);

    // Remove the drained one: its flows go elsewhere, the others mostly stay.
    nf.del(drained);
    xdp.del(drained);
    dpdk.del(drained);
    Picks p3 = all_agree(nf, xdp, dpdk, fl, "drained one removed");
    EXPECT_EQ(p3.syn, p3.ack);
    EXPECT_EQ(count(p3.ack, drained), 0u);
    size_t others_moved = 0;
    for (size_t i = 0; i < fl.size(); i++)
        if (p2.ack[i] != drained && p3.ack[i] != p2.ack[i])
            others_moved++;
    EXPECT_LT(others_moved, fl.size() / 20);

    // Remove one from the middle (the nf array closes the gap, the XDP slot
    // is left empty, then re-used): still one answer.
    nf.del(dips[1]);
    xdp.del(dips[1]);
    dpdk.del(dips[1]);
    all_agree(nf, xdp, dpdk, fl, "second removal");
    const uint32_t readded = ip4(10, 1, 7, 7);
    nf.add(readded, 1);
    xdp.add(readded, 1);
    dpdk.add(readded, 1);
    EXPECT_EQ(xdp.slot_of(readded), 1);  // the freed slot: ids differ between the LBs
    all_agree(nf, xdp, dpdk, fl, "slot re-used");

    // Everything drained: hashed flows go on, no new flow starts.
    for (uint32_t d : {dips[0], dips[3], dips[4], dips[5], added, readded}) {
        nf.drain(d);
        xdp.drain(d);
        dpdk.drain(d);
    }
    Picks p4 = all_agree(nf, xdp, dpdk, fl, "all drained");
    EXPECT_EQ(count(p4.syn, kDrainDrop), fl.size());
    EXPECT_EQ(count(p4.ack, kNone), 0u);
}

// rr and wrr: from the same position the three LBs walk the backends in the
// same order (the DPDK lcore's position starts at 0, as given here to the
// others), a drained backend skipped by all.
TEST(CrossLb, RoundRobinAndWeightedSameOrder)
{
    for (crab_policy pol : {CRAB_POLICY_RR, CRAB_POLICY_WRR}) {
        NfLb nf;
        XdpLb xdp;
        DpdkLb dpdk(pol, CRAB_LEGACY_DROP);
        std::vector<uint32_t> dips = {ip4(10, 2, 0, 30), ip4(10, 2, 0, 10), ip4(10, 2, 0, 20), ip4(10, 2, 1, 5)};
        // XDP slots and nf indices in another order than DPDK's list.
        for (size_t i = 0; i < dips.size(); i++) {
            uint16_t w = static_cast<uint16_t>(i + 1);
            nf.add(dips[dips.size() - 1 - i], static_cast<uint16_t>(dips.size() - i));
            dpdk.add(dips[i], w);
        }
        for (size_t i = 0; i < dips.size(); i++)
            xdp.add(dips[(i + 2) % dips.size()], static_cast<uint16_t>((i + 2) % dips.size() + 1));
        uint64_t pos = 0;
        std::map<uint32_t, int> seen;
        for (int k = 0; k < 40; k++, pos++) {
            uint32_t a = nf.policy(pol, pos), b = xdp.policy(pol, pos), c = dpdk.redirect();
            ASSERT_EQ(a, b) << crab::to_string(pol) << " position " << pos;
            ASSERT_EQ(a, c) << crab::to_string(pol) << " position " << pos;
            seen[a]++;
        }
        EXPECT_EQ(seen.size(), dips.size());
        if (pol == CRAB_POLICY_WRR) {  // weights 1..4 over 10 positions
            for (size_t i = 0; i < dips.size(); i++)
                EXPECT_EQ(seen[dips[i]], 4 * static_cast<int>(i + 1)) << crab::to_string(pol);
        }
        nf.drain(dips[2]);
        xdp.drain(dips[2]);
        dpdk.drain(dips[2]);
        for (int k = 0; k < 40; k++, pos++) {
            uint32_t a = nf.policy(pol, pos), b = xdp.policy(pol, pos), c = dpdk.redirect();
            ASSERT_EQ(a, b) << crab::to_string(pol) << " drained, position " << pos;
            ASSERT_EQ(a, c) << crab::to_string(pol) << " drained, position " << pos;
            ASSERT_NE(a, dips[2]);
            ASSERT_NE(a, kNone);
        }
    }
}

// ---- IPv6 ---------------------------------------------------------------------
// The same steps as above with an IPv6 service and IPv6 backends: the three
// LBs hash every IPv6 flow to the same backend, through drain, add and
// removal.
namespace {

using A16 = std::array<uint8_t, 16>;

// fd00:c4ab:NET::HOST
A16 a6(uint16_t net, uint16_t host)
{
    return {0xfd, 0x00, 0xc4, 0xab, static_cast<uint8_t>(net >> 8), static_cast<uint8_t>(net), 0, 0, 0, 0, 0, 0,
            0,    0,    static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host)};
}

const A16 kVip6 = a6(0x100, 1);
const A16 kNone6{};                                           // no backend / dropped
const A16 kDrainDrop6 = {0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};  // SYN refused: draining

struct Flow6 {
    A16 saddr;
    uint16_t sport;
};

// The nf LB's backend array with IPv6 backends (lb_be.dip: four words).
struct NfLb6 {
    std::vector<lb_be> be;
    crab_lb_tables t{};
    crab_lb_backend in[CRAB_MAX_BACKENDS];
    crab_lb_work wk;

    void rebuild() { ASSERT_EQ(lb_nf_tables_build(&t, in, &wk, be.data(), static_cast<uint32_t>(be.size())), 0); }
    static bool is(const lb_be& b, const A16& dip) { return !std::memcmp(b.dip, dip.data(), 16); }
    void add(const A16& dip, uint16_t w)
    {
        lb_be b{};
        std::memcpy(b.dip, dip.data(), 16);
        b.weight = w;
        b.state = CRAB_BACKEND_ACTIVE;
        b.slot = static_cast<uint8_t>(be.size());
        be.push_back(b);
        rebuild();
    }
    void drain(const A16& dip)
    {
        for (auto& b : be)
            if (is(b, dip))
                b.state = CRAB_BACKEND_DRAINING;
        rebuild();
    }
    void del(const A16& dip)
    {
        be.erase(std::remove_if(be.begin(), be.end(), [&](const lb_be& b) { return is(b, dip); }), be.end());
        rebuild();
    }
    A16 hash(const Flow6& f, bool syn) const
    {
        __be32 s[4], d[4];
        std::memcpy(s, f.saddr.data(), 16);
        std::memcpy(d, kVip6.data(), 16);
        uint8_t id = crab_lb_pick_flow6(&t, s, d, htons(f.sport), htons(kPort), syn);
        if (id == CRAB_LB_DRAINING)
            return kDrainDrop6;
        if (id >= be.size())
            return kNone6;
        A16 a;
        std::memcpy(a.data(), be[id].dip, 16);
        return a;
    }
};

struct XdpLb6 {
    std::unique_ptr<crab_xdp_gen> g = std::make_unique<crab_xdp_gen>();

    XdpLb6()
    {
        std::memset(g.get(), 0, sizeof(*g));
        crab::xdp::build_gen_tables(*g);
    }
    int slot_of(const A16& dip) const
    {
        for (int s = 0; s < CRAB_MAX_BACKENDS; s++)
            if ((g->be[s].flags & CRAB_XDP_BE_VALID) && !std::memcmp(g->be[s].dip, dip.data(), 16))
                return s;
        return -1;
    }
    void add(const A16& dip, uint16_t w)
    {
        int s = 0;
        while (g->be[s].flags & CRAB_XDP_BE_VALID)
            s++;
        std::memset(&g->be[s], 0, sizeof(g->be[s]));
        std::memcpy(g->be[s].dip, dip.data(), 16);
        g->be[s].flags = CRAB_XDP_BE_VALID | CRAB_XDP_BE_IPV6;
        g->be[s].weight = static_cast<uint8_t>(w);
        crab::xdp::build_gen_tables(*g);
    }
    void drain(const A16& dip)
    {
        g->be[slot_of(dip)].state = CRAB_BACKEND_DRAINING;
        crab::xdp::build_gen_tables(*g);
    }
    void del(const A16& dip)
    {
        std::memset(&g->be[slot_of(dip)], 0, sizeof(g->be[0]));
        crab::xdp::build_gen_tables(*g);
    }
    A16 hash(const Flow6& f, bool syn) const
    {
        __be32 s[4], d[4];
        std::memcpy(s, f.saddr.data(), 16);
        std::memcpy(d, kVip6.data(), 16);
        uint8_t id = crab_lb_pick_flow6(&g->t, s, d, htons(f.sport), htons(kPort), syn);
        if (id == CRAB_LB_DRAINING)
            return kDrainDrop6;
        if (id >= CRAB_MAX_BACKENDS || !(g->be[id].flags & CRAB_XDP_BE_VALID))
            return kNone6;
        A16 a;
        std::memcpy(a.data(), g->be[id].dip, 16);
        return a;
    }
};

struct DpdkLb6 {
    crab::lb_dpdk::Config cfg;
    crab::lb_dpdk::Table t;
    crab::lb_dpdk::NeighTable nt;
    std::unique_ptr<crab::lb_dpdk::LcoreState> st = std::make_unique<crab::lb_dpdk::LcoreState>();
    crab::lb_dpdk::ServiceAddr ep{crab::lb_dpdk::Addr::from6(kVip6.data()), kPort};
    std::map<crab::lb_dpdk::Mac, A16> by_mac;  // a backend's MAC: its index names it

    DpdkLb6()
    {
        cfg.port_mac = kPortMac;
        crab::lb_dpdk::ServiceSpec s;
        s.ep = ep;
        s.policy = CRAB_POLICY_RR;
        s.legacy = CRAB_LEGACY_HASH;
        crab::lb_dpdk::service_add(t, s);
    }
    void add(const A16& dip, uint16_t w)
    {
        crab::lb_dpdk::BackendSpec b;
        b.svc = ep;
        b.dip = crab::lb_dpdk::Addr::from6(dip.data());
        b.weight = w;
        crab::lb_dpdk::Mac m = {0x02, 0x66, 0, 0, 0, static_cast<uint8_t>(by_mac.size() + 1)};
        b.mac = m;
        by_mac[m] = dip;
        crab::lb_dpdk::backend_add(t, b);
    }
    void drain(const A16& dip)
    {
        crab::lb_dpdk::backend_set_state(t, ep, crab::lb_dpdk::Addr::from6(dip.data()), CRAB_BACKEND_DRAINING);
    }
    void del(const A16& dip) { crab::lb_dpdk::backend_del(t, ep, crab::lb_dpdk::Addr::from6(dip.data())); }
    uint64_t cnt(int c) const { return st->cnt[t.services[0].slot][c].get(); }

    // A bare SYN or ACK of the flow as an Ethernet frame (hash mode reads
    // the 5-tuple and the flags only).
    A16 hash(const Flow6& f, bool syn)
    {
        std::vector<uint8_t> buf(64, 0);
        buf.insert(buf.end(), kPortMac.begin(), kPortMac.end());
        buf.insert(buf.end(), {0x02, 0, 0, 0, 0, 0x0a, 0x86, 0xdd});
        buf.insert(buf.end(), {0x60, 0, 0, 0, 0, 20, 6, 64});
        buf.insert(buf.end(), f.saddr.begin(), f.saddr.end());
        buf.insert(buf.end(), kVip6.begin(), kVip6.end());
        std::vector<uint8_t> th(20, 0);
        th[0] = static_cast<uint8_t>(f.sport >> 8);
        th[1] = static_cast<uint8_t>(f.sport);
        th[2] = static_cast<uint8_t>(kPort >> 8);
        th[3] = static_cast<uint8_t>(kPort);
        th[7] = 1;
        if (!syn)
            th[11] = 1;
        th[12] = 5 << 4;
        th[13] = syn ? crab::pkt::kTcpSyn : crab::pkt::kTcpAck;
        th[14] = 0xfa;
        buf.insert(buf.end(), th.begin(), th.end());
        crab::lb_dpdk::Frame fr{buf.data() + 64, static_cast<uint32_t>(buf.size() - 64), 64};
        uint64_t before = cnt(CRAB_LB_CNT_SYN_HASH_DRAINING);
        if (crab::lb_dpdk::process(cfg, t, nt, *st, fr) != crab::lb_dpdk::Verdict::Tx)
            return cnt(CRAB_LB_CNT_SYN_HASH_DRAINING) == before + 1 ? kDrainDrop6 : kNone6;
        crab::lb_dpdk::Mac m;
        std::memcpy(m.data(), fr.data, 6);
        auto it = by_mac.find(m);
        return it == by_mac.end() ? kNone6 : it->second;
    }
};

std::vector<Flow6> flows6(size_t n)
{
    std::mt19937 rng(20261207);
    std::vector<Flow6> v;
    for (size_t i = 0; i < n; i++) {
        A16 s = a6(static_cast<uint16_t>(rng() % 4), static_cast<uint16_t>(1 + rng() % 60000));
        s[8] = static_cast<uint8_t>(rng());  // the hash reads every word
        v.push_back({s, static_cast<uint16_t>(1024 + rng() % 64000)});
    }
    return v;
}

struct Picks6 {
    std::vector<A16> syn, ack;
};

Picks6 agree6(NfLb6& nf, XdpLb6& xdp, DpdkLb6& dpdk, const std::vector<Flow6>& fl, const char* step)
{
    Picks6 p;
    for (size_t i = 0; i < fl.size(); i++) {
        for (bool syn : {true, false}) {
            A16 a = xdp.hash(fl[i], syn), b = dpdk.hash(fl[i], syn), n = nf.hash(fl[i], syn);
            EXPECT_EQ(a, b) << step << ": IPv6 flow " << i << (syn ? " SYN" : " ACK") << ": XDP vs DPDK";
            EXPECT_EQ(a, n) << step << ": IPv6 flow " << i << (syn ? " SYN" : " ACK") << ": XDP vs nf";
            (syn ? p.syn : p.ack).push_back(a);
        }
    }
    return p;
}

size_t count6(const std::vector<A16>& v, const A16& x) { return static_cast<size_t>(std::count(v.begin(), v.end(), x)); }

}  // namespace

TEST(CrossLb, Ipv6HashModeSameBackendThroughDrainAddRemove)
{
    NfLb6 nf;
    XdpLb6 xdp;
    DpdkLb6 dpdk;
    const auto fl = flows6(3000);
    std::vector<A16> dips;
    for (int i = 0; i < 5; i++) {
        dips.push_back(a6(static_cast<uint16_t>(1 + i % 2), static_cast<uint16_t>(0x10 + i * 7)));
        uint16_t w = static_cast<uint16_t>(1 + i % 3);
        xdp.add(dips.back(), w);
        dpdk.add(dips.back(), w);
        nf.add(dips.back(), w);
    }
    Picks6 p0 = agree6(nf, xdp, dpdk, fl, "5 backends");
    ASSERT_EQ(p0.syn, p0.ack);
    for (const A16& d : dips)
        EXPECT_GT(count6(p0.ack, d), fl.size() / 12) << "a backend barely used";
    EXPECT_EQ(count6(p0.ack, kNone6), 0u);

    xdp.drain(dips[1]);
    dpdk.drain(dips[1]);
    nf.drain(dips[1]);
    Picks6 p1 = agree6(nf, xdp, dpdk, fl, "drained");
    EXPECT_EQ(p1.ack, p0.ack);
    for (size_t i = 0; i < fl.size(); i++)
        EXPECT_EQ(p1.syn[i], p0.ack[i] == dips[1] ? kDrainDrop6 : p0.ack[i]) << "flow " << i;

    const A16 added = a6(9, 0x99);
    xdp.add(added, 2);
    dpdk.add(added, 2);
    nf.add(added, 2);
    Picks6 p2 = agree6(nf, xdp, dpdk, fl, "added");
    EXPECT_GT(count6(p2.ack, added), fl.size() / 10);

    xdp.del(dips[1]);
    dpdk.del(dips[1]);
    nf.del(dips[1]);
    Picks6 p3 = agree6(nf, xdp, dpdk, fl, "drained one removed");
    EXPECT_EQ(p3.syn, p3.ack);
    EXPECT_EQ(count6(p3.ack, dips[1]), 0u);

    // The freed XDP slot re-used by another backend: still one answer.
    const A16 readded = a6(7, 7);
    xdp.add(readded, 1);
    dpdk.add(readded, 1);
    nf.add(readded, 1);
    EXPECT_EQ(xdp.slot_of(readded), 1);
    agree6(nf, xdp, dpdk, fl, "slot re-used");
}
