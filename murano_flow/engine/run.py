"""The state of one traversal of a deployment, and how it is journaled.

The engine thread owns a :class:`Run` for as long as it drives a deployment one
way (forward or back). Node moves and events collect in ``dirty`` and ``events``
and reach the journal together in :meth:`Run.flush`, one transaction per
engine-loop iteration.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..blueprint.spec import Blueprint, Node
from ..errors import ExpressionError
from ..graph.stategraph import StateGraph
from ..lifecycle import fire_deployment, fire_node
from ..states import NodeState
from ..store.base import DeploymentRecord, Event, NodeRecord, Store
from ..store.sealing import journal_outputs, unreadable
from ..transports.base import Transport
from ..wire.masking import Masker
from . import plans
from .resolver import Flow

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]
#: Node states that may still be doing something after their engine stopped.
IN_FLIGHT = (NodeState.RUNNING, NodeState.UNDOING)


@dataclass
class Brakes:
    """Why the run stops, or may not start new work; the control and completion
    components own it, the loop reads it."""

    #: Why no new work starts ('' while it may): a failure, the deadline, Ctrl-C.
    stopping: str = ""
    interrupted: bool = False
    #: Running actions were stopped on purpose: they go back to be run again.
    killing: bool = False
    #: The operator's request being honoured: '' | pause | cancel.
    halt: str = ""
    #: The last request read from the journal (a change is acted on once).
    control: str = ""
    #: Nodes a pause stopped, queued again when it is withdrawn.
    parked: list[int] = field(default_factory=list)
    #: The deployment's failure policy (a state's own ``on_failure`` overrides it).
    on_failure: str = "stop"
    rollback_due: bool = False
    deadline: float | None = None
    expired: bool = False
    #: Monotonic time of the last look at the operator's requests.
    last_look: float = 0.0
    #: A host, transport or broker could not be reached, or an outcome is unknown.
    infrastructure: bool = False

    def holding(self) -> bool:
        """Paused with nothing stopping the run: wait for the operator."""
        return self.halt == "pause" and not self.stopping

    def ends(self, *, retries: bool, waiting: bool, short_of_slots: bool) -> bool:
        """With nothing in flight: whether the loop ends now (nothing more may start, or
        nothing is left that could: no retry due, no state waiting, no slot owed)."""
        return bool(self.stopping or self.halt) or not (retries or waiting or short_of_slots)


@dataclass
class Work:
    """Where each node stands on its way to a host; the dispatcher owns it."""

    #: Per host: the nodes released to it, in order, with their rendered host and context.
    queues: dict[str, deque[tuple[int, plans.Target, dict[str, Any]]]] = field(
        default_factory=dict)
    #: Hosts with a queued node and no running one, in the order they became so.
    runnable: deque[str] = field(default_factory=deque)
    #: Running node -> its host.
    busy: dict[int, str] = field(default_factory=dict)
    #: (monotonic due time, node) of failed nodes to try again.
    retries: list[tuple[float, int]] = field(default_factory=list)
    transports: dict[str, Transport] = field(default_factory=dict)
    #: Nodes an earlier engine left running (or in doubt), re-attached rather than released.
    inflight: set[int] = field(default_factory=set)
    #: Re-deploy: states in place, re-examined when their requirements are settled.
    candidates: set[int] = field(default_factory=set)
    #: Re-deploy: states whose inputs changed, run without asking their check probe.
    forced: set[int] = field(default_factory=set)
    #: Nodes a handled failure started (a direct flow's error branch), to be released.
    unblocked: list[int] = field(default_factory=list)


@dataclass
class Waiting:
    """The nodes that wait for an event; the waits component owns it."""

    #: Nodes waiting for their event, and those whose event came (released as usual).
    nodes: set[int] = field(default_factory=set)
    heard: set[int] = field(default_factory=set)
    #: Monotonic time of the next look at the inbox.
    next_inbox: float = 0.0
    #: Where message waits subscribe (opened on the first one).
    source: Any = None


@dataclass
class Run:
    """One traversal of a deployment, one way: the graph, the node records and their
    outputs, and the journal they are written to. Only the engine thread touches it;
    its parts each have one owner (see :class:`Brakes`, :class:`Work`, :class:`Waiting`)."""

    store: Store
    listener: Listener | None
    bp: Blueprint
    graph: StateGraph
    dep: DeploymentRecord
    records: list[NodeRecord]
    masker: Masker
    reverse: bool = False
    #: What each node published, as later states read it (None: journaled masked, and
    #: its sealed copy cannot be had: reading it is an error, never a mask as data).
    outputs: list[dict[str, Any] | None] = field(default_factory=list)
    dirty: dict[int, NodeRecord] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    #: Outcomes from the workers, and the loop's wake-ups (stop, lost lease, hand-over).
    done: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    brakes: Brakes = field(default_factory=Brakes)
    work: Work = field(default_factory=Work)
    wait: Waiting = field(default_factory=Waiting)
    #: Only collect what an earlier engine left running (before rolling back).
    settle: bool = False
    #: Its previous engine died mid-run: this run continues that one.
    recovered: bool = False
    #: The engines' shared secret, to seal outputs that carry a secret (None: mask only).
    secret: str | None = None
    #: The secret parameter values, which hosts mask in what they write of a run.
    secrets: tuple[str, ...] = ()
    #: The failure an automatic rollback answers.
    cause: str = ""
    #: Inbox entries acted on: (seq, status, note), marked once the nodes' moves commit.
    settled: list[tuple[int, str, str]] = field(default_factory=list)
    #: The engine driving it: every commit is fenced by this engine's lease.
    owner: str = ""
    #: The flow-control strategy driving it (set when the run starts).
    flow: Flow | None = None
    #: Undoing states a re-deploy dropped: the deployment is not rolled back by it.
    retiring: bool = False
    #: Hosts it may not use: held by another deployment ('' handed over by this one).
    held_elsewhere: dict[str, str] = field(default_factory=dict)

    def context(self, node: Node) -> dict[str, Any]:
        """What ``node``'s expressions see: parameters, its index, required outputs.

        Raises:
            ExpressionError: a required state's outputs cannot be unsealed.
        """
        def outputs_of(name: str) -> dict[str, Any]:
            values = self.outputs[self.graph.ids[name]]
            if values is None:
                raise ExpressionError(unreadable(name))
            return values

        return plans.context(self.bp, node, self.dep.id, outputs_of)

    def node(self, rec: NodeRecord, event: str, kind: str, message: str) -> None:
        """Move ``rec`` by ``event`` and record it (journaled at the next flush)."""
        fire_node(rec, event)
        self.dirty[self.graph.ids[rec.name]] = rec
        self.event(kind, rec, message)

    def publish(self, i: int, values: dict[str, Any]) -> None:
        """Node ``i`` published ``values``: later states read them; the journal keeps
        them masked, with a sealed clear copy when the mask hid a secret."""
        self.outputs[i] = values
        self.records[i].outputs = journal_outputs(values, self.masker.data(values), self.secret)
        self.dirty[i] = self.records[i]

    def event(self, kind: str, rec: NodeRecord, message: str) -> None:
        """Record an event of ``rec`` that changes no state."""
        self.events.append(Event(self.dep.id, time.time(), kind, rec.name, rec.status,
                                 rec.attempt, self.masker.text(message)))

    def note(self, message: str) -> None:
        """A deployment-level event that changes no state."""
        self.events.append(Event(self.dep.id, time.time(), "deployment", status=self.dep.state,
                                 message=self.masker.text(message)))

    def deployment(self, event: str, message: str, reason: str | None = None) -> None:
        """Move the deployment by ``event`` and commit everything pending with it."""
        fire_deployment(self.dep, event)
        self.note(message)
        if reason is None:
            reason = "" if event in ("start", "rollback") else message
        self.flush(state=self.dep.state, reason=self.masker.text(reason))

    def flush(self, state: str | None = None, reason: str | None = None) -> None:
        """Commit the changed nodes and new events in one transaction; tell the listener."""
        if not self.dirty and not self.events and state is None and not self.settled:
            return
        events, self.events = self.events, []
        self.store.commit(self.dep.id, list(self.dirty.values()), events, state, reason,
                          owner=self.owner)
        log.debug("journaled %d nodes, %d events%s", len(self.dirty), len(events),
                  f", deployment {state}" if state else "")
        self.dirty.clear()
        if self.settled:  # only now: a crash before the commit leaves them to act on again
            settled, self.settled = self.settled, []
            self.store.settle_signals(settled)
        if self.listener is not None:
            for e in events:
                try:
                    self.listener(e)
                except Exception:  # a display bug must not stop a deployment
                    log.exception("event listener failed")

    def unqueue(self) -> None:
        """Nodes waiting for a retry when the run ended go back to where they were."""
        waiting = [i for _, i in self.work.retries]
        waiting += [i for q in self.work.queues.values() for i, _, _ in q]
        self.work.retries.clear()
        for i in waiting:
            rec = self.records[i]
            if rec.status in IN_FLIGHT:
                why = self.brakes.stopping or self.brakes.halt or "stopped"
                self.node(rec, "interrupt", "interrupted", f"{rec.reason}; not retried: {why}")


def in_doubt(records: list[NodeRecord], deployment: str) -> str:
    """Why a run ended with nodes in doubt and what the operator may do ('' if none)."""
    doubt = [r for r in records if r.status == NodeState.IN_DOUBT]
    if not doubt:
        return ""
    first = doubt[0]
    more = f" (and {len(doubt) - 1} more)" if len(doubt) > 1 else ""
    return (f"{first.name} is in doubt: {first.reason}{more}; 'murano-flow resume "
            f"{deployment}' asks for the outcome of the same plan again (it never runs it a "
            f"second time); 'resume {deployment} --rerun {first.name}' runs it afresh, once "
            "you know it did not run or may run again")


def failures(records: list[NodeRecord]) -> str:
    """Why a deployment whose run ended this way failed, in one line."""
    failed = [r for r in records if r.status == NodeState.FAILED]
    if not failed:
        return "not every target was reached"
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"{failed[0].name} failed: {failed[0].reason}{more}"
