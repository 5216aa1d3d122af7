"""The engine: drives a deployment's state graph to its targets, or back.

See :mod:`murano_flow.engine.engine` for the public facade and the run loop's states.
"""

from __future__ import annotations

from .engine import DEFAULT_WORKERS, Engine, TransportFactory, Verdict

__all__ = ["DEFAULT_WORKERS", "Engine", "TransportFactory", "Verdict"]
