// SPDX-License-Identifier: GPL-2.0-only
// Fuzz target: crabctl's declarative configuration (userspace/common
// config.cpp): the TOML reader/validator, the writer and the planner.
// Checks:
//   - bad input is a crab::Error (any other exception is a crash, docs/PROTOCOL.md 6);
//   - what the reader accepts, to_toml() writes back as TOML the reader
//     accepts, describing the same configuration, and writing that again
//     gives the same text;
//   - plan(c, c) is empty;
//   - with two files (input split at the first NUL byte: running state,
//     then desired state), applying plan(cur, want) step by step to cur
//     is valid at every step (no add of what exists, no change of what does
//     not) and ends in want; a service kept with active backends in both
//     never passes through zero active backends (config.hpp's promise).
#include <algorithm>
#include <string>

#include "crab/config.hpp"
#include "fuzz_check.h"

using namespace crab::config;

namespace {

bool parse(const std::string& text, Config& c)
{
    try {
        c = parse_string(text, "fuzz.toml");
        return true;
    } catch (const crab::Error& e) {
        FUZZ_CHECK(std::string(e.what()).rfind("fuzz.toml", 0) == 0, "error does not name the file: %s",
                   e.what());
        return false;
    }
}

void check_round_trip(const Config& c)
{
    std::string t1 = to_toml(c);
    Config c2;
    try {
        c2 = parse_string(t1, "written.toml");
    } catch (const crab::Error& e) {
        FUZZ_CHECK(false, "to_toml() output rejected: %s\n%s", e.what(), t1.c_str());
    }
    FUZZ_CHECK(c2.same(c) && c.same(c2), "to_toml() output describes another configuration:\n%s", t1.c_str());
    FUZZ_CHECK(c2.lb.type == c.lb.type && c2.lb.dev == c.lb.dev && c2.lb.prefix == c.lb.prefix &&
                   c2.lb.socket == c.lb.socket,
               "[lb] settings lost in to_toml():\n%s", t1.c_str());
    FUZZ_CHECK(to_toml(c2) == t1, "to_toml() not stable");
    FUZZ_CHECK(plan(c, c).empty() && plan(c, c2).empty(), "plan of a configuration against itself not empty");
}

Service* find_svc(Config& c, const crab::IpEndpoint& ep)
{
    for (auto& s : c.services)
        if (s.ep == ep)
            return &s;
    return nullptr;
}

size_t active(const Service& s)
{
    return static_cast<size_t>(std::count_if(s.backends.begin(), s.backends.end(), [](const Backend& b) {
        return !b.drain;
    }));
}

void check_plan(const Config& cur, const Config& want)
{
    Config x = cur;
    for (const auto& ch : plan(cur, want)) {
        Service* s = find_svc(x, ch.svc);
        const std::string d = ch.describe();
        switch (ch.op) {
        case Op::ServiceAdd:
            FUZZ_CHECK(!s, "%s: exists", d.c_str());
            x.services.push_back(Service{ch.svc, ch.policy, ch.legacy, {}, 0});
            continue;
        case Op::ServiceSet:
            FUZZ_CHECK(s, "%s: no such service", d.c_str());
            s->policy = ch.policy;
            s->legacy = ch.legacy;
            continue;
        case Op::ServiceDel:
            FUZZ_CHECK(s, "%s: no such service", d.c_str());
            std::erase_if(x.services, [&](const Service& e) { return e.ep == ch.svc; });
            continue;
        default:
            break;
        }
        FUZZ_CHECK(s, "%s: no such service", d.c_str());
        auto it = std::find_if(s->backends.begin(), s->backends.end(),
                               [&](const Backend& b) { return b.addr == ch.be.addr; });
        if (ch.op == Op::BackendAdd) {
            FUZZ_CHECK(it == s->backends.end(), "%s: exists", d.c_str());
            s->backends.push_back(ch.be);
        } else {
            FUZZ_CHECK(it != s->backends.end(), "%s: no such backend", d.c_str());
            if (ch.op == Op::BackendSet)
                *it = ch.be;
            else
                s->backends.erase(it);
        }
        const Service* c0 = cur.find(ch.svc);
        const Service* w0 = want.find(ch.svc);
        if (c0 && w0 && active(*c0) && active(*w0))
            FUZZ_CHECK(active(*s) > 0, "%s: service passes through zero active backends", d.c_str());
    }
    FUZZ_CHECK(x.same(want), "applying the plan does not give the desired configuration");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size > 4096)
        return -1;
    std::string all(reinterpret_cast<const char*>(data), size);
    auto nul = all.find('\0');
    Config a, b;
    bool ok_a = parse(all.substr(0, nul), a);
    if (ok_a)
        check_round_trip(a);
    if (nul == std::string::npos)
        return 0;
    bool ok_b = parse(all.substr(nul + 1), b);
    if (ok_b)
        check_round_trip(b);
    if (ok_a && ok_b) {
        check_plan(a, b);
        check_plan(b, a);
        check_plan(Config{}, b);
        check_plan(b, Config{});
    }
    return 0;
}
