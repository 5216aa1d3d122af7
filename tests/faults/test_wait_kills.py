"""The engine killed with SIGKILL while states wait for a timer, a signal and a broker
message (blueprints/gated-release.yaml, with a short soak): the signal and the message
sent while no engine runs are kept, the timer keeps its journaled deadline, and after
resume each wait fires once and each action ran once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from harness import Crasher
from kits.broker import publish, queue_exists
from kits.common import BLUEPRINTS

from murano_flow.engine.waits import queue_name
from murano_flow.store import SqliteStore

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _blueprint(tmp_path: Path, soak: str, exchange: str) -> Path:
    text = (BLUEPRINTS / "gated-release.yaml").read_text()
    text = text.replace("wait: {after: 10m}", f"wait: {{after: {soak}}}")
    text = text.replace("exchange: monitoring", f"exchange: {exchange}")
    path = tmp_path / "gated-release.yaml"
    path.write_text(text)
    return path


def _statuses(journal: Path, dep: str) -> dict[str, str]:
    with SqliteStore(journal) as store:
        return {n.name: n.status for n in store.nodes(dep)}


def _until(check, limit: float = 20.0, what: str = "") -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _publish(broker_url: str, exchange: str, body: dict) -> None:
    publish(broker_url, exchange, "health.release", body)


def test_kill_while_waiting_then_resume_fires_each_wait_once(tmp_path, broker_url, exchange):
    bp = _blueprint(tmp_path, "4s", exchange)
    work = tmp_path / "release"
    crasher = Crasher(tmp_path / "home", "rel", seed=0)
    common = ["--broker", broker_url]

    engine = crasher.command(*common, "deploy", str(bp), "--id", "rel", "-p", f"workdir={work}")
    _until(lambda: crasher.state() == "running" and _statuses(crasher.journal, "rel").get(
        "release.Soaked") == "waiting" and _statuses(crasher.journal, "rel").get(
        "release.AllClear") == "waiting", what="the waits to start")
    with SqliteStore(crasher.journal) as store:
        due = {n.name: n for n in store.nodes("rel")}["release.Soaked"].waiting["due"]
    engine.send_signal(signal.SIGKILL)
    engine.wait()

    # While no engine runs: a message that does not pass the filter, one that does, and
    # the operator's approval (kept although Approved is still pending behind the timer).
    _publish(broker_url, exchange, {"status": "ok", "version": "1.0"})
    _publish(broker_url, exchange, {"status": "ok", "version": "2.0"})
    signalled = crasher.command("signal", "rel", "release.Approved", "--data",
                                '{"approved_by": "alice"}')
    assert signalled.wait(30) == 0

    # A second engine, killed as soon as it has re-armed the waits (before the timer).
    engine = crasher.command(*common, "resume", "rel")
    _until(lambda: "release.AllClear" in _arrived(crasher.journal) or time.time() > due - 1,
           what="the second engine to take the message")
    engine.send_signal(signal.SIGKILL)
    engine.wait()

    final = crasher.command(*common, "resume", "rel")
    assert final.wait(60) == 0, (crasher.home / f"run-{crasher.runs}.log").read_text()

    with SqliteStore(crasher.journal) as store:
        nodes = {n.name: n for n in store.nodes("rel")}
        events = store.events("rel")
        left = store.signals("rel")
    assert all(n.status == "reached" for n in nodes.values()), nodes
    arrived = _arrived(crasher.journal)
    assert sorted(arrived) == ["release.AllClear", "release.Approved", "release.Soaked"]
    fired = next(e for e in events if e.kind == "arrived" and e.node == "release.Soaked")
    assert fired.ts >= due, "the timer fired before its journaled deadline"
    assert nodes["release.AllClear"].outputs == {"status": "ok", "version": "2.0"}
    assert nodes["release.Approved"].outputs == {"approved_by": "alice"}
    assert (work / "installed").read_text() == "2.0\n"  # Installed ran once
    assert (work / "switched").read_text() == "2.0 approved by alice\n"
    assert left == []  # every inbox entry was acted on
    assert not queue_exists(broker_url, queue_name("rel", "release.AllClear"))
    assert crasher.command("fsck", "rel").wait(30) == 0


def _arrived(journal: Path) -> list[str]:
    """Nodes with an 'arrived' event, once per event (so duplicates would show)."""
    with SqliteStore(journal) as store:
        try:
            return [e.node for e in store.events("rel") if e.kind == "arrived"]
        except Exception:  # noqa: BLE001 - not created yet
            return []
