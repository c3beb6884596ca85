// SPDX-License-Identifier: GPL-2.0-only
// Control plane of crab-lb-dpdk over DPDK telemetry: read with
// dpdk-telemetry.py or `crabctl lb dpdk`. The commands, their parameters and
// the socket are the interface of include/crab/crab_dpdk_ctl.h, which
// crabctl includes too; their answers:
//
//   /crab/stats                           global counters (summed over workers),
//                                         "worker_rx" per worker, "services" list
//   /crab/stats,VIP:PORT                  a service's counters (crab_lb.h names),
//                                         "backends": "DIP FRAMES" per backend
//   /crab/services                        service list (strings)
//   /crab/backends,VIP:PORT               backends of a service
//   the edits                             {"ok": ...}
//
// VIP:PORT is a.b.c.d:PORT or [IPV6]:PORT; a backend's DIP is of its
// service's family. Edits apply to a copy of the table that is published whole (RcuPtr);
// the answer is {"ok": ...} or {"error": "message naming the bad value"}.
// Counters are per worker lcore and summed here.
#include <dirent.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_memory.h>
#include <rte_telemetry.h>

#include <cstdlib>
#include <functional>

extern "C" {
#include <crab/crab_dpdk_ctl.h>
}

#include "app.hpp"

namespace crab::lb_dpdk {

uint64_t sum_svc(const App& app, unsigned slot, unsigned i)
{
    uint64_t v = 0;
    for (const auto& w : app.workers)
        v += w->core.cnt[slot][i].get();
    return v;
}

uint64_t sum_g(const App& app, unsigned i)
{
    uint64_t v = 0;
    for (const auto& w : app.workers)
        v += w->core.g[i].get();
    return v;
}

uint64_t sum_be(const App& app, unsigned slot, unsigned be)
{
    uint64_t v = 0;
    for (const auto& w : app.workers)
        v += w->core.be[slot][be].get();
    return v;
}

uint64_t sum_a(const App& app, unsigned i)
{
    uint64_t v = 0;
    for (const auto& w : app.workers)
        v += w->app[i].get();
    return v;
}

const Worker* worker_of_reader(const App& app, int id)
{
    for (const auto& w : app.workers)
        if (w->rcu_id == id)
            return w.get();
    return nullptr;
}

// net_af_packet (DPDK 22.11) never reads its sockets' PACKET_STATISTICS:
// a frame the kernel drops because the RX ring is full (tpacket_rcv(),
// "ring is full") shows in no ethdev counter, imissed stays 0. The LB
// reads them itself: every AF_PACKET socket of this process (the PMD's,
// one per queue; nothing else here opens one), PACKET_STATISTICS read and
// cleared by the kernel, so accumulated here. tp_packets counts the frames
// the kernel offered the socket, dropped ones included.
void ring_stats_update(App& app)
{
    std::lock_guard<std::mutex> lk(app.ring_mu);
    DIR* d = opendir("/proc/self/fd");
    if (!d)
        return;
    unsigned n = 0;
    while (dirent* e = readdir(d)) {
        char* end;
        long fd = std::strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd == dirfd(d))
            continue;
        int dom = 0;
        socklen_t len = sizeof(dom);
        if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &dom, &len) || dom != AF_PACKET)
            continue;
        tpacket_stats_v3 st{};  // V1/V2 rings get the first two fields
        len = sizeof(st);
        if (getsockopt(static_cast<int>(fd), SOL_PACKET, PACKET_STATISTICS, &st, &len))
            continue;
        app.ring_packets += st.tp_packets;
        app.ring_drops += st.tp_drops;
        n++;
    }
    closedir(d);
    app.ring_sockets = n;
}

