// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the one TCP option walk shared by every component
// (include/crab/crab_opt.h), docs/PROTOCOL.md section 2.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include <crab/crab_opt.h>
}

namespace {

const crab_opt_cfg kDefault = CRAB_OPT_CFG_DEFAULT;
const crab_opt_cfg kExp = {CRAB_OPT_KIND_EXP, 0, CRAB_OPT_EXID_DEFAULT};

struct Walk {
    int status;
    crab_opt_res res;
};

// The walk is always given a CRAB_OPT_BUF_SIZE buffer, as in BPF.
Walk walk(const std::vector<uint8_t>& opts, const crab_opt_cfg& cfg = kDefault)
{
    std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
    if (!opts.empty())  // memcpy from an empty vector's null data() is UB
        std::memcpy(buf.data(), opts.data(), std::min(opts.size(), buf.size()));
    Walk w{};
    w.status = crab_opt_find(buf.data(), static_cast<uint32_t>(opts.size()), &cfg, &w.res);
    return w;
}

TEST(CrabOpt, FindsAlignedOptionAfterNops)
{
    auto w = walk({1, 1, 42, 6, 198, 18, 100, 1});
    ASSERT_EQ(w.status, CRAB_OPT_FOUND);
    EXPECT_EQ(w.res.addr, 0xC6126401u);
    EXPECT_EQ(w.res.off, 2);
}

TEST(CrabOpt, FindsOptionAtAnyOffsetBehindOtherOptions)
{
    // MSS, SACK_PERM, TS, then the option unaligned at the very end.
    std::vector<uint8_t> o = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 3, 3, 7,
                              42, 6, 10, 0, 0, 9};
    auto w = walk(o);
    ASSERT_EQ(w.status, CRAB_OPT_FOUND);
    EXPECT_EQ(w.res.addr, 0x0A000009u);
    EXPECT_EQ(w.res.off, 19);
}

TEST(CrabOpt, TakesTheFirstWellFormedOption)
{
    auto w = walk({42, 6, 1, 2, 3, 4, 42, 6, 5, 6, 7, 8});
    ASSERT_EQ(w.status, CRAB_OPT_FOUND);
    EXPECT_EQ(w.res.addr, 0x01020304u);
}

TEST(CrabOpt, WrongLengthIsIgnoredAndCounted)
{
    auto w = walk({42, 5, 1, 2, 3, 42, 6, 9, 9, 9, 9});
    ASSERT_EQ(w.status, CRAB_OPT_FOUND);
    EXPECT_EQ(w.res.bad_len, 1);
    EXPECT_EQ(w.res.addr, 0x09090909u);
    auto w2 = walk({42, 7, 1, 2, 3, 4, 5});
    EXPECT_EQ(w2.status, CRAB_OPT_NONE);
    EXPECT_EQ(w2.res.bad_len, 1);
}

TEST(CrabOpt, EolEndsTheWalk)
{
    auto w = walk({0, 42, 6, 1, 2, 3, 4});
    EXPECT_EQ(w.status, CRAB_OPT_NONE);
}

TEST(CrabOpt, LengthBelowTwoIsMalformed)
{
    for (uint8_t len : {0, 1}) {
        auto w = walk({2, len, 42, 6, 1, 2, 3, 4});
        EXPECT_EQ(w.status, CRAB_OPT_MALFORMED) << "len " << int(len);
        EXPECT_EQ(w.res.malformed, 1);
    }
}

TEST(CrabOpt, OptionRunningPastTheEndIsMalformed)
{
    EXPECT_EQ(walk({1, 1, 42, 6, 1, 2, 3}).status, CRAB_OPT_MALFORMED);
    EXPECT_EQ(walk({1, 1, 1, 42}).status, CRAB_OPT_MALFORMED);
    EXPECT_EQ(walk({8, 255, 0, 0}).status, CRAB_OPT_MALFORMED);
}

TEST(CrabOpt, ForbidsReadingPastFortyBytes)
{
    // 36 NOPs then an option split across the 40-byte boundary.
    std::vector<uint8_t> o(42, 1);
    o[36] = 42;
    o[37] = 6;
    EXPECT_EQ(walk(o).status, CRAB_OPT_MALFORMED);
    std::vector<uint8_t> nops(40, 1);
    EXPECT_EQ(walk(nops).status, CRAB_OPT_NONE);
}

