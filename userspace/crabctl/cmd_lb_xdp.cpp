// SPDX-License-Identifier: GPL-2.0-only
// crabctl lb xdp: the XDP LB (lb/ebpf_xdp/crab_lb.bpf.c).
//
//   crabctl lb xdp attach DEV [--mode native|generic] [--dispatcher auto|on|off] [--kind N]
//   crabctl lb xdp detach DEV
//   crabctl lb xdp service|backend ... --dev DEV
//                                 the verbs of every LB (cmd_lb_verbs.cpp)
//   crabctl [--json] lb xdp show --dev DEV
//   crabctl [--json] lb xdp stats --dev DEV
//   crabctl [--json] lb xdp nexthops --dev DEV [--watch [--refresh S]] [--clear] [--no-keep]
//                                 next hops resolved by the control plane
//                                 (lb/ebpf_xdp/ctl/nexthop.hpp)
//
// The XDP LB's control library (lb/ebpf_xdp/ctl/xdp_ctl.hpp: its pinned
// maps under /sys/fs/bpf/crab/<DEV>/, generations published after a grace
// period, attach/detach, the conformance runner) does the work; this file
// is its command line and crab::LbDriver "xdp" (crabctl apply, show, stats,
// health and the service/backend verbs; see lb_driver.hpp).
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

extern "C" {
#include <crab/crab_lb.h>
#include <crab/crab_xdp.h>
}

#include "command.hpp"
#include "lb_driver.hpp"
#include "lb_verbs.hpp"
#include "xdp_ctl.hpp"

