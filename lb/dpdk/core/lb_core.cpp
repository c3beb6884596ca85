// SPDX-License-Identifier: GPL-2.0-only
// Packet decisions and in-place rewrites of the DPDK LB (docs/PROTOCOL.md
// 3.2, 5, 6).
// Bounds: every header read is checked against f.len (frame) and tot_len
// (IPv4) before it happens; the option walk is crab_opt_find() over the
// TCP header's option bytes only.
#include "lb_core.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace crab::lb_dpdk {

#define CRAB_LBD_NAME(e, n, h) n,
const char* const kCounterNames[CRAB_LB_CNT_MAX] = {CRAB_LB_COUNTERS(CRAB_LBD_NAME)};
const char* const kGCounterNames[G_MAX] = {CRAB_LBD_GCOUNTERS(CRAB_LBD_NAME)};
#undef CRAB_LBD_NAME

namespace {

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;
constexpr uint8_t kProtoTcp = 6;
// IPv6 next headers the walk passes (RFC 8200 4): hop-by-hop options,
// routing, destination options; a fragment header ends it.
constexpr uint8_t kNhHopByHop = 0;
constexpr uint8_t kNhRouting = 43;
constexpr uint8_t kNhFragment = 44;
constexpr uint8_t kNhDestOpts = 60;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpAck = 0x10;

// The per-packet helpers of the IPv4 and IPv6 paths: inlined into
// process() and process6() whatever the compiler's size heuristics say
// (each runs once per SYN; a call costs more than most of them do).
#define CRAB_LBD_HOT [[gnu::always_inline]] inline

// Big-endian fields at any alignment: one load or store and a byte swap
// each (memcpy: no alignment assumed).
inline uint16_t rd16(const uint8_t* p)
{
    uint16_t v;
    std::memcpy(&v, p, 2);
    return be16toh(v);
}
inline uint32_t rd32(const uint8_t* p)
{
    uint32_t v;
    std::memcpy(&v, p, 4);
    return be32toh(v);
}
inline void wr16(uint8_t* p, uint16_t v)
{
    v = htobe16(v);
    std::memcpy(p, &v, 2);
}
inline void wr32(uint8_t* p, uint32_t v)
{
    v = htobe32(v);
    std::memcpy(p, &v, 4);
}

struct Parsed {
    uint32_t l3;     // IPv4 header offset
    uint32_t ihl;    // bytes
    uint32_t tot;    // IPv4 tot_len
    uint32_t th;     // TCP header offset
    uint32_t doff;   // bytes
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint8_t flags;
};

// The IPv4 and TCP headers at @l3, already checked by process(): what the
// paths other than a capable SYN's take.
Parsed parse4(const uint8_t* d, uint32_t l3)
{
    Parsed p{};
    const uint8_t* ip = d + l3;
    p.l3 = l3;
    p.ihl = (ip[0] & 0x0f) * 4u;
    p.tot = rd16(ip + 2);
    p.saddr = rd32(ip + 12);
    p.daddr = rd32(ip + 16);
    p.th = l3 + p.ihl;
    const uint8_t* th = d + p.th;
    p.doff = (th[12] >> 4) * 4u;
    p.sport = rd16(th);
    p.dport = rd16(th + 2);
    p.flags = th[13];
    return p;
}

CRAB_LBD_HOT void cnt(LcoreState& st, const Service& s, int c, uint64_t n = 1) { st.cnt[s.slot][c].inc(n); }

CRAB_LBD_HOT bool backend_mac(const Backend& b, const NeighTable& nt, Mac& mac)
{
    if (b.has_mac) {
        mac = b.mac;
        return true;
    }
    return nt.get(b.dip, mac);
}

CRAB_LBD_HOT const Backend* backend_of(const Service& s, uint8_t id)
{
    return id < s.backends.size() ? &s.backends[id] : nullptr;
}

// Choose a backend for a new connection by the service's policy (the
// shared model's picks: a 64-bit rr position per lcore, the top 32 bits of
// the lcore's 64-bit random draw). rr and wrr pick at the position's
// remainder, kept beside the position (crab_lb_rr_next()): crab_lb_pick()'s
// backend without its division.
CRAB_LBD_HOT const Backend* choose(const Service& s, LcoreState& st)
{
    if (s.policy == CRAB_POLICY_RANDOM)
        return backend_of(s, crab_lb_pick(&s.tables, s.policy, 0, static_cast<uint32_t>(next_random(st.rng) >> 32)));
    const uint32_t i = crab_lb_rr_next(&st.rr[s.slot], crab_lb_rr_len(&s.tables, s.policy));
    return backend_of(s, crab_lb_pick_rr_at(&s.tables, s.policy, i));
}

inline uint32_t flow_hash(const Parsed& p) { return crab_flow_hash(p.saddr, p.daddr, p.sport, p.dport); }

// @p (6 bytes) is @m: two loads and compares, not a call to memcmp().
CRAB_LBD_HOT bool mac_is(const uint8_t* p, const Mac& m)
{
    uint32_t a, b;
    uint16_t c, e;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, m.data(), 4);
    std::memcpy(&c, p + 4, 2);
    std::memcpy(&e, m.data() + 4, 2);
    return a == b && c == e;
}

CRAB_LBD_HOT void set_l2(uint8_t* eth, const Config& cfg, const Mac& dst)
{
    std::memcpy(eth, dst.data(), 6);
    std::memcpy(eth + 6, cfg.port_mac.data(), 6);
}

