"""Integrity checks of the journal: what must hold whatever crashed, and when.

``problems`` are contradictions no crash may leave behind (the journal is damaged,
or murano-flow has a bug); ``notes`` are states that need an operator (an engine
died, so a deployment waits to be resumed) but are consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import identity
from ..engine.rows import retiring_of
from ..states import ACTIVE, SATISFIED, UNSETTLED, DeploymentState, NodeState
from ..store.base import DeploymentRecord, Event, NodeRecord

_NODE_STATES = {s.value for s in NodeState}
_DEPLOYMENT_STATES = {s.value for s in DeploymentState}
#: Node states in which a node's requirements must all be satisfied.
_NEEDS_REQUIREMENTS = frozenset({NodeState.RUNNING, NodeState.IN_DOUBT, NodeState.REACHED,
                                 NodeState.SKIPPED})
#: Node states that count as "still standing" for the undo order.
_STANDING = frozenset({*SATISFIED, *UNSETTLED})


@dataclass
class Report:
    """What the check of one deployment found."""

    deployment: str
    state: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No contradiction was found."""
        return not self.problems


def check(dep: DeploymentRecord, nodes: list[NodeRecord], events: list[Event]) -> Report:
    """Every invariant of one deployment's rows and event log."""
    report = Report(dep.id, dep.state)
    if dep.state not in _DEPLOYMENT_STATES:
        report.problems.append(f"unknown deployment state '{dep.state}'")
    by_name = {n.name: n for n in nodes}
    _check_nodes(nodes, by_name, report)
    _check_events(nodes, events, report)
    _check_outcome(dep, nodes, report)
    return report


def _check_nodes(nodes: list[NodeRecord], by_name: dict[str, NodeRecord], report: Report
                 ) -> None:
    dependents: dict[str, list[NodeRecord]] = {}
    for n in nodes:
        if n.status not in _NODE_STATES:
            report.problems.append(f"{n.name}: unknown node state '{n.status}'")
        for r in n.requires:
            if r not in by_name:
                report.problems.append(f"{n.name} requires '{r}', which is not in the journal")
                continue
            dependents.setdefault(r, []).append(n)
            if n.status in _NEEDS_REQUIREMENTS and by_name[r].status not in SATISFIED:
                report.problems.append(f"{n.name} is {n.status} but its requirement {r} is "
                                       f"{by_name[r].status}")
    for n in nodes:
        if n.status in (NodeState.UNDONE, NodeState.UNDOING):
            standing = [d.name for d in dependents.get(n.name, []) if d.status in _STANDING]
            if standing:
                report.problems.append(f"{n.name} is {n.status} while {', '.join(standing)}, "
                                       "which require it, still stand")


def _check_events(nodes: list[NodeRecord], events: list[Event], report: Report) -> None:
    seqs = [e.seq for e in events]
    if seqs != sorted(set(seqs)):
        report.problems.append("event sequence numbers are not strictly increasing")
    last: dict[str, Event] = {}
    first_reached: dict[str, int] = {}
    for e in events:
        if e.node:
            last[e.node] = e
            if e.kind in ("reached", "skipped"):
                first_reached.setdefault(e.node, e.seq)
    by_name = {n.name: n for n in nodes}
    for n in nodes:
        latest = last.get(n.name)
        if latest is not None and latest.status != n.status:
            report.problems.append(f"{n.name} is {n.status} but its last event "
                                   f"(#{latest.seq}, {latest.kind}) says {latest.status}")
    last_start = {e.node: e for e in events if e.kind == "running"}
    for e in last_start.values():  # nothing starts before what it requires (now) is reached
        if e.node not in by_name:
            continue
        for r in by_name[e.node].requires:
            if first_reached.get(r, e.seq + 1) > e.seq:
                report.problems.append(f"{e.node} started (event #{e.seq}) before its "
                                       f"requirement {r} was reached")


def _check_outcome(dep: DeploymentRecord, nodes: list[NodeRecord], report: Report) -> None:
    if dep.state == DeploymentState.SUCCEEDED:
        dropped = set(retiring_of(dep))  # undone, or still to be, after the rest converged
        bad = [n.name for n in nodes if n.status not in SATISFIED and n.name not in dropped]
        if bad:
            report.problems.append(f"succeeded, but {len(bad)} nodes are not reached: "
                                   f"{', '.join(bad[:5])}")
    if dep.state == DeploymentState.ROLLED_BACK:
        bad = [n.name for n in nodes if n.status not in (NodeState.PENDING, NodeState.UNDONE)]
        if bad:
            report.problems.append(f"rolled back, but {len(bad)} nodes are not undone: "
                                   f"{', '.join(bad[:5])}")
    if dep.state in ACTIVE:
        gone = not identity.driving(dep)
        if gone and dep.request:
            report.notes.append(f"{dep.state}, but its engine is gone: an engine service takes "
                                f"it over ('{dep.request}' was asked for; 'murano-flow engine "
                                "list' shows the live ones)")
        elif gone:
            report.notes.append(f"{dep.state}, but its engine is gone: "
                                f"'murano-flow resume {dep.id}' continues it")
    else:
        left = [n.name for n in nodes if n.status in UNSETTLED]
        if left:
            report.notes.append(f"{len(left)} actions may still be running on their hosts, "
                                f"or have ended unseen ({', '.join(left[:3])}): resume or "
                                "rollback asks for them again by their plan ids")
