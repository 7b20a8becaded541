"""`girder config check` on good and bad files: exit codes, error format, secret hiding."""
import os
import subprocess

import pytest

BIN = os.environ["GIRDER_BIN"]
SRC = os.environ["GIRDER_SRC"]
SECRET = "sk-it-very-secret-4242"


def run(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GD_IT_")}
    full_env.update(env or {})
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=full_env, timeout=30)
    return p.returncode, p.stdout, p.stderr


def write(tmp_path, text, name="girder.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_default_config_file_is_valid():
    rc, out, err = run("config", "check", os.path.join(SRC, "src/cli/default_config.yaml"))
    assert rc == 0, err
    assert out.startswith("ok\n")
    assert "listen: 127.0.0.1:8080\n" in out
    assert "access_log: stdout (json)\n" in out
    assert "metrics: /metrics\n" in out


def test_embedded_default_round_trips(tmp_path):
    rc, out, _ = run("config", "default")
    assert rc == 0
    path = write(tmp_path, out)
    rc, out, err = run("config", "check", path)
    assert rc == 0, err


def test_unknown_key_with_suggestion(tmp_path):
    path = write(tmp_path, "threads: 2\nlistne: 127.0.0.1:80\n")
    rc, out, err = run("config", "check", path)
    assert rc == 1
    assert out == ""
    assert err == f"{path}:2:1: key 'listne': unknown key in <root> (did you mean 'listen'?)\n"


def test_every_error_is_listed_with_position(tmp_path):
    path = write(tmp_path, "threads: lots\nlimits:\n  max_headers: 0\n  max_bodybytes: 1\n"
                           "access_log: {format: xml}\n")
    rc, _, err = run("config", "check", path)
    assert rc == 1
    lines = err.splitlines()
    assert len(lines) == 4, err
    assert lines[0] == f"{path}:1:10: key 'threads': expected an integer from 0 to 1024, got 'lots'"
    assert lines[1].startswith(f"{path}:3:16: key 'limits.max_headers': expected an integer")
    assert lines[2] == f"{path}:4:3: key 'limits.max_bodybytes': unknown key in limits " \
                       "(did you mean 'max_body_bytes'?)"
    assert lines[3].startswith(f"{path}:5:22: key 'access_log.format': expected one of json, logfmt")


def test_yaml_syntax_error_position(tmp_path):
    path = write(tmp_path, "listen: 127.0.0.1:80\nlimits: {max_headers: 5\n")
    rc, _, err = run("config", "check", path)
    assert rc == 1
    assert err.startswith(f"{path}:3:1: YAML syntax error:"), err


def test_missing_file_and_usage():
    rc, _, err = run("config", "check", "/nonexistent/girder.yaml")
    assert rc == 1
    assert "/nonexistent/girder.yaml: cannot open" in err
    rc, out, _ = run("config", "--help")
    assert rc == 0 and "girder config check FILE" in out
    rc, _, _ = run("config")
    assert rc == 2
    rc, _, _ = run("config", "frobnicate")
    assert rc == 2


def test_env_values_are_substituted_and_never_printed(tmp_path):
    path = write(tmp_path, "listen: ${GD_IT_LISTEN}\naccess_log:\n  path: ${GD_IT_LOG}\n"
                           "metrics: {path: \"/${GD_IT_UNSET:-metrics}\"}\n")
    rc, out, err = run("config", "check", path,
                       env={"GD_IT_LISTEN": "127.0.0.1:7777", "GD_IT_LOG": "/tmp/sk-7777.log"})
    assert rc == 0, err
    assert "7777" not in out + err
    assert "listen: (from environment)\n" in out
    assert "access_log: (from environment) (json)\n" in out
    assert "metrics: /metrics\n" in out


def test_secret_in_invalid_place_is_not_echoed(tmp_path):
    path = write(tmp_path, "threads: ${GD_IT_SECRET}\nlisten: ${GD_IT_SECRET}\n"
                           "log_level: \"${GD_IT_SECRET}\"\n")
    rc, out, err = run("config", "check", path, env={"GD_IT_SECRET": SECRET})
    assert rc == 1
    assert SECRET not in out + err
    assert "key 'threads': expected an integer from 0 to 1024, got a value from the " \
           "environment (not shown)" in err
    assert "key 'listen': invalid address from the environment" in err


def test_unset_variables_are_named(tmp_path):
    path = write(tmp_path, "listen: ${GD_IT_NOPE_A}\naccess_log: {path: \"${GD_IT_NOPE_B}\"}\n")
    rc, _, err = run("config", "check", path)
    assert rc == 1
    assert f"{path}:1:9: key 'listen': environment variable 'GD_IT_NOPE_A' is not set" in err
    assert "key 'access_log.path': environment variable 'GD_IT_NOPE_B' is not set" in err


GATEWAY = """
listen: 127.0.0.1:8080
providers:
  - name: local
    base_url: http://127.0.0.1:9001/v1
    api_key: ${GD_IT_KEY}
models:
  - alias: chat
    deployments:
      - { provider: local, model: m1, weight: 1 }
"""


def test_extension_section_secret_not_printed(tmp_path):
    path = write(tmp_path, GATEWAY)
    rc, out, err = run("config", "check", path, env={"GD_IT_KEY": SECRET})
    assert rc == 0, err
    assert SECRET not in out + err
    assert "sections: gateway\n" in out


def test_extension_section_errors_have_positions(tmp_path):
    path = write(tmp_path, GATEWAY.replace("provider: local,", "provider: nowhere,"))
    rc, out, err = run("config", "check", path, env={"GD_IT_KEY": SECRET})
    assert rc == 1
    assert SECRET not in out + err
    assert f"{path}:10:" in err, err
