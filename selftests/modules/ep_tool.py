#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Small tools for the endpoint selftests (no scapy: fast to start in a VM).

connect: one connection (IPv6 when --addr has a ':') from a fixed source
         port, blocking up to --wait
         seconds, then an echo exchange; prints JSON {"connected", "peer",
         "echo", "error", "ms"} (ms: connect()'s duration). With --hold
         FILE: after the echo, creates FILE.ready, waits (up to --wait s)
         for FILE to exist, then a second exchange ("echo2") and
         getpeername() again ("peer2"). --md5 KEY: a TCP-MD5 key for the
         peer first (RFC 2385). --tfo: the first data goes in the SYN (TCP
         Fast Open, sendto(MSG_FASTOPEN)). --dev DEV: bound to DEV.
serve:   echo server on --port, one thread per connection (--dual: IPv6
         and IPv4, peers logged without ::ffff:); --md5 KEY
         --md5-peer ADDR sets a TCP-MD5 key for ADDR on the listener;
         --tfo enables Fast Open on it; --log FILE appends one JSON line
         per closed connection: {"peer", "bytes"} (what it received).
spoof:   send hand-made SYN-ACKs through a raw socket; each --pkt is
         "SRC,DST,SPORT,DPORT,ACK,OPTADDR" (OPTADDR "-" = no option).
pcap:    list the SYN and SYN-ACK segments of a pcap file (Ethernet or
         Linux cooked), one JSON object per line: flags, addresses, ports,
         seq and the address named by the redirect option (or null).
isn:     print the seq of the first SYN from source port --sport in a pcap.
replay:  send again, through a raw socket, the first SYN-ACK of a pcap to
         destination port --dport: the captured IP packet unchanged but its
         TCP checksum (a veth capture may hold a partial one).
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from crabpkt import TCP_MD5SIG, crab_opt, csum, ipv4_packet, md5sig, opt_addr, tcp_segment  # noqa: E402,F401

KIND = 42


def synack(src, dst, sport, dport, ack, opt):
    opts = crab_opt(opt, KIND) if opt != "-" else b""
    opts += bytes([2, 4, 0x05, 0xB4])  # MSS 1460
    seq = int.from_bytes(os.urandom(4), "big")
    return ipv4_packet(src, dst, tcp_segment(src, dst, sport, dport, seq, ack, 0x12, opts))


def do_serve(a):
    ls = socket.socket(socket.AF_INET6 if a.dual else socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.dual:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if a.md5:
        ls.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(a.md5_peer, a.md5))
    if a.tfo:
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
    ls.bind(("::" if a.dual else "0.0.0.0", a.port))
    ls.listen(128)
    lock = threading.Lock()

    def handle(c, peer):
        n = 0
        with c:
            c.settimeout(60)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    n += len(d)
                    c.sendall(d)
            except OSError:
                pass
        if a.log:
            with lock, open(a.log, "a") as f:
                p = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
                f.write(json.dumps({"peer": p, "bytes": n}) + "\n")

    while True:
        c, peer = ls.accept()
        threading.Thread(target=handle, args=(c, peer), daemon=True).start()


def do_spoof(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for p in a.pkt:
        src, dst, sport, dport, ack, opt = p.split(",")
        s.sendto(synack(src, dst, int(sport), int(dport), int(ack), opt),
                 (dst, 0))
    return 0


def do_connect(a):
    res = {"connected": False, "peer": None, "echo": False, "error": None}
    v6 = ":" in a.addr
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.md5:
        s.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(a.addr, a.md5))
    if a.dev:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.dev.encode())
    s.bind(("::" if v6 else "0.0.0.0", a.sport))
    s.settimeout(a.wait)
    data = os.urandom(1000)
    try:
        t0 = time.monotonic()
        if a.tfo:
            s.sendto(data, socket.MSG_FASTOPEN, (a.addr, a.port))
        else:
            s.connect((a.addr, a.port))
            s.sendall(data)
        res["ms"] = int((time.monotonic() - t0) * 1000)
        res["connected"] = True
        if not a.tfo:   # a Fast Open socket may still be in SYN-SENT here
            res["peer"] = s.getpeername()[0]
        got = b""
        while len(got) < len(data):
            d = s.recv(len(data) - len(got))
            if not d:
                break
            got += d
        res["echo"] = got == data
        res["peer"] = s.getpeername()[0]
        if a.hold:
            open(a.hold + ".ready", "w").close()
            end = time.monotonic() + a.wait
            while not os.path.exists(a.hold) and time.monotonic() < end:
                time.sleep(0.1)
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                d = s.recv(len(data) - len(got))
                if not d:
                    break
                got += d
            res["echo2"] = got == data
            res["peer2"] = s.getpeername()[0]
    except OSError as e:
        res["error"] = str(e)
    s.close()
    print(json.dumps(res))
    return 0


