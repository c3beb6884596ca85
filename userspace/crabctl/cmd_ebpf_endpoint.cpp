// SPDX-License-Identifier: GPL-2.0-only
// crabctl ebpf: the eBPF endpoints (endpoints/ebpf/), client and server
// connection redirection without kernel modules.
//
//   crabctl ebpf server attach --cgroup PATH [--echo on|off]
//   crabctl ebpf server detach --cgroup PATH
//   crabctl ebpf client attach --cgroup PATH --dev DEV [--announce L] [--allow L]
//                              [--max-flows N] [--input-probe auto|on|off]
//   crabctl ebpf client detach [--cgroup PATH] [--dev DEV]
//   crabctl ebpf set [--enable|--disable] [--announce L] [--allow L] [--echo on|off]
//                    [--kind K] [--exid X]
//   crabctl [--json] ebpf stats
// L is CIDR,... | any | none; a CIDR is IPv4 or IPv6 ("any" is both).
//
// Nothing is announced, accepted or echoed until configured: the announce
// and allow lists start empty (none) and echo off; attaching says so.
// Maps and links are pinned under --pin-dir (default /sys/fs/bpf/crab/ep),
// so the configuration outlives crabctl; tc filters stay on the device.
#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

extern "C" {
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <crab/crab_bpf_ep.h>
#include <crab/crab_ep.h>
}

#include "cidr_lists.hpp"
#include "command.hpp"
#include "crab_ep_client.skel.h"
#include "crab_ep_nf.skel.h"
#include "crab_ep_server.skel.h"
#include "crab_ep_tc.skel.h"

namespace {

using crab::Error;
using crab::cli::Globals;

#define CRAB_EP_CNT_NAME(e, n, h) n,
const char* const kCounterNames[] = {CRAB_EP_COUNTERS(CRAB_EP_CNT_NAME)};
#undef CRAB_EP_CNT_NAME

// Newer than the Debian 12 uapi headers and libbpf 1.1 this builds with.
constexpr int kSoNetnsCookie = 71;              // SO_NETNS_COOKIE, Linux 5.14
constexpr int kProgTypeNetfilter = 32;          // BPF_PROG_TYPE_NETFILTER, Linux 6.4
constexpr int kAttachNetfilter = 45;            // BPF_NETFILTER
constexpr uint32_t kNfProtoIpv4 = 2;            // NFPROTO_IPV4
constexpr uint32_t kNfProtoIpv6 = 10;           // NFPROTO_IPV6
constexpr uint32_t kNfInetLocalIn = 1;          // NF_INET_LOCAL_IN
// After every rule (filter 0, security 50, srcnat 100, helpers 300); the
// kernel refuses NF_IP_PRI_LAST itself, and a BPF hook at a priority some
// other hook of LOCAL_IN already has (crab_server.ko uses INT_MAX - 1):
// the next lower one is tried then.
constexpr int32_t kNfPrioFirstTry = INT_MAX - 2;
constexpr int kNfPrioTries = 16;

struct EpOptions {
    std::string pin_dir = CRAB_EP_PIN_DIR;
    std::string cgroup;
    std::string dev;
    std::string announce;
    std::string allow;
    std::string echo;
    std::string input_probe = "auto";
    bool announce_set = false;
    bool allow_set = false;
    bool enable = false;
    bool disable = false;
    uint32_t kind = 0;
    uint32_t exid = 0;
    uint32_t max_flows = 0;
};

std::string errstr(int err)
{
    return std::strerror(err < 0 ? -err : err);
}

void notice(const std::string& msg)
{
    std::cerr << "crabctl: notice: " << msg << "\n";
}

// libbpf's warnings explain verifier and attach failures; debug output is noise.
int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG)
        return 0;
    return vfprintf(stderr, fmt, ap);
}

int libbpf_quiet(enum libbpf_print_level, const char*, va_list)
{
    return 0;
}

class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd()
    {
        if (fd_ >= 0)
            close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release()
    {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

void ensure_pin_dir(const std::string& dir)
{
    struct statfs sfs;
    std::string cur;

    // mkdir -p, but only inside a bpffs.
    for (size_t pos = 1; pos != std::string::npos;) {
        pos = dir.find('/', pos + 1);
        cur = dir.substr(0, pos);
        if (statfs(cur.c_str(), &sfs) == 0)
            continue;
        std::string up = cur.substr(0, cur.find_last_of('/'));
        if (statfs(up.empty() ? "/" : up.c_str(), &sfs) || sfs.f_type != BPF_FS_MAGIC)
            throw Error("pin directory '" + dir + "' is not inside a bpffs (mount -t bpf bpf " + up + ")",
                        crab::kExitNoSupport);
        if (mkdir(cur.c_str(), 0700) && errno != EEXIST)
            throw Error("cannot create '" + cur + "': " + errstr(errno));
    }
    if (statfs(dir.c_str(), &sfs) || sfs.f_type != BPF_FS_MAGIC)
        throw Error("pin directory '" + dir + "' is not inside a bpffs", crab::kExitNoSupport);
}

struct Cgroup {
    int fd;
    unsigned long long ino;
};

Cgroup open_cgroup(const std::string& path)
{
    struct statfs sfs;
    struct stat st;
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY);

    if (fd < 0)
        throw Error("cannot open cgroup '" + path + "': " + errstr(errno), crab::kExitNotFound);
    if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC || fstat(fd, &st)) {
        close(fd);
        throw Error("'" + path + "' is not a cgroup v2 directory", crab::kExitUsage);
    }
    return Cgroup{fd, (unsigned long long)st.st_ino};
}

