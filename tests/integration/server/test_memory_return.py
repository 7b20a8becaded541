"""After a load spike, `girder serve` gives the freed heap back to the kernel
(src/cli/serve_memory.c): RSS falls back close to where it was before the spike."""
import os
import resource
import socket
import time

import pytest

from conftest import BASE_CONFIG
from test_server import rss_kb

CONNS = 1500
PARTIAL_BODY = 60000  # held in each connection's read buffer (grown in the malloc heap)


def wait_rss(pid, ok, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rss = rss_kb(pid)
        if ok(rss):
            return rss
        time.sleep(0.2)
    return rss_kb(pid)


@pytest.mark.skipif(os.environ.get("GIRDER_SANITIZED") == "1",
                    reason="sanitizer builds bring their own allocator")
def test_rss_falls_back_after_a_spike(make_server, tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < CONNS + 100:
        pytest.skip(f"needs {CONNS + 100} open files; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < CONNS + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (CONNS + 100, hard))
    text = BASE_CONFIG.format(drain="5s", access=tmp_path / "access.log", debug="true",
                              threads=2)
    text = (text.replace("max_body_bytes: 64KiB", "max_body_bytes: 1MiB")
                .replace("header_ms: 1s", "header_ms: 60s").replace("body_ms: 1s", "body_ms: 60s"))
    s = make_server(text=text)
    pid = s.proc.pid
    before = rss_kb(pid)
    socks = []
    head = b"POST /debug/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"
    try:
        for _ in range(CONNS):
            c = socket.create_connection(("127.0.0.1", s.port))
            c.sendall(head + b"x" * PARTIAL_BODY)
            socks.append(c)
        grown_by = 50 * 1024
        peak = wait_rss(pid, lambda rss: rss - before > grown_by, 15)
        assert peak - before > grown_by, f"the spike did not happen: {before} -> {peak} KiB"
    finally:
        for c in socks:
            c.close()
    # the check runs every 5 s; without it RSS stays at the peak
    after = wait_rss(pid, lambda rss: rss - before < (peak - before) / 4, 15)
    assert after - before < (peak - before) / 4, f"RSS {before} -> {peak} -> {after} KiB"
    assert s.wait_log(r'msg="memory returned" rss_before_kb=\d+ rss_after_kb=\d+', 2)
    assert s.proc.poll() is None
