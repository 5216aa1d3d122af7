"""`engine serve` and `deploy --detach` through the CLI, on the embedded SQLite journal:
submitted deployments are driven, secrets reach the actions sealed, SIGTERM hands a
deployment over mid-action and the next engine re-attaches to it; bad input exits 2."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from kits.common import wait_until

from murano_flow.app.service import EngineService
from murano_flow.blueprint import parse_blueprint
from murano_flow.cli import cli
from murano_flow.engine.engine import Engine
from murano_flow.errors import StoreError
from murano_flow.states import FINISHED
from murano_flow.store import SqliteStore

#: What the second action writes when it got the secret: its hash, not the secret.
CHECKED = hashlib.sha256(b"s3cret-value").hexdigest()[:16]

BLUEPRINT = """\
format: 1
name: slow
parameters:
  out: {type: string}
  pw: {type: string, secret: true}
  pause: {type: string, default: "0"}
entities:
  a:
    host: {transport: local}
    states:
      Installed:
        action:
          inline: 'echo start >> "$OUT"; sleep "$PAUSE"; echo end >> "$OUT"'
          env: {OUT: "{{ params.out }}", PAUSE: "{{ params.pause }}"}
      Deployed:
        requires: Installed
        action:
          inline: 'printf %s "$PW" | sha256sum | cut -c1-16 >> "$OUT"'
          env: {OUT: "{{ params.out }}", PW: "{{ params.pw }}"}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "bp.yaml").write_text(BLUEPRINT)
    return {**os.environ, "MURANO_FLOW_STORE": f"sqlite:///{tmp_path}/j.db",
            "MURANO_FLOW_HOME": str(tmp_path / "home"),
            "MURANO_FLOW_AGENT_SECRET": "serve-test-secret"}


def _mf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "murano_flow", *args], env=env, text=True,
                          capture_output=True, timeout=60)


def _serve(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "murano_flow", "engine", "serve",
                             "--poll", "0.2s", "--lease", "3s", *extra], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not json.loads(_mf(env, "engine", "list", "-f", "json").stdout or "[]"):
        assert time.monotonic() < deadline and proc.poll() is None, \
            proc.stdout.read() if proc.stdout else ""
        time.sleep(0.2)
    return proc


