// SPDX-License-Identifier: GPL-2.0-only
// crab-lb-nf-conformance: the LB conformance fixtures
// (selftests/conformance/fixtures.py) replayed through the nf LB
// (crab_lb_nf.ko) in network namespaces, with real frames:
//
//   crab-lb-nf-conformance FIXTURES.json --lb NS --client NS --backend NS...
//                          [--opt-kind 42|254] [--case NAME]
//
// The namespaces (/run/netns/NS) are the caller's topology, as the
// document's "topology" describes it: the client's eth0 and the LB's eth0
// on one segment with the backends' eth0, the LB's port with the
// topology's port_mac, a neighbour entry on the LB for every backend
// address of either family ("neighbours", "neighbours6": its MAC the
// backend's eth0), IPv4 and IPv6 forwarding on in the LB namespace, and
// there, for both families, two nft chains around the LB's PRE_ROUTING
// hooks (priority NF_IP_PRI_RAW, NF_IP6_PRI_RAW) that log every packet to
// NFLOG group 7 with the prefix "early" (priority -301, before the LB)
// and "late" (-299, what the LB let through untouched or rewrote). One
// process for all cases; per case it:
//   - replaces the LB's services (generic netlink, as crabctl does; VIP
//     and DIP or VIP6 and DIP6 by the addresses' family),
//   - sends every input frame from the client's eth0 (AF_PACKET), then a
//     marker per family of the input frames (UDP to the first neighbour
//     of that family, forwarded by the LB's stack): once each has reached
//     that backend and the "late" log, every frame before it has been
//     handled (one queue, in order),
//   - checks each packet's verdict (the packet's lb.nf expectation when the
//     fixture gives one): "forward": this frame, byte for byte, reached a
//     backend; "pass": the input's IP packet went on unchanged (late log);
//     "drop": it did not go on, neither unchanged nor rewritten;
//     "ignored": the stack discarded it before any hook (no early log),
//   - accounts for everything the backends and the late log saw from the
//     client's addresses (a frame left over fails the case; the Neighbour
//     Discovery the client's own stack sends, e.g. its answers to the LB's
//     solicitations, is no case's), and compares the first service's
//     counters.
// Cases for another option form than --opt-kind (a module parameter) are
// left to a run with the module loaded for theirs.
// Exit 0 all passed, 1 a case failed, 2 usage or setup error.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" {
#include <crab/crab_genl_lb.h>
}

#include "crab/common.hpp"
#include "genl.hpp"

using nlohmann::json;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr uint16_t kLogGroup = 7;
constexpr double kWaitS = 20;  // for the marker, in an emulated guest

#define NF_NAME(e, n, h) n,
const char* const kCounters[] = {CRAB_LB_COUNTERS(NF_NAME)};
#undef NF_NAME

[[noreturn]] void die(const std::string& m)
{
    throw crab::Error(m, 2);
}

Bytes unhex(const std::string& s)
{
    Bytes b;
    for (size_t i = 0; i + 1 < s.size(); i += 2)
        b.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    return b;
}

std::string hex(const Bytes& b)
{
    static const char* d = "0123456789abcdef";
    std::string s;
    for (uint8_t x : b) {
        s += d[x >> 4];
        s += d[x & 15];
    }
    return s;
}

double now_s()
{
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void enter(const std::string& ns)
{
    std::string p = "/run/netns/" + ns;
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET))
        die("cannot enter " + p + ": " + std::strerror(errno));
    close(fd);
}

// An AF_PACKET socket on eth0 of the current namespace.
int packet_socket()
{
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0)
        die(std::string("AF_PACKET socket: ") + std::strerror(errno));
    int buf = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ALL);
    ll.sll_ifindex = static_cast<int>(if_nametoindex("eth0"));
    if (!ll.sll_ifindex || bind(fd, reinterpret_cast<sockaddr*>(&ll), sizeof(ll)))
        die(std::string("AF_PACKET on eth0: ") + std::strerror(errno));
    return fd;
}

