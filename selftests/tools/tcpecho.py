#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Echo server and checking client for the CRAB selftests.

server: threaded TCP echo server (echoes until the peer closes); with
--accepted FILE it keeps the number of connections accepted in FILE.
client: N connections to ADDR:PORT; each sends random bytes and checks the
echo; reports JSON {"ok", "failed", "peers": {ip: count}, "errors": [...]},
peers taken from getpeername() after the handshake. With --hold all
connections stay open and exchange data --rounds times, --interval apart
(used to show that open connections survive LB changes); a file named by
--ready is created once all are connected; with --stop FILE the rounds
go on (up to --rounds) until FILE exists, and one more runs after. With
--rate R (not with --hold) connection i is started at i/R seconds, by
--parallel threads, for a steady stream of new connections ("late" in
the report: the most any started behind its slot, in seconds).
"""
import argparse
import json
import os
import socket
import sys
import threading
import time


def serve(args):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.bind, args.port))
    ls.listen(1024)

    def handle(c):
        with c:
            c.settimeout(120)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        return
                    c.sendall(d)
            except OSError:
                return

    accepted = 0
    while True:
        c, _ = ls.accept()
        accepted += 1
        if args.accepted:
            # Replaced whole (rename), so a reader never sees half a number.
            with open(args.accepted + ".tmp", "w") as f:
                f.write(f"{accepted}\n")
            os.replace(args.accepted + ".tmp", args.accepted)
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def exchange(s, size):
    data = os.urandom(size)
    s.sendall(data)
    got = b""
    while len(got) < size:
        d = s.recv(size - len(got))
        if not d:
            raise OSError("connection closed by peer during echo")
        got += d
    if got != data:
        raise OSError("echo mismatch")


def client(args):
    res = {"ok": 0, "failed": 0, "peers": {}, "errors": []}
    socks = []
    deadline = time.monotonic() + args.deadline

    def err(msg):
        res["failed"] += 1
        if len(res["errors"]) < 10:
            res["errors"].append(msg)

    lock = threading.Lock()

    def one(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(args.timeout)
        try:
            s.connect((args.addr, args.port))
            peer = s.getpeername()[0]
            exchange(s, args.size)
        except OSError as e:
            s.close()
            with lock:
                err("conn %d: %s" % (i, e))
            return
        with lock:
            res["peers"][peer] = res["peers"].get(peer, 0) + 1
            if args.hold:
                socks.append((s, peer))
            else:
                res["ok"] += 1
        if not args.hold:
            s.close()

    if args.rate and not args.hold:
        start = time.monotonic()
        nxt = [0]
        res["late"] = 0.0

        def worker():
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= args.count:
                    return
                now = time.monotonic()
                if now > deadline:
                    with lock:
                        err("deadline reached before conn %d" % i)
                    continue
                at = start + i / args.rate
                if at > now:
                    time.sleep(at - now)
                else:
                    with lock:
                        res["late"] = max(res["late"], round(now - at, 3))
                one(i)

        ts = [threading.Thread(target=worker) for _ in range(args.parallel)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        res["seconds"] = round(time.monotonic() - start, 3)
    else:
        for i in range(args.count):
            if time.monotonic() > deadline:
                err("deadline reached after %d connections" % i)
                res["failed"] += args.count - i - 1
                break
            one(i)
    if args.hold:
        if args.ready:
            open(args.ready, "w").close()
        alive = list(socks)
        for r in range(args.rounds):
            if args.stop_file and os.path.exists(args.stop_file):
                break
            stop = args.stop and os.path.exists(args.stop)
            time.sleep(args.interval)
            still = []
            for s, peer in alive:
                try:
                    exchange(s, args.size)
                    still.append((s, peer))
                except OSError as e:
                    err("round %d to %s: %s" % (r, peer, e))
                    s.close()
            alive = still
            if stop:
                break
        res["rounds"] = r + 1 if args.rounds else 0
        res["ok"] += len(alive)
        for s, _ in alive:
            s.close()
    print(json.dumps(res, sort_keys=True))
    return 0 if res["failed"] == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--accepted",
                   help="file holding the number of connections accepted so far")
    c = sub.add_parser("client")
    c.add_argument("--addr", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--size", type=int, default=64)
    c.add_argument("--timeout", type=float, default=5.0)
    c.add_argument("--deadline", type=float, default=300.0)
    c.add_argument("--hold", action="store_true")
    c.add_argument("--rounds", type=int, default=3)
    c.add_argument("--interval", type=float, default=1.0)
    c.add_argument("--ready")
    c.add_argument("--stop-file",
                   help="with --hold: end the rounds early once this file exists")
    c.add_argument("--stop", help="with --hold: last round once this file exists")
    c.add_argument("--rate", type=float, default=0,
                   help="new connections per second (steady stream)")
    c.add_argument("--parallel", type=int, default=4,
                   help="threads of the --rate stream")
    c.add_argument("--json", action="store_true", help="(default) JSON output")
    a = p.parse_args()
    if a.cmd == "server":
        serve(a)
        return 0
    return client(a)


if __name__ == "__main__":
    sys.exit(main())
