"""The Redis limiter's Lua scripts (src/gateway/lua) run through a real redis-server with
redis-cli --eval: all-or-nothing reservation, windows, leases, budgets, idempotent retries
and settles; and the `governance: redis:` config errors with their positions."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from gwharness import free_port, wait_port

LUA = os.path.join(os.environ.get("GIRDER_SRC", os.path.join(os.path.dirname(__file__), "..",
                                                              "..", "..")), "src", "gateway", "lua")
ACQ, SET = os.path.join(LUA, "gov_acquire.lua"), os.path.join(LUA, "gov_settle.lua")


@pytest.fixture(scope="module")
def rcli():
    if not shutil.which("redis-server"):
        pytest.skip("no redis-server")
    d = tempfile.mkdtemp(prefix="gov-lua-")
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save",
                          "", "--appendonly", "no", "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)

    def cli(*args):
        r = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.split("\n")[:-1]

    yield cli
    p.kill()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)


def party(tag, ident, period="total"):
    return ["{%s}:k:%s:r" % (tag, ident), "{%s}:k:%s:t" % (tag, ident),
            "{%s}:k:%s:c" % (tag, ident), "{%s}:k:%s:b:%s" % (tag, ident, period)]


def acquire(cli, tag, rid, parties, tokens=10, cost=0.5, lease=60000):
    """parties: [(ident, rpm, tpm, concurrent, budget)]"""
    keys = ["{%s}:res:%s" % (tag, rid)]
    args = [rid, tokens, cost, lease, len(parties)]
    for ident, rpm, tpm, conc, budget in parties:
        keys += party(tag, ident)
        args += [rpm, tpm, conc, budget, 0]
    return cli("--eval", ACQ, *keys, ",", *args)


def settle(cli, tag, rid, parties, dtok, dcost):
    keys, args = ["{%s}:res:%s" % (tag, rid)], [rid, dtok, dcost, len(parties)]
    for ident, _, tpm, _, budget in parties:
        keys += party(tag, ident)[1:]
        args += [1 if tpm else 0, 1 if budget else 0]
    return cli("--eval", SET, *keys, ",", *args)


def test_rpm_window_and_refusal_reason(rcli):
    p = [("a", 3, 0, 0, 0)]
    for i in range(3):
        out = acquire(rcli, "rpm", "r%d" % i, p)
        assert out[0] == "1" and out[2] == str(i)  # admitted, RPM used before it
    out = acquire(rcli, "rpm", "r3", p)
    assert out[:3] == ["0", "1", "0"]  # refused: rpm, by party 0
    assert 0 < int(out[3]) <= 61000 and out[4:6] == ["3", "3"]


def test_all_or_nothing_across_parties(rcli):
    key, tenant = ("k", 100, 0, 0, 0), ("t", 1, 0, 0, 0)
    assert acquire(rcli, "aon", "x1", [key, tenant])[0] == "1"
    out = acquire(rcli, "aon", "x2", [key, tenant])
    assert out[:3] == ["0", "1", "1"]  # the tenant (party 1) refused
    # nothing was held on the key by the refused request
    assert rcli("HVALS", "{aon}:k:k:r") == ["1"]
    assert rcli("EXISTS", "{aon}:res:x2") == ["0"]


def test_retry_never_counts_twice_and_settle_is_idempotent(rcli):
    p = [("a", 10, 100, 5, 10)]
    assert acquire(rcli, "idem", "q1", p, tokens=40, cost=2)[0] == "1"
    assert len(acquire(rcli, "idem", "q1", p, tokens=40, cost=2)) == 2  # the same rid again
    assert rcli("HVALS", "{idem}:k:a:r") == ["1"]
    assert rcli("HVALS", "{idem}:k:a:t") == ["40"]
    assert rcli("ZCARD", "{idem}:k:a:c") == ["1"]
    assert settle(rcli, "idem", "q1", p, -30, -1.5) == ["1"]
    assert settle(rcli, "idem", "q1", p, -30, -1.5) == ["0"]  # nothing left to settle
    assert rcli("HVALS", "{idem}:k:a:t") == ["10"]
    assert rcli("ZCARD", "{idem}:k:a:c") == ["0"]
    assert float(rcli("GET", "{idem}:k:a:b:total")[0]) == pytest.approx(0.5)


def test_tpm_too_large_and_exhausted(rcli):
    p = [("a", 0, 100, 0, 0)]
    assert acquire(rcli, "tpm", "t0", p, tokens=101)[:2] == ["0", "5"]
    assert acquire(rcli, "tpm", "t1", p, tokens=60)[0] == "1"
    out = acquire(rcli, "tpm", "t2", p, tokens=60)
    assert out[:2] == ["0", "2"] and out[4:6] == ["100", "60"]
    # a settle far under the estimate frees the room at once; never below zero
    settle(rcli, "tpm", "t1", p, -1000, 0)
    assert rcli("HVALS", "{tpm}:k:a:t") == ["0"]
    assert acquire(rcli, "tpm", "t3", p, tokens=60)[0] == "1"


def test_concurrency_lease_expires(rcli):
    p = [("a", 0, 0, 1, 0)]
    assert acquire(rcli, "conc", "c1", p, lease=1000)[0] == "1"
    assert acquire(rcli, "conc", "c2", p, lease=1000)[:2] == ["0", "3"]
    time.sleep(1.2)  # the holder crashed: its slot comes back after the lease
    assert acquire(rcli, "conc", "c3", p, lease=1000)[0] == "1"


def test_budget_counts_reserved_and_reports_spent(rcli):
    p = [("a", 0, 0, 0, 1)]
    assert acquire(rcli, "bud", "b1", p, cost=0.6)[0] == "1"
    assert acquire(rcli, "bud", "b2", p, cost=0.6)[0] == "1"  # 0.6 < 1: admitted
    out = acquire(rcli, "bud", "b3", p, cost=0.1)
    assert out[:2] == ["0", "4"] and float(out[6]) == pytest.approx(1.2)


def check(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    r = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(p)],
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


BASE = """providers: [{name: m, base_url: "http://127.0.0.1:1/v1"}]
models: [{alias: chat, deployments: [{provider: m, model: x}]}]
"""


def test_redis_config_errors_have_positions(tmp_path):
    rc, out = check(tmp_path, BASE + """governance:
  redis:
    url: "redis://h:99999/0"
    password: hunter2-secret
    timeout_ms: 0
    key_prefix: "a{b}"
    failure: maybe
    lease: 5
