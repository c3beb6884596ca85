// SPDX-License-Identifier: GPL-2.0-only
// crabctl health: probe every backend of an LB with a real SYN carrying the
// redirect option and take failing backends out of rotation.
//
//   crabctl [--json] health --lb xdp|nf|dpdk [--dev DEV] [--once] [--interval S]
//                          [--fall N] [--rise N] [--timeout MS] [--kind N] [--exid N]
//
// Each probe is a SYN from this host (the LB) to DIP:port, built by hand on a
// raw socket, carrying MSS and the redirect option with the service's VIP, as
// the LB would write it (crab_opt_write/crab_opt_write6, include/crab/
// crab_opt.h: the 8-byte IPv4 or 20-byte IPv6 form, the service's family;
// the kernel fills in an IPv6 probe's checksum, IPV6_CHECKSUM). The answer
// classifies the backend:
//   capable    SYN-ACK echoing the option with the VIP (docs/PROTOCOL.md 3.3)
//   reachable  SYN-ACK without it (a plain TCP listener)
//   down       RST, or nothing within --timeout
// The kernel answers the unsolicited SYN-ACK with a RST (no socket has that
// port), which also clears the backend's half-open request.
//
// Daemon mode: after --fall consecutive failed probes a backend is drained
// (no new SYNs; established connections never pass the LB anyway), after
// --rise good ones it is activated again. Only backends this process drained
// are ever re-activated; backends drained by the operator stay drained. Each
// transition is logged with a timestamp. SIGTERM/SIGINT end the loop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

extern "C" {
#include <crab/crab_csum.h>
}

#include "command.hpp"
#include "lb_driver.hpp"
#include "lb_target.hpp"

namespace {

using crab::Error;
using crab::cli::Globals;
using nlohmann::json;

volatile sig_atomic_t g_stop = 0;

enum class Result { Capable, Reachable, Down };

const char* name(Result r)
{
    switch (r) {
    case Result::Capable:
        return "capable";
    case Result::Reachable:
        return "reachable";
    default:
        return "down";
    }
}

struct Probe {
    crab::IpEndpoint svc;
    crab::IpAddr dip;  // the service's family
    // filled by the prober
    Result result = Result::Down;
    std::string detail;
    double rtt_ms = -1;
    uint16_t sport = 0;
    uint32_t seq = 0;
    uint32_t saddr = 0;  // host order (IPv4)
    double sent = 0;
    bool done = false;
};

double now_s()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string errstr() { return std::strerror(errno); }

// The source address the kernel picks for @dst (host order): an IPv4
// probe's checksum needs it; IPv6 only checks that there is a route.
uint32_t source_for(const crab::IpAddr& a)
{
    if (a.is_v6()) {
        int fd = socket(AF_INET6, SOCK_DGRAM, 0);
        if (fd < 0)
            throw Error("socket: " + errstr());
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        std::memcpy(&sa.sin6_addr, a.bytes.data(), 16);
        sa.sin6_port = htons(9);
        int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
        int err = errno;
        close(fd);
        if (rc) {
            errno = err;
            throw Error("no route to backend " + crab::to_string(a) + ": " + errstr());
        }
        return 0;
    }
    crab::Ipv4 dst = a.to_v4();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        throw Error("socket: " + errstr());
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(dst.addr);
    sa.sin_port = htons(9);
    socklen_t len = sizeof(sa);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    if (rc == 0)
        rc = getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    int err = errno;
    close(fd);
    if (rc) {
        errno = err;
        throw Error("no route to backend " + crab::to_string(dst) + ": " + errstr());
    }
    return ntohl(sa.sin_addr.s_addr);
}

uint16_t tcp_csum(uint32_t saddr, uint32_t daddr, const uint8_t* seg, size_t len)
{
    uint32_t acc = crab_csum_pseudo4(saddr, daddr, IPPROTO_TCP, static_cast<uint16_t>(len));
    return crab_csum_finish(crab_csum_bytes(acc, seg, static_cast<uint32_t>(len)));
}

class Prober {
public:
    Prober(const crab_opt_cfg& cfg, int timeout_ms) : cfg_(cfg), timeout_ms_(timeout_ms), rng_(std::random_device{}())
    {
        fd_ = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
        if (fd_ < 0)
            throw Error("raw socket for health probes: " + errstr() + " (needs CAP_NET_RAW: run as root)",
                        errno == EPERM ? crab::kExitNoSupport : crab::kExitError);
        // IPv6 raw sockets deliver the TCP segment without the IP header
        // (the source comes from recvfrom()); the kernel computes the
        // checksum at offset 16 on send.
        fd6_ = socket(AF_INET6, SOCK_RAW, IPPROTO_TCP);
        if (fd6_ < 0) {
            int err = errno;
            close(fd_);
            throw Error("raw IPv6 socket for health probes: " + std::string(std::strerror(err)),
                        err == EPERM ? crab::kExitNoSupport : crab::kExitError);
        }
        int off = 16;
        if (setsockopt(fd6_, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off))) {
            int err = errno;
            close(fd_);
            close(fd6_);
            throw Error("IPV6_CHECKSUM on the health probe socket: " + std::string(std::strerror(err)));
        }
    }
    ~Prober()
    {
        close(fd_);
        close(fd6_);
    }
    Prober(const Prober&) = delete;
    Prober& operator=(const Prober&) = delete;

