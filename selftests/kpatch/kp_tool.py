#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helpers of the kernel patch selftests (selftests/kpatch).

serve   a long-lived socket helper, one per test and namespace: reads one
        JSON command per line on stdin, answers one JSON line on stdout.
        No scapy: it starts in ~2 s in a TCG guest. Commands ("cmd"):
          connect  id addr port [sport crab minttl filter md5 ao tfo]
                   a non-blocking connect (or a TCP Fast Open sendto with
                   the bytes of "tfo"), socket options set before it
          listen   id port [md5 md5_addr ...]: a listener, socket options
                   set before listen()
          set      id [crab md5 ao]: socket options, after connect
          wait     id [timeout]: {"connected", "error", "peer", "ms"}
          echo     id [size]: send random bytes, {"echo": true} when they
                   come back
          recv     id n: {"data": the next n bytes received}
          sock     id: the socket in /proc/net/tcp by its local port:
                   {"state": "SYN_SENT"..., "peer": "a.b.c.d"}
          close    id
          capture  iface: start recording the TCP SYNs and SYN-ACKs on
                   iface (AF_PACKET, both directions)
          syn      sport dport [timeout]: the first SYN sport -> dport:
                   {"seq", "ack", "kinds" (its option kinds, "2,4,8,42"),
                   "crab" (address in a redirect option, or null), "form"
                   ("42", "254" with ExID 0xC4AB, or null)}
          synack   sport dport [timeout]: the same for the last SYN-ACK
          crabopt  values: on a new socket, TCP_CRAB_REDIRECT read, set
                   to each value, read: {"default", "errors": "0,22,",
                   "final"}
          write    path chunks: write each chunk with its own write(2) on
                   one descriptor: {"errors": "0,22,"} (errno or 0 each)
          read     path: {"value": contents}
attack  a long-lived packet sender (scapy, imported once), same protocol:
          tcp   iface dmac src dst sport dport flags seq ack [opts ttl
                badsum window]: one TCP segment, sent at layer 2 so that
                any source address can be used; "opts" is a list of
                "mss:N", "crab:ADDR" (NOP NOP 42 6 ADDR),
                "crab254:ADDR:EXID" (254 8 EXID ADDR), "md5" (kind 19,
                length 18: the RFC 2385 digest with key "md5key", zeros
                without) or "raw:HEX", padded with NOPs
pcap    FILE: read a capture (pure Python) and print JSON: "tcp", "syn",
        "synack", "rst", "data" counts, "opt42" and "opt254" (segments with
        an option of that kind) and "segs", one entry per SYN or SYN-ACK:
        [flags, sport, dport, kinds, crab address or null, "42" or "254" or
        null]
