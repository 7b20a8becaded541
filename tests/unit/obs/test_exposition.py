"""The registry's exposition text, read back by the reference parser (prometheus_client)."""
import math
import os
import subprocess

from prometheus_client.parser import text_string_to_metric_families


def families():
    text = subprocess.run([os.environ["OBS_RENDER_SAMPLE"]], check=True, capture_output=True,
                          timeout=30).stdout.decode()
    assert text.endswith("\n")
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_counter_with_escaped_labels():
    fams = families()
    req = fams["girder_http_requests"]  # the parser strips _total
    assert req.type == "counter"
    assert req.documentation == "HTTP requests \\ answered\nby route."
    values = {(s.labels["route"], s.labels["status"]): s.value for s in req.samples}
    assert values[("/healthz", "200")] == 41
    assert values[("/a\"b\\c\nd", "404")] == 1


def test_histogram_is_cumulative_and_consistent():
    h = families()["girder_http_request_duration_seconds"]
    assert h.type == "histogram"
    buckets = [(s.labels["le"], s.value) for s in h.samples if s.name.endswith("_bucket")]
    les = [float(le) for le, _ in buckets]
    assert les == sorted(les) and math.isinf(les[-1])
    counts = [v for _, v in buckets]
    assert counts == sorted(counts)
    count = next(s.value for s in h.samples if s.name.endswith("_count"))
    total = next(s.value for s in h.samples if s.name.endswith("_sum"))
    assert count == 1000 == counts[-1]
    assert abs(total - sum(i * 0.0005 for i in range(1000))) < 1e-9
    # 0.0005 * i <= 0.001 for i = 0, 1, 2
    assert dict(buckets)["0.001"] == 3


def test_gauges_and_special_values():
    fams = families()
    assert fams["girder_http_open_connections"].samples[0].value == 7
    sp = {s.labels["route"]: s.value for s in fams["girder_test_special"].samples}
    assert math.isnan(sp["nan"])
    assert sp["inf"] == math.inf
    assert sp["tiny"] == 1e-9
    assert sp["utf8 é"] == -2.5


def test_process_metrics():
    fams = families()
    for name, typ in [("process_cpu_seconds", "counter"), ("process_resident_memory_bytes", "gauge"),
                      ("process_virtual_memory_bytes", "gauge"),
                      ("process_start_time_seconds", "gauge"), ("process_open_fds", "gauge"),
                      ("process_max_fds", "gauge"), ("girder_build_info", "gauge"),
                      ("girder_metrics_series_dropped", "counter")]:
        assert fams[name].type == typ, name
    assert fams["process_resident_memory_bytes"].samples[0].value > 100000
    assert fams["process_open_fds"].samples[0].value >= 3
    assert fams["girder_build_info"].samples[0].labels["version"]
