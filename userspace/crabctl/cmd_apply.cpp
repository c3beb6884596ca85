// SPDX-License-Identifier: GPL-2.0-only
// crabctl apply / show / stats: the declarative front end over crab::LbDriver.
//
//   crabctl apply -f FILE [--lb xdp|nf|dpdk] [--dev DEV] [--prefix P] [--socket PATH] [--dry-run]
//   crabctl [--json] show --lb xdp|nf|dpdk [--dev DEV] [--prefix P] [--socket PATH]
//   crabctl [--json] stats --lb xdp|nf|dpdk [--dev DEV] [--watch SECONDS] [--count N] [--all]
//
// apply reads and validates the whole file first (exit 2 and nothing
// changed when any field is bad), reads the running state, plans the
// difference (crab::config::plan) and applies it step by step, printing each
// change; a failed step exits 1 and names the step. show prints TOML that
// apply accepts.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "lb_driver.hpp"
#include "lb_target.hpp"

namespace {

using crab::Error;
using crab::cli::Globals;
using nlohmann::json;

void emit(const Globals& g, const json& j) { crab::cli::print_json(g, j.dump(), j.dump(2)); }

// ---- apply ---------------------------------------------------------------------

struct ApplyOptions {
    crab::cli::TargetOptions target;
    std::string file;
    bool dry_run = false;
};

crab::config::Config without_macs(crab::config::Config c)
{
    for (auto& s : c.services)
        for (auto& b : s.backends) {
            b.has_mac = false;
            b.mac = {};
        }
    return c;
}

void run_apply(const Globals& g, const ApplyOptions& o)
{
    crab::config::Config want = crab::config::parse_file(o.file);
    crab::LbTarget t = crab::cli::resolve_target(o.target, &want.lb);
    auto drv = crab::make_lb_driver(t);
    drv->check(want);
    // Plan and change under the LB's write lock, so no other crabctl
    // changes the LB between the read and the last change.
    std::unique_ptr<crab::WriteLock> lock;
    if (!o.dry_run)
        lock = drv->write_lock();
    crab::config::Config cur = drv->read();

    std::vector<crab::config::Change> changes;
    if (drv->tracks_mac()) {
        changes = crab::config::plan(cur, want);
    } else {
        changes = crab::config::plan(without_macs(cur), without_macs(want));
        for (auto& c : changes)
            if (c.op == crab::config::Op::BackendAdd)
                if (const auto* s = want.find(c.svc))
                    if (const auto* b = s->find(c.be.addr))
                        c.be = *b;
    }

    json out = {{"lb", drv->type()}, {"file", o.file}, {"dry_run", o.dry_run}, {"changes", json::array()}};
    size_t done = 0;
    for (const auto& c : changes) {
        std::string d = c.describe();
        if (!o.dry_run) {
            try {
                drv->apply(c);
            } catch (const Error& e) {
                throw Error("step " + std::to_string(done + 1) + "/" + std::to_string(changes.size()) +
                                " failed: " + e.what() + " (" + std::to_string(done) +
                                " earlier changes were applied; re-run apply to converge)",
                            crab::kExitError);
            }
        }
        done++;
        out["changes"].push_back(d);
        if (!g.json)
            std::cout << (o.dry_run ? "would " : "") << d << "\n";
    }
    if (g.json) {
        emit(g, out);
        return;
    }
    if (changes.empty())
        std::cout << "no changes\n";
    else
        std::cout << changes.size() << (changes.size() == 1 ? " change" : " changes")
                  << (o.dry_run ? " planned (dry run, nothing applied)\n" : " applied\n");
}

// ---- show ----------------------------------------------------------------------

json config_json(const crab::config::Config& c)
{
    json svcs = json::array();
    for (const auto& s : c.services) {
        json be = json::array();
        for (const auto& b : s.backends) {
            json j = {{"addr", crab::to_string(b.addr)}, {"weight", b.weight}, {"drain", b.drain}};
            if (b.has_mac)
                j["mac"] = crab::config::to_string(b.mac);
            be.push_back(j);
        }
        svcs.push_back({{"vip", crab::to_string(s.ep.ip)},
                        {"port", s.ep.port},
                        {"policy", std::string(crab::to_string(s.policy))},
                        {"legacy", std::string(crab::to_string(s.legacy))},
                        {"backend", be}});
    }
    json lb = json::object();
    if (!c.lb.type.empty())
        lb["type"] = c.lb.type;
    if (!c.lb.dev.empty())
        lb["dev"] = c.lb.dev;
    if (!c.lb.prefix.empty())
        lb["prefix"] = c.lb.prefix;
    if (!c.lb.socket.empty())
        lb["socket"] = c.lb.socket;
    return {{"lb", lb}, {"service", svcs}};
}

void run_show(const Globals& g, const crab::cli::TargetOptions& o)
{
    auto drv = crab::make_lb_driver(crab::cli::resolve_target(o, nullptr));
    auto c = drv->read();
    if (g.json)
        emit(g, config_json(c));
    else
        std::cout << crab::config::to_toml(c);
}

// ---- stats ---------------------------------------------------------------------

struct StatsOptions {
    crab::cli::TargetOptions target;
    double watch = 0;  // seconds between samples; 0 = one sample
    uint32_t count = 0;
    bool all = false;
};

volatile sig_atomic_t g_stop = 0;

double now_s()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Counter @v with its rate against @prev (absent: no rate).
json value_json(uint64_t v, const std::map<std::string, uint64_t>* prev, const std::string& k, double dt)
{
    json j = {{"total", v}};
    if (prev && dt > 0) {
        auto it = prev->find(k);
        uint64_t p = it == prev->end() ? 0 : it->second;
        j["rate"] = v >= p ? static_cast<double>(v - p) / dt : 0.0;  // a reset counts as 0
    } else {
        j["rate"] = nullptr;
    }
    return j;
}

json stats_json(const crab::LbStats& cur, const crab::LbStats* prev, double dt)
{
    json glob = json::object();
    for (const auto& [k, v] : cur.global)
        glob[k] = value_json(v, prev ? &prev->global : nullptr, k, dt);
    json svcs = json::array();
    for (const auto& s : cur.services) {
        const crab::LbStats::Service* ps = nullptr;
        if (prev)
            for (const auto& p : prev->services)
                if (p.ep == s.ep)
                    ps = &p;
        json c = json::object(), b = json::object();
        for (const auto& [k, v] : s.counters)
            c[k] = value_json(v, ps ? &ps->counters : nullptr, k, dt);
        for (const auto& [k, v] : s.backends)
            b[k] = value_json(v, ps ? &ps->backends : nullptr, k, dt);
        json sj = {{"service", crab::to_string(s.ep)}, {"counters", c}};
        if (s.has_backend_counters)
            sj["backends"] = b;
        svcs.push_back(sj);
    }
    return {{"global", glob}, {"services", svcs}};
}

std::string rate_str(const json& v)
{
    if (v["rate"].is_null())
        return "-";
    std::ostringstream o;
    o << std::fixed << std::setprecision(1) << v["rate"].get<double>();
    return o.str();
}

void print_table(const json& j, bool all, const std::string& type)
{
    // The service column as wide as the longest service (IPv6 ones are long).
    size_t w = 22;
    for (const auto& s : j["services"])
        w = std::max(w, s["service"].get<std::string>().size() + 2);
    auto row = [w](const std::string& a, const std::string& b, const std::string& c, const std::string& d) {
        std::cout << std::left << std::setw(static_cast<int>(w)) << a << std::setw(18) << b << std::right << std::setw(14) << c
                  << std::setw(12) << d << "\n";
    };
    row("SERVICE", "COUNTER", "TOTAL", "RATE/s");
    auto show = [&](const std::string& who, const json& counters) {
        for (auto& [k, v] : counters.items())
            if (all || v["total"].get<uint64_t>() != 0)
                row(who, k, std::to_string(v["total"].get<uint64_t>()), rate_str(v));
    };
    show("(" + type + ")", j["global"]);
    for (const auto& s : j["services"]) {
        std::string svc = s["service"].get<std::string>();
        show(svc, s["counters"]);
        if (s.contains("backends"))
            for (auto& [dip, v] : s["backends"].items())
                row(svc, "-> " + dip, std::to_string(v["total"].get<uint64_t>()), rate_str(v));
    }
}

void run_stats(const Globals& g, const StatsOptions& o)
{
    auto drv = crab::make_lb_driver(crab::cli::resolve_target(o.target, nullptr));
    if (o.watch <= 0) {
        json j = stats_json(drv->stats(), nullptr, 0);
        if (g.json)
            emit(g, j);
        else
            print_table(j, o.all, drv->type());
        return;
    }
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop = 1; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    crab::LbStats prev = drv->stats();
    double tprev = now_s();
    for (uint32_t n = 0; !g_stop && (o.count == 0 || n < o.count); n++) {
        // Sleep in short steps so that a signal ends the loop promptly.
        double until = tprev + o.watch;
        while (!g_stop && now_s() < until)
            usleep(static_cast<useconds_t>(std::min(0.1, until - now_s()) * 1e6) + 1);
        if (g_stop)
            break;
        crab::LbStats cur = drv->stats();
        double t = now_s();
        json j = stats_json(cur, &prev, t - tprev);
        if (g.json) {
            j["interval"] = t - tprev;
            crab::cli::print_json(g, j.dump(), j.dump(2));
        } else {
            time_t wall = time(nullptr);
            char buf[32];
            strftime(buf, sizeof(buf), "%H:%M:%S", localtime(&wall));
            std::cout << "--- " << buf << " (" << std::fixed << std::setprecision(1) << (t - tprev) << " s)\n";
            print_table(j, o.all, drv->type());
        }
        std::cout.flush();
        prev = std::move(cur);
        tprev = t;
    }
}

void setup_apply(CLI::App& app, Globals& g)
{
    auto ao = std::make_shared<ApplyOptions>();
    auto* a = app.add_subcommand("apply", "converge an LB to a TOML configuration file (idempotent)");
    a->add_option("-f,--file", ao->file, "configuration file (TOML)")->required();
    crab::cli::add_target_options(*a, ao->target);
    a->add_flag("-n,--dry-run", ao->dry_run, "print the changes without applying them");
    a->footer("Validates the whole file first: a bad field exits 2 naming FILE:LINE and the field, and\n"
              "nothing is changed. Then adds, updates and removes services and backends so that the LB\n"
              "matches the file; a second apply of the same file prints 'no changes'.\n\n"
              "Examples:\n"
              "  crabctl apply -f lb.toml --lb xdp --dev eth0\n"
              "  crabctl apply -f lb.toml --lb nf --dry-run\n"
              "  crabctl show --lb xdp --dev eth0 > lb.toml   # then edit, then apply");
    a->callback([ao, &g] { run_apply(g, *ao); });

    auto so = std::make_shared<crab::cli::TargetOptions>();
    auto* s = app.add_subcommand("show", "print the running LB configuration as TOML (apply accepts it)");
    crab::cli::add_target_options(*s, *so);
    s->add_flag("--json", g.json, "JSON output");
    s->footer("Examples:\n"
              "  crabctl show --lb xdp --dev eth0\n"
              "  crabctl --json show --lb nf\n"
              "  crabctl show --lb dpdk --prefix crablb");
    s->callback([so, &g] { run_show(g, *so); });

    auto to = std::make_shared<StatsOptions>();
    auto* st = app.add_subcommand("stats", "per-service and per-backend counters with rates");
    crab::cli::add_target_options(*st, to->target);
    st->add_option("-w,--watch", to->watch, "sample every SECONDS and print rates")->check(CLI::Range(0.1, 3600.0));
    st->add_option("-c,--count", to->count, "with --watch: stop after N reports")->check(CLI::Range(1, 1000000));
    st->add_flag("-a,--all", to->all, "also print counters that are zero");
    st->add_flag("--json", g.json, "JSON output (one object per sample)");
    st->footer("Examples:\n"
               "  crabctl stats --lb xdp --dev eth0\n"
               "  crabctl stats --lb nf --watch 1\n"
               "  crabctl --json stats --lb xdp --dev eth0 --watch 2 --count 5");
    st->callback([to, &g] { run_stats(g, *to); });
}

}  // namespace

CRABCTL_COMMAND(apply, setup_apply);
