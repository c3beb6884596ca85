#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send one SYN-ACK carrying the redirect option (kind 42) on an interface.

np_spoof.py IFACE DST_MAC SRC_MAC SRC_IP SPORT DST_IP DPORT NAMED_IP
"""
import socket
import sys

from scapy.all import Ether, IP, TCP, sendp  # noqa: E402


def main():
    ifc, dmac, smac, sip, sport, dip, dport, named = sys.argv[1:9]
    opt = socket.inet_aton(named)
    pkt = (Ether(dst=dmac, src=smac) / IP(src=sip, dst=dip) /
           TCP(sport=int(sport), dport=int(dport), flags="SA", seq=1000,
               ack=2000, options=[("NOP", None), ("NOP", None), (42, opt)]))
    sendp(pkt, iface=ifc, verbose=False)


if __name__ == "__main__":
    main()
