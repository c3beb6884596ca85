// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the DPDK LB's neighbour table (core/lb_core.hpp,
// NeighTable): MACs are learned only as replies to requests the LB sent,
// entries age and are asked for again, a full table refuses new next hops
// and never replaces a live entry. Time is given explicitly (ms).
#include <gtest/gtest.h>

#include "lb_core.hpp"

using namespace crab::lb_dpdk;
using W = NeighTable::Want;
using L = NeighTable::Learn;
using S = NeighTable::State;

namespace {

constexpr uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 | static_cast<uint32_t>(c) << 8 | d;
}
const uint32_t kA = ip4(198, 18, 0, 11), kB = ip4(198, 18, 0, 12), kC = ip4(198, 18, 0, 13);
const Mac kMacA = {2, 0, 0, 0, 0, 0x11}, kMacB = {2, 0, 0, 0, 0, 0x12}, kMacC = {2, 0, 0, 0, 0, 0x13};
const Mac kEvil = {2, 0xba, 0xd0, 0, 0, 0x66};

Mac mac_of(const NeighTable& nt, uint32_t ip)
{
    Mac m{};
    EXPECT_TRUE(nt.get(ip, m));
    return m;
}

}  // namespace

TEST(Neigh, UnsolicitedReplyCreatesNoEntry)
{
    NeighTable nt;
    Mac m;
    EXPECT_EQ(nt.learn(kA, kEvil, 100), L::Unsolicited);
    EXPECT_FALSE(nt.get(kA, m));
    EXPECT_EQ(nt.state(kA), S::None);
    EXPECT_EQ(nt.used(), 0u);
}

TEST(Neigh, OnlyTheReplyToOurRequestIsLearnedAndOnlyOnce)
{
    NeighTable nt;
    EXPECT_EQ(nt.want(kA, 1000), W::Send);
    EXPECT_EQ(nt.state(kA), S::Pending);
    // A reply for another address we did not ask about: nothing.
    EXPECT_EQ(nt.learn(kB, kEvil, 1001), L::Unsolicited);
    EXPECT_EQ(nt.state(kB), S::None);
    EXPECT_EQ(nt.learn(kA, kMacA, 1002), L::Learned);
    EXPECT_EQ(mac_of(nt, kA), kMacA);
    // The request is answered: a second "reply" (poisoning) changes nothing.
    EXPECT_EQ(nt.learn(kA, kEvil, 1003), L::Unsolicited);
    EXPECT_EQ(mac_of(nt, kA), kMacA);
    EXPECT_EQ(nt.want(kA, 1004), W::Resolved);
    EXPECT_EQ(nt.learn(kA, kEvil, 1005), L::Unsolicited);
    EXPECT_EQ(mac_of(nt, kA), kMacA);
}

TEST(Neigh, ReplyAfterTheAnswerWindowIsUnsolicited)
{
    NeighTable nt;
    EXPECT_EQ(nt.want(kA, 0), W::Send);
    EXPECT_EQ(nt.learn(kA, kMacA, NeighTable::kAnswerMs + 1), L::Unsolicited);
    EXPECT_EQ(nt.state(kA), S::Pending);
    // Asked again: retries at most once per kRetryMs.
    EXPECT_EQ(nt.want(kA, NeighTable::kAnswerMs + 2), W::Send);
    EXPECT_EQ(nt.want(kA, NeighTable::kAnswerMs + 3), W::Wait);
    EXPECT_EQ(nt.learn(kA, kMacA, NeighTable::kAnswerMs + 4), L::Learned);
}

TEST(Neigh, EntriesAgeAreRefreshedBeforeExpiryAndReResolvedAfter)
{
    NeighTable nt(16, 10000);
    ASSERT_EQ(nt.refresh_ms(), 5000u);
    EXPECT_EQ(nt.want(kA, 0), W::Send);
    EXPECT_EQ(nt.learn(kA, kMacA, 0), L::Learned);  // valid until 10000
    EXPECT_EQ(nt.want(kA, 4999), W::Resolved);
    // Within the refresh window: asked again, once per second.
    EXPECT_EQ(nt.want(kA, 5000), W::Send);
    EXPECT_EQ(nt.want(kA, 5500), W::Wait);
    EXPECT_EQ(nt.learn(kA, kMacA, 5600), L::Refreshed);  // valid until 15600
    EXPECT_EQ(nt.expire(12000), 0u);
    EXPECT_EQ(mac_of(nt, kA), kMacA);
    // No answer to the next refresh: expired at 15600, get() fails.
    // (The LB wants its next hops once a second.)
    for (uint64_t t = 10600; t < 15600; t += 1000)
        EXPECT_EQ(nt.want(kA, t), W::Send);
    EXPECT_EQ(nt.expire(15599), 0u);
    EXPECT_EQ(nt.expire(15600), 1u);
    Mac m;
    EXPECT_FALSE(nt.get(kA, m));
    EXPECT_EQ(nt.state(kA), S::Expired);
    // Still a next hop: asked again, and the reply makes it valid again.
    EXPECT_EQ(nt.want(kA, 15600), W::Send);
    EXPECT_EQ(nt.learn(kA, kMacB, 15700), L::Learned);
    EXPECT_EQ(mac_of(nt, kA), kMacB);
}

TEST(Neigh, SolicitedReplyWithAnotherMacReplacesIt)
{
    NeighTable nt(16, 10000);
    nt.want(kA, 0);
    nt.learn(kA, kMacA, 0);
    EXPECT_EQ(nt.want(kA, 6000), W::Send);
    EXPECT_EQ(nt.learn(kA, kMacB, 6001), L::Changed);
    EXPECT_EQ(mac_of(nt, kA), kMacB);
}

