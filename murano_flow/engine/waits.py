"""States that wait for an external event: a timer, a cron time, a signal, a broker message.

A waiting node is journaled as ``waiting`` with its deadlines as epoch seconds (when
its timer is due, when its wait times out), never as a sleeping thread: an engine that
resumes it re-arms the same deadlines, and a timer that fell due while no engine ran
fires once, at once. Signals (``murano-flow signal``) and matching broker messages
land in the deployment's inbox in the journal, whoever sends them and whether or not
an engine is running; the engine driving the deployment reads the inbox while nodes
wait, applies an entry to the node only if that node is waiting for it, commits the
node's move, and only then marks the entry applied. An entry found again after a
crash finds its node no longer waiting and is marked ignored: nothing fires twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from ..blueprint.expressions import render
from ..blueprint.spec import Node, WaitSpec
from ..errors import MuranoFlowError, UsageError
from ..states import NodeState
from ..store.base import Signal, Store
from ..store.sealing import clear_outputs
from .completion import Completer
from .control import clock
from .run import Run

log = logging.getLogger(__name__)

#: Seconds between two looks at the inbox while a node waits for a signal or message.
INBOX_POLL = 0.5
#: Put on a run's completion queue when a message reached the inbox (look now).
WAKE = object()


class MessageSource(Protocol):
    """Where message waits subscribe (see :mod:`murano_flow.engine.messages`)."""

    def subscribe(self, deployment: str, node: Node, match: dict[str, Any]) -> None: ...

    def unsubscribe(self, deployment: str, node: str, forget: bool) -> None: ...

    def close(self) -> None: ...


MessageFactory = Callable[[Store, Callable[[], None]], MessageSource]


def due_at(spec: WaitSpec, since: float) -> float | None:
    """When a timer armed at ``since`` fires (epoch seconds); None for other waits."""
    if spec.kind == "after":
        assert spec.after is not None
        return since + spec.after
    if spec.kind == "at":
        from croniter import croniter  # only for timers: 12 ms of imports otherwise

        start = datetime.fromtimestamp(since, zoneinfo.ZoneInfo(spec.timezone))
        return float(croniter(spec.cron, start).get_next(float))
    return None


def data_problem(node: Node, data: Any) -> str:
    """Why ``data`` cannot be the event data of ``node`` ('' if it can)."""
    if not isinstance(data, dict):
        return f"the data must be a JSON object, not {type(data).__name__}"
    missing = [o for o in node.outputs if o not in data]
    if missing and node.action is None:
        return (f"{node.name} declares outputs {', '.join(node.outputs)}; the data lacks "
                f"{', '.join(missing)}")
    return ""


def match_problem(match: dict[str, Any], body: dict[str, Any]) -> str:
    """Why ``body`` does not pass the filter ``match`` ('' if it does).

    Keys are dotted paths into the body; a list of values accepts any of them.
    """
    for path, expected in match.items():
        value: Any = body
        for part in str(path).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        accepted = expected if isinstance(expected, list) else [expected]
        if value not in accepted:
            return f"{path} is {value!r}, the filter wants {expected!r}"
    return ""


def judge_message(raw: bytes, user: str, from_user: str, match: dict[str, Any]
                  ) -> tuple[dict[str, Any], str | None]:
    """(body, problem) of a broker message: problem '' lets it through, a text rejects it
    (malformed, or not published as ``from_user`` - RabbitMQ validates ``user``, the
    message's user_id, against the publisher's login), None: it fails the ``match`` filter.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, f"the body is not JSON ({exc})"
    if not isinstance(data, dict):
        return {}, f"the body must be a JSON object, not {type(data).__name__}"
    if from_user and user != from_user:
        got = f"user_id {user!r}" if user else "no user_id"
        return {}, (f"it carries {got}; only messages published with user_id "
                    f"'{from_user}' are accepted (RabbitMQ checks it against the login)")
    return data, None if match_problem(match, data) else ""


