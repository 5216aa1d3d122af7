"""Journals: where deployments are recorded. ``open_store(url)`` picks one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from ..errors import UsageError
from .base import DeploymentRecord, Event, NodeRecord, Store
from .memory import MemoryStore
from .sqlite import SqliteStore

__all__ = ["DeploymentRecord", "Event", "MemoryStore", "NodeRecord", "SqliteStore", "Store",
           "open_store", "sqlite_path"]

def sqlite_path(url: str) -> Path | None:
    """The file an ``sqlite:///...`` store URL names; None for another URL or none."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or not parts.path or parts.path == "/":
        return None
    return Path(parts.path[1:])


def open_store(url: str, *, check_schema: bool = True) -> Store:
    """Open the journal at ``url``: ``sqlite:///relative.db``, ``sqlite:////abs.db``,
    ``postgresql://USER@HOST:PORT/DB``, ``memory://``. A PostgreSQL journal must have
    been created by ``db upgrade`` (``check_schema=False`` is how that opens it).

    Raises:
        UsageError: for a URL this release cannot use.
        StoreError: when the journal cannot be opened.
    """
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return MemoryStore()
    if parts.scheme == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise UsageError(f"store URL {url!r} names no file",
                             hint="write sqlite:///relative/path.db or sqlite:////absolute.db")
        sync = parse_qs(parts.query).get("sync", ["normal"])[0]
        return SqliteStore(path, sync=sync)
    if parts.scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        query = parse_qs(parts.query)
        size = query.pop("pool_size", ["8"])[0]
        if not size.isdigit() or not 1 <= int(size) <= 1000:
            raise UsageError(f"pool_size={size!r} in the store URL is not a number from 1 to "
                             "1000", hint="e.g. postgresql://HOST/DB?pool_size=16")
        return PostgresStore(parts._replace(query=urlencode(query, doseq=True)).geturl(),
                             pool_size=int(size),
                             check_schema=check_schema)
    raise UsageError(f"unknown store URL {url!r}",
                     hint="use sqlite:///PATH, postgresql://USER@HOST/DB or memory://")