std::string link_pin(const std::string& dir, const char* role, const Cgroup& cg)
{
    return dir + "/" + role + "_cg" + std::to_string(cg.ino);
}

int dev_ifindex(const std::string& dev)
{
    unsigned int idx = if_nametoindex(dev.c_str());

    if (!idx)
        throw Error("no such device '" + dev + "'", crab::kExitNotFound);
    return (int)idx;
}

// The cookie of crabctl's network namespace (the one of --dev).
uint64_t netns_cookie()
{
    Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);

    if (fd.get() < 0 || getsockopt(fd.get(), SOL_SOCKET, kSoNetnsCookie, &cookie, &len))
        throw Error("cannot read the network namespace cookie (SO_NETNS_COOKIE, Linux 5.14): " +
                        errstr(errno),
                    crab::kExitNoSupport);
    return cookie;
}

// The netfilter link of a client device: one per (network namespace, device).
std::string nf_link_pin(const std::string& dir, uint64_t netns, int ifindex)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "client_nf_ns%llx_if%d", (unsigned long long)netns, ifindex);
    return dir + "/" + buf;
}

// The same program's link at the end of IPv6 LOCAL_IN.
std::string nf6_link_pin(const std::string& dir, uint64_t netns, int ifindex)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "client_nf6_ns%llx_if%d", (unsigned long long)netns, ifindex);
    return dir + "/" + buf;
}

int open_pinned(const std::string& dir, const char* name)
{
    std::string p = dir + "/" + name;
    int fd = bpf_obj_get(p.c_str());

    if (fd < 0)
        throw Error("'" + p + "' not found: no eBPF endpoint attached (" + errstr(errno) + ")",
                    crab::kExitNotFound);
    return fd;
}

using crab::cli::Cidr6;
using crab::cli::CidrLists;
using crab::cli::to_string;

// Parsed, validated configuration change: nothing is written before all of
// it is known to be valid (never a half-applied configuration).
struct CfgChange {
    bool announce_set = false, allow_set = false;
    CidrLists announce, allow;
    int enabled = -1;  // -1 keep
    int echo = -1;     // -1 keep
    uint32_t kind = 0, exid = 0;
};

// "any"/"all" is 0.0.0.0/0 and ::/0, "none" (or nothing) the empty list:
// nobody. Items with a ':' are IPv6 prefixes.
CidrLists parse_list(const std::string& s, const char* what)
{
    CidrLists out = crab::cli::parse_cidr_lists(s);

    for (size_t n : {out.v4.size(), out.v6.size()})
        if (n > CRAB_EP_LPM_MAX)
            throw Error(std::string("--") + what + ": " + std::to_string(n) +
                            " prefixes of one family, at most " + std::to_string(CRAB_EP_LPM_MAX),
                        crab::kExitUsage);
    return out;
}

CfgChange parse_change(const EpOptions& o)
{
    CfgChange c;

    if (o.enable && o.disable)
        throw Error("--enable and --disable are exclusive", crab::kExitUsage);
    c.enabled = o.enable ? 1 : o.disable ? 0 : -1;
    if (o.announce_set) {
        c.announce_set = true;
        c.announce = parse_list(o.announce, "announce");
    }
    if (o.allow_set) {
        c.allow_set = true;
        c.allow = parse_list(o.allow, "allow");
    }
    if (!o.echo.empty()) {
        if (o.echo != "on" && o.echo != "off")
            throw Error("bad --echo '" + o.echo + "' (on or off)", crab::kExitUsage);
        c.echo = o.echo == "on";
    }
    // The modules' rule: never a kind with an assigned meaning.
    if (o.kind > 255)
        throw Error("bad option kind '" + std::to_string(o.kind) + "' (0..255)", crab::kExitUsage);
    if (const char *what = o.kind ? crab_ep_kind_refused(o.kind) : nullptr)
        throw Error("option kind " + std::to_string(o.kind) + " is assigned (" + what +
                        "): use 42, 254 (RFC 6994 form) or another unassigned kind",
                    crab::kExitUsage);
    if (o.exid > 0xffff)
        throw Error("bad ExID '" + std::to_string(o.exid) + "' (0..65535)", crab::kExitUsage);
    c.kind = o.kind;
    c.exid = o.exid;
    return c;
}

// Make the LPM trie hold exactly @want: add the new prefixes, then remove stale ones.
void lpm_replace(int fd, const std::vector<crab::Cidr>& want)
{
    std::set<std::pair<uint32_t, uint32_t>> keep;
    uint32_t one = 1;

    for (const auto& c : want) {
        struct crab_ep_lpm_key k = {c.len, htonl(c.net.addr)};

        keep.insert({k.prefixlen, k.addr});
        if (bpf_map_update_elem(fd, &k, &one, BPF_ANY))
            throw Error("cannot add " + crab::to_string(c) + ": " + errstr(errno));
    }
    std::vector<struct crab_ep_lpm_key> stale;
    struct crab_ep_lpm_key cur, next;
    void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        if (!keep.count({next.prefixlen, next.addr}))
            stale.push_back(next);
        cur = next;
        prev = &cur;
    }
    for (auto& k : stale)
        bpf_map_delete_elem(fd, &k);
}

