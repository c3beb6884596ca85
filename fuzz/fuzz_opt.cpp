// SPDX-License-Identifier: GPL-2.0-only
// Fuzz target: the shared option walk and writer (include/crab/crab_opt.h),
// differential against ref_opt_walk() and docs/PROTOCOL.md section 2 invariants.
//
// Input: byte 0 selects the encoding (bits 0-1, below) and the segment's
// family (bit 2: IPv6), bytes 1..2 an ExID, the rest are the TCP option
// bytes (any length; the walk only looks at 40).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
#include <crab/crab_opt.h>
}

#include "fuzz_check.h"
#include "ref_opt.h"

using crab::fuzz::ref_opt_walk;

namespace {

crab_opt_cfg pick_cfg(const uint8_t* d)
{
    crab_opt_cfg c = CRAB_OPT_CFG_DEFAULT;
    switch (d[0] & 3) {
    case 0:  // kind 42, len 6 (default)
        break;
    case 1:  // RFC 6994: kind 254, default ExID
        c.kind = CRAB_OPT_KIND_EXP;
        break;
    case 2:  // RFC 6994 with another ExID
        c.kind = CRAB_OPT_KIND_EXP;
        c.exid = static_cast<uint16_t>(d[1] << 8 | d[2]);
        break;
    default:  // the kind is a setting: any kind other than EOL/NOP
        c.kind = d[1] < 2 ? 42 : d[1];
        break;
    }
    return c;
}

bool zero16(const uint8_t* a)
{
    for (int k = 0; k < 16; k++)
        if (a[k])
            return false;
    return true;
}

void check_walk(const uint8_t* opt, uint32_t n, const crab_opt_cfg& cfg, bool v6)
{
    const bool exp = cfg.kind == CRAB_OPT_KIND_EXP;
    const uint32_t want_len = static_cast<uint32_t>(crab_opt_len_fam(&cfg, v6));
    const uint32_t lim = n > CRAB_TCP_MAX_OPTLEN ? CRAB_TCP_MAX_OPTLEN : n;

    crab_opt_res res;
    std::memset(&res, 0xa5, sizeof(res));
    int st = crab_opt_find_fam(opt, n, &cfg, v6, &res);
    auto ref = ref_opt_walk(opt, n, cfg.kind, exp, cfg.exid, v6);

    FUZZ_CHECK(st == ref.status, "status %d, reference %d", st, ref.status);
    FUZZ_CHECK(res.bad_len == ref.bad_len, "bad_len %u, reference %u", res.bad_len, ref.bad_len);
    FUZZ_CHECK(res.malformed == (st == CRAB_OPT_MALFORMED), "malformed flag %u with status %d", res.malformed, st);
    if (st == CRAB_OPT_FOUND) {
        FUZZ_CHECK(res.off == ref.off, "found at %u, reference %u", res.off, ref.off);
        FUZZ_CHECK(res.addr == ref.addr, "address %08x, reference %08x", res.addr, ref.addr);
        FUZZ_CHECK(std::memcmp(res.addr6, ref.addr6, 16) == 0, "IPv6 address differs from the reference");
        // The option lies wholly inside the walked bytes and is what it claims.
        FUZZ_CHECK(res.off + want_len <= lim, "option at %u runs past %u", res.off, lim);
        FUZZ_CHECK(opt[res.off] == cfg.kind && opt[res.off + 1] == want_len, "found a non-option at %u", res.off);
        uint32_t a = res.off + crab_opt_addr_off(&cfg);
        if (v6) {
            FUZZ_CHECK(std::memcmp(opt + a, res.addr6, 16) == 0, "crab_opt_addr_off() disagrees with the address");
            FUZZ_CHECK(res.addr == 0, "IPv6 walk set the IPv4 address");
        } else {
            uint32_t addr = static_cast<uint32_t>(opt[a]) << 24 | opt[a + 1] << 16 | opt[a + 2] << 8 | opt[a + 3];
            FUZZ_CHECK(addr == res.addr, "crab_opt_addr_off() disagrees with the address");
            FUZZ_CHECK(zero16(res.addr6), "IPv4 walk set the IPv6 address");
        }
    } else {
        FUZZ_CHECK(res.addr == 0 && res.off == 0 && zero16(res.addr6), "not found but addr/off set");
    }

    // Step by step: every step that does not end the walk moves forward, so
    // no input can make a component loop; the 40-step budget is enough.
    crab_opt_state s;
    crab_opt_init_fam(&s, n, &cfg, v6);
    unsigned steps = 0;
    for (;;) {
        uint32_t before = s.i;
        steps++;
        if (crab_opt_step(opt, &s))
            break;
        FUZZ_CHECK(s.i > before, "step did not advance (i=%u)", before);
        FUZZ_CHECK(s.i <= lim, "walk moved past the option space (i=%u)", s.i);
    }
    FUZZ_CHECK(steps <= CRAB_TCP_MAX_OPTLEN + 1, "%u steps", steps);
    FUZZ_CHECK(s.status == st, "stepwise status %d, crab_opt_find %d", s.status, st);

    // BPF view: the same bytes in a zero-padded CRAB_OPT_BUF_SIZE buffer
    // (crab_opt_walk_bpf) must give the same answer.
    uint8_t buf[CRAB_OPT_BUF_SIZE] = {};
    if (lim)
        std::memcpy(buf, opt, lim);
    crab_opt_res r2;
    int st2 = crab_opt_find_fam(buf, lim, &cfg, v6, &r2);
    FUZZ_CHECK(st2 == st && r2.addr == res.addr && r2.off == res.off && r2.bad_len == res.bad_len &&
                   std::memcmp(r2.addr6, res.addr6, 16) == 0,
               "walk of the padded copy differs");

    // The in-place check of the common layouts: an offset only where the
    // walk from byte 0 finds that option first, with no wrong length seen,
    // whether the readable bytes end at the walked ones or run on. Exactly
    // lim bytes on the heap: ASan sees a read past the end it was given.
    std::vector<uint8_t> exact(opt, opt + lim);
    int fast = lim ? crab_opt_find_common(exact.data() + lim, exact.data(), lim, &cfg, v6) : -1;
    int fast2 = crab_opt_find_common(buf + sizeof(buf), buf, lim, &cfg, v6);
    FUZZ_CHECK(fast < 0 || (st == CRAB_OPT_FOUND && res.off == fast && res.bad_len == 0),
               "in-place check found %d, the walk: status %d at %u, %u wrong lengths", fast, st, res.off,
               res.bad_len);
    FUZZ_CHECK(fast2 < 0 || (st == CRAB_OPT_FOUND && res.off == fast2 && res.bad_len == 0),
               "in-place check (padded) found %d, the walk: status %d at %u", fast2, st, res.off);
    FUZZ_CHECK(fast < 0 || fast2 == fast, "in-place check %d with the exact end, %d padded", fast, fast2);

    // The option alone behind those layouts (the eBPF client's SYN-ACK
    // path): the walk's own result, and no TCP-MD5 or TCP-AO option, no
    // wrong length and nothing malformed for the walks looking for them.
    int sole = crab_opt_find_sole(buf, lim, &cfg, v6);
    FUZZ_CHECK(sole < 0 || (st == CRAB_OPT_FOUND && res.off == sole && res.bad_len == 0),
               "crab_opt_find_sole found %d, the walk: status %d at %u", sole, st, res.off);
    if (sole >= 0) {
        for (uint8_t kind : {19, 29}) {
            const crab_opt_cfg other = {kind, 0, 0};
            crab_opt_res r3;
            int st3 = crab_opt_find_from(buf, lim, &other, v6, 0, &r3);
            FUZZ_CHECK(st3 == CRAB_OPT_NONE && r3.bad_len == 0,
                       "crab_opt_find_sole answered, but the walk for kind %u: status %d, %u wrong lengths",
                       kind, st3, r3.bad_len);
        }
    }

    // Linux's layout by words (crab_opt_find_usual, userspace): an offset
    // only where the walk finds that option first, with no wrong length
    // and nothing malformed; reads inside the lim bytes it was given.
    int usual = crab_opt_find_usual(exact.data(), lim, &cfg, v6);
    FUZZ_CHECK(usual < 0 || (st == CRAB_OPT_FOUND && res.off == usual && res.bad_len == 0 && res.malformed == 0),
               "usual layout found %d, the walk: status %d at %u, %u wrong lengths", usual, st, res.off,
               res.bad_len);
}

void check_write(const uint8_t* opt, uint32_t n, const crab_opt_cfg& cfg, uint32_t addr)
{
    const bool exp = cfg.kind == CRAB_OPT_KIND_EXP;
    // Exactly TCPOLEN_CRAB_ALIGNED bytes on the heap: ASan sees any write past them.
    std::vector<uint8_t> w(TCPOLEN_CRAB_ALIGNED);
    crab_opt_write(w.data(), &cfg, addr);
    crab_opt_res res;
    FUZZ_CHECK(crab_opt_find(w.data(), TCPOLEN_CRAB_ALIGNED, &cfg, &res) == CRAB_OPT_FOUND,
               "written option not found");
    FUZZ_CHECK(res.addr == addr, "written %08x, read %08x", addr, res.addr);
    FUZZ_CHECK(res.off + crab_opt_addr_off(&cfg) == 4, "address not 4-byte aligned in the written option");
    FUZZ_CHECK(res.off % 2 == 0 && (res.off + crab_opt_len(&cfg)) == TCPOLEN_CRAB_ALIGNED,
               "written option not 8 bytes ending aligned");
    if (exp)
        FUZZ_CHECK(w[0] == CRAB_OPT_KIND_EXP && w[1] == 8 && (w[2] << 8 | w[3]) == cfg.exid, "bad RFC 6994 header");
    else
        FUZZ_CHECK(w[0] == 1 && w[1] == 1 && w[2] == cfg.kind && w[3] == 6, "bad default header");

    // As an LB insert does: the option written first in front of whatever
    // options were there is the one every receiver finds.
    std::vector<uint8_t> hdr(TCPOLEN_CRAB_ALIGNED + n);
    std::memcpy(hdr.data(), w.data(), TCPOLEN_CRAB_ALIGNED);
    if (n)
        std::memcpy(hdr.data() + TCPOLEN_CRAB_ALIGNED, opt, n);
    FUZZ_CHECK(crab_opt_find(hdr.data(), static_cast<uint32_t>(hdr.size()), &cfg, &res) == CRAB_OPT_FOUND &&
                   res.addr == addr,
               "inserted option hidden by what follows it");
    // As the LB's redirect rewrite does: overwrite the address of the option
    // found in place; the walk then finds the same option with the new address.
    crab_opt_res r0;
    if (crab_opt_find(opt, n, &cfg, &r0) == CRAB_OPT_FOUND) {
        std::vector<uint8_t> c(opt, opt + n);
        uint8_t* a = c.data() + r0.off + crab_opt_addr_off(&cfg);
        a[0] = static_cast<uint8_t>(addr >> 24);
        a[1] = static_cast<uint8_t>(addr >> 16);
        a[2] = static_cast<uint8_t>(addr >> 8);
        a[3] = static_cast<uint8_t>(addr);
        crab_opt_res r1;
        FUZZ_CHECK(crab_opt_find(c.data(), n, &cfg, &r1) == CRAB_OPT_FOUND && r1.off == r0.off && r1.addr == addr,
                   "rewritten address not read back");
    }
}

void check_write6(const uint8_t* opt, uint32_t n, const crab_opt_cfg& cfg, const uint8_t* addr6)
{
    const bool exp = cfg.kind == CRAB_OPT_KIND_EXP;
    // Exactly TCPOLEN_CRAB6_ALIGNED bytes on the heap: ASan sees any write past them.
    std::vector<uint8_t> w(TCPOLEN_CRAB6_ALIGNED);
    crab_opt_write6(w.data(), &cfg, addr6);
    crab_opt_res res;
    FUZZ_CHECK(crab_opt_find6(w.data(), TCPOLEN_CRAB6_ALIGNED, &cfg, &res) == CRAB_OPT_FOUND,
               "written IPv6 option not found");
    FUZZ_CHECK(std::memcmp(res.addr6, addr6, 16) == 0, "written IPv6 address not read back");
    FUZZ_CHECK(res.off + crab_opt_addr_off(&cfg) == 4, "IPv6 address not 4-byte aligned in the written option");
    FUZZ_CHECK(res.off + crab_opt_len_fam(&cfg, 1) == TCPOLEN_CRAB6_ALIGNED, "written IPv6 option not 20 bytes");
    if (exp)
        FUZZ_CHECK(w[0] == CRAB_OPT_KIND_EXP && w[1] == 20 && (w[2] << 8 | w[3]) == cfg.exid,
                   "bad RFC 6994 IPv6 header");
    else
        FUZZ_CHECK(w[0] == 1 && w[1] == 1 && w[2] == cfg.kind && w[3] == 18, "bad default IPv6 header");
    // The family decides the length: the IPv6 option is not an IPv4 one.
    FUZZ_CHECK(crab_opt_find(w.data(), TCPOLEN_CRAB6_ALIGNED, &cfg, &res) == CRAB_OPT_NONE && res.bad_len == 1,
               "IPv6 option accepted by the IPv4 walk");
    // Inserted in front of the options: found first.
    std::vector<uint8_t> hdr(TCPOLEN_CRAB6_ALIGNED + n);
    std::memcpy(hdr.data(), w.data(), TCPOLEN_CRAB6_ALIGNED);
    if (n)
        std::memcpy(hdr.data() + TCPOLEN_CRAB6_ALIGNED, opt, n);
    FUZZ_CHECK(crab_opt_find6(hdr.data(), static_cast<uint32_t>(hdr.size()), &cfg, &res) == CRAB_OPT_FOUND &&
                   std::memcmp(res.addr6, addr6, 16) == 0,
               "inserted IPv6 option hidden by what follows it");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 3 || size > 3 + 64)
        return -1;  // not an input of this target (keeps the corpus small)
    crab_opt_cfg cfg = pick_cfg(data);
    uint32_t n = static_cast<uint32_t>(size - 3);
    // The options in their own heap block of exactly n bytes: any read past
    // them is an ASan report.
    std::vector<uint8_t> opt(data + 3, data + size);
    const bool v6 = data[0] & 4;
    check_walk(opt.data(), n, cfg, v6);
    uint32_t addr = 0xC6126401u ^ static_cast<uint32_t>(data[1] << 8 | data[2]) ^ (data[0] << 24);
    if (v6) {
        uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        for (int k = 0; k < 4; k++)
            a6[12 + k] = static_cast<uint8_t>(addr >> (24 - 8 * k));
        check_write6(opt.data(), n, cfg, a6);
    } else {
        check_write(opt.data(), n, cfg, addr);
    }
    return 0;
}