// IPv4 daddr := @dip; the header checksum follows incrementally (RFC 1624).
CRAB_LBD_HOT void ip_set_daddr(uint8_t* ip, uint32_t daddr, uint32_t dip)
{
    wr16(ip + 10, crab_csum_replace32(rd16(ip + 10), daddr, dip));
    wr32(ip + 16, dip);
}

// Capable SYN: daddr := DIP, option address (at @opt_addr_at of the TCP
// header, any alignment) := VIP. The TCP checksum loses the old address
// bytes and the pseudo-header's daddr and gains the new ones.
// The four bytes of @v (big-endian) at an offset of parity @odd in a
// checksummed area, as the 32-bit value whose two halves are the words
// they add to the sum: at an even offset the value itself; at an odd one
// each byte is the low half of its word or the high half of the next, so
// the words are those of @v rotated left by 8 bits.
CRAB_LBD_HOT uint32_t csum_words_at(uint32_t v, bool odd) { return odd ? (v << 8 | v >> 24) : v; }

CRAB_LBD_HOT void rewrite_redirect(uint8_t* ip, uint8_t* th, uint32_t opt_addr_at, uint32_t daddr, uint32_t dip)
{
    uint8_t* a = th + opt_addr_at;
    const bool odd = opt_addr_at & 1;
    // daddr -> DIP: the IPv4 header's change, and the pseudo-header's.
    const uint64_t delta = crab_csum_add32w(crab_csum_sub32w(0, daddr), dip);
    uint64_t acc = crab_csum_start64(rd16(th + 16)) + delta;
    acc = crab_csum_sub32w(acc, csum_words_at(rd32(a), odd));
    acc = crab_csum_add32w(acc, csum_words_at(daddr, odd));
    wr32(a, daddr);
    wr16(th + 16, crab_csum_finish64(acc));
    wr16(ip + 10, crab_csum_finish64(crab_csum_start64(rd16(ip + 10)) + delta));
    wr32(ip + 16, dip);
}

// Legacy SYN in insert mode: grow the TCP header by 8 bytes by moving the
// L2..fixed TCP header 8 bytes towards the front (into headroom) and writing
// the option first in the option space, where every walk sees it (an EOL
// or a broken option already there cannot hide it; docs/PROTOCOL.md 3.2).
// The existing options and the payload stay where they are: they move by 8
// bytes relative to the header, keeping their word alignment and their sum.
void rewrite_insert(const Config& cfg, Frame& f, const Parsed& p, uint32_t dip)
{
    uint8_t* d = f.data;
    const uint32_t fixed_end = p.th + 20;
    const uint16_t seglen = static_cast<uint16_t>(p.tot - p.ihl);

    uint8_t* nd = d - TCPOLEN_CRAB_ALIGNED;
    std::memmove(nd, d, fixed_end);
    f.data = nd;
    f.headroom -= TCPOLEN_CRAB_ALIGNED;
    // Ethernet padding after tot_len is dropped: the frame ends with the IP packet.
    f.len = p.l3 + p.tot + TCPOLEN_CRAB_ALIGNED;

    uint8_t* ip = nd + p.l3;
    uint8_t* th = nd + p.th;
    uint32_t acc = crab_csum_start(rd16(th + 16));
    acc = crab_csum_sub16(acc, rd16(th + 12));  // doff, flags
    th[12] = static_cast<uint8_t>(((p.doff + TCPOLEN_CRAB_ALIGNED) / 4) << 4 | (th[12] & 0x0f));
    acc = crab_csum_add16(acc, rd16(th + 12));
    crab_opt_write(th + 20, &cfg.opt, p.daddr);
    acc = crab_csum_bytes(acc, th + 20, TCPOLEN_CRAB_ALIGNED);
    acc = crab_csum_sub16(acc, seglen);  // pseudo-header: length, daddr
    acc = crab_csum_add16(acc, static_cast<uint16_t>(seglen + TCPOLEN_CRAB_ALIGNED));
    acc = crab_csum_sub32(acc, p.daddr);
    acc = crab_csum_add32(acc, dip);
    wr16(th + 16, crab_csum_finish(acc));

    uint16_t ncheck = crab_csum_replace16(rd16(ip + 10), static_cast<uint16_t>(p.tot),
                                          static_cast<uint16_t>(p.tot + TCPOLEN_CRAB_ALIGNED));
    wr16(ip + 10, ncheck);
    wr16(ip + 2, static_cast<uint16_t>(p.tot + TCPOLEN_CRAB_ALIGNED));
    ip_set_daddr(ip, p.daddr, dip);
}

CRAB_LBD_HOT Verdict to_backend(const NeighTable& nt, LcoreState& st, const Service& s, const Backend* b, Mac& mac)
{
    if (!b) {
        cnt(st, s, CRAB_LB_CNT_NO_BACKEND);
        return Verdict::Drop;
    }
    if (!backend_mac(*b, nt, mac)) {
        st.g[G_NO_NEIGH].inc();
        cnt(st, s, CRAB_LB_CNT_TX_ERROR);
        return Verdict::Drop;
    }
    // Every rewrite after this succeeds: the frame goes to this backend.
    st.be[s.slot][b->slot].inc();
    return Verdict::Tx;
}

