#!/usr/bin/env python3
"""Grouping accuracy of `girder logs parse` on the Loghub-2k datasets.

Each dataset is parsed with ONE configuration taken from settings.tsv (format, masking
regexes, similarity threshold, depth). Grouping accuracy is the standard definition of the
logparser benchmark: a line is correct only when the set of lines girder put in its group is
exactly the set of lines of its ground-truth group (EventId of <D>_2k.log_structured.csv).

usage: logs_accuracy.py GIRDER_BIN DATA_DIR [--only D,...] [--floor FILE] [--debug D]
                        [--extra "ARGS"] [--mode final|stream|remap] [--defaults] [--table]
  --mode M      final (default): `--final`, the final template ids of a second pass;
                stream: the plain streaming ids, as printed when each line was read;
                remap: streaming ids, remapped the way a consumer does it from the
                "merged" lists of the streaming output (an id listed there is replaced by
                the line's template_id for every earlier line that carried it)
  --defaults    girder's default settings: only the header format from settings.tsv, no
                masks, no similarity threshold or depth
  --table       every mode with reference and default settings, as one markdown table
  --extra ARGS  `girder logs parse` options for every dataset added to the mode's own
                (e.g. --extra "--word-vars")
  --floor FILE  fail (exit 1) if a dataset's accuracy is below the floor in FILE
                (lines "Dataset accuracy"); prints the table either way
  --debug D     print the wrong groups of dataset D
"""
import csv
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict


def settings(data):
    out = {}
    with open(os.path.join(data, "settings.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, fmt, masks, sim, depth = line.rstrip("\n").split("\t")
            masks = [m for m in masks.split(" ;; ") if m]
            out[name] = (fmt, masks, sim, depth)
    return out


def run(girder, data, name, cfg, extra, mode="final", defaults=False):
    fmt, masks, sim, depth = cfg
    cmd = [girder, "logs", "parse", "--format", fmt]
    if not defaults:
        cmd += ["--sim", sim, "--depth", depth]
        for m in masks:
            cmd += ["--mask", m]
    cmd += (["--final"] if mode == "final" else []) + (extra or [])
    cmd.append(os.path.join(data, name, name + "_2k.log"))
    res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE)
    return [json.loads(l) for l in res.stdout.splitlines()]


def ids(recs, mode):
    """The group of each line. remap: what a streaming consumer ends up with when it
    applies the "merged" lists: every id named there now means the line's template_id."""
    if mode != "remap":
        return [r["template_id"] for r in recs]
    into = {}
    for r in recs:
        for old in r.get("merged", []):
            into[old] = r["template_id"]

    def resolve(i):
        while i in into:
            i = into[i]
        return i

    return [resolve(r["template_id"]) for r in recs]


def truth(data, name):
    with open(os.path.join(data, name, name + "_2k.log_structured.csv"), encoding="utf-8") as f:
        return [r["EventId"] for r in csv.DictReader(f)]


def accuracy(parsed, gt):
    groups = defaultdict(list)
    for i, p in enumerate(parsed):
        groups[p].append(i)
    gt_sizes = Counter(gt)
    ok = 0
    wrong = []
    for pid, idx in groups.items():
        events = Counter(gt[i] for i in idx)
        if len(events) == 1 and gt_sizes[gt[idx[0]]] == len(idx):
            ok += len(idx)
        else:
            wrong.append((pid, idx, events))
    return ok / len(gt), wrong


def print_table(girder, data, cfgs, extra):
    """One row per dataset: reference settings (final, stream, remap) and defaults."""
    cols = [(m, d) for d in (False, True) for m in ("final", "stream", "remap")]
    heads = [f"{'default' if d else 'reference'} {m}" for m, d in cols]
    print("| dataset | " + " | ".join(heads) + " | templates final (truth) |")
    print("|---" * (len(cols) + 2) + "|")
    sums = [0.0] * len(cols)
    for name in cfgs:
        gt = truth(data, name)
        row, ntpl = [], 0
        for k, (mode, d) in enumerate(cols):
            recs = run(girder, data, name, cfgs[name], extra, mode, d)
            if len(recs) != len(gt):
                print(f"{name}: {len(recs)} output lines for {len(gt)} input lines")
                return 1
            parsed = ids(recs, mode)
            acc = accuracy(parsed, gt)[0]
            sums[k] += acc
            row.append(f"{acc:.4f}")
            if k == 0:
                ntpl = len(set(parsed))
        print(f"| {name} | " + " | ".join(row) + f" | {ntpl} ({len(set(gt))}) |")
    n = max(len(cfgs), 1)
    print("| **mean** | " + " | ".join(f"**{s / n:.4f}**" for s in sums) + " | |")
    return 0


def main(argv):
    girder, data = argv[1], argv[2]
    only, floor_file, debug, extra = None, None, None, None
    mode, defaults, table = "final", False, False
    i = 3
    while i < len(argv):
        if argv[i] in ("--defaults", "--table"):
            defaults |= argv[i] == "--defaults"
            table |= argv[i] == "--table"
            i += 1
            continue
        if argv[i] == "--mode":
            mode = argv[i + 1]
            if mode not in ("final", "stream", "remap"):
                print(f"unknown mode {mode}")
                return 2
        elif argv[i] == "--only":
            only = argv[i + 1].split(",")
        elif argv[i] == "--floor":
            floor_file = argv[i + 1]
        elif argv[i] == "--debug":
            debug = argv[i + 1]
        elif argv[i] == "--extra":
            extra = argv[i + 1].split()
        i += 2
    if not os.path.exists(os.path.join(data, "settings.tsv")):
        print(f"no Loghub-2k data at {data}: skipped")
        return 77
    cfgs = settings(data)
    if only:
        cfgs = {k: v for k, v in cfgs.items() if k in only}
    if table:
        return print_table(girder, data, cfgs, extra)
    floors = {}
    if floor_file:
        with open(floor_file, encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    k, v = line.split()
                    floors[k] = float(v)
    accs, failed = [], []
    print(f"{'dataset':<12} {'accuracy':>8} {'templates':>9} {'truth':>6}")
    for name in cfgs:
        if only and name not in only:
            continue
        recs = run(girder, data, name, cfgs[name], extra, mode, defaults)
        gt = truth(data, name)
        if len(recs) != len(gt):
            print(f"{name}: {len(recs)} output lines for {len(gt)} input lines")
            return 1
        parsed = ids(recs, mode)
        acc, wrong = accuracy(parsed, gt)
        accs.append(acc)
        note = ""
        if name in floors and acc < floors[name]:
            failed.append(name)
            note = f"  BELOW FLOOR {floors[name]:.4f}"
        print(f"{name:<12} {acc:8.4f} {len(set(parsed)):9d} {len(set(gt)):6d}{note}")
        if debug == name:
            for pid, idx, events in sorted(wrong, key=lambda w: -len(w[1])):
                print(f"-- template {pid} ({len(idx)} lines) {recs[idx[0]]['template']!r}")
                for ev, n in events.most_common(4):
                    j = next(k for k in idx if gt[k] == ev)
                    print(f"     {ev} x{n} (truth {Counter(gt)[ev]}) e.g. line {j+1}: "
                          f"{recs[j]['template']!r}")
    if accs:
        print(f"{'mean':<12} {sum(accs) / len(accs):8.4f}")
    if failed:
        print("accuracy below floor: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
