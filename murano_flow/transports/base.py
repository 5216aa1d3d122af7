"""The one small interface every transport implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

from ..wire.protocol import Plan, Result


class Transport(ABC):
    """Runs plans on one host.

    ``send`` blocks until the plan finished and returns its Result; a script
    that fails is a Result, not an exception. Exceptions (``TransportError``)
    mean the host could not be used at all. ``send`` may be called from several
    worker threads at once; ``close`` stops whatever is still running; ``detach`` lets
    it run on for another engine to re-attach to.
    """

    @abstractmethod
    def send(self, plan: Plan) -> Result:
        """Run ``plan`` and return its result."""

    def reattach(self, plan: Plan) -> Result | None:
        """The result of ``plan`` if an earlier engine process started it, waiting for it
        if it is still running; None if it never started (so it is safe to send).

        A transport must never answer None for a plan that may have run. The default
        suits transports whose plans cannot outlive the engine process (in-process ones).
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Stop running plans and release connections."""

    def detach(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections but leave running plans running: this engine lost or handed
        over the deployment, another one re-attaches to them. By default nothing is
        released: the threads that follow running plans end when the plans do."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