#define CRAB_LBD_COLD [[gnu::noinline, gnu::cold]]

// The option walk's status and, when CRAB_OPT_FOUND, the option's offset
// in the option bytes: returned in registers, not through memory.
struct Walk {
    int r;
    uint32_t off;
};

// The walk behind the usual layout (walk_counted()): out of line, so that
// the hot path keeps its registers.
CRAB_LBD_COLD Walk walk_rest(const Config& cfg, LcoreState& st, const Service& s, const uint8_t* th, uint32_t doff,
                             int v6)
{
    crab_opt_res res;
    int r = crab_opt_find_quick(th + 20, doff - 20, &cfg.opt, v6, &res);
    if (res.bad_len)
        cnt(st, s, CRAB_LB_CNT_OPT_BAD_LEN, res.bad_len);
    if (r == CRAB_OPT_MALFORMED)
        cnt(st, s, CRAB_LB_CNT_OPT_MALFORMED);
    return {r, res.off};
}

// The SYN's option walk of the segment's family (@v6: only the 18/20-byte
// form is well formed, an IPv4-form option is a wrong length and the other
// way round, docs/PROTOCOL.md 2), its wrong lengths and a malformed walk
// counted on service @s. Linux's layout first (crab_opt_find_usual(): three
// word compares), else crab_opt_find_quick() (the sender's form, then the
// walk).
CRAB_LBD_HOT Walk walk_counted(const Config& cfg, LcoreState& st, const Service& s, const uint8_t* th, uint32_t doff,
                               int v6)
{
    const int at = crab_opt_find_usual(th + 20, doff - 20, &cfg.opt, v6);
    if (at >= 0) [[likely]]
        return {CRAB_OPT_FOUND, static_cast<uint32_t>(at)};
    return walk_rest(cfg, st, s, th, doff, v6);
}

// Hash mode (DSR): the flow's backend; only the link-layer addresses
// change. A SYN must not start a flow on a draining backend
// (crab_lb_model.h).
CRAB_LBD_COLD Verdict hash_forward(const Config& cfg, const NeighTable& nt, LcoreState& st, const Service& s,
                                   uint8_t* d, uint32_t h, bool syn, int ok)
{
    Mac mac;
    uint8_t id = syn ? crab_lb_pick_hash_syn(&s.tables, h) : crab_lb_pick_hash(&s.tables, h);
    if (id == CRAB_LB_DRAINING) {
        cnt(st, s, CRAB_LB_CNT_SYN_HASH_DRAINING);
        return Verdict::Drop;
    }
    Verdict v = to_backend(nt, st, s, backend_of(s, id), mac);
    if (v != Verdict::Tx)
        return v;
    set_l2(d, cfg, mac);  // DSR: only the L2 destination changes
    cnt(st, s, ok);
    return Verdict::Tx;
}

// ---- IPv6 --------------------------------------------------------------------

struct Parsed6 {
    uint32_t l3;    // IPv6 header offset
    uint32_t end;   // end of the IPv6 packet (l3 + 40 + payload length)
    uint32_t th;    // TCP header offset
    uint32_t doff;  // bytes
    uint64_t dhi, dlo;  // the destination as Table::addr6_words() reads it
    uint16_t sport, dport;
    uint8_t flags;

    Addr daddr() const
    {
        Addr a;
        a.v6 = true;
        a.w = {static_cast<uint32_t>(dhi >> 32), static_cast<uint32_t>(dhi), static_cast<uint32_t>(dlo >> 32),
               static_cast<uint32_t>(dlo)};
        return a;
    }
};

// The flow hash of an IPv6 segment (hash mode only: a redirected SYN
// does not need it).
inline uint32_t flow_hash6(const uint8_t* d, const Parsed6& p)
{
    const Addr sa = Addr::from6(d + p.l3 + 8), da = p.daddr();
    return crab_flow_hash6(sa.w.data(), da.w.data(), p.sport, p.dport);
}

// The TCP checksum's pseudo-header destination (RFC 8200 8.1) changes
// from @from to @to: the eight 16-bit words of each.
CRAB_LBD_HOT uint32_t csum_replace_addr6(uint32_t acc, const Addr& from, const Addr& to)
{
    for (int i = 0; i < 4; i++) {
        acc = crab_csum_sub32(acc, from.w[i]);
        acc = crab_csum_add32(acc, to.w[i]);
    }
    return acc;
}

// The 16-bit one's-complement sum of @acc (> 0: in [1, 0xffff]).
CRAB_LBD_HOT uint16_t csum_fold64(uint64_t acc) { return static_cast<uint16_t>(~crab_csum_finish64(acc)); }

