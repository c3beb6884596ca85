// SPDX-License-Identifier: GPL-2.0-only
// Neighbour Discovery (RFC 4861) of the DPDK LB, free of DPDK: what ARP
// does for IPv4 (app/worker.cpp), for IPv6 next hops and addresses.
//  - A Neighbour Solicitation for one of the LB's own IPv6 addresses or an
//    IPv6 VIP is answered with an advertisement (turned around in place).
//  - ndp_solicit() builds the solicitation for an unresolved next hop, to
//    its solicited-node multicast address.
//  - A next hop's MAC is learned only from a solicited advertisement
//    addressed to the LB (its MAC and one of its addresses) that answers a
//    solicitation it sent (NeighTable::learn()); unsolicited or multicast
//    advertisements naming a next hop are counted, never learned from, and
//    solicitations are never learned from.
// Messages are validated as RFC 4861 7.1.1 (solicitations) and 7.1.2
// (advertisements) say: hop limit 255, ICMPv6 checksum, code 0, length,
// target not multicast, no option of length 0, and the rules for an
// unspecified source / a multicast destination. Only untagged frames whose
// IPv6 header is followed directly by ICMPv6 are looked at.
#pragma once

#include <vector>

#include "lb_core.hpp"

namespace crab::lb_dpdk {

enum class NdpResult : uint8_t {
    NotNdp,       // not a solicitation or advertisement: the caller goes on
    Reply,        // a solicitation for us: the frame is now the advertisement to send
    Learned,      // a solicited advertisement: the next hop's MAC (first, or changed)
    Refreshed,    // the same MAC again: its lifetime re-armed
    Unsolicited,  // an advertisement naming a next hop that answers no solicitation of ours
    Invalid,      // fails the RFC 4861 7.1 checks
    Ignored,      // valid, not about us
};

// What ndp_input() needs of the LB.
struct NdpSelf {
    Mac mac{};
    std::vector<Addr> addrs;  // own IPv6 addresses (answered; advertisements to them are for us)
};

// Ethernet + IPv6 + NS/NA with one link-layer address option.
constexpr uint32_t kNdpFrameLen = 14 + 40 + 24 + 8;

// The data path's cheap test before ndp_input(): false exactly when
// ndp_input() would answer NotNdp (no untagged IPv6 frame carrying an
// ICMPv6 Neighbour Solicitation or Advertisement), without reading the
// clock ndp_input() needs. The same conditions as ndp_input()'s first
// checks, kept equal by test_lb_ndp (NdpMaybe).
inline bool ndp_maybe(const uint8_t* d, uint32_t len)
{
    return len >= 14 + 40 + 8 && d[12] == 0x86 && d[13] == 0xdd && (d[14] >> 4) == 6 && d[14 + 6] == 58 &&
           (d[14 + 40] == 135 || d[14 + 40] == 136);
}

// @frame: @len bytes in a buffer of @cap (>= len) bytes. On Reply the
// frame holds the advertisement, @len its length (kNdpFrameLen; a @cap
// below that makes a solicitation for us Ignored).
NdpResult ndp_input(const NdpSelf& me, const Table& t, NeighTable& nt, uint64_t now, uint8_t* frame, uint32_t& len,
                    uint32_t cap);

// The solicitation for @target from @src into @buf (kNdpFrameLen bytes);
// returns kNdpFrameLen.
uint32_t ndp_solicit(const Mac& mac, const Addr& src, const Addr& target, uint8_t* buf);

// fe80::/64 with the modified EUI-64 of @mac (RFC 4291 2.5.1).
Addr link_local(const Mac& mac);
// ff02::1:ffXX:XXXX of @a (RFC 4291 2.7.1).
Addr solicited_node(const Addr& a);

}  // namespace crab::lb_dpdk
