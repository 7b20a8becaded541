"""`girder serve` driven by real clients on loopback: http.client, curl and raw sockets for
malformed input. Covers keep-alive, pipelining, chunked bodies, 100-continue, HEAD, every
error status, limits, slow clients, streaming backpressure, graceful drain, SIGHUP reload,
/metrics and the access log."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest


# ---- a tiny strict HTTP/1.1 response reader for raw sockets ----

class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_only=False):
        status_line = self.line().decode()
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {}
        while True:
            ln = self.line()
            if not ln:
                break
            k, v = ln.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = bytearray()
        if head_only or int(status) in (100, 204, 304):
            pass
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    break
                body += self.exact(size)
                assert self.exact(2) == b"\r\n"
        elif "content-length" in headers:
            body = bytearray(self.exact(int(headers["content-length"])))
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                body, self.buf = self.buf, b""
        return int(status), headers, bytes(body)

    def closed(self, timeout=3.0):
        """True when the server closes the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True


def connect(server, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return s, Reader(s)


def roundtrip(server, raw, head_only=False):
    s, r = connect(server)
    s.sendall(raw)
    try:
        return r.response(head_only)
    finally:
        s.close()


def get(server, path, headers=None, method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    c.request(method, path, body=body, headers=headers or {})
    resp = c.getresponse()
    data = resp.read()
    c.close()
    return resp, data


def error_shape(body):
    doc = json.loads(body)
    assert set(doc) == {"error"}
    assert set(doc["error"]) == {"message", "type", "code"}
    return doc["error"]


# ---- basics ----

def test_healthz_readyz_and_request_ids(server):
    resp, body = get(server, "/healthz")
    assert resp.status == 200
    assert json.loads(body) == {"status": "ok"}
    rid = resp.getheader("X-Request-Id")
    assert rid and re.fullmatch(r"[0-9a-f]{24}", rid)
    assert resp.getheader("Date")
    resp, body = get(server, "/readyz")
    assert resp.status == 200
    # a sane incoming id is honoured, a bad one replaced
    resp, _ = get(server, "/healthz", {"X-Request-Id": "my-id.1:2_3"})
    assert resp.getheader("X-Request-Id") == "my-id.1:2_3"
    resp, _ = get(server, "/healthz", {"X-Request-Id": "bad id with spaces"})
    assert resp.getheader("X-Request-Id") != "bad id with spaces"
    resp, _ = get(server, "/nope")
    assert resp.getheader("X-Request-Id")


def test_curl_client(server):
    out = subprocess.run(["curl", "-sS", "-i", f"http://127.0.0.1:{server.port}/healthz"],
                         capture_output=True, check=True, timeout=10).stdout
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert out.endswith(b'{"status":"ok"}\n')
    out = subprocess.run(["curl", "-sS", "-H", "Transfer-Encoding: chunked", "--data-binary",
                          "hello chunked world", f"http://127.0.0.1:{server.port}/debug/echo"],
                         capture_output=True, check=True, timeout=10).stdout
    assert out == b"hello chunked world"


def test_keep_alive_reuses_the_connection(server):
    s, r = connect(server)
    for _ in range(5):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = r.response()
        assert status == 200 and body == b'{"status":"ok"}\n'
        assert headers.get("connection") != "close"
    s.close()


def test_pipelined_requests_answered_in_order(server):
    s, r = connect(server)
    reqs = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
            b"GET /debug/sleep?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nsecond\r\n0\r\n\r\n"
            b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.sendall(reqs)
    got = [r.response() for _ in range(5)]
    assert [g[0] for g in got] == [200] * 5
    assert got[0][2] == b'{"status":"ok"}\n'
    assert got[1][2] == b"first"
    assert got[2][2] == b'{"slept_ms":50}\n'
    assert got[3][2] == b"second"
    assert json.loads(got[4][2]) == {"status": "ready"}
    s.close()


def test_chunked_request_bodies(server):
    body = (b"5;ext=1\r\nhello\r\n"
            b"1 ; a=\"q;x\"\r\n \r\n"
            b"5\r\nworld\r\n"
            b"0\r\nX-Trailer: yes\r\n\r\n")
    status, headers, got = roundtrip(
        server, b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body)
    assert status == 200 and got == b"hello world"
    assert headers["x-body-length"] == "11"
    # byte by byte
    s, r = connect(server)
    raw = (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + body)
    for i in range(len(raw)):
        s.send(raw[i:i + 1])
    status, _, got = r.response()
    assert status == 200 and got == b"hello world"
    s.close()


def test_expect_100_continue(server):
    s, r = connect(server)
    s.sendall(b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
              b"Expect: 100-continue\r\n\r\n")
    status, _, _ = r.response()
    assert status == 100
    s.sendall(b"ping")
    status, _, body = r.response()
    assert status == 200 and body == b"ping"
    s.close()
    # curl waits for the 100 before sending
    out = subprocess.run(["curl", "-sS", "-H", "Expect: 100-continue", "--data-binary", "x" * 2000,
                          f"http://127.0.0.1:{server.port}/debug/echo"],
                         capture_output=True, check=True, timeout=10).stdout
    assert out == b"x" * 2000
    # other expectations: 417
    status, _, body = roundtrip(server, b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Length: 1\r\nExpect: magic\r\n\r\nx")
    assert status == 417
    error_shape(body)


def test_head_has_headers_but_no_body(server):
    s, r = connect(server)
    s.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, _ = r.response(head_only=True)
    assert status == 200 and headers["content-length"] == "16"
    status, _, body = r.response()  # the next response starts right after the head
    assert status == 200 and body == b'{"status":"ok"}\n'
    s.close()
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    c.request("HEAD", "/debug/stream?chunks=3&size=10")
    resp = c.getresponse()
    assert resp.status == 200 and resp.read() == b""
    c.close()


def test_http10(server):
    s, r = connect(server)
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    status, headers, body = r.response()
    assert status == 200 and headers["connection"] == "close"
    assert r.closed()
    s.close()
    s, r = connect(server)
    for _ in range(2):
        s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, body = r.response()
        assert status == 200 and headers["connection"] == "keep-alive"
    s.close()
    # streaming to an HTTP/1.0 client: no chunking, the end is the close
    status, headers, body = roundtrip(server, b"GET /debug/stream?chunks=3&size=10 HTTP/1.0\r\n\r\n")
    assert status == 200 and "transfer-encoding" not in headers
    assert body.startswith(b"x" * 9 + b"\n") and b"chunks=3" in body


# ---- errors ----

def test_not_found_and_method_not_allowed(server):
    resp, body = get(server, "/nope")
    assert resp.status == 404
    assert error_shape(body)["code"] == "not_found"
    resp, body = get(server, "/healthz", method="DELETE")
    assert resp.status == 405
    assert "GET" in resp.getheader("Allow")
    assert error_shape(body)["type"] == "invalid_request_error"
    # a 404 keeps the connection
    s, r = connect(server)
    s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.response()[0] == 404
    assert r.response()[0] == 200
    s.close()


BAD_REQUESTS = [
    (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
     400),
    (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc", 400),
    (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n folded\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\nHost: x\n\n", 400),
    (b"GET /health z HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"fffffffffffffffff\r\n", 400),
]


@pytest.mark.parametrize("raw,status", BAD_REQUESTS)
def test_malformed_requests_rejected_and_closed(server, raw, status):
    s, r = connect(server)
    s.sendall(raw)
    got, headers, body = r.response()
    assert got == status, body
    assert headers["connection"] == "close"
    assert headers["x-request-id"]
    error_shape(body)
    assert r.closed()
    s.close()


def test_limits(server):
    # 414: target over 256 bytes
    status, _, body = roundtrip(server, b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and error_shape(body)["code"] == "uri_too_long"
    # 431: more than 20 header fields, or more than 4 KiB of head
    many = b"".join(b"X-%d: v\r\n" % i for i in range(25))
    status, _, _ = roundtrip(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431
    status, _, _ = roundtrip(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 5000
                             + b"\r\n\r\n")
    assert status == 431
    # 413: declared too large (answered before the body is sent), or chunked past the cap
    status, _, body = roundtrip(server, b"POST /debug/echo HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Length: 70000\r\n\r\n")
    assert status == 413 and error_shape(body)["code"] == "payload_too_large"
    chunk = b"8000\r\n" + b"y" * 0x8000 + b"\r\n"
    s, r = connect(server)
    s.sendall(b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for _ in range(3):
            s.sendall(chunk)
    except OSError:
        pass
    assert r.response()[0] == 413
    s.close()
    # exactly at the cap is fine
    resp, body = get(server, "/debug/echo", method="POST", body=b"z" * 65536)
    assert resp.status == 200 and len(body) == 65536


# ---- timeouts ----

def test_slowloris_header_timeout(server):
    s, r = connect(server)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    status, headers, body = r.response()
    assert status == 408 and error_shape(body)["code"] == "request_timeout"
    assert 0.8 < time.time() - t0 < 3.5
    assert r.closed()
    s.close()
    # trickling bytes does not extend the deadline
    s, r = connect(server)
    t0 = time.time()

    def trickle():
        try:
            for ch in b"GET /healthz HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx":
                s.send(bytes([ch]))
                time.sleep(0.05)
        except OSError:
            pass
    t = threading.Thread(target=trickle)
    t.start()
    status, _, _ = r.response()
    assert status == 408
    assert time.time() - t0 < 2.8  # header_ms is 1s; slack for loaded CI machines
    t.join()
    s.close()


def test_body_timeout_and_idle_keepalive(server):
    s, r = connect(server)
    s.sendall(b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert r.response()[0] == 408
    s.close()
    s, r = connect(server)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.response()[0] == 200
    t0 = time.time()
    assert r.closed(timeout=4)  # keepalive_ms: 2s
    assert 1.5 < time.time() - t0 < 4.0
    s.close()
    # a connection that never sends anything gets the header timeout
    s, r = connect(server)
    assert r.closed(timeout=3)
    s.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_streaming_backpressure_bounds_memory(server):
    s, r = connect(server)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    before = rss_kb(server.proc.pid)
    # 64 MiB streamed to a client that stops reading for a while
    s.sendall(b"GET /debug/stream?chunks=1024&size=65536 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(1.0)
    grown = rss_kb(server.proc.pid) - before
    assert grown < 16 * 1024, f"server buffered {grown} KiB for a stalled reader"
    status, headers, body = r.response()
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert len(body) >= 1024 * 65536
    m = re.search(rb"chunks=1024 pauses=(\d+)", body)
    assert m and int(m.group(1)) > 0, "the producer was never paused"
    s.close()


def test_write_timeout_and_disconnect_reported(server):
    # a reader that never reads: the write timeout (2s) closes it and the producer hears it
    s, r = connect(server)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /debug/stream?chunks=100000&size=65536 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert server.wait_log(r"client went away", timeout=6)
    s.close()
    # a client that disconnects mid-stream is reported too
    n = server.stderr().count("client went away")
    s, r = connect(server)
    s.sendall(b"GET /debug/stream?chunks=100000&size=1000&interval_ms=5 HTTP/1.1\r\nHost: x\r\n\r\n")
    r.line()
    s.close()
    deadline = time.time() + 5
    while time.time() < deadline and server.stderr().count("client went away") == n:
        time.sleep(0.05)
    assert server.stderr().count("client went away") == n + 1


# ---- drain and reload ----

def test_graceful_drain_completes_in_flight(make_server):
    # one loop thread, so "the stream's first bytes arrived" proves the server has also read
    # everything sent before the stream request (a request still in the kernel looks idle)
    server = make_server(threads=1)
    idle, idle_r = connect(server)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle_r.response()[0] == 200
    partial, partial_r = connect(server)
    partial.sendall(b"GET /readyz HTTP/1.1\r\n")  # a request on its way in
    slow_s, slow_r = connect(server)
    slow_s.sendall(b"GET /debug/stream?chunks=3&size=10&interval_ms=600 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert slow_r.line() == b"HTTP/1.1 200 OK"  # in flight
    t0 = time.time()
    server.signal(signal.SIGTERM)
    assert server.wait_log(r"msg=draining")
    partial.sendall(b"Host: x\r\n\r\n")
    status, headers, body = partial_r.response()
    assert status == 503 and json.loads(body) == {"status": "draining"}
    assert headers["connection"] == "close"
    assert idle_r.closed(timeout=2)  # idle keep-alive connections are closed at once
    # new connections are not served: the listener is closed
    with pytest.raises(OSError):
        late = socket.create_connection(("127.0.0.1", server.port), timeout=2)
        late.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        if late.recv(1) == b"":
            raise ConnectionResetError("closed unanswered")
    # the in-flight stream runs to its end, then the connection closes
    slow_r.buf = b"HTTP/1.1 200 OK\r\n" + slow_r.buf
    status, headers, body = slow_r.response()
    assert status == 200 and body.endswith(b"chunks=3 pauses=0\n")
    assert slow_r.closed(timeout=2)  # its head went out before the drain: closed after it
    slow_s.close()
    assert server.proc.wait(5) == 0
    assert time.time() - t0 < 4
    assert "drain complete" in server.stderr()


def test_drain_deadline(make_server):
    srv = make_server(drain="500ms", threads=1)
    s, r = connect(srv)
    s.sendall(b"GET /debug/stream?chunks=100&size=10&interval_ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.line() == b"HTTP/1.1 200 OK"  # in flight
    t0 = time.time()
    srv.signal(signal.SIGTERM)
    assert srv.proc.wait(5) == 0
    assert time.time() - t0 < 3
    r.buf = b"HTTP/1.1 200 OK\r\n" + r.buf
    with pytest.raises(EOFError):  # cut off: the stream never ended
        r.response()
    s.close()
    assert "drain deadline reached" in srv.stderr()
    assert "client went away" in srv.stderr()  # the producer heard about it


def test_sighup_reload_valid_and_invalid(server):
    resp, _ = get(server, "/debug/echo", method="POST", body=b"x")
    assert resp.status == 200
    # valid: debug routes off -> the route disappears for new requests
    server.write_config(debug="false")
    server.signal(signal.SIGHUP)
    assert server.wait_log(r"config reloaded")
    resp, _ = get(server, "/debug/echo", method="POST", body=b"x")
    assert resp.status == 404
    # invalid: the error is logged with file:line:col and the previous config stays
    server.write_config(text="listen: 127.0.0.1:0\nlimits:\n  max_headerz: 1\n")
    server.signal(signal.SIGHUP)
    assert server.wait_log(r"config reload failed")
    line = [l for l in server.stderr().splitlines() if "config reload failed" in l][0]
    assert re.search(r"girder\.yaml:3:\d+: key 'limits\.max_headerz'", line), line
    resp, body = get(server, "/healthz")
    assert resp.status == 200
    resp, _ = get(server, "/debug/echo", method="POST", body=b"x")
    assert resp.status == 404
    resp, _ = get(server, "/readyz")
    assert resp.status == 200


# ---- observability ----

def test_metrics_exposition(server):
    for _ in range(3):
        get(server, "/healthz")
    get(server, "/nope")
    resp, body = get(server, "/metrics")
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert re.search(r'^girder_http_requests_total\{route="/healthz",method="GET",status="200"\} 3$',
                     text, re.M)
    assert re.search(r'^girder_http_requests_total\{route="-",method="GET",status="404"\} 1$',
                     text, re.M)
    assert "# TYPE girder_http_request_duration_seconds histogram" in text
    assert re.search(r'^girder_http_request_duration_seconds_count\{route="/healthz"\} 3$', text,
                     re.M)
    assert re.search(r"^girder_http_open_connections \d+$", text, re.M)
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                 "process_open_fds", "process_start_time_seconds"):
        assert re.search(rf"^{name} ", text, re.M), name


def test_access_log_lines(server):
    get(server, "/healthz?api_key=secret", {
        "Authorization": "Bearer sk-secret", "X-Request-Id": "trace-me-1",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    get(server, "/debug/echo", method="POST", body=b"12345")
    deadline = time.time() + 3
    lines = []
    while time.time() < deadline:
        lines = [json.loads(l) for l in server.access.read_text().splitlines() if l]
        if len(lines) >= 2:
            break
        time.sleep(0.05)
    first = next(l for l in lines if l["request_id"] == "trace-me-1")
    for key in ("time", "request_id", "method", "route", "path", "status", "bytes_in",
                "bytes_out", "duration_ms", "remote"):
        assert key in first, key
    assert first["path"] == "/healthz" and first["route"] == "/healthz"
    assert first["status"] == 200 and first["method"] == "GET"
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    raw = server.access.read_text()
    assert "secret" not in raw and "Bearer" not in raw
    echo = next(l for l in lines if l["route"] == "/debug/echo")
    assert echo["status"] == 200 and echo["bytes_in"] > 5
