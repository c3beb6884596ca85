// SPDX-License-Identifier: GPL-2.0-only
// crabctl lb nf: the nf LB (lb/netfilter/, crab_lb_nf.ko),
// configured over its generic netlink family (include/crab/crab_genl_lb.h)
// in crabctl's own network namespace.
//
//   crabctl lb nf service|backend ...   the verbs of every LB (cmd_lb_verbs.cpp)
//   crabctl lb nf flush
//   crabctl [--json] lb nf show
//   crabctl [--json] lb nf stats
//
// crab::LbDriver "nf" (lb_driver.hpp) sends the requests; the verbs check
// every value before the first one, so a bad one applies nothing.
#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

extern "C" {
#include <crab/crab_genl_lb.h>
}

#include "command.hpp"
#include "genl.hpp"
#include "lb_driver.hpp"
#include "lb_verbs.hpp"

namespace {

using crab::Error;
using crab::cli::Globals;
using nlohmann::json;

#define NF_NAME(e, n, h) n,
const char* const kCounters[] = {CRAB_LB_COUNTERS(NF_NAME)};
const char* const kGCounters[] = {CRAB_LB_GCOUNTERS(NF_NAME)};
#undef NF_NAME

class Lb {
public:
    Lb() : fam_(sock_.resolve(CRAB_LB_GENL_NAME)) {}

