// SPDX-License-Identifier: GPL-2.0-only
// Neighbour Discovery of the DPDK LB (ndp.hpp). Every read is checked
// against the frame's length and the IPv6 payload length first.
#include "ndp.hpp"

#include <algorithm>
#include <cstring>

namespace crab::lb_dpdk {

namespace {

constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint8_t kNhIcmp6 = 58;
constexpr uint8_t kNs = 135;
constexpr uint8_t kNa = 136;
constexpr uint8_t kOptSlla = 1;
constexpr uint8_t kOptTlla = 2;
constexpr uint8_t kNaRouter = 0x80, kNaSolicited = 0x40, kNaOverride = 0x20;

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void wr16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

inline bool multicast(const Addr& a) { return (a.w[0] >> 24) == 0xff; }

// The ICMPv6 checksum (RFC 4443 2.3) of @n bytes at @icmp between @src and @dst.
uint16_t icmp6_csum(const uint8_t* ip, const uint8_t* icmp, uint32_t n)
{
    uint32_t acc = crab_csum_bytes(0, ip + 8, 32);  // source, destination
    acc = crab_csum_add32(acc, n);
    acc = crab_csum_add16(acc, kNhIcmp6);
    acc = crab_csum_bytes(acc, icmp, n);
    return crab_csum_finish(acc);
}

// ICMPv6 header + NS/NA fixed part + an 8-byte link-layer address option.
void put_ll_opt(uint8_t* o, uint8_t type, const Mac& mac)
{
    o[0] = type;
    o[1] = 1;  // 8 bytes
    std::memcpy(o + 2, mac.data(), 6);
}

void put_ip6(uint8_t* ip, const Addr& src, const Addr& dst, uint16_t plen)
{
    std::memset(ip, 0, 40);
    ip[0] = 0x60;
    wr16(ip + 4, plen);
    ip[6] = kNhIcmp6;
    ip[7] = 255;  // RFC 4861: every ND message has hop limit 255
    src.put6(ip + 8);
    dst.put6(ip + 24);
}

Mac multicast_mac(const Addr& a)
{
    return {0x33, 0x33, static_cast<uint8_t>(a.w[3] >> 24), static_cast<uint8_t>(a.w[3] >> 16),
            static_cast<uint8_t>(a.w[3] >> 8), static_cast<uint8_t>(a.w[3])};
}

}  // namespace

Addr link_local(const Mac& m)
{
    Addr a;
    a.v6 = true;
    a.w[0] = 0xfe800000u;
    a.w[2] = static_cast<uint32_t>((m[0] ^ 0x02) << 24 | m[1] << 16 | m[2] << 8 | 0xff);
    a.w[3] = static_cast<uint32_t>(0xfeu << 24 | m[3] << 16 | m[4] << 8 | m[5]);
    return a;
}

Addr solicited_node(const Addr& t)
{
    Addr a;
    a.v6 = true;
    a.w[0] = 0xff020000u;
    a.w[2] = 1;
    a.w[3] = 0xff000000u | (t.w[3] & 0x00ffffffu);
    return a;
}

uint32_t ndp_solicit(const Mac& mac, const Addr& src, const Addr& target, uint8_t* buf)
{
    const Addr dst = solicited_node(target);
    const Mac dmac = multicast_mac(dst);
    std::memcpy(buf, dmac.data(), 6);
    std::memcpy(buf + 6, mac.data(), 6);
    wr16(buf + 12, kEthIpv6);
    uint8_t* ip = buf + 14;
    put_ip6(ip, src, dst, 32);
    uint8_t* ic = ip + 40;
    std::memset(ic, 0, 32);
    ic[0] = kNs;
    target.put6(ic + 8);
    put_ll_opt(ic + 24, kOptSlla, mac);
    wr16(ic + 2, icmp6_csum(ip, ic, 32));
    return kNdpFrameLen;
}

NdpResult ndp_input(const NdpSelf& me, const Table& t, NeighTable& nt, uint64_t now, uint8_t* d, uint32_t& len,
                    uint32_t cap)
{
    if (len < 14 + 40 + 8 || rd16(d + 12) != kEthIpv6)
        return NdpResult::NotNdp;
    uint8_t* ip = d + 14;
    uint8_t* ic = ip + 40;
    if ((ip[0] >> 4) != 6 || ip[6] != kNhIcmp6 || (ic[0] != kNs && ic[0] != kNa))
        return NdpResult::NotNdp;
    // RFC 4861 7.1.1 / 7.1.2.
    const uint32_t n = rd16(ip + 4);  // the ICMPv6 message
    if (14 + 40 + n > len || n < 24 || ip[7] != 255 || ic[1] != 0 || icmp6_csum(ip, ic, n) != 0)
        return NdpResult::Invalid;
    const Addr src = Addr::from6(ip + 8), dst = Addr::from6(ip + 24), target = Addr::from6(ic + 8);
    if (multicast(target))
        return NdpResult::Invalid;
    const uint8_t* ll = nullptr;  // the link-layer address option of the message's kind
    for (uint32_t o = 24; o < n;) {
        if (o + 2 > n || ic[o + 1] == 0 || o + ic[o + 1] * 8u > n)
            return NdpResult::Invalid;
        if (ic[o] == (ic[0] == kNs ? kOptSlla : kOptTlla) && ic[o + 1] == 1 && !ll)
            ll = ic + o + 2;
        o += ic[o + 1] * 8u;
    }
    const bool to_me = std::memcmp(d, me.mac.data(), 6) == 0 &&
                       std::find(me.addrs.begin(), me.addrs.end(), dst) != me.addrs.end();

    if (ic[0] == kNa) {
        const uint8_t flags = ic[4];
        if (multicast(dst) && (flags & kNaSolicited))
            return NdpResult::Invalid;
        const bool next_hop = nt.state(target) != NeighTable::State::None;
        if (!to_me || !(flags & kNaSolicited) || !ll)
            return next_hop ? NdpResult::Unsolicited : NdpResult::Ignored;
        Mac mac;
        std::memcpy(mac.data(), ll, 6);
        switch (nt.learn(target, mac, now)) {
        case NeighTable::Learn::Learned:
        case NeighTable::Learn::Changed:
            return NdpResult::Learned;
        case NeighTable::Learn::Refreshed:
            return NdpResult::Refreshed;
        case NeighTable::Learn::Unsolicited:
            break;
        }
        return NdpResult::Unsolicited;
    }

    // A solicitation: from an unspecified source (duplicate address
    // detection) only to a solicited-node address and without a source
    // link-layer address.
    const bool dad = src.is_zero();
    if (dad && (dst != solicited_node(target) || ll))
        return NdpResult::Invalid;
    if (multicast(src))
        return NdpResult::Invalid;
    const bool mine = std::find(me.addrs.begin(), me.addrs.end(), target) != me.addrs.end() || t.is_vip(target);
    // Asked at its solicited-node address, or at the address itself
    // (unicast reachability probes).
    if (!mine || (dst != solicited_node(target) && dst != target) || cap < kNdpFrameLen)
        return NdpResult::Ignored;

    // The advertisement, in place (RFC 4861 7.2.4): to the solicitation's
    // source, solicited; to all nodes, unsolicited, when it came from the
    // unspecified address.
    Mac dmac;
    std::memcpy(dmac.data(), d + 6, 6);
    Addr ndst = src;
    uint8_t flags = kNaOverride | kNaSolicited;
    if (dad) {
        ndst = Addr::from6(std::array<uint8_t, 16>{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}.data());
        dmac = multicast_mac(ndst);
        flags = kNaOverride;
    }
    std::memcpy(d, dmac.data(), 6);
    std::memcpy(d + 6, me.mac.data(), 6);
    put_ip6(ip, target, ndst, 32);
    std::memset(ic, 0, 32);
    ic[0] = kNa;
    ic[4] = flags & ~kNaRouter;
    target.put6(ic + 8);
    put_ll_opt(ic + 24, kOptTlla, me.mac);
    wr16(ic + 2, icmp6_csum(ip, ic, 32));
    len = kNdpFrameLen;
    return NdpResult::Reply;
}

}  // namespace crab::lb_dpdk
