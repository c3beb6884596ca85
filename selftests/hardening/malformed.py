#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Malformed-packet generator and checker for the hardening selftests.

Sends every malformed class (docs/PROTOCOL.md 6) at one target and, after
each case, polls the target's counters until the expected increments are
seen (or a deadline passes), then checks that no other watched counter
moved. Packets are built by hand and sent through a raw IPPROTO_RAW socket
(the kernel fills in tot_len and the IP checksum only): no scapy import,
which costs many seconds in an emulated guest, and full control over
truncated headers, bogus doff, IP options and fragments.

Targets (--role):
  lb      SYNs to VIP:PORT through an LB (--dst VIP)
  server  SYNs to a server module's listener (--dst DIP)
  client  SYN-ACKs to a client socket in SYN-SENT (--src = the backend S,
          --dst = the client, --ack = that socket's ISN + 1, so that any
          parse that skipped a check would redirect the socket)

--counters CMD prints the counters (shell command), or "file:PATH" names a
file to read them from (a /proc/PID/net file of a process in the target's
namespace: nothing started per read), or "bpf:PINDIR:ID" reads the XDP
LB's pinned counter maps under PINDIR directly (service id ID; the bpf()
system call, nothing started per read); --fmt says how to read them: "proc"
(/proc/net/crab_client|crab_server: "name value" lines), "nf:SVC" (crabctl
-j lb nf stats), "nfproc:SVC" (/proc/net/crab_lb) or "xdp:SVC" (crabctl -j
lb xdp stats);
global LB counters are named "g.NAME". --expect CASE=NAME+N,... overrides
the built-in expectations; --noise NAME,... lists counters moved by the
background traffic (they are only required to grow by at least the
expected amount). Prints one "ok CASE ..." or "FAIL CASE ..." line per
case and exits 1 when any case failed.
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from crabpkt import crab_opt, ipv4_packet, pad4, tcp_segment  # noqa: E402,F401

KIND = 42
NOP, EOL = 1, 0
NEVER = "203.0.113.7"     # an address the client never dialed (TEST-NET-3)


def redir(addr):
    """The sender form of the option: NOP NOP kind 6 addr."""
    return crab_opt(addr, KIND)


def tcp_bytes(src, dst, sport, dport, seq, ack, flags, opts=b"", data=b"",
              doff=None):
    return tcp_segment(src, dst, sport, dport, seq, ack, flags, opts, data, doff)


def ip_bytes(src, dst, payload, ipopts=b"", ident=0, frag=0, mf=False):
    return ipv4_packet(src, dst, payload, ipopts, ident, frag, mf)


