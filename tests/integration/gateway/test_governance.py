"""Gateway governance (virtual keys, RPM/TPM/concurrency limits, USD budgets) against the
real girder binary and the mock upstream (mock_upstream.py)."""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import assert_clean, mock_stats, request, start_girder, start_mock  # noqa: E402
from mock_upstream import TEXT, words  # noqa: E402

KEYS = {name: "gk-test-%s-0123456789abcdef" % name for name in (
    "full", "limited", "rpm5", "tpm", "tpm2", "conc", "budget", "b1", "b2")}
ADMIN = "gk-admin-0123456789abcdef"
COMPLETION = len(words(TEXT))  # what the mock reports as completion_tokens
PROMPT = 9                     # and as prompt_tokens


def sha(k):
    return hashlib.sha256(k.encode()).hexdigest()


CONFIG = """
listen: 127.0.0.1:0
threads: 2
access_log: {{enabled: true, path: {tmp}/access.log, format: json}}
providers:
  - {{name: mock, base_url: "http://127.0.0.1:{port}/v1", first_byte_timeout_ms: 8000,
     timeout_ms: 30000}}
models:
  - {{alias: chat, deployments: [{{provider: mock, model: ok-chat}}]}}
  - {{alias: other, deployments: [{{provider: mock, model: ok-other}}]}}
  - {{alias: slow, deployments: [{{provider: mock, model: "slow:1500"}}]}}
  - {{alias: priced, deployments: [{{provider: mock, model: ok-priced}}]}}
governance:
  time_zone: Europe/Berlin
  admin_key_sha256: "{admin}"
  tenants:
    - {{id: team-a, limits: {{rpm: 100000}}}}
    - {{id: team-b, limits: {{concurrent: 2}}}}
  keys:
    - {{id: full, key_sha256: "{full}", tenant: team-a, metadata: {{owner: alice}}}}
    - {{id: limited, key_sha256: "{limited}", models: [chat]}}
    - {{id: rpm5, key_sha256: "{rpm5}", limits: {{rpm: 5}}}}
    - {{id: tpm, key_sha256: "{tpm}", limits: {{tpm: 200}}}}
    - {{id: tpm2, key_sha256: "sha256:{tpm2}", limits: {{tpm: 200}}}}
    - {{id: conc, key_sha256: "{conc}", limits: {{concurrent: 2}}}}
    - {{id: budget, key_sha256: "{budget}", budget: {{usd: 30, period: daily}}}}
    - {{id: b1, key_sha256: "{b1}", tenant: team-b}}
    - {{id: b2, key_sha256: "{b2}", tenant: team-b}}
  prices:
    - {{model: ok-priced, input_per_1m: 1000000, output_per_1m: 0}}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gov")
    mock, mport = start_mock()
    cfg = CONFIG.format(tmp=tmp, port=mport, admin=sha(ADMIN),
                        **{k: sha(v) for k, v in KEYS.items()})
    g, port = start_girder(cfg, tmp)
    yield {"port": port, "mport": mport, "tmp": tmp, "girder": g}
    g.stop()
    mock.stop()
    assert_clean(g)
    for k in KEYS.values():
        assert k not in "".join(g.lines)


def chat(port, key=None, model="chat", body=None, header="authorization", stream=False,
         include_usage=False):
    b = body or {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        b["stream"] = True
        if include_usage:
            b["stream_options"] = {"include_usage": True}
    h = {}
    if key is not None:
        h = {"Authorization": "Bearer " + key} if header == "authorization" else {
            "x-api-key": key}
    st, hd, out = request(port, "POST", "/v1/chat/completions", b, h)
    return st, hd, out


def err(out):
    return json.loads(out)["error"]


def metrics(port):
    return request(port, "GET", "/metrics")[2].decode()


def test_missing_and_invalid_keys_get_401(env):
    st, _, out = chat(env["port"])
    assert st == 401 and err(out)["code"] == "missing_api_key"
    assert err(out)["type"] == "authentication_error"
    wrong = KEYS["full"][:-1] + "X"  # one character off
    st, _, out = chat(env["port"], wrong)
    assert st == 401 and err(out)["code"] == "invalid_api_key"
    msg = err(out)["message"]
    for bad in ("Basic abc", "Bearer ", "Bearer a b", "bearer\tx"):
        st, _, o2 = request(env["port"], "POST", "/v1/chat/completions",
                            {"model": "chat", "messages": []}, {"Authorization": bad})
        assert st == 401 and err(o2)["message"] == msg  # nothing says which part was wrong
    # the key is checked before the body: an unauthenticated bad body is still a 401
    st, _, out = request(env["port"], "POST", "/v1/chat/completions", b"{nope", {})
    assert st == 401
    m = metrics(env["port"])
    assert 'girder_gateway_gov_refusals_total{kind="auth",id="-",reason="invalid_key"}' in m


def test_valid_key_both_headers_and_log(env):
    st, hd, out = chat(env["port"], KEYS["full"])
    assert st == 200, out
    assert json.loads(out)["choices"][0]["message"]["content"] == TEXT
    assert "x-ratelimit-limit-requests" in hd and hd["x-ratelimit-limit-requests"] == "100000"
    st, _, _ = chat(env["port"], KEYS["full"], header="x-api-key")
    assert st == 200
    # the upstream never sees the virtual key
    last = mock_stats(env["mport"])["last"]["ok-chat"]["headers"]
    assert KEYS["full"] not in json.dumps(last)
    time.sleep(0.2)
    log = open(os.path.join(str(env["tmp"]), "access.log")).read()
    assert '"key_id":"full"' in log and '"tenant":"team-a"' in log
    assert '"key_tags":"owner=alice"' in log
    assert KEYS["full"] not in log and sha(KEYS["full"]) not in log


def test_alias_not_allowed_is_403(env):
    st, _, out = chat(env["port"], KEYS["limited"], model="other")
    assert st == 403 and err(out)["code"] == "model_not_allowed"
    assert err(out)["type"] == "permission_error"
    assert chat(env["port"], KEYS["limited"], model="chat")[0] == 200
    assert chat(env["port"], KEYS["limited"], model="nope")[0] == 404


def test_models_need_a_key_and_show_only_allowed_aliases(env):
    st, _, out = request(env["port"], "GET", "/v1/models")
    assert st == 401 and err(out)["code"] == "missing_api_key"
    st, _, out = request(env["port"], "GET", "/v1/models", headers={
        "Authorization": "Bearer " + KEYS["limited"]})
    assert st == 200 and [m["id"] for m in json.loads(out)["data"]] == ["chat"]
    st, _, out = request(env["port"], "GET", "/v1/models", headers={
        "x-api-key": KEYS["full"]})
    assert st == 200
    assert sorted(m["id"] for m in json.loads(out)["data"]) == ["chat", "other", "priced",
                                                                "slow"]
    h = {"Authorization": "Bearer " + KEYS["limited"]}
    assert request(env["port"], "GET", "/v1/models/chat", headers=h)[0] == 200
    st, _, out = request(env["port"], "GET", "/v1/models/other", headers=h)
    assert st == 404 and err(out)["code"] == "model_not_found"
    assert request(env["port"], "GET", "/v1/models/chat")[0] == 401


def test_rpm_admits_exactly_n_under_concurrency(env):
    results = []
    lock = threading.Lock()

    def one():
        r = chat(env["port"], KEYS["rpm5"])
        with lock:
            results.append(r)

    ts = [threading.Thread(target=one) for _ in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 429]
    assert len(ok) == 5 and len(refused) == 11, [r[0] for r in results]
    for st, hd, out in refused:
        e = err(out)
        assert e["type"] == "rate_limit_error" and e["code"] == "rate_limit_exceeded"
        assert "requests per minute" in e["message"]
        assert 1 <= int(hd["retry-after"]) <= 61 and int(hd["retry-after-ms"]) > 0
        assert hd["x-ratelimit-limit-requests"] == "5"
        assert hd["x-ratelimit-remaining-requests"] == "0"
    remaining = sorted(int(hd["x-ratelimit-remaining-requests"]) for _, hd, _ in ok)
    assert remaining == [0, 1, 2, 3, 4]
    # girder's numbers replace the upstream's (the mock sends limit 100)
    assert all(hd["x-ratelimit-limit-requests"] == "5" for _, hd, _ in ok)
    m = metrics(env["port"])
    assert 'girder_gateway_gov_refusals_total{kind="key",id="rpm5",reason="rpm"} 11' in m


def padded_body(tokens, stream_usage):
    """A chat body of exactly 4 * tokens bytes (girder estimates bytes / 4)."""
    b = {"model": "chat", "messages": [{"role": "user", "content": ""}], "stream": True}
    if stream_usage:
        b["stream_options"] = {"include_usage": True}
    pad = 4 * tokens - len(json.dumps(b))
    assert pad > 0
    b["messages"][0]["content"] = "x" * pad
    assert len(json.dumps(b)) == 4 * tokens
    return b


def stream_tpm(port, key, body):
    st, hd, out = chat(port, key, body=dict(body))
    if st == 200:
        assert out.decode().rstrip().endswith("data: [DONE]")
    return st, hd, out


def test_tpm_reconciled_with_streamed_usage(env):
    """Estimate 80 tokens per request, real usage 9 + COMPLETION: after reconciliation the
    window holds the real numbers, so more requests fit than the estimates alone allow."""
    body = padded_body(80, True)
    real = PROMPT + COMPLETION
    admitted, remaining = 0, []
    for _ in range(20):
        st, hd, out = stream_tpm(env["port"], KEYS["tpm"], body)
        if st != 200:
            assert st == 429 and "tokens per minute" in err(out)["message"]
            assert hd["x-ratelimit-limit-tokens"] == "200"
            break
        admitted += 1
        remaining.append(int(hd["x-ratelimit-remaining-tokens"]))
    expect = (200 - 80) // real + 1
    assert admitted == expect, (admitted, remaining)
    assert remaining[:3] == [200 - 80, 200 - real - 80, 200 - 2 * real - 80]


def test_tpm_without_stream_usage_counts_events(env):
    """No usage in the stream: the prompt estimate stands and each streamed event counts as
    one completion token."""
    body = padded_body(80, False)
    events = COMPLETION + 2  # role chunk + one per word + stop chunk (then [DONE])
    cost = 80 + events
    st, hd, _ = stream_tpm(env["port"], KEYS["tpm2"], body)
    assert st == 200 and hd["x-ratelimit-remaining-tokens"] == str(200 - 80)
    st, hd, _ = stream_tpm(env["port"], KEYS["tpm2"], body)
    assert st == 200 and hd["x-ratelimit-remaining-tokens"] == str(200 - cost - 80)
    st, hd, out = stream_tpm(env["port"], KEYS["tpm2"], body)
    assert st == 429, out


def too_large(env):
    body = padded_body(300, False)
    st, hd, out = chat(env["port"], KEYS["tpm"], body=body)
    assert st == 429 and hd.get("x-should-retry") == "false"
    assert "Request too large" in err(out)["message"]


def test_request_larger_than_tpm_is_not_retryable(env):
    too_large(env)


def wait_inflight(mport, model, n, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if mock_stats(mport)["by_model"].get(model, 0) >= n:
            return
        time.sleep(0.02)
    raise AssertionError("upstream never saw %d requests" % n)


def run_bg(fn, n):
    out = []
    ts = [threading.Thread(target=lambda: out.append(fn())) for _ in range(n)]
    for t in ts:
        t.start()
    return ts, out


def test_concurrency_limit_per_key(env):
    before = mock_stats(env["mport"])["by_model"].get("slow:1500", 0)
    ts, out = run_bg(lambda: chat(env["port"], KEYS["conc"], model="slow"), 2)
    wait_inflight(env["mport"], "slow:1500", before + 2)
    st, hd, o = chat(env["port"], KEYS["conc"], model="chat")
    assert st == 429 and "concurrent requests" in err(o)["message"]
    assert hd["retry-after"] == "1"
    for t in ts:
        t.join()
    assert [r[0] for r in out] == [200, 200]
    assert chat(env["port"], KEYS["conc"])[0] == 200  # slots were released


def test_tenant_limit_shared_by_its_keys(env):
    before = mock_stats(env["mport"])["by_model"].get("slow:1500", 0)
    ts, out = run_bg(lambda: chat(env["port"], KEYS["b1"], model="slow"), 2)
    wait_inflight(env["mport"], "slow:1500", before + 2)
    st, _, o = chat(env["port"], KEYS["b2"])
    assert st == 429 and "tenant 'team-b'" in err(o)["message"]
    for t in ts:
        t.join()
    assert chat(env["port"], KEYS["b2"])[0] == 200


def test_budget_exhaustion(env):
    """9 prompt tokens at 1 USD each per request; a 30 USD budget admits 4 (0, 9, 18, 27
    spent before each), then refuses with insufficient_quota."""
    codes = []
    for _ in range(6):
        st, hd, out = chat(env["port"], KEYS["budget"], model="priced")
        codes.append(st)
        if st == 429:
            e = err(out)
            assert e["type"] == "insufficient_quota" and e["code"] == "insufficient_quota"
            assert hd.get("x-should-retry") == "false" and "retry-after" not in hd
            assert "36.0000 of 30.0000 USD" in e["message"]
    assert codes == [200] * 4 + [429] * 2
    m = metrics(env["port"])
    assert 'girder_gateway_gov_spend_usd{kind="key",id="budget"} 36' in m
    assert 'girder_gateway_gov_refusals_total{kind="key",id="budget",reason="budget"} 2' in m
    assert 'girder_gateway_gov_tokens_total{kind="key",id="budget"} %d' % (
        4 * (PROMPT + COMPLETION)) in m
    st, j = admin(env, "?kind=key&id=budget")
    assert st == 200 and j["parties"][0]["budget"]["spent_usd"] == 36


def admin(env, query="", key=ADMIN):
    st, _, out = request(env["port"], "GET", "/admin/governance" + query,
                         headers={"Authorization": "Bearer " + key})
    return st, json.loads(out)


def test_admin_route_shows_usage_and_spend(env):
    assert admin(env, key=KEYS["full"])[0] == 401  # a virtual key is not the admin key
    assert request(env["port"], "GET", "/admin/governance")[0] == 401
    st, j = admin(env)
    assert st == 200 and j["time_zone"] == "Europe/Berlin"
    kinds = {(p["kind"], p["id"]) for p in j["parties"]}
    assert ("key", "rpm5") in kinds and ("tenant", "team-b") in kinds
    assert j["total"] == len(KEYS) + 2  # every key and tenant; no alias has limits here
    before = chat(env["port"], KEYS["full"])[0]
    assert before == 200
    st, j = admin(env, "?kind=key&id=full")
    assert st == 200 and j["total"] == 1
    p = j["parties"][0]
    assert p["tenant"] == "team-a" and p["limits"]["rpm"] == 0
    st, j = admin(env, "?kind=tenant&id=team-a")
    assert j["parties"][0]["usage"]["requests_1m"] >= 1
    st, j = admin(env, "?kind=key&id=budget")
    b = j["parties"][0]["budget"]
    assert b["usd"] == 30 and b["period"] == "daily"
    assert b["period_start"].endswith(("T22:00:00Z", "T23:00:00Z"))  # Berlin midnight
    st, j = admin(env, "?limit=2&offset=1")
    assert len(j["parties"]) == 2 and j["offset"] == 1


def check(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    r = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(p)],
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr, str(p)


BASE = """providers: [{name: m, base_url: "http://127.0.0.1:1/v1"}]
models: [{alias: chat, deployments: [{provider: m, model: x}]}]
"""


def test_config_check_reports_positions(tmp_path):
    rc, out, path = check(tmp_path, BASE + """governance:
  time_zone: Mars/Olympus
  tenants: [{id: t}]
  keys:
    - id: a
      key_sha256: abc
      tenant: nobody
      models: [chat, nope]
      limits: {rpm: -1, tmp: 3}
      budget: {usd: "ten", period: hourly}
