#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Bounded SYN flood at one address:port from spoofed sources (hardening).

Sends hand-made SYNs through a raw socket (IPPROTO_RAW: the kernel fills
the IP checksum and id) from random source addresses of --src-net (a /16)
and random ports, until --count SYNs, --duration seconds or SIGTERM/SIGINT (the test's
"enough"), paced to --rate SYNs per second. Every --legacy-every'th SYN carries no redirect
option (a legacy SYN); the others carry NOP NOP 42 6 <dst> (docs/PROTOCOL.md 2).
Packets are built once, a pool of --pool distinct SYNs (sources, ports
and sequence numbers), and sent round after round. Prints JSON: sent, with_opt,
without_opt, errors (sendto failures), stopped (by a signal), seconds.
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from crabpkt import crab_opt, ipv4_packet, tcp_segment  # noqa: E402

KIND = 42


def syn(src, dst, sport, dport, seq, opt):
    opts = bytes([2, 4, 0x05, 0xB4])  # MSS 1460
    if opt:
        opts += crab_opt(dst, KIND)
    return ipv4_packet(src, dst, tcp_segment(src, dst, sport, dport, seq, 0, 0x02, opts))


def pool(a, dst, base):
    rnd = os.urandom(a.pool * 8)
    out = []
    for i in range(a.pool):
        r = rnd[i * 8:i * 8 + 8]
        src = base[:2] + bytes([r[0], r[1] or 1])
        sport = 1024 + (struct.unpack("!H", r[2:4])[0] % 64000)
        seq = struct.unpack("!I", r[4:8])[0]
        out.append((syn(src, dst, sport, a.port, seq, True),
                    syn(src, dst, sport, a.port, seq, False)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--src-net", default="198.19.0.0")
    p.add_argument("--count", type=int, default=100000)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--rate", type=int, default=10000)
    p.add_argument("--legacy-every", type=int, default=8)
    p.add_argument("--pool", type=int, default=8192)
    a = p.parse_args()
    if a.count < 1 or a.duration <= 0 or a.rate < 1 or a.pool < 1:
        print("synflood: --count, --duration, --rate, --pool must be positive",
              file=sys.stderr)
        return 2
    dst = socket.inet_aton(a.addr)
    base = socket.inet_aton(a.src_net)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = with_opt = errors = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    pkts = pool(a, dst, base)
    t0 = time.monotonic()
    end = t0 + a.duration
    i = 0
    batch = min(256, max(1, a.rate // 100))
    while sent + errors < a.count:
        now = time.monotonic()
        if now >= end or stop:
            break
        # pacing: never ahead of rate * elapsed
        ahead = (sent + errors) / a.rate - (now - t0)
        if ahead > 0:
            time.sleep(ahead)
        for _ in range(min(batch, a.count - sent - errors)):
            if i == len(pkts):
                i = 0
            n = sent + errors
            legacy = a.legacy_every > 0 and n % a.legacy_every == a.legacy_every - 1
            try:
                s.sendto(pkts[i][1 if legacy else 0], (a.addr, 0))
                sent += 1
                with_opt += 0 if legacy else 1
            except OSError:
                errors += 1
            i += 1
    print(json.dumps({"sent": sent, "with_opt": with_opt,
                      "without_opt": sent - with_opt, "errors": errors,
                      "stopped": bool(stop),
                      "seconds": round(time.monotonic() - t0, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
