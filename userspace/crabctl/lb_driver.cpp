// SPDX-License-Identifier: GPL-2.0-only
// Driver registry and the one place a planned change becomes a driver call.
#include "lb_driver.hpp"

namespace crab {

namespace {

std::map<std::string, LbDriverFactory>& drivers()
{
    static std::map<std::string, LbDriverFactory> d;
    return d;
}

}  // namespace

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
