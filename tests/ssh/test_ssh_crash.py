"""An engine killed right after closing its SSH transports, before it journaled how the run
ended: closing removes the run directories of collected actions on the host, so their
outcomes must already be in the journal - else resume finds no trace and runs them again."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from murano_flow.store import open_store

pytestmark = pytest.mark.integration

BLUEPRINT = """
format: 1
name: once-over-ssh
parameters:
  port: {type: integer}
  key: {type: string}
  known_hosts: {type: string}
  workdir: {type: string}
  counter: {type: string}
entities:
  vm:
    host:
      transport: ssh
      address: 127.0.0.1
      port: "{{ params.port }}"
      key_file: "{{ params.key }}"
      options:
        known_hosts: "{{ params.known_hosts }}"
        agent: false
        workdir: "{{ params.workdir }}"
    states:
      Deployed:
        action:
          inline: echo ran >> "$COUNTER"
          env: {COUNTER: "{{ params.counter }}"}
"""


def test_a_kill_after_the_transports_closed_never_runs_an_action_again(sshd, tmp_path):
    blueprint = tmp_path / "once.yaml"
    blueprint.write_text(textwrap.dedent(BLUEPRINT))
    counter, home = tmp_path / "counter", tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MURANO_FLOW_")}
    journal = f"sqlite:///{home / 'journal.db'}"
    env.update(MURANO_FLOW_HOME=str(home), MURANO_FLOW_STORE=journal)
    params = ["-p", f"port={sshd.port}", "-p", f"key={sshd.user_key}",
              "-p", f"known_hosts={sshd.known_hosts}", "-p", f"workdir={tmp_path / 'remote'}",
              "-p", f"counter={counter}"]

    def mf(*args: str, crash_at: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "murano_flow", *args],
                              env={**env, "MURANO_FLOW_CRASH_AT": crash_at}, text=True,
                              capture_output=True, timeout=120)

    killed = mf("deploy", str(blueprint), "--id", "once", *params,
                crash_at="engine.closed:1")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert counter.read_text() == "ran\n"

    resumed = mf("resume", "once")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert counter.read_text() == "ran\n"  # once, not again
    with open_store(journal) as store:
        assert store.deployment("once").state == "succeeded"
