// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of crab-nettest's packet specs, decoding, filters, pcap reading
// and JSON paths. Expected bytes and checksums are written out here or
// computed by a separate reference sum, not by the code under test.
#include "nettest.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <unistd.h>

using namespace crab::nettest;
using crab::pkt::get16;

namespace {

// RFC 1071 over @n bytes, written independently of pktbuild.hpp.
uint16_t ref_sum(const std::vector<uint8_t> &b)
{
	uint64_t s = 0;
	for (size_t i = 0; i < b.size(); i += 2)
		s += static_cast<uint64_t>(b[i] << 8 | (i + 1 < b.size() ? b[i + 1] : 0));
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return static_cast<uint16_t>(~s & 0xffff);
}

bool ip_ok(const Bytes &p)
{
	size_t ihl = (p[0] & 15) * 4u;
	return ref_sum(Bytes(p.begin(), p.begin() + static_cast<long>(ihl))) == 0;
}

bool tcp_ok(const Bytes &p)
{
	size_t ihl = (p[0] & 15) * 4u;
	Bytes ph(p.begin() + 12, p.begin() + 20);
	size_t tl = p.size() - ihl;
	ph.push_back(0);
	ph.push_back(6);
	ph.push_back(static_cast<uint8_t>(tl >> 8));
	ph.push_back(static_cast<uint8_t>(tl));
	ph.insert(ph.end(), p.begin() + static_cast<long>(ihl), p.end());
	return ref_sum(ph) == 0;
}

std::vector<std::string> W(const std::string &s)
{
	std::istringstream is(s);
	std::vector<std::string> w;
	std::string x;
	while (is >> x)
		w.push_back(x);
	return w;
}

Bytes one(const std::string &words)
{
	PacketSpec s;
	auto err = parse_spec(W(words), s);
	EXPECT_FALSE(err) << *err;
	auto p = build_packets(s);
	EXPECT_EQ(p.size(), 1u);
	return p.empty() ? Bytes{} : p[0];
}

const crab_opt_cfg kCfg = CRAB_OPT_CFG_DEFAULT;

} // namespace

TEST(Spec, SynWithMssAndTheAlignedOption)
{
	Bytes p = one("src=198.18.0.2 dst=198.18.100.1 sport=20000 dport=80 seq=1000 flags=S opt=mss:1460,crab");
	ASSERT_EQ(p.size(), 20u + 32u);
	EXPECT_EQ(p[0], 0x45);
	EXPECT_EQ(get16(p.data() + 2), 52);
	EXPECT_EQ(get16(p.data() + 6), 0x4000); // DF
	EXPECT_EQ(p[8], 64);
	EXPECT_EQ(p[9], 6);
	EXPECT_EQ(get16(p.data() + 20), 20000);
	EXPECT_EQ(get16(p.data() + 22), 80);
	EXPECT_EQ(p[20 + 12] >> 4, 8);
	EXPECT_EQ(p[20 + 13], 0x02);
	const Bytes opts = {2, 4, 0x05, 0xb4, 1, 1, 42, 6, 198, 18, 100, 1};
	EXPECT_EQ(Bytes(p.begin() + 40, p.end()), opts);
	EXPECT_TRUE(ip_ok(p));
	EXPECT_TRUE(tcp_ok(p));
}

TEST(Spec, OptionWordsInOrderPaddedWithEol)
{
	Bytes p = one("src=10.0.0.1 dst=10.0.0.2 opt=nop,crab6:203.0.113.9,eol");
	// NOP, 42 6 addr at offset 1 (address at the odd offset 3), EOL, pad.
	const Bytes opts = {1, 42, 6, 203, 0, 113, 9, 0};
	EXPECT_EQ(Bytes(p.begin() + 40, p.end()), opts);
	EXPECT_TRUE(tcp_ok(p));

	p = one("dst=10.0.0.2 opt=exp:192.0.2.1:0x1234,ws:7,sackok,ts:1:2,kind:30:0102,raw:0101");
	const Bytes want = {254, 8, 0x12, 0x34, 192, 0, 2, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1,
			    0,	 0, 0,	  2,    30,  4, 1, 2, 1, 1, 0, 0, 0};
	EXPECT_EQ(Bytes(p.begin() + 40, p.end()), want);
	EXPECT_EQ(p[32] >> 4, 13);

	// exp with the default ExID, address defaulting to dst (given after opt=)
	p = one("opt=exp dst=198.18.100.1");
	const Bytes e = {254, 8, 0xc4, 0xab, 198, 18, 100, 1};
	EXPECT_EQ(Bytes(p.begin() + 40, p.end()), e);
}

