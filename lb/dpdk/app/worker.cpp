// SPDX-License-Identifier: GPL-2.0-only
// A worker lcore (one per RX/TX queue pair): bursts of 32, the core decides
// and rewrites in place, ARP for the VIPs and the port address is answered
// here, backend MACs are learned from ARP replies to the requests worker 0
// sends once a second. Frames that are not LB traffic go to the TAP
// exception port (its queue of the same number) or are freed, as
// configured; frames from the TAP go out of the port.
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

#include "app.hpp"

namespace crab::lbd {

namespace {

constexpr uint16_t kBurst = 32;

bool is_backend(const Table& t, uint32_t ip)
{
    for (const auto& s : t.services)
        for (const auto& b : s.backends)
            if (b.dip == ip)
                return true;
    return false;
}

// ARP: answer requests for a VIP or our address by turning the request into
// the reply in place; learn backends' MACs from what they send.
bool handle_arp(App& app, Worker& w, const Table& t, rte_mbuf* m)
{
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr))
        return false;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4)
        return false;
    uint32_t sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
    uint32_t tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
    if (sip && is_backend(t, sip)) {
        Mac mac;
        std::memcpy(mac.data(), arp->arp_data.arp_sha.addr_bytes, 6);
        Mac old;
        if (!app.neigh.get(sip, old) || old != mac) {
            app.neigh.set(sip, mac);
            w.app[A_ARP_LEARNED].inc();
        }
    }
    if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
        return false;
    if (!t.is_vip(tip) && !(app.cfg.port_ip.addr && tip == app.cfg.port_ip.addr))
        return false;
    const auto& me = app.core_cfg.port_mac;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = arp->arp_data.arp_sip;
    std::memcpy(arp->arp_data.arp_sha.addr_bytes, me.data(), 6);
    arp->arp_data.arp_sip = rte_cpu_to_be_32(tip);
    eth->dst_addr = eth->src_addr;
    std::memcpy(eth->src_addr.addr_bytes, me.data(), 6);
    w.app[A_ARP_REPLY_SENT].inc();
    return true;
}

rte_mbuf* arp_request(App& app, Worker& w, uint32_t tip)
{
    rte_mbuf* m = rte_pktmbuf_alloc(app.pool);
    if (!m) {
        w.app[A_ALLOC_FAIL].inc();
        return nullptr;
    }
    char* p = rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr));
    if (!p) {
        rte_pktmbuf_free(m);
        w.app[A_ALLOC_FAIL].inc();
        return nullptr;
    }
    auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    const auto& me = app.core_cfg.port_mac;
    std::memset(eth->dst_addr.addr_bytes, 0xff, 6);
    std::memcpy(eth->src_addr.addr_bytes, me.data(), 6);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    std::memcpy(arp->arp_data.arp_sha.addr_bytes, me.data(), 6);
    arp->arp_data.arp_sip = rte_cpu_to_be_32(app.cfg.port_ip.addr);
    std::memset(arp->arp_data.arp_tha.addr_bytes, 0, 6);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(tip);
    w.app[A_ARP_REQ_SENT].inc();
    return m;
}

void tx(App& app, Worker& w, rte_mbuf** pkts, uint16_t n)
{
    if (!n)
        return;
    uint16_t sent = rte_eth_tx_burst(app.cfg.port_id, w.queue, pkts, n);
    w.app[A_TX].inc(sent);
    if (sent < n) {
        w.app[A_TX_DROP].inc(n - sent);
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
}

// Not LB traffic: to the TAP (sent in one burst per loop) or freed.
inline void exception(App& app, Worker& w, rte_mbuf* m, rte_mbuf** exc, uint16_t& nexc)
{
    if (app.tap_port != UINT16_MAX) {
        exc[nexc++] = m;
        return;
    }
    // --exception drop. af_packet/af_xdp-copy: the kernel got its own copy;
    // with a NIC owned by DPDK this traffic is lost, and counted.
    w.app[A_EXCEPTION_DROP].inc();
    rte_pktmbuf_free(m);
}

void exception_flush(App& app, Worker& w, rte_mbuf** exc, uint16_t n)
{
    if (!n)
        return;
    uint16_t sent = rte_eth_tx_burst(app.tap_port, w.queue, exc, n);
    w.app[A_EXCEPTION_TX].inc(sent);
    if (sent < n) {
        w.app[A_EXCEPTION_DROP].inc(n - sent);
        rte_pktmbuf_free_bulk(exc + sent, n - sent);
    }
}

// What the kernel sends out of the TAP leaves by the port, untouched.
uint16_t tap_rx(App& app, Worker& w, rte_mbuf** out, uint16_t room)
{
    rte_mbuf* rx[kBurst];
    uint16_t n = rte_eth_rx_burst(app.tap_port, w.queue, rx, std::min<uint16_t>(room, kBurst)), k = 0;
    for (uint16_t i = 0; i < n; i++) {
        if (rx[i]->nb_segs != 1) {
            w.app[A_MULTISEG].inc();
            rte_pktmbuf_free(rx[i]);
            continue;
        }
        out[k++] = rx[i];
    }
    w.app[A_EXCEPTION_RX].inc(k);
    return k;
}

}  // namespace

