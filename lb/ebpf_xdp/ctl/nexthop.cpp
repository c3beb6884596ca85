// SPDX-License-Identifier: GPL-2.0-only
// Next hops resolved over rtnetlink (nexthop.hpp).
#include "nexthop.hpp"

#include <errno.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <initializer_list>

// include/net/neighbour.h: the states a neighbour may be sent to.
#define CRAB_NUD_VALID \
    (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)

namespace crab::nexthop {

using crab::Error;

namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

// The attributes of one message: type -> payload (the last one of a type).
struct Attrs {
    const uint8_t* data[64] = {};
    size_t len[64] = {};
    bool has(unsigned t) const { return t < 64 && data[t]; }
};

bool parse_attrs(const uint8_t* p, size_t len, Attrs* a)
{
    while (len >= sizeof(rtattr)) {
        rtattr ra;
        std::memcpy(&ra, p, sizeof(ra));
        if (ra.rta_len < sizeof(rtattr) || ra.rta_len > len)
            return false;
        unsigned t = ra.rta_type & NLA_TYPE_MASK;
        if (t < 64) {
            a->data[t] = p + RTA_LENGTH(0);
            a->len[t] = ra.rta_len - RTA_LENGTH(0);
        }
        size_t step = RTA_ALIGN(ra.rta_len);
        if (step >= len)
            break;
        p += step;
        len -= step;
    }
    return true;
}

// The body of a message of at least @body bytes after its header, or null.
const uint8_t* body_of(const uint8_t* msg, size_t len, size_t body, std::string* err)
{
    nlmsghdr h;
    if (len < sizeof(h)) {
        *err = "short netlink message";
        return nullptr;
    }
    std::memcpy(&h, msg, sizeof(h));
    if (h.nlmsg_len > len || h.nlmsg_len < NLMSG_LENGTH(body)) {
        *err = "truncated netlink message (type " + std::to_string(h.nlmsg_type) + ")";
        return nullptr;
    }
    return msg + NLMSG_HDRLEN;
}

uint16_t msg_type(const uint8_t* msg) { nlmsghdr h; std::memcpy(&h, msg, sizeof(h)); return h.nlmsg_type; }
uint32_t msg_len(const uint8_t* msg) { nlmsghdr h; std::memcpy(&h, msg, sizeof(h)); return h.nlmsg_len; }

bool addr_from(uint8_t family, const uint8_t* p, size_t len, IpAddr* out)
{
    if (family == AF_INET && len >= 4) {
        *out = IpAddr{};
        out->family = 4;
        std::memcpy(out->bytes.data(), p, 4);
        return true;
    }
    if (family == AF_INET6 && len >= 16) {
        *out = IpAddr{};
        out->family = 6;
        std::memcpy(out->bytes.data(), p, 16);
        return true;
    }
    return false;
}

void put_attr(std::vector<uint8_t>& m, uint16_t type, const void* data, size_t len)
{
    size_t off = NLMSG_ALIGN(m.size());
    m.resize(off + RTA_SPACE(len), 0);
    rtattr ra{};
    ra.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    ra.rta_type = type;
    std::memcpy(m.data() + off, &ra, sizeof(ra));
    std::memcpy(m.data() + off + RTA_LENGTH(0), data, len);
}

// Open an rtnetlink message of one of @types: its fixed header (a Body)
// copied to @body, its attributes parsed into @a. False with @err set
// ("@what" names the kind of message in it) when it is short, of
// another type, or its attributes are malformed.
template <typename Body>
bool open_msg(const uint8_t* msg, size_t len, std::initializer_list<uint16_t> types,
              const char* what, Body* body, Attrs* a, std::string* err)
{
    const uint8_t* b = body_of(msg, len, sizeof(Body), err);
    if (!b)
        return false;
    uint16_t t = msg_type(msg);
    if (std::find(types.begin(), types.end(), t) == types.end()) {
        *err = std::string("not a ") + what + " message (type " + std::to_string(t) + ")";
        return false;
    }
    std::memcpy(body, b, sizeof(Body));
    size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(Body));
    if (!parse_attrs(msg + off, msg_len(msg) - std::min<size_t>(off, msg_len(msg)), a)) {
        *err = std::string("malformed ") + what + " attributes";
        return false;
    }
    return true;
}

