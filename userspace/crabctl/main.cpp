// SPDX-License-Identifier: GPL-2.0-only
// crabctl: one command line for every part of CRAB.
//   crabctl [OPTIONS] OBJECT { COMMAND | help }
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.hpp"

#ifndef CRAB_VERSION
#define CRAB_VERSION "unknown"
#endif

namespace crab::cli {

std::vector<Entry>& registry()
{
    static std::vector<Entry> r;
    return r;
}

void print_json(const Globals& g, const std::string& compact, const std::string& pretty)
{
    std::cout << (g.pretty ? pretty : compact) << "\n";
}

std::string utc_timestamp()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    char buf[40];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
    char ms[24];
    std::snprintf(ms, sizeof(ms), ".%03ldZ", ts.tv_nsec / 1000000);
    return std::string(buf) + ms;
}

void log_event(bool as_json, const nlohmann::json& j, const std::string& text)
{
    if (as_json) {
        nlohmann::json e = j;
        e["time"] = utc_timestamp();
        std::cout << e.dump() << std::endl;
    } else {
        std::cout << utc_timestamp() << " " << text << std::endl;
    }
}

void log_event(const Globals& g, const nlohmann::json& j, const std::string& text)
{
    log_event(g.json, j, text);
}

}  // namespace crab::cli

namespace {

int report_error(const crab::cli::Globals& g, const std::string& msg, int code)
{
    if (g.json) {
        nlohmann::json j = {{"error", msg}, {"code", code}};
        std::cout << (g.pretty ? j.dump(2) : j.dump()) << "\n";
    } else {
        std::cerr << "error: " << msg << "\n";
    }
    return code;
}

}  // namespace

int main(int argc, char** argv)
{
    using crab::cli::Globals;
    Globals g;
    CLI::App app{"crabctl: configure and inspect CRAB connection-redirect load balancers and endpoints",
                 "crabctl"};
    app.set_version_flag("-V,--version", std::string("crabctl ") + CRAB_VERSION);
    app.add_flag("-j,--json", g.json, "JSON output (errors too)");
    app.add_flag("-p,--pretty", g.pretty, "indented JSON output (implies --json)");
    app.require_subcommand(1);
    app.footer(
        "Examples:\n"
        "  crabctl lb xdp attach eth0\n"
        "  crabctl lb xdp service add 198.18.100.1:80 --policy rr\n"
        "  crabctl -j lb nf stats\n"
        "Run 'crabctl OBJECT --help' for the commands of an object.");

    auto& reg = crab::cli::registry();
    std::sort(reg.begin(), reg.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

    CLI::App* lb = nullptr;
    for (const auto& e : reg) {
        if (!e.lb_impl) {
            e.fn(app, g);
            continue;
        }
        if (!lb) {
            lb = app.add_subcommand("lb", "load balancer implementations (xdp, nf, dpdk)");
            lb->require_subcommand(1);
        }
        e.fn(*lb, g);
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (g.pretty)
            g.json = true;
        if (g.json)
            return report_error(g, e.what(), crab::kExitUsage);
        int rc = app.exit(e);
        return rc == 0 ? 0 : crab::kExitUsage;
    } catch (const crab::Error& e) {
        return report_error(g, e.what(), e.code());
    } catch (const CLI::Error& e) {
        return report_error(g, e.what(), e.get_exit_code() ? e.get_exit_code() : 1);
    } catch (const std::exception& e) {
        return report_error(g, e.what(), crab::kExitError);
    }
    return 0;
}
