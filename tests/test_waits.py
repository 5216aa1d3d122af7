"""States that wait for a timer, a cron time or a signal: the engine and `murano-flow signal`.

Broker messages are tested against the real broker in tests/amqp/test_message_waits.py;
engine kills while waiting in tests/faults/test_wait_kills.py.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from kits.common import wait_until
from test_engine import Recorder, engine_for

from murano_flow.blueprint import parse_blueprint
from murano_flow.blueprint.spec import WaitSpec
from murano_flow.cli import cli
from murano_flow.engine.waits import due_at, match_problem
from murano_flow.store import SqliteStore
from murano_flow.store.base import Signal

APPROVAL = """
format: 1
name: approval
entities:
  app:
    states:
      Installed: {action: echo installed}
      Soaked: {requires: Installed, wait: {after: 0.3s}}
      Approved:
        requires: Soaked
        wait: {signal: true, timeout: 20s}
        outputs: [approver]
      Deployed:
        requires: Approved
        action:
          inline: echo
          env: {WHO: "{{ outputs['app.Approved'].approver }}"}
"""


def _ok(plan):
    return None  # success, no outputs


def _signal(store, dep_id, node, data, *, at=None):
    return store.add_signal(Signal(dep_id, node, at or time.time(), "signal", "test", data))


def _deploy_in_thread(engine, bp, dep_id):
    box = {}
    thread = threading.Thread(target=lambda: box.update(final=engine.deploy(bp, dep_id)))
    thread.start()
    return thread, box


def _waiting_for_approval(tmp_path):
    """An engine deploying APPROVAL on a thread, stopped at app.Approved's wait."""
    engine, store = engine_for(_ok, SqliteStore(tmp_path / "j.db"))
    bp = parse_blueprint(APPROVAL, "t.yaml", {}, strict=True)
    dep = engine.create(bp)
    thread, box = _deploy_in_thread(engine, bp, dep.id)
    _wait_for(store, dep.id, "app.Approved", "waiting")
    return engine, store, bp, dep, thread, box


