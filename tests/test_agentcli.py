"""`murano-flow agent config`: configs and user-data an agent can really use."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys

import pytest
import yaml
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


def test_cloud_init_user_data_embeds_a_private_config_and_a_service(home):
    done = mf("agent", "config", "--queue", "q1", "--user-data", "cloud-init")
    assert done.returncode == 0 and done.stdout.startswith("#cloud-config\n")
    doc = yaml.safe_load(done.stdout)
    files = {f["path"]: f for f in doc["write_files"]}
    config = files["/var/lib/murano-flow-agent/agent.json"]
    assert config["permissions"] == "0600"
    assert json.loads(base64.b64decode(config["content"]))["queue"] == "q1"
    unit = files["/etc/systemd/system/murano-flow-agent.service"]["content"]
    assert "KillMode=process" in unit and "--config /var/lib/murano-flow-agent/agent.json" in unit


def test_powershell_user_data_installs_a_boot_task(home):
    done = mf("agent", "config", "--queue", "q1", "--user-data", "powershell")
    assert done.returncode == 0
    text = done.stdout
    assert text.startswith("<powershell>") and text.rstrip().endswith("</powershell>")
    b64 = text.split("FromBase64String('")[1].split("'")[0]
    assert json.loads(base64.b64decode(b64))["spool"] == r"C:\ProgramData\murano-flow-agent"
    assert "Register-ScheduledTask" in text and "-AtStartup" in text


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
