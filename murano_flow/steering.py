"""Steering a running deployment: Ctrl-C, the operator's pause and cancel requests, and
the deadline, as the engine thread sees them.

Requests arrive through the journal (the deployment row's ``control``), so they reach
an engine in the background or on another machine alike. The engine looks every
CONTROL_POLL seconds while it waits, and before dispatching new work if its last look
is older than CONTROL_FRESH, so a pause takes effect before the next action starts.
"""

from __future__ import annotations

import logging
import queue
import time

from .runstate import Run
from .store.base import Store

log = logging.getLogger(__name__)

#: Seconds between two looks at the journal for an operator's pause or cancel request.
CONTROL_POLL = 0.5
#: Before new work is dispatched, a look older than this is renewed: a pause or cancel
#: takes effect before the next action starts, at most one query per this many seconds.
CONTROL_FRESH = 0.05
#: Put on a run's completion queue to stop it (safe from a signal handler).
STOP = object()
#: Put there when another engine took the deployment: stop at once, writing nothing.
LOST = object()
#: Put there to hand the deployment over to another engine (running actions go on).
HANDOVER = object()


class Handover(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The engine stops driving a deployment so that another engine takes it over."""


class Steering:
    """The engine's reactions to stop requests; :class:`~murano_flow.engine.Engine` is one."""

    store: Store

    def _place(self, run: Run, i: int, front: bool = False) -> None:
        raise NotImplementedError  # the engine queues a node on its host

    def _stop(self, run: Run) -> None:
        if run.interrupted:
            return
        run.interrupted = True
        run.stopping = run.stopping or "interrupted by the operator"
        log.warning("%s: stopping: killing running actions", run.dep.id)
        self._kill(run)

    def _kill(self, run: Run) -> None:
        """Stop every running action; what they were doing is run again later."""
        run.killing = True
        self._close_transports(run)

    @staticmethod
    def _close_transports(run: Run, *, detach: bool = False) -> None:
        """Close the run's transports; ``detach``: leave what runs on the hosts running."""
        transports, run.transports = list(run.transports.values()), {}
        for transport in transports:
            if detach:
                transport.detach()
            else:
                transport.close()

    def _poll(self, run: Run) -> None:
        """After each batch of outcomes: the deadline, then (now and then) the journal."""
        if run.deadline is not None and not run.expired and time.time() >= run.deadline:
            run.expired = True
            run.stopping = run.stopping or (f"its deadline ({clock(run.deadline)}) passed; "
                                            "running actions were stopped")
            run.note(run.stopping)
            self._close_transports(run)
        self._look(run, CONTROL_POLL)

    def _look(self, run: Run, every: float) -> None:
        """Read the operator's request from the journal, if the last look is ``every`` old."""
        if time.monotonic() - run.last_look < every:
            return
        run.last_look = time.monotonic()
        control = self.store.control(run.dep.id)
        if control != run.control:
            run.control = control
            self._obey(run, control)

    def _obey(self, run: Run, control: str) -> None:
        """React to a new request: pause, cancel (either ':now'), or '' (resume)."""
        what, _, now = control.partition(":")
        if what == "pause" and run.reverse:
            run.note("pause ignored: a rollback cannot be paused (cancel stops it)")
        elif what in ("pause", "cancel"):
            if run.halt != what:
                run.halt = what
                ending = "are stopped" if now else "finish"
                run.note(f"{what} requested: no new actions start; running ones {ending}")
            if now and not run.killing:
                self._kill(run)
        elif run.halt == "pause":
            self._unpause(run)

    def _hold(self, run: Run) -> None:
        """Paused, nothing running: wait for the operator to resume or cancel."""
        run.deployment("pause", f"paused; 'murano-flow resume {run.dep.id}' continues, "
                                "'cancel' gives up")
        while run.halt == "pause" and not run.stopping:
            try:
                if run.done.get(timeout=CONTROL_POLL) is STOP:
                    self._stop(run)
            except queue.Empty:
                pass
            self._look(run, 0.0)
        if run.dep.state == "paused" and not run.stopping and run.halt != "cancel":
            run.deployment("start", "resumed by the operator")

    def _unpause(self, run: Run) -> None:
        """The operator withdrew the pause: what it stopped is queued again."""
        run.halt, run.killing = "", False
        if run.dep.state != "paused":
            run.note("pause withdrawn")
        parked, run.parked = run.parked, []
        for i in parked:
            self._place(run, i)


def clock(epoch: float) -> str:
    """``epoch`` as local 'YYYY-MM-DD HH:MM:SS', for messages."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