TEST(CrabOpt, EmptyOptions)
{
    EXPECT_EQ(walk({}).status, CRAB_OPT_NONE);
}

TEST(CrabOpt, WriteThenFindRoundTrips)
{
    for (const auto& cfg : {kDefault, kExp}) {
        std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
        crab_opt_write(buf.data(), &cfg, 0xC6126401u);
        crab_opt_res r{};
        ASSERT_EQ(crab_opt_find(buf.data(), TCPOLEN_CRAB_ALIGNED, &cfg, &r), CRAB_OPT_FOUND);
        EXPECT_EQ(r.addr, 0xC6126401u);
        EXPECT_EQ(r.off + crab_opt_addr_off(&cfg) + 4, TCPOLEN_CRAB_ALIGNED);
    }
}

TEST(CrabOpt, DefaultWireBytes)
{
    std::array<uint8_t, 8> buf{};
    crab_opt_write(buf.data(), &kDefault, 0x0A000001u);
    EXPECT_EQ(buf, (std::array<uint8_t, 8>{1, 1, 42, 6, 10, 0, 0, 1}));
}

TEST(CrabOpt, ExperimentalFormChecksExid)
{
    // RFC 6994: kind 254, len 8, ExID, addr. Another experiment's ExID is not ours.
    EXPECT_EQ(walk({254, 8, 0xC4, 0xAB, 1, 2, 3, 4}, kExp).status, CRAB_OPT_FOUND);
    auto other = walk({254, 8, 0x12, 0x34, 1, 2, 3, 4}, kExp);
    EXPECT_EQ(other.status, CRAB_OPT_NONE);
    EXPECT_EQ(other.res.bad_len, 0);
    // The default kind is not parsed when the experimental form is configured.
    EXPECT_EQ(walk({42, 6, 1, 2, 3, 4}, kExp).status, CRAB_OPT_NONE);
    EXPECT_EQ(walk({254, 8, 0xC4, 0xAB, 1, 2, 3, 4}, kDefault).status, CRAB_OPT_NONE);
}

TEST(CrabOpt, KindIsConfigurable)
{
    crab_opt_cfg c = kDefault;
    c.kind = 253;
    EXPECT_EQ(walk({253, 6, 1, 2, 3, 4}, c).status, CRAB_OPT_FOUND);
    EXPECT_EQ(walk({42, 6, 1, 2, 3, 4}, c).status, CRAB_OPT_NONE);
}

// ---- IPv6 segments: kind 42 length 18, RFC 6994 length 20 -----------------

Walk walk6(const std::vector<uint8_t>& opts, const crab_opt_cfg& cfg = kDefault)
{
    std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
    if (!opts.empty())
        std::memcpy(buf.data(), opts.data(), std::min(opts.size(), buf.size()));
    Walk w{};
    w.status = crab_opt_find6(buf.data(), static_cast<uint32_t>(opts.size()), &cfg, &w.res);
    return w;
}

const std::array<uint8_t, 16> kV6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};

std::vector<uint8_t> opt6(uint8_t kind, uint8_t len, std::vector<uint8_t> pre = {})
{
    std::vector<uint8_t> o = std::move(pre);
    o.push_back(kind);
    o.push_back(len);
    if (kind == CRAB_OPT_KIND_EXP) {
        o.push_back(0xC4);
        o.push_back(0xAB);
    }
    o.insert(o.end(), kV6.begin(), kV6.end());
    return o;
}

TEST(CrabOpt6, FindsAlignedOptionAfterNops)
{
    auto w = walk6(opt6(42, 18, {1, 1}));
    ASSERT_EQ(w.status, CRAB_OPT_FOUND);
    EXPECT_EQ(w.res.off, 2);
    EXPECT_EQ(0, std::memcmp(w.res.addr6, kV6.data(), 16));
    EXPECT_EQ(w.res.addr, 0u);
}

