// SPDX-License-Identifier: GPL-2.0-only
// Writes conformance fixtures (the JSON of selftests/conformance/README.md)
// for hash mode over many flows, the expected frames and counters being
// what the DPDK LB core does with them: the other LBs' runners then show
// that they send every flow where the DPDK LB does, byte for byte (the XDP
// program through BPF_PROG_TEST_RUN: selftests/lb_xdp/test_hash_model.sh).
// The backend set changes as an operator changes it: 6 backends, one
// drained, one added, the drained one removed; each step is one case.
//
//   crab-lb-hash-fixtures [FLOWS]      (default 64; JSON on stdout)
//
// With --picks, the backend the DPDK LB core sends each of COUNT flows
// from CLIENT:SPORT0.. to VIP:PORT in hash mode to, as "SPORT:srvN ..."
// (N: the backend's place in the list, from 1; "SPORT:-" when dropped), for
// a test that watches where another LB sends the same flows:
//
//   crab-lb-hash-fixtures --picks CLIENT VIP:PORT SPORT0 COUNT DIP...
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "crab/pktbuild.hpp"
#include "lb_core.hpp"

using namespace crab::lb_dpdk;
using nlohmann::json;

namespace {

const uint32_t kVip = 0xC6126401;  // 198.18.100.1, fixtures.py's VIP
const uint16_t kPort = 80;
const Mac kLbMac = {0x02, 0, 0, 0, 0, 0x01};
const Mac kCliMac = {0x02, 0, 0, 0, 0, 0x02};

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

struct Be {
    uint32_t dip;
    uint16_t weight;
    bool draining;
};

Mac mac_of(uint32_t dip)
{
    return {0x02, 0x42, static_cast<uint8_t>(dip >> 24), static_cast<uint8_t>(dip >> 16),
            static_cast<uint8_t>(dip >> 8), static_cast<uint8_t>(dip)};
}

std::vector<uint8_t> frame(uint32_t saddr, uint16_t sport, bool syn)
{
    crab::pkt::Segment s;
    s.saddr = saddr;
    s.daddr = kVip;
    s.sport = sport;
    s.dport = kPort;
    s.flags = syn ? crab::pkt::kTcpSyn : crab::pkt::kTcpAck;
    s.seq = 1000;
    s.ack = syn ? 0 : 2000;
    if (syn)
        s.tcp_opts = {2, 4, 0x05, 0xb4};  // MSS
    std::vector<uint8_t> ip = crab::pkt::build_segment(s);
    std::vector<uint8_t> f(kLbMac.begin(), kLbMac.end());
    f.insert(f.end(), kCliMac.begin(), kCliMac.end());
    f.insert(f.end(), {0x08, 0x00});
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
}

// One case: the DPDK core's verdicts, frames and counters for @flows
// (SYN, then ACK) to a hash-mode service over @bes.
json one_case(const std::string& name, const std::string& desc, const std::vector<Be>& bes,
              const std::vector<std::pair<uint32_t, uint16_t>>& flows)
{
    Config cfg;
    cfg.port_mac = kLbMac;
    Table t;
    crab::Endpoint ep{{kVip}, kPort};
    ServiceSpec sp;
    sp.ep = ep;
    sp.legacy = CRAB_LEGACY_HASH;
    service_add(t, sp);
    json backends = json::array();
    for (const Be& b : bes) {
        BackendSpec bs;
        bs.svc = ep;
        bs.dip = {b.dip};
        bs.weight = b.weight;
        bs.mac = mac_of(b.dip);
        backend_add(t, bs);
        json jb = {{"dip", to_string(bs.dip)}, {"mac", mac_to_string(*bs.mac)}, {"weight", b.weight}};
        if (b.draining) {
            backend_set_state(t, ep, bs.dip, CRAB_BACKEND_DRAINING);
            jb["state"] = "draining";
        }
        backends.push_back(jb);
    }
    NeighTable nt;
    auto st = std::make_unique<LcoreState>();
    json packets = json::array();
    for (const auto& [saddr, sport] : flows) {
        for (bool syn : {true, false}) {
            std::vector<uint8_t> in = frame(saddr, sport, syn);
            std::vector<uint8_t> buf(64 + in.size());
            std::copy(in.begin(), in.end(), buf.begin() + 64);
            Frame f{buf.data() + 64, static_cast<uint32_t>(in.size()), 64};
            Verdict v = process(cfg, t, nt, *st, f);
            json p = {{"in", hex(in.data(), in.size())}};
            if (v == Verdict::Tx) {
                p["verdict"] = "forward";
                p["out"] = hex(f.data, f.len);
            } else {
                p["verdict"] = v == Verdict::Pass ? "pass" : "drop";
            }
            packets.push_back(p);
        }
    }
    json counters;
    for (int c : {CRAB_LB_CNT_SYN_HASHED, CRAB_LB_CNT_NONSYN_HASHED, CRAB_LB_CNT_SYN_HASH_DRAINING,
                  CRAB_LB_CNT_NO_BACKEND})
        counters[kCounterNames[c]] = st->cnt[t.services[0].slot][c].get();
    json svc = {{"vip", crab::to_string(crab::Ipv4{kVip})},
                {"port", kPort},
                {"policy", "rr"},
                {"legacy", "hash"},
                {"backends", backends}};
    return {{"name", name},
            {"description", desc},
            {"config", {{"opt_kind", CRAB_OPT_KIND_DEFAULT}, {"services", json::array({svc})}}},
            {"packets", packets},
            {"counters", counters}};
}

// --picks: see the top of the file.
int picks(int argc, char** argv)
{
    if (argc < 7)
        throw crab::Error("usage: --picks CLIENT VIP:PORT SPORT0 COUNT DIP...");
    const uint32_t cli = crab::parse_ipv4(argv[2]).addr;
    const crab::Endpoint ep = crab::parse_endpoint(argv[3]);
    const auto sport0 = static_cast<uint16_t>(std::stoul(argv[4]));
    const auto count = std::stoul(argv[5]);
    Config cfg;
    cfg.port_mac = kLbMac;
    Table t;
    ServiceSpec sp;
    sp.ep = ep;
    sp.legacy = CRAB_LEGACY_HASH;
    service_add(t, sp);
    std::vector<Mac> macs;
    for (int i = 6; i < argc; i++) {
        BackendSpec bs;
        bs.svc = ep;
        bs.dip = crab::parse_ipv4(argv[i]);
        bs.mac = mac_of(bs.dip.v4());
        macs.push_back(*bs.mac);
        backend_add(t, bs);
    }
    NeighTable nt;
    auto st = std::make_unique<LcoreState>();
    std::string out;
    for (unsigned long k = 0; k < count; k++) {
        const auto sport = static_cast<uint16_t>(sport0 + k);
        crab::pkt::Segment s;
        s.saddr = cli;
        s.daddr = ep.ip.addr;
        s.sport = sport;
        s.dport = ep.port;
        s.flags = crab::pkt::kTcpAck;
        std::vector<uint8_t> ip = crab::pkt::build_segment(s);
        std::vector<uint8_t> buf(64);
        buf.insert(buf.end(), kLbMac.begin(), kLbMac.end());
        buf.insert(buf.end(), kCliMac.begin(), kCliMac.end());
        buf.insert(buf.end(), {0x08, 0x00});
        buf.insert(buf.end(), ip.begin(), ip.end());
        Frame f{buf.data() + 64, static_cast<uint32_t>(buf.size() - 64), 64};
        std::string who = "-";
        if (process(cfg, t, nt, *st, f) == Verdict::Tx)
            for (size_t i = 0; i < macs.size(); i++)
                if (std::equal(macs[i].begin(), macs[i].end(), f.data))
                    who = "srv" + std::to_string(i + 1);
        out += (out.empty() ? "" : " ") + std::to_string(sport) + ":" + who;
    }
    std::cout << out << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    try {
        if (argc > 1 && std::string(argv[1]) == "--picks")
            return picks(argc, argv);
        size_t n = argc > 1 ? std::stoul(argv[1]) : 64;
        std::mt19937 rng(20261206);
        std::vector<std::pair<uint32_t, uint16_t>> flows;
        for (size_t i = 0; i < n; i++)  // clients in 198.18.0.0/22
            flows.emplace_back(0xC6120000u | (rng() % 1024), static_cast<uint16_t>(1024 + rng() % 64000));
        std::vector<Be> bes;
        for (uint32_t i = 0; i < 6; i++)
            bes.push_back({0x0A010000u | (i * 37 % 5) << 8 | (10 + i * 13), static_cast<uint16_t>(1 + i % 3), false});
        json cases = json::array();
        cases.push_back(one_case("hash_model_6", "hash mode, 6 backends of weights 1-3", bes, flows));
        bes[2].draining = true;
        cases.push_back(
            one_case("hash_model_drained", "the third drained: its flows stay, their SYNs dropped", bes, flows));
        bes.push_back({0x0A010963, 2, false});  // 10.1.9.99
        cases.push_back(one_case("hash_model_added", "a seventh backend added", bes, flows));
        bes.erase(bes.begin() + 2);
        cases.push_back(one_case("hash_model_removed", "the drained one removed", bes, flows));
        std::cout << json{{"cases", cases}}.dump() << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "crab-lb-hash-fixtures: " << e.what() << "\n";
        return 2;
    }
}
