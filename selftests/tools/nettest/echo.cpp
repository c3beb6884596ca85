// SPDX-License-Identifier: GPL-2.0-only
// crab-nettest server / client: real TCP connections for the selftests.
//
// server: one process, one epoll loop, any number of ports; echoes what
// each connection sends until the peer closes (a connection idle for 120 s
// is closed). Counts the connections accepted (in total and per port) into
// files replaced whole, so a reader never sees half a number.
//
// client: N connections to ADDR:PORT, each sending random bytes and
// checking their echo; reports JSON {"errors", "failed", "ok", "peers"}
// with the peers taken from getpeername() after the handshake (the address
// a redirected socket was re-keyed to), the same report as the tool it
// replaced, so tests read it the same way.
#include "args.hpp"
#include "nettest.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
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

bool exists(const std::string &p)
{
	struct stat st;
	return !p.empty() && stat(p.c_str(), &st) == 0;
}

bool touch(const std::string &p)
{
	int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

// Replace @path whole with @text (write a temporary file, rename it).
bool write_file(const std::string &path, const std::string &text)
{
	std::string tmp = path + ".tmp";
	int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
	close(fd);
	return ok && rename(tmp.c_str(), path.c_str()) == 0;
}

std::string sa_str(const sockaddr_in &sa)
{
	return ip_str(ntohl(sa.sin_addr.s_addr)) + ":" + std::to_string(ntohs(sa.sin_port));
}

std::string json_str(const std::string &s)
{
	std::string o = "\"";
	for (char c : s) {
		if (c == '"' || c == '\\')
			o += '\\', o += c;
		else if (static_cast<unsigned char>(c) < 0x20)
			o += ' ';
		else
			o += c;
	}
	return o + "\"";
}

// ---- server ------------------------------------------------------------------

struct Conn {
	int fd;
	std::string pending; // echo bytes not yet written
	double last;
	bool eof = false;
};

} // namespace

