#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summary and figure of a scale-out run (tools/scaleout/run.sh).

    plot.py RUN_DIR

RUN_DIR holds one directory per alternative (xdp, nf, ipvs: what
experiment.sh wrote) and the run's env.txt / host-load-*.txt. Writes
RUN_DIR/summary.md (the table docs/PERFORMANCE.md shows), scaleout.png and
scaleout.json (the numbers the figure draws). Deterministic: the same raw
files give the same summary, byte for byte (tools/scaleout/pack.sh checks it).
"""
import csv
import json
import os
import re
import sys
from datetime import datetime, timezone

NAMES = {
    "xdp": "CRAB, XDP LBs (host kernel)",
    "xdp-noflood": "CRAB, XDP LBs, no unknown-unicast flooding to the LBs (host kernel)",
    "nf": "CRAB, nf LB module (guest)",
    "ipvs": "IPVS NAT + SNAT (guest)",
}
RETRANS_MS = 900  # connect() above this needed a SYN retransmission (RTO 1 s)


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2:
                out[p[0]] = p[1]
    return out


def route_events(path):
    """[(t_wall, [next hops])] of the VIP's route; [] for a deleted route."""
    ev = []
    with open(path) as f:
        for line in f:
            m = re.match(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\] (Deleted )?(\S+)", line)
            if not m or not m.group(3).startswith("198.18.100.1"):
                continue
            t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
            hops = sorted(set(re.findall(r"via (\d+\.\d+\.\d+\.\d+)", line)))
            ev.append((t, [] if m.group(2) else hops))
    return ev


def host_load(run, t0, t1):
    vals = []
    for name in sorted(os.listdir(run)):
        if not name.startswith("host-load"):
            continue
        with open(os.path.join(run, name)) as f:
            for line in f:
                p = line.split()
                if len(p) >= 2 and t0 <= float(p[0]) <= t1:
                    vals.append(float(p[1]))
    if not vals:
        return None
    return (min(vals), sum(vals) / len(vals), max(vals))


