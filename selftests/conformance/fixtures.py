#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""LB conformance fixtures (docs/PROTOCOL.md 3.2, 5, 6), in the shape of Katran's
packet fixtures: description, service configuration, input frames, and for
each the expected verdict and expected output frame.

Expected frames are built from scratch with scapy from the fields the
protocol says must come out (checksums recomputed by scapy), never by running an LB's
rewrite. Every LB implementation runs the same JSON:

    python3 fixtures.py > fixtures.json      # or: fixtures.py -o FILE

Verdicts: "forward" (rewritten and sent on: XDP_TX/redirect, NF_ACCEPT after
rewrite, DPDK TX), "pass" (untouched, to the host stack: output == input),
"drop". Most backends carry a static MAC: forwarded frames go from the LB's
MAC to the backend's MAC; the fib_* cases' backends have none and the LB
finds the next hop in the document's "topology" (neighbour entries every
runner provides). A packet's "lb" holds what one LB must do instead, with
the reason (lb.nf: the nf LB forwards through the IP stack). "counters" are
the expected per-service counters (crab_lb.h names) of the first service
after the case. Insert mode puts the 8-byte option (NOP NOP kind 6 VIP)
right after the fixed TCP header, before existing options.

IPv6 cases (cases6(), names "v6_..."): the same with an IPv6 VIP and
backends, the 20-byte option (NOP NOP 42 18 VIP, or 254 20 ExID VIP), insert
growing the packet by 20 bytes, extension headers before TCP, fragments,
NDP. A service's "vip" and a backend's "dip" are address strings of either
family; the service is the VIP's family.
"""
import argparse
import json
import os
import socket
import sys

from scapy.all import IP, TCP, UDP, Dot1Q, Ether, Raw, raw  # noqa: E402
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6,  # noqa: E402
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                                IPv6ExtHdrRouting, PadN)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from crabpkt import crab_opt  # noqa: E402
from crabpkt import csum as crab_csum  # noqa: E402

CLI_MAC = "02:00:00:00:00:02"
LB_MAC = "02:00:00:00:00:01"
CLI = "198.18.0.2"
VIP = "198.18.100.1"
PORT = 80
SPORT = 40000
BE = [("198.18.0.11", "02:00:00:00:01:0b"),
      ("198.18.0.12", "02:00:00:00:01:0c"),
      ("198.18.0.13", "02:00:00:00:01:0d")]


def ip_bytes(a):
    return bytes(int(x) for x in a.split("."))


MSS = bytes([2, 4, 0x05, 0xB4])
# The options of Linux's SYNs before the redirect option: MSS, SACK_PERM, TS,
# NOP, WS (timestamps on), and MSS, NOP, NOP, SACK_PERM, NOP, WS (off).
LINUX_TS = MSS + bytes([4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7])
LINUX_NOTS = MSS + bytes([1, 1, 4, 2, 1, 3, 3, 7])


def frame(src_mac, dst_mac, dst, opts=b"", flags="S", payload=b"",
          sport=SPORT, dport=PORT, vlan=None, ip_opts=b"", frag=0, ipflags=0,
          seq=1000, ack=0, l4="tcp", ttl=64):
    """A frame; TCP options given as raw bytes (len multiple of 4)."""
    assert len(opts) % 4 == 0 and len(ip_opts) % 4 == 0
    eth = Ether(src=src_mac, dst=dst_mac)
    if vlan is not None:
        eth = eth / Dot1Q(vlan=vlan)
    ip = IP(src=CLI, dst=dst, id=7, ttl=ttl, flags=ipflags, frag=frag)
    if ip_opts:
        ip.options = [Raw(ip_opts)]
    if l4 == "udp":
        return eth / ip / UDP(sport=sport, dport=dport) / Raw(payload or b"x")
    tcp = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
              window=64240, dataofs=5 + len(opts) // 4)
    # Options as raw bytes right after the fixed header: scapy's checksum
    # covers them like any other segment bytes.
    body = opts + payload
    return eth / ip / tcp / Raw(body) if body else eth / ip / tcp


def h(pkt):
    return raw(pkt).hex()


def svc(policy="rr", legacy="drop", backends=BE[:1], weights=None, draining=()):
    b = []
    for i, (dip, mac) in enumerate(backends):
        e = {"dip": dip, "mac": mac, "weight": (weights[i] if weights else 1)}
        if dip in draining:
            e["state"] = "draining"
        b.append(e)
    return {"vip": VIP, "port": PORT, "policy": policy, "legacy": legacy, "backends": b}


def inp(**kw):
    return frame(CLI_MAC, LB_MAC, VIP, **kw)


def out_to(be, **kw):
    """What a backend must receive: daddr = DIP, from the LB's MAC."""
    return frame(LB_MAC, be[1], be[0], **kw)


def dsr_to(be, **kw):
    """DSR: only the L2 next hop changes, daddr stays the VIP."""
    return frame(LB_MAC, be[1], VIP, **kw)


def case(name, desc, services, packets, counters=None, opt_kind=42, lbs=None, xdp_global=None):
    c = {"name": name, "description": desc,
         "config": {"opt_kind": opt_kind, "services": services},
         "packets": packets}
    if counters is not None:
        c["counters"] = counters
    if lbs:
        c["lbs"] = lbs
    if xdp_global:
        c["xdp_global_counters"] = xdp_global
    return c


def fwd(i, o):
    return {"in": h(i), "verdict": "forward", "out": h(o)}


def verdict(i, v):
    return {"in": h(i), "verdict": v}