int cmd_server(const Args &a)
{
	std::vector<uint16_t> ports;
	for (const std::string &v : a.all("port")) {
		size_t start = 0;
		while (start <= v.size()) {
			size_t c = v.find(',', start);
			std::string w = v.substr(start, c == std::string::npos ? std::string::npos : c - start);
			auto p = parse_uint(w, 65535);
			if (!p || *p == 0) {
				std::fprintf(stderr, "crab-nettest server: bad --port '%s'\n", w.c_str());
				return 2;
			}
			ports.push_back(static_cast<uint16_t>(*p));
			if (c == std::string::npos)
				break;
			start = c + 1;
		}
	}
	if (ports.empty()) {
		std::fprintf(stderr, "crab-nettest server: --port is required\n");
		return 2;
	}
	auto bind_ip = parse_ip(a.get("bind", "0.0.0.0"));
	if (!bind_ip) {
		std::fprintf(stderr, "crab-nettest server: bad --bind '%s'\n", a.get("bind").c_str());
		return 2;
	}
	const std::string accepted = a.get("accepted"), peers = a.get("peers");
	const double idle = 120;

	int ep = epoll_create1(EPOLL_CLOEXEC);
	std::unordered_map<int, uint16_t> listeners; // fd -> port
	for (uint16_t port : ports) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sockaddr_in sa{};
		sa.sin_family = AF_INET;
		sa.sin_port = htons(port);
		sa.sin_addr.s_addr = htonl(*bind_ip);
		if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) || listen(fd, 1024)) {
			std::fprintf(stderr, "crab-nettest server: cannot listen on %s:%u: %s\n",
				     ip_str(*bind_ip).c_str(), port, std::strerror(errno));
			return 1;
		}
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		listeners[fd] = port;
	}
	// Listening: the caller may go on (--daemon returns now, --ready exists).
	if (a.has("daemon")) {
		pid_t pid = fork();
		if (pid < 0) {
			std::perror("crab-nettest server: fork");
			return 1;
		}
		if (pid > 0) {
			std::printf("%d\n", pid);
			return 0;
		}
		// The child must not hold the caller's output open ($(...) waits
		// for its end).
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		std::string log = a.get("log");
		int out = log.empty() ? null : open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		dup2(null, 0);
		dup2(out < 0 ? null : out, 1);
		dup2(out < 0 ? null : out, 2);
	}
	if (a.has("ready") && !touch(a.get("ready"))) {
		std::fprintf(stderr, "crab-nettest server: cannot create %s\n", a.get("ready").c_str());
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	std::unordered_map<int, Conn> conns;
	std::map<uint16_t, unsigned long> per_port;
	unsigned long total = 0;
	FILE *pf = peers.empty() ? nullptr : std::fopen(peers.c_str(), "a");
	double next_sweep = now_s() + 5;
	std::vector<char> buf(65536);
	auto drop = [&](int fd) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
		close(fd);
		conns.erase(fd);
	};
	for (;;) {
		epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);
		double t = now_s();
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (auto l = listeners.find(fd); l != listeners.end()) {
				for (;;) {
					sockaddr_in peer{};
					socklen_t pl = sizeof(peer);
					int c = accept4(fd, reinterpret_cast<sockaddr *>(&peer), &pl,
							SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0)
						break;
					total++;
					per_port[l->second]++;
					if (!accepted.empty()) {
						write_file(accepted, std::to_string(total) + "\n");
						if (ports.size() > 1)
							write_file(accepted + "." + std::to_string(l->second),
								   std::to_string(per_port[l->second]) + "\n");
					}
					if (pf) {
						std::fprintf(pf, "accept port=%u peer=%s\n", l->second, sa_str(peer).c_str());
						std::fflush(pf);
					}
					epoll_event ev{};
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
					conns[c] = Conn{c, {}, t};
				}
				continue;
			}
			auto it = conns.find(fd);
			if (it == conns.end())
				continue;
			Conn &c = it->second;
			c.last = t;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				for (;;) {
					ssize_t r = read(fd, buf.data(), buf.size());
					if (r > 0) {
						c.pending.append(buf.data(), static_cast<size_t>(r));
						if (c.pending.size() > (1u << 22))
							break; // 4 MiB unsent: let the peer read first
						continue;
					}
					if (r == 0 || (errno != EAGAIN && errno != EINTR))
						c.eof = true;
					if (r < 0 && errno == EINTR)
						continue;
					break;
				}
			}
			while (!c.pending.empty()) {
				ssize_t w = write(fd, c.pending.data(), c.pending.size());
				if (w > 0) {
					c.pending.erase(0, static_cast<size_t>(w));
					continue;
				}
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0 && errno != EAGAIN)
					c.eof = true, c.pending.clear();
				break;
			}
			if (c.eof && c.pending.empty()) {
				drop(fd);
				continue;
			}
			epoll_event ev{};
			ev.events = (c.eof ? 0u : uint32_t(EPOLLIN)) | (c.pending.empty() ? 0u : uint32_t(EPOLLOUT));
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
		}
		if (t >= next_sweep) {
			next_sweep = t + 5;
			std::vector<int> idle_fds;
			for (auto &[fd, c] : conns)
				if (t - c.last > idle)
					idle_fds.push_back(fd);
			for (int fd : idle_fds)
				drop(fd);
		}
	}
}

// ---- client ------------------------------------------------------------------

namespace {

struct ClientOpts {
	uint32_t addr = 0, bind = 0;
	uint16_t port = 0;
	long count = 1;
	size_t size = 64;
	double timeout = 5, deadline = 300;
	bool hold = false;
	long rounds = 3;
	double interval = 1;
	std::string ready, stop_file, stop, until, report;
	double rate = 0;
	long parallel = 0; // 0: default (4 with --rate, else 1)
};

struct Result {
	std::mutex mu;
	long ok = 0, failed = 0;
	std::map<std::string, long> peers;
	std::vector<std::string> errors;
	double late = 0;
	FILE *report = nullptr;

