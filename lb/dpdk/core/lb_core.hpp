// SPDX-License-Identifier: GPL-2.0-only
// The DPDK LB's packet logic, free of DPDK: parse Ethernet/802.1Q,
// IPv4 or IPv6 (extension headers walked with a bound), TCP from a byte
// buffer, decide per service (docs/PROTOCOL.md 3.2), rewrite in
// place. The app, the unit tests and fuzzers all drive this one function:
// process(). Flow hash, tables and picks are the shared model
// (include/crab/crab_lb_model.h), checksums crab_csum.h.
#pragma once

#include <endian.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crab/common.hpp"

extern "C" {
#include <crab/crab_csum.h>
#include <crab/crab_lb.h>
#include <crab/crab_lb_model.h>
#include <crab/crab_opt.h>
}

namespace crab::lb_dpdk {

using crab::to_string;
using Mac = std::array<uint8_t, 6>;

// An IPv4 or IPv6 address as the shared model takes it: four host-order
// words, most significant first; an IPv4 address is { 0, 0, 0, a } with
// v6 false. Ordered by family, then address. An IPv4 address in host order
// converts implicitly (the IPv4 code and its tests use plain words).
struct Addr {
    bool v6 = false;
    std::array<uint32_t, 4> w{};

    constexpr Addr() = default;
    constexpr Addr(uint32_t v4) : w{0, 0, 0, v4} {}  // NOLINT: IPv4, host order
    Addr(Ipv4 a) : Addr(a.addr) {}                     // NOLINT
    // 16 bytes in network order (a packet's field).
    static Addr from6(const uint8_t* p);
    void put6(uint8_t* p) const;
    uint32_t v4() const { return w[3]; }
    bool is_zero() const { return !w[0] && !w[1] && !w[2] && !w[3]; }
    auto operator<=>(const Addr&) const = default;
};

std::string to_string(const Addr& a);

// A service's address: VIP and port, either family.
struct ServiceAddr {
    Addr ip;
    uint16_t port = 0;

    ServiceAddr() = default;
    ServiceAddr(Addr a, uint16_t p) : ip(a), port(p) {}
    ServiceAddr(const Endpoint& e) : ip(e.ip), port(e.port) {}  // NOLINT: IPv4
    auto operator<=>(const ServiceAddr&) const = default;
};

std::string to_string(const ServiceAddr& e);

// What the caller does with the frame after process().
enum class Verdict : uint8_t {
    Tx,    // rewritten in place: send it out of the port
    Drop,  // dropped; a counter says why
    Pass,  // not ours: the host stack's business (untouched)
};

// IPv6 extension headers (hop-by-hop, routing, destination options) the
// walk passes before TCP; a packet to a VIP with more is dropped
// (ext_hdr_limit).
constexpr unsigned kMaxExtHdrs = CRAB_LB_IPV6_EXT_MAX;

// Global (not per-service) counters.
#define CRAB_LBD_GCOUNTERS(X)                                             \
    X(RX, "rx", "frames seen by the core")                                \
    X(PASS, "pass", "frames passed to the host stack")                    \
    X(BAD_L3, "bad_l3", "truncated or bogus IPv4/IPv6/TCP headers to a VIP") \
    X(EXT_HDR_LIMIT, "ext_hdr_limit", "IPv6 packets to a VIP with more extension headers than the walk takes") \
    X(NO_NEIGH, "no_neigh", "backend MAC unknown (ARP/NDP pending)")

#define CRAB_LBD_G_ENUM(e, n, h) G_##e,
enum GCounter { CRAB_LBD_GCOUNTERS(CRAB_LBD_G_ENUM) G_MAX };
#undef CRAB_LBD_G_ENUM

extern const char* const kCounterNames[CRAB_LB_CNT_MAX];
extern const char* const kGCounterNames[G_MAX];

// A counter written by one lcore and read by the control thread: relaxed
// load/store, no locked read-modify-write in the data path.
struct Counter {
    std::atomic<uint64_t> v{0};
    [[gnu::always_inline]] void inc(uint64_t n = 1) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct Backend {
    Addr dip;  // the service's family
    uint16_t slot = 0;  // stable index of its per-backend counter in the service
    uint16_t weight = 1;
    uint8_t state = CRAB_BACKEND_ACTIVE;
    bool has_mac = false;  // MAC configured; else from the neighbour table
    Mac mac{};
};

// One service as the data path sees it: immutable once published. The
// tables are derived from `backends` by build() (the shared model; they
// hold indices into `backends`), so counts always match.
struct Service {
    Addr vip;
    uint16_t port = 0;
    uint8_t policy = CRAB_POLICY_RR;
    uint8_t legacy = CRAB_LEGACY_DROP;
    uint16_t slot = 0;  // stable index of counters / rr cursors
    std::vector<Backend> backends;  // at most CRAB_MAX_BACKENDS
    crab_lb_tables tables{};

