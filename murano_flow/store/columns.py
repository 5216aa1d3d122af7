"""The journal's columns, shared by the SQL stores so that their schemas cannot drift
apart, and a record's values for them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import (
    ApiToken,
    BlueprintVersion,
    DeploymentRecord,
    Event,
    NodeRecord,
    Signal,
    Trigger,
)

DEPLOYMENT = ("id", "blueprint", "path", "digest", "state", "created", "updated", "params",
              "targets", "reason", "source", "owner", "control", "settings", "lease", "request")
DEPLOYMENT_JSON = {"params", "targets", "source", "settings"}
NODE = ("deployment", "name", "instance", "state", "status", "intention", "host", "attempt",
        "started", "finished", "exit_code", "reason", "outputs", "stdout_tail", "stderr_tail",
        "log_dir", "requires", "has_action", "tries", "inputs", "waiting")
NODE_JSON = {"outputs", "requires", "waiting"}
#: Columns a node's progress changes; identity and requirements are written once.
PROGRESS = ("status", "intention", "host", "attempt", "started", "finished", "exit_code",
            "reason", "outputs", "stdout_tail", "stderr_tail", "log_dir", "tries", "inputs",
            "waiting")
EVENT = ("deployment", "ts", "kind", "node", "status", "attempt", "message", "data", "engine")
SIGNAL = ("deployment", "node", "ts", "kind", "source", "data", "status", "note")
BLUEPRINT = ("name", "version", "path", "digest", "text", "files", "created", "author")
BLUEPRINT_JSON = {"files"}
TOKEN = ("id", "name", "digest", "scope", "created", "revoked")
TRIGGER = ("id", "kind", "spec", "blueprint", "version", "deployment", "params", "sealed", "due",
           "created", "fired", "last")
TRIGGER_JSON = {"spec", "params"}
#: The JSON column of events and of signals.
DATA_JSON = {"data"}

#: How a store writes a JSON column (json.dumps for SQLite, Jsonb for PostgreSQL).
Encode = Callable[[Any], Any]


def values(record: Any, cols: tuple[str, ...], json_cols: set[str], encode: Encode
           ) -> tuple[Any, ...]:
    """``record``'s values for ``cols``, the ``json_cols`` encoded with ``encode``."""
    return tuple(encode(getattr(record, c)) if c in json_cols else getattr(record, c)
                 for c in cols)


def deployment_values(d: DeploymentRecord, encode: Encode) -> tuple[Any, ...]:
    """A deployment row."""
    return values(d, DEPLOYMENT, DEPLOYMENT_JSON, encode)


def node_values(n: NodeRecord, encode: Encode) -> tuple[Any, ...]:
    """A node row."""
    return values(n, NODE, NODE_JSON, encode)


def event_values(e: Event, encode: Encode) -> tuple[Any, ...]:
    """An event row (its number is the database's)."""
    return values(e, EVENT, DATA_JSON, encode)


def signal_values(s: Signal, encode: Encode) -> tuple[Any, ...]:
    """An inbox row (its number is the database's)."""
    return values(s, SIGNAL, DATA_JSON, encode)


def progress_values(n: NodeRecord, encode: Encode) -> tuple[Any, ...]:
    """A node's progress, then its deployment and name (for ``UPDATE ... WHERE``)."""
    return (*values(n, PROGRESS, NODE_JSON, encode), n.deployment, n.name)


def blueprint_values(b: BlueprintVersion, encode: Encode) -> tuple[Any, ...]:
    """A stored blueprint version's row."""
    return values(b, BLUEPRINT, BLUEPRINT_JSON, encode)


def token_values(t: ApiToken) -> tuple[Any, ...]:
    """An API token's row."""
    return tuple(getattr(t, c) for c in TOKEN)


def trigger_values(t: Trigger, encode: Encode) -> tuple[Any, ...]:
    """A trigger's row."""
    return values(t, TRIGGER, TRIGGER_JSON, encode)
