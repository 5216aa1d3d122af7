"""VM user-data from `murano-flow agent config --user-data`: valid for cloud-init's own
schema, and installing the agent only from the operator's wheel with the expected hash."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

URL = "https://dist.example/murano_flow-0.1.0-py3-none-any.whl"
SHA = "ab" * 32


def mf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "murano_flow", *args], capture_output=True,
                          text=True, timeout=60)


def files_of(user_data: str) -> dict[str, dict[str, str]]:
    doc = yaml.safe_load(user_data)
    return {f["path"]: f for f in doc["write_files"]}


def content(entry: dict[str, str]) -> bytes:
    if entry.get("encoding") == "b64":
        return base64.b64decode(entry["content"])
    return entry["content"].encode()


def test_cloud_init_user_data_embeds_a_private_config_a_service_and_the_checked_wheel(home):
    done = mf("agent", "config", "--queue", "q1", "--user-data", "cloud-init",
              "--agent-wheel", URL, "--agent-sha256", SHA.upper(),
              "--index-url", "https://pypi.example/simple")
    assert done.returncode == 0 and done.stdout.startswith("#cloud-config\n"), done.stderr
    files = files_of(done.stdout)
    config = files["/var/lib/murano-flow-agent/agent.json"]
    assert config["permissions"] == "0600"
    assert json.loads(content(config))["queue"] == "q1"
    unit = files["/etc/systemd/system/murano-flow-agent.service"]["content"]
    assert "KillMode=process" in unit and "--config /var/lib/murano-flow-agent/agent.json" in unit
    install = yaml.safe_load(done.stdout)["runcmd"][1]
    assert install == ["sh", "/var/lib/murano-flow-agent/install-agent.sh", URL,
                       "murano_flow-0.1.0-py3-none-any.whl", SHA, "/opt/murano-flow-agent",
                       "https://pypi.example/simple"]
    assert "pip install" not in done.stdout.split("runcmd")[1]  # only through the checked script


@pytest.mark.parametrize("args", [
    ["--agent-wheel", URL, "--agent-sha256", SHA],
    ["--agent-wheel", "WHEEL"],  # carried in the user-data
])
def test_cloud_init_itself_accepts_the_user_data(home, tmp_path, built_wheel, args):
    cloud_init = shutil.which("cloud-init")
    assert cloud_init, "cloud-init is missing: scripts/services.sh installs it (apt-get)"
    args = [str(built_wheel) if a == "WHEEL" else a for a in args]
    out = tmp_path / "user-data.yaml"
    done = mf("agent", "config", "--queue", "q1", "--user-data", "cloud-init", "-o", str(out),
              *args)
    assert done.returncode == 0, done.stderr
    checked = subprocess.run([cloud_init, "schema", "-c", str(out)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0 and "Valid cloud-config" in checked.stdout, checked.stderr


def test_a_wheel_carried_in_the_user_data_keeps_its_hash_and_says_when_it_is_too_big(
        home, built_wheel):
    done = mf("agent", "config", "--queue", "q1", "--user-data", "cloud-init",
              "--agent-wheel", str(built_wheel))
    assert done.returncode == 0, done.stderr
    carried = files_of(done.stdout)[f"/var/lib/murano-flow-agent/{built_wheel.name}"]
    assert content(carried) == built_wheel.read_bytes()
    sha = hashlib.sha256(built_wheel.read_bytes()).hexdigest()
    assert yaml.safe_load(done.stdout)["runcmd"][1][4] == sha
    assert "over the 47 KiB OpenStack accepts" in done.stderr  # the whole wheel is ~260 KB


@pytest.mark.parametrize(("args", "message"), [
    ([], "--user-data cloud-init needs --agent-wheel"),
    (["--agent-wheel", URL], "give its --agent-sha256"),
    (["--agent-wheel", URL, "--agent-sha256", "abc"], "is not a SHA-256 (64 hex digits)"),
    (["--agent-wheel", "https://dist.example/agent.tar.gz", "--agent-sha256", SHA],
     "does not name a wheel"),
    (["--agent-wheel", "ftp://dist.example/murano_flow-0.1.0-py3-none-any.whl",
      "--agent-sha256", SHA], "give an http(s) URL or a local wheel file"),
    (["--agent-wheel", "WHEEL", "--agent-sha256", SHA], "it is not the wheel you meant"),
    (["--agent-wheel", "/nowhere/murano_flow-0.1.0-py3-none-any.whl"], "cannot read it"),
    (["--agent-wheel", URL, "--agent-sha256", SHA, "--index-url", "pypi.example"],
     "is not an http(s) URL"),
])
def test_user_data_installs_only_from_a_wheel_the_operator_names(home, built_wheel, args,
                                                                 message):
    args = [str(built_wheel) if a == "WHEEL" else a for a in args]
    done = mf("agent", "config", "--queue", "q1", "--user-data", "cloud-init", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_wheel_options_without_user_data_are_refused(home):
    done = mf("agent", "config", "--queue", "q1", "--agent-wheel", URL)
    assert done.returncode == 2 and "go with --user-data" in done.stderr


def _install_script(home_env: Path, wheel: Path, tmp_path: Path) -> Path:
    done = mf("agent", "config", "--queue", "q1", "--user-data", "cloud-init",
              "--agent-wheel", str(wheel))
    assert done.returncode == 0, done.stderr
    script = tmp_path / "install-agent.sh"
    script.write_bytes(content(files_of(done.stdout)["/var/lib/murano-flow-agent/install-agent.sh"]))
    return script


def _run(script: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PIP_NO_DEPS="1", PIP_NO_INDEX="1",  # the wheel alone, offline
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    if path:
        env["PATH"] = path
    return subprocess.run(["sh", str(script), *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_the_install_script_installs_the_wheel_only_when_its_hash_matches(
        home, tmp_path, built_wheel):
    script = _install_script(home, built_wheel, tmp_path)
    sha = hashlib.sha256(built_wheel.read_bytes()).hexdigest()
    tampered = tmp_path / "served" / built_wheel.name
    tampered.parent.mkdir()
    tampered.write_bytes(built_wheel.read_bytes() + b"\0")
    venv = tmp_path / "venv"
    refused = _run(script, tampered.as_uri(), built_wheel.name, sha, str(venv))
    assert refused.returncode != 0 and "the agent is not installed" in refused.stderr
    assert not venv.exists()
    done = _run(script, built_wheel.as_uri(), built_wheel.name, sha, str(venv))
    assert done.returncode == 0, done.stderr
    assert (venv / "bin" / "murano-flow-agent").exists()
    shown = subprocess.run([str(venv / "bin" / "pip"), "show", "-f", "murano-flow"],
                           capture_output=True, text=True, check=True).stdout
    assert "murano_flow_agent/agent.py" in shown


def test_the_install_script_adds_python3_venv_where_debian_leaves_it_out(
        home, tmp_path, built_wheel):
    script = _install_script(home, built_wheel, tmp_path)
    shims = tmp_path / "shims"
    shims.mkdir()
    log = tmp_path / "apt.log"
    real = shutil.which("python3")
    assert real
    # A python3 whose ensurepip is missing until "apt-get install python3-venv" has run.
    (shims / "python3").write_text(
        "#!/bin/sh\n"
        f'if [ "$*" = "-c import ensurepip, venv" ] && [ ! -s {log} ]; then exit 1; fi\n'
        f'exec {real} "$@"\n')
    (shims / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    sha = hashlib.sha256(built_wheel.read_bytes()).hexdigest()
    done = _run(script, str(built_wheel), built_wheel.name, sha, str(tmp_path / "venv"),
                path=f"{shims}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stderr
    assert log.read_text().split("\n")[0] == "install -y -q python3-venv"


def test_powershell_user_data_checks_the_wheel_and_installs_a_boot_task(home):
    done = mf("agent", "config", "--queue", "q1", "--user-data", "powershell",
              "--agent-wheel", URL, "--agent-sha256", SHA)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("<powershell>") and text.rstrip().endswith("</powershell>")
    b64 = text.split("FromBase64String('")[1].split("'")[0]
    assert json.loads(base64.b64decode(b64))["spool"] == r"C:\ProgramData\murano-flow-agent"
    assert "Register-ScheduledTask" in text and "-AtStartup" in text
    assert f"Invoke-WebRequest -UseBasicParsing -Uri '{URL}'" in text
    download, check, install = (text.index(s) for s in (
        "Invoke-WebRequest", f"if ($sha256 -ne '{SHA}')", "pip.exe\" install"))
    assert download < check < install