    void build();  // (re)derive the tables from backends
};

// Snapshot of all services: immutable, swapped as a whole.
struct Table {
    std::vector<Service> services;  // sorted by (vip, port)
    std::vector<Addr> vips;         // sorted unique VIPs
    // The IPv4 services' (VIP << 16 | port), sorted: services[i]'s key
    // (IPv4 addresses sort before IPv6 ones, so they are the first
    // keys4.size() services). The data path's IPv4 lookups (find4(),
    // is_vip4()) search these words instead of comparing whole Addrs.
    std::vector<uint64_t> keys4;
    // The IPv6 services' addresses as two 64-bit words (most significant
    // first) and their ports, sorted: keys6[i] is services[keys4.size() + i]
    // (IPv6 services sort after the IPv4 ones, by address, then port). The
    // IPv6 lookups (find6(), is_vip6()) compare these words, read from the
    // packet, instead of building and comparing whole Addrs.
    struct Key6 {
        uint64_t hi, lo;
        uint32_t port;
        auto operator<=>(const Key6&) const = default;
    };
    std::vector<Key6> keys6;

    const Service* find(const Addr& vip, uint16_t port) const;
    bool is_vip(const Addr& vip) const;
    const Service* first_of_vip(const Addr& vip) const;
    void index();  // sort, fill vips, keys4 and keys6

