// SPDX-License-Identifier: GPL-2.0-only
//
// crab-loadgen: latency of TCP request/response through a load balancer.
//   crr      closed loop: per sample connect, send, read, close; latency from
//            connect start to the last response byte.
//   rr       closed loop: one connection, request/response repeated.
//   poisson  open loop: a new connection per request, sent at times drawn in
//            advance from an exponential inter-arrival distribution (seeded);
//            latency counted from the *scheduled* send time, so a stall shows
//            up in the latencies instead of slowing the sender (coordinated
//            omission). Many requests in flight at once (epoll).
// bench/loadgen/README.md describes the output and the checks.
#include "netutil.hpp"
#include "stats.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

using namespace crab::bench;
using json = nlohmann::json;

namespace {

enum class Mode { crr, rr, poisson };

struct Options {
	Endpoint target;
	std::string target_str;
	Mode mode = Mode::crr;
	std::string mode_str;
	size_t size = 8;
	uint64_t samples = 0;       // 0: --duration decides
	double duration_s = 0;
	uint64_t warmup = 0;
	std::string out, hist;
	std::optional<Endpoint> bind;
	double rate = 0;
	uint64_t seed = 1;
	size_t conns_max = 4096;
	uint64_t timeout_ns = 3000000000ull;
	double max_error_frac = 0.01;
	int adf_lags = -1;
	bool linger0 = false;
	uint64_t requests = 1; // crr: requests per connection
};

void usage(FILE *f)
{
	std::fputs(
		"usage: crab-loadgen --target IP:PORT --mode crr|rr [--size N]\n"
		"                    (--samples N | --duration SEC) [--warmup N] [--out FILE.json]\n"
		"                    [--hist FILE.csv] [--bind IP]\n"
		"       crab-loadgen --target IP:PORT --mode poisson --rate R\n"
		"                    (--samples N | --duration SEC) [--seed S] [--conns-max K] ...\n"
		"  --target IP:PORT     server (crab-benchd, or an LB's VIP in front of it)\n"
		"  --mode M             crr: connect+request+response+close per sample (closed loop)\n"
		"                       rr: request/response on one connection (closed loop)\n"
		"                       poisson: open loop, Poisson arrivals, a connection per request\n"
		"  --size N             request and response bytes (default 8)\n"
		"  --samples N          latency samples to keep (after the warm-up)\n"
		"  --duration SEC       or: run this long (warm-up included)\n"
		"  --warmup N           discard the first N samples (default 0)\n"
		"  --requests K         crr: K requests one after the other on each connection\n"
		"                       (default 1); a sample is the whole connection\n"
		"  --rate R             poisson: offered requests per second\n"
		"  --seed S             poisson: seed of the arrival schedule (default 1)\n"
		"  --conns-max K        poisson: connections in flight at most (default 4096);\n"
		"                       a request due when K are in flight is counted as dropped\n"
		"  --timeout-ms T       per request (default 3000)\n"
		"  --max-error-frac F   exit 1 above this fraction of failed requests (default 0.01)\n"
		"  --adf-lags L         lags of the ADF test (default min(8, cbrt(n)))\n"
		"  --linger0            close with RST (SO_LINGER 0): no TIME_WAIT on the client\n"
		"  --bind IP            source address of the connections\n"
		"  --out FILE.json      results as JSON;  --hist FILE.csv  the latency histogram\n"
		"Exit: 0 ok, 1 runtime failure (target unreachable, too many errors), 2 usage.\n",
		f);
}

Options parse(int argc, char **argv)
{
	Options o;
	bool have_target = false, have_mode = false, have_rate = false;
	bool have_samples = false, have_duration = false, have_requests = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto val = [&]() -> std::string {
			if (i + 1 >= argc)
				throw UsageError(a + ": missing value");
			return argv[++i];
		};
		if (a == "--target") {
			o.target_str = val();
			o.target = parse_endpoint(a, o.target_str);
			have_target = true;
		} else if (a == "--mode") {
			o.mode_str = val();
			if (o.mode_str == "crr")
				o.mode = Mode::crr;
			else if (o.mode_str == "rr")
				o.mode = Mode::rr;
			else if (o.mode_str == "poisson")
				o.mode = Mode::poisson;
			else
				throw UsageError("--mode: '" + o.mode_str + "' is not crr, rr or poisson");
			have_mode = true;
		} else if (a == "--size") {
			o.size = parse_u64(a, val(), 1, 1 << 20);
		} else if (a == "--samples") {
			o.samples = parse_u64(a, val(), 1, 1000000000ull);
			have_samples = true;
		} else if (a == "--duration") {
			o.duration_s = parse_double(a, val(), 0.001, 86400);
			have_duration = true;
		} else if (a == "--warmup") {
			o.warmup = parse_u64(a, val(), 0, 1000000000ull);
		} else if (a == "--out") {
			o.out = val();
		} else if (a == "--hist") {
			o.hist = val();
		} else if (a == "--bind") {
			o.bind = parse_endpoint(a, val(), true);
		} else if (a == "--rate") {
			o.rate = parse_double(a, val(), 0.001, 1e7);
			have_rate = true;
		} else if (a == "--seed") {
			o.seed = parse_u64(a, val(), 0, UINT64_MAX);
		} else if (a == "--conns-max") {
			o.conns_max = parse_u64(a, val(), 1, 1000000);
		} else if (a == "--timeout-ms") {
			o.timeout_ns = parse_u64(a, val(), 1, 3600000) * 1000000ull;
		} else if (a == "--max-error-frac") {
			o.max_error_frac = parse_double(a, val(), 0, 1);
		} else if (a == "--adf-lags") {
			o.adf_lags = static_cast<int>(parse_u64(a, val(), 0, 100));
		} else if (a == "--requests") {
			o.requests = parse_u64(a, val(), 1, 1000000);
			have_requests = true;
		} else if (a == "--linger0") {
			o.linger0 = true;
		} else if (a == "-h" || a == "--help") {
			usage(stdout);
			std::exit(0);
		} else {
			throw UsageError("unknown option '" + a + "'");
		}
	}
	if (!have_target)
		throw UsageError("--target: required");
	if (!have_mode)
		throw UsageError("--mode: required (crr, rr or poisson)");
	if (have_samples == have_duration)
		throw UsageError("--samples/--duration: give exactly one of them");
	if (o.mode == Mode::poisson && !have_rate)
		throw UsageError("--rate: required with --mode poisson");
	if (o.mode != Mode::poisson && have_rate)
		throw UsageError("--rate: only with --mode poisson (crr and rr are closed loop)");
	if (have_requests && o.mode != Mode::crr)
		throw UsageError("--requests: only with --mode crr");
	if (o.bind && o.bind->family() != o.target.family())
		throw UsageError("--bind: address family differs from --target");
	return o;
}

