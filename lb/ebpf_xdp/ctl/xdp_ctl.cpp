// SPDX-License-Identifier: GPL-2.0-only
// The XDP LB's control library (xdp_ctl.hpp): its pinned maps, services and
// backends published as generations after a grace period, attach/detach
// through libxdp, show/stats, and the conformance runner. crabctl's `lb xdp`
// commands and its crab::LbDriver "xdp" are a command line over it; the
// conformance runner is also the binary crab-lb-xdp-conformance.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" {
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <crab/crab_lb.h>
#include <crab/crab_xdp.h>
#include <xdp/libxdp.h>
}

#include "crab_lb.skel.h"

#include "crab/config.hpp"
#include "crab/lb_tables.hpp"
#include "xdp_ctl.hpp"

namespace crab::xdp_ctl {

using crab::Error;
using nlohmann::json;

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char* const kMapNames[] = {CRAB_XDP_MAP_SERVICES,  CRAB_XDP_MAP_VIPS,   CRAB_XDP_MAP_GENS,
                                 CRAB_XDP_MAP_SVC_PCPU, CRAB_XDP_MAP_BE_CNT, CRAB_XDP_MAP_GLOB_CNT};
// Maps an earlier version of the program pinned (the round-robin position
// and the service counters, now both in crab_svc_pcpu): detach removes
// them too, so that a device attached before an upgrade leaves no pin.
const char* const kOldMapNames[] = {"crab_rr", "crab_svc_cnt"};

#define XDP_G_NAME(e, n, h) n,
extern const char* const kGlobalNames[CRAB_XDP_G_MAX] = {CRAB_XDP_GLOBAL_COUNTERS(XDP_G_NAME)};
#undef XDP_G_NAME

std::string pin_dir(const std::string& dev)
{
    return std::string(CRAB_XDP_PIN_ROOT) + "/" + dev;
}

std::string errstr(int err)
{
    return std::strerror(err < 0 ? -err : err);
}

// ---- map access ------------------------------------------------------------

std::unique_ptr<Maps> Maps::open_pinned(const std::string& dev)
{
    auto m = std::make_unique<Maps>();
    m->owned = true;
    int* fds[] = {&m->services, &m->vips, &m->gens, &m->svc_pcpu, &m->be_cnt, &m->glob_cnt};
    static_assert(sizeof(fds) / sizeof(fds[0]) == sizeof(kMapNames) / sizeof(kMapNames[0]));
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        std::string path = pin_dir(dev) + "/" + kMapNames[i];
        *fds[i] = bpf_obj_get(path.c_str());
        if (*fds[i] < 0)
            throw Error("device '" + dev + "': no XDP LB maps at " + path + " (" + errstr(errno) +
                            "); run 'crabctl lb xdp attach " + dev + "' first",
                        crab::kExitNotFound);
    }
    return m;
}

std::unique_ptr<Maps> Maps::from_skel(crab_lb_bpf* s)
{
    auto m = std::make_unique<Maps>();
    m->services = bpf_map__fd(s->maps.crab_services);
    m->vips = bpf_map__fd(s->maps.crab_vips);
    m->gens = bpf_map__fd(s->maps.crab_gens);
    m->svc_pcpu = bpf_map__fd(s->maps.crab_svc_pcpu);
    m->be_cnt = bpf_map__fd(s->maps.crab_be_cnt);
    m->glob_cnt = bpf_map__fd(s->maps.crab_glob_cnt);
    return m;
}

Maps::~Maps()
{
    if (!owned)
        return;
    for (int fd : {services, vips, gens, svc_pcpu, be_cnt, glob_cnt})
        if (fd >= 0)
            close(fd);
}

void map_update(int fd, const void* key, const void* val, uint64_t flags, const char* what)
{
    if (bpf_map_update_elem(fd, key, val, flags))
        throw Error(std::string("updating ") + what + ": " + errstr(errno));
}

// Wait for an RCU grace period: when this returns, every run of the XDP
// program (one RCU read-side critical section each) that started before
// the call has finished. Called before every write that could touch what
// such a run may still hold: a generation about to be rewritten, an element
// of crab_services or crab_vips the hash map may hand back out (the
// publication model in include/crab/crab_xdp.h says why that suffices).
// The wait is the kernel's own: a successful update of a
// BPF_MAP_TYPE_ARRAY_OF_MAPS element returns from bpf() only after
// synchronize_rcu() (kernel/bpf/syscall.c maybe_wait_bpf_programs()). The
// map-in-map pair is private to this process and used for nothing else.
void wait_for_readers()
{
    static int outer = -1, inner = -1;
    if (outer < 0) {
        if (inner < 0)
            inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "crab_gp_inner", 4, 4, 1, nullptr);
        if (inner < 0)
            throw Error("creating the map that waits for the data path's readers: " + errstr(errno));
        LIBBPF_OPTS(bpf_map_create_opts, o, .inner_map_fd = static_cast<__u32>(inner));
        outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "crab_gp", 4, 4, 1, &o);
        if (outer < 0)
            throw Error("creating the map that waits for the data path's readers: " + errstr(errno));
    }
    uint32_t key = 0, val = static_cast<uint32_t>(inner);
    if (bpf_map_update_elem(outer, &key, &val, BPF_ANY))
        throw Error("waiting for the data path's readers (grace period): " + errstr(errno));
}

int ncpus()
{
    static int n = libbpf_num_possible_cpus();
    if (n <= 0)
        throw Error("cannot count possible CPUs");
    return n;
}

uint64_t percpu_sum(int fd, uint32_t key)
{
    std::vector<uint64_t> v(ncpus());
    if (bpf_map_lookup_elem(fd, &key, v.data()))
        return 0;
    uint64_t s = 0;
    for (auto x : v)
        s += x;
    return s;
}

void percpu_zero(int fd, uint32_t key)
{
    std::vector<uint64_t> v(ncpus(), 0);
    map_update(fd, &key, v.data(), BPF_ANY, "per-CPU counter");
}

std::array<uint64_t, CRAB_LB_CNT_MAX> svc_counters(const Maps& m, uint32_t id)
{
    std::vector<crab_xdp_svc_pcpu> v(ncpus());
    if (bpf_map_lookup_elem(m.svc_pcpu, &id, v.data()))
        throw Error("reading the per-CPU state of service id " + std::to_string(id) + " (" CRAB_XDP_MAP_SVC_PCPU
                    "): " + errstr(errno));
    std::array<uint64_t, CRAB_LB_CNT_MAX> sum{};
    for (const auto& c : v)
        for (uint32_t i = 0; i < CRAB_LB_CNT_MAX; i++)
            sum[i] += c.cnt[i];
    return sum;
}

