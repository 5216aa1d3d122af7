"""Run directories are bounded: each state keeps its newest collected runs of each kind,
never one still running or in doubt."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.wire.runner import KEEP_RUNS, prune_runs


def _run(parent: Path, name: str, collected: bool = True) -> Path:
    path = parent / name
    path.mkdir(parents=True)
    if collected:
        (path / "result.json").write_text("{}")
    return path


def test_the_oldest_collected_runs_go_and_uncollected_ones_stay(tmp_path: Path):
    state = tmp_path / "dep" / "a.Deployed"
    for n in range(1, 9):
        _run(state, f"action-{n}")
    doubt = _run(state, "action-0", collected=False)  # its outcome is still to be asked
    probe = _run(state, "check-1")
    removed = prune_runs(state / "action-8", keep=3)
    assert sorted(p.name for p in removed) == [f"action-{n}" for n in range(1, 6)]
    left = sorted(p.name for p in state.iterdir())
    assert left == ["action-0", "action-6", "action-7", "action-8", "check-1"]
    assert doubt.exists() and probe.exists()


BP = """\
format: 1
name: probed
entities:
  a:
    states:
      Deployed: {action: "true", check: "true"}
"""


def test_drift_checks_keep_a_bounded_number_of_run_directories(tmp_path: Path, home: Path):
    bp = tmp_path / "bp.yaml"
    bp.write_text(BP)
    assert CliRunner().invoke(cli, ["deploy", str(bp), "--id", "p1"]).exit_code == 0
    for _ in range(KEEP_RUNS + 4):
        assert CliRunner().invoke(cli, ["check", "p1"]).exit_code == 0
    checks = list((home / "runs" / "p1" / "a.Deployed").glob("check-*"))
    assert len(checks) == KEEP_RUNS