volatile std::sig_atomic_t g_interrupted = 0;

// ---- one request ------------------------------------------------------------------

// Failure kinds, named in the JSON "errors" object.
std::string errno_kind(int e)
{
	switch (e) {
	case ECONNREFUSED: return "refused";
	case ECONNRESET: return "reset";
	case ETIMEDOUT: return "timeout";
	case EHOSTUNREACH:
	case ENETUNREACH: return "unreachable";
	case EADDRNOTAVAIL:
	case EADDRINUSE: return "no_local_port";
	case EMFILE:
	case ENFILE: return "no_fd";
	default: return std::string("errno_") + std::to_string(e);
	}
}

struct Run {
	std::vector<uint64_t> lat;      // per request in schedule/issue order; kFailed if it failed
	std::vector<uint64_t> send_at;  // poisson: actual connect time per request (0: not sent)
	std::vector<uint64_t> sched;    // poisson: scheduled send time per request
	std::map<std::string, uint64_t> errors;
	uint64_t attempts = 0;
	uint64_t t_first = 0, t_last = 0; // first start, last completion
	bool aborted = false;
	std::string abort_reason;
};
constexpr uint64_t kFailed = UINT64_MAX;

void fill_request(std::vector<char> &buf, uint64_t seq)
{
	// The sequence number makes every request distinct: an answer to another
	// request (or stale bytes) is caught as a mismatch.
	for (size_t i = 0; i < buf.size(); i++)
		buf[i] = static_cast<char>((seq >> (8 * (i % 8))) ^ (i / 8));
}

int open_socket(const Options &o, std::string &err)
{
	int fd = socket(o.target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno_kind(errno);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o.linger0) {
		linger l{1, 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (o.bind) {
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, o.bind->sa(), o.bind->len) < 0) {
			err = "bind_" + errno_kind(errno);
			close(fd);
			return -1;
		}
	}
	return fd;
}

// Wait for ev on fd until deadline; "" when ready, else the error kind.
std::string wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline)
			return "timeout";
		pollfd p{fd, ev, 0};
		timespec ts{static_cast<time_t>((deadline - now) / 1000000000ull),
			    static_cast<long>((deadline - now) % 1000000000ull)};
		int r = ppoll(&p, 1, &ts, nullptr);
		if (r > 0)
			return "";
		if (r < 0 && errno != EINTR)
			return errno_kind(errno);
		if (g_interrupted)
			return "interrupted";
	}
}