// @a as the maps hold an address: 16 bytes, IPv4 in the first word.
void put_addr(__be32 out[4], const crab::IpAddr& a)
{
    std::memset(out, 0, 16);
    std::memcpy(out, a.bytes.data(), a.is_v6() ? 16 : 4);
}

crab::IpAddr get_addr(const __be32 in[4], bool v6)
{
    crab::IpAddr a;
    a.family = v6 ? 6 : 4;
    std::memcpy(a.bytes.data(), in, v6 ? 16 : 4);
    return a;
}

crab_xdp_svc_key svc_key(const crab::IpEndpoint& ep)
{
    crab_xdp_svc_key k{};
    put_addr(k.vip, ep.ip);
    k.family = ep.ip.is_v6() ? CRAB_XDP_AF_INET6 : CRAB_XDP_AF_INET;
    k.port = htons(ep.port);
    return k;
}

crab_xdp_vip_key vip_key(const crab::IpAddr& a)
{
    crab_xdp_vip_key k{};
    put_addr(k.vip, a);
    k.family = a.is_v6() ? CRAB_XDP_AF_INET6 : CRAB_XDP_AF_INET;
    return k;
}

crab::IpAddr backend_addr(const crab_xdp_backend& b)
{
    return get_addr(b.dip, b.flags & CRAB_XDP_BE_IPV6);
}

std::vector<Service> list_services(const Maps& m)
{
    std::vector<Service> out;
    crab_xdp_svc_key k{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(m.services, prev, &next) == 0) {
        crab_xdp_svc v{};
        if (bpf_map_lookup_elem(m.services, &next, &v) == 0)
            out.push_back({{get_addr(next.vip, next.family == CRAB_XDP_AF_INET6), ntohs(next.port)}, v});
        k = next;
        prev = &k;
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.ep < b.ep; });
    return out;
}

std::optional<crab_xdp_svc> find_service(const Maps& m, const crab::IpEndpoint& ep)
{
    auto k = svc_key(ep);
    crab_xdp_svc v{};
    if (bpf_map_lookup_elem(m.services, &k, &v))
        return std::nullopt;
    return v;
}

crab_xdp_svc need_service(const Maps& m, const crab::IpEndpoint& ep)
{
    auto s = find_service(m, ep);
    if (!s)
        throw Error("service " + crab::to_string(ep) + " does not exist", crab::kExitNotFound);
    return *s;
}

std::unique_ptr<crab_xdp_gen> read_gen(const Maps& m, uint32_t id, uint32_t gen)
{
    auto g = std::make_unique<crab_xdp_gen>();
    uint32_t key = id * CRAB_XDP_GENS + (gen & 1);
    if (bpf_map_lookup_elem(m.gens, &key, g.get()))
        throw Error("reading backend generation of service " + std::to_string(id) + ": " + errstr(errno));
    return g;
}

// Rebuild the derived tables of @g from its backend slots (the shared
// model, crab/lb_tables.hpp).
void rebuild_tables(crab_xdp_gen& g)
{
    try {
        crab::xdp::build_gen_tables(g);
    } catch (const std::invalid_argument& e) {
        throw Error(e.what());
    }
}

// Write @g into the inactive generation of @ep's service, then flip. The
// inactive generation was active until the last flip, and a packet that
// looked the service up before that flip may still be reading it: wait for
// those packets first (and for any holder of the service element the flip
// replaces, see wait_for_readers()).
void publish(const Maps& m, const crab::IpEndpoint& ep, crab_xdp_svc svc, crab_xdp_gen& g)
{
    rebuild_tables(g);
    wait_for_readers();
    uint32_t next = (svc.gen & 1) ^ 1;
    uint32_t key = svc.id * CRAB_XDP_GENS + next;
    map_update(m.gens, &key, &g, BPF_ANY, "backend generation");
    svc.gen = static_cast<uint8_t>(next);
    auto k = svc_key(ep);
    map_update(m.services, &k, &svc, BPF_EXIST, "service");
}

void service_add(const Maps& m, const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg)
{
    if (find_service(m, ep))
        throw Error("service " + crab::to_string(ep) + " already exists", crab::kExitUsage);
    auto all = list_services(m);
    std::vector<bool> used(CRAB_MAX_SERVICES, false);
    for (const auto& s : all)
        if (s.svc.id < CRAB_MAX_SERVICES)
            used[s.svc.id] = true;
    uint32_t id = 0;
    while (id < CRAB_MAX_SERVICES && used[id])
        id++;
    if (id == CRAB_MAX_SERVICES)
        throw Error("no room for service " + crab::to_string(ep) + ": limit is " +
                    std::to_string(CRAB_MAX_SERVICES));
    // The id may be one a deleted service used, still read by packets that
    // found that service before its deletion.
    wait_for_readers();
    // Fresh state for the id: empty generations, zero counters.
    auto g = std::make_unique<crab_xdp_gen>();
    std::memset(g.get(), 0, sizeof(*g));
    rebuild_tables(*g);
    for (uint32_t gen = 0; gen < CRAB_XDP_GENS; gen++) {
        uint32_t key = id * CRAB_XDP_GENS + gen;
        map_update(m.gens, &key, g.get(), BPF_ANY, "backend generation");
    }
    // Cursor at position 0, counters zero, on every CPU.
    std::vector<crab_xdp_svc_pcpu> pcpu(ncpus());
    std::memset(pcpu.data(), 0, pcpu.size() * sizeof(pcpu[0]));
    map_update(m.svc_pcpu, &id, pcpu.data(), BPF_ANY, "per-CPU service state");
    for (uint32_t s = 0; s < CRAB_MAX_BACKENDS; s++)
        percpu_zero(m.be_cnt, id * CRAB_MAX_BACKENDS + s);

    crab_xdp_svc v{};
    v.id = id;
    v.policy = static_cast<uint8_t>(pol);
    v.legacy = static_cast<uint8_t>(leg);
    v.gen = 0;
    auto k = svc_key(ep);
    map_update(m.services, &k, &v, BPF_NOEXIST, "service");

    auto vip = vip_key(ep.ip);
    crab_xdp_vip vv{};
    if (bpf_map_lookup_elem(m.vips, &vip, &vv) == 0) {
        vv.nsvc++;
    } else {
        vv.nsvc = 1;
        vv.svc_id = id;
    }
    if (bpf_map_update_elem(m.vips, &vip, &vv, BPF_ANY)) {
        int err = errno;
        bpf_map_delete_elem(m.services, &k);  // never half-applied
        throw Error("updating VIP table: " + errstr(err));
    }
}