// Capable IPv6 SYN: destination := DIP, option address (at @opt_addr_at of
// the TCP header, any alignment) := VIP; the TCP checksum follows (IPv6
// has no header checksum). The option's old and new words are summed as
// they are; at an odd offset each word adds its halves' bytes swapped
// (csum_words_at()), i.e. 256 times its value modulo 0xffff, so their sum
// is folded and swapped once (256 y mod 0xffff of a 16-bit y is y with its
// bytes swapped). The new option address is the packet's destination,
// copied before the destination is rewritten.
CRAB_LBD_HOT void rewrite_redirect6(uint8_t* d, const Parsed6& p, uint32_t opt_addr_at, const Addr& dip)
{
    uint8_t* th = d + p.th;
    uint8_t* a = th + opt_addr_at;
    uint8_t* dst = d + p.l3 + 24;
    const uint32_t vip[4] = {static_cast<uint32_t>(p.dhi >> 32), static_cast<uint32_t>(p.dhi),
                             static_cast<uint32_t>(p.dlo >> 32), static_cast<uint32_t>(p.dlo)};
    uint64_t acc = crab_csum_start64(rd16(th + 16));
    uint64_t opt = 0;
    for (int i = 0; i < 4; i++) {
        acc = crab_csum_sub32w(acc, vip[i]);
        acc = crab_csum_add32w(acc, dip.w[i]);
        opt = crab_csum_sub32w(opt, rd32(a + 4 * i));
        opt = crab_csum_add32w(opt, vip[i]);
    }
    if (opt_addr_at & 1) [[unlikely]]
        acc += __builtin_bswap16(csum_fold64(opt));
    else
        acc += opt;
    std::memmove(a, dst, 16);
    wr16(th + 16, crab_csum_finish64(acc));
    dip.put6(dst);
}

// Legacy IPv6 SYN in insert mode: as rewrite_insert(), with the 20-byte
// option (docs/PROTOCOL.md 2) and the payload length (extension headers
// included) growing by 20.
void rewrite_insert6(const Config& cfg, Frame& f, const Parsed6& p, const Addr& dip)
{
    uint8_t* d = f.data;
    const uint32_t fixed_end = p.th + 20;
    const uint32_t seglen = p.end - p.th;
    const uint16_t plen = static_cast<uint16_t>(p.end - p.l3 - 40);
    constexpr uint32_t grow = TCPOLEN_CRAB6_ALIGNED;

    uint8_t* nd = d - grow;
    std::memmove(nd, d, fixed_end);
    f.data = nd;
    f.headroom -= grow;
    f.len = p.end + grow;  // Ethernet padding after the packet dropped

    uint8_t* ip = nd + p.l3;
    uint8_t* th = nd + p.th;
    uint8_t vip[16];
    const Addr daddr = p.daddr();
    daddr.put6(vip);
    uint32_t acc = crab_csum_start(rd16(th + 16));
    acc = crab_csum_sub16(acc, rd16(th + 12));  // doff, flags
    th[12] = static_cast<uint8_t>(((p.doff + grow) / 4) << 4 | (th[12] & 0x0f));
    acc = crab_csum_add16(acc, rd16(th + 12));
    crab_opt_write6(th + 20, &cfg.opt, vip);
    acc = crab_csum_bytes(acc, th + 20, grow);
    acc = crab_csum_sub32(acc, seglen);  // pseudo-header: 32-bit length, destination
    acc = crab_csum_add32(acc, seglen + grow);
    acc = csum_replace_addr6(acc, daddr, dip);
    wr16(th + 16, crab_csum_finish(acc));
    wr16(ip + 4, static_cast<uint16_t>(plen + grow));
    dip.put6(ip + 24);
}

// The IPv6 cases other than a capable SYN, as nonsyn4() and legacy4().
CRAB_LBD_COLD Verdict nonsyn6(const Config& cfg, const NeighTable& nt, LcoreState& st, const Service& s, uint8_t* d,
                              Parsed6 p)
{
    if (s.legacy != CRAB_LEGACY_HASH) {
        cnt(st, s, CRAB_LB_CNT_NONSYN_DROP);
        return Verdict::Drop;
    }
    return hash_forward(cfg, nt, st, s, d, flow_hash6(d, p), false, CRAB_LB_CNT_NONSYN_HASHED);
}

CRAB_LBD_COLD Verdict legacy6(const Config& cfg, const NeighTable& nt, LcoreState& st, const Service& s, Frame& f,
                              Parsed6 p)
{
    Mac mac;
    switch (s.legacy) {
    case CRAB_LEGACY_INSERT: {
        if (p.doff + TCPOLEN_CRAB6_ALIGNED > 60 || p.end - p.l3 + TCPOLEN_CRAB6_ALIGNED > cfg.mtu ||
            f.headroom < TCPOLEN_CRAB6_ALIGNED) {
            cnt(st, s, CRAB_LB_CNT_NO_ROOM);
            return Verdict::Drop;
        }
        const Backend* b = choose(s, st);
        Verdict v = to_backend(nt, st, s, b, mac);
        if (v != Verdict::Tx)
            return v;
        rewrite_insert6(cfg, f, p, b->dip);
        set_l2(f.data, cfg, mac);
        cnt(st, s, CRAB_LB_CNT_SYN_INSERTED);
        return Verdict::Tx;
    }
    case CRAB_LEGACY_HASH:
        return hash_forward(cfg, nt, st, s, f.data, flow_hash6(f.data, p), true, CRAB_LB_CNT_SYN_HASHED);
    default:
        cnt(st, s, CRAB_LB_CNT_SYN_LEGACY_DROP);
        return Verdict::Drop;
    }
}

