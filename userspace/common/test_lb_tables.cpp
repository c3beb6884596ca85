// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the XDP LB's control-plane tables: Maglev and the WRR ring.
#include <gtest/gtest.h>

#include <map>

extern "C" {
#include <crab/crab_lb.h>
}

#include "crab/lb_tables.hpp"

using namespace crab::xdp;

namespace {

std::vector<MaglevBackend> backends(int n)
{
    std::vector<MaglevBackend> v;
    for (int i = 0; i < n; i++)
        v.push_back({static_cast<uint8_t>(i), 0xc6120000u + 10u + static_cast<uint32_t>(i)});
    return v;
}

std::map<uint8_t, int> histogram(const std::vector<uint8_t>& t)
{
    std::map<uint8_t, int> h;
    for (auto s : t)
        h[s]++;
    return h;
}

}  // namespace

TEST(Maglev, EmptySetGivesEmptyTable)
{
    auto t = maglev_table({}, CRAB_MAGLEV_SIZE);
    ASSERT_EQ(t.size(), size_t(CRAB_MAGLEV_SIZE));
    for (auto s : t)
        EXPECT_EQ(s, kNoBackend);
}

TEST(Maglev, EveryEntryFilledAndBalanced)
{
    for (int n : {1, 2, 3, 7, 64}) {
        auto t = maglev_table(backends(n), CRAB_MAGLEV_SIZE);
        auto h = histogram(t);
        EXPECT_EQ(h.count(kNoBackend), 0u) << n;
        EXPECT_EQ(h.size(), size_t(n));
        // Maglev's turn-taking gives every backend floor or ceil of M/N.
        for (auto [slot, cnt] : h) {
            EXPECT_GE(cnt, CRAB_MAGLEV_SIZE / n) << "n=" << n << " slot " << int(slot);
            EXPECT_LE(cnt, CRAB_MAGLEV_SIZE / n + 1) << "n=" << n << " slot " << int(slot);
        }
    }
}

TEST(Maglev, IndependentOfInputOrder)
{
    auto a = backends(5);
    auto b = a;
    std::reverse(b.begin(), b.end());
    EXPECT_EQ(maglev_table(a, CRAB_MAGLEV_SIZE), maglev_table(b, CRAB_MAGLEV_SIZE));
}

TEST(Maglev, RemovingOneOfNMovesAboutOneNth)
{
    for (int n : {3, 5, 10, 20}) {
        auto all = backends(n);
        auto before = maglev_table(all, CRAB_MAGLEV_SIZE);
        auto fewer = all;
        fewer.erase(fewer.begin() + 1);  // remove slot 1
        auto after = maglev_table(fewer, CRAB_MAGLEV_SIZE);
        int moved = 0, lost = 0;
        for (size_t i = 0; i < before.size(); i++) {
            if (before[i] == 1)
                lost++;
            else if (before[i] != after[i])
                moved++;
            EXPECT_NE(after[i], 1);
        }
        // Entries of the removed backend must move; others should mostly
        // stay: allow a small extra disruption (Maglev is not minimal).
        EXPECT_GE(lost, CRAB_MAGLEV_SIZE / n);
        EXPECT_LE(moved, CRAB_MAGLEV_SIZE / n) << "n=" << n;
        EXPECT_LE(moved + lost, 2 * CRAB_MAGLEV_SIZE / n + 2) << "n=" << n;
    }
}

TEST(Wrr, RingHonoursWeightsAndSpreads)
{
    auto r = wrr_ring({{0, 1}, {1, 3}}, CRAB_WRR_SLOTS);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r, (std::vector<uint8_t>{1, 0, 1, 1}));  // smooth: not 1,1,1,0

    r = wrr_ring({{0, 5}, {1, 1}, {2, 1}}, CRAB_WRR_SLOTS);
    ASSERT_EQ(r.size(), 7u);
    auto h = histogram(r);
    EXPECT_EQ(h[0], 5);
    EXPECT_EQ(h[1], 1);
    EXPECT_EQ(h[2], 1);
    // nginx's smooth WRR sequence for 5/1/1: a a b a c a a.
    EXPECT_EQ(r, (std::vector<uint8_t>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(Wrr, EqualWeightsIsRoundRobin)
{
    auto r = wrr_ring({{3, 2}, {7, 2}, {9, 2}}, CRAB_WRR_SLOTS);
    EXPECT_EQ(r, (std::vector<uint8_t>{3, 7, 9, 3, 7, 9}));
}

TEST(Wrr, ScalesDownToTheRingSize)
{
    std::vector<WrrBackend> b;
    for (int i = 0; i < CRAB_MAX_BACKENDS; i++)
        b.push_back({static_cast<uint8_t>(i), i == 0 ? 100u : 50u});
    auto r = wrr_ring(b, CRAB_WRR_SLOTS);
    ASSERT_LE(r.size(), size_t(CRAB_WRR_SLOTS));
    auto h = histogram(r);
    EXPECT_EQ(h.size(), size_t(CRAB_MAX_BACKENDS));  // nobody scaled to 0
    EXPECT_GT(h[0], h[1]);
}

TEST(Wrr, EmptyInput)
{
    EXPECT_TRUE(wrr_ring({}, CRAB_WRR_SLOTS).empty());
}
