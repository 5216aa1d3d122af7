"""The guest agent's own wheel (`murano-flow agent wheel`): only what the agent imports,
code that runs on Python 3.9, the same bytes every build, installable on a VM alone."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from murano_flow.app.agentwheel import build


def test_the_agent_wheel_is_reproducible_and_holds_only_the_agent(tmp_path: Path):
    first, second = build(tmp_path / "a"), build(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as z:
        names = z.namelist()
        meta = z.read("murano_flow_agent-0.1.0.dist-info/METADATA").decode()
        assert z.testzip() is None
    assert "Requires-Python: >=3.9" in meta and "Requires-Dist: pika>=1.3" in meta
    code = {n.split("/")[0] + "/" + n.split("/")[1] for n in names if n.endswith(".py")}
    assert {n for n in code if not n.startswith("murano_flow_agent/")} == {
        "murano_flow/__init__.py", "murano_flow/errors.py", "murano_flow/wire"}
    assert first.stat().st_size < 64_000


def test_the_agent_code_needs_no_python_newer_than_3_9(tmp_path: Path):
    wheel = build(tmp_path)
    code = tmp_path / "code"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(code, [n for n in z.namelist() if n.endswith(".py")])
    vermin = Path(sys.executable).with_name("vermin")
    done = subprocess.run([str(vermin), "-t=3.9-", "--violations", "--no-tips", str(code)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_agent_wheel_installs_on_its_own_and_starts(tmp_path: Path):
    wheel = build(tmp_path)
    venv = tmp_path / "vm"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = dict(os.environ, PIP_NO_DEPS="1", PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True,
                   env=env, timeout=300)
    helped = subprocess.run([str(venv / "bin" / "murano-flow-agent"), "--help"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert helped.returncode == 0 and "--config" in helped.stdout
    # without pika (not installed here: no index) it says so, clearly
    bare = subprocess.run([str(venv / "bin" / "murano-flow-agent"), "--config", "x.json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert bare.returncode == 2 and "the agent needs pika" in bare.stderr
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    shown = subprocess.run([sys.executable, "-m", "murano_flow", "agent", "wheel", "-o",
                            str(tmp_path / "cli")], capture_output=True, text=True, timeout=60)
    assert shown.stdout.split() == [str(tmp_path / "cli" / wheel.name), sha]
