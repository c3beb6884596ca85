// SPDX-License-Identifier: GPL-2.0-only
// crabctl lb dpdk: the DPDK LB (lb/dpdk/, crab-lb-dpdk), driven
// through its DPDK telemetry socket /var/run/dpdk/<prefix>/dpdk_telemetry.v2
// (the same commands dpdk-telemetry.py can send: /crab/...).
//
//   crabctl lb dpdk [--prefix P | --socket PATH] service|backend ...
//                                 the verbs of every LB (cmd_lb_verbs.cpp)
//   crabctl [--json] lb dpdk ... show
//   crabctl [--json] lb dpdk ... stats     global, per-service and per-backend counters
//
// crab::LbDriver "dpdk" (lb_driver.hpp) sends the commands; the LB applies
// each to a copy of its table and publishes it whole. Policy, legacy mode
// and weight change in place (/crab/service_set, /crab/backend_set), so
// counters, backends and drain states stay.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

extern "C" {
#include <crab/crab_dpdk_ctl.h>
}

#include "command.hpp"
#include "lb_driver.hpp"
#include "lb_verbs.hpp"

namespace {

using crab::Error;
using crab::cli::Globals;
using nlohmann::json;

struct DpdkOptions {
    std::string prefix = "rte";
    std::string socket;
};

// One request/answer on the telemetry socket (SOCK_SEQPACKET: one message
// each way after the greeting).
std::string telemetry_path(const DpdkOptions& o)
{
    return o.socket.empty() ? "/var/run/dpdk/" + o.prefix + "/" CRAB_DPDK_TELEMETRY_SOCKET : o.socket;
}

// Writers lock the directory of the LB's telemetry socket (its EAL runtime
// directory): one lock per running crab-lb-dpdk.
std::unique_ptr<crab::WriteLock> dpdk_write_lock(const DpdkOptions& o)
{
    std::string path = telemetry_path(o);
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    return std::make_unique<crab::WriteLock>(dir, "crab-lb-dpdk (" + path + ")", false);
}

json telemetry(const DpdkOptions& o, const std::string& cmd)
{
    std::string path = telemetry_path(o);
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0)
        throw Error(std::string("socket: ") + std::strerror(errno));
    std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* f) { ::close(*f); });
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sa.sun_path))
        throw Error("socket path too long: '" + path + "'", crab::kExitUsage);
    std::strcpy(sa.sun_path, path.c_str());
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0)
        throw Error("cannot reach crab-lb-dpdk at '" + path + "': " + std::strerror(errno) +
                        " (is it running with --file-prefix " + o.prefix + "?)",
                    crab::kExitNotFound);
    std::string buf(65536, '\0');
    if (::recv(fd, buf.data(), buf.size(), 0) <= 0)  // greeting
        throw Error("no greeting from '" + path + "'");
    if (::send(fd, cmd.data(), cmd.size(), 0) < 0)
        throw Error(std::string("send: ") + std::strerror(errno));
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0)
        throw Error("no answer to " + cmd.substr(0, cmd.find(',')));
    json j = json::parse(buf.substr(0, static_cast<size_t>(n)), nullptr, false);
    std::string key = cmd.substr(0, cmd.find(','));
    if (j.is_discarded() || !j.contains(key) || j[key].is_null())
        throw Error("crab-lb-dpdk does not know " + key + " (not a crab-lb-dpdk process?)");
    json v = j[key];
    if (v.is_object() && v.contains("error"))
        throw Error(v["error"].get<std::string>(), crab::kExitError);
    return v;
}

void emit(const Globals& g, const json& j) { crab::cli::print_json(g, j.dump(), j.dump(2)); }

void run_show(const Globals& g, const DpdkOptions& o)
{
    json out = json::array();
    for (const auto& s : telemetry(o, CRAB_DPDK_CMD_SERVICES)) {
        std::string line = s.get<std::string>();
        std::string ep = line.substr(0, line.find(' '));
        json svc = {{"service", ep}, {"settings", line.substr(line.find(' ') + 1)}};
        svc["backends"] = telemetry(o, CRAB_DPDK_CMD_BACKENDS "," + ep);
        out.push_back(svc);
    }
    if (g.json) {
        emit(g, out);
        return;
    }
    for (const auto& s : out) {
        std::cout << "service " << s["service"].get<std::string>() << " " << s["settings"].get<std::string>() << "\n";
        for (const auto& b : s["backends"])
            std::cout << "  backend " << b.get<std::string>() << "\n";
    }
}

