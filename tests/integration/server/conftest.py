"""Starts the real `girder serve` on an ephemeral loopback port (--listen 127.0.0.1:0; the
bound port is read from the `msg=listening addr=...` log line) with a test config that
enables the debug routes and uses short timeouts."""
import http.client
import os
import re
import signal
import subprocess
import time

import pytest

BIN = os.environ.get("GIRDER_BIN", "girder")

BASE_CONFIG = """\
listen: 127.0.0.1:0
threads: {threads}
log_level: info
limits:
  max_header_bytes: 4KiB
  max_headers: 20
  max_target_bytes: 256
  max_body_bytes: 64KiB
timeouts:
  header_ms: 1s
  body_ms: 1s
  keepalive_ms: 2s
  write_ms: 2s
drain_timeout_ms: {drain}
access_log:
  enabled: true
  path: {access}
  format: json
metrics:
  enabled: true
  path: /metrics
debug_routes: {debug}
"""


class Server:
    def __init__(self, tmp_path, drain="5s", debug="true", threads=2, text=None):
        self.threads = threads
        self.tmp = tmp_path
        self.config = tmp_path / "girder.yaml"
        self.access = tmp_path / "access.log"
        self.err = tmp_path / "stderr.log"
        self.write_config(drain=drain, debug=debug, text=text)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", str(self.config), "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=open(self.err, "wb"))
        self.port = None
        deadline = time.time() + 10
        while time.time() < deadline:
            m = re.search(r"msg=listening addr=127\.0\.0\.1:(\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        assert self.port, "server did not start:\n" + self.stderr()
        self.wait_started(deadline)

    def wait_started(self, deadline):
        """/readyz says "starting" until every loop thread runs, which may come a little
        after the listening line: tests begin once it no longer does."""
        while time.time() < deadline:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                c.request("GET", "/readyz")
                r = c.getresponse()
                if b'"starting"' not in r.read():
                    return
            except OSError:
                pass
            finally:
                c.close()
            time.sleep(0.02)

    def write_config(self, drain="5s", debug="true", text=None):
        if text is None:
            text = BASE_CONFIG.format(drain=drain, access=self.access, debug=debug,
                                      threads=self.threads)
        self.config.write_text(text)

    def stderr(self):
        try:
            return self.err.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.stderr()):
                return True
            time.sleep(0.02)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path):
    made = []

    def make(**kw):
        s = Server(tmp_path, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()