TEST(Spec, BadWordsAreNamed)
{
	PacketSpec s;
	auto err = parse_spec(W("dst=1.2.3.4 flags=SX"), s);
	ASSERT_TRUE(err);
	EXPECT_NE(err->find("flags=SX"), std::string::npos);
	err = parse_spec(W("dst=1.2.3.256"), s);
	ASSERT_TRUE(err);
	EXPECT_NE(err->find("1.2.3.256"), std::string::npos);
	err = parse_spec(W("dst=1.2.3.4 sport=70000"), s);
	ASSERT_TRUE(err);
	EXPECT_NE(err->find("sport=70000"), std::string::npos);
	err = parse_spec(W("dst=1.2.3.4 opt=mss:1460,bogus"), s);
	ASSERT_TRUE(err);
	EXPECT_NE(err->find("bogus"), std::string::npos);
	err = parse_spec(W("dst=1.2.3.4 opt=raw:" + std::string(82, '1')), s);
	ASSERT_TRUE(err);
	EXPECT_NE(err->find("40 bytes"), std::string::npos);
	err = parse_spec(W("dst=1.2.3.4 frag=12"), s);
	EXPECT_TRUE(err);
	err = parse_spec(W("nonsense"), s);
	EXPECT_TRUE(err);
}

TEST(Spec, CountAdvancesPortSequenceAndId)
{
	PacketSpec s;
	ASSERT_FALSE(parse_spec(W("src=1.1.1.1 dst=2.2.2.2 sport=65534 seq=4294967295 id=7 count=3"), s));
	auto p = build_packets(s);
	ASSERT_EQ(p.size(), 3u);
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(get16(p[i].data() + 20), static_cast<uint16_t>(65534 + i));
		EXPECT_EQ(crab::pkt::get32(p[i].data() + 24), static_cast<uint32_t>(4294967295u + i));
		EXPECT_EQ(get16(p[i].data() + 4), 7 + i);
		EXPECT_TRUE(tcp_ok(p[i]));
	}
}

TEST(Spec, IpOptionsPayloadBogusDoffTruncationAndBadChecksums)
{
	Bytes p = one("dst=10.0.0.2 ipopt=010101 payload=33 opt=crab");
	EXPECT_EQ(p[0], 0x46);
	EXPECT_EQ(Bytes(p.begin() + 20, p.begin() + 24), (Bytes{1, 1, 1, 0}));
	EXPECT_EQ(p.size(), 24u + 28u + 33u);
	EXPECT_EQ(p.back(), 'x');
	EXPECT_TRUE(ip_ok(p));
	EXPECT_TRUE(tcp_ok(p));

	p = one("dst=10.0.0.2 doff=15");
	EXPECT_EQ(p.size(), 40u);
	EXPECT_EQ(p[32] >> 4, 15);
	EXPECT_TRUE(tcp_ok(p));

	p = one("dst=10.0.0.2 opt=crab trunc=10");
	EXPECT_EQ(p.size(), 30u);
	EXPECT_EQ(get16(p.data() + 2), 30);

	Bytes good = one("src=10.0.0.1 dst=10.0.0.2 opt=crab");
	p = one("src=10.0.0.1 dst=10.0.0.2 opt=crab csum=bad ipcsum=bad");
	EXPECT_FALSE(tcp_ok(p));
	EXPECT_FALSE(ip_ok(p));
	EXPECT_EQ(get16(p.data() + 36), static_cast<uint16_t>(get16(good.data() + 36) + 1));
	Decoded d = decode_ipv4(p.data(), p.size(), kCfg);
	EXPECT_EQ(d.csum, 0);
	EXPECT_FALSE(d.ipcsum_ok);
}

