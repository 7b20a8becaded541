#!/usr/bin/env python3
"""Grouping accuracy of `girder logs parse` on the Loghub-2k datasets.

Each dataset is parsed with ONE configuration taken from settings.tsv (format, masking
regexes, similarity threshold, depth). Grouping accuracy is the standard definition of the
logparser benchmark: a line is correct only when the set of lines girder put in its group is
exactly the set of lines of its ground-truth group (EventId of <D>_2k.log_structured.csv).

usage: logs_accuracy.py GIRDER_BIN DATA_DIR [--only D,...] [--floor FILE] [--debug D]
                        [--extra "ARGS"]
  --extra ARGS  `girder logs parse` options for every dataset instead of the default
                "--final" (final template ids: merged word families resolved); e.g.
                --extra "--word-vars --final", or --extra " " for streaming ids
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


def run(girder, data, name, cfg, extra):
    fmt, masks, sim, depth = cfg
    cmd = [girder, "logs", "parse", "--format", fmt, "--sim", sim, "--depth", depth]
    cmd += ["--final"] if extra is None else extra
    for m in masks:
        cmd += ["--mask", m]
    cmd.append(os.path.join(data, name, name + "_2k.log"))
    res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE)
    return [json.loads(l) for l in res.stdout.splitlines()]


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


def main(argv):
    girder, data = argv[1], argv[2]
    only, floor_file, debug, extra = None, None, None, None
    i = 3
    while i < len(argv):
        if argv[i] == "--only":
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
        recs = run(girder, data, name, cfgs[name], extra)
        gt = truth(data, name)
        if len(recs) != len(gt):
            print(f"{name}: {len(recs)} output lines for {len(gt)} input lines")
            return 1
        parsed = [r["template_id"] for r in recs]
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
