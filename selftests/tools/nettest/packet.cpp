// SPDX-License-Identifier: GPL-2.0-only
// crab-nettest send / capture / pcap / script / json: packets built from a
// spec and sent through a raw socket (or, for what the kernel would fix,
// an AF_PACKET socket on a device), captured and printed as fields, read
// back from tcpdump's files, and counters read out of crabctl's JSON.
#include "args.hpp"
#include "nettest.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <dirent.h>
#include <sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace crab::nettest {

namespace {

double now_s()
{
	using namespace std::chrono;
	return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::vector<std::string> words_of(const std::string &line)
{
	std::istringstream is(line);
	std::vector<std::string> w;
	std::string x;
	while (is >> x)
		w.push_back(x);
	return w;
}

// The redirect option form decoded packets are walked with.
crab_opt_cfg opt_cfg_of(const Args &a, std::string &err)
{
	crab_opt_cfg cfg = CRAB_OPT_CFG_DEFAULT;
	if (a.has("opt-kind")) {
		auto k = parse_uint(a.get("opt-kind"), 255);
		if (!k || (*k != CRAB_OPT_KIND_DEFAULT && *k != CRAB_OPT_KIND_EXP))
			err = "--opt-kind takes 42 or 254";
		else
			cfg.kind = static_cast<__u8>(*k);
	}
	if (a.has("opt-exid")) {
		auto x = parse_uint(a.get("opt-exid"), 0xffff);
		if (!x)
			err = "--opt-exid takes 0-65535";
		else
			cfg.exid = static_cast<__u16>(*x);
	}
	return cfg;
}

// The source address the kernel would use towards @dst.
std::optional<uint32_t> route_src(uint32_t dst)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(9);
	sa.sin_addr.s_addr = htonl(dst);
	std::optional<uint32_t> r;
	if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0) {
		sockaddr_in la{};
		socklen_t l = sizeof(la);
		if (getsockname(fd, reinterpret_cast<sockaddr *>(&la), &l) == 0)
			r = ntohl(la.sin_addr.s_addr);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

// The MAC of @ip on @dev from the neighbour table, asking for it (a UDP
// datagram to the discard port makes the kernel resolve it) when missing.
std::optional<std::array<uint8_t, 6>> neigh_mac(uint32_t ip, const std::string &dev)
{
	const std::string want = ip_str(ip);
	for (int tries = 0; tries < 40; tries++) {
		std::ifstream f("/proc/net/arp");
		std::string line;
		std::getline(f, line); // header
		while (std::getline(f, line)) {
			std::istringstream is(line);
			std::string a, hw, flags, mac, mask, d;
			is >> a >> hw >> flags >> mac >> mask >> d;
			if (a != want || d != dev || flags == "0x0")
				continue;
			std::array<uint8_t, 6> m{};
			if (std::sscanf(mac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
					&m[5]) == 6)
				return m;
		}
		if (tries == 0) {
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			sockaddr_in sa{};
			sa.sin_family = AF_INET;
			sa.sin_port = htons(9);
			sa.sin_addr.s_addr = htonl(ip);
			if (fd >= 0) {
				setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(),
					   static_cast<socklen_t>(dev.size()));
				sendto(fd, "", 0, 0, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
				close(fd);
			}
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	return std::nullopt;
}

struct Sender {
	int raw = -1, pkt = -1;
	sockaddr_ll ll{};
	std::string until; // stop early once this file exists

	~Sender()
	{
		if (raw >= 0)
			close(raw);
		if (pkt >= 0)
			close(pkt);
	}
};

// Send the packets of one spec line: "dev=IF" (and "dmac=MAC" or "nh=IP")
// among @words selects an AF_PACKET socket on IF, else a raw IP socket
// (the kernel then fills in the IP checksum and total length itself).
// Returns an error message, or "" with @sent counted.
std::string send_words(std::vector<std::string> words, Sender &s, unsigned &sent)
{
	std::string dev, dmac, nh;
	std::vector<std::string> rest;
	for (const std::string &w : words) {
		if (w.rfind("dev=", 0) == 0)
			dev = w.substr(4);
		else if (w.rfind("dmac=", 0) == 0)
			dmac = w.substr(5);
		else if (w.rfind("nh=", 0) == 0)
			nh = w.substr(3);
		else
			rest.push_back(w);
	}
	PacketSpec spec;
	if (auto err = parse_spec(rest, spec))
		return *err;
	if (!spec.seg.daddr)
		return "dst= is required";
	if (!spec.have_src) {
		auto src = route_src(spec.seg.daddr);
		if (!src)
			return "no route to " + ip_str(spec.seg.daddr) + " (give src=)";
		spec.seg.saddr = *src;
	}
	// The raw socket fills in a zero IP id per packet: fragments of one
	// packet must share theirs.
	if (spec.frag && !spec.seg.ip_id)
		spec.seg.ip_id = static_cast<uint16_t>(0x4000 | (getpid() & 0x3fff));
	if (dev.empty() && (spec.seg.bad_ip_csum))
		return "ipcsum=bad needs dev= (a raw IP socket's checksum is the kernel's)";
	std::vector<Bytes> pkts = build_packets(spec);
	if (pkts.empty())
		return "frag= must be a multiple of 8 below the IP payload's length";
	if (!dev.empty()) {
		if (s.pkt < 0 && (s.pkt = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP))) < 0)
			return std::string("AF_PACKET socket: ") + std::strerror(errno);
		s.ll = sockaddr_ll{};
		s.ll.sll_family = AF_PACKET;
		s.ll.sll_protocol = htons(ETH_P_IP);
		s.ll.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
		if (!s.ll.sll_ifindex)
			return "no device " + dev;
		s.ll.sll_halen = 6;
		std::array<uint8_t, 6> m{};
		if (!dmac.empty()) {
			if (std::sscanf(dmac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
					&m[5]) != 6)
				return "bad dmac= '" + dmac + "'";
		} else {
			uint32_t hop = spec.seg.daddr;
			if (!nh.empty()) {
				auto h = parse_ip(nh);
				if (!h)
					return "bad nh= '" + nh + "'";
				hop = *h;
			}
			auto mm = neigh_mac(hop, dev);
			if (!mm)
				return "no neighbour entry for " + ip_str(hop) + " on " + dev + " (give dmac=)";
			m = *mm;
		}
		std::memcpy(s.ll.sll_addr, m.data(), 6);
	} else if (s.raw < 0 && (s.raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)) < 0) {
		return std::string("raw socket: ") + std::strerror(errno);
	}
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(spec.seg.daddr);
	struct stat st;
	for (size_t i = 0; i < pkts.size(); i++) {
		if (i && spec.inter > 0)
			std::this_thread::sleep_for(std::chrono::duration<double>(spec.inter));
		if (!s.until.empty() && stat(s.until.c_str(), &st) == 0)
			break;
		ssize_t r = dev.empty() ? sendto(s.raw, pkts[i].data(), pkts[i].size(), 0,
						 reinterpret_cast<sockaddr *>(&sa), sizeof(sa))
					: sendto(s.pkt, pkts[i].data(), pkts[i].size(), 0,
						 reinterpret_cast<sockaddr *>(&s.ll), sizeof(s.ll));
		if (r < 0) {
			// A full queue under a flood: wait a little and try once more.
			if (errno == ENOBUFS || errno == EAGAIN) {
				std::this_thread::sleep_for(std::chrono::milliseconds(5));
				i--;
				continue;
			}
			return std::string("sendto: ") + std::strerror(errno);
		}
		sent++;
	}
	return "";
}

// A capture socket: every IPv4 packet on @dev (all devices when empty),
// both directions.
int open_capture(const std::string &dev, std::string &err)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0) {
		err = std::string("AF_PACKET socket: ") + std::strerror(errno);
		return -1;
	}
	int buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) == 0 ||
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	sockaddr_ll ll{};
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ALL);
	if (!dev.empty() && !(ll.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str())))) {
		err = "no device " + dev;
		close(fd);
		return -1;
	}
	if (bind(fd, reinterpret_cast<sockaddr *>(&ll), sizeof(ll))) {
		err = std::string("bind: ") + std::strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

// The next IPv4 packet on @fd within @ms (-1: wait); false on timeout.
bool capture_next(int fd, int ms, const crab_opt_cfg &cfg, Decoded &d)
{
	static uint8_t buf[65536];
	double end = now_s() + ms / 1000.0;
	for (;;) {
		int left = ms < 0 ? -1 : static_cast<int>((end - now_s()) * 1000);
		if (ms >= 0 && left < 0)
			left = 0;
		pollfd p{fd, POLLIN, 0};
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			return false;
		if (r <= 0)
			return false;
		sockaddr_ll from{};
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr *>(&from), &fl);
		if (n <= 0 || from.sll_protocol != htons(ETH_P_IP))
			continue;
		d = decode_ipv4(buf, static_cast<size_t>(n), cfg);
		d.outgoing = from.sll_pkttype == PACKET_OUTGOING;
		return true;
	}
}