TEST(CrabOpt6, FamilyDecidesTheLength)
{
    // An IPv6-sized option in an IPv4 segment, and an IPv4-sized one in an
    // IPv6 segment, are of the wrong length: ignored and counted.
    auto w4 = walk(opt6(42, 18, {1, 1}));
    EXPECT_EQ(w4.status, CRAB_OPT_NONE);
    EXPECT_EQ(w4.res.bad_len, 1);
    auto w6 = walk6({1, 1, 42, 6, 10, 0, 0, 1});
    EXPECT_EQ(w6.status, CRAB_OPT_NONE);
    EXPECT_EQ(w6.res.bad_len, 1);
    // Both present: each walk takes the one of its family.
    std::vector<uint8_t> both = {42, 6, 10, 0, 0, 1};
    auto o = opt6(42, 18);
    both.insert(both.end(), o.begin(), o.end());
    auto b6 = walk6(both);
    ASSERT_EQ(b6.status, CRAB_OPT_FOUND);
    EXPECT_EQ(b6.res.off, 6);
    EXPECT_EQ(b6.res.bad_len, 1);
    auto b4 = walk(both);
    ASSERT_EQ(b4.status, CRAB_OPT_FOUND);
    EXPECT_EQ(b4.res.addr, 0x0A000001u);
}

TEST(CrabOpt6, ExperimentalForm)
{
    auto w = walk6(opt6(CRAB_OPT_KIND_EXP, 20), kExp);
    ASSERT_EQ(w.status, CRAB_OPT_FOUND);
    EXPECT_EQ(0, std::memcmp(w.res.addr6, kV6.data(), 16));
    EXPECT_EQ(walk6(opt6(CRAB_OPT_KIND_EXP, 20), kDefault).status, CRAB_OPT_NONE);
    EXPECT_EQ(walk6(opt6(42, 18), kExp).status, CRAB_OPT_NONE);
}

