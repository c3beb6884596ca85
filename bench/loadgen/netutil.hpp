// SPDX-License-Identifier: GPL-2.0-only
// Helpers shared by crab-loadgen and crab-benchd: addresses, the monotonic
// clock, precise waits and option parsing with usage errors (exit 2).
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>

namespace crab::bench {

// A bad command line: main() prints "error: <what>" and exits 2.
struct UsageError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

struct Endpoint {
	sockaddr_storage ss{};
	socklen_t len = 0;
	int family() const { return ss.ss_family; }
	const sockaddr *sa() const { return reinterpret_cast<const sockaddr *>(&ss); }
};

// "1.2.3.4:80" or "[::1]:80"; with allow_no_port, "1.2.3.4" (port 0).
// Throws UsageError naming opt.
Endpoint parse_endpoint(const std::string &opt, const std::string &s, bool allow_no_port = false);
std::string endpoint_str(const Endpoint &e);

// Strict numbers: the whole string, in [lo, hi]; UsageError names opt.
uint64_t parse_u64(const std::string &opt, const std::string &s, uint64_t lo, uint64_t hi);
double parse_double(const std::string &opt, const std::string &s, double lo, double hi);

// CLOCK_MONOTONIC in nanoseconds (std::chrono::steady_clock on Linux).
inline uint64_t now_ns()
{
	return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
					     std::chrono::steady_clock::now().time_since_epoch())
					     .count());
}

// Wait until now_ns() >= deadline: sleep (clock_nanosleep, absolute) until
// spin_ns before it, then spin. Sleep alone wakes tens of microseconds late.
void wait_until_ns(uint64_t deadline, uint64_t spin_ns = 30000);

int set_nonblock(int fd);

} // namespace crab::bench
