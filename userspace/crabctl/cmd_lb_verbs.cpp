// SPDX-License-Identifier: GPL-2.0-only
// The service and backend verbs of every LB, written once on crab::LbDriver
// (lb_driver.hpp):
//
// VIP:PORT is a.b.c.d:PORT or [IPV6]:PORT; a service is one family, its
// DIPs are its VIP's.
//
//   crabctl lb IMPL service add VIP:PORT [--policy rr|random|wrr] [--legacy drop|insert|hash]
//   crabctl lb IMPL service set VIP:PORT [--policy P] [--legacy L]
//   crabctl lb IMPL service del VIP:PORT
//   crabctl lb IMPL backend add VIP:PORT DIP [--weight W] [--mac MAC]
//   crabctl lb IMPL backend set VIP:PORT DIP [--weight W] [--state active|draining] [--mac MAC]
//   crabctl lb IMPL backend drain|activate|del VIP:PORT DIP
//
// Each IMPL adds where its LB is (xdp: --dev on every verb; dpdk: --prefix
// or --socket before the verb; nf: this network namespace). A verb checks
// every value first, with the same rules as `crabctl apply -f`
// (crab::config::why_not_host_addr() and friends, exit 2 naming the value),
// then takes the LB's write lock, reads its state, checks what the change
// needs there (the service exists, the backend does not yet, what this LB
// cannot express: LbDriver::check()) and only then makes one driver call.
// A refused change leaves the LB as it was.
#include <memory>
#include <optional>
#include <string>

#include "command.hpp"
#include "crab/config.hpp"
#include "lb_driver.hpp"
#include "lb_verbs.hpp"

