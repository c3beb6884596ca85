#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The attacker (or hand-made peer) of the endpoint selftests: one
long-lived process per test, in a namespace on the client's segment.

Commands come one per line on stdin; each gets one reply line on stdout,
"ok ..." or "err ...". Packets are built by hand, Ethernet header
included, and sent through an AF_PACKET socket, so that the kernel
rewrites nothing (a raw IP socket fills in a zero source address and
resolves the next hop with the forged source): no scapy, whose import
alone costs 12 s in an emulated guest, and no interpreter start per
packet. IPv4 and IPv6 alike: a packet's family is its addresses'. MAC
addresses come from the kernel's neighbour table (an IP
source on the segment says nothing: the LB forwards the client's SYNs). A sniffer thread reads eth0 through an
AF_PACKET socket and keeps every SYN and SYN-ACK it sees; with MAC learning
off on the bridge (ep_bridge_hub) that is every SYN on the segment, as an
attacker tapping the segment would see it.

  mark                          "ok N": the number of segments seen so far
  syn_from SPORT [TIMEOUT] [after=N]
                                wait for a SYN from port SPORT (after mark
                                N): "ok seq=... src=... dst=... dport=...
                                kinds=K,K,... opt=ADDR|- len=DATA"
  synack_to DPORT [TIMEOUT] [after=N] [dst=ADDR]
                                the same for a SYN-ACK to port DPORT (of ADDR)
  count_synack DPORT [after=N]  "ok N": SYN-ACKs to DPORT seen
  count_syn SPORT [dst=ADDR] [after=N]
                                "ok N": SYNs from SPORT (to ADDR) seen
  syns SPORT N [TIMEOUT] [after=M] [from=IP]
                                wait until N SYNs from SPORT were seen
                                (sent by the host IP, by its MAC address:
                                not the LB's forwarded copies):
                                "ok n=K dst=D1,D2,..."
  synack SRC DST SPORT DPORT ACK [opt=A] [csum=bad] [md5=KEY] [seq=N]
                                [raw=HEX] [ext=dst|frag]
                                send a SYN-ACK (option naming A, of A's
                                family whatever the packet's; a wrong
                                TCP checksum; an RFC 2385 signature; its
                                sequence number, random by default; the
                                option bytes HEX as they are instead of the
                                option; IPv6: behind a destination options
                                header, or a fragment header of a whole
                                packet)
  syn SRC DST SPORT DPORT SEQ [opt=A] [md5=KEY] [raw=HEX]
                                send a SYN
  flood N SRCNET DST DPORT [opt=A]
                                N SYNs from N sources of SRCNET (a /16,
                                "10.99"), random ports and ISNs
  quit

Started with --kind/--exid for the option's encoding (42 by default; 254
is the RFC 6994 form).
"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from crabpkt import crab_opt, ip_packet, opt_walk, opt_kinds, tcp_segment  # noqa: E402

ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
EXT = {"dst": [("dst", 6)], "frag": [("frag", 0, False, 0x4352)]}


class Opts:
    kind = 42
    exid = 0xC4AB


def redir(addr):
    return crab_opt(addr, Opts.kind, Opts.exid)


def opt_addr(opts, v6=False):
    """The first well-formed redirect option's address (of the segment's
    family), else None."""
    r = opt_walk(opts, Opts.kind, Opts.exid, v6)
    return r[0] if r else None


def kinds(opts):
    return opt_kinds(opts)


def tcp_seg(src, dst, sport, dport, seq, ack, flags, opts=b"", md5=None,
            bad_csum=False, data=b""):
    """A TCP segment; with md5 the RFC 2385 option goes first."""
    return tcp_segment(src, dst, sport, dport, seq, ack, flags, opts=opts, data=data,
                       md5key=md5, bad_csum=bad_csum)


