"""Steering a running deployment from another shell: pause, resume, cancel (--now), the
deadline, and what deploy/resume say about deployments that are not theirs to drive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.store import SqliteStore

STEPS = """\
format: 1
name: steps
parameters:
  counter: {type: string}
  sleep: {type: string, default: "0.4"}
entities:
  s:
    states:
      One:
        action: &step {script: step.sh, env: {C: "{{ params.counter }}", T: "{{ params.sleep }}"}}
      Two: {requires: One, action: *step}
      Three: {requires: Two, action: *step}
      Deployed: {requires: Three}
"""
STEP = 'sleep "$T"\necho "$MURANO_FLOW_NODE" >> "$C"\n'


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "step.sh").write_text(STEP)
    bp = tmp_path / "steps.yaml"
    bp.write_text(STEPS)
    return bp, tmp_path / "counter.txt"


_ENGINES: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_engine_left_behind():
    yield
    while _ENGINES:  # a failed test must not leave a (paused) engine running
        proc = _ENGINES.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _engine(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MURANO_FLOW_HOME": str(home),
           "MURANO_FLOW_STORE": f"sqlite:///{home}/journal.db"}
    proc = subprocess.Popen([sys.executable, "-m", "murano_flow", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _ENGINES.append(proc)
    return proc


def _mf(*args: str):
    return CliRunner().invoke(cli, list(args))


def _wait_for(home: Path, dep: str, predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (home / "journal.db").exists():
            with SqliteStore(home / "journal.db") as store:
                try:
                    d, nodes = store.deployment(dep), {n.name: n.status for n in
                                                       store.nodes(dep)}
                except Exception:  # noqa: BLE001 - not created yet
                    d = None
            if d is not None and predicate(d, nodes):
                return d, nodes
        time.sleep(0.05)
    raise AssertionError(f"{dep} never got there")


def test_pause_lets_the_running_action_finish_and_resume_continues(tmp_path, home):
    bp, counter = _setup(tmp_path)
    engine = _engine(home, "deploy", str(bp), "--id", "p", "-p", f"counter={counter}")
    _wait_for(home, "p", lambda d, n: n["s.One"] == "running")
    paused = _mf("pause", "p", "--wait")
    assert paused.exit_code == 0 and "p: paused" in paused.output, paused.output
    _, nodes = _wait_for(home, "p", lambda d, n: d.state == "paused")
    assert nodes["s.One"] == "reached" and nodes["s.Two"] == "pending"
    time.sleep(1.0)
    assert counter.read_text().split() == ["s.One"]  # nothing started while paused
    assert engine.poll() is None  # the engine waits, paused
    resumed = _mf("resume", "p")
    assert resumed.exit_code == 0 and "resume requested" in resumed.output
    assert engine.wait(timeout=30) == 0, engine.stdout.read()
    assert counter.read_text().split() == ["s.One", "s.Two", "s.Three"]
    assert _mf("fsck", "p").exit_code == 0


def test_cancel_now_stops_the_action_and_resume_runs_it_again(tmp_path, home):
    bp, counter = _setup(tmp_path)
    engine = _engine(home, "deploy", str(bp), "--id", "c", "-p", f"counter={counter}",
                     "-p", "sleep=30")
    _wait_for(home, "c", lambda d, n: n["s.One"] == "running")
    assert _mf("cancel", "c", "--now").exit_code == 0
    assert engine.wait(timeout=20) == 1
    status = _mf("status", "c", "--nodes")
    assert "c (steps): cancelled" in status.output
    with SqliteStore(home / "journal.db") as store:
        assert {n.name: n.status for n in store.nodes("c")}["s.One"] == "pending"
    assert not counter.exists()
    done = _mf("resume", "c", "-p", "sleep=0")
    assert done.exit_code == 0, done.output
    assert Counter(counter.read_text().split()) == Counter(["s.One", "s.Two", "s.Three"])


def test_a_deadline_stops_the_deployment_and_says_so(tmp_path, home):
    bp, counter = _setup(tmp_path)
    result = _mf("deploy", str(bp), "--id", "d", "-p", f"counter={counter}", "-p", "sleep=30",
                 "--deadline", "1s")
    assert result.exit_code == 1 and not counter.exists()  # stopped, not waited for
    status = _mf("status", "d", "--nodes", "-f", "json")
    assert "deadline" in status.output and "stopped at the deployment's deadline" in status.output
    bad = _mf("deploy", str(bp), "--new", "-p", "counter=x", "--deadline", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_deploy_points_at_an_unfinished_deployment_and_resume_refuses_a_live_one(
        tmp_path, home):
    bp, counter = _setup(tmp_path)
    engine = _engine(home, "deploy", str(bp), "--id", "u", "-p", f"counter={counter}",
                     "-p", "sleep=2")
    _wait_for(home, "u", lambda d, n: d.state == "running")
    going = _mf("wait", "u", "--timeout", "100ms")  # its action sleeps 2 s
    assert going.exit_code == 124 and "u is still running after 100ms" in going.output
    again = _mf("deploy", str(bp), "-p", f"counter={counter}")
    assert again.exit_code == 2 and "deployment u of blueprint 'steps' is unfinished" \
        in again.output and "--new" in again.output
    live = _mf("resume", "u")
    assert live.exit_code == 2 and "is being driven by the engine pid" in live.output
    engine.send_signal(signal.SIGKILL)
    engine.wait()
    follow = _mf("events", "u", "--follow")  # returns: no engine will add anything
    assert follow.exit_code == 130 and "its engine is gone" in follow.output
    waited = _mf("wait", "u")  # not a success for a CI job
    assert waited.exit_code == 130 and "murano-flow resume u" in waited.output
    crashed = _mf("deploy", str(bp), "-p", f"counter={counter}")
    assert crashed.exit_code == 2 and "murano-flow resume u" in crashed.output
    fsck = _mf("fsck", "u")
    assert fsck.exit_code == 0 and "engine is gone" in fsck.output
    assert _mf("pause", "u").exit_code == 2  # nothing drives it: nothing to pause
    cancelled = _mf("cancel", "u")
    assert cancelled.exit_code == 0 and "u: cancelled" in cancelled.output
    done = _mf("resume", "u", "-p", "sleep=0")
    assert done.exit_code == 0, done.output
    assert Counter(counter.read_text().split()) == Counter(["s.One", "s.Two", "s.Three"])


def test_bad_input_to_the_new_commands_and_options_is_a_clear_exit_2(tmp_path, home):
    bp, counter = _setup(tmp_path)
    assert _mf("deploy", str(bp), "--id", "ok", "-p", f"counter={counter}",
               "-p", "sleep=0").exit_code == 0
    cases = [
        (["cancel", "nope"], "no deployment 'nope'"),
        (["pause", "nope"], "no deployment 'nope'"),
        (["fsck", "nope"], "no deployment 'nope'"),
        (["resume", "ok", "--deadline", "never"], "--deadline: 'never' is not a duration"),
        (["deploy", str(bp), "--on-failure", "sometimes"], "'sometimes' is not one of"),
        (["cancel", "ok"], "is 'succeeded': nothing to cancel"),
        (["pause", "ok"], "no engine is driving deployment ok"),
        (["resume", "ok"], "nothing to resume"),
    ]
    for args, message in cases:
        result = _mf(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output, (args,
                                                                              result.output)


FLAKY_UNDO = """
format: 1
name: flaky-undo
parameters:
  dir: {type: string}