""")
    assert rc != 0
    for frag in (":4:14: key 'governance.time_zone': unknown time zone",
                 ":8:19: key 'governance.keys[0].key_sha256': expected 64 hex digits",
                 ":9:15: key 'governance.keys[0].tenant': unknown tenant 'nobody'",
                 ":10:22: key 'governance.keys[0].models[1]': unknown model alias 'nope'",
                 ":11:21: key 'governance.keys[0].limits.rpm'",
                 ":11:25: key 'governance.keys[0].limits.tmp'", "did you mean 'tpm'",
                 ":12:21: key 'governance.keys[0].budget.usd'",
                 ":12:36: key 'governance.keys[0].budget.period'"):
        assert frag in out, (frag, out)
    assert path + ":" in out
    rc, out, _ = check(tmp_path, BASE + """governance:
  keys:
    - {id: a, key_sha256: "%s"}
    - {id: a, key_sha256: "%s"}
""" % (sha("x"), sha("x")))
    assert rc != 0 and "duplicate key id 'a'" in out and "same key hash" in out
    rc, out, _ = check(tmp_path, BASE + """governance:
  admin_key_sha256: "%s"
  keys: [{id: a, key_sha256: "%s"}]
""" % (sha("x"), sha("x")))
    assert rc != 0 and "the admin key must not also be virtual key 'a'" in out
    rc, out, _ = check(tmp_path, "governance: {keys: []}\n")
    assert rc != 0 and "governance needs the gateway" in out
    rc, out, _ = check(tmp_path, BASE + """governance:
  time_zone: America/New_York
  keys: [{id: a, key_sha256: "%s", budget: {usd: 5}}]
  prices: [{model: x, input_per_1m: 0.15, output_per_1m: "0.6"}]