    // Probe all of @ps concurrently; fills their results.
    void run(std::vector<Probe>& ps)
    {
        std::uniform_int_distribution<uint32_t> port(32768, 60999), seq;
        for (auto& p : ps) {
            p.done = false;
            p.result = Result::Down;
            p.rtt_ms = -1;
            try {
                p.saddr = source_for(p.dip);
            } catch (const Error& e) {
                p.detail = e.what();
                p.done = true;
                continue;
            }
            p.sport = static_cast<uint16_t>(port(rng_));
            p.seq = seq(rng_);
            send_syn(p);
        }
        double deadline = now_s() + timeout_ms_ / 1000.0;
        while (!g_stop) {
            bool pending = false;
            for (const auto& p : ps)
                pending |= !p.done;
            double left = deadline - now_s();
            if (!pending || left <= 0)
                break;
            pollfd pfd[2] = {{fd_, POLLIN, 0}, {fd6_, POLLIN, 0}};
            int n = poll(pfd, 2, static_cast<int>(left * 1000) + 1);
            if (n < 0 && errno != EINTR)
                throw Error("poll: " + errstr());
            if (n > 0 && pfd[0].revents)
                receive(ps);
            if (n > 0 && pfd[1].revents)
                receive6(ps);
        }
        for (auto& p : ps)
            if (!p.done && p.detail.empty())
                p.detail = "no answer within " + std::to_string(timeout_ms_) + " ms";
    }

private:
    // The probe's SYN header in @seg (@len bytes, zeroed): ports, sequence,
    // window, and an MSS option first; the redirect option goes after it.
    static tcphdr* syn_header(const Probe& p, uint8_t* seg, size_t len, uint16_t mss)
    {
        auto* th = reinterpret_cast<tcphdr*>(seg);
        th->source = htons(p.sport);
        th->dest = htons(p.svc.port);
        th->seq = htonl(p.seq);
        th->doff = static_cast<uint16_t>(len / 4);
        th->syn = 1;
        th->window = htons(64240);
        uint8_t* opt = seg + sizeof(tcphdr);
        opt[0] = 2;  // MSS
        opt[1] = 4;
        opt[2] = static_cast<uint8_t>(mss >> 8);
        opt[3] = static_cast<uint8_t>(mss & 0xff);
        return th;
    }

