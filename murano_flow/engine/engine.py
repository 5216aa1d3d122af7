"""The engine: drives a deployment's state graph to its targets, or back, on a thread pool.

:class:`Engine` is the facade its callers use (the application layer, an engine
service): it loads a run from the journal, claims the deployment, and hands the run to
the :class:`~.loop.Loop` - a small state machine, whose table is in its docstring -
with the components the loop drives:

* :class:`~.dispatch.Dispatcher`: release, placement on hosts, dispatch, re-attach;
* :class:`~.completion.Completer`: outcomes, retries, failure policy, doubt;
* :class:`~.waits.Waits`: states waiting for a timer, signal or broker message;
* :class:`~.control.Control`: Ctrl-C, the operator's pause/cancel, the deadline;
* :class:`~.claims.Claims`: the claim and lease on the deployment (every commit is
  fenced by it, so no plan leaves an engine that no longer owns the deployment, and
  another engine can take over a dead one's deployments and re-attach to them).

A run returns its :class:`~.verdict.Verdict`: the deployment as journaled, whether it
was interrupted or handed over, whether a host was unreachable, what is in doubt.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from ..blueprint.spec import Blueprint
from ..errors import LeaseLost, NotFound, UsageError
from ..gcpause import paused_gc
from ..graph import StateGraph
from ..states import ACTIVE, SATISFIED, NodeState
from ..store.base import DeploymentRecord, Event, Store
from ..store.sealing import clear_outputs
from ..wire.masking import Masker
from . import identity, ownership, rows
from .claims import Claims, check_rerun, doubted
from .completion import Completer
from .control import HANDOVER, LOST, STOP, Control
from .dispatch import Dispatcher, TransportFactory
from .lease import DEFAULT_TTL, Leases
from .loop import HANDED_OVER, Loop
from .resolver import Direct, Flow, Forward, Reverse, Rollout, handles_failure, ran
from .retire import retiring_blueprint
from .run import Listener, Run
from .share import FairShare
from .verdict import NOT_UNDONE, Verdict, conclude, verdict
from .waits import MessageFactory, Waits

log = logging.getLogger(__name__)

#: Worker threads when the caller does not say.
DEFAULT_WORKERS = 16

__all__ = ["DEFAULT_WORKERS", "Engine", "TransportFactory", "Verdict"]


class Engine:
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
        self.secret = secret
        self.workers = max(1, workers)
        self.listener = listener
        self._run: Run | None = None
        self._stop_requested = False
        self._handover_requested = False
        self._me = me or identity.me()
        self.claims = Claims(store, self._me, leases or Leases(store, self._me, DEFAULT_TTL),
                             own_leases=leases is None, share=share)
        self.control = Control(store)
        self.completer = Completer()
        self.waits = Waits(store, messages, self.completer)
        self.dispatcher = Dispatcher(transports, self.completer, self.waits, share)
        self.loop = Loop(self.control, self.completer, self.waits, self.dispatcher,
                         workers=self.workers, share=share)
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
        dep_id = rows.check_id(deployment_id if deployment_id is not None
                                  else rows.new_id(bp))
        try:
            self.store.deployment(dep_id)
        except NotFound:
            pass
        else:
            raise UsageError(f"a deployment called '{dep_id}' already exists",
                             hint=f"'murano-flow resume {dep_id}' continues it; deploying "
                                  "with --id to a finished one converges it")
        ownership.check_free(self.store, bp, dep_id, exists=False)
        with paused_gc():
            dep = rows.deployment_record(bp, dep_id, source, on_failure=on_failure,
                                            deadline=deadline)
            self.store.create(dep, rows.node_records(bp, dep.id), [
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
        ownership.check_free(self.store, bp, deployment_id, exists=True)
        self.claims.claim(old)  # refuses a deployment a live engine drives
        try:
            dep, nodes, summary = rows.reshape(old, self.store.nodes(deployment_id), bp,
                                               source, on_failure=on_failure,
                                               deadline=deadline)
            self.store.reshape(dep, nodes, [Event(dep.id, time.time(), "deployment",
                                                 status=dep.state, message=summary)])
        finally:
            self.claims.unclaim(old.id)
        return self.store.deployment(deployment_id)

    def deploy(self, bp: Blueprint, deployment_id: str, *, converge: bool = False,
               drifted: list[str] | None = None, rerun: tuple[str, ...] = (),
               seen: str | None = None, redo: tuple[str, ...] = (),
               limit: tuple[str, ...] | None = None) -> Verdict:
        """Drive ``deployment_id`` forward until its targets are reached or it fails;
        then roll it back if its failure policy says so. With ``converge`` every state
        in place is re-examined (after :meth:`reshape`); with ``drifted`` (states whose
        check probe failed) only those run again and only their dependents are
        re-examined. States in doubt are asked for again by their plan ids, except those
        in ``rerun`` (the operator's explicit choice), which run afresh. ``seen`` is the
        state the caller decided on: if the deployment is in another one when this engine
        holds it (an operator's cancel came first), nothing is done. ``redo`` names states
        in place whose action runs again though nothing changed (the operator's
        ``--redo``); with ``limit``, a converge re-examines only those states
        and keeps every other as it is (the caller checked they are in place).

        Raises:
            UsageError: a name in ``rerun`` is not a state in doubt, or the deployment
                changed since the caller looked (``seen``) or since it was loaded.
        """
        with paused_gc():
            final = self._forward(bp, deployment_id, converge=converge, drifted=drifted,
                                  rerun=rerun, seen=seen, redo=redo, limit=limit)
            if final.state == "rolling_back" and not final.interrupted:  # on_failure: rollback
                final = self._then_dropped(bp, self._backward(bp, deployment_id, chained=True))
            elif final.state == "succeeded" and rows.retiring_of(final.deployment):
                final = self._retire(bp, deployment_id)
            return final

    def rollback(self, bp: Blueprint, deployment_id: str, *, rerun: tuple[str, ...] = (),
                 seen: str | None = None) -> Verdict:
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
                check_rerun(deployment_id, name, by_name.get(name), reverse=True)
            if not any(r.status == NodeState.RUNNING or doubted(r, "execute") for r in nodes):
                return self._then_dropped(bp, self._backward(bp, deployment_id, rerun=rerun,
                                                             seen=seen))
            # Journaled as rolling back from here on: a crash while collecting still rolls back.
            collected = self._forward(bp, deployment_id, settle=True, seen=seen)
            if collected.interrupted or collected.state != "rolling_back":
                return collected
            return self._then_dropped(bp, self._backward(bp, deployment_id, chained=True,
                                                         rerun=rerun))

    def _then_dropped(self, bp: Blueprint, final: Verdict) -> Verdict:
        """A rollback done with the blueprint's states undoes, last, those a re-deploy
        dropped that were still to be undone."""
        if final.state == "rolled_back" and rows.retiring_of(final.deployment):
            return self._retire(bp, final.deployment.id, rollback=True)
        return final

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

    # -- loading a run ----------------------------------------------------------

    def _forward(self, bp: Blueprint, deployment_id: str, settle: bool = False,
                 converge: bool = False, drifted: list[str] | None = None,
                 rerun: tuple[str, ...] = (), seen: str | None = None,
                 redo: tuple[str, ...] = (), limit: tuple[str, ...] | None = None
                 ) -> Verdict:
        run = self._load(bp, deployment_id, reverse=False, rerun=rerun, seen=seen)
        if any(r.status == NodeState.UNDOING or doubted(r, "revert") for r in run.records):
            self._release(run)
            raise UsageError(f"deployment {deployment_id} stopped in the middle of undo "
                             "actions", hint=f"finish it: murano-flow rollback {deployment_id}")
        run.settle = settle
        self.waits.sweep(run)
        if settle:  # no new work, no deadline: only what is running, to be undone after
            run.brakes.stopping = (run.brakes.stopping
                                   or "collecting what was running before rolling back")
            run.brakes.deadline = None
        kept_failed: list[int] = []  # in a rollout's budget, maybe: the resolver decides
        for i, rec in enumerate(run.records):
            if rec.status == NodeState.FAILED and (settle or run.recovered):
                # the run it failed in goes on: no second try (a branch handling it goes on)
                node = run.graph.nodes[i]
                if node.max_failures is not None and not settle:
                    kept_failed.append(i)
                elif not handles_failure(node):
                    self.completer.apply_policy(run, i)
            elif rec.status in (NodeState.FAILED, NodeState.UNDO_FAILED, NodeState.UNDONE):
                rec.tries = 0
                run.node(rec, "reset", "pending", "reset for another try")
        if settle:
            run.deployment("rollback", "collecting the actions that were running, then "
                                       "rolling back")
        else:
            run.deployment("start", f"deploying with up to {self.workers} workers")
        if converge:  # every state in place is looked at again, in dependency order
            run.work.candidates = {i for i, r in enumerate(run.records) if r.status in SATISFIED}
            if limit is not None:  # ... of those the operator's --limit names
                run.work.candidates &= {run.graph.ids[n] for n in limit}
        for name in redo:
            i = run.graph.ids[name]
            rec = run.records[i]
            if rec.status in SATISFIED:
                run.node(rec, "redo", "pending", "the operator asked to run it again (--redo)")
                run.work.forced.add(i)
                run.work.candidates.discard(i)
        if drifted:
            self._redo_drifted(run, [run.graph.ids[n] for n in drifted])
        satisfied = [r.status in SATISFIED and i not in run.work.candidates
                     for i, r in enumerate(run.records)]
        # still failed here only in the run it failed in (recovered): it is not tried again
        todo = [not s and i not in run.work.inflight and r.status != NodeState.FAILED
                for i, (s, r) in enumerate(zip(satisfied, run.records, strict=True))]
        graph = run.graph
        if not graph.direct:
            rollout = Rollout(graph.nodes, graph.ids) if any(
                n.max_failures is not None for n in graph.nodes) else None
            forward = Forward(graph.preds, graph.succ, satisfied, todo, rollout, graph.nodes,
                              kept_failed)
            for i in forward.beyond_budget:
                self.completer.apply_policy(run, i)
            return self._drive(run, forward)
        return self._drive(run, Direct(graph.nodes, graph.ids, graph.requires, satisfied, todo,
                                       [r.status for r in run.records],
                                       [ran(r.status, r.attempt) for r in run.records]))

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
                run.work.forced.add(i)
        run.work.candidates = {j for j in below - set(drifted)
                          if run.records[j].status in SATISFIED}

    def _backward(self, bp: Blueprint, deployment_id: str, chained: bool = False,
                  rerun: tuple[str, ...] = (), seen: str | None = None) -> Verdict:
        run = self._load(bp, deployment_id, reverse=True, chained=chained, rerun=rerun,
                         seen=None if chained else seen)
        # What the rollback answers, kept through it (and through a crash in it).
        run.cause = run.dep.reason if run.dep.state == "rolling_back" else ""
        self.waits.abandon(run, "rolling back")
        todo = [r.status in NOT_UNDONE and r.status != NodeState.RUNNING
                and (r.status != NodeState.SKIPPED or ran(r.status, r.attempt))
                for r in run.records]  # a state passed over never ran: nothing to undo
        for i, (rec, flag) in enumerate(zip(run.records, todo, strict=True)):
            if flag and i not in run.work.inflight:
                rec.intention = "revert"
                run.dirty[i] = rec
        run.deployment("rollback", f"rolling back {sum(todo)} nodes", reason=run.cause)
        return self._drive(run, Reverse(run.graph.preds, run.graph.succ, todo))

    def _retire(self, bp: Blueprint, deployment_id: str, rollback: bool = False) -> Verdict:
        """Undo the states a re-deploy dropped (scale-in), now that the rest converged
        without them (or, in a ``rollback``, was undone), in reverse dependency order, by
        the blueprint they came from; then forget them. After a deploy the deployment
        stays succeeded unless an undo fails; a rollback ends rolled back."""
        dep = self.store.deployment(deployment_id)
        spec = dep.settings[rows.RETIRING]
        present = {r.name for r in self.store.nodes(deployment_id)}
        old = retiring_blueprint(spec, bp, present)
        run = self._load(old, deployment_id, reverse=True, chained=True)
        run.retiring = not rollback
        todo = [r.status in NOT_UNDONE and r.status != NodeState.RUNNING for r in run.records]
        for i, (rec, flag) in enumerate(zip(run.records, todo, strict=True)):
            if flag and i not in run.work.inflight:
                rec.intention = "revert"
                run.dirty[i] = rec
        run.deployment("rollback" if rollback else "start",
                       f"undoing {sum(todo)} states the blueprint no longer has, in reverse "
                       "order")
        final = self._drive(run, Reverse(run.graph.preds, run.graph.succ, todo))
        if final.state == ("rolled_back" if rollback else "succeeded"):  # all undone: forget
            dep = self.store.deployment(deployment_id)
            dep.settings.pop(rows.RETIRING, None)
            kept = [r for r in self.store.nodes(deployment_id) if r.name not in old.nodes]
            self.store.reshape(dep, kept, [Event(dep.id, time.time(), "deployment",
                                                 status=dep.state,
                                                 message=f"removed {len(old.nodes)} states "
                                                         "the blueprint no longer has")])
            final = dataclasses.replace(final, deployment=self.store.deployment(deployment_id))
        return final

    def _load(self, bp: Blueprint, deployment_id: str, *, reverse: bool,
              chained: bool = False, rerun: tuple[str, ...] = (), seen: str | None = None
              ) -> Run:
        dep = self.claims.claim_unchanged(deployment_id, seen)
        graph = StateGraph(bp)
        by_name = {r.name: r for r in self.store.nodes(deployment_id)}
        records = [by_name[n] for n in graph.names]
        run = Run(self.store, self.listener, bp, graph, dep, records, Masker(bp.secrets),
                  reverse, [clear_outputs(r.outputs, self.secret) for r in records],
                  owner=self._me, secret=self.secret, secrets=tuple(bp.secrets))
        self.claims.leases.hold(dep.id, lambda: run.done.put(LOST))
        run.held_elsewhere = ownership.holders(self.store, dep.id)
        run.brakes.on_failure = str(dep.settings.get("on_failure") or bp.on_failure)
        run.brakes.deadline = None if reverse else dep.settings.get("deadline")
        busy = NodeState.UNDOING if reverse else NodeState.RUNNING
        way = "revert" if reverse else "execute"
        run.work.inflight = {i for i, r in enumerate(records)
                             if r.status == busy or doubted(r, way)}
        self._run = run
        self._rerun(run, rerun)
        if dep.control:
            self.store.set_control(dep.id, "")  # continuing it is the answer to old requests
        if dep.state in ACTIVE and not chained:  # its engine died (we hold the claim now)
            # Noted, not journaled as a state: a crash right here must leave it as it was.
            run.recovered = True
            gone = self.took_over or dep.owner
            run.note(f"the engine that drove it ({identity.describe(gone) or 'unknown'}) "
                     f"is gone; {len(run.work.inflight)} actions it left running are re-attached")
        if self._stop_requested:  # asked before the run existed (e.g. Ctrl-C while loading)
            self.control.stop(run)
        if self._handover_requested:
            run.done.put(HANDOVER)
        return run

    def _rerun(self, run: Run, names: tuple[str, ...]) -> None:
        """The operator chose to run these states in doubt afresh (a new attempt)."""
        for name in names:
            i = run.graph.ids.get(name)
            rec = run.records[i] if i is not None else None
            try:
                check_rerun(run.dep.id, name, rec, reverse=run.reverse)
            except UsageError:
                self._release(run)
                raise
            assert i is not None and rec is not None
            run.work.inflight.discard(i)
            event = "rerun_undo" if rec.intention == "revert" else "rerun"
            run.node(rec, event, "rerun", f"the operator chose to run it afresh: the outcome "
                                          f"of attempt {rec.attempt} is unknown")

    # -- driving it --------------------------------------------------------------

    def _drive(self, run: Run, resolver: Flow) -> Verdict:
        previous = self.took_over or run.dep.owner
        run.flow = resolver
        try:
            end = self.loop.drive(run, resolver, previous)
        except LeaseLost:
            self._let_go(run)
            raise
        finally:
            self._stop_requested = False  # a stop ends this run, not the next one
        if end == HANDED_OVER:
            return self._handed_over(run)
        conclude(run)
        self._release(run)
        return verdict(run, self.store.deployment(run.dep.id))

    def _handed_over(self, run: Run) -> Verdict:
        """Journal that the run stopped here, and release the deployment with its request
        kept, for another engine to take and re-attach to what still runs."""
        run.note(f"handed over by the engine {identity.describe(self._me)}: "
                 f"{len(run.work.busy)} running actions go on; another engine re-attaches "
                 "to them")
        run.flush()
        self._release(run, handover=True)
        return verdict(run, self.store.deployment(run.dep.id), handed_over=True)

    def _release(self, run: Run, *, handover: bool = False) -> None:
        self.claims.release(run.dep.id, handover=handover)
        self._run = None

    def _let_go(self, run: Run) -> None:
        self.claims.let_go(run.dep.id)
        self._run = None