// The prefixes of an LPM trie (bounded by its size).
std::vector<std::string> lpm_list(const std::string& dir, const char* name)
{
    std::string p = dir + "/" + name;
    Fd fd(bpf_obj_get(p.c_str()));
    std::vector<std::string> out;
    struct crab_ep_lpm_key cur, next;
    void* prev = nullptr;

    if (fd.get() < 0)
        return out;
    while (out.size() < CRAB_EP_LPM_MAX && bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
        crab::Cidr c;
        c.net.addr = ntohl(next.addr);
        c.len = (uint8_t)next.prefixlen;
        out.push_back(crab::to_string(c));
        cur = next;
        prev = &cur;
    }
    return out;
}

// The IPv6 trie: the same, with crab_ep_lpm_key6.
void lpm_replace6(int fd, const std::vector<Cidr6>& want)
{
    std::set<Cidr6> keep;
    uint32_t one = 1;

    for (const auto& c : want) {
        struct crab_ep_lpm_key6 k = {};
        k.prefixlen = c.len;
        std::memcpy(k.addr, c.addr.data(), 16);
        keep.insert(c);
        if (bpf_map_update_elem(fd, &k, &one, BPF_ANY))
            throw Error("cannot add " + to_string(c) + ": " + errstr(errno));
    }
    std::vector<struct crab_ep_lpm_key6> stale;
    struct crab_ep_lpm_key6 cur, next;
    void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        Cidr6 c;
        c.len = (uint8_t)next.prefixlen;
        std::memcpy(c.addr.data(), next.addr, 16);
        if (!keep.count(c))
            stale.push_back(next);
        cur = next;
        prev = &cur;
    }
    for (auto& k : stale)
        bpf_map_delete_elem(fd, &k);
}

std::vector<std::string> lpm_list6(const std::string& dir, const char* name)
{
    std::string p = dir + "/" + name;
    Fd fd(bpf_obj_get(p.c_str()));
    std::vector<std::string> out;
    struct crab_ep_lpm_key6 cur, next;
    void* prev = nullptr;

    if (fd.get() < 0)
        return out;
    while (out.size() < CRAB_EP_LPM_MAX && bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
        Cidr6 c;
        c.len = (uint8_t)next.prefixlen;
        std::memcpy(c.addr.data(), next.addr, 16);
        out.push_back(to_string(c));
        cur = next;
        prev = &cur;
    }
    return out;
}

// Both families' prefixes of a list (IPv4 first).
std::vector<std::string> lpm_list_all(const std::string& dir, const char* name4, const char* name6)
{
    auto l = lpm_list(dir, name4);
    auto l6 = lpm_list6(dir, name6);
    l.insert(l.end(), l6.begin(), l6.end());
    return l;
}

// Apply @c to the pinned maps in @dir (the client maps only when needed).
void apply_change(const std::string& dir, const CfgChange& c)
{
    Fd cfgfd(open_pinned(dir, CRAB_EP_MAP_CFG));
    struct crab_ep_cfg cfg = {};
    uint32_t zero = 0;

    if (bpf_map_lookup_elem(cfgfd.get(), &zero, &cfg))
        throw Error("cannot read the endpoint configuration: " + errstr(errno));
    // Open everything first: a missing map must fail before any write.
    Fd annfd(c.announce_set ? open_pinned(dir, CRAB_EP_MAP_ANNOUNCE) : -1);
    Fd allowfd(c.allow_set ? open_pinned(dir, CRAB_EP_MAP_ALLOW) : -1);
    Fd annfd6(c.announce_set ? open_pinned(dir, CRAB_EP_MAP_ANNOUNCE6) : -1);
    Fd allowfd6(c.allow_set ? open_pinned(dir, CRAB_EP_MAP_ALLOW6) : -1);
    if (c.announce_set) {
        lpm_replace(annfd.get(), c.announce.v4);
        lpm_replace6(annfd6.get(), c.announce.v6);
    }
    if (c.allow_set) {
        lpm_replace(allowfd.get(), c.allow.v4);
        lpm_replace6(allowfd6.get(), c.allow.v6);
    }
    if (c.enabled >= 0)
        cfg.enabled = c.enabled;
    if (c.echo >= 0)
        cfg.echo = c.echo;
    if (c.kind) {
        cfg.opt.kind = c.kind;
        cfg.opt.exid = c.kind == CRAB_OPT_KIND_EXP ? (c.exid ? c.exid : CRAB_OPT_EXID_DEFAULT) : 0;
    }
    if (bpf_map_update_elem(cfgfd.get(), &zero, &cfg, BPF_ANY))
        throw Error("cannot write the endpoint configuration: " + errstr(errno));
}

// A freshly created configuration (kind 0) gets the defaults: the client
// switch on but nothing in the announce and allow lists, echo off, kind 42.
void init_cfg(struct bpf_map* m)
{
    struct crab_ep_cfg cfg = {};
    uint32_t zero = 0;
    int fd = bpf_map__fd(m);

    if (bpf_map_lookup_elem(fd, &zero, &cfg))
        throw Error("cannot read the endpoint configuration: " + errstr(errno));
    if (cfg.opt.kind)
        return;
    cfg.enabled = 1;
    cfg.echo = 0;
    cfg.opt.kind = CRAB_OPT_KIND_DEFAULT;
    cfg.opt.exid = CRAB_OPT_EXID_DEFAULT;
    if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
        throw Error("cannot write the endpoint configuration: " + errstr(errno));
}