template <typename Body>
std::vector<uint8_t> new_msg(uint16_t type, uint16_t flags, const Body& body)
{
    std::vector<uint8_t> m(NLMSG_SPACE(sizeof(Body)), 0);
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    std::memcpy(m.data(), &h, sizeof(h));
    std::memcpy(m.data() + NLMSG_HDRLEN, &body, sizeof(body));
    return m;
}

}  // namespace

std::string mac_string(const Mac& m)
{
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

RouteInfo parse_route(const uint8_t* msg, size_t len)
{
    RouteInfo r;
    rtmsg rt;
    Attrs a;
    if (!open_msg(msg, len, {RTM_NEWROUTE}, "route", &rt, &a, &r.error))
        return r;
    r.type = rt.rtm_type;
    if (a.has(RTA_OIF) && a.len[RTA_OIF] >= 4)
        std::memcpy(&r.oif, a.data[RTA_OIF], 4);
    if (a.has(RTA_GATEWAY)) {
        r.has_gw = addr_from(rt.rtm_family, a.data[RTA_GATEWAY], a.len[RTA_GATEWAY], &r.gw);
        if (!r.has_gw) {
            r.error = "malformed RTA_GATEWAY";
            return r;
        }
    } else if (a.has(RTA_VIA) && a.len[RTA_VIA] >= sizeof(rtvia)) {
        // An IPv4 route through an IPv6 gateway (RFC 5549).
        uint16_t fam;
        std::memcpy(&fam, a.data[RTA_VIA], 2);
        r.has_gw = addr_from(static_cast<uint8_t>(fam), a.data[RTA_VIA] + 2, a.len[RTA_VIA] - 2, &r.gw);
        if (!r.has_gw) {
            r.error = "malformed RTA_VIA";
            return r;
        }
    }
    r.ok = true;
    return r;
}

NeighInfo parse_neigh(const uint8_t* msg, size_t len)
{
    NeighInfo n;
    ndmsg nd;
    Attrs a;
    if (!open_msg(msg, len, {RTM_NEWNEIGH, RTM_DELNEIGH}, "neighbour", &nd, &a, &n.error))
        return n;
    n.msg_type = msg_type(msg);
    n.ifindex = nd.ndm_ifindex;
    n.state = nd.ndm_state;
    n.flags = nd.ndm_flags;
    if (a.has(NDA_FLAGS_EXT) && a.len[NDA_FLAGS_EXT] >= 4) {
        uint32_t ext;
        std::memcpy(&ext, a.data[NDA_FLAGS_EXT], 4);
        n.flags |= ext << 8;
    }
    if (!a.has(NDA_DST) || !addr_from(nd.ndm_family, a.data[NDA_DST], a.len[NDA_DST], &n.dst)) {
        n.error = "neighbour message without an IPv4/IPv6 destination";
        return n;
    }
    if (a.has(NDA_LLADDR) && a.len[NDA_LLADDR] == 6) {
        n.has_lladdr = true;
        std::memcpy(n.lladdr.data(), a.data[NDA_LLADDR], 6);
    }
    n.ok = true;
    return n;
}

LinkInfo parse_link(const uint8_t* msg, size_t len)
{
    LinkInfo l;
    ifinfomsg ifi;
    Attrs a;
    if (!open_msg(msg, len, {RTM_NEWLINK}, "link", &ifi, &a, &l.error))
        return l;
    l.ifindex = ifi.ifi_index;
    l.type = ifi.ifi_type;
    if (a.has(IFLA_ADDRESS) && a.len[IFLA_ADDRESS] == 6) {
        l.has_addr = true;
        std::memcpy(l.addr.data(), a.data[IFLA_ADDRESS], 6);
    }
    if (a.has(IFLA_IFNAME))
        l.name.assign(reinterpret_cast<const char*>(a.data[IFLA_IFNAME]),
                      strnlen(reinterpret_cast<const char*>(a.data[IFLA_IFNAME]), a.len[IFLA_IFNAME]));
    l.ok = true;
    return l;
}

std::string nud_name(uint16_t s)
{
    static const std::pair<uint16_t, const char*> names[] = {
        {NUD_INCOMPLETE, "INCOMPLETE"}, {NUD_REACHABLE, "REACHABLE"}, {NUD_STALE, "STALE"},
        {NUD_DELAY, "DELAY"},           {NUD_PROBE, "PROBE"},         {NUD_FAILED, "FAILED"},
        {NUD_NOARP, "NOARP"},           {NUD_PERMANENT, "PERMANENT"}};
    std::string out;
    for (const auto& [bit, name] : names)
        if (s & bit)
            out += (out.empty() ? "" : "|") + std::string(name);
    return out.empty() ? "NONE" : out;
}

std::string why_not_usable(const NeighInfo& n)
{
    if (n.msg_type == RTM_DELNEIGH)
        return "neighbour deleted";
    if (!(n.state & CRAB_NUD_VALID))
        return "neighbour " + nud_name(n.state);
    if (!n.has_lladdr)
        return "neighbour " + nud_name(n.state) + " without a MAC address";
    const Mac& m = n.lladdr;
    if (m[0] & 1)
        return "neighbour MAC " + mac_string(m) + " is a group address";
    if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
        return "neighbour MAC is all zero";
    return {};
}

bool is_change_event(uint16_t t)
{
    switch (t) {
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
    case RTM_NEWLINK:
    case RTM_DELLINK:
    case RTM_NEWADDR:
    case RTM_DELADDR:
        return true;
    default:
        return false;
    }
}

// ---- the socket ---------------------------------------------------------------

NetlinkSocket::NetlinkSocket()
{
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd_ < 0)
        throw Error("opening an rtnetlink socket: " + errstr(errno));
    int one = 1;
    // Extended acks: the kernel's reason in its own words.
    setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa))) {
        int err = errno;
        close(fd_);
        throw Error("binding an rtnetlink socket: " + errstr(err));
    }
}