""" % sha("y"))
    assert rc == 0, out
    assert "governance: 1 keys (required), 0 tenants, 0 limited aliases, 1 prices" in out
    assert sha("y") not in out


def test_open_gateway_with_alias_limits(tmp_path):
    mock, mport = start_mock()
    g, port = start_girder("""listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers: [{name: m, base_url: "http://127.0.0.1:%d/v1"}]
models: [{alias: chat, deployments: [{provider: m, model: ok-open}]}]
governance:
  aliases: [{alias: chat, limits: {rpm: 3}}]
""" % mport, tmp_path)
    try:
        codes = [chat(port)[0] for _ in range(5)]  # no key needed: none is configured
        assert codes == [200, 200, 200, 429, 429]
        st, hd, out = chat(port)
        assert "model 'chat'" in err(out)["message"] and hd["x-ratelimit-limit-requests"] == "3"
    finally:
        g.stop()
        mock.stop()
    assert_clean(g)


RELOAD = """listen: 127.0.0.1:0
threads: 1
access_log: {{enabled: false}}
providers: [{{name: m, base_url: "http://127.0.0.1:{port}/v1"}}]
models:
  - {{alias: chat, deployments: [{{provider: m, model: ok-reload}}]}}
  - {{alias: {extra}, deployments: [{{provider: m, model: err500}}]}}
