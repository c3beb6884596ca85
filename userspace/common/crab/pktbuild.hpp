// SPDX-License-Identifier: GPL-2.0-only
// Raw IPv4/TCP packets built by hand, the one copy for every tool that
// sends its own packets: crab-syngen (bench/loadgen, a fast fixed-layout
// SYN builder) and crab-nettest (selftests/tools/nettest, any layout: TCP
// options as given, IP options, a bogus data offset, wrong checksums,
// fragments). Header-only, so the unit tests (userspace/common/
// test_pktbuild.cpp, selftests/tools/nettest/test_nettest.cpp) check exactly
// what the tools send. The redirect option comes from include/crab/crab_opt.h,
// the checksum arithmetic from include/crab/crab_csum.h.
#pragma once

extern "C" {
#include <crab/crab_csum.h>
#include <crab/crab_opt.h>
}

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <netinet/in.h>

namespace crab::pkt {

constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10,
		  kTcpUrg = 0x20, kTcpEce = 0x40, kTcpCwr = 0x80;

// One's-complement sum of @len bytes (network order words) added to @sum.
inline uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	return crab_csum_bytes(sum, p, static_cast<uint32_t>(len));
}

// The checksum field's value for the sum @sum (folded, complemented).
inline uint16_t csum_fold(uint32_t sum)
{
	return crab_csum_finish(sum);
}

inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = static_cast<uint8_t>(v >> 8);
	p[1] = static_cast<uint8_t>(v);
}

inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, static_cast<uint16_t>(v >> 16));
	put16(p + 2, static_cast<uint16_t>(v));
}