    crab::genl::Message req(uint8_t cmd, bool dump = false) const
    {
        return sock_.request(fam_, cmd, CRAB_LB_GENL_VERSION, dump);
    }
    void run(crab::genl::Message& m, const crab::genl::ReplyFn& fn = nullptr)
    {
        sock_.transact(m, CRAB_LB_A_MAX, fn);
    }

private:
    crab::genl::Socket sock_;
    uint16_t fam_;
};

// An address as the attribute of its family: IPv4 as a network-order
// u32 (@t4), IPv6 as 16 bytes (@t6).
void put_addr(crab::genl::Message& m, uint16_t t4, uint16_t t6, const crab::IpAddr& a)
{
    if (a.is_v6())
        m.put_bytes(t6, a.bytes.data(), a.bytes.size());
    else
        m.put_u32(t4, htonl(a.to_v4().addr));
}

void put_key(crab::genl::Message& m, const crab::IpEndpoint& e)
{
    put_addr(m, CRAB_LB_A_VIP, CRAB_LB_A_VIP6, e.ip);
    m.put_u16(CRAB_LB_A_PORT, e.port);
}

// The address in a reply, of whichever family it came in.
crab::IpAddr get_addr(const crab::genl::Attrs& a, uint16_t t4, uint16_t t6)
{
    if (a.has(t6)) {
        crab::IpAddr ip;
        ip.family = 6;
        ip.bytes = a.bytes16(t6);
        return ip;
    }
    return crab::IpAddr::v4(crab::Ipv4{ntohl(a.u32(t4))});
}

json counters_json(const crab::genl::Attrs& a, uint16_t nest, const char* const* names, int n)
{
    json j = json::object();
    auto c = crab::genl::Attrs::nested(a.raw(nest), static_cast<uint16_t>(n));
    for (int i = 0; i < n; i++)
        j[names[i]] = c.has(i + 1) ? c.u64(i + 1) : 0;
    return j;
}

json service_json(const crab::genl::Attrs& a)
{
    json s;
    const crab::IpEndpoint ep{get_addr(a, CRAB_LB_A_VIP, CRAB_LB_A_VIP6), a.u16(CRAB_LB_A_PORT)};
    s["vip"] = crab::to_string(ep.ip);
    s["port"] = ep.port;
    s["service"] = crab::to_string(ep);
    s["policy"] = std::string(crab::to_string(static_cast<crab_policy>(a.u8(CRAB_LB_A_POLICY))));
    s["legacy"] = std::string(crab::to_string(static_cast<crab_legacy_mode>(a.u8(CRAB_LB_A_LEGACY))));
    json bes = json::array();
    a.for_each(CRAB_LB_A_BACKENDS, CRAB_LB_A_BACKEND, [&](const nlattr* n) {
        auto b = crab::genl::Attrs::nested(n, CRAB_LB_BE_A_MAX);
        bes.push_back({{"dip", crab::to_string(get_addr(b, CRAB_LB_BE_A_DIP, CRAB_LB_BE_A_DIP6))},
                       {"weight", b.u32(CRAB_LB_BE_A_WEIGHT)},
                       {"state", b.u8(CRAB_LB_BE_A_STATE) == CRAB_BACKEND_ACTIVE ? "active" : "draining"},
                       {"selected", b.has(CRAB_LB_BE_A_SELECTED) ? b.u64(CRAB_LB_BE_A_SELECTED) : 0}});
    });
    s["backends"] = bes;
    s["counters"] = counters_json(a, CRAB_LB_A_COUNTERS, kCounters, CRAB_LB_CNT_MAX);
    return s;
}

json dump_services(Lb& lb)
{
    json list = json::array();
    auto m = lb.req(CRAB_LB_CMD_SVC_GET, true);
    lb.run(m, [&](const crab::genl::Attrs& a) { list.push_back(service_json(a)); });
    return list;
}

void emit(const Globals& g, const json& j) { crab::cli::print_json(g, j.dump(), j.dump(2)); }

// The nf LB's state is per network namespace: writers lock a file named
// after the namespace's inode under /run/crab.
std::unique_ptr<crab::WriteLock> nf_write_lock()
{
    struct stat st {};
    if (stat("/proc/self/ns/net", &st))
        throw Error(std::string("reading /proc/self/ns/net: ") + std::strerror(errno));
    ::mkdir("/run/crab", 0755);
    return std::make_unique<crab::WriteLock>("/run/crab/lb-nf-net" + std::to_string(st.st_ino) + ".lock",
                                             "the nf LB of this network namespace", true);
}

// ---- commands ----------------------------------------------------------------

void run_show(const Globals& g)
{
    Lb lb;
    json list = dump_services(lb);
    if (g.json || g.pretty) {
        emit(g, json{{"services", list}});
        return;
    }
    for (const auto& s : list) {
        std::cout << "service " << s["service"].get<std::string>() << " policy " << s["policy"].get<std::string>()
                  << " legacy " << s["legacy"].get<std::string>() << "\n";
        for (const auto& b : s["backends"])
            std::cout << "  backend " << b["dip"].get<std::string>() << " weight " << b["weight"] << " "
                      << b["state"].get<std::string>() << " selected " << b["selected"] << "\n";
    }
}

void run_stats(const Globals& g)
{
    Lb lb;
    json global;
    auto m = lb.req(CRAB_LB_CMD_STATS_GET);
    lb.run(m, [&](const crab::genl::Attrs& a) {
        global = counters_json(a, CRAB_LB_A_GCOUNTERS, kGCounters, CRAB_LB_GCNT_MAX);
    });
    json list = dump_services(lb);
    if (g.json || g.pretty) {
        json svcs = json::object();
        for (const auto& s : list)
            svcs[s["service"].get<std::string>()] = s["counters"];
        emit(g, json{{"global", global}, {"services", svcs}});
        return;
    }
    for (const auto& [k, v] : global.items())
        std::cout << k << " " << v << "\n";
    for (const auto& s : list) {
        std::cout << "service " << s["service"].get<std::string>() << "\n";
        for (const auto& [k, v] : s["counters"].items())
            std::cout << "  " << k << " " << v << "\n";
    }
}

void setup_lb_nf(CLI::App& parent, Globals& g)
{
    auto* nf = parent.add_subcommand("nf", "nf LB (crab_lb_nf.ko) in this network namespace");
    nf->require_subcommand(1);
    nf->footer("Examples:\n"
               "  crabctl lb nf service add 198.18.100.1:80 --policy rr --legacy insert\n"
               "  crabctl lb nf backend add 198.18.100.1:80 198.18.0.11 --weight 2\n"
               "  crabctl lb nf backend drain 198.18.100.1:80 198.18.0.11\n"
               "  crabctl -j lb nf show\n"
               "  crabctl lb nf flush\n"
               "The module (crab_lb_nf.ko) is configured per network namespace.");

    crab::cli::add_lb_verbs(*nf, {[] { return crab::LbTarget{"nf", "", "", ""}; }, nullptr});

    auto* show = nf->add_subcommand("show", "list services and backends");
    show->add_flag("--json", g.json, "JSON output");
    show->callback([&g] { run_show(g); });

    auto* stats = nf->add_subcommand("stats", "global and per-service counters");
    stats->add_flag("--json", g.json, "JSON output");
    stats->callback([&g] { run_stats(g); });

    auto* flush = nf->add_subcommand("flush", "remove every service");
    flush->callback([] {
        Lb lb;
        auto m = lb.req(CRAB_LB_CMD_FLUSH);
        lb.run(m);
    });
}


// ---- crab::LbDriver "nf" -----------------------------------------------------

class NfDriver : public crab::LbDriver {
public:
    explicit NfDriver(const crab::LbTarget&) {}

    std::string type() const override { return "nf"; }

    std::unique_ptr<crab::WriteLock> write_lock() override { return nf_write_lock(); }

