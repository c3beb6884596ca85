#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""IPv6 frames for the DPDK LB's tests, without scapy (AF_PACKET, pcap).

    dpdk_ip6.py send IFACE WORD...    TCP SYNs (or NAs) out of IFACE
    dpdk_ip6.py summary PCAP...       one line per capture: its IPv6 SYNs

send words: dmac=, smac=, src=, dst=, sport= (first source port), count=,
opt=ADDR (the 18-byte redirect option naming ADDR; none without it),
flags= (TCP flags, default 0x02), or kind=na with target= (a Neighbour
Advertisement for target=, solicited=0|1, tlla=MAC, hlim=).

summary: "LABEL syn=N dst=ADDR:N[,..] opt=ADDR:N[,..] csum_bad=N" for each
PCAP (LABEL: the file's basename) over IPv6 TCP segments with SYN and no
ACK; dst= and opt= count the destination addresses and the addresses of the
redirect options (kind 42, length 18); csum_bad counts wrong TCP checksums.
"""
import collections
import ipaddress
import os
import socket
import struct
import sys


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def a6(s):
    return ipaddress.IPv6Address(s).packed


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def l4(src, dst, nh, seg):
    ph = src + dst + struct.pack("!IxxxB", len(seg), nh)
    return 0xffff - csum(ph + seg)


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, hlim) + src + dst + payload


def syn(w, sport):
    src, dst = a6(w["src"]), a6(w["dst"])
    opts = b"\x02\x04\x05\xa0"
    if "opt" in w:
        opts += b"\x01\x01\x2a\x12" + a6(w["opt"])
    flags = int(w.get("flags", "0x02"), 0)
    th = struct.pack("!HHIIBBHHH", sport, int(w.get("dport", 80)), 0x1000, 0,
                     (20 + len(opts)) // 4 << 4, flags, 64240, 0, 0) + opts
    th = th[:16] + struct.pack("!H", l4(src, dst, 6, th)) + th[18:]
    return ip6(src, dst, 6, th)


def na(w):
    src, dst, tgt = a6(w["src"]), a6(w["dst"]), a6(w["target"])
    fl = 0x20 | (0x40 if w.get("solicited", "1") == "1" else 0)
    ic = struct.pack("!BBHB3x", 136, 0, 0, fl) + tgt + b"\x02\x01" + mac(w["tlla"])
    ic = ic[:2] + struct.pack("!H", l4(src, dst, 58, ic)) + ic[4:]
    return ip6(src, dst, 58, ic, int(w.get("hlim", 255)))


def send(dev, words):
    w = dict(kv.split("=", 1) for kv in words)
    eth = mac(w["dmac"]) + mac(w["smac"]) + b"\x86\xdd"
    if w.get("kind") == "na":
        frames = [eth + na(w)]
    else:
        s0 = int(w.get("sport", 40000))
        frames = [eth + syn(w, s0 + i) for i in range(int(w.get("count", 1)))]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    for f in frames:
        s.send(f)
    s.close()


def frames(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            _, _, incl, _ = struct.unpack(end + "IIII", rh)
            yield f.read(incl)


def summary(path):
    n, bad = 0, 0
    dst, opt = collections.Counter(), collections.Counter()
    for fr in frames(path):
        off, et = 12, struct.unpack("!H", fr[12:14])[0] if len(fr) >= 14 else 0
        if et == 0x8100:
            off, et = 16, struct.unpack("!H", fr[16:18])[0]
        ip = fr[off + 2:]
        if et != 0x86dd or len(ip) < 40 or ip[6] != 6:
            continue
        plen = struct.unpack("!H", ip[4:6])[0]
        seg = ip[40:40 + plen]
        if len(seg) < 20 or seg[13] & 0x12 != 0x02:
            continue
        n += 1
        dst[str(ipaddress.IPv6Address(ip[24:40]))] += 1
        if l4(ip[8:24], ip[24:40], 6, seg[:16] + b"\0\0" + seg[18:]) != struct.unpack("!H", seg[16:18])[0]:
            bad += 1
        doff = (seg[12] >> 4) * 4
        o, i = seg[20:doff], 0
        while i < len(o):
            if o[i] == 0:
                break
            if o[i] == 1:
                i += 1
                continue
            if i + 2 > len(o) or o[i + 1] < 2:
                break
            if o[i] == 42 and o[i + 1] == 18 and i + 18 <= len(o):
                opt[str(ipaddress.IPv6Address(o[i + 2:i + 18]))] += 1
                break
            i += o[i + 1]
    fmt = lambda c: ",".join(f"{k}:{v}" for k, v in sorted(c.items())) or "-"
    label = os.path.basename(path).split(".")[0]
    print(f"{label} syn={n} dst={fmt(dst)} opt={fmt(opt)} csum_bad={bad}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "summary":
        for p in sys.argv[2:]:
            summary(p)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