std::string do_connect(int fd, const Options &o, uint64_t deadline)
{
	if (connect(fd, o.target.sa(), o.target.len) == 0)
		return "";
	if (errno != EINPROGRESS)
		return errno_kind(errno);
	if (auto e = wait_fd(fd, POLLOUT, deadline); !e.empty())
		return e;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	return soerr ? errno_kind(soerr) : "";
}

// Closed loop: after the connect, make fd blocking with the per-request
// timeout as SO_SNDTIMEO/SO_RCVTIMEO, so one request is a send() and (for
// small messages) one recv() — no poll() in the timed path.
void make_blocking(int fd, uint64_t timeout_ns)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	timeval tv{static_cast<time_t>(timeout_ns / 1000000000ull),
		   static_cast<suseconds_t>((timeout_ns % 1000000000ull) / 1000)};
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1; // 0 would mean "no timeout"
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Send req and read as many bytes back; "" on success. On a blocking socket
// (make_blocking) EAGAIN means the socket timeout expired.
std::string exchange(int fd, const std::vector<char> &req, std::vector<char> &resp, uint64_t deadline)
{
	size_t off = 0;
	while (off < req.size()) {
		ssize_t w = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += static_cast<size_t>(w);
		} else if (errno == EAGAIN) {
			if (auto e = wait_fd(fd, POLLOUT, deadline); !e.empty())
				return e;
		} else if (errno == EINTR && g_interrupted) {
			return "interrupted";
		} else if (errno != EINTR) {
			return errno_kind(errno);
		}
	}
	size_t got = 0;
	while (got < resp.size()) {
		ssize_t r = recv(fd, resp.data() + got, resp.size() - got, 0);
		if (r > 0) {
			got += static_cast<size_t>(r);
		} else if (r == 0) {
			return "eof";
		} else if (errno == EAGAIN) {
			if (auto e = wait_fd(fd, POLLIN, deadline); !e.empty())
				return e;
		} else if (errno == EINTR && g_interrupted) {
			return "interrupted";
		} else if (errno != EINTR) {
			return errno_kind(errno);
		}
	}
	return std::memcmp(req.data(), resp.data(), req.size()) ? "mismatch" : "";
}

// ---- closed loop --------------------------------------------------------------------

bool keep_going(const Options &o, const Run &run, uint64_t ok, uint64_t t_end)
{
	if (g_interrupted || run.aborted)
		return false;
	if (o.samples)
		return ok < o.warmup + o.samples;
	return now_ns() < t_end;
}

// Too many failures in a row with nothing working: give up early instead of
// hammering an unreachable target for the whole run.
bool check_abort(Run &run, uint64_t ok, uint64_t fails_in_row, const std::string &last)
{
	if ((ok == 0 && fails_in_row >= 100) || fails_in_row >= 1000) {
		run.aborted = true;
		run.abort_reason = std::to_string(fails_in_row) + " requests in a row failed (last: " + last + ")";
		return true;
	}
	return false;
}

// One closed-loop sample: its latency when @err is empty, else a failure of
// that kind. Returns true when the run must stop (check_abort).
bool record_sample(Run &run, uint64_t &ok, uint64_t &row, uint64_t t0, uint64_t t1, const std::string &err)
{
	if (err.empty()) {
		run.lat.push_back(t1 - t0);
		run.t_last = t1;
		ok++;
		row = 0;
		return false;
	}
	run.errors[err]++;
	run.lat.push_back(kFailed);
	return check_abort(run, ok, ++row, err);
}

void run_crr(const Options &o, Run &run)
{
	std::vector<char> req(o.size), resp(o.size);
	uint64_t ok = 0, row = 0;
	uint64_t t_end = now_ns() + static_cast<uint64_t>(o.duration_s * 1e9);
	run.t_first = now_ns();
	for (uint64_t seq = 0; keep_going(o, run, ok, t_end); seq++) {
		fill_request(req, seq);
		run.attempts++;
		std::string err;
		uint64_t t0 = now_ns(), t1 = t0;
		int fd = open_socket(o, err);
		if (fd >= 0) {
			uint64_t deadline = t0 + o.timeout_ns;
			err = do_connect(fd, o, deadline);
			if (err.empty()) {
				make_blocking(fd, deadline - std::min(deadline - 1, now_ns()));
				for (uint64_t k = 0; k < o.requests && err.empty(); k++) {
					if (k)
						fill_request(req, seq * o.requests + k);
					err = exchange(fd, req, resp, deadline);
				}
			}
			t1 = now_ns();
			close(fd);
		}
		if (record_sample(run, ok, row, t0, t1, err))
			return;
	}
}

