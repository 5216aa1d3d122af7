"""The engine: drives a deployment's graph to its targets, or back, on a thread pool.

One engine thread owns every piece of state; worker threads only run plans and
return outcomes through a queue (they never raise). The loop::

    RELEASE   nodes whose requirements are met are rendered and queued on their host
    DISPATCH  free hosts get their next node; one transaction commits the outcomes
              applied since the last one and the new 'running' rows, then plans go out
    WAIT      block on the completion queue (or until the next retry is due)
    ANALYZE   apply every outcome that arrived, then RELEASE the nodes they unblock

Nothing is acted on before it is journaled: a node starts only after its
requirements' completion is committed, and its own 'running' row is committed
before its plan is handed to a worker.
"""

from __future__ import annotations

import heapq
import logging
import queue
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import plans
from .blueprint.expressions import ExpressionError
from .blueprint.spec import Blueprint, Node
from .errors import MuranoFlowError, NotFound, TransportError, UsageError
from .gcpause import paused_gc
from .graph import StateGraph
from .lifecycle import fire_deployment, fire_node
from .masking import Masker
from .protocol import Plan, Result
from .resolver import Forward, Reverse
from .states import SATISFIED, NodeState
from .store.base import DeploymentRecord, Event, NodeRecord, Store
from .transports.base import Transport
from .workers import WorkerPool

log = logging.getLogger(__name__)

#: Worker threads when the caller does not say.
DEFAULT_WORKERS = 16

TransportFactory = Callable[[str, dict[str, Any]], Transport]
Listener = Callable[[Event], None]
_STOP = object()


@dataclass
class Outcome:
    """What a worker reports for one node."""

    index: int
    result: Result | None = None
    satisfied: bool = False
    error: str = ""
    infrastructure: bool = False


@dataclass
class _Run:
    bp: Blueprint
    graph: StateGraph
    dep: DeploymentRecord
    records: list[NodeRecord]
    masker: Masker
    reverse: bool = False
    outputs: list[dict[str, Any]] = field(default_factory=list)
    queues: dict[str, deque[tuple[int, plans.Target, dict[str, Any]]]] = field(
        default_factory=dict)
    runnable: deque[str] = field(default_factory=deque)
    busy: dict[int, str] = field(default_factory=dict)
    retries: list[tuple[float, int]] = field(default_factory=list)
    tries: dict[int, int] = field(default_factory=dict)
    dirty: dict[int, NodeRecord] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    transports: dict[str, Transport] = field(default_factory=dict)
    done: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    stopping: str = ""
    interrupted: bool = False
    infrastructure: bool = False


