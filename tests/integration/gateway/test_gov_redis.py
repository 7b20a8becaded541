"""Governance limits shared through a real redis-server: two girder instances enforce one
limit exactly; Redis killed mid-test (fail-open serves under local limits, fail-closed
answers 503) and brought back (girder reconnects). docs/governance.md "Redis mode"."""
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import assert_clean, free_port, request, start_girder, start_mock, wait_port  # noqa: E402

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")

KEY = "gk-redis-test-0123456789abcdef"
KEY2 = "gk-redis-tpm-0123456789abcdef"
KEY3 = "gk-redis-conc-0123456789abcdef"
KEY4 = "gk-redis-budget-0123456789abcdef"

CONFIG = """
listen: 127.0.0.1:0
threads: 2
providers:
  - {{name: mock, base_url: "http://127.0.0.1:{mport}/v1", first_byte_timeout_ms: 8000,
     timeout_ms: 30000}}
models:
  - {{alias: chat, deployments: [{{provider: mock, model: ok-chat}}]}}
  - {{alias: slow, deployments: [{{provider: mock, model: "slow:1500"}}]}}
  - {{alias: priced, deployments: [{{provider: mock, model: ok-priced}}]}}
governance:
  redis: {{url: "redis://127.0.0.1:{rport}/3", timeout_ms: 500, key_prefix: "{prefix}",
          failure: {failure}}}
  keys:
    - {{id: rpm10, key_sha256: "{k1}", limits: {{rpm: {rpm}}}}}
    - {{id: tpm, key_sha256: "{k2}", limits: {{tpm: 200}}}}
    - {{id: conc, key_sha256: "{k3}", limits: {{concurrent: 2}}}}
    - {{id: budget, key_sha256: "{k4}", budget: {{usd: 30, period: daily}}}}
  prices:
    - {{model: ok-priced, input_per_1m: 1000000, output_per_1m: 0}}
"""


def sha(k):
    return hashlib.sha256(k.encode()).hexdigest()


class Redis:
    def __init__(self, d, port):
        self.d, self.port, self.p = d, port, None

    def start(self):
        self.p = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                   self.d, "--enable-debug-command", "local"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), "-n", "3"] + list(args),
                              capture_output=True, text=True, timeout=10).stdout.strip()


@pytest.fixture
def env():
    d = tempfile.mkdtemp(prefix="gov-redis-")
    mock, mport = start_mock()
    r = Redis(d, free_port())
    r.start()
    procs = []

    def girder(failure="open", rpm=10, prefix="t"):
        cfg = CONFIG.format(mport=mport, rport=r.port, failure=failure, rpm=rpm, prefix=prefix,
                            k1=sha(KEY), k2=sha(KEY2), k3=sha(KEY3), k4=sha(KEY4))
        sub = tempfile.mkdtemp(dir=d)
        g, port = start_girder(cfg, sub)
        procs.append(g)
        return g, port

    yield {"girder": girder, "redis": r}
    for g in procs:
        g.stop()
    r.stop()
    mock.stop()
    for g in procs:
        assert_clean(g)
        out = "".join(g.lines)
        for k in (KEY, KEY2, KEY3, KEY4):
            assert k not in out
    shutil.rmtree(d, ignore_errors=True)