def cases():
    out = []
    cap = crab_opt(VIP)
    # --- capable SYNs, one per policy
    out.append(case(
        "capable_syn_rr", "capable SYNs go round-robin over 3 backends, option keeps the VIP",
        [svc("rr", backends=BE)],
        [fwd(inp(opts=MSS + cap, sport=SPORT + k), out_to(BE[k % 3], opts=MSS + cap, sport=SPORT + k))
         for k in range(4)],
        {"syn_redirected": 4}))
    out.append(case(
        "capable_syn_random", "random policy with one backend",
        [svc("random")], [fwd(inp(opts=cap), out_to(BE[0], opts=cap))], {"syn_redirected": 1}))
    out.append(case(
        "capable_syn_wrr", "wrr 1:3 is the smooth ring B A B B",
        [svc("wrr", backends=BE[:2], weights=[1, 3])],
        [fwd(inp(opts=cap, sport=SPORT + k), out_to(BE[[1, 0, 1, 1][k]], opts=cap, sport=SPORT + k))
         for k in range(4)],
        {"syn_redirected": 4}))
    odd_in = bytes([1]) + crab_opt("10.9.8.7")[2:] + bytes([1])
    odd_out = bytes([1]) + crab_opt(VIP)[2:] + bytes([1])
    out.append(case(
        "capable_syn_odd_offset_addr", "option at an odd offset naming another address: set to the VIP",
        [svc()], [fwd(inp(opts=odd_in), out_to(BE[0], opts=odd_out))], {"syn_redirected": 1}))
    out.append(case(
        "capable_syn_draining", "a draining backend gets no new SYN",
        [svc("rr", backends=BE[:2], draining=(BE[0][0],))],
        [fwd(inp(opts=cap, sport=SPORT + k), out_to(BE[1], opts=cap, sport=SPORT + k)) for k in range(2)],
        {"syn_redirected": 2}))
    out.append(case(
        "capable_syn_no_backend", "service without backends: drop and count",
        [svc(backends=[])], [verdict(inp(opts=cap), "drop")], {"no_backend": 1}))
    out.append(case(
        "capable_syn_rfc6994", "RFC 6994 form (kind 254, ExID) when configured",
        [svc()], [fwd(inp(opts=crab_opt("0.0.0.0", 254)), out_to(BE[0], opts=crab_opt(VIP, 254)))],
        {"syn_redirected": 1}, opt_kind=254))
    out.append(case(
        "capable_syn_tfo_payload", "TFO SYN with a cookie and data: payload intact, checksum over it",
        [svc()],
        [fwd(inp(opts=cap + bytes([34, 10]) + b"\xaa" * 8 + bytes([1, 1]), payload=b"GET / HTTP/1.0\r\n\r\n"),
             out_to(BE[0], opts=cap + bytes([34, 10]) + b"\xaa" * 8 + bytes([1, 1]),
                    payload=b"GET / HTTP/1.0\r\n\r\n"))],
        {"syn_redirected": 1}))
    out.append(case(
        "capable_syn_ip_options", "IP options (ihl 6) are kept and skipped",
        [svc()],
        [fwd(inp(opts=cap, ip_opts=bytes([0x94, 4, 0, 0])), out_to(BE[0], opts=cap, ip_opts=bytes([0x94, 4, 0, 0])))],
        {"syn_redirected": 1}))
    out.append(case(
        "capable_syn_vlan", "one 802.1Q tag: kept, inner packet rewritten",
        [svc()], [fwd(inp(opts=cap, vlan=10), out_to(BE[0], opts=cap, vlan=10))], {"syn_redirected": 1}))
    # --- legacy SYNs
    out.append(case(
        "legacy_syn_drop", "SYN without the option, drop mode",
        [svc(legacy="drop")], [verdict(inp(opts=MSS), "drop")], {"syn_legacy_drop": 1}))
    out.append(case(
        "legacy_syn_insert", "insert mode: 8 option bytes added after the fixed header",
        [svc(legacy="insert")], [fwd(inp(opts=MSS), out_to(BE[0], opts=cap + MSS))], {"syn_inserted": 1}))
    out.append(case(
        "legacy_syn_insert_bare", "insert mode, SYN without any option",
        [svc(legacy="insert")], [fwd(inp(), out_to(BE[0], opts=cap))], {"syn_inserted": 1}))
    out.append(case(
        "legacy_syn_insert_ip_options_tfo", "insert with IP options and payload",
        [svc(legacy="insert")],
        [fwd(inp(opts=MSS, ip_opts=bytes([1, 1, 1, 0]), payload=b"hello"),
             out_to(BE[0], opts=cap + MSS, ip_opts=bytes([1, 1, 1, 0]), payload=b"hello"))],
        {"syn_inserted": 1}))
    out.append(case(
        "legacy_syn_insert_vlan", "insert on a VLAN-tagged frame",
        [svc(legacy="insert")], [fwd(inp(opts=MSS, vlan=5), out_to(BE[0], opts=cap + MSS, vlan=5))],
        {"syn_inserted": 1}))
    out.append(case(
        "legacy_syn_insert_eol", "insert into a SYN whose options end in EOL: the option goes before them, "
        "where every walk sees it (never behind the EOL)",
        [svc(legacy="insert")],
        [fwd(inp(opts=MSS + bytes([0, 0, 0, 0])), out_to(BE[0], opts=cap + MSS + bytes([0, 0, 0, 0]))),
         fwd(inp(opts=bytes([0, 0, 0, 0]), sport=SPORT + 1),
             out_to(BE[0], opts=cap + bytes([0, 0, 0, 0]), sport=SPORT + 1))],
        {"syn_inserted": 2}))
    out.append(case(
        "legacy_syn_insert_no_room_40", "insert refused: options already 40 bytes (doff 15)",
        [svc(legacy="insert")], [verdict(inp(opts=MSS + bytes([1]) * 36), "drop")], {"no_room": 1}))
    out.append(case(
        "legacy_syn_insert_no_room_36", "insert refused: doff 14 + 2 > 15",
        [svc(legacy="insert")], [verdict(inp(opts=MSS + bytes([1]) * 32), "drop")], {"no_room": 1}))
    out.append(case(
        "legacy_syn_hash", "hash mode: SYN forwarded DSR-style, daddr unchanged, no option",
        [svc(legacy="hash")], [fwd(inp(opts=MSS), dsr_to(BE[0], opts=MSS))], {"syn_hashed": 1}))
    out.append(case(
        "legacy_syn_hash_draining",
        "hash mode, the flow's backend draining: its packets still reach it, a new SYN is dropped and counted",
        [svc(legacy="hash", backends=BE[:1], draining=(BE[0][0],))],
        [verdict(inp(opts=MSS), "drop"),
         fwd(inp(flags="A", ack=5, payload=b"data"), dsr_to(BE[0], flags="A", ack=5, payload=b"data"))],
        {"syn_hash_draining": 1, "nonsyn_hashed": 1}))
    # --- non-SYN to the VIP
    out.append(case(
        "nonsyn_hash", "ACK to the VIP in hash mode: consistent-hash DSR",
        [svc(legacy="hash")],
        [fwd(inp(flags="A", ack=5, payload=b"data"), dsr_to(BE[0], flags="A", ack=5, payload=b"data"))],
        {"nonsyn_hashed": 1}))
    out.append(case(
        "nonsyn_drop", "ACK to the VIP, not hash mode: drop and count",
        [svc()], [verdict(inp(flags="A", ack=5), "drop")], {"nonsyn_drop": 1}))
    out.append(case(
        "synack_to_vip_drop", "SYN-ACK to the VIP is not a SYN: drop (non-hash)",
        [svc()], [verdict(inp(flags="SA", ack=5, opts=cap), "drop")], {"nonsyn_drop": 1}))
    # --- not the LB's business
    out.append(case(
        "non_vip_pass", "traffic to another address passes untouched",
        [svc()], [verdict(frame(CLI_MAC, LB_MAC, "198.18.0.1", opts=cap), "pass")], {"syn_redirected": 0}))
    out.append(case(
        "vip_other_port_pass", "VIP on a port without a service passes",
        [svc()], [verdict(inp(opts=cap, dport=81), "pass")], {"syn_redirected": 0}))
    out.append(case(
        "vip_udp_pass", "UDP to the VIP passes",
        [svc()], [verdict(inp(l4="udp"), "pass")]))
    # --- frames not addressed to the LB, or not IPv4 whatever the ethertype
    for name, mac in (("other_host", "02:00:00:00:00:99"), ("broadcast", "ff:ff:ff:ff:ff:ff"),
                      ("multicast", "01:00:5e:00:00:01")):
        out.append(case(
            "dst_mac_%s_pass" % name,
            "capable SYN to the VIP in a frame to %s: not the LB's (a switch floods such frames to every "
            "port: two LBs would both forward it), passes untouched" % mac,
            [svc()], [verdict(frame(CLI_MAC, mac, VIP, opts=cap), "pass")], {"syn_redirected": 0},
            xdp_global={"mac_not_ours": 1}))
    bad_ver = bytearray(raw(inp(opts=cap)))
    bad_ver[14] = 0x65  # version 6, ihl 5, under ethertype IPv4
    out.append(case(
        "ip_version_not_4_pass", "ethertype IPv4, IP version 6: not parsed as IPv4 (its daddr means "
        "nothing), passed for the stack to drop",
        [svc()], [{"in": bytes(bad_ver).hex(), "verdict": "pass"}], {"syn_redirected": 0},
        lbs=["xdp"], xdp_global={"ip_version_bad": 1}))
    # --- fragments
    out.append(case(
        "fragment_first_drop", "first fragment (MF) to the VIP: drop and count",
        [svc()], [verdict(inp(opts=cap, ipflags=1), "drop")], {"fragment": 1}))
    out.append(case(
        "fragment_later_drop", "non-first fragment to the VIP: drop and count",
        [svc()], [verdict(inp(opts=cap, frag=100), "drop")], {"fragment": 1}))
    # --- malformed options: never forwarded as capable
    for olen in (0, 1, 255):
        out.append(case(
            "opt_len_%d" % olen, "option length %d ends the walk: malformed, legacy path (drop)" % olen,
            [svc()], [verdict(inp(opts=bytes([8, olen, 0, 0]) + cap), "drop")],
            {"opt_malformed": 1, "syn_legacy_drop": 1}))
    for olen in (5, 7):
        o = bytes([42, olen]) + ip_bytes(VIP) + bytes([0] * (olen - 6 if olen > 6 else 0))
        o += bytes([1]) * ((-len(o)) % 4)
        out.append(case(
            "opt_redirect_len_%d" % olen, "redirect kind with length %d: ignored and counted" % olen,
            [svc()], [verdict(inp(opts=o), "drop")], {"opt_bad_len": 1, "syn_legacy_drop": 1}))
    out.append(case(
        "opt_bad_len_then_good", "a wrong-length redirect option, then a good one: the good one counts",
        [svc()],
        [fwd(inp(opts=bytes([42, 5, 1, 2, 3, 1, 1, 1]) + cap), out_to(BE[0], opts=bytes([42, 5, 1, 2, 3, 1, 1, 1]) + cap))],
        {"opt_bad_len": 1, "syn_redirected": 1}))
    out.append(case(
        "opt_runs_past_doff", "redirect option running past doff: malformed",
        [svc()], [verdict(inp(opts=bytes([1, 1, 1, 1, 1, 1, 42, 6]), payload=ip_bytes(VIP)), "drop")],
        {"opt_malformed": 1, "syn_legacy_drop": 1}))
    out.append(case(
        "opt_after_eol_ignored", "option after EOL is not seen",
        [svc()], [verdict(inp(opts=bytes([0, 0, 0, 0]) + cap), "drop")], {"syn_legacy_drop": 1}))
    out.append(case(
        "opt_malformed_insert", "malformed walk in insert mode: treated as legacy, option inserted",
        [svc(legacy="insert")],
        [fwd(inp(opts=bytes([8, 1, 0, 0])), out_to(BE[0], opts=cap + bytes([8, 1, 0, 0])))],
        {"opt_malformed": 1, "syn_inserted": 1}))
    # --- the option behind the layouts Linux sends (each the walk's result from byte 0)
    other = crab_opt("10.9.8.7")
    out.append(case(
        "capable_syn_linux_ts", "after Linux's options (timestamps on): found, its address set to the VIP",
        [svc()], [fwd(inp(opts=LINUX_TS + other), out_to(BE[0], opts=LINUX_TS + cap))], {"syn_redirected": 1}))
    out.append(case(
        "capable_syn_linux_nots", "after Linux's options (timestamps off): found, its address set to the VIP",
        [svc()], [fwd(inp(opts=LINUX_NOTS + other), out_to(BE[0], opts=LINUX_NOTS + cap))],
        {"syn_redirected": 1}))
    alien = bytes([254, 8, 0x12, 0x34]) + ip_bytes("10.9.8.7")
    out.append(case(
        "capable_syn_linux_rfc6994_other_exid", "after Linux's options, a kind-254 option with another ExID "
        "(skipped), then ours: ours gets the VIP",
        [svc()], [fwd(inp(opts=LINUX_NOTS + alien + crab_opt("0.0.0.0", 254)),
                      out_to(BE[0], opts=LINUX_NOTS + alien + crab_opt(VIP, 254)))],
        {"syn_redirected": 1}, opt_kind=254))
    out.append(case(
        "opt_linux_ts_bad_len_then_good", "after Linux's options, a wrong-length redirect option, then a "
        "good one: the good one counts",
        [svc()], [fwd(inp(opts=LINUX_TS + bytes([1, 1, 42, 5, 1, 2, 3, 1]) + other),
                      out_to(BE[0], opts=LINUX_TS + bytes([1, 1, 42, 5, 1, 2, 3, 1]) + cap))],
        {"opt_bad_len": 1, "syn_redirected": 1}))
    out.append(case(
        "opt_linux_ts_runs_past_doff", "after Linux's options, a redirect option running past doff: malformed",
        [svc()], [verdict(inp(opts=LINUX_TS + bytes([1, 1, 42, 6]), payload=ip_bytes(VIP)), "drop")],
        {"opt_malformed": 1, "syn_legacy_drop": 1}))
    # --- truncated / bogus headers
    good = raw(inp(opts=cap))
    out.append(case(
        "truncated_tcp_header", "frame cut inside the TCP header: drop",
        [svc()], [{"in": good[:14 + 20 + 10].hex(), "verdict": "drop"}]))
    bogus = bytearray(raw(inp()))
    bogus[14 + 20 + 12] = 0xF0  # doff 15 with a 20-byte header
    out.append(case(
        "bogus_doff", "doff past the segment end: drop",
        [svc()], [{"in": bytes(bogus).hex(), "verdict": "drop"}]))
    small = bytearray(raw(inp()))
    small[14 + 20 + 12] = 0x30  # doff 3 < 5
    out.append(case(
        "doff_below_5", "doff < 5: drop",
        [svc()], [{"in": bytes(small).hex(), "verdict": "drop"}]))
    return out