TEST(CrabOpt6, FullSynOptionSpaceFits)
{
    // What Linux sends in a SYN: MSS, SACK_PERM + timestamps, NOP + window
    // scale (20 bytes), then the 20-byte aligned option: exactly 40.
    std::vector<uint8_t> o = {2, 4, 0x05, 0xa0, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
    std::array<uint8_t, TCPOLEN_CRAB6_ALIGNED> w6{};
    crab_opt_write6(w6.data(), &kDefault, kV6.data());
    o.insert(o.end(), w6.begin(), w6.end());
    ASSERT_EQ(o.size(), size_t(CRAB_TCP_MAX_OPTLEN));
    auto w = walk6(o);
    ASSERT_EQ(w.status, CRAB_OPT_FOUND);
    EXPECT_EQ(w.res.off, 22);
    EXPECT_EQ(0, std::memcmp(w.res.addr6, kV6.data(), 16));
    // One byte short: the option runs past the header, malformed.
    o.pop_back();
    EXPECT_EQ(walk6(o).status, CRAB_OPT_MALFORMED);
}

TEST(CrabOpt6, WriteWireBytes)
{
    std::array<uint8_t, TCPOLEN_CRAB6_ALIGNED> d{}, e{};
    crab_opt_write6(d.data(), &kDefault, kV6.data());
    EXPECT_EQ(d[0], 1);
    EXPECT_EQ(d[1], 1);
    EXPECT_EQ(d[2], 42);
    EXPECT_EQ(d[3], 18);
    EXPECT_EQ(0, std::memcmp(d.data() + 4, kV6.data(), 16));
    crab_opt_write6(e.data(), &kExp, kV6.data());
    EXPECT_EQ(e[0], 254);
    EXPECT_EQ(e[1], 20);
    EXPECT_EQ(e[2], 0xC4);
    EXPECT_EQ(e[3], 0xAB);
    EXPECT_EQ(0, std::memcmp(e.data() + 4, kV6.data(), 16));
    EXPECT_EQ(crab_opt_addr_off(&kExp), 4);
    EXPECT_EQ(crab_opt_addr_off(&kDefault), 2);
}

// Exhaustive-ish property: for every 1..3-byte prefix of option soup the walk
// terminates and never reports an offset outside the given length.
TEST(CrabOpt, NeverReportsOutOfBounds)
{
    for (int a = 0; a < 256; a += 3)
        for (int b = 0; b < 256; b += 5)
            for (uint32_t len = 0; len <= 12; len++) {
                std::vector<uint8_t> o = {uint8_t(a), uint8_t(b), 42, 6, 1, 2, 3, 4, 42, 6, 5, 6};
                o.resize(len);
                auto w = walk(o);
                if (w.status == CRAB_OPT_FOUND) {
                    EXPECT_LE(w.res.off + TCPOLEN_CRAB, len);
                }
            }
}

// The fast path (crab_opt_skip_common) recognises Linux's two SYN layouts
// and changes no result: for those layouts and for random bytes mutated
// from them (every family, every form, every length), the walk from the
// skipped offset gives what the walk from 0 gives.
TEST(CrabOptFast, RecognisesLinuxSynLayouts)
{
    const std::vector<uint8_t> ts = {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
    const std::vector<uint8_t> nots = {2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
    std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
    std::memcpy(buf.data(), ts.data(), ts.size());
    EXPECT_EQ(crab_opt_skip_common(buf.data(), 28, &kDefault), 20u);
    EXPECT_EQ(crab_opt_skip_common(buf.data(), 19, &kDefault), 0u);  // shorter than the layout
    buf = {};
    std::memcpy(buf.data(), nots.data(), nots.size());
    EXPECT_EQ(crab_opt_skip_common(buf.data(), 20, &kExp), 12u);
    const crab_opt_cfg k8 = {8, 0, 0};  // a redirect kind the layout holds: no skip
    EXPECT_EQ(crab_opt_skip_common(buf.data(), 20, &k8), 0u);
    buf[6] = 5;  // another kind where SACK_PERM was
    EXPECT_EQ(crab_opt_skip_common(buf.data(), 20, &kDefault), 0u);
}

TEST(CrabOptFast, SameResultAsTheWholeWalk)
{
    const std::vector<uint8_t> base = {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7,
                                       1, 1, 42, 6, 198, 18, 100, 1, 254, 8, 0xc4, 0xab, 1, 2, 3, 4,
                                       42, 18, 0, 0};
    const std::vector<uint8_t> base2 = {2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7, 1, 1, 42, 18, 0x20, 1,
                                        0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    std::mt19937 rng(42);
    int skipped = 0;
    for (int i = 0; i < 200000; i++) {
        std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
        const auto& b = (i & 1) ? base2 : base;
        std::memcpy(buf.data(), b.data(), b.size());
        int nmut = static_cast<int>(rng() % 4);
        for (int k = 0; k < nmut; k++)  // mutate mostly the tail, sometimes the layout
            buf[(rng() % 8) ? 12 + rng() % 28 : rng() % 20] = static_cast<uint8_t>(rng());
        uint32_t len = static_cast<uint32_t>(rng() % 41);
        const crab_opt_cfg& cfg = (i & 2) ? kExp : kDefault;
        int v6 = (i >> 2) & 1;
        uint32_t start = crab_opt_skip_common(buf.data(), len, &cfg);
        skipped += start != 0;
        crab_opt_res a{}, c{};
        int sa = crab_opt_find_fam(buf.data(), len, &cfg, v6, &a);
        int sc = crab_opt_find_from(buf.data(), len, &cfg, v6, 0, &c);
        ASSERT_EQ(sa, sc) << "i=" << i;
        ASSERT_EQ(std::memcmp(&a, &c, sizeof(a)), 0) << "i=" << i;
    }
    EXPECT_GT(skipped, 50000);  // the fast path was taken, not only the slow one
}

// The in-place check (crab_opt_find_common): the option right behind
// Linux's layouts (or first) is found without a walk, and whatever it
// returns is the walk's own result from byte 0; otherwise -1.
TEST(CrabOptFast, InPlaceCheckIsTheWalksResult)
{
    const std::vector<uint8_t> ts = {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
    const std::vector<uint8_t> nots = {2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
    const std::vector<uint8_t> cap = {1, 1, 42, 6, 198, 18, 100, 1};
    std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
    std::memcpy(buf.data(), ts.data(), ts.size());
    std::memcpy(buf.data() + 20, cap.data(), cap.size());
    const uint8_t* end = buf.data() + buf.size();
    EXPECT_EQ(crab_opt_find_common(end, buf.data(), 28, &kDefault, 0), 22);
    EXPECT_EQ(crab_opt_find_common(buf.data() + 28, buf.data(), 28, &kDefault, 0), 22);
    EXPECT_EQ(crab_opt_find_common(end, buf.data(), 27, &kDefault, 0), -1);  // runs past the header
    EXPECT_EQ(crab_opt_find_common(end, buf.data(), 28, &kDefault, 1), -1);  // IPv4 form, IPv6 segment
    EXPECT_EQ(crab_opt_find_common(buf.data() + 19, buf.data(), 28, &kDefault, 0), -1);  // too little readable
    buf = {};
    std::memcpy(buf.data(), nots.data(), nots.size());
    const std::vector<uint8_t> exp = {254, 8, 0xc4, 0xab, 198, 18, 100, 1};
    std::memcpy(buf.data() + 12, exp.data(), exp.size());
    EXPECT_EQ(crab_opt_find_common(end, buf.data(), 20, &kExp, 0), 12);
    buf[15] = 0xac;  // another ExID: someone else's experiment
    EXPECT_EQ(crab_opt_find_common(end, buf.data(), 20, &kExp, 0), -1);
    const crab_opt_cfg k4 = {4, 0, 0};  // a redirect kind a layout holds: never in place
    EXPECT_EQ(crab_opt_find_common(end, buf.data(), 20, &k4, 0), -1);

    std::mt19937 rng(7);
    const uint8_t pool[] = {0, 1, 2, 3, 4, 6, 8, 10, 18, 20, 42, 254, 0xc4, 0xab};
    int found = 0;
    for (int i = 0; i < 300000; i++) {
        const crab_opt_cfg& cfg = (i & 1) ? kExp : kDefault;
        int v6 = (i >> 1) & 1;
        buf = {};
        uint32_t p = 0;
        if (rng() % 3 == 1) {
            std::memcpy(buf.data(), ts.data(), ts.size());
            p = 20;
        } else if (rng() % 2) {
            std::memcpy(buf.data(), nots.data(), nots.size());
            p = 12;
        }
        for (uint32_t k = p; k < buf.size(); k++)
            buf[k] = (rng() % 3) ? pool[rng() % sizeof(pool)] : static_cast<uint8_t>(rng());
        if (rng() % 2) {  // an option, sometimes slightly wrong, where the check looks
            uint32_t j = p + ((rng() % 2) ? 2 : 0);
            buf[p] = buf[p + 1] = 1;
            buf[j] = cfg.kind;
            buf[j + 1] = static_cast<uint8_t>(crab_opt_len_fam(&cfg, v6) + (rng() % 5 == 0));
            buf[j + 2] = 0xc4;
            buf[j + 3] = (rng() % 5) ? 0xab : 0xac;
        }
        if (rng() % 8 == 0)
            buf[rng() % 20] ^= static_cast<uint8_t>(1u << (rng() % 8));
        uint32_t len = static_cast<uint32_t>(rng() % 41);
        crab_opt_res r{};
        int st = crab_opt_find_from(buf.data(), len, &cfg, v6, 0, &r);
        int f = crab_opt_find_common(end, buf.data(), len, &cfg, v6);
        if (f >= 0) {
            found++;
            ASSERT_EQ(st, CRAB_OPT_FOUND) << "i=" << i;
            ASSERT_EQ(r.off, f) << "i=" << i;
            ASSERT_EQ(r.bad_len, 0) << "i=" << i;
        }
        int f2 = crab_opt_find_common(buf.data() + len, buf.data(), len, &cfg, v6);  // readable: the header
        if (f2 >= 0) {
            ASSERT_EQ(f2, f) << "i=" << i;
        }
    }
    EXPECT_GT(found, 30000);  // the check did find options, not only fall back
}

// The option alone behind Linux's layouts (crab_opt_find_sole): where it
// answers, the walk from byte 0 finds that option first with no wrong
// length, and the walks for TCP-MD5 and TCP-AO (the eBPF client's signed
// check) find nothing, no wrong length, nothing malformed; it answers for
// the layouts senders write, the eBPF server's trailing NOPs included.
TEST(CrabOptSole, WhereItAnswersTheWalksAgree)
{
    const std::vector<uint8_t> ts = {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
    const std::vector<uint8_t> lead = {1, 1, 42, 6, 198, 18, 100, 1};  // modules, kernel
    const std::vector<uint8_t> trail = {42, 6, 198, 18, 100, 1, 1, 1};  // eBPF server
    const crab_opt_cfg md5 = {19, 0, 0}, ao = {29, 0, 0};
    std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
    for (const auto* o : {&lead, &trail}) {
        buf = {};
        std::memcpy(buf.data(), ts.data(), ts.size());
        std::memcpy(buf.data() + 20, o->data(), o->size());
        EXPECT_EQ(crab_opt_find_sole(buf.data(), 28, &kDefault, 0), o == &lead ? 22 : 20);
        EXPECT_EQ(crab_opt_find_sole(buf.data(), 32, &kDefault, 0), -1);  // 4 bytes of padding
    }
    buf[27] = 19;  // a TCP-MD5 kind where the eBPF server's padding was
    EXPECT_EQ(crab_opt_find_sole(buf.data(), 28, &kDefault, 0), -1);

    std::mt19937 rng(11);
    const uint8_t pool[] = {0, 1, 2, 3, 4, 6, 8, 10, 18, 19, 20, 29, 42, 254, 0xc4, 0xab};
    int found = 0;
    for (int i = 0; i < 300000; i++) {
        const crab_opt_cfg& cfg = (i & 1) ? kExp : kDefault;
        int v6 = (i >> 1) & 1;
        buf = {};
        uint32_t p = (rng() % 3) ? 20 : 0;
        if (p)
            std::memcpy(buf.data(), ts.data(), ts.size());
        uint32_t olen = crab_opt_len_fam(&cfg, v6);
        uint32_t j = p + ((rng() % 2) ? 2 : 0);
        buf[p] = buf[p + 1] = 1;
        buf[j] = cfg.kind;
        buf[j + 1] = static_cast<uint8_t>(olen);
        buf[j + 2] = 0xc4;
        buf[j + 3] = 0xab;
        for (uint32_t k = j + 4; k < j + olen && k < buf.size(); k++)
            buf[k] = static_cast<uint8_t>(rng());
        for (uint32_t k = j + olen; k < buf.size(); k++)  // padding, or something else
            buf[k] = (rng() % 4) ? static_cast<uint8_t>(rng() % 2) : pool[rng() % sizeof(pool)];
        int nmut = static_cast<int>(rng() % 3);
        for (int k = 0; k < nmut; k++)
            buf[rng() % 40] = pool[rng() % sizeof(pool)];
        uint32_t len = (rng() % 4) ? j + olen + rng() % 4 : static_cast<uint32_t>(rng() % 41);
        if (len > CRAB_TCP_MAX_OPTLEN)
            len = CRAB_TCP_MAX_OPTLEN;
        for (uint32_t k = len; k < buf.size(); k++)
            buf[k] = 0;  // the BPF buffer: zeros past the header
        int f = crab_opt_find_sole(buf.data(), len, &cfg, v6);
        if (f < 0)
            continue;
        found++;
        crab_opt_res r{}, m{}, a{};
        ASSERT_EQ(crab_opt_find_from(buf.data(), len, &cfg, v6, 0, &r), CRAB_OPT_FOUND) << "i=" << i;
        ASSERT_EQ(r.off, f) << "i=" << i;
        ASSERT_EQ(r.bad_len, 0) << "i=" << i;
        ASSERT_EQ(crab_opt_find_from(buf.data(), len, &md5, v6, 0, &m), CRAB_OPT_NONE) << "i=" << i;
        ASSERT_EQ(m.bad_len, 0) << "i=" << i;
        ASSERT_EQ(crab_opt_find_from(buf.data(), len, &ao, v6, 0, &a), CRAB_OPT_NONE) << "i=" << i;
        ASSERT_EQ(a.bad_len, 0) << "i=" << i;
    }
    EXPECT_GT(found, 50000);  // it answered, not only fell back
}

// The sender's form where the walk resumes (crab_opt_find_quick): the
// same status and result as the whole walk from offset 0, for the forms
// senders write (both families, both encodings, behind either Linux
// layout or at the start) and for random mutations of them: kinds,
// lengths, ExIDs, NOPs, the option cut short by the length, other
// configured kinds (NOP and EOL included).
TEST(CrabOptQuick, SameResultAsTheWholeWalk)
{
    const std::vector<uint8_t> ts = {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
    const std::vector<uint8_t> nots = {2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
    const std::vector<uint8_t> v4 = {1, 1, 42, 6, 198, 18, 100, 1};
    const std::vector<uint8_t> v4exp = {254, 8, 0xc4, 0xab, 198, 18, 100, 1};
    auto with_v6 = [](std::vector<uint8_t> o) {
        o.insert(o.end(), kV6.begin(), kV6.end());
        return o;
    };
    const std::vector<uint8_t> v6 = with_v6({1, 1, 42, 18}), v6exp = with_v6({254, 20, 0xc4, 0xab});
    std::vector<std::vector<uint8_t>> bases;
    for (const auto* pre : {&ts, &nots})
        for (const auto* o : {&v4, &v4exp, &v6, &v6exp}) {
            std::vector<uint8_t> b = *pre;
            b.insert(b.end(), o->begin(), o->end());
            bases.push_back(b);
        }
    for (const auto* o : {&v4, &v4exp, &v6, &v6exp})
        bases.push_back(*o);
    const crab_opt_cfg cfgs[] = {kDefault, kExp, {CRAB_OPT_KIND_EXP, 0, 0x1234}, {253, 0, 0},
                                 {CRAB_TCPOPT_NOP, 0, 0}, {CRAB_TCPOPT_EOL, 0, 0}};
    std::mt19937 rng(7);
    int quick = 0;
    for (int i = 0; i < 400000; i++) {
        const auto& b = bases[rng() % bases.size()];
        std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
        std::memcpy(buf.data(), b.data(), std::min<size_t>(b.size(), CRAB_TCP_MAX_OPTLEN));
        int nmut = static_cast<int>(rng() % 3);
        for (int k = 0; k < nmut; k++) {  // mostly the option, sometimes the layout
            uint32_t at = (rng() % 4) ? 12 + rng() % 28 : rng() % 20;
            buf[at] = (rng() % 2) ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(rng() % 6 ? buf[at] ^ 1 : 254);
        }
        uint32_t len = (rng() % 4) ? static_cast<uint32_t>(b.size()) : static_cast<uint32_t>(rng() % 45);
        const crab_opt_cfg& cfg = (rng() % 4) ? cfgs[rng() % 2] : cfgs[rng() % std::size(cfgs)];
        int fam6 = static_cast<int>(rng() % 2);
        uint32_t n = std::min<uint32_t>(len, CRAB_TCP_MAX_OPTLEN);
        quick += crab_opt_sender_form(buf.data(), n, crab_opt_skip_common(buf.data(), n, &cfg), &cfg, fam6) >= 0;
        crab_opt_res a{}, c{};
        std::memset(&a, 0xa5, sizeof(a));  // every field written, whatever was there
        int sa = crab_opt_find_quick(buf.data(), len, &cfg, fam6, &a);
        int sc = crab_opt_find_from(buf.data(), len, &cfg, fam6, 0, &c);
        ASSERT_EQ(sa, sc) << "i=" << i;
        ASSERT_EQ(std::memcmp(&a, &c, sizeof(a)), 0) << "i=" << i;
    }
    EXPECT_GT(quick, 50000);  // the quick path was taken, not only the walk
}

// The word check of Linux's layout (crab_opt_find_usual): when it answers,
// the whole walk from offset 0 finds the option there, with no wrong length
// and nothing malformed; it answers for the layout with either family's
// option behind NOP NOP, and for nothing with a byte of it changed, the
// RFC 6994 kind, NOP/EOL as the kind, or a header too short.
TEST(CrabOptUsual, AnOffsetIsTheWalksResult)
{
    const std::vector<uint8_t> ts = {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
    std::vector<uint8_t> o4 = ts, o6 = ts;
    for (uint8_t b : {1, 1, 42, 6, 198, 18, 100, 1})
        o4.push_back(b);
    for (uint8_t b : {1, 1, 42, 18})
        o6.push_back(b);
    o6.insert(o6.end(), kV6.begin(), kV6.end());
    std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
    std::memcpy(buf.data(), o4.data(), o4.size());
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 28, &kDefault, 0), 22);
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 40, &kDefault, 0), 22);
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 27, &kDefault, 0), -1);  // the option runs past the header
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 40, &kDefault, 1), -1);  // IPv4 form, IPv6 segment
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 28, &kExp, 0), -1);
    std::memcpy(buf.data(), o6.data(), o6.size());
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 40, &kDefault, 1), 22);
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 39, &kDefault, 1), -1);
    EXPECT_EQ(crab_opt_find_usual(buf.data(), 40, &kDefault, 0), -1);
    // One byte of the layout or the option's head changed (the
    // timestamps' values and the window's shift are not looked at).
    for (size_t at = 0; at < 24; at++) {
        if ((at >= 2 && at < 4) || (at >= 8 && at < 16) || at == 19)
            continue;
        std::memcpy(buf.data(), o4.data(), o4.size());
        buf[at] ^= 0x20;
        EXPECT_EQ(crab_opt_find_usual(buf.data(), 28, &kDefault, 0), -1) << "byte " << at;
    }
    for (uint8_t kind : std::array<uint8_t, 6>{CRAB_TCPOPT_EOL, CRAB_TCPOPT_NOP, 2, 3, 4, 8}) {
        const crab_opt_cfg c = {kind, 0, 0};
        std::memcpy(buf.data(), o4.data(), o4.size());
        buf[22] = kind;
        EXPECT_EQ(crab_opt_find_usual(buf.data(), 28, &c, 0), -1) << "kind " << int(kind);
    }
    // Random mutations of both forms: an answer is always the walk's.
    std::mt19937 rng(5);
    int usual = 0;
    const crab_opt_cfg cfgs[] = {kDefault, kExp, {253, 0, 0}, {CRAB_TCPOPT_NOP, 0, 0}, {10, 0, 0}};
    for (int i = 0; i < 400000; i++) {
        const auto& b = (rng() % 2) ? o4 : o6;
        buf = {};
        std::memcpy(buf.data(), b.data(), b.size());
        int nmut = static_cast<int>(rng() % 3);
        for (int k = 0; k < nmut; k++) {
            uint32_t at = rng() % 28;
            buf[at] = (rng() % 2) ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(buf[at] ^ (1u << (rng() % 8)));
        }
        uint32_t len = (rng() % 4) ? static_cast<uint32_t>(b.size()) : static_cast<uint32_t>(rng() % 45);
        const crab_opt_cfg& cfg = (rng() % 4) ? cfgs[0] : cfgs[rng() % std::size(cfgs)];
        int fam6 = static_cast<int>(rng() % 2);
        int at = crab_opt_find_usual(buf.data(), len, &cfg, fam6);
        if (at < 0)
            continue;
        usual++;
        crab_opt_res r{};
        ASSERT_EQ(crab_opt_find_from(buf.data(), len, &cfg, fam6, 0, &r), CRAB_OPT_FOUND) << "i=" << i;
        ASSERT_EQ(r.off, at) << "i=" << i;
        ASSERT_EQ(r.bad_len, 0) << "i=" << i;
        ASSERT_EQ(r.malformed, 0) << "i=" << i;
    }
    EXPECT_GT(usual, 50000);  // it answered, not only declined
}

