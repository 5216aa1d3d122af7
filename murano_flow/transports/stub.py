"""An in-process transport for tests and benchmarks: a Python handler plays the host."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..wire.protocol import Plan, Result
from .base import Transport

Handler = Callable[[Plan], "Result | dict[str, Any] | None"]


class StubTransport(Transport):
    """Calls ``handler(plan)``; None means success, a dict means success with those outputs."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        self.sent: list[Plan] = []
        #: Results by plan id, so that a re-attach finds what ran.
        self.results: dict[str, Result] = {}

    def send(self, plan: Plan) -> Result:
        """Record ``plan`` and let the handler decide its result."""
        self.sent.append(plan)
        now = time.time()
        answer = self.handler(plan) if self.handler else None
        result = answer if isinstance(answer, Result) else Result(
            plan.id, "ok", 0, outputs=answer or {}, started=now, finished=time.time())
        self.results[plan.id] = result
        return result

    def reattach(self, plan: Plan) -> Result | None:
        """What ``plan`` returned if it was sent through this transport before."""
        return self.results.get(plan.id)
