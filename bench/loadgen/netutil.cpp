// SPDX-License-Identifier: GPL-2.0-only
#include "netutil.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>

namespace crab::bench {

Endpoint parse_endpoint(const std::string &opt, const std::string &s, bool allow_no_port)
{
	Endpoint e;
	std::string host, port;
	if (!s.empty() && s[0] == '[') {
		auto close = s.find(']');
		if (close == std::string::npos)
			throw UsageError(opt + ": '" + s + "' has no closing ']'");
		host = s.substr(1, close - 1);
		if (close + 1 < s.size()) {
			if (s[close + 1] != ':')
				throw UsageError(opt + ": expected ':' after ']' in '" + s + "'");
			port = s.substr(close + 2);
		}
	} else {
		auto colon = s.rfind(':');
		if (colon == std::string::npos || s.find(':') != colon) {
			host = s;
		} else {
			host = s.substr(0, colon);
			port = s.substr(colon + 1);
		}
	}
	uint16_t p = 0;
	if (port.empty()) {
		if (!allow_no_port)
			throw UsageError(opt + ": '" + s + "' must be IP:PORT");
	} else {
		p = static_cast<uint16_t>(parse_u64(opt + " port", port, allow_no_port ? 0 : 1, 65535));
	}
	auto *v4 = reinterpret_cast<sockaddr_in *>(&e.ss);
	auto *v6 = reinterpret_cast<sockaddr_in6 *>(&e.ss);
	if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(p);
		e.len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(p);
		e.len = sizeof(*v6);
	} else {
		throw UsageError(opt + ": '" + host + "' is not an IPv4 or IPv6 address");
	}
	return e;
}

std::string endpoint_str(const Endpoint &e)
{
	char buf[INET6_ADDRSTRLEN] = "";
	if (e.family() == AF_INET) {
		auto *v4 = reinterpret_cast<const sockaddr_in *>(&e.ss);
		inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
		return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
	}
	auto *v6 = reinterpret_cast<const sockaddr_in6 *>(&e.ss);
	inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
	return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
}

uint64_t parse_u64(const std::string &opt, const std::string &s, uint64_t lo, uint64_t hi)
{
	if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
		throw UsageError(opt + ": '" + s + "' is not a non-negative integer");
	errno = 0;
	unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
	if (errno == ERANGE || v < lo || v > hi)
		throw UsageError(opt + ": " + s + " is out of range [" + std::to_string(lo) + ", " +
				 std::to_string(hi) + "]");
	return v;
}

double parse_double(const std::string &opt, const std::string &s, double lo, double hi)
{
	char *end = nullptr;
	errno = 0;
	double v = std::strtod(s.c_str(), &end);
	if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
		throw UsageError(opt + ": '" + s + "' is not a number");
	if (v < lo || v > hi)
		throw UsageError(opt + ": " + s + " is out of range [" + std::to_string(lo) + ", " +
				 std::to_string(hi) + "]");
	return v;
}

void wait_until_ns(uint64_t deadline, uint64_t spin_ns)
{
	uint64_t now = now_ns();
	if (now >= deadline)
		return;
	if (deadline - now > spin_ns) {
		uint64_t wake = deadline - spin_ns;
		timespec ts{static_cast<time_t>(wake / 1000000000ull), static_cast<long>(wake % 1000000000ull)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR)
			;
	}
	while (now_ns() < deadline)
		;
}

int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

} // namespace crab::bench
