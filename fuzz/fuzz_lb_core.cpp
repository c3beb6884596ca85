// SPDX-License-Identifier: GPL-2.0-only
// Fuzz target: the DPDK LB's packet path without DPDK, lb/dpdk/core
// process(), over arbitrary frames with a fixed service table that covers
// every legacy mode (drop, insert, hash) with every policy (rr, random,
// wrr), a service without backends and one whose backends all drain.
//
// Every frame is checked against a reference decision written here from
// docs/PROTOCOL.md 3.2 / lb/dpdk/README.md, and every rewritten frame
// against the expected bytes built independently from the input: only the
// L2 addresses, daddr, the option address (redirect),
// tot_len/doff and the 8 option bytes (insert) may change; both checksums
// verify when recomputed from scratch whenever they verified on input;
// doff <= 15. Which backend a deterministic policy must pick comes from the
// shared model's tables (include/crab/crab_lb_model.h). Dropped and passed
// frames are unmodified. ASan sees any access outside the frame and its
// headroom (the buffer is exactly headroom + frame bytes).
//
// IPv6 frames (to the IPv6 VIPs 2001:db8:100::1..3, the same services)
// are checked against invariants: a frame forwarded only when a TCP
// header is found behind at most 8 hop-by-hop/routing/destination-options
// headers (no fragment header); the output parses, goes to a backend of
// the service (hash mode: the shared model's pick, only L2 changed),
// redirect changes only L2, the destination and the option's address
// (:= VIP), insert adds exactly the 20-byte option first and 20 to the
// payload length; the TCP checksum verifies if it did on input.
//
// Input: 12 header bytes, then the frame.
//   [0] bit0 RFC 6994 encoding, bit1 fix the input's checksums first,
//       bit2 backend MACs known through the neighbour table
//   [1] headroom  [2] MTU = 68 + 8 * [2]  [3] round-robin cursor
//   [4..11] random state of the lcore
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "config.hpp"
#include "fuzz_check.h"
#include "lb_core.hpp"
#include "ref_opt.h"

using namespace crab::lb_dpdk;
using crab::fuzz::ref_opt_walk;
using crab::fuzz::ref_sum;

namespace {

constexpr size_t kHdr = 12;
constexpr uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 | static_cast<uint32_t>(c) << 8 | d;
}
const Mac kPortMac = {0x02, 0, 0, 0, 0, 0x01};
// VIP .1 drop, .2 insert, .3 hash; ports 80 rr, 81 random, 82 wrr, 83 rr
// without backends, 84 rr with every backend draining.
const uint32_t kVip[3] = {ip4(198, 18, 100, 1), ip4(198, 18, 100, 2), ip4(198, 18, 100, 3)};
const crab_legacy_mode kLegacy[3] = {CRAB_LEGACY_DROP, CRAB_LEGACY_INSERT, CRAB_LEGACY_HASH};
// A: static MAC, weight 1; B: MAC from the neighbour table, weight 3;
// C: static MAC, weight 2, draining.
const uint32_t kDip[3] = {ip4(198, 18, 0, 21), ip4(198, 18, 0, 22), ip4(198, 18, 0, 23)};
Mac be_mac(int i) { return {0x02, 0, 0, 0, 0, static_cast<uint8_t>(0x21 + i)}; }

// 2001:db8:100::1+i (VIPs), 2001:db8::21+i (backends).
Addr vip6(int i) { return Addr::from6(std::array<uint8_t, 16>{0x20, 1, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                             static_cast<uint8_t>(1 + i)}.data()); }
Addr dip6(int i) { return Addr::from6(std::array<uint8_t, 16>{0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                             static_cast<uint8_t>(0x21 + i)}.data()); }

