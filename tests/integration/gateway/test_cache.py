"""The gateway's exact-match response cache (`cache:`) against the real girder binary and
the mock upstream: a repeated request is answered without going upstream (also when its
keys are reordered or only `user` differs), streams are replayed byte for byte, other
parameters miss, Cache-Control no-cache / no-store, TTL expiry, errors and oversized
answers are not kept, entries are per tenant unless shared, LRU eviction, metrics, config
errors."""
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import (assert_clean, mock_mode, mock_reset, mock_stats, request,  # noqa: E402
                       start_girder, start_mock)

KEYS = {n: "gk-cache-%s-0123456789abcdef" % n for n in ("a1", "a2", "b1")}


def sha(k):
    return hashlib.sha256(k.encode()).hexdigest()


CONFIG = """
providers:
  - {{name: mock, base_url: "http://127.0.0.1:{port}/v1"}}
models:
  - {{alias: chat, deployments: [{{provider: mock, model: ok-chat}}]}}
  - {{alias: flaky, deployments: [{{provider: mock, model: flaky}}]}}
  - {{alias: big, deployments: [{{provider: mock, model: "long:400:64"}}]}}
  - {{alias: nocache, deployments: [{{provider: mock, model: ok-nocache}}]}}
  - {{alias: emb, deployments: [{{provider: mock, model: ok-emb}}]}}
cache:
  ttl: {ttl}
  max_bytes: {max_bytes}
  max_entry_bytes: {max_entry}
  shared: {shared}
  aliases: [chat, flaky, big, emb]
governance:
  tenants: [{{id: team-a}}, {{id: team-b}}]
  keys:
    - {{id: a1, key_sha256: "{a1}", tenant: team-a}}
    - {{id: a2, key_sha256: "{a2}", tenant: team-a}}
    - {{id: b1, key_sha256: "{b1}", tenant: team-b}}
"""


def start(tmp, ttl="1h", max_bytes="1MiB", shared="false", max_entry="16KiB"):
    mock, mport = start_mock()
    conf = CONFIG.format(port=mport, ttl=ttl, max_bytes=max_bytes, shared=shared, max_entry=max_entry,
                         **{k: sha(v) for k, v in KEYS.items()})
    g, port = start_girder(conf, tmp)
    return g, port, mock, mport


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    g, port, mock, mport = start(tmp_path_factory.mktemp("cache"))
    yield port, mport
    g.stop()
    mock.stop()
    assert_clean(g)


def chat(port, body, key="a1", headers=None, path="/v1/chat/completions"):
    h = {"Authorization": "Bearer " + KEYS[key]}
    h.update(headers or {})
    return request(port, "POST", path, body if isinstance(body, str) else json.dumps(body), h)


def upstream_calls(mport, model="ok-chat"):
    return mock_stats(mport)["by_model"].get(model, 0)


MSGS = [{"role": "user", "content": "what is a girder?"}]


def test_repeat_is_answered_from_the_cache(gw):
    port, mport = gw
    mock_reset(mport)
    s1, h1, b1 = chat(port, {"model": "chat", "messages": MSGS, "temperature": 0})
    assert s1 == 200 and h1["x-girder-cache"] == "miss", h1
    # same meaning: other key order, whitespace and user
    s2, h2, b2 = chat(port, '{ "temperature": 0, "user": "u-7",\n "messages": %s, "model": "chat"}'
                      % json.dumps(MSGS))
    assert s2 == 200 and h2["x-girder-cache"] == "hit", h2
    assert b2 == b1 and upstream_calls(mport) == 1
    assert "x-girder-deployment" not in h2 and h2["x-girder-attempts"] == "0"


def test_other_parameters_miss(gw):
    port, mport = gw
    mock_reset(mport)
    for t in (0.5, 0.7):
        s, h, _ = chat(port, {"model": "chat", "messages": MSGS, "temperature": t})
        assert s == 200 and h["x-girder-cache"] == "miss"
    assert upstream_calls(mport) == 2


def test_streams_are_replayed_byte_for_byte(gw):
    port, mport = gw
    mock_reset(mport)
    body = {"model": "chat", "messages": MSGS, "stream": True,
            "stream_options": {"include_usage": True}}
    s1, h1, b1 = chat(port, body)
    s2, h2, b2 = chat(port, body)
    assert (s1, s2) == (200, 200) and h2["x-girder-cache"] == "hit"
    assert h2["content-type"].startswith("text/event-stream")
    assert b2 == b1 and b1.endswith(b"data: [DONE]\n\n") and upstream_calls(mport) == 1
    # the non-streamed request is another entry
    s3, h3, _ = chat(port, dict(body, stream=False, stream_options=None))
    assert h3["x-girder-cache"] == "miss" and upstream_calls(mport) == 2