class Sniffer:
    def __init__(self, ifname):
        self.segs = []
        self.cv = threading.Condition()
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((ifname, ETH_P_ALL))
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            pkt, addr = self.s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            etype, ip = struct.unpack("!H", pkt[12:14])[0], pkt[14:]
            if etype == ETH_P_IPV6:
                # TCP right after the fixed header only
                if len(ip) < 60 or ip[6] != 6:
                    continue
                ihl, fam, v6 = 40, socket.AF_INET6, True
                src, dst = ip[8:24], ip[24:40]
                iplen = 40 + struct.unpack("!H", ip[4:6])[0]
            elif etype == ETH_P_IP:
                if len(ip) < 40 or ip[9] != 6 or (ip[6] & 0x3F) or ip[7]:
                    continue
                ihl, fam, v6 = (ip[0] & 15) * 4, socket.AF_INET, False
                src, dst = ip[12:16], ip[16:20]
                iplen = struct.unpack("!H", ip[2:4])[0]
            else:
                continue
            tcp = ip[ihl:]
            if len(tcp) < 20 or not tcp[13] & 0x02:
                continue
            doff = (tcp[12] >> 4) * 4
            opts = tcp[20:doff]
            seg = {
                "t": time.monotonic(),
                "mac": pkt[6:12],
                "sa": bool(tcp[13] & 0x10),
                "src": socket.inet_ntop(fam, src),
                "dst": socket.inet_ntop(fam, dst),
                "sport": struct.unpack("!H", tcp[0:2])[0],
                "dport": struct.unpack("!H", tcp[2:4])[0],
                "seq": struct.unpack("!I", tcp[4:8])[0],
                "ack": struct.unpack("!I", tcp[8:12])[0],
                "len": iplen - ihl - doff,
                "doff": doff // 4,
                "kinds": kinds(opts),
                "opt": opt_addr(opts, v6),
            }
            with self.cv:
                self.segs.append(seg)
                self.cv.notify_all()

    def wait(self, pred, timeout, after):
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for s in self.segs[after:]:
                    if pred(s):
                        return s
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)


def fmt(s):
    return "seq=%d ack=%d src=%s dst=%s sport=%d dport=%d kinds=%s opt=%s len=%d doff=%d" % (
        s["seq"], s["ack"], s["src"], s["dst"], s["sport"], s["dport"],
        ",".join(map(str, s["kinds"])) or "-", s["opt"] or "-", s["len"], s["doff"])