struct World {
    Table t;
    NeighTable empty, known;
    World()
    {
        for (int v = 0; v < 6; v++)
            for (uint16_t port = 80; port <= 84; port++) {
                ServiceSpec s;
                s.ep = {v < 3 ? Addr(kVip[v]) : vip6(v - 3), port};
                s.policy = port == 81 ? CRAB_POLICY_RANDOM : port == 82 ? CRAB_POLICY_WRR : CRAB_POLICY_RR;
                s.legacy = kLegacy[v % 3];
                service_add(t, s);
                if (port == 83)
                    continue;
                for (int i = 0; i < 3; i++) {
                    BackendSpec b;
                    b.svc = s.ep;
                    b.dip = v < 3 ? Addr(kDip[i]) : dip6(i);
                    b.weight = static_cast<uint16_t>(i == 0 ? 1 : i == 1 ? 3 : 2);
                    if (i != 1)
                        b.mac = be_mac(i);
                    backend_add(t, b);
                    if (i == 2 || port == 84)
                        backend_set_state(t, s.ep, b.dip, CRAB_BACKEND_DRAINING);
                }
            }
        known.set(kDip[1], be_mac(1));
        known.set(dip6(1), be_mac(1));
    }
};
const World& world()
{
    static const World w;
    return w;
}

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t rd32(const uint8_t* p) { return static_cast<uint32_t>(rd16(p)) << 16 | rd16(p + 2); }
void wr16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void wr32(uint8_t* p, uint32_t v)
{
    wr16(p, static_cast<uint16_t>(v >> 16));
    wr16(p + 2, static_cast<uint16_t>(v));
}

// The reference parse: what docs/PROTOCOL.md 6 and the README say a frame is.
struct Ref {
    bool l2_ok = false;   // to our MAC, IPv4 after at most two VLAN tags
    bool ip_ok = false;   // a whole IPv4 header inside the frame
    bool tcp_ok = false;  // a sane IPv4 + TCP header within tot_len
    uint32_t l3 = 0, ihl = 0, tot = 0, th = 0, doff = 0;
};

// @ours: the frame must be addressed to the port's MAC (input frames).
Ref ref_parse(const uint8_t* d, size_t n, bool ours = true)
{
    Ref r;
    if (n < 14 || (ours && !std::equal(kPortMac.begin(), kPortMac.end(), d)))
        return r;
    size_t off = 12;
    for (int tags = 0; tags < 2 && (rd16(d + off) == 0x8100 || rd16(d + off) == 0x88a8); tags++) {
        off += 4;
        if (off + 2 > n)
            return r;
    }
    if (rd16(d + off) != 0x0800)
        return r;
    r.l2_ok = true;
    r.l3 = static_cast<uint32_t>(off + 2);
    if (r.l3 + 20 > n)
        return r;
    r.ip_ok = true;
    const uint8_t* ip = d + r.l3;
    r.ihl = (ip[0] & 15) * 4u;
    r.tot = rd16(ip + 2);
    if (ip[0] >> 4 != 4 || r.ihl < 20 || r.tot < r.ihl + 20 || r.l3 + r.tot > n)
        return r;
    r.th = r.l3 + r.ihl;
    r.doff = (d[r.th + 12] >> 4) * 4u;
    r.tcp_ok = r.doff >= 20 && r.doff <= r.tot - r.ihl;
    return r;
}

bool ip_csum_ok(const uint8_t* d, const Ref& r) { return ref_sum(d + r.l3, r.ihl) == 0xffff; }
uint64_t pseudo(const uint8_t* d, const Ref& r)
{
    const uint8_t* ip = d + r.l3;
    return uint64_t{rd16(ip + 12)} + rd16(ip + 14) + rd16(ip + 16) + rd16(ip + 18) + 6 + (r.tot - r.ihl);
}
bool tcp_csum_ok(const uint8_t* d, const Ref& r) { return ref_sum(d + r.th, r.tot - r.ihl, pseudo(d, r)) == 0xffff; }

void fix_csums(uint8_t* d, size_t n)
{
    Ref r = ref_parse(d, n);
    if (!r.ip_ok || r.ihl < 20 || r.l3 + r.ihl > n)
        return;
    wr16(d + r.l3 + 10, 0);
    wr16(d + r.l3 + 10, static_cast<uint16_t>(~ref_sum(d + r.l3, r.ihl)));
    if (!r.tcp_ok)
        return;
    wr16(d + r.th + 16, 0);
    wr16(d + r.th + 16, static_cast<uint16_t>(~ref_sum(d + r.th, r.tot - r.ihl, pseudo(d, r))));
}

enum class Want { Pass, Drop, Redirect, Insert, HashSyn, HashNonSyn };

int backend_by_mac(const Service& s, const uint8_t* mac, const NeighTable& nt)
{
    for (size_t i = 0; i < s.backends.size(); i++) {
        Mac m;
        const Backend& b = s.backends[i];
        if ((b.has_mac && std::equal(b.mac.begin(), b.mac.end(), mac)) ||
            (!b.has_mac && nt.get(b.dip, m) && std::equal(m.begin(), m.end(), mac)))
            return static_cast<int>(i);
    }
    return -1;
}