void run_rr(const Options &o, Run &run)
{
	std::vector<char> req(o.size), resp(o.size);
	uint64_t ok = 0, row = 0;
	uint64_t t_end = now_ns() + static_cast<uint64_t>(o.duration_s * 1e9);
	int fd = -1;
	run.t_first = now_ns();
	for (uint64_t seq = 0; keep_going(o, run, ok, t_end); seq++) {
		std::string err;
		if (fd < 0) { // first connection, or a new one after a failure
			fd = open_socket(o, err);
			if (fd >= 0)
				err = do_connect(fd, o, now_ns() + o.timeout_ns);
			if (fd >= 0 && err.empty())
				make_blocking(fd, o.timeout_ns);
			if (!err.empty()) {
				if (fd >= 0)
					close(fd);
				fd = -1;
				run.attempts++;
				run.errors["connect_" + err]++;
				run.lat.push_back(kFailed);
				if (check_abort(run, ok, ++row, "connect_" + err) || ok == 0) {
					run.aborted = true;
					run.abort_reason = "cannot connect to " + o.target_str + ": " + err;
					return;
				}
				continue;
			}
		}
		fill_request(req, seq);
		run.attempts++;
		uint64_t t0 = now_ns();
		err = exchange(fd, req, resp, t0 + o.timeout_ns);
		uint64_t t1 = now_ns();
		if (!err.empty()) { // a new connection for the next request
			close(fd);
			fd = -1;
		}
		if (record_sample(run, ok, row, t0, t1, err))
			return;
	}
	if (fd >= 0)
		close(fd);
}

// ---- open loop ------------------------------------------------------------------------

struct Slot {
	int fd = -1;
	uint32_t gen = 0;
	uint64_t idx = 0;     // request number
	uint64_t sched = 0;   // scheduled send time
	bool connected = false;
	size_t got = 0;
	std::vector<char> req, resp;
};

class OpenLoop {
public:
	OpenLoop(const Options &o, Run &run) : o_(o), run_(run), slots_(o.conns_max) {}
	void run();

private:
	void launch(uint64_t idx, uint64_t sched);
	void on_event(size_t s, uint32_t events);
	void finish(size_t s, const std::string &err);

	const Options &o_;
	Run &run_;
	int ep_ = -1;
	std::vector<Slot> slots_;
	std::vector<size_t> free_;
	std::deque<std::tuple<uint64_t, size_t, uint32_t>> timeouts_; // deadline order
	size_t active_ = 0;
	uint64_t ok_ = 0, row_ = 0;
};

void OpenLoop::run()
{
	ep_ = epoll_create1(EPOLL_CLOEXEC);
	for (size_t i = slots_.size(); i-- > 0;)
		free_.push_back(i);
	std::mt19937_64 rng(o_.seed);
	std::exponential_distribution<double> gap(o_.rate); // seconds
	uint64_t total = o_.samples ? o_.warmup + o_.samples : UINT64_MAX;
	uint64_t t0 = now_ns() + 1000000; // 1 ms to settle
	uint64_t t_stop = o_.samples ? UINT64_MAX : t0 + static_cast<uint64_t>(o_.duration_s * 1e9);
	// The schedule is a function of the seed alone: sched(i+1) = sched(i) +
	// Exp(rate), drawn as the run goes but never looking at the responses.
	double sched_f = static_cast<double>(t0) + gap(rng) * 1e9;
	uint64_t idx = 0;
	constexpr uint64_t kSpin = 50000;
	epoll_event evs[512];
	run_.t_first = t0;
	for (;;) {
		uint64_t now = now_ns();
		bool more = idx < total && static_cast<uint64_t>(sched_f) < t_stop && !g_interrupted && !run_.aborted;
		while (more && static_cast<uint64_t>(sched_f) <= now) {
			launch(idx++, static_cast<uint64_t>(sched_f));
			sched_f += gap(rng) * 1e9;
			more = idx < total && static_cast<uint64_t>(sched_f) < t_stop && !g_interrupted && !run_.aborted;
		}
		if (!more && active_ == 0)
			break;
		now = now_ns();
		while (!timeouts_.empty() && std::get<0>(timeouts_.front()) <= now) {
			auto [dl, s, gen] = timeouts_.front();
			timeouts_.pop_front();
			if (slots_[s].fd >= 0 && slots_[s].gen == gen)
				finish(s, "timeout");
		}
		// Sleep in epoll until shortly before the next send, then poll.
		uint64_t wait = 10000000;
		if (more) {
			uint64_t next = static_cast<uint64_t>(sched_f);
			wait = next > now + kSpin ? next - now - kSpin : 0;
		}
		if (!timeouts_.empty()) {
			uint64_t dl = std::get<0>(timeouts_.front());
			wait = std::min(wait, dl > now ? dl - now : 0);
		}
		timespec ts{static_cast<time_t>(wait / 1000000000ull), static_cast<long>(wait % 1000000000ull)};
		int n = epoll_pwait2(ep_, evs, 512, &ts, nullptr);
		if (n < 0 && errno != EINTR) {
			run_.aborted = true;
			run_.abort_reason = std::string("epoll_pwait2: ") + std::strerror(errno);
			break;
		}
		for (int i = 0; i < n; i++) {
			size_t s = evs[i].data.u64 & 0xffffffffu;
			auto gen = static_cast<uint32_t>(evs[i].data.u64 >> 32);
			if (slots_[s].fd >= 0 && slots_[s].gen == gen)
				on_event(s, evs[i].events);
		}
	}
	for (auto &sl : slots_)
		if (sl.fd >= 0)
			close(sl.fd);
	close(ep_);
}

