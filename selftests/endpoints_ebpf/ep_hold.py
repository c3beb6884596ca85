#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Long-lived socket holder of the eBPF endpoint tests: opens and keeps TCP
sockets on command (one process per test, in the client's namespace and
cgroup). Reads one command per line on stdin, answers one line on stdout.

  connect ADDR PORT [LPORT] [md5=KEY]
      non-blocking connect (IPv6 when ADDR has a ':', v4-mapped included) (from local port LPORT if given, with a TCP-MD5
      key for ADDR if given); answers the local port. The socket stays in
      SYN-SENT until answered.
  md5 LPORT KEY ADDR  adds a TCP-MD5 key for ADDR to that socket: "ok"
  wait LPORT SECS     waits until the connection is up: "up PEER" or "down ERR"
  echo LPORT N        sends N random bytes and reads them back: "ok" or "fail ..."
  close LPORT         closes the socket: "ok"
  listen PORT [v6|dual] [md5=ADDR:KEY]   a listener (IPv6 only with v6, IPv6
                      and v4-mapped IPv4 with dual), with a TCP-MD5 key for
                      ADDR if given: "ok"
  serve PORT FILE     in a thread, accepts every connection on that listener
                      and echoes each, keeping the count of accepted ones in
                      FILE: "ok"
  conns ADDR PORT N SECS   N connections one after the other, each echoing
                      100 bytes (SECS per connection): "ok N" or
                      "fail K ERROR" (the K-th failed first)
  accept PORT SECS [sink]   in a thread, accepts one connection on that
                      listener (SECS at most) and echoes until closed, or
                      (sink) reads until the peer's FIN and answers the byte
                      count; answers "ok" at once
  tfo ADDR PORT N     a connection opened by sendto(MSG_FASTOPEN) of N bytes
                      (TCP Fast Open: the data rides in the SYN once a cookie
                      is cached), echo read back, closed: "ok PEER" or "fail"
  bulk LPORT N SECS   sends N bytes, closes its sending side and reads the
                      peer's answer: "ok ANSWER" or "fail ..." (SECS at most)
"""
import os
import select
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from crabpkt import TCP_MD5SIG, md5sig  # noqa: E402

socks = {}
listeners = {}


def opts(words):
    return dict(w.split("=", 1) for w in words if "=" in w)


def echo_thread(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    c.close()


def sink_thread(c):
    n = 0
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
        c.sendall(str(n).encode())
    except OSError:
        pass
    c.close()


def cmd(words):
    op = words[0]
    if op == "connect":
        addr, port = words[1], int(words[2])
        o = opts(words[3:])
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if len(words) > 3 and "=" not in words[3]:
            s.bind(("::" if ":" in addr else "", int(words[3])))
        if "md5" in o:
            s.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(addr, o["md5"]))
        s.setblocking(False)
        try:
            s.connect((addr, port))
        except BlockingIOError:
            pass
        lport = s.getsockname()[1]
        socks[lport] = s
        return str(lport)
    if op == "md5":
        socks[int(words[1])].setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG,
                                        md5sig(words[3], words[2]))
        return "ok"
    if op == "wait":
        s = socks[int(words[1])]
        _, w, _ = select.select([], [s], [], float(words[2]))
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if not w or err:
            return "down %s" % (os.strerror(err) if err else "timeout")
        s.setblocking(True)
        s.settimeout(10)
        return "up " + s.getpeername()[0]
    if op == "echo":
        s = socks[int(words[1])]
        data = os.urandom(int(words[2]))
        try:
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                c = s.recv(len(data) - len(got))
                if not c:
                    return "fail closed"
                got += c
        except OSError as e:
            return "fail %s" % e
        return "ok" if got == data else "fail data"
    if op == "close":
        socks.pop(int(words[1])).close()
        return "ok"
    if op == "listen":
        port = int(words[1])
        o = opts(words[2:])
        v6 = "v6" in words[2:] or "dual" in words[2:]
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if "dual" in words[2:] else 1)
        if "md5" in o:
            a, k = o["md5"].split(":", 1)
            s.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(a, k))
        s.bind(("::" if v6 else "", port))
        s.listen(16)
        listeners[port] = s
        return "ok"
    if op == "accept":
        s = listeners[int(words[1])]
        s.settimeout(float(words[2]))
        fn = sink_thread if words[3:] == ["sink"] else echo_thread

        def acc():
            try:
                c, _ = s.accept()
            except OSError:
                return
            fn(c)
        threading.Thread(target=acc, daemon=True).start()
        return "ok"
    if op == "serve":
        s = listeners[int(words[1])]
        path = words[2]

        def serve():
            n = 0
            while True:
                try:
                    c, _ = s.accept()
                except OSError:
                    return
                n += 1
                with open(path + ".tmp", "w") as f:
                    f.write("%d\n" % n)
                os.rename(path + ".tmp", path)
                threading.Thread(target=echo_thread, args=(c,), daemon=True).start()
        threading.Thread(target=serve, daemon=True).start()
        return "ok"
    if op == "conns":
        addr, port, n, secs = words[1], int(words[2]), int(words[3]), float(words[4])
        for i in range(n):
            try:
                s = socket.create_connection((addr, port), timeout=secs)
                data = os.urandom(100)
                s.sendall(data)
                got = b""
                while len(got) < len(data):
                    c = s.recv(len(data) - len(got))
                    if not c:
                        raise OSError("closed")
                    got += c
                s.close()
                if got != data:
                    raise OSError("data differs")
            except OSError as e:
                return "fail %d %s" % (i, e)
        return "ok %d" % n
    if op == "tfo":
        data = os.urandom(int(words[3]))
        s = socket.socket(socket.AF_INET6 if ":" in words[1] else socket.AF_INET)
        try:
            # blocking: a cookie-less sendto() waits for the handshake
            s.sendto(data, socket.MSG_FASTOPEN, (words[1], int(words[2])))
            s.settimeout(10)
            got = b""
            while len(got) < len(data):
                c = s.recv(len(data) - len(got))
                if not c:
                    return "fail closed"
                got += c
            peer = s.getpeername()[0]
        except OSError as e:
            return "fail %s" % e
        finally:
            s.close()
        return ("ok " + peer) if got == data else "fail data"
    if op == "bulk":
        s = socks[int(words[1])]
        s.settimeout(float(words[3]))
        try:
            s.sendall(b"\x5a" * int(words[2]))
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                d = s.recv(100)
                if not d:
                    break
                got += d
        except OSError as e:
            return "fail %s" % e
        return "ok " + got.decode()
    return "error: unknown command " + op


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            out = cmd(words)
        except Exception as e:  # the test reads the line and fails
            out = "error: %r" % (e,)
        print(out, flush=True)


if __name__ == "__main__":
    main()
