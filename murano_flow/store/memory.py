"""An in-memory journal for tests and benchmarks; state lives on the instance."""

from __future__ import annotations

import copy
import threading
from typing import Any

from ..errors import NotFound
from .base import SIGNAL_OPEN, DeploymentRecord, Event, NodeRecord, Signal, Store


def _clone(record: Any) -> Any:
    """A shallow copy of a record dataclass (several times faster than copy.copy)."""
    new = object.__new__(type(record))
    new.__dict__.update(record.__dict__)
    return new


class MemoryStore(Store):
    """Keeps everything in dicts; copies on the way in and out, like a database would."""

    def __init__(self) -> None:
        self._deployments: dict[str, DeploymentRecord] = {}
        self._nodes: dict[str, dict[str, NodeRecord]] = {}
        self._events: dict[str, list[Event]] = {}
        self._seq = 0
        self._feed: list[Event] = []
        self._inbox: list[Signal] = []
        self._cursors: dict[str, int] = {}
        self._lock = threading.Lock()

    def create(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
               events: list[Event]) -> None:
        with self._lock:
            self._deployments[deployment.id] = copy.deepcopy(deployment)
            self._nodes[deployment.id] = {n.name: _clone(n) for n in nodes}
            self._events[deployment.id] = []
            self._append(events)

    def commit(self, deployment: str, nodes: list[NodeRecord], events: list[Event],
               state: str | None = None, reason: str | None = None) -> None:
        with self._lock:
            rec = self._get(deployment)
            table = self._nodes[deployment]
            for n in nodes:
                table[n.name] = _clone(n)
            self._append(events)
            if state is not None:
                rec.state = state
            if reason is not None:
                rec.reason = reason
            if events:
                rec.updated = events[-1].ts

    def claim(self, deployment: str, owner: str, expected: str) -> bool:
        with self._lock:
            rec = self._get(deployment)
            if rec.owner != expected:
                return False
            rec.owner = owner
            return True

    def control(self, deployment: str) -> str:
        with self._lock:
            return self._get(deployment).control

    def set_control(self, deployment: str, control: str) -> None:
        with self._lock:
            self._get(deployment).control = control

    def reshape(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
                events: list[Event]) -> None:
        with self._lock:
            self._get(deployment.id)
            self._deployments[deployment.id] = copy.deepcopy(deployment)
            self._nodes[deployment.id] = {n.name: _clone(n) for n in nodes}
            self._append(events)

    def deployment(self, deployment: str) -> DeploymentRecord:
        with self._lock:
            return copy.deepcopy(self._get(deployment))

    def deployments(self, limit: int = 100) -> list[DeploymentRecord]:
        with self._lock:
            recs = sorted(self._deployments.values(), key=lambda d: d.created, reverse=True)
            return [copy.deepcopy(d) for d in recs[:limit]]

    def nodes(self, deployment: str) -> list[NodeRecord]:
        with self._lock:
            self._get(deployment)
            return [_clone(n) for n in self._nodes[deployment].values()]

    def events(self, deployment: str, after: int = 0, limit: int = 10_000) -> list[Event]:
        with self._lock:
            self._get(deployment)
            return [_clone(e) for e in self._events[deployment] if e.seq > after][:limit]

    def add_signal(self, signal: Signal) -> int:
        with self._lock:
            self._get(signal.deployment)
            signal = copy.deepcopy(signal)
            signal.seq = len(self._inbox) + 1
            self._inbox.append(signal)
            return signal.seq

    def signals(self, deployment: str) -> list[Signal]:
        with self._lock:
            return [copy.deepcopy(s) for s in self._inbox
                    if s.deployment == deployment and s.status in SIGNAL_OPEN]

    def settle_signals(self, outcomes: list[tuple[int, str, str]]) -> None:
        with self._lock:
            for seq, status, note in outcomes:
                self._inbox[seq - 1].status, self._inbox[seq - 1].note = status, note

    def feed(self, after: int = 0, limit: int = 1000) -> list[Event]:
        with self._lock:
            return [_clone(e) for e in self._feed[after:after + limit]]

    def newest_event(self) -> int:
        with self._lock:
            return self._seq

    def cursor(self, name: str) -> int:
        with self._lock:
            return self._cursors.get(name, 0)

    def set_cursor(self, name: str, seq: int) -> None:
        with self._lock:
            self._cursors[name] = seq

    def _get(self, deployment: str) -> DeploymentRecord:
        try:
            return self._deployments[deployment]
        except KeyError:
            raise NotFound(f"no deployment '{deployment}' in the journal",
                           hint="'murano-flow list' shows the known deployments") from None

    def _append(self, events: list[Event]) -> None:
        for e in events:  # events are never changed once committed: keep them as they are
            self._seq += 1
            e.seq = self._seq
            self._events[e.deployment].append(e)
            self._feed.append(e)
