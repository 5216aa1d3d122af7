"""Triggers registered in the journal and fired by the engine services: each cron time
fired by exactly one of two engines, a message trigger fired by a message, bad triggers
refused before anything is journaled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kits.common import wait_until

from murano_flow.store import SqliteStore

BP = """\
format: 1
name: tick
parameters:
  out: {type: string}
  pw: {type: string, secret: true}
entities:
  a:
    host: {transport: local, name: "a-{{ deployment }}"}
    states:
      Deployed:
        action:
          inline: 'printf "%s %s\\n" "$MURANO_FLOW_DEPLOYMENT" "${#PW}" >> "$OUT"'
          env: {OUT: "{{ params.out }}", PW: "{{ params.pw }}"}
"""
SECRET = "tr1gger-Secret"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tick.yaml").write_text(BP)
    return {**os.environ, "MURANO_FLOW_STORE": f"sqlite:///{tmp_path}/j.db",
            "MURANO_FLOW_HOME": str(tmp_path / "home"),
            "MURANO_FLOW_AGENT_SECRET": "trigger-test-secret"}


def _mf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "murano_flow", *args], env=env, text=True,
                          capture_output=True, timeout=120,
                          cwd=Path(env["MURANO_FLOW_HOME"]).parent)


def _engine(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "murano_flow", "engine", "serve", "--poll",
                             "0.2s", "--lease", "3s"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _stop(engines: list[subprocess.Popen[str]]) -> None:
    for e in engines:
        e.send_signal(signal.SIGTERM)
    for e in engines:
        e.communicate(timeout=60)


def test_each_cron_time_is_fired_by_one_of_two_engines(tmp_path, env):
    out = tmp_path / "out"
    assert _mf(env, "push", str(tmp_path / "tick.yaml")).stdout.strip() == "tick version 1"
    added = _mf(env, "trigger", "add", "every-second", "--blueprint", "tick", "--cron",
                "* * * * * *", "-p", f"out={out}", "-p", f"pw={SECRET}")
    assert added.returncode == 0, added.stderr
    engines = [_engine(env), _engine(env)]
    with SqliteStore(tmp_path / "j.db") as store:
        wait_until(lambda: store.trigger("every-second").fired >= 4, "four firings")
        assert _mf(env, "trigger", "remove", "every-second").returncode == 0

        def made() -> list[str]:
            return [d.id for d in store.deployments() if d.id.startswith("every-second-")]

        wait_until(lambda: all(store.deployment(d).state == "succeeded" for d in made()),
                   "every firing's deployment done")
        ids = made()
    _stop(engines)
    # one deployment per due time: a second firing of one time would converge the same
    # id instead of making a new one, and its action would run twice
    lines = out.read_text().split("\n")[:-1]
    assert len(ids) >= 4 and len(set(ids)) == len(ids)
    assert sorted(line.split()[0] for line in lines) == sorted(ids)
    assert {line.split()[1] for line in lines} == {str(len(SECRET))}  # the secret arrived
    journal = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*"))
    assert SECRET.encode() not in journal  # sealed in the trigger, never in clear


def test_bad_triggers_are_refused_and_nothing_is_journaled(tmp_path, env):
    assert _mf(env, "push", str(tmp_path / "tick.yaml")).returncode == 0
    for args, message in [
        (["--cron", "61 * * * *"], "is not a cron expression"),
        (["--cron", "* * * * *", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--on-message", "no-key"], "EXCHANGE:ROUTING_KEY"),
        ([], "a cron expression or a message address"),
        (["--cron", "* * * * *", "--blueprint", "nope"], "no stored blueprint 'nope'"),
        (["--cron", "* * * * *", "--deployment", "../x"], "bad deployment id"),
    ]:
        run = _mf(env, "trigger", "add", "t", "--blueprint", "tick", "-p", "out=x",
                  "-p", "pw=y", *args)
        assert run.returncode == 2 and message in run.stderr, (args, run.stderr)
    missing = _mf(env, "trigger", "add", "t", "--blueprint", "tick", "--cron", "* * * * *")
    assert missing.returncode == 2 and "out" in missing.stderr  # its required parameter
    assert "no trigger" in _mf(env, "trigger", "list").stdout
    gone = _mf(env, "trigger", "remove", "t")
    assert gone.returncode == 2 and "no trigger 't'" in gone.stderr


@pytest.mark.integration
def test_a_message_trigger_fires_on_a_matching_message(tmp_path, env, broker_url, exchange):
    from kits.broker import publish, queue_exists

    out = tmp_path / "out"
    env = {**env, "MURANO_FLOW_BROKER": broker_url}
    assert _mf(env, "push", str(tmp_path / "tick.yaml")).returncode == 0
    added = _mf(env, "trigger", "add", "on-death", "--blueprint", "tick", "--deployment", "c",
                "--on-message", f"{exchange}:vm.died", "--match", "event=vm.died",
                "-p", f"out={out}", "-p", "pw=x")
    assert added.returncode == 0, added.stderr
    engine = _engine(env)
    try:
        with SqliteStore(tmp_path / "j.db") as store:
            queue = f"murano-flow.trigger.on-death.{exchange}.vm.died"
            wait_until(lambda: queue_exists(broker_url, queue), "the trigger's queue")
            publish(broker_url, exchange, "vm.died", {"event": "other"})  # does not match
            publish(broker_url, exchange, "vm.died", {"event": "vm.died"})
            wait_until(lambda: store.trigger("on-death").fired == 1, "one firing")
            wait_until(lambda: store.deployment("c").state == "succeeded", "c deployed")
            assert "message via" in store.trigger("on-death").last
    finally:
        _stop([engine])
    assert out.read_text() == "c 1\n"