TEST(Neigh, FullTableRefusesNewNextHopsAndKeepsLiveEntries)
{
    NeighTable nt(2, 10000);
    EXPECT_EQ(nt.want(kA, 0), W::Send);
    EXPECT_EQ(nt.want(kB, 0), W::Send);
    EXPECT_EQ(nt.want(kC, 0), W::Full);
    EXPECT_EQ(nt.learn(kA, kMacA, 1), L::Learned);
    EXPECT_EQ(nt.learn(kB, kMacB, 1), L::Learned);
    EXPECT_EQ(nt.want(kC, 1000), W::Full);
    EXPECT_EQ(nt.learn(kC, kMacC, 1001), L::Unsolicited);
    EXPECT_EQ(nt.used(), 2u);
    EXPECT_EQ(mac_of(nt, kA), kMacA);
    EXPECT_EQ(mac_of(nt, kB), kMacB);
    EXPECT_FALSE(nt.set(kC, kMacC));  // not even a configured entry
    EXPECT_EQ(mac_of(nt, kA), kMacA);
    EXPECT_EQ(mac_of(nt, kB), kMacB);
    // A is not wanted any more (its backend removed). While valid it stays;
    // once expired and unwanted for kForgetMs its slot is free again.
    for (uint64_t t = 2000; t < 10000; t += 1000) {
        EXPECT_EQ(nt.expire(t), 0u);
        W wb = nt.want(kB, t);  // B stays a next hop: refreshed when due
        if (wb == W::Send)
            EXPECT_EQ(nt.learn(kB, kMacB, t), L::Refreshed);
        else
            EXPECT_EQ(wb, W::Resolved);
        EXPECT_EQ(nt.want(kC, t), W::Full);
    }
    EXPECT_EQ(nt.expire(10001), 1u);  // A expired; wanted last at 0: removed
    EXPECT_EQ(nt.used(), 1u);
    EXPECT_EQ(nt.state(kA), S::None);
    EXPECT_EQ(nt.want(kC, 10002), W::Send);
    EXPECT_EQ(nt.learn(kC, kMacC, 10003), L::Learned);
    EXPECT_EQ(mac_of(nt, kC), kMacC);
    EXPECT_EQ(mac_of(nt, kB), kMacB);
    Mac m;
    EXPECT_FALSE(nt.get(kA, m));
}

TEST(Neigh, WantedInvalidEntriesAreKeptAndUnwantedOnesForgotten)
{
    NeighTable nt(4, 10000);
    EXPECT_EQ(nt.want(kA, 0), W::Send);  // never answered
    EXPECT_EQ(nt.want(kB, 0), W::Send);
    for (uint64_t t = 1000; t <= 8000; t += 1000) {
        nt.want(kA, t);  // still a next hop
        nt.expire(t);
    }
    EXPECT_EQ(nt.state(kA), S::Pending);
    EXPECT_EQ(nt.state(kB), S::None);
    EXPECT_EQ(nt.used(), 1u);
}

TEST(Neigh, ConfiguredEntriesNeverAgeNorChangeByArp)
{
    NeighTable nt(4, 1000);
    EXPECT_TRUE(nt.set(kA, kMacA));
    EXPECT_EQ(nt.want(kA, 0), W::Resolved);
    EXPECT_EQ(nt.learn(kA, kEvil, 1), L::Unsolicited);
    EXPECT_EQ(nt.expire(1000000), 0u);
    EXPECT_EQ(mac_of(nt, kA), kMacA);
    EXPECT_EQ(nt.state(kA), S::Permanent);
}

TEST(Neigh, NoEntryForAddressesThatAreNeverNextHops)
{
    NeighTable nt;
    EXPECT_EQ(nt.want(0, 0), W::Full);
    EXPECT_EQ(nt.want(0xffffffffu, 0), W::Full);
    EXPECT_EQ(nt.learn(0xffffffffu, kEvil, 0), L::Unsolicited);
    EXPECT_EQ(nt.used(), 0u);
}

// Many next hops through a small table: removed slots are reused, every
// lookup finds the MAC of its own address (a probe goes on past removed
// slots and never returns another key's MAC).
TEST(Neigh, RemovedSlotsAreReusedWithoutMixingKeys)
{
    NeighTable nt(8, 1000);
    uint64_t t = 0;
    for (uint32_t round = 0; round < 20; round++) {
        for (uint32_t i = 0; i < 8; i++) {
            uint32_t ip = ip4(10, static_cast<uint8_t>(round), 0, static_cast<uint8_t>(i + 1));
            ASSERT_EQ(nt.want(ip, t), W::Send) << round << " " << i;
            ASSERT_EQ(nt.learn(ip, Mac{2, 0, 0, static_cast<uint8_t>(round), 0, static_cast<uint8_t>(i)}, t),
                      L::Learned);
        }
        for (uint32_t i = 0; i < 8; i++) {
            uint32_t ip = ip4(10, static_cast<uint8_t>(round), 0, static_cast<uint8_t>(i + 1));
            EXPECT_EQ(mac_of(nt, ip), (Mac{2, 0, 0, static_cast<uint8_t>(round), 0, static_cast<uint8_t>(i)}));
        }
        EXPECT_EQ(nt.want(ip4(10, 99, 0, 1), t), W::Full);
        t += 1000 + NeighTable::kForgetMs;  // all expire and are forgotten
        EXPECT_EQ(nt.expire(t), 8u);
        EXPECT_EQ(nt.used(), 0u);
    }
}