class Gen:
    def __init__(self, a):
        self.a = a
        self.sport = a.sport
        self.ident = 0x4000 + (os.getpid() & 0xFFF)

    def flags(self):
        return 0x12 if self.a.role == "client" else 0x02

    def ports(self):
        """(sport, dport): a fresh source port per SYN; the SYN-SENT
        socket's ports for SYN-ACKs."""
        if self.a.role == "client":
            return self.a.sport, self.a.dport
        self.sport += 1
        return self.sport, self.a.dport

    def ack(self):
        return self.a.ack if self.a.role == "client" else 0

    def named(self):
        """Address a valid option names: for the client one never dialed
        (a parse that reached it is then refused for want of a socket)."""
        return NEVER if self.a.role == "client" else self.a.dst

    def seg(self, opts=b"", data=b"", doff=None):
        sp, dp = self.ports()
        self.last_sport = sp
        return tcp_bytes(self.a.src, self.a.dst, sp, dp,
                         int.from_bytes(os.urandom(4), "big"), self.ack(),
                         self.flags(), opts, data, doff)

    def ip(self, payload, **kw):
        return ip_bytes(self.a.src, self.a.dst, payload, **kw)

    def cases(self):
        """(name, [packets]) for every malformed class."""
        a = self.a
        nm = self.named()
        yield "trunc_tcp_10", [self.ip(self.seg(redir(nm))[:10])]
        yield "trunc_tcp_19", [self.ip(self.seg(redir(nm))[:19])]
        yield "doff_past_packet", [self.ip(self.seg(doff=15))]
        yield "doff_lt_5", [self.ip(self.seg(redir(nm), doff=3))]
        yield "optlen_0", [self.ip(self.seg(bytes([KIND, 0]) + socket.inet_aton(nm)))]
        yield "optlen_1", [self.ip(self.seg(bytes([NOP, NOP, KIND, 1])))]
        yield "optlen_5", [self.ip(self.seg(bytes([KIND, 5]) + socket.inet_aton(nm)[:3]))]
        yield "optlen_7", [self.ip(self.seg(bytes([KIND, 7]) + socket.inet_aton(nm) + b"\x00"))]
        yield "optlen_255", [self.ip(self.seg(bytes([KIND, 255]) + socket.inet_aton(nm) + b"\x01\x01"))]
        # 36 NOPs, then kind 6 addr[0:2]: the option's last 2 bytes would lie
        # past the 40-byte option space (and past doff = 15).
        yield "split_at_40", [self.ip(self.seg(bytes([NOP]) * 36 + bytes([KIND, 6]) + socket.inet_aton(nm)[:2]))]
        yield "nops_40", [self.ip(self.seg(bytes([NOP]) * 40))]
        # First wins: for the client the second names the dialed VIP (with
        # the right ack a redirect), the first an address never dialed.
        second = a.vip if a.role == "client" else "192.0.2.99"
        yield "dup_option", [self.ip(self.seg(redir(nm) + redir(second)))]
        yield "ip_options", [self.ip(self.seg(redir(nm)), ipopts=bytes([NOP] * 4))]
        # A SYN(-ACK) with the option and 32 bytes of data in two fragments;
        # the first (32 bytes, a multiple of 8) holds the whole TCP header.
        self.ident += 1
        seg = self.seg(redir(a.vip if a.role == "client" else nm), data=os.urandom(32))
        yield "fragments", [self.ip(seg[:32], ident=self.ident, mf=True),
                            self.ip(seg[32:], ident=self.ident, frag=32)]
        yield "addr_zero", [self.ip(self.seg(redir("0.0.0.0")))]
        yield "addr_multicast", [self.ip(self.seg(redir("224.0.0.1")))]
        yield "addr_broadcast", [self.ip(self.seg(redir("255.255.255.255")))]
        yield "syn_with_data", [self.ip(self.seg(redir(nm), data=os.urandom(100)))]


# Expected counter increments per role (docs/PROTOCOL.md 2, 3, 6; the counter tables of
# include/crab/crab_ep.h, crab_lb.h, crab_genl_lb.h, crab_xdp.h).
EP_HDR = {"trunc_tcp_10": "hdr_invalid", "trunc_tcp_19": "hdr_invalid",
          "doff_past_packet": "hdr_invalid", "doff_lt_5": "hdr_invalid"}
EP_WALK = {"optlen_0": "opt_malformed", "optlen_1": "opt_malformed",
           "optlen_5": "opt_bad_len", "optlen_7": "opt_bad_len",
           "optlen_255": "opt_malformed", "split_at_40": "opt_malformed",
           "nops_40": None}
EXPECT = {
    "client": dict(
        {k: {v: 1} for k, v in EP_HDR.items()},
        **{k: ({v: 1} if v else {}) for k, v in EP_WALK.items()},
        dup_option={"rej_no_socket": 1}, ip_options={"rej_no_socket": 1},
        fragments={"fragment": 2}, addr_zero={"rej_no_socket": 1},
        addr_multicast={"rej_no_socket": 1},
        addr_broadcast={"rej_no_socket": 1},
        syn_with_data={"rej_no_socket": 1}),
    # LOCAL_IN sees fragments reassembled: a whole SYN with the option.
    "server": dict(
        {k: {v: 1} for k, v in EP_HDR.items()},
        **{k: ({v: 1} if v else {}) for k, v in EP_WALK.items()},
        **{k: {"syn_opt_seen": 1, "synack_echoed": 1} for k in (
            "dup_option", "ip_options", "fragments", "addr_zero",
            "addr_multicast", "addr_broadcast", "syn_with_data")}),
}
_LB_OK = {k: {"syn_redirected": 1} for k in (
    "dup_option", "ip_options", "addr_zero", "addr_multicast",
    "addr_broadcast", "syn_with_data")}