namespace {

std::string key(const Addr& vip, uint16_t port) { return to_string(ServiceAddr{vip, port}); }

void error(rte_tel_data* d, const std::string& msg)
{
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "error", msg.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
}

// Telemetry dict keys may only hold [A-Za-z0-9_/], so services and
// backends are listed as string values, and a service's counters are asked
// for by parameter.
int cmd_stats(const char*, const char* params, rte_tel_data* d)
{
    App& app = *g_app;
    try {
        auto lk = app.table->lock();
        const Table* t = app.table->current();
        rte_tel_data_start_dict(d);
        if (params && *params) {
            ServiceAddr ep = parse_service_addr(params);
            const Service* s = t->find(ep.ip, ep.port);
            if (!s)
                throw Error("no service " + to_string(ep));
            for (int i = 0; i < CRAB_LB_CNT_MAX; i++)
                rte_tel_data_add_dict_u64(d, kCounterNames[i],
                                          sum_svc(app, s->slot, i) - app.base[s->slot][i]);
            // "DIP FRAMES" per backend (a dict key cannot hold a dot), read
            // under the same lock as the service's counters.
            rte_tel_data* be = rte_tel_data_alloc();
            rte_tel_data_start_array(be, RTE_TEL_STRING_VAL);
            for (const auto& b : s->backends) {
                uint64_t v = sum_be(app, s->slot, b.slot) - app.be_base[s->slot][b.slot];
                rte_tel_data_add_array_string(be, (to_string(b.dip) + " " + std::to_string(v)).c_str());
            }
            rte_tel_data_add_dict_container(d, "backends", be, 0);
            return 0;
        }
        for (int i = 0; i < G_MAX; i++)
            rte_tel_data_add_dict_u64(d, kGCounterNames[i], sum_g(app, i));
#define CRAB_LBD_A_NAME(e, n, h) n,
        static const char* const names[] = {CRAB_LBD_ACOUNTERS(CRAB_LBD_A_NAME)};
#undef CRAB_LBD_A_NAME
        for (int i = 0; i < A_MAX; i++)
            rte_tel_data_add_dict_u64(d, names[i], sum_a(app, i));
        ring_stats_update(app);
        {
            std::lock_guard<std::mutex> rk(app.ring_mu);
            rte_tel_data_add_dict_u64(d, "ring_packets", app.ring_packets);
            rte_tel_data_add_dict_u64(d, "ring_drops", app.ring_drops);
            rte_tel_data_add_dict_u64(d, "ring_sockets", app.ring_sockets);
        }
        rte_tel_data_add_dict_u64(d, "neigh_entries", app.neigh->used());
        rte_tel_data_add_dict_u64(d, "neigh_capacity", app.neigh->capacity());
        rte_tel_data_add_dict_u64(d, "neigh_lifetime_ms", app.neigh->lifetime_ms());
        RcuStats rs = app.table->stats();
        rte_tel_data_add_dict_u64(d, "rcu_readers", rs.readers);
        rte_tel_data_add_dict_u64(d, "rcu_timeout", rs.timeouts);
        rte_tel_data_add_dict_u64(d, "rcu_deferred", rs.deferred);
        rte_tel_data_add_dict_u64(d, "rcu_reader_errors", rs.reader_errors);
        rte_tel_data_add_dict_u64(d, "rcu_register_fail", rs.register_fail + rs.unregister_fail);
        rte_tel_data_add_dict_u64(d, "workers", app.workers.size());
        // Where each worker's state lives: in DPDK memory (a memseg list
        // holds the address) on the socket of its lcore, cache-line aligned.
        rte_tel_data* wm = rte_tel_data_alloc();
        rte_tel_data_start_array(wm, RTE_TEL_STRING_VAL);
        for (const auto& w : app.workers) {
            const rte_memseg_list* msl = rte_mem_virt2memseg_list(w.get());
            std::string v = "lcore=" + std::to_string(w->lcore) +
                            " lcore_socket=" + std::to_string(rte_lcore_to_socket_id(w->lcore)) +
                            " mem=" + (msl ? "dpdk" : "heap") +
                            " mem_socket=" + (msl ? std::to_string(msl->socket_id) : std::string("none")) +
                            " aligned=" + (reinterpret_cast<uintptr_t>(w.get()) % RTE_CACHE_LINE_SIZE ? "0" : "1");
            rte_tel_data_add_array_string(wm, v.c_str());
        }
        rte_tel_data_add_dict_container(d, "worker_mem", wm, 0);
        rte_tel_data* wr = rte_tel_data_alloc();
        rte_tel_data_start_array(wr, RTE_TEL_U64_VAL);
        for (const auto& w : app.workers)
            rte_tel_data_add_array_u64(wr, w->core.g[G_RX].get());
        rte_tel_data_add_dict_container(d, "worker_rx", wr, 0);
        rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
        rte_tel_data* l = rte_tel_data_alloc();
        rte_tel_data_start_array(l, RTE_TEL_STRING_VAL);
        for (const auto& s : t->services)
            rte_tel_data_add_array_string(l, key(s.vip, s.port).c_str());
        rte_tel_data_add_dict_container(d, "services", l, 0);
    } catch (const std::exception& e) {
        error(d, e.what());
    }
    return 0;
}

int cmd_services(const char*, const char*, rte_tel_data* d)
{
    App& app = *g_app;
    auto lk = app.table->lock();
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    for (const auto& s : app.table->current()->services) {
        std::string v = key(s.vip, s.port) +
                        " policy=" + std::string(to_string(static_cast<crab_policy>(s.policy))) +
                        " legacy=" + std::string(to_string(static_cast<crab_legacy_mode>(s.legacy))) +
                        " backends=" + std::to_string(s.backends.size()) +
                        " active=" + std::to_string(s.tables.nactive);
        rte_tel_data_add_array_string(d, v.c_str());
    }
    return 0;
}

// How a backend's MAC is known: static (configured), reachable,
// pending (asked, no reply yet), expired (asked again), full (no entry: the
// table is full), none (not asked yet).
std::string neigh_state(const App& app, const Backend& b)
{
    if (b.has_mac)
        return "static";
    switch (app.neigh->state(b.dip)) {
    case NeighTable::State::Permanent:
        return "static";
    case NeighTable::State::Reachable:
        return "reachable";
    case NeighTable::State::Pending:
        return "pending";
    case NeighTable::State::Expired:
        return "expired";
    case NeighTable::State::None:
        break;
    }
    return app.neigh->used() >= app.neigh->capacity() ? "full" : "none";
}

int cmd_backends(const char*, const char* params, rte_tel_data* d)
{
    App& app = *g_app;
    try {
        ServiceAddr ep = parse_service_addr(params ? params : "");
        auto lk = app.table->lock();
        const Service* s = app.table->current()->find(ep.ip, ep.port);
        if (!s)
            throw Error("no service " + to_string(ep));
        rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
        for (const auto& b : s->backends) {
            Mac m;
            bool known = b.has_mac ? (m = b.mac, true) : app.neigh->get(b.dip, m);
            std::string v = to_string(b.dip) + " weight=" + std::to_string(b.weight) +
                            " state=" + (b.state == CRAB_BACKEND_ACTIVE ? "active" : "draining") +
                            " mac=" + (known ? mac_to_string(m) : "unresolved") +
                            " neigh=" + neigh_state(app, b);
            rte_tel_data_add_array_string(d, v.c_str());
        }
    } catch (const std::exception& e) {
        error(d, e.what());
    }
    return 0;
}

// A reader that did not pass a quiescent state within the grace-period
// timeout, named and logged (the timeout is counted: rcu_timeout).
std::string stuck_reader(const App& app, int id)
{
    const Worker* w = worker_of_reader(app, id);
    std::string msg = w ? "worker " + std::to_string(w->queue) + " (lcore " + std::to_string(w->lcore) + ")"
                        : "reader " + std::to_string(id);
    msg += " reported no quiescent state within " +
           std::to_string(RcuPtr<Table>::kDefaultTimeout.count()) + " ms";
    RTE_LOG(ERR, USER1, "table update: %s\n", msg.c_str());
    return msg;
}

// Apply one edit to a copy of the current table and publish it.
int edit(const char* params, rte_tel_data* d, const std::function<void(Table&, std::string_view)>& fn)
{
    App& app = *g_app;
    try {
        std::string_view p = params ? params : "";
        auto lk = app.table->lock();
        // A worker that stopped reporting quiescent states would keep the
        // old table alive (it cannot be freed while it may be read): refuse
        // the change before anything is applied.
        if (RcuWait w = app.table->quiesce(); !w.ok)
            throw Error("not applied: " + stuck_reader(app, w.stuck));
        auto next = std::make_unique<Table>(*app.table->current());
        fn(*next, p);
        control_service_added(app, *next);
        if (RcuWait w = app.table->publish(std::move(next)); !w.ok)
            throw Error("applied, but the old table is kept until the reader reports: " + stuck_reader(app, w.stuck));
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_string(d, "ok", std::string(p).substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
    } catch (const std::exception& e) {
        error(d, e.what());
    }
    return 0;
}

std::pair<ServiceAddr, Addr> svc_dip(std::string_view p) { return parse_service_dip(p); }

int cmd_service_add(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) { service_add(t, parse_service_spec(s)); });
}
int cmd_service_set(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) { service_set(t, parse_service_update(s)); });
}
int cmd_service_del(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) { service_del(t, parse_service_addr(s)); });
}
int cmd_backend_add(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) { backend_add(t, parse_backend_spec(s)); });
}
int cmd_backend_set(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) { backend_set(t, parse_backend_update(s)); });
}
int cmd_backend_del(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) {
        auto [ep, dip] = svc_dip(s);
        backend_del(t, ep, dip);
    });
}
int cmd_backend_drain(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) {
        auto [ep, dip] = svc_dip(s);
        backend_set_state(t, ep, dip, CRAB_BACKEND_DRAINING);
    });
}
int cmd_backend_activate(const char*, const char* p, rte_tel_data* d)
{
    return edit(p, d, [](Table& t, std::string_view s) {
        auto [ep, dip] = svc_dip(s);
        backend_set_state(t, ep, dip, CRAB_BACKEND_ACTIVE);
    });
}

}  // namespace

