"""The journal's columns, shared by the SQL stores so that their schemas cannot drift
apart, and a record's values for them."""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection
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


class Row:
    """Reads a record's values for ``cols`` in one C call (``operator.attrgetter``), then
    encodes the ``json_cols`` in place: this runs for every row a commit writes."""

    def __init__(self, cols: tuple[str, ...], json_cols: Collection[str] = ()) -> None:
        self._get = operator.attrgetter(*cols)
        self._json = tuple(i for i, c in enumerate(cols) if c in json_cols)

    def __call__(self, record: Any, encode: Encode) -> tuple[Any, ...]:
        row = self._get(record)
        if not self._json:
            return tuple(row)
        out = list(row)
        for i in self._json:
            out[i] = encode(out[i])
        return tuple(out)


_DEPLOYMENT, _NODE, _EVENT = Row(DEPLOYMENT, DEPLOYMENT_JSON), Row(NODE, NODE_JSON), Row(
    EVENT, DATA_JSON)
_SIGNAL, _PROGRESS, _BLUEPRINT = Row(SIGNAL, DATA_JSON), Row(PROGRESS, NODE_JSON), Row(
    BLUEPRINT, BLUEPRINT_JSON)
_TOKEN, _TRIGGER = Row(TOKEN), Row(TRIGGER, TRIGGER_JSON)


def deployment_values(d: DeploymentRecord, encode: Encode) -> tuple[Any, ...]:
    """A deployment row."""
    return _DEPLOYMENT(d, encode)


def node_values(n: NodeRecord, encode: Encode) -> tuple[Any, ...]:
    """A node row."""
    return _NODE(n, encode)


def event_values(e: Event, encode: Encode) -> tuple[Any, ...]:
    """An event row (its number is the database's)."""
    return _EVENT(e, encode)


def signal_values(s: Signal, encode: Encode) -> tuple[Any, ...]:
    """An inbox row (its number is the database's)."""
    return _SIGNAL(s, encode)


def progress_values(n: NodeRecord, encode: Encode) -> tuple[Any, ...]:
    """A node's progress, then its deployment and name (for ``UPDATE ... WHERE``)."""
    return (*_PROGRESS(n, encode), n.deployment, n.name)


def blueprint_values(b: BlueprintVersion, encode: Encode) -> tuple[Any, ...]:
    """A stored blueprint version's row."""
    return _BLUEPRINT(b, encode)


def token_values(t: ApiToken) -> tuple[Any, ...]:
    """An API token's row."""
    return _TOKEN(t, str)


def trigger_values(t: Trigger, encode: Encode) -> tuple[Any, ...]:
    """A trigger's row."""
    return _TRIGGER(t, encode)
