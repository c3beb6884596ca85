#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send hand-built ARP frames out of an interface (AF_PACKET, no scapy).

    dpdk_arp.py IFACE FRAME...

FRAME: comma-separated words op=request|reply, dmac=, smac=, sha=, sip=,
tha=, tip= (sha defaults to smac, tha to 00:..:00, dmac to broadcast).
Every frame is sent once, in order.
"""
import socket
import struct
import sys


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def frame(spec):
    w = dict(kv.split("=", 1) for kv in spec.split(","))
    smac = mac(w["smac"])
    dmac = mac(w.get("dmac", "ff:ff:ff:ff:ff:ff"))
    op = {"request": 1, "reply": 2}[w["op"]]
    sha = mac(w.get("sha", w["smac"]))
    tha = mac(w.get("tha", "00:00:00:00:00:00"))
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + socket.inet_aton(w["sip"]) + tha + \
        socket.inet_aton(w["tip"])
    f = dmac + smac + b"\x08\x06" + arp
    return f + b"\0" * (60 - len(f))


def main():
    dev, specs = sys.argv[1], sys.argv[2:]
    frames = [frame(s) for s in specs]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    for f in frames:
        s.send(f)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