    static uint64_t key4(uint32_t vip, uint16_t port) { return static_cast<uint64_t>(vip) << 16 | port; }
    // find() and is_vip() of an IPv4 address (host order).
    const Service* find4(uint32_t vip, uint16_t port) const
    {
        const uint64_t k = key4(vip, port);
        auto it = std::lower_bound(keys4.begin(), keys4.end(), k);
        return it != keys4.end() && *it == k ? &services[static_cast<size_t>(it - keys4.begin())] : nullptr;
    }
    bool is_vip4(uint32_t vip) const { return vip4_index(vip) >= 0; }
    // The data path's IPv4 lookup in two steps, one search: the position
    // in keys4 of @vip's first service (-1: not a VIP), then the service
    // of a port from there (find4() from that position: the VIP's ports
    // follow it, sorted).
    // A few services (kLinear or fewer): compared in order, no search.
    static constexpr size_t kLinear = 4;
    long vip4_index(uint32_t vip) const
    {
        const uint64_t k = key4(vip, 0);
        const size_t n = keys4.size();
        size_t i = 0;
        if (n <= kLinear)
            while (i < n && keys4[i] < k)
                i++;
        else
            i = static_cast<size_t>(std::lower_bound(keys4.begin(), keys4.end(), k) - keys4.begin());
        return i < n && keys4[i] >> 16 == vip ? static_cast<long>(i) : -1;
    }
    const Service* find4_at(long at, uint32_t vip, uint16_t port) const
    {
        const uint64_t k = key4(vip, port);
        auto it = keys4.begin() + at;
        if (*it != k)  // not the VIP's first port: search the rest
            it = std::lower_bound(it + 1, keys4.end(), k);
        return it != keys4.end() && *it == k ? &services[static_cast<size_t>(it - keys4.begin())] : nullptr;
    }
    // find() and is_vip() of an IPv6 address given as its two 64-bit
    // halves (host order, most significant first: addr6_words()).
    const Service* find6(uint64_t hi, uint64_t lo, uint16_t port) const
    {
        const Key6 k{hi, lo, port};
        auto it = std::lower_bound(keys6.begin(), keys6.end(), k);
        return it != keys6.end() && *it == k ? &services[keys4.size() + static_cast<size_t>(it - keys6.begin())]
                                             : nullptr;
    }
    bool is_vip6(uint64_t hi, uint64_t lo) const { return vip6_index(hi, lo) >= 0; }
    // As vip4_index() and find4_at(): the position in keys6 of the VIP's
    // first service (-1: not a VIP), then a port's service from there.
    long vip6_index(uint64_t hi, uint64_t lo) const
    {
        const size_t n = keys6.size();
        size_t i = 0;
        if (n <= kLinear)
            while (i < n && (keys6[i].hi < hi || (keys6[i].hi == hi && keys6[i].lo < lo)))
                i++;
        else
            i = static_cast<size_t>(std::lower_bound(keys6.begin(), keys6.end(), Key6{hi, lo, 0}) - keys6.begin());
        return i < n && keys6[i].hi == hi && keys6[i].lo == lo ? static_cast<long>(i) : -1;
    }
    const Service* find6_at(long at, uint64_t hi, uint64_t lo, uint16_t port) const
    {
        const Key6 k{hi, lo, port};
        auto it = keys6.begin() + at;
        if (it->port != port)  // not the VIP's first port: search the rest
            it = std::lower_bound(it + 1, keys6.end(), k);
        return it != keys6.end() && *it == k ? &services[keys4.size() + static_cast<size_t>(it - keys6.begin())]
                                             : nullptr;
    }
    // The 16 bytes of an IPv6 address (network order) as find6()'s words.
    static void addr6_words(const uint8_t* p, uint64_t& hi, uint64_t& lo)
    {
        std::memcpy(&hi, p, 8);
        std::memcpy(&lo, p + 8, 8);
        hi = be64toh(hi);
        lo = be64toh(lo);
    }
};

// Neighbour table: next hop (IPv4 or IPv6) -> MAC, for the backends
// without a configured MAC; ARP resolves IPv4 next hops, Neighbour
// Discovery IPv6 ones, into the one table. Read lock-free by every worker
// (get()); written under a mutex (neighbour resolution is not the fast
// path) by the worker that sends the requests (want(), expire()) and by
// whichever worker receives a reply (learn()). A reader never sees half a
// MAC or a half-written key: the MAC and its valid bit are one 64-bit word,
// and an entry's tag (empty, removed, or a generation that changes
// whenever the slot gets a new key) is read before and again after the key
// and the MAC.
//
// Learning is solicited only: an entry is created when the LB wants a next
// hop and asks for it (want() says when to send a request or solicitation),
// and learn() accepts a reply (an ARP reply, a solicited Neighbour
// Advertisement) only for an entry with a request outstanding (asked at
// most kAnswerMs ago), once. Replies nobody asked for, gratuitous ARP,
// unsolicited advertisements and requests never create or change an entry
// (the caller counts them).
// Entries age: a learned MAC is valid for the lifetime; within the last
// refresh_ms() of it want() asks again (at most once a second), a reply
// re-arms it; expire() invalidates what was not refreshed in time (its
// packets are then dropped and counted until a reply comes) and removes
// entries nobody has wanted for kForgetMs once invalid. A full table
// refuses a new next hop (want() returns Full): no live entry is ever
// replaced. Time is the caller's clock in milliseconds. The unspecified
// address, IPv4 broadcast and IPv6 multicast are never next hops.
class NeighTable {
public:
    static constexpr unsigned kDefaultSize = 1024;
    static constexpr unsigned kMaxSize = 65536;
    static constexpr uint64_t kDefaultLifetimeMs = 60000;
    static constexpr uint64_t kRetryMs = 1000;   // requests per next hop at most this often
    static constexpr uint64_t kAnswerMs = 3000;  // a reply answers a request this long at most
    static constexpr uint64_t kForgetMs = 3000;  // an invalid entry not wanted this long is removed

    // @size entries (1..kMaxSize), MACs valid @lifetime_ms (>= 1000).
    explicit NeighTable(unsigned size = kDefaultSize, uint64_t lifetime_ms = kDefaultLifetimeMs);
    NeighTable(const NeighTable&) = delete;
    NeighTable& operator=(const NeighTable&) = delete;

    enum class Want : uint8_t {
        Resolved,  // valid and not due for a refresh
        Send,      // send a request now (recorded as outstanding)
        Wait,      // a request went out less than kRetryMs ago
        Full,      // no entry and no free slot: cannot be resolved
    };
    Want want(const Addr& ip, uint64_t now);

    enum class Learn : uint8_t {
        Learned,      // the first MAC of a pending entry, or one after expiry
        Refreshed,    // the same MAC again: lifetime re-armed
        Changed,      // a solicited reply with another MAC
        Unsolicited,  // no request outstanding for @ip: ignored
    };
    Learn learn(const Addr& ip, const Mac& mac, uint64_t now);