def _lb_expect(hdr_counter):
    """What an LB counts: HDR_COUNTER for a truncated header or a bogus
    doff; a malformed walk or a bad length is counted and the SYN is a
    legacy one (dropped by the test's service); a fragment is dropped,
    counted on the VIP's service; the rest are redirected."""
    return dict(
        {k: {hdr_counter: 1} for k in EP_HDR},
        **{k: {"opt_malformed": 1, "syn_legacy_drop": 1} for k in (
            "optlen_0", "optlen_1", "optlen_255", "split_at_40")},
        optlen_5={"opt_bad_len": 1, "syn_legacy_drop": 1},
        optlen_7={"opt_bad_len": 1, "syn_legacy_drop": 1},
        nops_40={"syn_legacy_drop": 1},
        fragments={"fragment": 2}, **_LB_OK)


EXPECT["nf"] = _lb_expect("g.parse_error")
EXPECT["xdp"] = _lb_expect("g.truncated")
# A case expecting no increment is followed by this one, whose increment
# (seen in order on the same path) proves the first was processed.
SENTINEL = "optlen_0"


class BpfCounters:
    """The XDP LB's counters read from its pinned per-CPU array maps with
    the bpf() system call (no crabctl process per read): the service's
    CRAB_LB_COUNTERS in its entry (key id) of crab_svc_pcpu, struct
    crab_xdp_svc_pcpu (the 24-byte round-robin cursor, then the counters),
    the program's CRAB_XDP_GLOBAL_COUNTERS ("g." names) in crab_glob_cnt,
    each summed over the CPUs. Names and order come from the headers."""
    RR_CURSOR = 24  # struct crab_lb_rr: pos, at (u64), n, i (u32)
    SYS_BPF = 321  # x86_64
    MAP_LOOKUP_ELEM, OBJ_GET = 1, 7

    def __init__(self, pindir, svc_id):
        import ctypes
        import re
        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        inc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "crab")

        def names(header, macro):
            text = open(os.path.join(inc, header)).read()
            body = text[text.index("#define " + macro):]
            body = body[:body.index("\n\n")]
            return re.findall(r'X\(\w+, "(\w+)"', body)
        self.svc_names = names("crab_lb.h", "CRAB_LB_COUNTERS(X)")
        self.glob_names = names("crab_xdp.h", "CRAB_XDP_GLOBAL_COUNTERS(X)")
        with open("/sys/devices/system/cpu/possible") as f:
            self.ncpu = int(f.read().strip().split("-")[-1]) + 1
        self.svc_fd = self.obj_get(os.path.join(pindir, "crab_svc_pcpu"))
        self.glob_fd = self.obj_get(os.path.join(pindir, "crab_glob_cnt"))
        self.svc_id = svc_id

    def bpf(self, cmd, attr):
        buf = self.ctypes.create_string_buffer(attr, 128)
        r = self.libc.syscall(self.SYS_BPF, cmd, buf, 128)
        if r < 0:
            raise OSError(self.ctypes.get_errno(), "bpf(%d)" % cmd)
        return r

    def obj_get(self, path):
        p = self.ctypes.create_string_buffer(path.encode())
        return self.bpf(self.OBJ_GET, struct.pack("=QII", self.ctypes.addressof(p), 0, 0))

    def lookup_raw(self, fd, key, size):
        """The per-CPU values of @key, each @size bytes (a multiple of 8)."""
        k = self.ctypes.create_string_buffer(struct.pack("=I", key), 4)
        v = self.ctypes.create_string_buffer(size * self.ncpu)
        self.bpf(self.MAP_LOOKUP_ELEM, struct.pack("=IIQQQ", fd, 0, self.ctypes.addressof(k),
                                                   self.ctypes.addressof(v), 0))
        return [v.raw[cpu * size:(cpu + 1) * size] for cpu in range(self.ncpu)]

    def lookup(self, fd, key):
        return sum(struct.unpack("=Q", b)[0] for b in self.lookup_raw(fd, key, 8))

    def read(self):
        c = {}
        for i, n in enumerate(self.glob_names):
            c["g." + n] = self.lookup(self.glob_fd, i)
        nsvc = len(self.svc_names)
        cpus = self.lookup_raw(self.svc_fd, self.svc_id, self.RR_CURSOR + 8 * nsvc)
        for i, n in enumerate(self.svc_names):
            c[n] = sum(struct.unpack_from("=Q", b, self.RR_CURSOR + 8 * i)[0] for b in cpus)
        return c


