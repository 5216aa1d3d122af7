"""Scale-in: states a re-deploy drops are undone - after the rest converged without them,
in reverse dependency order, each once - and then forgotten; a failed or interrupted
removal resumes, and a rollback undoes them last."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.store import open_store

FARM = """\
format: 1
name: farm
parameters:
  n: {type: integer, default: 3}
  log: {type: string}
  gate: {type: string, default: ""}
entities:
  web:
    count: "{{ params.n }}"
    states:
      Serving:
        action:
          inline: |
            echo "up $MURANO_FLOW_ENTITY" >> "$LOG"
            printf '{"url": "%s"}' "$MURANO_FLOW_ENTITY" > "$MURANO_FLOW_OUTPUT"
          env: {LOG: "{{ params.log }}"}
        outputs: [url]
        undo:
          inline: |
            echo "start down $MURANO_FLOW_ENTITY" >> "$LOG"
            if [ -n "$GATE" ]; then
              while [ ! -e "$GATE" ]; do sleep 0.05; done
              [ "$(cat "$GATE")" = fail ] && exit 5
            fi
            echo "down $MURANO_FLOW_ENTITY" >> "$LOG"
          env: {LOG: "{{ params.log }}", GATE: "{{ params.gate }}"}
      Deployed: {requires: Serving}
  lb:
    states:
      Deployed:
        requires: ["web[*].Serving"]
        action:
          inline: echo "lb $BACKENDS" >> "$LOG"
          env:
            LOG: "{{ params.log }}"
            BACKENDS: "{{ outputs['web[*].Serving'] | map(attribute='url') | join(',') }}"
        undo: {inline: echo "lb down" >> "$LOG", env: {LOG: "{{ params.log }}"}}
"""


@pytest.fixture
def farm(tmp_path: Path, home: Path) -> tuple[str, Path]:
    path = tmp_path / "farm.yaml"
    path.write_text(FARM)
    return str(path), tmp_path / "log"


def mf(*args: str):
    return CliRunner().invoke(cli, list(args))


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def rows(home: Path) -> dict[str, str]:
    with open_store(f"sqlite:///{home}/journal.db") as store:
        return {n.name: n.status for n in store.nodes("f")}


def test_scaling_in_undoes_the_dropped_members_after_the_rest_converged(farm, home):
    bp, log = farm
    assert mf("deploy", bp, "--id", "f", "-p", f"log={log}").exit_code == 0
    dry = mf("deploy", bp, "--id", "f", "-p", f"log={log}", "-p", "n=1", "--dry-run",
             "-f", "json")
    steps = {s["state"]: s["would"] for s in json.loads(dry.output)["steps"]}
    assert dry.exit_code == 1 and steps["web[2].Serving"] == "undo"
    assert steps["lb.Deployed"] == "run" and steps["web[2].Deployed"] == "forget"
    log.write_text("")
    done = mf("deploy", bp, "--id", "f", "-p", f"log={log}", "-p", "n=1")
    assert done.exit_code == 0, done.output
    # the load balancer drops the members first, then they are undone, newest first or not
    said = lines(log)
    assert said[0] == "lb web[0]"
    assert sorted(said[1:]) == ["down web[1]", "down web[2]", "start down web[1]",
                                "start down web[2]"]
    assert rows(home) == {"web[0].Serving": "reached", "web[0].Deployed": "reached",
                          "lb.Deployed": "reached"}
    hosts = mf("hosts", "list", "-f", "value", "-c", "host").output.split()
    assert hosts == ["local:lb", "local:web[0]"]
    status = mf("status", "f").output
    assert "succeeded" in status and "web[1]" not in status


def test_a_failed_removal_says_so_and_a_resume_finishes_it_once(farm, home, tmp_path):
    bp, log = farm
    gate = tmp_path / "gate"
    args = ["--id", "f", "-p", f"log={log}", "-p", f"gate={gate}"]
    assert mf("deploy", bp, *args, "-p", "n=2").exit_code == 0
    gate.write_text("fail")
    failed = mf("deploy", bp, *args, "-p", "n=1")
    assert failed.exit_code == 1
    assert "could not undo web[1].Serving, which the blueprint no longer has" in failed.output
    refused = mf("deploy", bp, *args, "-p", "n=3")  # another change waits for the removal
    assert refused.exit_code == 2 and "still removing 1 states" in refused.output
    gate.write_text("ok")
    assert mf("resume", "f", "-p", f"log={log}").exit_code == 0
    assert lines(log).count("down web[1]") == 1 and "web[1].Serving" not in rows(home)


def test_a_rollback_undoes_the_dropped_members_still_there_last(farm, home, tmp_path):
    bp, log = farm
    gate = tmp_path / "gate"
    args = ["--id", "f", "-p", f"log={log}", "-p", f"gate={gate}"]
    assert mf("deploy", bp, *args, "-p", "n=2").exit_code == 0
    gate.write_text("fail")
    assert mf("deploy", bp, *args, "-p", "n=1").exit_code == 1
    gate.write_text("ok")
    log.write_text("")
    back = mf("rollback", "f")
    assert back.exit_code == 0, back.output
    said = [x for x in lines(log) if not x.startswith("start")]
    assert said == ["lb down", "down web[0]", "down web[1]"]
    assert set(rows(home)) == {"web[0].Serving", "web[0].Deployed", "lb.Deployed"}
    assert set(rows(home).values()) == {"undone"}


def test_an_engine_killed_while_undoing_a_dropped_member_resumes_it_once(farm, home, tmp_path):
    bp, log = farm
    gate = tmp_path / "gate"
    args = ["--id", "f", "-p", f"log={log}", "-p", f"gate={gate}"]
    assert mf("deploy", bp, *args, "-p", "n=2").exit_code == 0
    engine = subprocess.Popen([sys.executable, "-m", "murano_flow", "deploy", bp, *args,
                               "-p", "n=1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=os.environ.copy())
    while "start down web[1]" not in lines(log):  # the undo runs, waiting at its gate
        assert engine.poll() is None, "the engine ended before the undo started"
        time.sleep(0.05)
    engine.send_signal(signal.SIGKILL)
    engine.wait()
    gate.write_text("ok")  # the undo, which outlived the engine, ends now
    resumed = mf("resume", "f", "-p", f"log={log}", "-p", f"gate={gate}")
    assert resumed.exit_code == 0, resumed.output
    assert lines(log).count("start down web[1]") == 1  # asked again, not run again
    assert lines(log).count("down web[1]") == 1
    assert "web[1].Serving" not in rows(home)


def test_a_limited_deploy_does_not_remove_states(farm, home):
    bp, log = farm
    assert mf("deploy", bp, "--id", "f", "-p", f"log={log}").exit_code == 0
    done = mf("deploy", bp, "--id", "f", "-p", f"log={log}", "-p", "n=1", "--limit", "lb")
    assert done.exit_code == 2
    assert "would also remove 2 states the blueprint no longer has (web[1].Serving)" \
        in done.output
