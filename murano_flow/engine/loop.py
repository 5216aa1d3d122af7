"""The run loop: one engine thread drives one traversal of a deployment as a small
state machine. Worker threads only run plans and put outcomes on the run's queue.

=========  ======================================================  =====================
state      what it does                                            next
=========  ======================================================  =====================
REATTACH   ask again, by the same plan ids, for what an earlier    RELEASE
           engine left running or in doubt
RELEASE    queue on their hosts the nodes whose requirements are   DISPATCH
           met (nodes with nothing to run settle at once)
DISPATCH   renew a stale look at the operator's requests; start    WAIT while actions
           the free hosts' next nodes (one commit, then plans go)  run; else HOLD if
                                                                   paused, END if
                                                                   :meth:`Brakes.ends`,
                                                                   else WAIT
HOLD       paused with nothing running: wait for resume or cancel  DISPATCH
WAIT       block for outcomes, a due retry or timer, the deadline  ANALYZE; HANDOVER;
           or the next look at the operator's requests             (lease lost: raises)
ANALYZE    apply the outcomes and release what they unblock; due   DISPATCH
           retries, waits whose event came, deadline and requests
END        (the engine journals the final move: verdict.conclude)  -
HANDOVER   (the engine releases the deployment, request kept)      -
=========  ======================================================  =====================

Nothing is acted on before it is journaled: a node starts only after its requirements'
completion is committed, and its own 'running' row is committed before its plan is
handed to a worker. Ctrl-C without a signal handler stops like a STOP request: running
actions are stopped and their outcomes applied before the loop ends.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import LeaseLost
from ..faults import crash_point
from .completion import Completer
from .control import CONTROL_FRESH, CONTROL_POLL, HANDOVER, LOST, STOP, Control, close_transports
from .dispatch import Dispatcher
from .executor import Outcome
from .resolver import Flow
from .run import Run
from .share import FairShare
from .waits import WAKE, Waits
from .workers import WorkerPool

REATTACH, RELEASE, DISPATCH, HOLD, WAIT, ANALYZE = (
    "reattach", "release", "dispatch", "hold", "wait", "analyze")
#: Where the loop stops: the run ended, or was handed over to another engine.
END, HANDED_OVER = "end", "handover"

__all__ = ["END", "HANDED_OVER", "Loop"]


@dataclass
class _Pass:
    """One drive of a run: what the loop's states share."""

    run: Run
    resolver: Flow
    pool: WorkerPool
    previous: str
    in_flight: int = 0
    batch: list[Outcome] = field(default_factory=list)


