#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Closed-loop CRR and RR latency through the VIP (one outstanding request).

crr: N times connect, send SIZE bytes, read the echo, close; one sample per
     connection (connect to last byte back).
rr:  K connections opened first, then N request/responses of SIZE bytes
     spread round-robin over them; one sample per request.
Prints JSON: samples, p50, p99 with its 95 % confidence interval (the
sorted samples j..k of BENCHMARKING.md), mean, failures; microseconds.
"""
import argparse
import json
import math
import os
import socket
import time


def recv_exact(s, n):
    got = b""
    while len(got) < n:
        d = s.recv(n - len(got))
        if not d:
            raise OSError("closed during echo")
        got += d
    return got


def summary(lat, failed):
    s = sorted(lat)
    n = len(s)
    out = {"samples": n, "failed": failed}
    if not n:
        return out
    out["p50_us"] = round(s[int(0.5 * n)], 1)
    out["p99_us"] = round(s[min(n - 1, math.ceil(0.99 * n) - 1)], 1)
    half = 1.96 * math.sqrt(n * 0.99 * 0.01)
    j = max(0, math.floor(n * 0.99 - half) - 1)
    k = min(n - 1, math.ceil(n * 0.99 + half))
    out["p99_ci95_us"] = [round(s[j], 1), round(s[k], 1)]
    out["mean_us"] = round(sum(s) / n, 1)
    return out


def crr(a):
    lat, failed = [], 0
    payload = os.urandom(a.size)
    for _ in range(a.count):
        t0 = time.perf_counter_ns()
        try:
            s = socket.create_connection((a.addr, a.port), timeout=a.timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(payload)
            if recv_exact(s, a.size) != payload:
                raise OSError("echo mismatch")
            s.close()
        except OSError:
            failed += 1
            continue
        lat.append((time.perf_counter_ns() - t0) / 1000.0)
    return summary(lat, failed)


def rr(a):
    lat, failed = [], 0
    payload = os.urandom(a.size)
    socks = []
    for _ in range(a.conns):
        s = socket.create_connection((a.addr, a.port), timeout=a.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    for i in range(a.count):
        s = socks[i % len(socks)]
        t0 = time.perf_counter_ns()
        try:
            s.sendall(payload)
            if recv_exact(s, a.size) != payload:
                raise OSError("echo mismatch")
        except OSError:
            failed += 1
            continue
        lat.append((time.perf_counter_ns() - t0) / 1000.0)
    for s in socks:
        s.close()
    return summary(lat, failed)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["crr", "rr"])
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--conns", type=int, default=6, help="rr: connections")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()
    print(json.dumps(crr(a) if a.mode == "crr" else rr(a)))


if __name__ == "__main__":
    main()
