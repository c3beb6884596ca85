// SPDX-License-Identifier: GPL-2.0-only
// A worker lcore (one per RX/TX queue pair): bursts of 32, the core decides
// and rewrites in place, ARP for the VIPs and the port address is answered
// here, backend MACs are learned only from ARP replies to the requests
// worker 0 sends (once a second per unresolved next hop, and again before a
// learned MAC's lifetime ends; NeighTable). Frames that are not LB traffic go to the TAP
// exception port (its queue of the same number) or are freed, as
// configured; frames from the TAP go out of the port. Neighbour Discovery
// does the same for IPv6 (core/ndp.hpp): solicitations for the IPv6 VIPs
// and the port's addresses are answered, IPv6 next hops are solicited and
// learned only from advertisements answering that.
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

#include "app.hpp"

namespace crab::lb_dpdk {

namespace {

constexpr uint16_t kBurst = 32;

// ARP: answer requests for a VIP or our address by turning the request into
// the reply in place. Learn a next hop's MAC only from a reply addressed to
// us (target: our address and MAC) that answers a request we sent for it
// (NeighTable::learn()); nothing else is learned from. Counted
// (arp_unsolicited): replies to us nobody asked for, and ARP from others
// that claims one of our next hops' addresses — gratuitous (sender address
// = target address), a reply to another host, a request with another MAC
// (cache poisoning).
bool handle_arp(App& app, Worker& w, const Table& t, rte_mbuf* m)
{
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr))
        return false;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4)
        return false;
    const auto& me = app.core_cfg.port_mac;
    uint32_t sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
    uint32_t tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
    Mac sha;
    std::memcpy(sha.data(), arp->arp_data.arp_sha.addr_bytes, 6);
    if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY)) {
        bool to_us = tip == app.cfg.port_ip.addr && std::memcmp(arp->arp_data.arp_tha.addr_bytes, me.data(), 6) == 0 &&
                     sip != tip;
        if (!to_us) {
            // Someone else's (the exception TAP's kernel asks for its own
            // neighbours): counted only when it claims one of our next hops
            // (a gratuitous reply, a broadcast one).
            if (app.neigh->state(sip) != NeighTable::State::None)
                w.app[A_ARP_UNSOLICITED].inc();
            return false;
        }
        switch (app.neigh->learn(sip, sha, now_ms())) {
        case NeighTable::Learn::Learned:
        case NeighTable::Learn::Changed:
            w.app[A_ARP_LEARNED].inc();
            break;
        case NeighTable::Learn::Refreshed:
            w.app[A_NEIGH_REFRESHED].inc();
            break;
        case NeighTable::Learn::Unsolicited:
            w.app[A_ARP_UNSOLICITED].inc();
            break;
        }
        return false;
    }
    if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
        return false;
    // A request from (or gratuitous for) one of our next hops: never learned
    // from; counted when it would have changed what we know.
    Mac known;
    if (app.neigh->state(sip) != NeighTable::State::None &&
        (sip == tip || !app.neigh->get(sip, known) || known != sha))
        w.app[A_ARP_UNSOLICITED].inc();
    if (!t.is_vip(tip) && !(app.cfg.port_ip.addr && tip == app.cfg.port_ip.addr))
        return false;
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

rte_mbuf* nd_solicit(App& app, Worker& w, const Addr& target)
{
    rte_mbuf* m = rte_pktmbuf_alloc(app.pool);
    char* p = m ? rte_pktmbuf_append(m, kNdpFrameLen) : nullptr;
    if (!p) {
        if (m)
            rte_pktmbuf_free(m);
        w.app[A_ALLOC_FAIL].inc();
        return nullptr;
    }
    const Addr src = app.cfg.port_ip6 ? *app.cfg.port_ip6 : link_local(app.core_cfg.port_mac);
    ndp_solicit(app.core_cfg.port_mac, src, target, reinterpret_cast<uint8_t*>(p));
    w.app[A_ND_NS_SENT].inc();
    return m;
}

