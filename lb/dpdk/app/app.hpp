// SPDX-License-Identifier: GPL-2.0-only
// crab-lb-dpdk: state shared by main(), the worker lcore and the control
// plane (telemetry commands).
#pragma once

#include <atomic>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "config.hpp"
#include "lb_core.hpp"
#include "ndp.hpp"
#include "rcu.hpp"

namespace crab::lb_dpdk {

// What happens to frames that are not LB traffic (Verdict::Pass, ARP not
// answered here).
enum class Exception : uint8_t {
    Drop,  // freed and counted (af_packet: the kernel has its own copy)
    Tap,   // to a TAP device in the LB's namespace; what the kernel sends
           // out of the TAP leaves by the port
};

// Everything main() takes from the command line, in one struct.
struct AppConfig {
    uint16_t port_id = 0;
    std::optional<Mac> port_mac;  // default: the port's own MAC
    Ipv4 port_ip{};               // source of ARP requests; answered for
    std::optional<Addr> port_ip6;  // source of neighbour solicitations (default:
                                   // the link-local address); answered for
    uint16_t mtu = 1500;
    unsigned nb_mbufs = 8192;     // fits --no-huge -m 512
    unsigned idle_us = 0;         // sleep after an empty burst (shared CPUs, tests)
    unsigned neigh_size = NeighTable::kDefaultSize;          // neighbour entries
    unsigned neigh_lifetime_s = NeighTable::kDefaultLifetimeMs / 1000;  // a learned MAC's lifetime
    Exception exception = Exception::Drop;
    std::string tap_name = "crab0";  // --exception tap: the kernel interface
    std::vector<ServiceSpec> services;
    std::vector<BackendSpec> backends;
};

// App-level counters (not per service), per worker lcore.
#define CRAB_LBD_ACOUNTERS(X)                                                \
    X(TX, "tx", "frames sent")                                               \
    X(TX_DROP, "tx_drop", "frames the TX queue did not take")                \
    X(EXCEPTION_DROP, "exception_drop", "not LB traffic freed: --exception drop, or the TAP queue full") \
    X(EXCEPTION_TX, "exception_tx", "not LB traffic handed to the TAP exception port")          \
    X(EXCEPTION_RX, "exception_rx", "frames from the TAP exception port sent out of the port")  \
    X(MULTISEG, "multiseg_drop", "multi-segment mbufs (not handled) dropped") \
    X(ARP_REPLY_SENT, "arp_reply_sent", "ARP replies sent for a VIP or the port address") \
    X(ARP_REQ_SENT, "arp_req_sent", "ARP requests sent for backends")        \
    X(ARP_LEARNED, "arp_learned", "backend MACs learned from replies to our ARP requests") \
    X(ARP_UNSOLICITED, "arp_unsolicited", "ARP not learned from: replies to no request of ours, gratuitous ARP, requests claiming a next hop's address") \
    X(ND_NA_SENT, "nd_na_sent", "neighbour advertisements sent for an IPv6 VIP or the port's addresses") \
    X(ND_NS_SENT, "nd_ns_sent", "neighbour solicitations sent for IPv6 backends") \
    X(ND_LEARNED, "nd_learned", "backend MACs learned from advertisements answering our solicitations") \
    X(ND_UNSOLICITED, "nd_unsolicited", "advertisements naming a next hop not learned from: unsolicited, multicast, to another host, answering no solicitation of ours") \
    X(ND_INVALID, "nd_invalid", "neighbour solicitations/advertisements failing the RFC 4861 checks (hop limit, checksum, length, options)") \
    X(NEIGH_REFRESHED, "neigh_refreshed", "neighbour entries re-armed by a reply before their lifetime ended") \
    X(NEIGH_EXPIRED, "neigh_expired", "neighbour entries whose lifetime ended unrefreshed (re-resolved)") \
    X(NEIGH_FULL, "neigh_full", "next hops not resolved because the neighbour table was full") \
    X(ALLOC_FAIL, "alloc_fail", "mbuf allocation failures")                 \
    X(BUSY_CYCLES, "busy_cycles", "TSC cycles of loop iterations that received frames")

#define CRAB_LBD_A_ENUM(e, n, h) A_##e,
enum ACounter { CRAB_LBD_ACOUNTERS(CRAB_LBD_A_ENUM) A_MAX };
#undef CRAB_LBD_A_ENUM

// One worker lcore: RX/TX queue `queue` of the port (and of the TAP), a
// registered reader of the table's RcuPtr, its own counters and rr
// cursors. Allocated from DPDK memory on the socket of its lcore,
// cache-line aligned (main.cpp: worker_alloc()); only this lcore writes it.
struct alignas(64) Worker {
    LcoreState core;
    std::array<Counter, A_MAX> app;
    RcuReader rcu;
    int rcu_id = -1;
    unsigned lcore = 0;
    uint16_t queue = 0;
};

// Frees a Worker placed in DPDK memory.
struct WorkerFree {
    void operator()(Worker* w) const;
};
using WorkerPtr = std::unique_ptr<Worker, WorkerFree>;

struct App {
    AppConfig cfg;
    Config core_cfg;
    NdpSelf ndp;  // the port's MAC and IPv6 addresses (link-local, --port-ip6)
    rte_mempool* pool = nullptr;
    std::unique_ptr<RcuPtr<Table>> table;
    std::unique_ptr<NeighTable> neigh;
    uint64_t neigh_full_logged = 0;  // TSC of the last "table full" log line
    uint16_t tap_port = UINT16_MAX;  // --exception tap: the TAP's port id
    // One per RX/TX queue pair, one worker lcore each; counters are summed
    // on read.
    std::vector<WorkerPtr> workers;
    // Per-slot counter values when the slot's service was added, so a
    // re-used slot starts from zero.
    std::array<std::array<uint64_t, CRAB_LB_CNT_MAX>, CRAB_MAX_SERVICES> base{};
    // The same per backend slot: a (re)added backend starts from zero.
    std::array<std::array<uint64_t, CRAB_MAX_BACKENDS>, CRAB_MAX_SERVICES> be_base{};
    // The kernel's PACKET_STATISTICS of the process's AF_PACKET sockets
    // (net_af_packet's RX rings), accumulated: reading them clears them.
    std::mutex ring_mu;
    uint64_t ring_packets = 0, ring_drops = 0;
    unsigned ring_sockets = 0;
};

extern App* g_app;
extern std::atomic<bool> force_quit;

// Sums over the workers (control plane).
uint64_t sum_svc(const App& app, unsigned slot, unsigned i);
uint64_t sum_g(const App& app, unsigned i);
uint64_t sum_a(const App& app, unsigned i);
uint64_t sum_be(const App& app, unsigned slot, unsigned be);
// The worker registered as RcuPtr reader @id (nullptr: none).
const Worker* worker_of_reader(const App& app, int id);
// Milliseconds of the TSC: the neighbour table's clock.
uint64_t now_ms();

int port_init(App& app);   // 0 or -errno
void port_fini(App& app);
int control_init(App& app);  // registers /crab/* telemetry commands
void control_service_added(App& app, const Table& t);
// Reads and accumulates PACKET_STATISTICS of the af_packet RX rings.
void ring_stats_update(App& app);

}  // namespace crab::lb_dpdk
