"""The engine: drives a deployment's state graph to its targets, or back.

See :mod:`murano_flow.engine.engine` for the public facade and the run loop's states.
The facade is imported on first use: commands that only read the journal (and import
light modules of this package, such as ``identity``) do not pay for the whole engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import DEFAULT_WORKERS, Engine, TransportFactory, Verdict

__all__ = ["DEFAULT_WORKERS", "Engine", "TransportFactory", "Verdict"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
