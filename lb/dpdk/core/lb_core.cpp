// SPDX-License-Identifier: GPL-2.0-only
// Packet decisions and in-place rewrites of the DPDK LB (docs/PROTOCOL.md 3.2, 5, 6).
// Bounds: every header read is checked against f.len (frame) and tot_len
// (IPv4) before it happens; the option walk is crab_opt_find() over the
// TCP header's option bytes only.
#include "lb_core.hpp"

#include "crab/lb_tables.hpp"  // shared Maglev / WRR builders

#include <algorithm>
#include <cstring>

namespace crab::lbd {

#define CRAB_LBD_NAME(e, n, h) n,
const char* const kCounterNames[CRAB_LB_CNT_MAX] = {CRAB_LB_COUNTERS(CRAB_LBD_NAME)};
const char* const kGCounterNames[G_MAX] = {CRAB_LBD_GCOUNTERS(CRAB_LBD_NAME)};
#undef CRAB_LBD_NAME

namespace {

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpAck = 0x10;

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p)
{
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void wr16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void wr32(uint8_t* p, uint32_t v)
{
    wr16(p, static_cast<uint16_t>(v >> 16));
    wr16(p + 2, static_cast<uint16_t>(v));
}

// One's-complement sum of big-endian 16-bit words (n even).
inline uint32_t sum16(const uint8_t* p, uint32_t n)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i + 1 < n; i += 2)
        s += rd16(p + i);
    return s;
}
inline uint16_t fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
}
// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m/m' = old/new sums of what changed.
inline uint16_t csum_update(uint16_t hc, uint32_t m_old, uint32_t m_new)
{
    uint64_t acc = static_cast<uint16_t>(~hc);
    acc += static_cast<uint16_t>(0xffff - fold(m_old));
    acc += fold(m_new);
    return static_cast<uint16_t>(~fold(acc));
}
inline uint32_t sum32(uint32_t v) { return (v >> 16) + (v & 0xffff); }

