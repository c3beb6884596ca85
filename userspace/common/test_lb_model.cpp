// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the LB model every LB compiles in (include/crab/crab_lb_model.h):
// the flow hash, the Maglev table with draining, the weighted ring and the
// data path's picks.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include <crab/crab_lb_model.h>
}

namespace {

using Tables = crab_lb_tables;

// MurmurHash3_x86_32 over bytes, written from the algorithm's description
// (4-byte little-endian blocks, a tail of 1-3 bytes, the length, fmix32).
uint32_t murmur3_ref(const uint8_t* p, size_t n, uint32_t seed)
{
    auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
    uint32_t h = seed;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t k = p[i] | p[i + 1] << 8 | p[i + 2] << 16 | uint32_t(p[i + 3]) << 24;
        k *= 0xcc9e2d51;
        k = rotl(k, 15);
        k *= 0x1b873593;
        h ^= k;
        h = rotl(h, 13);
        h = h * 5 + 0xe6546b64;
    }
    uint32_t k = 0;
    switch (n & 3) {
    case 3:
        k ^= p[i + 2] << 16;
        [[fallthrough]];
    case 2:
        k ^= p[i + 1] << 8;
        [[fallthrough]];
    case 1:
        k ^= p[i];
        k *= 0xcc9e2d51;
        k = rotl(k, 15);
        k *= 0x1b873593;
        h ^= k;
    }
    h ^= static_cast<uint32_t>(n);
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return h;
}

void le32(std::vector<uint8_t>& v, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

struct Work {
    crab_lb_work w{};
};

std::vector<crab_lb_backend> backends(int n, uint32_t base = 0xC612000B)  // 198.18.0.11 on
{
    std::vector<crab_lb_backend> v;
    for (int i = 0; i < n; i++)
        v.push_back({{0, 0, 0, base + static_cast<uint32_t>(i) * 7}, 1, CRAB_BACKEND_ACTIVE, static_cast<uint8_t>(i)});
    return v;
}

Tables build(const std::vector<crab_lb_backend>& b, int* rc = nullptr)
{
    Tables t;
    std::memset(&t, 0x5a, sizeof(t));  // every byte must be written
    Work wk;
    int r = crab_lb_tables_build(&t, &wk.w, b.data(), static_cast<uint32_t>(b.size()));
    if (rc)
        *rc = r;
    return t;
}

std::map<uint8_t, int> histogram(const uint8_t* t, size_t n)
{
    std::map<uint8_t, int> h;
    for (size_t i = 0; i < n; i++)
        h[t[i]]++;
    return h;
}

}  // namespace

// ---- flow hash -------------------------------------------------------------

TEST(FlowHash, ReferenceMurmurMatchesPublishedValues)
{
    EXPECT_EQ(murmur3_ref(nullptr, 0, 0), 0u);
    EXPECT_EQ(murmur3_ref(reinterpret_cast<const uint8_t*>("hello"), 5, 0), 0x248bfa47u);
}

// The flow hash is MurmurHash3_x86_32 of the three host-order words laid out
// little-endian: a definition anyone can recompute.
TEST(FlowHash, IsMurmur3OfTheFlowWords)
{
    std::mt19937 rng(7);
    for (int i = 0; i < 1000; i++) {
        uint32_t s = rng(), d = rng();
        uint16_t sp = static_cast<uint16_t>(rng()), dp = static_cast<uint16_t>(rng());
        std::vector<uint8_t> key;
        le32(key, s);
        le32(key, d);
        le32(key, static_cast<uint32_t>(sp) << 16 | dp);
        ASSERT_EQ(crab_flow_hash(s, d, sp, dp), murmur3_ref(key.data(), key.size(), CRAB_FLOW_HASH_SEED));
    }
}

// Every LB and every version must agree on a flow's backend (several LBs
// behind ECMP, an upgrade of one of them): the hash is part of the
// interface. A change of this value is a change of the protocol's model.
TEST(FlowHash, PinnedValue)
{
    // 198.18.0.2:40000 -> 198.18.100.1:80
    EXPECT_EQ(crab_flow_hash(0xC6120002, 0xC6126401, 40000, 80), 0x24daf051u);
}

