"""Virtual keys stored in a real redis-server (governance.redis.keys: true): added with
redis-cli HSET and used at once by two girder instances without a reload, their limits
shared, revocation within the cache TTL, malformed entries refused with the field named in
the log, Redis stopped (fail-open: unknown keys 401; fail-closed: 503; config keys still
work), `girder keys new`'s HSET line, and the key text in no log line.
docs/governance.md "Keys in Redis"."""
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import assert_clean, free_port, request, start_girder, start_mock  # noqa: E402
from test_gov_redis import Redis, sha  # noqa: E402

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")

CFG_KEY = "gk-config-key-0123456789abcdef"      # in the config, no limits
WARM_KEY = "gk-config-warm-0123456789abcdef"    # in the config, concurrency only
RK = {n: "gk-redis-%s-0123456789abcdefXYZ" % n for n in
      ("shared", "revoke", "bad1", "bad2", "bad3", "bad4", "tenant", "local", "models")}

CONFIG = """
listen: 127.0.0.1:0
threads: 2
access_log: {{enabled: true, path: {tmp}/access.log, format: json}}
providers:
  - {{name: mock, base_url: "http://127.0.0.1:{mport}/v1", first_byte_timeout_ms: 8000,
     timeout_ms: 30000}}
models:
  - {{alias: chat, deployments: [{{provider: mock, model: ok-chat}}]}}
  - {{alias: other, deployments: [{{provider: mock, model: ok-other}}]}}
governance:
  redis: {{url: "redis://127.0.0.1:{rport}/3", timeout_ms: 500, key_prefix: "{prefix}",
          failure: {failure}, keys: true, key_cache_ms: 1000, key_negative_cache_ms: 200,
          limits: {limits}}}
  tenants:
    - {{id: team, limits: {{rpm: 3}}}}
  keys:
    - {{id: cfg, key_sha256: "{k1}"}}
    - {{id: warm, key_sha256: "{k2}", limits: {{concurrent: 50}}}}
"""


@pytest.fixture
def env():
    d = tempfile.mkdtemp(prefix="gov-rkeys-")
    mock, mport = start_mock()
    r = Redis(d, free_port())
    r.start()
    procs = []

    def girder(failure="open", prefix="rk", limits="redis"):
        sub = tempfile.mkdtemp(dir=d)
        cfg = CONFIG.format(mport=mport, rport=r.port, failure=failure, prefix=prefix,
                            limits=limits, tmp=sub, k1=sha(CFG_KEY), k2=sha(WARM_KEY))
        g, port = start_girder(cfg, sub)
        g.tmp = sub
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
        logs = out + open(os.path.join(g.tmp, "access.log")).read()
        for k in list(RK.values()) + [CFG_KEY, WARM_KEY]:
            assert k not in logs
    shutil.rmtree(d, ignore_errors=True)


def chat(port, key, model="chat"):
    b = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return request(port, "POST", "/v1/chat/completions", b, {"Authorization": "Bearer " + key})


def hkey(prefix, key):
    return "{%s}:key:%s" % (prefix, sha(key))


def metric(port, name, label):
    for line in request(port, "GET", "/metrics")[2].decode().splitlines():
        if line.startswith('%s{%s}' % (name, label)):
            return float(line.split()[-1])
    return 0.0


def lookups(port, result):
    return metric(port, "girder_gateway_gov_key_lookups_total", 'result="%s"' % result)