class Loop:
    """Drives runs with the engine's components; holds no run state of its own."""

    def __init__(self, control: Control, completer: Completer, waits: Waits,
                 dispatcher: Dispatcher, *, workers: int, share: FairShare | None) -> None:
        self.control, self.completer, self.waits = control, completer, waits
        self.dispatcher, self.workers, self.share = dispatcher, workers, share

    def drive(self, run: Run, resolver: Flow, previous: str) -> str:
        """Drive ``run`` until END or HANDED_OVER (which it returns); ``previous`` is the
        engine that drove it before, whose running actions are re-attached.

        Raises:
            LeaseLost: another engine took the deployment over (nothing more is written).
        """
        p = _Pass(run, resolver, WorkerPool(self.workers), previous)
        if self.share is not None:
            self.share.join(run.dep.id)
        state = REATTACH
        try:
            while state not in (END, HANDED_OVER):
                state = _STEPS[state](self, p)
        except KeyboardInterrupt:  # no signal handler installed: same clean stop
            self._interrupted(p)
            state = END
        except LeaseLost:
            self._close(p, detach=True)
            raise
        self._close(p, detach=state == HANDED_OVER)
        return state

    # -- the states --------------------------------------------------------------

    def _reattach(self, p: _Pass) -> str:
        p.in_flight += self.dispatcher.reattach(p.run, p.pool, p.previous)
        if self.share is not None:
            self.share.add(p.run.dep.id, p.in_flight)  # already running: they count
        return RELEASE

    def _release(self, p: _Pass) -> str:
        ready = [i for i in p.resolver.initial() if i not in p.run.work.inflight]
        self.dispatcher.release(p.run, p.resolver, ready)
        return DISPATCH

    def _dispatch(self, p: _Pass) -> str:
        run = p.run
        if run.work.unblocked:  # a failure started its error branch
            self.dispatcher.release(run, p.resolver, [])
        if run.work.runnable:
            self._place(p, self.control.look(run, CONTROL_FRESH))
        p.in_flight += self.dispatcher.dispatch(run, p.pool, self._slots(p))
        if p.in_flight:
            return WAIT
        if run.brakes.holding():
            return HOLD
        short = self.share is not None and bool(run.work.runnable)
        if run.brakes.ends(retries=bool(run.work.retries), waiting=bool(run.wait.nodes),
                           short_of_slots=short):
            return END
        return WAIT

    def _hold(self, p: _Pass) -> str:
        self._place(p, self.control.hold(p.run))
        return DISPATCH

    def _wait(self, p: _Pass) -> str:
        items = self._next_items(p.run)
        if any(i is STOP for i in items):
            self.control.stop(p.run)
        if any(i is LOST for i in items):
            raise LeaseLost(f"deployment {p.run.dep.id}: another engine took it over")
        if any(i is HANDOVER for i in items):
            return HANDED_OVER
        p.batch = [i for i in items if isinstance(i, Outcome)]
        return ANALYZE

    def _analyze(self, p: _Pass) -> str:
        run, batch = p.run, p.batch
        p.in_flight -= len(batch)
        if self.share is not None:
            self.share.give(run.dep.id, len(batch))
        self._complete(p, batch)
        self._place(p, self.completer.due_retries(run), front=True)
        self.dispatcher.release(run, p.resolver, self.waits.arrived(run))
        self._place(p, self.control.poll(run))
        return DISPATCH

    # -- helpers -----------------------------------------------------------------

    def _complete(self, p: _Pass, batch: list[Outcome]) -> None:
        for i in self.completer.complete(p.run, batch):
            self.dispatcher.release(p.run, p.resolver, p.resolver.completed(i))

    def _place(self, p: _Pass, nodes: list[int], front: bool = False) -> None:
        for i in nodes:
            self.dispatcher.place(p.run, i, front=front)

    def _slots(self, p: _Pass) -> int:
        """How many more actions the run may start now: its own cap, and its fair share
        of its engine service's."""
        run, wanted = p.run, self.workers - p.in_flight
        if self.share is None or not run.work.runnable:
            return wanted
        return self.share.take(run.dep.id, wanted, lambda: run.done.put(WAKE))

    def _next_items(self, run: Run) -> list[Any]:
        """Block until an item arrives or something falls due; every item then queued."""
        now = time.monotonic()
        due = [run.brakes.last_look + CONTROL_POLL]
        if run.work.retries:
            due.append(run.work.retries[0][0])
        if run.brakes.deadline is not None and not run.brakes.expired:
            due.append(now + run.brakes.deadline - time.time())
        waits = self.waits.next_due(run)
        if waits is not None:
            due.append(waits)
        items = []
        try:
            items.append(run.done.get(timeout=max(0.0, min(due) - now)))
            while True:
                items.append(run.done.get_nowait())
        except queue.Empty:
            pass
        return items

    def _interrupted(self, p: _Pass) -> None:
        """Ctrl-C: stop running actions, apply their outcomes, journal them."""
        self.control.stop(p.run)
        while p.in_flight:
            item = p.run.done.get()
            if isinstance(item, Outcome):
                p.in_flight -= 1
                self._complete(p, [item])
        p.run.flush()  # before closing a transport forgets the runs it collected

    def _close(self, p: _Pass, *, detach: bool) -> None:
        """End the run's resources. A detached run (handed over, or its lease lost) does
        not wait for nor stop the actions still running: another engine re-attaches."""
        p.pool.shutdown(wait=not detach)
        close_transports(p.run, detach=detach)
        crash_point("engine.closed")
        self.waits.close(p.run)


#: Each state's step, as the class's own functions: a dict of bound methods on the
#: instance would be a reference cycle, leaving every finished engine (and its whole
#: in-memory journal) to the cyclic collector instead of freeing it at once.
_STEPS: dict[str, Callable[[Loop, _Pass], str]] = {
    REATTACH: Loop._reattach, RELEASE: Loop._release, DISPATCH: Loop._dispatch,
    HOLD: Loop._hold, WAIT: Loop._wait, ANALYZE: Loop._analyze}