def _until(what, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := what()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def _stop_when_finished(serve: subprocess.Popen[str], tmp_path: Path, dep_id: str) -> str:
    """Stop the service once ``dep_id`` is finished; its output. (An idle timer would race
    with a slow command that submits the work.)"""
    def finished() -> bool:
        with SqliteStore(tmp_path / "j.db") as store:
            return store.deployment(dep_id).state in FINISHED

    wait_until(finished, f"the service to finish {dep_id}")
    serve.send_signal(signal.SIGTERM)
    return serve.communicate(timeout=60)[0]


def test_detached_deployments_are_driven_by_the_service_with_sealed_secrets(tmp_path, env):
    out = tmp_path / "out.txt"
    serve = _serve(env)
    submitted = _mf(env, "deploy", str(tmp_path / "bp.yaml"), "--detach", "--id", "s1",
                    "-p", f"out={out}", "-p", "pw=s3cret-value")
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.strip() == "s1" and "submitted to the engine services" in \
        submitted.stderr
    output = _stop_when_finished(serve, tmp_path, "s1")
    assert serve.returncode == 0, output
    assert out.read_text().split() == ["start", "end", CHECKED]  # the secret arrived
    journal = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*"))
    assert b"s3cret-value" not in journal  # sealed, never in the clear
    with SqliteStore(tmp_path / "j.db") as store:
        dep = store.deployment("s1")
        assert (dep.state, dep.owner, dep.request) == ("succeeded", "", "")
        engines = {e.engine for e in store.events("s1") if e.engine}
    assert len(engines) == 1


def test_sigterm_hands_over_and_the_next_engine_reattaches(tmp_path, env):
    out = tmp_path / "out.txt"
    first = _serve(env)
    assert _mf(env, "deploy", str(tmp_path / "bp.yaml"), "--detach", "--id", "h1",
               "-p", f"out={out}", "-p", "pw=s3cret-value", "-p", "pause=3").returncode == 0
    _until(lambda: out.exists() and "start" in out.read_text())
    first.send_signal(signal.SIGTERM)
    output, _ = first.communicate(timeout=30)
    assert first.returncode == 0, output
    assert "handing 1 deployments over" in output
    with SqliteStore(tmp_path / "j.db") as store:
        dep = store.deployment("h1")
        assert (dep.owner, dep.request, dep.state) == ("", "deploy", "running")
        assert any("handed over" in e.message for e in store.events("h1"))
    second = _serve(env, "--exit-when-idle", "4s")
    output, _ = second.communicate(timeout=60)
    assert out.read_text().split() == ["start", "end", CHECKED], output  # once
    with SqliteStore(tmp_path / "j.db") as store:
        assert store.deployment("h1").state == "succeeded"
        kinds = [e.kind for e in store.events("h1")]
        assert "reattaching" in kinds
        assert len({e.engine for e in store.events("h1") if e.engine}) == 2



def test_events_follow_goes_on_through_a_takeover(tmp_path, env):
    """Following a deployment whose engine was killed: with engine services alive it is
    taken over, so `events --follow` waits for the new engine's events, to the end."""
    out = tmp_path / "out.txt"
    first = _serve(env)
    assert _mf(env, "deploy", str(tmp_path / "bp.yaml"), "--detach", "--id", "k1",
               "-p", f"out={out}", "-p", "pw=s3cret-value", "-p", "pause=3").returncode == 0
    _until(lambda: out.exists() and "start" in out.read_text())
    first.kill()
    first.communicate(timeout=30)
    fsck = _mf(env, "fsck", "k1")
    assert "an engine service takes it over ('deploy' was asked for" in fsck.stdout
    second = _serve(env, "--exit-when-idle", "4s")
    follow = _mf(env, "events", "k1", "--follow")
    assert follow.returncode == 0, follow.stdout + follow.stderr
    assert "its engine is gone" not in follow.stderr
    lines = follow.stdout.splitlines()
    assert any("reattaching" in line for line in lines)
    assert lines[-1].endswith("2 nodes reached")  # followed to the end
    second.communicate(timeout=60)
    assert out.read_text().split() == ["start", "end", CHECKED]  # once

def test_with_no_engine_service_detach_starts_a_background_engine(tmp_path, env):
    out = tmp_path / "out.txt"
    done = _mf(env, "deploy", str(tmp_path / "bp.yaml"), "--detach", "--id", "b1",
               "-p", f"out={out}", "-p", "pw=s3cret-value")
    assert done.returncode == 0 and done.stdout.strip() == "b1", done.stderr
    _until(lambda: out.exists() and CHECKED in out.read_text())
    with SqliteStore(tmp_path / "j.db") as store:
        _until(lambda: store.deployment("b1").owner == "")
        assert store.deployment("b1").request == ""


@pytest.mark.parametrize("args, message", [
    (["engine", "serve", "--lease", "1s"], "--lease must be at least 3s"),
    (["engine", "serve", "--lease", "soon"], "--lease"),
    (["engine", "serve", "--max-actions", "0"], "--max-actions"),
    (["engine", "serve", "--exit-when-idle", "-1s"], "--exit-when-idle"),
])
def test_bad_serve_options_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["--store", f"sqlite:///{tmp_path}/j.db", *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_on_sqlite_and_an_unreachable_postgresql(tmp_path):
    ok = CliRunner().invoke(cli, ["--store", f"sqlite:///{tmp_path}/j.db", "db", "upgrade"])
    assert ok.exit_code == 0 and "version" in ok.output
    bad = CliRunner().invoke(cli, ["--store", "postgresql://x:pw@127.0.0.1:1/none", "db",
                                   "upgrade"])
    assert bad.exit_code == 3 and "cannot connect" in bad.output and "pw@" not in bad.output


def _journal(store, dep_id: str, request: str = "deploy", **params: str) -> None:
    """Journal a deployment of BLUEPRINT, as `deploy` does, asking for an engine if
    ``request``."""
    bp = parse_blueprint(BLUEPRINT, "bp.yaml", {"out": "x", "pw": "y", **params}, strict=True)
    Engine(store, lambda kind, fields: None).create(bp, dep_id, {"text": bp.text, "scripts": {}})
    if request:
        store.set_request(dep_id, request)


def _without_secret(dep):
    """The journaled blueprint as a service reads it when no secret was sealed."""
    return parse_blueprint(dep.source["text"], dep.path, {"out": "x"}, strict=True)


def _serve_in_process(store, load, seconds: float = 1.0) -> EngineService:
    service = EngineService(store, lambda kind, fields: None, load, poll=0.05, ttl=3)
    started = time.monotonic()
    service.serve(until=lambda: time.monotonic() - started > seconds)
    return service


def test_status_says_a_submitted_deployment_waits_for_an_engine(tmp_path):
    with SqliteStore(tmp_path / "j.db") as store:
        _journal(store, "w1")
    result = CliRunner().invoke(cli, ["--store", f"sqlite:///{tmp_path}/j.db", "status", "w1"])
    assert result.exit_code == 0
    assert "submitted (deploy): waiting for an engine service (none is running" in result.output


def test_a_deployment_the_service_cannot_drive_is_answered_once_with_why(tmp_path):
    with SqliteStore(tmp_path / "j.db") as store:
        _journal(store, "nope")
        loads = []

        def load(dep):  # without the secret: it is required, so refused
            loads.append(dep.id)
            return _without_secret(dep)

        service = _serve_in_process(store, load)
        dep = store.deployment("nope")
        assert loads == ["nope"]  # answered once, not retried in a loop
        assert (dep.state, dep.owner, dep.request) == ("pending", "", "")
        assert "cannot drive it" in dep.reason and "pw" in dep.reason
        assert store.events("nope")[-1].engine == service.me


def test_a_journal_error_lets_the_deployment_go_for_another_try(tmp_path):
    with SqliteStore(tmp_path / "j.db") as store:
        _journal(store, "flaky")
        loads = []

        def load(dep):
            loads.append(store.deployment(dep.id).owner)
            if len(loads) == 1:
                raise StoreError("connection reset (as a database restart would)")
            return _without_secret(dep)

        service = _serve_in_process(store, load)
        assert loads == [service.me, service.me]  # released, then taken again
        dep = store.deployment("flaky")
        assert (dep.owner, dep.request) == ("", "") and "cannot drive it" in dep.reason
        assert service.leases.held() == [] and service.share.held("flaky") == 0


def test_resume_detach_seals_the_secrets_given_again(tmp_path, env):
    out = tmp_path / "out.txt"
    with SqliteStore(tmp_path / "j.db") as store:  # journaled by a foreground deploy
        _journal(store, "r1", request="", out=str(out), pw="s3cret-value")
    serve = _serve(env)
    done = _mf(env, "resume", "r1", "--detach", "-p", "pw=s3cret-value")
    assert done.returncode == 0, done.stderr
    output = _stop_when_finished(serve, tmp_path, "r1")
    assert out.read_text().split() == ["start", "end", CHECKED], output
    journal = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*"))
    assert b"s3cret-value" not in journal


def test_engine_metrics_count_what_the_engine_did(tmp_path, env):
    import httpx
    from kits.common import free_ports, wait_until

    port = free_ports(1)[0]
    out = tmp_path / "out.txt"
    serve = _serve(env, "--metrics", f"127.0.0.1:{port}")
    try:
        assert _mf(env, "deploy", str(tmp_path / "bp.yaml"), "--detach", "--id", "m1",
                   "-p", f"out={out}", "-p", "pw=x").returncode == 0

        def scraped() -> dict[str, float]:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines() if line and not line.startswith("#")}

        wait_until(lambda: scraped().get(
            'murano_flow_engine_action_seconds_count{outcome="reached"}') == 2,
            "two actions measured")
        metrics = scraped()
        assert metrics['murano_flow_engine_deployments_taken_total{how="new"}'] == 1
        assert metrics["murano_flow_engine_actions_running"] == 0
        wait_until(lambda: scraped()["murano_flow_engine_deployments_driving"] == 0,
                   "the deployment let go")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200 and health.text.startswith("ok: driving")
        # the run let go first; the service loop counts it out at its next round
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                   .text.startswith("ok: driving 0"), "the health check counting it out")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
    bad = _mf(env, "engine", "serve", "--metrics", "nowhere")
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr


def test_an_engine_is_unhealthy_when_its_loop_stalls_or_the_journal_refuses():
    from murano_flow.app.service import EngineService
    from murano_flow.errors import StoreError
    from murano_flow.store import MemoryStore

    class Refusing(MemoryStore):
        refuse = False

        def heartbeat(self, engine, info, ttl):
            if self.refuse:
                raise StoreError("disk full")
            super().heartbeat(engine, info, ttl)

    store = Refusing()
    service = EngineService(store, lambda kind, fields: None, lambda dep: None, poll=0.05)
    service.serve(until=lambda: True)  # no round of the loop; its last heartbeat only
    assert service.health() == (True, "ok: driving 0 deployments")
    store.refuse = True
    service.serve(until=lambda: True)
    ok, why = service.health()
    assert not ok and "refused its heartbeat: disk full" in why
    store.refuse = False
    service.serve(until=lambda: True)
    service._ticked -= 60  # as if the loop had been stuck for a minute
    ok, why = service.health()
    assert not ok and "has not gone round" in why
