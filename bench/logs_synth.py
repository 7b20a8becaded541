#!/usr/bin/env python3
"""Synthetic logs with known ground truth, for checking that template mining generalises.

The templates below are written from the token classes and parameter shapes that real logs
use (not from any Loghub data set): numbers with units whose unit follows the magnitude
("512 B" / "3.2 MB"), durations ("1h2m", "350ms", "00:01:02"), hex with and without digits,
UUIDs, IPv4/IPv6 with ports, host names (dotted, with and without digits), paths (with
spaces, Windows paths), URLs, e-mail addresses, key=value runs, [bracketed] thread names,
lists of variable length ("[a, b, c]", "1,2,3", "a b c"), quoted strings, user and queue
names drawn from an open vocabulary of plain words (parameters that are words), and event
pairs that differ in one constant word only ("opened"/"closed", "hit"/"miss") which must
stay apart. Event frequencies follow a Zipf law, so some events are rare.

Each data set is written in the Loghub-2k layout that bench/logs_accuracy.py reads:
  OUT/<Name>/<Name>_2k.log, OUT/<Name>/<Name>_2k.log_structured.csv (EventId, EventTemplate,
  Content), and OUT/settings.tsv (header format; no masks; default similarity and depth).

usage: logs_synth.py OUT_DIR [--lines N] [--seed S]
"""
import csv
import os
import random
import string
import sys

WORDS = ("alice bob carol dave erin frank grace heidi ivan judy mallory nia oscar peggy quinn "
         "rupert sybil trent ursula victor walter xena yusuf zoe amir bianca chen dmitri "
         "elena farid gus hana igor jana kofi lena marco nadia omar priya rosa sven tariq "
         "uma vera wen yara zane backup billing reports ingest search mailer scheduler "
         "payments archive webhooks").split()
QUEUES = "default critical low bulk email sms push export import audit replay".split()
CITIES = "berlin paris tokyo lima oslo cairo dakar quito hanoi perth".split()


def r_int(r, lo=0, hi=100000):
    return str(r.randint(lo, hi))


def r_size(r):
    """A human-readable size: the unit follows the magnitude."""
    v = r.choice([r.randint(1, 1023), r.uniform(1, 1024)])
    unit = r.choice(["B", "KB", "MB", "GB"])
    return (f"{v:.1f}" if isinstance(v, float) else str(v)) + " " + unit


def r_dur(r):
    return r.choice([
        lambda: f"{r.randint(1, 999)}ms",
        lambda: f"{r.uniform(0, 60):.3f}s",
        lambda: f"{r.randint(1, 23)}h{r.randint(0, 59)}m",
        lambda: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
        lambda: f"{r.randint(1, 90)} seconds",
    ])()


def r_hex(r, n=8):
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def r_hexword(r):
    """Hex that may have no digit at all (a common trap)."""
    return r.choice([r_hex(r), "ffffffff", "deadbeef", "0x" + r_hex(r, 4), "cafebabe"])


def r_uuid(r):
    return "-".join(r_hex(r, n) for n in (8, 4, 4, 4, 12))


def r_ip(r):
    return ".".join(str(r.randint(1, 254)) for _ in range(4))


def r_ipport(r):
    return r.choice([f"{r_ip(r)}:{r.randint(1, 65535)}",
                     f"[2001:db8::{r.randint(1, 9999):x}]:{r.randint(1, 65535)}"])


def r_host(r):
    return r.choice([
        lambda: f"{r.choice(CITIES)}.example.com",
        lambda: f"node-{r.randint(1, 300)}.{r.choice(CITIES)}.internal",
        lambda: f"db{r.randint(1, 9)}.prod.example.net",
        lambda: f"{r.choice(WORDS)}-{r.choice(CITIES)}.svc.cluster.local",
    ])()


def r_path(r):
    return r.choice([
        lambda: "/var/lib/" + "/".join(r.choice(WORDS) for _ in range(r.randint(1, 4))),
        lambda: f"/home/{r.choice(WORDS)}/My Documents/report {r.randint(1, 99)}.pdf",
        lambda: f"C:\\Users\\{r.choice(WORDS)}\\AppData\\{r.choice(WORDS)}.dat",
        lambda: f"./build/{r.choice(WORDS)}.o",
    ])()


def r_list(r):
    items = [r.choice(WORDS) for _ in range(r.randint(1, 5))]
    return "[" + ", ".join(items) + "]"


def r_idlist(r):
    return ",".join(r_int(r, 1, 999) for _ in range(r.randint(1, 6)))


def r_words(r):
    return " ".join(r.choice(WORDS) for _ in range(r.randint(1, 3)))


def r_quoted(r):
    return '"' + " ".join(r.choice(WORDS + ["the", "a", "of"]) for _ in range(r.randint(1, 6))) + '"'


def r_kvrun(r):
    keys = r.sample(["region", "zone", "tier", "shard", "color"], r.randint(1, 4))
    return " ".join(f"{k}={r.choice(CITIES)}" for k in keys)


def r_email(r):
    return f"{r.choice(WORDS)}.{r.choice(WORDS)}@{r.choice(CITIES)}.example.org"


def r_url(r):
    return f"https://{r_host(r)}/api/v{r.randint(1, 3)}/{r.choice(WORDS)}?page={r.randint(1, 50)}"


