// SPDX-License-Identifier: GPL-2.0-only
// crabctl ebpf: the eBPF endpoints (endpoints/ebpf/), client and server
// connection redirection without kernel modules.
//
//   crabctl ebpf server attach --cgroup PATH
//   crabctl ebpf server detach --cgroup PATH
//   crabctl ebpf client attach --cgroup PATH --dev DEV [--announce CIDR,...] [--allow CIDR,...]
//   crabctl ebpf client detach --cgroup PATH --dev DEV
//   crabctl ebpf set [--enable|--disable] [--announce CIDRs|any] [--allow CIDRs|any] [--kind K] [--exid X]
//   crabctl [--json] ebpf stats
//
// Maps and cgroup links are pinned under --pin-dir (default /sys/fs/bpf/crab/ep),
// so the configuration outlives crabctl; tc filters stay on the device.
#include <cerrno>
#include <cstring>
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
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

extern "C" {
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <crab/crab_bpf_ep.h>
}

#include "command.hpp"
#include "crab_ep_client.skel.h"
#include "crab_ep_server.skel.h"
#include "crab_ep_tc.skel.h"

namespace {

using crab::Error;
using crab::cli::Globals;

#define CRAB_EP_CNT_NAME(e, n, h) n,
const char* const kCounterNames[] = {CRAB_EP_COUNTERS(CRAB_EP_CNT_NAME)};
#undef CRAB_EP_CNT_NAME

struct EpOptions {
    std::string pin_dir = CRAB_EP_PIN_DIR;
    std::string cgroup;
    std::string dev;
    std::string announce;
    std::string allow;
    bool announce_set = false;
    bool allow_set = false;
    bool enable = false;
    bool disable = false;
    uint32_t kind = 0;
    uint32_t exid = 0;
};

std::string errstr(int err)
{
    return std::strerror(err < 0 ? -err : err);
}

// libbpf's warnings explain verifier and attach failures; debug output is noise.
int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG)
        return 0;
    return vfprintf(stderr, fmt, ap);
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

int open_pinned(const std::string& dir, const char* name)
{
    std::string p = dir + "/" + name;
    int fd = bpf_obj_get(p.c_str());

    if (fd < 0)
        throw Error("'" + p + "' not found: no eBPF endpoint attached (" + errstr(errno) + ")",
                    crab::kExitNotFound);
    return fd;
}

// Parsed, validated configuration change: nothing is written before all of
// it is known to be valid (never a half-applied configuration).
struct CfgChange {
    bool announce_set = false, allow_set = false;
    std::vector<crab::Cidr> announce, allow;
    int enabled = -1;  // -1 keep
    uint32_t kind = 0, exid = 0;
};

std::vector<crab::Cidr> parse_list(const std::string& s)
{
    if (s == "any")
        return {};
    return crab::parse_cidr_list(s);
}

CfgChange parse_change(const EpOptions& o)
{
    CfgChange c;

    if (o.enable && o.disable)
        throw Error("--enable and --disable are exclusive", crab::kExitUsage);
    c.enabled = o.enable ? 1 : o.disable ? 0 : -1;
    if (o.announce_set) {
        c.announce_set = true;
        c.announce = parse_list(o.announce);
    }
    if (o.allow_set) {
        c.allow_set = true;
        c.allow = parse_list(o.allow);
    }
    if (o.kind && o.kind != CRAB_OPT_KIND_DEFAULT && o.kind != CRAB_OPT_KIND_EXP &&
        (o.kind < 2 || o.kind > 253))
        throw Error("bad option kind '" + std::to_string(o.kind) + "' (2..254)", crab::kExitUsage);
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
    if (c.announce_set) {
        // Fill the trie before the data path starts consulting it.
        lpm_replace(annfd.get(), c.announce);
        cfg.announce_any = c.announce.empty();
    }
    if (c.allow_set) {
        lpm_replace(allowfd.get(), c.allow);
        cfg.allow_any = c.allow.empty();
    }
    if (c.enabled >= 0)
        cfg.enabled = c.enabled;
    if (c.kind) {
        cfg.opt.kind = c.kind;
        cfg.opt.exid = c.kind == CRAB_OPT_KIND_EXP ? (c.exid ? c.exid : CRAB_OPT_EXID_DEFAULT) : 0;
    }
    if (bpf_map_update_elem(cfgfd.get(), &zero, &cfg, BPF_ANY))
        throw Error("cannot write the endpoint configuration: " + errstr(errno));
}

