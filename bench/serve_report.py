"""Prints bench/serve.sh's tables from OUT/{results,overload,engine}.tsv: per model and
concurrency each server's req/s, p50/p99, requests per CPU-second, RSS; the ratios
girder/peer; the overload runs; and the issue's goals. Usage: serve_report.py OUT THREADS"""
import os
import sys

out, threads = sys.argv[1], sys.argv[2]
COLS = ("model mode c rps p50 p99 max requests connect read write timeout non2xx cpu rss hwm "
        "batch idle load").split()
OCOLS = ("model mode conns round requests s2xx s503 s504 sother connect read write timeout "
         "before after p99 rps load drain").split()


def read(name, cols):
    path = os.path.join(out, name)
    rows = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        rows.append(dict(zip(cols, f)))
    return rows


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


res = read("results.tsv", COLS)
ovl = read("overload.tsv", OCOLS)
eng = {r[0]: (num(r[1]), num(r[2])) for r in
       (line.rstrip("\n").split("\t") for line in open(os.path.join(out, "engine.tsv"))) if len(r) > 2}
by = {(r["model"], r["mode"], int(r["c"])): r for r in res}
models = list(dict.fromkeys(r["model"] for r in res))
modes = list(dict.fromkeys(r["mode"] for r in res))
concs = sorted({int(r["c"]) for r in res})
mb = lambda kb: "%.0f" % (num(kb) / 1024)
ms = lambda us: "%.1f" % (num(us) / 1000)


def rpc(r):
    c = num(r["cpu"])
    return "%.1f" % (num(r["requests"]) / c) if c > 0 else "-"


print("\nthreads=%s; latencies in ms, RSS in MB (steady = median of 0.5 s samples during the run,"
      " peak = VmHWM so far); batch = girder's mean batch size (request-weighted) / engine ms per run" % threads)
print("| model | c | server | req/s | p50 | p99 | req/CPU-s | RSS steady | RSS peak | batch / run ms |"
      " errors c/r/w/t | non-2xx | load 1m |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
for m in models:
    for c in concs:
        for mode in modes:
            r = by.get((m, mode, c))
            if not r:
                continue
            print("| %s | %d | %s | %.1f | %s | %s | %s | %s | %s | %s | %s/%s/%s/%s | %s | %s |" % (
                m, c, mode, num(r["rps"]), ms(r["p50"]), ms(r["p99"]), rpc(r), mb(r["rss"]),
                mb(r["hwm"]), r["batch"], r["connect"], r["read"], r["write"], r["timeout"],
                r["non2xx"], r["load"]))

gmodes = [x for x in modes if x != "peer"]
if "peer" in modes and gmodes:
    print("\nratios girder/peer (req/s: > 1 means girder serves more; p99 and RSS: < 1 means"
          " girder is lower)")
    hdr = ["model", "c"]
    for g in gmodes:
        hdr += ["%s req/s" % g, "%s p99" % g, "%s RSS" % g]
    print("| " + " | ".join(hdr) + " |")
    print("|---|---:|" + "---:|" * (len(hdr) - 2))
    for m in models:
        for c in concs:
            p = by.get((m, "peer", c))
            if not p:
                continue
            cells = [m, str(c)]
            for g in gmodes:
                r = by.get((m, g, c))
                if not r:
                    cells += ["-"] * 3
                    continue
                cells += ["%.2f" % (num(r["rps"]) / num(p["rps"])),
                          "%.2f" % (num(r["p99"]) / num(p["p99"])),
                          "%.2f" % (num(r["rss"]) / num(p["rss"]))]
            print("| " + " | ".join(cells) + " |")

if ovl:
    print("\noverload: closed-loop wrk with the given connections, every answer counted; RSS before"
          " the round and after it, once the server is idle (MB); drain = seconds the server kept"
          " working after wrk stopped (queued requests of closed connections)")
    print("| model | server | conns | round | requests | req/s | 2xx | 503 | 504 | other |"
          " errors c/r/w/t | p99 ms | RSS before | RSS after | drain s | load 1m |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
    for r in ovl:
        print("| %s | %s | %s | %s | %s | %.1f | %s | %s | %s | %s | %s/%s/%s/%s | %s | %s | %s | %s | %s |" % (
            r["model"], r["mode"], r["conns"], r["round"], r["requests"], num(r["rps"]), r["s2xx"],
            r["s503"], r["s504"], r["sother"], r["connect"], r["read"], r["write"], r["timeout"],
            ms(r["p99"]), mb(r["before"]), mb(r["after"]), r.get("drain", "-"), r["load"]))

print("\ngoals")
cmax = max(concs)
for m in models:
    p = by.get((m, "peer", cmax))
    g = by.get((m, "girder+db", cmax))
    if p and g:
        x = num(g["rps"]) / num(p["rps"])
        print("- %s: girder+db req/s at c=%d = %.2f x peer (goal >= 2): %s" % (
            m, cmax, x, "met" if x >= 2 else "NOT met"))
    if m in eng:
        emin, emed = eng[m]
        lim = 1.1 * emed + 0.2
        for mode in gmodes:
            r = by.get((m, mode, 1))
            if r:
                p99 = num(r["p99"]) / 1000
                print("- %s: %s p99 at c=1 %.1f ms vs engine min/median %.1f/%.1f ms, limit 1.1 x"
                      " median + 0.2 = %.1f ms: %s" % (m, mode, p99, emin, emed, lim,
                                                       "met" if p99 <= lim else "NOT met"))
    for mode in gmodes:
        rows = [(by.get((m, mode, c)), by.get((m, "peer", c))) for c in concs]
        rows = [(a, b) for a, b in rows if a and b]
        if rows:
            steady = all(num(a["rss"]) < num(b["rss"]) for a, b in rows)
            peak = max(num(a["hwm"]) for a, _ in rows) < max(num(b["hwm"]) for _, b in rows)
            print("- %s: %s RSS below the peer's: steady at every c: %s; peak: %s (%s vs %s MB)" % (
                m, mode, "met" if steady else "NOT met", "met" if peak else "NOT met",
                mb(max(num(a["hwm"]) for a, _ in rows)), mb(max(num(b["hwm"]) for _, b in rows))))
lost = [r for r in ovl if any(num(r[k]) != 0 for k in ("connect", "read", "write", "timeout", "sother"))]
lost += [r for r in res if any(num(r[k]) != 0 for k in ("connect", "read", "write", "timeout", "non2xx"))]
print("- no request lost or failed (wrk socket errors, timeouts, unexpected statuses): %s" % (
    "yes" if not lost else "NO: %d runs with errors" % len(lost)))
