#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Tables and plots of one bench/e2e run directory.

    plot.py RUN_DIR

Reads RUN_DIR/exp1/<variant>-<crr|rr>.json, RUN_DIR/exp2/<variant>.txt (+ -<k>.json),
RUN_DIR/exp3/<variant>-<crr|rr>-<size>-<k>.json
and RUN_DIR/exp4/<policy>-<load>.json (crab-loadgen output; experiment 1 run
in interleaved rounds has one <variant>-<crr|rr>.r<k>.json/.csv per round,
pooled here: percentiles from the summed histograms, ratios to direct also
per round), writes RUN_DIR/summary.md (the tables, ratios to the direct path
of the same run) and RUN_DIR/exp1-latency.png, RUN_DIR/exp2-capacity.png, RUN_DIR/exp3-throughput.png,
RUN_DIR/exp4-policies.png, each with a NAME.json of the numbers it draws.
Nothing is invented: a missing or failed point is
reported as such.
"""
import glob
import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = ["direct", "crab-xdp", "crab-xdp-noprobe", "crab-nf", "ipvs-nat", "ipvs-dr", "dsr-xdp", "nft-dnat", "haproxy"]
LABELS = {
    "direct": "direct (no LB)",
    "crab-xdp": "CRAB, XDP LB",
    "crab-xdp-noprobe": "CRAB, XDP LB, no input probe (eBPF client attached with --input-probe off)",
    "crab-nf": "CRAB, nf LB module",
    "ipvs-nat": "IPVS NAT",
    "ipvs-dr": "IPVS DR (DSR)",
    "dsr-xdp": "stateless DSR (XDP LB, hash mode)",
    "nft-dnat": "nft DNAT (kube-proxy style)",
    "haproxy": "HAProxy (L7, mode tcp)",
}
TVARIANTS = ["nolimit", "direct", "crab-nf", "crab-xdp", "ipvs-dr", "ipvs-nat"]
TLABELS = {
    "nolimit": "no LB, links not shaped (guest ceiling)",
    "direct": "no LB, client to the 3 servers (3R bound)",
    "crab-nf": "CRAB, nf LB module",
    "crab-xdp": "CRAB, XDP LB",
    "ipvs-dr": "IPVS DR (DSR)",
    "ipvs-nat": "IPVS NAT",
}
POLICIES = ["crab-rr", "crab-random", "hash"]
PLABELS = {"crab-rr": "CRAB rr", "crab-random": "CRAB random", "hash": "hash (Maglev, stateless)"}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def save_figure(fig, run, name, data):
    """Write the figure NAME.png and, next to it, NAME.json: exactly the
    numbers the figure draws (the pooled data behind it), so that a figure
    stays checkable after the per-round raw files are packed away
    (bench/e2e/pack.sh)."""
    fig.savefig(os.path.join(run, name + ".png"), dpi=110)
    plt.close(fig)
    with open(os.path.join(run, name + ".json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def env(run):
    d = {}
    for name in ("env.txt", "guest-env.txt"):
        try:
            with open(os.path.join(run, name)) as f:
                for line in f:
                    if "=" in line:
                        k, v = line.rstrip("\n").split("=", 1)
                        d.setdefault(k, v)
        except OSError:
            pass
    return d


def host_load(run):
    """{point name: mean host 1-min load average while it ran}, from
    timeline.txt (guest.sh: name, start and end epoch seconds) and
    host-load.txt (run.sh: HH:MM:SS UTC and /proc/loadavg every 15 s)."""
    try:
        samples = []
        for line in open(os.path.join(run, "host-load.txt")):
            a = line.split()
            h, m, s_ = (int(x) for x in a[0].split(":"))
            samples.append((h * 3600 + m * 60 + s_, float(a[1])))
        spans = [line.split() for line in open(os.path.join(run, "timeline.txt"))]
    except (OSError, ValueError, IndexError):
        return {}
    res = {}
    for name, t0, t1 in (x for x in spans if len(x) == 3):
        a, b = int(t0) % 86400, int(t1) % 86400
        ls = [v for t, v in samples if a - 15 <= t <= b + 15] if a <= b else []
        if ls:
            res[name] = sum(ls) / len(ls)
    return res


def checks_str(j):
    c = j.get("checks") or {}
    bad = [k for k in ("stationary", "independent") if c.get(k) is False]
    if c.get("interarrival_ad") is False:
        bad.append("interarrival_ad")
    return "ok" if not bad else "FAILED: " + ",".join(bad)


def nerr(j):
    e = j.get("errors_total", j.get("errors"))
    return sum(e.values()) if isinstance(e, dict) else int(e or 0)


def fmt(x, nd=0):
    return "-" if x is None else ("%.*f" % (nd, x))


def read_hist(path):
    """crab-loadgen --hist CSV: [(lower_us, count)], ascending."""
    rows = []
    with open(path) as f:
        for line in f:
            a = line.strip().split(",")
            if len(a) == 2 and a[0] != "lower_us":
                rows.append((float(a[0]), int(a[1])))
    return sorted(rows)


def rank_value(hist, rank):
    """Value of the rank-th (1-based) sample of a histogram (bucket lower bound)."""
    seen = 0
    for lo, c in hist:
        seen += c
        if seen >= rank:
            return lo
    return None


def pooled(rounds):
    """One loadgen-like result from the rounds' JSON + histogram pairs."""
    hist = {}
    for _, h in rounds:
        for lo, c in h:
            hist[lo] = hist.get(lo, 0) + c
    hist = sorted(hist.items())
    n = sum(c for _, c in hist)
    if n == 0:
        return None

    def pct(p):
        return rank_value(hist, max(1, math.ceil(n * p)))

    # 95 % CI of p99 by order statistics (BENCHMARKING.md), 1-based ranks.
    np_, sd = n * 0.99, 1.96 * math.sqrt(n * 0.99 * 0.01)
    j, k = math.floor(np_ - sd), math.ceil(np_ + sd) + 1
    ci = [rank_value(hist, j), rank_value(hist, k)] if j >= 1 and k <= n else None
    ind = sum(1 for r, _ in rounds if (r.get("checks") or {}).get("independent") is not False)
    sta = sum(1 for r, _ in rounds if (r.get("checks") or {}).get("stationary") is not False)
    return {
        "samples": n,
        "errors_total": sum(nerr(r) for r, _ in rounds),
        "latency_us": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "p99_ci": ci,
                       "p999": pct(0.999) if n >= 100000 else None},
        "rounds": [r for r, _ in rounds],
        "round_checks": "independent %d/%d, stationary %d/%d" % (ind, len(rounds), sta, len(rounds)),
    }