governance:
  keys:
    - {{id: r, key_sha256: "{h}", limits: {{rpm: {rpm}, tpm: 1000}}}}
"""


def models(port, key):
    out = request(port, "GET", "/v1/models", headers={"Authorization": "Bearer " + key})[2]
    return sorted(m["id"] for m in json.loads(out)["data"])


def test_reload_keeps_counters_and_errors_refund_tokens(tmp_path):
    import signal
    key = "gk-reload-key-0123456789"
    mock, mport = start_mock()
    g, port = start_girder(RELOAD.format(port=mport, h=sha(key), rpm=5, extra="broken"),
                           tmp_path)
    try:
        st, hd, _ = chat(port, key)
        assert st == 200 and hd["x-ratelimit-remaining-requests"] == "4"
        used = 1000 - int(hd["x-ratelimit-remaining-tokens"])  # the estimate of one request
        # an upstream error gives the tokens back (the request still counts for RPM)
        st, hd, _ = chat(port, key, model="broken")
        assert st == 500 or st == 502 or st == 503, st
        st, hd, _ = chat(port, key)
        assert hd["x-ratelimit-remaining-requests"] == "2"
        tok_left = int(hd["x-ratelimit-remaining-tokens"])
        assert tok_left == 1000 - (PROMPT + COMPLETION) - used, (tok_left, used)
        # a reload that keeps the key keeps its window; the new limit applies to it
        with open(os.path.join(str(tmp_path), "girder.yaml"), "w") as f:
            f.write(RELOAD.format(port=mport, h=sha(key), rpm=4, extra="broken2"))
        g.p.send_signal(signal.SIGHUP)
        end = time.monotonic() + 5
        while "broken2" not in models(port, key) and time.monotonic() < end:
            time.sleep(0.05)
        assert "broken2" in models(port, key)
        st, hd, _ = chat(port, key)
        assert st == 200 and hd["x-ratelimit-limit-requests"] == "4"
        assert hd["x-ratelimit-remaining-requests"] == "0"
        assert chat(port, key)[0] == 429
    finally:
        g.stop()
        mock.stop()
    assert_clean(g)


# ---- JWT (tokens made with the openssl CLI) ----
from jwt_tokens import make_keys, token  # noqa: E402

JWT_SECRET = "0123456789abcdef0123456789abcdef-hs256"
JWT_CONF = """listen: 127.0.0.1:0
threads: 1
access_log: {{enabled: true, path: {tmp}/access.log, format: json}}
providers: [{{name: m, base_url: "http://127.0.0.1:{port}/v1"}}]
models: [{{alias: chat, deployments: [{{provider: m, model: ok-jwt}}]}}]
governance:
  tenants: [{{id: acme, limits: {{rpm: 1000}}}}, {{id: beta}}]
  jwt:
    issuer: https://issuer.test
    audience: girder
    tenant_claim: org
    leeway_s: 5
    keys:
      - {{kid: rsa1, alg: RS256, public_key_file: {rsa_pub}}}
      - {{kid: ec1, alg: ES256, public_key_file: {ec_pub}}}
      - {{kid: hs1, alg: HS256, secret: "${{GW_JWT_SECRET}}"}}
