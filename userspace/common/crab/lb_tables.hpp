// SPDX-License-Identifier: GPL-2.0-only
// Lookup tables the LB data paths (XDP, DPDK) index, computed here in the control
// plane (pure functions, unit-tested in test_lb_tables.cpp):
//   - Maglev consistent-hash table (Eisenbud et al., NSDI 2016, section 3.4):
//     each backend walks its own permutation (offset, skip from two hashes of
//     its address) and they take turns claiming the next free entry;
//   - smooth weighted round-robin ring: every backend appears weight times,
//     spread out (the highest "current" weight wins each step).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace crab::xdp {

constexpr uint8_t kNoBackend = 0xff;

inline uint32_t addr_hash(uint32_t addr, uint32_t seed)
{
    // FNV-1a over the 4 address bytes, then a murmur3 finaliser.
    uint32_t h = 2166136261u ^ seed;
    for (int i = 3; i >= 0; i--) {
        h ^= (addr >> (i * 8)) & 0xff;
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

struct MaglevBackend {
    uint8_t slot;   // value written into the table
    uint32_t addr;  // host order; drives the permutation
};

// Table of @size (a prime) entries, each a backend slot; all kNoBackend when
// @backends is empty. Deterministic for a given set (order-independent:
// backends take turns sorted by address).
inline std::vector<uint8_t> maglev_table(std::vector<MaglevBackend> backends, uint32_t size)
{
    std::vector<uint8_t> table(size, kNoBackend);
    if (backends.empty() || size < 2)
        return table;
    std::sort(backends.begin(), backends.end(),
              [](const auto& a, const auto& b) { return a.addr < b.addr; });
    const size_t n = backends.size();
    std::vector<uint32_t> offset(n), skip(n), next(n, 0);
    for (size_t i = 0; i < n; i++) {
        offset[i] = addr_hash(backends[i].addr, 0x6d61676c) % size;        // "magl"
        skip[i] = addr_hash(backends[i].addr, 0x65763031) % (size - 1) + 1; // "ev01"
    }
    uint32_t filled = 0;
    while (true) {
        for (size_t i = 0; i < n; i++) {
            uint32_t c;
            do {
                c = static_cast<uint32_t>((offset[i] + uint64_t(next[i]) * skip[i]) % size);
                next[i]++;
            } while (table[c] != kNoBackend);
            table[c] = backends[i].slot;
            if (++filled == size)
                return table;
        }
    }
}

struct WrrBackend {
    uint8_t slot;
    uint32_t weight;  // >= 1
};

// Smooth weighted round-robin ring of at most @max_slots entries. When the
// weights add up to more than @max_slots they are scaled down (each keeps at
// least 1), so proportions are kept as closely as the ring allows.
inline std::vector<uint8_t> wrr_ring(const std::vector<WrrBackend>& backends, uint32_t max_slots)
{
    std::vector<uint8_t> ring;
    if (backends.empty() || max_slots == 0)
        return ring;
    // Largest-remainder scaling when the weights do not fit the ring.
    std::vector<int64_t> w;
    std::vector<uint64_t> rem;
    uint64_t total = 0;
    for (const auto& b : backends)
        total += std::max<uint32_t>(b.weight, 1);
    if (backends.size() > max_slots)
        return ring;  // more backends than slots: cannot be represented
    int64_t sum = 0;
    for (const auto& b : backends) {
        uint64_t x = std::max<uint32_t>(b.weight, 1);
        uint64_t r = 0;
        if (total > max_slots) {
            r = (x * max_slots) % total;
            x = std::max<uint64_t>(1, (x * max_slots) / total);
        }
        w.push_back(static_cast<int64_t>(x));
        rem.push_back(r);
        sum += static_cast<int64_t>(x);
    }
    while (total > max_slots && sum < static_cast<int64_t>(max_slots)) {
        auto it = std::max_element(rem.begin(), rem.end());
        if (*it == 0)
            break;
        w[it - rem.begin()]++;
        *it = 0;
        sum++;
    }
    while (sum > static_cast<int64_t>(max_slots)) {  // the "at least 1" overshoot
        auto it = std::max_element(w.begin(), w.end());
        (*it)--;
        sum--;
    }
    std::vector<int64_t> cur(w.size(), 0);
    for (int64_t step = 0; step < sum; step++) {
        size_t best = 0;
        for (size_t i = 0; i < w.size(); i++) {
            cur[i] += w[i];
            if (cur[i] > cur[best])
                best = i;
        }
        cur[best] -= sum;
        ring.push_back(backends[best].slot);
    }
    return ring;
}

}  // namespace crab::xdp