struct crab_ep_cfg read_cfg(const std::string& dir)
{
    Fd fd(open_pinned(dir, CRAB_EP_MAP_CFG));
    struct crab_ep_cfg cfg = {};
    uint32_t zero = 0;

    if (bpf_map_lookup_elem(fd.get(), &zero, &cfg))
        throw Error("cannot read the endpoint configuration: " + errstr(errno));
    return cfg;
}

void pin_cgroup_link(struct bpf_program* prog, const Cgroup& cg, const std::string& pin,
                     const std::string& cgpath)
{
    struct bpf_link* link = bpf_program__attach_cgroup(prog, cg.fd);
    int err = libbpf_get_error(link);

    if (err)
        throw Error("cannot attach to cgroup '" + cgpath + "': " + errstr(err));
    err = bpf_link__pin(link, pin.c_str());
    if (err) {
        bpf_link__destroy(link);
        throw Error("cannot pin link at '" + pin + "': " + errstr(err));
    }
    // The pin holds the link (and the attachment) from now on.
    bpf_link__destroy(link);
}

template <typename Skel>
struct SkelDel {
    void (*fn)(Skel*);
    void operator()(Skel* s) const { fn(s); }
};

template <typename Skel>
using SkelPtr = std::unique_ptr<Skel, SkelDel<Skel>>;

template <typename Skel>
SkelPtr<Skel> open_skel(Skel* (*open)(const struct bpf_object_open_opts*), void (*destroy)(Skel*),
                        const std::string& dir, const char* what)
{
    LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir.c_str());
    SkelPtr<Skel> s(open(&oo), SkelDel<Skel>{destroy});

    if (!s)
        throw Error(std::string("cannot open the ") + what + " BPF object: " + errstr(errno));
    return s;
}

template <typename Skel>
void load_skel(Skel* s, int (*load)(Skel*), const char* what)
{
    int err = load(s);

    if (err)
        throw Error(std::string("cannot load the ") + what + " BPF object: " + errstr(err),
                    err == -EPERM ? crab::kExitNoSupport : crab::kExitError);
}

// Size of the flow table: an existing pinned table keeps its size (every
// object that declares it must agree); a new one gets @want or the default.
uint32_t flow_table_size(const std::string& dir, uint32_t want)
{
    std::string p = dir + "/" + CRAB_EP_MAP_FLOWS;
    Fd fd(bpf_obj_get(p.c_str()));
    struct bpf_map_info info = {};
    uint32_t len = sizeof(info);

    if (fd.get() < 0)
        return want ? want : CRAB_EP_FLOW_MAX;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len))
        throw Error("cannot read '" + p + "': " + errstr(errno));
    if (want && want != info.max_entries)
        throw Error("--max-flows " + std::to_string(want) + ": the flow table in " + dir + " has " +
                        std::to_string(info.max_entries) +
                        " entries; detach every client of this pin directory first",
                    crab::kExitUsage);
    return info.max_entries;
}

void run_server_attach(const EpOptions& o)
{
    CfgChange c = parse_change(o);
    ensure_pin_dir(o.pin_dir);
    Cgroup cg = open_cgroup(o.cgroup);
    Fd cgfd(cg.fd);
    std::string pin = link_pin(o.pin_dir, "server", cg);
    if (access(pin.c_str(), F_OK) == 0)
        throw Error("the server endpoint is already attached to cgroup '" + o.cgroup + "'");

    auto s = open_skel(crab_ep_server_bpf__open_opts, crab_ep_server_bpf__destroy, o.pin_dir, "server");
    load_skel(s.get(), crab_ep_server_bpf__load, "server");
    init_cfg(s->maps.crab_ep_cfg);
    apply_change(o.pin_dir, c);
    pin_cgroup_link(s->progs.crab_ep_server, cg, pin, o.cgroup);
    if (!read_cfg(o.pin_dir).echo)
        notice("echo is off: no SYN-ACK carries the redirect option until 'crabctl ebpf set --echo on'");
}

void run_server_detach(const EpOptions& o)
{
    Cgroup cg = open_cgroup(o.cgroup);
    Fd cgfd(cg.fd);
    std::string pin = link_pin(o.pin_dir, "server", cg);

    if (unlink(pin.c_str()))
        throw Error("the server endpoint is not attached to cgroup '" + o.cgroup + "'",
                    crab::kExitNotFound);
}

void tc_detach_dir(int ifindex, enum bpf_tc_attach_point where)
{
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
    LIBBPF_OPTS(bpf_tc_opts, to, .handle = CRAB_EP_TC_HANDLE, .priority = CRAB_EP_TC_PRIO);

    bpf_tc_detach(&hook, &to);
}

// BPF_LINK_CREATE for a netfilter program (the attribute layout of Linux
// 6.4's union bpf_attr; libbpf 1.1 predates it).
struct NfLinkAttr {
    uint32_t prog_fd;
    uint32_t target_fd;
    uint32_t attach_type;
    uint32_t flags;
    uint32_t pf;
    uint32_t hooknum;
    int32_t priority;
    uint32_t nf_flags;
    uint8_t zero[96];
};

