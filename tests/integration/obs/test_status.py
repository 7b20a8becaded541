"""GET /status: a page for people, rendered in the browser from the live metrics and
readiness. Checked: the page is served with the configured metrics path, and its own
parser (the page's script, run under node) reads girder's real /metrics output: counters
with rates between two polls, histograms as rate and mean, the build version."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
from gwharness import assert_clean, request, start_girder  # noqa: E402

NODE = shutil.which("node")

CHECK = r"""
const fs = require("fs");
const page = require(process.argv[2]);
const a = page.parseMetrics(fs.readFileSync(process.argv[3], "utf8"));
const b = page.parseMetrics(fs.readFileSync(process.argv[4], "utf8"));
const out = {};
for (const n of ["girder_http_requests_total", "girder_http_request_duration_seconds",
                 "girder_build_info"])
  out[n] = { type: b[n] && b[n].type, rows: b[n] ? page.rows(n, b[n], a, 2.0) : [] };
out.sections = page.SECTIONS.map((s) => s[1]);
console.log(JSON.stringify(out));
"""


def test_status_page(tmp_path):
    g, port = start_girder("metrics: {path: /prom}\n", tmp_path)
    try:
        status, hdrs, body = request(port, "GET", "/status")
        assert status == 200 and hdrs["content-type"].startswith("text/html"), hdrs
        html = body.decode()
        assert 'href="/prom"' in html and 'fetch("/prom")' in html
        assert "__METRICS_PATH__" not in html
        if not NODE:
            pytest.skip("node needed to run the page's script")
        script = re.search(r"<script>(.*)</script>", html, re.S).group(1)
        (tmp_path / "page.js").write_text(script)
        assert request(port, "GET", "/healthz")[0] == 200  # the series exists in both polls
        first = request(port, "GET", "/prom")[2]
        for _ in range(4):
            assert request(port, "GET", "/healthz")[0] == 200
        second = request(port, "GET", "/prom")[2]
        (tmp_path / "a.txt").write_bytes(first)
        (tmp_path / "b.txt").write_bytes(second)
        (tmp_path / "check.js").write_text(CHECK)
        p = subprocess.run([NODE, str(tmp_path / "check.js"), str(tmp_path / "page.js"),
                            str(tmp_path / "a.txt"), str(tmp_path / "b.txt")],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        req = out["girder_http_requests_total"]
        assert req["type"] == "counter"
        hz = [r for r in req["rows"] if r["labels"].get("route") == "/healthz"]
        assert hz and hz[0]["value"] == 5 and hz[0]["rate"] == pytest.approx(2.0), hz  # 4 in 2 s
        dur = out["girder_http_request_duration_seconds"]
        assert dur["type"] == "histogram"
        row = [r for r in dur["rows"] if r["labels"].get("route") == "/healthz"][0]
        assert row["value"] >= 4 and 0 < row["mean"] < 1, row
        assert out["girder_build_info"]["rows"][0]["labels"]["version"]
    finally:
        g.stop()
    assert_clean(g)