void OpenLoop::launch(uint64_t idx, uint64_t sched)
{
	run_.attempts++;
	run_.lat.push_back(kFailed);
	run_.send_at.push_back(0);
	run_.sched.push_back(sched);
	if (free_.empty()) {
		run_.errors["dropped"]++;
		return;
	}
	size_t s = free_.back();
	Slot &sl = slots_[s];
	std::string err;
	uint64_t t = now_ns();
	int fd = open_socket(o_, err);
	if (fd < 0) {
		run_.errors[err]++;
		check_abort(run_, ok_, ++row_, err);
		return;
	}
	run_.send_at[idx] = t;
	if (connect(fd, o_.target.sa(), o_.target.len) < 0 && errno != EINPROGRESS) {
		err = errno_kind(errno);
		close(fd);
		run_.errors[err]++;
		check_abort(run_, ok_, ++row_, err);
		return;
	}
	free_.pop_back();
	sl.fd = fd;
	sl.gen++;
	sl.idx = idx;
	sl.sched = sched;
	sl.connected = false;
	sl.got = 0;
	sl.req.resize(o_.size);
	sl.resp.resize(o_.size);
	fill_request(sl.req, idx);
	epoll_event ev{};
	ev.events = EPOLLOUT;
	ev.data.u64 = (static_cast<uint64_t>(sl.gen) << 32) | s;
	epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
	timeouts_.emplace_back(t + o_.timeout_ns, s, sl.gen);
	active_++;
}

void OpenLoop::on_event(size_t s, uint32_t events)
{
	Slot &sl = slots_[s];
	if (!sl.connected) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		getsockopt(sl.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr) {
			finish(s, errno_kind(soerr));
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		sl.connected = true;
		// One small request: it fits the empty send buffer of a new socket.
		ssize_t w = send(sl.fd, sl.req.data(), sl.req.size(), MSG_NOSIGNAL);
		if (w != static_cast<ssize_t>(sl.req.size())) {
			finish(s, w < 0 ? errno_kind(errno) : "short_send");
			return;
		}
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = (static_cast<uint64_t>(sl.gen) << 32) | s;
		epoll_ctl(ep_, EPOLL_CTL_MOD, sl.fd, &ev);
		return;
	}
	for (;;) {
		ssize_t r = recv(sl.fd, sl.resp.data() + sl.got, sl.resp.size() - sl.got, 0);
		if (r > 0) {
			sl.got += static_cast<size_t>(r);
			if (sl.got == sl.resp.size()) {
				finish(s, std::memcmp(sl.req.data(), sl.resp.data(), sl.req.size()) ? "mismatch" : "");
				return;
			}
		} else if (r == 0) {
			finish(s, "eof");
			return;
		} else if (errno == EAGAIN) {
			return;
		} else if (errno != EINTR) {
			finish(s, errno_kind(errno));
			return;
		}
	}
}