// Hook @prog at the end of LOCAL_IN of family @pf in this network
// namespace. Returns the link's fd, or -errno.
int nf_link(struct bpf_program* prog, uint32_t pf)
{
    NfLinkAttr a = {};
    int err = -EINVAL;

    a.prog_fd = (uint32_t)bpf_program__fd(prog);
    a.attach_type = kAttachNetfilter;
    a.pf = pf;
    a.hooknum = kNfInetLocalIn;
    for (int i = 0; i < kNfPrioTries; i++) {
        a.priority = kNfPrioFirstTry - i;
        int fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
        if (fd >= 0)
            return fd;
        err = -errno;
        if (err != -EBUSY)
            break;
    }
    return err;
}

// Load crab_ep_nf.bpf.c and hook it at the end of IPv4 LOCAL_IN of this
// network namespace, and at the end of IPv6 LOCAL_IN. Returns the IPv4
// link's fd, or -errno with @why set (the kernel predates BPF netfilter
// programs, Linux 6.4, or refuses them); @fd6 gets the IPv6 link's fd, or
// -errno with @why6 set.
int attach_nf_probe(const std::string& dir, uint32_t flow_max, bool quiet, std::string& why,
                    int& fd6, std::string& why6)
{
    fd6 = -EINVAL;
    why6 = "no IPv4 input-path probe";
    auto s = open_skel(crab_ep_nf_bpf__open_opts, crab_ep_nf_bpf__destroy, dir, "client netfilter");
    struct bpf_program* prog = s->progs.crab_ep_nf_probe;

    bpf_program__set_type(prog, (enum bpf_prog_type)kProgTypeNetfilter);
    bpf_program__set_expected_attach_type(prog, (enum bpf_attach_type)kAttachNetfilter);
    bpf_map__set_max_entries(s->maps.crab_ep_flows, flow_max);
    bpf_map__set_max_entries(s->maps.crab_ep_flows6, flow_max);
    if (quiet)
        libbpf_set_print(libbpf_quiet);
    int err = crab_ep_nf_bpf__load(s.get());
    libbpf_set_print(libbpf_print);
    if (err) {
        why = "this kernel has no BPF netfilter programs (Linux 6.4; loading one failed: " +
              errstr(err) + ")";
        return err;
    }
    int fd = nf_link(prog, kNfProtoIpv4);
    if (fd < 0) {
        why = "hooking the BPF netfilter program at the end of LOCAL_IN failed (" + errstr(fd) +
              ")";
        return fd;
    }
    fd6 = nf_link(prog, kNfProtoIpv6);
    if (fd6 < 0)
        why6 = "hooking the BPF netfilter program at the end of IPv6 LOCAL_IN failed (" +
               errstr(fd6) + ")";
    return fd;
}

// The sysctl net.ipv4.conf.DEV.NAME (net.ipv6 with @v6) of crabctl's
// network namespace, -1 when unreadable.
int conf_sysctl(const std::string& dev, const char* name, bool v6 = false)
{
    std::ifstream f(std::string("/proc/sys/net/") + (v6 ? "ipv6" : "ipv4") + "/conf/" + dev + "/" +
                    name);
    int v = -1;

    if (!(f >> v))
        return -1;
    return v;
}

// Remove the entries of network namespace @netns from the maps @names in
// @dir, all keyed by @Key (a struct with a netns field).
template <typename Key>
void flush_netns_maps(const std::string& dir, uint64_t netns, std::initializer_list<const char*> names)
{
    for (const char* name : names) {
        std::string p = dir + "/" + name;
        Fd fd(bpf_obj_get(p.c_str()));
        std::vector<Key> mine;
        Key cur, next;
        void* prev = nullptr;

        if (fd.get() < 0)
            continue;
        // Bounded: a map never has more keys than its max_entries.
        for (uint64_t n = 0; n <= CRAB_EP_FLOW_MAX * 4ULL &&
                             bpf_map_get_next_key(fd.get(), prev, &next) == 0;
             n++) {
            if (next.netns == netns)
                mine.push_back(next);
            cur = next;
            prev = &cur;
        }
        for (auto& k : mine)
            bpf_map_delete_elem(fd.get(), &k);
    }
}

// Remove the flows and probes of network namespace @netns from the maps in @dir.
void flush_netns(const std::string& dir, uint64_t netns)
{
    flush_netns_maps<struct crab_ep_flow_key>(dir, netns, {CRAB_EP_MAP_FLOWS, CRAB_EP_MAP_PROBES});
    flush_netns_maps<struct crab_ep_flow_key6>(dir, netns, {CRAB_EP_MAP_FLOWS6, CRAB_EP_MAP_PROBES6});
}