// A slot that was free in the current table and is used in `next` gets a
// fresh baseline: its service's counters start at zero; so do the counters
// of a backend (re)added (fresh_backend_slots()).
void control_service_added(App& app, const Table& next)
{
    const Table* cur = app.table ? app.table->current() : nullptr;
    for (const auto& s : next.services) {
        bool existed = false;
        if (cur)
            for (const auto& o : cur->services)
                existed |= o.slot == s.slot && o.vip == s.vip && o.port == s.port;
        if (!existed)
            for (int i = 0; i < CRAB_LB_CNT_MAX; i++)
                app.base[s.slot][i] = sum_svc(app, s.slot, i);
    }
    // No worker counts on a fresh slot until `next` is published: the
    // current table does not use it, and publish() waited for the readers
    // of every older one.
    for (const auto& r : fresh_backend_slots(cur, next))
        app.be_base[r.svc][r.be] = sum_be(app, r.svc, r.be);
}

int control_init(App&)
{
    static const struct {
        const char* name;
        telemetry_cb fn;
        const char* help;
    } cmds[] = {
        {CRAB_DPDK_CMD_STATS, cmd_stats, "CRAB LB counters, global and per service. No parameters."},
        {CRAB_DPDK_CMD_SERVICES, cmd_services, "CRAB LB services. No parameters."},
        {CRAB_DPDK_CMD_BACKENDS, cmd_backends, "Backends of a service. Parameter: VIP:PORT"},
        {CRAB_DPDK_CMD_SERVICE_ADD, cmd_service_add, "Add a service. Parameters: VIP:PORT[,policy=P][,legacy=L]"},
        {CRAB_DPDK_CMD_SERVICE_SET, cmd_service_set,
         "Change a service in place (counters and backends stay). Parameters: VIP:PORT[,policy=P][,legacy=L]"},
        {CRAB_DPDK_CMD_SERVICE_DEL, cmd_service_del, "Remove a service. Parameter: VIP:PORT"},
        {CRAB_DPDK_CMD_BACKEND_ADD, cmd_backend_add, "Add a backend. Parameters: VIP:PORT,DIP[,weight=W][,mac=MAC]"},
        {CRAB_DPDK_CMD_BACKEND_SET, cmd_backend_set,
         "Change a backend in place (state stays). Parameters: VIP:PORT,DIP[,weight=W][,mac=MAC]"},
        {CRAB_DPDK_CMD_BACKEND_DEL, cmd_backend_del, "Remove a backend. Parameters: VIP:PORT,DIP"},
        {CRAB_DPDK_CMD_BACKEND_DRAIN, cmd_backend_drain, "Drain a backend (no new SYNs). Parameters: VIP:PORT,DIP"},
        {CRAB_DPDK_CMD_BACKEND_ACTIVATE, cmd_backend_activate, "Re-activate a drained backend. Parameters: VIP:PORT,DIP"},
    };
    for (const auto& c : cmds) {
        int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help);
        if (rc)
            return rc;
    }
    return 0;
}

}  // namespace crab::lb_dpdk