"""


@pytest.fixture(scope="module")
def jwtenv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jwt")
    keys = make_keys(str(tmp))
    mock, mport = start_mock()
    g, port = start_girder(JWT_CONF.format(tmp=tmp, port=mport, rsa_pub=keys["rsa_pub"],
                                           ec_pub=keys["ec_pub"]), tmp,
                           {"GW_JWT_SECRET": JWT_SECRET})
    yield {"port": port, "keys": keys, "tmp": tmp}
    g.stop()
    mock.stop()
    assert_clean(g)
    assert JWT_SECRET not in "".join(g.lines)


def claims(**over):
    now = int(time.time())
    c = {"iss": "https://issuer.test", "aud": "girder", "org": "acme", "sub": "u1",
         "exp": now + 300, "iat": now}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def signed(env, alg, c, kid=True):
    h = {"alg": alg, "typ": "JWT"}
    if kid:
        h["kid"] = {"RS256": "rsa1", "ES256": "ec1", "HS256": "hs1"}[alg]
    if alg == "HS256":
        return token(h, c, hmac_key=JWT_SECRET.encode())
    return token(h, c, alg_key=(alg, env["keys"]["rsa" if alg == "RS256" else "ec"]))


def test_jwt_accepted_for_each_algorithm(jwtenv):
    for alg in ("RS256", "ES256", "HS256"):
        st, hd, out = chat(jwtenv["port"], signed(jwtenv, alg, claims()))
        assert st == 200, (alg, out)
        assert hd["x-ratelimit-limit-requests"] == "1000"  # the tenant's limit applies
    st, _, _ = chat(jwtenv["port"], signed(jwtenv, "RS256", claims(), kid=False))
    assert st == 200  # no kid: the only RS256 key
    st, _, _ = chat(jwtenv["port"], signed(jwtenv, "ES256", claims(aud=["x", "girder"])))
    assert st == 200  # aud as an array
    now = int(time.time())
    st, _, _ = chat(jwtenv["port"], signed(jwtenv, "HS256", claims(exp=now - 2)))
    assert st == 200  # expired 2 s ago, within the 5 s leeway
    time.sleep(0.2)
    log = open(os.path.join(str(jwtenv["tmp"]), "access.log")).read()
    assert '"auth":"jwt"' in log and '"tenant":"acme"' in log


def test_jwt_refusals_all_look_the_same(jwtenv):
    now = int(time.time())
    rsa_pub = open(jwtenv["keys"]["rsa_pub"], "rb").read()
    good = signed(jwtenv, "RS256", claims())
    head, body, sig = good.split(".")
    other = signed(jwtenv, "RS256", claims(org="beta")).split(".")
    cases = {
        "expired": signed(jwtenv, "RS256", claims(exp=now - 60)),
        "not yet valid": signed(jwtenv, "ES256", claims(nbf=now + 120)),
        "no exp": signed(jwtenv, "HS256", claims(exp=None)),
        "wrong audience": signed(jwtenv, "RS256", claims(aud="someone-else")),
        "wrong issuer": signed(jwtenv, "ES256", claims(iss="https://evil.test")),
        "unknown tenant": signed(jwtenv, "HS256", claims(org="nobody")),
        "no tenant": signed(jwtenv, "HS256", claims(org=None)),
        "alg none": token({"alg": "none", "kid": "rsa1"}, claims()),
        "alg none no kid": token({"alg": "none"}, claims()),
        # algorithm confusion: HS256 "signed" with the RSA public key as the HMAC secret
        "hs256 with rsa pub (kid rsa1)": token({"alg": "HS256", "kid": "rsa1"}, claims(),
                                               hmac_key=rsa_pub),
        "hs256 with rsa pub (no kid)": token({"alg": "HS256"}, claims(), hmac_key=rsa_pub),
        "wrong secret": token({"alg": "HS256", "kid": "hs1"}, claims(), hmac_key=b"x" * 40),
        "ES256 token on the RSA kid": token({"alg": "ES256", "kid": "rsa1"}, claims(),
                                            alg_key=("ES256", jwtenv["keys"]["ec"])),
        "tampered payload": head + "." + other[1] + "." + sig,
        "unknown kid": token({"alg": "RS256", "kid": "nope"}, claims(),
                             alg_key=("RS256", jwtenv["keys"]["rsa"])),
        "crit header": token({"alg": "RS256", "kid": "rsa1", "crit": ["x"]}, claims(),
                             alg_key=("RS256", jwtenv["keys"]["rsa"])),
    }
    messages = set()
    for name, tok in cases.items():
        st, _, out = chat(jwtenv["port"], tok)
        assert st == 401, (name, st, out)
        messages.add(err(out)["message"])
        assert err(out)["code"] == "invalid_api_key", name
    assert len(messages) == 1
    assert chat(jwtenv["port"], good)[0] == 200


def test_jwt_config_errors(tmp_path):
    keys = make_keys(str(tmp_path))
    rc, out, _ = check(tmp_path, BASE + """governance:
  jwt:
    keys:
      - {alg: RS256, public_key_file: %s}
      - {alg: HS256, secret: short}
      - {alg: ES256, public_key_file: %s}
      - {alg: none}
""" % (keys["ec_pub"], keys["rsa_pub"]))
    assert rc != 0
    for frag in ("'tenant_claim' is required", "RS256 needs an RSA public key",
                 "HS256 needs 'secret' of at least 32 bytes", "ES256 needs an EC P-256",
                 "expected one of HS256, RS256, ES256"):
        assert frag in out, (frag, out)
