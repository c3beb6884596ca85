#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The eBPF client's tc ingress program, cost per segment (bench/endpoints/cost.sh).

Runs in the network namespace where `crabctl ebpf client attach` loaded the
program: finds it, reserves the flow of a moved connection in its flow
table (IPv4 and IPv6), and times the program with BPF_PROG_TEST_RUN
(`bpftool prog run ... repeat N`: the kernel's mean over N runs) on:
  moved  - a data segment of that connection from S (rewritten to come from A)
  moved6 - the same over IPv6
  other  - a data segment of a connection that was not moved (what every
           other TCP segment the device receives pays)
Checks that the output frame is what the program should make of it, and
prints one JSON object: {"mode": ns_per_run, ...}.

    cost.py --repeat N --mode MODE [--mode MODE ...]
"""
import argparse
import json
import socket
import struct
import subprocess
import sys


def bpftool(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True, text=True)
    if r.returncode:
        sys.exit("error: bpftool %s: %s" % (" ".join(args[:3]), r.stderr.strip() or r.stdout.strip()))
    return json.loads(r.stdout) if r.stdout.strip() else None


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def tcp_seg(src, dst, sport, dport, fam, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, 5 << 4, 0x18, 65535, 0, 0) + payload
    a, b = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    if fam == socket.AF_INET:
        ph = a + b + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        ph = a + b + struct.pack("!I3xB", len(tcp), 6)
    tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
    eth = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x07"
    if fam == socket.AF_INET:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, a, b)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        return eth + b"\x08\x00" + ip + tcp
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, a, b)
    return eth + b"\x86\xdd" + ip + tcp


def hexbytes(b):
    return ["0x%02x" % x for x in b]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1000000)
    ap.add_argument("--mode", action="append", choices=["moved", "moved6", "other"], required=True)
    ap.add_argument("--work", default="/tmp")
    o = ap.parse_args()

    progs = [p for p in bpftool("prog", "show") if p.get("name") == "crab_ep_tc_ingress"]
    if len(progs) != 1:
        sys.exit("error: expected one crab_ep_tc_ingress program, found %d" % len(progs))
    prog = progs[0]
    maps = {}
    for mid in prog.get("map_ids", []):
        maps[bpftool("map", "show", "id", str(mid)).get("name", "")] = mid
    ro = [mid for n, mid in maps.items() if n.endswith(".rodata")]
    if len(ro) != 1 or "crab_ep_flows" not in maps or "crab_ep_flows6" not in maps:
        sys.exit("error: the program's maps are not the ones expected: %s" % sorted(maps))
    netns = None
    for v in bpftool("map", "dump", "id", str(ro[0]))[0]["formatted"]["value"][".rodata"]:
        if "crab_netns" in v:
            netns = v["crab_netns"]
    if netns is None:
        sys.exit("error: crab_netns not found in the program's read-only data")

    L, S, A, other = "10.1.0.2", "10.1.0.7", "10.9.0.1", "10.1.0.8"
    L6, S6, A6 = "fd00:1::2", "fd00:1::7", "fd00:9::1"
    lport, rport = 40000, 8080
    key = (struct.pack("<Q", netns) + socket.inet_aton(L) + socket.inet_aton(S) +
           struct.pack("!HH", lport, rport) + b"\0" * 4)
    bpftool("map", "update", "id", str(maps["crab_ep_flows"]), "key", *hexbytes(key),
            "value", *hexbytes(socket.inet_aton(A) + b"\0" * 4))
    key6 = (struct.pack("<Q", netns) + socket.inet_pton(socket.AF_INET6, L6) +
            socket.inet_pton(socket.AF_INET6, S6) + struct.pack("!HH", lport, rport))
    key6 += b"\0" * (-len(key6) % 8)
    bpftool("map", "update", "id", str(maps["crab_ep_flows6"]), "key", *hexbytes(key6),
            "value", *hexbytes(socket.inet_pton(socket.AF_INET6, A6)))

    payload = b"x" * 64
    frames = {
        "moved": (tcp_seg(S, L, rport, lport, socket.AF_INET, payload),
                  lambda f: f[26:30] == socket.inet_aton(A)),
        "moved6": (tcp_seg(S6, L6, rport, lport, socket.AF_INET6, payload),
                   lambda f: f[22:38] == socket.inet_pton(socket.AF_INET6, A6)),
        "other": (tcp_seg(other, L, rport, lport, socket.AF_INET, payload),
                  lambda f: f[26:30] == socket.inet_aton(other)),
    }
    res = {}
    for m in o.mode:
        frame, check = frames[m]
        fin, fout = "%s/ep-cost-%s.in" % (o.work, m), "%s/ep-cost-%s.out" % (o.work, m)
        open(fin, "wb").write(frame)
        r = bpftool("prog", "run", "id", str(prog["id"]), "data_in", fin, "data_out", fout,
                    "repeat", str(o.repeat))
        out = open(fout, "rb").read()
        if r.get("retval") != 0 or not check(out):
            sys.exit("error: mode %s: the program did not do what it should (verdict %s)" %
                     (m, r.get("retval")))
        res[m] = r["duration"]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