int worker_main(void* arg)
{
    App& app = *g_app;
    Worker& w = *static_cast<Worker*>(arg);
    RcuPtr<Table>& tp = *app.table;
    const bool tap = app.tap_port != UINT16_MAX;
    const bool arp_sender = w.queue == 0;
    const uint64_t hz = rte_get_tsc_hz();
    uint64_t next_arp = 0;
    rte_mbuf* rx[kBurst];
    rte_mbuf* out[kBurst * 3];
    rte_mbuf* exc[kBurst];

    RTE_LOG(INFO, USER1, "worker %u on lcore %u\n", w.queue, rte_lcore_id());
    tp.online(w.queue);
    while (!force_quit.load(std::memory_order_relaxed)) {
        const uint64_t start = rte_rdtsc();
        const Table& t = *tp.read();
        uint16_t nout = 0, nexc = 0;
        uint16_t n = rte_eth_rx_burst(app.cfg.port_id, w.queue, rx, kBurst);

        for (uint16_t i = 0; i < n; i++) {
            rte_mbuf* m = rx[i];
            if (i + 1 < n)
                rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void*));
            if (m->nb_segs != 1) {
                w.app[A_MULTISEG].inc();
                rte_pktmbuf_free(m);
                continue;
            }
            auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
            if (rte_pktmbuf_data_len(m) >= sizeof(*eth) &&
                eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
                if (handle_arp(app, w, t, m))
                    out[nout++] = m;
                else if (tap)
                    exception(app, w, m, exc, nexc);  // the kernel's neighbours
                else
                    rte_pktmbuf_free(m);
                continue;
            }
            Frame f{rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m), rte_pktmbuf_headroom(m)};
            switch (process(app.core_cfg, t, app.neigh, w.core, f)) {
            case Verdict::Tx: {
                uint16_t grow = static_cast<uint16_t>(rte_pktmbuf_mtod(m, uint8_t*) - f.data);
                if (grow)
                    rte_pktmbuf_prepend(m, grow);  // headroom checked by the core
                m->data_len = static_cast<uint16_t>(f.len);
                m->pkt_len = f.len;
                out[nout++] = m;
                break;
            }
            case Verdict::Pass:
                exception(app, w, m, exc, nexc);
                break;
            case Verdict::Drop:
                rte_pktmbuf_free(m);
                break;
            }
        }
        exception_flush(app, w, exc, nexc);
        uint16_t ntap = tap ? tap_rx(app, w, out + nout, kBurst) : 0;
        nout += ntap;

        if (arp_sender && start >= next_arp) {
            next_arp = start + hz;
            for (const auto& s : t.services)
                for (const auto& b : s.backends) {
                    Mac mac;
                    if (b.has_mac || app.neigh.get(b.dip, mac) || nout >= kBurst * 3)
                        continue;
                    if (rte_mbuf* m = arp_request(app, w, b.dip))
                        out[nout++] = m;
                }
        }
        tx(app, w, out, nout);
        tp.quiescent(w.queue);
        if (n || ntap)
            w.app[A_BUSY_CYCLES].inc(rte_rdtsc() - start);
        else if (app.cfg.idle_us)
            rte_delay_us_sleep(app.cfg.idle_us);
    }
    tp.offline(w.queue);
    return 0;
}

}  // namespace crab::lbd
