// SPDX-License-Identifier: GPL-2.0-only
// Packet decisions and in-place rewrites of the DPDK LB (docs/PROTOCOL.md
// 3.2, 5, 6).
// Bounds: every header read is checked against f.len (frame) and tot_len
// (IPv4) before it happens; the option walk is crab_opt_find() over the
// TCP header's option bytes only.
#include "lb_core.hpp"

#include "crab/common.hpp"

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

inline const Backend* backend_of(const Service& s, uint8_t id)
{
    return id < s.backends.size() ? &s.backends[id] : nullptr;
}

// Choose a backend for a new connection by the service's policy (the
// shared model's picks: a 64-bit rr position per lcore, the top 32 bits of
// the lcore's 64-bit random draw).
const Backend* choose(const Service& s, LcoreState& st)
{
    uint32_t rnd = 0;
    uint64_t pos = 0;
    if (s.policy == CRAB_POLICY_RANDOM)
        rnd = static_cast<uint32_t>(next_random(st.rng) >> 32);
    else
        pos = st.rr[s.slot]++;
    return backend_of(s, crab_lb_pick(&s.tables, s.policy, pos, rnd));
}

inline uint32_t flow_hash(const Parsed& p) { return crab_flow_hash(p.saddr, p.daddr, p.sport, p.dport); }

inline void set_l2(uint8_t* eth, const Config& cfg, const Mac& dst)
{
    std::memcpy(eth, dst.data(), 6);
    std::memcpy(eth + 6, cfg.port_mac.data(), 6);
}

// IPv4 daddr := @dip; the header checksum follows incrementally (RFC 1624).
void ip_set_daddr(uint8_t* ip, uint32_t daddr, uint32_t dip)
{
    wr16(ip + 10, crab_csum_replace32(rd16(ip + 10), daddr, dip));
    wr32(ip + 16, dip);
}

