"""Journals: where deployments are recorded. ``open_store(url)`` picks one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import UsageError
from .base import DeploymentRecord, Event, NodeRecord, Store
from .memory import MemoryStore
from .sqlite import SqliteStore

__all__ = ["DeploymentRecord", "Event", "MemoryStore", "NodeRecord", "SqliteStore", "Store",
           "open_store"]

#: The journal used when neither --store nor MURANO_FLOW_STORE says otherwise.
DEFAULT_STORE = "sqlite:///.murano-flow/journal.db"


def open_store(url: str) -> Store:
    """Open the journal at ``url``: ``sqlite:///relative.db``, ``sqlite:////abs.db``, ``memory://``.

    Raises:
        UsageError: for a URL this release cannot use.
        StoreError: when the journal cannot be opened.
    """
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return MemoryStore()
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise UsageError(f"store URL {url!r} names no file",
                             hint="write sqlite:///relative/path.db or sqlite:////absolute.db")
        sync = parse_qs(parts.query).get("sync", ["normal"])[0]
        return SqliteStore(Path(parts.path[1:]), sync=sync)
    if parts.scheme in ("postgresql", "postgres"):
        raise UsageError("the PostgreSQL journal is not available in this release",
                         hint="use the default SQLite journal (sqlite:///PATH)")
    raise UsageError(f"unknown store URL {url!r}", hint="use sqlite:///PATH or memory://")
