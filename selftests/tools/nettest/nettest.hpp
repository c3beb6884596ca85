// SPDX-License-Identifier: GPL-2.0-only
// crab-nettest: the selftests' traffic and packet tool (selftests/README.md).
// The parts the unit tests reach: packet specs (text -> packets), decoding
// and filters (packets -> fields), pcap files, JSON paths.
#pragma once

#include <crab/crab_opt.h>
#include <crab/pktbuild.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace crab::nettest {

using Bytes = std::vector<uint8_t>;

// "198.18.0.1" -> host order; nullopt when not a dotted quad.
std::optional<uint32_t> parse_ip(const std::string &s);
std::string ip_str(uint32_t host);
// Decimal or 0x-hex, within [0, max]; nullopt otherwise.
std::optional<uint64_t> parse_uint(const std::string &s, uint64_t max);
// "SA" -> SYN|ACK (F S R P A U E C; "." or "" is none); nullopt on a bad letter.
std::optional<uint8_t> parse_flags(const std::string &s);
std::string flags_str(uint8_t f);
// Hex bytes ("0204 05b4", "01:01", "0x02"); nullopt on odd digits or junk.
std::optional<Bytes> parse_hex(const std::string &s);
std::string hex_str(const uint8_t *p, size_t n);

// ---- packet specs --------------------------------------------------------
//
// One packet (or COUNT of them) as "key=value" words:
//   src= dst= sport= dport= seq= ack= flags= win= urg= ttl= tos= id= df=0|1
//   opt=LIST       TCP options in order, comma-separated:
//                  mss:N nop eol ws:N sackok ts:V:E
//                  crab[:ADDR]      NOP NOP 42 6 ADDR (the aligned sender form)
//                  crab6[:ADDR]     42 6 ADDR (bare, at whatever offset)
//                  exp[:ADDR[:EXID]] 254 8 EXID ADDR (RFC 6994 form)
//                  kind:K[:HEX]     kind K, length 2 + bytes, the bytes
//                  raw:HEX          bytes as they are (lengths not checked)
//                  ADDR defaults to dst. Padded to 4 bytes with EOL.
//   ipopt=HEX      IP option bytes (padded with EOL)
//   payload=N      N bytes of 'x';  data=HEX: these bytes
//   doff=N         data offset as given (a bogus one on purpose)
//   csum=bad       wrong TCP checksum; ipcsum=bad: wrong IP checksum
//   trunc=N        only N bytes of the TCP segment (checksum of the whole)
//   frag=N         two fragments, the first with N bytes of IP payload
//   count=N        N packets: sport, seq and id grow by one each
//   inter=SEC      pause between packets (default 0)
struct PacketSpec {
	crab::pkt::Segment seg;
	unsigned count = 1;
	size_t frag = 0;
	double inter = 0;
	bool have_src = false;
};

// Parse words into @out; an error message names the bad word. Addresses
// in options that name no address take @out.seg.daddr, so dst= may come
// after opt=.
std::optional<std::string> parse_spec(const std::vector<std::string> &words, PacketSpec &out);
// The packets of @spec (count, fragments): packet i has sport + i, seq + i,
// id + i.
std::vector<Bytes> build_packets(const PacketSpec &spec);

// ---- decoding and filters --------------------------------------------------

struct Decoded {
	bool ip = false;	   // an IPv4 header was there
	uint32_t saddr = 0, daddr = 0;
	uint8_t proto = 0, ttl = 0, tos = 0, ihl = 0;
	uint16_t iplen = 0, id = 0, fragoff = 0; // fragoff in bytes
	bool mf = false, df = false, ipcsum_ok = false;
	bool tcp = false;	   // a whole fixed TCP header within iplen
	uint16_t sport = 0, dport = 0, win = 0;
	uint32_t seq = 0, ack = 0;
	uint8_t flags = 0, doff = 0; // doff in bytes
	uint16_t seglen = 0;	   // TCP header + payload bytes present
	bool doff_ok = false;	   // 20 <= doff <= seglen
	int csum = -1;		   // TCP checksum: 1 ok, 0 bad, -1 not checkable
	Bytes opts;		   // option bytes (doff_ok only)
	int opt_status = CRAB_OPT_NONE;
	uint32_t opt_addr = 0;	   // host order
	int opt_off = -1;	   // offset of the option in the option bytes
	uint16_t payload = 0;
	bool outgoing = false;	   // captured leaving the interface
	int icmp_type = -1, icmp_code = -1; // an ICMP header (first fragment)
	uint16_t icmp_mtu = 0;	   // next-hop MTU of "fragmentation needed"
};

// Decode the IPv4 packet at @p (@n bytes, link layer removed). The option
// walk is the shared one (crab_opt_find) with @cfg.
Decoded decode_ipv4(const uint8_t *p, size_t n, const crab_opt_cfg &cfg);
// One line of "key=value" fields (the format of capture, pcap --list and
// script's expect).
std::string fields_line(const Decoded &d);

// A filter: every word must hold. src= dst= host= (either address),
// sport= dport= port= (either port), flags=XY (exactly these), flags+=XY
// (at least these), flags-=XY (none of these), opt=ADDR|none|malformed|any,
// proto=tcp|icmp|N (default tcp), dir=in|out, frag=0|1 (a fragment or not),
// icmp_type=N icmp_code=N icmp_mtu=N (ICMP only: proto=icmp is implied).
struct Filter {
	std::map<std::string, std::string> w;
	bool match(const Decoded &d) const;
};
std::optional<std::string> parse_filter(const std::vector<std::string> &words, Filter &out);

// ---- pcap files ------------------------------------------------------------

// The IPv4 packets of a classic pcap file (tcpdump -w; Ethernet, Linux
// cooked v1/v2 or raw IP), link layer removed. An error (unreadable, not a
// pcap) in @err; an empty file (tcpdump stopped before its header reached
// the disk) is no packet and no error.
std::vector<Bytes> read_pcap(const std::string &path, std::string &err);

// Per-label counts of the TCP packets a test captured (pcap --summary):
// n packets, syn (SYN flag set), csum_bad (TCP or IP checksum wrong),
// dst/ttl/len (TCP segment length) histograms, opt (first redirect option
// of each SYN: its address, "none" or "malformed") and the source ports
// seen, for the cross-label check "each flow at one label".
struct LabelSummary {
	unsigned n = 0, syn = 0, csum_bad = 0;
	std::map<std::string, unsigned> dst, opt, ttl, len;
	std::vector<uint16_t> sports; // in capture order, one entry per packet
};
std::string hist_str(const std::map<std::string, unsigned> &h);
// "label n=.. syn=.. csum_bad=.. dst=.. opt=.. ttl=.. len=.."
std::string summary_line(const std::string &label, const LabelSummary &s);
void summary_add(LabelSummary &s, const Decoded &d);

// ---- JSON paths --------------------------------------------------------------
//
// PATH: "/"-separated steps from the document's root: an object key, an
// array index, or "[KEY=VALUE]" (the first array element whose member KEY
// is VALUE as a string or number). Strings print bare, numbers and
// booleans as JSON, objects and arrays compact. nullopt (and @err) when a
// step finds nothing.
std::optional<std::string> json_get(const std::string &doc, const std::string &path, std::string &err);

} // namespace crab::nettest
