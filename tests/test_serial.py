"""Rolling out a counted entity in batches (``serial``): a batch starts once every member
of the batch before it is done; a failure stops the rollout there."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from murano_flow.blueprint import parse_blueprint
from murano_flow.cli import cli
from murano_flow.graph import StateGraph
from murano_flow.store import open_store

ROLL = """\
format: 1
name: roll
parameters:
  n: {type: integer, default: 5}
  fail: {type: string, default: ""}
  budget: {type: integer, default: 0}
entities:
  web:
    count: "{{ params.n }}"
    serial: 2
    max_failures: "{{ params.budget }}"
    states:
      Installed:
        action:
          inline: 'case ",$FAIL," in *",$MURANO_FLOW_INDEX,"*) exit 1;; esac'
          env: {FAIL: "{{ params.fail }}"}
      Deployed: {requires: Installed, action: "true"}
  lb:
    states:
      Deployed: {requires: ["web[*].Deployed"], action: "true"}
"""


def statuses(home: Path, dep: str) -> dict[str, str]:
    with open_store(f"sqlite:///{home}/journal.db") as store:
        return {n.name: n.status for n in store.nodes(dep)}


def waves(**params) -> list[list[str]]:
    bp = parse_blueprint(ROLL, "roll.yaml", params, strict=True)
    return [sorted(n.name for n in wave) for wave in StateGraph(bp).waves()]


def test_each_batch_starts_once_the_one_before_is_done():
    assert waves() == [
        ["web[0].Installed", "web[1].Installed"], ["web[0].Deployed", "web[1].Deployed"],
        ["web[2].Installed", "web[3].Installed"], ["web[2].Deployed", "web[3].Deployed"],
        ["web[4].Installed"], ["web[4].Deployed"], ["lb.Deployed"]]
    # a sixth member joins the last batch
    assert waves(n=6)[4] == ["web[4].Installed", "web[5].Installed"]


def test_a_failure_stops_the_rollout_at_its_batch(tmp_path: Path, home: Path):
    path = tmp_path / "roll.yaml"
    path.write_text(ROLL)
    done = CliRunner().invoke(cli, ["deploy", str(path), "--id", "r", "-p", "fail=2",
                                    "--on-failure", "continue"])
    assert done.exit_code == 1
    status = statuses(home, "r")
    assert status["web[2].Installed"] == "failed"
    assert status["web[3].Deployed"] == "reached"  # its batch finished (on_failure: continue)
    assert status["web[4].Installed"] == "pending"  # the next batch never started
    assert status["web[0].Deployed"] == "reached" and status["lb.Deployed"] == "pending"


def test_a_failure_within_max_failures_lets_the_rollout_go_on_without_that_member(
        tmp_path: Path, home: Path):
    path = tmp_path / "roll.yaml"
    path.write_text(ROLL)
    done = CliRunner().invoke(cli, ["deploy", str(path), "--id", "r", "-p", "fail=2",
                                    "-p", "budget=1"])
    assert done.exit_code == 1  # a member failed: the deployment did not reach lb
    assert "web[2] stops there, within its rollout's max_failures (1)" in done.output
    status = statuses(home, "r")
    assert status["web[2].Installed"] == "failed" and status["web[2].Deployed"] == "pending"
    assert status["web[4].Deployed"] == "reached"  # the next batch went on without web[2]
    assert status["lb.Deployed"] == "pending"
    # a second failed member is one too many: its policy (stop) applies, web[4] waits
    assert CliRunner().invoke(cli, ["rollback", "r"]).exit_code == 0  # frees the hosts
    again = CliRunner().invoke(cli, ["deploy", str(path), "--id", "s", "-p",
                                     "fail=1,2", "-p", "budget=1", "-p", "n=5"])
    assert again.exit_code == 1
    status = statuses(home, "s")
    assert status["web[4].Installed"] == "pending"
    assert ("web[1] stops there" in again.output) != ("web[2] stops there" in again.output)


def test_a_resumed_rollout_counts_the_failures_its_dead_engine_recorded():
    from murano_flow.engine.resolver import Forward, Rollout

    bp = parse_blueprint(ROLL, "roll.yaml", {"budget": 1}, strict=True)
    graph = StateGraph(bp)
    failed = graph.ids["web[2].Installed"]
    satisfied = [n.startswith(("web[0]", "web[1]", "web[3]")) for n in graph.names]
    todo = [not s and i != failed for i, s in enumerate(satisfied)]
    forward = Forward(graph.preds, graph.succ, satisfied, todo, Rollout(graph.nodes, graph.ids),
                      graph.nodes, [failed])
    assert forward.beyond_budget == []  # web[2]'s failure took the budget ...
    assert [graph.names[i] for i in forward.initial()] == ["web[4].Installed"]  # ... web[4] goes
    other = graph.ids["web[3].Installed"]
    assert forward.failed(other) is None  # a second failed member: its policy applies
