"""girder's LLM gateway against the misbehaving mock upstream (mock_upstream.py)."""
import http.client
import json
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import (mock_mode, mock_reset, mock_stats, request, start_girder,  # noqa: E402
                       start_mock)

CONFIG = """
listen: 127.0.0.1:0
threads: 2
access_log: {{enabled: true, path: {tmp}/access.log, format: json}}
providers:
  - name: mock
    base_url: http://127.0.0.1:{port}/v1/
    api_key: ${{GW_TEST_KEY}}
    timeout_ms: 20000
    first_byte_timeout_ms: 800
    max_connections: 64
  - name: mockb
    base_url: http://127.0.0.1:{port}/v1
    first_byte_timeout_ms: 3000
    breaker: {{consecutive_failures: 2, cooldown_ms: 1000, half_open_probes: 1}}
  - name: patient
    base_url: http://127.0.0.1:{port}/v1
    first_byte_timeout_ms: 30000
    timeout_ms: 60000
  - name: dead
    base_url: http://127.0.0.1:1/v1
models:
  - alias: chat
    deployments: [{{provider: mock, model: ok-a}}]
  - alias: weighted
    retries: 0
    deployments:
      - {{provider: mock, model: wa, weight: 3}}
      - {{provider: mock, model: wb, weight: 1}}
  - alias: busy
    strategy: least-busy
    retries: 0
    deployments: [{{provider: patient, model: "slow:300"}}, {{provider: patient, model: lb-fast}}]
  - alias: latency
    strategy: least-latency
    retries: 0
    deployments: [{{provider: mock, model: "slow:60"}}, {{provider: mock, model: ll-fast}}]
  - alias: retry429
    retries: 1
    deployments:
      - {{provider: mock, model: "rate429:2", weight: 1000}}
      - {{provider: mock, model: ok-r, weight: 1}}
  - alias: ratelimit
    retries: 1
    deployments:
      - {{provider: mock, model: "rate429:1", weight: 1000}}
      - {{provider: mock, model: ok-rl, weight: 1}}
  - alias: fallback
    retries: 0
    deployments: [{{provider: mock, model: err500}}]
    fallbacks: [chat-fb]
  - alias: chat-fb
    deployments: [{{provider: mock, model: ok-fb}}]
  - alias: dead
    retries: 1
    deployments: [{{provider: dead, model: x}}]
  - alias: slow
    retries: 0
    deployments: [{{provider: mock, model: "slow:3000"}}]
  - alias: bad400
    deployments: [{{provider: mock, model: err400}}]
  - alias: brk
    retries: 0
    deployments: [{{provider: mockb, model: brk-d}}]
  - alias: reset
    deployments: [{{provider: mock, model: "reset:3"}}]
  - alias: hang
    deployments: [{{provider: patient, model: hang}}]
  - alias: drip
    deployments: [{{provider: patient, model: "drip:20"}}]
  - alias: dripb
    deployments: [{{provider: mockb, model: "drip:5"}}]
  - alias: long
    deployments: [{{provider: patient, model: "long:30000:1000"}}]
  - alias: emb
    deployments: [{{provider: mock, model: emb-m}}]
  - alias: badjson
    deployments: [{{provider: mock, model: badjson}}]
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gw")
    mock, mport = start_mock()
    g, gport = start_girder(CONFIG.format(port=mport, tmp=tmp), tmp,
                            {"GW_TEST_KEY": "sk-test-secret-9"})
    yield {"mock": mock, "mport": mport, "g": g, "port": gport, "tmp": tmp}
    g.stop()
    mock.stop()
    out = "".join(g.lines)
    assert "sk-test-secret-9" not in out
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert bad not in out, out[-5000:]


@pytest.fixture(autouse=True)
def fresh(env):
    mock_reset(env["mport"])


def chat(env, model, **kw):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    body.update(kw)
    return request(env["port"], "POST", "/v1/chat/completions", body)


def test_models_list(env):
    st, h, b = request(env["port"], "GET", "/v1/models")
    assert st == 200
    doc = json.loads(b)
    assert doc["object"] == "list"
    ids = [m["id"] for m in doc["data"]]
    assert "chat" in ids and "weighted" in ids and len(ids) == 19
    assert all(m["object"] == "model" for m in doc["data"])


@pytest.mark.parametrize("path,alias", [("chat", "chat"), ("ch%61t", "chat"),
                                        ("chat-fb", "chat-fb")])
def test_model_retrieve(env, path, alias):
    st, h, b = request(env["port"], "GET", "/v1/models/" + path)
    assert st == 200
    assert json.loads(b) == {"id": alias, "object": "model", "created": 0, "owned_by": "girder",
                             "capabilities": ["chat", "completions", "embeddings"]}


@pytest.mark.parametrize("path", ["nope", "", "chat/x", "ch%00at", "%", "x" * 300])
def test_model_retrieve_unknown_is_404(env, path):
    st, h, b = request(env["port"], "GET", "/v1/models/" + path)
    assert st == 404
    err = json.loads(b)["error"]
    assert err["code"] == "model_not_found" and err["param"] == "model"
    assert err["type"] == "invalid_request_error"


def test_chat_splices_model_and_forwards_the_rest(env):
    raw = ('{ "messages" : [{"role":"user","content":"h\\u00e9llo"}],\n "model":  "chat" ,'
           '"x_unknown": {"keep": [1, 2.50, null]}, "temperature":0.2 }')
    st, h, b = request(env["port"], "POST", "/v1/chat/completions", raw,
                       {"X-Request-Id": "req-abc-123", "Authorization": "Bearer client-key",
                        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert st == 200, b
    doc = json.loads(b)
    assert doc["choices"][0]["message"]["content"].startswith("Hello from the mock")
    assert doc["x_echo_unknown"] == {"keep": [1, 2.5, None]}
    assert h["x-girder-deployment"] == "mock/ok-a"
    assert h["x-girder-attempts"] == "1"
    assert int(h["x-girder-overhead-us"]) >= 0
    last = mock_stats(env["mport"])["last"]["ok-a"]
    assert last["body"] == raw.replace('"chat"', '"ok-a"')
    assert last["headers"]["authorization"] == "Bearer sk-test-secret-9"
    assert last["headers"]["x-request-id"] == "req-abc-123"
    assert last["headers"]["traceparent"] == \
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def read_stream(port, body, stall_after=None, stall_s=0):
    s = socket.create_connection(("127.0.0.1", port))
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
              b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    c = http.client.HTTPResponse(s)
    c.begin()
    return s, c


def test_streaming_is_byte_identical_to_upstream(env):
    body = {"model": "chat", "stream": True, "stream_options": {"include_usage": True},
            "messages": []}
    st, h, via = request(env["port"], "POST", "/v1/chat/completions", body)
    assert st == 200
    assert h["content-type"].startswith("text/event-stream")
    direct_body = dict(body, model="ok-a")
    st2, _, direct = request(env["mport"], "POST", "/v1/chat/completions", direct_body)
    assert via == direct
    assert via.endswith(b"data: [DONE]\n\n")
    assert via.count(b"\n\n") > 10


def test_usage_reaches_access_log_and_metrics(env):
    chat(env, "chat")
    request(env["port"], "POST", "/v1/chat/completions",
            {"model": "chat", "stream": True, "stream_options": {"include_usage": True}})
    time.sleep(0.2)
    with open(os.path.join(str(env["tmp"]), "access.log")) as f:
        lines = [json.loads(l) for l in f if "/v1/chat" in l]
    usage = [l for l in lines if l.get("prompt_tokens") == 9]
    assert len(usage) >= 2, lines[-3:]
    assert usage[-1]["model"] == "chat" and usage[-1]["deployment"] == "mock/ok-a"
    assert usage[-1]["completion_tokens"] > 0
    st, _, m = request(env["port"], "GET", "/metrics")
    text = m.decode()
    assert 'girder_gateway_tokens_total{alias="chat",deployment="mock/ok-a",type="prompt"}' in text
    assert 'girder_gateway_attempts_total{alias="chat",deployment="mock/ok-a",outcome="ok"}' in text
    assert "girder_gateway_upstream_ttfb_seconds_bucket" in text


def test_completions_and_embeddings(env):
    st, h, b = request(env["port"], "POST", "/v1/completions", {"model": "chat", "prompt": "x"})
    assert st == 200 and json.loads(b)["object"] == "text_completion"
    st, h, b = request(env["port"], "POST", "/v1/embeddings",
                       {"model": "emb", "input": ["a", "bb"]})
    assert st == 200
    doc = json.loads(b)
    assert len(doc["data"]) == 2 and doc["model"] == "emb-m"


@pytest.mark.parametrize("body,status,code", [
    ("{not json", 400, "invalid_json"),
    ('{"model":"a","model":"b"}', 400, "invalid_json"),
    ('{"messages":[]}', 400, None),
    ('{"model":"nope"}', 404, "model_not_found"),
])
def test_girder_errors_use_openai_format(env, body, status, code):
    st, h, b = request(env["port"], "POST", "/v1/chat/completions", body)
    assert st == status
    err = json.loads(b)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == code
    assert err["type"] == "invalid_request_error"


def test_non_retryable_upstream_error_is_relayed(env):
    st, h, b = chat(env, "bad400")
    assert st == 400
    assert json.loads(b)["error"]["message"] == "mock: bad request"
    assert mock_stats(env["mport"])["by_mode"]["err400"] == 1


def test_retry_on_429_then_retry_after_is_honoured(env):
    st, h, b = chat(env, "retry429")
    assert st == 200 and h["x-girder-attempts"] == "2"
    assert h["x-girder-deployment"] == "mock/ok-r"
    # the 429 deployment cools down for its retry-after (2 s): the next request skips it
    st, h, b = chat(env, "retry429")
    assert st == 200 and h["x-girder-attempts"] == "1"
    s = mock_stats(env["mport"])["by_mode"]
    assert s["rate429"] == 1 and s["ok-r"] == 2


def test_rate_limit_headers_of_the_relayed_answer_reach_the_client(env):
    for stream in (False, True):
        st, h, b = chat(env, "chat", stream=stream)
        assert st == 200
        assert h["x-ratelimit-limit-requests"] == "100"
        assert h["x-ratelimit-remaining-requests"] == "99"
        assert "set-cookie" not in h
    # the headers come from the answer relayed, not from a failed attempt (429: 0 left);
    # one whose value holds a control byte is dropped
    mock_mode(env["mport"], "ok-rl", "oddheader")
    c = http.client.HTTPConnection("127.0.0.1", env["port"], timeout=30)
    c.request("POST", "/v1/chat/completions", json.dumps({"model": "ratelimit"}))
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 200 and r.getheader("x-girder-attempts") == "2"
    assert r.headers.get_all("x-ratelimit-remaining-requests") == ["99"]
    assert r.getheader("x-ratelimit-odd") is None
    assert mock_stats(env["mport"])["by_mode"].get("oddheader") == 1
    # a relayed upstream error carries them; girder's own errors do not
    st, h, b = chat(env, "bad400")
    assert st == 400 and h["x-ratelimit-remaining-requests"] == "99"
    st, h, b = chat(env, "no-such-alias")
    assert st == 404 and "x-ratelimit-remaining-requests" not in h


def test_fallback_after_5xx(env):
    st, h, b = chat(env, "fallback")
    assert st == 200
    assert h["x-girder-attempts"] == "2"
    assert h["x-girder-deployment"] == "mock/ok-fb"


def test_connect_failure_is_502_and_timeout_504(env):
    st, h, b = chat(env, "dead")
    assert st == 502 and h["x-girder-attempts"] == "2"
    assert json.loads(b)["error"]["code"] == "upstream_error"
    t0 = time.monotonic()
    st, h, b = chat(env, "slow")
    took = time.monotonic() - t0
    assert st == 504 and json.loads(b)["error"]["code"] == "upstream_timeout"
    assert 0.7 < took < 2.5


def test_malformed_upstream_json_is_relayed_not_crashing(env):
    st, h, b = chat(env, "badjson")
    assert st == 200 and b.startswith(b'{"id": "x"')


def test_breaker_opens_fails_fast_and_recovers_through_half_open(env):
    mp = env["mport"]
    mock_mode(mp, "brk-d", "err500")
    assert chat(env, "brk")[0] == 502
    assert chat(env, "brk")[0] == 502  # 2 consecutive failures: open
    t0 = time.monotonic()
    st, h, b = chat(env, "brk")
    assert st == 503 and time.monotonic() - t0 < 0.2
    assert h["x-girder-attempts"] == "0"
    assert mock_stats(mp)["by_model"]["brk-d"] == 2  # no upstream call while open
    time.sleep(1.1)  # cooldown: half-open, one probe at a time
    mock_mode(mp, "brk-d", "slow:600")
    results = []

    def one():
        results.append(chat(env, "brk")[0])
    t = threading.Thread(target=one)
    t.start()
    time.sleep(0.2)
    assert chat(env, "brk")[0] == 503  # probe slot taken
    t.join()
    assert results == [200]  # the probe succeeded: closed again
    mock_mode(mp, "brk-d", "ok")
    assert [chat(env, "brk")[0] for _ in range(3)] == [200, 200, 200]
    st, _, m = request(env["port"], "GET", "/metrics")
    assert 'girder_gateway_breaker_state{alias="brk",deployment="mockb/brk-d"} 0' in m.decode()


def test_weighted_distribution(env):
    for _ in range(200):
        assert chat(env, "weighted")[0] == 200
    s = mock_stats(env["mport"])["by_model"]
    assert abs(s["wa"] - 150) <= 10 and abs(s["wb"] - 50) <= 10, s


def test_least_latency_prefers_the_fast_deployment(env):
    for _ in range(20):
        assert chat(env, "latency")[0] == 200
    s = mock_stats(env["mport"])["by_model"]
    assert s["ll-fast"] >= 17, s


def test_least_busy_avoids_the_busy_deployment(env):
    out = []
    ts = [threading.Thread(target=lambda: out.append(chat(env, "busy")[1]["x-girder-deployment"]))
          for _ in range(6)]
    for t in ts:
        t.start()
        time.sleep(0.03)
    for t in ts:
        t.join()
    assert out.count("patient/lb-fast") >= 4, out


def test_reset_mid_stream_ends_with_error_event_and_done(env):
    t0 = time.monotonic()
    st, h, b = chat(env, "reset", stream=True)
    assert time.monotonic() - t0 < 5
    assert st == 200
    assert b.count(b"data: {\"id\"") == 3
    assert b"event: error\ndata: {\"error\":" in b
    assert b.endswith(b"data: [DONE]\n\n")


def wait_aborted(mport, n, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if mock_stats(mport)["aborted"] >= n:
            return True
        time.sleep(0.05)
    return False


def test_client_disconnect_aborts_upstream_stream(env):
    s, r = read_stream(env["port"], {"model": "drip", "stream": True})
    assert r.status == 200
    r.read1(100)
    s.shutdown(socket.SHUT_RDWR)
    s.close()
    assert wait_aborted(env["mport"], 1)


def test_client_disconnect_aborts_waiting_request(env):
    s = socket.create_connection(("127.0.0.1", env["port"]))
    data = json.dumps({"model": "hang"}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % len(data) + data)
    end = time.monotonic() + 3
    while mock_stats(env["mport"])["by_mode"].get("hang", 0) < 1 and time.monotonic() < end:
        time.sleep(0.05)
    s.shutdown(socket.SHUT_RDWR)
    s.close()
    assert wait_aborted(env["mport"], 1)


def test_slow_client_backpressure_keeps_rss_bounded(env):
    g = env["g"]
    base = g.rss_kb()
    s, r = read_stream(env["port"], {"model": "long", "stream": True})
    assert r.status == 200
    r.read1(1000)
    time.sleep(2.0)  # the client stalls while the upstream could send 30 MB
    stalled = g.rss_kb()
    total = 1000
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        total += len(chunk)
    s.close()
    print("rss_kb base=%d stalled=%d" % (base, stalled))
    assert stalled - base < 16 * 1024, (base, stalled)
    assert total > 30000 * 1000


def test_client_disconnects_are_not_upstream_failures(env):
    for _ in range(4):  # mockb opens its breaker after 2 failures
        s, r = read_stream(env["port"], {"model": "dripb", "stream": True})
        assert r.status == 200
        r.read1(100)
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        time.sleep(0.1)
    assert wait_aborted(env["mport"], 4)
    st, _, m = request(env["port"], "GET", "/metrics")
    text = m.decode()
    assert 'girder_gateway_breaker_state{alias="dripb",deployment="mockb/drip:5"} 0' in text
    assert 'alias="dripb",deployment="mockb/drip:5",outcome="broken"} 0' in text
