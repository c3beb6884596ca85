#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""BPF object bookkeeping of the eBPF lifecycle test (bpftool, JSON).

  record --cg CG... --dev NS:DEV... [--link-pin PATH...] --out FILE
      appends one line to FILE: the ids of the programs attached to the
      cgroups (bpftool cgroup show), to the devices (bpftool net show in
      the named network namespace: tc and XDP) and behind the pinned links
      (the eBPF client's netfilter program), and of the maps those
      programs use; prints "progs N maps M".
  gone --ids FILE [--keep-pinned DIR] [--wait S]
      waits (up to S seconds: programs and maps are freed after an RCU
      grace period) until no program, link or map recorded in FILE exists
      any more, except maps still pinned under DIR; prints what is left
      and exits 1 when anything is.
  count
      prints the host's totals: "progs N maps M links L".
"""
import argparse
import json
import os
import subprocess
import sys
import time


def bpftool(*args, ns=None):
    cmd = ["bpftool", "-j"] + list(args)
    if ns:
        cmd = ["nsenter", "--net=/run/netns/" + ns] + cmd
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out or b"null")


def record(a):
    progs = set()
    for cg in a.cg:
        for p in bpftool("cgroup", "show", cg) or []:
            progs.add(p["id"])
    for nd in a.dev:
        ns, _, dev = nd.partition(":")
        for ent in bpftool("net", "show", "dev", dev, ns=ns) or []:
            for kind in ("xdp", "tc"):
                for p in ent.get(kind, []):
                    for k in ("id", "prog_id"):
                        if k in p:
                            progs.add(p[k])
                    # XDP with several modes lists them in "multi_attachments"
                    for m in p.get("multi_attachments", []):
                        progs.add(m["id"])
    for pin in a.link_pin:
        progs.add(bpftool("link", "show", "pinned", pin)["prog_id"])
    maps = set()
    for p in bpftool("prog", "show") or []:
        if p["id"] in progs:
            maps.update(p.get("map_ids", []))
    with open(a.out, "a") as f:
        f.write(json.dumps({"progs": sorted(progs), "maps": sorted(maps)}) + "\n")
    print("progs %d maps %d" % (len(progs), len(maps)))


def pinned_maps(d):
    ids = set()
    for root, _, files in os.walk(d):
        for fn in files:
            try:
                j = bpftool("map", "show", "pinned", os.path.join(root, fn))
            except subprocess.CalledProcessError:
                continue        # a pinned program or link
            ids.add(j["id"])
    return ids


def gone(a):
    progs, maps = set(), set()
    for line in open(a.ids):
        j = json.loads(line)
        progs.update(j["progs"])
        maps.update(j["maps"])
    keep = pinned_maps(a.keep_pinned) if a.keep_pinned else set()
    deadline = time.monotonic() + a.wait
    while True:
        lp = {p["id"] for p in bpftool("prog", "show") or []} & progs
        lm = ({m["id"] for m in bpftool("map", "show") or []} & maps) - keep
        ll = {l["id"] for l in bpftool("link", "show") or []
              if l.get("prog_id") in progs}
        if not (lp or lm or ll) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print("recorded: %d programs, %d maps (%d still pinned, kept); left: "
          "programs %s, maps %s, links %s" % (len(progs), len(maps),
                                               len(keep & maps), sorted(lp),
                                               sorted(lm), sorted(ll)))
    return 1 if (lp or lm or ll) else 0


def count(_):
    print("progs %d maps %d links %d" % (len(bpftool("prog", "show") or []),
                                         len(bpftool("map", "show") or []),
                                         len(bpftool("link", "show") or [])))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--cg", action="append", default=[])
    r.add_argument("--dev", action="append", default=[])
    r.add_argument("--link-pin", action="append", default=[])
    r.add_argument("--out", required=True)
    g = sub.add_parser("gone")
    g.add_argument("--ids", required=True)
    g.add_argument("--keep-pinned")
    g.add_argument("--wait", type=float, default=10.0)
    sub.add_parser("count")
    a = p.parse_args()
    return {"record": record, "gone": gone, "count": count}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