# --- next hop from the neighbour table, not a static MAC --------------------
# Backends without "mac": the LB finds the L2 next hop itself (XDP:
# bpf_fib_lookup, DPDK: its neighbour table, netfilter: the IP stack). What
# every runner provides for them is the document's "topology": the LB
# port's MAC and one neighbour entry per backend address (NEIGH, MACs other
# than the static ones of BE, so that a static MAC used by mistake shows).
NEIGH = {dip: "02:00:00:00:02:%02x" % int(dip.split(".")[3]) for dip, _ in BE}


def topology():
    return {"port_mac": LB_MAC, "client_mac": CLI_MAC,
            "neighbours": [{"ip": dip, "mac": NEIGH[dip]} for dip, _ in BE],
            "neighbours6": [{"ip": dip, "mac": NEIGH6[dip]} for dip, _ in BE6]}


def via_neigh(be):
    """A backend as the neighbour table knows it: (DIP, its entry's MAC)."""
    return (be[0], NEIGH[be[0]])


def fib_svc(policy="rr", legacy="drop", backends=BE):
    s = svc(policy, legacy, backends)
    for b in s["backends"]:
        del b["mac"]
    return s


def fib_cases():
    cap = crab_opt(VIP)
    out = [case(
        "fib_capable_syn_rr", "capable SYNs to backends without a static MAC: to the MAC of each backend's "
        "neighbour entry, from the LB port's MAC",
        [fib_svc("rr")],
        [fwd(inp(opts=MSS + cap, sport=SPORT + k), out_to(via_neigh(BE[k % 3]), opts=MSS + cap, sport=SPORT + k))
         for k in range(3)],
        {"syn_redirected": 3})]
    out.append(case(
        "fib_legacy_syn_insert", "insert mode, backend without a static MAC: option added, next hop from the "
        "neighbour table",
        [fib_svc(legacy="insert", backends=BE[:1])],
        [fwd(inp(opts=MSS), out_to(via_neigh(BE[0]), opts=cap + MSS))], {"syn_inserted": 1}))
    out.append(case(
        "fib_legacy_hash", "hash mode (DSR), backend without a static MAC: daddr stays the VIP, the frame goes "
        "to the MAC of the backend's neighbour entry",
        [fib_svc(legacy="hash", backends=BE[:1])],
        [fwd(inp(opts=MSS), dsr_to(via_neigh(BE[0]), opts=MSS)),
         fwd(inp(flags="A", ack=5, payload=b"data"), dsr_to(via_neigh(BE[0]), flags="A", ack=5, payload=b"data"))],
        {"syn_hashed": 1, "nonsyn_hashed": 1}))
    return out


