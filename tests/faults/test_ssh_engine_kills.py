"""The engine killed with SIGKILL at seeded random points while it deploys to SSH hosts (a
real sshd on loopback), resumed each time: every action ran exactly once, re-attached
through the supervisor on the host, and the journal passes fsck."""

from __future__ import annotations

from pathlib import Path

import chain
import pytest
from harness import Crasher, side_effects

pytestmark = [pytest.mark.faults, pytest.mark.integration]

KILLS = 12


@pytest.mark.parametrize("seed", [7])
def test_killed_engines_resume_ssh_actions_without_running_any_twice(tmp_path: Path, sshd,
                                                                     seed):
    members = 6  # 32 states, 25 actions
    blueprint = chain.write(tmp_path, members=members)
    counter = tmp_path / "counter.txt"
    user_home = tmp_path / "user"  # ~/.ssh/known_hosts: the blueprint's default
    (user_home / ".ssh").mkdir(parents=True)
    (user_home / ".ssh" / "known_hosts").write_text(sshd.known_hosts.read_text())
    crasher = Crasher(tmp_path / "home", "chain", seed, env={"HOME": str(user_home)})
    params = ["-p", f"counter={counter}", "-p", "pause=0.2", "-p", "transport=ssh",
              "-p", f"ssh_port={sshd.port}", "-p", f"ssh_key={sshd.user_key}",
              "-p", f"ssh_workdir={tmp_path / 'remote'}", "-w", "2"]

    final = crasher.run(["deploy", str(blueprint), "--id", "chain", *params],
                        ["resume", "chain", *params], kills=KILLS, done={"succeeded"})

    assert final == "succeeded", "\n".join(
        p.read_text()[-1500:] for p in sorted(crasher.home.glob("run-*.log"))[-3:])
    assert len(crasher.kills) >= KILLS, crasher.kills
    effects = side_effects(counter)
    assert len(effects) == 4 * members + 1
    twice = {n: dict(c) for n, c in effects.items() if c != {"start": 1, "end": 1}}
    assert not twice, f"ran more or less than once: {twice}; kills: {crasher.kills}"
    assert crasher.command("fsck", "chain").wait(timeout=60) == 0