def analyse(run, alt):
    d = os.path.join(run, alt)
    prm = read_kv(os.path.join(d, "params.txt"))
    evs = read_kv(os.path.join(d, "events.txt"))
    with open(os.path.join(d, "held.json")) as f:
        held = json.load(f)
    # The traffic's own start (wall clock) is the origin of every time.
    t0 = held["t0_wall"]
    t_kill, t_back, t_end = float(evs["kill"]) - t0, float(evs["back"]) - t0, float(evs["end"]) - t0
    lb2 = "198.18.0.2"
    routes = [(t - t0, h) for t, h in route_events(os.path.join(d, "route.txt"))]
    t_wd = next((t for t, h in routes if t >= t_kill and lb2 not in h), None)
    t_re = next((t for t, h in routes if t_wd is not None and t >= t_back and len(h) == 3), None)
    # other route changes: not caused by the kill or the return
    other = [(round(t, 3), h) for t, h in routes
             if not (t_wd is not None and abs(t - t_wd) < 1e-6) and not (t_re is not None and t >= t_back)]

    conns = []
    with open(os.path.join(d, "conns.csv")) as f:
        for r in csv.DictReader(f):
            conns.append((float(r["start_s"]), float(r["connect_ms"]), int(r["ok"]), r["error"]))
    failed = [c for c in conns if not c[2]]
    slow = [c for c in conns if c[2] and c[1] > RETRANS_MS]
    hit = sorted(failed + slow)
    hfail = []
    with open(os.path.join(d, "held.csv")) as f:
        for r in csv.DictReader(f):
            hfail.append((float(r["t_s"]), int(r["conn"]), r["error"]))

    syn = []
    with open(os.path.join(d, "syns.csv")) as f:
        next(f)
        for line in f:
            p = line.split()
            if len(p) == 4 and "-1" not in p[1:]:
                syn.append((float(p[0]) - t0, [int(x) for x in p[1:]]))

    def count_at(t):
        best = None
        for ts, v in syn:
            if ts <= t:
                best = v
        return best

    def spread(a, b):
        x, y = count_at(a), count_at(b)
        if x is None or y is None:
            return None
        dd = [y[i] - x[i] for i in range(3)]
        s = sum(dd)
        return dd, [round(v / s, 3) if s else None for v in dd]

    phases = {
        "before": spread(0.0, t_kill),
        "withdrawn": spread(t_wd + 0.5, t_back) if t_wd is not None else None,
        "after": spread(t_re + 1.0, t_end) if t_re is not None else None,
    }
    rates = []
    for (ta, va), (tb, vb) in zip(syn, syn[1:]):
        if tb > ta:
            rates.append((round((ta + tb) / 2, 3), [round((vb[i] - va[i]) / (tb - ta), 2) for i in range(3)]))
    return {
        "alt": alt,
        "params": prm,
        "t_kill": round(t_kill, 3),
        "t_back": round(t_back, 3),
        "t_end": round(t_end, 3),
        "t_withdrawn": None if t_wd is None else round(t_wd, 3),
        "t_readvertised": None if t_re is None else round(t_re, 3),
        "withdraw_ms": None if t_wd is None else round((t_wd - t_kill) * 1000),
        "readvertise_ms": None if t_re is None else round((t_re - t_back) * 1000),
        "other_route_changes": other,
        "conns": len(conns),
        "failed": len(failed),
        "failed_errors": sorted({c[3] for c in failed}),
        "retransmitted": len(slow),
        "hit_window": None if not hit else [round(hit[0][0] - t_kill, 3), round(hit[-1][0] - t_kill, 3)],
        "held": held["held"],
        "held_broken": len(hfail),
        "held_errors": sorted({h[2] for h in hfail}),
        "held_max_gap_s": max((c["max_gap_s"] for c in held["conns"]), default=None),
        "held_max_gap_end": max(((c["max_gap_s"], c.get("max_gap_end_s")) for c in held["conns"]),
                                default=(None, None))[1],
        "phases": phases,
        "rates": rates,
        "scatter": [(round(c[0], 3), c[1], c[2]) for c in conns],
        "held_fail_t": [round(h[0], 3) for h in hfail],
        "load": host_load(run, t0, t0 + t_end),
    }


def fmt_spread(p):
    if not p:
        return "-"
    dd, sh = p
    return " / ".join(str(v) for v in dd) + " (" + " / ".join("%.0f%%" % (100 * v) if v is not None else "-" for v in sh) + ")"


def summary(run, res, env):
    out = ["# Scale-out run: LB 2 of 3 killed and brought back under steady load", ""]
    if env:
        out += ["```", env.strip(), "```", ""]
    out += [
        "| alternative | new conns | failed | SYN retransmitted (connect > 0.9 s) | affected, s after the kill "
        "| established broken / held | route withdrawn after the kill | re-announced after the return "
        "| SYNs per LB before (share) | with LB 2 withdrawn | after the return | host load 1-min (min/mean/max) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|---|---|---|",
    ]
    for r in res:
        hw = "-" if not r["hit_window"] else "%.2f .. %.2f" % tuple(r["hit_window"])
        ld = "-" if not r["load"] else "%.1f / %.1f / %.1f" % r["load"]
        out.append("| %s | %d | %d | %d | %s | %d / %d | %s | %s | %s | %s | %s | %s |" % (
            NAMES.get(r["alt"], r["alt"]), r["conns"], r["failed"], r["retransmitted"], hw,
            r["held_broken"], r["held"],
            "-" if r["withdraw_ms"] is None else "%d ms" % r["withdraw_ms"],
            "-" if r["readvertise_ms"] is None else "%d ms" % r["readvertise_ms"],
            fmt_spread(r["phases"]["before"]), fmt_spread(r["phases"]["withdrawn"]),
            fmt_spread(r["phases"]["after"]), ld))
    out.append("")
    for r in res:
        p = r["params"]
        out.append("- %s: %s new connections/s for %s s (open loop), %s held connections exchanging 64 B "
                   "every %s s; LB 2 killed at %.2f s, back at %.2f s; BFD %s ms x %s; longest gap "
                   "between two good exchanges on a held connection %.2f s." % (
                       NAMES.get(r["alt"], r["alt"]), p.get("rate"), p.get("duration"), p.get("held"),
                       p.get("held_interval", "0.1"), r["t_kill"], r["t_back"], p.get("bfd_ms"), p.get("bfd_mult"),
                       r["held_max_gap_s"] or 0)
                   + ("" if r["held_max_gap_end"] is None else " (ending at %.2f s)" % r["held_max_gap_end"]))
        if r["failed_errors"]:
            out.append("  failed connections' errors: " + "; ".join(r["failed_errors"]))
        if r["held_errors"]:
            out.append("  held connections' errors: " + "; ".join(r["held_errors"]))
        if r["other_route_changes"]:
            out.append("  other route changes of the VIP (s, next hops): " +
                       "; ".join("%.2f %s" % (t, ",".join(h) or "none") for t, h in r["other_route_changes"]))
    out.append("")
    return "\n".join(out)