def warm(port):
    """Until both loop threads of the instance are connected to Redis."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if metric(port, "girder_gateway_gov_redis_events_total", 'event="connected"') >= 2:
            return
        chat(port, WARM_KEY)
        time.sleep(0.05)
    raise AssertionError("girder never connected to redis")


def until(fn, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def test_added_without_reload_limits_shared_across_instances(env):
    r = env["redis"]
    (g1, p1), (_, p2) = env["girder"](), env["girder"]()
    for p in (p1, p2):
        warm(p)
    k = RK["shared"]
    assert chat(p1, k)[0] == 401 and chat(p2, k)[0] == 401
    r.cli("HSET", hkey("rk", k), "id", "rk-shared", "rpm", "4", "models", "chat",
          "metadata", "owner=alice,env=ci")
    time.sleep(0.3)  # past the negative cache (200 ms)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        res = list(ex.map(lambda i: chat(p1 if i % 2 else p2, k), range(10)))
    codes = [x[0] for x in res]
    assert codes.count(200) == 4 and codes.count(429) == 6, codes
    ok = [x for x in res if x[0] == 200][0]
    assert ok[1]["x-ratelimit-limit-requests"] == "4"
    assert "rk-shared" in json.loads([x for x in res if x[0] == 429][0][2])["error"]["message"]
    assert int(r.cli("HLEN", "{rk}:k:rk-shared:r")) >= 1  # counted in Redis
    st, _, out = chat(p1, k, model="other")  # models: chat only
    assert st == 403 and json.loads(out)["error"]["code"] == "model_not_allowed"
    for p in (p1, p2):
        assert lookups(p, "hit") >= 1 and lookups(p, "miss") >= 1 and lookups(p, "cached") >= 1
    # GET /v1/models[/{alias}] with a Redis key: only its aliases (looked up when not cached)
    m = RK["models"]
    r.cli("HSET", hkey("rk", m), "id", "rk-models", "models", "other")
    hdr = {"Authorization": "Bearer " + m}
    st, _, out = request(p2, "GET", "/v1/models", None, hdr)
    assert st == 200 and [x["id"] for x in json.loads(out)["data"]] == ["other"], (st, out)
    assert request(p2, "GET", "/v1/models/other", None, hdr)[0] == 200
    assert request(p2, "GET", "/v1/models/chat", None, hdr)[0] == 404
    st, _, out = request(p1, "GET", "/v1/models", None, {"Authorization": "Bearer gk-nope"})
    assert st == 401 and json.loads(out)["error"]["code"] == "invalid_api_key"
    path = os.path.join(g1.tmp, "access.log")
    assert until(lambda: '"key_id":"rk-shared"' in open(path).read())
    assert '"key_tags":"owner=alice,env=ci"' in open(path).read()


def test_tenant_limits_apply_and_revocation_within_ttl(env):
    r = env["redis"]
    (_, p1), (_, p2) = env["girder"](), env["girder"]()
    for p in (p1, p2):
        warm(p)
    # the tenant's RPM (3) applies to a Redis key that names it, across both instances
    t = RK["tenant"]
    r.cli("HSET", hkey("rk", t), "id", "rk-tenant", "tenant", "team")
    res = [chat(p1 if i % 2 else p2, t)[0] for i in range(5)]
    assert res.count(200) == 3 and res.count(429) == 2, res
    # revoke: refused within key_cache_ms (1 s) on both instances
    k = RK["revoke"]
    r.cli("HSET", hkey("rk", k), "id", "rk-revoke")
    assert chat(p1, k)[0] == 200 and chat(p2, k)[0] == 200
    r.cli("HSET", hkey("rk", k), "revoked", "1")
    # the bound is key_cache_ms (1 s) per loop thread; 2.5 s leaves room for a busy host
    assert until(lambda: chat(p1, k)[0] == 401 and chat(p2, k)[0] == 401, 2.5)
    time.sleep(1.1)
    assert chat(p1, k)[0] == 401 and chat(p2, k)[0] == 401  # stays refused
    r.cli("HSET", hkey("rk", k), "revoked", "0")
    assert until(lambda: chat(p1, k)[0] == 200, 2.0)
    r.cli("DEL", hkey("rk", k))
    time.sleep(1.1)  # every loop thread's cached entry is older than key_cache_ms now
    assert [chat(p, k)[0] for p in (p1, p2, p1, p2)] == [401] * 4
    e = json.loads(chat(p1, k)[2])["error"]
    assert e["code"] == "invalid_api_key" and e["message"] == "Incorrect API key provided."


def test_malformed_entries_refused_with_the_field_logged(env):
    r = env["redis"]
    g, p = env["girder"]()
    warm(p)
    bad = {"bad1": ("rk-bad1", "rpm", "ten"), "bad2": ("rk-bad2", "tenant", "nobody"),
           "bad3": ("rk-bad3", "models", "chat,nope"), "bad4": ("rk-bad4", "colour", "red")}
    for n, (kid, field, value) in bad.items():
        r.cli("HSET", hkey("rk", RK[n]), "id", kid, field, value)
        st, _, out = chat(p, RK[n])
        assert st == 401, (n, st, out)
        assert json.loads(out)["error"]["code"] == "invalid_api_key"
        g.wait_for(r'msg="redis key refused" key_id="%s" key_sha256_prefix=%s field="%s"'
                   % (kid, sha(RK[n])[:12], field))
    assert lookups(p, "invalid") >= 4
    # fixed in Redis: accepted once the negative entry expires
    r.cli("HSET", hkey("rk", RK["bad1"]), "rpm", "10")
    assert until(lambda: chat(p, RK["bad1"])[0] == 200, 2.0)


def test_redis_down_policy_config_keys_still_work(env):
    r = env["redis"]
    # fail-closed with limits: local, so that only the key lookup needs Redis (with limits in
    # Redis a fail-closed instance refuses every limited request while Redis is away)
    (_, po), (_, pc) = (env["girder"]("open", prefix="do"),
                        env["girder"]("closed", prefix="dc", limits="local"))
    warm(po)
    k = RK["shared"]
    for pre in ("do", "dc"):
        r.cli("HSET", hkey(pre, k), "id", "rk-down")
    assert chat(po, k)[0] == 200 and chat(pc, k)[0] == 200
    r.stop()
    time.sleep(1.2)  # the cached entry expires (key_cache_ms 1 s)
    # keys from the config still work (fail-open: local limits decide; local limits)
    assert chat(po, CFG_KEY)[0] == 200 and chat(pc, CFG_KEY)[0] == 200
    assert chat(pc, WARM_KEY)[0] == 200
    # fail-open: an unknown (or Redis-only) key is never let in
    st, _, out = chat(po, k)
    assert st == 401 and json.loads(out)["error"]["code"] == "invalid_api_key"
    # fail-closed: 503 in the OpenAI format
    st, _, out = chat(pc, k)
    assert st == 503, (st, out)
    e = json.loads(out)["error"]
    assert e["type"] == "api_error" and e["code"] == "key_store_unavailable"
    assert lookups(po, "error") >= 1 and lookups(pc, "error") >= 1
    assert request(pc, "GET", "/metrics")[0] == 200
    r.start()  # an empty Redis: the key is gone, girder reconnects
    assert until(lambda: chat(pc, k)[0] == 401, 15.0)
    r.cli("HSET", hkey("dc", k), "id", "rk-down")
    assert until(lambda: chat(pc, k)[0] == 200, 3.0)


def test_local_limits_and_the_cli_hset_line(env):
    r = env["redis"]
    _, p = env["girder"](prefix="lo", limits="local")
    out = subprocess.run([os.environ["GIRDER_BIN"], "keys", "new", "--id", "cli-key",
                          "--prefix", "lo"], capture_output=True, text=True, check=True).stdout
    key = [ln.split()[1] for ln in out.splitlines() if ln.startswith("key: ")][0]
    hset = [ln for ln in out.splitlines() if ln.startswith("redis-cli HSET ")][0]
    assert key not in hset and sha(key) in hset
    argv = shlex.split(hset)[1:] + ["rpm", "2"]
    r.cli(*argv)
    res = [chat(p, key)[0] for _ in range(4)]
    assert res == [200, 200, 429, 429], res
    assert r.cli("EXISTS", "{lo}:k:cli-key:r") == "0"  # limits: local counts in-process
    RK["cli"] = key  # checked against every log line by the fixture