def exp1_result(run, v, m):
    j = load(os.path.join(run, "exp1", "%s-%s.json" % (v, m)))
    if j:
        return j
    rounds = []
    for path in glob.glob(os.path.join(run, "exp1", "%s-%s.r*.json" % (v, m))):
        mm = re.search(r"\.r(\d+)\.json$", path)
        r = load(path)
        csv = path[:-5] + ".csv"
        if mm and r and os.path.exists(csv):
            r["round"] = int(mm.group(1))
            rounds.append((r, read_hist(csv)))
    rounds.sort(key=lambda t: t[0]["round"])
    return pooled(rounds) if rounds else None


def round_ratios(j, base):
    """p50 ratio to direct within each round (the two ran minutes apart)."""
    if not j or not base or "rounds" not in j or "rounds" not in base:
        return None
    b = {r["round"]: r["latency_us"]["p50"] for r in base["rounds"]}
    rs = sorted(r["latency_us"]["p50"] / b[r["round"]] for r in j["rounds"] if b.get(r["round"]))
    if not rs:
        return None
    med = rs[len(rs) // 2] if len(rs) % 2 else (rs[len(rs) // 2 - 1] + rs[len(rs) // 2]) / 2
    return "%.2f [%.2f, %.2f] (%d)" % (med, rs[0], rs[-1], len(rs))


def exp1(run, lines):
    res = {}
    for v in VARIANTS:
        for m in ("crr", "rr"):
            j = exp1_result(run, v, m)
            if j:
                res[(v, m)] = j
    interleaved = any("rounds" in j for j in res.values())
    hl = host_load(run)

    def load_of(v, m):
        ls = [x for n, x in hl.items() if re.fullmatch(r"%s-%s(\.r\d+)?" % (re.escape(v), m), n)]
        return "%.1f" % (sum(ls) / len(ls)) if ls else "-"
    present = [v for v in VARIANTS if any((v, m) in res for m in ("crr", "rr"))]
    if not present:
        return
    lines.append("## Experiment 1: unloaded latency (closed loop, one outstanding, 8-byte messages)\n")
    for m, title in (("crr", "CRR (connect, request, response, close)"), ("rr", "RR (requests on one connection)")):
        base = res.get(("direct", m))
        lines.append("### %s\n" % title)
        lines.append("| alternative | samples | errors | p50 µs | p90 µs | p99 µs [95%% CI] | p99.9 µs | p50 / direct | p99 / direct | %schecks |%s"
                     % ("p50 / direct per round: median [min, max] (rounds) | " if interleaved else "",
                        " host load |" if hl else ""))
        lines.append("|---|---:|---:|---:|---:|---|---:|---:|---:|%s---|%s" % ("---|" if interleaved else "",
                                                                          "---:|" if hl else ""))
        for v in VARIANTS:
            j = res.get((v, m))
            skip = os.path.join(run, "exp1", v + ".skip")
            if not j:
                if os.path.exists(skip):
                    lines.append("| %s | not measured: %s |||||||||" % (LABELS[v], open(skip).read().strip()))
                elif (v, "crr") in res or (v, "rr") in res:
                    lines.append("| %s | run failed (see %s-%s.log) |||||||||" % (LABELS[v], v, m))
                continue
            lat = j["latency_us"]
            ci = lat.get("p99_ci") or [None, None]
            r50 = r99 = None
            if base:
                r50 = lat["p50"] / base["latency_us"]["p50"]
                r99 = lat["p99"] / base["latency_us"]["p99"]
            per_round = ""
            if interleaved:
                per_round = (round_ratios(j, base) or "-") + " | "
            lines.append("| %s | %d | %d | %s | %s | %s [%s, %s] | %s | %s | %s | %s%s |%s" % (
                LABELS[v], j["samples"], nerr(j), fmt(lat["p50"]), fmt(lat.get("p90")), fmt(lat["p99"]),
                fmt(ci[0]), fmt(ci[1]), fmt(lat.get("p999")), fmt(r50, 2), fmt(r99, 2), per_round,
                j.get("round_checks") or checks_str(j), (" %s |" % load_of(v, m)) if hl else ""))
        lines.append("")
        if hl and m == "rr":
            lines.append("Host load: the host's mean 1-minute load average while the point (all its rounds) ran.\n")
        if interleaved and m == "rr":
            lines.append("Interleaved rounds: each alternative measured in every round, the order rotated each round; "
                         "pooled percentiles are histogram bucket lower bounds (buckets at most 0.8 % wide); "
                         "checks count the rounds whose samples passed.\n")
    # CRR overhead over direct, the paper's comparison (CRAB vs an L4 DSR LB)
    b = res.get(("direct", "crr"))
    if b:
        lines.append("CRR overhead over direct (p50, µs): " + ", ".join(
            "%s %+.0f" % (LABELS[v], res[(v, "crr")]["latency_us"]["p50"] - b["latency_us"]["p50"])
            for v in VARIANTS if (v, "crr") in res and v != "direct") + "\n")
        # CRAB's overhead against a stateless DSR LB's, the paper's claim
        # (CRAB about half of a DSR LB's).
        ov = {v: res[(v, "crr")]["latency_us"]["p50"] - b["latency_us"]["p50"]
              for v in VARIANTS if (v, "crr") in res and v != "direct"}
        for c in ("crab-xdp", "crab-xdp-noprobe", "crab-nf"):
            for d in ("dsr-xdp", "ipvs-dr"):
                if c in ov and d in ov and ov[d] > 0:
                    lines.append("CRR overhead %s / %s: %.2f\n" % (LABELS[c], LABELS[d], ov[c] / ov[d]))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, m in zip(axes, ("crr", "rr")):
        vs = [v for v in VARIANTS if (v, m) in res]
        xs = range(len(vs))
        p50 = [res[(v, m)]["latency_us"]["p50"] for v in vs]
        p99 = [res[(v, m)]["latency_us"]["p99"] for v in vs]
        lo = [max(0.0, p - (res[(v, m)]["latency_us"].get("p99_ci") or [p, p])[0]) for v, p in zip(vs, p99)]
        hi = [max(0.0, (res[(v, m)]["latency_us"].get("p99_ci") or [p, p])[1] - p) for v, p in zip(vs, p99)]
        ax.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], p99, 0.4, yerr=[lo, hi], capsize=3, label="p99 (95% CI)")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([LABELS[v].split(" (")[0] for v in vs], rotation=30, ha="right")
        ax.set_ylabel("latency (µs)")
        ax.set_title(m.upper())
        ax.legend()
    e = env(run)
    fig.suptitle("Unloaded latency, closed loop, 8 B; %s run; %s; guest %s; host load %s..%s" % (
        e.get("label", "?"), e.get("vm", "VM"), e.get("guest_kernel", "?"),
        e.get("host_load_start", "?").split()[0] if e.get("host_load_start") else "?",
        e.get("host_load_1min_max", "?")), fontsize=9)
    fig.tight_layout()
    data = {}
    for m in ("crr", "rr"):
        data[m] = {}
        for v in VARIANTS:
            j = res.get((v, m))
            if not j:
                continue
            lat = j["latency_us"]
            data[m][v] = {"samples": j["samples"], "errors": nerr(j), "p50_us": lat["p50"],
                          "p90_us": lat.get("p90"), "p99_us": lat["p99"], "p99_ci_us": lat.get("p99_ci"),
                          "p999_us": lat.get("p999"),
                          "round_p50_us": {str(r["round"]): r["latency_us"]["p50"] for r in j.get("rounds", [])
                                           if "round" in r}}
    save_figure(fig, run, "exp1-latency", data)