NetlinkSocket::~NetlinkSocket()
{
    if (fd_ >= 0)
        close(fd_);
}

void NetlinkSocket::subscribe()
{
    for (int g : {RTNLGRP_NEIGH, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
                  RTNLGRP_IPV6_IFADDR})
        if (setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)))
            throw Error("subscribing to rtnetlink group " + std::to_string(g) + ": " + errstr(errno));
    // Bursts (a link going down flushes its neighbours and routes) must not
    // be lost; if they are anyway (ENOBUFS), the watcher resolves everything.
    int sz = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

int NetlinkSocket::request(std::vector<uint8_t>& req, std::vector<std::vector<uint8_t>>* answers)
{
    uint32_t seq = ++seq_;
    nlmsghdr h;
    std::memcpy(&h, req.data(), sizeof(h));
    h.nlmsg_len = static_cast<uint32_t>(req.size());
    h.nlmsg_seq = seq;
    h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    std::memcpy(req.data(), &h, sizeof(h));
    sockaddr_nl kern{};
    kern.nl_family = AF_NETLINK;
    if (sendto(fd_, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kern), sizeof(kern)) < 0)
        throw Error("sending an rtnetlink request: " + errstr(errno));
    std::vector<uint8_t> buf(65536);
    for (;;) {
        pollfd pfd{fd_, POLLIN, 0};
        int pr = poll(&pfd, 1, 5000);
        if (pr == 0)
            throw Error("no answer from rtnetlink within 5 s");
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            throw Error("waiting for rtnetlink: " + errstr(errno));
        }
        ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == ENOBUFS) {
                pending_events_ = -1;  // notifications lost: resolve everything
                continue;
            }
            throw Error("reading rtnetlink: " + errstr(errno));
        }
        size_t left = static_cast<size_t>(n);
        const uint8_t* p = buf.data();
        while (left >= sizeof(nlmsghdr)) {
            nlmsghdr m;
            std::memcpy(&m, p, sizeof(m));
            if (m.nlmsg_len < sizeof(nlmsghdr) || m.nlmsg_len > left)
                break;
            if (m.nlmsg_seq != seq) {
                if (is_change_event(m.nlmsg_type) && pending_events_ >= 0)
                    pending_events_++;
            } else if (m.nlmsg_type == NLMSG_ERROR) {
                nlmsgerr e;
                std::memcpy(&e, p + NLMSG_HDRLEN, std::min<size_t>(sizeof(e), m.nlmsg_len - NLMSG_HDRLEN));
                return e.error;  // 0: the ack
            } else if (m.nlmsg_type != NLMSG_DONE && answers) {
                answers->emplace_back(p, p + m.nlmsg_len);
            }
            size_t step = NLMSG_ALIGN(m.nlmsg_len);
            if (step >= left)
                break;
            p += step;
            left -= step;
        }
    }
}

