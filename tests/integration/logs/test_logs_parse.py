"""`girder logs parse` end to end: JSON lines, header formats, severity, stdin, --templates
CSV, --state continuity, odd input bytes, errors, and a golden file."""
import csv
import io
import json
import os
import subprocess

import pytest

GIRDER = os.environ.get("GIRDER_BIN", "girder")
HERE = os.path.dirname(os.path.abspath(__file__))
FMT = r"<Date> <Time> <Level> \[<Component>\] <Content>"


def parse(args, data=None, check=True):
    res = subprocess.run([GIRDER, "logs", "parse"] + args, input=data, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    if check:
        assert res.returncode == 0, res.stderr.decode()
    return res


def records(out):
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


def test_golden_file():
    """Exact output on a small mixed log (update golden/ deliberately when the miner changes)."""
    res = parse(["--format", FMT, os.path.join(HERE, "golden", "mixed.log")])
    with open(os.path.join(HERE, "golden", "mixed.expected.jsonl"), "rb") as f:
        assert res.stdout == f.read()


def test_records_fields_and_severity():
    recs = records(parse(["--format", FMT, os.path.join(HERE, "golden", "mixed.log")]).stdout)
    assert [r["line"] for r in recs] == list(range(1, 13))
    first = recs[0]
    assert first["template"] == "request done path=<*> status=<*> bytes=<*> took=<*>"
    assert first["params"] == ["/api/v1/users", "200", "512", "12ms"]
    assert first["Component"] == "web-1" and first["Date"] == "2024-05-01"
    assert first["severity_number"] == 9 and first["severity_text"] == "INFO"
    assert recs[1]["template_id"] == first["template_id"]
    assert recs[3]["severity_number"] == 17 and recs[10]["severity_number"] == 21
    assert recs[9]["format_mismatch"] is True and "Date" not in recs[9]
    assert recs[9]["template"] == "this line does not follow the format"
    assert all("Content" not in r for r in recs)


def test_params_rebuild_the_content():
    """Constant tokens + params in order give back the content's tokens."""
    recs = records(parse(["--format", FMT, os.path.join(HERE, "golden", "mixed.log")]).stdout)
    for r in recs:
        assert r["template"].count("<*>") == len(r["params"])


def test_stdin_and_dash():
    data = b"a 1\nb 2\na 3\n"
    out1 = parse([], data).stdout
    out2 = parse(["-"], data).stdout
    assert out1 == out2
    recs = records(out1)
    assert [r["template_id"] for r in recs] == [1, 2, 1]
    assert recs[0]["template"] == "a <*>" and recs[2]["params"] == ["3"]


def test_odd_bytes_stay_valid_json():
    data = b"crlf line 1\r\n\n\xff\xfe bad utf8 \x01\r\nno newline at end"
    recs = records(parse([], data).stdout)
    assert len(recs) == 4
    assert recs[0]["template"] == "crlf line <*>"
    assert recs[1]["template"] == "" and recs[1]["params"] == []
    assert recs[3]["line"] == 4


def test_templates_csv(tmp_path):
    out = tmp_path / "t.csv"
    data = b'x "quoted", comma 1\nx "quoted", comma 2\nother\n'
    parse(["--templates", str(out)], data)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["template_id", "count", "template"]
    assert rows[1] == ["1", "2", 'x "quoted", comma <*>']
    assert rows[2] == ["2", "1", "other"]


def test_state_continues_template_ids(tmp_path):
    state = str(tmp_path / "state")
    first = records(parse(["--state", state], b"alpha 1\nbeta gamma\n").stdout)
    assert [r["template_id"] for r in first] == [1, 2]
    second = records(parse(["--state", state], b"new shape here\nbeta gamma\nalpha 9\n").stdout)
    assert [r["template_id"] for r in second] == [3, 2, 1]
    # options must match the saved state
    res = parse(["--state", state, "--sim", "0.9"], b"x\n", check=False)
    assert res.returncode == 1 and b"state" in res.stderr


def test_masks_and_options():
    data = b"req id=AB-CD done\nreq id=EF-GH done\n"
    recs = records(parse(["--mask", r"[A-Z]{2}-[A-Z]{2}"], data).stdout)
    assert recs[0]["template"] == "req id=<*> done" and recs[1]["params"] == ["EF-GH"]
    recs = records(parse(["--no-default-masks"], b"took 5 ms\ntook 7 ms\n").stdout)
    assert recs[0]["template_id"] == recs[1]["template_id"]
    assert recs[1]["template"] == "took <*> ms"


def test_bad_arguments():
    assert parse(["--bogus"], b"", check=False).returncode == 2
    res = parse(["--mask", "("], b"", check=False)
    assert res.returncode == 1 and b"mask" in res.stderr
    res = parse(["--format", "<A"], b"", check=False)
    assert res.returncode == 1
    res = parse(["/nonexistent/file.log"], b"", check=False)
    assert res.returncode == 1
    assert subprocess.run([GIRDER, "logs", "parse", "--help"], stdout=subprocess.PIPE).returncode == 0


def test_final_resolves_merged_templates(tmp_path):
    users = ["cyrus", "news", "test", "root", "admin"]
    data = "".join(f"session opened for user {u} by uid=0\n" for u in users).encode()
    src = tmp_path / "in.log"
    src.write_bytes(data)
    stream = records(parse([str(src)]).stdout)
    assert len({r["template_id"] for r in stream[:3]}) == 3  # siblings before the merge
    assert stream[3]["template_id"] == stream[0]["template_id"]
    final = records(parse(["--final", str(src)]).stdout)
    assert {r["template_id"] for r in final} == {stream[0]["template_id"]}
    assert all(r["template"] == "session opened for user <*> by uid=<*>" for r in final)
    assert [r["params"][0] for r in final] == users
    csvf = tmp_path / "t.csv"
    parse(["--templates", str(csvf), str(src)])
    with open(csvf, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    assert len(rows) == 4 and all(r[2] == "session opened for user <*> by uid=<*>" for r in rows)
    res = parse(["--final"], data, check=False)
    assert res.returncode == 1 and b"--final" in res.stderr


def remap(stream):
    """What a streaming consumer does with the "merged" lists: every listed id now means the
    line's template_id, for the lines it saw before as well."""
    into = {}
    for r in stream:
        for old in r.get("merged", []):
            assert old != r["template_id"] and old not in into
            into[old] = r["template_id"]
    out = []
    for r in stream:
        i = r["template_id"]
        while i in into:
            i = into[i]
        out.append(i)
    return out


def test_streaming_change_types_and_merged_ids(tmp_path):
    users = ["cyrus", "news", "test", "root", "admin"]
    lines = [f"session opened for user {u} by uid=0" for u in users]
    lines += ["disk 1 full", "disk 2 full", "disk x9 full", "disk busy now"]
    src = tmp_path / "in.log"
    src.write_bytes("".join(l + "\n" for l in lines).encode())
    stream = records(parse([str(src)]).stdout)
    assert [r.get("change") for r in stream[:3]] == ["created"] * 3
    merge = stream[3]  # the 4th sibling merges the family into the oldest template
    assert merge["change"] == "merged" and merge["template_id"] == stream[0]["template_id"]
    assert merge["merged"] == sorted(r["template_id"] for r in stream[1:3])
    assert "change" not in stream[4] and "merged" not in stream[4]
    assert stream[5]["change"] == "created" and "change" not in stream[6]
    assert stream[7].get("change") is None  # "x9" is a value already: fits <*> unchanged
    assert stream[8]["change"] == "created"
    final = records(parse(["--final", str(src)]).stdout)
    assert all("change" not in r and "merged" not in r for r in final)
    assert remap(stream) == [r["template_id"] for r in final]


def test_remapped_stream_equals_final_on_golden():
    path = os.path.join(HERE, "golden", "mixed.log")
    stream = records(parse(["--format", FMT, path]).stdout)
    final = records(parse(["--format", FMT, "--final", path]).stdout)
    assert remap(stream) == [r["template_id"] for r in final]
