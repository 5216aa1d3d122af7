"""Composition and direct flows under SIGKILL: a blueprint of three parts (one included
twice) deployed and rolled back through engine kills, and a direct flow killed inside
its error branch; every action's side effect happens exactly once."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from harness import Crasher, order, side_effects
from kits.common import ROOT, wait_until

pytestmark = pytest.mark.faults

STACK = ROOT / "tests" / "compose"


def _logs(crasher: Crasher) -> str:
    return "\n".join(p.read_text()[-1500:] for p in sorted(crasher.home.glob("run-*.log"))[-3:])


def _actions(crasher: Crasher) -> set[str]:
    with crasher.store() as store:
        return {n.name for n in store.nodes(crasher.deployment) if n.has_action}


@pytest.mark.parametrize("seed", [3])
def test_a_composed_deployment_survives_kills_forward_and_back(tmp_path: Path, seed):
    shutil.copytree(STACK, tmp_path / "stack")
    counter = tmp_path / "counter.txt"
    crasher = Crasher(tmp_path / "home", "stack", seed)
    params = ["-p", f"counter={counter}", "-p", "pause=0.3", "-w", "1"]
    final = crasher.run(["deploy", str(tmp_path / "stack" / "stack.yaml"), "--id", "stack",
                         *params], ["resume", "stack", *params], kills=8, done={"succeeded"})
    assert final == "succeeded", _logs(crasher)
    # the deployment may end before the eighth kill; the first three are placed or timed
    # inside it whatever the machine's speed
    assert len(crasher.kills) >= 3, crasher.kills
    effects = side_effects(counter)
    assert set(effects) == _actions(crasher) and len(effects) == 11
    twice = {n: dict(c) for n, c in effects.items() if c != {"start": 1, "end": 1}}
    assert not twice, f"ran more or less than once: {twice}; kills: {crasher.kills}"

    counter.write_text("")
    final = _rollback(crasher, counter)
    assert final == "rolled_back", _logs(crasher)
    undone = order(counter, "undo")
    assert sorted(undone) == sorted(effects) and len(set(undone)) == len(undone), undone
    assert undone.index("app.Deployed") < undone.index("net.router.Up")


def _rollback(crasher: Crasher, counter: Path) -> str:
    """Start the rollback, kill it once it has undone something, then let it finish."""
    first = crasher.command("rollback", "stack")
    wait_until(lambda: "undo " in counter.read_text() or first.poll() is not None,
               "the rollback to undo a first state")
    first.kill()
    first.wait()
    for _ in range(3):
        if crasher.state() == "rolled_back":
            break
        crasher.command("rollback", "stack").wait(timeout=300)
    return str(crasher.state())


BRANCH = """\
    format: 1
    name: branch
    parameters:
      counter: {type: string}
    entities:
      svc:
        flow: direct
        host: {transport: local, name: svc}
        states:
          Install:
            action:
              script: mark.sh
              env: {COUNTER: "{{ params.counter }}", FAIL_NODE: svc.Install}
            on_success: Deployed
            on_error: Collect
          Collect:
            action: {script: mark.sh, env: {COUNTER: "{{ params.counter }}", PAUSE: "1.5"}}
            on_success: Report
          Report:
            action: {script: mark.sh, env: {COUNTER: "{{ params.counter }}"}}
          Deployed: {}
    """


def test_an_engine_killed_inside_an_error_branch_resumes_it_without_running_anything_twice(
        tmp_path: Path):
    shutil.copy(STACK / "lib" / "mark.sh", tmp_path / "mark.sh")
    blueprint = tmp_path / "branch.yaml"
    blueprint.write_text(textwrap.dedent(BRANCH))
    counter = tmp_path / "counter.txt"
    counter.write_text("")
    crasher = Crasher(tmp_path / "home", "branch", 1)
    params = ["-p", f"counter={counter}"]
    first = crasher.command("deploy", str(blueprint), "--id", "branch", *params)
    wait_until(lambda: "start svc.Collect" in counter.read_text() or first.poll() is not None,
               "the error branch to start")
    first.kill()
    assert first.wait() == -9, _logs(crasher)
    assert "end svc.Collect" not in counter.read_text()  # killed mid-branch

    code = crasher.command("resume", "branch", *params).wait(timeout=300)
    assert code == 1, _logs(crasher)  # the branch collected, then the deployment failed
    effects = side_effects(counter)
    assert dict(effects["svc.Install"]) == {"start": 1}  # failed once, never run again
    assert dict(effects["svc.Collect"]) == {"start": 1, "end": 1}  # re-attached, not re-run
    assert dict(effects["svc.Report"]) == {"start": 1, "end": 1}
    with crasher.store() as store:
        dep = store.deployment("branch")
        status = {n.name: n.status for n in store.nodes("branch")}
        kinds = [e.kind for e in store.events("branch") if e.node == "svc.Collect"]
    assert dep.state == "failed" and dep.reason.startswith("svc.Install failed")
    assert status == {"svc.Install": "failed", "svc.Collect": "reached",
                      "svc.Report": "reached", "svc.Deployed": "pending"}
    assert "reattaching" in kinds
