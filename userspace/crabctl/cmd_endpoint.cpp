// SPDX-License-Identifier: GPL-2.0-only
// crabctl client|server: the netfilter endpoint modules (crab_client.ko,
// crab_server.ko) of the current network namespace, through their sysctls
// (/proc/sys/net/crab/*) and counters (/proc/net/crab_client|crab_server).
//   crabctl client show | stats | set enabled on|off | set announce CIDR,...
//                       | set allow CIDR,...
//   crabctl server show | stats | set enabled on|off
// Another namespace: ip netns exec NS crabctl ...
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"

extern "C" {
#include <crab/crab_ep.h>
}

namespace {

using crab::cli::Globals;
using nlohmann::ordered_json;

const std::string kSysctlDir = "/proc/sys/" CRAB_EP_SYSCTL_DIR "/";

struct Role {
    const char* name;    // "client" / "server"
    const char* module;  // crab_client / crab_server
    const char* proc;    // /proc/net/<proc>
    const char* enabled; // sysctl name
    std::vector<std::string> counters;  // names in /proc order
};

const Role& client_role()
{
    static const Role r{"client", "crab_client", CRAB_PROC_CLIENT, CRAB_SYSCTL_CLIENT_ENABLED, {
#define X(e, n, h) n,
        CRAB_CLIENT_COUNTERS(X)
#undef X
    }};
    return r;
}

const Role& server_role()
{
    static const Role r{"server", "crab_server", CRAB_PROC_SERVER, CRAB_SYSCTL_SERVER_ENABLED, {
#define X(e, n, h) n,
        CRAB_SERVER_COUNTERS(X)
#undef X
    }};
    return r;
}

[[noreturn]] void not_loaded(const Role& r, const std::string& path)
{
    throw crab::Error(std::string(r.module) + " is not loaded in this kernel (no " + path +
                          "); load " + r.module + ".ko with insmod",
                      crab::kExitNoSupport);
}

std::string read_sysctl(const Role& r, const std::string& name)
{
    const std::string path = kSysctlDir + name;
    std::ifstream f(path);
    if (!f)
        not_loaded(r, path);
    std::string v;
    std::getline(f, v);
    return v;
}

void write_sysctl(const Role& r, const std::string& name, const std::string& value)
{
    const std::string path = kSysctlDir + name;
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f)
        not_loaded(r, path);
    // One write: the kernel applies the whole value or rejects it.
    std::string v = value + "\n";
    bool ok = std::fwrite(v.data(), 1, v.size(), f) == v.size();
    int err = errno;
    if (std::fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok)
        throw crab::Error("cannot set " + name + " to '" + value + "': " + std::strerror(err));
}

std::vector<std::pair<std::string, uint64_t>> read_counters(const Role& r)
{
    const std::string path = std::string("/proc/net/") + r.proc;
    std::ifstream f(path);
    if (!f)
        not_loaded(r, path);
    std::vector<std::pair<std::string, uint64_t>> out;
    std::string name;
    uint64_t v;
    while (f >> name >> v)
        out.emplace_back(name, v);
    return out;
}

void print(const Globals& g, const ordered_json& j)
{
    crab::cli::print_json(g, j.dump(), j.dump(2));
}

// "on"/"off" (also 1/0) to the sysctl value.
std::string parse_onoff(const std::string& s)
{
    if (s == "on" || s == "1")
        return "1";
    if (s == "off" || s == "0")
        return "0";
    throw crab::Error("invalid value '" + s + "': expected on or off", crab::kExitUsage);
}

// Validate a CIDR list before touching the kernel; returns it normalised.
// "all" is 0.0.0.0/0, "none" the empty list.
std::string norm_cidrs(const std::string& s)
{
    if (s == "all" || s == "any")
        return CRAB_EP_CIDR_ALL;
    if (s == "none")
        return "";
    auto l = crab::parse_cidr_list(s);
    if (l.size() > CRAB_EP_MAX_CIDRS)
        throw crab::Error("CIDR list '" + s + "' has " + std::to_string(l.size()) +
                              " entries, at most " + std::to_string(CRAB_EP_MAX_CIDRS) + " allowed",
                          crab::kExitUsage);
    return crab::to_string(l);
}