# --- the nf LB: what its runner expects instead ----------------------
# The nf LB hands what it forwards to the kernel's IP stack (or sends it the
# way ip_forward() and ip6_forward() do, in hash mode), so a forwarded
# frame leaves with the TTL decremented (IPv4 header checksum updated) or
# the hop limit decremented (IPv6: no header checksum, and the TCP
# checksum does not cover it), from the LB port's MAC to the MAC of the
# backend's neighbour entry (NEIGH, NEIGH6): it has no static MACs. Each
# such packet carries lb.nf = {verdict, out, why}, derived from the common
# expected frame by exactly these changes. Cases that cannot apply to it
# are restricted with "lbs" (the reasons are in the README).
ALL_LBS = ["xdp", "dpdk", "nf"]
NF_WHY_FORWARD = ("forwarded by the kernel's IP stack: TTL decremented, IP checksum updated, from the LB "
                  "port's MAC to the MAC of the backend's neighbour entry (no static MACs)")
NF_WHY_FORWARD6 = ("forwarded by the kernel's IPv6 stack: hop limit decremented, from the LB port's MAC to "
                   "the MAC of the backend's neighbour entry (no static MACs)")
NF_WHY_IGNORED = ("a frame to another host's MAC is discarded by the IP stack before any netfilter hook: "
                  "the LB never sees it")
