// SPDX-License-Identifier: GPL-2.0-only
// crab-syngen: a packet-train generator for LB capacity (bench/e2e
// experiment 2, bench/loadgen/README.md). Sends hand-built IPv4/TCP packets
// from a raw socket (IP_HDRINCL) to VIP:port in sendmmsg batches, bounded in
// rate and time, so the LB sees far more connections per second than
// closed-loop clients produce:
//   --mode syn    one SYN per connection, each from a fresh source port and
//                 ISN, with the Connection Redirect option a CRAB client
//                 announces (what a CRAB LB handles per connection);
//   --mode train  SYN and K further client->server packets per connection on
//                 the same 4-tuple (ACK, data, ACK, ..., FIN, ACK): what an LB
//                 that sees every client packet (IPVS DR) handles.
// Nothing is received: the servers' answers are not the generator's business
// (bench/e2e drops the flood at the servers by its TOS mark).
#include "netutil.hpp"
#include "pktbuild.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace crab::bench;
using json = nlohmann::json;

namespace {

volatile sig_atomic_t g_stop = 0;

struct Options {
	uint32_t src = 0;
	Endpoint target;
	bool train = false;
	unsigned k = 0; // packets after the SYN in train mode
	uint16_t payload = 64;
	double rate = 10000; // packets/s offered
	double duration = 10;
	unsigned batch = 32;
	uint8_t tos = 0;
	bool opt = true;
	crab_opt_cfg cfg = CRAB_OPT_CFG_DEFAULT;
	uint16_t sport_min = 1024, sport_max = 65535;
	std::string out;
};

void usage()
{
	std::puts(
		"usage: crab-syngen --src IP --target VIP:PORT [--mode syn|train] [--train-pkts K]\n"
		"                   [--payload B] [--rate PPS] [--duration S] [--batch N] [--tos T]\n"
		"                   [--no-opt] [--opt-kind 42|254] [--sport-range LO-HI] [--out FILE.json]\n"
		"Sends raw IPv4/TCP packets (needs CAP_NET_RAW): one SYN per connection (syn),\n"
		"or a SYN and K more client packets per connection (train). Prints JSON.");
}

uint32_t parse_ip4(const std::string &opt, const std::string &s)
{
	in_addr a{};
	if (inet_pton(AF_INET, s.c_str(), &a) != 1)
		throw UsageError(opt + ": not an IPv4 address: '" + s + "'");
	return ntohl(a.s_addr);
}

Options parse(int argc, char **argv)
{
	Options o;
	bool have_src = false, have_target = false;
	std::string mode = "syn";
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--help" || a == "-h") {
			usage();
			std::exit(0);
		}
		if (a == "--no-opt") {
			o.opt = false;
			continue;
		}
		if (i + 1 >= argc)
			throw UsageError(a + " needs a value (or unknown option)");
		std::string v = argv[++i];
		if (a == "--src") {
			o.src = parse_ip4(a, v);
			have_src = true;
		} else if (a == "--target") {
			o.target = parse_endpoint(a, v);
			if (o.target.family() != AF_INET)
				throw UsageError("--target: IPv4 only");
			have_target = true;
		} else if (a == "--mode") {
			if (v != "syn" && v != "train")
				throw UsageError("--mode: syn or train");
			mode = v;
		} else if (a == "--train-pkts") {
			o.k = static_cast<unsigned>(parse_u64(a, v, 1, 64));
		} else if (a == "--payload") {
			o.payload = static_cast<uint16_t>(parse_u64(a, v, 0, 1400));
		} else if (a == "--rate") {
			o.rate = parse_double(a, v, 1, 1e8);
		} else if (a == "--duration") {
			o.duration = parse_double(a, v, 0.1, 3600);
		} else if (a == "--batch") {
			o.batch = static_cast<unsigned>(parse_u64(a, v, 1, 1024));
		} else if (a == "--tos") {
			o.tos = static_cast<uint8_t>(parse_u64(a, v, 0, 255));
		} else if (a == "--opt-kind") {
			uint64_t k = parse_u64(a, v, 0, 255);
			if (k != CRAB_OPT_KIND_DEFAULT && k != CRAB_OPT_KIND_EXP)
				throw UsageError("--opt-kind: 42 or 254");
			o.cfg.kind = static_cast<uint8_t>(k);
		} else if (a == "--sport-range") {
			auto d = v.find('-');
			if (d == std::string::npos)
				throw UsageError("--sport-range: LO-HI");
			o.sport_min = static_cast<uint16_t>(parse_u64(a, v.substr(0, d), 1, 65535));
			o.sport_max = static_cast<uint16_t>(parse_u64(a, v.substr(d + 1), o.sport_min, 65535));
		} else if (a == "--out") {
			o.out = v;
		} else {
			throw UsageError("unknown option '" + a + "'");
		}
	}
	if (!have_src || !have_target)
		throw UsageError("--src and --target are required");
	o.train = mode == "train";
	if (o.train && o.k == 0)
		throw UsageError("--mode train needs --train-pkts K");
	if (!o.train)
		o.k = 0;
	return o;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	try {
		o = parse(argc, argv);
	} catch (const UsageError &e) {
		std::fprintf(stderr, "crab-syngen: error: %s\n(crab-syngen --help for usage)\n", e.what());
		return 2;
	}
	struct sigaction sa{};
	sa.sa_handler = [](int) { g_stop = 1; };
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGTERM, &sa, nullptr);

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); // IPPROTO_RAW implies IP_HDRINCL
	if (fd < 0) {
		std::fprintf(stderr, "crab-syngen: error: raw socket: %s (needs CAP_NET_RAW)\n", std::strerror(errno));
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	const auto *tsin = reinterpret_cast<const sockaddr_in *>(o.target.sa());
	const uint32_t daddr = ntohl(tsin->sin_addr.s_addr);
	const uint16_t dport = ntohs(tsin->sin_port);
	const unsigned per_train = 1 + o.k;
	const size_t slot = 2048;
	std::vector<uint8_t> bufs(static_cast<size_t>(o.batch) * slot);
	std::vector<iovec> iov(o.batch);
	std::vector<mmsghdr> msgs(o.batch);
	sockaddr_in dst = *tsin;
	for (unsigned i = 0; i < o.batch; i++) {
		iov[i].iov_base = bufs.data() + i * slot;
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	std::mt19937 rng(static_cast<uint32_t>(now_ns()));
	const unsigned nports = o.sport_max - o.sport_min + 1u;
	uint64_t trains = 0, sent = 0, send_fail = 0, calls = 0, syns = 0, trains_done = 0, built = 0;
	unsigned pos = 0; // packet index within the current train
	uint32_t isn = 0, seq = 0;
	uint16_t sport = 0;
	std::string fatal;
	bool wrapped = false;

	const uint64_t t0 = now_ns();
	const uint64_t end = t0 + static_cast<uint64_t>(o.duration * 1e9);
	const double ns_per_batch = o.batch * 1e9 / o.rate;
	double next = static_cast<double>(t0);
	while (!g_stop && fatal.empty()) {
		uint64_t now = now_ns();
		if (now >= end)
			break;
		// Build one batch, continuing the current train across batches.
		for (unsigned i = 0; i < o.batch; i++) {
			if (pos == 0) {
				sport = static_cast<uint16_t>(o.sport_min + trains % nports);
				if (trains >= nports)
					wrapped = true;
				isn = rng();
				seq = isn;
				trains++;
			}
			TrainStep st = o.train ? train_step(pos, o.k, o.payload) : TrainStep{kTcpSyn, 0};
			TcpPacketSpec s;
			s.saddr = o.src;
			s.daddr = daddr;
			s.sport = sport;
			s.dport = dport;
			s.flags = st.flags;
			s.payload = st.payload;
			s.tos = o.tos;
			s.ip_id = static_cast<uint16_t>(built);
			s.seq = seq;
			s.ack = (st.flags & kTcpAck) ? 1 : 0;
			if (st.flags & kTcpSyn) {
				s.mss = true;
				s.crab_opt = o.opt;
				s.opt_cfg = o.cfg;
			}
			size_t len = build_tcp(static_cast<uint8_t *>(iov[i].iov_base), s);
			iov[i].iov_len = len;
			seq += st.payload + ((st.flags & (kTcpSyn | kTcpFin)) ? 1 : 0);
			built++;
			if (++pos == per_train) {
				pos = 0;
				trains_done++;
			}
		}
		// Send it; a packet the stack refuses (ENOBUFS: a full queue) is
		// counted and skipped.
		unsigned off = 0;
		while (off < o.batch) {
			calls++;
			int r = sendmmsg(fd, msgs.data() + off, o.batch - off, 0);
			if (r > 0) {
				off += static_cast<unsigned>(r);
				continue;
			}
			if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EPERM)) {
				send_fail++;
				off++;
				continue;
			}
			if (r < 0 && errno == EINTR)
				break;
			fatal = std::string("sendmmsg: ") + std::strerror(errno);
			break;
		}
		sent += off;
		next += ns_per_batch;
		if (next > static_cast<double>(now_ns()))
			wait_until_ns(static_cast<uint64_t>(next));
	}
	const double elapsed = (now_ns() - t0) / 1e9;
	close(fd);
	// SYNs among the packets built: 1 per train started.
	syns = trains;
	json j = {
		{"tool", "crab-syngen"},
		{"mode", o.train ? "train" : "syn"},
		{"target", endpoint_str(o.target)},
		{"tos", o.tos},
		{"crab_opt", o.opt},
		{"opt_kind", o.cfg.kind},
		{"train_pkts_after_syn", o.k},
		{"packets_per_conn", per_train},
		{"payload", o.payload},
		{"batch", o.batch},
		{"rate_offered_pps", o.rate},
		{"duration_s", o.duration},
		{"elapsed_s", elapsed},
		{"packets_built", built},
		{"packets_sent", sent - send_fail},
		{"packets_send_failed", send_fail},
		{"sendmmsg_calls", calls},
		{"conns_started", syns},
		{"conns_complete", trains_done},
		{"sent_pps", elapsed > 0 ? (sent - send_fail) / elapsed : 0.0},
		{"sport_wrapped", wrapped},
		{"error", fatal.empty() ? json(nullptr) : json(fatal)},
	};
	std::string text = j.dump(1);
	std::puts(text.c_str());
	if (!o.out.empty()) {
		std::ofstream f(o.out);
		f << text << "\n";
		if (!f) {
			std::fprintf(stderr, "crab-syngen: error: cannot write %s\n", o.out.c_str());
			return 1;
		}
	}
	if (!fatal.empty()) {
		std::fprintf(stderr, "crab-syngen: error: %s\n", fatal.c_str());
		return 1;
	}
	return 0;
}
