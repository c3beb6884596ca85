// SPDX-License-Identifier: GPL-2.0-only
// crabctl lb dpdk: the DPDK load balancer (lb/dpdk/, crab-lb-dpdk), driven
// through its DPDK telemetry socket /var/run/dpdk/<prefix>/dpdk_telemetry.v2
// (the same commands dpdk-telemetry.py can send: /crab/...).
//
//   crabctl lb dpdk [--prefix P | --socket PATH] service add VIP:PORT [--policy rr|random|wrr] [--legacy drop|insert|hash]
//   crabctl lb dpdk ... service del VIP:PORT
//   crabctl lb dpdk ... backend add VIP:PORT DIP [--weight W] [--mac MAC]
//   crabctl lb dpdk ... backend {del|drain|activate} VIP:PORT DIP
//   crabctl [--json] lb dpdk ... show
//   crabctl [--json] lb dpdk ... stats
//
// Values are parsed here first (a bad one sends nothing); the LB applies
// each command to a copy of its table and publishes it whole.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "command.hpp"

namespace {

using crab::Error;
using crab::cli::Globals;
using nlohmann::json;

struct DpdkOptions {
    std::string prefix = "rte";
    std::string socket;
    std::string endpoint;
    std::string dip;
    std::string policy = "rr";
    std::string legacy = "drop";
    std::string mac;
    uint32_t weight = 1;
};

// One request/answer on the telemetry socket (SOCK_SEQPACKET: one message
// each way after the greeting).
json telemetry(const DpdkOptions& o, const std::string& cmd)
{
    std::string path = o.socket.empty() ? "/var/run/dpdk/" + o.prefix + "/dpdk_telemetry.v2" : o.socket;
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

void run_service(const std::string& cmd, const DpdkOptions& o)
{
    auto ep = crab::parse_endpoint(o.endpoint);
    if (cmd == "add") {
        auto p = crab::parse_policy(o.policy);
        auto l = crab::parse_legacy_mode(o.legacy);
        telemetry(o, "/crab/service_add," + crab::to_string(ep) + ",policy=" + std::string(crab::to_string(p)) +
                         ",legacy=" + std::string(crab::to_string(l)));
    } else {
        telemetry(o, "/crab/service_del," + crab::to_string(ep));
    }
}

void run_backend(const std::string& cmd, const DpdkOptions& o)
{
    auto ep = crab::parse_endpoint(o.endpoint);
    auto dip = crab::parse_ipv4(o.dip);
    std::string arg = crab::to_string(ep) + "," + crab::to_string(dip);
    if (cmd == "add") {
        arg += ",weight=" + std::to_string(o.weight);
        if (!o.mac.empty()) {
            unsigned b[6];
            char tail;
            if (std::sscanf(o.mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                            &tail) != 6)
                throw Error("bad MAC address '" + o.mac + "'", crab::kExitUsage);
            arg += ",mac=" + o.mac;
        }
    }
    telemetry(o, "/crab/backend_" + cmd + "," + arg);
}

void run_show(const Globals& g, const DpdkOptions& o)
{
    json out = json::array();
    for (const auto& s : telemetry(o, "/crab/services")) {
        std::string line = s.get<std::string>();
        std::string ep = line.substr(0, line.find(' '));
        json svc = {{"service", ep}, {"settings", line.substr(line.find(' ') + 1)}};
        svc["backends"] = telemetry(o, "/crab/backends," + ep);
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

void run_stats(const Globals& g, const DpdkOptions& o)
{
    json glob = telemetry(o, "/crab/stats");
    json out = {{"global", json::object()}, {"services", json::object()}};
    for (auto& [k, v] : glob.items())
        if (k != "services")
            out["global"][k] = v;
    for (const auto& s : glob.value("services", json::array()))
        out["services"][s.get<std::string>()] = telemetry(o, "/crab/stats," + s.get<std::string>());
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
            std::cout << "  " << k << " " << v << "\n";
    }
}

void setup_lb_dpdk(CLI::App& parent, Globals& g)
{
    auto o = std::make_shared<DpdkOptions>();
    auto* d = parent.add_subcommand("dpdk", "DPDK load balancer (crab-lb-dpdk) via its telemetry socket");
    d->require_subcommand(1);
    d->add_option("--prefix", o->prefix, "the LB's EAL --file-prefix")->capture_default_str();
    d->add_option("--socket", o->socket, "telemetry socket path (overrides --prefix)");

    auto* svc = d->add_subcommand("service", "add or remove a service (VIP:PORT)");
    svc->require_subcommand(1);
    auto* sa = svc->add_subcommand("add", "add a service");
    sa->add_option("endpoint", o->endpoint, "VIP:PORT")->required();
    sa->add_option("--policy", o->policy, "rr, random or wrr")->capture_default_str();
    sa->add_option("--legacy", o->legacy, "drop, insert or hash")->capture_default_str();
    sa->callback([o] { run_service("add", *o); });
    auto* sd = svc->add_subcommand("del", "remove a service");
    sd->add_option("endpoint", o->endpoint, "VIP:PORT")->required();
    sd->callback([o] { run_service("del", *o); });

    auto* be = d->add_subcommand("backend", "add, drain, activate or remove a backend (DIP)");
    be->require_subcommand(1);
    for (const char* cmd : {"add", "del", "drain", "activate"}) {
        auto* c = be->add_subcommand(cmd, std::string(cmd) + " a backend");
        c->add_option("endpoint", o->endpoint, "VIP:PORT")->required();
        c->add_option("dip", o->dip, "backend address")->required();
        if (std::string(cmd) == "add") {
            c->add_option("--weight", o->weight, "weight (wrr)")->check(CLI::Range(1, CRAB_WEIGHT_MAX));
            c->add_option("--mac", o->mac, "backend MAC (default: learned by ARP)");
        }
        std::string name = cmd;
        c->callback([o, name] { run_backend(name, *o); });
    }
    d->add_subcommand("show", "list services and backends")->callback([&g, o] { run_show(g, *o); });
    d->add_subcommand("stats", "global and per-service counters")->callback([&g, o] { run_stats(g, *o); });
}

}  // namespace

CRABCTL_LB_IMPL(dpdk, setup_lb_dpdk);
