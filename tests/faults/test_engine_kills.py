"""The engine killed with SIGKILL at seeded random points, resumed each time: the
deployment finishes, every action's side effect happened exactly once, and the
journal passes ``murano-flow fsck``. Then the same through a failure and its
automatic rollback: every undo ran exactly once, in a valid order."""

from __future__ import annotations

import os
import time
from pathlib import Path

import chain
import pytest
from harness import Crasher, order, side_effects
from kits.postgres import pg_url  # noqa: F401 - fixture

#: Engine kills per deployment (MURANO_FLOW_TEST_KILLS raises it for a longer soak).
KILLS = int(os.environ.get("MURANO_FLOW_TEST_KILLS", "30"))
#: Engine kills while a rollback runs, the first one as it starts.
ROLLBACK_KILLS = 10

pytestmark = pytest.mark.faults


def _journal(crasher: Crasher) -> tuple[list, list]:
    with crasher.store() as store:
        return store.nodes(crasher.deployment), store.events(crasher.deployment)


def _logs(crasher: Crasher) -> str:
    return "\n".join(p.read_text()[-1500:] for p in sorted(crasher.home.glob("run-*.log"))[-3:])


def _fsck(crasher: Crasher) -> int:
    return crasher.command("fsck", crasher.deployment).wait(timeout=60)


@pytest.mark.parametrize("seed", [5])
def test_killed_engines_resume_to_the_end_and_every_action_runs_once(tmp_path: Path, seed):
    # 30 kills: 92 states, 73 actions; about 40 are done at the last kill, on this machine
    _kill_and_resume(tmp_path, Crasher(tmp_path / "home", "chain", seed), KILLS)


@pytest.mark.integration
@pytest.mark.parametrize("seed", [7])
def test_the_same_on_the_postgresql_journal(tmp_path: Path, pg_url, seed):  # noqa: F811
    # A kill inside a PostgreSQL transaction (store.commit) drops the connection: the server
    # rolls the transaction back; the fenced commits and the lease work across kills.
    _kill_and_resume(tmp_path, Crasher(tmp_path / "home", "chain", seed, store_url=pg_url), 12)


def _kill_and_resume(tmp_path: Path, crasher: Crasher, kills: int) -> None:
    members = max(18, kills * 3 // 5)
    blueprint = chain.write(tmp_path, members=members)
    counter = tmp_path / "counter.txt"
    params = ["-p", f"counter={counter}", "-p", "pause=0.2", "-w", "1"]

    final = crasher.run(["deploy", str(blueprint), "--id", "chain", *params],
                        ["resume", "chain", *params], kills=kills, done={"succeeded"})

    assert final == "succeeded", _logs(crasher)
    assert len(crasher.kills) >= kills, crasher.kills
    assert {k.split()[1].split(":")[0] for k in crasher.kills if k.startswith("placed")} \
        == {"store.commit", "engine.dispatched", "engine.completed"}
    nodes, events = _journal(crasher)
    actions = {n.name for n in nodes if n.has_action}
    effects = side_effects(counter)
    assert set(effects) == actions and len(actions) == 4 * members + 1
    twice = {n: dict(c) for n, c in effects.items() if c != {"start": 1, "end": 1}}
    assert not twice, f"ran more or less than once: {twice}; kills: {crasher.kills}"
    assert any(e.kind == "reattaching" for e in events)  # some kills landed mid-action
    assert _fsck(crasher) == 0, _logs(crasher)


@pytest.mark.parametrize("seed", [11])
def test_a_failure_rolls_back_through_engine_kills_undoing_each_state_once_in_order(
        tmp_path: Path, seed):
    blueprint = chain.write(tmp_path, members=12, on_failure="rollback")
    counter = tmp_path / "counter.txt"
    crasher = Crasher(tmp_path / "home", "chain", seed)
    # A late failure (most states reached first), then slow undos: a long rollback.
    params = ["-p", f"counter={counter}", "-p", "pause=0.1", "-p", "undo_pause=0.5",
              "-p", "fail=svc[6].Started", "-w", "2"]
    first = crasher.command("deploy", str(blueprint), "--id", "chain", *params)
    deadline = time.monotonic() + 120
    while crasher.state() != "rolling_back":  # the failure happened; undos are starting
        assert first.poll() is None and time.monotonic() < deadline, _logs(crasher)
        time.sleep(0.02)
    first.kill()
    assert first.wait() == -9

    final = crasher.run([], ["resume", "chain", *params], kills=ROLLBACK_KILLS,
                        done={"rolled_back"})

    assert final == "rolled_back", _logs(crasher)
    assert len(crasher.kills) >= ROLLBACK_KILLS, crasher.kills
    assert all(k.endswith("(rolling_back)") for k in crasher.kills), crasher.kills
    nodes, _ = _journal(crasher)
    effects = side_effects(counter)
    assert effects["svc[6].Started"] == {"start": 1, "undo": 1}  # failed once, undone once
    for node, seen in effects.items():
        assert seen["start"] == 1 and seen["undo"] == 1, (node, dict(seen), crasher.kills)
    assert len(effects) > 30 and {n.status for n in nodes} <= {"undone", "pending"}
    undone = order(counter, "undo")
    position = {node: k for k, node in enumerate(undone)}
    for n in nodes:  # a state is undone only after everything that required it
        for r in n.requires:
            if n.name in position and r in position:
                assert position[n.name] < position[r], (n.name, r, undone)
    assert _fsck(crasher) == 0, _logs(crasher)