volatile sig_atomic_t g_stop = 0;

} // namespace

int cmd_send(const Args &a)
{
	Sender s;
	s.until = a.get("until");
	unsigned sent = 0;
	std::string err = send_words(a.pos, s, sent);
	if (!err.empty()) {
		std::fprintf(stderr, "crab-nettest send: %s\n", err.c_str());
		return 2;
	}
	if (a.has("verbose"))
		std::printf("sent %u\n", sent);
	return 0;
}

int cmd_capture(const Args &a)
{
	std::string err;
	crab_opt_cfg cfg = opt_cfg_of(a, err);
	Filter flt;
	if (auto e = parse_filter(a.pos, flt))
		err = *e;
	auto count = parse_uint(a.get("count", "0"), 1u << 30);
	char *end = nullptr;
	double timeout = std::strtod(a.get("timeout", "0").c_str(), &end);
	if (!count || *end || timeout < 0)
		err = "bad --count or --timeout";
	if (!err.empty()) {
		std::fprintf(stderr, "crab-nettest capture: %s\n", err.c_str());
		return 2;
	}
	int fd = open_capture(a.get("dev"), err);
	if (fd < 0) {
		std::fprintf(stderr, "crab-nettest capture: %s\n", err.c_str());
		return 1;
	}
	struct sigaction sa{};
	sa.sa_handler = [](int) { g_stop = 1; };
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	if (a.has("ready")) {
		int r = open(a.get("ready").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (r >= 0)
			close(r);
	}
	setvbuf(stdout, nullptr, _IOLBF, 0);
	const double stop_at = timeout > 0 ? now_s() + timeout : 0;
	uint64_t n = 0;
	while (!g_stop && (!*count || n < *count)) {
		int ms = stop_at ? static_cast<int>((stop_at - now_s()) * 1000) : 500;
		if (stop_at && ms <= 0)
			break;
		Decoded d;
		if (!capture_next(fd, stop_at ? ms : 500, cfg, d))
			continue;
		if (!flt.match(d))
			continue;
		n++;
		std::printf("%s\n", fields_line(d).c_str());
	}
	close(fd);
	return *count && n < *count ? 1 : 0;
}

int cmd_pcap(const Args &a)
{
	std::string err;
	crab_opt_cfg cfg = opt_cfg_of(a, err);
	Filter flt;
	if (auto e = parse_filter(words_of(a.get("filter")), flt))
		err = *e;
	std::optional<uint64_t> port;
	if (a.has("port") && !(port = parse_uint(a.get("port"), 65535)))
		err = "bad --port";
	if (a.pos.empty())
		err = "which files? ([LABEL=]FILE...)";
	if (!err.empty()) {
		std::fprintf(stderr, "crab-nettest pcap: %s\n", err.c_str());
		return 2;
	}
	const bool summary = a.has("summary");
	std::map<uint16_t, std::vector<std::string>> seen; // sport -> labels
	int rc = 0;
	for (const std::string &spec : a.pos) {
		auto eq = spec.find('=');
		std::string label = eq == std::string::npos ? spec : spec.substr(0, eq);
		std::string path = eq == std::string::npos ? spec : spec.substr(eq + 1);
		std::string e;
		auto pkts = read_pcap(path, e);
		if (!e.empty()) {
			std::fprintf(stderr, "crab-nettest pcap: %s\n", e.c_str());
			rc = 1;
		}
		LabelSummary s;
		for (const Bytes &p : pkts) {
			Decoded d = decode_ipv4(p.data(), p.size(), cfg);
			if (!d.tcp || (port && d.dport != *port) || !flt.match(d))
				continue;
			if (summary) {
				summary_add(s, d);
				auto &v = seen[d.sport];
				if (std::find(v.begin(), v.end(), label) == v.end())
					v.push_back(label);
			} else {
				std::printf("label=%s %s\n", label.c_str(), fields_line(d).c_str());
			}
		}
		if (summary)
			std::printf("%s\n", summary_line(label, s).c_str());
	}
	if (summary) {
		unsigned multi = 0;
		for (const auto &[p, v] : seen)
			multi += v.size() > 1;
		std::printf("sports total=%zu multi=%u\n", seen.size(), multi);
	}
	return rc;
}

// Commands, one a line (# comments):
//   capture [dev=IF] [tstamp]   start capturing (before the sends it watches);
//                               tstamp: with receive timestamps (turns on the
//                               kernel's stamping of every received packet)
//   send WORDS                  packets, as `crab-nettest send`
//   expect [count=N] [timeout=S] FILTER...
//                               N captured packets (default 1) match within S
//                               seconds (default 5): each printed as
//                               "match FIELDS"; count=0: none may match for
//                               the whole timeout. Matched packets are used up.
//   sleep S / print TEXT
// Exit 0 when every expect held, 1 otherwise, 2 on a bad line.
int cmd_script(const Args &a)
{
	std::string err;
	crab_opt_cfg cfg = opt_cfg_of(a, err);
	if (!err.empty()) {
		std::fprintf(stderr, "crab-nettest script: %s\n", err.c_str());
		return 2;
	}
	std::ifstream file;
	std::istream *in = &std::cin;
	if (!a.pos.empty() && a.pos[0] != "-") {
		file.open(a.pos[0]);
		if (!file) {
			std::fprintf(stderr, "crab-nettest script: cannot open %s\n", a.pos[0].c_str());
			return 2;
		}
		in = &file;
	}
	setvbuf(stdout, nullptr, _IOLBF, 0);
	Sender snd;
	int cap = -1, rc = 0, lineno = 0;
	std::deque<Decoded> queue;
	std::string line;
	auto fail = [&](const std::string &m) {
		std::fprintf(stderr, "crab-nettest script: line %d: %s\n", lineno, m.c_str());
		if (cap >= 0)
			close(cap);
		return 2;
	};
	while (std::getline(*in, line)) {
		lineno++;
		auto w = words_of(line);
		if (w.empty() || w[0][0] == '#')
			continue;
		const std::string cmd = w[0];
		w.erase(w.begin());
		if (cmd == "capture") {
			std::string dev;
			bool tstamp = false;
			for (const auto &x : w)
				if (x.rfind("dev=", 0) == 0)
					dev = x.substr(4);
				else if (x == "tstamp")
					tstamp = true;
				else
					return fail("capture takes dev=IF and tstamp only");
			if (cap >= 0)
				close(cap);
			queue.clear();
			if ((cap = open_capture(dev, err)) < 0)
				return fail(err);
			// A socket asking for receive timestamps makes the kernel
			// stamp every packet it receives, in every namespace.
			int one = 1;
			if (tstamp && setsockopt(cap, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))
				return fail(std::string("SO_TIMESTAMPNS: ") + std::strerror(errno));
		} else if (cmd == "send") {
			unsigned sent = 0;
			std::string e = send_words(w, snd, sent);
			if (!e.empty())
				return fail(e);
		} else if (cmd == "sleep") {
			char *end = nullptr;
			double s = w.size() == 1 ? std::strtod(w[0].c_str(), &end) : -1;
			if (s < 0 || (end && *end))
				return fail("sleep SECONDS");
			std::this_thread::sleep_for(std::chrono::duration<double>(s));
		} else if (cmd == "print") {
			std::printf("%s\n", line.substr(line.find("print") + 5 + (line.size() > line.find("print") + 5)).c_str());
		} else if (cmd == "expect") {
			if (cap < 0)
				return fail("expect before capture");
			uint64_t want = 1;
			double timeout = 5;
			std::vector<std::string> fw;
			for (const auto &x : w) {
				if (x.rfind("count=", 0) == 0) {
					auto n = parse_uint(x.substr(6), 1u << 20);
					if (!n)
						return fail("bad " + x);
					want = *n;
				} else if (x.rfind("timeout=", 0) == 0) {
					char *end = nullptr;
					timeout = std::strtod(x.c_str() + 8, &end);
					if (*end || timeout < 0)
						return fail("bad " + x);
				} else {
					fw.push_back(x);
				}
			}
			Filter flt;
			if (auto e = parse_filter(fw, flt))
				return fail(*e);
			uint64_t got = 0;
			const double end = now_s() + timeout;
			auto take = [&](const Decoded &d) {
				if (!flt.match(d))
					return false;
				got++;
				std::printf("%s %s\n", want ? "match" : "unexpected", fields_line(d).c_str());
				return true;
			};
			for (auto it = queue.begin(); it != queue.end() && (!want || got < want);)
				it = take(*it) ? queue.erase(it) : it + 1;
			while (!want || got < want) {
				int ms = static_cast<int>((end - now_s()) * 1000);
				if (ms <= 0)
					break;
				Decoded d;
				if (!capture_next(cap, ms, cfg, d))
					continue;
				if (!take(d))
					queue.push_back(d);
			}
			if (want ? got < want : got > 0) {
				std::printf("FAIL %s: %llu of %llu matched\n", line.c_str(),
					    static_cast<unsigned long long>(got), static_cast<unsigned long long>(want));
				rc = 1;
			} else {
				std::printf("ok %s\n", line.c_str());
			}
		} else {
			return fail("unknown command '" + cmd + "'");
		}
	}
	if (cap >= 0)
		close(cap);
	return rc;
}

// sysctl @NS KEY=VALUE... [@NS2 KEY=VALUE...]: net sysctls of several
// namespaces (/run/netns/NS) written by one process: it enters each in
// turn (setns), where /proc/sys/net is that namespace's.
int cmd_sysctl(const Args &a)
{
	int rc = 0;
	bool in_ns = false;
	for (const std::string &w : a.pos) {
		if (!w.empty() && w[0] == '@') {
			std::string path = "/run/netns/" + w.substr(1);
			int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET)) {
				std::fprintf(stderr, "crab-nettest sysctl: cannot enter %s: %s\n", path.c_str(),
					     std::strerror(errno));
				if (fd >= 0)
					close(fd);
				return 1;
			}
			close(fd);
			in_ns = true;
			continue;
		}
		auto eq = w.find('=');
		if (!in_ns || eq == std::string::npos || eq == 0 || w.find('/') != std::string::npos) {
			std::fprintf(stderr, "crab-nettest sysctl: expected @NS then KEY=VALUE, not '%s'\n", w.c_str());
			return 2;
		}
		std::string key = w.substr(0, eq), val = w.substr(eq + 1) + "\n";
		std::replace(key.begin(), key.end(), '.', '/');
		std::string path = "/proc/sys/" + key;
		int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, val.data(), val.size()) != static_cast<ssize_t>(val.size())) {
			std::fprintf(stderr, "crab-nettest sysctl: %s: %s\n", w.c_str(), std::strerror(errno));
			rc = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	return rc;
}

