// SPDX-License-Identifier: GPL-2.0-only
// Port and mempool setup: one RX/TX queue pair; only offloads the device
// reports are requested (none are needed: the core fixes checksums itself).
#include <rte_ethdev.h>
#include <rte_log.h>

#include "app.hpp"

namespace crab::lbd {

static constexpr uint16_t kRxDesc = 1024;
static constexpr uint16_t kTxDesc = 1024;

int port_init(App& app)
{
    const uint16_t port = app.cfg.port_id;
    rte_eth_dev_info info;
    rte_eth_conf conf{};
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
    rc = rte_eth_dev_info_get(port, &info);
    if (rc) {
        RTE_LOG(ERR, USER1, "port %u: dev_info: %s\n", port, rte_strerror(-rc));
        return rc;
    }
    // Fast free is safe: one pool, one TX queue, mbufs never shared.
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    rc = rte_eth_dev_configure(port, 1, 1, &conf);
    if (rc) {
        RTE_LOG(ERR, USER1, "port %u: configure: %s\n", port, rte_strerror(-rc));
        return rc;
    }
    uint16_t nrx = kRxDesc, ntx = kTxDesc;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
    if (rc)
        return rc;
    rc = rte_eth_rx_queue_setup(port, 0, nrx, rte_eth_dev_socket_id(port), nullptr, app.pool);
    if (rc) {
        RTE_LOG(ERR, USER1, "port %u: rx queue: %s\n", port, rte_strerror(-rc));
        return rc;
    }
    rte_eth_txconf txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(port, 0, ntx, rte_eth_dev_socket_id(port), &txc);
    if (rc) {
        RTE_LOG(ERR, USER1, "port %u: tx queue: %s\n", port, rte_strerror(-rc));
        return rc;
    }
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
    RTE_LOG(INFO, USER1, "port %u up, MAC %s\n", port, mac_to_string(app.core_cfg.port_mac).c_str());
    return 0;
}

void port_fini(App& app)
{
    int rc = rte_eth_dev_stop(app.cfg.port_id);
    if (rc)
        RTE_LOG(WARNING, USER1, "port %u: stop: %s\n", app.cfg.port_id, rte_strerror(-rc));
    rte_eth_dev_close(app.cfg.port_id);
    rte_mempool_free(app.pool);
    app.pool = nullptr;
}

}  // namespace crab::lbd