// What the quick path recognises: the option as crab_opt_write() and
// crab_opt_write6() put it, with or without its NOPs, in full.
TEST(CrabOptQuick, RecognisesTheSenderForm)
{
    std::array<uint8_t, CRAB_OPT_BUF_SIZE> buf{};
    crab_opt_write(buf.data(), &kDefault, 0xC6126401u);
    EXPECT_EQ(crab_opt_sender_form(buf.data(), 8, 0, &kDefault, 0), 2);
    EXPECT_EQ(crab_opt_sender_form(buf.data(), 8, 2, &kDefault, 0), 2);  // without the NOPs
    EXPECT_EQ(crab_opt_sender_form(buf.data(), 7, 0, &kDefault, 0), -1);  // cut short
    EXPECT_EQ(crab_opt_sender_form(buf.data(), 8, 0, &kDefault, 1), -1);  // IPv4 form, IPv6 segment
    crab_opt_write(buf.data(), &kExp, 0xC6126401u);
    EXPECT_EQ(crab_opt_sender_form(buf.data(), 8, 0, &kExp, 0), 0);
    const crab_opt_cfg other = {CRAB_OPT_KIND_EXP, 0, 0x1234};
    EXPECT_EQ(crab_opt_sender_form(buf.data(), 8, 0, &other, 0), -1);  // someone else's ExID
    crab_opt_write6(buf.data(), &kDefault, kV6.data());
    EXPECT_EQ(crab_opt_sender_form(buf.data(), 20, 0, &kDefault, 1), 2);
    crab_opt_res r{};
    ASSERT_EQ(crab_opt_find_quick(buf.data(), 20, &kDefault, 1, &r), CRAB_OPT_FOUND);
    EXPECT_EQ(std::memcmp(r.addr6, kV6.data(), 16), 0);
    // A redirect kind configured to NOP or EOL: the walk reads those bytes
    // as NOP and EOL, never as the option, and so must the quick path.
    for (uint8_t kind : {CRAB_TCPOPT_NOP, CRAB_TCPOPT_EOL}) {
        const crab_opt_cfg c = {kind, 0, 0};
        buf = {kind, 6, 198, 18, 100, 1};
        EXPECT_EQ(crab_opt_sender_form(buf.data(), 6, 0, &c, 0), -1) << int(kind);
        EXPECT_EQ(crab_opt_find_quick(buf.data(), 6, &c, 0, &r), crab_opt_find_from(buf.data(), 6, &c, 0, 0, &r));
    }
}

}  // namespace
