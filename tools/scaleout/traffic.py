#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Traffic of the scale-out experiment (make scaleout-experiment), one process.

- A steady stream of new connections: connection i is scheduled at i/RATE
  seconds after the start (open loop: a late connection is started late,
  not skipped) by --parallel threads; each connects, sends --size bytes,
  reads the echo and closes. One CSV row per connection (conns.csv):
  sched_s,start_s,connect_ms,total_ms,ok,error   (seconds from the start,
  whose wall-clock time is t0_wall in held.json).
  A connection that needed a SYN retransmission shows a connect time
  above the initial retransmission timeout (1 s).
- --held long-lived connections, opened first, each exchanging --size
  bytes every --held-interval seconds (one thread walks them all) until
  the end; every failure is a row of held.csv (t_s,conn,error), and
  held.json has per connection the rounds done and the longest gap
  between two good exchanges (and when it ended).
The run lasts --duration seconds (the stream's schedule) plus the time
the last connections need. Exit 0 when it ran (failures are data), 1 when
the held connections could not be opened, 2 on a usage error.
"""
import argparse
import csv
import json
import os
import socket
import sys
import threading
import time


def exchange(s, size):
    data = os.urandom(size)
    s.sendall(data)
    got = b""
    while len(got) < size:
        d = s.recv(size - len(got))
        if not d:
            raise OSError("connection closed by peer")
        got += d
    if got != data:
        raise OSError("echo mismatch")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--duration", type=float, default=40)
    p.add_argument("--parallel", type=int, default=16)
    p.add_argument("--held", type=int, default=30)
    p.add_argument("--held-interval", type=float, default=0.1)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--out", required=True, help="directory for conns.csv, held.csv, held.json")
    p.add_argument("--ready", help="file created once the held connections are open")
    a = p.parse_args()
    if a.rate <= 0 or a.duration <= 0 or a.parallel < 1 or a.held < 0:
        print("error: --rate, --duration, --parallel must be positive", file=sys.stderr)
        return 2

    held = []
    for i in range(a.held):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        try:
            s.connect((a.addr, a.port))
            exchange(s, a.size)
        except OSError as e:
            print("error: held connection %d: %s" % (i, e), file=sys.stderr)
            return 1
        held.append(s)
    if a.ready:
        open(a.ready, "w").close()

    t0 = time.monotonic()
    t0_wall = time.time()
    n = int(a.rate * a.duration)
    rows = [None] * n
    nxt = [0]
    lock = threading.Lock()

    def one(i):
        sched = i / a.rate
        now = time.monotonic() - t0
        if sched > now:
            time.sleep(sched - now)
        start = time.monotonic() - t0
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        cms, ok, err = -1.0, 0, ""
        try:
            s.connect((a.addr, a.port))
            cms = (time.monotonic() - t0 - start) * 1000
            exchange(s, a.size)
            ok = 1
        except OSError as e:
            err = str(e) or type(e).__name__
        finally:
            s.close()
        tot = (time.monotonic() - t0 - start) * 1000
        rows[i] = (round(sched, 4), round(start, 4), round(cms, 3), round(tot, 3), ok, err)

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            one(i)

    stop = threading.Event()
    hfail = []
    hstat = [{"rounds": 0, "max_gap_s": 0.0, "max_gap_end_s": None, "failed_at": None} for _ in held]

    def held_loop():
        last = [time.monotonic() - t0] * len(held)
        alive = [True] * len(held)
        while not stop.is_set():
            tick = time.monotonic()
            for k, s in enumerate(held):
                if not alive[k]:
                    continue
                try:
                    exchange(s, a.size)
                    now = time.monotonic() - t0
                    hstat[k]["rounds"] += 1
                    if now - last[k] > hstat[k]["max_gap_s"]:
                        hstat[k]["max_gap_s"] = round(now - last[k], 4)
                        hstat[k]["max_gap_end_s"] = round(now, 4)
                    last[k] = now
                except OSError as e:
                    now = time.monotonic() - t0
                    alive[k] = False
                    hstat[k]["failed_at"] = round(now, 4)
                    hfail.append((round(now, 4), k, str(e) or type(e).__name__))
            left = a.held_interval - (time.monotonic() - tick)
            if left > 0:
                stop.wait(left)

    ht = threading.Thread(target=held_loop)
    ht.start()
    ts = [threading.Thread(target=worker) for _ in range(a.parallel)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    stop.set()
    ht.join()
    for s in held:
        s.close()

    with open(os.path.join(a.out, "conns.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sched_s", "start_s", "connect_ms", "total_ms", "ok", "error"])
        w.writerows(r for r in rows if r)
    with open(os.path.join(a.out, "held.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "conn", "error"])
        w.writerows(hfail)
    with open(os.path.join(a.out, "held.json"), "w") as f:
        json.dump({"t0_wall": t0_wall, "held": len(held), "interval_s": a.held_interval, "failed": len(hfail), "conns": hstat}, f,
                  indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