NF_NOT_APPLICABLE = {
    "capable_syn_vlan": "the nf LB sees VLAN traffic untagged, on a VLAN device; tagging is the stack's",
    "legacy_syn_insert_vlan": "the nf LB sees VLAN traffic untagged, on a VLAN device; tagging is the stack's",
}
# Frames the IP stack itself discards before PRE_ROUTING (a packet longer
# than its frame: ip_rcv_core(), ip6_rcv_core()): the nf LB never sees them,
# its runner checks that no hook did.
NF_STACK_DROPS = {
    "truncated_tcp_header": "the IPv4 header's total length is more than the frame holds: ip_rcv() drops it "
                            "before any netfilter hook",
    "v6_truncated_tcp_header": "the IPv6 payload length is more than the frame holds: ipv6_rcv() drops it "
                               "before any netfilter hook",
}


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def nf_forwarded(out_hex):
    """The common expected frame as the nf LB's stack sends it on."""
    b = bytearray(bytes.fromhex(out_hex))
    if b[12:14] == b"\x86\xdd":
        return nf_forwarded6(b)
    assert b[12:14] == b"\x08\x00", "nf expectations are for untagged IPv4 or IPv6 frames"
    ihl = (b[14] & 15) * 4
    dst = ".".join(str(x) for x in b[30:34])
    if dst not in NEIGH:  # DSR: daddr is the VIP, the backend is the MAC's
        dst = {mac_bytes(m): d for d, m in BE}.get(bytes(b[0:6])) or \
            {mac_bytes(m): d for d, m in NEIGH.items()}[bytes(b[0:6])]
    b[0:6] = mac_bytes(NEIGH[dst])
    b[6:12] = mac_bytes(LB_MAC)
    b[22] -= 1
    b[24:26] = b"\0\0"
    b[24:26] = crab_csum(bytes(b[14:14 + ihl])).to_bytes(2, "big")
    return bytes(b).hex()


def nf_forwarded6(b):
    """nf_forwarded() of an untagged IPv6 frame @b (a bytearray)."""
    dst = socket.inet_ntop(socket.AF_INET6, bytes(b[38:54]))
    if dst not in NEIGH6:  # DSR: daddr is the VIP, the backend is the MAC's
        dst = {mac_bytes(m): d for d, m in BE6}[bytes(b[0:6])]
    b[0:6] = mac_bytes(NEIGH6[dst])
    b[6:12] = mac_bytes(LB_MAC)
    b[21] -= 1  # hop limit
    return bytes(b).hex()


def nf_expectations(cs):
    for c in cs:
        lbs = c.get("lbs", ALL_LBS)
        if "nf" not in lbs:
            continue
        if c["name"] in NF_NOT_APPLICABLE:
            c["lbs"] = [x for x in lbs if x != "nf"]
            continue
        for p in c["packets"]:
            dmac = bytes.fromhex(p["in"])[0:6]
            if c["name"] in NF_STACK_DROPS:
                p["lb"] = {"nf": {"verdict": "ignored", "why": NF_STACK_DROPS[c["name"]]}}
            elif p["verdict"] == "forward":
                v6 = bytes.fromhex(p["out"])[12:14] == b"\x86\xdd"
                p["lb"] = {"nf": {"verdict": "forward", "out": nf_forwarded(p["out"]),
                                  "why": NF_WHY_FORWARD6 if v6 else NF_WHY_FORWARD}}
            elif dmac != mac_bytes(LB_MAC) and not dmac[0] & 1:
                p["lb"] = {"nf": {"verdict": "ignored", "why": NF_WHY_IGNORED}}
    return cs


