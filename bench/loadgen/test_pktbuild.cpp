// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of crab-syngen's packet building (pktbuild.hpp): the bytes a
// SYN carries, both checksums (against values computed independently, and
// by the receiver's rule: the sum over header and checksum folds to zero),
// the redirect option as the shared walk (include/crab/crab_opt.h) finds
// it, and the flags of a connection train.
#include "pktbuild.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace crab::bench;

namespace {

TcpPacketSpec syn_spec()
{
	TcpPacketSpec s;
	s.saddr = 0xC6120002; // 198.18.0.2
	s.daddr = 0xC6126401; // 198.18.100.1
	s.sport = 40000;
	s.dport = 8080;
	s.seq = 0x01020304;
	s.flags = kTcpSyn;
	s.tos = 0x20;
	s.ip_id = 7;
	s.mss = true;
	s.crab_opt = true;
	return s;
}

// The receiver's check: the one's-complement sum including the checksum is 0xffff.
bool tcp_csum_ok(const uint8_t *pkt, size_t len)
{
	uint8_t ph[12] = {};
	std::memcpy(ph, pkt + 12, 8);
	ph[9] = IPPROTO_TCP;
	put16(ph + 10, static_cast<uint16_t>(len - 20));
	return csum_fold(csum_add(csum_add(0, ph, 12), pkt + 20, len - 20)) == 0;
}

} // namespace

TEST(PktBuild, SynBytesAndChecksumsMatchAnIndependentComputation)
{
	uint8_t buf[256];
	TcpPacketSpec s = syn_spec();
	size_t len = build_tcp(buf, s);
	ASSERT_EQ(len, 20u + 32u);
	EXPECT_EQ(len, tcp_packet_len(s));
	EXPECT_EQ(buf[0], 0x45);
	EXPECT_EQ(buf[1], 0x20);
	EXPECT_EQ(get16(buf + 2), len);
	EXPECT_EQ(buf[9], IPPROTO_TCP);
	// Computed with a separate implementation (Python, RFC 1071) of the same packet.
	EXPECT_EQ(get16(buf + 10), 0x4a75);
	EXPECT_EQ(get16(buf + 20 + 16), 0x7813);
	EXPECT_EQ(csum_fold(csum_add(0, buf, 20)), 0);
	EXPECT_TRUE(tcp_csum_ok(buf, len));
	EXPECT_EQ(buf[20 + 12] >> 4, 8); // data offset: 32 bytes
	EXPECT_EQ(buf[20 + 13], kTcpSyn);
	// MSS 1460, then NOP NOP 42 6 <VIP>
	const uint8_t want[] = {2, 4, 0x05, 0xb4, 1, 1, 42, 6, 198, 18, 100, 1};
	EXPECT_EQ(0, std::memcmp(buf + 40, want, sizeof(want)));
}

TEST(PktBuild, TheSharedWalkFindsTheOptionWithTheVip)
{
	uint8_t buf[256];
	TcpPacketSpec s = syn_spec();
	build_tcp(buf, s);
	crab_opt_cfg cfg = CRAB_OPT_CFG_DEFAULT;
	crab_opt_res res{};
	EXPECT_EQ(crab_opt_find(buf + 40, 12, &cfg, &res), CRAB_OPT_FOUND);
	EXPECT_EQ(res.addr, s.daddr);

	// RFC 6994 form, and no option at all.
	s.opt_cfg.kind = CRAB_OPT_KIND_EXP;
	build_tcp(buf, s);
	EXPECT_EQ(buf[44], CRAB_OPT_KIND_EXP);
	EXPECT_EQ(buf[45], TCPOLEN_CRAB_EXP);
	EXPECT_EQ(get16(buf + 46), CRAB_OPT_EXID_DEFAULT);
	cfg.kind = CRAB_OPT_KIND_EXP;
	EXPECT_EQ(crab_opt_find(buf + 40, 12, &cfg, &res), CRAB_OPT_FOUND);
	EXPECT_TRUE(tcp_csum_ok(buf, tcp_packet_len(s)));
	s.crab_opt = false;
	size_t len = build_tcp(buf, s);
	EXPECT_EQ(len, 44u);
	EXPECT_EQ(crab_opt_find(buf + 40, 4, &cfg, &res), CRAB_OPT_NONE);
	EXPECT_TRUE(tcp_csum_ok(buf, len));
}

TEST(PktBuild, ChecksumsHoldForOddPayloadsAndChangeWithTheBytes)
{
	uint8_t a[2048], b[2048];
	TcpPacketSpec s = syn_spec();
	s.flags = kTcpPsh | kTcpAck;
	s.mss = s.crab_opt = false;
	for (uint16_t n : {0, 1, 63, 64, 1399}) {
		s.payload = n;
		size_t len = build_tcp(a, s);
		ASSERT_EQ(len, 40u + n);
		EXPECT_TRUE(tcp_csum_ok(a, len)) << n;
		EXPECT_EQ(csum_fold(csum_add(0, a, 20)), 0) << n;
	}
	s.payload = 64;
	size_t len = build_tcp(a, s);
	s.sport++;
	build_tcp(b, s);
	EXPECT_NE(get16(a + 36), get16(b + 36));
	a[20] ^= 1; // a corrupted port must fail the receiver's check
	EXPECT_FALSE(tcp_csum_ok(a, len));
}

TEST(PktBuild, TrainFlagsOpenCarryAndClose)
{
	// k = 8: SYN ACK DATA ACK DATA ACK DATA FIN ACK
	std::vector<uint8_t> f;
	for (unsigned i = 0; i <= 8; i++)
		f.push_back(train_step(i, 8, 64).flags);
	const std::vector<uint8_t> want = {kTcpSyn, kTcpAck, kTcpPsh | kTcpAck, kTcpAck, kTcpPsh | kTcpAck,
					   kTcpAck, kTcpPsh | kTcpAck, kTcpFin | kTcpAck, kTcpAck};
	EXPECT_EQ(f, want);
	EXPECT_EQ(train_step(2, 8, 64).payload, 64);
	EXPECT_EQ(train_step(3, 8, 64).payload, 0);
	EXPECT_EQ(train_step(1, 1, 64).flags, kTcpAck);
	EXPECT_EQ(train_step(2, 2, 64).flags, kTcpFin | kTcpAck);
}