	void err(const std::string &m)
	{
		failed++;
		if (errors.size() < 10)
			errors.push_back(m);
	}
};

thread_local std::mt19937_64 rng{std::random_device{}()};

// Send @size random bytes on @fd and read their echo; "" or what failed.
std::string exchange(int fd, size_t size)
{
	std::string data(size, '\0'), got(size, '\0');
	for (size_t i = 0; i < size; i += 8) {
		uint64_t r = rng();
		std::memcpy(&data[i], &r, std::min<size_t>(8, size - i));
	}
	size_t off = 0;
	while (off < size) {
		ssize_t w = send(fd, data.data() + off, size - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno);
		off += static_cast<size_t>(w);
	}
	off = 0;
	while (off < size) {
		ssize_t r = recv(fd, &got[off], size - off, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return "connection closed by peer during echo";
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno);
		off += static_cast<size_t>(r);
	}
	return got == data ? "" : "echo mismatch";
}

// One connection: connect (within the timeout), the echo check. Returns the
// socket (kept open) or -1; @peer is getpeername()'s address.
int connect_one(const ClientOpts &o, std::string &peer, std::string &peer_sa, std::string &local, std::string &err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = std::strerror(errno);
		return -1;
	}
	if (o.bind) {
		sockaddr_in b{};
		b.sin_family = AF_INET;
		b.sin_addr.s_addr = htonl(o.bind);
		if (bind(fd, reinterpret_cast<sockaddr *>(&b), sizeof(b))) {
			err = std::string("bind: ") + std::strerror(errno);
			close(fd);
			return -1;
		}
	}
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(o.port);
	sa.sin_addr.s_addr = htonl(o.addr);
	int r = connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
	if (r < 0 && errno != EINPROGRESS) {
		err = std::strerror(errno);
		close(fd);
		return -1;
	}
	if (r < 0) {
		pollfd p{fd, POLLOUT, 0};
		int ms = static_cast<int>(std::min(o.timeout * 1000, double(INT_MAX)));
		int pr;
		do
			pr = poll(&p, 1, ms);
		while (pr < 0 && errno == EINTR);
		if (pr == 0) {
			err = "timed out";
			close(fd);
			return -1;
		}
		int e = 0;
		socklen_t el = sizeof(e);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		if (e) {
			err = std::strerror(e);
			close(fd);
			return -1;
		}
	}
	sockaddr_in pa{}, la{};
	socklen_t pl = sizeof(pa), ll = sizeof(la);
	getpeername(fd, reinterpret_cast<sockaddr *>(&pa), &pl);
	getsockname(fd, reinterpret_cast<sockaddr *>(&la), &ll);
	peer = ip_str(ntohl(pa.sin_addr.s_addr));
	peer_sa = sa_str(pa);
	local = sa_str(la);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	timeval tv{};
	tv.tv_sec = static_cast<time_t>(o.timeout);
	tv.tv_usec = static_cast<suseconds_t>((o.timeout - static_cast<double>(tv.tv_sec)) * 1e6);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	err = exchange(fd, o.size);
	if (!err.empty()) {
		close(fd);
		return -1;
	}
	return fd;
}

// Connection @i: counted in @res; with @keep the socket goes to @held.
void one(const ClientOpts &o, Result &res, long i, bool keep, std::vector<std::pair<int, std::string>> *held)
{
	std::string peer, peer_sa, local, err;
	int fd = connect_one(o, peer, peer_sa, local, err);
	std::lock_guard<std::mutex> g(res.mu);
	if (res.report)
		std::fprintf(res.report, "conn %ld local=%s peer=%s %s%s\n", i, local.empty() ? "-" : local.c_str(),
			     peer_sa.empty() ? "-" : peer_sa.c_str(), fd < 0 ? "fail: " : "ok", fd < 0 ? err.c_str() : "");
	if (fd < 0) {
		res.err("conn " + std::to_string(i) + ": " + err);
		return;
	}
	res.peers[peer]++;
	if (keep) {
		held->emplace_back(fd, peer);
	} else {
		res.ok++;
		close(fd);
	}
}