TEST(Spec, FragmentsSplitThePayloadWithTheirOwnHeaders)
{
	PacketSpec s;
	ASSERT_FALSE(parse_spec(W("src=10.0.0.1 dst=10.0.0.2 id=99 opt=crab payload=32 frag=32"), s));
	Bytes whole = crab::pkt::build_segment(s.seg);
	auto f = build_packets(s);
	ASSERT_EQ(f.size(), 2u);
	EXPECT_EQ(get16(f[0].data() + 6), 0x2000); // MF, offset 0
	EXPECT_EQ(get16(f[1].data() + 6), 32 / 8); // offset 4 units, no MF
	EXPECT_EQ(get16(f[0].data() + 4), 99);
	EXPECT_EQ(get16(f[1].data() + 4), 99);
	EXPECT_EQ(f[0].size(), 20u + 32u);
	EXPECT_EQ(f[1].size(), whole.size() - 32u);
	EXPECT_TRUE(ip_ok(f[0]));
	EXPECT_TRUE(ip_ok(f[1]));
	Bytes re(whole.begin(), whole.begin() + 20);
	re.insert(re.end(), f[0].begin() + 20, f[0].end());
	re.insert(re.end(), f[1].begin() + 20, f[1].end());
	EXPECT_EQ(Bytes(re.begin() + 20, re.end()), Bytes(whole.begin() + 20, whole.end()));
	Decoded d0 = decode_ipv4(f[0].data(), f[0].size(), kCfg), d1 = decode_ipv4(f[1].data(), f[1].size(), kCfg);
	EXPECT_TRUE(d0.tcp);
	EXPECT_EQ(d0.csum, -1); // a fragment's checksum is not checkable
	EXPECT_FALSE(d1.tcp);
	EXPECT_EQ(d1.fragoff, 32);
}

TEST(Decode, FieldsAndTheOptionWalk)
{
	Bytes p = one("src=198.18.0.2 dst=198.18.100.1 sport=1234 dport=80 seq=5 ack=6 flags=SA win=100 ttl=9 "
		      "opt=mss:1460,nop,crab6:203.0.113.9 payload=3");
	Decoded d = decode_ipv4(p.data(), p.size(), kCfg);
	ASSERT_TRUE(d.tcp);
	EXPECT_EQ(ip_str(d.saddr), "198.18.0.2");
	EXPECT_EQ(d.sport, 1234);
	EXPECT_EQ(d.flags, 0x12);
	EXPECT_EQ(d.doff, 32);
	EXPECT_EQ(d.payload, 3);
	EXPECT_EQ(d.csum, 1);
	EXPECT_EQ(d.opt_status, CRAB_OPT_FOUND);
	EXPECT_EQ(ip_str(d.opt_addr), "203.0.113.9");
	EXPECT_EQ(d.opt_off, 5);
	std::string line = fields_line(d);
	for (const char *f : {"src=198.18.0.2", "dst=198.18.100.1", "sport=1234", "flags=SA", "ttl=9", "opt=203.0.113.9",
			      "optoff=5", "csum=ok", "ipcsum=ok", "payload=3", "seq=5", "ack=6", "win=100"})
		EXPECT_NE(line.find(std::string(" ") + f), std::string::npos) << f << " in " << line;

	// After an EOL the walk sees nothing; a length of 1 is malformed.
	p = one("dst=198.18.100.1 opt=mss:1460,eol,crab");
	d = decode_ipv4(p.data(), p.size(), kCfg);
	EXPECT_EQ(d.opt_status, CRAB_OPT_NONE);
	p = one("dst=198.18.100.1 opt=raw:0801,crab");
	d = decode_ipv4(p.data(), p.size(), kCfg);
	EXPECT_EQ(d.opt_status, CRAB_OPT_MALFORMED);
	EXPECT_NE(fields_line(d).find(" opt=malformed"), std::string::npos);

	// The RFC 6994 form is found by a walk configured for it only.
	p = one("dst=198.18.100.1 opt=exp:10.1.2.3");
	EXPECT_EQ(decode_ipv4(p.data(), p.size(), kCfg).opt_status, CRAB_OPT_NONE);
	crab_opt_cfg exp = CRAB_OPT_CFG_DEFAULT;
	exp.kind = CRAB_OPT_KIND_EXP;
	d = decode_ipv4(p.data(), p.size(), exp);
	EXPECT_EQ(d.opt_status, CRAB_OPT_FOUND);
	EXPECT_EQ(ip_str(d.opt_addr), "10.1.2.3");

	// A data offset past the segment: no options read, flagged.
	p = one("dst=198.18.100.1 doff=15");
	d = decode_ipv4(p.data(), p.size(), kCfg);
	EXPECT_FALSE(d.doff_ok);
	EXPECT_NE(fields_line(d).find(" opt=-"), std::string::npos);
	// Too short for an IPv4 header, or not IPv4.
	EXPECT_FALSE(decode_ipv4(p.data(), 19, kCfg).ip);
	Bytes v6 = p;
	v6[0] = 0x65;
	EXPECT_FALSE(decode_ipv4(v6.data(), v6.size(), kCfg).ip);
}