// IPv6: MurmurHash3 of the nine host-order words (both addresses most
// significant word first, then the ports), laid out little-endian.
TEST(FlowHash, Ipv6IsMurmur3OfTheFlowWords)
{
    std::mt19937 rng(11);
    for (int i = 0; i < 1000; i++) {
        uint32_t s[4], d[4];
        for (auto& w : s)
            w = rng();
        for (auto& w : d)
            w = rng();
        uint16_t sp = static_cast<uint16_t>(rng()), dp = static_cast<uint16_t>(rng());
        std::vector<uint8_t> key;
        for (uint32_t w : s)
            le32(key, w);
        for (uint32_t w : d)
            le32(key, w);
        le32(key, static_cast<uint32_t>(sp) << 16 | dp);
        ASSERT_EQ(crab_flow_hash6(s, d, sp, dp), murmur3_ref(key.data(), key.size(), CRAB_FLOW_HASH_SEED));
        // The packet-order variant reads the same words from the wire.
        uint32_t sbe[4], dbe[4];
        for (int k = 0; k < 4; k++) {
            sbe[k] = htonl(s[k]);
            dbe[k] = htonl(d[k]);
        }
        ASSERT_EQ(crab_flow_hash6_be(sbe, dbe, htons(sp), htons(dp)), crab_flow_hash6(s, d, sp, dp));
    }
}

TEST(FlowHash, Ipv6PinnedValue)
{
    // [2001:db8::2]:40000 -> [2001:db8:64::1]:80
    const uint32_t s[4] = {0x20010db8, 0, 0, 2}, d[4] = {0x20010db8, 0x00640000, 0, 1};
    EXPECT_EQ(crab_flow_hash6(s, d, 40000, 80), 0xb092821du);
}

TEST(FlowHash, SpreadsOverTheMaglevTable)
{
    std::vector<int> bins(CRAB_MAGLEV_SIZE, 0);
    const int n = 200 * CRAB_MAGLEV_SIZE;
    for (int i = 0; i < n; i++)  // one client, ports as a client's ephemeral range walks them
        bins[crab_maglev_index(crab_flow_hash(0xC6120002, 0xC6126401, static_cast<uint16_t>(1024 + i % 60000),
                                              static_cast<uint16_t>(80 + i / 60000)))]++;
    double chi = 0, e = double(n) / CRAB_MAGLEV_SIZE;
    for (int b : bins)
        chi += (b - e) * (b - e) / e;
    // 1020 degrees of freedom: mean 1020, sd ~45; 1250 is 5 sd.
    EXPECT_LT(chi, 1250.0);
    for (int b : bins)
        EXPECT_GT(b, 0);
}

TEST(FlowHash, MaglevIndexIsInRangeAndUsesTheHighBits)
{
    EXPECT_EQ(crab_maglev_index(0), 0u);
    EXPECT_EQ(crab_maglev_index(0xffffffffu), CRAB_MAGLEV_SIZE - 1u);
    EXPECT_EQ(crab_maglev_index(0x80000000u), CRAB_MAGLEV_SIZE / 2u);
}

// ---- Maglev ----------------------------------------------------------------

