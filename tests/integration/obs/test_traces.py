"""OpenTelemetry traces: girder's spans reach an OTLP/HTTP receiver that decodes them with the
official OpenTelemetry protobuf definitions (otlp_receiver.mjs). Checked: W3C trace context
(parent, sampled flag, tracestate), HTTP and GenAI attributes, model-serving queue/compute
children, sampling ratio, the standard OTEL_* variables, config errors, and a collector
that is overloaded or down: retried, and what cannot be kept is counted, never lost
silently."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
sys.path.insert(0, os.path.join(HERE, "..", "serve"))
import models  # noqa: E402
from gwharness import (Proc, assert_clean, mock_stats, request, start_girder,  # noqa: E402
                       start_mock)

BIN = os.environ["GIRDER_BIN"]
NODE = shutil.which("node")
SDK = os.path.join(HERE, "..", "..", "node", "node_modules", "@opentelemetry",
                   "otlp-transformer")
pytestmark = pytest.mark.skipif(not NODE or not os.path.isdir(SDK),
                                reason="node and tests/node's npm packages needed")

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def start_receiver(port=0, fail=0):
    r = Proc([NODE, os.path.join(HERE, "otlp_receiver.mjs"), str(port), str(fail)])
    return r, int(r.wait_for(r"PORT (\d+)").group(1))


def spans(r):
    return [json.loads(line[5:]) for line in list(r.lines) if line.startswith("SPAN ")]


def wait_spans(r, pred, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = [s for s in spans(r) if pred(s)]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("no such span; got %s" % json.dumps(spans(r))[:3000])


def by_request_id(rid):
    return lambda s: s["attributes"].get("http.request.header.x-request-id") == rid


def metric(port, name, labels=""):
    text = request(port, "GET", "/metrics")[2].decode()
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else 0.0


def config(rport, mport, extra=""):
    return ("providers:\n  - {name: mock, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            "models:\n  - {alias: chat, deployments: [{provider: mock, model: ok-a}]}\n"
            "  - {alias: flaky, deployments: [{provider: mock, model: err500}], retries: 0,"
            " fallbacks: [chat]}\n"
            "serving:\n  models:\n    - {name: mix, path: mix.onnx}\n"
            "tracing:\n  endpoint: http://127.0.0.1:%d/v1/traces\n  service_name: girder-test\n"
            "  batch_delay_ms: 50\n  resource_attributes: {deployment.environment: test}\n"
            "  headers: {authorization: \"Bearer ${TRACE_TOKEN}\"}\n%s"
            % (mport, rport, extra))


MIX = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 5, 2]},
                  {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [2, 2, 2]}]}


@pytest.fixture
def stack(tmp_path):
    models.mix(str(tmp_path / "mix.onnx"))
    rec, rport = start_receiver()
    mock, mport = start_mock()
    g, port = start_girder(config(rport, mport), tmp_path, {"TRACE_TOKEN": "s3cret"})
    g.mport = mport
    yield g, port, rec
    g.stop()
    mock.stop()
    rec.stop()
    assert_clean(g)
    assert not any("s3cret" in line for line in g.lines)


def test_server_span_joins_the_callers_trace(stack):
    g, port, rec = stack
    tp = "00-%s-%s-01" % (PARENT_TRACE, PARENT_SPAN)
    status, _, _ = request(port, "GET", "/healthz", None,
                           {"traceparent": tp, "tracestate": "vendor=1", "x-request-id": "r-1"})
    assert status == 200
    s = wait_spans(rec, by_request_id("r-1"))[0]
    assert s["trace_id"] == PARENT_TRACE and s["parent_span_id"] == PARENT_SPAN
    assert len(s["span_id"]) == 16 and s["span_id"] != PARENT_SPAN
    assert s["name"] == "GET /healthz" and s["kind"] == 2 and s["trace_state"] == "vendor=1"
    a = s["attributes"]
    assert a["http.request.method"] == "GET" and a["http.route"] == "/healthz"
    assert a["url.path"] == "/healthz" and a["http.response.status_code"] == 200
    assert a["client.address"] == "127.0.0.1"
    assert 0 < int(s["end"]) - int(s["start"]) < 10 ** 10
    assert s["resource"] == {"service.name": "girder-test", "deployment.environment": "test"}
    assert s["scope"] == "girder" and s["auth"] == "Bearer s3cret"
    # a caller that did not sample: no span
    request(port, "GET", "/healthz", None,
            {"traceparent": "00-%s-%s-00" % (PARENT_TRACE, PARENT_SPAN), "x-request-id": "r-2"})
    request(port, "GET", "/healthz", None, {"x-request-id": "r-3"})  # ratio 1: a new trace
    s3 = wait_spans(rec, by_request_id("r-3"))[0]
    assert s3["parent_span_id"] == "" and s3["trace_id"] != PARENT_TRACE
    assert not [s for s in spans(rec) if by_request_id("r-2")(s)]


def test_gateway_and_model_serving_attributes(stack):
    g, port, rec = stack
    status, _, out = request(port, "POST", "/v1/chat/completions",
                             {"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
                             {"x-request-id": "chat-1"})
    assert status == 200, out
    usage = json.loads(out)["usage"]
    s = wait_spans(rec, by_request_id("chat-1"))[0]
    a = s["attributes"]
    assert s["name"] == "POST /v1/chat/completions"
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "chat"
    assert a["gen_ai.provider.name"] == "mock" and a["girder.attempts"] == 1
    assert a["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert a["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert "hi" not in json.dumps(s)  # no prompt contents
    # the upstream attempt: a CLIENT child span, whose id the upstream got as its parent
    c = wait_spans(rec, lambda x: x["parent_span_id"] == s["span_id"] and x["kind"] == 3)[0]
    assert c["trace_id"] == s["trace_id"] and c["name"] == "chat ok-a", c
    ca = c["attributes"]
    assert ca["gen_ai.request.model"] == "ok-a" and ca["gen_ai.provider.name"] == "mock"
    assert ca["server.address"] == "127.0.0.1" and ca["http.response.status_code"] == 200
    assert int(s["start"]) <= int(c["start"]) <= int(c["end"]) <= int(s["end"])
    last = mock_stats(g.mport)["last"]["ok-a"]
    assert last["headers"]["traceparent"] == "00-%s-%s-01" % (c["trace_id"], c["span_id"])
    status, _, out = request(port, "POST", "/v2/models/mix/infer", MIX, {"x-request-id": "inf-1"})
    assert status == 200, out
    srv = wait_spans(rec, by_request_id("inf-1"))[0]
    assert srv["attributes"]["girder.model"] == "mix"
    assert srv["attributes"]["girder.model_version"] == "1"
    kids = wait_spans(rec, lambda s: s["parent_span_id"] == srv["span_id"] and
                      s["name"] == "compute")
    q = [s for s in spans(rec) if s["parent_span_id"] == srv["span_id"] and s["name"] == "queue"]
    assert q and kids[0]["kind"] == 1 and kids[0]["trace_id"] == srv["trace_id"]
    assert kids[0]["attributes"]["girder.batch_size"] == 1
    assert int(srv["start"]) <= int(q[0]["start"]) <= int(q[0]["end"]) <= \
        int(kids[0]["start"]) <= int(kids[0]["end"]) <= int(srv["end"])
    status, _, _ = request(port, "POST", "/v1/chat/completions", {"model": "nope"},
                           {"x-request-id": "err-1"})
    assert wait_spans(rec, by_request_id("err-1"))[0]["attributes"][
        "http.response.status_code"] == 404
    assert metric(port, "girder_otel_spans_exported_total") >= 5


def test_governance_and_cache_decisions(tmp_path):
    """The server span names the caller (key id, tenant; never the key), the cache's
    decision, what the PII policy did and found (names, never the value) and a governance
    refusal."""
    import hashlib
    models.mix(str(tmp_path / "mix.onnx"))
    rec, rport = start_receiver()
    mock, mport = start_mock()
    key = "gk-trace-0123456789abcdef"
    extra = ("cache: {aliases: [chat]}\n"
             "governance:\n  pii: {action: mask}\n  tenants: [{id: team-t}]\n  keys:\n"
             "    - {id: tk, key_sha256: \"%s\", tenant: team-t, limits: {rpm: 2}}\n"
             % hashlib.sha256(key.encode()).hexdigest())
    g, port = start_girder(config(rport, mport, extra), tmp_path, {"TRACE_TOKEN": "x"})
    try:
        email = "jane.doe@example.com"
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi " + email}]}
        for i, want in enumerate((200, 200, 429)):
            status, _, _ = request(port, "POST", "/v1/chat/completions", body,
                                   {"x-request-id": "gov-%d" % i,
                                    "Authorization": "Bearer " + key})
            assert status == want
        a = [wait_spans(rec, by_request_id("gov-%d" % i))[0]["attributes"] for i in range(3)]
        assert a[0]["girder.cache"] == "miss" and a[1]["girder.cache"] == "hit", a
        assert all(x["girder.key_id"] == "tk" and x["girder.tenant"] == "team-t" for x in a)
        assert a[2]["girder.governance.refusal"] == "rate_limit_exceeded", a[2]
        assert "girder.governance.refusal" not in a[0]
        assert all(x["girder.pii.actions"] == "mask" and x["girder.pii.categories"] == "email"
                   for x in a[:2]), a
        assert "girder.pii.actions" not in a[2]  # refused before the body was looked at
        assert key not in json.dumps(spans(rec)) and email not in json.dumps(spans(rec))
    finally:
        g.stop()
        mock.stop()
        rec.stop()
    assert_clean(g)


def test_retried_attempts_are_sibling_spans(stack):
    g, port, rec = stack
    status, _, out = request(port, "POST", "/v1/chat/completions",
                             {"model": "flaky", "messages": [{"role": "user", "content": "x"}]},
                             {"x-request-id": "flaky-1"})
    assert status == 200, out
    srv = wait_spans(rec, by_request_id("flaky-1"))[0]
    kids = wait_spans(rec, lambda x: x["parent_span_id"] == srv["span_id"] and x["kind"] == 3)
    end = time.monotonic() + 10
    while len(kids) < 2 and time.monotonic() < end:
        time.sleep(0.05)
        kids = [x for x in spans(rec) if x["parent_span_id"] == srv["span_id"] and x["kind"] == 3]
    kids.sort(key=lambda x: int(x["start"]))
    assert [k["name"] for k in kids] == ["chat err500", "chat ok-a"], kids
    assert kids[0]["status"] == 2 and kids[0]["attributes"]["error.type"] == "500"
    assert kids[1]["status"] == 0 and kids[0]["attributes"]["girder.attempt"] == 1
    assert kids[1]["attributes"]["girder.attempt"] == 2
    assert srv["attributes"]["girder.attempts"] == 2


def test_sampling_ratio_and_env_variables(tmp_path):
    rec, rport = start_receiver()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d/" % rport,
           "OTEL_SERVICE_NAME": "from-env", "OTEL_RESOURCE_ATTRIBUTES": "team=ml,bad,x=1",
           "OTEL_TRACES_SAMPLER_ARG": "0"}
    g, port = start_girder("tracing: {batch_delay_ms: 50}\n", tmp_path, env)
    try:
        for i in range(20):  # ratio 0: no new trace is sampled
            request(port, "GET", "/healthz", None, {"x-request-id": "n-%d" % i})
        request(port, "GET", "/healthz", None,
                {"traceparent": "00-%s-%s-01" % (PARENT_TRACE, PARENT_SPAN),
                 "x-request-id": "sampled"})
        s = wait_spans(rec, by_request_id("sampled"))[0]
        assert s["resource"] == {"service.name": "from-env", "team": "ml", "x": "1"}
        time.sleep(0.3)
        assert len(spans(rec)) == 1, spans(rec)
    finally:
        g.stop()
        rec.stop()
    assert_clean(g)


@pytest.mark.parametrize("how", ["config", "env"])
def test_gzip_bodies(tmp_path, how):
    # compression: gzip (or OpenTelemetry's variable): bodies arrive gzip-coded and decode
    rec, rport = start_receiver()
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:%d/v1/traces" % rport}
    conf = "tracing: {batch_delay_ms: 50%s}\n" % (", compression: gzip" if how == "config" else "")
    if how == "env":
        env["OTEL_EXPORTER_OTLP_COMPRESSION"] = "gzip"
    g, port = start_girder(conf, tmp_path, env)
    try:
        for i in range(30):
            request(port, "GET", "/healthz", None, {"x-request-id": "gz-%d" % i})
        s = wait_spans(rec, by_request_id("gz-29"))[0]
        assert s["encoding"] == "gzip"
        assert not any(line.startswith("DECODE_ERROR") for line in rec.lines)
    finally:
        g.stop()
        rec.stop()
    assert_clean(g)


def test_overloaded_then_down_collector(tmp_path):
    """503 + Retry-After twice: the batch is retried and arrives. Then the collector is down
    with a 4-span queue: the spans that fit are delivered once it is back, the rest are
    counted as dropped; received + dropped == sent."""
    rec, rport = start_receiver(fail=2)
    g, port = start_girder("tracing:\n  endpoint: http://127.0.0.1:%d/v1/traces\n"
                           "  batch_delay_ms: 50\n  max_queue: 4\n  max_batch: 2\n"
                           "  max_retries: 100\n" % rport, tmp_path)
    try:
        request(port, "GET", "/healthz", None, {"x-request-id": "o-1"})
        wait_spans(rec, by_request_id("o-1"), timeout=20)
        assert sum(1 for line in rec.lines if line.startswith("REFUSED")) == 2
        rec.stop()
        sent = 12
        for i in range(sent):
            request(port, "GET", "/healthz", None, {"x-request-id": "d-%d" % i})
        time.sleep(0.5)
        # the queue holds 4; the batch in flight 0 to 2 more, by when the exporter took it
        # (the first span starts batch_delay_ms; a slow machine fills the queue before it
        # ends); the rest were dropped at enqueue
        dropped = metric(port, "girder_otel_spans_dropped_total", '{reason="queue_full"}')
        assert sent - 6 <= dropped <= sent - 4, dropped
        rec, _ = start_receiver(port=rport)
        end = time.monotonic() + 30  # retries back off to 5 s at most
        got = set()
        while time.monotonic() < end and len(got) < sent - dropped:
            got = {s["attributes"]["http.request.header.x-request-id"] for s in spans(rec)}
            time.sleep(0.1)
        time.sleep(0.5)
        ids = [s["attributes"]["http.request.header.x-request-id"] for s in spans(rec)]
        got = set(ids)
        assert len(ids) == len(got), sorted(ids)
        # the first four always fit the queue and arrive; which later ones did depends on when
        # the exporter took its batch (a late wake-up frees two slots after some drops); nothing
        # arrives twice or unsent: received + dropped == sent
        assert {"d-0", "d-1", "d-2", "d-3"} <= got <= {"d-%d" % i for i in range(sent)}, sorted(got)
        assert len(got) + dropped == sent, (sorted(got), dropped)
    finally:
        g.stop()
        rec.stop()
    assert_clean(g)


def check(tmp_path, text):
    path = tmp_path / "g.yaml"
    path.write_text(text)
    p = subprocess.run([BIN, "config", "check", str(path)], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_config_errors(tmp_path):
    rc, out = check(tmp_path, "tracing:\n  endpoint: ftp://x\n")
    assert rc != 0 and "tracing.endpoint" in out and "http://" in out, out
    rc, out = check(tmp_path, "tracing:\n  sample_ratio: 2\n")
    assert rc != 0 and "g.yaml:2:17" in out and "from 0 to 1" in out, out
    rc, out = check(tmp_path, "tracing:\n  endpont: http://x\n")
    assert rc != 0 and "did you mean 'endpoint'" in out, out
    rc, out = check(tmp_path, "tracing:\n  endpoint: http://c:4318/v1/traces\n")
    assert rc == 0 and "tracing: OTLP/HTTP to http://c:4318/v1/traces" in out, out
    rc, out = check(tmp_path, "tracing:\n  compression: zstd\n")
    assert rc != 0 and "g.yaml:2:16" in out and "expected gzip or none" in out, out