void service_del(const Maps& m, const crab::IpEndpoint& ep)
{
    auto svc = need_service(m, ep);
    auto k = svc_key(ep);
    wait_for_readers();
    if (bpf_map_delete_elem(m.services, &k))
        throw Error("deleting service " + crab::to_string(ep) + ": " + errstr(errno));
    auto vip = vip_key(ep.ip);
    crab_xdp_vip vv{};
    if (bpf_map_lookup_elem(m.vips, &vip, &vv) == 0) {
        if (vv.nsvc <= 1) {
            bpf_map_delete_elem(m.vips, &vip);
        } else {
            vv.nsvc--;
            if (vv.svc_id == svc.id)
                for (const auto& s : list_services(m))
                    if (s.ep.ip == ep.ip)
                        vv.svc_id = s.svc.id;
            map_update(m.vips, &vip, &vv, BPF_ANY, "VIP table");
        }
    }
}

int find_backend(const crab_xdp_gen& g, const crab::IpAddr& dip)
{
    for (int s = 0; s < CRAB_MAX_BACKENDS; s++)
        if ((g.be[s].flags & CRAB_XDP_BE_VALID) && backend_addr(g.be[s]) == dip)
            return s;
    return -1;
}

std::string mac_str(const uint8_t* m)
{
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

// A static next-hop MAC must be one host's (crab::config::why_not_host_mac(),
// the rule of apply and of the verbs): frames are sent to it, and the data
// path drops (nh_mac_bad) what it would send to a group or to nobody.
void check_next_hop_mac(const std::array<uint8_t, 6>& m)
{
    if (auto why = crab::config::why_not_host_mac(m); !why.empty())
        throw Error("next-hop MAC " + mac_str(m.data()) + " is not a next-hop MAC: " + why, crab::kExitUsage);
}

std::array<uint8_t, 6> parse_mac_value(const std::string& s)
{
    std::array<uint8_t, 6> mac{};
    unsigned int b[6];
    char extra;
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra) != 6)
        throw Error("invalid MAC address '" + s + "' (expected aa:bb:cc:dd:ee:ff)", crab::kExitUsage);
    for (int i = 0; i < 6; i++) {
        if (b[i] > 0xff)
            throw Error("invalid MAC address '" + s + "'", crab::kExitUsage);
        mac[i] = static_cast<uint8_t>(b[i]);
    }
    return mac;
}

// A backend's static next-hop MAC ("" = none): syntax and unicast.
std::optional<std::array<uint8_t, 6>> parse_mac(const std::string& s)
{
    if (s.empty())
        return std::nullopt;
    auto mac = parse_mac_value(s);
    check_next_hop_mac(mac);
    return mac;
}

// ---- control-plane next hops --------------------------------------------------

// Set (@nh valid) or clear the resolved next hop of slot @b.
void set_nexthop(crab_xdp_backend& b, const nexthop::NextHop* nh)
{
    b.flags &= static_cast<uint8_t>(~CRAB_XDP_BE_NH);
    b.nh_ifindex = 0;
    std::memset(b.nh_smac, 0, sizeof(b.nh_smac));
    std::memset(b.nh_dmac, 0, sizeof(b.nh_dmac));
    if (!nh || !nh->valid)
        return;
    b.flags |= CRAB_XDP_BE_NH;
    b.nh_ifindex = nh->ifindex;
    std::memcpy(b.nh_smac, nh->smac.data(), 6);
    std::memcpy(b.nh_dmac, nh->dmac.data(), 6);
}

bool same_nexthop(const crab_xdp_backend& a, const crab_xdp_backend& b)
{
    bool va = a.flags & CRAB_XDP_BE_NH, vb = b.flags & CRAB_XDP_BE_NH;
    if (va != vb)
        return false;
    return !va || (a.nh_ifindex == b.nh_ifindex && !std::memcmp(a.nh_smac, b.nh_smac, 6) &&
                   !std::memcmp(a.nh_dmac, b.nh_dmac, 6));
}

// Resolve slot @b's next hop through @nl (no static MAC) and keep its
// neighbour resolved.
NhNote resolve_slot(nexthop::NetlinkSocket& nl, crab_xdp_backend& b, const crab::IpAddr& dip)
{
    NhNote note;
    if (b.flags & CRAB_XDP_BE_HAS_MAC) {
        set_nexthop(b, nullptr);
        return note;
    }
    note.tried = true;
    auto nh = nl.resolve(dip);
    set_nexthop(b, &nh);
    note.resolved = nh.valid;
    note.reason = nh.reason;
    if (nh.ether) {
        std::string how;
        note.keep_error = nl.keep_resolved(nh.via, nh.ifindex, &how);
    }
    return note;
}

void backend_add(const Maps& m, const crab::IpEndpoint& ep, const crab::IpAddr& dip, uint32_t weight,
                 const std::optional<std::array<uint8_t, 6>>& mac, bool drain, nexthop::NetlinkSocket* nl,
                 NhNote* note)
{
    if (mac)
        check_next_hop_mac(*mac);
    if (auto why = crab::config::why_not_backend_of(ep, dip); !why.empty())
        throw Error(why, crab::kExitUsage);
    auto svc = need_service(m, ep);
    auto g = read_gen(m, svc.id, svc.gen);
    if (find_backend(*g, dip) >= 0)
        throw Error("backend " + crab::to_string(dip) + " already in service " + crab::to_string(ep),
                    crab::kExitUsage);
    int slot = -1;
    for (int s = 0; s < CRAB_MAX_BACKENDS && slot < 0; s++)
        if (!(g->be[s].flags & CRAB_XDP_BE_VALID))
            slot = s;
    if (slot < 0)
        throw Error("service " + crab::to_string(ep) + " is full (" + std::to_string(CRAB_MAX_BACKENDS) +
                    " backends)");
    crab_xdp_backend& b = g->be[slot];
    std::memset(&b, 0, sizeof(b));
    put_addr(b.dip, dip);
    b.flags = CRAB_XDP_BE_VALID | (dip.is_v6() ? CRAB_XDP_BE_IPV6 : 0);
    b.state = drain ? CRAB_BACKEND_DRAINING : CRAB_BACKEND_ACTIVE;
    b.weight = static_cast<uint8_t>(weight);
    if (mac) {
        std::memcpy(b.mac, mac->data(), 6);
        b.flags |= CRAB_XDP_BE_HAS_MAC;
    }
    if (nl) {
        auto n = resolve_slot(*nl, b, dip);
        if (note)
            *note = n;
    }
    percpu_zero(m.be_cnt, svc.id * CRAB_MAX_BACKENDS + slot);
    publish(m, ep, svc, *g);
}

// Slot of backend @dip in generation @g of service @ep; kExitNotFound if absent.
int need_backend(const crab_xdp_gen& g, const crab::IpEndpoint& ep, const crab::IpAddr& dip)
{
    int slot = find_backend(g, dip);
    if (slot < 0)
        throw Error("backend " + crab::to_string(dip) + " is not in service " + crab::to_string(ep),
                    crab::kExitNotFound);
    return slot;
}

