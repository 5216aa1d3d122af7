"""`murano-flow agent config`: configs and user-data an agent can really use."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest
from murano_flow_agent.config import load

from murano_flow.wire.signing import agent_key

BP = """\
format: 1
name: fleet
entities:
  setup:
    states:
      Deployed: {action: "exit 1"}
  vm:
    count: 2
    host: {transport: amqp, queue: "vm-{{ deployment }}-{{ index }}"}
    states:
      Deployed: {requires: "setup.Deployed", action: "true"}
"""


def mf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "murano_flow", *args], capture_output=True,
                          text=True, timeout=60)


def test_a_config_for_a_queue_loads_and_carries_the_derived_key(home, tmp_path):
    out = tmp_path / "agent.json"
    done = mf("agent", "config", "--queue", "web-1", "-o", str(out), "--heartbeat", "2")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    cfg = load(out)
    secret = (home / "agent.secret").read_text().strip()
    assert cfg.queue == "web-1" and cfg.key == agent_key(secret, "web-1")
    assert cfg.heartbeat == 2.0
    assert stat.S_IMODE((home / "agent.secret").stat().st_mode) == 0o600


def test_the_queue_of_an_entity_comes_from_the_journaled_blueprint(home, tmp_path):
    bp = tmp_path / "fleet.yaml"
    bp.write_text(BP)
    assert mf("deploy", str(bp), "--id", "f1").returncode == 1  # setup fails; no broker needed
    done = mf("agent", "config", "vm[1]", "--deployment", "f1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queue"] == "vm-f1-1"
    wrong = mf("agent", "config", "setup", "--deployment", "f1")
    assert wrong.returncode == 2 and "reached over local, not through an agent" in wrong.stderr
    missing = mf("agent", "config", "db", "--deployment", "f1")
    assert missing.returncode == 2 and "entities: setup, vm[0], vm[1]" in missing.stderr
    assert mf("agent", "config").returncode == 2


HOSTS = """\
format: 1
name: hosts
parameters:
  how: {type: string, default: local}
entities:
  vm:
    host: HOST
    states:
      Deployed: {action: "true"}
"""


@pytest.mark.parametrize(("host", "params", "message"), [
    ('{transport: "{{ params.how }}"}', ["-p", "how=carrier-pigeon"],
     "host transport 'carrier-pigeon' is not one of local, ssh, winrm, amqp"),
    ("{transport: amqp}", [], "an amqp host needs a 'queue'"),
    ("{transport: amqp, queue: q, options: {ready_timeout: soon}}", [],
     "host option ready_timeout: 'soon' is not a duration"),
])
def test_a_bad_agent_host_fails_its_node_clearly_without_a_broker(home, tmp_path, host, params,
                                                                   message):
    bp = tmp_path / "hosts.yaml"
    bp.write_text(HOSTS.replace("HOST", host))
    done = subprocess.run([sys.executable, "-m", "murano_flow",
                           "--broker", "amqp://guest:guest@127.0.0.1:1/%2F",  # never reached
                           "deploy", str(bp), *params], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done.stderr
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_files_that_cannot_be_written_are_a_clear_error(home, tmp_path):
    nowhere = str(tmp_path / "no" / "such" / "dir" / "x")
    for args in (("-o", nowhere), ("--broker-user", nowhere)):
        done = mf("agent", "config", "--queue", "web-1", *args)
        assert done.returncode == 2, done.stderr
        assert f"cannot write {nowhere}" in done.stderr and "Traceback" not in done.stderr
