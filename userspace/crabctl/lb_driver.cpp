// SPDX-License-Identifier: GPL-2.0-only
// Driver registry and the one place a planned change becomes a driver call.
#include "lb_driver.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace crab {

namespace {

std::map<std::string, LbDriverFactory>& drivers()
{
    static std::map<std::string, LbDriverFactory> d;
    return d;
}

}  // namespace

WriteLock::WriteLock(const std::string& path, const std::string& what, bool create)
{
    double timeout = 10;
    if (const char* t = std::getenv("CRABCTL_LOCK_TIMEOUT")) {
        char* end = nullptr;
        double v = std::strtod(t, &end);
        if (end == t || *end || !(v >= 0))
            throw Error(std::string("CRABCTL_LOCK_TIMEOUT: '") + t + "' is not a number of seconds", kExitUsage);
        timeout = v;
    }
    int flags = O_RDONLY | O_CLOEXEC;
    if (create)
        flags = O_RDWR | O_CREAT | O_CLOEXEC;
    fd_ = ::open(path.c_str(), flags, 0600);
    if (fd_ < 0)
        throw Error("locking " + what + ": cannot open " + path + ": " + std::strerror(errno));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    for (;;) {
        if (::flock(fd_, LOCK_EX | LOCK_NB) == 0)
            return;
        int err = errno;
        if (err != EWOULDBLOCK && err != EINTR) {
            ::close(fd_);
            throw Error("locking " + what + " (" + path + "): " + std::strerror(err));
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::close(fd_);
            throw Error("another crabctl is changing " + what + ": its lock on " + path + " was not released in " +
                            std::to_string(static_cast<int>(timeout)) + " s (CRABCTL_LOCK_TIMEOUT); nothing was changed",
                        kExitError);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

WriteLock::~WriteLock()
{
    if (fd_ >= 0)
        ::close(fd_);  // releases the lock
}

LbDriverRegistrar::LbDriverRegistrar(const char* name, LbDriverFactory f) { drivers()[name] = f; }

std::vector<std::string> lb_driver_names()
{
    std::vector<std::string> out;
    for (const auto& [n, f] : drivers())
        out.push_back(n);
    return out;
}

std::unique_ptr<LbDriver> make_lb_driver(const LbTarget& t)
{
    auto it = drivers().find(t.type);
    if (it == drivers().end()) {
        std::string list;
        for (const auto& n : lb_driver_names())
            list += (list.empty() ? "" : ", ") + n;
        if (t.type.empty())
            throw Error("no LB chosen: give --lb (" + list + ") or type in the file's [lb] table", kExitUsage);
        throw Error("unknown LB '" + t.type + "' (expected one of: " + list + ")", kExitUsage);
    }
    return it->second(t);
}

void LbDriver::apply(const config::Change& c)
{
    using config::Op;
    try {
        switch (c.op) {
        case Op::ServiceAdd:
            service_add(c.svc, c.policy, c.legacy);
            break;
        case Op::ServiceSet:
            service_set(c.svc, c.policy, c.legacy);
            break;
        case Op::ServiceDel:
            service_del(c.svc);
            break;
        case Op::BackendAdd:
            backend_add(c.svc, c.be);
            break;
        case Op::BackendSet:
            backend_set(c.svc, c.be);
            break;
        case Op::BackendDel:
            backend_del(c.svc, c.be.addr);
            break;
        }
    } catch (const Error& e) {
        throw Error(c.describe() + ": " + e.what(), e.code());
    }
}

}  // namespace crab
