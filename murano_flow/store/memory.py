"""An in-memory journal for tests and benchmarks; state lives on the instance."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from ..errors import LeaseLost, NotFound
from ..states import FINISHED
from .base import (
    SIGNAL_OPEN,
    ApiToken,
    BlueprintVersion,
    DeploymentRecord,
    Event,
    NodeRecord,
    Signal,
    Store,
    Trigger,
    lease_lost,
    missing_blueprint,
    missing_token,
    missing_trigger,
)


def _clone(record: Any) -> Any:
    """A shallow copy of a record dataclass (several times faster than copy.copy)."""
    new = object.__new__(type(record))
    new.__dict__.update(record.__dict__)
    return new


def _copied(record: DeploymentRecord) -> DeploymentRecord:
    """A deep copy of a deployment record, its list of target names (which may hold
    tens of thousands) copied as the flat list of strings it is, not item by item."""
    new: DeploymentRecord = _clone(record)
    new.targets = list(record.targets)
    new.params, new.source, new.settings = copy.deepcopy(
        (record.params, record.source, record.settings))
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
        self._engines: dict[str, dict[str, Any]] = {}
        self._library: dict[str, list[BlueprintVersion]] = {}
        self._tokens: dict[str, ApiToken] = {}
        self._triggers: dict[str, Trigger] = {}
        self._lock = threading.Lock()

    def create(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
               events: list[Event]) -> None:
        with self._lock:
            self._deployments[deployment.id] = _copied(deployment)
            self._nodes[deployment.id] = {n.name: _clone(n) for n in nodes}
            self._events[deployment.id] = []
            self._append(events)

    def commit(self, deployment: str, nodes: list[NodeRecord], events: list[Event],
               state: str | None = None, reason: str | None = None, *,
               owner: str = "") -> None:
        with self._lock:
            rec = self._get(deployment)
            if owner and (rec.owner != owner or 0 < rec.lease < time.time()):
                raise LeaseLost(lease_lost(deployment, owner, rec.owner))
            table = self._nodes[deployment]
            for n in nodes:
                table[n.name] = _clone(n)
            for e in events:
                e.engine = owner or e.engine
            self._append(events)
            if state is not None:
                rec.state = state
            if reason is not None:
                rec.reason = reason
            if state is not None or reason is not None:
                rec.updated = events[-1].ts if events else time.time()

    def claim(self, deployment: str, owner: str, expected: str, *, ttl: float = 0.0,
              request: str | None = None) -> bool:
        with self._lock:
            rec = self._get(deployment)
            if rec.owner != expected:
                return False
            rec.owner, rec.lease = owner, time.time() + ttl if owner and ttl else 0.0
            if request is not None:
                rec.request = request
            return True

    def acquire(self, owner: str, ttl: float, limit: int) -> list[tuple[str, str]]:
        with self._lock:
            now = time.time()
            free = sorted((d for d in self._deployments.values()
                           if d.request and (not d.owner or d.lease < now)),
                          key=lambda d: d.created)[:limit]
            taken = [(d.id, d.owner) for d in free]
            for d in free:
                d.owner, d.lease = owner, now + ttl
            return taken

    def renew(self, owner: str, deployments: list[str], ttl: float) -> list[str]:
        with self._lock:
            held = [d for d in deployments if self._get(d).owner == owner]
            for d in held:
                self._deployments[d].lease = time.time() + ttl
            return held

    def set_request(self, deployment: str, request: str) -> None:
        with self._lock:
            self._get(deployment).request = request

    def heartbeat(self, engine: str, info: dict[str, Any], ttl: float) -> None:
        with self._lock:
            now = time.time()
            self._engines[engine] = {"id": engine, "seen": now, "expires": now + ttl,
                                     "info": copy.deepcopy(info)}

    def engines(self) -> list[dict[str, Any]]:
        with self._lock:
            now = time.time()
            return [copy.deepcopy(e) for _, e in sorted(self._engines.items())
                    if e["expires"] >= now]

    def control(self, deployment: str) -> str:
        with self._lock:
            return self._get(deployment).control

    def set_control(self, deployment: str, control: str) -> None:
        with self._lock:
            self._get(deployment).control = control

    def delete(self, deployment: str) -> bool:
        with self._lock:
            dep = self._get(deployment)
            if dep.state not in FINISHED or dep.owner or dep.request:
                return False
            del self._deployments[deployment], self._nodes[deployment]
            del self._events[deployment]
            self._feed = [e for e in self._feed if e.deployment != deployment]
            self._inbox = [s for s in self._inbox if s.deployment != deployment]
            return True

    def reshape(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
                events: list[Event]) -> None:
        with self._lock:
            self._get(deployment.id)
            self._deployments[deployment.id] = _copied(deployment)
            self._nodes[deployment.id] = {n.name: _clone(n) for n in nodes}
            self._append(events)

    def deployment(self, deployment: str) -> DeploymentRecord:
        with self._lock:
            return _copied(self._get(deployment))

    def deployments(self, limit: int = 100) -> list[DeploymentRecord]:
        with self._lock:
            recs = sorted(self._deployments.values(), key=lambda d: d.created, reverse=True)
            return [_copied(d) for d in recs[:limit]]

    def hosts_in_use(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted({(n.host, dep) for dep, nodes in self._nodes.items()
                           for n in nodes.values()
                           if n.host and n.status not in ("pending", "undone")})

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

    def add_blueprint(self, version: BlueprintVersion) -> BlueprintVersion:
        with self._lock:
            versions = self._library.setdefault(version.name, [])
            if versions and versions[-1].digest == version.digest:
                return copy.deepcopy(versions[-1])
            stored = copy.deepcopy(version)
            stored.version = len(versions) + 1
            versions.append(stored)
            return copy.deepcopy(stored)

    def blueprint(self, name: str, version: int | None = None) -> BlueprintVersion:
        with self._lock:
            versions = self._library.get(name, [])
            found = [v for v in versions if version is None or v.version == version][-1:]
            if not found:
                raise NotFound(missing_blueprint(name, version, len(versions)))
            return copy.deepcopy(found[0])

    def blueprint_versions(self, name: str) -> list[BlueprintVersion]:
        with self._lock:
            return copy.deepcopy(self._library.get(name, []))

    def blueprints(self) -> list[BlueprintVersion]:
        with self._lock:
            return [copy.deepcopy(v[-1]) for _, v in sorted(self._library.items())]

    def add_token(self, token: ApiToken) -> None:
        with self._lock:
            self._tokens[token.id] = copy.copy(token)

    def token(self, token_id: str) -> ApiToken:
        with self._lock:
            if token_id not in self._tokens:
                raise NotFound(missing_token(token_id))
            return copy.copy(self._tokens[token_id])

    def tokens(self) -> list[ApiToken]:
        with self._lock:
            return sorted((copy.copy(t) for t in self._tokens.values()),
                          key=lambda t: (t.created, t.id))

    def revoke_token(self, token_id: str) -> bool:
        with self._lock:
            if token_id not in self._tokens:
                raise NotFound(missing_token(token_id))
            token = self._tokens[token_id]
            if token.revoked:
                return False
            token.revoked = time.time()
            return True

    def add_trigger(self, trigger: Trigger) -> bool:
        with self._lock:
            if trigger.id in self._triggers:
                return False
            self._triggers[trigger.id] = copy.deepcopy(trigger)
            return True

    def trigger(self, trigger_id: str) -> Trigger:
        with self._lock:
            if trigger_id not in self._triggers:
                raise NotFound(missing_trigger(trigger_id))
            return copy.deepcopy(self._triggers[trigger_id])

    def triggers(self) -> list[Trigger]:
        with self._lock:
            return [copy.deepcopy(t) for _, t in sorted(self._triggers.items())]

    def remove_trigger(self, trigger_id: str) -> bool:
        with self._lock:
            return self._triggers.pop(trigger_id, None) is not None

    def take_trigger(self, trigger_id: str, due: float, next_due: float) -> bool:
        with self._lock:
            found = self._triggers.get(trigger_id)
            if found is None or found.due != due:
                return False
            found.due = next_due
            return True

    def record_firing(self, trigger_id: str, last: str) -> None:
        with self._lock:
            found = self._triggers.get(trigger_id)
            if found is not None:
                found.fired, found.last = found.fired + 1, last

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
