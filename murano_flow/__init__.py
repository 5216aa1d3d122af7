"""murano-flow: deploy multi-host services from blueprint state graphs.

Blueprint YAML -> validated, expanded :class:`Blueprint` -> :class:`StateGraph`
-> :class:`Engine` (thread pool, event-driven resolver) -> transports, with every
step journaled in a :class:`Store`.

Names are imported on first use, so that ``import murano_flow.wire.protocol`` (what a guest
agent needs) does not pull in the engine, click, rich or Jinja2.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_EXPORTS = {
    "Blueprint": "blueprint", "load_blueprint": "blueprint", "parse_blueprint": "blueprint",
    "Engine": "engine", "StateGraph": "graph", "Plan": "wire.protocol", "Result": "wire.protocol",
    "MemoryStore": "store", "SqliteStore": "store", "Store": "store", "open_store": "store",
    "LocalTransport": "transports", "StubTransport": "transports", "Transport": "transports",
    "open_transport": "transports",
    **{name: "errors" for name in (
        "AccessDenied", "BlueprintError", "BrokerUnreachable", "ConnectError", "CorruptState",
        "DecodeError", "Diagnostic", "ExpressionError", "HostKeyRefused", "InDoubt", "LeaseLost",
        "MuranoFlowError", "NotFound", "SignatureError", "StoreError", "TransitionError",
        "TransportError", "UsageError")},
}

__all__ = sorted([*_EXPORTS, "__version__"])

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'murano_flow' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
