#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Planning and closing summary of tools/check-all.sh (make check).

  check-report.py plan --group vm-6.12 --list FILE --out DIR [--durations F]...
      Orders the tests of FILE (area/test_x.sh lines) longest first by their
      recorded durations and writes DIR/tests and DIR/est (seconds, same
      order): the queue that the guests of one kernel share.

  check-report.py summary --results DIR --queues DIR [--durations-out F]
                          [--durations F]... [--start EPOCH]
      Reads every suite's results (counts, wall, rc, times, skips,
      skipped-checks, manual) and every VM queue, prints the per-suite
      table, the tests a queue selected that never reported, the skips by
      reason, the manual tests, the slowest ten tests and the phases, then
      the last line "N passed, N failed, N skipped". Exit 1 when anything
      failed. Writes the merged durations to --durations-out.

Durations files: "group<TAB>area/test<TAB>seconds" lines; group is host or
vm-<kernel name> (vm-6.1, vm-6.12, vm-patched). The first file naming a
test wins (build/durations.txt of the last run, then the committed
selftests/durations.txt); a test known only on another VM kernel takes
that figure; an unknown test is assumed long (DEFAULT_EST) so it starts
early.
"""
import argparse
import os
import re
import sys
import time
from collections import defaultdict

DEFAULT_EST = 150
GUEST_RE = re.compile(r"^(vm-.+)\.g(\d+)$")


def read_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [l.rstrip("\n") for l in f]
    except FileNotFoundError:
        return []


def read_durations(paths):
    """{(group, test): seconds}, the first file naming a pair wins."""
    est = {}
    for p in paths:
        for line in read_lines(p):
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            try:
                sec = float(parts[2])
            except ValueError:
                continue
            est.setdefault((parts[0], parts[1]), sec)
    return est


def estimate(est, group, test):
    if (group, test) in est:
        return est[(group, test)]
    other = [v for (g, t), v in est.items() if t == test and g.startswith("vm-")]
    if group.startswith("vm-") and other:
        return max(other)
    return DEFAULT_EST


def cmd_plan(a):
    est = read_durations(a.durations)
    tests = [l.strip() for l in read_lines(a.list) if l.strip()]
    rows = [(estimate(est, a.group, t[:-3] if t.endswith(".sh") else t), t) for t in tests]
    rows.sort(key=lambda r: (-r[0], r[1]))
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "tests"), "w") as f:
        f.writelines(t + "\n" for _, t in rows)
    with open(os.path.join(a.out, "est"), "w") as f:
        f.writelines("%d\n" % round(e) for e, _ in rows)
    print("%d %d" % (len(rows), round(sum(e for e, _ in rows))))


def read_int(path, default=None):
    lines = read_lines(path)
    try:
        return int(lines[0].split()[0])
    except (IndexError, ValueError):
        return default


def failed_checks(res, group, test):
    """The [FAIL] lines a selftest printed, from its suite's log(s)."""
    area, _, name = test.partition("/")
    start = "# selftests: %s: %s.sh" % (area, name)
    logs = [os.path.join(res, f) for f in sorted(os.listdir(res))
            if f.endswith(".log") and (f.startswith(group + ".") or
                                       (group == "host" and f == "host-job.log"))]
    found = []
    for path in logs:
        inside = False
        for line in read_lines(path):
            stripped = line.lstrip("# ").rstrip()
            if stripped == start[2:]:
                inside = True
                continue
            if inside and re.match(r"^(# )*(not )?ok \d+ selftests: ", line):
                inside = False
            elif inside and "[FAIL]" in line:
                found.append(stripped[:160])
    return found


