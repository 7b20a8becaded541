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
        assert value(text, 'girder_gpu_up{gpu="0"}') == 1
        assert value(text, 'girder_gpu_sm_clock_hertz{gpu="0"}') == 1980e6
        assert value(text, 'girder_gpu_memory_clock_hertz{gpu="1"}') == 6251e6
        assert value(text, 'girder_gpu_ecc_errors_total{gpu="0",type="corrected"}') == 3
        assert value(text, 'girder_gpu_ecc_errors_total{gpu="0",type="uncorrected"}') == 0
        assert 'girder_gpu_ecc_errors_total{gpu="1"' not in text  # not supported there
        assert "# TYPE girder_gpu_ecc_errors_total counter" in text
        assert value(text, 'girder_gpu_throttle_reason{gpu="0",reason="sw_power_cap"}') == 1
        assert value(text, 'girder_gpu_throttle_reason{gpu="0",reason="hw_thermal_slowdown"}') \
            == 1
        assert value(text, 'girder_gpu_throttle_reason{gpu="0",reason="gpu_idle"}') == 0
        assert value(text, 'girder_gpu_throttle_reason{gpu="1",reason="gpu_idle"}') == 1
        # the largest process first; one whose memory NVML cannot tell is left out
        procs = re.findall(r'^girder_gpu_process_memory_bytes\{gpu="(\d)",pid="(\d+)"\} (\S+)$',
                           text, re.M)
        assert procs == [("0", "4242", "2147483648"), ("0", "4343", "536870912")], procs
        assert value(text, "girder_gpu_sample_duration_seconds") > 0
    finally:
        g.stop()
    assert_clean(g)


def test_gpu_lost_and_back(tmp_path):
    """A GPU that falls off the bus: girder_gpu_up 0 with its name kept, its readings gone,
    the other GPU unaffected, one log line; when NVML answers again, everything is back."""
    flag = tmp_path / "lost"
    g, port = start_girder("", tmp_path, {"GIRDER_NVML_LIBRARY": FAKE,
                                          "GIRDER_GPU_INTERVAL_MS": "50",
                                          "FAKE_NVML_LOST_FILE": str(flag)})

    def wait(series, want):
        end = time.monotonic() + 10
        while time.monotonic() < end:
            text = metrics(port)
            if value(text, series) == want:
                return text
            time.sleep(0.05)
        raise AssertionError("%s never %s:\n%s" % (series, want, text))

    try:
        wait('girder_gpu_up{gpu="1"}', 1)
        flag.write_text("")
        text = wait('girder_gpu_up{gpu="1"}', 0)
        g.wait_for(r'msg="GPU lost" gpu=1 uuid=GPU-66666666-7777-8888-9999-000000000000')
        assert value(text, 'girder_gpu_info{gpu="1",name="NVIDIA L4",'
                           'uuid="GPU-66666666-7777-8888-9999-000000000000"}') == 1
        assert value(text, 'girder_gpu_memory_total_bytes{gpu="1"}') is None
        assert value(text, 'girder_gpu_memory_total_bytes{gpu="0"}') == 85899345920
        assert request(port, "GET", "/healthz")[0] == 200
        flag.unlink()
        text = wait('girder_gpu_up{gpu="1"}', 1)
        assert value(text, 'girder_gpu_memory_total_bytes{gpu="1"}') == 24159191040
        g.wait_for(r'msg="GPU answers again" gpu=1')
        assert "".join(g.lines).count('msg="GPU lost"') == 1
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