bool NetlinkSocket::get_neigh(const IpAddr& addr, uint32_t ifindex, NeighInfo* out, int* err)
{
    ndmsg nd{};
    nd.ndm_family = addr.is_v6() ? AF_INET6 : AF_INET;
    nd.ndm_ifindex = static_cast<int>(ifindex);
    auto req = new_msg(RTM_GETNEIGH, 0, nd);
    put_attr(req, NDA_DST, addr.bytes.data(), addr.is_v6() ? 16 : 4);
    std::vector<std::vector<uint8_t>> ans;
    *err = request(req, &ans);
    for (const auto& a : ans) {
        auto n = parse_neigh(a.data(), a.size());
        if (n.ok) {
            *out = n;
            return true;
        }
    }
    return false;
}

bool NetlinkSocket::get_link(uint32_t ifindex, LinkInfo* out, int* err)
{
    ifinfomsg ifi{};
    ifi.ifi_index = static_cast<int>(ifindex);
    auto req = new_msg(RTM_GETLINK, 0, ifi);
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;
    put_attr(req, IFLA_EXT_MASK, &mask, sizeof(mask));
    std::vector<std::vector<uint8_t>> ans;
    *err = request(req, &ans);
    for (const auto& a : ans) {
        auto l = parse_link(a.data(), a.size());
        if (l.ok && static_cast<uint32_t>(l.ifindex) == ifindex) {
            *out = l;
            return true;
        }
    }
    return false;
}

NextHop NetlinkSocket::resolve(const IpAddr& dip)
{
    NextHop nh;
    rtmsg rt{};
    rt.rtm_family = dip.is_v6() ? AF_INET6 : AF_INET;
    rt.rtm_dst_len = dip.is_v6() ? 128 : 32;
    auto req = new_msg(RTM_GETROUTE, 0, rt);
    put_attr(req, RTA_DST, dip.bytes.data(), dip.is_v6() ? 16 : 4);
    std::vector<std::vector<uint8_t>> ans;
    int err = request(req, &ans);
    if (err) {
        nh.reason = "no route (" + errstr(err) + ")";
        return nh;
    }
    RouteInfo r;
    for (const auto& a : ans)
        if ((r = parse_route(a.data(), a.size())).ok)
            break;
    if (!r.ok) {
        nh.reason = "unreadable route answer" + (r.error.empty() ? std::string() : ": " + r.error);
        return nh;
    }
    if (r.type != RTN_UNICAST) {
        static const char* types[] = {"unspec", "unicast", "local", "broadcast", "anycast", "multicast",
                                      "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"};
        nh.reason = std::string("route is ") + (r.type < 12 ? types[r.type] : "not unicast");
        return nh;
    }
    if (!r.oif) {
        nh.reason = "route without an egress device";
        return nh;
    }
    nh.ifindex = r.oif;
    nh.gateway = r.has_gw;
    nh.via = r.has_gw ? r.gw : dip;
    LinkInfo l;
    if (!get_link(r.oif, &l, &err)) {
        nh.reason = "egress device " + std::to_string(r.oif) + " unreadable (" + errstr(err) + ")";
        return nh;
    }
    nh.dev = l.name;
    if (l.type != ARPHRD_ETHER || !l.has_addr) {
        nh.reason = "egress device " + l.name + " is not an Ethernet device";
        return nh;
    }
    nh.smac = l.addr;
    nh.ether = true;
    NeighInfo n;
    if (!get_neigh(nh.via, r.oif, &n, &err)) {
        nh.reason = "no neighbour entry for " + to_string(nh.via) + " on " + l.name +
                    (err && err != -ENOENT ? " (" + errstr(err) + ")" : "");
        return nh;
    }
    nh.nud = n.state;
    if (auto why = why_not_usable(n); !why.empty()) {
        nh.reason = why;
        return nh;
    }
    nh.dmac = n.lladdr;
    nh.valid = true;
    return nh;
}