inline uint16_t get16(const uint8_t *p)
{
	return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

inline uint32_t get32(const uint8_t *p)
{
	return static_cast<uint32_t>(get16(p)) << 16 | get16(p + 2);
}

// The TCP checksum over the pseudo-header of @saddr/@daddr (host order)
// and the @len bytes of segment at @seg (its checksum field included as
// it is: 0 when computing, the sent value when verifying).
inline uint16_t tcp_csum(uint32_t saddr, uint32_t daddr, const uint8_t *seg, size_t len)
{
	return csum_fold(csum_add(crab_csum_pseudo4(saddr, daddr, IPPROTO_TCP, static_cast<uint16_t>(len)), seg, len));
}

// ---- the fixed layout of crab-syngen ----------------------------------------

struct TcpPacketSpec {
	uint32_t saddr = 0, daddr = 0; // host order
	uint16_t sport = 0, dport = 0; // host order
	uint32_t seq = 0, ack = 0;
	uint8_t flags = kTcpSyn;
	uint8_t tos = 0;
	uint8_t ttl = 64;
	uint16_t ip_id = 0;
	uint16_t window = 64240;
	bool mss = false;	 // MSS option (SYNs)
	bool crab_opt = false;	 // the Connection Redirect option, address = daddr
	crab_opt_cfg opt_cfg = CRAB_OPT_CFG_DEFAULT;
	uint16_t payload = 0;	 // bytes of payload (filled with 'x')
};

// Bytes build_tcp() writes for @s.
inline size_t tcp_packet_len(const TcpPacketSpec &s)
{
	return 20 + 20 + (s.mss ? 4 : 0) + (s.crab_opt ? TCPOLEN_CRAB_ALIGNED : 0) + s.payload;
}

// Write the IPv4 header (no options, DF), the TCP header with its options
// (MSS, then the 8-byte aligned redirect option, as the client endpoint
// emits it: crab_opt_write) and the payload into @buf (>= tcp_packet_len),
// both checksums computed. Returns the length.
inline size_t build_tcp(uint8_t *buf, const TcpPacketSpec &s)
{
	const size_t optlen = (s.mss ? 4 : 0) + (s.crab_opt ? TCPOLEN_CRAB_ALIGNED : 0);
	const size_t thl = 20 + optlen, len = 20 + thl + s.payload;
	uint8_t *ip = buf, *th = buf + 20, *o = th + 20;

	std::memset(buf, 0, 20 + thl);
	ip[0] = 0x45;
	ip[1] = s.tos;
	put16(ip + 2, static_cast<uint16_t>(len));
	put16(ip + 4, s.ip_id);
	put16(ip + 6, 0x4000); // DF
	ip[8] = s.ttl;
	ip[9] = IPPROTO_TCP;
	put32(ip + 12, s.saddr);
	put32(ip + 16, s.daddr);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	put16(th, s.sport);
	put16(th + 2, s.dport);
	put32(th + 4, s.seq);
	put32(th + 8, s.ack);
	th[12] = static_cast<uint8_t>((thl / 4) << 4);
	th[13] = s.flags;
	put16(th + 14, s.window);
	if (s.mss) {
		o[0] = 2; // MSS
		o[1] = 4;
		put16(o + 2, 1460);
		o += 4;
	}
	if (s.crab_opt) {
		crab_opt_write(o, &s.opt_cfg, s.daddr);
		o += TCPOLEN_CRAB_ALIGNED;
	}
	std::memset(th + thl, 'x', s.payload);
	put16(th + 16, tcp_csum(s.saddr, s.daddr, th, thl + s.payload));
	return len;
}

// ---- any layout (the test tool) ---------------------------------------------

// An IPv4/TCP packet described field by field. Option bytes are taken as
// given and padded to a multiple of 4 with EOL; @doff, when >= 0, replaces
// the data offset the header length implies (a bogus value on purpose).
struct Segment {
	uint32_t saddr = 0, daddr = 0; // host order
	uint16_t sport = 0, dport = 0;
	uint32_t seq = 0, ack = 0;
	uint8_t flags = kTcpSyn;
	uint16_t window = 64240;
	uint16_t urg = 0;
	uint8_t tos = 0, ttl = 64;
	uint16_t ip_id = 0;
	bool df = true;
	std::vector<uint8_t> tcp_opts;
	std::vector<uint8_t> ip_opts;
	std::vector<uint8_t> payload;
	int doff = -1;		  // words; -1: from the header length
	bool bad_tcp_csum = false; // the correct checksum plus one
	bool bad_ip_csum = false;
	size_t trunc = 0;	  // > 0: keep only this many bytes of the TCP segment
};

// The whole IPv4 packet of @s (the TCP checksum covers the full segment,
// before any truncation, as a sender that got it right would have sent).
inline std::vector<uint8_t> build_segment(const Segment &s)
{
	std::vector<uint8_t> ipo = s.ip_opts, to = s.tcp_opts;
	while (ipo.size() % 4)
		ipo.push_back(CRAB_TCPOPT_EOL); // IPOPT_END is 0 too
	while (to.size() % 4)
		to.push_back(CRAB_TCPOPT_EOL);
	const size_t ihl = 20 + ipo.size(), thl = 20 + to.size();
	std::vector<uint8_t> seg(thl + s.payload.size(), 0);
	uint8_t *th = seg.data();
	put16(th, s.sport);
	put16(th + 2, s.dport);
	put32(th + 4, s.seq);
	put32(th + 8, s.ack);
	const size_t doff = s.doff >= 0 ? static_cast<size_t>(s.doff) : thl / 4;
	th[12] = static_cast<uint8_t>((doff & 15) << 4);
	th[13] = s.flags;
	put16(th + 14, s.window);
	put16(th + 18, s.urg);
	if (!to.empty())
		std::memcpy(th + 20, to.data(), to.size());
	if (!s.payload.empty())
		std::memcpy(th + thl, s.payload.data(), s.payload.size());
	put16(th + 16, static_cast<uint16_t>(tcp_csum(s.saddr, s.daddr, th, seg.size()) + (s.bad_tcp_csum ? 1 : 0)));
	if (s.trunc && s.trunc < seg.size())
		seg.resize(s.trunc);

	std::vector<uint8_t> p(ihl + seg.size(), 0);
	uint8_t *ip = p.data();
	ip[0] = static_cast<uint8_t>(0x40 | ihl / 4);
	ip[1] = s.tos;
	put16(ip + 2, static_cast<uint16_t>(p.size()));
	put16(ip + 4, s.ip_id);
	put16(ip + 6, s.df ? 0x4000 : 0);
	ip[8] = s.ttl;
	ip[9] = IPPROTO_TCP;
	put32(ip + 12, s.saddr);
	put32(ip + 16, s.daddr);
	if (!ipo.empty())
		std::memcpy(ip + 20, ipo.data(), ipo.size());
	put16(ip + 10, static_cast<uint16_t>(csum_fold(csum_add(0, ip, ihl)) + (s.bad_ip_csum ? 1 : 0)));
	std::memcpy(ip + ihl, seg.data(), seg.size());
	return p;
}

// Split the IPv4 packet @p into two fragments, the first carrying @at bytes
// of its payload (a multiple of 8, less than the payload). Each fragment
// gets its own header (the original's, options included, DF cleared) and
// checksum. Returns {} when @at cannot split @p.
inline std::vector<std::vector<uint8_t>> fragment(const std::vector<uint8_t> &p, size_t at)
{
	if (p.size() < 20)
		return {};
	const size_t ihl = (p[0] & 15) * 4u;
	if (ihl < 20 || ihl > p.size() || at == 0 || at % 8 || at >= p.size() - ihl)
		return {};
	std::vector<std::vector<uint8_t>> out;
	for (int k = 0; k < 2; k++) {
		const size_t off = k ? at : 0, n = k ? p.size() - ihl - at : at;
		std::vector<uint8_t> f(p.begin(), p.begin() + static_cast<long>(ihl));
		f.insert(f.end(), p.begin() + static_cast<long>(ihl + off),
			 p.begin() + static_cast<long>(ihl + off + n));
		put16(f.data() + 2, static_cast<uint16_t>(f.size()));
		put16(f.data() + 6, static_cast<uint16_t>((off / 8) | (k ? 0 : 0x2000))); // MF on the first
		put16(f.data() + 10, 0);
		put16(f.data() + 10, csum_fold(csum_add(0, f.data(), ihl)));
		out.push_back(std::move(f));
	}
	return out;
}

} // namespace crab::pkt
