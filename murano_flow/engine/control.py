"""The operator's control of a running deployment: Ctrl-C, pause and cancel requests,
and the deadline, as the engine thread sees them.

Requests arrive through the journal (the deployment row's ``control``), so they reach
an engine in the background or on another machine alike. The engine looks every
CONTROL_POLL seconds while it waits, and before dispatching new work if its last look
is older than CONTROL_FRESH, so a pause takes effect before the next action starts.
"""

from __future__ import annotations

import logging
import queue
import time

from ..store.base import Store
from .run import Run

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


class Control:
    """The operator's hand on a running deployment: Ctrl-C, pause and cancel requests read
    from the journal, and the deadline. Owns the run's :class:`~.run.Brakes`; closing
    transports is how it stops running actions. Requests to resume return the nodes a
    pause stopped, for the loop to queue again."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def stop(self, run: Run) -> None:
        """Ctrl-C or SIGTERM: nothing new starts, running actions are stopped (they run
        again on resume)."""
        if run.brakes.interrupted:
            return
        run.brakes.interrupted = True
        run.brakes.stopping = run.brakes.stopping or "interrupted by the operator"
        log.warning("%s: stopping: killing running actions", run.dep.id)
        self.kill(run)

    def kill(self, run: Run) -> None:
        """Stop every running action; what they were doing is run again later."""
        run.brakes.killing = True
        close_transports(run)

    def poll(self, run: Run) -> list[int]:
        """After each batch of outcomes: the deadline, then (now and then) the journal."""
        brakes = run.brakes
        if brakes.deadline is not None and not brakes.expired and time.time() >= brakes.deadline:
            brakes.expired = True
            brakes.stopping = brakes.stopping or (f"its deadline ({clock(brakes.deadline)}) "
                                                  "passed; running actions were stopped")
            run.note(brakes.stopping)
            close_transports(run)
        return self.look(run, CONTROL_POLL)

    def look(self, run: Run, every: float) -> list[int]:
        """Read the operator's request from the journal, if the last look is ``every``
        old; the nodes to queue again if a pause was withdrawn."""
        if time.monotonic() - run.brakes.last_look < every:
            return []
        run.brakes.last_look = time.monotonic()
        control = self.store.control(run.dep.id)
        if control == run.brakes.control:
            return []
        run.brakes.control = control
        return self._obey(run, control)

    def _obey(self, run: Run, control: str) -> list[int]:
        """React to a new request: pause, cancel (either ':now'), or '' (resume)."""
        what, _, now = control.partition(":")
        brakes = run.brakes
        if what == "pause" and run.reverse:
            run.note("pause ignored: a rollback cannot be paused (cancel stops it)")
        elif what in ("pause", "cancel"):
            if brakes.halt != what:
                brakes.halt = what
                ending = "are stopped" if now else "finish"
                run.note(f"{what} requested: no new actions start; running ones {ending}")
            if now and not brakes.killing:
                self.kill(run)
        elif brakes.halt == "pause":
            return self._unpause(run)
        return []

    def hold(self, run: Run) -> list[int]:
        """Paused, nothing running: wait for the operator to resume or cancel; the nodes
        the pause stopped, to queue again."""
        run.deployment("pause", f"paused; 'murano-flow resume {run.dep.id}' continues, "
                                "'cancel' gives up")
        again: list[int] = []
        while run.brakes.holding():
            try:
                if run.done.get(timeout=CONTROL_POLL) is STOP:
                    self.stop(run)
            except queue.Empty:
                pass
            again += self.look(run, 0.0)
        if run.dep.state == "paused" and not run.brakes.stopping and run.brakes.halt != "cancel":
            run.deployment("start", "resumed by the operator")
        return again

    @staticmethod
    def _unpause(run: Run) -> list[int]:
        """The operator withdrew the pause: what it stopped is queued again."""
        run.brakes.halt, run.brakes.killing = "", False
        if run.dep.state != "paused":
            run.note("pause withdrawn")
        parked, run.brakes.parked = run.brakes.parked, []
        return parked


def close_transports(run: Run, *, detach: bool = False) -> None:
    """Close the run's transports; ``detach``: leave what runs on the hosts running."""
    transports, run.work.transports = list(run.work.transports.values()), {}
    for transport in transports:
        if detach:
            transport.detach()
        else:
            transport.close()


def clock(epoch: float) -> str:
    """``epoch`` as local 'YYYY-MM-DD HH:MM:SS', for messages."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