namespace {

using crab::Error;
using crab::cli::Globals;
using nlohmann::json;
using namespace crab::xdp_ctl;

void print(const Globals& g, const json& j)
{
    crab::cli::print_json(g, j.dump(), j.dump(2));
}

// ---- nexthops ------------------------------------------------------------------

volatile sig_atomic_t g_nh_stop = 0;

struct NhOptions {
    std::string dev;
    bool watch = false;
    bool clear = false;
    bool no_keep = false;
    double refresh = 10;
};

// One backend's next hop as a line of text.
std::string nh_line(const json& b)
{
    std::string s = "service " + b["service"].get<std::string>() + " backend " + b["dip"].get<std::string>() +
                    " nexthop " + b["path"].get<std::string>();
    if (b.contains("dev"))
        s += " dev " + b["dev"].get<std::string>();
    if (b.contains("via") && b.value("gateway", false))
        s += " via " + b["via"].get<std::string>();
    if (b.contains("smac"))
        s += " smac " + b["smac"].get<std::string>();
    if (b.contains("dmac"))
        s += " dmac " + b["dmac"].get<std::string>();
    if (b.contains("neighbour"))
        s += " (" + b["neighbour"].get<std::string>() + ")";
    if (b.contains("reason"))
        s += ": " + b["reason"].get<std::string>();
    if (b.contains("keep_error"))
        s += " [" + b["keep_error"].get<std::string>() + "]";
    return s;
}

json nh_counters_json(const NhPassCounters& c, uint64_t passes, uint64_t events, uint64_t overruns, uint64_t errors)
{
    return {{"passes", passes},          {"events", events},           {"overruns", overruns},
            {"pass_errors", errors},     {"backends", c.backends},     {"static", c.static_mac},
            {"resolved", c.resolved},    {"unresolved", c.unresolved}, {"changed", c.changed},
            {"invalidated", c.invalidated}, {"published", c.published}, {"keep_managed", c.keep_managed},
            {"keep_use", c.keep_use},    {"keep_errors", c.keep_errors}};
}

// One pass under the LB's write lock (an operator's `backend add` and this
// pass each rebuild generations from what the maps hold).
json nh_pass(const NhOptions& o, crab::nexthop::NetlinkSocket* nl, bool keep, NhPassCounters* total)
{
    auto maps = Maps::open_pinned(o.dev);
    crab::WriteLock lock(pin_dir(o.dev), "the XDP LB on " + o.dev, false);
    return nexthops_pass(*maps, nl, keep, o.clear, total);
}

void run_nexthops(const Globals& g, const NhOptions& o)
{
    if (o.watch && o.clear)
        throw Error("--clear and --watch contradict each other (the watcher resolves next hops)", crab::kExitUsage);
    if (!(o.refresh >= 0.1 && o.refresh <= 3600))
        throw Error("invalid --refresh: expected 0.1 .. 3600 seconds", crab::kExitUsage);
    Maps::open_pinned(o.dev);  // the LB is there, before anything else
    crab::nexthop::NetlinkSocket nl;
    if (!o.watch) {
        NhPassCounters total;
        auto j = nh_pass(o, o.clear ? nullptr : &nl, !o.no_keep, &total);
        if (g.json || g.pretty) {
            print(g, j);
        } else {
            for (const auto& b : j["backends"])
                std::cout << nh_line(b) << "\n";
            std::cout << "resolved " << total.resolved << ", fib " << total.unresolved << ", static "
                      << total.static_mac << ", changed " << total.changed << ", keep errors " << total.keep_errors
                      << "\n";
        }
        return;
    }
    // Subscribed before the first pass: a change during it is an event.
    nl.subscribe();
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_nh_stop = 1; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    NhPassCounters total;
    uint64_t passes = 0, events = 0, overruns = 0, errors = 0;
    auto log = [&](const json& ev, const std::string& text) { crab::cli::log_event(g.json || g.pretty, ev, text); };
    auto pass = [&](const char* why, bool keep) {
        passes++;
        try {
            auto j = nh_pass(o, &nl, keep, &total);
            for (const auto& b : j["backends"])
                if (b["changed"].get<bool>() || passes == 1)
                    log({{"event", "nexthop"}, {"why", why}, {"backend", b}}, nh_line(b));
            if (j["counters"]["keep_errors"].get<uint64_t>())
                for (const auto& b : j["backends"])
                    if (b.contains("keep_error"))
                        log({{"event", "keep_error"}, {"backend", b}}, "cannot keep the neighbour resolved: " +
                                                                          b["keep_error"].get<std::string>());
        } catch (const Error& e) {
            // The LB detached, the lock held too long, ...: counted, said,
            // and tried again at the next event or refresh.
            errors++;
            log({{"event", "error"}, {"error", e.what()}}, std::string("error: ") + e.what());
        }
    };
    log({{"event", "start"}, {"dev", o.dev}, {"refresh", o.refresh}},
        "nexthops: resolving the next hops of the XDP LB on " + o.dev +
            " on neighbour, route, address and link changes, and every " + json(o.refresh).dump() + " s");
    pass("start", !o.no_keep);
    double next_refresh = 0;
    auto now = [] {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    };
    next_refresh = now() + o.refresh;
    while (!g_nh_stop) {
        double left = next_refresh - now();
        pollfd pfd{nl.fd(), POLLIN, 0};
        // Changes that came in during the last pass were read with its
        // answers: resolve again at once.
        int pr = nl.pending() ? 1 : poll(&pfd, 1, left > 0 ? static_cast<int>(left * 1000) + 1 : 0);
        if (pr < 0 && errno != EINTR)
            throw Error(std::string("waiting for rtnetlink notifications: ") + std::strerror(errno));
        if (g_nh_stop)
            break;
        if (pr > 0) {
            // A burst (a link going down) comes as many messages: take
            // them all, then resolve once.
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, nullptr);
            bool overrun = false;
            int n = nl.drain_events(&overrun);
            events += static_cast<uint64_t>(n);
            if (overrun) {
                overruns++;
                log({{"event", "overrun"}}, "rtnetlink notifications lost (ENOBUFS): resolving everything");
            }
            if (n > 0 || overrun)
                pass(overrun ? "overrun" : "change", !o.no_keep);
            continue;
        }
        if (now() >= next_refresh) {
            pass("refresh", !o.no_keep);
            next_refresh = now() + o.refresh;
        }
    }
    log({{"event", "stop"}, {"counters", nh_counters_json(total, passes, events, overruns, errors)}},
        "nexthops: stopped after " + std::to_string(passes) + " passes (" + std::to_string(events) +
            " events, " + std::to_string(overruns) + " overruns, " + std::to_string(errors) + " errors, " +
            std::to_string(total.changed) + " next hops changed, " + std::to_string(total.invalidated) +
            " withdrawn, " + std::to_string(total.keep_errors) + " keep errors)");
}