def plot(run, res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(res), figsize=(6.5 * len(res), 7), squeeze=False, sharex="col")
    for k, r in enumerate(res):
        a, b = axes[0][k], axes[1][k]
        for i in range(3):
            a.plot([x[0] for x in r["rates"]], [x[1][i] for x in r["rates"]], label="LB %d" % (i + 1))
        a.set_title(NAMES.get(r["alt"], r["alt"]))
        a.set_ylabel("SYNs (connections) per second at each LB")
        ok = [(t, c) for t, c, o in r["scatter"] if o]
        b.scatter([t for t, _ in ok], [max(c, 0.01) for _, c in ok], s=4, label="new connection: connect time")
        bad = [t for t, _, o in r["scatter"] if not o]
        if bad:
            b.scatter(bad, [8000] * len(bad), marker="x", color="red", s=20, label="new connection failed")
        if r["held_fail_t"]:
            b.scatter(r["held_fail_t"], [12000] * len(r["held_fail_t"]), marker="v", color="black", s=20,
                      label="established connection broken")
        b.set_yscale("log")
        b.set_ylabel("connect time, ms (log)")
        b.set_xlabel("seconds since the start of the traffic")
        for ax in (a, b):
            ax.axvline(r["t_kill"], color="red", ls="--", lw=1, label="LB 2 killed")
            if r["t_withdrawn"] is not None:
                ax.axvline(r["t_withdrawn"], color="orange", ls=":", lw=1.5, label="route withdrawn")
            ax.axvline(r["t_back"], color="green", ls="--", lw=1, label="LB 2 back")
            if r["t_readvertised"] is not None:
                ax.axvline(r["t_readvertised"], color="blue", ls=":", lw=1.5, label="route back")
        a.legend(fontsize=7, loc="upper right")
        b.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "scaleout.png"), dpi=90)
    with open(os.path.join(run, "scaleout.json"), "w") as f:
        json.dump([{k: r[k] for k in ("alt", "rates", "scatter", "held_fail_t", "t_kill", "t_withdrawn",
                                      "t_back", "t_readvertised")} for r in res], f, sort_keys=True)


def main():
    run = sys.argv[1]
    alts = [a for a in ("xdp", "xdp-noflood", "nf", "ipvs") if os.path.isdir(os.path.join(run, a))]
    if not alts:
        print("error: no alternative in " + run, file=sys.stderr)
        return 1
    res = [analyse(run, a) for a in alts]
    env = ""
    if os.path.exists(os.path.join(run, "env.txt")):
        with open(os.path.join(run, "env.txt")) as f:
            env = f.read()
    s = summary(run, res, env)
    with open(os.path.join(run, "summary.md"), "w") as f:
        f.write(s)
    plot(run, res)
    print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