void run_client_attach(const EpOptions& o)
{
    CfgChange c = parse_change(o);
    if (o.input_probe != "auto" && o.input_probe != "on" && o.input_probe != "off")
        throw Error("bad --input-probe '" + o.input_probe + "' (auto, on or off)", crab::kExitUsage);
    ensure_pin_dir(o.pin_dir);
    int ifindex = dev_ifindex(o.dev);
    Cgroup cg = open_cgroup(o.cgroup);
    Fd cgfd(cg.fd);
    std::string pin = link_pin(o.pin_dir, "client", cg);
    if (access(pin.c_str(), F_OK) == 0)
        throw Error("the client endpoint is already attached to cgroup '" + o.cgroup + "'");
    uint64_t netns = netns_cookie();
    std::string nfpin = nf_link_pin(o.pin_dir, netns, ifindex);
    if (access(nfpin.c_str(), F_OK) == 0)
        throw Error("the client endpoint is already attached to device '" + o.dev + "'");
    uint32_t flow_max = flow_table_size(o.pin_dir, o.max_flows);

    auto sk = open_skel(crab_ep_client_bpf__open_opts, crab_ep_client_bpf__destroy, o.pin_dir, "client");
    bpf_map__set_max_entries(sk->maps.crab_ep_flows, flow_max);
    bpf_map__set_max_entries(sk->maps.crab_ep_flows6, flow_max);
    load_skel(sk.get(), crab_ep_client_bpf__load, "client");

    // The input-path probe needs a BPF netfilter program (Linux 6.4).
    std::string why, why6 = "--input-probe off";
    int nfr = -1, nfr6 = -1;
    if (o.input_probe != "off") {
        nfr = attach_nf_probe(o.pin_dir, flow_max, o.input_probe == "auto", why, nfr6, why6);
        if (nfr < 0 && o.input_probe == "on")
            throw Error("--input-probe on: " + why, crab::kExitNoSupport);
    }
    Fd nffd(nfr < 0 ? -1 : nfr);
    Fd nffd6(nfr6 < 0 ? -1 : nfr6);
    std::string nfpin6 = nf6_link_pin(o.pin_dir, netns, ifindex);

    auto tc = open_skel(crab_ep_tc_bpf__open_opts, crab_ep_tc_bpf__destroy, o.pin_dir, "client tc");
    tc->rodata->crab_netns = netns;
    tc->rodata->crab_probe = nffd.get() >= 0;
    tc->rodata->crab_probe6 = nffd6.get() >= 0;
    bpf_map__set_max_entries(tc->maps.crab_ep_flows, flow_max);
    bpf_map__set_max_entries(tc->maps.crab_ep_flows6, flow_max);
    load_skel(tc.get(), crab_ep_tc_bpf__load, "client tc");
    init_cfg(sk->maps.crab_ep_cfg);
    apply_change(o.pin_dir, c);

    // Packet half first: a redirect must never find the sockets announcing
    // before the SYN-ACK rewrite exists. Undo partial attaches on failure.
    const struct {
        enum bpf_tc_attach_point where;
        struct bpf_program* prog;
        const char* name;
    } hooks[] = {{BPF_TC_INGRESS, tc->progs.crab_ep_tc_ingress, "ingress"},
                 {BPF_TC_EGRESS, tc->progs.crab_ep_tc_egress, "egress"}};
    int done = 0;
    LIBBPF_OPTS(bpf_tc_hook, clsact, .ifindex = ifindex,
                .attach_point = (enum bpf_tc_attach_point)(BPF_TC_INGRESS | BPF_TC_EGRESS));
    int err = bpf_tc_hook_create(&clsact);
    if (err && err != -EEXIST)
        throw Error("cannot create the clsact qdisc on '" + o.dev + "': " + errstr(err));
    bool nf_pinned = false, nf6_pinned = false;
    try {
        if (nffd.get() >= 0) {
            if (bpf_obj_pin(nffd.get(), nfpin.c_str()))
                throw Error("cannot pin link at '" + nfpin + "': " + errstr(errno));
            nf_pinned = true;
        }
        if (nffd6.get() >= 0) {
            if (bpf_obj_pin(nffd6.get(), nfpin6.c_str()))
                throw Error("cannot pin link at '" + nfpin6 + "': " + errstr(errno));
            nf6_pinned = true;
        }
        for (const auto& h : hooks) {
            LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = h.where);
            LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = bpf_program__fd(h.prog),
                        .flags = BPF_TC_F_REPLACE, .handle = CRAB_EP_TC_HANDLE,
                        .priority = CRAB_EP_TC_PRIO);
            err = bpf_tc_attach(&hook, &to);
            if (err)
                throw Error(std::string("cannot attach tc ") + h.name + " on '" + o.dev +
                            "': " + errstr(err));
            done++;
        }
        pin_cgroup_link(sk->progs.crab_ep_client, cg, pin, o.cgroup);
    } catch (...) {
        for (int i = 0; i < done; i++)
            tc_detach_dir(ifindex, hooks[i].where);
        if (nf_pinned)
            unlink(nfpin.c_str());
        if (nf6_pinned)
            unlink(nfpin6.c_str());
        throw;
    }

    // Say what is not configured or not checked.
    if (lpm_list_all(o.pin_dir, CRAB_EP_MAP_ANNOUNCE, CRAB_EP_MAP_ANNOUNCE6).empty())
        notice("the announce list is empty: no SYN announces redirection until "
               "'crabctl ebpf set --announce CIDRS'");
    if (lpm_list_all(o.pin_dir, CRAB_EP_MAP_ALLOW, CRAB_EP_MAP_ALLOW6).empty())
        notice("the allow list is empty: no redirect is accepted until 'crabctl ebpf set --allow CIDRS'");
    if (!read_cfg(o.pin_dir).enabled)
        notice("redirection is disabled ('crabctl ebpf set --enable')");
    int fwd = conf_sysctl(o.dev, "forwarding");
    int rpf = std::max(conf_sysctl("all", "rp_filter"), conf_sysctl(o.dev, "rp_filter"));
    if (nffd.get() < 0) {
        notice((o.input_probe == "off" ? std::string("--input-probe off")
                                       : "no input-path probe: " + why) +
               ": netfilter rules on a redirecting server's address do not stop its redirects" +
               (fwd == 1 ? "" : ", and with forwarding off on " + o.dev +
                                    " its reverse path is not checked") +
               " (endpoints/ebpf/README.md)");
    } else if (fwd != 1 && rpf != 1) {
        notice("the reverse path of redirecting servers is checked by the kernel's rp_filter "
               "(forwarding is off on " + o.dev + "), which is " + std::to_string(rpf) +
               ", not strict: set net.ipv4.conf." + o.dev + ".rp_filter=1");
    }
    if (!lpm_list6(o.pin_dir, CRAB_EP_MAP_ALLOW6).empty()) {
        if (nffd6.get() < 0 && nffd.get() >= 0)
            notice("IPv6 redirects have no input-path probe (" + why6 +
                   "): netfilter rules on a redirecting server's address do not stop them "
                   "(endpoints/ebpf/README.md)");
        if (conf_sysctl(o.dev, "forwarding", true) != 1 &&
            conf_sysctl("lo", "forwarding", true) != 1)
            notice("IPv6 redirects are refused (rejected_rpf_unchecked) while IPv6 forwarding is "
                   "off on " + o.dev + " and on lo: their reverse-path check is a FIB lookup, "
                   "which needs it; "
                   "net.ipv6.conf.lo.forwarding=1 is enough and does not make the host forward");
    }
}

