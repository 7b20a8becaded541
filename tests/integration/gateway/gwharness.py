"""Shared helpers for the gateway integration tests: start the mock upstream and girder,
talk HTTP to them with the stdlib only."""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


class Proc:
    """A child process whose stderr/stdout is drained into a list by a thread."""

    def __init__(self, argv, env=None):
        self.lines = []
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  env=env, text=True, bufsize=1)
        self.t = threading.Thread(target=self._drain, daemon=True)
        self.t.start()

    def _drain(self):
        for line in self.p.stdout:
            self.lines.append(line)

    def wait_for(self, pattern, timeout=10.0):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                m = rx.search(line)
                if m:
                    return m
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("pattern %r not seen; output:\n%s" % (pattern, "".join(self.lines)))

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def rss_kb(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, tries=100):
    """Waits until something accepts on 127.0.0.1:port (e.g. a freshly started nginx)."""
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def assert_clean(proc):
    """No sanitizer report in a stopped process's output."""
    out = "".join(proc.lines)
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert bad not in out, out[-5000:]


def start_mock():
    m = Proc([PY, os.path.join(HERE, "mock_upstream.py"), "--port", "0"])
    port = int(m.wait_for(r"PORT (\d+)").group(1))
    return m, port


def start_girder(config_text, tmpdir, extra_env=None):
    path = os.path.join(str(tmpdir), "girder.yaml")
    with open(path, "w") as f:
        f.write(config_text)
    env = dict(os.environ)
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY"):
        env.pop(k, None)  # loopback tests must not go through the host's proxy
    env.update(extra_env or {})
    g = Proc([os.environ["GIRDER_BIN"], "serve", "--config", path, "--listen", "127.0.0.1:0"],
             env=env)
    addr = g.wait_for(r"msg=listening addr=(\S+)").group(1)
    host, port = addr.rsplit(":", 1)
    return g, int(port)


def request(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body if isinstance(body, (bytes, type(None))) else (
        body.encode() if isinstance(body, str) else json.dumps(body).encode())
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, out


def mock_stats(mport):
    return json.loads(request(mport, "GET", "/_stats")[2])


def mock_reset(mport):
    request(mport, "POST", "/_reset", {})


def mock_mode(mport, model, mode):
    request(mport, "POST", "/_mode", {"model": model, "mode": mode})