def kv(args):
    return dict(a.split("=", 1) for a in args if "=" in a)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dev", default="eth0")
    p.add_argument("--kind", type=int, default=42)
    p.add_argument("--exid", type=lambda v: int(v, 0), default=0xC4AB)
    a = p.parse_args()
    Opts.kind, Opts.exid = a.kind, a.exid
    sn = Sniffer(a.dev)
    with open("/sys/class/net/%s/address" % a.dev) as f:
        mymac = bytes.fromhex(f.read().strip().replace(":", ""))

    macs = {}

    def mac_of(ip):
        if ip in macs:
            return macs[ip]
        # Let the kernel resolve it (from our own address), then read it.
        v6 = ":" in ip
        u = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"", (ip, 9))
        u.close()
        for _ in range(100):
            if v6:
                # no /proc file for the IPv6 neighbours: one ip(8) per address
                w = subprocess.run(["ip", "-6", "neigh", "show", ip, "dev", a.dev],
                                   capture_output=True, text=True).stdout.split()
                if "lladdr" in w:
                    macs[ip] = bytes.fromhex(w[w.index("lladdr") + 1].replace(":", ""))
                    return macs[ip]
                time.sleep(0.05)
                continue
            with open("/proc/net/arp") as f:
                for line in f.read().splitlines()[1:]:
                    w = line.split()
                    if w[0] == ip and w[3] != "00:00:00:00:00:00":
                        macs[ip] = bytes.fromhex(w[3].replace(":", ""))
                        return macs[ip]
            time.sleep(0.05)
        raise OSError("no MAC address for %s" % ip)

    def send(src, dst, seg, via=None, ext=()):
        etype = ETH_P_IPV6 if ":" in dst else ETH_P_IP
        eth = mac_of(via or dst) + mymac + struct.pack("!H", etype)
        sn.s.send(eth + ip_packet(src, dst, seg, ext))

    print("ok ready", flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        c, args = w[0], w[1:]
        try:
            if c == "quit":
                print("ok bye", flush=True)
                return 0
            elif c == "mark":
                with sn.cv:
                    r = "ok %d" % len(sn.segs)
            elif c in ("syn_from", "synack_to"):
                port = int(args[0])
                tmo = float(args[1]) if len(args) > 1 and "=" not in args[1] else 10.0
                after = int(kv(args).get("after", 0))
                dst = kv(args).get("dst")
                if c == "syn_from":
                    s = sn.wait(lambda s: not s["sa"] and s["sport"] == port, tmo, after)
                else:
                    s = sn.wait(lambda s: s["sa"] and s["dport"] == port and
                                (dst is None or s["dst"] == dst), tmo, after)
                r = "ok " + fmt(s) if s else "err timeout"
            elif c == "count_syn":
                port, o = int(args[0]), kv(args)
                after = int(o.get("after", 0))
                with sn.cv:
                    n = sum(1 for s in sn.segs[after:] if not s["sa"] and s["sport"] == port
                            and o.get("dst", s["dst"]) == s["dst"])
                r = "ok %d" % n
            elif c == "syns":
                port, want = int(args[0]), int(args[1])
                tmo = float(args[2]) if len(args) > 2 and "=" not in args[2] else 10.0
                o = kv(args)
                after = int(o.get("after", 0))
                mac = mac_of(o["from"]) if "from" in o else None
                end = time.monotonic() + tmo
                with sn.cv:
                    while True:
                        got = [s["dst"] for s in sn.segs[after:] if not s["sa"] and s["sport"] == port
                               and mac in (None, s["mac"])]
                        left = end - time.monotonic()
                        if len(got) >= want or left <= 0:
                            break
                        sn.cv.wait(left)
                r = "%s n=%d dst=%s" % ("ok" if len(got) >= want else "err", len(got),
                                         ",".join(got) or "-")
            elif c == "count_synack":
                port, after = int(args[0]), int(kv(args).get("after", 0))
                with sn.cv:
                    n = sum(1 for s in sn.segs[after:] if s["sa"] and s["dport"] == port)
                r = "ok %d" % n
            elif c in ("synack", "syn"):
                src, dst, sport, dport, num = args[:5]
                o = kv(args[5:])
                opts = redir(o["opt"]) if "opt" in o else b""
                if "raw" in o:
                    opts = bytes.fromhex(o["raw"])
                else:
                    opts += bytes([2, 4, 0x05, 0xB4])  # MSS 1460
                if c == "synack":
                    seq = int(o["seq"]) if "seq" in o else int.from_bytes(os.urandom(4), "big")
                    seg = tcp_seg(src, dst, int(sport), int(dport), seq,
                                  int(num), 0x12, opts, o.get("md5"),
                                  o.get("csum") == "bad")
                else:
                    seg = tcp_seg(src, dst, int(sport), int(dport), int(num),
                                  0, 0x02, opts, o.get("md5"))
                send(src, dst, seg, ext=EXT[o["ext"]] if "ext" in o else ())
                r = "ok sent"
            elif c == "flood":
                n, net, dst, dport = int(args[0]), args[1], args[2], int(args[3])
                o = kv(args[4:])
                opts = (redir(o["opt"]) if "opt" in o else b"") + bytes([2, 4, 0x05, 0xB4])
                for i in range(n):
                    src = "%s.%d.%d" % (net, 1 + i // 250, 1 + i % 250)
                    sport = 1024 + int.from_bytes(os.urandom(2), "big") % 60000
                    send(src, dst, tcp_seg(src, dst, sport, dport,
                                           int.from_bytes(os.urandom(4), "big"),
                                           0, 0x02, opts))
                r = "ok sent %d" % n
            else:
                r = "err unknown command " + c
        except (IndexError, ValueError, KeyError, OSError) as e:
            r = "err %s: %s" % (c, e)
        print(r, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