void backend_change(const Maps& m, const crab::IpEndpoint& ep, const crab::IpAddr& dip, bool remove)
{
    auto svc = need_service(m, ep);
    auto g = read_gen(m, svc.id, svc.gen);
    int slot = need_backend(*g, ep, dip);
    if (remove)
        std::memset(&g->be[slot], 0, sizeof(g->be[slot]));
    else
        g->be[slot].state = CRAB_BACKEND_DRAINING;
    publish(m, ep, svc, *g);
}

// Policy and legacy mode of an existing service: one in-place update of its
// entry (same id and generation), atomic for the data path.
void service_set(const Maps& m, const crab::IpEndpoint& ep, crab_policy pol, crab_legacy_mode leg)
{
    auto svc = need_service(m, ep);
    svc.policy = static_cast<uint8_t>(pol);
    svc.legacy = static_cast<uint8_t>(leg);
    auto k = svc_key(ep);
    wait_for_readers();
    map_update(m.services, &k, &svc, BPF_EXIST, "service");
}

// Weight, state and next-hop MAC of an existing backend, published as a new
// generation.
void backend_set(const Maps& m, const crab::IpEndpoint& ep, const crab::IpAddr& dip, uint32_t weight, bool drain,
                 const std::optional<std::array<uint8_t, 6>>& mac, nexthop::NetlinkSocket* nl, NhNote* note)
{
    if (weight < 1 || weight > CRAB_WEIGHT_MAX)
        throw Error("invalid weight " + std::to_string(weight) + ": expected 1.." + std::to_string(CRAB_WEIGHT_MAX),
                    crab::kExitUsage);
    if (mac)
        check_next_hop_mac(*mac);
    auto svc = need_service(m, ep);
    auto g = read_gen(m, svc.id, svc.gen);
    int slot = need_backend(*g, ep, dip);
    auto& b = g->be[slot];
    b.weight = static_cast<uint8_t>(weight);
    b.state = drain ? CRAB_BACKEND_DRAINING : CRAB_BACKEND_ACTIVE;
    b.flags &= static_cast<uint8_t>(~CRAB_XDP_BE_HAS_MAC);
    std::memset(b.mac, 0, sizeof(b.mac));
    if (mac) {
        std::memcpy(b.mac, mac->data(), 6);
        b.flags |= CRAB_XDP_BE_HAS_MAC;
        set_nexthop(b, nullptr);  // the static MAC wins: nothing resolved to keep
    }
    if (nl) {
        auto n = resolve_slot(*nl, b, dip);
        if (note)
            *note = n;
    }
    publish(m, ep, svc, *g);
}

json nexthops_pass(const Maps& m, nexthop::NetlinkSocket* nl, bool keep, bool clear, NhPassCounters* total)
{
    NhPassCounters c;
    json list = json::array();
    // One resolution per DIP and pass (a backend of several services).
    std::map<crab::IpAddr, nexthop::NextHop> cache;
    std::map<std::pair<crab::IpAddr, uint32_t>, std::string> kept;  // neighbour -> error
    for (const auto& s : list_services(m)) {
        auto g = read_gen(m, s.svc.id, s.svc.gen);
        bool dirty = false;
        for (uint32_t slot = 0; slot < CRAB_MAX_BACKENDS; slot++) {
            auto& b = g->be[slot];
            if (!(b.flags & CRAB_XDP_BE_VALID))
                continue;
            c.backends++;
            auto dip = backend_addr(b);
            json j = {{"service", crab::to_string(s.ep)}, {"dip", crab::to_string(dip)}};
            crab_xdp_backend before = b;
            if (b.flags & CRAB_XDP_BE_HAS_MAC) {
                c.static_mac++;
                set_nexthop(b, nullptr);
                j["path"] = "static";
                j["dmac"] = mac_str(b.mac);
            } else if (clear || !nl) {
                set_nexthop(b, nullptr);
                c.unresolved++;
                j["path"] = "fib";
                j["reason"] = "cleared";
            } else {
                auto it = cache.find(dip);
                if (it == cache.end())
                    it = cache.emplace(dip, nl->resolve(dip)).first;
                const auto& nh = it->second;
                set_nexthop(b, &nh);
                if (nh.valid) {
                    c.resolved++;
                    j["path"] = "resolved";
                    j["dmac"] = nexthop::mac_string(nh.dmac);
                    j["smac"] = nexthop::mac_string(nh.smac);
                } else {
                    c.unresolved++;
                    j["path"] = "fib";
                    j["reason"] = nh.reason;
                }
                if (nh.ifindex) {
                    j["dev"] = nh.dev;
                    j["ifindex"] = nh.ifindex;
                    j["via"] = crab::to_string(nh.via);
                    j["gateway"] = nh.gateway;
                    if (nh.nud)
                        j["neighbour"] = nexthop::nud_name(nh.nud);
                }
                if (keep && nh.ether) {
                    auto key = std::make_pair(nh.via, nh.ifindex);
                    auto kt = kept.find(key);
                    if (kt == kept.end()) {
                        std::string how;
                        auto err = nl->keep_resolved(nh.via, nh.ifindex, &how);
                        kt = kept.emplace(key, err).first;
                        if (!err.empty())
                            c.keep_errors++;
                        else if (how == "managed")
                            c.keep_managed++;
                        else if (how == "use")
                            c.keep_use++;
                    }
                    if (!kt->second.empty())
                        j["keep_error"] = kt->second;
                }
            }
            bool changed = !same_nexthop(before, b);
            j["changed"] = changed;
            if (changed) {
                dirty = true;
                c.changed++;
                if (before.flags & CRAB_XDP_BE_NH && !(b.flags & CRAB_XDP_BE_NH))
                    c.invalidated++;
            }
            list.push_back(j);
        }
        if (dirty) {
            publish(m, s.ep, s.svc, *g);
            c.published++;
        }
    }
    if (total) {
        total->backends += c.backends;
        total->static_mac += c.static_mac;
        total->resolved += c.resolved;
        total->unresolved += c.unresolved;
        total->changed += c.changed;
        total->invalidated += c.invalidated;
        total->published += c.published;
        total->keep_managed += c.keep_managed;
        total->keep_use += c.keep_use;
        total->keep_errors += c.keep_errors;
    }
    json cnt = {{"backends", c.backends},       {"static", c.static_mac},        {"resolved", c.resolved},
                {"unresolved", c.unresolved},   {"changed", c.changed},          {"invalidated", c.invalidated},
                {"published", c.published},     {"keep_managed", c.keep_managed}, {"keep_use", c.keep_use},
                {"keep_errors", c.keep_errors}};
    return {{"backends", list}, {"counters", cnt}};
}

