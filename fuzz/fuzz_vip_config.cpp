// SPDX-License-Identifier: GPL-2.0-only
// Fuzz target: the DPDK LB's configuration input, lb/dpdk/core/config.cpp:
// the --vip-config file (and with it the --service/--backend and telemetry
// service_add/backend_add spec parsers), then the table edits the app
// makes from it. Checks (docs/PROTOCOL.md 6):
//   - bad input is a crab::Error (any other exception escapes and is a crash);
//   - a parsed spec printed back and parsed again is the same spec;
//   - an edit that fails leaves the table exactly as it was (never a
//     half-applied configuration);
//   - after every edit the derived tables are consistent: services sorted
//     and unique, vips, slots, active = the ACTIVE backends, the WRR ring
//     and the Maglev table only name existing backends and name each of
//     them at least once.
// Input: the file's text.
#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include <cstring>

#include "config.hpp"
#include "fuzz_check.h"
#include "lb_core.hpp"

using namespace crab::lb_dpdk;

namespace {

bool same_backend(const Backend& a, const Backend& b)
{
    return a.dip == b.dip && a.weight == b.weight && a.state == b.state && a.has_mac == b.has_mac &&
           a.mac == b.mac;
}

bool same_table(const Table& a, const Table& b)
{
    if (a.vips != b.vips || a.services.size() != b.services.size())
        return false;
    for (size_t i = 0; i < a.services.size(); i++) {
        const Service &x = a.services[i], &y = b.services[i];
        if (x.vip != y.vip || x.port != y.port || x.policy != y.policy || x.legacy != y.legacy ||
            x.slot != y.slot || std::memcmp(&x.tables, &y.tables, sizeof(x.tables)) != 0 ||
            x.backends.size() != y.backends.size())
            return false;
        for (size_t j = 0; j < x.backends.size(); j++)
            if (!same_backend(x.backends[j], y.backends[j]))
                return false;
    }
    return true;
}

void check_table(const Table& t)
{
    std::set<uint16_t> slots;
    std::vector<Addr> vips;
    for (size_t i = 0; i < t.services.size(); i++) {
        const Service& s = t.services[i];
        if (i)
            FUZZ_CHECK((ServiceAddr{t.services[i - 1].vip, t.services[i - 1].port}) < (ServiceAddr{s.vip, s.port}),
                       "services not sorted/unique");
        FUZZ_CHECK(s.slot < CRAB_MAX_SERVICES && slots.insert(s.slot).second, "slot %u reused", s.slot);
        FUZZ_CHECK(t.find(s.vip, s.port) == &s && t.is_vip(s.vip), "lookup misses a service");
        FUZZ_CHECK(t.first_of_vip(s.vip) && t.first_of_vip(s.vip)->vip == s.vip, "first_of_vip");
        if (vips.empty() || vips.back() != s.vip)
            vips.push_back(s.vip);
        FUZZ_CHECK(s.backends.size() <= CRAB_MAX_BACKENDS, "%zu backends", s.backends.size());
        std::vector<uint16_t> active;
        for (size_t j = 0; j < s.backends.size(); j++) {
            FUZZ_CHECK(s.backends[j].weight >= 1 && s.backends[j].weight <= CRAB_WEIGHT_MAX, "weight");
            for (size_t k = 0; k < j; k++)
                FUZZ_CHECK(s.backends[k].dip != s.backends[j].dip, "backend listed twice");
            if (s.backends[j].state == CRAB_BACKEND_ACTIVE)
                active.push_back(static_cast<uint16_t>(j));
        }
        // The model's tables (crab_lb_model.h) over this backend list.
        const crab_lb_tables& tb = s.tables;
        std::vector<uint16_t> act(tb.active, tb.active + std::min<uint32_t>(tb.nactive, CRAB_MAX_BACKENDS));
        std::sort(act.begin(), act.end());
        FUZZ_CHECK(tb.nactive == active.size() && act == active, "active list is not the ACTIVE backends");
        const uint8_t* wrr_end = tb.wrr + std::min<uint32_t>(tb.nwrr, CRAB_WRR_SLOTS);
        FUZZ_CHECK((tb.nwrr == 0) == active.empty() && tb.nwrr <= CRAB_WRR_SLOTS, "wrr ring size %u", tb.nwrr);
        for (uint16_t a : active)
            FUZZ_CHECK(std::count(tb.wrr, wrr_end, a) >= 1, "active backend %u not in the wrr ring", a);
        for (const uint8_t* e = tb.wrr; e < wrr_end; e++)
            FUZZ_CHECK(std::count(active.begin(), active.end(), *e) == 1, "wrr names a non-active backend %u", *e);
        FUZZ_CHECK(tb.nmaglev == (s.backends.empty() ? 0u : unsigned{CRAB_MAGLEV_SIZE}), "maglev size %u",
                   tb.nmaglev);
        std::vector<unsigned> hits(s.backends.size());
        for (uint32_t i = 0; i < tb.nmaglev; i++) {
            uint8_t e = tb.maglev[i];
            FUZZ_CHECK(e < s.backends.size(), "maglev names backend %u of %zu", e, s.backends.size());
            hits[e]++;
        }
        for (size_t j = 0; j < s.backends.size(); j++)
            FUZZ_CHECK(((tb.draining >> j) & 1) == (s.backends[j].state != CRAB_BACKEND_ACTIVE),
                       "draining mask wrong for backend %zu", j);
        for (unsigned h : hits)
            FUZZ_CHECK(h >= 1, "a backend is missing from the maglev table");
    }
    FUZZ_CHECK(vips == t.vips, "vips index stale");
}

// One edit: either it applies and the table is consistent, or it throws a
// crab::Error and the table is unchanged.
template <typename F>
void edit(Table& t, F f)
{
    Table before = t;
    try {
        f(t);
    } catch (const crab::Error&) {
        FUZZ_CHECK(same_table(t, before), "a failed edit changed the table");
        return;
    }
    check_table(t);
}

std::string spec_string(const ServiceSpec& s)
{
    return crab::lb_dpdk::to_string(s.ep) + ",policy=" + std::string(crab::to_string(s.policy)) +
           ",legacy=" + std::string(crab::to_string(s.legacy));
}

std::string spec_string(const BackendSpec& b)
{
    std::string s = crab::lb_dpdk::to_string(b.svc) + "," + crab::lb_dpdk::to_string(b.dip) + ",weight=" + std::to_string(b.weight);
    if (b.mac)
        s += ",mac=" + mac_to_string(*b.mac);
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size > 4096)
        return -1;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    std::vector<ServiceSpec> svcs;
    std::vector<BackendSpec> bes;
    try {
        load_config_stream(in, "fuzz.conf", svcs, bes);
    } catch (const crab::Error& e) {
        FUZZ_CHECK(std::string(e.what()).rfind("fuzz.conf:", 0) == 0, "error does not name the file: %s", e.what());
        return 0;
    }
    for (const auto& s : svcs) {
        ServiceSpec r = parse_service_spec(spec_string(s));
        FUZZ_CHECK(r.ep == s.ep && r.policy == s.policy && r.legacy == s.legacy, "service spec round trip: %s",
                   spec_string(s).c_str());
    }
    for (const auto& b : bes) {
        BackendSpec r = parse_backend_spec(spec_string(b));
        FUZZ_CHECK(r.svc == b.svc && r.dip == b.dip && r.weight == b.weight && r.mac == b.mac,
                   "backend spec round trip: %s", spec_string(b).c_str());
        FUZZ_CHECK(b.weight >= 1 && b.weight <= CRAB_WEIGHT_MAX, "weight %u accepted", b.weight);
    }

    // The app's initial table (lb/dpdk/app/main.cpp), edit by edit, then
    // runtime edits as the telemetry commands make them.
    Table t;
    for (const auto& s : svcs)
        edit(t, [&](Table& x) { service_add(x, s); });
    for (const auto& b : bes)
        edit(t, [&](Table& x) { backend_add(x, b); });
    for (const auto& b : bes) {
        if (b.weight % 2 == 0)
            edit(t, [&](Table& x) { backend_set_state(x, b.svc, b.dip, CRAB_BACKEND_DRAINING); });
        if (b.weight % 3 == 0)
            edit(t, [&](Table& x) { backend_del(x, b.svc, b.dip); });
        if (b.weight % 4 == 0)
            edit(t, [&](Table& x) { backend_set_state(x, b.svc, b.dip, CRAB_BACKEND_ACTIVE); });
    }
    for (const auto& s : svcs)
        if (s.ep.port % 3 == 0)
            edit(t, [&](Table& x) { service_del(x, s.ep); });
    return 0;
}
