// SPDX-License-Identifier: GPL-2.0-only
// crab-lb-dpdk: the CRAB connection-redirect load balancer on DPDK.
//
//   crab-lb-dpdk EAL-OPTIONS -- [--vip-config FILE] [--service VIP:PORT,...]...
//                [--backend VIP:PORT,DIP,...]... [--port-ip IP] [--port-ip6 IPV6] [--port-mac MAC]
//                [--port N] [--mtu N] [--mbufs N] [--idle-us N]
//                [--exception drop|tap] [--tap-name NAME]
//                [--neigh-size N] [--neigh-lifetime SECONDS]
//
// One worker per EAL worker lcore (or the main lcore alone), each on its
// own RX/TX queue pair of the port.
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include <new>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>

#include "app.hpp"

namespace crab::lb_dpdk {
App* g_app;
std::atomic<bool> force_quit{false};
int worker_main(void* worker);
}  // namespace crab::lb_dpdk

using namespace crab::lb_dpdk;

static void on_signal(int sig)
{
    std::fprintf(stderr, "crab-lb-dpdk: signal %d, stopping\n", sig);
    force_quit = true;
}

// App options (after EAL's "--") into the one config struct; throws
// crab::Error naming the bad value.
static AppConfig parse_args(int argc, char** argv)
{
    AppConfig c;
    std::string vip_config, port_mac, port_ip, port_ip6, exc = "drop";
    std::vector<std::string> svcs, bes;
    CLI::App cli{"CRAB connection-redirect load balancer (DPDK)", "crab-lb-dpdk"};
    cli.add_option("--vip-config", vip_config, "file of 'service SPEC' / 'backend SPEC' lines")
        ->check(CLI::ExistingFile);
    cli.add_option("--service", svcs,
                   "VIP:PORT[,policy=rr|random|wrr][,legacy=drop|insert|hash] (VIP:PORT: a.b.c.d:PORT or [IPV6]:PORT)");
    cli.add_option("--backend", bes, "VIP:PORT,DIP[,weight=W][,mac=MAC] (DIP of the service's family)");
    cli.add_option("--port-ip", port_ip, "this LB's own IPv4 address (ARP source, answered)");
    cli.add_option("--port-ip6", port_ip6,
                   "this LB's own IPv6 address (source of neighbour solicitations, answered; default: "
                   "the link-local address of the port's MAC)");
    cli.add_option("--port-mac", port_mac, "MAC to serve (default: the port's)");
    cli.add_option("--port", c.port_id, "DPDK port id")->capture_default_str();
    cli.add_option("--mtu", c.mtu, "IP MTU an inserted option must fit in")->capture_default_str()->check(
        CLI::Range(68, 9000));
    cli.add_option("--mbufs", c.nb_mbufs, "mbufs in the pool")->capture_default_str()->check(
        CLI::Range(1024, 1 << 22));
    cli.add_option("--exception", exc,
                   "not LB traffic: drop (freed, counted) or tap (to a TAP device for the kernel)")
        ->capture_default_str()->check(CLI::IsMember({"drop", "tap"}));
    cli.add_option("--tap-name", c.tap_name, "name of the exception TAP device")->capture_default_str();
    cli.add_option("--idle-us", c.idle_us, "sleep after an empty RX burst (0: busy poll)")
        ->capture_default_str()->check(CLI::Range(0, 100000));
    cli.add_option("--neigh-size", c.neigh_size, "neighbour table entries (backends resolved by ARP)")
        ->capture_default_str()->check(CLI::Range(1u, NeighTable::kMaxSize));
    cli.add_option("--neigh-lifetime", c.neigh_lifetime_s,
                   "seconds a learned backend MAC is valid (asked again before it ends)")
        ->capture_default_str()->check(CLI::Range(1, 86400));
    try {
        cli.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::exit(cli.exit(e));
    } catch (const CLI::ParseError& e) {
        throw crab::Error(e.what(), crab::kExitUsage);
    }
    c.exception = exc == "tap" ? Exception::Tap : Exception::Drop;
    if (c.tap_name.empty() || c.tap_name.size() >= 16)
        throw crab::Error("--tap-name '" + c.tap_name + "': 1..15 characters", crab::kExitUsage);
    if (!vip_config.empty())
        load_config_file(vip_config, c.services, c.backends);
    for (const auto& s : svcs)
        c.services.push_back(parse_service_spec(s));
    for (const auto& b : bes)
        c.backends.push_back(parse_backend_spec(b));
    if (!port_mac.empty())
        c.port_mac = parse_mac(port_mac);
    if (!port_ip.empty())
        c.port_ip = crab::parse_ipv4(port_ip);
    if (!port_ip6.empty()) {
        c.port_ip6 = parse_addr(port_ip6);
        if (!c.port_ip6->v6)
            throw crab::Error("--port-ip6 '" + port_ip6 + "': not an IPv6 address", crab::kExitUsage);
    }
    return c;
}

void WorkerFree::operator()(Worker* w) const
{
    w->~Worker();
    rte_free(w);
}

