"""Kill the engine with SIGKILL at seeded random points, resume, and count side effects.

A kill is either *timed* (a random delay after the engine process starts, so it
lands anywhere: loading, mid-action, between commits) or *placed* (a crash point
armed through MURANO_FLOW_CRASH_AT: mid journal transaction, right after the
'running' rows are committed, right after outcomes are applied in memory).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kits.effects import order, side_effects  # noqa: F401 - the fault tests' counters

from murano_flow.store import Store, open_store

#: Crash points the engine and its journal offer (murano_flow/faults.py).
POINTS = ("store.commit", "engine.dispatched", "engine.completed")


@dataclass
class Crasher:
    """Runs ``murano-flow`` commands for one deployment and kills them as the seed says."""

    home: Path
    deployment: str
    seed: int
    env: dict[str, str] = field(default_factory=dict)
    kills: list[str] = field(default_factory=list)
    runs: int = 0
    #: The journal's URL; by default an SQLite file in ``home``.
    store_url: str = ""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.journal = self.home / "journal.db"
        self.store_url = self.store_url or f"sqlite:///{self.journal}"
        self.home.mkdir(parents=True, exist_ok=True)

    def store(self) -> Store:
        """The journal, opened."""
        return open_store(self.store_url)

    def command(self, *args: str, crash_at: str = "") -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MURANO_FLOW_")}
        env.update(self.env, MURANO_FLOW_HOME=str(self.home),
                   MURANO_FLOW_STORE=self.store_url)
        if crash_at:
            env["MURANO_FLOW_CRASH_AT"] = crash_at
        self.runs += 1
        log = (self.home / f"run-{self.runs}.log").open("wb")
        return subprocess.Popen([sys.executable, "-m", "murano_flow", *args], env=env,
                                stdout=log, stderr=subprocess.STDOUT)

    def state(self) -> str | None:
        """The deployment's state in the journal, None if it was never created."""
        if self.store_url.startswith("sqlite") and not self.journal.exists():
            return None
        with self.store() as store:
            try:
                return store.deployment(self.deployment).state
            except Exception:  # noqa: BLE001 - not created yet
                return None

    def one_run(self, first: list[str], then: list[str], kill: bool) -> int | None:
        """Start the deployment (or resume it) once; kill it if ``kill``; its exit code,
        or None when it was killed."""
        args = first if self.state() is None else then
        if not kill:
            code = self.command(*args).wait(timeout=300)
            self.check(code)
            return code
        if len(self.kills) % 2 == 0:  # every other kill at a crash point, each in turn
            point = f"{POINTS[len(self.kills) // 2 % len(POINTS)]}:{self.rng.randint(1, 6)}"
            proc = self.command(*args, crash_at=point)
            how = f"placed {point}"
        else:
            proc = self.command(*args)
            delay = self.rng.uniform(0.3, 0.8)  # the engine needs ~0.3 s to start
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.kill()
            how = f"timed {delay:.2f}s"
        code = proc.wait(timeout=300)
        if code == -9:
            self.kills.append(f"{how} ({self.state()})")  # what it was doing when it died
            return None
        self.check(code)
        return code

    def check(self, code: int) -> None:
        """A run that was not killed ends the deployment (0, 1) or was interrupted."""
        if code not in (0, 1, 130):
            log = sorted(self.home.glob("run-*.log"), key=lambda p: int(p.stem[4:]))[-1]
            raise AssertionError(f"run {self.runs} exited {code}:\n{log.read_text()[-3000:]}")

    def run(self, first: list[str], then: list[str], kills: int, done: set[str]) -> str:
        """Kill ``kills`` engines (fewer if it finishes first), then resume to the end."""
        while len(self.kills) < kills and self.state() not in done:
            self.one_run(first, then, kill=True)
            time.sleep(0.05)
        for _ in range(3):
            if self.state() in done:
                break
            self.one_run(first, then, kill=False)
        state = self.state()
        assert state is not None
        return state
