// SPDX-License-Identifier: GPL-2.0-only
// Runs the LB conformance fixtures (selftests/conformance/fixtures.py JSON)
// through the DPDK LB core: per case a fresh table and lcore state (the
// fixture topology's neighbour entries as permanent ones), every input frame
// through process(), verdict, output bytes (of passed frames too: unchanged)
// and the first service's counters compared with the fixture.
//
//   crab-lb-dpdk-conformance FILE [--case NAME] [--port-mac MAC]
// Exit status: 0 all passed, 1 a case failed, 2 bad input.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "lb_core.hpp"

using namespace crab::lb_dpdk;
using nlohmann::json;

namespace {

std::vector<uint8_t> unhex(const std::string& s)
{
    std::vector<uint8_t> b;
    for (size_t i = 0; i + 1 < s.size(); i += 2)
        b.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    return b;
}

std::string hex(const uint8_t* p, size_t n)
{
    std::string s;
    char b[3];
    for (size_t i = 0; i < n; i++) {
        std::snprintf(b, sizeof(b), "%02x", p[i]);
        s += b;
    }
    return s;
}

const char* vname(Verdict v) { return v == Verdict::Tx ? "forward" : v == Verdict::Pass ? "pass" : "drop"; }

// The verdict and frame expected of this LB: the common ones, or the
// packet's "lb": {"dpdk": {...}} when the fixture names one for it.
const json& expect_of(const json& p)
{
    if (p.contains("lb") && p["lb"].contains("dpdk"))
        return p["lb"]["dpdk"];
    return p;
}

// Returns an empty string when the case passes, else what differed.
// @topo: the document's "topology", whose neighbour entries are the next
// hops of backends without a static MAC (permanent entries here).
std::string run_case(const json& c, const Mac& port_mac, const json& topo)
{
    Config cfg;
    cfg.port_mac = port_mac;
    cfg.opt.kind = static_cast<uint8_t>(c["config"].value("opt_kind", 42));
    Table t;
    for (const auto& s : c["config"]["services"]) {
        ServiceSpec sp;
        sp.ep = {parse_addr(s["vip"].get<std::string>()), static_cast<uint16_t>(s["port"].get<int>())};
        sp.policy = crab::parse_policy(s.value("policy", "rr"));
        sp.legacy = crab::parse_legacy_mode(s.value("legacy", "drop"));
        service_add(t, sp);
        for (const auto& b : s.value("backends", json::array())) {
            BackendSpec bs;
            bs.svc = sp.ep;
            bs.dip = parse_addr(b["dip"].get<std::string>());
            bs.weight = static_cast<uint16_t>(b.value("weight", 1));
            if (b.contains("mac"))
                bs.mac = parse_mac(b["mac"].get<std::string>());
            backend_add(t, bs);
            if (b.value("state", "active") == "draining")
                backend_set_state(t, sp.ep, bs.dip, CRAB_BACKEND_DRAINING);
        }
    }
    NeighTable nt;
    for (const auto& n : topo.value("neighbours", json::array()))
        if (!nt.set(crab::parse_ipv4(n["ip"].get<std::string>()).addr, parse_mac(n["mac"].get<std::string>())))
            return " neighbour table full;";
    auto st = std::make_unique<LcoreState>();
    std::string err;
    int k = 0;
    for (const auto& p : c["packets"]) {
        auto in = unhex(p["in"].get<std::string>());
        std::vector<uint8_t> buf(128 + in.size());
        std::copy(in.begin(), in.end(), buf.begin() + 128);
        Frame f{buf.data() + 128, static_cast<uint32_t>(in.size()), 128};
        Verdict v = process(cfg, t, nt, *st, f);
        const json& e = expect_of(p);
        std::string want = e["verdict"].get<std::string>();
        // A passed frame goes to the stack unchanged unless the fixture
        // gives the frame it must become.
        std::string out = want == "pass" ? e.value("out", p["in"].get<std::string>()) : e.value("out", "");
        if (want != vname(v))
            err += " packet " + std::to_string(k) + ": verdict " + vname(v) + ", want " + want + ";";
        else if (v != Verdict::Drop && hex(f.data, f.len) != out)
            err += " packet " + std::to_string(k) + ": output differs\n    got  " + hex(f.data, f.len) +
                   "\n    want " + out + "\n";
        k++;
    }
    if (c.contains("counters") && !t.services.empty()) {
        // The first service as listed in the fixture.
        const auto& s0 = c["config"]["services"][0];
        const Service* s = t.find(parse_addr(s0["vip"].get<std::string>()),
                                  static_cast<uint16_t>(s0["port"].get<int>()));
        for (auto& [name, val] : c["counters"].items()) {
            int idx = -1;
            for (int i = 0; i < CRAB_LB_CNT_MAX; i++)
                if (name == kCounterNames[i])
                    idx = i;
            if (idx < 0) {
                err += " unknown counter " + name + ";";
                continue;
            }
            uint64_t got = st->cnt[s->slot][idx].get();
            if (got != val.get<uint64_t>())
                err += " counter " + name + " = " + std::to_string(got) + ", want " + val.dump() + ";";
        }
    }
    return err;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::cerr << "usage: crab-lb-dpdk-conformance FILE [--case NAME] [--port-mac MAC]\n";
        return 2;
    }
    std::string only;
    Mac port_mac = {0x02, 0, 0, 0, 0, 0x01};  // LB_MAC of fixtures.py
    try {
        for (int i = 2; i + 1 < argc; i += 2) {
            std::string o = argv[i];
            if (o == "--case")
                only = argv[i + 1];
            else if (o == "--port-mac")
                port_mac = parse_mac(argv[i + 1]);
            else
                throw crab::Error("unknown option '" + o + "'");
        }
        std::ifstream in(argv[1]);
        if (!in)
            throw crab::Error(std::string("cannot open '") + argv[1] + "'");
        json doc = json::parse(in);
        int pass = 0, fail = 0, skip = 0;
        for (const auto& c : doc["cases"]) {
            std::string name = c["name"].get<std::string>();
            if (!only.empty() && name != only)
                continue;
            if (c.contains("lbs")) {
                bool mine = false;
                for (const auto& l : c["lbs"])
                    mine |= l.get<std::string>() == "dpdk";
                if (!mine) {
                    skip++;
                    continue;
                }
            }
            std::string err = run_case(c, port_mac, doc.value("topology", json::object()));
            std::printf("%-40s %s%s\n", name.c_str(), err.empty() ? "ok" : "FAIL", err.c_str());
            (err.empty() ? pass : fail)++;
        }
        std::printf("conformance: %d passed, %d failed, %d not for dpdk\n", pass, fail, skip);
        return fail ? 1 : 0;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    }
}