void run_client_detach(const EpOptions& o)
{
    bool any = false;

    if (!o.cgroup.empty()) {
        Cgroup cg = open_cgroup(o.cgroup);
        Fd cgfd(cg.fd);
        std::string pin = link_pin(o.pin_dir, "client", cg);
        if (unlink(pin.c_str()))
            throw Error("the client endpoint is not attached to cgroup '" + o.cgroup + "'",
                        crab::kExitNotFound);
        any = true;
    }
    if (!o.dev.empty()) {
        int ifindex = dev_ifindex(o.dev);
        uint64_t netns = netns_cookie();
        tc_detach_dir(ifindex, BPF_TC_INGRESS);
        tc_detach_dir(ifindex, BPF_TC_EGRESS);
        unlink(nf_link_pin(o.pin_dir, netns, ifindex).c_str());
        unlink(nf6_link_pin(o.pin_dir, netns, ifindex).c_str());
        // Nothing translates this namespace's flows any more.
        flush_netns(o.pin_dir, netns);
        any = true;
    }
    if (!any)
        throw Error("client detach needs --cgroup and/or --dev", crab::kExitUsage);
}

void run_set(const EpOptions& o)
{
    CfgChange c = parse_change(o);

    if (!c.announce_set && !c.allow_set && c.enabled < 0 && c.echo < 0 && !c.kind)
        throw Error("nothing to set (--enable, --disable, --announce, --allow, --echo, --kind)",
                    crab::kExitUsage);
    apply_change(o.pin_dir, c);
}

uint64_t count_entries(const std::string& dir, const char* name, size_t key_size)
{
    std::string p = dir + "/" + name;
    Fd fd(bpf_obj_get(p.c_str()));
    std::vector<uint8_t> cur(key_size), next(key_size);
    struct bpf_map_info info = {};
    uint32_t len = sizeof(info);
    void* prev = nullptr;
    uint64_t n = 0;

    if (fd.get() < 0 || bpf_obj_get_info_by_fd(fd.get(), &info, &len))
        return 0;
    // Bounded: a map never has more keys than its max_entries.
    while (n <= info.max_entries && bpf_map_get_next_key(fd.get(), prev, next.data()) == 0) {
        n++;
        cur = next;
        prev = cur.data();
    }
    return n;
}

void run_stats(const EpOptions& o, const Globals& g)
{
    Fd fd(open_pinned(o.pin_dir, CRAB_EP_MAP_STATS));
    int ncpu = libbpf_num_possible_cpus();
    struct crab_ep_cfg cfg = read_cfg(o.pin_dir);

    if (ncpu <= 0)
        throw Error("cannot count the possible CPUs: " + errstr(ncpu));
    std::vector<uint64_t> vals(ncpu);
    nlohmann::ordered_json counters = nlohmann::ordered_json::object();
    for (uint32_t i = 0; i < CRAB_EP_CNT_MAX; i++) {
        uint64_t sum = 0;
        if (bpf_map_lookup_elem(fd.get(), &i, vals.data()))
            throw Error("cannot read counter " + std::string(kCounterNames[i]) + ": " + errstr(errno));
        for (auto v : vals)
            sum += v;
        counters[kCounterNames[i]] = sum;
    }
    nlohmann::ordered_json maps = {
        {"flows", count_entries(o.pin_dir, CRAB_EP_MAP_FLOWS, sizeof(struct crab_ep_flow_key))},
        {"probes", count_entries(o.pin_dir, CRAB_EP_MAP_PROBES, sizeof(struct crab_ep_flow_key))},
        {"probes6", count_entries(o.pin_dir, CRAB_EP_MAP_PROBES6, sizeof(struct crab_ep_flow_key6))},
        {"flows6", count_entries(o.pin_dir, CRAB_EP_MAP_FLOWS6, sizeof(struct crab_ep_flow_key6))},
    };
    nlohmann::ordered_json conf = {
        {"enabled", cfg.enabled != 0},
        {"echo", cfg.echo != 0},
        {"kind", cfg.opt.kind ? cfg.opt.kind : CRAB_OPT_KIND_DEFAULT},
        {"exid", cfg.opt.kind == CRAB_OPT_KIND_EXP ? cfg.opt.exid : 0},
        {"announce", lpm_list_all(o.pin_dir, CRAB_EP_MAP_ANNOUNCE, CRAB_EP_MAP_ANNOUNCE6)},
        {"allow", lpm_list_all(o.pin_dir, CRAB_EP_MAP_ALLOW, CRAB_EP_MAP_ALLOW6)},
    };
    if (g.json || g.pretty) {
        nlohmann::ordered_json j = {{"config", conf}, {"counters", counters}, {"maps", maps}};
        crab::cli::print_json(g, j.dump(), j.dump(2));
        return;
    }
    auto list = [](const nlohmann::ordered_json& l) {
        std::string s;
        for (auto& e : l)
            s += (s.empty() ? "" : ",") + e.get<std::string>();
        return s.empty() ? std::string("(none)") : s;
    };
    std::cout << "config: enabled " << conf["enabled"] << " echo " << conf["echo"] << " kind "
              << conf["kind"] << "\n"
              << "  announce to: " << list(conf["announce"]) << "\n"
              << "  accept redirects from: " << list(conf["allow"]) << "\n";
    for (auto& [k, v] : counters.items())
        std::cout << "  " << k << " " << v << "\n";
    for (auto& [k, v] : maps.items())
        std::cout << "map " << k << " " << v << " entries\n";
}