""")
    assert rc != 0
    for frag in (":5:10: key 'governance.redis.url': the port must be 1..65535",
                 ":7:17: key 'governance.redis.timeout_ms'",
                 ":8:17: key 'governance.redis.key_prefix'",
                 ":9:14: key 'governance.redis.failure'", "open, closed",
                 ":10:5: key 'governance.redis.lease'", "did you mean 'lease_ms'"):
        assert frag in out, (frag, out)
    assert "hunter2-secret" not in out
    for url, msg in (("http://x", "expected redis://"), ("redis://:pw@h", "put the password"),
                     ("redis://h/abc", "database must be"), ("unix:rel", "must be absolute")):
        rc, out = check(tmp_path, BASE + "governance: {redis: {url: \"%s\"}}\n" % url)
        assert rc != 0 and msg in out, (url, out)
    rc, out = check(tmp_path, BASE + "governance: {redis: {failure: open}}\n")
    assert rc != 0 and "governance.redis.url" in out and "required" in out
    rc, out = check(tmp_path, BASE + """governance:
  redis: {url: "redis://10.0.0.5:6380/2", password: s3cret, failure: closed}
""")
    assert rc == 0, out
    assert "limits in Redis at 10.0.0.5:6380/2 (failure closed)" in out and "s3cret" not in out
