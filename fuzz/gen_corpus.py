#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write the seed corpus of every fuzz target into DIR/<target>/.

The seeds are small, valid inputs that reach each branch the targets are
about (every service, legacy mode, policy, encoding), so that a short run
starts deep. They are generated, not committed: the main build writes them
for the replay tests (build/userspace/fuzz/seeds), fuzz/run.sh for its runs.

    python3 fuzz/gen_corpus.py -o DIR
"""
import argparse
import os
import struct

ap = argparse.ArgumentParser(description="write the fuzz targets' seed corpus")
ap.add_argument("-o", "--out", required=True, help="directory to write <target>/<seed> into")
OUT = ap.parse_args().out


def out(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def ip6(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def crab6(addr, exp=False, nops=True, exid=0xC4AB):
    if exp:
        return bytes([254, 20]) + struct.pack(">H", exid) + ip6(addr)
    return (b"\x01\x01" if nops else b"") + bytes([42, 18]) + ip6(addr)


def crab(addr, exp=False, nops=True, exid=0xC4AB):
    if exp:
        return bytes([254, 8]) + struct.pack(">H", exid) + ip4(addr)
    return (b"\x01\x01" if nops else b"") + bytes([42, 6]) + ip4(addr)


# ---- opt: [encoding | 4 for IPv6][exid hi][exid lo] option bytes ------------
MSS = bytes([2, 4, 5, 0xB4])
SACKOK = bytes([4, 2])
TS = bytes([8, 10]) + bytes(8)
WS = bytes([3, 3, 7])
opt_seeds = {
    "default_aligned": (0, crab("198.18.100.1")),
    "default_after_mss": (0, MSS + crab("198.18.100.1")),
    "default_linux_syn": (0, MSS + SACKOK + TS + b"\x01" + WS + crab("10.0.0.1")),
    "default_unaligned": (0, b"\x01" + crab("10.1.2.3", nops=False)),
    "default_bad_len_then_good": (0, bytes([42, 4, 0, 0]) + crab("10.1.2.3")),
    "default_eol_hides": (0, b"\x00" + crab("10.1.2.3")),
    "default_zero_len": (0, bytes([5, 0]) + crab("10.1.2.3")),
    "default_past_end": (0, bytes([5, 30]) + crab("10.1.2.3")),
    "default_full_40": (0, TS + TS + TS + MSS + crab("10.9.9.9", nops=False)[:2] + b"\x01\x01"),
    "default_44_bytes": (0, b"\x01" * 36 + crab("10.9.9.9", nops=False) + b"\x01\x01"),
    "exp_aligned": (1, crab("198.18.100.1", exp=True)),
    "exp_other_exid": (1, crab("198.18.100.1", exp=True, exid=0x1234) + crab("10.0.0.2", exp=True)),
    "exp_short": (1, bytes([254, 3, 0xC4]) + crab("10.0.0.2", exp=True)),
    "exp_bad_len": (1, bytes([254, 6, 0xC4, 0xAB, 1, 2]) + crab("10.0.0.2", exp=True)),
    "exp_custom_exid": (2, crab("10.0.0.3", exp=True, exid=0x0102)),
    "kind_setting": (3, bytes([1, 1, 99, 6]) + ip4("10.0.0.4")),
    "v6_aligned": (4, crab6("2001:db8::1")),
    "v6_linux_syn": (4, MSS + SACKOK + TS + b"\x01" + WS + crab6("2001:db8::a")),
    "v6_ipv4_form_ignored": (4, crab("10.0.0.1") + crab6("2001:db8::2")),
    "v6_exp": (5, crab6("2001:db8::3", exp=True)),
    "v4_ipv6_form_ignored": (0, crab6("2001:db8::1") + crab("10.0.0.5")),
}
for name, (enc, o) in opt_seeds.items():
    exid = b"\x01\x02" if enc & 3 == 2 else (b"\x63\x00" if enc & 3 == 3 else b"\xc4\xab")
    out("opt", name, bytes([enc]) + exid + o)


# ---- lb_core: 12 header bytes, then an Ethernet frame ---------------------
PORT_MAC = bytes([2, 0, 0, 0, 0, 1])
CLI_MAC = bytes([2, 0, 0, 0, 0, 0x0A])
CLI = "198.18.0.10"
VIP = ["198.18.100.1", "198.18.100.2", "198.18.100.3"]  # drop, insert, hash


def csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(daddr, dport, flags=0x02, tcpopts=b"", payload=b"", ipopts=b"", vlan=None,
          frag=0x4000, sport=40000):
    ihl = 20 + len(ipopts)
    thl = 20 + len(tcpopts)
    tot = ihl + thl + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl // 4, 0, tot, 1, frag, 64, 6, 0,
                     ip4(CLI), ip4(daddr)) + ipopts
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    th = struct.pack(">HHIIBBHHH", sport, dport, 0x1111, 0, (thl // 4) << 4, flags,
                     0xFAF0, 0, 0) + tcpopts + payload
    ph = ip4(CLI) + ip4(daddr) + struct.pack(">BBH", 0, 6, len(th))
    th = th[:16] + struct.pack(">H", csum(ph + th)) + th[18:]
    l2 = PORT_MAC + CLI_MAC
    if vlan is not None:
        l2 += struct.pack(">HH", 0x8100, vlan)
    return l2 + b"\x08\x00" + ip + th


def lb(flags=0x06, headroom=128, mtu=1500, rr=0, rng=1):
    return bytes([flags, headroom, (mtu - 68) // 8, rr]) + struct.pack("<Q", rng)


OPT = MSS + crab(VIP[0])
for v, mode in enumerate(["drop", "insert", "hash"]):
    for port, pol in [(80, "rr"), (81, "random"), (82, "wrr"), (83, "nobackend"), (84, "draining")]:
        vip = VIP[v]
        out("lb_core", f"{mode}_{pol}_capable", lb(rr=port) + frame(vip, port, tcpopts=MSS + crab(vip)))
        out("lb_core", f"{mode}_{pol}_legacy", lb(rr=port + 1) + frame(vip, port, tcpopts=MSS))
        out("lb_core", f"{mode}_{pol}_ack", lb() + frame(vip, port, flags=0x10, payload=b"data"))
out("lb_core", "capable_exp", lb(flags=0x07) + frame(VIP[0], 80, tcpopts=crab(VIP[0], exp=True)))
out("lb_core", "insert_exp", lb(flags=0x07) + frame(VIP[1], 80, tcpopts=MSS))
out("lb_core", "insert_full_options", lb() + frame(VIP[1], 80, tcpopts=TS + TS + TS + MSS + b"\x01" * 4))
out("lb_core", "insert_no_headroom", lb(headroom=4) + frame(VIP[1], 80, tcpopts=MSS))
out("lb_core", "insert_mtu", lb(mtu=68 + 8 * 8) + frame(VIP[1], 80, tcpopts=MSS, payload=b"x" * 100))
out("lb_core", "insert_tfo_payload", lb() + frame(VIP[1], 81, tcpopts=MSS, payload=b"hello, world!"))
out("lb_core", "ip_options", lb() + frame(VIP[0], 80, tcpopts=OPT, ipopts=b"\x01\x01\x01\x00"))
out("lb_core", "vlan", lb() + frame(VIP[2], 80, vlan=100))
out("lb_core", "qinq", lb() + frame(VIP[2], 80, vlan=100)[:12] + b"\x88\xa8\x00\x01" +
    frame(VIP[2], 80, vlan=100)[12:])
out("lb_core", "fragment", lb() + frame(VIP[0], 80, tcpopts=OPT, frag=0x2000))
out("lb_core", "no_neigh", lb(flags=0x00, rr=1) + frame(VIP[0], 80, tcpopts=OPT))
out("lb_core", "bad_csum", lb(flags=0x04) + frame(VIP[0], 80, tcpopts=OPT)[:-2] + b"\x00\x00")
out("lb_core", "padded", lb() + frame(VIP[0], 80, tcpopts=OPT) + bytes(12))
out("lb_core", "other_port", lb() + frame(VIP[0], 443, tcpopts=OPT))
out("lb_core", "not_vip", lb() + frame("198.18.0.99", 80, tcpopts=OPT))
out("lb_core", "malformed_opt", lb() + frame(VIP[1], 80, tcpopts=bytes([5, 0, 0, 0])))

# IPv6: the same services on 2001:db8:100::1..3 (drop, insert, hash).
CLI6 = "2001:db8::10"
VIP6 = ["2001:db8:100::1", "2001:db8:100::2", "2001:db8:100::3"]


def frame6(daddr, dport, flags=0x02, tcpopts=b"", payload=b"", ext=(), vlan=None, sport=40000):
    """ext: (type, body) extension headers, body padded to 8n - 2 bytes."""
    hdrs = b""
    for i, (t, body) in enumerate(ext):
        nxt = ext[i + 1][0] if i + 1 < len(ext) else 6
        h = bytes([nxt, 0]) + body
        h += bytes(-len(h) % 8)
        if t != 44:
            h = h[:1] + bytes([len(h) // 8 - 1]) + h[2:]
        hdrs += h
    thl = 20 + len(tcpopts)
    th = struct.pack(">HHIIBBHHH", sport, dport, 0x1111, 0, (thl // 4) << 4, flags,
                     0xFAF0, 0, 0) + tcpopts + payload
    ph = ip6(CLI6) + ip6(daddr) + struct.pack(">IxxxB", len(th), 6)
    th = th[:16] + struct.pack(">H", csum(ph + th)) + th[18:]
    ip = struct.pack(">IHBB", 0x60000000, len(hdrs) + len(th), ext[0][0] if ext else 6, 64) + \
        ip6(CLI6) + ip6(daddr)
    l2 = PORT_MAC + CLI_MAC
    if vlan is not None:
        l2 += struct.pack(">HH", 0x8100, vlan)
    return l2 + b"\x86\xdd" + ip + hdrs + th


PADN = bytes([1, 4, 0, 0, 0, 0])
for v, mode in enumerate(["drop", "insert", "hash"]):
    for port, pol in [(80, "rr"), (81, "random"), (84, "draining")]:
        vip = VIP6[v]
        out("lb_core", f"v6_{mode}_{pol}_capable", lb(rr=port) + frame6(vip, port, tcpopts=MSS + crab6(vip)))
        out("lb_core", f"v6_{mode}_{pol}_legacy", lb(rr=port + 1) + frame6(vip, port, tcpopts=MSS))
        out("lb_core", f"v6_{mode}_{pol}_ack", lb() + frame6(vip, port, flags=0x10, payload=b"data"))
out("lb_core", "v6_capable_exp", lb(flags=0x07) + frame6(VIP6[0], 80, tcpopts=crab6(VIP6[0], exp=True)))
out("lb_core", "v6_v4_form_option", lb() + frame6(VIP6[0], 80, tcpopts=crab(VIP[0])))
out("lb_core", "v6_ext_headers", lb() + frame6(VIP6[0], 80, tcpopts=MSS + crab6(VIP6[0]),
                                               ext=[(0, PADN), (43, bytes(6)), (60, PADN)]))
out("lb_core", "v6_ext_limit", lb() + frame6(VIP6[0], 80, tcpopts=MSS + crab6(VIP6[0]), ext=[(60, PADN)] * 9))
out("lb_core", "v6_routing_segleft", lb() + frame6(VIP6[0], 80, tcpopts=MSS + crab6(VIP6[0]),
                                                   ext=[(43, bytes([0, 1, 0, 0, 0, 0]))]))
out("lb_core", "v6_fragment", lb() + frame6(VIP6[0], 80, tcpopts=MSS + crab6(VIP6[0]), ext=[(44, bytes(6))]))
out("lb_core", "v6_insert_ext_payload", lb() + frame6(VIP6[1], 80, tcpopts=MSS, payload=b"hello",
                                                      ext=[(60, PADN)]))
out("lb_core", "v6_insert_no_headroom", lb(headroom=19) + frame6(VIP6[1], 80, tcpopts=MSS))
out("lb_core", "v6_insert_full_options", lb() + frame6(VIP6[1], 80, tcpopts=TS + TS + MSS + b"\x01" * 4))
out("lb_core", "v6_vlan_padded", lb() + frame6(VIP6[2], 80, vlan=7) + bytes(10))
out("lb_core", "v6_no_neigh", lb(flags=0x00, rr=1) + frame6(VIP6[0], 80, tcpopts=MSS + crab6(VIP6[0])))

# ---- vip_config: --vip-config file text ------------------------------------
out("vip_config", "example", b"""# services
service 198.18.100.1:80,policy=rr,legacy=drop
service 198.18.100.1:81,policy=wrr,legacy=insert
service 198.18.100.2:443,policy=random,legacy=hash
backend 198.18.100.1:80,198.18.0.11
backend 198.18.100.1:80,198.18.0.12,weight=2,mac=02:00:00:00:00:12
backend 198.18.100.1:81,198.18.0.11,weight=4
backend 198.18.100.1:81,198.18.0.12,weight=6,mac=02:00:00:00:00:12
backend 198.18.100.2:443,198.18.0.13,weight=3
""")
out("vip_config", "errors", b"service 198.18.100.1:80,policy=rr\nbackend 198.18.100.9:80,198.18.0.11\n")
out("vip_config", "duplicate", b"service 10.0.0.1:80\nservice 10.0.0.1:80\n")
out("vip_config", "tabs_comments", b"\tservice\t10.0.0.1:99 # x\r\n\n#\nbackend 10.0.0.1:99,10.0.0.2,weight=100\n")

# ---- toml_config: crabctl apply -f FILE (two files split by NUL) -----------
CUR = b"""[lb]
type = "xdp"
dev = "eth0"

