"""End-to-end tests of the log archive commands on the real binary.

Round trips are checked byte for byte, grep against `grep -F -a` on the original, and the
Loghub-2k archives against `xz -9e` (the goal: smaller on every file)."""
import json
import os
import random
import shutil
import subprocess

import pytest

GIRDER = os.environ.get("GIRDER_BIN", "girder")
SRC = os.environ.get("GIRDER_SRC", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LOGHUB = os.path.join(SRC, "..", "shared", "data", "loghub-2k")


def run(*args, **kw):
    return subprocess.run([GIRDER, "logs", *args], capture_output=True, **kw)


def settings():
    out = []
    with open(os.path.join(LOGHUB, "settings.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, fmt, masks, sim, depth = line.rstrip("\n").split("\t")
            args = ["--format", fmt, "--sim", sim, "--depth", depth]
            for m in masks.split(" ;; "):
                if m:
                    args += ["--mask", m]
            out.append((name, args))
    return out


def roundtrip(tmp_path, data, *args):
    src, arc, back = tmp_path / "in.log", tmp_path / "a.gla", tmp_path / "out.log"
    src.write_bytes(data)
    r = run("compress", *args, str(src), "-o", str(arc))
    assert r.returncode == 0, r.stderr
    r = run("decompress", str(arc), "-o", str(back))
    assert r.returncode == 0, r.stderr
    assert back.read_bytes() == data
    return arc


@pytest.mark.parametrize("data", [
    b"", b"\n", b"no newline", b"\r\n\r\n", b"a\x00b\n\xff\xfe\n", b"\n\n\nx",
    b"2015-10-18 18:01:47 INFO a: x=1\n" * 50 + b"tail without newline",
])
def test_edge_roundtrips(tmp_path, data):
    roundtrip(tmp_path, data)
    roundtrip(tmp_path, data, "--format", "<Date> <Time> <Level> <Component>: <Content>")


def test_random_bytes_and_stdio(tmp_path):
    rnd = random.Random(5)
    for i in range(20):
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 3000)))
        roundtrip(tmp_path, data, "--block-size", str(rnd.randrange(50, 5000)))
    data = b"line 1\nline 22\n"
    r = subprocess.run([GIRDER, "logs", "compress", "-", "-o", "-"], input=data,
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    r2 = subprocess.run([GIRDER, "logs", "decompress", "-", "-o", "-"], input=r.stdout,
                        capture_output=True)
    assert r2.returncode == 0 and r2.stdout == data


def test_corrupt_and_truncated_archives(tmp_path):
    arc = roundtrip(tmp_path, b"2015-10-18 INFO started 12 workers\n" * 30)
    good = arc.read_bytes()
    bad = tmp_path / "bad.gla"
    for cut in (0, 3, 4, 10, len(good) // 2, len(good) - 1):
        bad.write_bytes(good[:cut])
        r = run("decompress", str(bad), "-o", str(tmp_path / "x"))
        assert r.returncode == 1 and b"girder logs decompress" in r.stderr
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    bad.write_bytes(bytes(flipped))
    r = run("decompress", str(bad), "-o", str(tmp_path / "x"))
    assert r.returncode == 1 and r.stderr
    bad.write_bytes(b"not an archive")
    r = run("grep", "x", str(bad))
    assert r.returncode == 2 and b"bad magic" in r.stderr


def test_plain_blocks_stats_grep_schema(tmp_path):
    """A block where templates do not pay is kept plain: --stats counts it, grep and schema
    still see its lines."""
    rnd = random.Random(9)
    noise = bytes(rnd.getrandbits(8) for _ in range(40000)).replace(b"\n", b" ") + b"\n"
    logs = b"".join(b"2015-10-18 18:01:%02d INFO a.b: got %d items from host%d\n"
                    % (i % 60, rnd.randrange(1000), i % 7) for i in range(2000))
    data = noise + logs
    src, arc = tmp_path / "in.log", tmp_path / "a.gla"
    src.write_bytes(data)
    r = run("compress", "--stats", "--block-size", str(len(noise)), str(src), "-o", str(arc))
    assert r.returncode == 0, r.stderr
    st = dict(kv.split(b"=") for kv in r.stderr.split())
    assert int(st[b"plain_blocks"]) >= 1 and int(st[b"blocks"]) > int(st[b"plain_blocks"]), r.stderr
    r = run("grep", "--stats", "host3", str(arc))
    assert r.returncode == 0 and r.stdout == b"".join(
        l + b"\n" for l in data.split(b"\n")[:-1] if b"host3" in l)
    assert b"plain_blocks=" in r.stderr
    r = run("schema", str(arc))
    assert r.returncode == 0 and b"items from" in r.stdout
    old = arc.read_bytes()
    (tmp_path / "v1.gla").write_bytes(b"GLA\x01" + old[4:])
    r = run("decompress", str(tmp_path / "v1.gla"), "-o", str(tmp_path / "x"))
    assert r.returncode == 1 and b"version 1" in r.stderr, r.stderr


@pytest.mark.skipif(not os.path.isdir(LOGHUB), reason="Loghub-2k data not present")
@pytest.mark.parametrize("name,args", settings() if os.path.isdir(LOGHUB) else [])
def test_loghub_roundtrip_grep_schema_vs_xz(tmp_path, name, args):
    path = os.path.join(LOGHUB, name, name + "_2k.log")
    data = open(path, "rb").read()
    arc = roundtrip(tmp_path, data, *args)
    if shutil.which("xz"):
        xz = len(subprocess.run(["xz", "-9e", "-c", path], capture_output=True).stdout)
        assert arc.stat().st_size < xz, (name, arc.stat().st_size, xz)
    lines = data.split(b"\n")
    rnd = random.Random(name)
    pats = ["INFO", "error", "1", ": ", "zzzq"]
    for _ in range(6):
        line = rnd.choice(lines)
        if line:
            a = rnd.randrange(len(line))
            pats.append(line[a:a + rnd.randrange(1, 12)].decode("latin-1"))
    for p in pats:
        if "\r" in p:
            continue
        pb = p.encode("latin-1")
        want = subprocess.run(["grep", "-F", "-a", "--", pb, path], capture_output=True,
                              env={"LC_ALL": "C"}).stdout
        got = run("grep", "--", pb, str(arc))
        assert got.returncode in (0, 1), got.stderr
        assert got.stdout == want, (name, p)
    r = run("schema", str(arc))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert sum(row["count"] for row in rows) == len(data.split(b"\n")) - (data.endswith(b"\n"))
    types = {s["type"] for row in rows for s in row["slots"]}
    assert types <= {"int", "float", "hex", "ip", "uuid", "timestamp", "path", "enum", "string"}
    assert "int" in types