// Capable SYN: daddr := DIP, option address (at @opt_addr_at of the TCP
// header, any alignment) := VIP. The TCP checksum loses the old address
// bytes and the pseudo-header's daddr and gains the new ones.
void rewrite_redirect(uint8_t* d, const Parsed& p, uint32_t opt_addr_at, uint32_t dip)
{
    uint8_t* th = d + p.th;
    uint32_t acc = crab_csum_start(rd16(th + 16));
    acc = crab_csum_sub32(acc, p.daddr);
    acc = crab_csum_add32(acc, dip);
    for (uint32_t i = 0; i < 4; i++) {
        uint8_t nb = static_cast<uint8_t>(p.daddr >> (24 - 8 * i));
        acc = crab_csum_sub16(acc, crab_csum_byte(th[opt_addr_at + i], opt_addr_at + i));
        acc = crab_csum_add16(acc, crab_csum_byte(nb, opt_addr_at + i));
        th[opt_addr_at + i] = nb;
    }
    wr16(th + 16, crab_csum_finish(acc));
    ip_set_daddr(d + p.l3, p.daddr, dip);
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

Verdict to_backend(const NeighTable& nt, LcoreState& st, const Service& s, const Backend* b, Mac& mac)
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

// Hash mode (DSR): the flow's backend; only the link-layer addresses
// change. A SYN must not start a flow on a draining backend
// (crab_lb_model.h).
Verdict hash_forward(const Config& cfg, const NeighTable& nt, LcoreState& st, const Service& s,
                     uint8_t* d, const Parsed& p, bool syn, int ok)
{
    Mac mac;
    uint32_t h = flow_hash(p);
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

}  // namespace

uint64_t next_random(uint64_t& s)
{
    // splitmix64: full 64-bit output, one state word per lcore.
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

Verdict process(const Config& cfg, const Table& t, const NeighTable& nt, LcoreState& st, Frame& f)
{
    uint8_t* d = f.data;
    uint32_t len = f.len;
    Parsed p{};

    st.g[G_RX].inc();
    // Frames for another host's MAC (a switch floods unknown unicast) are
    // not ours: two LBs behind ECMP would both forward them.
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
        // Only TCP concerns the LB: other protocols pass, their fragments
        // included (the protocol field is in every fragment).
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
            return hash_forward(cfg, nt, st, *s, d, p, false, CRAB_LB_CNT_NONSYN_HASHED);
        }

        crab_opt_res res;
        int r = crab_opt_find(th + 20, p.doff - 20, &cfg.opt, &res);
        if (res.bad_len)
            cnt(st, *s, CRAB_LB_CNT_OPT_BAD_LEN, res.bad_len);
        if (r == CRAB_OPT_MALFORMED)
            cnt(st, *s, CRAB_LB_CNT_OPT_MALFORMED);

        if (r == CRAB_OPT_FOUND) {
            const Backend* b = choose(*s, st);
            Verdict v = to_backend(nt, st, *s, b, mac);
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
            Verdict v = to_backend(nt, st, *s, b, mac);
            if (v != Verdict::Tx)
                return v;
            rewrite_insert(cfg, f, p, b->dip);
            set_l2(f.data, cfg, mac);
            cnt(st, *s, CRAB_LB_CNT_SYN_INSERTED);
            return Verdict::Tx;
        }
        case CRAB_LEGACY_HASH:
            return hash_forward(cfg, nt, st, *s, d, p, true, CRAB_LB_CNT_SYN_HASHED);
        default:
            cnt(st, *s, CRAB_LB_CNT_SYN_LEGACY_DROP);
            return Verdict::Drop;
        }
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
    for (size_t i = 0; i < n; i++)
        in[i] = {{0, 0, 0, backends[i].dip}, backends[i].weight, backends[i].state, static_cast<uint8_t>(i)};
    if (crab_lb_tables_build(&tables, &work, in.data(), static_cast<uint32_t>(n)))
        throw Error("service " + to_string(Endpoint{{vip}, port}) + ": backend set rejected by the LB model");
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

unsigned NeighTable::home(uint32_t ip) const { return crab_addr_hash(ip, 0) % size_; }

// The entry of @ip, or nullptr; *free_slot: the first empty or removed
// slot on its probe sequence (nullptr: none, the table is full).
NeighTable::Entry* NeighTable::find(uint32_t ip, Entry** free_slot)
{
    *free_slot = nullptr;
    for (unsigned n = 0, h = home(ip); n < size_; n++, h = (h + 1) % size_) {
        uint32_t cur = e_[h].ip.load(std::memory_order_relaxed);
        if (cur == ip)
            return &e_[h];
        if ((cur == kTomb || cur == kEmpty) && !*free_slot)
            *free_slot = &e_[h];
        if (cur == kEmpty)
            break;
    }
    return nullptr;
}

const NeighTable::Entry* NeighTable::find(uint32_t ip) const
{
    for (unsigned n = 0, h = home(ip); n < size_; n++, h = (h + 1) % size_) {
        uint32_t cur = e_[h].ip.load(std::memory_order_acquire);
        if (cur == ip)
            return &e_[h];
        if (cur == kEmpty)
            break;
    }
    return nullptr;
}

NeighTable::Want NeighTable::want(uint32_t ip, uint64_t now)
{
    if (ip == kEmpty || ip == kTomb)
        return Want::Full;  // never a next hop
    std::lock_guard<std::mutex> lk(wmu_);
    Entry* fr;
    Entry* e = find(ip, &fr);
    if (!e) {
        if (!fr)
            return Want::Full;
        // A new pending entry: no valid MAC yet. The MAC word is cleared
        // before the key is stored, so a reader that finds the key finds
        // no stale MAC of a removed entry.
        fr->mac.store(0, std::memory_order_release);
        fr->expires = 0;
        fr->permanent = false;
        fr->asked = true;
        fr->asked_at = now;
        fr->wanted_at = now;
        fr->ip.store(ip, std::memory_order_release);
        used_++;
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

NeighTable::Learn NeighTable::learn(uint32_t ip, const Mac& mac, uint64_t now)
{
    if (ip == kEmpty || ip == kTomb)
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
        uint32_t ip = e.ip.load(std::memory_order_relaxed);
        if (ip == kEmpty || ip == kTomb || e.permanent)
            continue;
        uint64_t mac = e.mac.load(std::memory_order_relaxed);
        if ((mac & kValid) && now >= e.expires) {
            e.mac.store(mac & ~kValid, std::memory_order_release);
            mac &= ~kValid;
            n++;
        }
        if (!(mac & kValid) && now - e.wanted_at >= kForgetMs) {
            // Removed: the slot is free again. The key goes first, so a
            // reader that read the old key and then a later MAC sees the
            // key changed on its second look (get()).
            e.ip.store(kTomb, std::memory_order_release);
            e.mac.store(0, std::memory_order_release);
            e.asked = false;
            used_--;
        }
    }
    return n;
}

bool NeighTable::set(uint32_t ip, const Mac& mac)
{
    if (ip == kEmpty || ip == kTomb)
        return false;
    std::lock_guard<std::mutex> lk(wmu_);
    Entry* fr;
    Entry* e = find(ip, &fr);
    if (!e) {
        if (!fr)
            return false;
        e = fr;
        e->mac.store(0, std::memory_order_release);
        e->ip.store(ip, std::memory_order_release);
        used_++;
    }
    e->permanent = true;
    e->asked = false;
    // Publish the MAC after the key: a reader that finds the key and a
    // valid bit finds the whole MAC.
    e->mac.store(kValid | mac_word(mac), std::memory_order_release);
    return true;
}

bool NeighTable::get(uint32_t ip, Mac& mac) const
{
    if (ip == kEmpty || ip == kTomb)
        return false;
    const Entry* e = find(ip);
    if (!e)
        return false;
    uint64_t v = e->mac.load(std::memory_order_acquire);
    // The slot may have been removed and reused between the key and the
    // MAC: the MAC counts only if the key is still ours.
    if (!(v & kValid) || e->ip.load(std::memory_order_acquire) != ip)
        return false;
    for (int i = 0; i < 6; i++)
        mac[i] = static_cast<uint8_t>(v >> (8 * (5 - i)));
    return true;
}

NeighTable::State NeighTable::state(uint32_t ip) const
{
    std::lock_guard<std::mutex> lk(wmu_);
    const Entry* e = find(ip);
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

}  // namespace crab::lbd
