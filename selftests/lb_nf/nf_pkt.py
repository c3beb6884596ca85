#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Packet tool of the lb_nf selftests (scapy).

  nf_pkt.py send --dst VIP --dport P [--count N] [--sport S] [--opt KIND]
                 [--opt-addr IP] [--flags S|A|PA] [--payload N] [--ipopts]
      Sends N TCP segments from source ports S, S+1, ... with hand-built TCP
      headers (so malformed options are possible). --opt: none, vip, odd
      (option at an odd address offset), malformed, badlen, full (40 option
      bytes, no redirect option), exp (RFC 6994 form).
  nf_pkt.py check --port P LABEL=PCAP ...
      Reads captures and prints JSON: per label the packets to port P, their
      destinations, redirect option addresses, bad checksums, and per source
      port the labels that saw it.
"""
import argparse
import ipaddress
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from inet_csum import csum  # noqa: E402

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, Raw, rdpcap, send, conf  # noqa: E402

KIND = 42


def tcp_bytes(src, dst, sport, dport, flags, opts, payload, seq):
    assert len(opts) % 4 == 0 and len(opts) <= 40
    doff = 5 + len(opts) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, doff << 4, flags,
                      64240, 0, 0) + opts + payload
    pseudo = (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed +
              struct.pack("!BBH", 0, 6, len(hdr)))
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def make_opts(kind, addr):
    a = ipaddress.IPv4Address(addr).packed
    mss = b"\x02\x04\x05\xb4"
    if kind == "none":
        return mss
    if kind == "vip":
        return mss + b"\x01\x01" + bytes([KIND, 6]) + a
    if kind == "odd":  # MSS, NOP, option (address at odd offset 7), EOL
        return mss + b"\x01" + bytes([KIND, 6]) + a + b"\x00"
    if kind == "malformed":  # an option of length 1 ends the walk
        return mss + b"\x08\x01\x00\x00" + b"\x01\x01" + bytes([KIND, 6]) + a
    if kind == "badlen":  # redirect kind, wrong length: ignored
        return mss + bytes([KIND, 4]) + a[:2]
    if kind == "full":
        return mss + b"\x01" * 36
    if kind == "exp":
        return mss + bytes([254, 8, 0xC4, 0xAB]) + a
    raise SystemExit("unknown --opt %s" % kind)


FLAGS = {"S": 0x02, "A": 0x10, "PA": 0x18, "SA": 0x12, "F": 0x01}


def cmd_send(a):
    conf.verb = 0
    src = a.src or conf.route.route(a.dst)[1]
    pkts = []
    for i in range(a.count):
        sport = a.sport + i
        opts = make_opts(a.opt, a.opt_addr or a.dst)
        t = tcp_bytes(src, a.dst, sport, a.dport, FLAGS[a.flags], opts,
                      b"x" * a.payload, 1000 + i)
        ip = IP(src=src, dst=a.dst, proto=6, ttl=64)
        if a.ipopts:
            ip.options = [b"\x01\x01\x01\x00"]  # NOP NOP NOP EOL: ihl 6
        pkts.append(ip / Raw(t))
    for _ in range(a.repeat):
        send(pkts, inter=a.inter)


def walk(opts):
    """Return (first redirect address or None, malformed)."""
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 2 > len(opts) or opts[i + 1] < 2 or i + opts[i + 1] > len(opts):
            return None, True
        n = opts[i + 1]
        if k == KIND and n == 6:
            return str(ipaddress.IPv4Address(opts[i + 2:i + 6])), False
        i += n
    return None, False


def cmd_check(a):
    out = {"labels": {}, "sports": {}}
    for spec in a.captures:
        label, path = spec.split("=", 1)
        st = {"n": 0, "syn": 0, "dst": {}, "opt": {}, "csum_bad": 0,
              "ttl": {}, "len": {}}
        try:
            pkts = rdpcap(path)
        except Exception:  # an empty capture has no pcap records
            pkts = []
        for p in pkts:
            if IP not in p or p[IP].proto != 6:
                continue
            ipb = bytes(p[IP])[:p[IP].len]
            ihl = (ipb[0] & 15) * 4
            t = ipb[ihl:]
            if len(t) < 20:
                continue
            sport, dport = struct.unpack("!HH", t[:4])
            if dport != a.port:
                continue
            st["n"] += 1
            flags = t[13]
            doff = (t[12] >> 4) * 4
            dst = p[IP].dst
            st["dst"][dst] = st["dst"].get(dst, 0) + 1
            st["ttl"][str(p[IP].ttl)] = st["ttl"].get(str(p[IP].ttl), 0) + 1
            st["len"][str(len(t))] = st["len"].get(str(len(t)), 0) + 1
            pseudo = (ipaddress.IPv4Address(p[IP].src).packed +
                      ipaddress.IPv4Address(dst).packed +
                      struct.pack("!BBH", 0, 6, len(t)))
            if csum(pseudo + t) != 0 or csum(ipb[:ihl]) != 0:
                st["csum_bad"] += 1
            if flags & 0x02:
                st["syn"] += 1
                addr, bad = walk(t[20:doff])
                key = addr or ("malformed" if bad else "none")
                st["opt"][key] = st["opt"].get(key, 0) + 1
            out["sports"].setdefault(str(sport), [])
            if label not in out["sports"][str(sport)]:
                out["sports"][str(sport)].append(label)
        out["labels"][label] = st
    json.dump(out, sys.stdout)
    print()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--src")
    s.add_argument("--dport", type=int, required=True)
    s.add_argument("--sport", type=int, default=20000)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--repeat", type=int, default=1)
    s.add_argument("--inter", type=float, default=0)
    s.add_argument("--opt", default="vip")
    s.add_argument("--opt-addr")
    s.add_argument("--flags", default="S", choices=sorted(FLAGS))
    s.add_argument("--payload", type=int, default=0)
    s.add_argument("--ipopts", action="store_true")
    c = sub.add_parser("check")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("captures", nargs="+")
    a = ap.parse_args()
    cmd_send(a) if a.cmd == "send" else cmd_check(a)


if __name__ == "__main__":
    main()
