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
  synack - a redirecting SYN-ACK from S for a socket of this process in
           SYN-SENT to A (joined to --cgroup, so its SYN announced): every
           check of the decision runs, up to the flow reservation, which the
           full flow table refuses (the endpoint attached with --max-flows 1
           and the IPv4 table holding the "moved" flow), so that every run
           decides afresh; checked by rejected_flow_full growing by one per
           run (`crabctl -j ebpf stats`). Without the rewrite (~a "moved"
           run) this is the cost of accepting a redirect.
Checks that the output frame is what the program should make of it, and
prints one JSON object: {"mode": ns_per_run, ...}.

    cost.py --dev DEV --repeat N --mode MODE [--mode MODE ...] [--cgroup DIR --crabctl BIN --peer DEV]
"""
import argparse
import json
import os
import select
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


def synack_frame(dev, peer, S, A, cgroup, work):
    """Open a connection to A:80 from --cgroup, read its SYN on the peer
    device, and build S's redirecting SYN-ACK to it (the socket is kept
    open in SYN-SENT: returned with the frame)."""
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    cap.bind((peer, 0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((A, 80))
    port = s.getsockname()[1]
    deadline = 50
    while deadline:
        deadline -= 1
        r, _, _ = select.select([cap], [], [], 0.1)
        if not r:
            continue
        f = cap.recv(2048)
        ihl = (f[14] & 0xf) * 4
        t = 14 + ihl
        if f[23] != 6 or f[t + 13] != 0x02:
            continue
        sport, dport, isn = struct.unpack("!HHI", f[t:t + 8])
        if sport != port or dport != 80:
            continue
        L = socket.inet_ntoa(f[26:30])
        if b"\x2a\x06" + socket.inet_aton(A) not in f[t + 20:t + (f[t + 12] >> 4) * 4]:
            sys.exit("error: the SYN to %s carries no redirect option (not announced)" % A)
        mac = f[6:12]	# the SYN's source: the client's device
        # MSS, SACK permitted, timestamps, NOP, window scale, then the option
        # as the eBPF server's bpf_store_hdr_opt() leaves it: kind, length,
        # address, and the kernel's NOP padding
        opts = (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02" + struct.pack("!BBII", 8, 10, 1, 1) +
                b"\x01" + b"\x03\x03\x07" + b"\x2a\x06" + socket.inet_aton(A) + b"\x01\x01")
        tcp = struct.pack("!HHIIBBHHH", 80, port, 5000, isn + 1, (5 + len(opts) // 4) << 4, 0x12,
                          65535, 0, 0) + opts
        ph = socket.inet_aton(S) + socket.inet_aton(L) + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                         socket.inet_aton(S), socket.inet_aton(L))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        return mac + b"\x02\0\0\0\0\x07" + b"\x08\x00" + ip + tcp, s
    sys.exit("error: no SYN from port %d seen on %s" % (port, peer))


def hexbytes(b):
    return ["0x%02x" % x for x in b]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1000000)
    ap.add_argument("--mode", action="append", choices=["moved", "moved6", "other", "synack"], required=True)
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--cgroup")
    ap.add_argument("--crabctl")
    ap.add_argument("--dev", required=True)
    ap.add_argument("--peer")
    o = ap.parse_args()

    # The program on this namespace's device (others may run elsewhere).
    ids = [t["id"] for n in bpftool("net", "show", "dev", o.dev) for t in n.get("tc", [])
           if t.get("name", "").startswith("crab_ep_tc_ingr") and t.get("kind", "").endswith("ingress")]
    if len(ids) != 1:
        sys.exit("error: expected one crab_ep_tc_ingress program on %s, found %d" % (o.dev, len(ids)))
    prog = bpftool("prog", "show", "id", str(ids[0]))
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
    if "synack" in o.mode:
        if not (o.cgroup and o.crabctl and o.peer):
            sys.exit("error: mode synack needs --cgroup, --crabctl and --peer")

        def flow_full():
            r = subprocess.run([o.crabctl, "-j", "ebpf", "stats"], capture_output=True, text=True)
            return json.loads(r.stdout)["counters"]["rejected_flow_full"]
        frame, keep = synack_frame(o.dev, o.peer, S, A, o.cgroup, o.work)
        full0 = []
        frames["synack"] = (frame, lambda f, fr=frame: f == fr and
                            flow_full() - full0[0] == o.repeat)
    res = {}
    for m in o.mode:
        frame, check = frames[m]
        if m == "synack":
            full0.append(flow_full())
        fin, fout = "%s/ep-cost-%s.in" % (o.work, m), "%s/ep-cost-%s.out" % (o.work, m)
        open(fin, "wb").write(frame)
        args = ["prog", "run", "id", str(prog["id"]), "data_in", fin, "data_out", fout,
                "repeat", str(o.repeat)]
        if m == "synack":
            # Received on the client's device (ingress_ifindex and ifindex of
            # struct __sk_buff): the reverse-path check compares it.
            ifx = socket.if_nametoindex(o.dev)
            cin = "%s/ep-cost-%s.ctx" % (o.work, m)
            open(cin, "wb").write(b"\0" * 36 + struct.pack("=II", ifx, ifx))
            args += ["ctx_in", cin]
        r = bpftool(*args)
        out = open(fout, "rb").read()
        if r.get("retval") != 0 or not check(out):
            why = ""
            if m == "synack":
                c = json.loads(subprocess.run([o.crabctl, "-j", "ebpf", "stats"], capture_output=True,
                                              text=True).stdout)["counters"]
                why = "; counters: " + " ".join("%s=%s" % kv for kv in sorted(c.items()) if kv[1])
            sys.exit("error: mode %s: the program did not do what it should (verdict %s)%s" %
                     (m, r.get("retval"), why))
        res[m] = r["duration"]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