// ---- IPv6 -------------------------------------------------------------------

// The l3 offset of an IPv6 frame to our MAC (at most two VLAN tags), or 0.
uint32_t v6_l3(const uint8_t* d, size_t n)
{
    if (n < 14 || !std::equal(kPortMac.begin(), kPortMac.end(), d))
        return 0;
    uint32_t off = 12;
    for (int t = 0; t < 2 && off + 2 <= n && (rd16(d + off) == 0x8100 || rd16(d + off) == 0x88a8); t++)
        off += 4;
    return off + 2 <= n && rd16(d + off) == 0x86dd ? off + 2 : 0;
}

// The reference walk (docs/PROTOCOL.md 6, lb/dpdk/README.md): TCP behind
// at most 8 extension headers of the three walked kinds, hop-by-hop only
// first, routing with no segments left, everything inside the payload.
struct Ref6 {
    bool ok = false;
    uint32_t th = 0, end = 0, doff = 0;
};
Ref6 ref6(const uint8_t* d, size_t n, uint32_t l3)
{
    Ref6 r;
    if (l3 + 40 > n || (d[l3] >> 4) != 6)
        return r;
    r.end = l3 + 40 + rd16(d + l3 + 4);
    if (r.end > n)
        return r;
    uint8_t nh = d[l3 + 6];
    uint32_t off = l3 + 40;
    for (int k = 0; nh != 6; k++) {
        if (k == 8 || !(nh == 0 || nh == 43 || nh == 60) || (nh == 0 && k) || off + 8 > r.end)
            return r;
        uint32_t len = (d[off + 1] + 1u) * 8;
        if (off + len > r.end || (nh == 43 && d[off + 3]))
            return r;
        nh = d[off];
        off += len;
    }
    if (r.end - off < 20)
        return r;
    r.th = off;
    r.doff = (d[off + 12] >> 4) * 4u;
    r.ok = r.doff >= 20 && r.doff <= r.end - off;
    return r;
}

bool tcp6_csum_ok(const uint8_t* d, uint32_t l3, const Ref6& r)
{
    uint32_t seg = r.end - r.th;
    uint8_t ph[40];
    std::memcpy(ph, d + l3 + 8, 32);
    wr32(ph + 32, seg);
    wr32(ph + 36, 6);
    uint64_t s = 0;
    for (int i = 0; i < 40; i += 2)
        s += rd16(ph + i);
    return ref_sum(d + r.th, seg, s) == 0xffff;
}

