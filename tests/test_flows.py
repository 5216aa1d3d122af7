"""Flow control as a strategy: direct flows (on_success / on_error / on_complete, join)
and ``when`` conditions that read outputs, driven by the same engine as dependency
flows: journaled, resumed, rolled back and converged alike."""

from __future__ import annotations

import pytest
from test_engine import Recorder, run

from murano_flow.blueprint import parse_blueprint
from murano_flow.errors import BlueprintError
from murano_flow.graph.stategraph import StateGraph
from murano_flow.wire.protocol import Result

FAILOVER = """
format: 1
name: failover
entities:
  db:
    flow: direct
    states:
      Primary:
        action: {inline: primary}
        undo: unprimary
        on_success: Deployed
        on_error: Promote
      Promote:
        action: {inline: promote}
        undo: unpromote
        on_success: Deployed
      Deployed: {}
  logs:
    flow: direct
    states:
      Install:
        action: {inline: install}
        on_success: Deployed
        on_error: Collect
      Collect:
        action: {inline: collect}
      Deployed: {}
  app:
    states:
      Deployed:
        requires: [db.Deployed]
        action: app
"""


def _fail(plan):
    return Result(plan.id, "failed", 3, stderr_tail="broken on purpose")


def _statuses(store, dep_id: str) -> dict[str, str]:
    return {n.name: n.status for n in store.nodes(dep_id)}


def test_the_success_path_runs_and_the_error_branches_are_passed_over():
    rec = Recorder()
    _, store, _, verdict = run(FAILOVER, rec)
    assert verdict.state == "succeeded", verdict.reason
    assert rec.nodes() == [n for n in rec.nodes() if n not in ("db.Promote", "logs.Collect")]
    assert set(rec.nodes()) == {"db.Primary", "logs.Install", "app.Deployed"}
    status = _statuses(store, verdict.id)
    assert status["db.Promote"] == status["logs.Collect"] == "skipped"
    events = [e for e in store.events(verdict.id) if e.node == "db.Promote"]
    assert [e.kind for e in events] == ["skipped"] and "not taken" in events[0].message
    [promote] = [n for n in store.nodes(verdict.id) if n.name == "db.Promote"]
    assert promote.attempt == 0  # never ran: nothing to undo, nothing to collect


def test_on_error_of_the_primary_promotes_the_secondary_and_the_deployment_succeeds():
    rec = Recorder()
    rec.behaviour["db.Primary/action"] = _fail
    _, store, _, verdict = run(FAILOVER, rec)
    assert verdict.state == "succeeded", verdict.reason
    order = rec.nodes()
    assert order.index("db.Primary") < order.index("db.Promote") < order.index("app.Deployed")
    status = _statuses(store, verdict.id)
    assert status["db.Primary"] == "failed" and status["db.Deployed"] == "reached"


def test_an_error_branch_that_ends_short_of_deployed_collects_then_fails_the_deployment():
    rec = Recorder()
    rec.behaviour["logs.Install/action"] = _fail
    engine, store, bp, verdict = run(FAILOVER, rec)
    assert verdict.state == "failed"
    assert verdict.reason.startswith("logs.Install failed: ")
    assert "logs.Collect" in rec.nodes()
    status = _statuses(store, verdict.id)
    assert status["logs.Collect"] == "reached" and status["logs.Deployed"] == "pending"
    assert status["app.Deployed"] == "reached"  # nothing stopped the other entities
    kinds = [e.kind for e in store.events(verdict.id) if e.node == "logs.Deployed"]
    assert kinds == ["not_taken"]

    # resumed once the cause is fixed: the failed state runs again, its branch stays done
    rec.behaviour.clear()
    rec.calls.clear()
    again = engine.deploy(bp, verdict.id)
    assert again.state == "succeeded", again.reason
    assert rec.nodes() == ["logs.Install"]


def test_rolling_back_undoes_what_ran_and_never_what_was_passed_over():
    rec = Recorder()
    engine, store, bp, verdict = run(FAILOVER, rec)
    assert verdict.state == "succeeded"
    final = engine.rollback(bp, verdict.id)
    assert final.state == "rolled_back", final.reason
    assert rec.nodes("undo") == ["db.Primary"]  # Promote (passed over) has nothing to undo


def test_a_converge_keeps_the_branch_not_taken_and_runs_only_what_changed():
    rec = Recorder()
    engine, store, bp, verdict = run(FAILOVER, rec)
    rec.calls.clear()
    again = engine.deploy(bp, verdict.id, converge=True)
    assert again.state == "succeeded", again.reason
    assert rec.nodes() == []
    assert _statuses(store, verdict.id)["db.Promote"] == "skipped"


JOIN = """
format: 1
name: join
entities:
  w:
    flow: direct
    states:
      Start: {action: start, on_success: [Left, Right]}
      Left: {action: left, on_success: Both, on_error: Cleanup}
      Cleanup: {action: cleanup}
      Right: {action: right, on_success: Both}
      Both: {action: both, join: all, on_success: Deployed}
      Deployed: {}
"""