// Neighbour Discovery (core/ndp.hpp): true when the frame became an
// advertisement to send; @ndp false when the frame is no ND message at
// all (LB traffic, or the host's).
bool handle_nd(App& app, Worker& w, const Table& t, rte_mbuf* m, bool& ndp)
{
    uint32_t len = rte_pktmbuf_data_len(m);
    NdpResult r = ndp_input(app.ndp, t, *app.neigh, now_ms(), rte_pktmbuf_mtod(m, uint8_t*), len,
                            len + rte_pktmbuf_tailroom(m));
    ndp = r != NdpResult::NotNdp;
    switch (r) {
    case NdpResult::Reply:
        m->data_len = static_cast<uint16_t>(len);
        m->pkt_len = len;
        w.app[A_ND_NA_SENT].inc();
        return true;
    case NdpResult::Learned:
        w.app[A_ND_LEARNED].inc();
        break;
    case NdpResult::Refreshed:
        w.app[A_NEIGH_REFRESHED].inc();
        break;
    case NdpResult::Unsolicited:
        w.app[A_ND_UNSOLICITED].inc();
        break;
    case NdpResult::Invalid:
        w.app[A_ND_INVALID].inc();
        break;
    case NdpResult::NotNdp:
    case NdpResult::Ignored:
        break;
    }
    return false;
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

// Once a second on worker 0: age the neighbour table, then ask for every
// next hop (backend without a configured MAC) that is unresolved, expired
// or due for a refresh. A full table is counted and logged (at most every
// 10 s); live entries stay.
void resolve(App& app, Worker& w, const Table& t, rte_mbuf** out, uint16_t& nout, uint16_t room)
{
    const uint64_t now = now_ms();
    if (unsigned n = app.neigh->expire(now))
        w.app[A_NEIGH_EXPIRED].inc(n);
    unsigned full = 0;
    Addr first_full;
    for (const auto& s : t.services)
        for (const auto& b : s.backends) {
            if (b.has_mac)
                continue;
            if (nout >= room) {  // many next hops: send what is ready
                tx(app, w, out, nout);
                nout = 0;
            }
            switch (app.neigh->want(b.dip, now)) {
            case NeighTable::Want::Send:
                if (rte_mbuf* m = b.dip.v6 ? nd_solicit(app, w, b.dip) : arp_request(app, w, b.dip.v4()))
                    out[nout++] = m;
                break;
            case NeighTable::Want::Full:
                if (!full++)
                    first_full = b.dip;
                break;
            default:
                break;
            }
        }
    if (!full)
        return;
    w.app[A_NEIGH_FULL].inc(full);
    const uint64_t tsc = rte_rdtsc();
    if (!app.neigh_full_logged || tsc - app.neigh_full_logged >= 10 * rte_get_tsc_hz()) {
        app.neigh_full_logged = tsc;
        RTE_LOG(WARNING, USER1,
                "neighbour table full (%u of %u entries in use): %u next hop(s) not resolved, e.g. %s "
                "(--neigh-size)\n",
                app.neigh->used(), app.neigh->capacity(), full, to_string(first_full).c_str());
    }
}

}  // namespace

uint64_t now_ms()
{
    static const uint64_t per_ms = std::max<uint64_t>(1, rte_get_tsc_hz() / 1000);
    return rte_rdtsc() / per_ms;
}

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

    RTE_LOG(INFO, USER1, "worker %u on lcore %u (socket %u)\n", w.queue, rte_lcore_id(), rte_socket_id());
    tp.online(w.rcu);
    // One TSC read per iteration: an iteration that received frames is
    // busy from its start to the next one's (busy_cycles).
    uint64_t start = rte_rdtsc();
    bool busy = false;
    while (!force_quit.load(std::memory_order_relaxed)) {
        const uint64_t now = rte_rdtsc();
        if (busy)
            w.app[A_BUSY_CYCLES].inc(now - start);
        start = now;
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
            // Neighbour Discovery only: the rest of IPv6 (a SYN to a VIP)
            // goes to process() without a look at the clock.
            if (rte_pktmbuf_data_len(m) >= sizeof(*eth) &&
                eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) &&
                ndp_maybe(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m))) {
                bool nd;
                if (handle_nd(app, w, t, m, nd)) {
                    out[nout++] = m;
                    continue;
                }
                if (nd) {  // not answered here: the kernel's neighbours, or nobody's
                    if (tap)
                        exception(app, w, m, exc, nexc);
                    else
                        rte_pktmbuf_free(m);
                    continue;
                }
            }
            Frame f{rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m), rte_pktmbuf_headroom(m)};
            switch (process(app.core_cfg, t, *app.neigh, w.core, f)) {
            case Verdict::Tx: {
                // A redirect keeps the frame as it is; an insert grows it
                // at the front (headroom checked by the core) and may drop
                // Ethernet padding.
                uint16_t grow = static_cast<uint16_t>(rte_pktmbuf_mtod(m, uint8_t*) - f.data);
                if (grow || f.len != rte_pktmbuf_data_len(m) || f.len != rte_pktmbuf_pkt_len(m)) [[unlikely]] {
                    if (grow)
                        rte_pktmbuf_prepend(m, grow);
                    m->data_len = static_cast<uint16_t>(f.len);
                    m->pkt_len = f.len;
                }
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
            resolve(app, w, t, out, nout, kBurst * 3);
        }
        tx(app, w, out, nout);
        tp.quiescent(w.rcu);
        busy = n || ntap;
        if (!busy && app.cfg.idle_us)
            rte_delay_us_sleep(app.cfg.idle_us);
    }
    if (busy)
        w.app[A_BUSY_CYCLES].inc(rte_rdtsc() - start);
    tp.offline(w.rcu);
    return 0;
}

}  // namespace crab::lb_dpdk