[[service]]
vip = "198.18.100.1"
port = 80
policy = "rr"
legacy = "drop"

  [[service.backend]]
  addr = "198.18.0.11"
  weight = 1

  [[service.backend]]
  addr = "198.18.0.12"
  weight = 2
  mac = "02:00:00:00:00:12"

[[service]]
vip = "198.18.100.2"
port = 443
policy = "wrr"
legacy = "hash"
"""
WANT = b"""[lb]
type = "dpdk"
prefix = "crab"
socket = "/run/crab.sock"

[[service]]
vip = "198.18.100.1"
port = 80
policy = "random"
legacy = "insert"

  [[service.backend]]
  addr = "198.18.0.13"

  [[service.backend]]
  addr = "198.18.0.12"
  drain = true

[[service]]
vip = "198.18.100.3"
port = 8080
"""
out("toml_config", "one", CUR)
out("toml_config", "two", CUR + b"\x00" + WANT)
out("toml_config", "bad_key", b'[[service]]\nvip = "10.0.0.1"\nport = 80\nwieght = 2\n')
out("toml_config", "bgp", b"""[lb]
type = "xdp"
dev = "lb1"

[bgp]
asn = 65100
router_id = "198.18.0.1"
vips = ["198.18.100.1"]
frr_dir = "/run/frr"
interval_ms = 100

  [[bgp.peer]]
  addr = "198.18.0.254"
  asn = 65000
  bfd_interval_ms = 100
  bfd_multiplier = 3

  [[bgp.peer]]
  addr = "198.18.0.253"
  asn = 4200000000
  bfd = false

[[service]]
vip = "198.18.100.1"
port = 8080

  [[service.backend]]
  addr = "198.18.0.11"
""")
out("toml_config", "syntax", b'[[service]\nvip = 10.0.0.1\n')
