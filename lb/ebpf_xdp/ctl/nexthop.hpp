// SPDX-License-Identifier: GPL-2.0-only
// Next hops for the XDP LB resolved by the control plane (rtnetlink), so
// that a SYN needs no bpf_fib_lookup() (include/crab/crab_xdp.h,
// CRAB_XDP_BE_NH).
//
// resolve(): RTM_GETROUTE for the DIP (the kernel's own route lookup, as
// `ip route get DIP` does: unicast route, egress device, gateway), then
// RTM_GETNEIGH for the gateway (or the DIP when on link) on that device,
// and RTM_GETLINK for the device's MAC. A next hop is usable only when the
// route is unicast through an Ethernet device and the neighbour is in a
// valid state (REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP) with a
// unicast MAC; anything else is a reason, and the data path takes the FIB
// lookup for that backend.
//
// Keeping neighbours resolved: XDP_TX/redirect bypass the neighbour state
// machine, so nothing confirms or refreshes the entries the LB sends to.
// keep_resolved() marks the LB's neighbours "managed" (NTF_EXT_MANAGED,
// Linux 5.16+: the kernel re-probes them periodically and resolves a
// missing one at once), or, where the kernel refuses that flag, sends
// NTF_USE (what a transmitted packet does: the entry is resolved or
// refreshed). Static entries (PERMANENT, NOARP) and entries learnt by
// someone else (NTF_EXT_LEARNED) are left alone.
//
// The message parsing is pure (unit tested, userspace/crabctl/
// test_nexthop.cpp); the socket I/O is NetlinkSocket.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "crab/common.hpp"

namespace crab::nexthop {

using Mac = std::array<uint8_t, 6>;

// What RTM_GETROUTE answered for a destination.
struct RouteInfo {
    bool ok = false;       // a parsable RTM_NEWROUTE
    uint8_t type = 0;      // RTN_*
    uint32_t oif = 0;      // RTA_OIF
    bool has_gw = false;   // RTA_GATEWAY or RTA_VIA
    IpAddr gw;             // the gateway (either family: RTA_VIA may differ)
    std::string error;     // !ok: why
};

// One neighbour message (RTM_NEWNEIGH / RTM_DELNEIGH).
struct NeighInfo {
    bool ok = false;
    uint16_t msg_type = 0;  // RTM_NEWNEIGH or RTM_DELNEIGH
    int ifindex = 0;
    IpAddr dst;
    bool has_lladdr = false;
    Mac lladdr{};
    uint16_t state = 0;     // NUD_*
    uint32_t flags = 0;     // NTF_* (ndm_flags) | NDA_FLAGS_EXT << 8
    std::string error;
};

// One link message: index, type and MAC.
struct LinkInfo {
    bool ok = false;
    int ifindex = 0;
    uint16_t type = 0;  // ARPHRD_*
    bool has_addr = false;
    Mac addr{};
    std::string name;
    std::string error;
};

// Parsers over one netlink message (header included), @len bytes.
RouteInfo parse_route(const uint8_t* msg, size_t len);
NeighInfo parse_neigh(const uint8_t* msg, size_t len);
LinkInfo parse_link(const uint8_t* msg, size_t len);

// Whether a neighbour in @state with @lladdr may be sent to ("" = yes), else
// why not ("neighbour FAILED", ...).
std::string why_not_usable(const NeighInfo& n);
// NUD_* as `ip neigh` names it.
std::string nud_name(uint16_t state);
// Whether a multicast-group netlink message type should make a watcher
// resolve its next hops again (neighbour, route, link and address changes).
bool is_change_event(uint16_t nlmsg_type);

// A control-plane-resolved next hop (valid) or why there is none.
struct NextHop {
    bool valid = false;
    uint32_t ifindex = 0;
    std::string dev;
    Mac smac{}, dmac{};
    IpAddr via;           // the neighbour: gateway or the DIP itself
    bool gateway = false;
    bool ether = false;   // the egress device is Ethernet: its neighbours may be kept
    uint16_t nud = 0;     // the neighbour's state (when one exists)
    std::string reason;   // !valid: why ("no route", "neighbour FAILED", ...)
};

std::string mac_string(const Mac& m);

// A NETLINK_ROUTE socket for requests (each answered and acknowledged) and,
// with subscribe(), for the change notifications of the groups.
class NetlinkSocket {
public:
    NetlinkSocket();
    ~NetlinkSocket();
    NetlinkSocket(const NetlinkSocket&) = delete;
    NetlinkSocket& operator=(const NetlinkSocket&) = delete;

    int fd() const { return fd_; }
    // Join RTNLGRP_NEIGH, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK
    // (and the address groups: an address change changes routes).
    void subscribe();

    // Resolve @dip (see above). Never throws for a missing route or
    // neighbour (NextHop::reason); throws crab::Error on socket failures.
    NextHop resolve(const IpAddr& dip);

    // See "Keeping neighbours resolved" above. Returns "" or why it failed;
    // *@how := "managed" or "use" (what was sent), "" when nothing was.
    std::string keep_resolved(const IpAddr& via, uint32_t ifindex, std::string* how);

    // Read what the groups sent, without blocking: the number of change
    // events (is_change_event()); *@overrun := the socket lost messages
    // (ENOBUFS: everything must be resolved again).
    int drain_events(bool* overrun);
    // Notifications (or a loss of them) that arrived while a request
    // waited for its answer: already read from the socket, so poll() will
    // not report them; drain_events() returns them.
    bool pending() const { return pending_events_ != 0; }

private:
    // Send @req and collect the answer messages until the ack (or error,
    // returned as -errno); answers of other sequence numbers (notifications)
    // are counted in pending_events_.
    int request(std::vector<uint8_t>& req, std::vector<std::vector<uint8_t>>* answers);
    bool get_neigh(const IpAddr& addr, uint32_t ifindex, NeighInfo* out, int* err);
    bool get_link(uint32_t ifindex, LinkInfo* out, int* err);

    int fd_ = -1;
    uint32_t seq_ = 1;
    int pending_events_ = 0;
    bool managed_refused_ = false;  // the kernel refused NTF_EXT_MANAGED
};

}  // namespace crab::nexthop
