#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Packets for the DPDK LB selftests (scapy).

    lbd_pkt.py send --vip IP --port P --count N --sport S [--opt] [--opt-addr A]
        SYNs from this namespace to VIP:P (kernel routing: via the LB);
        --opt adds the redirect option NOP NOP 42 6 ADDR (default ADDR: VIP).
    lbd_pkt.py check --pcap FILE --dip IP --vip IP
        prints JSON {"syn": n, "dst": {ip: n}, "opt": {addr: n}, "csum_bad": n}
        for the TCP SYNs in FILE; checksums recomputed by scapy.
"""
import argparse
import json
import logging
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, TCP, rdpcap, send  # noqa: E402

KIND = 42


def cmd_send(a):
    pkts = []
    for i in range(a.count):
        opts = [("MSS", 1460)]
        if a.opt:
            addr = bytes(int(x) for x in (a.opt_addr or a.vip).split("."))
            opts += [("NOP", None), ("NOP", None), (KIND, addr)]
        pkts.append(IP(dst=a.vip) / TCP(sport=a.sport + i, dport=a.port, flags="S", seq=1000 + i, options=opts))
    send(pkts, verbose=False, inter=0.002)
    return 0


def redirect_addr(tcp):
    for kind, val in tcp.options:
        if kind == KIND and isinstance(val, bytes) and len(val) == 4:
            return ".".join(str(b) for b in val)
    return None


def cmd_check(a):
    res = {"syn": 0, "dst": {}, "opt": {}, "csum_bad": 0}
    try:
        pkts = rdpcap(a.pcap)
    except Exception:  # empty or missing capture: nothing seen
        pkts = []
    for p in pkts:
        if IP not in p or TCP not in p or not (p[TCP].flags & 0x02) or (p[TCP].flags & 0x10):
            continue
        res["syn"] += 1
        ip = p[IP]
        res["dst"][ip.dst] = res["dst"].get(ip.dst, 0) + 1
        addr = redirect_addr(p[TCP])
        if addr:
            res["opt"][addr] = res["opt"].get(addr, 0) + 1
        raw = bytes(ip)
        fresh = IP(raw)
        del fresh.chksum
        del fresh[TCP].chksum
        fresh = IP(bytes(fresh))
        if fresh.chksum != ip.chksum or fresh[TCP].chksum != ip[TCP].chksum:
            res["csum_bad"] += 1
    print(json.dumps(res))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--vip", required=True)
    s.add_argument("--port", type=int, default=80)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--sport", type=int, default=20000)
    s.add_argument("--opt", action="store_true")
    s.add_argument("--opt-addr")
    c = sub.add_parser("check")
    c.add_argument("--pcap", required=True)
    c.add_argument("--dip")
    c.add_argument("--vip")
    a = ap.parse_args()
    return cmd_send(a) if a.cmd == "send" else cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