std::string NetlinkSocket::keep_resolved(const IpAddr& via, uint32_t ifindex, std::string* how)
{
    how->clear();
    NeighInfo cur;
    int err = 0;
    bool exists = get_neigh(via, ifindex, &cur, &err);
    if (exists && (cur.state & (NUD_PERMANENT | NUD_NOARP)))
        return {};  // static: nothing to keep
    if (exists && (cur.flags & NTF_EXT_LEARNED))
        return {};  // someone else's (a controller's) entry
    if (exists && (cur.flags & (NTF_EXT_MANAGED << 8)))
        return {};  // managed already: the kernel re-probes it, FAILED included
    ndmsg nd{};
    nd.ndm_family = via.is_v6() ? AF_INET6 : AF_INET;
    nd.ndm_ifindex = static_cast<int>(ifindex);
    nd.ndm_state = NUD_NONE;
    if (!managed_refused_) {
        auto req = new_msg(RTM_NEWNEIGH, NLM_F_CREATE, nd);
        put_attr(req, NDA_DST, via.bytes.data(), via.is_v6() ? 16 : 4);
        uint32_t ext = NTF_EXT_MANAGED;
        put_attr(req, NDA_FLAGS_EXT, &ext, sizeof(ext));
        err = request(req, nullptr);
        if (!err) {
            *how = "managed";
            return {};
        }
        if (err != -EINVAL && err != -EOPNOTSUPP)
            return "marking neighbour " + to_string(via) + " managed: " + errstr(err);
        managed_refused_ = true;  // before Linux 5.16: NTF_USE from now on
    }
    nd.ndm_flags = NTF_USE;
    auto req = new_msg(RTM_NEWNEIGH, NLM_F_CREATE, nd);
    put_attr(req, NDA_DST, via.bytes.data(), via.is_v6() ? 16 : 4);
    err = request(req, nullptr);
    if (err)
        return "refreshing neighbour " + to_string(via) + " (NTF_USE): " + errstr(err);
    *how = "use";
    return {};
}

int NetlinkSocket::drain_events(bool* overrun)
{
    *overrun = pending_events_ < 0;
    int events = pending_events_ < 0 ? 0 : pending_events_;
    pending_events_ = 0;
    std::vector<uint8_t> buf(65536);
    for (;;) {
        ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                *overrun = true;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return events;
            throw Error("reading rtnetlink notifications: " + errstr(errno));
        }
        size_t left = static_cast<size_t>(n);
        const uint8_t* p = buf.data();
        while (left >= sizeof(nlmsghdr)) {
            nlmsghdr m;
            std::memcpy(&m, p, sizeof(m));
            if (m.nlmsg_len < sizeof(nlmsghdr) || m.nlmsg_len > left)
                break;
            if (is_change_event(m.nlmsg_type))
                events++;
            size_t step = NLMSG_ALIGN(m.nlmsg_len);
            if (step >= left)
                break;
            p += step;
            left -= step;
        }
    }
}

}  // namespace crab::nexthop
