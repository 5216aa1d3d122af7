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
  fail: {type: integer, default: -1}
entities:
  web:
    count: "{{ params.n }}"
    serial: 2
    states:
      Installed:
        action: {inline: '[ "$MURANO_FLOW_INDEX" != "$FAIL" ]', env: {FAIL: "{{ params.fail }}"}}
      Deployed: {requires: Installed, action: "true"}
  lb:
    states:
      Deployed: {requires: ["web[*].Deployed"], action: "true"}
"""


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
    with open_store(f"sqlite:///{home}/journal.db") as store:
        status = {n.name: n.status for n in store.nodes("r")}
    assert status["web[2].Installed"] == "failed"
    assert status["web[3].Deployed"] == "reached"  # its batch finished (on_failure: continue)
    assert status["web[4].Installed"] == "pending"  # the next batch never started
    assert status["web[0].Deployed"] == "reached" and status["lb.Deployed"] == "pending"