json show_json(const Maps& m)
{
    json out = json::array();
    for (const auto& s : list_services(m)) {
        auto g = read_gen(m, s.svc.id, s.svc.gen);
        json be = json::array();
        for (uint32_t slot = 0; slot < CRAB_MAX_BACKENDS; slot++) {
            const auto& b = g->be[slot];
            if (!(b.flags & CRAB_XDP_BE_VALID))
                continue;
            json j = {{"dip", crab::to_string(backend_addr(b))},
                      {"slot", slot},
                      {"weight", b.weight},
                      {"state", b.state == CRAB_BACKEND_ACTIVE ? "active" : "draining"}};
            if (b.flags & CRAB_XDP_BE_HAS_MAC) {
                j["mac"] = mac_str(b.mac);
                j["nexthop"] = "static";
            } else if (b.flags & CRAB_XDP_BE_NH) {
                char dev[IF_NAMESIZE] = "";
                j["nexthop"] = "resolved";
                j["nh_dev"] = if_indextoname(b.nh_ifindex, dev) ? std::string(dev) : std::to_string(b.nh_ifindex);
                j["nh_smac"] = mac_str(b.nh_smac);
                j["nh_dmac"] = mac_str(b.nh_dmac);
            } else {
                j["nexthop"] = "fib";
            }
            be.push_back(j);
        }
        out.push_back({{"service", crab::to_string(s.ep)},
                       {"id", s.svc.id},
                       {"policy", crab::to_string(static_cast<crab_policy>(s.svc.policy))},
                       {"legacy", crab::to_string(static_cast<crab_legacy_mode>(s.svc.legacy))},
                       {"generation", s.svc.gen},
                       {"active_backends", g->t.nactive},
                       {"wrr_slots", g->t.nwrr},
                       {"backends", be}});
    }
    return out;
}

json stats_json(const Maps& m)
{
    json glob = json::object();
    for (uint32_t c = 0; c < CRAB_XDP_G_MAX; c++)
        glob[kGlobalNames[c]] = percpu_sum(m.glob_cnt, c);
    json svcs = json::array();
    const auto& names = crab::lb_counter_names();
    for (const auto& s : list_services(m)) {
        json cnt = json::object();
        const auto sum = svc_counters(m, s.svc.id);
        for (uint32_t c = 0; c < CRAB_LB_CNT_MAX; c++)
            cnt[std::string(names[c])] = sum[c];
        auto g = read_gen(m, s.svc.id, s.svc.gen);
        json be = json::object();
        for (uint32_t slot = 0; slot < CRAB_MAX_BACKENDS; slot++)
            if (g->be[slot].flags & CRAB_XDP_BE_VALID)
                be[crab::to_string(backend_addr(g->be[slot]))] =
                    percpu_sum(m.be_cnt, s.svc.id * CRAB_MAX_BACKENDS + slot);
        svcs.push_back({{"service", crab::to_string(s.ep)}, {"counters", cnt}, {"backends", be}});
    }
    return {{"global", glob}, {"services", svcs}};
}

// ---- attach / detach ---------------------------------------------------------

void ensure_bpffs()
{
    struct statfs st {};
    if (statfs("/sys/fs/bpf", &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC)
        return;
    mkdir("/sys/fs/bpf", 0700);
    if (mount("bpffs", "/sys/fs/bpf", "bpf", 0, nullptr))
        throw Error("mounting bpffs on /sys/fs/bpf: " + errstr(errno), crab::kExitNoSupport);
}

void mkdir_p(const std::string& path)
{
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (mkdir(cur.c_str(), 0700) && errno != EEXIST)
            throw Error("creating " + cur + ": " + errstr(errno));
    }
}

void remove_pins(const std::string& dev)
{
    std::string dir = pin_dir(dev);
    for (const char* n : kMapNames)
        unlink((dir + "/" + n).c_str());
    for (const char* n : kOldMapNames)
        unlink((dir + "/" + n).c_str());
    unlink((dir + "/" CRAB_XDP_MAP_TX_PORTS).c_str());
    rmdir(dir.c_str());
}

int ifindex_of(const std::string& dev)
{
    unsigned idx = if_nametoindex(dev.c_str());
    if (!idx)
        throw Error("no network device '" + dev + "'", crab::kExitNotFound);
    return static_cast<int>(idx);
}



const char* mode_name(xdp_attach_mode m)
{
    switch (m) {
    case XDP_MODE_NATIVE:
        return "native";
    case XDP_MODE_SKB:
        return "generic";
    case XDP_MODE_HW:
        return "offload";
    default:
        return "unknown";
    }
}

AttachState attach_state(int ifindex)
{
    AttachState st;
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
    if (!mp || libxdp_get_error(mp))
        return st;
    if (xdp_multiprog__is_legacy(mp)) {
        xdp_program* p = xdp_multiprog__main_prog(mp);
        st.programs = p ? 1 : 0;
        st.attached = p && std::strcmp(xdp_program__name(p), CRAB_XDP_PROG_NAME) == 0;
    } else {
        st.dispatcher = true;
        for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
            st.programs++;
            st.attached |= std::strcmp(xdp_program__name(p), CRAB_XDP_PROG_NAME) == 0;
        }
    }
    st.mode = xdp_multiprog__attach_mode(mp);
    xdp_multiprog__close(mp);
    return st;
}

// The attachment as `show` and `stats` report it.
json attach_json(const std::string& dev)
{
    unsigned idx = if_nametoindex(dev.c_str());
    AttachState st = idx ? attach_state(static_cast<int>(idx)) : AttachState{};
    if (!st.attached)
        return {{"dev", dev}, {"attached", false}};
    return {{"dev", dev},
            {"attached", true},
            {"mode", mode_name(st.mode)},
            {"dispatcher", st.dispatcher},
            {"programs", st.programs}};
}

std::string attach_line(const json& a)
{
    std::string dev = a["dev"].get<std::string>();
    if (!a["attached"].get<bool>())
        return "attach " + dev + " none (the LB program is not attached)";
    std::string s = "attach " + dev + " mode " + a["mode"].get<std::string>();
    if (a["dispatcher"].get<bool>())
        s += " via libxdp dispatcher (" + std::to_string(a["programs"].get<int>()) + " programs)";
    else
        s += " direct (no dispatcher: other XDP programs cannot share " + dev + ")";
    return s;
}

// libbpf and libxdp messages of one attach attempt: the verifier says there
// why the kernel refused the dispatcher.
std::string g_attach_log;

int capture_libbpf(enum libbpf_print_level lvl, const char* fmt, va_list ap)
{
    if (lvl == LIBBPF_DEBUG)
        return 0;
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    g_attach_log += buf;
    return n;
}

