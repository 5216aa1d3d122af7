"""The engine: drives a deployment's graph to its targets, or back, on a thread pool.

One engine thread owns every piece of state; worker threads only run plans and
return outcomes through a queue (they never raise). The loop::

    REATTACH  nodes the journal says were running when an earlier engine died, or
              whose outcome was in doubt, are asked for again by the same plan id:
              collected, waited for, or run if they never started - never run twice
    RELEASE   nodes whose requirements are met are rendered and queued on their host
    DISPATCH  free hosts get their next node; one transaction commits the outcomes
              applied since the last one and the new 'running' rows, then plans go out
    WAIT      block on the completion queue (or until a retry, the deadline or the
              next look at the operator's pause/cancel requests is due)
    ANALYZE   apply every outcome that arrived, then RELEASE the nodes they unblock

Nothing is acted on before it is journaled: a node starts only after its
requirements' completion is committed, and its own 'running' row is committed
before its plan is handed to a worker. The engine holds a lease on the deployment
while it drives it (:mod:`murano_flow.lease`), and every commit is fenced by that
lease: so no plan leaves an engine that no longer owns the deployment, and another
engine can take over a dead one's deployments and re-attach to what it left running.
"""

from __future__ import annotations

import heapq
import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from . import owner, plans, shaping
from .blueprint.expressions import ExpressionError
from .blueprint.spec import Blueprint, Node, RetryPolicy
from .errors import LeaseLost, MuranoFlowError, NotFound, TransportError, UsageError
from .faults import crash_point
from .gcpause import paused_gc
from .graph import StateGraph
from .lease import DEFAULT_TTL, Leases
from .lifecycle import fire_node
from .masking import Masker
from .outcomes import Outcome, execute
from .protocol import Plan
from .resolver import Forward, Reverse
from .runstate import IN_FLIGHT, Listener, Run, failures, in_doubt
from .sealing import clear_outputs, unreadable
from .share import FairShare
from .states import ACTIVE, SATISFIED, DeploymentState, NodeState
from .steering import CONTROL_FRESH, CONTROL_POLL, HANDOVER, LOST, STOP, Handover, Steering
from .store.base import DeploymentRecord, Event, NodeRecord, Store
from .transports.base import Transport
from .waiting import WAKE, MessageFactory, Waiting
from .workers import WorkerPool

log = logging.getLogger(__name__)

#: Worker threads when the caller does not say.
DEFAULT_WORKERS = 16
#: Node states left behind in a rollback that did not finish.
_NOT_UNDONE = frozenset({*SATISFIED, NodeState.FAILED, NodeState.UNDO_FAILED, *IN_FLIGHT,
                         NodeState.IN_DOUBT})

TransportFactory = Callable[[str, dict[str, Any]], Transport]
_Work = tuple[int, Transport, "Plan | None", Plan]