// anchor NS...: one process per namespace that sits in it until killed,
// so that /proc/PID/net is that namespace's (lib.sh reads counters there
// with shell builtins). Prints "NS PID" per namespace and returns; the
// processes hold nothing of the caller's (no output $(...) would wait on).
int cmd_anchor(const Args &a)
{
	for (const std::string &ns : a.pos) {
		std::string path = "/run/netns/" + ns;
		int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			std::fprintf(stderr, "crab-nettest anchor: %s: %s\n", path.c_str(), std::strerror(errno));
			return 1;
		}
		std::fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			std::perror("crab-nettest anchor: fork");
			return 1;
		}
		if (pid == 0) {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (setns(fd, CLONE_NEWNET))
				_exit(1);
			close(fd);
			signal(SIGTERM, SIG_DFL);
			for (;;)
				pause();
		}
		close(fd);
		std::printf("%s %d\n", ns.c_str(), pid);
	}
	return 0;
}

// reap NS...: SIGKILL every process whose network namespace is one of
// /run/netns/NS... (one scan of /proc: cleanup without an `ip netns pids`
// and a kill per namespace). Prints how many it killed.
int cmd_reap(const Args &a)
{
	std::vector<std::pair<dev_t, ino_t>> targets;
	for (const std::string &ns : a.pos) {
		struct stat st;
		if (stat(("/run/netns/" + ns).c_str(), &st) == 0)
			targets.emplace_back(st.st_dev, st.st_ino);
	}
	unsigned killed = 0;
	DIR *d = targets.empty() ? nullptr : opendir("/proc");
	for (dirent *e; d && (e = readdir(d));) {
		char *end = nullptr;
		long pid = std::strtol(e->d_name, &end, 10);
		if (!*e->d_name || *end || pid <= 1 || pid == getpid())
			continue;
		struct stat st;
		if (stat(("/proc/" + std::string(e->d_name) + "/ns/net").c_str(), &st))
			continue;
		for (const auto &t : targets)
			if (st.st_dev == t.first && st.st_ino == t.second && kill(static_cast<pid_t>(pid), SIGKILL) == 0) {
				killed++;
				break;
			}
	}
	if (d)
		closedir(d);
	if (a.has("verbose"))
		std::printf("killed %u\n", killed);
	return 0;
}

int cmd_json(const Args &a)
{
	std::string doc;
	if (a.has("file")) {
		std::ifstream f(a.get("file"));
		if (!f) {
			std::fprintf(stderr, "crab-nettest json: cannot open %s\n", a.get("file").c_str());
			return 2;
		}
		doc.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
	} else {
		doc.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
	}
	if (a.pos.empty()) {
		std::fprintf(stderr, "crab-nettest json: which PATH?\n");
		return 2;
	}
	int rc = 0;
	for (const std::string &p : a.pos) {
		std::string err;
		auto v = json_get(doc, p, err);
		if (!v) {
			std::fprintf(stderr, "crab-nettest json: %s\n", err.c_str());
			std::printf("-\n");
			rc = 1;
			continue;
		}
		std::printf("%s\n", v->c_str());
	}
	return rc;
}

} // namespace crab::nettest