// An IPv6 frame (@l3: the IPv6 header). Only TCP to a VIP:PORT concerns
// the LB; the extension headers before it are walked, at most
// kMaxExtHdrs of them.
CRAB_LBD_HOT Verdict process6(const Config& cfg, const Table& t, const NeighTable& nt, LcoreState& st, Frame& f,
                              uint32_t l3)
{
    uint8_t* d = f.data;
    Parsed6 p{};
    p.l3 = l3;
    if (l3 + 40 > f.len)
        return Verdict::Pass;
    const uint8_t* ip = d + l3;
    Table::addr6_words(ip + 24, p.dhi, p.dlo);
    const long vat = t.vip6_index(p.dhi, p.dlo);  // the VIP's position in t.keys6
    if (vat < 0)
        return Verdict::Pass;
    // Addressed to a VIP from here on: broken headers are dropped, counted.
    const uint32_t plen = rd16(ip + 4);
    if ((ip[0] >> 4) != 6 || l3 + 40 + plen > f.len) {
        st.g[G_BAD_L3].inc();
        return Verdict::Drop;
    }
    p.end = l3 + 40 + plen;
    uint8_t nh = ip[6];
    uint32_t off = l3 + 40;
    for (unsigned n = 0; nh != kProtoTcp; n++) {
        if (nh == kNhFragment) {
            // Any fragment to a VIP, a SYN behind one included: the LB
            // keeps no reassembly state (docs/PROTOCOL.md 6).
            cnt(st, *t.first_of_vip(p.daddr()), CRAB_LB_CNT_FRAGMENT);
            return Verdict::Drop;
        }
        if (nh != kNhHopByHop && nh != kNhRouting && nh != kNhDestOpts)
            return Verdict::Pass;  // another protocol (or AH, ESP): not the LB's
        if (n >= kMaxExtHdrs) {
            st.g[G_EXT_HDR_LIMIT].inc();
            return Verdict::Drop;
        }
        // Hop-by-hop options only first (RFC 8200 4.1); every header fits
        // the packet.
        if ((nh == kNhHopByHop && n) || off + 8 > p.end || off + (d[off + 1] + 1u) * 8 > p.end) {
            st.g[G_BAD_L3].inc();
            return Verdict::Drop;
        }
        // A routing header with segments left: the VIP is not the final
        // destination (whose address the TCP checksum covers, RFC 8200
        // 8.1), so the packet is not the LB's: passed, as by the XDP LB.
        if (nh == kNhRouting && d[off + 3])
            return Verdict::Pass;
        nh = d[off];
        off += (d[off + 1] + 1u) * 8;
    }
    p.th = off;
    if (p.end - p.th < 20) {
        st.g[G_BAD_L3].inc();
        return Verdict::Drop;
    }
    uint8_t* th = d + p.th;
    p.doff = (th[12] >> 4) * 4u;
    if (p.doff < 20 || p.doff > p.end - p.th) {
        st.g[G_BAD_L3].inc();
        return Verdict::Drop;
    }
    p.sport = rd16(th);
    p.dport = rd16(th + 2);
    p.flags = th[13];

    const Service* s = t.find6_at(vat, p.dhi, p.dlo, p.dport);
    if (!s)
        return Verdict::Pass;
    Mac mac;

    if ((p.flags & (kTcpSyn | kTcpAck)) != kTcpSyn) [[unlikely]]
        return nonsyn6(cfg, nt, st, *s, d, p);

    const Walk w = walk_counted(cfg, st, *s, th, p.doff, 1);

    if (w.r == CRAB_OPT_FOUND) [[likely]] {
        const Backend* b = choose(*s, st);
        Verdict v = to_backend(nt, st, *s, b, mac);
        if (v != Verdict::Tx)
            return v;
        rewrite_redirect6(d, p, 20u + w.off + crab_opt_addr_off(&cfg.opt), b->dip);
        set_l2(d, cfg, mac);
        cnt(st, *s, CRAB_LB_CNT_SYN_REDIRECTED);
        return Verdict::Tx;
    }

    return legacy6(cfg, nt, st, *s, f, p);
}

// The IPv4 cases other than a capable SYN, out of line (the hot path
// keeps its registers; @p is a copy, made only here).
// A non-SYN segment to a service: hashed (legacy hash) or dropped.
CRAB_LBD_COLD Verdict nonsyn4(const Config& cfg, const NeighTable& nt, LcoreState& st, const Service& s, uint8_t* d,
                              Parsed p)
{
    if (s.legacy != CRAB_LEGACY_HASH) {
        cnt(st, s, CRAB_LB_CNT_NONSYN_DROP);
        return Verdict::Drop;
    }
    return hash_forward(cfg, nt, st, s, d, flow_hash(p), false, CRAB_LB_CNT_NONSYN_HASHED);
}

// A legacy SYN (no option found): the service's legacy mode.
CRAB_LBD_COLD Verdict legacy4(const Config& cfg, const NeighTable& nt, LcoreState& st, const Service& s, Frame& f,
                              Parsed p)
{
    Mac mac;
    switch (s.legacy) {
    case CRAB_LEGACY_INSERT: {
        if (p.doff + TCPOLEN_CRAB_ALIGNED > 60 || p.tot + TCPOLEN_CRAB_ALIGNED > cfg.mtu ||
            f.headroom < TCPOLEN_CRAB_ALIGNED) {
            cnt(st, s, CRAB_LB_CNT_NO_ROOM);
            return Verdict::Drop;
        }
        const Backend* b = choose(s, st);
        Verdict v = to_backend(nt, st, s, b, mac);
        if (v != Verdict::Tx)
            return v;
        rewrite_insert(cfg, f, p, b->dip.v4());
        set_l2(f.data, cfg, mac);
        cnt(st, s, CRAB_LB_CNT_SYN_INSERTED);
        return Verdict::Tx;
    }
    case CRAB_LEGACY_HASH:
        return hash_forward(cfg, nt, st, s, f.data, flow_hash(p), true, CRAB_LB_CNT_SYN_HASHED);
    default:
        cnt(st, s, CRAB_LB_CNT_SYN_LEGACY_DROP);
        return Verdict::Drop;
    }
}

}  // namespace