ordered_json cidr_json(const std::string& v)
{
    ordered_json a = ordered_json::array();
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty())
            a.push_back(item);
    return a;
}

void run_show(const Globals& g, const Role& r)
{
    ordered_json j;
    j["role"] = r.name;
    j["enabled"] = read_sysctl(r, r.enabled) == "1";
    if (&r == &client_role()) {
        j["announce"] = cidr_json(read_sysctl(r, CRAB_SYSCTL_CLIENT_ANNOUNCE));
        j["allow"] = cidr_json(read_sysctl(r, CRAB_SYSCTL_CLIENT_ALLOW));
    }
    if (g.json || g.pretty) {
        print(g, j);
        return;
    }
    std::cout << r.name << " (" << r.module << "): " << (j["enabled"].get<bool>() ? "enabled" : "disabled")
              << "\n";
    if (&r == &client_role()) {
        auto list = [](const ordered_json& a) {
            std::string s;
            for (const auto& e : a)
                s += (s.empty() ? "" : ",") + e.get<std::string>();
            return s.empty() ? std::string("(none)") : s;
        };
        std::cout << "  announce to: " << list(j["announce"]) << "\n"
                  << "  accept redirects from: " << list(j["allow"]) << "\n";
    }
}

void run_stats(const Globals& g, const Role& r)
{
    auto c = read_counters(r);
    if (g.json || g.pretty) {
        ordered_json j = ordered_json::object();
        for (const auto& [n, v] : c)
            j[n] = v;
        print(g, j);
        return;
    }
    for (const auto& [n, v] : c)
        std::cout << n << " " << v << "\n";
}

void setup_role(CLI::App& root, Globals& g, const Role& r, const char* help)
{
    auto* top = root.add_subcommand(r.name, help);
    top->require_subcommand(1);
    std::string n = r.name;
    top->footer("Examples:\n"
                "  crabctl " + n + " show\n"
                "  crabctl -j " + n + " stats\n"
                "  crabctl " + n + " set enabled on\n" +
                (n == "client" ? "  crabctl client set announce 198.18.100.0/24\n"
                                 "  crabctl client set allow 198.18.0.0/24\n"
                               : std::string()) +
                "Settings and counters are per network namespace (run it with ip netns exec).");

    auto* show = top->add_subcommand("show", "settings in this network namespace");
    show->callback([&g, &r] { run_show(g, r); });

    auto* stats = top->add_subcommand("stats", std::string("counters (/proc/net/") + r.proc + ")");
    stats->callback([&g, &r] { run_stats(g, r); });

    auto* set = top->add_subcommand("set", "change a setting in this network namespace");
    set->require_subcommand(1);

    auto val = std::make_shared<std::string>();
    auto* en = set->add_subcommand("enabled", "turn the module's behaviour on or off");
    en->add_option("value", *val, "on|off")->required()->check(CLI::IsMember({"on", "off", "1", "0"}));
    en->callback([&r, val] { write_sysctl(r, r.enabled, parse_onoff(*val)); });

    if (&r != &client_role())
        return;
    auto* ann = set->add_subcommand("announce", "destinations whose SYNs announce redirection");
    ann->add_option("cidrs", *val, "CIDR,... | all | none")->required();
    ann->callback([&r, val] { write_sysctl(r, CRAB_SYSCTL_CLIENT_ANNOUNCE, norm_cidrs(*val)); });

    auto* allow = set->add_subcommand("allow", "sources a redirect may come from");
    allow->add_option("cidrs", *val, "CIDR,... | all | none")->required();
    allow->callback([&r, val] { write_sysctl(r, CRAB_SYSCTL_CLIENT_ALLOW, norm_cidrs(*val)); });
}

void setup_client(CLI::App& root, Globals& g)
{
    setup_role(root, g, client_role(), "netfilter client endpoint (crab_client.ko): announce, accept redirects");
}

void setup_server(CLI::App& root, Globals& g)
{
    setup_role(root, g, server_role(), "netfilter server endpoint (crab_server.ko): echo the option");
}

}  // namespace

CRABCTL_COMMAND(client, setup_client);
CRABCTL_COMMAND(server, setup_server);