// The NFLOG group of the LB namespace's nft log rules, whole packets.
class NfLog {
public:
    NfLog()
    {
        nl_ = mnl_socket_open(NETLINK_NETFILTER);
        if (!nl_ || mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
            die(std::string("NETLINK_NETFILTER socket: ") + std::strerror(errno));
        int buf = 8 << 20;
        int fd = mnl_socket_get_fd(nl_);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
        config([](nlmsghdr* n) {
            nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
            mnl_attr_put(n, NFULA_CFG_CMD, sizeof(cmd), &cmd);
        });
        config([](nlmsghdr* n) {
            nfulnl_msg_config_mode m{};
            m.copy_range = htonl(0xffff);
            m.copy_mode = NFULNL_COPY_PACKET;
            mnl_attr_put(n, NFULA_CFG_MODE, sizeof(m), &m);
            mnl_attr_put_u32(n, NFULA_CFG_QTHRESH, htonl(1));
        });
    }
    ~NfLog()
    {
        if (nl_)
            mnl_socket_close(nl_);
    }
    int fd() const { return mnl_socket_get_fd(nl_); }

    struct Entry {
        std::string prefix;
        Bytes ip;
    };
    // Every message waiting on the socket into @out.
    void read(std::vector<Entry>& out)
    {
        char buf[1 << 16];
        for (;;) {
            ssize_t n = recv(fd(), buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0 && errno == ENOBUFS)
                die("NFLOG socket overrun: log entries lost");
            if (n <= 0)
                return;
            for (auto* h = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(h, static_cast<int>(n));
                 h = mnl_nlmsg_next(h, reinterpret_cast<int*>(&n))) {
                if (h->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
                    continue;
                Entry e;
                mnl_attr_parse(h, sizeof(nfgenmsg), cb, &e);
                out.push_back(std::move(e));
            }
        }
    }

private:
    static int cb(const nlattr* a, void* data)
    {
        auto* e = static_cast<Entry*>(data);
        auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
        size_t len = mnl_attr_get_payload_len(a);
        if (mnl_attr_get_type(a) == NFULA_PREFIX)
            e->prefix.assign(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), len));
        else if (mnl_attr_get_type(a) == NFULA_PAYLOAD)
            e->ip.assign(p, p + len);
        return MNL_CB_OK;
    }
    template <typename F>
    void config(F attrs)
    {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        nlmsghdr* n = mnl_nlmsg_put_header(buf);
        n->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
        n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        n->nlmsg_seq = ++seq_;
        auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(n, sizeof(nfgenmsg)));
        g->nfgen_family = AF_UNSPEC;
        g->version = NFNETLINK_V0;
        g->res_id = htons(kLogGroup);
        attrs(n);
        if (mnl_socket_sendto(nl_, n, n->nlmsg_len) < 0)
            die(std::string("NFLOG config: ") + std::strerror(errno));
        ssize_t r = mnl_socket_recvfrom(nl_, buf, sizeof(buf));
        if (r < 0 || mnl_cb_run(buf, static_cast<size_t>(r), seq_, mnl_socket_get_portid(nl_), nullptr,
                                nullptr) < 0)
            die(std::string("NFLOG config of group 7 refused: ") + std::strerror(errno) +
                " (nfnetlink_log missing, or the group taken)");
    }
    mnl_socket* nl_ = nullptr;
    unsigned seq_ = 0;
};

struct Lb {
    crab::genl::Socket sock;
    uint16_t fam;
    Lb() : fam(sock.resolve(CRAB_LB_GENL_NAME)) {}
    crab::genl::Message req(uint8_t cmd) { return sock.request(fam, cmd, CRAB_LB_GENL_VERSION); }
    void run(crab::genl::Message& m, const crab::genl::ReplyFn& fn = nullptr) { sock.transact(m, CRAB_LB_A_MAX, fn); }
};

uint32_t ip_be(const std::string& s)
{
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1)
        die("bad address '" + s + "'");
    return a.s_addr;
}

// A fixture address: 4 bytes (IPv4) or 16 (IPv6), network order.
Bytes addr_of(const std::string& s)
{
    Bytes a(s.find(':') == std::string::npos ? 4 : 16);
    if (inet_pton(a.size() == 4 ? AF_INET : AF_INET6, s.c_str(), a.data()) != 1)
        die("bad address '" + s + "'");
    return a;
}