uint64_t next_random(uint64_t& s)
{
    // splitmix64: full 64-bit output, one state word per lcore.
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Flattened: the shared headers' walk and picks (C static inline, which
// the compiler's size heuristics would leave out of line) inline too.
[[gnu::flatten]] Verdict process(const Config& cfg, const Table& t, const NeighTable& nt, LcoreState& st, Frame& f)
{
    uint8_t* d = f.data;
    const uint32_t len = f.len;
    uint32_t l3;

    st.g[G_RX].inc();
    // Frames for another host's MAC (a switch floods unknown unicast) are
    // not ours: two LBs behind ECMP would both forward them.
    if (len < 14 || !mac_is(d, cfg.port_mac))
        goto pass;
    {
        uint32_t off = 12;
        uint16_t et = rd16(d + off);
        for (int tags = 0; (et == kEthVlan || et == kEthQinQ) && tags < 2; tags++) {
            off += 4;
            if (off + 2 > len)
                goto pass;
            et = rd16(d + off);
        }
        if (et == kEthIpv6) {
            Verdict v = process6(cfg, t, nt, st, f, off + 2);
            if (v == Verdict::Pass)
                goto pass;
            return v;
        }
        if (et != kEthIpv4)
            goto pass;
        l3 = off + 2;
    }
    if (l3 + 20 > len)
        goto pass;
    {
        // Locals, not a Parsed: what the capable SYN's path needs stays in
        // registers; the other paths re-read the checked headers (parse4()).
        uint8_t* ip = d + l3;
        // Only TCP concerns the LB: other protocols pass, their fragments
        // included (the protocol field is in every fragment).
        if (ip[9] != kProtoTcp)
            goto pass;
        const uint32_t daddr = rd32(ip + 16);
        const long vat = t.vip4_index(daddr);  // the VIP's position in t.keys4
        if (vat < 0)
            goto pass;
        const uint32_t ihl = (ip[0] & 0x0f) * 4u;
        const uint32_t tot = rd16(ip + 2);
        if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || l3 + tot > len) {
            st.g[G_BAD_L3].inc();
            return Verdict::Drop;
        }
        if (rd16(ip + 6) & 0x3fff) {  // MF or a fragment offset
            const Service* s = t.first_of_vip(daddr);
            cnt(st, *s, CRAB_LB_CNT_FRAGMENT);
            return Verdict::Drop;
        }
        if (tot - ihl < 20) {
            st.g[G_BAD_L3].inc();
            return Verdict::Drop;
        }
        uint8_t* th = ip + ihl;
        const uint32_t doff = (th[12] >> 4) * 4u;
        if (doff < 20 || doff > tot - ihl) {
            st.g[G_BAD_L3].inc();
            return Verdict::Drop;
        }

        const Service* s = t.find4_at(vat, daddr, rd16(th + 2));
        if (!s)
            goto pass;
        if ((th[13] & (kTcpSyn | kTcpAck)) != kTcpSyn) [[unlikely]]
            return nonsyn4(cfg, nt, st, *s, d, parse4(d, l3));

        const Walk w = walk_counted(cfg, st, *s, th, doff, 0);

        if (w.r == CRAB_OPT_FOUND) [[likely]] {
            Mac mac;
            const Backend* b = choose(*s, st);
            Verdict v = to_backend(nt, st, *s, b, mac);
            if (v != Verdict::Tx)
                return v;
            rewrite_redirect(ip, th, 20u + w.off + crab_opt_addr_off(&cfg.opt), daddr, b->dip.v4());
            set_l2(d, cfg, mac);
            cnt(st, *s, CRAB_LB_CNT_SYN_REDIRECTED);
            return Verdict::Tx;
        }
        return legacy4(cfg, nt, st, *s, f, parse4(d, l3));
    }
pass:
    st.g[G_PASS].inc();
    return Verdict::Pass;
}

// ---- control-plane side ----------------------------------------------------

std::vector<BackendRef> fresh_backend_slots(const Table* cur, const Table& next)
{
    std::vector<BackendRef> out;
    for (const auto& s : next.services) {
        const Service* o = cur ? cur->find(s.vip, s.port) : nullptr;
        if (o && o->slot != s.slot)
            o = nullptr;  // another service's slot: everything in it is new
        for (const auto& b : s.backends) {
            bool kept = false;
            if (o)
                for (const auto& ob : o->backends)
                    kept |= ob.slot == b.slot && ob.dip == b.dip;
            if (!kept)
                out.push_back({s.slot, b.slot});
        }
    }
    return out;
}

// The shared model's tables, indexed by position in `backends`. The
// control plane keeps at most CRAB_MAX_BACKENDS distinct DIPs per service
// (config.cpp), so the model's input rules hold.
void Service::build()
{
    std::array<crab_lb_backend, CRAB_MAX_BACKENDS> in{};
    crab_lb_work work;
    size_t n = std::min<size_t>(backends.size(), CRAB_MAX_BACKENDS);
    for (size_t i = 0; i < n; i++) {
        const Addr& a = backends[i].dip;
        in[i] = {{a.w[0], a.w[1], a.w[2], a.w[3]}, backends[i].weight, backends[i].state, static_cast<uint8_t>(i)};
    }
    if (crab_lb_tables_build(&tables, &work, in.data(), static_cast<uint32_t>(n)))
        throw Error("service " + to_string(ServiceAddr{vip, port}) + ": backend set rejected by the LB model");
}