// ---- command line --------------------------------------------------------------

void setup_lb_xdp(CLI::App& lb, Globals& g)
{
    auto* x = lb.add_subcommand("xdp", "the XDP LB (lb/ebpf_xdp)");
    x->require_subcommand(1);
    x->footer("Examples:\n"
              "  crabctl lb xdp attach eth0 --mode native\n"
              "  crabctl lb xdp service add 198.18.100.1:80 --policy wrr --legacy drop --dev eth0\n"
              "  crabctl lb xdp backend add 198.18.100.1:80 198.18.0.11 --weight 3 --dev eth0\n"
              "  crabctl lb xdp backend set 198.18.100.1:80 198.18.0.11 --state draining --dev eth0\n"
              "  crabctl -j lb xdp stats --dev eth0\n"
              "  crabctl lb xdp detach eth0");

    auto ao = std::make_shared<AttachOptions>();
    auto* at = x->add_subcommand("attach", "load the LB and attach it to DEV (via libxdp)");
    at->add_option("dev", ao->dev, "network device")->required();
    at->add_option("--mode", ao->mode, "XDP mode (default: native, falling back to generic)")
        ->check(CLI::IsMember({"native", "generic"}));
    at->add_option("--dispatcher", ao->dispatcher,
                   "libxdp multi-program dispatcher: auto (default: try it, attach directly when the kernel "
                   "refuses it), on (fail without it), off (attach directly; also LIBXDP_SKIP_DISPATCHER=1)")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    at->add_option("--kind", ao->kind, "redirect option kind (default 42; 254 = RFC 6994 form)")
        ->check(CLI::Range(1, 255));
    at->add_option("--exid", ao->exid, "ExID for --kind 254")->check(CLI::Range(0, 0xffff));
    at->callback([ao] { run_attach(*ao); });

    auto dd = std::make_shared<std::string>();
    auto* de = x->add_subcommand("detach", "detach the LB from DEV and remove its pinned maps");
    de->add_option("dev", *dd, "network device")->required();
    de->callback([dd] { run_detach(*dd); });

    auto vdev = std::make_shared<std::string>();
    crab::cli::add_lb_verbs(*x, {[vdev] { return crab::LbTarget{"xdp", *vdev, "", ""}; },
                                 [vdev](CLI::App* c) {
                                     c->add_option("--dev", *vdev, "device the LB is attached to")->required();
                                 }});

    auto sdev = std::make_shared<std::string>();
    auto* sh = x->add_subcommand("show", "services and backends");
    sh->add_option("--dev", *sdev, "device the LB is attached to")->required();
    sh->callback([sdev, &g] {
        auto j = show_json(*Maps::open_pinned(*sdev));
        if (g.json || g.pretty) {
            print(g, j);
            return;
        }
        std::cout << attach_line(attach_json(*sdev)) << "\n";
        for (const auto& s : j) {
            std::cout << "service " << s["service"].get<std::string>() << " policy "
                      << s["policy"].get<std::string>() << " legacy " << s["legacy"].get<std::string>()
                      << " (" << s["active_backends"] << " active)\n";
            for (const auto& b : s["backends"]) {
                std::cout << "  backend " << b["dip"].get<std::string>() << " weight " << b["weight"] << " "
                          << b["state"].get<std::string>();
                if (b.contains("mac"))
                    std::cout << " mac " << b["mac"].get<std::string>();
                if (b.value("nexthop", "") == "resolved")
                    std::cout << " nexthop " << b["nh_dev"].get<std::string>() << " "
                              << b["nh_smac"].get<std::string>() << " -> " << b["nh_dmac"].get<std::string>();
                else if (b.value("nexthop", "") == "fib")
                    std::cout << " nexthop fib";
                std::cout << "\n";
            }
        }
    });
    auto no = std::make_shared<NhOptions>();
    auto* nh = x->add_subcommand("nexthops",
                                 "resolve the backends' next hops (route + neighbour) for the data path; "
                                 "--watch: keep them current");
    nh->add_option("--dev", no->dev, "device the LB is attached to")->required();
    nh->add_flag("--watch", no->watch,
                 "stay running: resolve again on neighbour, route, address and link changes and every --refresh "
                 "seconds (SIGTERM/SIGINT end it)");
    nh->add_option("--refresh", no->refresh, "seconds between full passes of --watch (default 10)");
    nh->add_flag("--clear", no->clear, "withdraw every resolved next hop (SYNs take the FIB lookup)");
    nh->add_flag("--no-keep", no->no_keep,
                 "do not mark the neighbours managed (or refresh them with NTF_USE): resolve only");
    nh->callback([no, &g] { run_nexthops(g, *no); });

    auto* stc = x->add_subcommand("stats", "per-service, per-backend and global counters");
    stc->add_option("--dev", *sdev, "device the LB is attached to")->required();
    stc->callback([sdev, &g] {
        auto j = stats_json(*Maps::open_pinned(*sdev));
        j["attach"] = attach_json(*sdev);
        if (g.json || g.pretty) {
            print(g, j);
            return;
        }
        std::cout << attach_line(j["attach"]) << "\n";
        for (auto& [k, v] : j["global"].items())
            std::cout << k << " " << v << "\n";
        for (const auto& s : j["services"]) {
            std::cout << "service " << s["service"].get<std::string>() << "\n";
            for (auto& [k, v] : s["counters"].items())
                std::cout << "  " << k << " " << v << "\n";
            for (auto& [k, v] : s["backends"].items())
                std::cout << "  backend " << k << " " << v << "\n";
        }
    });
}