    // Invalidates entries whose lifetime ended, removes invalid ones not
    // wanted for kForgetMs; returns how many were invalidated.
    unsigned expire(uint64_t now);

    // A configured entry: never aged, never changed by ARP/NDP. False if full.
    bool set(const Addr& ip, const Mac& mac);

    // Data path: the MAC of a valid entry.
    bool get(const Addr& ip, Mac& mac) const;

    enum class State : uint8_t { None, Pending, Reachable, Expired, Permanent };
    State state(const Addr& ip) const;
    unsigned used() const;  // entries (any state)
    unsigned capacity() const { return size_; }
    uint64_t lifetime_ms() const { return lifetime_; }
    uint64_t refresh_ms() const { return std::min<uint64_t>(lifetime_ / 2, 5000); }

    // Never a next hop: unspecified, IPv4 broadcast, IPv6 multicast.
    static bool never(const Addr& ip);

private:
    static constexpr uint64_t kEmpty = 0;
    static constexpr uint64_t kTomb = 1;  // removed: probes go on past it
    static constexpr uint64_t kValid = 1ULL << 63;
    struct Entry {
        // kEmpty, kTomb, or the generation of the key (>= 2).
        std::atomic<uint64_t> tag{kEmpty};
        std::array<std::atomic<uint32_t>, 5> key{};  // the address's words, then v6
        std::atomic<uint64_t> mac{0};                // bit 63 = valid
        // Under wmu_ only:
        uint64_t expires = 0, asked_at = 0, wanted_at = 0;
        bool asked = false, permanent = false;
    };
    Entry* find(const Addr& ip, Entry** free_slot);  // under wmu_
    const Entry* find(const Addr& ip, uint64_t& tag) const;
    static bool key_is(const Entry& e, const Addr& ip);
    void claim(Entry& e, const Addr& ip);  // under wmu_: a free slot gets @ip
    unsigned home(const Addr& ip) const;

    std::unique_ptr<Entry[]> e_;
    unsigned size_;
    unsigned used_ = 0;
    uint64_t gen_ = 2;
    uint64_t lifetime_;
    mutable std::mutex wmu_;
};

struct Config {
    Mac port_mac{};
    uint16_t mtu = 1500;  // IP MTU: an insert must not exceed it
    crab_opt_cfg opt = CRAB_OPT_CFG_DEFAULT;
};

// Per-lcore state: counters and round-robin cursors indexed by service slot.
// be[service slot][backend slot]: frames sent to that backend (redirected,
// inserted or hashed SYNs, hashed non-SYN packets), as the XDP LB counts.
struct alignas(64) LcoreState {
    std::array<std::array<Counter, CRAB_LB_CNT_MAX>, CRAB_MAX_SERVICES> cnt;
    std::array<std::array<Counter, CRAB_MAX_BACKENDS>, CRAB_MAX_SERVICES> be;
    // The round-robin cursors (crab_lb_model.h crab_lb_rr): the 64-bit
    // position (never wraps early) and its remainder, kept by choose().
    std::array<crab_lb_rr, CRAB_MAX_SERVICES> rr{};
    std::array<Counter, G_MAX> g;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;  // seed per lcore
};

// A frame in a buffer with `headroom` writable bytes before `data` (an
// insert moves the headers 8 (IPv4) or 20 (IPv6) bytes to the front).
struct Frame {
    uint8_t* data;
    uint32_t len;
    uint32_t headroom;
};

Verdict process(const Config& cfg, const Table& t, const NeighTable& nt, LcoreState& st, Frame& f);

// A (service slot, backend slot) pair: where a backend's counter lives.
struct BackendRef {
    uint16_t svc, be;
    bool operator==(const BackendRef&) const = default;
};

// Backend counters that must start from zero when @next is published over
// @cur (nullptr: none before): every backend of @next whose slot was not
// held by the same DIP of the same service in @cur, i.e. a backend
// (re)added or a re-used slot. The counters are monotonic per lcore; the
// control plane keeps a baseline per slot and reports sum - baseline.
std::vector<BackendRef> fresh_backend_slots(const Table* cur, const Table& next);

// The lcore's random source (64 bits; the policy uses the top 32).
uint64_t next_random(uint64_t& s);

}  // namespace crab::lb_dpdk
