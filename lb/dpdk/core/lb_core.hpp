// SPDX-License-Identifier: GPL-2.0-only
// The DPDK LB's packet logic, free of DPDK: parse Ethernet/802.1Q/IPv4/TCP
// from a byte buffer, decide per service (docs/PROTOCOL.md 3.2), rewrite in
// place. The app, the unit tests and fuzzers all drive this one function:
// process(). Flow hash, tables and picks are the shared model
// (include/crab/crab_lb_model.h), checksums crab_csum.h.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include <crab/crab_csum.h>
#include <crab/crab_lb.h>
#include <crab/crab_lb_model.h>
#include <crab/crab_opt.h>
}

namespace crab::lbd {

using Mac = std::array<uint8_t, 6>;

// What the caller does with the frame after process().
enum class Verdict : uint8_t {
    Tx,    // rewritten in place: send it out of the port
    Drop,  // dropped; a counter says why
    Pass,  // not ours: the host stack's business (untouched)
};

// Global (not per-service) counters.
#define CRAB_LBD_GCOUNTERS(X)                                             \
    X(RX, "rx", "frames seen by the core")                                \
    X(PASS, "pass", "frames passed to the host stack")                    \
    X(BAD_L3, "bad_l3", "truncated or bogus IPv4/TCP headers to a VIP")   \
    X(NO_NEIGH, "no_neigh", "backend MAC unknown (ARP pending)")

#define CRAB_LBD_G_ENUM(e, n, h) G_##e,
enum GCounter { CRAB_LBD_GCOUNTERS(CRAB_LBD_G_ENUM) G_MAX };
#undef CRAB_LBD_G_ENUM

extern const char* const kCounterNames[CRAB_LB_CNT_MAX];
extern const char* const kGCounterNames[G_MAX];

// A counter written by one lcore and read by the control thread: relaxed
// load/store, no locked read-modify-write in the data path.
struct Counter {
    std::atomic<uint64_t> v{0};
    void inc(uint64_t n = 1) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct Backend {
    uint32_t dip = 0;  // host order
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
    uint32_t vip = 0;  // host order
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
    std::vector<uint32_t> vips;     // sorted unique VIPs

    const Service* find(uint32_t vip, uint16_t port) const;
    bool is_vip(uint32_t vip) const;
    const Service* first_of_vip(uint32_t vip) const;
    void index();  // sort and fill vips
};

// Neighbour table: IPv4 -> MAC, written by whichever worker lcore sees an
// ARP (writers serialised by a mutex: ARP is not the fast path) and read
// lock-free. An entry is a 64-bit word (valid bit + MAC) so a reader never
// sees half a MAC.
class NeighTable {
public:
    static constexpr unsigned kSize = 1024;  // power of two
    void set(uint32_t ip, const Mac& mac);
    bool get(uint32_t ip, Mac& mac) const;

private:
    struct Entry {
        std::atomic<uint32_t> ip{0};
        std::atomic<uint64_t> mac{0};  // bit 63 = valid
    };
    std::array<Entry, kSize> e_;
    std::mutex wmu_;
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
    std::array<uint64_t, CRAB_MAX_SERVICES> rr{};  // 64-bit: never wraps early
    std::array<Counter, G_MAX> g;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;  // seed per lcore
};

// A frame in a buffer with `headroom` writable bytes before `data` (an
// insert moves the headers 8 bytes to the front).
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

}  // namespace crab::lbd