// A service's counters from /crab/stats,VIP:PORT, its "backends" list
// ("DIP FRAMES" strings: telemetry dict keys cannot hold a dot) turned
// into {"DIP": FRAMES}.
json service_stats(const DpdkOptions& o, const std::string& svc)
{
    json c = telemetry(o, CRAB_DPDK_CMD_STATS "," + svc);
    json be = json::object();
    for (const auto& e : c.value("backends", json::array())) {
        std::string line = e.get<std::string>();
        auto sp = line.find(' ');
        if (sp == std::string::npos)
            throw Error("crab-lb-dpdk backend counter '" + line + "' is not 'DIP FRAMES'");
        crab::parse_ip(line.substr(0, sp));  // throws naming it if bad
        be[line.substr(0, sp)] = crab::parse_u64(line.substr(sp + 1), "crab-lb-dpdk backend frame counter");
    }
    c["backends"] = be;
    return c;
}

void run_stats(const Globals& g, const DpdkOptions& o)
{
    json glob = telemetry(o, CRAB_DPDK_CMD_STATS);
    json out = {{"global", json::object()}, {"services", json::object()}};
    for (auto& [k, v] : glob.items())
        if (k != "services")
            out["global"][k] = v;
    for (const auto& s : glob.value("services", json::array()))
        out["services"][s.get<std::string>()] = service_stats(o, s.get<std::string>());
    if (g.json) {
        emit(g, out);
        return;
    }
    std::cout << "global:\n";
    for (auto& [k, v] : out["global"].items())
        std::cout << "  " << k << " " << v << "\n";
    for (auto& [svc, c] : out["services"].items()) {
        std::cout << "service " << svc << ":\n";
        for (auto& [k, v] : c.items())
            if (k != "backends")
                std::cout << "  " << k << " " << v << "\n";
        for (auto& [k, v] : c["backends"].items())
            std::cout << "  backend " << k << " " << v << "\n";
    }
}

std::unique_ptr<crab::LbDriver> make_dpdk_driver(const crab::LbTarget& t);

void setup_lb_dpdk(CLI::App& parent, Globals& g)
{
    auto o = std::make_shared<DpdkOptions>();
    auto* d = parent.add_subcommand("dpdk", "DPDK LB (crab-lb-dpdk) via its telemetry socket");
    d->require_subcommand(1);
    d->footer("Examples:\n"
              "  crabctl lb dpdk --prefix crablb service add 198.18.100.1:80 --policy rr\n"
              "  crabctl lb dpdk --prefix crablb backend add 198.18.100.1:80 198.18.0.11 --mac 02:00:00:00:00:0b\n"
              "  crabctl lb dpdk --prefix crablb backend drain 198.18.100.1:80 198.18.0.11\n"
              "  crabctl -j lb dpdk --prefix crablb stats");
    d->add_option("--prefix", o->prefix, "the LB's EAL --file-prefix")->capture_default_str();
    d->add_option("--socket", o->socket, "telemetry socket path (overrides --prefix)");

    crab::cli::add_lb_verbs(*d, {[o] { return crab::LbTarget{"dpdk", "", o->prefix, o->socket}; }, nullptr});
    d->add_subcommand("show", "list services and backends")->callback([&g, o] { run_show(g, *o); });
    d->add_subcommand("stats", "global, per-service and per-backend counters")->callback([&g, o] { run_stats(g, *o); });
}


// ---- crab::LbDriver "dpdk" ---------------------------------------------------

// "KEY=VALUE" fields after the first word of a telemetry listing line.
std::string field(const std::string& line, const std::string& key)
{
    std::string pat = " " + key + "=";
    auto p = line.find(pat);
    if (p == std::string::npos)
        throw Error("crab-lb-dpdk listing '" + line + "' has no " + key);
    p += pat.size();
    return line.substr(p, line.find(' ', p) - p);
}

class DpdkDriver : public crab::LbDriver {
public:
    explicit DpdkDriver(const crab::LbTarget& t)
    {
        if (!t.prefix.empty())
            o_.prefix = t.prefix;
        o_.socket = t.socket;
    }

    std::string type() const override { return "dpdk"; }

    std::unique_ptr<crab::WriteLock> write_lock() override { return dpdk_write_lock(o_); }

    crab::config::Config read() override
    {
        crab::config::Config c;
        c.lb.type = "dpdk";
        if (o_.prefix != "rte")
            c.lb.prefix = o_.prefix;
        c.lb.socket = o_.socket;
        for (const auto& sv : telemetry(o_, CRAB_DPDK_CMD_SERVICES)) {
            std::string line = sv.get<std::string>();
            crab::config::Service cs;
            cs.ep = crab::parse_ip_endpoint(line.substr(0, line.find(' ')));
            cs.policy = crab::parse_policy(field(line, "policy"));
            cs.legacy = crab::parse_legacy_mode(field(line, "legacy"));
            for (const auto& bv : telemetry(o_, CRAB_DPDK_CMD_BACKENDS "," + crab::to_string(cs.ep))) {
                std::string b = bv.get<std::string>();
                crab::config::Backend cb;
                cb.addr = crab::parse_ip(b.substr(0, b.find(' ')));
                cb.weight = crab::parse_u32(field(b, "weight"), "weight", 1, CRAB_WEIGHT_MAX);
                cb.drain = field(b, "state") != "active";
                cs.backends.push_back(cb);
            }
            c.services.push_back(std::move(cs));
        }
        return c;
    }

