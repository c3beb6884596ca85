#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Long-lived packet forger of the eBPF endpoint tests (scapy is imported
once per test, never per packet). Runs in the attacker's namespace on the
client's segment; reads one JSON command per line on stdin and answers one
line on stdout.

  {"op": "synack", "dst_mac": M, "src": S, "dst": C, "sport": P, "dport": P,
   "seq": N, "ack": N, "name": A, "kind": 42, "exid": N,
   "badsum": false, "md5": false}
      sends a SYN-ACK from S naming A in the redirect option (kind 42, or
      254 with the ExID), optionally with a broken TCP checksum, a TCP-MD5
      option (kind 19) or a TCP-AO option (kind 29, "ao": true), both with
      made-up MACs; answers "sent". "flags" (default "SA") and "name": null
      make other segments. IPv6 when S has a ':'; the option's form follows
      A's family whatever the segment's (an IPv4 name in an IPv6 segment is
      the wrong length there, and the other way round).
  {"op": "race", "pkts": [SYNACK, SYNACK], "cpus": [0, 1]}
      sends two such SYN-ACKs at the same instant from two threads pinned to
      two CPUs (each a raw AF_PACKET socket); answers "sent".
  {"op": "md5syn", "dst": S, "dport": P, "sport": P, "key": K, "name": A}
      sends a SYN signed with TCP-MD5 (RFC 2385, key K) that also carries the
      redirect option naming A, and answers with the options of the SYN-ACK
      (hex) or "none".
  {"op": "syn", "dst": S, "dport": P, "sport": P, "name": A, "pad": N, "ao": false}
      sends a SYN carrying the redirect option (after N bytes of NOPs, after
      a TCP-AO option with "ao") and answers with the options of the SYN-ACK
      (hex) or "none". IPv6 when S has a ':'; with "dst_mac" the frame goes
      to that MAC (no neighbour discovery by scapy).
  {"op": "ptb6", "src": S, "dst": C, "dst_mac": M, "sport": P, "dport": P,
   "seq": N, "mtu": N}
      sends an ICMPv6 packet too big from S quoting a segment C:dport ->
      S:sport with sequence number N; answers "sent".
