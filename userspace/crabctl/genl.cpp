// SPDX-License-Identifier: GPL-2.0-only
// Generic netlink client over libmnl (see genl.hpp).
#include "genl.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "crab/common.hpp"

namespace crab::genl {

namespace {
constexpr size_t kMsgMax = 8192;
}  // namespace

// ---- Attrs -------------------------------------------------------------------

Attrs::Attrs(const void* data, size_t len, uint16_t maxtype) : tb_(size_t(maxtype) + 1, nullptr)
{
    const char* p = static_cast<const char*>(data);
    size_t off = 0;
    // Bounds-checked walk: a truncated or overlong attribute ends it.
    while (off + sizeof(nlattr) <= len) {
        const auto* a = reinterpret_cast<const nlattr*>(p + off);
        if (a->nla_len < sizeof(nlattr) || off + a->nla_len > len)
            break;
        uint16_t t = a->nla_type & NLA_TYPE_MASK;
        if (t <= maxtype)
            tb_[t] = a;
        off += MNL_ALIGN(a->nla_len);
    }
}

Attrs Attrs::nested(const nlattr* a, uint16_t maxtype)
{
    if (!a)
        return Attrs(nullptr, 0, maxtype);
    return Attrs(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), maxtype);
}

const nlattr* Attrs::need(uint16_t t, size_t len) const
{
    if (!has(t))
        throw Error("netlink reply lacks attribute " + std::to_string(t));
    if (mnl_attr_get_payload_len(tb_[t]) < len)
        throw Error("netlink attribute " + std::to_string(t) + " is too short");
    return tb_[t];
}

uint8_t Attrs::u8(uint16_t t) const { return *static_cast<const uint8_t*>(mnl_attr_get_payload(need(t, 1))); }

uint16_t Attrs::u16(uint16_t t) const
{
    uint16_t v;
    std::memcpy(&v, mnl_attr_get_payload(need(t, 2)), 2);
    return v;
}

uint32_t Attrs::u32(uint16_t t) const
{
    uint32_t v;
    std::memcpy(&v, mnl_attr_get_payload(need(t, 4)), 4);
    return v;
}

std::array<uint8_t, 16> Attrs::bytes16(uint16_t t) const
{
    std::array<uint8_t, 16> v{};
    std::memcpy(v.data(), mnl_attr_get_payload(need(t, v.size())), v.size());
    return v;
}

uint64_t Attrs::u64(uint16_t t) const
{
    uint64_t v;
    std::memcpy(&v, mnl_attr_get_payload(need(t, 8)), 8);
    return v;
}

std::string Attrs::str(uint16_t t) const
{
    const nlattr* a = need(t, 0);
    const char* s = static_cast<const char*>(mnl_attr_get_payload(a));
    return std::string(s, strnlen(s, mnl_attr_get_payload_len(a)));
}

void Attrs::for_each(uint16_t t_nest, uint16_t t, const std::function<void(const nlattr*)>& fn) const
{
    if (!has(t_nest))
        return;
    const nlattr* n = tb_[t_nest];
    const char* p = static_cast<const char*>(mnl_attr_get_payload(n));
    size_t len = mnl_attr_get_payload_len(n), off = 0;
    while (off + sizeof(nlattr) <= len) {
        const auto* a = reinterpret_cast<const nlattr*>(p + off);
        if (a->nla_len < sizeof(nlattr) || off + a->nla_len > len)
            break;
        if ((a->nla_type & NLA_TYPE_MASK) == t)
            fn(a);
        off += MNL_ALIGN(a->nla_len);
    }
}

// ---- Message -----------------------------------------------------------------

Message::Message(uint16_t type, uint16_t flags, uint8_t cmd, uint8_t version) : buf_(kMsgMax, 0)
{
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    g->cmd = cmd;
    g->version = version;
}

void Message::check(size_t len)
{
    if (hdr()->nlmsg_len + MNL_ATTR_HDRLEN + MNL_ALIGN(len) > buf_.size())
        throw Error("netlink request too large");
}

void Message::put_u8(uint16_t t, uint8_t v) { check(1); mnl_attr_put_u8(hdr(), t, v); }
void Message::put_u16(uint16_t t, uint16_t v) { check(2); mnl_attr_put_u16(hdr(), t, v); }
void Message::put_u32(uint16_t t, uint32_t v) { check(4); mnl_attr_put_u32(hdr(), t, v); }
void Message::put_u64(uint16_t t, uint64_t v) { check(8); mnl_attr_put_u64(hdr(), t, v); }
void Message::put_str(uint16_t t, const std::string& v) { check(v.size() + 1); mnl_attr_put_strz(hdr(), t, v.c_str()); }
void Message::put_bytes(uint16_t t, const void* data, size_t len)
{
    check(len);
    mnl_attr_put(hdr(), t, len, data);
}

