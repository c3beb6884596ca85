// SPDX-License-Identifier: GPL-2.0-only
// crabctl bgp: announce the VIPs of a healthy LB by BGP, withdraw them when
// it stops serving, so that several LBs can share one VIP behind a router
// doing equal-cost multipath (no state to synchronise: an LB keeps none).
//
//   crabctl bgp run -f FILE [--lb ...] [--dev DEV] [--once]
//   crabctl [--json] bgp status -f FILE [--lb ...] [--dev DEV]
//
// FILE is the `crabctl apply -f` file; its [bgp] table names this LB's AS,
// the neighbours (routers) and optionally the VIPs (crab/config.hpp).
//
// The BGP speaker is FRR's bgpd (with bfdd for sub-second failure detection
// and zebra); crabctl drives it through vtysh, FRR's own configuration
// shell: the commands are the ones an operator would type, the result is
// visible in `show running-config`, and vtysh reports a refused command
// with a non-zero exit. FRR 8.4 (Debian 12) offers no other stable
// interface for bgpd: its northbound (YANG/gRPC) covers other daemons and
// is not built into Debian's package.
//
// run: checks FRR (reachable, bgpd and, when a neighbour uses BFD, bfdd
// running, no other AS configured, no neighbour with another AS), then
// configures the BGP session in one vtysh call (undone if FRR refuses any
// part of it), then every interval_ms:
//   a VIP is announced (`network VIP/32`) while the LB can be read, is in
//   the data path (LbDriver::not_serving) and at least one service on that
//   VIP has a backend that is not drained (`crabctl health` drains failing
//   ones); otherwise it is withdrawn (`no network VIP/32`).
// Every few seconds it re-reads FRR's running configuration and restores
// the session if FRR lost it (a restarted bgpd). SIGTERM/SIGINT withdraw
// every VIP and exit 0: stopping the daemon takes this LB out of the ECMP
// group. --once converges once and exits.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "lb_driver.hpp"
#include "lb_target.hpp"

extern char** environ;

namespace {

using crab::Error;
using crab::Ipv4;
using crab::cli::Globals;
using crab::config::BgpSettings;
using nlohmann::json;

volatile sig_atomic_t g_stop = 0;

double now_s()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string prefix(Ipv4 a) { return crab::to_string(a) + "/32"; }

// ---- vtysh -----------------------------------------------------------------------

struct VtyResult {
    int rc = -1;
    std::string out;  // stdout and stderr
};

// One vtysh process (FRR's shell) running @cmds in order; it stops at the
// first command a daemon refuses and exits non-zero. Bounded: killed after
// @timeout_s.
class Vtysh {
public:
    explicit Vtysh(std::string dir) : dir_(std::move(dir)) {}

    VtyResult run(const std::vector<std::string>& cmds, double timeout_s = 30) const
    {
        std::vector<std::string> args{"vtysh"};
        if (!dir_.empty()) {
            args.insert(args.end(), {"--vty_socket", dir_, "--config_dir", dir_});
        }
        for (const auto& c : cmds) {
            args.push_back("-c");
            args.push_back(c);
        }
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);