def cmd_summary(a):
    res = a.results
    suites = {}  # name -> dict
    for name in sorted(os.listdir(res)) if os.path.isdir(res) else []:
        d = os.path.join(res, name)
        if not os.path.isdir(d):
            continue
        counts = read_lines(os.path.join(d, "counts"))
        rc = read_int(os.path.join(d, "rc"))
        if not counts and rc is None:
            continue
        try:
            p, f, s = (int(x) for x in counts[0].split()[:3])
        except (IndexError, ValueError):
            p, f, s = 0, 0, 0
            if rc is None:
                rc = 1  # unreadable counts
        suites[name] = dict(
            p=p, f=f, s=s, rc=rc, dir=d,
            wall=read_int(os.path.join(d, "wall")),
            start=read_int(os.path.join(d, "start")),
            end=read_int(os.path.join(d, "end")),
        )

    # Groups: the guests of one kernel (vm-6.12.g1, vm-6.12.g2...) are one suite.
    groups = defaultdict(list)
    for name in suites:
        m = GUEST_RE.match(name)
        groups[m.group(1) if m else name].append(name)

    times = []  # (sec, status, group, test)
    skips = defaultdict(list)  # reason -> [group test]
    skipped_checks = defaultdict(list)
    reported = defaultdict(dict)  # group -> {test: status}
    for g, members in groups.items():
        for name in members:
            d = suites[name]["dir"]
            for line in read_lines(os.path.join(d, "times")):
                parts = line.split("\t")
                if len(parts) != 3:
                    continue
                try:
                    sec = int(parts[0])
                except ValueError:
                    continue
                times.append((sec, parts[1], g, parts[2]))
                reported[g][parts[2]] = parts[1]
            for line in read_lines(os.path.join(d, "skips")):
                t, _, why = line.partition("\t")
                skips[why or "(no reason)"].append("%s %s" % (g, t))
            for line in read_lines(os.path.join(d, "skipped-checks")):
                t, _, why = line.partition("\t")
                skipped_checks[why].append("%s %s" % (g, t))

    # Coverage of the VM queues: every selected test reports, once.
    extra_fail = defaultdict(int)
    coverage = []
    qroot = a.queues
    for q in sorted(os.listdir(qroot)) if qroot and os.path.isdir(qroot) else []:
        qd = os.path.join(qroot, q)
        if not os.path.isdir(qd):
            continue
        tests = [l for l in read_lines(os.path.join(qd, "tests")) if l]
        if not tests:
            continue
        g = "vm-" + q
        noskip = os.path.exists(os.path.join(qd, "noskip"))
        rep = reported.get(g, {})
        missing, skipped = [], []
        for i, t in enumerate(tests, 1):
            key = t[:-3] if t.endswith(".sh") else t
            if key not in rep:
                claim = os.path.join(qd, "claim", str(i))
                if os.path.isdir(claim):
                    by = (read_lines(os.path.join(claim, "by")) or ["?"])[0]
                    missing.append("%s (started in guest %s, no result: the guest crashed, hung or was killed)" % (key, by))
                else:
                    missing.append("%s (never started: no guest of this kernel ran it)" % key)
            elif noskip and rep[key] == "skip":
                skipped.append(key)
        ran = sum(1 for t in tests if rep.get(t[:-3] if t.endswith(".sh") else t) in ("ok", "fail", "timeout"))
        coverage.append((g, len(tests), ran, missing, skipped, noskip))
        extra_fail[g] += len(missing) + len(skipped)

    tp = tf = ts = 0
    out = []
    out.append("=== summary (suite: wall time, counts)")
    out.append("%-20s %7s %7s %7s %7s  %s" % ("suite", "wall", "passed", "failed", "skipped", ""))
    order = sorted(groups, key=lambda g: (min(suites[n]["start"] or 0 for n in groups[g]), g))
    for g in order:
        members = groups[g]
        p = sum(suites[n]["p"] for n in members)
        f = sum(suites[n]["f"] for n in members)
        s = sum(suites[n]["s"] for n in members)
        # A suite that failed without counting a failure still failed.
        for n in members:
            if (suites[n]["rc"] or 0) != 0 and suites[n]["f"] == 0:
                f += 1
        f += extra_fail.get(g, 0)
        starts = [suites[n]["start"] for n in members if suites[n]["start"]]
        ends = [suites[n]["end"] for n in members if suites[n]["end"]]
        if starts and ends:
            wall = max(ends) - min(starts)
        else:
            wall = sum(suites[n]["wall"] or 0 for n in members)
        note = ""
        if len(members) > 1 or GUEST_RE.match(members[0]):
            busy = sum(t[0] for t in times if t[2] == g)
            note = "%d guest%s, %ds in tests" % (len(members), "s" if len(members) > 1 else "", busy)
        out.append("%-20s %6ss %7d %7d %7d  %s" % (g, wall, p, f, s, note))
        tp, tf, ts = tp + p, tf + f, ts + s

    for g, n, ran, missing, skipped, noskip in coverage:
        ok = not missing and not skipped
        rule = " (none may skip here)" if noskip else ""
        out.append("=== %s: %d tests selected, %d executed, %d never reported%s: %s" % (
            g, n, ran, len(missing), rule, "ok" if ok else "FAILED"))
        for m in missing:
            out.append("  not run: %s" % m)
        for t in skipped:
            out.append("  skipped, must run on this kernel: %s" % t)

    if skips:
        out.append("=== skipped tests by reason (%d)" % sum(len(v) for v in skips.values()))
        for why, who in sorted(skips.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            out.append("  [%d] %s" % (len(who), why))
            out.append("      " + ", ".join(sorted(who)))
    if skipped_checks:
        out.append("=== skipped checks inside passing tests, by reason (%d)" %
                   sum(len(v) for v in skipped_checks.values()))
        for why, who in sorted(skipped_checks.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            out.append("  [%d] %s: %s" % (len(who), why, ", ".join(sorted(who))))
    manual = []
    for spec in a.manual:
        label, _, path = spec.rpartition("=")
        manual += ["%s%s" % (label + " " if label else "", re.sub(r"\.sh$", "", l))
                   for l in read_lines(path) if l]
    if manual:
        out.append("=== manual tests, not run by make check (%d)" % len(manual))
        out.append("  " + ", ".join(manual))
    if times:
        out.append("=== slowest tests")
        for sec, status, g, t in sorted(times, key=lambda x: -x[0])[:6]:
            out.append("  %5ds  %-12s %s%s" % (sec, g, t, "" if status == "ok" else "  (%s)" % status))
    phases = []
    for line in read_lines(os.path.join(res, "phases")):
        parts = line.split()
        if len(parts) == 3:
            phases.append((parts[0], int(parts[1]), int(parts[2])))
    if phases:
        t0 = a.start or min(p[1] for p in phases)
        out.append("=== phases (start..end, seconds from the start of make check)")
        for name, s0, s1 in phases:
            out.append("  %-14s %5d..%-5d %5ds" % (name, s0 - t0, s1 - t0, s1 - s0))
    if a.start:
        out.append("=== wall time: %ds" % (int(time.time()) - a.start))
    # Last, next to the totals: a CI log cut to its head and tail still
    # names what failed, with its first failed checks.
    failed = [(g, t, st) for sec, st, g, t in times if st in ("fail", "timeout")]
    failed += [(g, None, "exit %s" % suites[n]["rc"]) for g in order for n in groups[g]
               if (suites[n]["rc"] or 0) != 0 and not any(f[0] == g for f in failed)]
    for g, n, ran, missing, skipped, noskip in coverage:
        failed += [(g, m.split(" ", 1)[0], "not run") for m in missing]
        failed += [(g, t, "skipped where it must run") for t in skipped]
    if failed:
        out.append("=== failed (%d)" % len(failed))
        for g, t, st in failed:
            out.append("  %-12s %s (%s)" % (g, t or "(the suite itself)", st))
            if t and st in ("fail", "timeout"):
                for line in failed_checks(res, g, t)[:3]:
                    out.append("      " + line)
    out.append("%d passed, %d failed, %d skipped" % (tp, tf, ts))
    print("\n".join(out))

    if a.durations_out:
        est = read_durations(a.durations)
        for sec, status, g, t in times:
            if status in ("ok", "fail", "timeout"):
                est[(g, t)] = sec
        tmp = a.durations_out + ".tmp"
        with open(tmp, "w") as f:
            f.write("# group\ttest\tseconds (tools/check-all.sh, last run)\n")
            for (g, t), v in sorted(est.items()):
                f.write("%s\t%s\t%d\n" % (g, t, round(v)))
        os.replace(tmp, a.durations_out)
    return 1 if tf else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--group", required=True)
    p.add_argument("--list", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--durations", action="append", default=[])
    s = sub.add_parser("summary")
    s.add_argument("--results", required=True)
    s.add_argument("--queues")
    s.add_argument("--manual", action="append", default=[], help="[LABEL=]FILE of manual tests")
    s.add_argument("--durations", action="append", default=[])
    s.add_argument("--durations-out")
    s.add_argument("--start", type=int)
    a = ap.parse_args()
    if a.cmd == "plan":
        cmd_plan(a)
        return 0
    return cmd_summary(a)


if __name__ == "__main__":
    sys.exit(main())