# ---- IPv6 ---------------------------------------------------------------------

CLI6 = "2001:db8::2"
VIP6 = "2001:db8:100::1"
BE6 = [("2001:db8::11", "02:00:00:00:03:0b"),
       ("2001:db8::12", "02:00:00:00:03:0c"),
       ("2001:db8::13", "02:00:00:00:03:0d")]
# The IPv6 neighbour entries of the topology: BE6[i] lives on the host of
# BE[i], so its MAC is that host's (NEIGH's), and differs from the static
# MACs of BE6 as NEIGH's differ from BE's.
NEIGH6 = {dip: NEIGH[BE[i][0]] for i, (dip, _) in enumerate(BE6)}


def frame6(src_mac, dst_mac, dst, opts=b"", flags="S", payload=b"", sport=SPORT, dport=PORT,
           ext=(), seq=1000, ack=0, l4="tcp", src=CLI6):
    """An IPv6 frame: extension headers EXT (scapy layers) before TCP."""
    assert len(opts) % 4 == 0
    pkt = Ether(src=src_mac, dst=dst_mac) / IPv6(src=src, dst=dst, hlim=64)
    for e in ext:
        pkt = pkt / e
    if l4 == "udp":
        return pkt / UDP(sport=sport, dport=dport) / Raw(payload or b"x")
    tcp = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
              window=64240, dataofs=5 + len(opts) // 4)
    body = opts + payload
    return pkt / tcp / Raw(body) if body else pkt / tcp


def svc6(policy="rr", legacy="drop", backends=BE6[:1], weights=None, draining=()):
    s = svc(policy, legacy, backends, weights, draining)
    s["vip"] = VIP6
    return s


def inp6(**kw):
    return frame6(CLI_MAC, LB_MAC, VIP6, **kw)


def out6_to(be, **kw):
    """What a backend must receive: daddr = DIP, hop limit unchanged."""
    return frame6(LB_MAC, be[1], be[0], **kw)


def dsr6_to(be, **kw):
    return frame6(LB_MAC, be[1], VIP6, **kw)


def hbh():
    return IPv6ExtHdrHopByHop()


def dstopt():
    return IPv6ExtHdrDestOpt()


def case6(name, desc, services, packets, counters=None, opt_kind=42, xdp_global=None, lbs=None):
    return case("v6_" + name, desc, services, packets, counters, opt_kind, lbs, xdp_global)