int capture_libxdp(enum libxdp_print_level lvl, const char* fmt, va_list ap)
{
    if (lvl == LIBXDP_DEBUG)
        return 0;
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    g_attach_log += buf;
    return n;
}

// The line of the captured log that explains a refusal: the verifier's
// verdict on the extension program when there is one, else the last line.
std::string refusal_reason(const std::string& log)
{
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < log.size()) {
        size_t e = log.find('\n', pos);
        std::string l = log.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
        if (!l.empty() && l.find("-- END") == std::string::npos && l.find("-- BEGIN") == std::string::npos)
            lines.push_back(l);
        pos = e == std::string::npos ? log.size() : e + 1;
    }
    for (const auto& l : lines)
        if (l.find("Extension program") != std::string::npos || l.find("changes packet data") != std::string::npos)
            return l;
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
        if (it->rfind("libxdp: ", 0) == 0 && it->find("Falling back") == std::string::npos)
            return it->substr(8);
    return lines.empty() ? std::string("no message from libxdp") : lines.back();
}

// The MAC address of Ethernet device @dev in our network namespace (an
// ioctl: /sys/class/net may show another namespace's devices).
std::array<uint8_t, 6> dev_mac(const std::string& dev)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw Error("reading the MAC address of " + dev + ": " + errstr(errno));
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev.c_str());
    int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int err = errno;
    close(fd);
    if (rc)
        throw Error("reading the MAC address of " + dev + ": " + errstr(err));
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
        throw Error(dev + " is not an Ethernet device: the XDP LB balances Ethernet frames", crab::kExitUsage);
    std::array<uint8_t, 6> m{};
    std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, 6);
    return m;
}

// A fresh LB object whose maps are (re)used from the pin directory. The
// device's MAC is a load-time setting: only frames to it are balanced
// (re-attach after changing it).
crab_lb_bpf* open_lb(const AttachOptions& o, const std::string& dir)
{
    auto mac = dev_mac(o.dev);
    LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir.c_str());
    crab_lb_bpf* skel = crab_lb_bpf__open_opts(&oo);
    if (!skel)
        return nullptr;
    skel->rodata->crab_opt_kind = static_cast<uint8_t>(o.kind);
    skel->rodata->crab_opt_exid = static_cast<uint16_t>(o.exid);
    std::memcpy(skel->rodata->crab_dev_mac, mac.data(), 6);
    return skel;
}

// Through libxdp's dispatcher (libxdp itself attaches directly when the
// kernel cannot run a dispatcher at all, or LIBXDP_SKIP_DISPATCHER=1).
int attach_libxdp(const AttachOptions& o, const std::string& dir, int ifindex, xdp_attach_mode md, std::string& err)
{
    crab_lb_bpf* skel = open_lb(o, dir);
    if (!skel) {
        err = "opening the XDP LB object: " + errstr(errno);
        return -errno;
    }
    g_attach_log.clear();
    auto old_bpf = libbpf_set_print(capture_libbpf);
    auto old_xdp = libxdp_set_print(capture_libxdp);
    int rc;
    xdp_program* prog = xdp_program__from_bpf_obj(skel->obj, "xdp");
    long perr = libxdp_get_error(prog);
    if (perr) {
        rc = static_cast<int>(perr);
        err = "creating the XDP program: " + errstr(rc);
    } else {
        rc = xdp_program__attach(prog, ifindex, md, 0);
        if (rc)
            err = std::string("through libxdp's dispatcher (") + mode_name(md) + "): " + errstr(rc);
        xdp_program__close(prog);
    }
    libxdp_set_print(old_xdp);
    libbpf_set_print(old_bpf);
    crab_lb_bpf__destroy(skel);
    return rc;
}

// Our program alone on the device, without libxdp (what a kernel that
// refuses libxdp 1.3's dispatcher still accepts).
int attach_direct(const AttachOptions& o, const std::string& dir, int ifindex, xdp_attach_mode md, std::string& err)
{
    crab_lb_bpf* skel = open_lb(o, dir);
    if (!skel) {
        err = "opening the XDP LB object: " + errstr(errno);
        return -errno;
    }
    int rc = crab_lb_bpf__load(skel);
    if (rc) {
        err = "loading the XDP LB: " + errstr(rc);
    } else {
        uint32_t flags = XDP_FLAGS_UPDATE_IF_NOEXIST | (md == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
        rc = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.crab_lb_xdp), flags, nullptr);
        if (rc)
            err = std::string("directly (") + mode_name(md) + "): " + errstr(rc);
    }
    crab_lb_bpf__destroy(skel);
    return rc;
}

void run_detach_prog(const std::string& dev, int ifindex);

// The LB's other native ports in this network namespace: devices with a
// pin directory that exist here and run the LB in native mode.
std::vector<std::pair<std::string, int>> native_ports(const std::string& dev)
{
    std::vector<std::pair<std::string, int>> out;
    DIR* d = opendir(CRAB_XDP_PIN_ROOT);
    if (!d)
        return out;
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == ".." || n == dev)
            continue;
        unsigned idx = if_nametoindex(n.c_str());
        if (!idx)
            continue;
        AttachState st = attach_state(static_cast<int>(idx));
        if (st.attached && st.mode == XDP_MODE_NATIVE)
            out.emplace_back(n, static_cast<int>(idx));
    }
    closedir(d);
    return out;
}

int open_tx_ports(const std::string& dev)
{
    return bpf_obj_get((pin_dir(dev) + "/" CRAB_XDP_MAP_TX_PORTS).c_str());
}

// @dev (attached natively as @ifindex) and the LB's other native ports
// become each other's redirect targets (crab_tx_ports): only a device
// running the LB natively is known to take XDP frames.
void tx_ports_join(const std::string& dev, int ifindex)
{
    int own = open_tx_ports(dev);
    if (own < 0)
        throw Error("opening " + pin_dir(dev) + "/" CRAB_XDP_MAP_TX_PORTS ": " + errstr(errno));
    std::string err;
    for (const auto& [name, idx] : native_ports(dev)) {
        uint32_t k = static_cast<uint32_t>(idx), v = k;
        if (bpf_map_update_elem(own, &k, &v, BPF_ANY))
            err = "adding " + name + " to the redirect targets of " + dev + ": " + errstr(errno);
        int other = open_tx_ports(name);
        if (other < 0)
            continue;  // attached by a crabctl without redirect targets
        k = v = static_cast<uint32_t>(ifindex);
        if (bpf_map_update_elem(other, &k, &v, BPF_ANY) && err.empty())
            err = "adding " + dev + " to the redirect targets of " + name + ": " + errstr(errno);
        close(other);
    }
    close(own);
    if (!err.empty())
        throw Error(err);
}