Bytes mac_of(const std::string& s)
{
    Bytes m(6);
    if (std::sscanf(s.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
        die("bad MAC '" + s + "'");
    return m;
}

uint16_t ip_csum(const uint8_t* p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

// The marker: UDP from the client to @dst (a backend), through the LB's
// stack, its payload naming the case.
Bytes marker(const Bytes& smac, const Bytes& dmac, uint32_t src, uint32_t dst, unsigned n)
{
    char text[48];
    int tl = std::snprintf(text, sizeof(text), "crab-conformance-marker-%u", n);
    Bytes f(14 + 20 + 8 + static_cast<size_t>(tl));
    std::copy(dmac.begin(), dmac.end(), f.begin());
    std::copy(smac.begin(), smac.end(), f.begin() + 6);
    f[12] = 0x08;
    uint8_t* ip = f.data() + 14;
    uint16_t tot = static_cast<uint16_t>(f.size() - 14);
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(tot >> 8);
    ip[3] = static_cast<uint8_t>(tot);
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    std::memcpy(ip + 12, &src, 4);
    std::memcpy(ip + 16, &dst, 4);
    uint16_t c = ip_csum(ip, 20);
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
    uint8_t* udp = ip + 20;
    udp[0] = 0x9c;  // 40000 -> 9 (discard)
    udp[1] = 0x40;
    udp[3] = 9;
    udp[5] = static_cast<uint8_t>(8 + tl);
    std::memcpy(udp + 8, text, static_cast<size_t>(tl));
    return f;
}

// The IPv6 marker: as marker(), from @src to @dst (16 bytes each), with
// the UDP checksum IPv6 requires.
Bytes marker6(const Bytes& smac, const Bytes& dmac, const Bytes& src, const Bytes& dst, unsigned n)
{
    char text[48];
    int tl = std::snprintf(text, sizeof(text), "crab-conformance-marker-%u", n);
    const size_t ulen = 8 + static_cast<size_t>(tl);
    Bytes f(14 + 40 + ulen);
    std::copy(dmac.begin(), dmac.end(), f.begin());
    std::copy(smac.begin(), smac.end(), f.begin() + 6);
    f[12] = 0x86;
    f[13] = 0xdd;
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x60;
    ip[4] = static_cast<uint8_t>(ulen >> 8);
    ip[5] = static_cast<uint8_t>(ulen);
    ip[6] = IPPROTO_UDP;
    ip[7] = 64;
    std::copy(src.begin(), src.end(), ip + 8);
    std::copy(dst.begin(), dst.end(), ip + 24);
    uint8_t* udp = ip + 40;
    udp[0] = 0x9c;  // 40000 -> 9 (discard)
    udp[1] = 0x40;
    udp[3] = 9;
    udp[4] = static_cast<uint8_t>(ulen >> 8);
    udp[5] = static_cast<uint8_t>(ulen);
    std::memcpy(udp + 8, text, static_cast<size_t>(tl));
    // Pseudo-header (addresses, length, next header), then the datagram
    // (its odd last byte padded with a zero).
    uint32_t sum = static_cast<uint32_t>(ulen) + IPPROTO_UDP;
    for (size_t i = 8; i < 40; i += 2)
        sum += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
    for (size_t i = 0; i < ulen; i += 2)
        sum += static_cast<uint32_t>(udp[i] << 8 | (i + 1 < ulen ? udp[i + 1] : 0));
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = static_cast<uint16_t>(~sum);
    if (!c)
        c = 0xffff;
    udp[6] = static_cast<uint8_t>(c >> 8);
    udp[7] = static_cast<uint8_t>(c);
    return f;
}

bool is_v6(const Bytes& ip)
{
    return !ip.empty() && ip[0] >> 4 == 6;
}

bool is_marker(const Bytes& ip, unsigned n)
{
    std::string want = "crab-conformance-marker-" + std::to_string(n);
    const size_t hl = is_v6(ip) ? 40 : 20;
    if (ip.size() < hl + 8 + want.size() || ip[is_v6(ip) ? 6 : 9] != IPPROTO_UDP)
        return false;
    return std::string(ip.end() - static_cast<long>(want.size()), ip.end()) == want;
}

// ICMPv6 Neighbour Discovery (router and neighbour solicitation and
// advertisement, redirect) right after the fixed header: the client's
// stack sends it on its own (answering the LB's solicitations).
bool is_ndp(const Bytes& ip)
{
    return is_v6(ip) && ip.size() > 40 && ip[6] == IPPROTO_ICMPV6 && ip[40] >= 133 && ip[40] <= 137;
}

// Remove one element equal to @x from @v; false when there is none.
bool take(std::vector<Bytes>& v, const Bytes& x)
{
    auto it = std::find(v.begin(), v.end(), x);
    if (it == v.end())
        return false;
    v.erase(it);
    return true;
}

struct Runner {
    Lb* lb = nullptr;
    NfLog* log = nullptr;
    int tx = -1;
    std::vector<int> cap;
    Bytes port_mac, cli_mac, nh_mac;
    uint32_t cli_ip = 0, nh_ip = 0;
    Bytes cli_ip6, nh_ip6;  // empty: the document has no IPv6 frames
    unsigned markers = 0;

    // From the client (either family): what a case can have sent.
    bool from_client(const Bytes& ip) const
    {
        if (is_v6(ip))
            return ip.size() >= 40 && !cli_ip6.empty() && std::equal(cli_ip6.begin(), cli_ip6.end(), ip.begin() + 8);
        uint32_t src;
        if (ip.size() < 20)
            return false;
        std::memcpy(&src, ip.data() + 12, 4);
        return src == cli_ip;
    }

    // A service's key: VIP (or VIP6) and port.
    static void put_key(crab::genl::Message& m, const json& s)
    {
        Bytes vip = addr_of(s.at("vip").get<std::string>());
        m.put_bytes(vip.size() == 4 ? CRAB_LB_A_VIP : CRAB_LB_A_VIP6, vip.data(), vip.size());
        m.put_u16(CRAB_LB_A_PORT, s.at("port").get<uint16_t>());
    }

    void configure(const json& cfg)
    {
        auto f = lb->req(CRAB_LB_CMD_FLUSH);
        lb->run(f);
        for (const auto& s : cfg.value("services", json::array())) {
            auto key = [&](crab::genl::Message& m) { put_key(m, s); };
            auto m = lb->req(CRAB_LB_CMD_SVC_ADD);
            key(m);
            m.put_u8(CRAB_LB_A_POLICY, crab::parse_policy(s.value("policy", "rr")));
            m.put_u8(CRAB_LB_A_LEGACY, crab::parse_legacy_mode(s.value("legacy", "drop")));
            lb->run(m);
            for (const auto& b : s.value("backends", json::array())) {
                auto bm = lb->req(CRAB_LB_CMD_BE_ADD);
                key(bm);
                {
                    auto n = bm.nest(CRAB_LB_A_BACKEND);  // closed at the end of this scope
                    Bytes dip = addr_of(b.at("dip").get<std::string>());
                    bm.put_bytes(dip.size() == 4 ? CRAB_LB_BE_A_DIP : CRAB_LB_BE_A_DIP6, dip.data(), dip.size());
                    bm.put_u32(CRAB_LB_BE_A_WEIGHT, b.value("weight", 1u));
                    bm.put_u8(CRAB_LB_BE_A_STATE, b.value("state", "active") == "draining"
                                                      ? CRAB_BACKEND_DRAINING
                                                      : CRAB_BACKEND_ACTIVE);
                }
                lb->run(bm);
            }
        }
    }

    void send(const Bytes& f)
    {
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_ifindex = ifindex;
        ll.sll_halen = 6;
        std::memcpy(ll.sll_addr, f.data(), 6);
        for (int tries = 0;; tries++) {
            if (sendto(tx, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&ll), sizeof(ll)) ==
                static_cast<ssize_t>(f.size()))
                return;
            if ((errno != ENOBUFS && errno != EAGAIN) || tries > 100)
                die(std::string("sending a frame: ") + std::strerror(errno));
            usleep(5000);
        }
    }

    // Frames a backend received from the client side (IPv4 or IPv6, saddr
    // the client's), in arrival order per backend; @marker_seen[0] and [1]
    // tell whether the IPv4 and the IPv6 marker @n came.
    void drain_captures(std::vector<Bytes>& got, bool marker_seen[2], unsigned n)
    {
        uint8_t buf[65536];
        for (int fd : cap) {
            for (;;) {
                sockaddr_ll from{};
                socklen_t fl = sizeof(from);
                ssize_t r = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
                if (r <= 0)
                    break;
                // Only what the LB sent: the segment floods frames to
                // unknown or group MACs to the backends too.
                const bool ip4 = buf[12] == 0x08 && buf[13] == 0, ip6 = buf[12] == 0x86 && buf[13] == 0xdd;
                if (from.sll_pkttype == PACKET_OUTGOING || r < 34 || !(ip4 || ip6) ||
                    std::memcmp(buf + 6, port_mac.data(), 6) != 0)
                    continue;
                Bytes f(buf, buf + r);
                Bytes ip(f.begin() + 14, f.end());
                if (ip6 != is_v6(ip) || !from_client(ip))
                    continue;
                if (is_marker(ip, n)) {
                    marker_seen[is_v6(ip)] = true;
                    continue;
                }
                got.push_back(std::move(f));
            }
        }
    }

    void flush_old()
    {
        std::vector<Bytes> g;
        bool m[2] = {};
        drain_captures(g, m, 0);
        std::vector<NfLog::Entry> e;
        log->read(e);
    }

    int ifindex = 0;

    // Runs case @c; returns what differed (empty: passed).
    std::vector<std::string> run_case(const json& c)
    {
        std::vector<std::string> err;
        configure(c.at("config"));
        flush_old();
        const unsigned n = ++markers;
        // One marker per family of the input frames (IPv4 when neither).
        bool want[2] = {false, false};
        for (const auto& p : c.at("packets")) {
            Bytes f = unhex(p.at("in").get<std::string>());
            send(f);
            if (f.size() >= 14) {
                want[0] |= f[12] == 0x08 && f[13] == 0;
                want[1] |= f[12] == 0x86 && f[13] == 0xdd;
            }
        }
        if (want[1] && nh_ip6.empty()) {
            err.push_back("IPv6 frames, but the document has no IPv6 neighbour (topology/neighbours6)");
            return err;
        }
        want[0] |= !want[1];
        if (want[0])
            send(marker(cli_mac, port_mac, cli_ip, nh_ip, n));
        if (want[1])
            send(marker6(cli_mac, port_mac, cli_ip6, nh_ip6, n));

        std::vector<Bytes> got;
        std::vector<NfLog::Entry> logged;
        bool at_backend[2] = {!want[0], !want[1]}, in_log[2] = {!want[0], !want[1]};
        auto both = [](const bool b[2]) { return b[0] && b[1]; };
        const double end = now_s() + kWaitS;
        while (!(both(at_backend) && both(in_log)) && now_s() < end) {
            std::vector<pollfd> pf;
            for (int fd : cap)
                pf.push_back({fd, POLLIN, 0});
            pf.push_back({log->fd(), POLLIN, 0});
            poll(pf.data(), pf.size(), 200);
            drain_captures(got, at_backend, n);
            size_t from = logged.size();
            log->read(logged);
            for (size_t i = from; i < logged.size(); i++)
                if (logged[i].prefix == "late" && is_marker(logged[i].ip, n))
                    in_log[is_v6(logged[i].ip)] = true;
        }
        for (int v6 = 0; v6 < 2; v6++) {
            if (!at_backend[v6] || !in_log[v6])
                err.push_back(std::string("the IPv") + (v6 ? "6" : "4") + " marker did not come through (" +
                              (at_backend[v6] ? "" : "backend ") + (in_log[v6] ? "" : "late log ") +
                              "missing): is the topology as the runner's header says?");
        }
        if (!err.empty())
            return err;
        // What came from the client's addresses: the LB also sees the
        // other hosts' Neighbour Discovery and MLD, and its own.
        std::vector<Bytes> early, late;
        for (auto& e : logged)
            if (!is_marker(e.ip, n) && from_client(e.ip))
                (e.prefix == "early" ? early : late).push_back(e.ip);

        int k = 0;
        for (const auto& p : c.at("packets")) {
            const json& e = p.contains("lb") && p["lb"].contains("nf") ? p["lb"]["nf"] : p;
            const std::string v = e.at("verdict").get<std::string>();
            const std::string tag = "packet " + std::to_string(k++) + ": ";
            Bytes in = unhex(p.at("in").get<std::string>());
            Bytes in_ip(in.begin() + std::min<size_t>(14, in.size()), in.end());
            if (v == "forward") {
                Bytes want = unhex(e.at("out").get<std::string>());
                if (!take(got, want))
                    err.push_back(tag + "expected forward, this frame reached no backend:\n    expected " +
                                  hex(want));
                // The late log saw it rewritten unless it was sent on from
                // the hook itself (hash mode): the common expected frame's
                // IP packet, before the stack decremented the TTL.
                if (p.contains("out")) {
                    Bytes o = unhex(p["out"].get<std::string>());
                    take(late, Bytes(o.begin() + 14, o.end()));
                }
            } else if (v == "pass") {
                if (!take(late, in_ip))
                    err.push_back(tag + "expected pass, the packet did not go on unchanged");
            } else if (v == "drop") {
                if (std::find(late.begin(), late.end(), in_ip) != late.end())
                    err.push_back(tag + "expected drop, the packet went on unchanged");
            } else if (v == "ignored") {
                if (std::find(early.begin(), early.end(), in_ip) != early.end())
                    err.push_back(tag + "expected the stack to discard it before any hook, it reached one");
            } else {
                err.push_back(tag + "unknown verdict '" + v + "'");
            }
        }
        for (const auto& f : got)
            err.push_back("a frame no packet expected reached a backend: " + hex(f));
        for (const auto& l : late)
            if (!is_ndp(l))
                err.push_back("a packet no pass or forward explains went on past the LB: " + hex(l));

        if (c.contains("counters") && !c["config"].value("services", json::array()).empty()) {
            const auto& s0 = c["config"]["services"][0];
            auto m = lb->req(CRAB_LB_CMD_SVC_GET);
            put_key(m, s0);
            json have = json::object();
            lb->run(m, [&](const crab::genl::Attrs& a) {
                auto cn = crab::genl::Attrs::nested(a.raw(CRAB_LB_A_COUNTERS), CRAB_LB_CNT_MAX);
                for (int i = 0; i < CRAB_LB_CNT_MAX; i++)
                    have[kCounters[i]] = cn.has(static_cast<uint16_t>(i + 1)) ? cn.u64(static_cast<uint16_t>(i + 1))
                                                                              : 0;
            });
            for (auto& [name, val] : c["counters"].items()) {
                if (!have.contains(name))
                    err.push_back("unknown counter " + name);
                else if (have[name] != val)
                    err.push_back("counter " + name + " = " + have[name].dump() + ", expected " + val.dump());
            }
        }
        return err;
    }
};

void usage()
{
    std::cerr << "usage: crab-lb-nf-conformance FIXTURES.json --lb NS --client NS --backend NS... "
                 "[--opt-kind 42|254] [--case NAME]\n"
                 "       crab-lb-nf-conformance --refusals --lb NS\n";
}

// ---- --refusals: what the module itself refuses over generic netlink ---------
// crabctl checks every value before it asks the module; these requests are
// the ones only another client can send. Each must be refused with EINVAL
// and the module's message, and change nothing.

void put_v6(crab::genl::Message& m, uint16_t t, const char* a)
{
    in6_addr x{};
    if (inet_pton(AF_INET6, a, &x) != 1)
        die(std::string("bad IPv6 address ") + a);
    m.put_bytes(t, &x, sizeof(x));
}

int refusals(Lb& lb)
{
    using Build = std::function<void(crab::genl::Message&)>;
    int fail = 0;
    auto check = [&](const char* what, bool ok, const std::string& detail) {
        std::printf("TEST: nf genl: %-62s [%s]\n", what, ok ? " OK " : "FAIL");
        if (!ok)
            std::printf("#   %s\n", detail.c_str());
        fail += !ok;
    };
    auto send = [&](uint8_t cmd, const Build& b) {
        auto m = lb.req(cmd);
        b(m);
        lb.run(m);
    };
    // refused WHAT: the request is refused naming EXPECT.
    auto refused = [&](const char* what, uint8_t cmd, const Build& b, const char* expect) {
        try {
            send(cmd, b);
            check(what, false, "accepted");
        } catch (const crab::Error& e) {
            std::string msg = e.what();
            check(what, msg.find(expect) != std::string::npos, "refused with '" + msg + "', expected '" + expect + "'");
        }
    };
    auto vip4 = [](crab::genl::Message& m) {
        m.put_u32(CRAB_LB_A_VIP, ip_be("198.18.100.1"));
        m.put_u16(CRAB_LB_A_PORT, 80);
    };
    auto vip6 = [](crab::genl::Message& m) {
        put_v6(m, CRAB_LB_A_VIP6, "2001:db8:100::1");
        m.put_u16(CRAB_LB_A_PORT, 80);
    };
    auto be = [](const Build& key, const Build& dip) -> Build {
        return [key, dip](crab::genl::Message& m) {
            key(m);
            auto n = m.nest(CRAB_LB_A_BACKEND);
            dip(m);
        };
    };

    auto f = lb.req(CRAB_LB_CMD_FLUSH);
    lb.run(f);
    refused("a service without a VIP", CRAB_LB_CMD_SVC_ADD,
            [](crab::genl::Message& m) { m.put_u16(CRAB_LB_A_PORT, 80); }, "VIP (or VIP6) and PORT are required");
    refused("a service with both VIP and VIP6", CRAB_LB_CMD_SVC_ADD,
            [&](crab::genl::Message& m) { vip4(m); put_v6(m, CRAB_LB_A_VIP6, "2001:db8:100::1"); },
            "a service is one family");
    refused("VIP 0.0.0.0", CRAB_LB_CMD_SVC_ADD,
            [](crab::genl::Message& m) { m.put_u32(CRAB_LB_A_VIP, 0); m.put_u16(CRAB_LB_A_PORT, 80); },
            "VIP must be a unicast address");
    for (const char* a : {"::", "::1", "ff02::1", "fe80::1", "::ffff:198.18.100.1"}) {
        std::string what = std::string("VIP6 ") + a;
        refused(what.c_str(), CRAB_LB_CMD_SVC_ADD,
                [a](crab::genl::Message& m) { put_v6(m, CRAB_LB_A_VIP6, a); m.put_u16(CRAB_LB_A_PORT, 80); },
                "VIP6 must be a global or unique-local unicast address");
    }
    refused("a 4-byte VIP6", CRAB_LB_CMD_SVC_ADD,
            [](crab::genl::Message& m) { m.put_u32(CRAB_LB_A_VIP6, 1); m.put_u16(CRAB_LB_A_PORT, 80); }, "");

    send(CRAB_LB_CMD_SVC_ADD, vip4);
    send(CRAB_LB_CMD_SVC_ADD, vip6);
    refused("an IPv4 backend of an IPv6 service", CRAB_LB_CMD_BE_ADD,
            be(vip6, [](crab::genl::Message& m) { m.put_u32(CRAB_LB_BE_A_DIP, ip_be("198.18.0.11")); }),
            "backend of another family than the service's VIP");
    refused("an IPv6 backend of an IPv4 service", CRAB_LB_CMD_BE_ADD,
            be(vip4, [](crab::genl::Message& m) { put_v6(m, CRAB_LB_BE_A_DIP6, "2001:db8::11"); }),
            "backend of another family than the service's VIP");
    refused("a backend without an address", CRAB_LB_CMD_BE_ADD,
            be(vip6, [](crab::genl::Message& m) { m.put_u32(CRAB_LB_BE_A_WEIGHT, 1); }),
            "backend DIP (DIP6 for an IPv6 service) is required");
    refused("DIP 127.0.0.1", CRAB_LB_CMD_BE_ADD,
            be(vip4, [](crab::genl::Message& m) { m.put_u32(CRAB_LB_BE_A_DIP, ip_be("127.0.0.1")); }),
            "DIP must be a unicast address");
    for (const char* a : {"::1", "ff05::2", "fe80::11", "::ffff:198.18.0.11"}) {
        std::string what = std::string("DIP6 ") + a;
        refused(what.c_str(), CRAB_LB_CMD_BE_ADD,
                be(vip6, [a](crab::genl::Message& m) { put_v6(m, CRAB_LB_BE_A_DIP6, a); }),
                "DIP6 must be a global or unique-local unicast address");
    }

    // Nothing half-applied: the two services, no backend.
    int svcs = 0, bes = 0;
    auto d = lb.sock.request(lb.fam, CRAB_LB_CMD_SVC_GET, CRAB_LB_GENL_VERSION, true);
    lb.run(d, [&](const crab::genl::Attrs& a) {
        svcs++;
        bes += static_cast<int>(a.u32(CRAB_LB_A_NBACKENDS));
    });
    check("after the refusals: an IPv4 and an IPv6 service on port 80, no backend", svcs == 2 && bes == 0,
          std::to_string(svcs) + " services, " + std::to_string(bes) + " backends");
    auto f2 = lb.req(CRAB_LB_CMD_FLUSH);
    lb.run(f2);
    return fail ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv)
{
    std::string file, only, lb_ns, cli_ns;
    std::vector<std::string> be_ns;
    int opt_kind = 42;
    bool refusals_only = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--lb")
            lb_ns = val();
        else if (a == "--client")
            cli_ns = val();
        else if (a == "--backend")
            be_ns.push_back(val());
        else if (a == "--case")
            only = val();
        else if (a == "--opt-kind")
            opt_kind = std::atoi(val().c_str());
        else if (a == "--refusals")
            refusals_only = true;
        else if (file.empty() && a[0] != '-')
            file = a;
        else {
            usage();
            return 2;
        }
    }
    if (refusals_only && !lb_ns.empty()) {
        try {
            enter(lb_ns);
            Lb lb;
            return refusals(lb);
        } catch (const std::exception& e) {
            std::cerr << "crab-lb-nf-conformance: " << e.what() << "\n";
            return 2;
        }
    }
    if (file.empty() || lb_ns.empty() || cli_ns.empty() || be_ns.empty()) {
        usage();
        return 2;
    }
    try {
        std::ifstream in(file);
        if (!in)
            die("cannot open '" + file + "'");
        json doc = json::parse(in);
        const json topo = doc.value("topology", json::object());
        if (!topo.contains("port_mac") || topo.value("neighbours", json::array()).empty())
            die("the fixtures have no topology (port_mac, neighbours)");
        Runner r;
        r.port_mac = mac_of(topo["port_mac"].get<std::string>());
        r.cli_mac = mac_of(topo.value("client_mac", "02:00:00:00:00:02"));
        r.nh_ip = ip_be(topo["neighbours"][0]["ip"].get<std::string>());
        if (!topo.value("neighbours6", json::array()).empty()) {
            r.nh_ip6 = addr_of(topo["neighbours6"][0]["ip"].get<std::string>());
            if (r.nh_ip6.size() != 16)
                die("the first of topology/neighbours6 is no IPv6 address");
        }
        // The client's addresses: the sources of the first case's first
        // frame and of the first IPv6 frame.
        {
            Bytes f = unhex(doc.at("cases").at(0).at("packets").at(0).at("in").get<std::string>());
            if (f.size() < 30)
                die("first fixture frame too short");
            std::memcpy(&r.cli_ip, f.data() + 26, 4);
            for (const auto& c : doc.at("cases")) {
                for (const auto& p : c.at("packets")) {
                    f = unhex(p.at("in").get<std::string>());
                    if (f.size() >= 54 && f[12] == 0x86 && f[13] == 0xdd && f[14] >> 4 == 6) {
                        r.cli_ip6.assign(f.begin() + 22, f.begin() + 38);
                        break;
                    }
                }
                if (!r.cli_ip6.empty())
                    break;
            }
        }
        int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        enter(lb_ns);
        Lb lb;
        NfLog log;
        r.lb = &lb;
        r.log = &log;
        enter(cli_ns);
        r.tx = packet_socket();
        r.ifindex = static_cast<int>(if_nametoindex("eth0"));
        for (const auto& ns : be_ns) {
            enter(ns);
            r.cap.push_back(packet_socket());
        }
        if (self >= 0) {
            setns(self, CLONE_NEWNET);
            close(self);
        }

        int pass = 0, fail = 0, not_nf = 0, other_kind = 0;
        for (const auto& c : doc.at("cases")) {
            std::string name = c.at("name").get<std::string>();
            if (!only.empty() && name != only)
                continue;
            if (c.contains("lbs") && std::find(c["lbs"].begin(), c["lbs"].end(), "nf") == c["lbs"].end()) {
                not_nf++;
                continue;
            }
            if (c.at("config").value("opt_kind", 42) != opt_kind) {
                other_kind++;
                continue;
            }
            auto err = r.run_case(c);
            std::printf("TEST: nf conformance: %-42s [%s]\n", name.c_str(), err.empty() ? " OK " : "FAIL");
            for (const auto& e : err)
                std::printf("#   %s\n", e.c_str());
            (err.empty() ? pass : fail)++;
        }
        std::printf("nf conformance (option kind %d): %d passed, %d failed, %d not for nf, %d for another "
                    "option kind\n",
                    opt_kind, pass, fail, not_nf, other_kind);
        if (pass + fail == 0)
            die("no case ran");
        return fail ? 1 : 0;
    } catch (const std::exception& e) {
        std::cerr << "crab-lb-nf-conformance: " << e.what() << "\n";
        return 2;
    }
}