def tcp_opt_addr(opts):
    """The first well-formed redirect option's address (docs/PROTOCOL.md 2), else None."""
    return opt_addr(opts, KIND)


def segments(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "IIII", data[off:off + 16])[2]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:
            l2, etype = 14, struct.unpack("!H", pkt[12:14])[0]
        elif link == 113:
            l2, etype = 16, struct.unpack("!H", pkt[14:16])[0]
        else:
            continue
        if etype != 0x0800 or len(pkt) < l2 + 20:
            continue
        ip = pkt[l2:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or len(ip) < ihl + 20:
            continue
        tcp = ip[ihl:]
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        if not flags & 0x02:
            continue
        yield {
            "raw": ip[:struct.unpack("!H", ip[2:4])[0]],
            "flags": "SA" if flags & 0x10 else "S",
            "src": socket.inet_ntoa(ip[12:16]),
            "dst": socket.inet_ntoa(ip[16:20]),
            "sport": struct.unpack("!H", tcp[0:2])[0],
            "dport": struct.unpack("!H", tcp[2:4])[0],
            "seq": struct.unpack("!I", tcp[4:8])[0],
            "opt": tcp_opt_addr(tcp[20:doff]),
        }


def do_pcap(a):
    for seg in segments(a.file):
        del seg["raw"]
        print(json.dumps(seg, sort_keys=True))
    return 0


def do_isn(a):
    for seg in segments(a.file):
        if seg["flags"] == "S" and seg["sport"] == a.sport:
            print(seg["seq"])
            return 0
    return 1


def do_replay(a):
    for seg in segments(a.file):
        if seg["flags"] != "SA" or seg["dport"] != a.dport:
            continue
        ip = bytearray(seg["raw"])
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:]
        tcp[16:18] = b"\0\0"
        pseudo = bytes(ip[12:20]) + struct.pack("!BBH", 0, 6, len(tcp))
        tcp[16:18] = struct.pack("!H", csum(pseudo + bytes(tcp)))
        ip[ihl:] = tcp
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.sendto(bytes(ip), (seg["dst"], 0))
        print("# replayed SYN-ACK %s:%d -> %s:%d seq %d" %
              (seg["src"], seg["sport"], seg["dst"], seg["dport"], seg["seq"]))
        return 0
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("connect")
    c.add_argument("--addr", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--sport", type=int, required=True)
    c.add_argument("--wait", type=float, default=60)
    c.add_argument("--hold")
    c.add_argument("--md5")
    c.add_argument("--tfo", action="store_true")
    c.add_argument("--dev", help="SO_BINDTODEVICE (a VRF, say)")
    v = sub.add_parser("serve")
    v.add_argument("--port", type=int, required=True)
    v.add_argument("--md5")
    v.add_argument("--md5-peer")
    v.add_argument("--tfo", action="store_true")
    v.add_argument("--dual", action="store_true", help="IPv6 and IPv4 (v4-mapped)")
    v.add_argument("--log")
    s = sub.add_parser("spoof")
    s.add_argument("--pkt", action="append", required=True)
    f = sub.add_parser("pcap")
    f.add_argument("file")
    i = sub.add_parser("isn")
    i.add_argument("file")
    i.add_argument("--sport", type=int, required=True)
    r = sub.add_parser("replay")
    r.add_argument("file")
    r.add_argument("--dport", type=int, required=True)
    a = p.parse_args()
    return {"connect": do_connect, "serve": do_serve, "spoof": do_spoof, "pcap": do_pcap,
            "isn": do_isn, "replay": do_replay}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