CVARIANTS = ["idle", "direct", "fwd", "crab-nf", "crab-xdp", "ipvs-dr", "ipvs-nat", "nft-dnat"]
# Experiment 2's labels: experiment 1's, where the setup differs said so.
CLABELS = {**LABELS,
           "idle": "idle (no traffic)",
           "direct": "direct (no LB, control)",
           "fwd": "fwd (IP forwarding only, baseline)",
           "crab-xdp": "CRAB, XDP LB (skb mode)"}
USER_HZ = 100  # /proc/stat ticks per second
# Busy = the LB's work; "nice" is experiment 2's CPU 1 spinner (nice 19,
# SCHED_IDLE: the LB's free time), counted in the total, not as busy.
BUSY = ("user", "system", "irq", "softirq", "steal")


def exp2_point(d, v):
    """One alternative's figures from exp2/<v>.txt (snapshots of /proc/stat,
    /proc/softirqs and the LB's eth0 around the run) and its clients' JSON."""
    try:
        kv = {}
        for line in open(os.path.join(d, v + ".txt")):
            line = line.strip()
            if "=" in line and " " not in line:
                k, x = line.split("=", 1)
                kv[k] = x
    except OSError:
        return None

    def delta(k):
        return float(kv["after_" + k]) - float(kv["before_" + k])

    try:
        r = {"variant": v, "interval_s": delta("time"), "lb_rx": delta("lb_rx_packets"),
             "lb_tx": delta("lb_tx_packets"), "rc": kv.get("loadgen_rc", "?")}
        for c in (0, 1):
            busy = sum(delta("cpu%d_%s" % (c, f)) for f in BUSY)
            r["cpu%d_busy" % c] = busy
            r["cpu%d_total" % c] = busy + delta("cpu%d_nice" % c) + delta("cpu%d_idle" % c) + delta("cpu%d_iowait" % c)
            r["cpu%d_softirq" % c] = delta("cpu%d_softirq" % c)
            r["net_rx%d" % c] = delta("net_rx_cpu%d" % c)
    except (KeyError, ValueError):
        return None
    conns = errs = 0
    rate = 0.0
    clients = glob.glob(os.path.join(d, v + "-[0-9]*.json"))
    for path in clients:
        j = load(path)
        if not j:
            continue
        conns += j["samples"] + j.get("warmup_discarded", 0)
        errs += nerr(j)
        rate += (j.get("rate") or {}).get("completed_per_s") or 0.0
    r.update(conns=conns, errors=errs, rate=rate, clients=len(clients))
    return r


