// SPDX-License-Identifier: GPL-2.0-only
// crabctl client|server: the client and server endpoints of the current
// network namespace, as the netfilter modules (crab_client.ko,
// crab_server.ko: sysctls /proc/sys/net/crab/*, counters
// /proc/net/crab_client|crab_server) or the patched kernel
// (kernel-patches/: net.ipv4.tcp_crab_client|server, tcp_crab_announce,
// tcp_crab_allow, TcpExt TCPCrab*).
//   crabctl client [--impl auto|module|kernel] show | stats | set enabled on|off
//                       | set announce CIDR,... | set allow CIDR,...
//   (a CIDR is IPv4 or IPv6: one list holds both families)
//   crabctl server [--impl ...] show | stats | set enabled on|off
// --impl auto (the default) picks the module when it is loaded, else the
// patched kernel. Another namespace: ip netns exec NS crabctl ...
// The modules start off in every namespace (enabled off, lists empty, and
// an empty list is none): show prints "(none)" for an empty list.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cidr_lists.hpp"
#include "command.hpp"

extern "C" {
#include <crab/crab_ep.h>
}

namespace {

using crab::cli::Globals;
using nlohmann::ordered_json;

const std::string kSysctlDir = "/proc/sys/" CRAB_EP_SYSCTL_DIR "/";
const std::string kKernelSysctlDir = "/proc/sys/net/ipv4/";

struct Role {
    const char* name;    // "client" / "server"
    const char* module;  // crab_client / crab_server
    const char* proc;    // /proc/net/<proc>
    const char* enabled; // sysctl name
    std::vector<std::string> counters;  // names in /proc order
};

// Which implementation a command talks to.
enum class Impl { Module, Kernel };

// The patched kernel's names: net.ipv4.tcp_crab_<role> (on/off) and the
// client's lists net.ipv4.tcp_crab_announce and tcp_crab_allow (CIDRs,
// comma separated; empty means none, as for the module).
std::string kernel_sysctl(const Role& r, const std::string& what = "")
{
    if (what == "announce" || what == "allow")
        return "tcp_crab_" + what;
    return std::string("tcp_crab_") + r.name + (what.empty() ? "" : "_" + what);
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

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

Impl resolve(const Role& r, const std::string& want)
{
    const std::string mod = kSysctlDir + r.enabled, kern = kKernelSysctlDir + kernel_sysctl(r);
    if (want == "module" || (want == "auto" && exists(mod)))
        return Impl::Module;
    if (want == "kernel" || exists(kern)) {
        if (!exists(kern))
            throw crab::Error("kernel has no net.ipv4." + kernel_sysctl(r) + " (no " + kern +
                                  "): it does not carry the CRAB patch series (kernel-patches/)",
                              crab::kExitNoSupport);
        return Impl::Kernel;
    }
    throw crab::Error(std::string("no CRAB ") + r.name + " endpoint here: " + r.module + ".ko is not loaded (no " +
                          mod + ") and the kernel is not patched (no " + kern + "); load " + r.module +
                          ".ko with insmod, or use the eBPF endpoints (crabctl ebpf)",
                      crab::kExitNoSupport);
}

// Path of setting @name (module sysctl name) for @impl; a kernel without
// the setting is refused with kExitNoSupport.
std::string setting_path(const Role& r, Impl impl, const std::string& name)
{
    if (impl == Impl::Module)
        return kSysctlDir + name;
    std::string what;
    if (name == CRAB_SYSCTL_CLIENT_ANNOUNCE)
        what = "announce";
    else if (name == CRAB_SYSCTL_CLIENT_ALLOW)
        what = "allow";
    std::string path = kKernelSysctlDir + kernel_sysctl(r, what);
    if (!exists(path))
        throw crab::Error("the CRAB patch series of this kernel has no net.ipv4." + kernel_sysctl(r, what) + " (" +
                              name + " is a module setting)",
                          crab::kExitNoSupport);
    return path;
}

std::string read_sysctl(const Role& r, const std::string& path)
{
    std::ifstream f(path);
    if (!f)
        not_loaded(r, path);
    std::string v;
    std::getline(f, v);
    return v;
}

void write_sysctl(const Role& r, const std::string& path, const std::string& value)
{
    const std::string name = path.substr(path.rfind('/') + 1);
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

// The patched kernel's counters of @r from TcpExt (/proc/net/netstat):
// TCPCrab* names; the server's are the Echo ones, TCPCrabBadOption (SYNs
// at a server, SYN-ACKs at a client) belongs to both.
std::vector<std::pair<std::string, uint64_t>> read_kernel_counters(const Role& r)
{
    std::ifstream f("/proc/net/netstat");
    if (!f)
        throw crab::Error(std::string("cannot read /proc/net/netstat: ") + std::strerror(errno));
    std::string names, values;
    while (std::getline(f, names) && std::getline(f, values)) {
        if (names.rfind("TcpExt:", 0) != 0)
            continue;
        std::stringstream ns(names), vs(values);
        std::string n, v;
        ns >> n;
        vs >> v;
        std::vector<std::pair<std::string, uint64_t>> out;
        while (ns >> n && vs >> v) {
            if (n.rfind("TCPCrab", 0) != 0)
                continue;
            bool server = n.find("Echo") != std::string::npos;
            bool both = n == "TCPCrabBadOption";
            if (both || server == (std::string(r.name) == "server"))
                out.emplace_back(n, crab::parse_u64(v, "TcpExt counter " + n));
        }
        if (out.empty())
            throw crab::Error("TcpExt has no TCPCrab counters: this kernel does not carry the CRAB patch series",
                              crab::kExitNoSupport);
        return out;
    }
    throw crab::Error("/proc/net/netstat has no TcpExt line");
}

std::vector<std::pair<std::string, uint64_t>> read_counters(const Role& r, Impl impl)
{
    if (impl == Impl::Kernel)
        return read_kernel_counters(r);
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
// One list for both families (an item with a ':' is IPv6); "all" is
// 0.0.0.0/0 and ::/0 ("0.0.0.0/0" alone for the patched kernel, whose
// lists are IPv4: kernel_list()), "none" the empty list.
std::string norm_cidrs(const std::string& s)
{
    auto l = crab::cli::parse_cidr_lists(s);
    if (l.items.size() > CRAB_EP_MAX_CIDRS)
        throw crab::Error("CIDR list '" + s + "' has " + std::to_string(l.items.size()) +
                              " entries, at most " + std::to_string(CRAB_EP_MAX_CIDRS) + " allowed",
                          crab::kExitUsage);
    std::string out;
    for (const auto& i : l.items)
        out += (out.empty() ? "" : ",") + i;
    return out;
}

std::string kernel_list(const std::string& s, const std::string& norm, Impl impl)
{
    return impl == Impl::Kernel && (s == "all" || s == "any") ? CRAB_EP_CIDR_ALL : norm;
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

void run_show(const Globals& g, const Role& r, const std::string& want)
{
    Impl impl = resolve(r, want);
    ordered_json j;
    j["role"] = r.name;
    j["impl"] = impl == Impl::Module ? "module" : "kernel";
    j["enabled"] = read_sysctl(r, setting_path(r, impl, r.enabled)) == "1";
    bool lists = &r == &client_role();
    if (lists) {
        // Module and patched kernel alike: comma separated, empty = none.
        j["announce"] = cidr_json(read_sysctl(r, setting_path(r, impl, CRAB_SYSCTL_CLIENT_ANNOUNCE)));
        j["allow"] = cidr_json(read_sysctl(r, setting_path(r, impl, CRAB_SYSCTL_CLIENT_ALLOW)));
    }
    if (impl == Impl::Kernel) {
        // The option's encoding in this namespace (42, or 254 = RFC 6994).
        j["kind"] = crab::parse_u64(read_sysctl(r, kKernelSysctlDir + "tcp_crab_kind"), "tcp_crab_kind");
        j["exid"] = crab::parse_u64(read_sysctl(r, kKernelSysctlDir + "tcp_crab_exid"), "tcp_crab_exid");
    }
    if (g.json || g.pretty) {
        print(g, j);
        return;
    }
    std::cout << r.name << " (" << (impl == Impl::Module ? r.module : "kernel patch") << "): "
              << (j["enabled"].get<bool>() ? "enabled" : "disabled") << "\n";
    if (lists) {
        auto list = [](const ordered_json& a) {
            std::string s;
            for (const auto& e : a)
                s += (s.empty() ? "" : ",") + e.get<std::string>();
            return s.empty() ? std::string("(none)") : s;
        };
        std::cout << "  announce to: " << list(j["announce"]) << "\n"
                  << "  accept redirects from: " << list(j["allow"]) << "\n";
    }
    if (impl == Impl::Kernel)
        std::cout << "  option: kind " << j["kind"].get<uint64_t>()
                  << (j["kind"].get<uint64_t>() == 254 ? ", ExID " + std::to_string(j["exid"].get<uint64_t>()) : "")
                  << "\n";
}

void run_stats(const Globals& g, const Role& r, const std::string& want)
{
    auto c = read_counters(r, resolve(r, want));
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
    auto impl = std::make_shared<std::string>("auto");
    top->add_option("--impl", *impl, "module, kernel (patched kernel) or auto: the module when loaded")
        ->check(CLI::IsMember({"auto", "module", "kernel"}))
        ->capture_default_str();
    std::string n = r.name;
    top->footer("Examples:\n"
                "  crabctl " + n + " show\n"
                "  crabctl -j " + n + " stats\n"
                "  crabctl " + n + " set enabled on\n"
                "  crabctl " + n + " --impl kernel stats      # patched kernel: TcpExt TCPCrab*\n" +
                (n == "client" ? "  crabctl client set announce 198.18.100.0/24,2001:db8:100::/64\n"
                                 "  crabctl client set allow 198.18.0.0/24,2001:db8::/64\n"
                               : std::string()) +
                "Settings and counters are per network namespace (run it with ip netns exec).\n"
                "The modules start off in every namespace: enabled off, lists empty (none).");

    auto* show = top->add_subcommand("show", "settings in this network namespace");
    show->callback([&g, &r, impl] { run_show(g, r, *impl); });

    auto* stats = top->add_subcommand("stats", std::string("counters (/proc/net/") + r.proc + " or TcpExt TCPCrab*)");
    stats->callback([&g, &r, impl] { run_stats(g, r, *impl); });

    auto* set = top->add_subcommand("set", "change a setting in this network namespace");
    set->require_subcommand(1);

    auto val = std::make_shared<std::string>();
    auto* en = set->add_subcommand("enabled", "turn the module's behaviour on or off");
    en->add_option("value", *val, "on|off")->required()->check(CLI::IsMember({"on", "off", "1", "0"}));
    en->callback([&r, val, impl] {
        write_sysctl(r, setting_path(r, resolve(r, *impl), r.enabled), parse_onoff(*val));
    });

    if (&r != &client_role())
        return;
    auto* ann = set->add_subcommand("announce", "destinations whose SYNs announce redirection");
    ann->add_option("cidrs", *val, "CIDR,... (IPv4 and IPv6) | all | none")->required();
    ann->callback([&r, val, impl] {
        auto v = norm_cidrs(*val);
        Impl i = resolve(r, *impl);
        write_sysctl(r, setting_path(r, i, CRAB_SYSCTL_CLIENT_ANNOUNCE), kernel_list(*val, v, i));
    });

    auto* allow = set->add_subcommand("allow", "sources a redirect may come from");
    allow->add_option("cidrs", *val, "CIDR,... (IPv4 and IPv6) | all | none")->required();
    allow->callback([&r, val, impl] {
        auto v = norm_cidrs(*val);
        Impl i = resolve(r, *impl);
        write_sysctl(r, setting_path(r, i, CRAB_SYSCTL_CLIENT_ALLOW), kernel_list(*val, v, i));
    });
}

void setup_client(CLI::App& root, Globals& g)
{
    setup_role(root, g, client_role(), "client endpoint (crab_client.ko or patched kernel): announce, accept redirects");
}

void setup_server(CLI::App& root, Globals& g)
{
    setup_role(root, g, server_role(), "server endpoint (crab_server.ko or patched kernel): echo the option");
}

}  // namespace

CRABCTL_COMMAND(client, setup_client);
CRABCTL_COMMAND(server, setup_server);