// @dev (@ifindex) stops being a redirect target of the other ports.
void tx_ports_leave(const std::string& dev, int ifindex)
{
    for (const auto& [name, idx] : native_ports(dev)) {
        int other = open_tx_ports(name);
        if (other < 0)
            continue;
        uint32_t k = static_cast<uint32_t>(ifindex);
        bpf_map_delete_elem(other, &k);
        close(other);
    }
}

void run_attach(const AttachOptions& o)
{
    int ifindex = ifindex_of(o.dev);
    dev_mac(o.dev);  // an Ethernet device with a MAC, checked before anything is created
    if (attach_state(ifindex).attached)
        throw Error("the CRAB XDP LB is already attached to " + o.dev + " (detach it first)", crab::kExitUsage);
    const char* skip = std::getenv("LIBXDP_SKIP_DISPATCHER");
    bool use_dispatcher = o.dispatcher != "off" && !(skip && *skip && std::strcmp(skip, "0") != 0);
    if (o.dispatcher == "on" && !use_dispatcher)
        throw Error("--dispatcher on contradicts LIBXDP_SKIP_DISPATCHER in the environment", crab::kExitUsage);
    ensure_bpffs();
    std::string dir = pin_dir(o.dev);
    struct stat st {};
    bool existed = stat(dir.c_str(), &st) == 0;
    mkdir_p(dir);

    std::vector<xdp_attach_mode> modes;
    if (o.mode == "native")
        modes = {XDP_MODE_NATIVE};
    else if (o.mode == "generic")
        modes = {XDP_MODE_SKB};
    else
        modes = {XDP_MODE_NATIVE, XDP_MODE_SKB};  // generic fallback
    std::vector<std::string> errs;
    std::string refused;  // why the kernel refused the dispatcher
    bool done = false;
    for (auto md : modes) {
        std::string err;
        if (use_dispatcher) {
            if (attach_libxdp(o, dir, ifindex, md, err) == 0) {
                done = true;
                // libxdp itself attaches without its dispatcher when its
                // compatibility check fails (EOPNOTSUPP, EPERM, ...)
                if (!attach_state(ifindex).dispatcher) {
                    refused = refusal_reason(g_attach_log);
                    if (o.dispatcher == "on") {
                        run_detach_prog(o.dev, ifindex);
                        if (!existed)
                            remove_pins(o.dev);
                        throw Error("libxdp cannot use its dispatcher on " + o.dev + " (" + refused +
                                    ") and --dispatcher on was given: nothing attached");
                    }
                    std::cerr << "warning: libxdp attached the LB to " << o.dev << " without its multi-program "
                              << "dispatcher (" << refused << "): coexistence with other XDP programs on "
                              << o.dev << " is unavailable\n";
                }
            } else {
                errs.push_back(err);
                refused = refusal_reason(g_attach_log);
            }
        }
        if (!done && o.dispatcher != "on") {
            if (attach_direct(o, dir, ifindex, md, err) == 0) {
                done = true;
                if (use_dispatcher)
                    std::cerr << "warning: the kernel refused libxdp's multi-program dispatcher on " << o.dev
                              << " (" << refused << "); attached the LB directly in " << mode_name(md)
                              << " mode instead: coexistence with other XDP programs on " << o.dev
                              << " is unavailable\n";
            } else {
                errs.push_back(err);
            }
        }
        if (done) {
            if (md == XDP_MODE_SKB && modes.size() > 1)
                std::cerr << "note: native XDP unavailable on " << o.dev << ", attached in generic mode\n";
            break;
        }
    }
    if (!done) {
        if (!existed)
            remove_pins(o.dev);  // undo the partial attach
        std::string msg = "attaching to " + o.dev + " failed";
        for (const auto& e : errs)
            msg += "; " + e;
        if (use_dispatcher && !refused.empty())
            msg += " (libxdp: " + refused + ")";
        throw Error(msg);
    }
    if (attach_state(ifindex).mode != XDP_MODE_NATIVE)
        return;  // generic mode: no XDP frames for others to redirect to
    try {
        tx_ports_join(o.dev, ifindex);
    } catch (const Error&) {
        run_detach_prog(o.dev, ifindex);  // never half attached
        if (!existed)
            remove_pins(o.dev);
        throw;
    }
}

// Detach the LB program from @ifindex (either form); pins stay.
void run_detach_prog(const std::string& dev, int ifindex)
{
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
    if (libxdp_get_error(mp) || !mp)
        throw Error("no XDP program on " + dev, crab::kExitNotFound);
    int rc = -ENOENT;
    if (xdp_multiprog__is_legacy(mp)) {
        // attached directly (by us, or by libxdp without its dispatcher)
        xdp_program* p = xdp_multiprog__main_prog(mp);
        if (p && std::strcmp(xdp_program__name(p), CRAB_XDP_PROG_NAME) == 0)
            rc = xdp_multiprog__detach(mp);
    } else {
        // one program of the dispatcher: the others stay
        for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
            if (std::strcmp(xdp_program__name(p), CRAB_XDP_PROG_NAME) == 0) {
                rc = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
                break;
            }
        }
    }
    xdp_multiprog__close(mp);
    if (rc == -ENOENT)
        throw Error("the CRAB XDP LB is not attached to " + dev, crab::kExitNotFound);
    if (rc)
        throw Error("detaching from " + dev + ": " + errstr(rc));
}

void run_detach(const std::string& dev)
{
    int ifindex = ifindex_of(dev);
    tx_ports_leave(dev, ifindex);
    run_detach_prog(dev, ifindex);
    remove_pins(dev);
}

// ---- conformance runner --------------------------------------------------------