def exp2_flood_point(d, v, mode):
    """A crab-syngen flood point: exp2/<v>-flood-<mode>.txt and .json."""
    name = "%s-flood-%s" % (v, mode)
    kv = {}
    try:
        for line in open(os.path.join(d, name + ".txt")):
            line = line.strip()
            if "=" in line and " " not in line:
                k, x = line.split("=", 1)
                kv[k] = x
    except OSError:
        return None
    j = load(os.path.join(d, name + ".json"))

    def delta(k):
        return float(kv["after_" + k]) - float(kv["before_" + k])

    try:
        r = {"variant": v, "mode": mode, "interval_s": delta("time"), "lb_rx": delta("lb_rx_packets"),
             "lb_tx": delta("lb_tx_packets"), "lb_rx_dropped": delta("lb_rx_dropped"),
             "rc": kv.get("syngen_rc", "?")}
        for c in (0, 1):
            busy = sum(delta("cpu%d_%s" % (c, f)) for f in BUSY)
            r["cpu%d_busy" % c] = busy
            r["cpu%d_total" % c] = busy + delta("cpu%d_nice" % c) + delta("cpu%d_idle" % c) + delta("cpu%d_iowait" % c)
            r["backlog_drop%d" % c] = delta("softnet_cpu%d_dropped" % c)
    except (KeyError, ValueError):
        return None
    if not j:
        return None
    r.update(sent=j["packets_sent"], send_failed=j["packets_send_failed"], conns_sent=j["conns_started"],
             ppc=j["packets_per_conn"], elapsed=j["elapsed_s"], offered=j["rate_offered_pps"],
             sent_pps=j["sent_pps"], error=j.get("error"))
    return r