void Table::index()
{
    std::sort(services.begin(), services.end(), [](const Service& a, const Service& b) {
        return ServiceAddr{a.vip, a.port} < ServiceAddr{b.vip, b.port};
    });
    vips.clear();
    keys4.clear();
    keys6.clear();
    for (const auto& s : services) {
        if (vips.empty() || vips.back() != s.vip)
            vips.push_back(s.vip);
        if (!s.vip.v6)
            keys4.push_back(key4(s.vip.v4(), s.port));
        else
            keys6.push_back({static_cast<uint64_t>(s.vip.w[0]) << 32 | s.vip.w[1],
                             static_cast<uint64_t>(s.vip.w[2]) << 32 | s.vip.w[3], s.port});
    }
}

const Service* Table::find(const Addr& vip, uint16_t port) const
{
    const ServiceAddr k{vip, port};
    auto it = std::lower_bound(services.begin(), services.end(), k,
                               [](const Service& s, const ServiceAddr& key) { return ServiceAddr{s.vip, s.port} < key; });
    return it != services.end() && it->vip == vip && it->port == port ? &*it : nullptr;
}

const Service* Table::first_of_vip(const Addr& vip) const
{
    auto it = std::lower_bound(services.begin(), services.end(), ServiceAddr{vip, 0},
                               [](const Service& s, const ServiceAddr& key) { return ServiceAddr{s.vip, s.port} < key; });
    return it != services.end() && it->vip == vip ? &*it : nullptr;
}

bool Table::is_vip(const Addr& vip) const { return std::binary_search(vips.begin(), vips.end(), vip); }

Addr Addr::from6(const uint8_t* p)
{
    Addr a;
    a.v6 = true;
    for (int i = 0; i < 4; i++)
        a.w[i] = rd32(p + 4 * i);
    return a;
}

void Addr::put6(uint8_t* p) const
{
    const uint64_t hi = htobe64(static_cast<uint64_t>(w[0]) << 32 | w[1]);
    const uint64_t lo = htobe64(static_cast<uint64_t>(w[2]) << 32 | w[3]);
    std::memcpy(p, &hi, 8);
    std::memcpy(p + 8, &lo, 8);
}

std::string to_string(const Addr& a)
{
    if (!a.v6)
        return crab::to_string(Ipv4{a.v4()});
    uint8_t b[16];
    char s[INET6_ADDRSTRLEN];
    a.put6(b);
    return inet_ntop(AF_INET6, b, s, sizeof(s)) ? s : "?";
}

std::string to_string(const ServiceAddr& e)
{
    return e.ip.v6 ? "[" + to_string(e.ip) + "]:" + std::to_string(e.port)
                   : to_string(e.ip) + ":" + std::to_string(e.port);
}

namespace {

uint64_t mac_word(const Mac& mac)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v |= static_cast<uint64_t>(mac[i]) << (8 * (5 - i));
    return v;
}

}  // namespace

NeighTable::NeighTable(unsigned size, uint64_t lifetime_ms)
    : e_(new Entry[std::clamp(size, 1u, kMaxSize)]),
      size_(std::clamp(size, 1u, kMaxSize)),
      lifetime_(std::max<uint64_t>(lifetime_ms, 1000))
{
}

bool NeighTable::never(const Addr& ip)
{
    if (ip.is_zero())
        return true;
    return ip.v6 ? (ip.w[0] >> 24) == 0xff : ip.v4() == 0xffffffffu;
}

unsigned NeighTable::home(const Addr& ip) const
{
    return (crab_lb_addr_hash(ip.w.data(), 0) ^ (ip.v6 ? 0x9e3779b9u : 0)) % size_;
}

bool NeighTable::key_is(const Entry& e, const Addr& ip)
{
    for (int i = 0; i < 4; i++)
        if (e.key[i].load(std::memory_order_relaxed) != ip.w[i])
            return false;
    return e.key[4].load(std::memory_order_relaxed) == ip.v6;
}

// The entry of @ip, or nullptr; *free_slot: the first empty or removed
// slot on its probe sequence (nullptr: none, the table is full).
NeighTable::Entry* NeighTable::find(const Addr& ip, Entry** free_slot)
{
    *free_slot = nullptr;
    for (unsigned n = 0, h = home(ip); n < size_; n++, h = (h + 1) % size_) {
        uint64_t tag = e_[h].tag.load(std::memory_order_relaxed);
        if (tag >= 2 && key_is(e_[h], ip))
            return &e_[h];
        if (tag < 2 && !*free_slot)
            *free_slot = &e_[h];
        if (tag == kEmpty)
            break;
    }
    return nullptr;
}

// Lock-free: the entry whose key read as @ip under tag @tag (the caller
// reads the tag again after what it reads of the entry).
const NeighTable::Entry* NeighTable::find(const Addr& ip, uint64_t& tag) const
{
    for (unsigned n = 0, h = home(ip); n < size_; n++, h = (h + 1) % size_) {
        tag = e_[h].tag.load(std::memory_order_acquire);
        if (tag == kEmpty)
            break;
        if (tag != kTomb && key_is(e_[h], ip))
            return &e_[h];
    }
    return nullptr;
}