TEST(Maglev, EmptySetGivesEmptyTables)
{
    int rc;
    Tables t = build({}, &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(t.nmaglev, 0u);
    EXPECT_EQ(t.nactive, 0u);
    EXPECT_EQ(t.nwrr, 0u);
    EXPECT_EQ(t.draining, 0u);
    for (auto s : t.maglev)
        EXPECT_EQ(s, CRAB_LB_NONE);
    EXPECT_EQ(crab_lb_pick_hash(&t, 12345), CRAB_LB_NONE);
    EXPECT_EQ(crab_lb_pick_rr(&t, 0), CRAB_LB_NONE);
    EXPECT_EQ(crab_lb_pick_wrr(&t, 0), CRAB_LB_NONE);
    EXPECT_EQ(crab_lb_pick_random(&t, 0), CRAB_LB_NONE);
}

TEST(Maglev, EveryEntryFilledAndBalanced)
{
    for (int n : {1, 2, 3, 7, 64}) {
        Tables t = build(backends(n));
        ASSERT_EQ(t.nmaglev, unsigned(CRAB_MAGLEV_SIZE));
        auto h = histogram(t.maglev, CRAB_MAGLEV_SIZE);
        EXPECT_EQ(h.count(CRAB_LB_NONE), 0u) << n;
        EXPECT_EQ(h.size(), size_t(n));
        // Taking turns gives every backend floor or ceil of M/N entries.
        for (auto [id, cnt] : h) {
            EXPECT_GE(cnt, CRAB_MAGLEV_SIZE / n) << "n=" << n << " id " << int(id);
            EXPECT_LE(cnt, CRAB_MAGLEV_SIZE / n + 1) << "n=" << n << " id " << int(id);
        }
    }
}

// The tables depend on the set, not on the order the LB keeps it in (an XDP
// slot, an nf array index, a DPDK vector position).
TEST(Maglev, IndependentOfInputOrderAndIds)
{
    auto a = backends(9);
    a[3].weight = 4;
    a[5].state = CRAB_BACKEND_DRAINING;
    Tables ref = build(a);
    std::mt19937 rng(3);
    for (int k = 0; k < 20; k++) {
        auto b = a;
        std::shuffle(b.begin(), b.end(), rng);
        Tables t = build(b);
        ASSERT_EQ(std::memcmp(&t, &ref, sizeof(t)), 0) << "shuffle " << k;
    }
    // Other ids: the same tables up to the renaming.
    auto c = a;
    for (auto& x : c)
        x.id = static_cast<uint8_t>(63 - x.id);
    Tables t = build(c);
    for (int i = 0; i < CRAB_MAGLEV_SIZE; i++)
        ASSERT_EQ(t.maglev[i], 63 - ref.maglev[i]);
    ASSERT_EQ(t.nwrr, ref.nwrr);
    for (unsigned i = 0; i < t.nwrr; i++)
        ASSERT_EQ(t.wrr[i], 63 - ref.wrr[i]);
}

// Draining keeps the Maglev table as it was (the backend's hashed flows go
// on) and takes the backend out of every policy's choice.
TEST(Maglev, DrainingKeepsTheHashTable)
{
    auto a = backends(5);
    Tables before = build(a);
    a[2].state = CRAB_BACKEND_DRAINING;
    Tables after = build(a);
    EXPECT_EQ(std::memcmp(before.maglev, after.maglev, sizeof(before.maglev)), 0);
    EXPECT_EQ(after.draining, 1ull << 2);
    EXPECT_EQ(after.nactive, 4u);
    for (unsigned i = 0; i < after.nactive; i++)
        EXPECT_NE(after.active[i], 2);
    for (unsigned i = 0; i < after.nwrr; i++)
        EXPECT_NE(after.wrr[i], 2);
    // A SYN whose flow maps to it is refused; other packets of the flow go on.
    int refused = 0;
    for (uint32_t h = 0; h < 100000; h++) {
        uint8_t all = crab_lb_pick_hash(&after, h * 42949u);
        uint8_t syn = crab_lb_pick_hash_syn(&after, h * 42949u);
        ASSERT_EQ(all, crab_lb_pick_hash(&before, h * 42949u));
        if (all == 2) {
            ASSERT_EQ(syn, CRAB_LB_DRAINING);
            refused++;
        } else {
            ASSERT_EQ(syn, all);
        }
    }
    EXPECT_GT(refused, 0);
}

// Maglev's minimal disruption: removing one of N backends moves its own
// entries and only a few others; adding one takes about 1/(N+1).
TEST(Maglev, RemovingOrAddingMovesFewOtherEntries)
{
    for (int n : {3, 5, 10, 32}) {
        auto a = backends(n);
        Tables full = build(a);
        for (int gone = 0; gone < n; gone++) {
            auto b = a;
            b.erase(b.begin() + gone);
            Tables t = build(b);
            int moved = 0;
            for (int i = 0; i < CRAB_MAGLEV_SIZE; i++)
                if (full.maglev[i] != gone && full.maglev[i] != t.maglev[i])
                    moved++;
            // at most ~4.4 % here (n = 32: 1021 entries are only 32 per backend)
            EXPECT_LE(moved, CRAB_MAGLEV_SIZE * 5 / 100) << "n=" << n << " removed " << gone;
        }
        auto c = a;
        c.push_back({{0, 0, 0, 0x0A000001}, 1, CRAB_BACKEND_ACTIVE, static_cast<uint8_t>(n)});
        Tables t = build(c);
        int taken = 0, moved = 0;
        for (int i = 0; i < CRAB_MAGLEV_SIZE; i++) {
            if (t.maglev[i] == n)
                taken++;
            else if (t.maglev[i] != full.maglev[i])
                moved++;
        }
        EXPECT_GE(taken, CRAB_MAGLEV_SIZE / (n + 1));
        EXPECT_LE(moved, CRAB_MAGLEV_SIZE * 5 / 100) << "n=" << n;
    }
}

// IPv6 backends: the tables depend on the whole address (backends that
// differ only in the high words get different permutations), are
// independent of input order, and a duplicate is refused.
TEST(Maglev, Ipv6Backends)
{
    auto v6 = [](int n, uint32_t hi) {
        std::vector<crab_lb_backend> v;
        for (int i = 0; i < n; i++)
            v.push_back({{0x20010db8, hi, 0, 0x11u + static_cast<uint32_t>(i)}, 1, CRAB_BACKEND_ACTIVE,
                         static_cast<uint8_t>(i)});
        return v;
    };
    int rc;
    Tables a = build(v6(5, 0), &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(a.nmaglev, static_cast<uint32_t>(CRAB_MAGLEV_SIZE));
    EXPECT_EQ(a.nactive, 5u);
    auto h = histogram(a.maglev, CRAB_MAGLEV_SIZE);
    for (int i = 0; i < 5; i++)
        EXPECT_NEAR(h[static_cast<uint8_t>(i)], CRAB_MAGLEV_SIZE / 5, CRAB_MAGLEV_SIZE / 50) << i;
    Tables b = build(v6(5, 7), &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_NE(std::memcmp(a.maglev, b.maglev, CRAB_MAGLEV_SIZE), 0);
    auto r = v6(5, 0);
    std::reverse(r.begin(), r.end());
    for (size_t i = 0; i < r.size(); i++)
        r[i].id = static_cast<uint8_t>(4 - i);
    Tables c = build(r, &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(std::memcmp(a.maglev, c.maglev, CRAB_MAGLEV_SIZE), 0);
    auto dup = v6(3, 0);
    dup[2].addr[3] = dup[0].addr[3];
    build(dup, &rc);
    EXPECT_EQ(rc, -1);
}

TEST(Maglev, RefusesWhatItCannotRepresent)
{
    int rc;
    Tables t = build(backends(CRAB_MAX_BACKENDS + 1), &rc);
    EXPECT_EQ(rc, -1);
    EXPECT_EQ(t.nmaglev, 0u);
    auto dup = backends(3);
    std::memcpy(dup[2].addr, dup[0].addr, sizeof(dup[0].addr));
    build(dup, &rc);
    EXPECT_EQ(rc, -1);
    auto bad = backends(2);
    bad[1].id = CRAB_MAX_BACKENDS;
    t = build(bad, &rc);
    EXPECT_EQ(rc, -1);
    EXPECT_EQ(t.nactive, 0u);
    EXPECT_EQ(t.nwrr, 0u);
    build(backends(CRAB_MAX_BACKENDS), &rc);
    EXPECT_EQ(rc, 0);
}

// ---- weighted ring -----------------------------------------------------------

TEST(Wrr, SmoothRingOfTwo)
{
    auto a = backends(2);
    a[1].weight = 3;  // the higher address
    Tables t = build(a);
    ASSERT_EQ(t.nwrr, 4u);
    std::vector<int> ring(t.wrr, t.wrr + 4);
    EXPECT_EQ(ring, (std::vector<int>{1, 0, 1, 1}));
}

TEST(Wrr, ExactProportionsWhenTheyFit)
{
    auto a = backends(4);
    uint16_t w[] = {1, 2, 3, 10};
    for (int i = 0; i < 4; i++)
        a[i].weight = w[i];
    Tables t = build(a);
    ASSERT_EQ(t.nwrr, 16u);
    auto h = histogram(t.wrr, t.nwrr);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(h[static_cast<uint8_t>(i)], w[i]);
    // Spread out: no backend twice in a row except the heaviest.
    for (unsigned i = 1; i < t.nwrr; i++) {
        if (t.wrr[i] == t.wrr[i - 1]) {
            EXPECT_EQ(t.wrr[i], 3);
        }
    }
}

TEST(Wrr, ScaledToTheRingWhenTheyDoNot)
{
    auto a = backends(CRAB_MAX_BACKENDS);
    for (int i = 0; i < CRAB_MAX_BACKENDS; i++)
        a[i].weight = static_cast<uint16_t>(i == 0 ? 1 : CRAB_WEIGHT_MAX);
    Tables t = build(a);
    ASSERT_EQ(t.nwrr, unsigned(CRAB_WRR_SLOTS));
    auto h = histogram(t.wrr, t.nwrr);
    EXPECT_EQ(h.size(), size_t(CRAB_MAX_BACKENDS));
    EXPECT_GE(h[0], 1);
    int total = 0;
    for (int i = 1; i < CRAB_MAX_BACKENDS; i++) {
        EXPECT_GE(h[static_cast<uint8_t>(i)], 3) << i;
        EXPECT_LE(h[static_cast<uint8_t>(i)], 5) << i;
        total += h[static_cast<uint8_t>(i)];
    }
    EXPECT_EQ(total + h[0], CRAB_WRR_SLOTS);
    // Proportions kept as closely as the ring allows.
    auto b = backends(3);
    b[0].weight = 100;
    b[1].weight = 100;
    b[2].weight = 200;
    t = build(b);
    ASSERT_EQ(t.nwrr, 256u);
    h = histogram(t.wrr, t.nwrr);
    EXPECT_EQ(h[0], 64);
    EXPECT_EQ(h[1], 64);
    EXPECT_EQ(h[2], 128);
}

// ---- picks -------------------------------------------------------------------

// A 64-bit position goes on in order where a 32-bit one would wrap to 0.
TEST(Pick, RoundRobinInOrderAcross2To32)
{
    Tables t = build(backends(3));
    const uint64_t start = (uint64_t{1} << 32) - 2;
    std::vector<int> got;
    for (uint64_t p = start; p < start + 6; p++)
        got.push_back(crab_lb_pick_rr(&t, p));
    // (2^32 - 2) % 3 == 2
    EXPECT_EQ(got, (std::vector<int>{2, 0, 1, 2, 0, 1}));
    auto a = backends(2);
    a[1].weight = 3;
    t = build(a);
    got.clear();
    for (uint64_t p = start; p < start + 4; p++)
        got.push_back(crab_lb_pick_wrr(&t, p));
    // ring B A B B, (2^32 - 2) % 4 == 2
    EXPECT_EQ(got, (std::vector<int>{1, 1, 1, 0}));
}

// All 32 random bits choose: the top bits alone decide between two
// backends, where "r % n" would look only at the lowest.
TEST(Pick, RandomUsesTheWholeWord)
{
    Tables t = build(backends(2));
    EXPECT_EQ(crab_lb_pick_random(&t, 0x00000001), 0);
    EXPECT_EQ(crab_lb_pick_random(&t, 0x7fffffff), 0);
    EXPECT_EQ(crab_lb_pick_random(&t, 0x80000000), 1);
    EXPECT_EQ(crab_lb_pick_random(&t, 0xffffffff), 1);
    Tables t3 = build(backends(3));
    std::mt19937 rng(11);
    int n[3] = {};
    const int total = 30000;
    for (int i = 0; i < total; i++)
        n[crab_lb_pick_random(&t3, rng())]++;
    double chi = 0, e = total / 3.0;
    for (int v : n)
        chi += (v - e) * (v - e) / e;
    EXPECT_LT(chi, 18.42);  // p = 0.0001, 2 degrees of freedom
}

TEST(Pick, PolicyDispatchAndDrainedBackendsOutOfEveryPolicy)
{
    auto a = backends(4);
    a[0].state = CRAB_BACKEND_DRAINING;
    a[2].state = CRAB_BACKEND_DRAINING;
    Tables t = build(a);
    std::set<int> rr, wrr, rnd;
    std::mt19937 rng(5);
    for (uint64_t p = 0; p < 64; p++) {
        rr.insert(crab_lb_pick(&t, CRAB_POLICY_RR, p, 0));
        wrr.insert(crab_lb_pick(&t, CRAB_POLICY_WRR, p, 0));
        rnd.insert(crab_lb_pick(&t, CRAB_POLICY_RANDOM, 0, rng()));
    }
    EXPECT_EQ(rr, (std::set<int>{1, 3}));
    EXPECT_EQ(wrr, (std::set<int>{1, 3}));
    EXPECT_EQ(rnd, (std::set<int>{1, 3}));
    // All draining: nothing for a new connection, hashed flows still go.
    a[1].state = a[3].state = CRAB_BACKEND_DRAINING;
    t = build(a);
    EXPECT_EQ(crab_lb_pick(&t, CRAB_POLICY_RR, 0, 0), CRAB_LB_NONE);
    EXPECT_EQ(crab_lb_pick(&t, CRAB_POLICY_WRR, 0, 0), CRAB_LB_NONE);
    EXPECT_EQ(crab_lb_pick(&t, CRAB_POLICY_RANDOM, 0, 1), CRAB_LB_NONE);
    EXPECT_LT(crab_lb_pick_hash(&t, 99), 4);
    EXPECT_EQ(crab_lb_pick_hash_syn(&t, 99), CRAB_LB_DRAINING);
}

// The reduced-position picks are crab_lb_pick()'s: every position of a
// long run (across 2^32 too) over rr and wrr tables of many sizes, drained
// backends and empty sets included; out of range is no backend.
TEST(Pick, ReducedPositionPicksWhatThePositionPicks)
{
    std::mt19937 rng(17);
    for (int n = 0; n <= 9; n++) {
        auto a = backends(n);
        for (auto& b : a) {
            b.weight = static_cast<uint16_t>(1 + rng() % 5);
            if (rng() % 4 == 0)
                b.state = CRAB_BACKEND_DRAINING;
        }
        Tables t = build(a);
        for (uint8_t pol : {CRAB_POLICY_RR, CRAB_POLICY_WRR}) {
            const uint32_t len = crab_lb_rr_len(&t, pol);
            EXPECT_EQ(len, pol == CRAB_POLICY_WRR ? t.nwrr : t.nactive);
            for (uint64_t base : {uint64_t{0}, (uint64_t{1} << 32) - 5, uint64_t{0xfffffffffffff000}})
                for (uint64_t p = base; p < base + 200; p++)
                    ASSERT_EQ(crab_lb_pick_rr_at(&t, pol, len ? static_cast<uint32_t>(p % len) : 0),
                              crab_lb_pick(&t, pol, p, 0))
                        << "n=" << n << " policy " << int(pol) << " pos " << p;
            EXPECT_EQ(crab_lb_pick_rr_at(&t, pol, len), CRAB_LB_NONE);
        }
    }
}

// The cursor's reduced position is the position's remainder at every pick:
// table lengths changing at random (up, down below the kept remainder, to
// 0 and back, one pick or many between changes), the position written from
// outside (stale remainder) and across 2^32; a remainder corrupted to the
// table's length or beyond is worked out again, not used.
TEST(Pick, RoundRobinCursorIsThePositionsRemainder)
{
    std::mt19937 rng(23);
    crab_lb_rr c{};
    uint32_t n = 3;
    for (int step = 0; step < 20000; step++) {
        switch (rng() % 16) {
        case 0:
            n = rng() % (CRAB_WRR_SLOTS + 1);  // a new generation, or rr <-> wrr
            break;
        case 1:
            n = rng() % 4;
            break;
        case 2:
            c.pos = rng() % 2 ? rng() : (uint64_t{1} << 32) - 1 - rng() % 8;  // written from outside
            break;
        case 3:
            c.i = n + rng() % 3;  // corrupted: out of range
            break;
        default:
            break;
        }
        const uint64_t pos = c.pos;
        const uint32_t i = crab_lb_rr_next(&c, n);
        ASSERT_EQ(i, n ? static_cast<uint32_t>(pos % n) : 0u) << "step " << step << " n " << n << " pos " << pos;
        ASSERT_EQ(c.pos, pos + 1);
        if (n)
            ASSERT_LT(c.i, n);
    }
}
