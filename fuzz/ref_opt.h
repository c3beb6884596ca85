// SPDX-License-Identifier: GPL-2.0-only
// A reference TCP option walk written straight from docs/PROTOCOL.md section 2, for the
// fuzz targets to compare include/crab/crab_opt.h against. It is kept as
// plain as possible (no masking, no step state machine, no clamping tricks)
// so that it is obviously right; it is NOT used by any component.
#pragma once

#include <cstddef>
#include <cstdint>

namespace crab::fuzz {

struct RefOpt {
    int status = 0;        // 0 none, 1 found, 2 malformed (enum crab_opt_status)
    uint32_t addr = 0;     // host order (IPv4 walk)
    uint8_t addr6[16] = {};  // network order (IPv6 walk)
    unsigned off = 0;      // offset of the kind byte of the option found
    unsigned bad_len = 0;  // redirect options of the wrong length, ignored
};

// @kind: the configured kind; exp: RFC 6994 form (kind 254, ExID, len 8);
// v6: the options of an IPv6 segment (lengths 18 and 20, 16-byte address).
// Only the first 40 bytes are options (doff <= 15 words); more is ignored.
inline RefOpt ref_opt_walk(const uint8_t* o, size_t n, uint8_t kind, bool exp, uint16_t exid, bool v6 = false)
{
    RefOpt r;
    if (n > 40)
        n = 40;
    const size_t want = v6 ? (exp ? 20 : 18) : (exp ? 8 : 6);
    size_t i = 0;
    while (i < n) {
        uint8_t k = o[i];
        if (k == 0)  // EOL: the walk ends, cleanly
            return r;
        if (k == 1) {  // NOP
            i++;
            continue;
        }
        // Any other option has a length byte, and the length must be at
        // least 2 and stay inside the option space.
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n) {
            r.status = 2;
            return r;
        }
        size_t len = o[i + 1];
        if (k == kind) {
            bool mine = true;
            size_t a = i + 2;
            if (exp) {
                // Another experiment's kind-254 option (another ExID, or
                // too short to hold one) is not ours: skipped, not counted.
                mine = len >= 4 && (static_cast<uint16_t>(o[i + 2] << 8 | o[i + 3]) == exid);
                a = i + 4;
            }
            if (mine && len == want) {
                r.status = 1;
                r.off = static_cast<unsigned>(i);
                if (v6)
                    for (size_t k = 0; k < 16; k++)
                        r.addr6[k] = o[a + k];
                else
                    r.addr = static_cast<uint32_t>(o[a]) << 24 | static_cast<uint32_t>(o[a + 1]) << 16 |
                             static_cast<uint32_t>(o[a + 2]) << 8 | o[a + 3];
                return r;
            }
            if (mine && r.bad_len < 255)
                r.bad_len++;
        }
        i += len;
    }
    return r;
}

// One's-complement sum over bytes (odd tail padded with zero), folded.
inline uint16_t ref_sum(const uint8_t* p, size_t n, uint64_t init = 0)
{
    uint64_t s = init;
    for (size_t i = 0; i < n; i += 2)
        s += static_cast<uint32_t>(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
}

}  // namespace crab::fuzz