void OpenLoop::finish(size_t s, const std::string &err)
{
	Slot &sl = slots_[s];
	uint64_t now = now_ns();
	close(sl.fd);
	sl.fd = -1;
	free_.push_back(s);
	active_--;
	if (err.empty()) {
		run_.lat[sl.idx] = now - sl.sched; // from the scheduled send time
		run_.t_last = std::max(run_.t_last, now);
		ok_++;
		row_ = 0;
	} else {
		run_.errors[err]++;
		check_abort(run_, ok_, ++row_, err);
	}
}

// ---- report ---------------------------------------------------------------------------

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

json num_or_null(bool ok, double v) { return ok ? json(v) : json(nullptr); }

int report(const Options &o, Run &run)
{
	size_t warm = std::min<size_t>(o.warmup, run.lat.size());
	std::vector<uint64_t> kept;
	for (size_t i = warm; i < run.lat.size(); i++)
		if (run.lat[i] != kFailed)
			kept.push_back(run.lat[i]);
	// In closed loop the warm-up counts successful samples: the failures
	// among the first requests do not shorten it.
	if (o.mode != Mode::poisson) {
		kept.clear();
		size_t seen = 0;
		for (uint64_t v : run.lat) {
			if (v == kFailed)
				continue;
			if (seen++ >= o.warmup)
				kept.push_back(v);
		}
		warm = std::min<size_t>(o.warmup, seen);
	}
	uint64_t nerr = 0;
	for (auto &[k, v] : run.errors)
		nerr += v;

	std::vector<uint64_t> sorted = kept;
	std::sort(sorted.begin(), sorted.end());
	LatencyHistogram h;
	for (uint64_t v : kept)
		h.record(v);
	size_t n = kept.size();
	std::vector<double> series(kept.size());
	for (size_t i = 0; i < n; i++)
		series[i] = us(kept[i]);

	json j;
	j["tool"] = "crab-loadgen";
	j["mode"] = o.mode_str;
	j["loop"] = o.mode == Mode::poisson ? "open" : "closed";
	j["target"] = o.target_str;
	j["size"] = o.size;
	j["requests_per_conn"] = o.requests;
	j["samples"] = n;
	j["warmup_discarded"] = warm;
	j["attempts"] = run.attempts;
	json errs = json::object();
	for (auto &[k, v] : run.errors)
		errs[k] = v;
	j["errors"] = errs;
	j["errors_total"] = nerr;
	if (o.mode == Mode::poisson)
		j["dropped"] = run.errors.count("dropped") ? run.errors["dropped"] : 0;

	json lat;
	auto ci = percentile_ci_ranks(n, 0.99);
	if (n) {
		double mean = std::accumulate(series.begin(), series.end(), 0.0) / static_cast<double>(n);
		lat["min"] = us(sorted.front());
		lat["mean"] = mean;
		lat["p50"] = us(percentile_sorted(sorted, 0.50));
		lat["p90"] = us(percentile_sorted(sorted, 0.90));
		lat["p99"] = us(percentile_sorted(sorted, 0.99));
		lat["p99_ci"] = ci.valid ? json::array({us(sorted[ci.j - 1]), us(sorted[ci.k - 1])}) : json(nullptr);
		lat["p999"] = n >= 100000 ? json(us(percentile_sorted(sorted, 0.999))) : json(nullptr);
		lat["max"] = us(sorted.back());
	} else {
		for (const char *k : {"min", "mean", "p50", "p90", "p99", "p99_ci", "p999", "max"})
			lat[k] = nullptr;
	}
	j["latency_us"] = lat;

	json checks;
	int lags = o.adf_lags >= 0 ? o.adf_lags : adf_default_lags(n);
	auto adf = adf_test(series, lags);
	checks["stationary"] = adf.valid ? json(adf.stationary) : json(nullptr);
	checks["adf_statistic"] = num_or_null(adf.valid, adf.statistic);
	checks["adf_critical_5pct"] = num_or_null(adf.valid, adf.critical_5pct);
	checks["adf_lags"] = lags;
	auto rho = rank_autocorr_lag1(series);
	checks["rank_autocorr_lag1"] = num_or_null(rho.valid, rho.rho);
	checks["rank_autocorr_threshold"] = num_or_null(rho.valid, rho.threshold);
	checks["independent"] = rho.valid ? json(rho.independent) : json(nullptr);

	double achieved = 0, scheduled = 0, lag_p50 = 0, lag_p99 = 0;
	std::optional<AdResult> ad;
	if (o.mode == Mode::poisson) {
		// Achieved send rate and inter-arrival fit, over the requests that
		// were sent after the warm-up.
		std::vector<uint64_t> sends;
		for (size_t i = std::min<size_t>(o.warmup, run.send_at.size()); i < run.send_at.size(); i++)
			if (run.send_at[i])
				sends.push_back(run.send_at[i]);
		std::vector<double> gaps;
		for (size_t i = 1; i < sends.size(); i++)
			gaps.push_back(static_cast<double>(sends[i] - sends[i - 1]) / 1e9);
		// How late the sender was against its schedule (a loaded machine
		// shows here first).
		std::vector<uint64_t> lag;
		for (size_t i = std::min<size_t>(o.warmup, run.send_at.size()); i < run.send_at.size(); i++)
			if (run.send_at[i])
				lag.push_back(run.send_at[i] > run.sched[i] ? run.send_at[i] - run.sched[i] : 0);
		std::sort(lag.begin(), lag.end());
		if (!lag.empty()) {
			j["send_lag_us"] = {{"p50", us(percentile_sorted(lag, 0.5))},
					    {"p99", us(percentile_sorted(lag, 0.99))},
					    {"max", us(lag.back())}};
			lag_p50 = us(percentile_sorted(lag, 0.5));
			lag_p99 = us(percentile_sorted(lag, 0.99));
		} else {
			j["send_lag_us"] = nullptr;
		}
		// The schedule's own rate: a finite Poisson sample is off the
		// offered rate by ~1/sqrt(n); achieved/scheduled isolates the sender.
		std::vector<uint64_t> sch;
		for (size_t i = std::min<size_t>(o.warmup, run.sched.size()); i < run.sched.size(); i++)
			sch.push_back(run.sched[i]);
		if (sch.size() >= 2)
			scheduled = static_cast<double>(sch.size() - 1) / (static_cast<double>(sch.back() - sch.front()) / 1e9);
		if (sends.size() >= 2)
			achieved = static_cast<double>(sends.size() - 1) / (static_cast<double>(sends.back() - sends.front()) / 1e9);
		ad = anderson_darling_exponential(gaps, o.rate);
		checks["interarrival_ad"] = {{"statistic", num_or_null(ad->valid, ad->statistic)},
					     {"p_or_critical", ad->critical_5pct},
					     {"level", 0.05},
					     {"ok", ad->valid ? json(ad->ok) : json(nullptr)}};
	} else {
		checks["interarrival_ad"] = nullptr;
		if (run.t_last > run.t_first) // closed loop: completed requests per second
			achieved = static_cast<double>(n + warm) / (static_cast<double>(run.t_last - run.t_first) / 1e9);
	}
	j["checks"] = checks;
	double elapsed = run.t_last > run.t_first ? static_cast<double>(run.t_last - run.t_first) / 1e9 : 0;
	j["rate"] = {{"offered", o.mode == Mode::poisson ? json(o.rate) : json(nullptr)},
		     {"scheduled", o.mode == Mode::poisson ? json(scheduled) : json(nullptr)},
		     {"achieved", achieved},
		     {"completed_per_s", elapsed > 0 ? static_cast<double>(n + warm) / elapsed : 0.0}};
	// Goodput: payload bytes per second in each direction (a request and its
	// echo both carry --size bytes), over the whole run, warm-up included.
	// crr with --requests K: K requests per sample (connection).
	double per_s = elapsed > 0 ? static_cast<double>(n + warm) * static_cast<double>(o.requests) / elapsed : 0.0;
	j["goodput"] = {{"bytes_per_request", o.size},
			{"bytes_per_s", per_s * static_cast<double>(o.size)},
			{"mbit_per_s", per_s * static_cast<double>(o.size) * 8 / 1e6}};
	j["elapsed_s"] = elapsed;
	j["seed"] = o.mode == Mode::poisson ? json(o.seed) : json(nullptr);
	j["aborted"] = run.aborted ? json(run.abort_reason) : json(nullptr);

	// Verdict.
	double frac = run.attempts ? static_cast<double>(nerr) / static_cast<double>(run.attempts) : 1.0;
	std::string failure;
	if (run.aborted)
		failure = run.abort_reason;
	else if (n == 0)
		failure = "no successful request";
	else if (frac > o.max_error_frac)
		failure = std::to_string(nerr) + " of " + std::to_string(run.attempts) +
			  " requests failed (more than " + std::to_string(o.max_error_frac * 100) + " %)";
	j["ok"] = failure.empty();

	// Human summary.
	std::printf("crab-loadgen: %s %s, %s loop, %zu-byte messages\n", o.mode_str.c_str(), o.target_str.c_str(),
		    o.mode == Mode::poisson ? "open" : "closed", o.size);
	std::printf("  samples %zu (warm-up %zu discarded), attempts %llu, errors %llu", n, warm,
		    static_cast<unsigned long long>(run.attempts), static_cast<unsigned long long>(nerr));
	for (auto &[k, v] : run.errors)
		std::printf(" %s=%llu", k.c_str(), static_cast<unsigned long long>(v));
	std::printf("\n");
	if (n) {
		std::printf("  latency us: min %.1f mean %.1f p50 %.1f p90 %.1f p99 %.1f", us(sorted.front()),
			    lat["mean"].get<double>(), us(percentile_sorted(sorted, 0.5)),
			    us(percentile_sorted(sorted, 0.9)), us(percentile_sorted(sorted, 0.99)));
		if (ci.valid)
			std::printf(" [95%% CI %.1f..%.1f]", us(sorted[ci.j - 1]), us(sorted[ci.k - 1]));
		else
			std::printf(" [no CI: too few samples]");
		if (n >= 100000)
			std::printf(" p99.9 %.1f", us(percentile_sorted(sorted, 0.999)));
		std::printf(" max %.1f\n", us(sorted.back()));
	}
	if (o.mode == Mode::poisson)
		std::printf("  rate: offered %.1f/s (this schedule %.1f/s), achieved %.1f/s (%.1f %% of offered); "
			    "send lag behind schedule p50 %.1f us p99 %.1f us\n",
			    o.rate, scheduled, achieved, o.rate > 0 ? 100.0 * achieved / o.rate : 0.0, lag_p50, lag_p99);
	else
		std::printf("  rate: %.1f requests/s, goodput %.3f Mbit/s each way\n", per_s,
			    per_s * static_cast<double>(o.size) * 8 / 1e6);
	if (adf.valid)
		std::printf("  check stationary (ADF, %d lags): %s (%.2f vs 5%% critical %.2f)\n", lags,
			    adf.stationary ? "yes" : "NO", adf.statistic, adf.critical_5pct);
	else
		std::printf("  check stationary (ADF): not computed (too few samples)\n");
	if (rho.valid)
		std::printf("  check independent (rank autocorrelation lag 1): %s (%.4f, |.| <= %.4f)\n",
			    rho.independent ? "yes" : "NO", rho.rho, rho.threshold);
	if (ad) {
		if (ad->valid)
			std::printf("  check inter-arrivals exponential (Anderson-Darling): %s (A2 %.3f vs 5%% critical %.3f)\n",
				    ad->ok ? "yes" : "NO", ad->statistic, ad->critical_5pct);
		else
			std::printf("  check inter-arrivals exponential (Anderson-Darling): not computed\n");
	}
	if (!failure.empty())
		std::printf("  FAILED: %s\n", failure.c_str());
	std::fflush(stdout);

	if (!o.out.empty()) {
		std::ofstream f(o.out);
		f << j.dump(2) << "\n";
		if (!f) {
			std::fprintf(stderr, "crab-loadgen: error: cannot write %s\n", o.out.c_str());
			return 1;
		}
	}
	if (!o.hist.empty()) {
		std::ofstream f(o.hist);
		f << "lower_us,count\n";
		char line[64];
		h.for_each([&](uint64_t lo, uint64_t, uint64_t c) {
			std::snprintf(line, sizeof(line), "%.3f,%llu\n", us(lo), static_cast<unsigned long long>(c));
			f << line;
		});
		if (!f) {
			std::fprintf(stderr, "crab-loadgen: error: cannot write %s\n", o.hist.c_str());
			return 1;
		}
	}
	if (!failure.empty()) {
		std::fprintf(stderr, "crab-loadgen: error: %s\n", failure.c_str());
		return 1;
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	try {
		o = parse(argc, argv);
	} catch (const UsageError &e) {
		std::fprintf(stderr, "crab-loadgen: error: %s\n", e.what());
		std::fprintf(stderr, "(crab-loadgen --help for usage)\n");
		return 2;
	}
	std::signal(SIGPIPE, SIG_IGN);
	struct sigaction sa{};
	sa.sa_handler = [](int) { g_interrupted = 1; };
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGTERM, &sa, nullptr);

	Run run;
	switch (o.mode) {
	case Mode::crr: run_crr(o, run); break;
	case Mode::rr: run_rr(o, run); break;
	case Mode::poisson: {
		OpenLoop ol(o, run);
		ol.run();
		break;
	}
	}
	if (g_interrupted && !run.aborted) {
		run.aborted = true;
		run.abort_reason = "interrupted";
	}
	return report(o, run);
}