// A worker's state in DPDK memory on its lcore's socket (hugepages unless
// --no-huge), cache-line aligned: the data path writes only lcore-local
// lines. Falls back to any socket, saying so, when that one has no memory
// left.
static WorkerPtr worker_alloc(unsigned lcore, uint16_t queue)
{
    const int socket = static_cast<int>(rte_lcore_to_socket_id(lcore));
    void* mem = rte_zmalloc_socket("crab_worker", sizeof(Worker), RTE_CACHE_LINE_SIZE, socket);
    if (!mem) {
        RTE_LOG(WARNING, USER1, "worker %u: no memory on socket %d for its state, using any socket\n", queue,
                socket);
        mem = rte_zmalloc_socket("crab_worker", sizeof(Worker), RTE_CACHE_LINE_SIZE, SOCKET_ID_ANY);
    }
    if (!mem)
        throw crab::Error("worker " + std::to_string(queue) + ": cannot allocate " + std::to_string(sizeof(Worker)) +
                          " bytes of DPDK memory for its state (-m too small?)");
    WorkerPtr w(new (mem) Worker());
    w->lcore = lcore;
    w->queue = queue;
    return w;
}

// After the workers stopped: readers unregistered (each went offline when
// its loop ended), their memory back to DPDK before EAL cleanup.
static void free_workers(App& app)
{
    for (const auto& w : app.workers)
        if (app.table && w->rcu_id >= 0 && !app.table->unregister_reader(w->rcu_id))
            std::fprintf(stderr, "crab-lb-dpdk: worker %u: reader %d could not be unregistered (still online)\n",
                         w->queue, w->rcu_id);
    app.workers.clear();
}

// The initial table, all or nothing.
static std::unique_ptr<Table> initial_table(const AppConfig& c)
{
    auto t = std::make_unique<Table>();
    for (const auto& s : c.services)
        service_add(*t, s);
    for (const auto& b : c.backends)
        backend_add(*t, b);
    return t;
}

int main(int argc, char** argv)
{
    int ret = rte_eal_init(argc, argv);
    if (ret < 0) {
        std::fprintf(stderr, "error: EAL init failed: %s\n", rte_strerror(rte_errno));
        return crab::kExitError;
    }
    argc -= ret;
    argv += ret;

    App app;
    g_app = &app;
    int rc = crab::kExitOk;
    try {
        app.cfg = parse_args(argc, argv);
        app.neigh = std::make_unique<NeighTable>(app.cfg.neigh_size, app.cfg.neigh_lifetime_s * 1000ull);
        app.table = std::make_unique<RcuPtr<Table>>(initial_table(app.cfg));
        // One worker per worker lcore; the main lcore works only when alone.
        std::vector<unsigned> lcores;
        unsigned lc;
        if (rte_lcore_count() == 1)
            lcores.push_back(rte_get_main_lcore());
        else
            RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
        for (unsigned i = 0; i < lcores.size(); i++) {
            app.workers.push_back(worker_alloc(lcores[i], static_cast<uint16_t>(i)));
            Worker& w = *app.workers.back();
            w.core.rng = rte_rand();
            w.rcu_id = app.table->register_reader(w.rcu);
            if (w.rcu_id < 0)
                throw crab::Error("worker " + std::to_string(i) + ": no reader slot left (too many worker lcores)");
        }
    } catch (const crab::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        free_workers(app);
        rte_eal_cleanup();
        return e.code();
    }
    app.core_cfg.mtu = app.cfg.mtu;

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    ret = port_init(app);
    if (ret) {
        std::fprintf(stderr, "error: port %u init failed: %s\n", app.cfg.port_id, rte_strerror(-ret));
        rc = crab::kExitError;
        goto out_eal;
    }
    app.ndp.mac = app.core_cfg.port_mac;
    app.ndp.addrs = {link_local(app.core_cfg.port_mac)};
    if (app.cfg.port_ip6)
        app.ndp.addrs.push_back(*app.cfg.port_ip6);
    ret = control_init(app);
    if (ret) {
        std::fprintf(stderr, "error: telemetry commands: %s\n", rte_strerror(-ret));
        rc = crab::kExitError;
        goto out_port;
    }
    std::printf("crab-lb-dpdk: %zu services on port %u, MAC %s, %zu worker(s), exception %s\n",
                app.table->current()->services.size(), app.cfg.port_id,
                mac_to_string(app.core_cfg.port_mac).c_str(), app.workers.size(),
                app.cfg.exception == Exception::Tap ? app.cfg.tap_name.c_str() : "drop");
    std::fflush(stdout);

    if (rte_lcore_count() == 1) {
        worker_main(app.workers[0].get());
    } else {
        for (const auto& w : app.workers)
            rte_eal_remote_launch(worker_main, w.get(), w->lcore);
        // The main lcore sleeps (rte_eal_mp_wait_lcore() would spin on
        // its CPU) until a signal, then waits for the workers.
        while (!force_quit.load())
            rte_delay_us_sleep(100000);
        rte_eal_mp_wait_lcore();
    }

out_port:
    port_fini(app);
out_eal:
    free_workers(app);
    app.table.reset();
    rte_eal_cleanup();
    std::printf("crab-lb-dpdk: bye\n");
    return rc;
}