        int p[2];
        if (pipe2(p, O_CLOEXEC))
            throw Error(std::string("pipe: ") + std::strerror(errno));
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_adddup2(&fa, p[1], 2);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        pid_t pid;
        int rc = posix_spawnp(&pid, "vtysh", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        if (rc) {
            close(p[0]);
            throw Error(std::string("cannot run vtysh (FRR's shell, Debian package frr): ") + std::strerror(rc),
                        crab::kExitNoSupport);
        }
        VtyResult r;
        double deadline = now_s() + timeout_s;
        char buf[4096];
        bool timed_out = false;
        for (;;) {
            double left = deadline - now_s();
            if (left <= 0) {
                timed_out = true;
                kill(pid, SIGKILL);
                break;
            }
            pollfd pfd{p[0], POLLIN, 0};
            int n = poll(&pfd, 1, static_cast<int>(left * 1000) + 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                continue;
            ssize_t k = read(p[0], buf, sizeof(buf));
            if (k <= 0)
                break;
            r.out.append(buf, static_cast<size_t>(k));
        }
        close(p[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        r.rc = timed_out ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        if (timed_out)
            r.out += "\n(vtysh killed after " + std::to_string(static_cast<int>(timeout_s)) + " s)";
        return r;
    }

    // Run; throw naming @what when FRR refuses.
    std::string must(const std::vector<std::string>& cmds, const std::string& what) const
    {
        VtyResult r = run(cmds);
        if (r.rc != 0)
            throw Error(what + ": vtysh" + where() + " exited " + std::to_string(r.rc) + ": " + trim(r.out));
        return r.out;
    }

    std::string where() const { return dir_.empty() ? "" : " --vty_socket " + dir_; }

    static std::string trim(std::string s)
    {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
            s.pop_back();
        std::replace(s.begin(), s.end(), '\n', ' ');
        return s;
    }

private:
    std::string dir_;
};

// What FRR's running configuration says about BGP.
struct FrrState {
    std::set<std::string> daemons;                 // `show daemons`
    std::vector<uint32_t> asns;                    // `router bgp N` (default VRF)
    std::map<std::string, uint32_t> neighbors;     // addr -> remote-as (under our AS)
    std::set<std::string> networks;                // ipv4 unicast `network` prefixes (our AS)
    std::set<std::string> profiles;                // bfd profiles
    bool has_bfd = false;                          // a `bfd` block
    std::string router_id;
};

FrrState read_frr(const Vtysh& vty, uint32_t asn)
{
    FrrState s;
    std::istringstream d(vty.must({"show daemons"}, "reading FRR's daemons"));
    for (std::string w; d >> w;)
        s.daemons.insert(w);
    std::istringstream rc(vty.must({"show running-config"}, "reading FRR's running configuration"));
    enum { None, Ours, Other, Bfd } blk = None;
    bool v4 = false;
    for (std::string line; std::getline(rc, line);) {
        std::istringstream ls(line);
        std::vector<std::string> w;
        for (std::string x; ls >> x;)
            w.push_back(x);
        if (w.empty())
            continue;
        bool top = line[0] != ' ';
        if (top) {
            v4 = false;
            if (w[0] == "router" && w.size() >= 3 && w[1] == "bgp") {
                uint32_t n = static_cast<uint32_t>(std::strtoul(w[2].c_str(), nullptr, 10));
                if (w.size() == 3) {  // default VRF only
                    s.asns.push_back(n);
                    blk = n == asn ? Ours : Other;
                } else {
                    blk = Other;
                }
            } else if (w[0] == "bfd" && w.size() == 1) {
                blk = Bfd;
                s.has_bfd = true;
            } else {
                blk = None;
            }
            continue;
        }
        if (blk == Bfd && w[0] == "profile" && w.size() == 2)
            s.profiles.insert(w[1]);
        if (blk != Ours)
            continue;
        if (w[0] == "address-family")
            v4 = w.size() == 3 && w[1] == "ipv4" && w[2] == "unicast";
        else if (w[0] == "exit-address-family")
            v4 = false;
        else if (w[0] == "neighbor" && w.size() == 4 && w[2] == "remote-as")
            s.neighbors[w[1]] = static_cast<uint32_t>(std::strtoul(w[3].c_str(), nullptr, 10));
        else if (w[0] == "network" && w.size() >= 2 && v4)
            s.networks.insert(w[1]);
        else if (w[0] == "bgp" && w.size() == 3 && w[1] == "router-id")
            s.router_id = w[2];
    }
    return s;
}

std::string bfd_profile(const crab::config::BgpPeer& p)
{
    return "crab-" + std::to_string(p.bfd_interval_ms) + "ms-x" + std::to_string(p.bfd_multiplier);
}

// ---- the BGP session -----------------------------------------------------------------

// Refuse (exit 2, nothing changed) what FRR's current state contradicts.
void check_frr(const BgpSettings& b, const FrrState& s, const std::string& where)
{
    if (!s.daemons.count("bgpd"))
        throw Error("FRR" + where + " runs no bgpd (its daemons: " + Vtysh::trim([&] {
                        std::string d;
                        for (const auto& x : s.daemons)
                            d += x + " ";
                        return d;
                    }()) + "); nothing changed",
                    crab::kExitError);
    for (size_t i = 0; i < b.peers.size(); i++)
        if (b.peers[i].bfd && !s.daemons.count("bfdd"))
            throw Error("bgp.peer[" + std::to_string(i + 1) + "].bfd: true, but FRR" + where +
                            " runs no bfdd (start it, or set bfd = false); nothing changed",
                        crab::kExitUsage);
    for (uint32_t a : s.asns)
        if (a != b.asn)
            throw Error("bgp.asn: " + std::to_string(b.asn) + ", but FRR's bgpd" + where + " already runs AS " +
                            std::to_string(a) + " (one BGP instance per router); nothing changed",
                        crab::kExitUsage);
    for (size_t i = 0; i < b.peers.size(); i++) {
        auto it = s.neighbors.find(crab::to_string(b.peers[i].addr));
        if (it != s.neighbors.end() && it->second != b.peers[i].asn)
            throw Error("bgp.peer[" + std::to_string(i + 1) + "].asn: " + std::to_string(b.peers[i].asn) +
                            ", but FRR already has neighbour " + it->first + " in AS " + std::to_string(it->second) +
                            "; nothing changed",
                        crab::kExitUsage);
    }
}

// The vtysh commands that set up (or restore) the session.
std::vector<std::string> session_cmds(const BgpSettings& b)
{
    std::vector<std::string> c{"configure terminal"};
    std::set<std::string> made;
    for (const auto& p : b.peers) {
        if (!p.bfd || made.count(bfd_profile(p)))
            continue;
        made.insert(bfd_profile(p));
        c.insert(c.end(), {"bfd", "profile " + bfd_profile(p),
                           "transmit-interval " + std::to_string(p.bfd_interval_ms),
                           "receive-interval " + std::to_string(p.bfd_interval_ms),
                           "detect-multiplier " + std::to_string(p.bfd_multiplier), "exit", "exit"});
    }
    c.push_back("router bgp " + std::to_string(b.asn));
    if (b.has_router_id)
        c.push_back("bgp router-id " + crab::to_string(b.router_id));
    // No import policy is needed for the LB's own announcements, and a
    // `network` statement must not wait for a route to the VIP in the RIB
    // (the LB does not own the VIP as an address).
    c.insert(c.end(), {"no bgp ebgp-requires-policy", "no bgp network import-check"});
    for (const auto& p : b.peers) {
        std::string n = "neighbor " + crab::to_string(p.addr);
        c.insert(c.end(), {n + " remote-as " + std::to_string(p.asn), n + " timers connect 1",
                           n + " advertisement-interval 0"});
        c.push_back(p.bfd ? n + " bfd profile " + bfd_profile(p) : "no " + n + " bfd");
    }
    c.push_back("address-family ipv4 unicast");
    for (const auto& p : b.peers)
        c.push_back("neighbor " + crab::to_string(p.addr) + " activate");
    c.insert(c.end(), {"exit-address-family", "exit", "end"});
    return c;
}

bool session_present(const BgpSettings& b, const FrrState& s)
{
    if (std::find(s.asns.begin(), s.asns.end(), b.asn) == s.asns.end())
        return false;
    for (const auto& p : b.peers) {
        if (!s.neighbors.count(crab::to_string(p.addr)))
            return false;
        if (p.bfd && !s.profiles.count(bfd_profile(p)))
            return false;
    }
    return true;
}

// Configure the session; on a refusal undo what this call added.
void configure_session(const Vtysh& vty, const BgpSettings& b, const FrrState& before)
{
    VtyResult r = vty.run(session_cmds(b));
    if (r.rc == 0)
        return;
    std::vector<std::string> undo{"configure terminal"};
    bool had_as = std::find(before.asns.begin(), before.asns.end(), b.asn) != before.asns.end();
    if (!had_as) {
        undo.push_back("no router bgp " + std::to_string(b.asn));
    } else {
        undo.push_back("router bgp " + std::to_string(b.asn));
        for (const auto& p : b.peers)
            if (!before.neighbors.count(crab::to_string(p.addr)))
                undo.push_back("no neighbor " + crab::to_string(p.addr));
        undo.push_back("exit");
    }
    // bfdd keeps an empty `bfd` block once entered: remove the block when
    // it is ours, else only our new profiles.
    if (!before.has_bfd) {
        undo.push_back("no bfd");
    } else {
        undo.push_back("bfd");
        for (const auto& p : b.peers)
            if (p.bfd && !before.profiles.count(bfd_profile(p)))
                undo.push_back("no profile " + bfd_profile(p));
        undo.push_back("exit");
    }
    undo.push_back("end");
    VtyResult u = vty.run(undo);
    throw Error("FRR" + vty.where() + " refused the BGP configuration (vtysh exit " + std::to_string(r.rc) +
                    "): " + Vtysh::trim(r.out) +
                    (u.rc == 0 ? "; what was added is removed again" : "; removing it failed too: " + Vtysh::trim(u.out)),
                crab::kExitError);
}

void set_network(const Vtysh& vty, uint32_t asn, Ipv4 vip, bool announce)
{
    vty.must({"configure terminal", "router bgp " + std::to_string(asn), "address-family ipv4 unicast",
              std::string(announce ? "" : "no ") + "network " + prefix(vip), "end"},
             std::string(announce ? "announcing " : "withdrawing ") + prefix(vip));
}

// ---- the LB's state ------------------------------------------------------------------

struct VipState {
    bool up = false;
    std::string why;  // why (not) announced
};

// Per VIP: whether this LB serves it now.
std::map<Ipv4, VipState> evaluate(const crab::LbTarget& t, const std::vector<Ipv4>& vips)
{
    std::map<Ipv4, VipState> out;
    std::string down;
    crab::config::Config cur;
    try {
        auto drv = crab::make_lb_driver(t);  // afresh: the LB may have been detached or re-attached
        down = drv->not_serving();
        if (down.empty())
            cur = drv->read();
    } catch (const Error& e) {
        down = e.what();
    }
    for (Ipv4 v : vips) {
        VipState s;
        if (!down.empty()) {
            s.why = "LB not serving: " + down;
        } else {
            size_t svcs = 0, active = 0, total = 0;
            for (const auto& sv : cur.services) {
                if (sv.ep.ip != crab::IpAddr::v4(v))
                    continue;
                svcs++;
                for (const auto& be : sv.backends) {
                    total++;
                    active += !be.drain;
                }
            }
            s.up = active > 0;
            if (!svcs)
                s.why = "no service on this VIP in the LB";
            else if (!active)
                s.why = "no active backend (" + std::to_string(total) + " drained or none)";
            else
                s.why = std::to_string(active) + " of " + std::to_string(total) + " backends active";
        }
        out[v] = s;
    }
    return out;
}

// ---- commands ------------------------------------------------------------------------

struct BgpOptions {
    crab::cli::TargetOptions target;
    std::string file;
    bool once = false;
};

struct Loaded {
    crab::config::Config cfg;
    crab::LbTarget target;
    std::vector<Ipv4> vips;
};

Loaded load(const BgpOptions& o)
{
    Loaded l;
    l.cfg = crab::config::parse_file(o.file);
    if (!l.cfg.bgp.present)
        throw Error(o.file + ": no [bgp] table (asn and at least one [[bgp.peer]])", crab::kExitUsage);
    l.target = crab::cli::resolve_target(o.target, &l.cfg.lb);
    if (l.target.type.empty())
        throw Error("which LB: give --lb (or type in the file's [lb] table)", crab::kExitUsage);
    l.vips = l.cfg.bgp_vips();
    const auto& d = l.cfg.bgp.frr_dir;
    struct stat st {};
    if (!d.empty() && (stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
        throw Error(o.file + ": bgp.frr_dir: '" + d + "' is not a directory", crab::kExitUsage);
    return l;
}

void run_bgp(const Globals& g, const BgpOptions& o)
{
    Loaded l = load(o);
    const BgpSettings& b = l.cfg.bgp;
    Vtysh vty(b.frr_dir);
    FrrState st;
    try {
        st = read_frr(vty, b.asn);
    } catch (const Error& e) {
        throw Error(std::string("cannot reach FRR (is it running?): ") + e.what(), crab::kExitError);
    }
    check_frr(b, st, vty.where());

    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop = 1; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    configure_session(vty, b, st);
    std::string peers;
    for (const auto& p : b.peers)
        peers += (peers.empty() ? "" : ", ") + crab::to_string(p.addr) + " AS " + std::to_string(p.asn) +
                 (p.bfd ? " (BFD " + std::to_string(p.bfd_interval_ms) + " ms x " + std::to_string(p.bfd_multiplier) + ")"
                        : " (no BFD)");
    std::string vl;
    for (Ipv4 v : l.vips)
        vl += (vl.empty() ? "" : " ") + prefix(v);
    log_event(g, {{"event", "start"}, {"asn", b.asn}, {"peers", peers}, {"vips", vl}},
              "bgp: AS " + std::to_string(b.asn) + ", neighbours " + peers + "; VIPs " + vl + "; " + l.target.type +
                  " LB checked every " + std::to_string(b.interval_ms) + " ms");

    std::set<Ipv4> announced;
    for (Ipv4 v : l.vips)
        if (st.networks.count(prefix(v)))
            announced.insert(v);
    std::map<Ipv4, std::string> last_why;
    double next_reconcile = now_s() + 5;
    int errors = 0;
    for (bool first = true; first || (!o.once && !g_stop); first = false) {
        double start = now_s();
        auto ev = evaluate(l.target, l.vips);
        for (Ipv4 v : l.vips) {
            const VipState& s = ev[v];
            bool is = announced.count(v) != 0;
            if (s.up != is || (first && !s.up)) {
                std::string action = s.up ? "announced" : (is ? "withdrawn" : "not announced");
                try {
                    if (s.up != is)
                        set_network(vty, b.asn, v, s.up);
                    if (s.up)
                        announced.insert(v);
                    else
                        announced.erase(v);
                } catch (const Error& e) {
                    errors++;
                    action = std::string(s.up ? "announce" : "withdraw") + " FAILED: " + e.what();
                }
                log_event(g, {{"event", s.up ? "announce" : "withdraw"}, {"vip", prefix(v)}, {"reason", s.why},
                              {"action", action}},
                          "bgp: " + prefix(v) + " " + action + " (" + s.why + ")");
            } else if (s.up && last_why[v] != s.why && !first) {
                log_event(g, {{"event", "still-announced"}, {"vip", prefix(v)}, {"reason", s.why}},
                          "bgp: " + prefix(v) + " stays announced (" + s.why + ")");
            }
            last_why[v] = s.why;
        }
        if (o.once)
            break;
        if (now_s() >= next_reconcile) {
            next_reconcile = now_s() + 5;
            try {
                FrrState cur = read_frr(vty, b.asn);
                if (!session_present(b, cur)) {
                    check_frr(b, cur, vty.where());
                    configure_session(vty, b, cur);
                    log_event(g, {{"event", "restored"}}, "bgp: FRR had lost the session; configured it again");
                    cur = read_frr(vty, b.asn);
                }
                std::set<Ipv4> in_frr;
                for (Ipv4 v : l.vips)
                    if (cur.networks.count(prefix(v)))
                        in_frr.insert(v);
                announced = in_frr;  // next round corrects any difference
            } catch (const Error& e) {
                log_event(g, {{"event", "error"}, {"error", e.what()}}, std::string("bgp: ") + e.what());
            }
        }
        double until = start + b.interval_ms / 1000.0;
        while (!g_stop && now_s() < until)
            usleep(static_cast<useconds_t>(std::min(0.05, until - now_s()) * 1e6) + 1);
    }
    if (!o.once) {
        for (Ipv4 v : announced) {
            std::string action = "withdrawn";
            try {
                set_network(vty, b.asn, v, false);
            } catch (const Error& e) {
                errors++;
                action = std::string("withdraw FAILED: ") + e.what();
            }
            log_event(g, {{"event", "withdraw"}, {"vip", prefix(v)}, {"reason", "stopping"}, {"action", action}},
                      "bgp: " + prefix(v) + " " + action + " (stopping)");
        }
        log_event(g, {{"event", "stop"}}, "bgp: stopping (signal)");
    }
    if (errors && o.once)
        throw Error(std::to_string(errors) + " announce/withdraw steps failed", crab::kExitError);
}

void run_status(const Globals& g, const BgpOptions& o)
{
    Loaded l = load(o);
    const BgpSettings& b = l.cfg.bgp;
    Vtysh vty(b.frr_dir);
    FrrState st = read_frr(vty, b.asn);
    json sum = json::object(), bfd = json::array();
    auto r = vty.run({"show bgp ipv4 unicast summary json"});
    if (r.rc == 0)
        sum = json::parse(r.out, nullptr, false);
    auto rb = vty.run({"show bfd peers json"});
    if (rb.rc == 0)
        bfd = json::parse(rb.out, nullptr, false);
    auto ev = evaluate(l.target, l.vips);

    json out = {{"asn", b.asn}, {"peers", json::array()}, {"vips", json::array()}};
    for (const auto& p : b.peers) {
        std::string a = crab::to_string(p.addr);
        json pj = {{"addr", a}, {"asn", p.asn}, {"configured", st.neighbors.count(a) != 0}, {"state", "unknown"}};
        if (sum.is_object() && sum.contains("peers") && sum["peers"].contains(a)) {
            const auto& x = sum["peers"][a];
            pj["state"] = x.value("state", "unknown");
            pj["prefixes_sent"] = x.value("pfxSnt", 0);
        }
        pj["bfd"] = p.bfd ? "down" : "off";
        if (p.bfd && bfd.is_array())
            for (const auto& x : bfd)
                if (x.value("peer", "") == a)
                    pj["bfd"] = x.value("status", "unknown");
        out["peers"].push_back(pj);
    }
    for (Ipv4 v : l.vips)
        out["vips"].push_back({{"vip", prefix(v)},
                               {"announced", st.networks.count(prefix(v)) != 0},
                               {"lb_ok", ev[v].up},
                               {"reason", ev[v].why}});
    if (g.json) {
        crab::cli::print_json(g, out.dump(), out.dump(2));
        return;
    }
    std::cout << "AS " << b.asn << "\n";
    for (const auto& p : out["peers"])
        std::cout << "neighbour " << std::left << std::setw(16) << p["addr"].get<std::string>() << " AS "
                  << std::setw(11) << p["asn"].get<uint32_t>() << " state " << std::setw(12)
                  << p["state"].get<std::string>() << " bfd " << p["bfd"].get<std::string>() << "\n";
    for (const auto& v : out["vips"])
        std::cout << "vip " << std::left << std::setw(19) << v["vip"].get<std::string>()
                  << (v["announced"].get<bool>() ? "announced     " : "not announced ") << "("
                  << v["reason"].get<std::string>() << ")\n";
}

void setup_bgp(CLI::App& app, Globals& g)
{
    auto* bgp = app.add_subcommand("bgp", "announce the VIPs of a healthy LB by BGP (FRR), withdraw them otherwise");
    bgp->require_subcommand(1);
    auto ro = std::make_shared<BgpOptions>();
    auto* r = bgp->add_subcommand("run", "configure the BGP session in FRR, then announce/withdraw the VIPs (daemon)");
    r->add_option("-f,--file", ro->file, "the apply -f configuration file, with a [bgp] table")->required();
    crab::cli::add_target_options(*r, ro->target);
    r->add_flag("--once", ro->once, "converge once and exit (no daemon; nothing withdrawn at exit)");
    r->add_flag("--json", g.json, "JSON output (one event per line)");
    r->footer("A VIP is announced while the LB is attached and serving and at least one service on the\n"
              "VIP has a backend that is not drained (run `crabctl health` to drain failing backends);\n"
              "otherwise it is withdrawn. SIGTERM/SIGINT withdraw every VIP and exit 0.\n\n"
              "Examples:\n"
              "  crabctl bgp run -f /etc/crab/lb-eth0.toml\n"
              "  crabctl bgp run -f lb.toml --lb xdp --dev eth0 --once");
    r->callback([ro, &g] { run_bgp(g, *ro); });

    auto so = std::make_shared<BgpOptions>();
    auto* s = bgp->add_subcommand("status", "BGP neighbours, BFD and which VIPs FRR announces");
    s->add_option("-f,--file", so->file, "the apply -f configuration file, with a [bgp] table")->required();
    crab::cli::add_target_options(*s, so->target);
    s->add_flag("--json", g.json, "JSON output");
    s->footer("Examples:\n  crabctl bgp status -f /etc/crab/lb-eth0.toml\n  crabctl -j bgp status -f lb.toml");
    s->callback([so, &g] { run_status(g, *so); });
}

}  // namespace

CRABCTL_COMMAND(bgp, setup_bgp);
