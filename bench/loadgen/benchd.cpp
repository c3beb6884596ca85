// SPDX-License-Identifier: GPL-2.0-only
//
// crab-benchd: the benchmark server. Reads requests of exactly --size bytes
// on any number of TCP connections and answers each with the same bytes
// (an echo, so the client can check what came back), optionally after a
// fixed service time. Prints "ready" once listening, a summary at exit.
//
//   default          --workers W threads, each a server of its own (accepts
//                    on its own SO_REUSEPORT socket); a request holds its
//                    worker for --service-us (sleep, then spin to the
//                    deadline), so W workers are W parallel servers.
//   --one-at-a-time  one server for all connections: complete requests
//                    join one FIFO queue in the order they were read, and
//                    exactly one is in service at a time. The service is a
//                    timer, so reading and accepting go on meanwhile and the
//                    queue order is the true arrival order.
#include "netutil.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

using namespace crab::bench;

namespace {

struct Options {
	Endpoint listen;
	size_t size = 8;
	uint64_t service_ns = 0;
	bool one_at_a_time = false;
	unsigned workers = 1;
};

void usage(FILE *f)
{
	std::fputs("usage: crab-benchd --listen IP:PORT [--size N] [--service-us U]\n"
		   "                   [--one-at-a-time] [--workers W]\n"
		   "  --listen IP:PORT  address to listen on (required)\n"
		   "  --size N          request and response size in bytes (default 8)\n"
		   "  --service-us U    fixed service time per request in microseconds (default 0)\n"
		   "  --one-at-a-time   one request in service at a time over all connections,\n"
		   "                    in arrival order (a single-server FIFO queue)\n"
		   "  --workers W       server threads, each its own server (default 1)\n"
		   "Prints 'ready' when listening; runs until SIGINT/SIGTERM.\n",
		   f);
}

Options parse(int argc, char **argv)
{
	Options o;
	bool have_listen = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto val = [&]() -> std::string {
			if (i + 1 >= argc)
				throw UsageError(a + ": missing value");
			return argv[++i];
		};
		if (a == "--listen") {
			o.listen = parse_endpoint(a, val());
			have_listen = true;
		} else if (a == "--size") {
			o.size = parse_u64(a, val(), 1, 1 << 20);
		} else if (a == "--service-us") {
			o.service_ns = parse_u64(a, val(), 0, 60000000) * 1000;
		} else if (a == "--one-at-a-time") {
			o.one_at_a_time = true;
		} else if (a == "--workers") {
			o.workers = static_cast<unsigned>(parse_u64(a, val(), 1, 256));
		} else if (a == "-h" || a == "--help") {
			usage(stdout);
			std::exit(0);
		} else {
			throw UsageError("unknown option '" + a + "'");
		}
	}
	if (!have_listen)
		throw UsageError("--listen: required");
	if (o.one_at_a_time && o.workers != 1)
		throw UsageError("--workers: must be 1 with --one-at-a-time (one server)");
	return o;
}

std::atomic<bool> g_stop{false};

struct Counters {
	std::atomic<uint64_t> served{0}, conns{0}, errors{0}, abandoned{0};
};

struct Conn {
	int fd = -1;
	uint64_t id = 0;
	std::vector<char> req;  // the request being read
	size_t have = 0;
	std::string out;        // response bytes not yet sent
	bool want_out = false;
};

// One event loop: a single server (one_at_a_time) or one worker.
class Server {
public:
	Server(const Options &o, int lfd, int stopfd, Counters &c) : o_(o), lfd_(lfd), stopfd_(stopfd), c_(c) {}
	void run();

private:
	void accept_all();
	void on_readable(Conn &cn);
	void on_request(Conn &cn);
	void respond(Conn &cn, const char *data);
	void flush(Conn &cn);
	void close_conn(uint64_t id);
	void serve_queue(uint64_t now);

	const Options &o_;
	int lfd_, stopfd_, ep_ = -1;
	Counters &c_;
	uint64_t next_id_ = 1;
	std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
	// one-at-a-time: waiting requests (connection id, bytes) and the one in
	// service, which finishes at busy_until_.
	std::deque<std::pair<uint64_t, std::string>> queue_;
	bool busy_ = false;
	uint64_t busy_until_ = 0;
};

void Server::run()
{
	ep_ = epoll_create1(EPOLL_CLOEXEC);
	epoll_event ev{};
	ev.events = EPOLLIN;
	ev.data.u64 = 0; // listener
	epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
	ev.data.u64 = UINT64_MAX; // stop
	epoll_ctl(ep_, EPOLL_CTL_ADD, stopfd_, &ev);
	epoll_event evs[256];
	constexpr uint64_t kSpin = 30000;
	while (!g_stop.load(std::memory_order_relaxed)) {
		timespec ts{1, 0}, *tp = &ts;
		if (busy_) {
			uint64_t now = now_ns();
			uint64_t left = busy_until_ > now ? busy_until_ - now : 0;
			// Sleep in epoll until just before the deadline, then poll.
			left = left > kSpin ? left - kSpin : 0;
			ts = {static_cast<time_t>(left / 1000000000ull), static_cast<long>(left % 1000000000ull)};
		}
		int n = epoll_pwait2(ep_, evs, 256, tp, nullptr);
		if (n < 0 && errno != EINTR) {
			std::perror("crab-benchd: epoll_pwait2");
			c_.errors++;
			return;
		}
		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64;
			if (id == UINT64_MAX)
				return;
			if (id == 0) {
				accept_all();
				continue;
			}
			auto it = conns_.find(id);
			if (it == conns_.end())
				continue;
			Conn &cn = *it->second;
			if (evs[i].events & EPOLLOUT)
				flush(cn);
			if (conns_.count(id) && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				on_readable(cn);
		}
		if (o_.one_at_a_time) {
			uint64_t now = now_ns();
			if (busy_ && busy_until_ > now && busy_until_ - now <= kSpin) {
				wait_until_ns(busy_until_, kSpin);
				now = now_ns();
			}
			serve_queue(now);
		}
	}
}