"""
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

from scapy.all import IP, TCP, Ether, IPv6, ICMPv6PacketTooBig, conf, get_if_hwaddr, sr1, srp1  # noqa: E402

conf.verb = 0
IFACE = "eth0"


def ip_layer(src, dst, **kw):
    if ":" in dst:
        return IPv6(src=src, dst=dst, hlim=64) if src else IPv6(dst=dst)
    return IP(src=src, dst=dst, **kw) if src else IP(dst=dst)


def redirect_opt(name, kind, exid):
    a = socket.inet_pton(socket.AF_INET6, name) if ":" in name else socket.inet_aton(name)
    if kind == 254:
        return [(254, struct.pack("!H", exid) + a)]
    return [(kind, a), ("NOP", None), ("NOP", None)]


def synack(c):
    opts = [("MSS", 1460)]
    if c.get("md5"):
        opts.append((19, b"\x5a" * 16))
    if c.get("ao"):
        opts.append((29, bytes([1, 1]) + b"\x5a" * 12))  # keyid, rnextkeyid, MAC
    if c.get("name"):
        opts += redirect_opt(c["name"], c.get("kind", 42), c.get("exid", 0xC4AB))
    tcp = TCP(sport=c["sport"], dport=c["dport"], flags=c.get("flags", "SA"), seq=c["seq"],
              ack=c["ack"], window=65535, options=opts)
    if ":" in c["dst"]:
        l3 = IPv6(src=c["src"], dst=c["dst"], hlim=64)
    else:
        l3 = IP(src=c["src"], dst=c["dst"], ttl=64)
    pkt = Ether(src=get_if_hwaddr(IFACE), dst=c["dst_mac"]) / l3 / tcp
    raw = bytearray(bytes(pkt))
    if c.get("badsum"):
        ihl = 40 if ":" in c["dst"] else (raw[14] & 0xF) * 4
        raw[14 + ihl + 17] ^= 0x01  # flip a bit of the TCP checksum
    return bytes(raw)


def send_raw(frames):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((IFACE, 0))
    for f in frames:
        s.send(f)
    s.close()


def race(c):
    frames = [synack(p) for p in c["pkts"]]
    socks = []
    for _ in frames:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((IFACE, 0))
        socks.append(s)
    start = time.monotonic() + 0.05
    cpus = c.get("cpus", [0, 1])

    def go(i):
        try:
            os.sched_setaffinity(0, {cpus[i % len(cpus)]})
        except OSError:
            pass
        while time.monotonic() < start:
            pass
        socks[i].send(frames[i])

    th = [threading.Thread(target=go, args=(i,)) for i in range(len(frames))]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for s in socks:
        s.close()


def md5_digest(ip, tcp_bytes, key):
    """RFC 2385: pseudo-header, TCP header without options (checksum 0), data, key."""
    hdr = bytearray(tcp_bytes[:20])
    hdr[16:18] = b"\0\0"
    doff = (tcp_bytes[12] >> 4) * 4
    data = tcp_bytes[doff:]
    pseudo = (socket.inet_aton(ip.src) + socket.inet_aton(ip.dst) +
              struct.pack("!BBH", 0, 6, len(tcp_bytes)))
    return hashlib.md5(pseudo + bytes(hdr) + data + key.encode()).digest()


def syn(c, md5):
    opts = [("MSS", 1460)]
    if md5:
        opts.append((19, b"\0" * 16))
    if c.get("ao"):
        opts.append((29, bytes([1, 1]) + b"\x5a" * 12))
    opts += [("NOP", None)] * c.get("pad", 0)
    opts += redirect_opt(c["name"], c.get("kind", 42), c.get("exid", 0xC4AB))
    ip = ip_layer(None, c["dst"])
    tcp = TCP(sport=c["sport"], dport=c["dport"], flags="S", seq=1000, options=opts)
    if md5:
        raw = bytes(ip / tcp)
        ihl = (raw[0] & 0xF) * 4
        dig = md5_digest(IP(raw), raw[ihl:], c["key"])
        opts[1] = (19, dig)
        tcp = TCP(sport=c["sport"], dport=c["dport"], flags="S", seq=1000, options=opts)
    if c.get("dst_mac"):
        r = srp1(Ether(src=get_if_hwaddr(IFACE), dst=c["dst_mac"]) / ip / tcp, iface=IFACE, timeout=3)
    else:
        r = sr1(ip / tcp, timeout=3)
    if r is None or not r.haslayer(TCP) or (r[TCP].flags & 0x12) != 0x12:
        return "none"
    return bytes(r[TCP])[20:r[TCP].dataofs * 4].hex()


def ptb6(c):
    quoted = (IPv6(src=c["dst"], dst=c["src"], hlim=64) /
              TCP(sport=c["dport"], dport=c["sport"], flags="A", seq=c["seq"]) / (b"\0" * 1400))
    pkt = (Ether(src=get_if_hwaddr(IFACE), dst=c["dst_mac"]) /
           IPv6(src=c["src"], dst=c["dst"], hlim=64) /
           ICMPv6PacketTooBig(mtu=c["mtu"]) / bytes(quoted)[:1232])
    return bytes(pkt)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            c = json.loads(line)
            op = c["op"]
            if op == "synack":
                send_raw([synack(c)])
                out = "sent"
            elif op == "ptb6":
                send_raw([ptb6(c)])
                out = "sent"
            elif op == "race":
                race(c)
                out = "sent"
            elif op == "md5syn":
                out = syn(c, True)
            elif op == "syn":
                out = syn(c, False)
            else:
                out = "error: unknown op " + op
        except Exception as e:  # the test reads the line and fails
            out = "error: %r" % (e,)
        print(out, flush=True)


if __name__ == "__main__":
    main()