// A freshly created configuration (kind 0) gets the defaults: enabled,
// announce to all, accept from any, option kind 42.
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
    cfg.announce_any = 1;
    cfg.allow_any = 1;
    cfg.opt.kind = CRAB_OPT_KIND_DEFAULT;
    cfg.opt.exid = CRAB_OPT_EXID_DEFAULT;
    if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
        throw Error("cannot write the endpoint configuration: " + errstr(errno));
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
std::unique_ptr<Skel, SkelDel<Skel>> open_load(Skel* (*open)(const struct bpf_object_open_opts*),
                                               int (*load)(Skel*), void (*destroy)(Skel*),
                                               const std::string& dir, const char* what)
{
    LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir.c_str());
    std::unique_ptr<Skel, SkelDel<Skel>> s(open(&oo), SkelDel<Skel>{destroy});

    if (!s)
        throw Error(std::string("cannot open the ") + what + " BPF object: " + errstr(errno));
    int err = load(s.get());
    if (err)
        throw Error(std::string("cannot load the ") + what + " BPF object: " + errstr(err),
                    err == -EPERM ? crab::kExitNoSupport : crab::kExitError);
    return s;
}

void run_server_attach(const EpOptions& o)
{
    ensure_pin_dir(o.pin_dir);
    Cgroup cg = open_cgroup(o.cgroup);
    Fd cgfd(cg.fd);
    std::string pin = link_pin(o.pin_dir, "server", cg);
    if (access(pin.c_str(), F_OK) == 0)
        throw Error("the server endpoint is already attached to cgroup '" + o.cgroup + "'");

    auto s = open_load(crab_ep_server_bpf__open_opts, crab_ep_server_bpf__load,
                       crab_ep_server_bpf__destroy, o.pin_dir, "server");
    init_cfg(s->maps.crab_ep_cfg);
    pin_cgroup_link(s->progs.crab_ep_server, cg, pin, o.cgroup);
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

void run_client_attach(const EpOptions& o)
{
    CfgChange c = parse_change(o);
    ensure_pin_dir(o.pin_dir);
    int ifindex = dev_ifindex(o.dev);
    Cgroup cg = open_cgroup(o.cgroup);
    Fd cgfd(cg.fd);
    std::string pin = link_pin(o.pin_dir, "client", cg);
    if (access(pin.c_str(), F_OK) == 0)
        throw Error("the client endpoint is already attached to cgroup '" + o.cgroup + "'");

    auto sk = open_load(crab_ep_client_bpf__open_opts, crab_ep_client_bpf__load,
                        crab_ep_client_bpf__destroy, o.pin_dir, "client");
    auto tc = open_load(crab_ep_tc_bpf__open_opts, crab_ep_tc_bpf__load, crab_ep_tc_bpf__destroy,
                        o.pin_dir, "client tc");
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
    try {
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
        throw;
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
        tc_detach_dir(ifindex, BPF_TC_INGRESS);
        tc_detach_dir(ifindex, BPF_TC_EGRESS);
        any = true;
    }
    if (!any)
        throw Error("client detach needs --cgroup and/or --dev", crab::kExitUsage);
}

void run_set(const EpOptions& o)
{
    CfgChange c = parse_change(o);

    if (!c.announce_set && !c.allow_set && c.enabled < 0 && !c.kind)
        throw Error("nothing to set (--enable, --disable, --announce, --allow, --kind)",
                    crab::kExitUsage);
    apply_change(o.pin_dir, c);
}

uint64_t count_entries(const std::string& dir, const char* name, size_t key_size)
{
    std::string p = dir + "/" + name;
    Fd fd(bpf_obj_get(p.c_str()));
    std::vector<uint8_t> cur(key_size), next(key_size);
    void* prev = nullptr;
    uint64_t n = 0;

    if (fd.get() < 0)
        return 0;
    // Bounded: a map never has more keys than its max_entries.
    while (n <= CRAB_EP_FLOW_MAX + CRAB_EP_PENDING_MAX &&
           bpf_map_get_next_key(fd.get(), prev, next.data()) == 0) {
        n++;
        cur = next;
        prev = cur.data();
    }
    return n;
}

void run_stats(const EpOptions& o, const Globals& g)
{
    Fd fd(open_pinned(o.pin_dir, CRAB_EP_MAP_STATS));
    Fd cfgfd(open_pinned(o.pin_dir, CRAB_EP_MAP_CFG));
    int ncpu = libbpf_num_possible_cpus();
    struct crab_ep_cfg cfg = {};
    uint32_t zero = 0;

    if (ncpu <= 0)
        throw Error("cannot count the possible CPUs: " + errstr(ncpu));
    bpf_map_lookup_elem(cfgfd.get(), &zero, &cfg);
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
        {"pending", count_entries(o.pin_dir, CRAB_EP_MAP_PENDING, sizeof(struct crab_ep_key))},
        {"flows_out", count_entries(o.pin_dir, CRAB_EP_MAP_FLOW_OUT, sizeof(struct crab_ep_key))},
        {"flows_in", count_entries(o.pin_dir, CRAB_EP_MAP_FLOW_IN, sizeof(struct crab_ep_key))},
    };
    nlohmann::ordered_json conf = {
        {"enabled", cfg.enabled != 0},
        {"announce_any", cfg.announce_any != 0},
        {"allow_any", cfg.allow_any != 0},
        {"kind", cfg.opt.kind ? cfg.opt.kind : CRAB_OPT_KIND_DEFAULT},
    };
    if (g.json || g.pretty) {
        nlohmann::ordered_json j = {{"config", conf}, {"counters", counters}, {"maps", maps}};
        crab::cli::print_json(g, j.dump(), j.dump(2));
        return;
    }
    std::cout << "config: enabled " << conf["enabled"] << " announce_any " << conf["announce_any"]
              << " allow_any " << conf["allow_any"] << " kind " << conf["kind"] << "\n";
    for (auto& [k, v] : counters.items())
        std::cout << "  " << k << " " << v << "\n";
    for (auto& [k, v] : maps.items())
        std::cout << "map " << k << " " << v << " entries\n";
}