TEST(Filter, EveryWordMustHold)
{
	Bytes p = one("src=198.18.0.2 dst=198.18.0.11 sport=40000 dport=80 flags=SA opt=crab:198.18.100.1");
	Decoded d = decode_ipv4(p.data(), p.size(), kCfg);
	auto m = [&](const std::string &w) {
		Filter f;
		auto err = parse_filter(W(w), f);
		EXPECT_FALSE(err) << *err;
		return f.match(d);
	};
	EXPECT_TRUE(m(""));
	EXPECT_TRUE(m("src=198.18.0.2 dport=80 flags=SA"));
	EXPECT_TRUE(m("host=198.18.0.11 port=40000 flags+=S flags-=R opt=198.18.100.1"));
	EXPECT_TRUE(m("opt=any dir=in frag=0 proto=tcp"));
	EXPECT_FALSE(m("flags=S"));
	EXPECT_FALSE(m("flags+=R"));
	EXPECT_FALSE(m("flags-=A"));
	EXPECT_FALSE(m("opt=none"));
	EXPECT_FALSE(m("opt=198.18.100.2"));
	EXPECT_FALSE(m("sport=80"));
	EXPECT_FALSE(m("proto=icmp"));
	EXPECT_FALSE(m("dir=out"));
	Filter f;
	EXPECT_TRUE(parse_filter(W("colour=red"), f));
	EXPECT_TRUE(parse_filter(W("flags=Q"), f));
	EXPECT_TRUE(parse_filter(W("src=1.2.3"), f));
}

namespace {

void put_le32(std::string &s, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		s += static_cast<char>(v >> (8 * i));
}

std::string pcap_file(uint32_t linktype, const std::vector<Bytes> &frames)
{
	std::string s;
	put_le32(s, 0xa1b2c3d4);
	s += std::string("\x02\x00\x04\x00", 4);
	put_le32(s, 0);
	put_le32(s, 0);
	put_le32(s, 262144);
	put_le32(s, linktype);
	for (const Bytes &f : frames) {
		put_le32(s, 1);
		put_le32(s, 2);
		put_le32(s, static_cast<uint32_t>(f.size()));
		put_le32(s, static_cast<uint32_t>(f.size()));
		s.append(f.begin(), f.end());
	}
	return s;
}

std::string write_tmp(const std::string &content)
{
	char path[] = "/tmp/nettest-test-XXXXXX";
	int fd = mkstemp(path);
	EXPECT_GE(fd, 0);
	EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
	close(fd);
	return path;
}

} // namespace

TEST(Pcap, EthernetCookedAndCutShortFiles)
{
	Bytes ip = one("src=198.18.0.2 dst=198.18.0.11 dport=80 opt=crab:198.18.100.1");
	Bytes eth(12, 0xaa);
	eth.push_back(0x08);
	eth.push_back(0x00);
	eth.insert(eth.end(), ip.begin(), ip.end());
	Bytes arp(12, 0xbb);
	arp.push_back(0x08);
	arp.push_back(0x06);
	arp.resize(42, 0);
	Bytes vlan = {0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
		      0x81, 0x00, 0x00, 0x05, 0x08, 0x00};
	vlan.insert(vlan.end(), ip.begin(), ip.end());
	std::string err;
	std::string path = write_tmp(pcap_file(1, {eth, arp, vlan}));
	auto pk = read_pcap(path, err);
	EXPECT_EQ(err, "");
	ASSERT_EQ(pk.size(), 2u);
	EXPECT_EQ(pk[0], ip);
	EXPECT_EQ(pk[1], ip);
	unlink(path.c_str());

	Bytes sll(14, 0);
	sll.push_back(0x08);
	sll.push_back(0x00);
	sll.insert(sll.end(), ip.begin(), ip.end());
	std::string file = pcap_file(113, {sll, sll});
	file.resize(file.size() - 5); // the last record cut short
	path = write_tmp(file);
	pk = read_pcap(path, err);
	EXPECT_EQ(err, "");
	ASSERT_EQ(pk.size(), 1u);
	EXPECT_EQ(pk[0], ip);
	unlink(path.c_str());

	path = write_tmp("");
	EXPECT_TRUE(read_pcap(path, err).empty());
	EXPECT_EQ(err, "");
	unlink(path.c_str());
	path = write_tmp("this is not a capture file at all");
	EXPECT_TRUE(read_pcap(path, err).empty());
	EXPECT_NE(err.find("not a pcap"), std::string::npos);
	unlink(path.c_str());
	err.clear();
	read_pcap("/nonexistent/x.pcap", err);
	EXPECT_NE(err.find("cannot open"), std::string::npos);
}

