"""The governance PII policy through the real girder binary and the mock upstream: what the
upstream receives (placeholders, redactions), what the client gets back (masked values
restored, also from the response cache), blocked categories refused naming the category,
alias over tenant over global policy, metrics, and values never in girder's output."""
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import assert_clean, mock_reset, mock_stats, request, start_girder, start_mock  # noqa: E402,E501

KEYS = {"open": "gk-pii-open-0123456789abcdef", "strict": "gk-pii-strict-0123456789abcdef"}
EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"

CONFIG = """
access_log: {{enabled: true, format: json}}
providers:
  - {{name: mock, base_url: "http://127.0.0.1:{port}/v1"}}
models:
  - {{alias: chat, deployments: [{{provider: mock, model: ok-chat}}]}}
  - {{alias: redacted, deployments: [{{provider: mock, model: ok-red}}]}}
  - {{alias: cached, deployments: [{{provider: mock, model: ok-cached}}]}}
  - {{alias: echo1, deployments: [{{provider: mock, model: "echo:1"}}]}}
  - {{alias: echo4, deployments: [{{provider: mock, model: "echo:4"}}]}}
cache: {{aliases: [cached, echo4]}}
governance:
  pii: {{action: mask, restore: true}}
  tenants:
    - {{id: strict, pii: {{action: block, categories: [credit_card]}}}}
  aliases:
    - {{alias: redacted, pii: {{action: redact}}}}
  keys:
    - {{id: open, key_sha256: "{open}"}}
    - {{id: strict, key_sha256: "{strict}", tenant: strict}}
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    mock, mport = start_mock()
    conf = CONFIG.format(port=mport, **{k: hashlib.sha256(v.encode()).hexdigest()
                                       for k, v in KEYS.items()})
    g, port = start_girder(conf, tmp_path_factory.mktemp("pii"))
    yield g, port, mport
    g.stop()
    mock.stop()
    assert_clean(g)
    out = "".join(g.lines)
    assert EMAIL not in out and CARD not in out, "a value reached girder's output"


def chat(port, alias, text, key="open", extra=None):
    body = {"model": alias, "messages": [{"role": "user", "content": text}], "x_unknown": text}
    body.update(extra or {})
    st, h, out = request(port, "POST", "/v1/chat/completions", body,
                         {"Authorization": "Bearer " + KEYS[key]})
    return st, h, json.loads(out)


def upstream_body(mport, model):
    return mock_stats(mport)["last"][model]["body"]


def test_mask_and_restore(gw):
    _, port, mport = gw
    mock_reset(mport)
    text = "mail %s or %s, card %s" % (EMAIL, EMAIL, CARD)
    st, _, body = chat(port, "chat", text)
    assert st == 200, body
    seen = upstream_body(mport, "ok-chat")
    assert EMAIL not in seen and "4111" not in seen
    assert "mail <EMAIL_1> or <EMAIL_1>, card <CREDIT_CARD_1>" in seen, seen
    assert body["x_echo_unknown"] == text  # the upstream's echo, restored for the client


def test_alias_policy_redacts_without_restore(gw):
    _, port, mport = gw
    mock_reset(mport)
    st, _, body = chat(port, "redacted", "write to " + EMAIL)
    assert st == 200
    assert "write to <EMAIL>" in upstream_body(mport, "ok-red")
    assert body["x_echo_unknown"] == "write to <EMAIL>"


def test_tenant_policy_blocks_naming_the_category(gw):
    _, port, mport = gw
    mock_reset(mport)
    st, _, body = chat(port, "chat", "my card is " + CARD, key="strict")
    err = body["error"]
    assert st == 400 and err["code"] == "pii_blocked", body
    assert "credit_card" in err["message"] and "4111" not in json.dumps(body)
    assert mock_stats(mport)["by_model"] == {}
    st, _, _ = chat(port, "chat", "my mail is " + EMAIL, key="strict")  # not blocked there
    assert st == 200


def test_cached_answers_are_restored_per_request(gw):
    _, port, mport = gw
    mock_reset(mport)
    text = "cache " + EMAIL
    st1, h1, b1 = chat(port, "cached", text)
    st2, h2, b2 = chat(port, "cached", text)
    assert (st1, st2) == (200, 200) and h2["x-girder-cache"] == "hit", h2
    assert b1["x_echo_unknown"] == b2["x_echo_unknown"] == text
    assert mock_stats(mport)["by_model"] == {"ok-cached": 1}


def test_not_json_is_refused(gw):
    _, port, _ = gw
    st, _, out = request(port, "POST", "/v1/chat/completions", '{"model": "chat", "messages": [',
                         {"Authorization": "Bearer " + KEYS["open"]})
    assert st == 400, out


def test_metrics(gw):
    _, port, _ = gw
    text = request(port, "GET", "/metrics")[2].decode()
    for s in ('category="email",action="mask"', 'category="credit_card",action="block"',
              'category="email",action="redact"'):
        assert "girder_gateway_pii_detections_total{" + s + "}" in text, s


def test_config_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("providers: [{name: m, base_url: 'http://127.0.0.1:1/v1'}]\n"
                 "models: [{alias: chat, deployments: [{provider: m, model: x}]}]\n"
                 "governance:\n  pii: {action: maybe}\n")
    r = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(p)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and ":4:" in r.stdout + r.stderr and "maybe" in r.stdout + r.stderr, \
        r.stdout + r.stderr


def access_line(g, request_id):
    for _ in range(100):
        for line in list(g.lines):
            if line.startswith("{") and '"request_id":"%s"' % request_id in line:
                return json.loads(line)
        time.sleep(0.05)
    raise AssertionError("no access-log line for " + request_id)


def test_access_log_names_actions_and_categories(gw):
    """What the policy did and found reaches the access log (and so the server span) as
    names, never as values; a request with nothing to find carries no pii fields."""
    g, port, _ = gw
    for rid, key, text in (("pii-mask", "open", "mail %s card %s" % (EMAIL, CARD)),
                           ("pii-block", "strict", "card " + CARD),
                           ("pii-none", "open", "nothing personal")):
        body = {"model": "chat", "messages": [{"role": "user", "content": text}]}
        request(port, "POST", "/v1/chat/completions", body,
                {"Authorization": "Bearer " + KEYS[key], "x-request-id": rid})
    masked = access_line(g, "pii-mask")
    assert masked["pii"] == "mask", masked
    assert set(masked["pii_categories"].split(",")) == {"email", "credit_card"}, masked
    blocked = access_line(g, "pii-block")
    assert blocked["pii"] == "block" and blocked["pii_categories"] == "credit_card", blocked
    assert "pii" not in access_line(g, "pii-none")


def stream_text(port, alias, text):
    """The content deltas of a streamed answer joined, and the raw SSE text."""
    body = {"model": alias, "messages": [{"role": "user", "content": "hi"}], "x_unknown": text,
            "stream": True}
    st, h, out = request(port, "POST", "/v1/chat/completions", body,
                         {"Authorization": "Bearer " + KEYS["open"]})
    assert st == 200, out
    raw = out.decode()
    parts = []
    for ev in raw.split("\n\n"):
        if ev.startswith("data: {"):
            for c in json.loads(ev[6:])["choices"]:
                parts.append((c.get("delta") or {}).get("content") or "")
    assert raw.rstrip().endswith("data: [DONE]"), raw[-300:]
    return "".join(parts), raw, h


def test_streamed_answers_are_restored(gw):
    """Placeholders the model streams in pieces (one character per event, four) come back
    as the values, also from the cache; text that only looks like a placeholder's start is
    held back and then sent as it was."""
    _, port, mport = gw
    text = "mail %s, card %s; a < b <C" % (EMAIL, CARD)
    for alias in ("echo1", "echo4", "echo4"):
        got, raw, h = stream_text(port, alias, text)
        assert got == text, (alias, got)
        assert "<EMAIL_" not in raw and "<CREDIT_CARD_" not in raw, raw
    assert h["x-girder-cache"] == "hit", h  # the second echo4 stream came from the cache
    seen = upstream_body(mport, "echo:1")
    assert EMAIL not in seen and "<EMAIL_1>" in seen, seen