// Connections [0, count): sequential, or by @threads workers taking the
// next index; all bounded by @deadline_at.
void run_batch(const ClientOpts &o, Result &res, long count, long threads, double deadline_at, bool keep,
	       std::vector<std::pair<int, std::string>> *held)
{
	if (threads <= 1) {
		for (long i = 0; i < count; i++) {
			if (now_s() > deadline_at) {
				std::lock_guard<std::mutex> g(res.mu);
				res.err("deadline reached after " + std::to_string(i) + " connections");
				res.failed += count - i - 1;
				return;
			}
			one(o, res, i, keep, held);
		}
		return;
	}
	std::atomic<long> next{0};
	std::vector<std::thread> ts;
	for (long k = 0; k < threads; k++)
		ts.emplace_back([&] {
			for (;;) {
				long i = next++;
				if (i >= count)
					return;
				if (now_s() > deadline_at) {
					std::lock_guard<std::mutex> g(res.mu);
					res.err("deadline reached before conn " + std::to_string(i));
					continue;
				}
				one(o, res, i, keep, held);
			}
		});
	for (auto &t : ts)
		t.join();
}

void sleep_s(double s)
{
	if (s > 0)
		std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

} // namespace

int cmd_client(const Args &a)
{
	ClientOpts o;
	auto bad = [](const char *what, const std::string &v) {
		std::fprintf(stderr, "crab-nettest client: bad %s '%s'\n", what, v.c_str());
		return 2;
	};
	auto num = [&](const char *k, double &out, double min) {
		if (!a.has(k))
			return true;
		char *end = nullptr;
		std::string v = a.get(k);
		double d = std::strtod(v.c_str(), &end);
		if (v.empty() || *end || d < min)
			return false;
		out = d;
		return true;
	};
	auto ip = parse_ip(a.get("addr"));
	if (!ip)
		return bad("--addr", a.get("addr"));
	o.addr = *ip;
	auto port = parse_uint(a.get("port"), 65535);
	if (!port || !*port)
		return bad("--port", a.get("port"));
	o.port = static_cast<uint16_t>(*port);
	if (a.has("bind")) {
		auto b = parse_ip(a.get("bind"));
		if (!b)
			return bad("--bind", a.get("bind"));
		o.bind = *b;
	}
	double count = 1, size = 64, rounds = 3, parallel = 0;
	if (!num("count", count, 0))
		return bad("--count", a.get("count"));
	if (!num("size", size, 1) || size > (1 << 24))
		return bad("--size", a.get("size"));
	if (!num("timeout", o.timeout, 0.001))
		return bad("--timeout", a.get("timeout"));
	if (!num("deadline", o.deadline, 0))
		return bad("--deadline", a.get("deadline"));
	if (!num("rounds", rounds, 0))
		return bad("--rounds", a.get("rounds"));
	if (!num("interval", o.interval, 0))
		return bad("--interval", a.get("interval"));
	if (!num("rate", o.rate, 0))
		return bad("--rate", a.get("rate"));
	if (!num("parallel", parallel, 1))
		return bad("--parallel", a.get("parallel"));
	o.count = static_cast<long>(count);
	o.size = static_cast<size_t>(size);
	o.rounds = static_cast<long>(rounds);
	o.parallel = static_cast<long>(parallel);
	o.hold = a.has("hold");
	o.ready = a.get("ready");
	o.stop_file = a.get("stop-file");
	o.stop = a.get("stop");
	o.until = a.get("until");
	o.report = a.get("report");
	if (o.hold && (o.rate > 0 || !o.until.empty())) {
		std::fprintf(stderr, "crab-nettest client: --hold goes with neither --rate nor --until\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	Result res;
	if (!o.report.empty() && !(res.report = std::fopen(o.report.c_str(), "a"))) {
		std::fprintf(stderr, "crab-nettest client: cannot open %s\n", o.report.c_str());
		return 2;
	}
	const double start = now_s(), deadline_at = start + o.deadline;
	std::string extra;
	if (o.rate > 0) {
		long threads = o.parallel ? o.parallel : 4;
		std::atomic<long> next{0};
		std::vector<std::thread> ts;
		for (long k = 0; k < threads; k++)
			ts.emplace_back([&] {
				for (;;) {
					// --until: no new connection once the file exists.
					if (!o.until.empty() && exists(o.until))
						return;
					long i = next++;
					if (i >= o.count)
						return;
					double t = now_s();
					if (t > deadline_at) {
						std::lock_guard<std::mutex> g(res.mu);
						res.err("deadline reached before conn " + std::to_string(i));
						continue;
					}
					double at = start + static_cast<double>(i) / o.rate;
					if (at > t) {
						sleep_s(at - t);
					} else {
						std::lock_guard<std::mutex> g(res.mu);
						res.late = std::max(res.late, t - at);
					}
					one(o, res, i, false, nullptr);
				}
			});
		for (auto &t : ts)
			t.join();
		char b[96];
		std::snprintf(b, sizeof(b), ", \"late\": %.3f", res.late);
		extra += b;
	} else if (!o.until.empty()) {
		// Rounds of --count connections until the file exists.
		long batches = 0;
		while (!exists(o.until) && now_s() <= deadline_at) {
			run_batch(o, res, o.count, o.parallel, deadline_at, false, nullptr);
			batches++;
		}
		extra += ", \"batches\": " + std::to_string(batches);
	} else {
		std::vector<std::pair<int, std::string>> held;
		run_batch(o, res, o.count, o.parallel, deadline_at, o.hold, &held);
		if (o.hold) {
			if (!o.ready.empty())
				touch(o.ready);
			long r = 0;
			for (r = 0; r < o.rounds; r++) {
				if (exists(o.stop_file))
					break;
				bool last = exists(o.stop);
				sleep_s(o.interval);
				std::vector<std::pair<int, std::string>> still;
				for (auto &[fd, peer] : held) {
					std::string e = exchange(fd, o.size);
					if (e.empty()) {
						still.emplace_back(fd, peer);
						continue;
					}
					res.err("round " + std::to_string(r) + " to " + peer + ": " + e);
					close(fd);
				}
				held.swap(still);
				if (last)
					break;
			}
			// As before: the round in which the loop ended counts.
			extra += ", \"rounds\": " + std::to_string(o.rounds ? std::min(r + 1, o.rounds) : 0);
			res.ok += static_cast<long>(held.size());
			for (auto &h : held)
				close(h.first);
		}
	}
	if (res.report)
		std::fclose(res.report);
	// Keys in sorted order, as the JSON of the earlier Python tool.
	std::string errs;
	for (const std::string &e : res.errors)
		errs += (errs.empty() ? "" : ", ") + json_str(e);
	std::string peers;
	for (const auto &[p, n] : res.peers)
		peers += (peers.empty() ? "" : ", ") + json_str(p) + ": " + std::to_string(n);
	char secs[64];
	std::snprintf(secs, sizeof(secs), "%.3f", now_s() - start);
	std::string batches, late, rounds_s;
	// extra holds ", \"key\": value" items; place them in key order.
	auto take = [&](const std::string &key) {
		auto p = extra.find("\"" + key + "\"");
		if (p == std::string::npos)
			return std::string();
		auto e = extra.find(", \"", p);
		return extra.substr(p, e == std::string::npos ? std::string::npos : e - p);
	};
	std::string out = "{";
	if (auto b = take("batches"); !b.empty())
		out += b + ", ";
	out += "\"errors\": [" + errs + "], \"failed\": " + std::to_string(res.failed);
	if (auto l = take("late"); !l.empty())
		out += ", " + l;
	out += ", \"ok\": " + std::to_string(res.ok) + ", \"peers\": {" + peers + "}";
	if (auto r = take("rounds"); !r.empty())
		out += ", " + r;
	if (o.rate > 0)
		out += std::string(", \"seconds\": ") + secs;
	out += "}";
	std::printf("%s\n", out.c_str());
	return res.failed == 0 ? 0 : 1;
}

} // namespace crab::nettest
