// SPDX-License-Identifier: GPL-2.0-only
// Raw IPv4/TCP packets for crab-syngen (bench/loadgen/README.md): what a
// client's stack would send to VIP:port, built by hand so a packet-train
// generator can offer an LB more packets per second than closed-loop
// connections can. Header-only so the unit test (test_pktbuild.cpp) checks
// exactly what the tool sends.
#pragma once

#include <crab/crab_opt.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <netinet/in.h>

namespace crab::bench {

constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10;

// One's-complement sum of @len bytes (network order words), not folded.
inline uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += static_cast<uint32_t>(p[len - 1] << 8);
	return sum;
}

inline uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return static_cast<uint16_t>(~sum & 0xffff);
}

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

	// Pseudo-header: saddr, daddr, zero, protocol, TCP length.
	uint8_t ph[12];
	put32(ph, s.saddr);
	put32(ph + 4, s.daddr);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP;
	put16(ph + 10, static_cast<uint16_t>(thl + s.payload));
	put16(th + 16, csum_fold(csum_add(csum_add(0, ph, sizeof(ph)), th, thl + s.payload)));
	return len;
}

// The client->server packets of one connection, as a train of 1 + k
// packets on one 4-tuple: SYN (MSS, with the redirect option when
// @crab_opt), ACK, then alternately a data segment (PSH|ACK, @payload
// bytes) and a pure ACK, and FIN|ACK, ACK to close (k >= 3: ..., FIN, ACK;
// k == 2: ACK, FIN; k == 1: ACK). Sequence numbers follow the client's
// side; the acknowledgement numbers assume the server's ISN is 0 (the
// generator never sees the server's answer).
struct TrainStep {
	uint8_t flags;
	uint16_t payload;
};

inline TrainStep train_step(unsigned i, unsigned k, uint16_t payload)
{
	if (i == 0)
		return {kTcpSyn, 0};
	if (i == 1)
		return {kTcpAck, 0};
	if (k >= 3 && i == k)
		return {kTcpAck, 0};
	if (i == (k >= 3 ? k - 1 : k))
		return {static_cast<uint8_t>(kTcpFin | kTcpAck), 0};
	return (i % 2 == 0) ? TrainStep{static_cast<uint8_t>(kTcpPsh | kTcpAck), payload} : TrainStep{kTcpAck, 0};
}

} // namespace crab::bench
