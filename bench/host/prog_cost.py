#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench/host/run.sh --prog-stats: the programs' cost per run and per
transaction, from DIR/exp1/*.progstats.json (all rounds pooled).

    prog_cost.py DIR
"""
import glob
import json
import os
import re
import sys


def main():
    d = sys.argv[1]
    tot = {}
    trans = {}
    for f in sorted(glob.glob(os.path.join(d, "exp1", "*.progstats.json"))):
        m = re.match(r"(.+)-(crr|rr)(\.r\d+)?\.progstats\.json$", os.path.basename(f))
        if not m:
            continue
        key = (m.group(1), m.group(2))
        res = json.load(open(f.replace(".progstats.json", ".json")))
        # every transaction the programs saw: the measured ones and the warmup
        trans[key] = trans.get(key, 0) + res.get("attempts", res.get("samples", 0))
        for prog, v in json.load(open(f)).items():
            t = tot.setdefault(key, {}).setdefault(prog, [0, 0])
            t[0] += v["run_cnt"]
            t[1] += v["run_time_ns"]
    print("# BPF programs' cost (kernel.bpf_stats_enabled, all rounds pooled)\n")
    print("The statistics add two clock reads to every run: the figures include them.\n")
    print("| alternative | test | program | runs per transaction | ns per run | ns per transaction |")
    print("|---|---|---|---:|---:|---:|")
    for key in sorted(tot):
        n = trans.get(key) or 0
        for prog, (cnt, ns) in sorted(tot[key].items()):
            if not cnt:
                continue
            per_t = "%.1f" % (cnt / n) if n else "-"
            ns_t = "%.0f" % (ns / n) if n else "-"
            print("| %s | %s | %s | %s | %.0f | %s |" % (key[0], key[1], prog, per_t, ns / cnt, ns_t))


if __name__ == "__main__":
    main()