std::vector<uint8_t> unhex(const std::string& s)
{
    if (s.size() % 2)
        throw Error("odd-length hex string in fixtures", crab::kExitUsage);
    std::vector<uint8_t> out;
    for (size_t i = 0; i < s.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    return out;
}

std::string hex(const uint8_t* p, size_t n)
{
    static const char* d = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; i++) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

void apply_config(const Maps& m, const json& cfg)
{
    for (const auto& s : cfg.value("services", json::array())) {
        auto ep = crab::IpEndpoint{crab::parse_ip(s.at("vip").get<std::string>()), s.at("port").get<uint16_t>()};
        service_add(m, ep, crab::parse_policy(s.value("policy", "rr")),
                    crab::parse_legacy_mode(s.value("legacy", "drop")));
        for (const auto& b : s.value("backends", json::array())) {
            auto dip = crab::parse_ip(b.at("dip").get<std::string>());
            backend_add(m, ep, dip, b.value("weight", 1u), parse_mac(b.value("mac", "")));
            if (b.value("state", "active") == "draining")
                backend_change(m, ep, dip, false);
        }
    }
}

// Each case gets a freshly loaded program and empty maps (nothing pinned);
// @port_mac is the MAC the program takes as its device's. @ingress_ifindex
// (0: none, the loopback device) is the device frames arrive on: its
// namespace's routes and neighbours answer bpf_fib_lookup() for backends
// without a static MAC (the fixtures' "topology").
json run_case(const json& c, const std::array<uint8_t, 6>& port_mac, int ingress_ifindex)
{
    json result = {{"name", c.at("name")}, {"ok", true}, {"errors", json::array()}};
    auto fail = [&](const std::string& e) {
        result["ok"] = false;
        result["errors"].push_back(e);
    };
    crab_lb_bpf* skel = crab_lb_bpf__open();
    if (!skel)
        throw Error("opening the XDP LB object: " + errstr(errno));
    std::unique_ptr<crab_lb_bpf, void (*)(crab_lb_bpf*)> guard(skel, crab_lb_bpf__destroy);
    bpf_object* obj = skel->obj;
    bpf_map* map;
    bpf_object__for_each_map(map, obj) bpf_map__set_pin_path(map, nullptr);
    const json& cfg = c.at("config");
    skel->rodata->crab_opt_kind = static_cast<uint8_t>(cfg.value("opt_kind", CRAB_OPT_KIND_DEFAULT));
    skel->rodata->crab_opt_exid = static_cast<uint16_t>(cfg.value("opt_exid", CRAB_OPT_EXID_DEFAULT));
    std::memcpy(skel->rodata->crab_dev_mac, port_mac.data(), 6);
    int rc = crab_lb_bpf__load(skel);
    if (rc)
        throw Error("loading the XDP LB program: " + errstr(rc) + " (run as root)");
    auto maps = Maps::from_skel(skel);
    apply_config(*maps, cfg);
    int pfd = bpf_program__fd(skel->progs.crab_lb_xdp);

    int i = 0;
    for (const auto& p : c.at("packets")) {
        auto in = unhex(p.at("in").get<std::string>());
        std::vector<uint8_t> out(in.size() + 256);
        xdp_md md{};
        md.data_end = static_cast<uint32_t>(in.size());
        md.ingress_ifindex = static_cast<uint32_t>(ingress_ifindex);
        LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in.data(), .data_out = out.data(),
                    .data_size_in = static_cast<uint32_t>(in.size()),
                    .data_size_out = static_cast<uint32_t>(out.size()),
                    .ctx_in = ingress_ifindex ? &md : nullptr, .ctx_size_in = ingress_ifindex ? static_cast<uint32_t>(sizeof(md)) : 0u,
                    .repeat = 1);
        rc = bpf_prog_test_run_opts(pfd, &t);
        std::string tag = "packet " + std::to_string(i++) + ": ";
        if (rc) {
            fail(tag + "BPF_PROG_TEST_RUN: " + errstr(rc));
            continue;
        }
        std::string verdict = t.retval == XDP_PASS                             ? "pass"
                              : t.retval == XDP_DROP                           ? "drop"
                              : (t.retval == XDP_TX || t.retval == XDP_REDIRECT) ? "forward"
                                                                                 : "aborted";
        // The packet's "lb": {"xdp": {...}} when the fixture gives one.
        const json& e = p.contains("lb") && p["lb"].contains("xdp") ? p["lb"]["xdp"] : p;
        std::string want = e.at("verdict");
        if (verdict != want) {
            fail(tag + "verdict " + verdict + ", expected " + want);
            continue;
        }
        std::string exp_hex = want == "pass" ? e.value("out", p.at("in").get<std::string>()) : e.value("out", "");
        if (want != "drop") {
            std::string got = hex(out.data(), t.data_size_out);
            if (got != exp_hex)
                fail(tag + "output differs\n    got      " + got + "\n    expected " + exp_hex);
        }
    }
    // Global counters of this program, when the case names them.
    if (c.contains("xdp_global_counters")) {
        auto glob = stats_json(*maps)["global"];
        for (auto& [k, v] : c["xdp_global_counters"].items()) {
            if (!glob.contains(k))
                fail("unknown global counter " + k);
            else if (glob[k] != v)
                fail("global counter " + k + " = " + glob[k].dump() + ", expected " + v.dump());
        }
    }
    // Per-service counters of the first service, when the case names them.
    if (c.contains("counters") && !cfg.value("services", json::array()).empty()) {
        auto st = stats_json(*maps);
        const auto& first = cfg["services"][0];
        std::string name = crab::to_string(crab::IpEndpoint{crab::parse_ip(first["vip"].get<std::string>()),
                                                            first["port"].get<uint16_t>()});
        for (const auto& s : st["services"]) {
            if (s["service"] != name)
                continue;
            for (auto& [k, v] : c["counters"].items()) {
                if (!s["counters"].contains(k))
                    fail("unknown counter " + k);
                else if (s["counters"][k] != v)
                    fail("counter " + k + " = " + s["counters"][k].dump() + ", expected " + v.dump());
            }
        }
    }
    return result;
}

int run_conformance(const std::string& file, const std::string& only, const std::string& port_mac, json* out,
                    const std::string& ingress_dev)
{
    auto mac = parse_mac_value(port_mac);
    int ingress_ifindex = ingress_dev.empty() ? 0 : ifindex_of(ingress_dev);
    std::ifstream f(file);
    if (!f)
        throw Error("cannot read fixtures '" + file + "'", crab::kExitNotFound);
    json fx = json::parse(f);
    libbpf_set_print([](enum libbpf_print_level lvl, const char* fmt, va_list ap) {
        return lvl == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
    });
    json results = json::array();
    int failed = 0, passed = 0;
    for (const auto& c : fx.at("cases")) {
        if (!only.empty() && c.at("name") != only)
            continue;
        if (c.contains("lbs") && std::find(c["lbs"].begin(), c["lbs"].end(), "xdp") == c["lbs"].end())
            continue;
        json r = run_case(c, mac, ingress_ifindex);
        if (r["ok"])
            passed++;
        else
            failed++;
        if (!out) {
            std::cout << "TEST: xdp conformance: " << c.at("name").get<std::string>() << "  "
                      << (r["ok"] ? "[ OK ]" : "[FAIL]") << "\n";
            for (const auto& e : r["errors"])
                std::cout << "    " << e.get<std::string>() << "\n";
        }
        results.push_back(r);
    }
    if (out)
        *out = {{"passed", passed}, {"failed", failed}, {"cases", results}};
    else
        std::cout << passed << " passed, " << failed << " failed\n";
    if (passed + failed == 0)
        throw Error("no conformance case matched", crab::kExitNotFound);
    return failed ? 1 : 0;
}

}  // namespace crab::xdp_ctl