Message::Nest Message::nest(uint16_t t)
{
    check(0);
    return Nest(*this, mnl_attr_nest_start(hdr(), t));
}

Message::Nest::~Nest() { mnl_attr_nest_end(m_->hdr(), a_); }

// ---- Socket ------------------------------------------------------------------

Socket::Socket() : seq_(static_cast<uint32_t>(time(nullptr)))
{
    nl_ = mnl_socket_open(NETLINK_GENERIC);
    if (!nl_)
        throw Error(std::string("cannot open generic netlink socket: ") + std::strerror(errno));
    int one = 1;
    // extack messages, and acks without the echoed request
    mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &one, sizeof(one));
    mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &one, sizeof(one));
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        mnl_socket_close(nl_);
        throw Error(std::string("cannot bind netlink socket: ") + std::strerror(e));
    }
    portid_ = mnl_socket_get_portid(nl_);
}

Socket::~Socket()
{
    if (nl_)
        mnl_socket_close(nl_);
}

Message Socket::request(uint16_t family, uint8_t cmd, uint8_t version, bool dump) const
{
    uint16_t flags = NLM_F_REQUEST | NLM_F_ACK | (dump ? NLM_F_DUMP : 0);
    return Message(family, flags, cmd, version);
}

uint16_t Socket::resolve(const std::string& name)
{
    Message m(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
    m.put_str(CTRL_ATTR_FAMILY_NAME, name);
    uint16_t id = 0;
    try {
        transact(m, CTRL_ATTR_MAX, [&](const Attrs& a) {
            if (a.has(CTRL_ATTR_FAMILY_ID))
                id = a.u16(CTRL_ATTR_FAMILY_ID);
        });
    } catch (const Error& e) {
        throw Error("generic netlink family '" + name + "' not found (is its module loaded?): " + e.what(),
                    kExitNoSupport);
    }
    if (!id)
        throw Error("generic netlink family '" + name + "' has no id", kExitNoSupport);
    return id;
}

void Socket::transact(Message& m, uint16_t maxattr, const ReplyFn& fn)
{
    nlmsghdr* req = m.hdr();
    req->nlmsg_seq = ++seq_;
    if (mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0)
        throw Error(std::string("netlink send failed: ") + std::strerror(errno));

    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
        if (n < 0)
            throw Error(std::string("netlink receive failed: ") + std::strerror(errno));
        int len = static_cast<int>(n);
        for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(h, len);
             h = mnl_nlmsg_next(h, &len)) {
            if (h->nlmsg_seq != req->nlmsg_seq || h->nlmsg_pid != portid_)
                continue;  // a stale reply of an earlier request
            if (h->nlmsg_type == NLMSG_DONE)
                return;
            if (h->nlmsg_type == NLMSG_ERROR) {
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
                    throw Error("truncated netlink error message");
                const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
                if (e->error == 0)
                    return;  // the ack
                std::string msg = std::strerror(-e->error);
                if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
                    size_t off = sizeof(nlmsgerr);
                    if (!(h->nlmsg_flags & NLM_F_CAPPED))
                        off += e->msg.nlmsg_len - sizeof(nlmsghdr);
                    size_t plen = mnl_nlmsg_get_payload_len(h);
                    if (off < plen) {
                        Attrs ext(static_cast<const char*>(mnl_nlmsg_get_payload(h)) + off, plen - off,
                                  NLMSGERR_ATTR_MAX);
                        if (ext.has(NLMSGERR_ATTR_MSG))
                            msg = ext.str(NLMSGERR_ATTR_MSG) + " (" + msg + ")";
                    }
                }
                int code = e->error == -ENOENT ? kExitNotFound
                           : e->error == -EPERM ? kExitError
                                                : kExitError;
                throw Error(msg, code);
            }
            if (fn) {
                const char* p = static_cast<const char*>(mnl_nlmsg_get_payload(h)) + sizeof(genlmsghdr);
                size_t plen = mnl_nlmsg_get_payload_len(h);
                if (plen < sizeof(genlmsghdr))
                    throw Error("truncated generic netlink reply");
                fn(Attrs(p, plen - sizeof(genlmsghdr), maxattr));
            }
            if (!(h->nlmsg_flags & NLM_F_MULTI) && !(req->nlmsg_flags & NLM_F_ACK))
                return;
        }
    }
}

}  // namespace crab::genl