def cases6():
    out = []
    cap = crab_opt(VIP6)
    other6 = crab_opt("2001:db8:ffff::9")
    out.append(case6(
        "capable_syn_rr", "capable IPv6 SYNs (18-byte option) go round-robin over 3 backends, "
        "option keeps the VIP",
        [svc6("rr", backends=BE6)],
        [fwd(inp6(opts=MSS + cap, sport=SPORT + k), out6_to(BE6[k % 3], opts=MSS + cap, sport=SPORT + k))
         for k in range(4)],
        {"syn_redirected": 4}))
    out.append(case6(
        "capable_syn_wrr", "wrr 1:3 over IPv6 backends is the smooth ring B A B B",
        [svc6("wrr", backends=BE6[:2], weights=[1, 3])],
        [fwd(inp6(opts=cap, sport=SPORT + k), out6_to(BE6[[1, 0, 1, 1][k]], opts=cap, sport=SPORT + k))
         for k in range(4)],
        {"syn_redirected": 4}))
    out.append(case6(
        "capable_syn_draining", "a draining IPv6 backend gets no new SYN",
        [svc6("rr", backends=BE6[:2], draining=(BE6[0][0],))],
        [fwd(inp6(opts=cap, sport=SPORT + k), out6_to(BE6[1], opts=cap, sport=SPORT + k)) for k in range(2)],
        {"syn_redirected": 2}))
    odd_in = bytes([1]) + crab_opt("2001:db8:ffff::9")[2:] + bytes([1])
    odd_out = bytes([1]) + cap[2:] + bytes([1])
    out.append(case6(
        "capable_syn_odd_offset_addr", "IPv6 option at an odd offset naming another address: set to the VIP",
        [svc6()], [fwd(inp6(opts=odd_in), out6_to(BE6[0], opts=odd_out))], {"syn_redirected": 1}))
    out.append(case6(
        "capable_syn_rfc6994", "RFC 6994 form for IPv6 (kind 254, length 20, ExID) when configured",
        [svc6()], [fwd(inp6(opts=crab_opt("::", 254)), out6_to(BE6[0], opts=crab_opt(VIP6, 254)))],
        {"syn_redirected": 1}, opt_kind=254))
    out.append(case6(
        "capable_syn_payload", "IPv6 SYN with data: payload intact, checksum over it",
        [svc6()], [fwd(inp6(opts=cap, payload=b"GET / HTTP/1.0\r\n\r\n"),
                       out6_to(BE6[0], opts=cap, payload=b"GET / HTTP/1.0\r\n\r\n"))],
        {"syn_redirected": 1}))
    out.append(case6(
        "ext_hbh_dstopt_capable", "hop-by-hop and destination options before TCP: walked, kept, "
        "the SYN redirected",
        [svc6()], [fwd(inp6(opts=MSS + cap, ext=(hbh(), dstopt())),
                       out6_to(BE6[0], opts=MSS + cap, ext=(hbh(), dstopt())))],
        {"syn_redirected": 1}))
    long_dst = IPv6ExtHdrDestOpt(options=[PadN(optdata=bytes(252))])  # 256 bytes
    out.append(case6(
        "ext_long_dstopt_capable", "a 256-byte destination options header before TCP (the TCP header past "
        "the frame's first 256 bytes): walked, kept, the option after Linux's options found, the SYN "
        "redirected",
        [svc6()], [fwd(inp6(opts=LINUX_TS + other6, ext=(long_dst,)),
                       out6_to(BE6[0], opts=LINUX_TS + cap, ext=(long_dst,)))],
        {"syn_redirected": 1}))
    out.append(case6(
        "ext_routing_done_capable", "a routing header with no segments left (the VIP is the final "
        "destination): walked, the SYN redirected",
        [svc6()], [fwd(inp6(opts=cap, ext=(IPv6ExtHdrRouting(addresses=["2001:db8::99"], segleft=0),)),
                       out6_to(BE6[0], opts=cap,
                               ext=(IPv6ExtHdrRouting(addresses=["2001:db8::99"], segleft=0),)))],
        {"syn_redirected": 1}))
    out.append(case6(
        "ext_routing_segleft_pass", "a routing header with segments left: the VIP is a hop on the way, "
        "not the destination: passed untouched for the stack",
        [svc6()], [verdict(inp6(opts=cap, ext=(IPv6ExtHdrRouting(addresses=["2001:db8::99"], segleft=1),)),
                           "pass")],
        {"syn_redirected": 0}))
    out.append(case6(
        "ext_too_many_drop", "9 destination options headers before TCP (more than the walk's 8): "
        "to a VIP, dropped and counted",
        [svc6()], [verdict(inp6(opts=cap, ext=tuple(dstopt() for _ in range(9))), "drop")],
        {"syn_redirected": 0}, xdp_global={"ipv6_ext_limit": 1}))
    out.append(case6(
        "ext_eight_capable", "8 extension headers (the walk's bound): the SYN is redirected",
        [svc6()], [fwd(inp6(opts=cap, ext=tuple(dstopt() for _ in range(8))),
                       out6_to(BE6[0], opts=cap, ext=tuple(dstopt() for _ in range(8))))],
        {"syn_redirected": 1}))
    out.append(case6(
        "fragment_syn_drop", "a SYN behind a fragment header (first fragment) to the VIP: drop and count",
        [svc6()], [verdict(inp6(opts=cap, ext=(IPv6ExtHdrFragment(m=1, id=7),)), "drop")],
        {"fragment": 1, "syn_redirected": 0}))
    out.append(case6(
        "fragment_later_drop", "a non-first fragment to the VIP (after hop-by-hop): drop and count",
        [svc6()], [verdict(inp6(payload=b"x" * 16, ext=(hbh(), IPv6ExtHdrFragment(offset=10, m=0, id=7))),
                           "drop")],
        {"fragment": 1}))
    out.append(case6(
        "legacy_syn_drop", "IPv6 SYN without the option, drop mode",
        [svc6(legacy="drop")], [verdict(inp6(opts=MSS), "drop")], {"syn_legacy_drop": 1}))
    out.append(case6(
        "legacy_syn_insert", "insert mode: 20 option bytes after the fixed header, payload length + 20",
        [svc6(legacy="insert")], [fwd(inp6(opts=MSS), out6_to(BE6[0], opts=cap + MSS))], {"syn_inserted": 1}))
    out.append(case6(
        "legacy_syn_insert_ext_payload", "insert behind a hop-by-hop header, with payload",
        [svc6(legacy="insert")],
        [fwd(inp6(opts=MSS, payload=b"hello", ext=(hbh(),)),
             out6_to(BE6[0], opts=cap + MSS, payload=b"hello", ext=(hbh(),)))],
        {"syn_inserted": 1}))
    out.append(case6(
        "legacy_syn_insert_rfc6994", "insert in the RFC 6994 form",
        [svc6(legacy="insert")], [fwd(inp6(opts=MSS), out6_to(BE6[0], opts=crab_opt(VIP6, 254) + MSS))],
        {"syn_inserted": 1}, opt_kind=254))
    out.append(case6(
        "legacy_syn_insert_no_room", "insert refused: doff 11 + 5 > 15 (24 option bytes already)",
        [svc6(legacy="insert")], [verdict(inp6(opts=MSS + bytes([1]) * 20), "drop")], {"no_room": 1}))
    out.append(case6(
        "legacy_syn_insert_fits", "insert with 20 option bytes already: doff 10 + 5 = 15 fits",
        [svc6(legacy="insert")],
        [fwd(inp6(opts=MSS + bytes([1]) * 16), out6_to(BE6[0], opts=cap + MSS + bytes([1]) * 16))],
        {"syn_inserted": 1}))
    out.append(case6(
        "legacy_syn_hash", "hash mode: IPv6 SYN forwarded DSR-style, daddr unchanged, no option",
        [svc6(legacy="hash")], [fwd(inp6(opts=MSS), dsr6_to(BE6[0], opts=MSS))], {"syn_hashed": 1}))
    out.append(case6(
        "nonsyn_hash", "ACK to an IPv6 VIP in hash mode: consistent-hash DSR",
        [svc6(legacy="hash")],
        [fwd(inp6(flags="A", ack=5, payload=b"data"), dsr6_to(BE6[0], flags="A", ack=5, payload=b"data"))],
        {"nonsyn_hashed": 1}))
    out.append(case6(
        "nonsyn_drop", "ACK to an IPv6 VIP, not hash mode: drop and count",
        [svc6()], [verdict(inp6(flags="A", ack=5), "drop")], {"nonsyn_drop": 1}))
    out.append(case6(
        "capable_syn_linux_ts", "after Linux's options (timestamps on): the IPv6 option found, its address "
        "set to the VIP",
        [svc6()], [fwd(inp6(opts=LINUX_TS + other6), out6_to(BE6[0], opts=LINUX_TS + cap))],
        {"syn_redirected": 1}))
    out.append(case6(
        "opt_linux_ts_v4_form", "after Linux's options, the IPv4-form option in an IPv6 SYN: wrong length, "
        "counted, legacy path (drop)",
        [svc6()], [verdict(inp6(opts=LINUX_TS + crab_opt(VIP)), "drop")],
        {"opt_bad_len": 1, "syn_legacy_drop": 1}))
    out.append(case6(
        "opt_linux_ts_runs_past_doff", "after Linux's options, an IPv6 redirect option running past doff: "
        "malformed",
        [svc6()], [verdict(inp6(opts=LINUX_TS + bytes([1, 1, 42, 18]), payload=bytes(16)), "drop")],
        {"opt_malformed": 1, "syn_legacy_drop": 1}))
    out.append(case6(
        "v4_form_option_bad_len", "the IPv4-form option (length 6) in an IPv6 SYN: wrong length for the "
        "family, counted, legacy path (drop)",
        [svc6()], [verdict(inp6(opts=crab_opt(VIP)), "drop")], {"opt_bad_len": 1, "syn_legacy_drop": 1}))
    out.append(case6(
        "v4_form_then_v6_form", "a wrong-family option then a good one: the good one counts",
        [svc6()], [fwd(inp6(opts=crab_opt(VIP) + cap), out6_to(BE6[0], opts=crab_opt(VIP) + cap))],
        {"opt_bad_len": 1, "syn_redirected": 1}))
    out.append(case6(
        "opt_v6_form_in_ipv4_syn", "the IPv6-form option (length 18) in an IPv4 SYN: wrong length, counted",
        [svc()], [verdict(inp(opts=crab_opt(VIP6)), "drop")], {"opt_bad_len": 1, "syn_legacy_drop": 1}))
    for olen in (0, 1):
        out.append(case6(
            "opt_len_%d" % olen, "option length %d in an IPv6 SYN: malformed, legacy path (drop)" % olen,
            [svc6()], [verdict(inp6(opts=bytes([8, olen, 0, 0]) + cap), "drop")],
            {"opt_malformed": 1, "syn_legacy_drop": 1}))
    out.append(case6(
        "opt_runs_past_doff", "18-byte option running past doff: malformed",
        [svc6()], [verdict(inp6(opts=bytes([1, 1, 42, 18]), payload=bytes(16)), "drop")],
        {"opt_malformed": 1, "syn_legacy_drop": 1}))
    out.append(case6(
        "non_vip_pass", "IPv6 traffic to another address passes untouched",
        [svc6()], [verdict(frame6(CLI_MAC, LB_MAC, "2001:db8::1", opts=cap), "pass")], {"syn_redirected": 0}))
    out.append(case6(
        "vip_other_port_pass", "IPv6 VIP on a port without a service passes",
        [svc6()], [verdict(inp6(opts=cap, dport=81), "pass")], {"syn_redirected": 0}))
    ns = (Ether(src=CLI_MAC, dst=LB_MAC) / IPv6(src=CLI6, dst=VIP6, hlim=255) /
          ICMPv6ND_NS(tgt=VIP6) / ICMPv6NDOptSrcLLAddr(lladdr=CLI_MAC))
    echo = Ether(src=CLI_MAC, dst=LB_MAC) / IPv6(src=CLI6, dst=VIP6) / ICMPv6EchoRequest(id=1, seq=1)
    out.append(case6(
        "ndp_icmpv6_pass", "neighbour solicitation and echo request to the VIP: passed untouched",
        [svc6()], [verdict(ns, "pass"), verdict(echo, "pass")], {"syn_redirected": 0}))
    out.append(case6(
        "v4_service_beside_v6", "an IPv4 and an IPv6 service on one port: each family to its own",
        [svc6(), svc()],
        [fwd(inp6(opts=cap), out6_to(BE6[0], opts=cap)), fwd(inp(opts=crab_opt(VIP)),
                                                           out_to(BE[0], opts=crab_opt(VIP)))],
        {"syn_redirected": 1}))
    good = raw(inp6(opts=cap))
    out.append(case6(
        "truncated_tcp_header", "IPv6 frame cut inside the TCP header (payload length says more): drop",
        [svc6()], [{"in": good[:14 + 40 + 10].hex(), "verdict": "drop"}], xdp_global={"truncated": 1}))
    bogus = bytearray(raw(inp6()))
    bogus[14 + 40 + 12] = 0xF0  # doff 15 with a 20-byte header
    out.append(case6(
        "bogus_doff", "IPv6: doff past the segment end: drop",
        [svc6()], [{"in": bytes(bogus).hex(), "verdict": "drop"}], xdp_global={"truncated": 1}))
    bad_ver = bytearray(raw(inp6(opts=cap)))
    bad_ver[14] = 0x45  # version 4 under ethertype IPv6
    out.append(case6(
        "ip_version_not_6_pass", "ethertype IPv6, IP version 4: not parsed, passed",
        [svc6()], [{"in": bytes(bad_ver).hex(), "verdict": "pass"}], {"syn_redirected": 0},
        xdp_global={"ip_version_bad": 1}, lbs=["xdp"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", help="write here instead of stdout")
    a = ap.parse_args()
    doc = json.dumps({"version": 1, "topology": topology(),
                      "cases": nf_expectations(cases() + fib_cases() + cases6())}, indent=1)
    if a.output:
        with open(a.output, "w") as f:
            f.write(doc + "\n")
    else:
        sys.stdout.write(doc + "\n")


if __name__ == "__main__":
    main()