int check6(const World& w, const Config& cfg, const NeighTable& nt, bool exp, uint32_t headroom,
           const std::vector<uint8_t>& in, const std::vector<uint8_t>& before, const std::vector<uint8_t>& buf,
           const Frame& f, Verdict v, uint32_t l3)
{
    const uint8_t* d = in.data();
    const size_t n = in.size();
    if (v != Verdict::Tx) {
        FUZZ_CHECK(buf == before, "IPv6: a dropped or passed frame was modified");
        return 0;
    }
    FUZZ_CHECK(f.data >= buf.data() && f.data + f.len <= buf.data() + buf.size(), "IPv6: frame outside its buffer");
    Ref6 ri = ref6(d, n, l3);
    FUZZ_CHECK(ri.ok, "IPv6: forwarded, the reference finds no TCP header it may take");
    const Addr vip = Addr::from6(d + l3 + 24);
    const Service* s = w.t.find(vip, rd16(d + ri.th + 2));
    FUZZ_CHECK(s && s->vip.v6, "IPv6: forwarded, not to a service");
    const uint8_t* o = f.data;
    FUZZ_CHECK(f.len >= 14 && std::equal(kPortMac.begin(), kPortMac.end(), o + 6), "IPv6: L2 source is not the port");
    int b = backend_by_mac(*s, o, nt);
    FUZZ_CHECK(b >= 0, "IPv6: L2 destination is no backend's MAC");
    const Backend& be = s->backends[b];
    const bool syn = (d[ri.th + 13] & 0x12) == 0x02;
    const bool insert = f.data + 20 == buf.data() + headroom;
    auto oi = ref_opt_walk(d + ri.th + 20, ri.doff - 20, cfg.opt.kind, exp, cfg.opt.exid, true);
    uint8_t vb[16], db[16];
    vip.put6(vb);
    be.dip.put6(db);

    std::vector<uint8_t> e(d, d + n);
    if (s->legacy == CRAB_LEGACY_HASH && !(syn && oi.status == 1)) {
        // DSR: the model's pick over the 5-tuple; only L2 changes.
        __be32 sa[4], da[4];
        __be16 sp, dp;
        std::memcpy(sa, d + l3 + 8, 16);
        std::memcpy(da, d + l3 + 24, 16);
        std::memcpy(&sp, d + ri.th, 2);
        std::memcpy(&dp, d + ri.th + 2, 2);
        FUZZ_CHECK(b == crab_lb_pick_flow6(&s->tables, sa, da, sp, dp, syn), "IPv6 hash: not the model's backend");
    } else {
        FUZZ_CHECK(syn, "IPv6: a non-SYN forwarded outside hash mode");
        FUZZ_CHECK(be.state == CRAB_BACKEND_ACTIVE, "IPv6: a new connection to a draining backend");
        std::copy(db, db + 16, e.begin() + l3 + 24);
        if (insert) {
            FUZZ_CHECK(s->legacy == CRAB_LEGACY_INSERT && oi.status != 1, "IPv6: inserted, not a legacy SYN in insert mode");
            FUZZ_CHECK(ri.doff + 20 <= 60 && ri.end - l3 + 20 <= cfg.mtu && headroom >= 20, "IPv6: inserted without room");
            e.resize(ri.end);  // Ethernet padding goes
            uint8_t opt[20];
            crab_opt_write6(opt, &cfg.opt, vb);
            e.insert(e.begin() + ri.th + 20, opt, opt + 20);
            wr16(e.data() + l3 + 4, static_cast<uint16_t>(rd16(d + l3 + 4) + 20));
            e[ri.th + 12] = static_cast<uint8_t>(((ri.doff + 20) / 4) << 4 | (e[ri.th + 12] & 15));
        } else {
            FUZZ_CHECK(oi.status == 1, "IPv6: redirected without a well-formed 18/20-byte option");
            std::copy(vb, vb + 16, e.begin() + ri.th + 20 + oi.off + (exp ? 4 : 2));
        }
    }
    FUZZ_CHECK(insert || f.data == buf.data() + headroom, "IPv6: frame moved");
    FUZZ_CHECK(f.len == e.size(), "IPv6: length %u, expected %zu", f.len, e.size());
    std::copy(o, o + 6, e.begin());
    std::copy(kPortMac.begin(), kPortMac.end(), e.begin() + 6);
    Ref6 ro = ref6(o, f.len, l3);
    FUZZ_CHECK(ro.ok, "IPv6: the output does not parse");
    std::copy(o + ro.th + 16, o + ro.th + 18, e.begin() + ro.th + 16);  // checksum: recomputed below
    FUZZ_CHECK(std::equal(e.begin(), e.end(), o), "IPv6: rewritten bytes differ from the expected ones");
    if (tcp6_csum_ok(d, l3, ri))
        FUZZ_CHECK(tcp6_csum_ok(o, l3, ro), "IPv6: TCP checksum broken by the rewrite");
    return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < kHdr || size > kHdr + 2048)
        return -1;
    const World& w = world();
    const bool exp = data[0] & 1, fix = data[0] & 2;
    const NeighTable& nt = (data[0] & 4) ? w.known : w.empty;
    const uint32_t headroom = data[1];
    Config cfg;
    cfg.port_mac = kPortMac;
    cfg.mtu = static_cast<uint16_t>(68 + 8 * data[2]);
    if (exp)
        cfg.opt.kind = CRAB_OPT_KIND_EXP;
    auto st = std::make_unique<LcoreState>();
    for (auto& c : st->rr)
        c.pos = data[3];  // the remainder is worked out from it at the first pick
    std::memcpy(&st->rng, data + 4, 8);

    const size_t n = size - kHdr;
    std::vector<uint8_t> in(data + kHdr, data + size);
    if (fix)
        fix_csums(in.data(), n);
    // Exactly headroom + frame bytes: ASan catches anything outside them.
    std::vector<uint8_t> buf(headroom + n, 0xee);
    if (n)
        std::memcpy(buf.data() + headroom, in.data(), n);
    const std::vector<uint8_t> before = buf;
    Frame f{buf.data() + headroom, static_cast<uint32_t>(n), headroom};
    const uint64_t rx0 = st->g[G_RX].get();

    Verdict v = process(cfg, w.t, nt, *st, f);

    FUZZ_CHECK(st->g[G_RX].get() == rx0 + 1, "rx not counted once");

    if (uint32_t l3 = v6_l3(in.data(), n))
        return check6(w, cfg, nt, exp, headroom, in, before, buf, f, v, l3);

    // ---- the reference decision ----
    const uint8_t* d = in.data();
    Ref r = ref_parse(d, n);
    Want want = Want::Pass;
    const Service* s = nullptr;
    crab::fuzz::RefOpt ro;
    if (r.ip_ok && d[r.l3 + 9] == 6 && w.t.is_vip(rd32(d + r.l3 + 16))) {
        const uint8_t* ip = d + r.l3;
        if (!r.tcp_ok)
            want = Want::Drop;  // bad_l3 (or a fragment too short for TCP)
        else if (rd16(ip + 6) & 0x3fff)
            want = Want::Drop;  // fragment
        else if (!(s = w.t.find(rd32(ip + 16), rd16(d + r.th + 2))))
            want = Want::Pass;  // a VIP, but not this port
        else if ((d[r.th + 13] & 0x12) != 0x02)
            want = s->legacy == CRAB_LEGACY_HASH ? Want::HashNonSyn : Want::Drop;
        else {
            ro = ref_opt_walk(d + r.th + 20, r.doff - 20, cfg.opt.kind, exp, cfg.opt.exid);
            if (ro.status == 1)
                want = Want::Redirect;
            else if (s->legacy == CRAB_LEGACY_INSERT)
                want = r.doff + 8 > 60 || r.tot + 8 > cfg.mtu || headroom < 8 ? Want::Drop : Want::Insert;
            else if (s->legacy == CRAB_LEGACY_HASH)
                want = Want::HashSyn;
            else
                want = Want::Drop;
        }
    }
    // A fragment header too short for TCP is dropped as a fragment or as
    // bad_l3, either way dropped: the reference does not care which.

    // Which backends the service may pick, and the one it must pick where
    // the policy is deterministic (rr, wrr, hash).
    std::vector<int> eligible;
    int must = -1;
    bool hash = want == Want::HashSyn || want == Want::HashNonSyn;
    if (s && want != Want::Pass && want != Want::Drop) {
        for (size_t i = 0; i < s->backends.size(); i++)
            if (hash || s->backends[i].state == CRAB_BACKEND_ACTIVE)
                eligible.push_back(static_cast<int>(i));
        const crab_lb_tables& tb = s->tables;
        if (eligible.empty())
            want = Want::Drop;  // no_backend
        else if (hash) {
            const uint8_t* ip = d + r.l3;
            uint32_t h = crab_flow_hash(rd32(ip + 12), rd32(ip + 16), rd16(d + r.th), rd16(d + r.th + 2));
            must = tb.maglev[crab_maglev_index(h)];
            // A new flow never starts on a draining backend.
            if (want == Want::HashSyn && s->backends[must].state != CRAB_BACKEND_ACTIVE)
                want = Want::Drop;
        } else if (s->policy == CRAB_POLICY_RR)
            must = tb.active[data[3] % tb.nactive];
        else if (s->policy == CRAB_POLICY_WRR)
            must = tb.wrr[data[3] % tb.nwrr];
    }

    static const bool verbose = std::getenv("CRAB_FUZZ_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "verdict %d (0 tx, 1 drop, 2 pass), reference %d (0 pass, 1 drop, 2 redirect, "
                     "3 insert, 4 hash syn, 5 hash non-syn), must %d\n",
                     static_cast<int>(v), static_cast<int>(want), must);
    if (v != Verdict::Tx) {
        // Dropped and passed frames are left exactly as they came.
        FUZZ_CHECK(buf == before, "a %s frame was modified", v == Verdict::Pass ? "passed" : "dropped");
        FUZZ_CHECK(f.data == buf.data() + headroom && f.len == n && f.headroom == headroom, "frame moved");
        if (v == Verdict::Pass) {
            FUZZ_CHECK(want == Want::Pass, "passed, reference says %d", static_cast<int>(want));
        } else if (want != Want::Drop) {
            // Only a backend without a known MAC may turn a forward into a drop.
            bool ok = false;
            Mac m;
            for (int i : eligible)
                ok |= (must < 0 || i == must) && !s->backends[i].has_mac && !nt.get(s->backends[i].dip, m);
            FUZZ_CHECK(ok, "dropped, reference forwards (%d)", static_cast<int>(want));
        }
        return 0;
    }

    FUZZ_CHECK(want != Want::Pass && want != Want::Drop, "forwarded, reference says %d", static_cast<int>(want));
    const uint8_t* o = f.data;
    FUZZ_CHECK(f.data >= buf.data() && f.data + f.len <= buf.data() + buf.size(), "frame outside its buffer");
    FUZZ_CHECK(f.len >= 14 && std::equal(kPortMac.begin(), kPortMac.end(), o + 6), "L2 source is not the port");
    int b = backend_by_mac(*s, o, nt);
    FUZZ_CHECK(b >= 0, "L2 destination is no backend's MAC");
    FUZZ_CHECK(std::find(eligible.begin(), eligible.end(), b) != eligible.end(), "backend %d not eligible", b);
    FUZZ_CHECK(must < 0 || b == must, "backend %d, policy says %d", b, must);
    const uint32_t dip = s->backends[b].dip.v4(), vip = rd32(d + r.l3 + 16);

    // Expected bytes, built from the input.
    std::vector<uint8_t> e;
    if (want == Want::Insert) {
        e.assign(d, d + r.th + 20);
        if (exp)
            e.insert(e.end(), {CRAB_OPT_KIND_EXP, 8, static_cast<uint8_t>(cfg.opt.exid >> 8),
                               static_cast<uint8_t>(cfg.opt.exid)});
        else
            e.insert(e.end(), {1, 1, cfg.opt.kind, 6});
        e.insert(e.end(), {static_cast<uint8_t>(vip >> 24), static_cast<uint8_t>(vip >> 16),
                           static_cast<uint8_t>(vip >> 8), static_cast<uint8_t>(vip)});
        e.insert(e.end(), d + r.th + 20, d + r.l3 + r.tot);
        wr16(e.data() + r.l3 + 2, static_cast<uint16_t>(r.tot + 8));
        e[r.th + 12] = static_cast<uint8_t>(((r.doff + 8) / 4) << 4 | (e[r.th + 12] & 15));
        FUZZ_CHECK(f.data == buf.data() + headroom - 8 && f.headroom == headroom - 8, "insert: frame start");
    } else {
        e.assign(d, d + n);
        FUZZ_CHECK(f.data == buf.data() + headroom && f.headroom == headroom, "frame moved");
    }
    std::copy(o, o + 6, e.begin());
    std::copy(kPortMac.begin(), kPortMac.end(), e.begin() + 6);
    if (want == Want::Redirect || want == Want::Insert)
        wr32(e.data() + r.l3 + 16, dip);
    if (want == Want::Redirect)
        wr32(e.data() + r.th + 20 + ro.off + (exp ? 4 : 2), vip);
    FUZZ_CHECK(f.len == e.size(), "length %u, expected %zu", f.len, e.size());
    Ref ro_parse = ref_parse(o, f.len, false);
    FUZZ_CHECK(ro_parse.tcp_ok, "output does not parse as IPv4/TCP");
    FUZZ_CHECK(ro_parse.doff <= 60 && ro_parse.l3 + ro_parse.tot <= f.len, "doff/tot_len out of the frame");
    if (want == Want::Insert)
        FUZZ_CHECK(ro_parse.l3 + ro_parse.tot == f.len, "insert: tot_len %u does not end the frame", ro_parse.tot);
    // Checksums: compared by recomputing from scratch, not bytewise.
    if (!hash) {
        std::copy(o + r.l3 + 10, o + r.l3 + 12, e.begin() + r.l3 + 10);
        std::copy(o + r.th + 16, o + r.th + 18, e.begin() + r.th + 16);
    }
    FUZZ_CHECK(std::equal(e.begin(), e.end(), o), "rewritten bytes differ from the expected ones");
    if (ip_csum_ok(d, r))
        FUZZ_CHECK(ip_csum_ok(o, ro_parse), "IPv4 header checksum broken by the rewrite");
    if (tcp_csum_ok(d, r))
        FUZZ_CHECK(tcp_csum_ok(o, ro_parse), "TCP checksum broken by the rewrite");
    if (want == Want::Redirect || want == Want::Insert) {
        auto x = ref_opt_walk(o + ro_parse.th + 20, ro_parse.doff - 20, cfg.opt.kind, exp, cfg.opt.exid);
        FUZZ_CHECK(x.status == 1 && x.addr == vip, "the backend would not find the option naming the VIP");
    }
    return 0;
}