class Waits:
    """The engine's waiting states: arms them, watches their timers and the inbox, and
    says which nodes' events came. Owns the run's :class:`~.run.Waiting`; a wait that
    times out or cannot be set up fails its node through the completion component."""

    def __init__(self, store: Store, messages: MessageFactory | None, completer: Completer
                 ) -> None:
        self.store, self.messages, self.completer = store, messages, completer

    def arm(self, run: Run, i: int) -> bool:
        """Node ``i``'s requirements are reached: it starts (or goes on) waiting.

        True if its event had already come (journaled before an engine stopped): it goes
        on now, with the data its row holds.
        """
        node, rec = run.graph.nodes[i], run.records[i]
        spec = node.wait
        assert spec is not None
        if rec.status == NodeState.WAITING and rec.waiting.get("arrived"):
            run.wait.heard.add(i)
            run.outputs[i] = clear_outputs(rec.outputs, run.secret)
            return True
        run.wait.nodes.add(i)
        if rec.status == NodeState.WAITING and rec.waiting:  # an earlier engine armed it
            if spec.kind == "message" and not self._subscribe(run, i):
                return False  # failed, with why
            due = rec.waiting.get("due")
            run.event("waiting", rec, f"still waiting for {spec.describe()}"
                      + (f"; due {clock(due)}" if due else ""))
            return False
        now = time.time()
        rec.waiting = {"kind": spec.kind, "since": now, "due": due_at(spec, now),
                       "expires": now + spec.timeout if spec.timeout else None}
        how = {"after": f"fires {clock(rec.waiting['due'] or now)}",
               "at": f"next time {clock(rec.waiting['due'] or now)}",
               "signal": f"send it: murano-flow signal {run.dep.id} {rec.name} --data '{{...}}'",
               "message": f"queue {queue_name(run.dep.id, rec.name)}"}[spec.kind]
        limit = f"; gives up {clock(rec.waiting['expires'])}" if spec.timeout else ""
        run.node(rec, "wait", "waiting", f"waiting for {spec.describe()} ({how}){limit}")
        run.wait.next_inbox = 0.0  # a signal may already be there
        if spec.kind == "message":
            self._subscribe(run, i)
        return False

    def _subscribe(self, run: Run, i: int) -> bool:
        node = run.graph.nodes[i]
        try:
            match = {k: render(v, run.context(node)) for k, v in node.wait.match} \
                if node.wait else {}
            self._messages(run).subscribe(run.dep.id, node, match)
        except MuranoFlowError as exc:  # a bad filter expression, or no pika
            run.wait.nodes.discard(i)
            self.completer.failed(run, i, f"cannot wait for a message: {exc}")
            return False
        return True

    def _messages(self, run: Run) -> MessageSource:
        if run.wait.source is None:
            if self.messages is None:
                raise UsageError("states that wait for a message need a broker (--broker)")
            run.wait.source = self.messages(self.store, lambda: run.done.put(WAKE))
        source: MessageSource = run.wait.source
        return source

    def _stop_waiting(self, run: Run, i: int) -> None:
        """Node ``i`` waits no more (its event came, it timed out, or it was reset)."""
        run.wait.nodes.discard(i)
        rec = run.records[i]
        if rec.waiting.get("kind") == "message" and self.messages is not None:
            self._messages(run).unsubscribe(run.dep.id, rec.name, forget=True)
        rec.waiting = {}

    def next_due(self, run: Run) -> float | None:
        """The next monotonic time a waiting node needs a look (None if none waits)."""
        if not run.wait.nodes:
            return None
        times = []
        for i in run.wait.nodes:
            w = run.records[i].waiting
            times += [t for t in (w.get("due"), w.get("expires")) if t]
        offset = time.monotonic() - time.time()
        due = min(times) + offset if times else None
        if _reads_inbox(run):
            due = run.wait.next_inbox if due is None else min(due, run.wait.next_inbox)
        return due

    def arrived(self, run: Run) -> list[int]:
        """Timers that fell due, waits that timed out, and the inbox: the nodes whose event
        came (to be released by the engine)."""
        if not run.wait.nodes:
            return []
        now = time.time()
        heard = []
        for i in sorted(run.wait.nodes):
            rec, spec = run.records[i], run.graph.nodes[i].wait
            assert spec is not None
            due, expires = rec.waiting.get("due"), rec.waiting.get("expires")
            if due and now >= due:
                late = f" ({now - due:.0f}s late: no engine ran then)" if now - due > 5 else ""
                self._heard(run, i, {}, f"timer due {clock(due)} fired{late}")
                heard.append(i)
            elif expires and now >= expires:
                self._stop_waiting(run, i)
                self.completer.failed(run, i, f"waited {spec.timeout:g}s for {spec.describe()}; "
                                     "none came (wait.timeout)")
        if time.monotonic() >= run.wait.next_inbox and _reads_inbox(run):
            heard += self._read_inbox(run)
        return heard

    def _read_inbox(self, run: Run) -> list[int]:
        run.wait.next_inbox = time.monotonic() + INBOX_POLL
        heard = []
        for sig in self.store.signals(run.dep.id):
            i = run.graph.ids.get(sig.node)
            outcome = self._apply(run, i, sig)
            if outcome == "applied":
                assert i is not None
                heard.append(i)
            if outcome:
                run.settled.append((sig.seq, outcome, sig.note))
        return heard

    def _apply(self, run: Run, i: int | None, sig: Signal) -> str:
        """What becomes of inbox entry ``sig``: applied, ignored, refused, or '' (kept)."""
        rec = run.records[i] if i is not None else None
        if sig.status == "rejected":  # by the message listener, which logged it
            if rec is not None:
                run.event("rejected", rec, f"{sig.source}: {sig.note}")
            return "refused"
        if rec is None or i is None:
            sig.note = f"{sig.node} is not a state of this deployment"
        elif i not in run.wait.nodes:
            if rec.status == NodeState.PENDING and sig.kind == "signal":
                return ""  # signalled ahead of time: kept until it waits
            sig.note = f"{sig.node} was {rec.status}, not waiting"
        elif rec.waiting.get("kind") != sig.kind:
            spec = run.graph.nodes[i].wait
            sig.note = f"{sig.node} waits for {spec.describe() if spec else 'nothing'}"
        else:
            problem = data_problem(run.graph.nodes[i], sig.data)
            if problem:
                sig.note = problem
                run.event("rejected", rec, f"{sig.source}: {problem}")
                log.warning("%s: rejected %s for %s: %s", run.dep.id, sig.source, sig.node,
                            problem)
                return "refused"
            keys = ", ".join(sig.data) or "no data"
            self._heard(run, i, sig.data, f"{sig.kind} #{sig.seq} ({sig.source}): {keys}")
            return "applied"
        log.warning("%s: ignored %s #%d: %s", run.dep.id, sig.kind, sig.seq, sig.note)
        return "ignored"

    def _heard(self, run: Run, i: int, data: dict[str, Any], message: str) -> None:
        rec = run.records[i]
        kind = rec.waiting.get("kind")
        self._stop_waiting(run, i)
        # Journaled with the entry's 'applied' mark: if the engine stops before the node
        # moves on (its host busy, say), the next one finds the event in the row.
        rec.waiting = {"kind": kind, "arrived": time.time()}
        run.wait.heard.add(i)
        run.publish(i, dict(data))
        run.event("arrived", rec, message)

    def sweep(self, run: Run) -> None:
        """After an engine died: delete the queues of message waits that ended (their
        node moved on, but the engine may have died before deleting its queue)."""
        if not run.recovered or self.messages is None:
            return
        for node, rec in zip(run.graph.nodes, run.records, strict=True):
            if node.wait is not None and node.wait.kind == "message" and (rec.status not in (
                    NodeState.PENDING, NodeState.WAITING) or rec.waiting.get("arrived")):
                self._messages(run).unsubscribe(run.dep.id, rec.name, forget=True)

    def abandon(self, run: Run, why: str) -> None:
        """Waiting nodes go back to pending (a rollback starts): nothing is awaited."""
        for i, rec in enumerate(run.records):
            if rec.status == NodeState.WAITING:
                run.wait.nodes.add(i)
                self._stop_waiting(run, i)
                run.node(rec, "reset", "pending", f"no longer waiting: {why}")

    @staticmethod
    def close(run: Run) -> None:
        """The run ends: consumers stop; the queues of nodes still waiting stay at the broker
        and keep what arrives until an engine resumes the deployment."""
        source, run.wait.source = run.wait.source, None
        if source is not None:
            source.close()


def _reads_inbox(run: Run) -> bool:
    """Whether a node of ``run`` waits for a signal or a message (the inbox)."""
    return any(run.records[i].waiting.get("kind") in ("signal", "message") for i in run.wait.nodes)


def queue_name(deployment: str, node: str) -> str:
    """The durable queue that holds messages for a node while it waits."""
    name = f"murano-flow.wait.{deployment}.{node}"
    if len(name.encode()) <= 200:  # AMQP allows 255 bytes
        return name
    return f"murano-flow.wait.{hashlib.sha256(name.encode()).hexdigest()[:32]}"