class Engine(Steering, Waiting):
    """Runs deployments of blueprints, journaling every step in ``store``."""

    def __init__(self, store: Store, transports: TransportFactory, *,
                 workers: int = DEFAULT_WORKERS, listener: Listener | None = None,
                 messages: MessageFactory | None = None, leases: Leases | None = None,
                 share: FairShare | None = None, me: str | None = None,
                 secret: str | None = None) -> None:
        """``leases`` and ``share`` are an engine service's, shared by all its runs (a
        lone engine renews its own lease); ``me`` is the engine's identity; ``secret``
        the engines' shared secret, which seals outputs that carry a secret (without
        it they are journaled masked only, and a later run cannot read them)."""
        self.store = store
        self.transports = transports
        self.secret = secret
        #: Opens the broker subscriptions of states that wait for a message.
        self.messages = messages
        self.workers = max(1, workers)
        self.listener = listener
        #: Whether the last traversal failed because a host or transport was unreachable.
        self.infrastructure_failure = False
        #: Whether the last traversal was stopped by Ctrl-C / SIGTERM.
        self.interrupted = False
        self._run: Run | None = None
        self._stop_requested = False
        self._handover_requested = False
        self._me = me or owner.me()
        self._leases = leases or Leases(store, self._me, DEFAULT_TTL)
        self._own_leases = leases is None
        self.share = share
        #: The engine whose deployment this one took over (an engine service sets it).
        self.took_over = ""

    # -- public API ------------------------------------------------------------

    def create(self, bp: Blueprint, deployment_id: str | None = None,
               source: dict[str, Any] | None = None, *, on_failure: str | None = None,
               deadline: float | None = None) -> DeploymentRecord:
        """Journal a new pending deployment of ``bp``; return its record.

        Args:
            on_failure: overrides the blueprint's ``on_failure``.
            deadline: seconds from now the deployment must be done in (default: the
                blueprint's ``deadline``, if any).

        Raises:
            UsageError: ``deployment_id`` is taken.
        """
        dep_id = shaping.check_id(deployment_id if deployment_id is not None
                                  else shaping.new_id(bp))
        try:
            self.store.deployment(dep_id)
        except NotFound:
            pass
        else:
            raise UsageError(f"a deployment called '{dep_id}' already exists",
                             hint=f"'murano-flow resume {dep_id}' continues it; deploying "
                                  "with --id to a finished one converges it")
        with paused_gc():
            dep = shaping.deployment_record(bp, dep_id, source, on_failure=on_failure,
                                            deadline=deadline)
            self.store.create(dep, shaping.node_records(bp, dep.id), [
                Event(dep.id, dep.created, "deployment", status="pending",
                      message=f"created from {bp.path}")])
            return dep

    def reshape(self, bp: Blueprint, deployment_id: str, source: dict[str, Any] | None = None,
                *, on_failure: str | None = None, deadline: float | None = None
                ) -> DeploymentRecord:
        """Journal ``bp`` as the new definition of an existing deployment (new states
        pending, states in place kept); ``deploy(..., converge=True)`` then runs only what
        is new, what changed and what its ``check`` probe finds missing."""
        old = self.store.deployment(deployment_id)
        self._claim(old)  # refuses a deployment a live engine drives
        try:
            dep, rows, summary = shaping.reshape(old, self.store.nodes(deployment_id), bp,
                                                 source, on_failure=on_failure,
                                                 deadline=deadline)
            self.store.reshape(dep, rows, [Event(dep.id, time.time(), "deployment",
                                                 status=dep.state, message=summary)])
        finally:
            self.store.claim(old.id, "", self._me)
            self._leases.drop(old.id)
        return self.store.deployment(deployment_id)

    def deploy(self, bp: Blueprint, deployment_id: str, *, converge: bool = False,
               drifted: list[str] | None = None, rerun: tuple[str, ...] = (),
               seen: str | None = None) -> DeploymentRecord:
        """Drive ``deployment_id`` forward until its targets are reached or it fails;
        then roll it back if its failure policy says so. With ``converge`` every state
        in place is re-examined (after :meth:`reshape`); with ``drifted`` (states whose
        check probe failed) only those run again and only their dependents are
        re-examined. States in doubt are asked for again by their plan ids, except those
        in ``rerun`` (the operator's explicit choice), which run afresh. ``seen`` is the
        state the caller decided on: if the deployment is in another one when this engine
        holds it (an operator's cancel came first), nothing is done.

        Raises:
            UsageError: a name in ``rerun`` is not a state in doubt, or the deployment
                changed since the caller looked (``seen``) or since it was loaded.
        """
        with paused_gc():
            final = self._forward(bp, deployment_id, converge=converge, drifted=drifted,
                                  rerun=rerun, seen=seen)
            if final.state == "rolling_back" and not self.interrupted:  # on_failure: rollback
                final = self._backward(bp, deployment_id, chained=True)
            return final

    def rollback(self, bp: Blueprint, deployment_id: str, *, rerun: tuple[str, ...] = (),
                 seen: str | None = None) -> DeploymentRecord:
        """Undo every node that was done (or failed), in reverse dependency order.

        Actions an earlier engine left running, and actions in doubt, are asked for
        first, so that what they did is undone too; while one stays in doubt nothing is
        undone. ``rerun`` names undos in doubt to run afresh (the operator's choice);
        ``seen`` is as for :meth:`deploy`.
        """
        with paused_gc():
            nodes = self.store.nodes(deployment_id)
            by_name = {r.name: r for r in nodes}
            for name in rerun:  # refused now, not after collecting (which may stop short)
                _check_rerun(deployment_id, name, by_name.get(name), reverse=True)
            if not any(r.status == NodeState.RUNNING or _doubted(r, "execute") for r in nodes):
                return self._backward(bp, deployment_id, rerun=rerun, seen=seen)
            # Journaled as rolling back from here on: a crash while collecting still rolls back.
            collected = self._forward(bp, deployment_id, settle=True, seen=seen)
            if self.interrupted or collected.state != "rolling_back":
                return collected
            return self._backward(bp, deployment_id, chained=True, rerun=rerun)

    def request_stop(self) -> None:
        """Ask the running deployment to stop; safe to call from a signal handler.

        A request made while the deployment is still being loaded is honoured as soon
        as its loop starts.
        """
        self._stop_requested = True
        run = self._run
        if run is not None:
            run.done.put(STOP)  # SimpleQueue.put is reentrant: fine in a signal handler

    def hand_over(self) -> None:
        """Stop driving without stopping anything: running actions go on, and the
        deployment is released for another engine to re-attach to them (an engine
        service shutting down). Safe to call from any thread."""
        self._handover_requested = True
        run = self._run
        if run is not None:
            run.done.put(HANDOVER)

    # -- loading and claiming --------------------------------------------------

    def _forward(self, bp: Blueprint, deployment_id: str, settle: bool = False,
                 converge: bool = False, drifted: list[str] | None = None,
                 rerun: tuple[str, ...] = (), seen: str | None = None) -> DeploymentRecord:
        run = self._load(bp, deployment_id, reverse=False, rerun=rerun, seen=seen)
        if any(r.status == NodeState.UNDOING or _doubted(r, "revert") for r in run.records):
            self._release_claim(run)
            raise UsageError(f"deployment {deployment_id} stopped in the middle of undo "
                             "actions", hint=f"finish it: murano-flow rollback {deployment_id}")
        run.settle = settle
        self._sweep_queues(run)
        if settle:  # no new work, no deadline: only what is running, to be undone after
            run.stopping = run.stopping or "collecting what was running before rolling back"
            run.deadline = None
        for i, rec in enumerate(run.records):
            if rec.status == NodeState.FAILED and (settle or run.recovered):
                self._apply_policy(run, i)  # the run it failed in goes on: no second try
            elif rec.status in (NodeState.FAILED, NodeState.UNDO_FAILED, NodeState.UNDONE):
                rec.tries = 0
                run.node(rec, "reset", "pending", "reset for another try")
        if settle:
            run.deployment("rollback", "collecting the actions that were running, then "
                                       "rolling back")
        else:
            run.deployment("start", f"deploying with up to {self.workers} workers")
        if converge:  # every state in place is looked at again, in dependency order
            run.candidates = {i for i, r in enumerate(run.records) if r.status in SATISFIED}
        if drifted:
            self._redo_drifted(run, [run.graph.ids[n] for n in drifted])
        satisfied = [r.status in SATISFIED and i not in run.candidates
                     for i, r in enumerate(run.records)]
        todo = [not s and i not in run.inflight for i, s in enumerate(satisfied)]
        return self._drive(run, Forward(run.graph.preds, run.graph.succ, satisfied, todo))

    @staticmethod
    def _redo_drifted(run: Run, drifted: list[int]) -> None:
        """Drifted states run their action again; their dependents are re-examined."""
        below: set[int] = set()
        stack = list(drifted)
        while stack:
            for j in run.graph.succ[stack.pop()]:
                if j not in below:
                    below.add(j)
                    stack.append(j)
        for i in drifted:
            rec = run.records[i]
            if rec.status in SATISFIED:
                run.node(rec, "redo", "pending", "drifted (its check probe failed): "
                                                 "running its action again")
                run.forced.add(i)
        run.candidates = {j for j in below - set(drifted)
                          if run.records[j].status in SATISFIED}

    def _backward(self, bp: Blueprint, deployment_id: str, chained: bool = False,
                  rerun: tuple[str, ...] = (), seen: str | None = None) -> DeploymentRecord:
        run = self._load(bp, deployment_id, reverse=True, chained=chained, rerun=rerun,
                         seen=None if chained else seen)
        # What the rollback answers, kept through it (and through a crash in it).
        run.cause = run.dep.reason if run.dep.state == "rolling_back" else ""
        self._abandon_waits(run, "rolling back")
        todo = [r.status in _NOT_UNDONE and r.status != NodeState.RUNNING
                for r in run.records]
        for i, (rec, flag) in enumerate(zip(run.records, todo, strict=True)):
            if flag and i not in run.inflight:
                rec.intention = "revert"
                run.dirty[i] = rec
        run.deployment("rollback", f"rolling back {sum(todo)} nodes", reason=run.cause)
        return self._drive(run, Reverse(run.graph.preds, run.graph.succ, todo))

    def _load(self, bp: Blueprint, deployment_id: str, *, reverse: bool,
              chained: bool = False, rerun: tuple[str, ...] = (), seen: str | None = None
              ) -> Run:
        dep = self._claim_unchanged(deployment_id, seen)
        graph = StateGraph(bp)
        by_name = {r.name: r for r in self.store.nodes(deployment_id)}
        records = [by_name[n] for n in graph.names]
        run = Run(self.store, self.listener, bp, graph, dep, records, Masker(bp.secrets),
                  reverse, [clear_outputs(r.outputs, self.secret) for r in records],
                  owner=self._me, secret=self.secret, secrets=tuple(bp.secrets))
        self._leases.hold(dep.id, lambda: run.done.put(LOST))
        run.on_failure = str(dep.settings.get("on_failure") or bp.on_failure)
        run.deadline = None if reverse else dep.settings.get("deadline")
        busy = NodeState.UNDOING if reverse else NodeState.RUNNING
        way = "revert" if reverse else "execute"
        run.inflight = {i for i, r in enumerate(records) if r.status == busy or _doubted(r, way)}
        self._run = run
        self._rerun(run, rerun)
        if dep.control:
            self.store.set_control(dep.id, "")  # continuing it is the answer to old requests
        if dep.state in ACTIVE and not chained:  # its engine died (we hold the claim now)
            # Noted, not journaled as a state: a crash right here must leave it as it was.
            run.recovered = True
            gone = self.took_over or dep.owner
            run.note(f"the engine that drove it ({owner.describe(gone) or 'unknown'}) "
                     f"is gone; {len(run.inflight)} actions it left running are re-attached")
        if self._stop_requested:  # asked before the run existed (e.g. Ctrl-C while loading)
            self._stop(run)
        if self._handover_requested:
            run.done.put(HANDOVER)
        return run

    def _rerun(self, run: Run, names: tuple[str, ...]) -> None:
        """The operator chose to run these states in doubt afresh (a new attempt)."""
        for name in names:
            i = run.graph.ids.get(name)
            rec = run.records[i] if i is not None else None
            try:
                _check_rerun(run.dep.id, name, rec, reverse=run.reverse)
            except UsageError:
                self._release_claim(run)
                raise
            assert i is not None and rec is not None
            run.inflight.discard(i)
            event = "rerun_undo" if rec.intention == "revert" else "rerun"
            run.node(rec, event, "rerun", f"the operator chose to run it afresh: the outcome "
                                          f"of attempt {rec.attempt} is unknown")

    def _claim_unchanged(self, deployment_id: str, seen: str | None) -> DeploymentRecord:
        """Claim the deployment, and check that it is still in the state that was decided
        on (``seen``, else the one read just before the claim): an operator's request
        that landed in between (a cancel) is honoured, never overridden."""
        before = self.store.deployment(deployment_id)
        self._claim(before)
        dep = self.store.deployment(deployment_id)
        expected = before.state if seen is None else seen
        if dep.state != expected:
            self.store.claim(dep.id, "", self._me)
            self._leases.drop(dep.id)
            raise UsageError(f"deployment {dep.id} became '{dep.state}' just now"
                             + (f" ({dep.reason})" if dep.reason else "") + "; nothing was done",
                             hint="run the command again if you still want it")
        return replace(dep, owner=before.owner)  # who drove it before us: for re-attach

    def _claim(self, dep: DeploymentRecord) -> None:
        if dep.owner != self._me and owner.driving(dep):
            raise UsageError(
                f"deployment {dep.id} is being driven by the engine {owner.describe(dep.owner)}",
                hint=f"'murano-flow status {dep.id}' shows its progress; 'murano-flow pause' "
                     "or 'cancel' asks that engine to stop")
        if not self.store.claim(dep.id, self._me, dep.owner, ttl=self._leases.ttl):
            raise UsageError(f"another engine took deployment {dep.id} just now")

    def _release_claim(self, run: Run, *, handover: bool = False) -> None:
        """Let the deployment go; its request to engine services is answered unless it
        is handed over to another one."""
        self._let_go(run)
        self.store.claim(run.dep.id, "", self._me, request=None if handover else "")

    def _let_go(self, run: Run) -> None:
        self._leases.drop(run.dep.id)
        if self._own_leases and not self._leases.held():
            self._leases.close()
        if self.share is not None:
            self.share.leave(run.dep.id)
        self._run = None

    # -- the loop --------------------------------------------------------------

    def _drive(self, run: Run, resolver: Forward | Reverse) -> DeploymentRecord:
        pool = WorkerPool(self.workers)
        in_flight = 0
        detached = False
        if self.share is not None:
            self.share.join(run.dep.id)
        try:
            in_flight += self._reattach(run, pool)
            if self.share is not None:
                self.share.add(run.dep.id, in_flight)  # already running: they count
            self._release(run, resolver, [i for i in resolver.initial()
                                          if i not in run.inflight])
            while True:
                if run.runnable:
                    self._look(run, CONTROL_FRESH)
                in_flight += self._dispatch(run, pool, self._slots(run, in_flight))
                if in_flight == 0:
                    if run.halt == "pause" and not run.stopping:
                        self._hold(run)
                        continue
                    short = self.share is not None and run.runnable
                    if run.stopping or run.halt or not (run.retries or run.waiting or short):
                        break
                batch = self._wait(run)
                in_flight -= len(batch)
                if self.share is not None:
                    self.share.give(run.dep.id, len(batch))
                self._complete(run, resolver, batch)
                self._due_retries(run)
                self._release(run, resolver, self._waits(run))
                self._poll(run)
        except KeyboardInterrupt:  # no signal handler installed: same clean stop
            self._stop(run)
            while in_flight:
                item = run.done.get()
                if isinstance(item, Outcome):
                    in_flight -= 1
                    self._complete(run, resolver, [item])
            run.flush()  # before closing a transport forgets the runs it collected
        except Handover:
            detached = True
            self._close(run, pool, detached)
            return self._handed_over(run)
        except LeaseLost:
            detached = True
            self._close(run, pool, detached)
            self._let_go(run)
            raise
        finally:
            if not detached:  # a detached run let go of its slots with the deployment
                self._close(run, pool)
        return self._finish(run)

    def _slots(self, run: Run, in_flight: int) -> int:
        """How many more actions the run may start now: its own cap, and its fair share
        of its engine service's."""
        wanted = self.workers - in_flight
        if self.share is None or not run.runnable:
            return wanted
        return self.share.take(run.dep.id, wanted, lambda: run.done.put(WAKE))

    def _handed_over(self, run: Run) -> DeploymentRecord:
        """Journal that the run stopped here, and release the deployment with its request
        kept, for another engine to take and re-attach to what still runs."""
        run.note(f"handed over by the engine {owner.describe(self._me)}: "
                 f"{len(run.busy)} running actions go on; another engine re-attaches to them")
        run.flush()
        self._release_claim(run, handover=True)
        self.interrupted = True
        return self.store.deployment(run.dep.id)

    def _wait(self, run: Run) -> list[Outcome]:
        now = time.monotonic()
        due = [run.last_look + CONTROL_POLL]
        if run.retries:
            due.append(run.retries[0][0])
        if run.deadline is not None and not run.expired:
            due.append(now + run.deadline - time.time())
        waits = self._wait_due(run)
        if waits is not None:
            due.append(waits)
        items = []
        try:
            items.append(run.done.get(timeout=max(0.0, min(due) - now)))
            while True:
                items.append(run.done.get_nowait())
        except queue.Empty:
            pass
        if any(i is STOP for i in items):
            self._stop(run)
        if any(i is LOST for i in items):
            raise LeaseLost(f"deployment {run.dep.id}: another engine took it over")
        if any(i is HANDOVER for i in items):
            raise Handover
        return [i for i in items if isinstance(i, Outcome)]

    def _close(self, run: Run, pool: WorkerPool, detached: bool = False) -> None:
        """End the run's resources. A detached run (handed over, or its lease lost) does
        not wait for nor stop the actions still running: another engine re-attaches."""
        pool.shutdown(wait=not detached)
        self._close_transports(run, detach=detached)
        crash_point("engine.closed")
        self._close_messages(run)
        self._stop_requested = False  # a stop ends this run, not the next one

    # -- REATTACH / RELEASE / DISPATCH -----------------------------------------

    def _reattach(self, run: Run, pool: WorkerPool) -> int:
        """Ask again, by the same plan ids, for what an earlier engine left running."""
        work: list[_Work] = []
        previous = self.took_over or run.dep.owner
        for i in sorted(run.inflight):
            node, rec = run.graph.nodes[i], run.records[i]
            try:
                ctx = self._context(run, node)
                where = plans.target(node, ctx)
                if where.kind == "local" and owner.elsewhere(previous):
                    raise TransportError(
                        f"its attempt {rec.attempt} ran on the local host of the engine "
                        f"{owner.describe(previous)}, which this engine "
                        "cannot see: it is not run again here", hint="resume the deployment "
                        "on that machine to collect it, or check what it did and resume")
                transport = self._transport(run, where)
            except (ExpressionError, TransportError, UsageError) as exc:
                run.inflight.discard(i)
                self._doubt(run, i, f"cannot ask for attempt {rec.attempt} again: {exc}")
                continue
            check, action = self._plans(run, i, ctx, where)
            if rec.status == NodeState.IN_DOUBT:
                run.node(rec, "collect_undo" if run.reverse else "collect", "reattaching",
                         f"asking {where.key} again for attempt {rec.attempt}, whose outcome "
                         "was in doubt")
            else:
                run.event("reattaching", rec, f"attempt {rec.attempt} on {where.key} was in "
                                              "flight when its engine stopped")
            run.busy[i] = where.key
            work.append((i, transport, check, action))
        run.flush()  # fenced: no plan is asked for again by an engine that lost the lease
        for i, transport, check, action in work:
            pool.submit(execute, run.done, i, transport, check, action, True)
        return len(work)

    def _release(self, run: Run, resolver: Forward | Reverse, ready: list[int]) -> None:
        stack = list(ready)
        while stack:
            i = stack.pop()
            if i in run.candidates:
                if run.stopping:
                    continue  # stays as it is: nothing new starts
                if not self._reexamine(run, i):
                    stack.extend(resolver.completed(i))
                    continue
            node = run.graph.nodes[i]
            if node.wait is not None and not run.reverse and i not in run.heard and (
                    run.stopping or not self._arm(run, i)):
                continue  # released again when its event comes
            spec = node.undo if run.reverse else node.action
            if spec is None:  # synchronisation point, or nothing to undo: no host needed
                self._sync(run, i)
                stack.extend(resolver.completed(i))
                continue
            if not run.stopping:
                self._place(run, i)

    def _reexamine(self, run: Run, i: int) -> bool:
        """Whether a state in place must run again in a re-deploy: its inputs (the digest
        of its rendered action and host) changed, or it has a check probe to ask."""
        run.candidates.discard(i)
        node, rec = run.graph.nodes[i], run.records[i]
        if node.action is None:
            return False
        try:
            ctx = self._context(run, node)
            where = plans.target(node, ctx)
            action = plans.plan(node, node.action, "action", rec.attempt, ctx)
            changed = plans.digest(action, where, run.masker.data) != rec.inputs
        except ExpressionError:
            changed = True  # _place fails it with the message
        if not changed and node.check is None:
            run.event("unchanged", rec, "inputs unchanged since it was reached: kept")
            return False
        if changed:  # its probe vouches for the old inputs: run the action itself
            run.forced.add(i)
        why = "its inputs changed" if changed else "its check probe looks again"
        run.node(rec, "redo", "pending", f"{why}: running it again")
        return True

    def _place(self, run: Run, i: int, front: bool = False) -> None:
        """Render the node's context and host and queue it there; a bad expression fails it."""
        node = run.graph.nodes[i]
        try:
            ctx = self._context(run, node)
            self._enqueue(run, i, plans.target(node, ctx), ctx, front)
        except ExpressionError as exc:
            self._begin(run, i, "rendering its host")
            self._failed(run, i, f"expression error: {exc.message}")

    def _cannot_start(self, run: Run, i: int, exc: MuranoFlowError) -> None:
        """Its host, transport or plan could not be had: the node fails with why."""
        self._begin(run, i, "")
        run.infrastructure |= isinstance(exc, TransportError)
        self._failed(run, i, str(exc))

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
        q = run.queues.setdefault(where.key, deque())
        if not q and where.key not in run.busy.values():
            run.runnable.append(where.key)
        q.appendleft((i, where, ctx)) if front else q.append((i, where, ctx))

    def _dispatch(self, run: Run, pool: WorkerPool, slots: int) -> int:
        batch: list[_Work] = []
        busy_hosts = set(run.busy.values())
        while slots > len(batch) and run.runnable and not run.stopping and not run.halt:
            key = run.runnable.popleft()
            if key in busy_hosts or not run.queues.get(key):
                continue
            i, where, ctx = run.queues[key].popleft()
            item = self._start(run, i, where, ctx)
            if item is not None:
                batch.append(item)
                busy_hosts.add(key)
                run.busy[i] = key
            elif run.queues[key]:
                run.runnable.append(key)  # the host stays free for its next node
        run.flush()  # journal 'running' before any plan leaves this process
        if batch:
            crash_point("engine.dispatched")
        if self.share is not None:
            self.share.give(run.dep.id, slots - len(batch))  # taken, but nothing to start
        for i, transport, check, action in batch:
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
            run.node(rec, "retry" if retry else "start", "running",
                     f"attempt {rec.attempt} on {where.key}")
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
            if node.check and i not in run.forced else None
        action = plans.plan(node, node.action, "action", rec.attempt, ctx, secrets=run.secrets)
        rec.inputs = plans.digest(action, where, run.masker.data)
        return check, action

    def _transport(self, run: Run, where: plans.Target) -> Transport:
        if where.key not in run.transports:
            run.transports[where.key] = self.transports(where.kind, where.fields)
        return run.transports[where.key]

    # -- ANALYZE ---------------------------------------------------------------

    def _complete(self, run: Run, resolver: Forward | Reverse, batch: list[Outcome]) -> None:
        """Apply a batch of outcomes, then release the nodes they unblock."""
        # No commit here: nothing that depends on these completions can leave the process
        # before _dispatch commits them together with the next 'running' rows.
        done = [out.index for out in batch if self._analyze(run, out)]
        crash_point("engine.completed")
        for i in done:
            self._release(run, resolver, resolver.completed(i))

    def _analyze(self, run: Run, out: Outcome) -> bool:
        """Apply one outcome; True when its node is now satisfied (or undone)."""
        i = out.index
        key = run.busy.pop(i)
        run.inflight.discard(i)
        if run.queues.get(key):
            run.runnable.append(key)
        rec, node = run.records[i], run.graph.nodes[i]
        res = out.result
        if out.kind == "in_doubt" or (res is not None and res.lost):
            # Nobody knows how it ended (a host that lost the run knows it started): kept
            # in doubt for a later run to ask again; only the operator runs it afresh.
            self._doubt(run, i, out.error if res is None else res.message)
            return False
        if res is not None:
            rec.exit_code, rec.log_dir = res.exit_code, res.log_dir
            rec.stdout_tail = run.masker.text(res.stdout_tail)
            rec.stderr_tail = run.masker.text(res.stderr_tail)
        rec.finished = time.time()
        if res is not None and res.ok and not run.reverse:
            # a state that waited keeps its event's data; what its action publishes is added
            waited = run.outputs[i] or {}
            published = {**waited, **res.outputs} if node.wait else dict(res.outputs)
            missing = ", ".join(o for o in node.outputs if o not in published)
            if missing:
                who = "check passed but" if out.satisfied else "the action"
                self._failed(run, i, f"{who} did not publish declared outputs: {missing}")
                return False
            run.publish(i, published)
        if out.satisfied:
            run.node(rec, "satisfy", "skipped", "check passed: already in place")
        elif res is not None and res.ok:
            if run.reverse:
                run.node(rec, "undone", "undone", "undo succeeded")
            else:
                run.node(rec, "reach", "reached", f"done in {_took(rec)}")
        else:
            run.infrastructure |= out.failure_kind == "unreachable"
            self._retry_or_fail(run, i, out)
            return False
        return True

    def _retry_or_fail(self, run: Run, i: int, out: Outcome) -> None:
        rec, node = run.records[i], run.graph.nodes[i]
        reason = out.describe()
        spec = node.undo if run.reverse else node.action
        policy = spec.retries if spec else RetryPolicy()
        refusal = policy.refusal(rec.tries, out.failure_kind, rec.exit_code)
        if not refusal and not run.stopping and not run.killing:
            delay = policy.delay_for(rec.tries)
            rec.reason = run.masker.text(reason)
            run.dirty[i] = rec
            run.event("retrying", rec,
                      f"{reason}; try {rec.tries + 1} of {policy.count + 1} in {delay:.1f}s")
            heapq.heappush(run.retries, (time.monotonic() + delay, i))
            return
        if refusal and policy.count:  # a state without retries needs no "why not"
            reason = f"{reason} ({refusal})"
        self._failed(run, i, reason)

    def _doubt(self, run: Run, i: int, why: str) -> None:
        """Node ``i``'s outcome is unknown: kept in doubt with its plan id, never retried
        nor failed; no new work starts unless its on_failure says continue, and nothing
        is rolled back because of it."""
        rec = run.records[i]
        rec.reason = run.masker.text(why)
        if rec.status == NodeState.IN_DOUBT:
            run.dirty[i] = rec
            run.event("in_doubt", rec, why)
        else:
            run.node(rec, "doubt", "in_doubt", why)
        run.infrastructure = True
        if (run.graph.nodes[i].on_failure or run.on_failure) != "continue":
            run.stopping = run.stopping or f"{rec.name} is in doubt: {rec.reason}"

    def _failed(self, run: Run, i: int, reason: str) -> None:
        rec = run.records[i]
        if run.killing and rec.status in IN_FLIGHT:  # we stopped it: it runs again later
            run.node(rec, "interrupt", "interrupted", f"{reason}; will run again")
            if run.halt == "pause":
                run.parked.append(i)
            return
        if run.expired and rec.status in IN_FLIGHT:
            reason = f"stopped at the deployment's deadline: {reason}"
        event, status = ("undo_fail", "undo_failed") if run.reverse else ("fail", "failed")
        rec.reason = run.masker.text(reason)
        run.node(rec, event, status, reason)
        if not run.reverse:
            self._apply_policy(run, i)

    def _apply_policy(self, run: Run, i: int) -> None:
        """What node ``i``'s failure does to the rest: its on_failure, or the deployment's."""
        rec = run.records[i]
        policy = run.graph.nodes[i].on_failure or run.on_failure
        run.rollback_due |= policy == "rollback"
        if policy != "continue":
            run.stopping = run.stopping or f"{rec.name} failed: {rec.reason}"

    def _due_retries(self, run: Run) -> None:
        now = time.monotonic()
        while run.retries and (run.stopping or run.retries[0][0] <= now):
            _, i = heapq.heappop(run.retries)
            if run.stopping:
                self._failed(run, i, f"{run.records[i].reason}; not retried: {run.stopping}")
                continue
            self._place(run, i, front=True)

    # -- journal ---------------------------------------------------------------

    def _context(self, run: Run, node: Node) -> dict[str, Any]:
        def outputs_of(name: str) -> dict[str, Any]:
            values = run.outputs[run.graph.ids[name]]
            if values is None:
                raise ExpressionError(unreadable(name))
            return values

        return plans.context(run.bp, node, run.dep.id, outputs_of)

    def _finish(self, run: Run) -> DeploymentRecord:
        run.unqueue()
        self.infrastructure_failure, self.interrupted = run.infrastructure, run.interrupted
        doubt = in_doubt(run.records, run.dep.id)
        if run.interrupted and run.dep.state == DeploymentState.ROLLING_BACK:
            # The way back is journaled: resume and rollback both continue it.
            run.note(f"interrupted while rolling back; 'murano-flow rollback {run.dep.id}' "
                     "(or resume) continues the rollback")
            run.flush()
        elif run.interrupted:
            run.deployment("interrupt", f"interrupted; run 'murano-flow resume {run.dep.id}' "
                                        "to continue or 'rollback' to undo")
        elif run.halt == "cancel":
            run.deployment("cancel", f"cancelled by the operator; 'murano-flow resume "
                                     f"{run.dep.id}' continues it, 'rollback' undoes it")
        elif doubt and not run.reverse:  # never rolled back over: it may have done its work
            run.deployment("fail", doubt)
        elif run.settle:
            run.note("collected the actions that were running")
            run.flush()
        elif run.reverse:
            left = [r for r in run.records if r.status in _NOT_UNDONE and r.intention == "revert"]
            failed = [r for r in left if r.status == NodeState.UNDO_FAILED]
            why = doubt or (f"undo failed: {failed[0].name}: {failed[0].reason}" if failed
                            else f"{len(left)} nodes were not undone")
            done = "rolled back" + (f" after: {run.cause}" if run.cause else "")
            run.deployment("fail" if left else "rolled_back", why if left else done)
        elif all(r.status in SATISFIED for r in run.records):
            run.deployment("succeed", f"{len(run.records)} nodes reached")
        elif run.rollback_due:  # journaled before it starts: a crash still rolls back
            cause = run.stopping or failures(run.records)
            run.deployment("rollback", f"{cause}; rolling back (on_failure: rollback)",
                           reason=cause)
        else:
            run.deployment("fail", run.stopping or failures(run.records))
        self._release_claim(run)
        return self.store.deployment(run.dep.id)


def _check_rerun(dep_id: str, name: str, rec: NodeRecord | None, *, reverse: bool) -> None:
    """UsageError unless ``rec`` may be run afresh on the operator's word: a state in doubt,
    and in a rollback only an undo in doubt."""
    if rec is not None and rec.status == NodeState.IN_DOUBT and (
            not reverse or rec.intention == "revert"):
        return
    why = ("no such state" if rec is None else
           f"it is {rec.status}, not in doubt" if rec.status != NodeState.IN_DOUBT
           else "its action is in doubt, and a rollback runs only undos afresh "
                f"('resume {dep_id} --rerun {name}' runs the action)")
    raise UsageError(f"--rerun {name}: {why}", hint=f"only a state in doubt runs again this "
                     f"way; 'murano-flow status {dep_id} --nodes' shows each state's status")


def _doubted(rec: NodeRecord, intention: str) -> bool:
    """Whether ``rec`` is in doubt about an action ('execute') or an undo ('revert')."""
    return rec.status == NodeState.IN_DOUBT and rec.intention == intention


def _took(rec: NodeRecord) -> str:
    return f"{(rec.finished or 0) - (rec.started or 0):.2f}s"
