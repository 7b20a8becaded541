"""GPU telemetry through NVML: girder opens the library at run time, samples every GPU on a
background thread and exposes girder_gpu_* gauges; without NVML (no driver, or a driver that
fails to initialise) it logs why and serves without them. NVML is played by fake_nvml.c,
which has the real library's C ABI (its readings are fixed, so these asserts are for the
fake only; on a GPU machine, girder with the default library shows girder_gpu_info)."""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
from gwharness import assert_clean, request, start_girder  # noqa: E402

FAKE = os.environ.get("FAKE_NVML", "")


def metrics(port):
    return request(port, "GET", "/metrics")[2].decode()


def value(text, series):
    m = re.search(r"^%s (\S+)$" % re.escape(series), text, re.M)
    return float(m.group(1)) if m else None


def test_gpu_gauges_from_nvml(tmp_path):
    g, port = start_girder("", tmp_path, {"GIRDER_NVML_LIBRARY": FAKE,
                                          "GIRDER_GPU_INTERVAL_MS": "100"})
    try:
        g.wait_for(r'msg="GPU metrics from NVML" gpus=2')
        end = time.monotonic() + 10
        text = metrics(port)
        while value(text, 'girder_gpu_power_watts{gpu="1"}') is None and time.monotonic() < end:
            time.sleep(0.1)
            text = metrics(port)
        assert value(text, 'girder_gpu_info{gpu="0",name="NVIDIA H100 80GB HBM3",'
                           'uuid="GPU-11111111-2222-3333-4444-555555555555"}') == 1
        assert value(text, 'girder_gpu_utilization_ratio{gpu="0"}') == 0.37
        assert value(text, 'girder_gpu_memory_utilization_ratio{gpu="0"}') == 0.12
        assert value(text, 'girder_gpu_memory_used_bytes{gpu="0"}') == 1073741824
        assert value(text, 'girder_gpu_memory_total_bytes{gpu="1"}') == 24159191040
        assert value(text, 'girder_gpu_temperature_celsius{gpu="0"}') == 41
        assert value(text, 'girder_gpu_power_watts{gpu="0"}') == 123.456
        assert value(text, 'girder_gpu_power_watts{gpu="1"}') == 16
    finally:
        g.stop()
    assert_clean(g)


def test_without_nvml_girder_serves(tmp_path):
    g, port = start_girder("", tmp_path, {"GIRDER_NVML_LIBRARY": str(tmp_path / "nope.so")})
    try:
        g.wait_for(r'msg="no NVML library, no GPU metrics"')
        assert request(port, "GET", "/healthz")[0] == 200
        assert "girder_gpu_" not in metrics(port)
    finally:
        g.stop()
    assert_clean(g)
    g, port = start_girder("", tmp_path, {"GIRDER_NVML_LIBRARY": FAKE,
                                          "FAKE_NVML_INIT_ERROR": "9"})
    try:
        g.wait_for(r'msg="NVML did not initialise, no GPU metrics" nvml_error=9')
        assert request(port, "GET", "/healthz")[0] == 200
        assert "girder_gpu_" not in metrics(port)
    finally:
        g.stop()
    assert_clean(g)