    crab::LbStats stats() override
    {
        crab::LbStats st;
        json glob = telemetry(o_, CRAB_DPDK_CMD_STATS);
        for (auto& [k, v] : glob.items())
            if (k != "services" && v.is_number())
                st.global[k] = v.get<uint64_t>();
        for (const auto& sv : glob.value("services", json::array())) {
            crab::LbStats::Service ss;
            ss.ep = crab::parse_ip_endpoint(sv.get<std::string>());
            json sc = service_stats(o_, sv.get<std::string>());
            for (auto& [k, v] : sc.items())
                if (v.is_number())
                    ss.counters[k] = v.get<uint64_t>();
            for (auto& [k, v] : sc["backends"].items())
                ss.backends[k] = v.get<uint64_t>();
            ss.has_backend_counters = true;
            st.services.push_back(std::move(ss));
        }
        return st;
    }

    // The telemetry listing does not tell a static MAC from a learned one.
    bool tracks_mac() const override { return false; }

    void service_add(const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) override
    {
        telemetry(o_, CRAB_DPDK_CMD_SERVICE_ADD "," + crab::to_string(ep) + ",policy=" + std::string(crab::to_string(pol)) +
                          ",legacy=" + std::string(crab::to_string(leg)));
    }
    // In place: the service keeps its backends, their states and counters.
    void service_set(const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) override
    {
        telemetry(o_, CRAB_DPDK_CMD_SERVICE_SET "," + crab::to_string(ep) + ",policy=" + std::string(crab::to_string(pol)) +
                          ",legacy=" + std::string(crab::to_string(leg)));
    }
    void service_del(const crab::IpEndpoint& ep) override { telemetry(o_, CRAB_DPDK_CMD_SERVICE_DEL "," + crab::to_string(ep)); }
    void backend_add(const crab::IpEndpoint& ep, const crab::config::Backend& b) override
    {
        std::string arg = crab::to_string(ep) + "," + crab::to_string(b.addr) + ",weight=" + std::to_string(b.weight);
        if (b.has_mac)
            arg += ",mac=" + crab::config::to_string(b.mac);
        telemetry(o_, CRAB_DPDK_CMD_BACKEND_ADD "," + arg);
        if (b.drain)
            telemetry(o_, CRAB_DPDK_CMD_BACKEND_DRAIN "," + crab::to_string(ep) + "," + crab::to_string(b.addr));
    }
    void backend_set(const crab::IpEndpoint& ep, const crab::config::Backend& b) override
    {
        auto cur = read();
        const crab::config::Service* s = cur.find(ep);
        const crab::config::Backend* old = s ? s->find(b.addr) : nullptr;
        if (!old)
            throw Error("backend " + crab::to_string(b.addr) + " is not in service " + crab::to_string(ep),
                        crab::kExitNotFound);
        if (b.has_mac && !(old->has_mac && old->mac == b.mac))
            throw Error("backend " + crab::to_string(b.addr) + " of " + crab::to_string(ep) +
                            ": the DPDK LB does not change a backend's MAC in place (del, then add it with --mac)",
                        crab::kExitUsage);
        std::string arg = crab::to_string(ep) + "," + crab::to_string(b.addr);
        if (old->weight != b.weight)
            telemetry(o_, CRAB_DPDK_CMD_BACKEND_SET "," + arg + ",weight=" + std::to_string(b.weight));
        if (old->drain != b.drain)
            telemetry(o_, std::string(b.drain ? CRAB_DPDK_CMD_BACKEND_DRAIN "," : CRAB_DPDK_CMD_BACKEND_ACTIVATE ",") + arg);
    }
    void backend_del(const crab::IpEndpoint& ep, const crab::IpAddr& dip) override
    {
        telemetry(o_, CRAB_DPDK_CMD_BACKEND_DEL "," + crab::to_string(ep) + "," + crab::to_string(dip));
    }

private:
    DpdkOptions o_;
};

std::unique_ptr<crab::LbDriver> make_dpdk_driver(const crab::LbTarget& t) { return std::make_unique<DpdkDriver>(t); }

}  // namespace

CRABCTL_LB_IMPL(dpdk, setup_lb_dpdk);
CRABCTL_LB_DRIVER(dpdk, make_dpdk_driver);