// ---- crab::LbDriver "xdp" ----------------------------------------------------

class XdpDriver : public crab::LbDriver {
public:
    explicit XdpDriver(const crab::LbTarget& t) : dev_(t.dev)
    {
        if (dev_.empty())
            throw Error("the XDP LB needs its device: give --dev DEV (or dev in the file's [lb] table)",
                        crab::kExitUsage);
        maps_ = Maps::open_pinned(dev_);
    }

    std::string type() const override { return "xdp"; }

    std::unique_ptr<crab::WriteLock> write_lock() override
    {
        return std::make_unique<crab::WriteLock>(pin_dir(dev_), "the XDP LB on " + dev_, false);
    }

    crab::config::Config read() override
    {
        crab::config::Config c;
        c.lb.type = "xdp";
        c.lb.dev = dev_;
        for (const auto& s : list_services(*maps_)) {
            crab::config::Service cs;
            cs.ep = s.ep;
            cs.policy = static_cast<crab_policy>(s.svc.policy);
            cs.legacy = static_cast<crab_legacy_mode>(s.svc.legacy);
            auto g = read_gen(*maps_, s.svc.id, s.svc.gen);
            for (uint32_t slot = 0; slot < CRAB_MAX_BACKENDS; slot++) {
                const auto& b = g->be[slot];
                if (!(b.flags & CRAB_XDP_BE_VALID))
                    continue;
                crab::config::Backend cb;
                cb.addr = backend_addr(b);
                cb.weight = b.weight ? b.weight : 1;
                cb.drain = b.state != CRAB_BACKEND_ACTIVE;
                if (b.flags & CRAB_XDP_BE_HAS_MAC) {
                    cb.has_mac = true;
                    std::memcpy(cb.mac.data(), b.mac, 6);
                }
                cs.backends.push_back(cb);
            }
            c.services.push_back(std::move(cs));
        }
        return c;
    }

    std::string not_serving() override
    {
        unsigned idx = if_nametoindex(dev_.c_str());
        if (!idx)
            return "no network device '" + dev_ + "'";
        if (!attach_state(static_cast<int>(idx)).attached)
            return "the LB program is not attached to " + dev_;
        char path[64];
        std::snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", dev_.c_str());
        if (FILE* f = std::fopen(path, "r")) {
            char st[32] = "";
            bool ok = std::fgets(st, sizeof(st), f) != nullptr;
            std::fclose(f);
            // "up", or "unknown" for devices without carrier reporting.
            if (ok && std::strncmp(st, "up", 2) != 0 && std::strncmp(st, "unknown", 7) != 0)
                return dev_ + " is " + std::string(st, std::strcspn(st, "\n"));
        }
        return {};
    }