entities:
  a:
    states:
      Done:
        action: {inline: 'echo run >> "$DIR/a.log"', env: {DIR: "{{ params.dir }}"}}
        undo:
          inline: |
            echo undo >> "$DIR/a.log"
            [ -e "$DIR/undo-failed-once" ] || { touch "$DIR/undo-failed-once"; exit 4; }
          env: {DIR: "{{ params.dir }}"}
      Deployed: {requires: Done}
  b:
    states:
      Deployed:
        requires: a.Done
        on_failure: rollback
        action: {inline: "exit 9"}
"""


def test_resume_after_a_failed_rollback_retries_the_rollback_not_the_deployment(
        tmp_path, home, write_blueprint):
    bp = write_blueprint(FLAKY_UNDO)
    first = CliRunner().invoke(cli, ["deploy", str(bp), "--id", "fu", "-p", f"dir={tmp_path}"])
    assert first.exit_code == 1 and "undo failed: a.Done" in first.output, first.output
    again = CliRunner().invoke(cli, ["resume", "fu", "-p", f"dir={tmp_path}"])
    assert again.exit_code == 0, again.output
    assert "its rollback failed; resume retries the rollback" in again.output
    assert (tmp_path / "a.log").read_text().split() == ["run", "undo", "undo"]
    status = CliRunner().invoke(cli, ["status", "fu", "-f", "json"]).output
    assert '"state": "rolled_back"' in status


_UNDO = '{script: undo.sh, env: {C: "{{ params.counter }}", T: "{{ params.sleep }}"}}'
UNDONE = STEPS.replace("action: &step {", f"undo: {_UNDO}\n        action: &step {{", 1).replace(
    "Two: {requires: One, action: *step}", f"Two: {{requires: One, action: *step, undo: {_UNDO}}}")


def test_ctrl_c_during_a_rollback_keeps_its_direction(tmp_path, home):
    bp, counter = _setup(tmp_path)
    bp.write_text(UNDONE)
    (tmp_path / "undo.sh").write_text('echo "undo $MURANO_FLOW_NODE" >> "$C"\nsleep "$T"\n')
    assert _mf("deploy", str(bp), "--id", "r", "-p", f"counter={counter}",
               "-p", "sleep=0").exit_code == 0
    back = _engine(home, "rollback", "r", "-p", f"counter={counter}", "-p", "sleep=30")
    _wait_for(home, "r", lambda d, n: n["s.Two"] == "undoing")
    back.send_signal(signal.SIGINT)  # the operator's Ctrl-C, in the middle of an undo
    output, _ = back.communicate(timeout=60)
    assert back.returncode == 130, output
    assert "Continue the rollback: murano-flow rollback r" in output
    with SqliteStore(home / "journal.db") as store:
        assert store.deployment("r").state == "rolling_back"  # not "interrupted": still back
    done = _mf("resume", "r", "-p", f"counter={counter}", "-p", "sleep=0")
    assert done.exit_code == 0, done.output
    with SqliteStore(home / "journal.db") as store:
        assert store.deployment("r").state == "rolled_back"
    lines = counter.read_text().split("\n")
    assert lines.count("s.One") == lines.count("s.Two") == 1  # nothing went forward again
    assert lines.count("undo s.One") == 1 and "undo s.Two" in lines


def test_a_cancel_landing_as_resume_starts_is_honoured_not_dropped(tmp_path, home,
                                                                     monkeypatch):
    from murano_flow.store.sqlite import SqliteStore as Store

    bp, counter = _setup(tmp_path)
    failed = _mf("deploy", str(bp), "--id", "k", "-p", f"counter={tmp_path}/no/such/dir")
    assert failed.exit_code == 1  # s.One failed: the deployment can be resumed
    claim = Store.claim
    landed: list = []

    def cancel_first(store, deployment, owner, expected, **kw):
        if owner and not landed:  # the engine is about to claim: the operator is quicker
            landed.append(None)  # once (the cancel claims too)
            landed[0] = CliRunner().invoke(cli, ["cancel", "k"])
        return claim(store, deployment, owner, expected, **kw)

    monkeypatch.setattr(Store, "claim", cancel_first)
    resumed = _mf("resume", "k", "-p", f"counter={counter}")
    assert landed and landed[0].exit_code == 0 and "k: cancelled" in landed[0].output
    assert resumed.exit_code == 2, resumed.output
    assert "became 'cancelled' just now" in resumed.output
    with SqliteStore(home / "journal.db") as store:
        assert store.deployment("k").state == "cancelled"  # the operator's word stands
    assert not counter.exists()  # and nothing ran