class Engine:
    """Runs deployments of blueprints, journaling every step in ``store``."""

    def __init__(self, store: Store, transports: TransportFactory, *,
                 workers: int = DEFAULT_WORKERS, listener: Listener | None = None) -> None:
        self.store = store
        self.transports = transports
        self.workers = max(1, workers)
        self.listener = listener
        #: Whether the last traversal failed because a host or transport was unreachable.
        self.infrastructure_failure = False
        self._run: _Run | None = None
        self._stop_requested = False

    # -- public API ------------------------------------------------------------

    def create(self, bp: Blueprint, deployment_id: str | None = None,
               source: dict[str, Any] | None = None) -> DeploymentRecord:
        """Journal a new pending deployment of ``bp``; return its record."""
        with paused_gc():
            return self._create(bp, deployment_id, source)

    def _create(self, bp: Blueprint, deployment_id: str | None,
                source: dict[str, Any] | None) -> DeploymentRecord:
        now = time.time()
        masker = Masker(bp.secrets)
        dep_id = deployment_id or f"{bp.name}-{secrets.token_hex(4)}"
        try:
            self.store.deployment(dep_id)
        except NotFound:
            pass
        else:
            raise UsageError(f"a deployment called '{dep_id}' already exists",
                             hint=f"pick another --id, or 'murano-flow resume {dep_id}'")
        secret_names = {p.name for p in bp.parameters.values() if p.secret}
        params = {k: ("******" if k in secret_names else masker.data(v))
                  for k, v in bp.values.items()}
        dep = DeploymentRecord(dep_id, bp.name, bp.path, bp.digest, "pending", now, now,
                               params, list(bp.targets), "", source or {})
        records = [NodeRecord(dep_id, n.name, n.instance, n.state, requires=list(n.requires),
                              has_action=n.action is not None) for n in bp.nodes.values()]
        self.store.create(dep, records, [Event(dep_id, now, "deployment", status="pending",
                                               message=f"created from {bp.path}")])
        return dep

    def deploy(self, bp: Blueprint, deployment_id: str) -> DeploymentRecord:
        """Drive ``deployment_id`` forward until its targets are reached or it fails."""
        with paused_gc():
            return self._forward(bp, deployment_id)

    def rollback(self, bp: Blueprint, deployment_id: str) -> DeploymentRecord:
        """Undo every node that was done (or failed), in reverse dependency order."""
        with paused_gc():
            return self._backward(bp, deployment_id)

    def _forward(self, bp: Blueprint, deployment_id: str) -> DeploymentRecord:
        run = self._load(bp, deployment_id, reverse=False)
        for rec in run.records:
            if rec.status in (NodeState.FAILED, NodeState.UNDO_FAILED, NodeState.UNDONE):
                self._node(run, rec, "reset", "pending", "reset for another try")
        self._deployment(run, "start", f"deploying with up to {self.workers} workers")
        satisfied = [r.status in SATISFIED for r in run.records]
        todo = [not s for s in satisfied]
        return self._drive(run, Forward(run.graph.preds, run.graph.succ, satisfied, todo))

    def _backward(self, bp: Blueprint, deployment_id: str) -> DeploymentRecord:
        run = self._load(bp, deployment_id, reverse=True)
        todo = [r.status in (*SATISFIED, NodeState.FAILED, NodeState.UNDO_FAILED)
                for r in run.records]
        for rec, flag in zip(run.records, todo, strict=True):
            if flag:
                rec.intention = "revert"
                run.dirty[run.graph.ids[rec.name]] = rec
        self._deployment(run, "rollback", f"rolling back {sum(todo)} nodes")
        return self._drive(run, Reverse(run.graph.preds, run.graph.succ, todo))

    def request_stop(self) -> None:
        """Ask the running deployment to stop; safe to call from a signal handler.

        A request made while the deployment is still being loaded is honoured as soon
        as its loop starts.
        """
        self._stop_requested = True
        run = self._run
        if run is not None:
            run.done.put(_STOP)  # SimpleQueue.put is reentrant: fine in a signal handler

    # -- the loop --------------------------------------------------------------

    def _load(self, bp: Blueprint, deployment_id: str, *, reverse: bool) -> _Run:
        dep = self.store.deployment(deployment_id)
        graph = StateGraph(bp)
        by_name = {r.name: r for r in self.store.nodes(deployment_id)}
        records = [by_name[n] for n in graph.names]
        run = _Run(bp, graph, dep, records, Masker(bp.secrets), reverse,
                   [dict(r.outputs) for r in records])
        self._run = run
        if self._stop_requested:  # asked before the run existed (e.g. Ctrl-C while loading)
            self._stop(run)
        return run

    def _drive(self, run: _Run, resolver: Forward | Reverse) -> DeploymentRecord:
        pool = WorkerPool(self.workers)
        in_flight = 0
        try:
            self._release(run, resolver, resolver.initial())
            while True:
                in_flight += self._dispatch(run, pool, self.workers - in_flight)
                if in_flight == 0 and not run.retries:
                    break
                batch = self._wait(run, in_flight)
                in_flight -= len(batch)
                self._complete(run, resolver, batch)
                self._due_retries(run)
        except KeyboardInterrupt:  # no signal handler installed: same clean stop
            self._stop(run)
            while in_flight:
                item = run.done.get()
                if isinstance(item, Outcome):
                    in_flight -= 1
                    self._complete(run, resolver, [item])
        finally:
            self._close(run, pool)
        return self._finish(run)

    def _wait(self, run: _Run, in_flight: int) -> list[Outcome]:
        timeout = max(0.0, run.retries[0][0] - time.monotonic()) if run.retries else None
        items = []
        try:
            items.append(run.done.get(timeout=timeout))
            while True:
                items.append(run.done.get_nowait())
        except queue.Empty:
            pass
        if any(i is _STOP for i in items):
            self._stop(run)
        return [i for i in items if isinstance(i, Outcome)]

    def _stop(self, run: _Run) -> None:
        if run.interrupted:
            return
        run.interrupted = True
        run.stopping = run.stopping or "interrupted by the operator"
        log.warning("%s: stopping: killing running actions", run.dep.id)
        for transport in list(run.transports.values()):
            transport.close()

    def _close(self, run: _Run, pool: WorkerPool) -> None:
        pool.shutdown()
        for transport in run.transports.values():
            transport.close()
        self._run = None
        self._stop_requested = False  # a stop ends this run, not the next one

    # -- RELEASE / DISPATCH ----------------------------------------------------

    def _release(self, run: _Run, resolver: Forward | Reverse, ready: list[int]) -> None:
        stack = list(ready)
        while stack:
            i = stack.pop()
            node = run.graph.nodes[i]
            spec = node.undo if run.reverse else node.action
            if spec is None:  # synchronisation point, or nothing to undo: no host needed
                self._sync(run, i)
                stack.extend(resolver.completed(i))
                continue
            if not run.stopping:
                self._place(run, i)

    def _place(self, run: _Run, i: int, front: bool = False) -> None:
        """Render the node's context and host and queue it there; a bad expression fails it."""
        node, rec = run.graph.nodes[i], run.records[i]
        try:
            ctx = self._context(run, node)
            self._enqueue(run, i, plans.target(node, ctx), ctx, front)
        except ExpressionError as exc:
            if rec.status not in (NodeState.RUNNING, NodeState.UNDOING):  # not a retry
                event, kind = ("undo", "undoing") if run.reverse else ("start", "running")
                self._node(run, rec, event, kind, "rendering its host")
            self._failed(run, i, f"expression error: {exc.message}")

    def _sync(self, run: _Run, i: int) -> None:
        rec = run.records[i]
        if run.reverse:
            fire_node(rec, "undo")
            self._node(run, rec, "undone", "undone", "nothing to undo")
            return
        rec.started = rec.finished = time.time()
        fire_node(rec, "start")  # passes through running; one event is enough
        self._node(run, rec, "reach", "reached", "synchronisation point reached")

    def _enqueue(self, run: _Run, i: int, where: plans.Target, ctx: dict[str, Any],
                 front: bool = False) -> None:
        q = run.queues.setdefault(where.key, deque())
        if not q and where.key not in run.busy.values():
            run.runnable.append(where.key)
        q.appendleft((i, where, ctx)) if front else q.append((i, where, ctx))

    def _dispatch(self, run: _Run, pool: WorkerPool, slots: int) -> int:
        batch: list[tuple[int, Transport, Plan | None, Plan]] = []
        busy_hosts = set(run.busy.values())
        while slots > len(batch) and run.runnable and not run.stopping:
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
        self._flush(run)  # journal 'running' before any plan leaves this process
        for i, transport, check, action in batch:
            pool.submit(self._execute, run.done, i, transport, check, action)
        return len(batch)

    def _start(self, run: _Run, i: int, where: plans.Target, ctx: dict[str, Any]
               ) -> tuple[int, Transport, Plan | None, Plan] | None:
        node, rec = run.graph.nodes[i], run.records[i]
        rec.host = where.key
        rec.attempt += 1  # monotonic across runs, so every plan id is new
        run.tries[i] = run.tries.get(i, 0) + 1
        rec.started, rec.finished = time.time(), None
        try:
            transport = self._transport(run, where)
            if run.reverse:
                extra = {"MURANO_FLOW_FAILURE": rec.reason} if rec.status == "failed" else {}
                event = "retry" if rec.status == NodeState.UNDOING else "undo"
                self._node(run, rec, event, "undoing", f"undo attempt {run.tries[i]} on "
                                                       f"{where.key}")
                assert node.undo is not None
                return i, transport, None, plans.plan(node, node.undo, "undo", rec.attempt,
                                                      ctx, extra)
            event = "retry" if rec.status == NodeState.RUNNING else "start"
            self._node(run, rec, event, "running", f"attempt {rec.attempt} on {where.key}")
            assert node.action is not None
            check = plans.plan(node, node.check, "check", rec.attempt, ctx) if node.check else None
            return i, transport, check, plans.plan(node, node.action, "action", rec.attempt, ctx)
        except (ExpressionError, TransportError, UsageError) as exc:  # UsageError: bad host
            if rec.status == NodeState.PENDING:
                self._node(run, rec, "start", "running", "")
            run.infrastructure |= isinstance(exc, TransportError)
            self._failed(run, i, str(exc))
            return None

    def _transport(self, run: _Run, where: plans.Target) -> Transport:
        if where.key not in run.transports:
            run.transports[where.key] = self.transports(where.kind, where.fields)
        return run.transports[where.key]

    @staticmethod
    def _execute(done: queue.SimpleQueue[Any], i: int, transport: Transport,
                 check: Plan | None, action: Plan) -> None:
        """Worker thread: run the check, then the action; report, never raise."""
        try:
            if check is not None:
                probe = transport.send(check)
                if probe.ok or probe.status == "error":
                    done.put(Outcome(i, probe, satisfied=probe.ok))
                    return
            done.put(Outcome(i, transport.send(action)))
        except MuranoFlowError as exc:
            done.put(Outcome(i, error=str(exc), infrastructure=isinstance(exc, TransportError)))
        except Exception as exc:  # a bug in a transport must not hang the engine
            log.exception("transport failed on %s", action.node)
            done.put(Outcome(i, error=f"internal error: {type(exc).__name__}: {exc}"))

    # -- ANALYZE ---------------------------------------------------------------

    def _complete(self, run: _Run, resolver: Forward | Reverse, batch: list[Outcome]) -> None:
        """Apply a batch of outcomes, then release the nodes they unblock."""
        # No commit here: nothing that depends on these completions can leave the process
        # before _dispatch commits them together with the next 'running' rows.
        done = [out.index for out in batch if self._analyze(run, out)]
        for i in done:
            self._release(run, resolver, resolver.completed(i))

    def _analyze(self, run: _Run, out: Outcome) -> bool:
        """Apply one outcome; True when its node is now satisfied (or undone)."""
        i = out.index
        key = run.busy.pop(i)
        if run.queues.get(key):
            run.runnable.append(key)
        rec, node = run.records[i], run.graph.nodes[i]
        res = out.result
        if res is not None:
            rec.exit_code, rec.log_dir = res.exit_code, res.log_dir
            rec.stdout_tail = run.masker.text(res.stdout_tail)
            rec.stderr_tail = run.masker.text(res.stderr_tail)
        rec.finished = time.time()
        if res is not None and res.ok and not run.reverse:
            missing = ", ".join(o for o in node.outputs if o not in res.outputs)
            if missing:
                who = "check passed but" if out.satisfied else "the action"
                self._failed(run, i, f"{who} did not publish declared outputs: {missing}")
                return False
            run.outputs[i] = dict(res.outputs)
            rec.outputs = run.masker.data(res.outputs)
        if out.satisfied:
            self._node(run, rec, "satisfy", "skipped", "check passed: already in place")
        elif res is not None and res.ok:
            if run.reverse:
                self._node(run, rec, "undone", "undone", "undo succeeded")
            else:
                self._node(run, rec, "reach", "reached", f"done in {_took(rec)}")
        else:
            run.infrastructure |= out.infrastructure
            self._retry_or_fail(run, i, _describe(out))
            return False
        return True

    def _retry_or_fail(self, run: _Run, i: int, reason: str) -> None:
        rec, node = run.records[i], run.graph.nodes[i]
        spec = node.undo if run.reverse else node.action
        policy = spec.retries if spec else None
        if policy and not run.stopping and policy.allows(run.tries[i], rec.exit_code):
            delay = policy.delay_for(run.tries[i])
            rec.reason = run.masker.text(reason)
            self._event(run, "retrying", rec, f"{reason}; retrying in {delay:g}s")
            heapq.heappush(run.retries, (time.monotonic() + delay, i))
            return
        self._failed(run, i, reason)

    def _failed(self, run: _Run, i: int, reason: str) -> None:
        rec = run.records[i]
        if run.interrupted and rec.status in (NodeState.RUNNING, NodeState.UNDOING):
            self._node(run, rec, "interrupt", "interrupted", f"{reason}; will run again")
            return
        event, status = ("undo_fail", "undo_failed") if run.reverse else ("fail", "failed")
        self._node(run, rec, event, status, reason)
        rec.reason = run.masker.text(reason)
        if not run.reverse:
            run.stopping = run.stopping or f"{rec.name} failed: {rec.reason}"

    def _due_retries(self, run: _Run) -> None:
        now = time.monotonic()
        while run.retries and (run.stopping or run.retries[0][0] <= now):
            _, i = heapq.heappop(run.retries)
            if run.stopping:
                self._failed(run, i, f"{run.records[i].reason}; not retried: {run.stopping}")
                continue
            self._place(run, i, front=True)

    # -- journal ---------------------------------------------------------------

    def _context(self, run: _Run, node: Node) -> dict[str, Any]:
        return plans.context(run.bp, node, run.dep.id,
                             lambda name: run.outputs[run.graph.ids[name]])

    def _node(self, run: _Run, rec: NodeRecord, event: str, kind: str, message: str) -> None:
        fire_node(rec, event)
        run.dirty[run.graph.ids[rec.name]] = rec
        self._event(run, kind, rec, message)

    def _event(self, run: _Run, kind: str, rec: NodeRecord, message: str) -> None:
        run.events.append(Event(run.dep.id, time.time(), kind, rec.name, rec.status,
                                rec.attempt, run.masker.text(message)))

    def _deployment(self, run: _Run, event: str, message: str) -> None:
        fire_deployment(run.dep, event)
        run.events.append(Event(run.dep.id, time.time(), "deployment", status=run.dep.state,
                                message=run.masker.text(message)))
        self._flush(run, state=run.dep.state, reason="" if event in ("start", "rollback")
                    else run.masker.text(message))

    def _flush(self, run: _Run, state: str | None = None, reason: str | None = None) -> None:
        if not run.dirty and not run.events and state is None:
            return
        events, run.events = run.events, []
        self.store.commit(run.dep.id, list(run.dirty.values()), events, state, reason)
        run.dirty.clear()
        if self.listener is not None:
            for e in events:
                try:
                    self.listener(e)
                except Exception:  # a display bug must not stop a deployment
                    log.exception("event listener failed")

    def _finish(self, run: _Run) -> DeploymentRecord:
        for _, i in run.retries:  # only left behind by an interrupt
            self._failed(run, i, "waiting to retry")
        run.retries.clear()
        failed = [r for r in run.records if r.status in (NodeState.FAILED, NodeState.UNDO_FAILED)]
        self.infrastructure_failure = run.infrastructure
        if run.interrupted:
            self._deployment(run, "interrupt", "interrupted; run 'murano-flow resume "
                             f"{run.dep.id}' to continue or 'rollback' to undo")
        elif run.reverse:
            done = not failed
            self._deployment(run, "rolled_back" if done else "fail",
                             "rolled back" if done else f"undo failed: {failed[0].name}: "
                                                        f"{failed[0].reason}")
        elif failed:
            self._deployment(run, "fail", run.stopping)
        else:
            self._deployment(run, "succeed", f"{len(run.records)} nodes reached")
        return self.store.deployment(run.dep.id)


def _took(rec: NodeRecord) -> str:
    return f"{(rec.finished or 0) - (rec.started or 0):.2f}s"


def _describe(out: Outcome) -> str:
    res = out.result
    if res is None:
        return out.error or "unknown failure"
    if res.status == "failed":
        detail = res.message or _last_line(res.stderr_tail) or _last_line(res.stdout_tail)
        return f"exit code {res.exit_code}" + (f": {detail}" if detail else "")
    return res.message or res.status


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