def _wait_for(store, dep_id, node, status, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if {n.name: n.status for n in store.nodes(dep_id)}[node] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{node} never became {status}")


def test_a_timer_then_a_signal_whose_data_reach_a_later_action(tmp_path):
    rec = Recorder()
    engine, store = engine_for(rec, SqliteStore(tmp_path / "j.db"))
    bp = parse_blueprint(APPROVAL, "t.yaml", {}, strict=True)
    dep = engine.create(bp)
    started = time.time()
    thread, box = _deploy_in_thread(engine, bp, dep.id)
    _wait_for(store, dep.id, "app.Approved", "waiting")
    assert time.time() - started >= 0.3  # the timer held Soaked back
    soaked = next(n for n in store.nodes(dep.id) if n.name == "app.Soaked")
    assert soaked.status == "reached"
    _signal(store, dep.id, "app.Approved", {"approver": "ops"})
    thread.join(10)
    assert box["final"].state == "succeeded"
    assert [p.env["WHO"] for p in rec.calls if p.node == "app.Deployed"] == ["ops"]
    nodes = {n.name: n for n in store.nodes(dep.id)}
    assert nodes["app.Approved"].outputs == {"approver": "ops"}
    assert nodes["app.Approved"].waiting == {}
    kinds = [e.kind for e in store.events(dep.id) if e.node == "app.Approved"]
    assert kinds == ["waiting", "arrived", "reached"]


def test_bad_or_misdirected_signals_change_nothing(tmp_path):
    _, store, _, dep, thread, box = _waiting_for_approval(tmp_path)
    bad = _signal(store, dep.id, "app.Approved", {"who": "ops"})  # lacks the declared output
    elsewhere = _signal(store, dep.id, "app.Deployed", {"approver": "x"})  # not waiting
    # both are read in one pass over the inbox; the bad one is then settled (refused)
    wait_until(lambda: all(s.seq != bad for s in store.signals(dep.id)),
               "the engine to read the inbox")
    nodes = {n.name: n for n in store.nodes(dep.id)}
    assert nodes["app.Approved"].status == "waiting" and nodes["app.Approved"].outputs == {}
    rejected = [e for e in store.events(dep.id) if e.kind == "rejected"]
    assert len(rejected) == 1 and "lacks approver" in rejected[0].message
    good = _signal(store, dep.id, "app.Approved", {"approver": "ops"})
    thread.join(10)
    assert box["final"].state == "succeeded"
    with store._tx() as db:  # what became of each inbox entry
        status = dict(db.execute("SELECT seq, status FROM signals").fetchall())
    # app.Deployed is pending when its signal comes: a signal may come early, so it is
    # kept; once Deployed is reached it is ignored for good
    assert status[bad] == "refused" and status[good] == "applied"
    assert status[elsewhere] in ("new", "ignored")


def test_a_wait_that_times_out_fails_the_state_and_the_policy_applies(tmp_path):
    text = APPROVAL.replace("timeout: 20s", "timeout: 0.5s")
    engine, store = engine_for(_ok, SqliteStore(tmp_path / "j.db"))
    bp = parse_blueprint(text, "t.yaml", {}, strict=True)
    final = engine.deploy(bp, engine.create(bp).id)
    assert final.state == "failed"
    node = {n.name: n for n in store.nodes(final.id)}["app.Approved"]
    assert node.status == "failed"
    assert node.reason == "waited 0.5s for a signal; none came (wait.timeout)"


def test_a_rollback_gives_up_waiting(tmp_path):
    engine, store, bp, dep, thread, _ = _waiting_for_approval(tmp_path)
    engine.request_stop()
    thread.join(10)
    assert store.deployment(dep.id).state == "interrupted"
    # interrupted while waiting: the wait and its deadline are kept for resume
    approved = {n.name: n for n in store.nodes(dep.id)}["app.Approved"]
    assert approved.status == "waiting" and approved.waiting["expires"] > time.time()
    final = engine.rollback(bp, dep.id)
    assert final.state == "rolled_back"
    approved = {n.name: n for n in store.nodes(dep.id)}["app.Approved"]
    assert approved.status == "pending" and approved.waiting == {}


def test_a_timer_keeps_its_deadline_across_engines_and_fires_once(tmp_path):
    """The deadline is journaled: a second engine re-arms it (not a fresh 'after')."""
    text = APPROVAL.replace("after: 0.3s", "after: 1.5s")
    store = SqliteStore(tmp_path / "j.db")
    engine, _ = engine_for(_ok, store)
    bp = parse_blueprint(text, "t.yaml", {}, strict=True)
    dep = engine.create(bp)
    thread, _ = _deploy_in_thread(engine, bp, dep.id)
    _wait_for(store, dep.id, "app.Soaked", "waiting")
    due = {n.name: n for n in store.nodes(dep.id)}["app.Soaked"].waiting["due"]
    engine.request_stop()
    thread.join(10)
    second, _ = engine_for(_ok, store)
    _signal(store, dep.id, "app.Approved", {"approver": "early"})  # kept until it waits
    final = second.deploy(bp, dep.id)
    assert final.state == "succeeded"
    fired = [e for e in store.events(dep.id) if e.node == "app.Soaked" and e.kind == "arrived"]
    assert len(fired) == 1
    assert fired[0].ts >= due  # not earlier than the first engine's deadline
    assert fired[0].ts < due + 1.0  # and not 1.5 s after the second engine started either
    outputs = {n.name: n.outputs for n in store.nodes(dep.id)}
    assert outputs["app.Approved"] == {"approver": "early"}


def test_cron_and_filters():
    spec = WaitSpec("at", cron="30 2 * * *", timezone="Europe/Paris")
    since = datetime(2026, 7, 1, 12, 0, tzinfo=UTC).timestamp()  # 14:00 in Paris
    assert datetime.fromtimestamp(due_at(spec, since), UTC) == datetime(2026, 7, 2, 0, 30,
                                                                       tzinfo=UTC)
    assert due_at(WaitSpec("after", after=60), 100.0) == 160.0
    assert match_problem({"labels.host": "vm1", "severity": ["major", "critical"]},
                         {"labels": {"host": "vm1"}, "severity": "critical"}) == ""
    assert "labels.host is 'vm2'" in match_problem({"labels.host": "vm1"},
                                                   {"labels": {"host": "vm2"}})
    assert "is None" in match_problem({"a.b": 1}, {"a": 3})


# -- the CLI ---------------------------------------------------------------------------------


def _cli(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def waiting_deployment(tmp_path, home, write_blueprint):
    """A deployment journaled but not driven: Approved waits (pending) for a signal."""
    path = write_blueprint(APPROVAL)
    store = SqliteStore(home / "journal.db")
    engine, _ = engine_for(_ok, store)
    bp = parse_blueprint(path.read_text(), str(path), {}, strict=True)
    dep = engine.create(bp, "w", {"text": bp.text, "scripts": {}})
    store.close()
    return dep.id


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "app.Approved"], "no deployment 'nope'"),
    (["w", "app.Aproved"], "did you mean 'app.Approved'"),
    (["w", "app.Soaked"], "does not wait for a signal (it waits for a timer of 0.3s)"),
    (["w", "app.Approved", "--data", "{"], "--data is not JSON"),
    (["w", "app.Approved", "--data", "[1]"], "must be a JSON object"),
    (["w", "app.Approved", "--data", '{"who": 1}'], "the data lacks approver"),
    (["w", "app.Approved", "--data", "{}", "--data-file", "x"], "not both"),
    (["w", "app.Approved", "--data-file", "/nonexistent"], "cannot read /nonexistent"),
])
def test_signal_refuses_bad_input_with_exit_2(waiting_deployment, args, message):
    result = _cli("signal", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_signal_is_kept_until_the_engine_acts_on_it(waiting_deployment, home, tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"approver": "ops"}))
    result = _cli("signal", "w", "app.Approved", "--data-file", str(data), "-f", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["node_status"] == "pending" and answer["engine"] is None
    store = SqliteStore(home / "journal.db")
    assert [s.data for s in store.signals("w")] == [{"approver": "ops"}]
    resumed = _cli("resume", "w")
    assert resumed.exit_code == 0, resumed.output
    assert {n.name: n.outputs for n in store.nodes("w")}["app.Approved"] == {"approver": "ops"}
    assert store.signals("w") == []  # applied: nothing left to act on
    late = _cli("signal", "w", "app.Approved", "--data", '{"approver": "x"}')
    assert late.exit_code == 2 and "is reached: it no longer waits" in late.output


def test_an_event_that_came_before_the_engine_stopped_is_not_lost(tmp_path):
    """The engine stopped after journaling the arrival (inbox entry applied) but before
    the state moved on: the next engine finds the data in the node's row."""
    rec = Recorder()
    store = SqliteStore(tmp_path / "j.db")
    engine, _ = engine_for(rec, store)
    bp = parse_blueprint(APPROVAL, "t.yaml", {}, strict=True)
    dep = engine.create(bp)
    rows = {n.name: n for n in store.nodes(dep.id)}
    for name in ("app.Installed", "app.Soaked"):
        rows[name].status = "reached"
    approved = rows["app.Approved"]
    approved.status, approved.outputs = "waiting", {"approver": "ops"}
    approved.waiting = {"kind": "signal", "arrived": time.time()}
    store.commit(dep.id, list(rows.values()), [])
    final = engine.deploy(bp, dep.id)
    assert final.state == "succeeded"
    assert [p.env["WHO"] for p in rec.calls if p.node == "app.Deployed"] == ["ops"]
    assert {n.name: n.waiting for n in store.nodes(dep.id)}["app.Approved"] == {}