void add_cfg_opts(CLI::App* c, EpOptions& o)
{
    c->add_option_function<std::string>(
        "--announce", [&o](const std::string& v) { o.announce = v, o.announce_set = true; },
        "destinations whose SYNs announce redirection "
        "(IPv4/IPv6 CIDR,... | any | none; default none)");
    c->add_option_function<std::string>(
        "--allow", [&o](const std::string& v) { o.allow = v, o.allow_set = true; },
        "sources whose redirects are accepted (IPv4/IPv6 CIDR,... | any | none; default none)");
}

void setup_ebpf(CLI::App& root, Globals& g)
{
    auto o = std::make_shared<EpOptions>();
    auto* e = root.add_subcommand("ebpf", "eBPF endpoints: client and server redirection without modules");
    e->require_subcommand(1);
    e->footer("Nothing is announced, accepted or echoed until configured.\n"
              "Examples:\n"
              "  crabctl ebpf server attach --cgroup /sys/fs/cgroup/srv --echo on\n"
              "  crabctl ebpf client attach --cgroup /sys/fs/cgroup/cli --dev eth0 \\\n"
              "      --announce 198.18.100.0/24 --allow 198.18.0.0/24\n"
              "  crabctl ebpf set --disable\n"
              "  crabctl -j ebpf stats");
    e->add_option("--pin-dir", o->pin_dir, "bpffs directory of the pinned maps and links")
        ->capture_default_str();
    libbpf_set_print(libbpf_print);

    auto* srv = e->add_subcommand("server", "server endpoint: echo the option in SYN-ACKs");
    srv->require_subcommand(1);
    auto* sa = srv->add_subcommand("attach", "attach to a cgroup (start listeners afterwards)");
    sa->add_option("--cgroup", o->cgroup, "cgroup v2 directory")->required();
    sa->add_option("--echo", o->echo, "echo the option: on|off (default off until configured)");
    sa->callback([o] { run_server_attach(*o); });
    auto* sd = srv->add_subcommand("detach", "detach from a cgroup");
    sd->add_option("--cgroup", o->cgroup, "cgroup v2 directory")->required();
    sd->callback([o] { run_server_detach(*o); });

    auto* cli = e->add_subcommand("client", "client endpoint: announce and accept redirects");
    cli->require_subcommand(1);
    auto* ca = cli->add_subcommand("attach", "attach to a cgroup (sockets) and a device (tc)");
    ca->add_option("--cgroup", o->cgroup, "cgroup v2 directory")->required();
    ca->add_option("--dev", o->dev, "network device of the client")->required();
    add_cfg_opts(ca, *o);
    ca->add_option("--max-flows", o->max_flows,
                   "size of the flow table (redirected connections; default " +
                       std::to_string(CRAB_EP_FLOW_MAX) + ")")
        ->check(CLI::Range(1u, 1u << 24));
    ca->add_option("--input-probe", o->input_probe,
                   "check each redirect's source through the input path (netfilter, rp_filter): "
                   "auto (when the kernel has BPF netfilter programs), on, off")
        ->capture_default_str();
    ca->callback([o] { run_client_attach(*o); });
    auto* cd = cli->add_subcommand("detach", "detach from a cgroup and/or a device");
    cd->add_option("--cgroup", o->cgroup, "cgroup v2 directory");
    cd->add_option("--dev", o->dev, "network device of the client");
    cd->callback([o] { run_client_detach(*o); });

    auto* st = e->add_subcommand("set", "change the runtime configuration");
    st->add_flag("--enable", o->enable, "accept redirects (from the allow list)");
    st->add_flag("--disable", o->disable, "refuse every redirect (counted)");
    add_cfg_opts(st, *o);
    st->add_option("--echo", o->echo, "server: echo the option (on|off)");
    st->add_option("--kind", o->kind, "option kind (42 default, 254 = RFC 6994 form)");
    st->add_option("--exid", o->exid, "ExID of the RFC 6994 form");
    st->callback([o] { run_set(*o); });

    auto* ss = e->add_subcommand("stats", "counters, configuration and map sizes");
    ss->callback([o, &g] { run_stats(*o, g); });
}

}  // namespace

CRABCTL_COMMAND(ebpf, setup_ebpf);
