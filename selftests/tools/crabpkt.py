# SPDX-License-Identifier: GPL-2.0-only
"""The selftests' one packet helper: the Internet checksum, the redirect
option (build and walk, as include/crab/crab_opt.h does: docs/PROTOCOL.md
section 2), TCP segments and IPv4 and IPv6 packets built by hand (the
family is the addresses'), and the TCP-MD5
socket option. Plain Python (struct, socket, hashlib): no scapy, whose
import alone costs seconds in an emulated guest.

Addresses are strings ("198.18.0.1", "2001:db8::1") or packed bytes.
"""
import hashlib
import socket
import struct

EOL, NOP = 0, 1
KIND_DEFAULT, KIND_EXP, EXID_DEFAULT = 42, 254, 0xC4AB
TCP_MD5SIG = 14     # linux/tcp.h
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def packed(addr):
    """@addr as 4 or 16 network-order bytes."""
    if isinstance(addr, (bytes, bytearray)):
        return bytes(addr)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return socket.inet_pton(fam, addr)


def csum(data):
    """One's complement of the one's complement sum of DATA's 16-bit words
    (an odd length is padded with a zero byte): RFC 1071."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def crab_opt(addr, kind=KIND_DEFAULT, exid=EXID_DEFAULT):
    """The option as senders write it, 4-byte aligned: NOP NOP kind len addr
    (len 6, or 18 for an IPv6 address), or with kind 254 (RFC 6994):
    254 len exid addr (len 8 or 20)."""
    a = packed(addr)
    if kind == KIND_EXP:
        return bytes([KIND_EXP, 4 + len(a)]) + struct.pack("!H", exid) + a
    return bytes([NOP, NOP, kind, 2 + len(a)]) + a


def opt_walk(opts, kind=KIND_DEFAULT, exid=EXID_DEFAULT, v6=False):
    """The first well-formed redirect option of OPTS in a segment of the
    given family: (address string, offset of its kind byte), or None. EOL
    ends the walk, a length < 2 or one running past the end ends it;
    options of the wrong length and other experiments' kind 254 are
    skipped."""
    alen = 16 if v6 else 4
    want = alen + (4 if kind == KIND_EXP else 2)
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == EOL:
            break
        if k == NOP:
            i += 1
            continue
        if i + 2 > len(opts) or opts[i + 1] < 2 or i + opts[i + 1] > len(opts):
            break
        ln = opts[i + 1]
        if k == kind and ln == want:
            a = i + 2
            if kind == KIND_EXP:
                a = i + 4
                if struct.unpack("!H", opts[i + 2:i + 4])[0] != exid:
                    i += ln
                    continue
            fam = socket.AF_INET6 if v6 else socket.AF_INET
            return socket.inet_ntop(fam, bytes(opts[a:a + alen])), i
        i += ln
    return None


def opt_addr(opts, kind=KIND_DEFAULT, exid=EXID_DEFAULT, v6=False):
    """The address of opt_walk()'s option, else None."""
    r = opt_walk(opts, kind, exid, v6)
    return r[0] if r else None


def opt_kinds(opts):
    """The kinds of the options in OPTS, in order, up to EOL or a broken length."""
    out, i = [], 0
    while i < len(opts):
        k = opts[i]
        if k == EOL:
            break
        if k == NOP:
            i += 1
            continue
        out.append(k)
        if i + 2 > len(opts) or opts[i + 1] < 2:
            break
        i += opts[i + 1]
    return out


def pad4(opts):
    """OPTS padded with EOL to a multiple of 4 bytes."""
    return opts + bytes([EOL]) * (-len(opts) % 4)


def tcp_segment(src, dst, sport, dport, seq, ack, flags, opts=b"", data=b"",
                doff=None, md5key=None, bad_csum=False, window=64240):
    """A TCP segment from SRC to DST with its checksum (the IPv4 or, for
    IPv6 addresses, the IPv6 pseudo-header: RFC 8200 8.1).
    OPTS are padded to 4 bytes; DOFF overrides the data offset (a bogus one
    included); with MD5KEY an RFC 2385 option goes first, signed; BAD_CSUM
    spoils the checksum."""
    s, d = packed(src), packed(dst)
    if md5key is not None:
        opts = bytes([19, 18]) + bytes(16) + opts
    opts = pad4(opts)
    if doff is None:
        doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (doff & 15) << 4, flags, window, 0, 0)
    if len(s) == 16:
        pseudo = s + d + struct.pack("!I3xB", 20 + len(opts) + len(data), 6)
    else:
        pseudo = s + d + struct.pack("!BBH", 0, 6, 20 + len(opts) + len(data))
    if md5key is not None:
        # RFC 2385 2.0: pseudo-header, TCP header without options (checksum
        # zero), data, key.
        key = md5key.encode() if isinstance(md5key, str) else md5key
        opts = opts[:2] + hashlib.md5(pseudo + hdr + data + key).digest() + opts[18:]
    seg = hdr + opts + data
    c = csum(pseudo + seg)
    if bad_csum:
        c ^= 0x5A5A
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ipv4_packet(src, dst, payload, ipopts=b"", ident=0, frag=0, mf=False, proto=6, ttl=64):
    """An IPv4 header (with its checksum) and PAYLOAD. Whole packets carry
    DF; FRAG (bytes) and MF make a fragment."""
    ihl = 5 + len(ipopts) // 4
    fo = (frag // 8) | (0x2000 if mf else 0)
    if not mf and not frag:
        fo = 0x4000
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), ident, fo,
                    ttl, proto, 0, packed(src), packed(dst)) + ipopts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6_packet(src, dst, payload, ext=(), proto=6, hlim=64):
    """An IPv6 header, the extension headers EXT and PAYLOAD (next header
    PROTO). EXT: ("dst", N) a destination options header padded with N
    octets of PadN (N + 2 a multiple of 8), ("frag", OFFSET, MORE, ID) a
    fragment header (OFFSET in bytes)."""
    body, nh = payload, proto
    for e in reversed(ext):
        if e[0] == "dst":
            pad = bytes([1, e[1] - 2]) + bytes(e[1] - 2) if e[1] >= 2 else bytes(e[1])
            body = bytes([nh, (2 + len(pad)) // 8 - 1]) + pad + body
            nh = 60
        elif e[0] == "frag":
            body = struct.pack("!BBHI", nh, 0, (e[1] // 8) << 3 | (1 if e[2] else 0),
                               e[3]) + body
            nh = 44
        else:
            raise ValueError("unknown extension header %r" % (e[0],))
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), nh, hlim, packed(src),
                       packed(dst)) + body


def ip_packet(src, dst, payload, ext=()):
    """An IPv4 or IPv6 packet (the family of SRC), whole."""
    if ":" in (src if isinstance(src, str) else "") or len(packed(src)) == 16:
        return ipv6_packet(src, dst, payload, ext)
    return ipv4_packet(src, dst, payload)


def md5sig(addr, key):
    """struct tcp_md5sig (linux/tcp.h) for an IPv4 or IPv6 peer, for setsockopt(TCP_MD5SIG)."""
    if ":" in addr:
        # sockaddr_in6: family, port, flow info, address, scope id
        sa = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 0, 0) + \
            socket.inet_pton(socket.AF_INET6, addr) + struct.pack("=I", 0)
    else:
        sa = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + socket.inet_aton(addr)
    sa += bytes(128 - len(sa))
    return sa + struct.pack("=BBHi", 0, 0, len(key), 0) + key.encode().ljust(80, b"\0")