def r_thread(r):
    return r.choice([f"worker-{r.randint(1, 32)}", "main", "reaper", f"pool-{r.randint(1, 4)}-thread-{r.randint(1, 16)}"])


G = {  # placeholder -> generator
    "INT": r_int, "SIZE": r_size, "DUR": r_dur, "HEX": r_hexword, "UUID": r_uuid,
    "IP": r_ip, "IPPORT": r_ipport, "HOST": r_host, "PATH": r_path, "LIST": r_list,
    "IDS": r_idlist, "WORDS": r_words, "Q": r_quoted, "KV": r_kvrun, "EMAIL": r_email,
    "URL": r_url, "THREAD": r_thread, "USER": lambda r: r.choice(WORDS),
    "QUEUE": lambda r: r.choice(QUEUES), "PCT": lambda r: f"{r.uniform(0, 100):.1f}%",
}

# Event templates: {X} is a parameter of class X. One entry is one event (ground truth).
TEMPLATES = [
    "Accepted connection from {IPPORT} on listener {INT}",
    "Connection opened to {HOST} port {INT}",
    "Connection closed to {HOST} port {INT}",
    "cache hit for key {HEX} in {DUR}",
    "cache miss for key {HEX} in {DUR}",
    "Stored block {UUID} of size {SIZE} on disk {INT}",
    "Freed {SIZE} of memory, {SIZE} remaining",
    "user {USER} logged in from {IP}",
    "user {USER} logged out after {DUR}",
    "Failed password for {USER} from {IP} port {INT} ssh2",
    "job {INT} enqueued on queue {QUEUE} by {USER}",
    "job {INT} finished in {DUR} with status=ok",
    "job {INT} finished in {DUR} with status=failed",
    "[{THREAD}] flushing {INT} entries to {PATH}",
    "[{THREAD}] compaction of {PATH} took {DUR}",
    "Opening file {PATH} for reading",
    "Opening file {PATH} for writing",
    "GET {URL} returned {INT} in {DUR}",
    "POST {URL} returned {INT} in {DUR}",
    "members changed: {LIST}",
    "assigned partitions {IDS} to consumer {UUID}",
    "resolved {HOST} to {IP} ({INT} addresses)",
    "config reloaded: {KV}",
    "sending report to {EMAIL}",
    "query {Q} matched {INT} rows in {DUR}",
    "disk usage at {PCT} on {PATH}",
    "mask={HEX} flags={HEX} state=idle",
    "mask={HEX} flags={HEX} state=busy",
    "retrying request {UUID} in {DUR} (attempt {INT} of {INT})",
    "Worker {USER} started on {HOST}",
    "Worker {USER} stopped on {HOST}",
    "heartbeat from {HOST} latency {DUR}",
    "lease {HEX} renewed for {DUR}",
    "lease {HEX} expired",
    "snapshot {INT} written, {SIZE} in {DUR}",
    "tags for {UUID}: {WORDS}",
    "Starting service",
    "Shutting down service",
    "listening on {IPPORT}",
    "certificate for {HOST} expires in {INT} days",
]


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    out, lines, seed = argv[1], 2000, 1
    i = 2
    while i < len(argv):
        if argv[i] == "--lines":
            lines = int(argv[i + 1])
        elif argv[i] == "--seed":
            seed = int(argv[i + 1])
        i += 2
    sets = [("SynthA", seed, 1.0), ("SynthB", seed + 1, 1.3), ("SynthC", seed + 2, 0.7)]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "settings.tsv"), "w", encoding="utf-8") as st:
        st.write("# dataset\tlog_format\tmasking regexes\tsimilarity_threshold\tdepth\n")
        st.write("# generated by bench/logs_synth.py: girder's defaults (no masks)\n")
        for name, s, zipf in sets:
            st.write(f"{name}\t<Date> <Time> <Level> <Component>: <Content>\t\t0.5\t4\n")
            write_set(out, name, s, zipf, lines)
    return 0


def write_set(out, name, seed, zipf, lines):
    r = random.Random(seed)
    order = list(range(len(TEMPLATES)))
    r.shuffle(order)  # which events are frequent differs between sets
    weights = [1.0 / (rank + 1) ** zipf for rank in range(len(order))]
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    comps = ["api", "store", "auth", "sched", "net"]
    with open(os.path.join(d, f"{name}_2k.log"), "w", encoding="utf-8") as lf, \
            open(os.path.join(d, f"{name}_2k.log_structured.csv"), "w", newline="",
                 encoding="utf-8") as cf:
        w = csv.writer(cf)
        w.writerow(["LineId", "Content", "EventId", "EventTemplate"])
        for n in range(1, lines + 1):
            t = order[r.choices(range(len(order)), weights)[0]]
            tpl = TEMPLATES[t]
            content, gt = fill(r, tpl)
            lvl = r.choice(["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"])
            ts = f"2024-03-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
            lf.write(f"{ts} {lvl} {r.choice(comps)}: {content}\n")
            w.writerow([n, content, f"E{t + 1}", gt])


def fill(r, tpl):
    out, gt, i = [], [], 0
    while i < len(tpl):
        if tpl[i] == "{":
            j = tpl.index("}", i)
            out.append(G[tpl[i + 1:j]](r))
            gt.append("<*>")
            i = j + 1
        else:
            out.append(tpl[i])
            gt.append(tpl[i])
            i += 1
    return "".join(out), "".join(gt)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
