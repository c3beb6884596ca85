// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the Internet checksum helpers (include/crab/crab_csum.h):
// full sums against a plain RFC 1071 loop, incremental updates against a
// full recomputation, in both byte orders the header allows.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include <crab/crab_csum.h>
}

namespace {

// RFC 1071 as written: 16-bit big-endian words, end-around carry, complement.
uint16_t rfc1071(const std::vector<uint8_t>& b)
{
    uint64_t s = 0;
    for (size_t i = 0; i < b.size(); i += 2)
        s += (uint32_t(b[i]) << 8) | (i + 1 < b.size() ? b[i + 1] : 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n)
{
    std::vector<uint8_t> v(n);
    for (auto& x : v)
        x = static_cast<uint8_t>(rng());
    return v;
}

}  // namespace

// RFC 1071, 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
TEST(Csum, Rfc1071Example)
{
    const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(crab_csum_fold(crab_csum_bytes(0, b, sizeof(b))), 0xddf2);
    EXPECT_EQ(crab_csum_finish(crab_csum_bytes(0, b, sizeof(b))), 0x220d);
}

TEST(Csum, FullSumMatchesThePlainLoop)
{
    std::mt19937 rng(1);
    for (size_t n : {0, 1, 2, 3, 19, 20, 21, 60, 1499, 1500, 65535}) {
        auto b = random_bytes(rng, n);
        EXPECT_EQ(crab_csum_finish(crab_csum_bytes(0, b.data(), static_cast<uint32_t>(n))), rfc1071(b)) << n;
    }
    // Worst case for the accumulator: 64 KiB of 0xff, chained twice.
    std::vector<uint8_t> ff(65535, 0xff);
    uint32_t acc = crab_csum_bytes(0, ff.data(), 65535);
    acc = crab_csum_bytes(acc, ff.data(), 65535);
    std::vector<uint8_t> both(ff);
    both.push_back(0x00);  // the first area's odd last byte padded, then the second
    both.insert(both.end(), ff.begin(), ff.end());
    EXPECT_EQ(crab_csum_finish(acc), rfc1071(both));
}

TEST(Csum, ChecksummedAreaVerifies)
{
    std::mt19937 rng(2);
    for (int k = 0; k < 200; k++) {
        auto h = random_bytes(rng, 20 + 4 * (rng() % 11));
        h[10] = h[11] = 0;
        uint16_t c = crab_csum_finish(crab_csum_bytes(0, h.data(), static_cast<uint32_t>(h.size())));
        h[10] = static_cast<uint8_t>(c >> 8);
        h[11] = static_cast<uint8_t>(c);
        ASSERT_EQ(crab_csum_fold(crab_csum_bytes(0, h.data(), static_cast<uint32_t>(h.size()))), 0xffff);
    }
}

// RFC 1624's update equals a recomputation, whether the caller works with
// host-order values or with the raw words of the packet.
TEST(Csum, IncrementalEqualsRecomputationInBothByteOrders)
{
    std::mt19937 rng(3);
    for (int k = 0; k < 20000; k++) {
        auto h = random_bytes(rng, 20);
        if (k % 7 == 0)
            std::memset(h.data(), 0, 20);  // sums near zero, the -0/+0 corner
        h[10] = h[11] = 0;
        uint16_t c = crab_csum_finish(crab_csum_bytes(0, h.data(), 20));
        h[10] = static_cast<uint8_t>(c >> 8);
        h[11] = static_cast<uint8_t>(c);
        uint32_t off = 4 * (rng() % 5);  // any 32-bit field but the checksum's
        if (off == 8)
            off = 16;
        uint32_t from, to = rng();
        std::memcpy(&from, &h[off], 4);  // raw, network order
        uint16_t raw_check;
        std::memcpy(&raw_check, &h[10], 2);

        uint16_t host = crab_csum_replace32(ntohs(raw_check), ntohl(from), to);
        uint16_t raw = crab_csum_replace32(raw_check, from, htonl(to));
        uint32_t to_be = htonl(to);
        std::memcpy(&h[off], &to_be, 4);
        h[10] = h[11] = 0;
        uint16_t want = crab_csum_finish(crab_csum_bytes(0, h.data(), 20));
        ASSERT_EQ(host, want) << k;
        ASSERT_EQ(ntohs(raw), want) << k;
        // And a 16-bit change on top of it.
        uint16_t w_old = static_cast<uint16_t>(h[off] << 8 | h[off + 1]), w_new = static_cast<uint16_t>(rng());
        uint16_t c2 = crab_csum_replace16(want, w_old, w_new);
        h[off] = static_cast<uint8_t>(w_new >> 8);
        h[off + 1] = static_cast<uint8_t>(w_new);
        ASSERT_EQ(c2, crab_csum_finish(crab_csum_bytes(0, h.data(), 20))) << k;
    }
}

// Single bytes at odd and even offsets (an option address at any offset).
TEST(Csum, BytesAtAnyOffset)
{
    std::mt19937 rng(4);
    for (int k = 0; k < 5000; k++) {
        auto h = random_bytes(rng, 40);
        uint16_t c = crab_csum_finish(crab_csum_bytes(0, h.data(), 40));
        uint32_t at = rng() % 37;
        uint8_t nb[4];
        uint32_t acc = crab_csum_start(c);
        for (int i = 0; i < 4; i++) {
            nb[i] = static_cast<uint8_t>(rng());
            acc = crab_csum_sub16(acc, crab_csum_byte(h[at + i], at + i));
            acc = crab_csum_add16(acc, crab_csum_byte(nb[i], at + i));
            h[at + i] = nb[i];
        }
        ASSERT_EQ(crab_csum_finish(acc), crab_csum_finish(crab_csum_bytes(0, h.data(), 40))) << k;
    }
}

TEST(Csum, PseudoHeader)
{
    // The pseudo-header as bytes: saddr daddr 0 proto len.
    const uint8_t ph[] = {198, 18, 0, 2, 198, 18, 100, 1, 0, 6, 0, 40};
    EXPECT_EQ(crab_csum_fold(crab_csum_pseudo4(0xC6120002, 0xC6126401, 6, 40)),
              crab_csum_fold(crab_csum_bytes(0, ph, sizeof(ph))));
}

// The 64-bit accumulator (crab_csum_start64/add32w/sub32w/finish64) gives
// the 16-bit helpers' checksum bit for bit for the same changes: random
// fields and words, and the values where the two forms could part (a
// checksum of 0 or 0xffff, words of all zeros or all ones, sums that are
// multiples of 0xffff).
TEST(Csum, WideAccumulatorEqualsTheWordHelpers)
{
    std::mt19937 rng(11);
    const uint32_t edge[] = {0, 0xffffffffu, 0xffff, 0xffff0000u, 0x00010000u, 1, 0x80008000u};
    auto pick = [&]() { return (rng() % 4) ? static_cast<uint32_t>(rng()) : edge[rng() % std::size(edge)]; };
    int zero_or_ones = 0;
    for (int i = 0; i < 1000000; i++) {
        const uint16_t check = (rng() % 4) ? static_cast<uint16_t>(rng()) : static_cast<uint16_t>((rng() % 2) ? 0 : 0xffff);
        const int n = 1 + static_cast<int>(rng() % 10);
        uint32_t a16 = crab_csum_start(check);
        uint64_t a64 = crab_csum_start64(check);
        for (int k = 0; k < n; k++) {
            const uint32_t v = pick();
            if (rng() % 2) {
                a16 = crab_csum_add32(a16, v);
                a64 = crab_csum_add32w(a64, v);
            } else {
                a16 = crab_csum_sub32(a16, v);
                a64 = crab_csum_sub32w(a64, v);
            }
        }
        const uint16_t want = crab_csum_finish(a16);
        ASSERT_EQ(crab_csum_finish64(a64), want) << "i=" << i;
        zero_or_ones += want == 0 || want == 0xffff;
    }
    EXPECT_GT(zero_or_ones, 100);  // the edge of the representation was reached
    // The largest sums the fold takes: many all-ones words.
    uint64_t big = crab_csum_start64(0);
    uint32_t small = crab_csum_start(0);
    for (int k = 0; k < 4096; k++) {
        big = crab_csum_add32w(big, 0xffffffffu);
        small = crab_csum_add32(small, 0xffffffffu);
    }
    EXPECT_EQ(crab_csum_finish64(big), crab_csum_finish(small));
    // The fold against the plain loop, over accumulators of any size up
    // to 2^63, and the one that needs the last fold (0x1ffff after the
    // first 16-bit fold, 0x10000 after the second).
    auto fold = [](uint64_t x) {
        while (x >> 16)
            x = (x & 0xffff) + (x >> 16);
        return static_cast<uint16_t>(~x);
    };
    EXPECT_EQ(crab_csum_finish64(0x00010000ffffffffULL), fold(0x00010000ffffffffULL));
    for (int i = 0; i < 1000000; i++) {
        const uint64_t x = (static_cast<uint64_t>(rng()) << 32 | rng()) >> (1 + rng() % 40);
        ASSERT_EQ(crab_csum_finish64(x), fold(x)) << std::hex << x;
    }
}
