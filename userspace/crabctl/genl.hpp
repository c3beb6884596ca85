// SPDX-License-Identifier: GPL-2.0-only
// A small RAII generic-netlink client over libmnl, for every crabctl part
// that talks to a kernel family: resolve the family id, send a request and
// wait for its ack (with the kernel's extack message in the error), run a
// dump, build (nested) attributes and parse them back.
//
//   crab::genl::Socket s;
//   auto fam = s.resolve("crab_lb");               // throws kExitNoSupport if absent
//   auto req = s.request(fam, CMD, VERSION);        // NLM_F_REQUEST | NLM_F_ACK
//   req.put_u32(ATTR, v);
//   { auto n = req.nest(ATTR_NEST); req.put_u8(...); }   // closed at scope end
//   s.transact(req, [](const crab::genl::Attrs& a) { ... });  // replies, then ack
#pragma once

#include <cstdint>
#include <array>
#include <functional>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;
struct nlattr;

namespace crab::genl {

// Attributes of one level, indexed by type (later duplicates win; use
// for_each() for repeated types such as list entries).
class Attrs {
public:
    Attrs() = default;
    Attrs(const void* data, size_t len, uint16_t maxtype);
    static Attrs nested(const nlattr* a, uint16_t maxtype);

    bool has(uint16_t t) const { return t < tb_.size() && tb_[t]; }
    uint8_t u8(uint16_t t) const;
    uint16_t u16(uint16_t t) const;
    uint32_t u32(uint16_t t) const;
    uint64_t u64(uint16_t t) const;
    std::array<uint8_t, 16> bytes16(uint16_t t) const;  // an IPv6 address
    std::string str(uint16_t t) const;
    const nlattr* raw(uint16_t t) const { return has(t) ? tb_[t] : nullptr; }
    // Every attribute of type @t directly inside nest @t_nest, in order.
    void for_each(uint16_t t_nest, uint16_t t, const std::function<void(const nlattr*)>& fn) const;

private:
    std::vector<const nlattr*> tb_;
    const nlattr* need(uint16_t t, size_t len) const;
};

class Message {
public:
    class Nest {
    public:
        Nest(Message& m, nlattr* a) : m_(&m), a_(a) {}
        Nest(const Nest&) = delete;
        Nest& operator=(const Nest&) = delete;
        ~Nest();

    private:
        Message* m_;
        nlattr* a_;
    };

    Message(uint16_t type, uint16_t flags, uint8_t cmd, uint8_t version);
    void put_u8(uint16_t t, uint8_t v);
    void put_u16(uint16_t t, uint16_t v);
    void put_u32(uint16_t t, uint32_t v);
    void put_u64(uint16_t t, uint64_t v);
    void put_str(uint16_t t, const std::string& v);
    void put_bytes(uint16_t t, const void* data, size_t len);
    [[nodiscard]] Nest nest(uint16_t t);
    nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }

private:
    void check(size_t len);
    std::vector<char> buf_;
};

using ReplyFn = std::function<void(const Attrs&)>;

class Socket {
public:
    Socket();  // throws crab::Error when netlink is unavailable
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // Family id of @name; throws crab::Error(kExitNoSupport) when the
    // kernel does not know it (module not loaded).
    uint16_t resolve(const std::string& name);
    // Request for @cmd of the resolved family; @dump adds NLM_F_DUMP.
    Message request(uint16_t family, uint8_t cmd, uint8_t version, bool dump = false) const;
    // Send and read replies until the ack (or NLMSG_DONE of a dump); every
    // reply's attributes (maxtype @maxattr) go to @fn. Errors throw
    // crab::Error with the kernel's extack text when there is one.
    void transact(Message& m, uint16_t maxattr = 64, const ReplyFn& fn = nullptr);

private:
    mnl_socket* nl_ = nullptr;
    uint32_t portid_ = 0;
    uint32_t seq_;
};

}  // namespace crab::genl