TEST(Pcap, SummaryCountsWhatTheTestsAsk)
{
	LabelSummary s;
	for (const char *w : {"src=198.18.0.2 dst=198.18.0.11 sport=1 dport=80 opt=crab:198.18.100.1",
			      "src=198.18.0.2 dst=198.18.0.11 sport=2 dport=80 opt=crab:198.18.100.1 csum=bad",
			      "src=198.18.0.2 dst=198.18.100.1 sport=3 dport=80 flags=A ttl=63",
			      "src=198.18.0.2 dst=198.18.0.11 sport=4 dport=80 opt=raw:0801"}) {
		Bytes p = one(w);
		summary_add(s, decode_ipv4(p.data(), p.size(), kCfg));
	}
	EXPECT_EQ(summary_line("srv1", s), "srv1 n=4 syn=3 csum_bad=1 dst=198.18.0.11:3,198.18.100.1:1 "
					   "opt=198.18.100.1:2,malformed:1 ttl=63:1,64:3 len=20:1,24:1,28:2");
	EXPECT_EQ(s.sports, (std::vector<uint16_t>{1, 2, 3, 4}));
	EXPECT_EQ(summary_line("x", LabelSummary{}), "x n=0 syn=0 csum_bad=0 dst=- opt=- ttl=- len=-");
}

TEST(Json, PathsKeysIndexesAndSelections)
{
	const std::string doc = R"({"global": {"not_vip": 7},
		"services": {"198.18.100.1:80": {"syn_redirected": 30, "backends": {"198.18.0.11": 10}}},
		"list": [{"service": "198.18.100.1:80", "counters": {"x": 1}},
			 {"service": "198.18.100.1:81", "counters": {"x": 2}, "n": 5}],
		"s": "text", "b": true})";
	std::string err;
	EXPECT_EQ(json_get(doc, "/global/not_vip", err), "7");
	EXPECT_EQ(json_get(doc, "/services/198.18.100.1:80/syn_redirected", err), "30");
	EXPECT_EQ(json_get(doc, "/services/198.18.100.1:80/backends", err), R"({"198.18.0.11":10})");
	EXPECT_EQ(json_get(doc, "/list/[service=198.18.100.1:81]/counters/x", err), "2");
	EXPECT_EQ(json_get(doc, "/list/[n=5]/service", err), "198.18.100.1:81");
	EXPECT_EQ(json_get(doc, "/list/0/counters/x", err), "1");
	EXPECT_EQ(json_get(doc, "/s", err), "text");
	EXPECT_EQ(json_get(doc, "/b", err), "true");
	EXPECT_FALSE(json_get(doc, "/global/nope", err));
	EXPECT_NE(err.find("/global/nope"), std::string::npos);
	EXPECT_FALSE(json_get(doc, "/list/2", err));
	EXPECT_FALSE(json_get(doc, "/list/[service=none]", err));
	EXPECT_FALSE(json_get("{broken", "/x", err));
	EXPECT_NE(err.find("not JSON"), std::string::npos);
}

TEST(Text, FlagsHexAndNumbers)
{
	EXPECT_EQ(*parse_flags("SA"), 0x12);
	EXPECT_EQ(*parse_flags("FSRPAUEC"), 0xff);
	EXPECT_EQ(*parse_flags("."), 0);
	EXPECT_FALSE(parse_flags("SZ"));
	EXPECT_EQ(flags_str(0x18), "PA");
	EXPECT_EQ(flags_str(0), ".");
	EXPECT_EQ(*parse_hex("0204 05:b4"), (Bytes{2, 4, 5, 0xb4}));
	EXPECT_EQ(*parse_hex("0x0101"), (Bytes{1, 1}));
	EXPECT_FALSE(parse_hex("123"));
	EXPECT_FALSE(parse_hex("zz"));
	EXPECT_EQ(*parse_uint("0x10", 100), 16u);
	EXPECT_FALSE(parse_uint("-1", 100));
	EXPECT_FALSE(parse_uint("101", 100));
	EXPECT_FALSE(parse_uint("1x", 100));
	EXPECT_FALSE(parse_ip("300.1.1.1"));
	EXPECT_EQ(ip_str(*parse_ip("198.18.0.1")), "198.18.0.1");
}
