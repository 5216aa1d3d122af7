"""murano-flow: deploy multi-host services from blueprint state graphs.

Blueprint YAML -> validated, expanded :class:`Blueprint` -> :class:`StateGraph`
-> :class:`Engine` (thread pool, event-driven resolver) -> transports, with every
step journaled in a :class:`Store`.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from .blueprint import Blueprint, load_blueprint, parse_blueprint  # noqa: E402
from .engine import Engine  # noqa: E402
from .errors import (  # noqa: E402
    BlueprintError,
    CommandTimeout,
    ConnectError,
    CorruptState,
    DecodeError,
    Diagnostic,
    MuranoFlowError,
    NotFound,
    StoreError,
    TransitionError,
    TransportError,
    UsageError,
)
from .graph import StateGraph  # noqa: E402
from .protocol import Plan, Result  # noqa: E402
from .store import MemoryStore, SqliteStore, Store, open_store  # noqa: E402
from .transports import LocalTransport, StubTransport, Transport, open_transport  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Blueprint",
    "BlueprintError",
    "CommandTimeout",
    "ConnectError",
    "CorruptState",
    "DecodeError",
    "Diagnostic",
    "Engine",
    "LocalTransport",
    "MemoryStore",
    "MuranoFlowError",
    "NotFound",
    "Plan",
    "Result",
    "SqliteStore",
    "StateGraph",
    "Store",
    "StoreError",
    "StubTransport",
    "TransitionError",
    "Transport",
    "TransportError",
    "UsageError",
    "__version__",
    "load_blueprint",
    "open_store",
    "open_transport",
    "parse_blueprint",
]