// A free (empty or removed) slot takes @ip: no valid MAC yet. The MAC word
// and the key are written before the new generation is published, so a
// reader that finds the tag finds the whole key and no stale MAC.
void NeighTable::claim(Entry& e, const Addr& ip)
{
    e.mac.store(0, std::memory_order_relaxed);
    for (int i = 0; i < 4; i++)
        e.key[i].store(ip.w[i], std::memory_order_relaxed);
    e.key[4].store(ip.v6, std::memory_order_relaxed);
    e.expires = 0;
    e.permanent = false;
    e.asked = false;
    e.tag.store(gen_++, std::memory_order_release);
    used_++;
}

NeighTable::Want NeighTable::want(const Addr& ip, uint64_t now)
{
    if (never(ip))
        return Want::Full;  // never a next hop
    std::lock_guard<std::mutex> lk(wmu_);
    Entry* fr;
    Entry* e = find(ip, &fr);
    if (!e) {
        if (!fr)
            return Want::Full;
        claim(*fr, ip);
        fr->asked = true;
        fr->asked_at = now;
        fr->wanted_at = now;
        return Want::Send;
    }
    e->wanted_at = now;
    if (e->permanent)
        return Want::Resolved;
    bool valid = e->mac.load(std::memory_order_relaxed) & kValid;
    if (valid && now + refresh_ms() < e->expires)
        return Want::Resolved;
    if (e->asked && now - e->asked_at < kRetryMs)
        return Want::Wait;
    e->asked = true;
    e->asked_at = now;
    return Want::Send;
}

NeighTable::Learn NeighTable::learn(const Addr& ip, const Mac& mac, uint64_t now)
{
    if (never(ip))
        return Learn::Unsolicited;
    std::lock_guard<std::mutex> lk(wmu_);
    Entry* fr;
    Entry* e = find(ip, &fr);
    if (!e || e->permanent || !e->asked || now - e->asked_at > kAnswerMs)
        return Learn::Unsolicited;
    uint64_t old = e->mac.load(std::memory_order_relaxed);
    uint64_t v = kValid | mac_word(mac);
    Learn r = !(old & kValid) ? Learn::Learned : old == v ? Learn::Refreshed : Learn::Changed;
    e->mac.store(v, std::memory_order_release);
    e->asked = false;  // one reply per request
    e->expires = now + lifetime_;
    return r;
}

unsigned NeighTable::expire(uint64_t now)
{
    std::lock_guard<std::mutex> lk(wmu_);
    unsigned n = 0;
    for (unsigned h = 0; h < size_; h++) {
        Entry& e = e_[h];
        if (e.tag.load(std::memory_order_relaxed) < 2 || e.permanent)
            continue;
        uint64_t mac = e.mac.load(std::memory_order_relaxed);
        if ((mac & kValid) && now >= e.expires) {
            e.mac.store(mac & ~kValid, std::memory_order_release);
            mac &= ~kValid;
            n++;
        }
        if (!(mac & kValid) && now - e.wanted_at >= kForgetMs) {
            // Removed: the slot is free again. The tag goes first (and a
            // release fence orders it before anything written to the slot
            // later), so a reader that read the old tag and then a later
            // key or MAC sees the tag changed on its second look (get()).
            e.tag.store(kTomb, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_release);
            e.mac.store(0, std::memory_order_relaxed);
            e.asked = false;
            used_--;
        }
    }
    return n;
}

bool NeighTable::set(const Addr& ip, const Mac& mac)
{
    if (never(ip))
        return false;
    std::lock_guard<std::mutex> lk(wmu_);
    Entry* fr;
    Entry* e = find(ip, &fr);
    if (!e) {
        if (!fr)
            return false;
        claim(*fr, ip);
        e = fr;
    }
    e->permanent = true;
    e->asked = false;
    e->mac.store(kValid | mac_word(mac), std::memory_order_release);
    return true;
}

bool NeighTable::get(const Addr& ip, Mac& mac) const
{
    if (never(ip))
        return false;
    uint64_t tag;
    const Entry* e = find(ip, tag);
    if (!e)
        return false;
    uint64_t v = e->mac.load(std::memory_order_acquire);
    // The slot may have been removed and reused between the key and the
    // MAC: the MAC counts only if the tag is still the one the key was
    // read under.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (!(v & kValid) || e->tag.load(std::memory_order_relaxed) != tag)
        return false;
    for (int i = 0; i < 6; i++)
        mac[i] = static_cast<uint8_t>(v >> (8 * (5 - i)));
    return true;
}

NeighTable::State NeighTable::state(const Addr& ip) const
{
    std::lock_guard<std::mutex> lk(wmu_);
    uint64_t tag;
    const Entry* e = find(ip, tag);
    if (!e)
        return State::None;
    if (e->permanent)
        return State::Permanent;
    if (e->mac.load(std::memory_order_relaxed) & kValid)
        return State::Reachable;
    return e->expires ? State::Expired : State::Pending;
}

unsigned NeighTable::used() const
{
    std::lock_guard<std::mutex> lk(wmu_);
    return used_;
}

}  // namespace crab::lb_dpdk
