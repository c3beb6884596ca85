#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Python stand-in for crab-loadgen / crab-benchd (same CLI subset and JSON).

Used by bench/e2e/guest.sh only when the C++ tools (bench/loadgen/) are not
built; every result it writes says "tool": "pyload.py", and the docs name
the tool of each figure. Python adds its own per-request cost (tens of µs
under TCG), the same for every alternative of a run.

    pyload.py server --listen IP:PORT [--size N] [--service-us U] [--one-at-a-time]
    pyload.py client --target IP:PORT --mode crr|rr|poisson [--size N] --samples N
              [--warmup N] [--rate R] [--seed S] --out FILE.json [--hist FILE.csv]
"""
import argparse
import heapq
import json
import math
import random
import selectors
import signal
import socket
import sys
import threading
import time


def addr(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("peer closed")
        b += c
    return b


def server(a):
    lock = threading.Lock() if a.one_at_a_time else None

    def serve(c):
        try:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                try:
                    d = recvn(c, a.size)
                except ConnectionError:
                    return
                if lock:
                    lock.acquire()
                try:
                    if a.service_us:
                        time.sleep(a.service_us / 1e6)
                    c.sendall(d)
                finally:
                    if lock:
                        lock.release()
        except OSError:
            pass
        finally:
            c.close()

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr(a.listen))
    ls.listen(4096)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def pct_ci(xs, p):
    n = len(xs)
    k = p * n
    h = 1.96 * math.sqrt(n * p * (1 - p))
    lo, hi = max(0, int(math.floor(k - h))), min(n - 1, int(math.ceil(k + h)) + 1)
    return [xs[lo], xs[hi]]


def rank_autocorr(xs):
    n = len(xs)
    if n < 3:
        return None
    order = sorted(range(n), key=lambda i: xs[i])
    r = [0] * n
    for rank, i in enumerate(order):
        r[i] = rank
    m = (n - 1) / 2.0
    num = sum((r[i] - m) * (r[i + 1] - m) for i in range(n - 1))
    den = sum((x - m) ** 2 for x in r)
    return num / den if den else 0.0


def one_crr(t, msg):
    s = socket.create_connection(t, timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(msg)
    recvn(s, len(msg))
    s.close()


def client(a):
    t = addr(a.target)
    msg = b"x" * a.size
    lat, errors, total = [], 0, a.samples + a.warmup
    offered = achieved = None
    t_start = time.perf_counter()
    if a.mode == "crr":
        for i in range(total):
            t0 = time.perf_counter()
            try:
                one_crr(t, msg)
                if i >= a.warmup:
                    lat.append((time.perf_counter() - t0) * 1e6)
            except OSError:
                errors += 1
    elif a.mode == "rr":
        s = socket.create_connection(t, timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(total):
            t0 = time.perf_counter()
            try:
                s.sendall(msg)
                recvn(s, len(msg))
                if i >= a.warmup:
                    lat.append((time.perf_counter() - t0) * 1e6)
            except OSError:
                errors += 1
                s = socket.create_connection(t, timeout=10)
        s.close()
    else:  # poisson, open loop: latency from the scheduled send time
        rng = random.Random(a.seed)
        sched, tt = [], 0.0
        for _ in range(total):
            tt += rng.expovariate(a.rate)
            sched.append(tt)
        sel = selectors.DefaultSelector()
        base = time.perf_counter() + 0.05
        i = done = 0
        pending = {}
        while done < total:
            now = time.perf_counter()
            while i < total and base + sched[i] <= now:
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(t)
                except BlockingIOError:
                    pass
                pending[s] = [i, b""]
                sel.register(s, selectors.EVENT_WRITE)
                i += 1
            nxt = (base + sched[i] - time.perf_counter()) if i < total else 1.0
            for key, ev in sel.select(max(0.0, min(nxt, 1.0))):
                s = key.fileobj
                idx, buf = pending[s]
                try:
                    if ev & selectors.EVENT_WRITE:
                        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            raise OSError(err, "connect")
                        s.send(msg)
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    c = s.recv(a.size - len(buf))
                    if not c:
                        raise OSError("closed")
                    buf += c
                    pending[s][1] = buf
                    if len(buf) < a.size:
                        continue
                    if idx >= a.warmup:
                        lat.append((time.perf_counter() - (base + sched[idx])) * 1e6)
                except OSError:
                    errors += 1
                sel.unregister(s)
                s.close()
                del pending[s]
                done += 1
        dur = time.perf_counter() - base
        offered, achieved = a.rate, total / dur if dur > 0 else None
    series = list(lat)
    xs = sorted(lat)
    n = len(xs)
    res = {"tool": "pyload.py", "mode": a.mode, "target": a.target, "size": a.size, "samples": n,
           "warmup": a.warmup, "errors": errors, "duration_s": time.perf_counter() - t_start}
    if n:
        def q(p):
            return xs[min(n - 1, int(p * n))]
        ra = rank_autocorr(series[:20000])
        res["latency_us"] = {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_ci": pct_ci(xs, 0.99),
                             "p999": q(0.999) if n >= 100000 else None, "mean": sum(xs) / n, "max": xs[-1]}
        res["checks"] = {"stationary": None, "rank_autocorr_lag1": ra,
                         "independent": None if ra is None else abs(ra) < 2 / math.sqrt(n),
                         "interarrival_ad": None}
    res["rate"] = {"offered": offered, "achieved": achieved}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    if a.hist:
        with open(a.hist, "w") as f:
            f.write("latency_us\n")
            f.writelines("%.1f\n" % x for x in series)
    return 0 if n and not errors else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--listen", required=True)
    s.add_argument("--size", type=int, default=8)
    s.add_argument("--service-us", type=int, default=0)
    s.add_argument("--one-at-a-time", action="store_true")
    c = sub.add_parser("client")
    c.add_argument("--target", required=True)
    c.add_argument("--mode", choices=["crr", "rr", "poisson"], required=True)
    c.add_argument("--size", type=int, default=8)
    c.add_argument("--samples", type=int, required=True)
    c.add_argument("--warmup", type=int, default=0)
    c.add_argument("--rate", type=float, default=100.0)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--out", required=True)
    c.add_argument("--hist")
    a = p.parse_args()
    return server(a) if a.cmd == "server" else client(a)


if __name__ == "__main__":
    sys.exit(main())
