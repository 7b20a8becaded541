"""girder's own HTTP/1.1 upstream client (http:// providers) against a byte-exact upstream
(raw_upstream.py): keep-alive pool behaviour (reuse, upstream closing idle connections,
girder's idle timeout, Connection: close, max_connections queueing), 1xx heads, answers
larger than any buffer (JSON and SSE), bad framing answered 502 with a clear message while
girder keeps serving, async DNS (and a name that does not resolve), and `client: curl`."""
import concurrent.futures
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import assert_clean, request, start_girder  # noqa: E402
from raw_upstream import RawUpstream, chat_json  # noqa: E402

BEHAVIOURS = ["ok", "close", "idleclose:150", "info", "big:3000000", "bigsse:3000", "slow:300",
              "badchunk", "dupcl", "clte", "barelf", "hugehead", "short"]


def config(port):
    prov = lambda name, extra="", host="127.0.0.1": (  # noqa: E731
        '  - {name: %s, base_url: "http://%s:%d/v1", first_byte_timeout_ms: 5000%s}\n'
        % (name, host, port, extra))
    text = "listen: 127.0.0.1:0\nthreads: 1\nproviders:\n"
    text += prov("raw") + prov("raw-idle", ", idle_timeout_ms: 200")
    text += prov("raw-max2", ", max_connections: 2") + prov("raw-curl", ", client: curl")
    text += prov("raw-name", "", "localhost")
    text += prov("raw-nxdomain", "", "upstream.invalid")
    text += prov("raw-noidle", ", max_idle_connections: 0")
    text += "models:\n"
    for b in BEHAVIOURS:
        text += '  - {alias: "%s", retries: 0, deployments: [{provider: raw, model: "%s"}]}\n' % (b, b)
    for p in ("raw-idle", "raw-max2", "raw-curl", "raw-name", "raw-nxdomain", "raw-noidle"):
        for b in ("ok", "slow:300", "dupcl"):
            text += ('  - {alias: "%s@%s", retries: 0, deployments: [{provider: %s, model: "%s"}]}\n'
                     % (b, p, p, b))
    return text


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    up = RawUpstream()
    g, port = start_girder(config(up.port), tmp_path_factory.mktemp("own"))
    yield {"g": g, "port": port, "up": up}
    g.stop()
    up.stop()
    assert_clean(g)


def chat(env, model, stream=False):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    return request(env["port"], "POST", "/v1/chat/completions", body)


def wait_until(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_keep_alive_reuses_one_connection(env):
    before = env["up"].connections
    for _ in range(20):
        st, _, b = chat(env, "ok")
        assert st == 200 and json.loads(b)["model"] == "ok"
    assert env["up"].connections - before <= 1


def test_upstream_closing_an_idle_connection_is_noticed(env):
    for i in range(3):
        st, _, b = chat(env, "idleclose:150")
        assert st == 200, b
        before = env["up"].open
        # the upstream closes the kept-alive connection; girder must not send on it
        assert wait_until(lambda: env["up"].open < before or env["up"].open == 0)
        time.sleep(0.1)
    assert env["up"].requests["idleclose:150"] == 3


def test_idle_timeout_closes_girders_side(env):
    st, _, _ = chat(env, "ok@raw-idle")
    assert st == 200
    base, was_open = env["up"].connections, env["up"].open
    # idle_timeout_ms: 200 -> girder closes the connection; the next request opens another
    assert wait_until(lambda: env["up"].open == was_open - 1, 5)
    st, _, _ = chat(env, "ok@raw-idle")
    assert st == 200 and env["up"].connections == base + 1


def test_max_idle_zero_keeps_no_connection(env):
    before = env["up"].connections
    for _ in range(3):
        st, _, _ = chat(env, "ok@raw-noidle")
        assert st == 200
    assert env["up"].connections - before == 3


def test_connection_close_answers(env):
    before = env["up"].connections
    for _ in range(3):
        st, _, b = chat(env, "close")
        assert st == 200 and json.loads(b)["id"] == "chatcmpl-raw"
    assert env["up"].connections - before == 3


def test_1xx_heads_are_skipped(env):
    st, h, b = chat(env, "info")
    assert st == 200 and b == chat_json("info")
    assert "link" not in h


def test_json_answer_larger_than_any_buffer(env):
    st, _, b = chat(env, "big:3000000")
    assert st == 200 and b == chat_json("big:3000000", 3000000)


def test_sse_stream_larger_than_any_buffer(env):
    st, h, b = chat(env, "bigsse:3000", stream=True)
    ev = b"data: " + json.dumps({"choices": [{"delta": {"content": "y" * 1000}}]}).encode()
    assert st == 200 and h["content-type"].startswith("text/event-stream")
    assert b == b"\n\n".join([ev] * 3000) + b"\n\ndata: [DONE]\n\n"


@pytest.mark.parametrize("model,why", [
    ("badchunk", "invalid chunk size"),
    ("dupcl", "duplicate Content-Length"),
    ("clte", "both Content-Length and Transfer-Encoding"),
    ("barelf", "bare LF"),
    ("hugehead", "response head too large"),
    ("short", "before the end of the body"),
])
def test_bad_framing_is_a_502_with_the_reason(env, model, why):
    st, _, b = chat(env, model)
    err = json.loads(b)["error"]
    assert st == 502 and err["code"] == "upstream_error", b
    assert why in err["message"], err["message"]
    st, _, _ = chat(env, "ok")  # and girder keeps serving
    assert st == 200


def test_max_connections_queues_requests(env):
    before = env["up"].connections
    env["up"].max_open = env["up"].open
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda _: chat(env, "slow:300@raw-max2")[0], range(8)))
    assert res == [200] * 8
    assert env["up"].connections - before <= 2
    # at most 2 of this provider's connections, plus the other providers' idle ones
    assert env["up"].max_open <= 2 + env["up"].open


def test_name_resolves_async_and_is_cached(env):
    # localhost goes through getaddrinfo_a (where /etc/hosts also lists ::1, nothing listens
    # there and the client moves on to 127.0.0.1)
    st, _, b = chat(env, "ok@raw-name")
    assert st == 200 and json.loads(b)["model"] == "ok"
    st, _, _ = chat(env, "ok@raw-name")  # cached addresses
    assert st == 200


def test_name_that_does_not_resolve_is_a_502(env):
    st, _, b = chat(env, "ok@raw-nxdomain")
    err = json.loads(b)["error"]
    assert st == 502 and "DNS lookup" in err["message"], b
    st, _, _ = chat(env, "ok")
    assert st == 200


def test_client_curl_switch_uses_libcurl(env):
    # libcurl accepts a repeated identical Content-Length; girder's own parser does not
    st, _, b = chat(env, "dupcl@raw-curl")
    assert st == 200 and b == b"{}"
    st, _, b = chat(env, "dupcl")
    assert st == 502
    st, _, _ = chat(env, "ok@raw-curl")
    assert st == 200