void add_cfg_opts(CLI::App* c, EpOptions& o)
{
    c->add_option_function<std::string>(
        "--announce", [&o](const std::string& v) { o.announce = v, o.announce_set = true; },
        "destinations whose SYNs announce redirection (CIDR,... or 'any')");
    c->add_option_function<std::string>(
        "--allow", [&o](const std::string& v) { o.allow = v, o.allow_set = true; },
        "sources whose redirects are accepted (CIDR,... or 'any')");
}

void setup_ebpf(CLI::App& root, Globals& g)
{
    auto o = std::make_shared<EpOptions>();
    auto* e = root.add_subcommand("ebpf", "eBPF endpoints: client and server redirection without modules");
    e->require_subcommand(1);
    e->footer("Examples:\n"
              "  crabctl ebpf server attach --cgroup /sys/fs/cgroup/unified/srv\n"
              "  crabctl ebpf client attach --cgroup /sys/fs/cgroup/unified/cli --dev eth0\n"
              "  crabctl ebpf set --disable\n"
              "  crabctl -j ebpf stats");
    e->add_option("--pin-dir", o->pin_dir, "bpffs directory of the pinned maps and links")
        ->capture_default_str();
    libbpf_set_print(libbpf_print);

    auto* srv = e->add_subcommand("server", "server endpoint: echo the option in SYN-ACKs");
    srv->require_subcommand(1);
    auto* sa = srv->add_subcommand("attach", "attach to a cgroup (start listeners afterwards)");
    sa->add_option("--cgroup", o->cgroup, "cgroup v2 directory")->required();
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
    ca->callback([o] { run_client_attach(*o); });
    auto* cd = cli->add_subcommand("detach", "detach from a cgroup and/or a device");
    cd->add_option("--cgroup", o->cgroup, "cgroup v2 directory");
    cd->add_option("--dev", o->dev, "network device of the client");
    cd->callback([o] { run_client_detach(*o); });

    auto* st = e->add_subcommand("set", "change the runtime configuration");
    st->add_flag("--enable", o->enable, "accept redirects");
    st->add_flag("--disable", o->disable, "refuse every redirect (counted)");
    add_cfg_opts(st, *o);
    st->add_option("--kind", o->kind, "option kind (42 default, 254 = RFC 6994 form)");
    st->add_option("--exid", o->exid, "ExID of the RFC 6994 form");
    st->callback([o] { run_set(*o); });

    auto* ss = e->add_subcommand("stats", "counters, configuration and map sizes");
    ss->callback([o, &g] { run_stats(*o, g); });
}

}  // namespace

CRABCTL_COMMAND(ebpf, setup_ebpf);