"""
import ctypes
import errno
import json
import os
import select
import socket
import struct
import sys
import threading
import time

TCP_CRAB_REDIRECT = 50
TCP_MD5SIG = 14
TCP_AO_ADD_KEY = 38
IP_MINTTL = 21
SO_ATTACH_FILTER = 26
MSG_FASTOPEN = 0x20000000
TCP_STATES = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
              "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
              "LISTEN", "CLOSING", "NEW_SYN_RECV"]


def sockaddr_storage(addr):
    sin = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + \
        socket.inet_aton(addr)
    return sin + bytes(128 - len(sin))


def md5sig(addr, key):
    key = key.encode()
    return sockaddr_storage(addr) + struct.pack("=BBHi", 0, 0, len(key), 0) + \
        key.ljust(80, b"\0")


def ao_add(addr, key):
    key = key.encode()
    # struct tcp_ao_add: addr, alg_name[64], ifindex, set_current:1,
    # set_rnext:1, reserved2, prefix, sndid, rcvid, maclen, keyflags,
    # keylen, key[80]
    return sockaddr_storage(addr) + b"hmac(sha1)".ljust(64, b"\0") + \
        struct.pack("=iIHBBBBBB", 0, 0, 0, 32, 100, 100, 0, 0, len(key)) + \
        key.ljust(80, b"\0")


class Helper:
    def __init__(self):
        self.socks = {}
        self.keep = []
        self.t0 = {}
        self.syns = {}
        self.synacks = {}
        self.cv = threading.Condition()

    # ---- sockets ----
    def opts(self, s, c):
        if c.get("crab") is not None:
            s.setsockopt(socket.IPPROTO_TCP, TCP_CRAB_REDIRECT, c["crab"])
        if c.get("minttl"):
            s.setsockopt(socket.IPPROTO_IP, IP_MINTTL, c["minttl"])
        if c.get("filter") == "drop":
            # classic BPF: "ret #0", every segment dropped
            prog = ctypes.create_string_buffer(struct.pack("=HBBI", 0x06, 0, 0, 0))
            self.keep.append(prog)
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                         struct.pack("=HxxxxxxQ", 1, ctypes.addressof(prog)))
        if c.get("md5"):
            s.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG,
                         md5sig(c.get("md5_addr", c.get("addr")), c["md5"]))
        if c.get("ao"):
            s.setsockopt(socket.IPPROTO_TCP, TCP_AO_ADD_KEY,
                         ao_add(c.get("ao_addr", c.get("addr")), c["ao"]))

    def connect(self, c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.opts(s, c)
        if c.get("sport"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", c["sport"]))
        s.setblocking(False)
        self.socks[c["id"]] = s
        self.t0[c["id"]] = time.monotonic()
        if c.get("tfo") is not None:
            try:
                s.sendto(c["tfo"].encode(), MSG_FASTOPEN, (c["addr"], c["port"]))
            except BlockingIOError:
                pass
            return {"ok": True, "sport": s.getsockname()[1]}
        err = s.connect_ex((c["addr"], c["port"]))
        if err not in (0, errno.EINPROGRESS):
            return {"ok": False, "error": os.strerror(err)}
        return {"ok": True, "sport": s.getsockname()[1]}

    def listen(self, c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.opts(s, c)
        s.bind(("0.0.0.0", c["port"]))
        s.listen(64)
        self.socks[c["id"]] = s
        return {"ok": True}

    def set(self, c):
        self.opts(self.socks[c["id"]], c)
        return {"ok": True}

    def wait(self, c):
        s = self.socks[c["id"]]
        _, w, _ = select.select([], [s], [], c.get("timeout", 10))
        res = {"connected": False, "error": None, "peer": None, "ms": None}
        if not w:
            res["error"] = "timeout"
            return res
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            res["error"] = os.strerror(err)
            return res
        try:
            res["peer"] = s.getpeername()[0]
            res["connected"] = True
        except OSError as e:
            res["error"] = str(e)
        res["ms"] = round((time.monotonic() - self.t0[c["id"]]) * 1000)
        return res

    def echo(self, c):
        s = self.socks[c["id"]]
        s.setblocking(True)
        s.settimeout(c.get("timeout", 10))
        data = os.urandom(c.get("size", 512))
        got = b""
        try:
            s.sendall(data)
            while len(got) < len(data):
                d = s.recv(len(data) - len(got))
                if not d:
                    break
                got += d
        except OSError as e:
            return {"echo": False, "error": str(e)}
        return {"echo": got == data}

    def recv(self, c):
        s = self.socks[c["id"]]
        s.setblocking(True)
        s.settimeout(c.get("timeout", 10))
        got = b""
        try:
            while len(got) < c["n"]:
                d = s.recv(c["n"] - len(got))
                if not d:
                    break
                got += d
        except OSError as e:
            return {"data": got.decode(errors="replace"), "error": str(e)}
        return {"data": got.decode(errors="replace")}

    def sock(self, c):
        port = self.socks[c["id"]].getsockname()[1]
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                p = line.split()
                laddr, lport = p[1].split(":")
                if int(lport, 16) != port:
                    continue
                raddr, rport = p[2].split(":")
                peer = socket.inet_ntoa(struct.pack("<I", int(raddr, 16)))
                return {"state": TCP_STATES[int(p[3], 16)], "peer": peer,
                        "port": int(rport, 16)}
        return {"state": None, "peer": None}

    def close(self, c):
        s = self.socks.pop(c["id"], None)
        if s:
            s.close()
        return {"ok": True}

    # ---- capture ----
    def capture(self, c):
        r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        r.bind((c["iface"], 0))
        threading.Thread(target=self.sniff, args=(r,), daemon=True).start()
        return {"ok": True}

    def sniff(self, r):
        while True:
            f = r.recv(65535)
            if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != 6:
                continue
            ihl = (f[14] & 15) * 4
            t = f[14 + ihl:]
            if len(t) < 20:
                continue
            sport, dport, seq, ack = struct.unpack("!HHII", t[:12])
            flags = t[13]
            opt = t[20:(t[12] >> 4) * 4]
            kinds = ",".join(str(k) for k, _ in walk(opt))
            addr, form = crab_of(opt)
            seg = {"seq": seq, "ack": ack, "kinds": kinds, "crab": addr,
                   "form": form}
            with self.cv:
                if flags & 0x12 == 0x02:
                    self.syns.setdefault((sport, dport), seg)
                elif flags & 0x12 == 0x12:
                    self.synacks[(sport, dport)] = seg
                self.cv.notify_all()

    def lookup(self, table, c):
        key = (c["sport"], c["dport"])
        with self.cv:
            self.cv.wait_for(lambda: key in table, c.get("timeout", 10))
            return table.get(key, {"seq": None})

    def syn(self, c):
        return self.lookup(self.syns, c)

    def synack(self, c):
        return self.lookup(self.synacks, c)

    def crabopt(self, c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        res = {"default": struct.unpack("i", s.getsockopt(
            socket.IPPROTO_TCP, TCP_CRAB_REDIRECT, 4))[0], "errors": ""}
        for v in c["values"]:
            try:
                s.setsockopt(socket.IPPROTO_TCP, TCP_CRAB_REDIRECT,
                             struct.pack("i", v))
                res["errors"] += "0,"
            except OSError as e:
                res["errors"] += f"{e.errno},"
        res["final"] = struct.unpack("i", s.getsockopt(
            socket.IPPROTO_TCP, TCP_CRAB_REDIRECT, 4))[0]
        s.close()
        return res

    # ---- sysctl files ----
    def write(self, c):
        fd = os.open(c["path"], os.O_WRONLY)
        errs = ""
        for chunk in c["chunks"]:
            try:
                os.write(fd, chunk.encode())
                errs += "0,"
            except OSError as e:
                errs += f"{e.errno},"
        os.close(fd)
        return {"errors": errs}

    def read(self, c):
        with open(c["path"]) as f:
            return {"value": f.read()}


def walk(opt):
    """(kind, bytes) of each TCP option in @opt; stops at EOL or a bad length."""
    i, out = 0, []
    while i < len(opt):
        k = opt[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opt) or opt[i + 1] < 2 or i + opt[i + 1] > len(opt):
            out.append((k, b""))
            break
        out.append((k, opt[i + 2:i + opt[i + 1]]))
        i += opt[i + 1]
    return out


def crab_of(opt):
    """(address, form) of the first well-formed redirect option, or None."""
    for k, v in walk(opt):
        if k == 42 and len(v) == 4:
            return socket.inet_ntoa(v), "42"
        if k == 254 and len(v) == 6 and v[:2] == b"\xc4\xab":
            return socket.inet_ntoa(v[2:]), "254"
    return None, None


def serve():
    h = Helper()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            c = json.loads(line)
            res = getattr(h, c["cmd"])(c)
        except Exception as e:  # reported to the test, which fails on it
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(res), flush=True)


def md5_sign(c, opt):
    """@opt with its kind 19 option holding the RFC 2385 digest of the
    segment c describes (no payload), keyed with c["md5key"]."""
    import hashlib
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32}
    flags = sum(bits[f] for f in c["flags"])
    tcplen = 20 + len(opt)
    pseudo = socket.inet_aton(c["src"]) + socket.inet_aton(c["dst"]) + \
        struct.pack("!BBH", 0, 6, tcplen)
    hdr = struct.pack("!HHIIBBHHH", c["sport"], c["dport"],
                      c.get("seq", 0) & 0xffffffff, c.get("ack", 0) & 0xffffffff,
                      (5 + len(opt) // 4) << 4, flags, c.get("window", 64240), 0, 0)
    digest = hashlib.md5(pseudo + hdr + c["md5key"].encode()).digest()
    i = opt.index(b"\x13\x12")
    return opt[:i + 2] + digest + opt[i + 18:]


def attack():
    from scapy.all import Ether, IP, TCP, Raw, sendp, conf  # noqa: E402
    conf.verb = 0
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            c = json.loads(line)
            opt = b""
            for o in c.get("opts", []):
                name, _, arg = o.partition(":")
                if name == "mss":
                    opt += struct.pack("!BBH", 2, 4, int(arg))
                elif name == "crab":
                    opt += b"\x01\x01\x2a\x06" + socket.inet_aton(arg)
                elif name == "crab254":
                    a, _, x = arg.partition(":")
                    opt += struct.pack("!BBH", 254, 8, int(x, 16)) + \
                        socket.inet_aton(a)
                elif name == "md5":
                    opt += b"\x01\x01\x13\x12" + bytes(16)
                elif name == "raw":
                    opt += bytes.fromhex(arg)
            opt += b"\x01" * (-len(opt) % 4)
            if c.get("md5key"):
                opt = md5_sign(c, opt)
            tcp = TCP(sport=c["sport"], dport=c["dport"], flags=c["flags"],
                      seq=c.get("seq", 0) & 0xffffffff,
                      ack=c.get("ack", 0) & 0xffffffff,
                      window=c.get("window", 64240), dataofs=5 + len(opt) // 4)
            if c.get("badsum"):
                tcp.chksum = 0xdead
            pkt = Ether(dst=c["dmac"]) / IP(src=c["src"], dst=c["dst"],
                                             ttl=c.get("ttl", 64)) / tcp
            if opt:
                pkt = pkt / Raw(opt)
            sendp(pkt, iface=c["iface"])
            res = {"ok": True}
        except Exception as e:
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(res), flush=True)


def pcap(path):
    res = {"tcp": 0, "syn": 0, "synack": 0, "rst": 0, "data": 0,
           "opt42": 0, "opt254": 0, "segs": []}
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            print(json.dumps(res))
            return
        endian = "<" if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        link = struct.unpack(endian + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            incl = struct.unpack(endian + "IIII", rec)[2]
            p = f.read(incl)
            if link == 1:  # Ethernet
                if len(p) < 14 or p[12:14] != b"\x08\x00":
                    continue
                p = p[14:]
            elif link == 113:  # Linux cooked
                if len(p) < 16 or p[14:16] != b"\x08\x00":
                    continue
                p = p[16:]
            if len(p) < 20 or p[9] != 6:
                continue
            ihl = (p[0] & 15) * 4
            tot = struct.unpack("!H", p[2:4])[0]
            t = p[ihl:tot]
            if len(t) < 20:
                continue
            doff = (t[12] >> 4) * 4
            flags = t[13]
            res["tcp"] += 1
            res["rst"] += bool(flags & 0x04)
            res["data"] += len(t) > doff
            kinds = [k for k, _ in walk(t[20:doff])]
            res["opt42"] += 42 in kinds
            res["opt254"] += 254 in kinds
            if flags & 0x02:
                res["syn" if not flags & 0x10 else "synack"] += 1
                addr, form = crab_of(t[20:doff])
                sport, dport = struct.unpack("!HH", t[:4])
                res["segs"].append(["SA" if flags & 0x10 else "S", sport,
                                    dport, ",".join(map(str, kinds)), addr,
                                    form])
    print(json.dumps(res))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "serve":
        serve()
    elif mode == "attack":
        attack()
    elif mode == "pcap":
        pcap(sys.argv[2])
    else:
        sys.exit(f"usage: {sys.argv[0]} serve|attack|pcap FILE")


if __name__ == "__main__":
    main()
