"""What a worker thread does for one node, what it reports, and how a failure is told."""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass
from typing import Any

from ..errors import InDoubt, MuranoFlowError, TransportError
from ..transports.base import Transport
from ..wire.protocol import NEVER_STARTED, Plan, Result

log = logging.getLogger(__name__)

#: Result status -> the kind of failure a retry policy may name.
_KIND_OF_STATUS = {"failed": "failed", "timeout": "timeout", "error": "error"}


@dataclass
class Outcome:
    """One node's attempt as a worker saw it: a Result, or an error before there was one."""

    index: int
    result: Result | None = None
    satisfied: bool = False
    error: str = ""
    #: failed | timeout | error | unreachable | in_doubt (nobody knows how it ended)
    kind: str = ""

    @classmethod
    def of_error(cls, index: int, exc: MuranoFlowError) -> Outcome:
        """The outcome of a transport error raised instead of a Result."""
        kind = ("in_doubt" if isinstance(exc, InDoubt)
                else "unreachable" if isinstance(exc, TransportError) else "error")
        return cls(index, error=str(exc), kind=kind)

    @property
    def failure_kind(self) -> str:
        """The kind of this failure, for retry policies and exit codes."""
        if self.result is not None:
            if self.result.status == "error" and self.result.message.startswith(NEVER_STARTED):
                return "unreachable"  # e.g. the agent took it after its signed expiry
            return _KIND_OF_STATUS.get(self.result.status, "error")
        return self.kind or "error"

    def describe(self) -> str:
        """One line saying why this attempt failed."""
        res = self.result
        if res is None:
            return self.error or "unknown failure"
        if res.status == "failed":
            detail = res.message or last_line(res.stderr_tail) or last_line(res.stdout_tail)
            return f"exit code {res.exit_code}" + (f": {detail}" if detail else "")
        return res.message or res.status


def last_line(text: str) -> str:
    """The last non-blank line of ``text``, at most 300 characters."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def execute(done: queue.SimpleQueue[Any], i: int, transport: Transport,
            check: Plan | None, action: Plan, reattach: bool) -> None:
    """Worker thread: run the check, then the action; report, never raise.

    With ``reattach`` each plan is first asked of the transport by its id, so a
    plan an earlier engine started is collected instead of run again.
    """
    try:
        if check is not None:
            probe = _run(transport, check, reattach)
            if probe.ok or probe.status == "error":
                done.put(Outcome(i, probe, satisfied=probe.ok))
                return
        done.put(Outcome(i, _run(transport, action, reattach)))
    except MuranoFlowError as exc:
        done.put(Outcome.of_error(i, exc))
    except Exception as exc:  # a bug in a transport must not hang the engine
        log.exception("transport failed on %s", action.node)
        done.put(Outcome(i, error=f"internal error: {type(exc).__name__}: {exc}",
                         kind="error"))


def _run(transport: Transport, plan: Plan, reattach: bool) -> Result:
    """The plan's result: collected by its id first when re-attaching, else sent."""
    if not reattach:
        return transport.send(plan)
    try:
        collected = transport.reattach(plan)
    except InDoubt:
        raise
    except TransportError as exc:  # an earlier engine sent it: it may have run
        raise InDoubt(f"asking for {plan.node}'s plan {plan.id} failed ({exc.message}); "
                      "the engine before sent it, so it may have run", host=exc.host,
                      hint="resume asks for it again by its plan id") from exc
    return collected or transport.send(plan)