// Sum of a header with its checksum field read as zero.
inline uint32_t hdr_sum(const uint8_t* h, uint32_t n, uint32_t csum_off)
{
    return sum16(h, n) - rd16(h + csum_off);
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

inline void cnt(LcoreState& st, const Service& s, int c, uint64_t n = 1) { st.cnt[s.slot][c].inc(n); }

bool backend_mac(const Backend& b, const NeighTable& nt, Mac& mac)
{
    if (b.has_mac) {
        mac = b.mac;
        return true;
    }
    return nt.get(b.dip, mac);
}

// Choose a backend for a new connection by the service's policy.
const Backend* choose(const Service& s, LcoreState& st)
{
    switch (s.policy) {
    case CRAB_POLICY_RANDOM: {
        if (s.active.empty())
            return nullptr;
        // Full-width 64-bit draw scaled to n (Lemire), not rand() % n.
        uint64_t r = next_random(st.rng);
        auto i = static_cast<size_t>((static_cast<unsigned __int128>(r) * s.active.size()) >> 64);
        return &s.backends[s.active[i]];
    }
    case CRAB_POLICY_WRR:
        if (s.wrr.empty())
            return nullptr;
        return &s.backends[s.wrr[st.rr[s.slot]++ % s.wrr.size()]];
    default:
        if (s.active.empty())
            return nullptr;
        return &s.backends[s.active[st.rr[s.slot]++ % s.active.size()]];
    }
}

const Backend* hashed(const Service& s, const Parsed& p)
{
    if (s.maglev.empty())
        return nullptr;
    uint32_t h = flow_hash(p.saddr, p.daddr, p.sport, p.dport);
    return &s.backends[s.maglev[h % s.maglev.size()]];
}

inline void set_l2(uint8_t* eth, const Config& cfg, const Mac& dst)
{
    std::memcpy(eth, dst.data(), 6);
    std::memcpy(eth + 6, cfg.port_mac.data(), 6);
}

// Capable SYN: daddr := DIP, option address := VIP; both checksums updated
// incrementally over exactly what changed (TCP header + pseudo-header daddr).
void rewrite_redirect(uint8_t* d, const Parsed& p, uint32_t opt_addr_at, uint32_t dip)
{
    uint8_t* ip = d + p.l3;
    uint8_t* th = d + p.th;
    uint32_t ip_old = hdr_sum(ip, p.ihl, 10);
    uint32_t tcp_old = hdr_sum(th, p.doff, 16) + sum32(p.daddr);

    wr32(ip + 16, dip);
    wr32(th + opt_addr_at, p.daddr);

    wr16(ip + 10, csum_update(rd16(ip + 10), ip_old, hdr_sum(ip, p.ihl, 10)));
    wr16(th + 16, csum_update(rd16(th + 16), tcp_old, hdr_sum(th, p.doff, 16) + sum32(dip)));
}

// Legacy SYN in insert mode: grow the TCP header by 8 bytes by moving the
// L2..fixed TCP header 8 bytes towards the front (into headroom) and writing
// the option first in the option space. First, so that no EOL or malformed
// option already there can hide it (the conformance fixtures expect this
// placement); the existing options and the payload stay where they are.
bool rewrite_insert(const Config& cfg, Frame& f, const Parsed& p, uint32_t dip)
{
    uint8_t* d = f.data;
    const uint32_t fixed_end = p.th + 20;

    uint32_t ip_old = hdr_sum(d + p.l3, p.ihl, 10);
    uint32_t tcp_old = hdr_sum(d + p.th, p.doff, 16) + sum32(p.daddr) + (p.tot - p.ihl);

    uint8_t* nd = d - TCPOLEN_CRAB_ALIGNED;
    std::memmove(nd, d, fixed_end);
    f.data = nd;
    f.headroom -= TCPOLEN_CRAB_ALIGNED;
    // Ethernet padding after tot_len is dropped: the frame ends with the IP packet.
    f.len = p.l3 + p.tot + TCPOLEN_CRAB_ALIGNED;

    uint8_t* ip = nd + p.l3;
    uint8_t* th = nd + p.th;
    crab_opt_write(th + 20, &cfg.opt, p.daddr);
    th[12] = static_cast<uint8_t>(((p.doff + TCPOLEN_CRAB_ALIGNED) / 4) << 4 | (th[12] & 0x0f));
    wr16(ip + 2, static_cast<uint16_t>(p.tot + TCPOLEN_CRAB_ALIGNED));
    wr32(ip + 16, dip);

    uint32_t ndoff = p.doff + TCPOLEN_CRAB_ALIGNED;
    wr16(ip + 10, csum_update(rd16(ip + 10), ip_old, hdr_sum(ip, p.ihl, 10)));
    wr16(th + 16, csum_update(rd16(th + 16), tcp_old,
                              hdr_sum(th, ndoff, 16) + sum32(dip) + (p.tot - p.ihl + TCPOLEN_CRAB_ALIGNED)));
    return true;
}

Verdict to_backend(const Config& cfg, const NeighTable& nt, LcoreState& st, const Service& s,
                   const Backend* b, Mac& mac, uint8_t* eth)
{
    (void)cfg;
    (void)eth;
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

}  // namespace

uint64_t next_random(uint64_t& s)
{
    // splitmix64: full 64-bit output, one state word per lcore.
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t flow_hash(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport)
{
    uint64_t k = (static_cast<uint64_t>(saddr) << 32 | daddr) ^
                 ((static_cast<uint64_t>(sport) << 16 | dport) * 0x9e3779b97f4a7c15ULL);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return static_cast<uint32_t>(k);
}

Verdict process(const Config& cfg, const Table& t, const NeighTable& nt, LcoreState& st, Frame& f)
{
    uint8_t* d = f.data;
    uint32_t len = f.len;
    Parsed p{};

    st.g[G_RX].inc();
    if (len < 14 || std::memcmp(d, cfg.port_mac.data(), 6) != 0)
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
        if (et != kEthIpv4)
            goto pass;
        p.l3 = off + 2;
    }
    if (p.l3 + 20 > len)
        goto pass;
    {
        const uint8_t* ip = d + p.l3;
        if (ip[9] != kProtoTcp)
            goto pass;
        p.daddr = rd32(ip + 16);
        if (!t.is_vip(p.daddr))
            goto pass;
        p.saddr = rd32(ip + 12);
        p.ihl = (ip[0] & 0x0f) * 4u;
        p.tot = rd16(ip + 2);
        if ((ip[0] >> 4) != 4 || p.ihl < 20 || p.tot < p.ihl || p.l3 + p.tot > len) {
            st.g[G_BAD_L3].inc();
            return Verdict::Drop;
        }
        if (rd16(ip + 6) & 0x3fff) {  // MF or a fragment offset
            const Service* s = t.first_of_vip(p.daddr);
            cnt(st, *s, CRAB_LB_CNT_FRAGMENT);
            return Verdict::Drop;
        }
        p.th = p.l3 + p.ihl;
        if (p.tot - p.ihl < 20) {
            st.g[G_BAD_L3].inc();
            return Verdict::Drop;
        }
        const uint8_t* th = d + p.th;
        p.doff = (th[12] >> 4) * 4u;
        if (p.doff < 20 || p.doff > p.tot - p.ihl) {
            st.g[G_BAD_L3].inc();
            return Verdict::Drop;
        }
        p.sport = rd16(th);
        p.dport = rd16(th + 2);
        p.flags = th[13];
    }

    {
        const Service* s = t.find(p.daddr, p.dport);
        if (!s)
            goto pass;
        Mac mac;
        uint8_t* th = d + p.th;

        if ((p.flags & (kTcpSyn | kTcpAck)) != kTcpSyn) {
            if (s->legacy != CRAB_LEGACY_HASH) {
                cnt(st, *s, CRAB_LB_CNT_NONSYN_DROP);
                return Verdict::Drop;
            }
            Verdict v = to_backend(cfg, nt, st, *s, hashed(*s, p), mac, d);
            if (v != Verdict::Tx)
                return v;
            set_l2(d, cfg, mac);  // DSR: only the L2 destination changes
            cnt(st, *s, CRAB_LB_CNT_NONSYN_HASHED);
            return Verdict::Tx;
        }

        crab_opt_res res;
        int r = crab_opt_find(th + 20, p.doff - 20, &cfg.opt, &res);
        if (res.bad_len)
            cnt(st, *s, CRAB_LB_CNT_OPT_BAD_LEN, res.bad_len);
        if (r == CRAB_OPT_MALFORMED)
            cnt(st, *s, CRAB_LB_CNT_OPT_MALFORMED);

        if (r == CRAB_OPT_FOUND) {
            const Backend* b = choose(*s, st);
            Verdict v = to_backend(cfg, nt, st, *s, b, mac, d);
            if (v != Verdict::Tx)
                return v;
            rewrite_redirect(d, p, 20u + res.off + crab_opt_addr_off(&cfg.opt), b->dip);
            set_l2(d, cfg, mac);
            cnt(st, *s, CRAB_LB_CNT_SYN_REDIRECTED);
            return Verdict::Tx;
        }

        switch (s->legacy) {
        case CRAB_LEGACY_INSERT: {
            if (p.doff + TCPOLEN_CRAB_ALIGNED > 60 || p.tot + TCPOLEN_CRAB_ALIGNED > cfg.mtu ||
                f.headroom < TCPOLEN_CRAB_ALIGNED) {
                cnt(st, *s, CRAB_LB_CNT_NO_ROOM);
                return Verdict::Drop;
            }
            const Backend* b = choose(*s, st);
            Verdict v = to_backend(cfg, nt, st, *s, b, mac, d);
            if (v != Verdict::Tx)
                return v;
            rewrite_insert(cfg, f, p, b->dip);
            set_l2(f.data, cfg, mac);
            cnt(st, *s, CRAB_LB_CNT_SYN_INSERTED);
            return Verdict::Tx;
        }
        case CRAB_LEGACY_HASH: {
            Verdict v = to_backend(cfg, nt, st, *s, hashed(*s, p), mac, d);
            if (v != Verdict::Tx)
                return v;
            set_l2(d, cfg, mac);
            cnt(st, *s, CRAB_LB_CNT_SYN_HASHED);
            return Verdict::Tx;
        }
        default:
            cnt(st, *s, CRAB_LB_CNT_SYN_LEGACY_DROP);
            return Verdict::Drop;
        }
    }
pass:
    st.g[G_PASS].inc();
    return Verdict::Pass;
}

// ---- control-plane side: tables derived from the backend list ------------

// The Maglev and weighted round-robin tables come from the XDP LB's
// control-plane builders (userspace/common/crab/lb_tables.hpp), so both
// LBs map a given backend set and flow to the same backend.
std::vector<uint16_t> maglev_build(const std::vector<Backend>& b, unsigned size)
{
    std::vector<uint16_t> table;
    if (b.empty())
        return table;
    std::vector<crab::xdp::MaglevBackend> mb;
    for (size_t i = 0; i < b.size(); i++)
        mb.push_back({static_cast<uint8_t>(i), b[i].dip});
    for (uint8_t e : crab::xdp::maglev_table(std::move(mb), size))
        table.push_back(e);
    return table;
}

std::vector<uint16_t> wrr_build(const std::vector<Backend>& b, const std::vector<uint16_t>& active)
{
    std::vector<crab::xdp::WrrBackend> wb;
    for (uint16_t i : active)
        wb.push_back({static_cast<uint8_t>(i), b[i].weight});
    std::vector<uint16_t> ring;
    for (uint8_t e : crab::xdp::wrr_ring(wb, CRAB_WRR_SLOTS))
        ring.push_back(e);
    return ring;
}

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

void Service::build()
{
    active.clear();
    for (size_t i = 0; i < backends.size(); i++)
        if (backends[i].state == CRAB_BACKEND_ACTIVE)
            active.push_back(static_cast<uint16_t>(i));
    wrr = wrr_build(backends, active);
    // Draining backends stay in the hash table: their hashed flows go on.
    maglev = maglev_build(backends, CRAB_MAGLEV_SIZE);
}

static inline uint64_t svc_key(uint32_t vip, uint16_t port) { return static_cast<uint64_t>(vip) << 16 | port; }

void Table::index()
{
    std::sort(services.begin(), services.end(),
              [](const Service& a, const Service& b) { return svc_key(a.vip, a.port) < svc_key(b.vip, b.port); });
    vips.clear();
    for (const auto& s : services)
        if (vips.empty() || vips.back() != s.vip)
            vips.push_back(s.vip);
}

const Service* Table::find(uint32_t vip, uint16_t port) const
{
    uint64_t k = svc_key(vip, port);
    auto it = std::lower_bound(services.begin(), services.end(), k,
                               [](const Service& s, uint64_t key) { return svc_key(s.vip, s.port) < key; });
    return it != services.end() && svc_key(it->vip, it->port) == k ? &*it : nullptr;
}

const Service* Table::first_of_vip(uint32_t vip) const
{
    auto it = std::lower_bound(services.begin(), services.end(), svc_key(vip, 0),
                               [](const Service& s, uint64_t key) { return svc_key(s.vip, s.port) < key; });
    return it != services.end() && it->vip == vip ? &*it : nullptr;
}

bool Table::is_vip(uint32_t vip) const { return std::binary_search(vips.begin(), vips.end(), vip); }

void NeighTable::set(uint32_t ip, const Mac& mac)
{
    uint64_t v = 1ULL << 63;
    for (int i = 0; i < 6; i++)
        v |= static_cast<uint64_t>(mac[i]) << (8 * (5 - i));
    std::lock_guard<std::mutex> lk(wmu_);
    for (unsigned n = 0, h = flow_hash(ip, 0, 0, 0) & (kSize - 1); n < kSize; n++, h = (h + 1) & (kSize - 1)) {
        uint32_t cur = e_[h].ip.load(std::memory_order_acquire);
        if (cur == ip || cur == 0) {
            // Publish the MAC before the key so a reader that finds the key
            // finds a complete MAC.
            e_[h].mac.store(v, std::memory_order_release);
            e_[h].ip.store(ip, std::memory_order_release);
            return;
        }
    }
}

bool NeighTable::get(uint32_t ip, Mac& mac) const
{
    for (unsigned n = 0, h = flow_hash(ip, 0, 0, 0) & (kSize - 1); n < kSize; n++, h = (h + 1) & (kSize - 1)) {
        uint32_t cur = e_[h].ip.load(std::memory_order_acquire);
        if (cur == 0)
            return false;
        if (cur == ip) {
            uint64_t v = e_[h].mac.load(std::memory_order_acquire);
            if (!(v >> 63))
                return false;
            for (int i = 0; i < 6; i++)
                mac[i] = static_cast<uint8_t>(v >> (8 * (5 - i)));
            return true;
        }
    }
    return false;
}

}  // namespace crab::lbd
