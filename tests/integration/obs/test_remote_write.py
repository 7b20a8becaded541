"""girder remote-writes its metrics to a real Prometheus (Debian's prometheus with
--web.enable-remote-write-receiver, scraping nothing): PromQL over Prometheus's HTTP API
finds girder's series with the external labels, a histogram's buckets and process metrics;
a receiver that is down, restarted or answering 4xx costs counted failures, drops or
rejections while girder keeps serving; a reload changes the labels; a secret header never
reaches girder's output."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
from gwharness import Proc, assert_clean, free_port, request, start_girder  # noqa: E402
from test_prometheus import query  # noqa: E402

PROM = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(not PROM, reason="Debian's prometheus needed")
TOKEN = "rw-secret-7f3a9c1e5b"


def start_receiver(tmp_path, pport):
    """Prometheus as a remote-write receiver only, on pport, keeping its data in tmp_path."""
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    return Proc([PROM, "--config.file=%s" % (tmp_path / "prometheus.yml"),
                 "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn",
                 "--web.enable-remote-write-receiver"])


def config(pport, labels="{env: test}", path="/api/v1/write", queue=64):
    return ("metrics:\n  remote_write:\n"
            "    url: http://127.0.0.1:%d%s\n"
            "    interval_ms: 200\n    timeout_ms: 2000\n    queue: %d\n"
            "    headers: {Authorization: \"Bearer ${RW_TOKEN}\"}\n"
            "    labels: %s\n" % (pport, path, queue, labels))


def wait_query(pport, q, pred=lambda v: True, timeout=60):
    """The first result of q whose value satisfies pred, waiting for Prometheus and girder."""
    end, last = time.monotonic() + timeout, None
    while time.monotonic() < end:
        try:
            r = query(pport, q)
        except OSError:  # Prometheus (re)starting
            r = None
        if r and pred(float(r[0]["value"][1])):
            return r[0]
        last = r
        time.sleep(0.3)
    raise AssertionError("no series for %s (last answer %r)" % (q, last))


def own_metric(port, name):
    """A counter or gauge from girder's own /metrics, summed over its labels (name may end
    in a label selector's start, e.g. 'x_total{result="sent"')."""
    body = request(port, "GET", "/metrics")[2].decode()
    heads = (name,) if "{" in name else (name + "{", name + " ")
    vals = [float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
            if line.startswith(heads)]
    return sum(vals) if vals else None


def wait_own(port, name, pred, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = own_metric(port, name)
        if v is not None and pred(v):
            return v
        time.sleep(0.1)
    raise AssertionError("%s never satisfied the condition (last %r)" % (name, v))


def test_series_arrive_with_labels_and_follow_a_reload(tmp_path):
    pport = free_port()
    prom = start_receiver(tmp_path, pport)
    g, port = start_girder(config(pport), tmp_path, {"RW_TOKEN": TOKEN})
    try:
        for _ in range(5):
            assert request(port, "GET", "/healthz")[0] == 200
        r = wait_query(pport, 'girder_http_requests_total{job="girder",env="test",'
                       'route="/healthz",status="200"}', lambda v: v == 5)
        assert r["metric"]["instance"].endswith(":%d" % port), r["metric"]
        wait_query(pport, 'girder_http_request_duration_seconds_bucket{job="girder",'
                   'route="/healthz",le="+Inf"}', lambda v: v == 5)
        wait_query(pport, 'process_resident_memory_bytes{job="girder",env="test"}',
                   lambda v: v > 0)
        wait_query(pport, 'girder_remote_write_samples_total{result="sent"}', lambda v: v > 0)

        (tmp_path / "girder.yaml").write_text(config(pport, "{env: reloaded, job: edge}"))
        g.p.send_signal(signal.SIGHUP)
        wait_query(pport, 'girder_http_requests_total{job="edge",env="reloaded",'
                   'route="/healthz"}', lambda v: v == 5)
        assert own_metric(port, "girder_remote_write_samples_total") > 0
    finally:
        g.stop()
        prom.stop()
    assert_clean(g)
    out = "".join(g.lines)
    assert TOKEN not in out and "remote write settings reloaded" in out, out[-3000:]


def test_receiver_down_and_restarted(tmp_path):
    pport = free_port()
    g, port = start_girder(config(pport, queue=3), tmp_path, {"RW_TOKEN": TOKEN})
    prom = None
    try:
        # nothing listens yet: retried with backoff, and the 3-batch queue drops the oldest
        wait_own(port, "girder_remote_write_failures_total", lambda v: v >= 1)
        wait_own(port, 'girder_remote_write_samples_total{result="dropped"', lambda v: v > 0)
        assert request(port, "GET", "/healthz")[0] == 200  # serving all along
        assert own_metric(port, "girder_remote_write_queue_batches") <= 3

        prom = start_receiver(tmp_path, pport)
        wait_query(pport, 'girder_http_requests_total{job="girder",route="/healthz"}',
                   lambda v: v >= 1)
        wait_own(port, "girder_remote_write_queue_batches", lambda v: v <= 1)

        prom.stop()  # a restart: same data folder, new process
        failures = own_metric(port, "girder_remote_write_failures_total")
        for _ in range(3):
            assert request(port, "GET", "/healthz")[0] == 200
        wait_own(port, "girder_remote_write_failures_total", lambda v: v > failures)
        prom = start_receiver(tmp_path, pport)
        wait_query(pport, 'girder_http_requests_total{job="girder",route="/healthz"}',
                   lambda v: v >= 4)
    finally:
        g.stop()
        if prom:
            prom.stop()
    assert_clean(g)
    assert "remote write receiver reachable again" in "".join(g.lines)


def test_rejected_batches_are_counted_not_retried(tmp_path):
    pport = free_port()
    prom = start_receiver(tmp_path, pport)
    g, port = start_girder(config(pport, path="/api/v1/no-such-endpoint"), tmp_path,
                           {"RW_TOKEN": TOKEN})
    try:
        wait_own(port, 'girder_remote_write_samples_total{result="rejected"', lambda v: v > 0)
        assert own_metric(port, "girder_remote_write_failures_total") == 0
        assert own_metric(port, "girder_remote_write_queue_batches") <= 1
    finally:
        g.stop()
        prom.stop()
    assert_clean(g)
    assert "remote write rejected, batch dropped" in "".join(g.lines)


def test_config_check_names_bad_settings(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  remote_write:\n    url: ftp://x\n    labels: {__x: 1}\n")
    p = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(bad)],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "bad.yaml:4:" in p.stderr + p.stdout and "label name" in p.stderr + p.stdout, \
        p.stderr + p.stdout