def exp2_flood(run, d, lines, idle_util):
    """The packet-train points: LB-core cost per SYN / per connection."""
    pts = []
    for v in CVARIANTS:
        for mode in ("syn", "train"):
            p = exp2_flood_point(d, v, mode)
            if p:
                pts.append(p)
    if not pts:
        return
    js = load(glob.glob(os.path.join(d, "*-flood-syn.json"))[0]) if glob.glob(os.path.join(d, "*-flood-syn.json")) else {}
    lines.append("### Packet-train points (crab-syngen)\n")
    lines.append(
        "`crab-syngen` in the client namespace (pinned to CPU 0) sends raw packets to VIP:port for %s s at "
        "%s packets/s offered (sendmmsg batches of %s), TOS 0x20, which the servers drop at their ingress "
        "(nft, prerouting, raw priority): `syn` = one SYN per connection (fresh source port and ISN, MSS and "
        "the redirect option, as a CRAB client announces it); `train` = SYN + K client packets per "
        "connection on one 4-tuple (ACK, data/ACK ..., FIN, ACK; K from the real connections' LB packets, "
        "`exp2/train-k.txt`). LB conns = LB eth0 rx packets / packets per connection (what reached the LB's "
        "core); LB-core µs/conn = (CPU 1 busy less the idle share %.1f %%) / LB conns; conns per "
        "LB-core-second = 1 / that. Drops: per-CPU backlog drops (/proc/net/softnet_stat) and the LB eth0's "
        "rx_dropped; send fail = packets the client's stack refused.\n" % (
            js.get("duration_s", "?"), js.get("rate_offered_pps", "?"), js.get("batch", "?"), 100 * idle_util))
    lines.append("| alternative | mode | pkts/conn | sent pkts (pps) | send fail | LB rx | LB tx (forwarded) "
                 "| backlog drops CPU0 / CPU1 | LB rx_dropped | CPU0 util | CPU1 (LB) util | LB conns "
                 "| LB-core µs/pkt | LB-core µs/conn | conns per LB-core-second | vs fwd baseline | host load |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    loads = host_load(run)
    for p in pts:
        p["lb_conns"] = p["lb_rx"] / p["ppc"] if p["ppc"] else 0
        net = p["cpu1_busy"] - idle_util * p["cpu1_total"]
        p["us"] = net * 1e6 / USER_HZ / p["lb_conns"] if p["lb_conns"] and net > 0 else None
        p["cap"] = 1e6 / p["us"] if p["us"] else None
        p["us_pkt"] = net * 1e6 / USER_HZ / p["lb_rx"] if p["lb_rx"] and net > 0 else None
    base = {p["mode"]: p for p in pts if p["variant"] == "fwd"}
    for p in pts:
        b = base.get(p["mode"])
        ratio = "%.2f" % (p["cap"] / b["cap"]) if b and b.get("cap") and p.get("cap") and p["variant"] != "fwd" else "-"
        lo = loads.get("exp2/%s-flood-%s" % (p["variant"], p["mode"]))
        u0 = p["cpu0_busy"] / p["cpu0_total"] if p["cpu0_total"] else 0
        u1 = p["cpu1_busy"] / p["cpu1_total"] if p["cpu1_total"] else 0
        lines.append("| %s | %s | %d | %d (%.0f) | %d | %d | %d | %d / %d | %d | %.0f %% | %.0f %% | %.0f | %s | %s | %s | %s | %s |" % (
            CLABELS.get(p["variant"], p["variant"]), p["mode"], p["ppc"], p["sent"], p["sent_pps"], p["send_failed"],
            p["lb_rx"], p["lb_tx"], p["backlog_drop0"], p["backlog_drop1"], p["lb_rx_dropped"],
            100 * u0, 100 * u1, p["lb_conns"], fmt(p["us_pkt"], 1), fmt(p["us"]), "-" if not p["cap"] else "%.0f" % p["cap"],
            ratio, "-" if lo is None else "%.1f" % lo))
    lines.append("")
    get = {(p["variant"], p["mode"]): p for p in pts}
    dr = get.get(("ipvs-dr", "train"))
    for v in ("crab-nf", "crab-xdp"):
        c = get.get((v, "syn"))
        if c and c.get("cap") and dr and dr.get("cap"):
            lines.append("- %s (SYN only) vs IPVS DR (full connections, %d packets each): %.0f vs %.0f connections "
                         "per LB-core-second, ratio %.2f.\n" % (CLABELS.get(v, v), dr["ppc"], c["cap"], dr["cap"],
                                                                c["cap"] / dr["cap"]))
    u1max = max((p["cpu1_busy"] / p["cpu1_total"] for p in pts if p["cpu1_total"]), default=0)
    lines.append("CPU 1 (the LB's core) was at most %.0f %% busy in these points: %s\n" % (
        100 * u1max, "a saturation measure where it reached ~100 %" if u1max >= 0.9 else
        "a cost measure (the LB's core was not saturated; capacity is 1 / cost, extrapolated)"))
    vs = [p for p in pts if p.get("cap") and p["variant"] not in ("idle", "direct")]
    if not vs:
        return
    fig, ax = plt.subplots(figsize=(10, 4.2))
    xs = range(len(vs))
    ax.bar(xs, [p["cap"] for p in vs], color=["C0" if p["mode"] == "syn" else "C1" for p in vs])
    ax.set_ylabel("connections per LB-core-second")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(["%s\n%s (%d pkt/conn)" % (CLABELS.get(p["variant"], p["variant"]).replace(", ", "\n", 1)
                                                 .replace(" (", "\n("), p["mode"], p["ppc"]) for p in vs], fontsize=6)
    e = env(run)
    ax.set_title("LB capacity from packet trains (crab-syngen); %s run; %s; host load %s..%s" % (
        e.get("label", "?"), e.get("vm", "VM"),
        e.get("host_load_start", "?").split()[0] if e.get("host_load_start") else "?",
        e.get("host_load_1min_max", "?")), fontsize=8)
    fig.tight_layout()
    save_figure(fig, run, "exp2-flood", [
        {"variant": p["variant"], "mode": p["mode"], "packets_per_conn": p["ppc"],
         "conns_per_lb_core_s": p["cap"], "us_per_conn": p["us"], "lb_rx": p["lb_rx"], "lb_tx": p["lb_tx"]}
        for p in vs])


def exp2(run, lines):
    d = os.path.join(run, "exp2")
    if not os.path.isdir(d):
        return
    lines.append("## Experiment 2: LB capacity (LB CPU cost per connection)\n")
    if os.path.exists(os.path.join(d, "all.skip")):
        lines.append("Not measured: %s\n" % open(os.path.join(d, "all.skip")).read().strip())
        return
    params = {}
    try:
        params = dict(x.split("=", 1) for x in open(os.path.join(d, "params.txt")).read().split())
    except (OSError, ValueError):
        pass
    pts = {v: exp2_point(d, v) for v in CVARIANTS}
    pts = {v: p for v, p in pts.items() if p}
    if not pts:
        lines.append("No point measured.\n")
        return
    idle = pts.get("idle")
    idle_util = idle["cpu1_busy"] / idle["cpu1_total"] if idle and idle["cpu1_total"] else 0.0
    loads = host_load(run)
    lines.append(
        "CPU 1 receives every packet of the LB's namespace (RPS on its eth0), CPU 0 everything else "
        "(client, servers, bridge; the load generator and servers pinned to it). %s closed-loop clients, "
        "each connection: connect, %s echo requests of %s bytes, close; %s s per alternative. "
        "LB-core µs per connection = CPU 1's busy ticks (/proc/stat, everything but idle and iowait) "
        "less its idle-run share (%.1f %%), over the connections; capacity = 1 / that. "
        "LB packets = the LB's eth0 counters.\n" % (
            params.get("clients", "?"), params.get("requests", "?"), params.get("size", "?"),
            params.get("seconds", "?"), 100 * idle_util))
    lines.append("| alternative | conns | errors | conns/s | CPU0 util | CPU1 (LB) util | LB rx pkts/conn "
                 "| LB tx pkts/conn | NET_RX softirqs CPU0 / CPU1 per conn | LB-core µs/conn "
                 "| conns per LB-core-second | vs CRAB nf | vs CRAB XDP | host load |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for v in CVARIANTS:
        p = pts.get(v)
        if p:
            c = p["conns"]
            net = p["cpu1_busy"] - idle_util * p["cpu1_total"]
            p["us_per_conn"] = net * 1e6 / USER_HZ / c if c else None
            p["cap"] = c / (net / USER_HZ) if c and net > 0 else None
    for v in CVARIANTS:
        p = pts.get(v)
        if not p:
            if os.path.exists(os.path.join(d, v + ".skip")):
                lines.append("| %s | not measured: %s ||||||||||||" % (
                    CLABELS.get(v, v), open(os.path.join(d, v + ".skip")).read().strip()))
            continue
        c = p["conns"]
        per = (lambda x: "%.2f" % (x / c)) if c else (lambda x: "-")
        u0 = p["cpu0_busy"] / p["cpu0_total"] if p["cpu0_total"] else None
        u1 = p["cpu1_busy"] / p["cpu1_total"] if p["cpu1_total"] else None

        def ratio(base):
            b = pts.get(base, {}).get("cap")
            return "%.2f" % (p["cap"] / b) if b and p.get("cap") and v not in ("idle", "direct") else "-"
        lo = loads.get("exp2/" + v)
        lines.append("| %s | %d | %d | %.1f | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s |" % (
            CLABELS.get(v, v), c, p["errors"], p["rate"],
            "-" if u0 is None else "%.0f %%" % (100 * u0), "-" if u1 is None else "%.0f %%" % (100 * u1),
            per(p["lb_rx"]), per(p["lb_tx"]), per(p["net_rx0"]), per(p["net_rx1"]),
            fmt(p.get("us_per_conn")), "-" if v in ("idle", "direct") or not p.get("cap") else "%.0f" % p["cap"],
            ratio("crab-nf"), ratio("crab-xdp"), "-" if lo is None else "%.1f" % lo))
    lines.append("")
    busy = [v for v in ("crab-nf", "crab-xdp", "ipvs-dr", "ipvs-nat", "nft-dnat") if v in pts]
    if busy:
        mx = max(pts[v]["cpu1_busy"] / pts[v]["cpu1_total"] for v in busy if pts[v]["cpu1_total"])
        lines.append("CPU 1 (the LB's core) was at most %.0f %% busy: %s\n" % (
            100 * mx, "a saturation measure (the LB's core was the bottleneck)" if mx >= 0.9 else
            "a cost measure (the LB's core was not saturated; capacity is extrapolated from the cost)"))
    exp2_flood(run, d, lines, idle_util)
    vs = [v for v in busy if pts[v].get("cap")]
    if not vs:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = range(len(vs))
    axes[0].bar(xs, [pts[v]["cap"] for v in vs], color=["C%d" % i for i in xs])
    axes[0].set_ylabel("connections per LB-core-second")
    axes[1].bar(xs, [pts[v]["lb_rx"] / pts[v]["conns"] for v in vs], color=["C%d" % i for i in xs], label="rx")
    axes[1].set_ylabel("packets the LB received per connection")
    for ax in axes:
        ax.set_xticks(list(xs))
        ax.set_xticklabels([CLABELS.get(v, v).replace(", ", "\n", 1).replace(" (", "\n(") for v in vs], fontsize=7)
    e = env(run)
    fig.suptitle("LB capacity: %s clients x %s requests of %s B per connection; %s run; %s; guest %s; host load %s..%s" % (
        params.get("clients", "?"), params.get("requests", "?"), params.get("size", "?"), e.get("label", "?"),
        e.get("vm", "VM"), e.get("guest_kernel", "?"),
        e.get("host_load_start", "?").split()[0] if e.get("host_load_start") else "?",
        e.get("host_load_1min_max", "?")), fontsize=8)
    fig.tight_layout()
    save_figure(fig, run, "exp2-capacity", {
        v: {"conns_per_lb_core_s": pts[v]["cap"], "lb_rx_per_conn": pts[v]["lb_rx"] / pts[v]["conns"],
            "conns": pts[v]["conns"]} for v in vs})


def size_label(n):
    return "%d KiB" % (n // 1024) if n >= 1024 and n % 1024 == 0 else "%d B" % n


def exp3(run, lines):
    d = os.path.join(run, "exp3")
    if not os.path.isdir(d):
        return
    params = {}
    try:
        for kv in open(os.path.join(d, "params.txt")):
            if "=" in kv:
                k, v = kv.rstrip("\n").split("=", 1)
                params[k] = v
    except OSError:
        pass
    rate = float(params.get("rate_mbit", "nan"))
    pts = {}  # (variant, mode, size) -> {"mbit", "rps", "errors", "clients", "failed"}
    for name in sorted(os.listdir(d)):
        m = re.match(r"^(.*)-(crr|rr)-(\d+)-(\d+)\.json$", name)
        if not m:
            continue
        key = (m.group(1), m.group(2), int(m.group(3)))
        p = pts.setdefault(key, {"mbit": 0.0, "rps": 0.0, "errors": 0, "clients": 0, "failed": 0})
        j = load(os.path.join(d, name))
        if not j or "goodput" not in j:
            p["failed"] += 1
            continue
        p["clients"] += 1
        p["mbit"] += j["goodput"]["mbit_per_s"]
        p["rps"] += j["rate"]["completed_per_s"]
        p["errors"] += nerr(j)
        if not j.get("ok", True):
            p["failed"] += 1
    if not pts:
        return
    sizes = sorted({k[2] for k in pts})
    vs = [v for v in TVARIANTS if any(k[0] == v for k in pts)] + sorted({k[0] for k in pts} - set(TVARIANTS))
    lines.append("## Experiment 3: throughput scaling, links shaped to R\n")
    lines.append("R = %s Mbit/s on the LB's link and on each of the 3 servers' links, both directions (tbf); "
                 "%s closed-loop clients at once for %s s per point; echo, S bytes each way; goodput = payload "
                 "Mbit/s in one direction, summed over the clients (tbf: `%s`).\n" % (
                     params.get("rate_mbit", "?"), params.get("conns", "?"), params.get("seconds", "?"),
                     params.get("tbf", "?")))
    for mode, title in (("crr", "CRR (a new connection per request)"), ("rr", "RR (requests on long connections)")):
        lines.append("### %s: goodput Mbit/s (goodput / R)\n" % title)
        lines.append("| alternative | " + " | ".join(size_label(s) for s in sizes) + " |")
        lines.append("|---|" + "---:|" * len(sizes))
        for v in vs:
            cells = []
            for sz in sizes:
                p = pts.get((v, mode, sz))
                if not p:
                    cells.append("-")
                    continue
                c = "%.3f (%.2f R)" % (p["mbit"], p["mbit"] / rate)
                if p["errors"] or p["failed"]:
                    c += " [%d errors, %d of %d clients failed]" % (p["errors"], p["failed"], p["clients"] + (0 if p["clients"] else p["failed"]))
                cells.append(c)
            lines.append("| %s | %s |" % (TLABELS.get(v, v), " | ".join(cells)))
        lines.append("")
        lines.append("Requests/s (all clients): " + "; ".join(
            "%s: %s" % (v, ", ".join("%s %.0f" % (size_label(sz), pts[(v, mode, sz)]["rps"])
                                     for sz in sizes if (v, mode, sz) in pts)) for v in vs) + "\n")
    for v in TVARIANTS:
        f = os.path.join(d, v + ".skip")
        if os.path.exists(f):
            lines.append("- %s: not measured: %s" % (TLABELS.get(v, v), open(f).read().strip()))
    lines.append("")

    # The unshaped ceiling ("nolimit") runs to tens of R and would flatten
    # the shaped curves, which are what the figure is about: the y axis ends
    # a little above the highest shaped point (at least 3.5 R), and ceiling
    # points above it sit on the top edge as open triangles with their value.
    shaped = [p["mbit"] / rate for (v, _, _), p in pts.items() if v != "nolimit"]
    ytop = max([3.5] + [1.15 * y for y in shaped])
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4), sharey=True)
    for ax, mode in zip(axes, ("crr", "rr")):
        for v in vs:
            xs = [sz for sz in sizes if (v, mode, sz) in pts]
            if not xs:
                continue
            ys = [pts[(v, mode, sz)]["mbit"] / rate for sz in xs]
            color = "C%d" % (vs.index(v) % 10)
            label = TLABELS.get(v, v)
            if v == "nolimit":
                clip = [min(y, ytop) for y in ys]
                ax.plot(xs, clip, linestyle=":", color=color, label=label + " (above the axis: value shown)")
                for x, y in zip(xs, ys):
                    if y > ytop:
                        ax.plot([x], [ytop], marker="^", fillstyle="none", color=color, clip_on=False)
                        ax.annotate("%.1f R" % y, (x, ytop), textcoords="offset points", xytext=(0, -12),
                                    ha="center", fontsize=7, color=color)
                    else:
                        ax.plot([x], [y], marker="o", color=color)
                continue
            ax.plot(xs, ys, marker="o", label=label, linestyle="-", color=color)
        for y, t in ((0.5, "R/2"), (1, "R"), (3, "3R")):
            ax.axhline(y, color="grey", linewidth=0.8, linestyle="--")
            ax.text(sizes[0], y, " " + t, va="bottom", fontsize=8, color="grey")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes)
        ax.set_xticklabels([size_label(s) for s in sizes])
        ax.set_xlabel("payload per request and per response")
        ax.set_ylabel("goodput / R")
        ax.set_ylim(0, ytop)
        ax.set_title(mode.upper())
    # one legend under both panels: inside, it hides points near 3R
    seen = {}
    for ax in axes:
        for h, l in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(l, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=3, fontsize=8)
    e = env(run)
    fig.suptitle("Throughput scaling, R = %s Mbit/s per link; %s run; %s; guest %s; host load %s..%s" % (
        params.get("rate_mbit", "?"), e.get("label", "?"), e.get("vm", "VM"), e.get("guest_kernel", "?"),
        e.get("host_load_start", "?").split()[0] if e.get("host_load_start") else "?",
        e.get("host_load_1min_max", "?")), fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    save_figure(fig, run, "exp3-throughput", {
        "rate_mbit": rate,
        "points": [{"variant": v, "mode": mode, "size": sz, "goodput_mbit": p["mbit"],
                    "goodput_over_R": p["mbit"] / rate, "requests_per_s": p["rps"], "errors": p["errors"]}
                   for (v, mode, sz), p in sorted(pts.items())]})


def exp4(run, lines):
    d = os.path.join(run, "exp4")
    if not os.path.isdir(d):
        return
    series = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        stem = name[:-5]
        pol, _, ld = stem.rpartition("-")
        try:
            ld = float(ld)
        except ValueError:
            continue
        j = load(os.path.join(d, name))
        if j:
            series.setdefault(pol, []).append((ld, j))
    if not series:
        return
    params = ""
    try:
        params = open(os.path.join(d, "params.txt")).read().strip()
    except OSError:
        pass
    lines.append("## Experiment 4: policies, open-loop Poisson arrivals, one connection per request\n")
    lines.append("Servers: %s (each serves one request at a time). Latency from the scheduled send time.\n" % params)
    lines.append("| policy | load | offered req/s | achieved req/s | samples | errors | p50 µs | p99 µs [95% CI] | checks |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for p in POLICIES + sorted(set(series) - set(POLICIES)):
        for ld, j in sorted(series.get(p, []), key=lambda t: t[0]):
            lat = j["latency_us"]
            ci = lat.get("p99_ci") or [None, None]
            rate = j.get("rate") or {}
            lines.append("| %s | %.2f | %s | %s | %d | %d | %s | %s [%s, %s] | %s |" % (
                PLABELS.get(p, p), ld, fmt(rate.get("offered"), 1), fmt(rate.get("achieved"), 1), j["samples"],
                nerr(j), fmt(lat["p50"]), fmt(lat["p99"]), fmt(ci[0]), fmt(ci[1]), checks_str(j)))
        if os.path.exists(os.path.join(d, p + ".skip")):
            lines.append("| %s | not measured: %s ||||||||" % (PLABELS.get(p, p), open(os.path.join(d, p + ".skip")).read().strip()))
    lines.append("")
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for p in POLICIES + sorted(set(series) - set(POLICIES)):
        pts = sorted(series.get(p, []), key=lambda t: t[0])
        if not pts:
            continue
        xs = [t[0] for t in pts]
        ys = [t[1]["latency_us"]["p99"] / 1000.0 for t in pts]
        lo = [max(0.0, y - (t[1]["latency_us"].get("p99_ci") or [y * 1000, 0])[0] / 1000.0) for y, t in zip(ys, pts)]
        hi = [max(0.0, (t[1]["latency_us"].get("p99_ci") or [0, y * 1000])[1] / 1000.0 - y) for y, t in zip(ys, pts)]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=PLABELS.get(p, p))
    ax.set_xlabel("offered load (fraction of the servers' capacity)")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_yscale("log")
    ax.legend()
    e = env(run)
    ax.set_title("Policies, open loop; %s run; %s" % (e.get("label", "?"), e.get("vm", "VM")), fontsize=8)
    fig.tight_layout()
    save_figure(fig, run, "exp4-policies", {
        p: [{"load": ld, "samples": j["samples"], "errors": nerr(j), "p50_us": j["latency_us"]["p50"],
             "p99_us": j["latency_us"]["p99"], "p99_ci_us": j["latency_us"].get("p99_ci"),
             "offered_per_s": (j.get("rate") or {}).get("offered"),
             "achieved_per_s": (j.get("rate") or {}).get("achieved")}
            for ld, j in sorted(series[p], key=lambda t: t[0])]
        for p in series})


def main():
    if len(sys.argv) != 2:
        print("usage: plot.py RUN_DIR", file=sys.stderr)
        return 2
    run = sys.argv[1]
    e = env(run)
    lines = ["# bench/e2e run %s\n" % os.path.basename(os.path.abspath(run))]
    for k in ("label", "command", "vm", "guest_kernel", "guest_cpus", "host_kernel", "host_cpus", "host_cpu_model",
              "git", "start", "end", "duration_s", "host_load_start", "host_load_end", "host_load_1min_max",
              "samples", "loadgen", "benchd", "haproxy", "ipvsadm", "nft", "vm_rc"):
        if k in e:
            lines.append("- %s: `%s`" % (k, e[k]))
    lines.append("")
    exp1(run, lines)
    exp2(run, lines)
    exp3(run, lines)
    exp4(run, lines)
    with open(os.path.join(run, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
