// SPDX-License-Identifier: GPL-2.0-only
// Port and mempool setup: one RX/TX queue pair per worker lcore (RSS over
// them where the device offers it; net_af_packet spreads by its own
// PACKET_FANOUT_HASH when given qpairs=N). Only offloads the device reports
// are requested (none are needed: the core fixes checksums itself).
// With --exception tap, a net_tap port with the same number of queue pairs
// and the port's MAC is the exception path to the kernel.
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_log.h>

#include <string>

#include "app.hpp"

namespace crab::lb_dpdk {

static constexpr uint16_t kRxDesc = 1024;
static constexpr uint16_t kTxDesc = 1024;
static constexpr uint16_t kTapDesc = 256;
static constexpr const char* kTapVdev = "net_tap_crab";

// Configure and set up nq queue pairs of `port`; starts nothing.
static int queues_init(App& app, uint16_t port, uint16_t nq, uint16_t rxd, uint16_t txd, const char* what)
{
    rte_eth_dev_info info;
    rte_eth_conf conf{};
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc) {
        RTE_LOG(ERR, USER1, "%s port %u: dev_info: %s\n", what, port, rte_strerror(-rc));
        return rc;
    }
    if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
        RTE_LOG(ERR, USER1,
                "%s port %u (%s) has %u RX / %u TX queues, %u workers need as many "
                "(net_af_packet: add qpairs=%u to its --vdev)\n",
                what, port, info.driver_name, info.max_rx_queues, info.max_tx_queues, nq, nq);
        return -EINVAL;
    }
    // Fast free is safe: one pool, mbufs never shared (refcnt 1).
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    if (nq > 1) {
        uint64_t hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
        if (hf) {
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = hf;
        } else {
            RTE_LOG(INFO, USER1, "%s port %u (%s): no RSS offload, the driver spreads frames itself\n", what,
                    port, info.driver_name);
        }
    }
    rc = rte_eth_dev_configure(port, nq, nq, &conf);
    if (rc) {
        RTE_LOG(ERR, USER1, "%s port %u: configure %u queues: %s\n", what, port, nq, rte_strerror(-rc));
        return rc;
    }
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
    if (rc)
        return rc;
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    for (uint16_t q = 0; q < nq; q++) {
        rc = rte_eth_rx_queue_setup(port, q, rxd, rte_eth_dev_socket_id(port), nullptr, app.pool);
        if (rc) {
            RTE_LOG(ERR, USER1, "%s port %u: rx queue %u: %s\n", what, port, q, rte_strerror(-rc));
            return rc;
        }
        rc = rte_eth_tx_queue_setup(port, q, txd, rte_eth_dev_socket_id(port), &txc);
        if (rc) {
            RTE_LOG(ERR, USER1, "%s port %u: tx queue %u: %s\n", what, port, q, rte_strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static int tap_init(App& app, uint16_t nq)
{
    std::string args = "iface=" + app.cfg.tap_name;
    int rc = rte_eal_hotplug_add("vdev", kTapVdev, args.c_str());
    if (rc) {
        RTE_LOG(ERR, USER1, "exception TAP %s: cannot create %s: %s\n", app.cfg.tap_name.c_str(), kTapVdev,
                rte_strerror(-rc));
        return rc < 0 ? rc : -ENODEV;
    }
    uint16_t id;
    rc = rte_eth_dev_get_port_by_name(kTapVdev, &id);
    if (rc)
        return rc;
    app.tap_port = id;
    rc = queues_init(app, id, nq, kTapDesc, kTapDesc, "exception TAP");
    if (rc)
        return rc;
    // The kernel must take frames addressed to the port's MAC as its own.
    rte_ether_addr a;
    std::copy(app.core_cfg.port_mac.begin(), app.core_cfg.port_mac.end(), a.addr_bytes);
    rc = rte_eth_dev_default_mac_addr_set(id, &a);
    if (rc) {
        RTE_LOG(ERR, USER1, "exception TAP %s: set MAC: %s\n", app.cfg.tap_name.c_str(), rte_strerror(-rc));
        return rc;
    }
    rc = rte_eth_dev_start(id);
    if (rc) {
        RTE_LOG(ERR, USER1, "exception TAP %s: start: %s\n", app.cfg.tap_name.c_str(), rte_strerror(-rc));
        return rc;
    }
    RTE_LOG(INFO, USER1, "exception path: TAP %s (port %u), MAC %s\n", app.cfg.tap_name.c_str(), id,
            mac_to_string(app.core_cfg.port_mac).c_str());
    return 0;
}

int port_init(App& app)
{
    const uint16_t port = app.cfg.port_id;
    const uint16_t nq = static_cast<uint16_t>(app.workers.size());
    int rc;

    if (!rte_eth_dev_is_valid_port(port)) {
        RTE_LOG(ERR, USER1, "port %u does not exist (no --vdev/--allow?)\n", port);
        return -ENODEV;
    }
    app.pool = rte_pktmbuf_pool_create("crab_mbufs", app.cfg.nb_mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                       rte_eth_dev_socket_id(port));
    if (!app.pool) {
        RTE_LOG(ERR, USER1, "cannot create a pool of %u mbufs: %s\n", app.cfg.nb_mbufs, rte_strerror(rte_errno));
        return -rte_errno;
    }
    rc = queues_init(app, port, nq, kRxDesc, kTxDesc, "LB");
    if (rc)
        return rc;
    if (app.cfg.port_mac) {
        // Serve a MAC of our own choosing: accept frames to it.
        rc = rte_eth_promiscuous_enable(port);
        if (rc)
            RTE_LOG(WARNING, USER1, "port %u: promiscuous mode: %s\n", port, rte_strerror(-rc));
        app.core_cfg.port_mac = *app.cfg.port_mac;
    } else {
        rte_ether_addr a;
        rc = rte_eth_macaddr_get(port, &a);
        if (rc)
            return rc;
        std::copy(a.addr_bytes, a.addr_bytes + 6, app.core_cfg.port_mac.begin());
    }
    rc = rte_eth_dev_start(port);
    if (rc) {
        RTE_LOG(ERR, USER1, "port %u: start: %s\n", port, rte_strerror(-rc));
        return rc;
    }
    RTE_LOG(INFO, USER1, "port %u up, MAC %s, %u queue pair(s)\n", port,
            mac_to_string(app.core_cfg.port_mac).c_str(), nq);
    if (app.cfg.exception == Exception::Tap)
        return tap_init(app, nq);
    return 0;
}

void port_fini(App& app)
{
    for (uint16_t p : {app.cfg.port_id, app.tap_port}) {
        if (p == UINT16_MAX || !rte_eth_dev_is_valid_port(p))
            continue;
        int rc = rte_eth_dev_stop(p);
        if (rc)
            RTE_LOG(WARNING, USER1, "port %u: stop: %s\n", p, rte_strerror(-rc));
        if (p == app.cfg.port_id)
            rte_eth_dev_close(p);
    }
    // Removing the vdev closes the TAP port and deletes the interface.
    if (app.tap_port != UINT16_MAX && rte_eal_hotplug_remove("vdev", kTapVdev))
        RTE_LOG(WARNING, USER1, "exception TAP %s: remove failed\n", app.cfg.tap_name.c_str());
    app.tap_port = UINT16_MAX;
    rte_mempool_free(app.pool);
    app.pool = nullptr;
}

}  // namespace crab::lb_dpdk