    crab::config::Config read() override
    {
        crab::config::Config c;
        c.lb.type = "nf";
        for (const auto& s : dump_services(lb_)) {
            crab::config::Service cs;
            cs.ep = crab::parse_ip_endpoint(s["service"].get<std::string>());
            cs.policy = crab::parse_policy(s["policy"].get<std::string>());
            cs.legacy = crab::parse_legacy_mode(s["legacy"].get<std::string>());
            for (const auto& b : s["backends"]) {
                crab::config::Backend cb;
                cb.addr = crab::parse_ip(b["dip"].get<std::string>());
                cb.weight = b["weight"].get<uint32_t>();
                cb.drain = b["state"] != "active";
                cs.backends.push_back(cb);
            }
            c.services.push_back(std::move(cs));
        }
        return c;
    }

    crab::LbStats stats() override
    {
        crab::LbStats st;
        auto m = lb_.req(CRAB_LB_CMD_STATS_GET);
        lb_.run(m, [&](const crab::genl::Attrs& a) {
            json gc = counters_json(a, CRAB_LB_A_GCOUNTERS, kGCounters, CRAB_LB_GCNT_MAX);
            for (auto& [k, v] : gc.items())
                st.global[k] = v.get<uint64_t>();
        });
        for (const auto& s : dump_services(lb_)) {
            crab::LbStats::Service ss;
            ss.ep = crab::parse_ip_endpoint(s["service"].get<std::string>());
            ss.has_backend_counters = true;
            for (auto& [k, v] : s["counters"].items())
                ss.counters[k] = v.get<uint64_t>();
            for (const auto& b : s["backends"])
                ss.backends[b["dip"].get<std::string>()] = b["selected"].get<uint64_t>();
            st.services.push_back(std::move(ss));
        }
        return st;
    }

    void check(const crab::config::Config& want) const override
    {
        for (const auto& s : want.services)
            for (const auto& b : s.backends)
                if (b.has_mac)
                    throw Error("line " + std::to_string(b.line) + ": backend " + crab::to_string(b.addr) +
                                    " of " + crab::to_string(s.ep) +
                                    ": the nf LB routes to backends and takes no mac",
                                crab::kExitUsage);
    }

    void service_add(const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) override
    {
        svc(CRAB_LB_CMD_SVC_ADD, ep, pol, leg);
    }
    void service_set(const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) override
    {
        svc(CRAB_LB_CMD_SVC_SET, ep, pol, leg);
    }
    void service_del(const crab::IpEndpoint& ep) override
    {
        auto m = lb_.req(CRAB_LB_CMD_SVC_DEL);
        put_key(m, ep);
        lb_.run(m);
    }
    void backend_add(const crab::IpEndpoint& ep, const crab::config::Backend& b) override
    {
        be(CRAB_LB_CMD_BE_ADD, ep, b, true);
    }
    void backend_set(const crab::IpEndpoint& ep, const crab::config::Backend& b) override
    {
        if (b.has_mac)
            throw Error("the nf LB takes no backend mac", crab::kExitUsage);
        be(CRAB_LB_CMD_BE_SET, ep, b, true);
    }
    void backend_del(const crab::IpEndpoint& ep, const crab::IpAddr& dip) override
    {
        crab::config::Backend b;
        b.addr = dip;
        be(CRAB_LB_CMD_BE_DEL, ep, b, false);
    }

private:
    void svc(uint8_t cmd, const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg)
    {
        auto m = lb_.req(cmd);
        put_key(m, ep);
        m.put_u8(CRAB_LB_A_POLICY, pol);
        m.put_u8(CRAB_LB_A_LEGACY, leg);
        lb_.run(m);
    }
    void be(uint8_t cmd, const crab::IpEndpoint& ep, const crab::config::Backend& b, bool attrs)
    {
        auto m = lb_.req(cmd);
        put_key(m, ep);
        {
            auto n = m.nest(CRAB_LB_A_BACKEND);
            put_addr(m, CRAB_LB_BE_A_DIP, CRAB_LB_BE_A_DIP6, b.addr);
            if (attrs) {
                m.put_u32(CRAB_LB_BE_A_WEIGHT, b.weight);
                m.put_u8(CRAB_LB_BE_A_STATE, b.drain ? CRAB_BACKEND_DRAINING : CRAB_BACKEND_ACTIVE);
            }
        }
        lb_.run(m);
    }
    Lb lb_;
};

std::unique_ptr<crab::LbDriver> make_nf_driver(const crab::LbTarget& t) { return std::make_unique<NfDriver>(t); }

}  // namespace

CRABCTL_LB_IMPL(nf, setup_lb_nf);
CRABCTL_LB_DRIVER(nf, make_nf_driver);