def test_join_all_waits_for_every_incoming_transition():
    rec = Recorder()
    _, _, _, verdict = run(JOIN, rec)
    assert verdict.state == "succeeded"
    order = rec.nodes()
    assert order.index("w.Both") > max(order.index("w.Left"), order.index("w.Right"))


def test_join_all_is_passed_over_when_one_incoming_transition_cannot_fire():
    rec = Recorder()
    rec.behaviour["w.Left/action"] = _fail
    _, store, _, verdict = run(JOIN, rec)
    assert verdict.state == "failed"
    assert "w.Both" not in rec.nodes() and "w.Cleanup" in rec.nodes()
    status = _statuses(store, verdict.id)
    assert status["w.Both"] == "skipped" and status["w.Deployed"] == "pending"
    assert verdict.reason.startswith("w.Left failed")


WHEN = """
format: 1
name: when
entities:
  vm:
    count: 2
    states:
      Probed:
        action: probe
        outputs: [role]
      Promoted:
        requires: Probed
        action:
          inline: promote
          when: "{{ outputs['Probed'].role == 'primary' }}"
      Deployed: {requires: Promoted}
"""


def test_when_reads_outputs_of_required_states_at_run_time():
    rec = Recorder()
    rec.behaviour["vm[0].Probed/action"] = lambda p: Result(p.id, "ok", 0,
                                                            outputs={"role": "primary"})
    rec.behaviour["vm[1].Probed/action"] = lambda p: Result(p.id, "ok", 0,
                                                            outputs={"role": "replica"})
    _, store, _, verdict = run(WHEN, rec)
    assert verdict.state == "succeeded", verdict.reason
    assert "vm[0].Promoted" in rec.nodes() and "vm[1].Promoted" not in rec.nodes()
    status = _statuses(store, verdict.id)
    assert status["vm[1].Promoted"] == "skipped" and status["vm[1].Deployed"] == "reached"
    [event] = [e for e in store.events(verdict.id) if e.node == "vm[1].Promoted"]
    assert event.message.startswith("when is false")


def test_a_when_that_cannot_be_read_fails_its_state_with_the_reason():
    rec = Recorder()
    rec.behaviour["vm[0].Probed/action"] = lambda p: Result(p.id, "ok", 0,
                                                            outputs={"role": {"x": 1}})
    rec.behaviour["vm[1].Probed/action"] = lambda p: Result(p.id, "ok", 0,
                                                            outputs={"role": "primary"})
    text = WHEN.replace("outputs['Probed'].role == 'primary'",
                        "outputs['Probed'].role.upper() == 'PRIMARY'")
    _, store, _, verdict = run(text, rec)
    assert verdict.state == "failed"
    [rec0] = [n for n in store.nodes(verdict.id) if n.name == "vm[0].Promoted"]
    assert rec0.status == "failed" and "expression error in when" in rec0.reason


def test_the_plan_of_a_direct_flow_orders_a_branch_after_the_state_it_handles():
    bp = parse_blueprint(FAILOVER, "t.yaml")
    node = bp.nodes["db.Promote"]
    assert node.direct and bp.nodes["db.Primary"].on_error == ("db.Promote",)
    graph = StateGraph(bp)
    assert graph.ids["db.Primary"] in graph.preds[graph.ids["db.Promote"]]
    assert graph.requires[graph.ids["db.Promote"]] == []


@pytest.mark.parametrize(("text", "fragment"), [
    ("on_success: Deployed\n", "belongs to a direct flow"),
])
def test_transitions_need_a_direct_flow(text, fragment):
    bad = "format: 1\nname: t\nentities:\n  e:\n    states:\n      A:\n        action: a\n" \
          "        " + text + "      Deployed: {}\n"
    with pytest.raises(BlueprintError) as info:
        parse_blueprint(bad, "t.yaml")
    assert fragment in str(info.value)


def test_an_error_branch_short_of_deployed_rolls_back_under_on_failure_rollback():
    rec = Recorder()
    rec.behaviour["logs.Install/action"] = _fail
    text = FAILOVER.replace("name: failover\n", "name: failover\non_failure: rollback\n")
    _, store, _, verdict = run(text, rec)
    assert verdict.state == "rolled_back", verdict.reason
    assert "logs.Collect" in rec.nodes()  # the branch ran first, then the rollback
    assert set(rec.nodes("undo")) == {"db.Primary"}  # Promote was passed over


def test_a_handled_failure_says_so_in_the_verdict():
    rec = Recorder()
    rec.behaviour["db.Primary/action"] = _fail
    _, _, _, verdict = run(FAILOVER, rec)
    assert verdict.state == "succeeded"
    assert verdict.reason.endswith("1 failed and their on_error branches took over")