BPF = None


def read_counters(a):
    global BPF
    if a.counters.startswith("bpf:"):
        if BPF is None:
            pindir, _, svc_id = a.counters[4:].rpartition(":")
            BPF = BpfCounters(pindir, int(svc_id))
        return BPF.read()
    if a.counters.startswith("file:"):
        # A /proc file read directly (/proc/PID/net/... of a process in the
        # target's namespace): no process started per read.
        with open(a.counters[5:]) as f:
            out = f.read()
    else:
        out = subprocess.run(a.counters, shell=True, check=True,
                             stdout=subprocess.PIPE).stdout.decode()
    fmt, _, svc = a.fmt.partition(":")
    c = {}
    if fmt == "nfproc":
        # /proc/net/crab_lb: global "name value" lines, then per service a
        # "service VIP:PORT ..." line and its indented "name value" lines.
        cur = None
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 2 and f[0] == "service":
                cur = f[1]
                continue
            if len(f) != 2 or not f[1].isdigit():
                continue
            if cur is None:
                c["g." + f[0]] = int(f[1])
            elif cur == svc:
                c[f[0]] = int(f[1])
        return c
    if fmt == "proc":
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and f[1].isdigit():
                c[f[0]] = int(f[1])
        return c
    j = json.loads(out)
    for k, v in j.get("global", {}).items():
        if isinstance(v, int):
            c["g." + k] = v
    if fmt == "nf":
        s = j["services"][svc]
    else:
        s = [x for x in j["services"] if x["service"] == svc][0]["counters"]
    for k, v in s.items():
        if isinstance(v, int):
            c[k] = v
    return c


def check(before, after, want, noise):
    """None when the increments match, else a description."""
    bad = []
    for k in sorted(set(before) | set(after) | set(want)):
        d = after.get(k, 0) - before.get(k, 0)
        w = want.get(k, 0)
        if k in noise:
            if d < w:
                bad.append("%s +%d (want >= +%d)" % (k, d, w))
        elif d != w:
            bad.append("%s +%d (want +%d)" % (k, d, w))
    return "; ".join(bad) or None


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", choices=("lb", "server", "client"), required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--sport", type=int, default=42000)
    p.add_argument("--ack", type=int, default=0)
    p.add_argument("--vip", default="198.18.100.1")
    p.add_argument("--counters", required=True)
    p.add_argument("--fmt", required=True)
    p.add_argument("--noise", default="")
    p.add_argument("--only", default="", help="comma-separated case names")
    p.add_argument("--wait", type=float, default=20.0,
                   help="seconds to wait for each case's counters")
    a = p.parse_args()
    key = a.role if a.role != "lb" else a.fmt.partition(":")[0].replace("nfproc", "nf")
    expect = EXPECT[key]
    noise = set(filter(None, a.noise.split(",")))
    only = set(filter(None, a.only.split(",")))

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    gen = Gen(a)
    cases, sports = {}, {}
    for name, pkts in gen.cases():
        cases[name] = pkts
        sports[name] = gen.last_sport
    failed = 0
    after = None
    for name, pkts in cases.items():
        if only and name not in only:
            continue
        want = dict(expect[name])
        if not want:
            pkts = pkts + cases[SENTINEL]
            for k, v in expect[SENTINEL].items():
                want[k] = want.get(k, 0) + v
        # The last case's final read is this one's start: counter reads
        # are slow in an emulated guest. A stray increment of a case shows
        # in the next case's check (or the final one) all the same.
        before = after if after is not None else read_counters(a)
        for pkt in pkts:
            s.sendto(pkt, (a.dst, 0))
        deadline = time.monotonic() + a.wait
        while True:
            after = read_counters(a)
            err = check(before, after, want, noise)
            if err is None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if err is None:
            print("ok %s sport=%d %s" % (name, sports[name], ",".join(
                "%s+%d" % kv for kv in sorted(want.items()))))
        else:
            print("FAIL %s: %s" % (name, err))
            failed += 1
        sys.stdout.flush()
        if err is not None:
            after = None    # start the next case from a fresh read
    # nothing may move after the last case either
    if after is not None:
        time.sleep(0.5)
        err = check(after, read_counters(a), {}, noise)
        if err:
            print("FAIL after_last_case: %s" % err)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