void Server::accept_all()
{
	for (;;) {
		int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNABORTED)
				continue;
			c_.errors++;
			static std::atomic<int> said{0};
			if (said++ < 5)
				std::fprintf(stderr, "crab-benchd: accept: %s\n", std::strerror(errno));
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		auto cn = std::make_unique<Conn>();
		cn->fd = fd;
		cn->id = next_id_++;
		cn->req.resize(o_.size);
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = cn->id;
		epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
		conns_.emplace(cn->id, std::move(cn));
		c_.conns++;
	}
}

void Server::on_readable(Conn &cn)
{
	uint64_t id = cn.id;
	char buf[65536];
	for (;;) {
		ssize_t r = recv(cn.fd, buf, sizeof(buf), 0);
		if (r == 0) { // the client closed: done with this connection
			close_conn(id);
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno != ECONNRESET)
				c_.errors++;
			close_conn(id);
			return;
		}
		for (ssize_t off = 0; off < r;) {
			size_t take = std::min(static_cast<size_t>(r - off), o_.size - cn.have);
			std::memcpy(cn.req.data() + cn.have, buf + off, take);
			cn.have += take;
			off += static_cast<ssize_t>(take);
			if (cn.have == o_.size) {
				cn.have = 0;
				on_request(cn);
				if (!conns_.count(id))
					return;
			}
		}
	}
}

void Server::on_request(Conn &cn)
{
	if (o_.one_at_a_time) {
		queue_.emplace_back(cn.id, std::string(cn.req.data(), o_.size));
		return;
	}
	if (o_.service_ns)
		wait_until_ns(now_ns() + o_.service_ns);
	respond(cn, cn.req.data());
}

void Server::serve_queue(uint64_t now)
{
	for (;;) {
		if (busy_) {
			if (now < busy_until_)
				return;
			auto &[id, data] = queue_.front();
			auto it = conns_.find(id);
			if (it != conns_.end())
				respond(*it->second, data.data());
			else
				c_.abandoned++; // the client left before its turn
			queue_.pop_front();
			busy_ = false;
		}
		if (queue_.empty())
			return;
		busy_ = true;
		busy_until_ = now + o_.service_ns;
	}
}

void Server::respond(Conn &cn, const char *data)
{
	c_.served++;
	cn.out.append(data, o_.size);
	flush(cn);
}

void Server::flush(Conn &cn)
{
	while (!cn.out.empty()) {
		ssize_t w = send(cn.fd, cn.out.data(), cn.out.size(), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno != ECONNRESET && errno != EPIPE)
				c_.errors++;
			close_conn(cn.id);
			return;
		}
		cn.out.erase(0, static_cast<size_t>(w));
	}
	bool want = !cn.out.empty();
	if (want != cn.want_out) {
		epoll_event ev{};
		ev.events = EPOLLIN | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
		ev.data.u64 = cn.id;
		epoll_ctl(ep_, EPOLL_CTL_MOD, cn.fd, &ev);
		cn.want_out = want;
	}
}

void Server::close_conn(uint64_t id)
{
	auto it = conns_.find(id);
	if (it == conns_.end())
		return;
	close(it->second->fd);
	conns_.erase(it);
}

int make_listener(const Options &o)
{
	int fd = socket(o.listen.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, o.listen.sa(), o.listen.len) < 0 || listen(fd, 4096) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	try {
		o = parse(argc, argv);
	} catch (const UsageError &e) {
		std::fprintf(stderr, "crab-benchd: error: %s\n", e.what());
		usage(stderr);
		return 2;
	}
	// Signals go to sigwait() below, never to the worker threads.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	std::signal(SIGPIPE, SIG_IGN);

	int stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	std::vector<int> lfds;
	for (unsigned w = 0; w < o.workers; w++) {
		int fd = make_listener(o);
		if (fd < 0) {
			std::fprintf(stderr, "crab-benchd: error: cannot listen on %s: %s\n",
				     endpoint_str(o.listen).c_str(), std::strerror(errno));
			return 1;
		}
		lfds.push_back(fd);
	}
	Counters c;
	std::vector<std::unique_ptr<Server>> servers;
	std::vector<std::thread> threads;
	for (int fd : lfds) {
		servers.push_back(std::make_unique<Server>(o, fd, stopfd, c));
		threads.emplace_back([s = servers.back().get()] { s->run(); });
	}
	std::printf("ready\n");
	std::fflush(stdout);

	int sig = 0;
	sigwait(&set, &sig);
	g_stop = true;
	uint64_t one = 1;
	if (write(stopfd, &one, sizeof(one)) < 0)
		std::perror("crab-benchd: eventfd");
	for (auto &t : threads)
		t.join();
	std::printf("crab-benchd: served %llu requests on %llu connections, %llu errors, "
		    "%llu abandoned in queue (signal %d)\n",
		    static_cast<unsigned long long>(c.served.load()),
		    static_cast<unsigned long long>(c.conns.load()),
		    static_cast<unsigned long long>(c.errors.load()),
		    static_cast<unsigned long long>(c.abandoned.load()), sig);
	std::fflush(stdout);
	return c.errors.load() ? 1 : 0;
}