def test_cache_control(gw):
    port, mport = gw
    mock_reset(mport)
    body = {"model": "chat", "messages": [{"role": "user", "content": "cc"}]}
    assert chat(port, body, headers={"Cache-Control": "no-store"})[1]["x-girder-cache"] == "bypass"
    assert chat(port, body)[1]["x-girder-cache"] == "miss"  # no-store kept nothing
    assert chat(port, body, headers={"Cache-Control": "max-age=0, No-Cache"})[1][
        "x-girder-cache"] == "refresh"
    assert chat(port, body)[1]["x-girder-cache"] == "hit"
    assert upstream_calls(mport) == 3


def test_errors_and_oversized_answers_are_not_kept(gw):
    port, mport = gw
    mock_reset(mport)
    mock_mode(mport, "flaky", "err500")
    body = {"model": "flaky", "messages": MSGS}
    assert chat(port, body)[0] == 502  # retries spent: the gateway answers
    mock_mode(mport, "flaky", "ok")
    s, h, _ = chat(port, body)
    assert s == 200 and h["x-girder-cache"] == "miss"
    assert chat(port, body)[1]["x-girder-cache"] == "hit"
    big = {"model": "big", "messages": MSGS, "stream": True}  # ~40 KB > max_entry_bytes
    assert chat(port, big)[1]["x-girder-cache"] == "miss"
    s, h, b = chat(port, big)
    assert s == 200 and h["x-girder-cache"] == "miss" and b.endswith(b"data: [DONE]\n\n")


def test_entries_are_per_tenant(gw):
    port, mport = gw
    mock_reset(mport)
    body = {"model": "chat", "messages": [{"role": "user", "content": "tenants"}]}
    assert chat(port, body, key="a1")[1]["x-girder-cache"] == "miss"
    assert chat(port, body, key="a2")[1]["x-girder-cache"] == "hit"  # same tenant
    assert chat(port, body, key="b1")[1]["x-girder-cache"] == "miss"
    assert upstream_calls(mport) == 2


def test_aliases_not_listed_and_embeddings(gw):
    port, mport = gw
    s, h, _ = chat(port, {"model": "nocache", "messages": MSGS})
    assert s == 200 and "x-girder-cache" not in h
    e = {"model": "emb", "input": ["a", "b"]}
    assert chat(port, e, path="/v1/embeddings")[1]["x-girder-cache"] == "miss"
    assert chat(port, e, path="/v1/embeddings")[1]["x-girder-cache"] == "hit"


def test_metrics(gw):
    port, _ = gw
    text = request(port, "GET", "/metrics")[2].decode()
    assert 'girder_gateway_cache_requests_total{alias="chat",result="hit"}' in text
    assert 'girder_gateway_cache_requests_total{alias="chat",result="bypass"} 1' in text
    line = [l for l in text.splitlines() if l.startswith("girder_gateway_cache_entries")]
    assert line and float(line[0].split()[-1]) >= 5, line


def test_ttl_eviction_and_sharing(tmp_path):
    g, port, mock, mport = start(tmp_path, ttl="300ms", max_bytes="8KiB", shared="true",
                                max_entry="4KiB")
    try:
        body = {"model": "chat", "messages": [{"role": "user", "content": "ttl"}]}
        assert chat(port, body, key="a1")[1]["x-girder-cache"] == "miss"
        assert chat(port, body, key="b1")[1]["x-girder-cache"] == "hit"  # shared: true
        time.sleep(0.5)
        assert chat(port, body)[1]["x-girder-cache"] == "miss"  # expired
        for i in range(20):  # ~1 KB answers into 8 KiB: the oldest go
            chat(port, {"model": "chat", "messages": [{"role": "user", "content": "e%d" % i}]})
        assert chat(port, body)[1]["x-girder-cache"] == "miss"
        text = request(port, "GET", "/metrics")[2].decode()
        ev = [l for l in text.splitlines() if l.startswith("girder_gateway_cache_evictions_total")]
        assert ev and float(ev[0].split()[-1]) > 0, ev
    finally:
        g.stop()
        mock.stop()
    assert_clean(g)


def test_config_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("providers: [{name: m, base_url: 'http://127.0.0.1:1/v1'}]\n"
                 "models: [{alias: chat, deployments: [{provider: m, model: x}]}]\n"
                 "cache:\n  ttl: soon\n  max_bytes: 1MiB\n  max_entry_bytes: 2MiB\n"
                 "  aliases: [chat, nope]\n  sized: 1\n")
    r = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(p)],
                       capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    for frag in (":4:8: key 'cache.ttl'", "'nope' is not a model alias", "sized"):
        assert frag in out, out