    void send_syn(Probe& p)
    {
        if (p.dip.is_v6()) {
            send_syn6(p);
            return;
        }
        uint8_t seg[32] = {};
        auto* th = syn_header(p, seg, sizeof(seg), 1460);
        crab_opt_write(seg + sizeof(tcphdr) + 4, &cfg_, p.svc.ip.to_v4().addr);
        th->check = htons(tcp_csum(p.saddr, p.dip.to_v4().addr, seg, sizeof(seg)));
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(p.dip.to_v4().addr);
        p.sent = now_s();
        if (sendto(fd_, seg, sizeof(seg), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
            p.detail = "sending the SYN: " + errstr();
            p.done = true;
        }
    }

    // The IPv6 probe: MSS and the 20-byte option, checksum by the kernel.
    void send_syn6(Probe& p)
    {
        uint8_t seg[44] = {};
        syn_header(p, seg, sizeof(seg), 1440);
        crab_opt_write6(seg + sizeof(tcphdr) + 4, &cfg_, p.svc.ip.bytes.data());
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        std::memcpy(&sa.sin6_addr, p.dip.bytes.data(), 16);
        p.sent = now_s();
        if (sendto(fd6_, seg, sizeof(seg), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
            p.detail = "sending the SYN: " + errstr();
            p.done = true;
        }
    }

    // A TCP segment @th (@thl bytes of header and options) from @src.
    void classify(std::vector<Probe>& ps, const crab::IpAddr& src, const tcphdr* th, size_t thl)
    {
        for (auto& p : ps) {
            if (p.done || p.dip != src || ntohs(th->source) != p.svc.port || ntohs(th->dest) != p.sport)
                continue;
            if (th->rst) {
                p.result = Result::Down;
                p.detail = "connection refused (RST)";
            } else if (th->syn && th->ack && ntohl(th->ack_seq) == p.seq + 1) {
                const auto* opts = reinterpret_cast<const uint8_t*>(th) + sizeof(tcphdr);
                auto olen = static_cast<uint32_t>(thl - sizeof(tcphdr));
                crab_opt_res res{};
                int st = src.is_v6() ? crab_opt_find6(opts, olen, &cfg_, &res) : crab_opt_find(opts, olen, &cfg_, &res);
                crab::IpAddr named;
                if (src.is_v6()) {
                    named.family = 6;
                    std::memcpy(named.bytes.data(), res.addr6, 16);
                } else {
                    named = crab::IpAddr::v4({res.addr});
                }
                if (st == CRAB_OPT_FOUND && named == p.svc.ip) {
                    p.result = Result::Capable;
                    p.detail = "SYN-ACK echoes the redirect option";
                } else {
                    p.result = Result::Reachable;
                    // An option naming another address: the backend echoes, but
                    // something on this host rewrote the probe (a client endpoint
                    // announcing the address it dialed).
                    p.detail = st == CRAB_OPT_FOUND
                                   ? "SYN-ACK option names " + crab::to_string(named) +
                                         ", not the VIP (is a CRAB client endpoint active on this host?)"
                                   : "SYN-ACK without the redirect option";
                }
            } else {
                continue;
            }
            p.rtt_ms = (now_s() - p.sent) * 1000.0;
            p.done = true;
        }
    }

    void receive6(std::vector<Probe>& ps)
    {
        uint8_t buf[256];
        for (int i = 0; i < 256; i++) {  // drain what is queued, bounded
            sockaddr_in6 from{};
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(fd6_, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
            if (n < 0)
                return;
            if (n < static_cast<ssize_t>(sizeof(tcphdr)) || from.sin6_family != AF_INET6)
                continue;
            const auto* th = reinterpret_cast<const tcphdr*>(buf);
            size_t thl = th->doff * 4u;
            if (thl < sizeof(tcphdr) || static_cast<size_t>(n) < thl)
                continue;
            crab::IpAddr src;
            src.family = 6;
            std::memcpy(src.bytes.data(), &from.sin6_addr, 16);
            classify(ps, src, th, thl);
        }
    }

    void receive(std::vector<Probe>& ps)
    {
        uint8_t buf[256];
        for (int i = 0; i < 256; i++) {  // drain what is queued, bounded
            ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0)
                return;
            if (n < static_cast<ssize_t>(sizeof(iphdr)))
                continue;
            const auto* ih = reinterpret_cast<const iphdr*>(buf);
            size_t ihl = ih->ihl * 4u;
            if (ihl < sizeof(iphdr) || static_cast<size_t>(n) < ihl + sizeof(tcphdr))
                continue;
            const auto* th = reinterpret_cast<const tcphdr*>(buf + ihl);
            size_t thl = th->doff * 4u;
            if (thl < sizeof(tcphdr) || static_cast<size_t>(n) < ihl + thl)
                continue;
            classify(ps, crab::IpAddr::v4({ntohl(ih->saddr)}), th, thl);
        }
    }

    crab_opt_cfg cfg_;
    int timeout_ms_;
    int fd_ = -1, fd6_ = -1;
    std::mt19937 rng_;
};

struct HealthOptions {
    crab::cli::TargetOptions target;
    bool once = false;
    double interval = 2;
    uint32_t fall = 3, rise = 2, timeout_ms = 1000;
    uint32_t kind = CRAB_OPT_KIND_DEFAULT, exid = CRAB_OPT_EXID_DEFAULT;
};

std::vector<Probe> probes_of(const crab::config::Config& c)
{
    std::vector<Probe> ps;
    for (const auto& s : c.services)
        for (const auto& b : s.backends) {
            Probe p;
            p.svc = s.ep;
            p.dip = b.addr;
            ps.push_back(p);
        }
    return ps;
}

json probe_json(const Probe& p)
{
    json j = {{"service", crab::to_string(p.svc)}, {"backend", crab::to_string(p.dip)},
              {"state", name(p.result)}, {"detail", p.detail}};
    if (p.rtt_ms >= 0)
        j["rtt_ms"] = p.rtt_ms;
    return j;
}

void run_once(const Globals& g, const HealthOptions& o, crab::LbDriver& drv, Prober& pr)
{
    auto ps = probes_of(drv.read());
    pr.run(ps);
    int down = 0;
    json out = json::array();
    for (const auto& p : ps) {
        down += p.result == Result::Down;
        out.push_back(probe_json(p));
    }
    if (g.json) {
        crab::cli::print_json(g, out.dump(), out.dump(2));
    } else {
        // Columns as wide as their longest entry (IPv6 addresses are long).
        size_t ws = 22, wb = 17;
        for (const auto& p : ps) {
            ws = std::max(ws, crab::to_string(p.svc).size() + 2);
            wb = std::max(wb, crab::to_string(p.dip).size() + 2);
        }
        std::cout << std::left << std::setw(int(ws)) << "SERVICE" << std::setw(int(wb)) << "BACKEND" << std::setw(11) << "STATE"
                  << std::setw(10) << "RTT" << "DETAIL\n";
        for (const auto& p : ps) {
            std::ostringstream rtt;
            if (p.rtt_ms >= 0)
                rtt << std::fixed << std::setprecision(2) << p.rtt_ms << "ms";
            else
                rtt << "-";
            std::cout << std::left << std::setw(int(ws)) << crab::to_string(p.svc) << std::setw(int(wb))
                      << crab::to_string(p.dip) << std::setw(11) << name(p.result) << std::setw(10) << rtt.str()
                      << p.detail << "\n";
        }
    }
    (void)o;
    if (down)
        throw Error(std::to_string(down) + " of " + std::to_string(ps.size()) + " backends down", crab::kExitError);
}

std::string fmt_num(double v)
{
    std::ostringstream o;
    o << v;
    return o.str();
}

// Per backend state of the daemon.
struct Track {
    bool up = true;
    uint32_t fails = 0, oks = 0;
    bool drained_by_us = false;
};

// Drain or activate one backend: under the LB's write lock, from the LB's
// current state (not the one read before probing, which an operator may
// have changed meanwhile), so only the drain flag changes. Returns what
// was done.
std::string set_drain(crab::LbDriver& drv, const crab::IpEndpoint& svc, const crab::IpAddr& dip, bool drain)
{
    auto lock = drv.write_lock();
    auto cur = drv.read();
    const auto* s = cur.find(svc);
    const auto* be = s ? s->find(dip) : nullptr;
    if (!be)
        return "nothing to do (removed from the LB meanwhile)";
    if (be->drain == drain)
        return drain ? "already drained" : "already active";
    crab::config::Backend nb = *be;
    nb.drain = drain;
    drv.backend_set(svc, nb);
    return drain ? "drained" : "activated";
}

void run_daemon(const Globals& g, const HealthOptions& o, crab::LbDriver& drv, Prober& pr)
{
    std::map<std::pair<crab::IpEndpoint, crab::IpAddr>, Track> tracks;
    log_event(g, {{"event", "start"}, {"lb", drv.type()}},
              "health: probing " + drv.type() + " LB backends every " + fmt_num(o.interval) + " s (fall " +
                  std::to_string(o.fall) + ", rise " + std::to_string(o.rise) + ", timeout " +
                  std::to_string(o.timeout_ms) + " ms)");
    while (!g_stop) {
        double start = now_s();
        crab::config::Config cfg;
        try {
            cfg = drv.read();
        } catch (const Error& e) {
            log_event(g, {{"event", "error"}, {"error", e.what()}}, std::string("health: reading the LB: ") + e.what());
            cfg = {};
        }
        auto ps = probes_of(cfg);
        pr.run(ps);
        std::map<std::pair<crab::IpEndpoint, crab::IpAddr>, Track> next;
        for (const auto& p : ps) {
            auto key = std::make_pair(p.svc, p.dip);
            Track t = tracks.count(key) ? tracks[key] : Track{};
            const crab::config::Backend* be = cfg.find(p.svc)->find(p.dip);
            bool ok = p.result != Result::Down;
            if (ok) {
                t.oks++;
                t.fails = 0;
            } else {
                t.fails++;
                t.oks = 0;
            }
            std::string who = crab::to_string(p.svc) + " backend " + crab::to_string(p.dip);
            json ev = {{"service", crab::to_string(p.svc)}, {"backend", crab::to_string(p.dip)},
                       {"probe", name(p.result)}, {"detail", p.detail}};
            if (t.up && !ok && t.fails >= o.fall) {
                t.up = false;
                std::string action = "left drained (drained by the operator)";
                if (!be->drain) {
                    try {
                        action = set_drain(drv, p.svc, p.dip, true);
                        t.drained_by_us = action == "drained";
                    } catch (const Error& e) {
                        action = std::string("drain FAILED: ") + e.what();
                    }
                }
                ev["event"] = "down";
                ev["action"] = action;
                log_event(g, ev, who + ": up -> down after " + std::to_string(t.fails) + " failed probes (" +
                                     p.detail + "); " + action);
            } else if (!t.up && ok && t.oks >= o.rise) {
                t.up = true;
                std::string action = "left as is (not drained by health)";
                if (t.drained_by_us && be->drain) {
                    try {
                        action = set_drain(drv, p.svc, p.dip, false);
                    } catch (const Error& e) {
                        action = std::string("activate FAILED: ") + e.what();
                    }
                }
                t.drained_by_us = false;
                ev["event"] = "up";
                ev["action"] = action;
                log_event(g, ev, who + ": down -> up after " + std::to_string(t.oks) + " good probes (" +
                                     name(p.result) + "); " + action);
            } else if (!t.up && t.drained_by_us && !be->drain) {
                // Someone (an apply) re-activated a backend that is still down.
                try {
                    std::string action = set_drain(drv, p.svc, p.dip, true);
                    ev["event"] = "redrain";
                    ev["action"] = action;
                    log_event(g, ev, who + ": still down (" + p.detail + ") but active again; " + action);
                } catch (const Error& e) {
                    log_event(g, {{"event", "error"}, {"error", e.what()}}, who + ": drain FAILED: " + e.what());
                }
            }
            next[key] = t;
        }
        tracks = std::move(next);
        double until = start + o.interval;
        while (!g_stop && now_s() < until)
            usleep(static_cast<useconds_t>(std::min(0.1, until - now_s()) * 1e6) + 1);
    }
    log_event(g, {{"event", "stop"}}, "health: stopping (signal)");
}

void run_health(const Globals& g, const HealthOptions& o)
{
    if (o.kind == CRAB_OPT_KIND_EXP && o.exid > 0xffff)
        throw Error("invalid --exid " + std::to_string(o.exid), crab::kExitUsage);
    crab_opt_cfg cfg{};
    cfg.kind = static_cast<uint8_t>(o.kind);
    cfg.exid = static_cast<uint16_t>(o.exid);
    auto drv = crab::make_lb_driver(crab::cli::resolve_target(o.target, nullptr));
    Prober pr(cfg, static_cast<int>(o.timeout_ms));
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop = 1; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    if (o.once)
        run_once(g, o, *drv, pr);
    else
        run_daemon(g, o, *drv, pr);
}

void setup_health(CLI::App& app, Globals& g)
{
    auto o = std::make_shared<HealthOptions>();
    auto* h = app.add_subcommand("health", "probe backends with redirect SYNs; drain failing ones, restore them");
    crab::cli::add_target_options(*h, o->target);
    h->add_flag("--once", o->once, "probe every backend once, print a table, exit 1 if any is down");
    h->add_option("-i,--interval", o->interval, "seconds between probe rounds (daemon)")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 3600.0));
    h->add_option("--fall", o->fall, "failed probes in a row before a backend is drained")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    h->add_option("--rise", o->rise, "good probes in a row before it is restored")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    h->add_option("-t,--timeout", o->timeout_ms, "milliseconds to wait for a SYN-ACK")
        ->capture_default_str()
        ->check(CLI::Range(10, 60000));
    h->add_option("--kind", o->kind, "redirect option kind (42; 254 = RFC 6994 form)")
        ->capture_default_str()
        ->check(CLI::Range(1, 255));
    h->add_option("--exid", o->exid, "ExID for --kind 254")->check(CLI::Range(0, 0xffff));
    h->add_flag("--json", g.json, "JSON output (table or one event per line)");
    h->footer("States: capable (SYN-ACK echoes the option), reachable (SYN-ACK without it), down (RST or\n"
              "timeout). Run it on the LB host, in the LB's network namespace; needs root (raw socket).\n\n"
              "Examples:\n"
              "  crabctl health --lb xdp --dev eth0 --once\n"
              "  crabctl health --lb nf --interval 1 --fall 3 --rise 2\n"
              "  crabctl --json health --lb dpdk --prefix crablb --timeout 300");
    h->callback([o, &g] { run_health(g, *o); });
}

}  // namespace

CRABCTL_COMMAND(health, setup_health);
