#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A pcap file of capable SYNs to one VIP for DPDK's net_pcap vdev to replay
(bench/dpdk/run.sh --vdevs pcap): the frame bench/xdp's generator sends
(MSS, SACK_PERM, timestamps, NOP + window scale, then the 8-byte
redirect option naming the VIP: 82 bytes), one source address and port per frame.
An IPv6 VIP gives the same SYN in IPv6: the same options with the 20-byte
form of the redirect option (NOP NOP 42 18 VIP: 114 bytes), from
2001:db8:1::/64.

    synpcap.py --out FILE --dst-mac MAC --vip ADDR [--port P] [--frames N]
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "selftests", "tools"))
import crabpkt  # noqa: E402


def mac_bytes(s):
    b = bytes(int(x, 16) for x in s.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC " + s)
    return b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", default="02:00:00:00:01:01")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--frames", type=int, default=4096)
    a = ap.parse_args()
    if not 1 <= a.frames <= 65535:
        ap.error("--frames: 1..65535")
    v6 = ":" in a.vip
    eth = mac_bytes(a.dst_mac) + mac_bytes(a.src_mac) + (b"\x86\xdd" if v6 else b"\x08\x00")
    opts = (b"\x02\x04\x05\xb4" b"\x04\x02" b"\x08\x0a\x00\x01\x02\x03\x00\x00\x00\x00"
            b"\x01\x03\x03\x07" + crabpkt.crab_opt(a.vip))
    with open(a.out, "wb") as f:
        # pcap global header: magic, v2.4, GMT offset 0, accuracy 0,
        # snaplen 65535, link type 1 (Ethernet).
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(a.frames):
            sport = 1024 + i
            if v6:
                src = "2001:db8:1::%x" % (1 + i)
                seg = crabpkt.tcp_segment(src, a.vip, sport, a.port, 0x12345678, 0, 0x02, opts)
                frame = eth + crabpkt.ipv6_packet(src, a.vip, seg)
            else:
                src = "198.18.%d.%d" % (1 + i // 250, 1 + i % 250)
                seg = crabpkt.tcp_segment(src, a.vip, sport, a.port, 0x12345678, 0, 0x02, opts)
                frame = eth + crabpkt.ipv4_packet(src, a.vip, seg, ident=1)
            f.write(struct.pack("<IIII", 0, i, len(frame), len(frame)) + frame)
    print("%d frames of %d bytes" % (a.frames, len(frame)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