def chat(port, key, model="chat", body=None):
    b = body or {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return request(port, "POST", "/v1/chat/completions", b,
                   {"Authorization": "Bearer " + key})


def warm(port):
    """Waits until the instance's loops reach Redis (the first requests may fail open)."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        m = request(port, "GET", "/metrics")[2].decode()
        if metric(port, "connected") >= 2:  # both loop threads (threads: 2)
            return
        chat(port, KEY3)  # conc: no RPM spent; opens the connections
        time.sleep(0.1)
    raise AssertionError("girder never connected to redis")


def metric(port, event):
    m = request(port, "GET", "/metrics")[2].decode()
    for line in m.splitlines():
        if line.startswith('girder_gateway_gov_redis_events_total{event="%s"}' % event):
            return float(line.split()[-1])
    return 0.0


def test_rpm_exact_across_two_instances(env):
    (_, p1), (_, p2) = env["girder"](), env["girder"]()
    for p in (p1, p2):
        for _ in range(4):  # every loop thread connects on its first use
            warm(p)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda i: chat(p1 if i % 2 else p2, KEY)[0], range(20)))
    assert res.count(200) == 10, res
    assert res.count(429) == 10, res
    assert metric(p1, "fail_open") == 0 and metric(p2, "fail_open") == 0
    st, h, out = chat(p1, KEY)
    assert st == 429 and "retry-after" in h
    assert "requests per minute" in json.loads(out)["error"]["message"]
    # the refusing quota in OpenAI's headers, as local mode gives them
    assert h["x-ratelimit-limit-requests"] == "10" and h["x-ratelimit-remaining-requests"] == "0"
    assert h["x-ratelimit-reset-requests"].endswith("s"), h


def test_tpm_concurrency_and_budget_shared(env):
    (_, p1), (_, p2) = env["girder"](), env["girder"]()
    for p in (p1, p2):
        for _ in range(4):
            warm(p)
    # TPM 200: a ~120-token body fits once across both instances while both are in flight
    body = {"model": "slow", "messages": [{"role": "user", "content": "x" * 420}]}
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        res = list(ex.map(lambda p: chat(p, KEY2, body=body), (p1, p2)))
    assert sorted(r[0] for r in res) == [200, 429], [r[0] for r in res]
    out = [r[2] for r in res if r[0] == 429][0]
    assert "tokens per minute" in json.loads(out)["error"]["message"]
    # concurrency 2 across instances while slow requests run
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        res = list(ex.map(lambda i: chat(p1 if i % 2 else p2, KEY3, model="slow")[0], range(4)))
    assert sorted(res) == [200, 200, 429, 429], res
    assert env["redis"].cli("ZCARD", "{t}:k:conc:c") == "0"  # settled: slots given back
    # budget: each priced request costs about its prompt estimate in USD (1 USD/token)
    spent = []
    for i in range(6):
        st, _, out = chat(p1 if i % 2 else p2, KEY4, model="priced")
        spent.append(st)
    assert 200 in spent and spent[-1] == 429, spent
    st, _, out = chat(p1, KEY4, model="priced")
    assert json.loads(out)["error"]["type"] == "insufficient_quota"


def test_redis_down_fail_open_and_closed_then_back(env):
    r = env["redis"]
    (_, po), (_, pc) = env["girder"]("open", rpm=3, prefix="o"), env["girder"]("closed", prefix="c")
    for p in (po, pc):
        for _ in range(4):
            warm(p)
    r.stop()
    time.sleep(0.3)
    # fail-open: served, and the local RPM limit (3) still applies on this instance
    res = [chat(po, KEY)[0] for _ in range(5)]
    assert res == [200, 200, 200, 429, 429], res
    assert metric(po, "fail_open") >= 3
    # fail-closed: 503 in the OpenAI error format, the process keeps serving
    st, h, out = chat(pc, KEY)
    assert st == 503, (st, out)
    e = json.loads(out)["error"]
    assert e["code"] == "rate_limiter_unavailable" and e["type"] == "api_error"
    assert metric(pc, "fail_closed") >= 1
    assert request(pc, "GET", "/metrics")[0] == 200
    # Redis back: both reconnect (backoff at most 5 s) and decide through Redis again
    r.start()
    end = time.monotonic() + 20
    while time.monotonic() < end and chat(pc, KEY)[0] != 200:
        time.sleep(0.2)
    assert chat(pc, KEY)[0] == 200
    assert int(r.cli("HLEN", "{c}:k:rpm10:r")) >= 1
    assert metric(pc, "connected") >= 2


def test_slow_redis_times_out_to_policy_and_gives_reservations_back(env):
    r = env["redis"]
    (_, po), (_, pc) = env["girder"]("open", prefix="so"), env["girder"]("closed", prefix="sc")
    for p in (po, pc):
        for _ in range(4):
            warm(p)
    sleeper = subprocess.Popen(["redis-cli", "-p", str(r.port), "DEBUG", "SLEEP", "2"],
                               stdout=subprocess.DEVNULL)
    time.sleep(0.2)
    t0 = time.monotonic()
    assert chat(po, KEY3)[0] == 200  # timeout_ms 500, then the local backend admits
    assert chat(pc, KEY3)[0] == 503
    assert time.monotonic() - t0 < 1.9  # answered on the loop timer, not after the sleep
    assert metric(po, "timeout") >= 1 and metric(pc, "timeout") >= 1
    sleeper.wait(10)
    # the late replies admitted in Redis: girder gave those reservations back
    end = time.monotonic() + 5
    while time.monotonic() < end and (r.cli("ZCARD", "{so}:k:conc:c") != "0" or
                                       r.cli("ZCARD", "{sc}:k:conc:c") != "0"):
        time.sleep(0.1)
    assert r.cli("ZCARD", "{so}:k:conc:c") == "0"
    assert r.cli("ZCARD", "{sc}:k:conc:c") == "0"
    assert r.cli("KEYS", "{sc}:res:*") == ""
    assert chat(pc, KEY3)[0] == 200  # and Redis decides again
