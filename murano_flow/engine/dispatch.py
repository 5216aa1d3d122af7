"""Dispatch: from a node whose requirements are met to its plan on a worker thread.

RELEASE renders a ready node's host and queues it there (a node with nothing to run is
settled at once); DISPATCH gives every free host its next node, journals the nodes as
running in one commit and only then hands their plans to the workers; REATTACH asks
again, by the same plan ids, for what an earlier engine left running. Owns the run's
:class:`~.run.Work`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..blueprint.expressions import render
from ..errors import ExpressionError, MuranoFlowError, TransportError, UsageError
from ..faults import crash_point
from ..lifecycle import fire_node
from ..states import SATISFIED, NodeState
from ..transports.base import Transport
from ..wire.protocol import Plan
from . import identity, ownership, plans
from .completion import Completer
from .executor import execute
from .resolver import Flow
from .run import IN_FLIGHT, Run
from .share import FairShare
from .waits import Waits
from .workers import WorkerPool

log = logging.getLogger(__name__)

TransportFactory = Callable[[str, dict[str, Any]], Transport]
_Work = tuple[int, Transport, "Plan | None", Plan]


class Dispatcher:
    """Places, starts and re-attaches a run's nodes on their hosts."""

    def __init__(self, open_transport: TransportFactory, completer: Completer, waits: Waits,
                 share: FairShare | None) -> None:
        self.open_transport = open_transport
        self.completer, self.waits, self.share = completer, waits, share

    def reattach(self, run: Run, pool: WorkerPool, previous: str) -> int:
        """Ask again, by the same plan ids, for what an earlier engine (``previous``) left
        running or in doubt; how many were asked for."""
        work: list[_Work] = []
        for i in sorted(run.work.inflight):
            node, rec = run.graph.nodes[i], run.records[i]
            try:
                ctx = run.context(node)
                where = plans.target(node, ctx)
                if where.kind == "local" and identity.elsewhere(previous):
                    raise TransportError(
                        f"its attempt {rec.attempt} ran on the local host of the engine "
                        f"{identity.describe(previous)}, which this engine "
                        "cannot see: it is not run again here", hint="resume the deployment "
                        "on that machine to collect it, or check what it did and resume")
                transport = self._transport(run, where)
            except (ExpressionError, TransportError, UsageError) as exc:
                run.work.inflight.discard(i)
                self.completer.doubt(run, i, f"cannot ask for attempt {rec.attempt} again: {exc}")
                continue
            check, action = self._plans(run, i, ctx, where)
            if rec.status == NodeState.IN_DOUBT:
                run.node(rec, "collect_undo" if run.reverse else "collect", "reattaching",
                         f"asking {where.key} again for attempt {rec.attempt}, whose outcome "
                         "was in doubt")
            else:
                run.event("reattaching", rec, f"attempt {rec.attempt} on {where.key} was in "
                                              "flight when its engine stopped")
            run.work.busy[i] = where.key
            work.append((i, transport, check, action))
        run.flush()  # fenced: no plan is asked for again by an engine that lost the lease
        for i, transport, check, action in work:
            pool.submit(execute, run.done, i, transport, check, action, True)
        return len(work)

    def release(self, run: Run, resolver: Flow, ready: list[int]) -> None:
        """Nodes ``ready`` (their requirements settled) go to their hosts' queues; those
        with nothing to run on a host (or passed over) are settled at once, releasing
        their dependents."""
        stack = list(ready)
        while True:
            for j in resolver.passed_over():
                stack.extend(self._pass_over(run, resolver, j))
            if not stack:
                stack, run.work.unblocked = run.work.unblocked, []
                if not stack:
                    return
            i = stack.pop()
            if not run.reverse and run.graph.nodes[i].when is not None:
                go = self._when(run, i)
                if go is None:
                    continue
                if not go:
                    stack.extend(resolver.skipped(i))
                    continue
            if i in run.work.candidates:
                if run.brakes.stopping:
                    continue  # stays as it is: nothing new starts
                if not self._reexamine(run, i):
                    stack.extend(resolver.completed(i))
                    continue
            node = run.graph.nodes[i]
            if node.wait is not None and not run.reverse and i not in run.wait.heard and (
                    run.brakes.stopping or not self.waits.arm(run, i)):
                continue  # released again when its event comes
            spec = node.undo if run.reverse else node.action
            if spec is None:  # synchronisation point, or nothing to undo: no host needed
                self._sync(run, i)
                stack.extend(resolver.completed(i))
                continue
            if not run.brakes.stopping:
                self.place(run, i)

    def _pass_over(self, run: Run, resolver: Flow, i: int) -> list[int]:
        """No transition of a direct flow will start node ``i``: it is skipped, and what
        requires it proceeds; a target stays short of reached (the run then fails)."""
        rec = run.records[i]
        run.work.candidates.discard(i)
        if rec.name in run.bp.targets:
            run.event("not_taken", rec, "not taken: none of the transitions into it fired; "
                                        "the deployment cannot reach it")
            return []
        if rec.status in SATISFIED:  # a re-deploy: it ran before, and stays as it is
            run.event("not_taken", rec, "not taken this time; kept as it is")
        else:
            run.node(rec, "pass", "skipped", "not taken: none of the transitions into it "
                                             "fired")
        return resolver.skipped(i)

    def _when(self, run: Run, i: int) -> bool | None:
        """Node ``i``'s ``when`` read now: True runs it, False passes it over (skipped,
        unless it is in place from an earlier run); None: it failed to render."""
        node, rec = run.graph.nodes[i], run.records[i]
        assert node.when is not None
        try:
            go = bool(render(node.when, run.context(node)))
        except ExpressionError as exc:
            self._begin(run, i, "reading its when")
            self.completer.failed(run, i, f"expression error in when: {exc.message}")
            return None
        if go:
            return True
        run.work.candidates.discard(i)
        if rec.status in SATISFIED:
            run.event("unchanged", rec, f"when is false ({node.when}): kept as it is")
        else:
            run.node(rec, "pass", "skipped", f"when is false: {node.when}")
        return False

    def _reexamine(self, run: Run, i: int) -> bool:
        """Whether a state in place must run again in a re-deploy: its inputs (the digest
        of its rendered action and host) changed, or it has a check probe to ask."""
        run.work.candidates.discard(i)
        node, rec = run.graph.nodes[i], run.records[i]
        if node.action is None:
            return False
        try:
            ctx = run.context(node)
            where = plans.target(node, ctx)
            action = plans.plan(node, node.action, "action", rec.attempt, ctx)
            changed = plans.digest(action, where, run.masker.data) != rec.inputs
        except ExpressionError:
            changed = True  # _place fails it with the message
        if not changed and node.check is None:
            run.event("unchanged", rec, "inputs unchanged since it was reached: kept")
            return False
        if changed:  # its probe vouches for the old inputs: run the action itself
            run.work.forced.add(i)
        why = "its inputs changed: its action runs again" if changed else \
            "inputs unchanged: its check probe looks again (the action runs only if it fails)"
        run.node(rec, "redo", "pending", why)
        return True

    def place(self, run: Run, i: int, front: bool = False) -> None:
        """Render the node's context and host and queue it there; a bad expression fails it."""
        node = run.graph.nodes[i]
        try:
            ctx = run.context(node)
            self._enqueue(run, i, plans.target(node, ctx), ctx, front)
        except ExpressionError as exc:
            self._begin(run, i, "rendering its host")
            self.completer.failed(run, i, f"expression error: {exc.message}")

    def _cannot_start(self, run: Run, i: int, exc: MuranoFlowError) -> None:
        """Its host, transport or plan could not be had: the node fails with why."""
        self._begin(run, i, "")
        run.brakes.infrastructure |= isinstance(exc, TransportError)
        self.completer.failed(run, i, str(exc))

    def _begin(self, run: Run, i: int, message: str) -> None:
        """Move a node that is not yet running (or undoing) to it, to fail it there."""
        rec = run.records[i]
        if rec.status not in IN_FLIGHT:
            event, kind = ("undo", "undoing") if run.reverse else ("start", "running")
            run.node(rec, event, kind, message)

    def _sync(self, run: Run, i: int) -> None:
        rec = run.records[i]
        if run.reverse:
            fire_node(rec, "undo")
            run.node(rec, "undone", "undone", "nothing to undo")
            return
        rec.started = rec.finished = time.time()
        rec.intention = "execute"
        rec.waiting = {}
        fire_node(rec, "start")  # passes through running; one event is enough
        node = run.graph.nodes[i]
        run.node(rec, "reach", "reached", f"{node.wait.describe()} came" if node.wait
                 else "synchronisation point reached")

    def _enqueue(self, run: Run, i: int, where: plans.Target, ctx: dict[str, Any],
                 front: bool = False) -> None:
        q = run.work.queues.setdefault(where.key, deque())
        if not q and where.key not in run.work.busy.values():
            run.work.runnable.append(where.key)
        q.appendleft((i, where, ctx)) if front else q.append((i, where, ctx))

    def dispatch(self, run: Run, pool: WorkerPool, slots: int) -> int:
        """Start up to ``slots`` queued nodes, one per free host: journal them as running
        (one commit, with the outcomes applied since the last), then hand their plans to
        the workers; how many started."""
        batch: list[_Work] = []
        busy_hosts = set(run.work.busy.values())
        brakes = run.brakes
        while slots > len(batch) and run.work.runnable and not (brakes.stopping or brakes.halt):
            key = run.work.runnable.popleft()
            if key in busy_hosts or not run.work.queues.get(key):
                continue
            i, where, ctx = run.work.queues[key].popleft()
            item = self._start(run, i, where, ctx)
            if item is not None:
                batch.append(item)
                busy_hosts.add(key)
                run.work.busy[i] = key
            elif run.work.queues[key]:
                run.work.runnable.append(key)  # the host stays free for its next node
        run.flush()  # journal 'running' before any plan leaves this process
        if batch:
            crash_point("engine.dispatched")
        if self.share is not None:
            self.share.give(run.dep.id, slots - len(batch))  # taken, but nothing to start
        debug = log.isEnabledFor(logging.DEBUG)
        for i, transport, check, action in batch:
            if debug:
                log.debug("%s: plan %s (%s%s) to %s", action.node, action.id, action.kind,
                          f" after check {check.id}" if check else "", run.records[i].host)
            pool.submit(execute, run.done, i, transport, check, action, False)
        return len(batch)

    def _start(self, run: Run, i: int, where: plans.Target, ctx: dict[str, Any]
               ) -> _Work | None:
        rec = run.records[i]
        rec.host = where.key
        rec.waiting = {}
        rec.attempt += 1  # monotonic across runs, so every plan id is new
        rec.started, rec.finished = time.time(), None
        try:
            if where.key in run.held_elsewhere and where.fields.get("shared") is not True:
                raise ownership.refused(where.key, run.held_elsewhere[where.key], run.dep.id)
            transport = self._transport(run, where)
            check, action = self._plans(run, i, ctx, where)
        except (ExpressionError, TransportError, UsageError) as exc:  # UsageError: bad host
            self._cannot_start(run, i, exc)
            return None
        retry = rec.status in IN_FLIGHT
        rec.tries = rec.tries + 1 if retry else 1
        rec.intention = "revert" if run.reverse else "execute"
        if run.reverse:
            run.node(rec, "retry" if retry else "undo", "undoing",
                     f"undo attempt {rec.tries} on {where.key}")
        else:
            doing = f"checking on {where.key} (attempt {rec.attempt})" if check is not None \
                else f"attempt {rec.attempt} on {where.key}"
            run.node(rec, "retry" if retry else "start", "running", doing)
        return i, transport, check, action

    def _plans(self, run: Run, i: int, ctx: dict[str, Any], where: plans.Target
               ) -> tuple[Plan | None, Plan]:
        """The node's check (forward only) and its action or undo, for its current attempt."""
        node, rec = run.graph.nodes[i], run.records[i]
        if run.reverse:
            assert node.undo is not None
            extra = {"MURANO_FLOW_FAILURE": rec.reason} if rec.reason else {}
            return None, plans.plan(node, node.undo, "undo", rec.attempt, ctx, extra,
                                    run.secrets)
        assert node.action is not None
        check = plans.plan(node, node.check, "check", rec.attempt, ctx, secrets=run.secrets) \
            if node.check and i not in run.work.forced else None
        action = plans.plan(node, node.action, "action", rec.attempt, ctx, secrets=run.secrets)
        rec.inputs = plans.digest(action, where, run.masker.data)
        return check, action

    def _transport(self, run: Run, where: plans.Target) -> Transport:
        if where.key not in run.work.transports:
            log.debug("opening the %s transport to %s", where.kind, where.key)
            run.work.transports[where.key] = self.open_transport(where.kind, where.fields)
        return run.work.transports[where.key]