namespace crab::cli {

namespace {

struct VerbOptions {
    std::string service, dip, mac, policy = "rr", legacy = "drop", state;
    uint32_t weight = 1;
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

IpEndpoint checked_service(const std::string& s)
{
    IpEndpoint ep = parse_ip_endpoint(s);
    if (auto why = config::why_not_host_addr(ep.ip); !why.empty())
        throw Error("service " + quoted(s) + ": " + to_string(ep.ip) + " is not a VIP: " + why, kExitUsage);
    return ep;
}

IpAddr checked_backend(const IpEndpoint& ep, const std::string& s)
{
    IpAddr a = parse_ip(s);
    if (auto why = config::why_not_host_addr(a); !why.empty())
        throw Error("backend " + quoted(s) + " is not a backend address: " + why, kExitUsage);
    if (auto why = config::why_not_backend_of(ep, a); !why.empty())
        throw Error("backend " + quoted(s) + ": " + why, kExitUsage);
    return a;
}

config::Mac checked_mac(const std::string& s)
{
    config::Mac m = config::parse_mac(s);
    if (auto why = config::why_not_host_mac(m); !why.empty())
        throw Error("--mac " + quoted(s) + " is not a next-hop MAC: " + why, kExitUsage);
    return m;
}

bool checked_drain(const std::string& s)
{
    if (s == "active")
        return false;
    if (s == "draining" || s == "drain")
        return true;
    throw Error("invalid state " + quoted(s) + ": expected active or draining", kExitUsage);
}

config::Service& need_service(config::Config& c, const IpEndpoint& ep)
{
    for (auto& s : c.services)
        if (s.ep == ep)
            return s;
    throw Error("no such service " + to_string(ep), kExitNotFound);
}

config::Backend& need_backend(config::Service& s, const IpAddr& dip)
{
    for (auto& b : s.backends)
        if (b.addr == dip)
            return b;
    throw Error("no such backend " + to_string(dip) + " in service " + to_string(s.ep), kExitNotFound);
}

}  // namespace

void add_lb_verbs(CLI::App& impl, const LbVerbTarget& where)
{
    auto o = std::make_shared<VerbOptions>();
    auto leaf = [&where](CLI::App* c) {
        if (where.leaf_options)
            where.leaf_options(c);
    };

    // ---- services ----
    auto* svc = impl.add_subcommand("service", "add, change or remove a service (VIP:PORT)");
    svc->require_subcommand(1);

    auto* sa = svc->add_subcommand("add", "add a service");
    sa->add_option("service", o->service, "VIP:PORT")->required();
    sa->add_option("--policy", o->policy, "rr, random or wrr")->capture_default_str();
    sa->add_option("--legacy", o->legacy, "SYNs without the option: drop, insert or hash")->capture_default_str();
    leaf(sa);
    sa->callback([o, where] {
        auto ep = checked_service(o->service);
        auto pol = parse_policy(o->policy);
        auto leg = parse_legacy_mode(o->legacy);
        auto drv = make_lb_driver(where.target());
        auto lock = drv->write_lock();
        auto cur = drv->read();
        if (cur.find(ep))
            throw Error("service " + to_string(ep) + " exists already", kExitUsage);
        config::Service s;
        s.ep = ep;
        s.policy = pol;
        s.legacy = leg;
        cur.services.push_back(s);
        drv->check(cur);
        drv->service_add(ep, pol, leg);
    });

    auto* ss = svc->add_subcommand("set", "change the policy and/or legacy mode in place (backends and counters stay)");
    ss->add_option("service", o->service, "VIP:PORT")->required();
    auto* ss_pol = ss->add_option("--policy", o->policy, "rr, random or wrr");
    auto* ss_leg = ss->add_option("--legacy", o->legacy, "drop, insert or hash");
    leaf(ss);
    ss->callback([o, where, ss_pol, ss_leg] {
        auto ep = checked_service(o->service);
        if (!ss_pol->count() && !ss_leg->count())
            throw Error("service set: nothing to change (give --policy and/or --legacy)", kExitUsage);
        std::optional<crab_policy> pol;
        std::optional<crab_legacy_mode> leg;
        if (ss_pol->count())
            pol = parse_policy(o->policy);
        if (ss_leg->count())
            leg = parse_legacy_mode(o->legacy);
        auto drv = make_lb_driver(where.target());
        auto lock = drv->write_lock();
        auto cur = drv->read();
        auto& s = need_service(cur, ep);
        if (pol)
            s.policy = *pol;
        if (leg)
            s.legacy = *leg;
        drv->check(cur);
        drv->service_set(ep, s.policy, s.legacy);
    });

    auto* sd = svc->add_subcommand("del", "remove a service and its backends");
    sd->add_option("service", o->service, "VIP:PORT")->required();
    leaf(sd);
    sd->callback([o, where] {
        auto ep = checked_service(o->service);
        auto drv = make_lb_driver(where.target());
        auto lock = drv->write_lock();
        auto cur = drv->read();
        need_service(cur, ep);
        drv->service_del(ep);
    });

    // ---- backends ----
    auto* be = impl.add_subcommand("backend", "add, change, drain, activate or remove a backend (DIP) of a service");
    be->require_subcommand(1);

    auto* ba = be->add_subcommand("add", "add a backend");
    ba->add_option("service", o->service, "VIP:PORT")->required();
    ba->add_option("dip", o->dip, "backend address")->required();
    ba->add_option("--weight", o->weight, "weight for wrr")->check(CLI::Range(1, CRAB_WEIGHT_MAX))->capture_default_str();
    ba->add_option("--mac", o->mac, "static next-hop MAC (xdp, dpdk; default: resolved by the LB)");
    leaf(ba);
    ba->callback([o, where] {
        auto ep = checked_service(o->service);
        config::Backend nb;
        nb.addr = checked_backend(ep, o->dip);
        nb.weight = o->weight;
        if (!o->mac.empty()) {
            nb.mac = checked_mac(o->mac);
            nb.has_mac = true;
        }
        auto drv = make_lb_driver(where.target());
        auto lock = drv->write_lock();
        auto cur = drv->read();
        auto& s = need_service(cur, ep);
        if (s.find(nb.addr))
            throw Error("backend " + to_string(nb.addr) + " exists already in service " + to_string(ep), kExitUsage);
        if (s.backends.size() >= CRAB_MAX_BACKENDS)
            throw Error("service " + to_string(ep) + " has " + std::to_string(s.backends.size()) +
                            " backends, the limit", kExitUsage);
        s.backends.push_back(nb);
        drv->check(cur);
        drv->backend_add(ep, nb);
    });

    auto* bs = be->add_subcommand("set", "change the weight, state and/or MAC of a backend in place");
    bs->add_option("service", o->service, "VIP:PORT")->required();
    bs->add_option("dip", o->dip, "backend address")->required();
    auto* bs_w = bs->add_option("--weight", o->weight, "weight for wrr")->check(CLI::Range(1, CRAB_WEIGHT_MAX));
    auto* bs_s = bs->add_option("--state", o->state, "active or draining");
    auto* bs_m = bs->add_option("--mac", o->mac, "static next-hop MAC (xdp, dpdk)");
    leaf(bs);
    bs->callback([o, where, bs_w, bs_s, bs_m] {
        auto ep = checked_service(o->service);
        auto dip = checked_backend(ep, o->dip);
        if (!bs_w->count() && !bs_s->count() && !bs_m->count())
            throw Error("backend set: nothing to change (give --weight, --state and/or --mac)", kExitUsage);
        std::optional<bool> drain;
        std::optional<config::Mac> mac;
        if (bs_s->count())
            drain = checked_drain(o->state);
        if (bs_m->count())
            mac = checked_mac(o->mac);
        auto drv = make_lb_driver(where.target());
        auto lock = drv->write_lock();
        auto cur = drv->read();
        auto& b = need_backend(need_service(cur, ep), dip);
        if (bs_w->count())
            b.weight = o->weight;
        if (drain)
            b.drain = *drain;
        if (mac) {
            b.mac = *mac;
            b.has_mac = true;
        }
        drv->check(cur);
        drv->backend_set(ep, b);
    });

    for (const char* verb : {"drain", "activate", "del"}) {
        std::string v = verb;
        const char* help = v == "drain"      ? "no new connections to this backend (established ones stay)"
                           : v == "activate" ? "new connections to this backend again"
                                             : "remove a backend";
        auto* c = be->add_subcommand(verb, help);
        c->add_option("service", o->service, "VIP:PORT")->required();
        c->add_option("dip", o->dip, "backend address")->required();
        leaf(c);
        c->callback([o, where, v] {
            auto ep = checked_service(o->service);
            auto dip = checked_backend(ep, o->dip);
            auto drv = make_lb_driver(where.target());
            auto lock = drv->write_lock();
            auto cur = drv->read();
            auto& b = need_backend(need_service(cur, ep), dip);
            if (v == "del") {
                drv->backend_del(ep, dip);
                return;
            }
            b.drain = v == "drain";
            drv->check(cur);
            drv->backend_set(ep, b);
        });
    }
}

}  // namespace crab::cli
