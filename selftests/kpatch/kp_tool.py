#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helper of the kernel patch selftests (selftests/kpatch).

connect  one connection with a chosen TCP_CRAB_REDIRECT value, JSON result
         {"connected", "peer", "echo", "mode", "error", "ms"} (ms: how long
         connect() took, in milliseconds)
spoof    send a SYN-ACK carrying the Connection Redirect option (scapy)
isn      print the sequence number of the SYN to --dport from --sport in a pcap
opts     count SYN / SYN-ACK segments in a pcap with and without the option,
         JSON {"syn": [with, without], "synack": [with, without],
         "addrs": [option addresses seen]}
scan     walk the raw TCP options of every segment in a pcap, JSON
         {"tcp", "syn", "synack", "rst", "data", "crab"}: segments, SYNs,
         SYN-ACKs, RSTs, segments with payload, and segments carrying an
         option of kind 42 (raw option walk, not scapy's parse)
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

TCP_CRAB_REDIRECT = 50
TCPOPT_CRAB = 42


def do_connect(a):
    res = {"connected": False, "peer": None, "echo": False, "mode": None,
           "error": None, "ms": None}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if a.mode is not None:
            s.setsockopt(socket.IPPROTO_TCP, TCP_CRAB_REDIRECT, a.mode)
        try:
            res["mode"] = struct.unpack("i", s.getsockopt(
                socket.IPPROTO_TCP, TCP_CRAB_REDIRECT, 4))[0]
        except OSError:
            if a.mode is not None:
                raise
        if a.sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", a.sport))
        s.settimeout(a.wait)
        t0 = time.monotonic()
        s.connect((a.addr, a.port))
        res["ms"] = round((time.monotonic() - t0) * 1000)
        res["connected"] = True
        res["peer"] = s.getpeername()[0]
        data = os.urandom(512)
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            d = s.recv(len(data) - len(got))
            if not d:
                break
            got += d
        res["echo"] = got == data
    except OSError as e:
        res["error"] = str(e)
    finally:
        s.close()
    print(json.dumps(res))
    return 0


def do_spoof(a):
    from scapy.all import IP, TCP, send  # noqa: E402
    opt = (TCPOPT_CRAB, socket.inet_aton(a.opt))
    pkt = IP(src=a.src, dst=a.dst) / TCP(
        sport=a.sport, dport=a.dport, flags="SA", seq=12345678,
        ack=a.ack & 0xffffffff, window=64240,
        options=[("MSS", 1460), ("NOP", None), ("NOP", None), opt])
    send(pkt, verbose=False)
    return 0


def crab_addr(tcp):
    for o in tcp.options:
        if o[0] == TCPOPT_CRAB and isinstance(o[1], bytes) and len(o[1]) == 4:
            return socket.inet_ntoa(o[1])
    return None


def do_isn(a):
    from scapy.all import IP, TCP, rdpcap  # noqa: E402
    try:
        pkts = rdpcap(a.pcap)
    except Exception:  # truncated pcap while tcpdump writes it
        return 1
    for p in pkts:
        if IP in p and TCP in p and p[TCP].flags == "S" and \
           p[TCP].sport == a.sport and p[TCP].dport == a.dport:
            print(p[TCP].seq)
            return 0
    return 1


def do_opts(a):
    from scapy.all import IP, TCP, rdpcap  # noqa: E402
    res = {"syn": [0, 0], "synack": [0, 0], "addrs": []}
    for p in rdpcap(a.pcap):
        if IP not in p or TCP not in p:
            continue
        f = p[TCP].flags
        key = "syn" if f == "S" else "synack" if f == "SA" else None
        if key is None:
            continue
        addr = crab_addr(p[TCP])
        res[key][0 if addr else 1] += 1
        if addr and addr not in res["addrs"]:
            res["addrs"].append(addr)
    print(json.dumps(res))
    return 0


def raw_kinds(hdr):
    """Option kinds of the raw TCP header bytes @hdr (malformed: stop)."""
    kinds = []
    off, end = 20, min(len(hdr), (hdr[12] >> 4) * 4)
    while off < end:
        k = hdr[off]
        if k == 0:
            break
        if k == 1:
            kinds.append(k)
            off += 1
            continue
        if off + 1 >= end or hdr[off + 1] < 2:
            kinds.append(k)
            break
        kinds.append(k)
        off += hdr[off + 1]
    return kinds


def do_scan(a):
    from scapy.all import IP, TCP, rdpcap  # noqa: E402
    res = {"tcp": 0, "syn": 0, "synack": 0, "rst": 0, "data": 0, "crab": 0}
    for p in rdpcap(a.pcap):
        if IP not in p or TCP not in p:
            continue
        ip = p[IP]
        raw = bytes(ip)[ip.ihl * 4:]
        res["tcp"] += 1
        f = p[TCP].flags
        res["syn"] += f == "S"
        res["synack"] += f == "SA"
        res["rst"] += "R" in f
        res["data"] += ip.len - ip.ihl * 4 - (raw[12] >> 4) * 4 > 0
        res["crab"] += TCPOPT_CRAB in raw_kinds(raw)
    print(json.dumps(res))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("connect")
    c.add_argument("--addr", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--sport", type=int, default=0)
    c.add_argument("--mode", type=int, default=None)
    c.add_argument("--wait", type=float, default=10)
    s = sub.add_parser("spoof")
    for n in ("src", "dst", "opt"):
        s.add_argument("--" + n, required=True)
    for n in ("sport", "dport", "ack"):
        s.add_argument("--" + n, type=int, required=True)
    i = sub.add_parser("isn")
    i.add_argument("pcap")
    i.add_argument("--sport", type=int, required=True)
    i.add_argument("--dport", type=int, required=True)
    o = sub.add_parser("opts")
    o.add_argument("pcap")
    o = sub.add_parser("scan")
    o.add_argument("pcap")
    a = ap.parse_args()
    return {"connect": do_connect, "spoof": do_spoof, "isn": do_isn,
            "opts": do_opts, "scan": do_scan}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