    crab::LbStats stats() override
    {
        crab::LbStats st;
        for (uint32_t c = 0; c < CRAB_XDP_G_MAX; c++)
            st.global[kGlobalNames[c]] = percpu_sum(maps_->glob_cnt, c);
        const auto& names = crab::lb_counter_names();
        for (const auto& s : list_services(*maps_)) {
            crab::LbStats::Service ss;
            ss.ep = s.ep;
            ss.has_backend_counters = true;
            const auto sum = svc_counters(*maps_, s.svc.id);
            for (uint32_t c = 0; c < CRAB_LB_CNT_MAX; c++)
                ss.counters[std::string(names[c])] = sum[c];
            auto g = read_gen(*maps_, s.svc.id, s.svc.gen);
            for (uint32_t slot = 0; slot < CRAB_MAX_BACKENDS; slot++)
                if (g->be[slot].flags & CRAB_XDP_BE_VALID)
                    ss.backends[crab::to_string(backend_addr(g->be[slot]))] =
                        percpu_sum(maps_->be_cnt, s.svc.id * CRAB_MAX_BACKENDS + slot);
            st.services.push_back(std::move(ss));
        }
        return st;
    }

    void service_add(const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) override
    {
        crab::xdp_ctl::service_add(*maps_, ep, pol, leg);
    }
    void service_set(const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg) override
    {
        crab::xdp_ctl::service_set(*maps_, ep, pol, leg);
    }
    void service_del(const crab::IpEndpoint& ep) override { crab::xdp_ctl::service_del(*maps_, ep); }
    // A backend without a static MAC gets its next hop resolved before it
    // is published (nexthop.hpp); when that fails it is added all the
    // same (the FIB lookup serves it) and the reason is said.
    void backend_add(const crab::IpEndpoint& ep, const crab::config::Backend& b) override
    {
        NhNote note;
        crab::xdp_ctl::backend_add(*maps_, ep, b.addr, b.weight, mac_of(b), b.drain, netlink(), &note);
        unresolved_note(ep, b, note);
    }
    void backend_set(const crab::IpEndpoint& ep, const crab::config::Backend& b) override
    {
        NhNote note;
        crab::xdp_ctl::backend_set(*maps_, ep, b.addr, b.weight, b.drain, mac_of(b), netlink(), &note);
        unresolved_note(ep, b, note);
    }
    void backend_del(const crab::IpEndpoint& ep, const crab::IpAddr& dip) override { backend_change(*maps_, ep, dip, true); }

private:
    crab::nexthop::NetlinkSocket* netlink()
    {
        if (!nl_)
            nl_ = std::make_unique<crab::nexthop::NetlinkSocket>();
        return nl_.get();
    }
    void unresolved_note(const crab::IpEndpoint& ep, const crab::config::Backend& b, const NhNote& note)
    {
        if (!note.tried)
            return;
        std::string who = "note: service " + crab::to_string(ep) + " backend " + crab::to_string(b.addr) + ": ";
        if (!note.resolved)
            std::cerr << who << "next hop not resolved (" << note.reason
                      << "): its SYNs take the FIB lookup until `crabctl lb xdp nexthops --dev " << dev_
                      << "` (or a running --watch) resolves it\n";
        if (!note.keep_error.empty())
            std::cerr << who << "its neighbour is not kept resolved: " << note.keep_error << "\n";
    }
    static std::optional<std::array<uint8_t, 6>> mac_of(const crab::config::Backend& b)
    {
        if (!b.has_mac)
            return std::nullopt;
        return b.mac;
    }
    std::string dev_;
    std::unique_ptr<Maps> maps_;
    std::unique_ptr<crab::nexthop::NetlinkSocket> nl_;
};

std::unique_ptr<crab::LbDriver> make_xdp_driver(const crab::LbTarget& t) { return std::make_unique<XdpDriver>(t); }

}  // namespace

CRABCTL_LB_IMPL(xdp, setup_lb_xdp);
CRABCTL_LB_DRIVER(xdp, make_xdp_driver);
