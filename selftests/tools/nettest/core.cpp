// SPDX-License-Identifier: GPL-2.0-only
// crab-nettest: packet specs, decoding, filters, pcap files, JSON paths
// (nettest.hpp).
#include "nettest.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>

namespace crab::nettest {

using namespace crab::pkt;

std::optional<uint32_t> parse_ip(const std::string &s)
{
	in_addr a{};
	if (s.empty() || inet_pton(AF_INET, s.c_str(), &a) != 1)
		return std::nullopt;
	return ntohl(a.s_addr);
}

std::string ip_str(uint32_t host)
{
	char b[INET_ADDRSTRLEN];
	in_addr a{htonl(host)};
	inet_ntop(AF_INET, &a, b, sizeof(b));
	return b;
}

std::optional<uint64_t> parse_uint(const std::string &s, uint64_t max)
{
	if (s.empty() || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return std::nullopt;
	errno = 0;
	char *end = nullptr;
	unsigned long long v = std::strtoull(s.c_str(), &end, 0);
	if (errno || !end || *end || v > max)
		return std::nullopt;
	return v;
}

std::optional<uint8_t> parse_flags(const std::string &s)
{
	static const char letters[] = "FSRPAUEC";
	uint8_t f = 0;
	if (s == ".")
		return 0;
	for (char c : s) {
		const char *p = std::strchr(letters, c);
		if (!p || !c)
			return std::nullopt;
		f |= static_cast<uint8_t>(1u << (p - letters));
	}
	return f;
}

std::string flags_str(uint8_t f)
{
	static const char letters[] = "FSRPAUEC";
	std::string s;
	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			s += letters[i];
	return s.empty() ? "." : s;
}

std::optional<Bytes> parse_hex(const std::string &s)
{
	Bytes out;
	std::string digits;
	for (size_t i = 0; i < s.size(); i++) {
		char c = s[i];
		if (c == ' ' || c == ':' || c == '-')
			continue;
		if (c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X') && digits.size() % 2 == 0) {
			i++;
			continue;
		}
		if (!std::isxdigit(static_cast<unsigned char>(c)))
			return std::nullopt;
		digits += c;
	}
	if (digits.size() % 2)
		return std::nullopt;
	for (size_t i = 0; i < digits.size(); i += 2)
		out.push_back(static_cast<uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
	return out;
}

std::string hex_str(const uint8_t *p, size_t n)
{
	static const char h[] = "0123456789abcdef";
	std::string s;
	for (size_t i = 0; i < n; i++) {
		s += h[p[i] >> 4];
		s += h[p[i] & 15];
	}
	return s;
}

namespace {

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> out;
	std::string cur;
	for (char c : s) {
		if (c == sep) {
			out.push_back(cur);
			cur.clear();
		} else {
			cur += c;
		}
	}
	out.push_back(cur);
	return out;
}

void push_addr(Bytes &o, uint32_t a)
{
	uint8_t b[4];
	put32(b, a);
	o.insert(o.end(), b, b + 4);
}

// One option word of opt= (after the spec is parsed: dst is known).
std::optional<std::string> add_option(const std::string &word, uint32_t dst, Bytes &o)
{
	auto f = split(word, ':');
	const std::string &k = f[0];
	auto addr_at = [&](size_t i) -> std::optional<uint32_t> {
		if (f.size() <= i || f[i].empty())
			return dst;
		return parse_ip(f[i]);
	};
	auto num_at = [&](size_t i, uint64_t max) -> std::optional<uint64_t> {
		if (f.size() <= i)
			return std::nullopt;
		return parse_uint(f[i], max);
	};
	if (k == "nop" && f.size() == 1) {
		o.push_back(CRAB_TCPOPT_NOP);
	} else if (k == "eol" && f.size() == 1) {
		o.push_back(CRAB_TCPOPT_EOL);
	} else if (k == "mss" && f.size() == 2) {
		auto v = num_at(1, 0xffff);
		if (!v)
			return "bad MSS in '" + word + "'";
		o.insert(o.end(), {2, 4, static_cast<uint8_t>(*v >> 8), static_cast<uint8_t>(*v)});
	} else if (k == "ws" && f.size() == 2) {
		auto v = num_at(1, 255);
		if (!v)
			return "bad window scale in '" + word + "'";
		o.insert(o.end(), {3, 3, static_cast<uint8_t>(*v)});
	} else if (k == "sackok" && f.size() == 1) {
		o.insert(o.end(), {4, 2});
	} else if (k == "ts" && f.size() == 3) {
		auto v = num_at(1, 0xffffffff), e = num_at(2, 0xffffffff);
		if (!v || !e)
			return "bad timestamps in '" + word + "'";
		o.insert(o.end(), {8, 10});
		push_addr(o, static_cast<uint32_t>(*v));
		push_addr(o, static_cast<uint32_t>(*e));
	} else if ((k == "crab" || k == "crab6") && f.size() <= 2) {
		auto a = addr_at(1);
		if (!a)
			return "bad address in '" + word + "'";
		if (k == "crab")
			o.insert(o.end(), {CRAB_TCPOPT_NOP, CRAB_TCPOPT_NOP});
		o.insert(o.end(), {CRAB_OPT_KIND_DEFAULT, TCPOLEN_CRAB});
		push_addr(o, *a);
	} else if (k == "exp" && f.size() <= 3) {
		auto a = addr_at(1);
		auto x = f.size() > 2 ? num_at(2, 0xffff) : std::optional<uint64_t>(CRAB_OPT_EXID_DEFAULT);
		if (!a || !x)
			return "bad address or ExID in '" + word + "'";
		o.insert(o.end(), {CRAB_OPT_KIND_EXP, TCPOLEN_CRAB_EXP, static_cast<uint8_t>(*x >> 8),
				   static_cast<uint8_t>(*x)});
		push_addr(o, *a);
	} else if (k == "kind" && (f.size() == 2 || f.size() == 3)) {
		auto kind = num_at(1, 255);
		auto data = f.size() == 3 ? parse_hex(f[2]) : std::optional<Bytes>(Bytes{});
		if (!kind || !data || data->size() > 253)
			return "bad kind option '" + word + "'";
		o.push_back(static_cast<uint8_t>(*kind));
		o.push_back(static_cast<uint8_t>(2 + data->size()));
		o.insert(o.end(), data->begin(), data->end());
	} else if (k == "raw" && f.size() == 2) {
		auto data = parse_hex(f[1]);
		if (!data)
			return "bad hex in '" + word + "'";
		o.insert(o.end(), data->begin(), data->end());
	} else {
		return "unknown option '" + word + "'";
	}
	return std::nullopt;
}

} // namespace

std::optional<std::string> parse_spec(const std::vector<std::string> &words, PacketSpec &out)
{
	Segment &s = out.seg;
	std::string opts;
	bool have_opts = false;
	for (const std::string &w : words) {
		auto eq = w.find('=');
		if (eq == std::string::npos || eq == 0)
			return "expected KEY=VALUE, not '" + w + "'";
		const std::string k = w.substr(0, eq), v = w.substr(eq + 1);
		auto num = [&](uint64_t max) { return parse_uint(v, max); };
		std::optional<uint64_t> n;
		if (k == "src" || k == "dst") {
			auto a = parse_ip(v);
			if (!a)
				return "bad address in '" + w + "'";
			(k == "src" ? s.saddr : s.daddr) = *a;
			if (k == "src")
				out.have_src = true;
		} else if (k == "sport" && (n = num(0xffff))) {
			s.sport = static_cast<uint16_t>(*n);
		} else if (k == "dport" && (n = num(0xffff))) {
			s.dport = static_cast<uint16_t>(*n);
		} else if (k == "seq" && (n = num(0xffffffff))) {
			s.seq = static_cast<uint32_t>(*n);
		} else if (k == "ack" && (n = num(0xffffffff))) {
			s.ack = static_cast<uint32_t>(*n);
		} else if (k == "win" && (n = num(0xffff))) {
			s.window = static_cast<uint16_t>(*n);
		} else if (k == "urg" && (n = num(0xffff))) {
			s.urg = static_cast<uint16_t>(*n);
		} else if (k == "ttl" && (n = num(255))) {
			s.ttl = static_cast<uint8_t>(*n);
		} else if (k == "tos" && (n = num(255))) {
			s.tos = static_cast<uint8_t>(*n);
		} else if (k == "id" && (n = num(0xffff))) {
			s.ip_id = static_cast<uint16_t>(*n);
		} else if (k == "df" && (v == "0" || v == "1")) {
			s.df = v == "1";
		} else if (k == "flags") {
			auto f = parse_flags(v);
			if (!f)
				return "bad flags in '" + w + "' (letters F S R P A U E C)";
			s.flags = *f;
		} else if (k == "opt") {
			opts = v;
			have_opts = true;
		} else if (k == "ipopt") {
			auto b = parse_hex(v);
			if (!b || b->size() > 40)
				return "bad IP options in '" + w + "'";
			s.ip_opts = *b;
		} else if (k == "payload" && (n = num(65000))) {
			s.payload.assign(*n, 'x');
		} else if (k == "data") {
			auto b = parse_hex(v);
			if (!b)
				return "bad hex in '" + w + "'";
			s.payload = *b;
		} else if (k == "doff" && (n = num(15))) {
			s.doff = static_cast<int>(*n);
		} else if (k == "csum" && v == "bad") {
			s.bad_tcp_csum = true;
		} else if (k == "ipcsum" && v == "bad") {
			s.bad_ip_csum = true;
		} else if (k == "trunc" && (n = num(65000)) && *n > 0) {
			s.trunc = *n;
		} else if (k == "frag" && (n = num(65000)) && *n > 0 && *n % 8 == 0) {
			out.frag = *n;
		} else if (k == "count" && (n = num(1000000)) && *n > 0) {
			out.count = static_cast<unsigned>(*n);
		} else if (k == "inter") {
			char *end = nullptr;
			double d = std::strtod(v.c_str(), &end);
			if (v.empty() || *end || d < 0 || d > 60)
				return "bad value in '" + w + "'";
			out.inter = d;
		} else {
			return "unknown or bad word '" + w + "'";
		}
	}
	if (have_opts) {
		s.tcp_opts.clear();
		if (!opts.empty() && opts != "none")
			for (const std::string &o : split(opts, ','))
				if (auto err = add_option(o, s.daddr, s.tcp_opts))
					return err;
		if (s.tcp_opts.size() > CRAB_TCP_MAX_OPTLEN)
			return "TCP options over 40 bytes (" + std::to_string(s.tcp_opts.size()) + ")";
	}
	return std::nullopt;
}

std::vector<Bytes> build_packets(const PacketSpec &spec)
{
	std::vector<Bytes> out;
	for (unsigned i = 0; i < spec.count; i++) {
		Segment s = spec.seg;
		s.sport = static_cast<uint16_t>(s.sport + i);
		s.seq += i;
		s.ip_id = static_cast<uint16_t>(s.ip_id + i);
		Bytes p = build_segment(s);
		if (spec.frag) {
			auto f = fragment(p, spec.frag);
			if (f.empty())
				return {};
			for (auto &x : f)
				out.push_back(std::move(x));
		} else {
			out.push_back(std::move(p));
		}
	}
	return out;
}

Decoded decode_ipv4(const uint8_t *p, size_t n, const crab_opt_cfg &cfg)
{
	Decoded d;
	if (n < 20 || (p[0] >> 4) != 4)
		return d;
	d.ihl = static_cast<uint8_t>((p[0] & 15) * 4);
	if (d.ihl < 20 || d.ihl > n)
		return d;
	d.ip = true;
	d.tos = p[1];
	d.iplen = get16(p + 2);
	d.id = get16(p + 4);
	uint16_t fo = get16(p + 6);
	d.df = fo & 0x4000;
	d.mf = fo & 0x2000;
	d.fragoff = static_cast<uint16_t>((fo & 0x1fff) * 8);
	d.ttl = p[8];
	d.proto = p[9];
	d.saddr = get32(p + 12);
	d.daddr = get32(p + 16);
	d.ipcsum_ok = csum_fold(csum_add(0, p, d.ihl)) == 0;
	size_t end = std::min<size_t>(n, d.iplen >= d.ihl ? d.iplen : n);
	if (d.proto == IPPROTO_ICMP && !d.fragoff && end >= d.ihl + 8u) {
		d.icmp_type = p[d.ihl];
		d.icmp_code = p[d.ihl + 1];
		if (d.icmp_type == 3 && d.icmp_code == 4)
			d.icmp_mtu = get16(p + d.ihl + 6);
	}
	if (d.proto != IPPROTO_TCP || d.fragoff)
		return d;
	const uint8_t *t = p + d.ihl;
	const size_t tl = end - d.ihl;
	d.seglen = static_cast<uint16_t>(tl);
	if (tl < 20)
		return d;
	d.tcp = true;
	d.sport = get16(t);
	d.dport = get16(t + 2);
	d.seq = get32(t + 4);
	d.ack = get32(t + 8);
	d.doff = static_cast<uint8_t>((t[12] >> 4) * 4);
	d.flags = t[13];
	d.win = get16(t + 14);
	d.doff_ok = d.doff >= 20 && d.doff <= tl;
	// A fragment's checksum covers the reassembled segment: not checkable.
	if (!d.mf && d.iplen <= n)
		d.csum = tcp_csum(d.saddr, d.daddr, t, tl) == 0 ? 1 : 0;
	if (d.doff_ok) {
		d.opts.assign(t + 20, t + d.doff);
		d.payload = static_cast<uint16_t>(tl - d.doff);
		crab_opt_res res{};
		d.opt_status = crab_opt_find(d.opts.data(), static_cast<__u32>(d.opts.size()), &cfg, &res);
		if (d.opt_status == CRAB_OPT_FOUND) {
			d.opt_addr = res.addr;
			d.opt_off = res.off;
		}
	}
	return d;
}

namespace {

std::string opt_str(const Decoded &d)
{
	if (!d.doff_ok)
		return "-";
	switch (d.opt_status) {
	case CRAB_OPT_FOUND:
		return ip_str(d.opt_addr);
	case CRAB_OPT_MALFORMED:
		return "malformed";
	default:
		return "none";
	}
}

} // namespace

std::string fields_line(const Decoded &d)
{
	std::ostringstream o;
	if (!d.ip)
		return "ip=0";
	o << "dir=" << (d.outgoing ? "out" : "in") << " src=" << ip_str(d.saddr) << " dst=" << ip_str(d.daddr)
	  << " proto=" << int(d.proto) << " ttl=" << int(d.ttl) << " tos=" << int(d.tos) << " id=" << d.id
	  << " iplen=" << d.iplen << " ihl=" << int(d.ihl) << " df=" << d.df << " mf=" << d.mf
	  << " fragoff=" << d.fragoff << " ipcsum=" << (d.ipcsum_ok ? "ok" : "bad");
	if (d.icmp_type >= 0)
		o << " icmp_type=" << d.icmp_type << " icmp_code=" << d.icmp_code << " icmp_mtu=" << d.icmp_mtu;
	if (!d.tcp)
		return o.str();
	o << " sport=" << d.sport << " dport=" << d.dport << " seq=" << d.seq << " ack=" << d.ack
	  << " flags=" << flags_str(d.flags) << " win=" << d.win << " doff=" << int(d.doff)
	  << " seglen=" << d.seglen << " payload=" << d.payload
	  << " csum=" << (d.csum < 0 ? "-" : d.csum ? "ok" : "bad") << " opt=" << opt_str(d)
	  << " optoff=" << d.opt_off << " opts=" << (d.opts.empty() ? "-" : hex_str(d.opts.data(), d.opts.size()));
	return o.str();
}

std::optional<std::string> parse_filter(const std::vector<std::string> &words, Filter &out)
{
	static const char *keys[] = {"src", "dst", "host", "sport", "dport", "port", "flags", "flags+",
				     "flags-", "opt", "proto", "dir", "frag", "icmp_type", "icmp_code", "icmp_mtu"};
	for (const std::string &w : words) {
		auto eq = w.find('=');
		if (eq == std::string::npos)
			return "filter: expected KEY=VALUE, not '" + w + "'";
		std::string k = w.substr(0, eq), v = w.substr(eq + 1);
		if (std::find(std::begin(keys), std::end(keys), k) == std::end(keys))
			return "filter: unknown key in '" + w + "'";
		if ((k == "src" || k == "dst" || k == "host") && !parse_ip(v))
			return "filter: bad address in '" + w + "'";
		if ((k == "sport" || k == "dport" || k == "port") && !parse_uint(v, 0xffff))
			return "filter: bad port in '" + w + "'";
		if (k.rfind("flags", 0) == 0 && !parse_flags(v))
			return "filter: bad flags in '" + w + "'";
		if (k == "opt" && v != "none" && v != "any" && v != "malformed" && !parse_ip(v))
			return "filter: opt= takes an address, none, any or malformed";
		if (k == "dir" && v != "in" && v != "out")
			return "filter: dir= takes in or out";
		if (k == "frag" && v != "0" && v != "1")
			return "filter: frag= takes 0 or 1";
		if (k == "proto" && v != "tcp" && v != "icmp" && v != "any" && !parse_uint(v, 255))
			return "filter: bad protocol in '" + w + "'";
		if (k.rfind("icmp_", 0) == 0 && !parse_uint(v, k == "icmp_mtu" ? 0xffff : 255))
			return "filter: bad number in '" + w + "'";
		out.w[k] = v;
	}
	return std::nullopt;
}

bool Filter::match(const Decoded &d) const
{
	if (!d.ip)
		return false;
	auto get = [&](const char *k) -> const std::string * {
		auto it = w.find(k);
		return it == w.end() ? nullptr : &it->second;
	};
	const std::string *v;
	int proto = get("icmp_type") || get("icmp_code") || get("icmp_mtu") ? IPPROTO_ICMP : IPPROTO_TCP;
	if ((v = get("proto"))) {
		if (*v == "any")
			proto = -1;
		else if (*v == "icmp")
			proto = IPPROTO_ICMP;
		else if (*v != "tcp")
			proto = static_cast<int>(*parse_uint(*v, 255));
	}
	if (proto >= 0 && d.proto != proto)
		return false;
	if ((v = get("src")) && d.saddr != *parse_ip(*v))
		return false;
	if ((v = get("dst")) && d.daddr != *parse_ip(*v))
		return false;
	if ((v = get("host")) && d.saddr != *parse_ip(*v) && d.daddr != *parse_ip(*v))
		return false;
	if ((v = get("dir")) && (*v == "out") != d.outgoing)
		return false;
	if ((v = get("frag")) && (*v == "1") != (d.mf || d.fragoff))
		return false;
	if ((v = get("icmp_type")) && d.icmp_type != static_cast<int>(*parse_uint(*v, 255)))
		return false;
	if ((v = get("icmp_code")) && d.icmp_code != static_cast<int>(*parse_uint(*v, 255)))
		return false;
	if ((v = get("icmp_mtu")) && d.icmp_mtu != *parse_uint(*v, 0xffff))
		return false;
	const bool tcpkeys = get("sport") || get("dport") || get("port") || get("flags") || get("flags+") ||
			     get("flags-") || get("opt");
	if (!tcpkeys)
		return true;
	if (!d.tcp)
		return false;
	if ((v = get("sport")) && d.sport != *parse_uint(*v, 0xffff))
		return false;
	if ((v = get("dport")) && d.dport != *parse_uint(*v, 0xffff))
		return false;
	if ((v = get("port")) && d.sport != *parse_uint(*v, 0xffff) && d.dport != *parse_uint(*v, 0xffff))
		return false;
	if ((v = get("flags")) && d.flags != *parse_flags(*v))
		return false;
	if ((v = get("flags+")) && (d.flags & *parse_flags(*v)) != *parse_flags(*v))
		return false;
	if ((v = get("flags-")) && (d.flags & *parse_flags(*v)))
		return false;
	if ((v = get("opt"))) {
		if (*v == "any") {
			if (d.opt_status != CRAB_OPT_FOUND)
				return false;
		} else if (*v == "none") {
			if (d.opt_status != CRAB_OPT_NONE || !d.doff_ok)
				return false;
		} else if (*v == "malformed") {
			if (d.opt_status != CRAB_OPT_MALFORMED)
				return false;
		} else if (d.opt_status != CRAB_OPT_FOUND || d.opt_addr != *parse_ip(*v)) {
			return false;
		}
	}
	return true;
}

std::vector<Bytes> read_pcap(const std::string &path, std::string &err)
{
	std::vector<Bytes> out;
	std::ifstream f(path, std::ios::binary);
	if (!f) {
		err = "cannot open " + path;
		return out;
	}
	std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	const auto *b = reinterpret_cast<const uint8_t *>(all.data());
	const size_t n = all.size();
	if (n == 0)
		return out;
	if (n < 24) {
		err = path + ": truncated pcap header";
		return out;
	}
	uint32_t magic = b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
	bool swap;
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
		swap = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
		swap = true;
	else {
		err = path + ": not a pcap file (pcapng is not read)";
		return out;
	}
	auto rd32 = [&](size_t off) {
		uint32_t v = b[off] | b[off + 1] << 8 | b[off + 2] << 16 | static_cast<uint32_t>(b[off + 3]) << 24;
		return swap ? __builtin_bswap32(v) : v;
	};
	const uint32_t linktype = rd32(20);
	size_t off = 24;
	while (off + 16 <= n) {
		uint32_t caplen = rd32(off + 8);
		off += 16;
		if (caplen > n - off) // the last record of a capture cut short
			break;
		const uint8_t *p = b + off;
		size_t l3 = 0;
		uint16_t proto = 0x0800;
		switch (linktype) {
		case 1: // Ethernet
			if (caplen < 14)
				goto next;
			l3 = 14;
			proto = get16(p + 12);
			while ((proto == 0x8100 || proto == 0x88a8) && caplen >= l3 + 4) {
				proto = get16(p + l3 + 2);
				l3 += 4;
			}
			break;
		case 113: // Linux cooked v1
			if (caplen < 16)
				goto next;
			l3 = 16;
			proto = get16(p + 14);
			break;
		case 276: // Linux cooked v2
			if (caplen < 20)
				goto next;
			l3 = 20;
			proto = get16(p);
			break;
		case 101: // raw IP
		case 228: // raw IPv4
			break;
		default:
			err = path + ": link type " + std::to_string(linktype) + " not read";
			return out;
		}
		if (proto == 0x0800 && caplen > l3)
			out.emplace_back(p + l3, p + caplen);
next:
		off += caplen;
	}
	return out;
}

std::string hist_str(const std::map<std::string, unsigned> &h)
{
	std::string s;
	for (const auto &[k, v] : h)
		s += (s.empty() ? "" : ",") + k + ":" + std::to_string(v);
	return s.empty() ? "-" : s;
}

std::string summary_line(const std::string &label, const LabelSummary &s)
{
	return label + " n=" + std::to_string(s.n) + " syn=" + std::to_string(s.syn) +
	       " csum_bad=" + std::to_string(s.csum_bad) + " dst=" + hist_str(s.dst) + " opt=" + hist_str(s.opt) +
	       " ttl=" + hist_str(s.ttl) + " len=" + hist_str(s.len);
}

void summary_add(LabelSummary &s, const Decoded &d)
{
	s.n++;
	s.dst[ip_str(d.daddr)]++;
	s.ttl[std::to_string(d.ttl)]++;
	s.len[std::to_string(d.seglen)]++;
	if (d.csum == 0 || !d.ipcsum_ok)
		s.csum_bad++;
	if (d.flags & kTcpSyn) {
		s.syn++;
		s.opt[opt_str(d)]++;
	}
	s.sports.push_back(d.sport);
}

std::optional<std::string> json_get(const std::string &doc, const std::string &path, std::string &err)
{
	nlohmann::json j;
	try {
		j = nlohmann::json::parse(doc);
	} catch (const std::exception &e) {
		err = std::string("not JSON: ") + e.what();
		return std::nullopt;
	}
	const nlohmann::json *cur = &j;
	std::string walked;
	for (const std::string &step : split(path, '/')) {
		if (step.empty())
			continue;
		walked += "/" + step;
		if (step.size() > 2 && step.front() == '[' && step.back() == ']') {
			auto eq = step.find('=');
			if (eq == std::string::npos || !cur->is_array()) {
				err = walked + ": not an array selection";
				return std::nullopt;
			}
			std::string k = step.substr(1, eq - 1), v = step.substr(eq + 1, step.size() - eq - 2);
			const nlohmann::json *hit = nullptr;
			for (const auto &e : *cur) {
				if (!e.is_object() || !e.contains(k))
					continue;
				const auto &m = e[k];
				if ((m.is_string() && m.get<std::string>() == v) || (!m.is_string() && m.dump() == v)) {
					hit = &e;
					break;
				}
			}
			if (!hit) {
				err = walked + ": no element with " + k + " = " + v;
				return std::nullopt;
			}
			cur = hit;
		} else if (cur->is_array()) {
			auto i = parse_uint(step, 1u << 30);
			if (!i || *i >= cur->size()) {
				err = walked + ": no such index";
				return std::nullopt;
			}
			cur = &(*cur)[*i];
		} else if (cur->is_object() && cur->contains(step)) {
			cur = &(*cur)[step];
		} else {
			err = walked + ": no such key";
			return std::nullopt;
		}
	}
	if (cur->is_string())
		return cur->get<std::string>();
	return cur->dump();
}

} // namespace crab::nettest
