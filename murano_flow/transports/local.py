"""The local transport: plans run as supervised processes on the engine's own host (the
embedded default, for demos and for the engine's host itself).

The process runner is :mod:`murano_flow.wire.runner`, which the guest agent shares: a
plan runs the same way on the engine's host and on an agent's.
"""

from __future__ import annotations

from ..wire.runner import ProcessRunner
from .base import Transport


class LocalTransport(ProcessRunner, Transport):
    """A :class:`~murano_flow.wire.runner.ProcessRunner` as a transport: each host name a
    working directory under the engine's home, each plan a supervised process."""
