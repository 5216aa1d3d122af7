"""The SQLite journal (WAL mode): the embedded default.

Durability settings: ``sync=normal`` (default) survives a kill -9 of the engine at
any point, because WAL commits are atomic and the OS keeps written pages; it may
lose the last commits on power loss. ``sync=full`` fsyncs every commit and
survives power loss too. The engine group-commits, so either costs one commit per
batch of completions, not one per transition.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CorruptState, NotFound, StoreError
from ..faults import crash_point
from .base import SIGNAL_OPEN, DeploymentRecord, Event, NodeRecord, Signal, Store

#: Each schema version's statements; a journal at version N runs N+1 onwards.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: deployments, nodes, append-only events
        """CREATE TABLE IF NOT EXISTS deployments (
            id TEXT PRIMARY KEY, blueprint TEXT NOT NULL, path TEXT NOT NULL,
            digest TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL, params TEXT NOT NULL, targets TEXT NOT NULL,
            reason TEXT NOT NULL, source TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS nodes (
            deployment TEXT NOT NULL REFERENCES deployments(id), seq INTEGER NOT NULL,
            name TEXT NOT NULL, instance TEXT NOT NULL, state TEXT NOT NULL,
            status TEXT NOT NULL, intention TEXT NOT NULL, host TEXT NOT NULL,
            attempt INTEGER NOT NULL, started REAL, finished REAL, exit_code INTEGER,
            reason TEXT NOT NULL, outputs TEXT NOT NULL, stdout_tail TEXT NOT NULL,
            stderr_tail TEXT NOT NULL, log_dir TEXT NOT NULL, requires TEXT NOT NULL,
            has_action INTEGER NOT NULL, PRIMARY KEY (deployment, name))""",
        """CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, deployment TEXT NOT NULL, ts REAL NOT NULL,
            kind TEXT NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL,
            attempt INTEGER NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS events_by_deployment ON events (deployment, seq)",
        "CREATE INDEX IF NOT EXISTS deployments_by_created ON deployments (created)",
    ),
    (  # 2: engine ownership, operator requests, run policies; per-node tries and inputs
        "ALTER TABLE deployments ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE deployments ADD COLUMN control TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE deployments ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE nodes ADD COLUMN tries INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE nodes ADD COLUMN inputs TEXT NOT NULL DEFAULT ''",
    ),
    (  # 3: waiting nodes' deadlines; the inbox of signals and messages; event-feed readers
        "ALTER TABLE nodes ADD COLUMN waiting TEXT NOT NULL DEFAULT '{}'",
        """CREATE TABLE IF NOT EXISTS signals (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, deployment TEXT NOT NULL,
            node TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL,
            data TEXT NOT NULL,
            status TEXT NOT NULL, note TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS signals_open ON signals (deployment, status, seq)",
        "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    ),
)
#: Version of the schema, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = len(_MIGRATIONS)

_DEP_COLS = ("id", "blueprint", "path", "digest", "state", "created", "updated", "params",
             "targets", "reason", "source", "owner", "control", "settings")
_DEP_JSON = {"params", "targets", "source", "settings"}
_NODE_COLS = ("deployment", "name", "instance", "state", "status", "intention", "host",
              "attempt", "started", "finished", "exit_code", "reason", "outputs",
              "stdout_tail", "stderr_tail", "log_dir", "requires", "has_action", "tries",
              "inputs", "waiting")
_NODE_JSON = {"outputs", "requires", "waiting"}
#: Columns a node's progress changes; identity and requirements are written once.
_PROGRESS_COLS = ("status", "intention", "host", "attempt", "started", "finished", "exit_code",
                  "reason", "outputs", "stdout_tail", "stderr_tail", "log_dir", "tries",
                  "inputs", "waiting")
_UPDATE_NODE = (
    "UPDATE nodes SET " + ", ".join(f"{c} = ?" for c in _PROGRESS_COLS)
    + " WHERE deployment = ? AND name = ?"
)
_EVENT_COLS = ("deployment", "ts", "kind", "node", "status", "attempt", "message", "data")
_SIGNAL_COLS = ("deployment", "node", "ts", "kind", "source", "data", "status", "note")


class SqliteStore(Store):
    """Journal in one SQLite file; one connection, guarded for use from any thread."""

    def __init__(self, path: str | Path, *, sync: str = "normal") -> None:
        if sync not in ("normal", "full"):
            raise StoreError(f"unknown sync setting {sync!r}", hint="use sync=normal or sync=full")
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync.upper()}")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the journal {self.path}: {exc}",
                             hint="check the path and permissions, or pick another "
                                  "with --store sqlite:///PATH") from exc

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"the journal {self.path} has schema {version}; this murano-flow "
                             f"knows up to {SCHEMA_VERSION}", hint="upgrade murano-flow")
        if version == SCHEMA_VERSION:
            return
        with self._tx() as db:  # executescript() would commit halfway; run statements one by one
            # Read again under the write lock: another process may have just migrated it.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"journal {self.path}: {exc}") from exc

    def create(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
               events: list[Event]) -> None:
        with self._tx() as db:
            db.execute(_INSERT_DEPLOYMENT, _deployment_row(deployment))
            self._insert_nodes(db, nodes)
            self._insert_events(db, events)

    def reshape(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
                events: list[Event]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM nodes WHERE deployment = ?", (deployment.id,))
            db.execute("DELETE FROM deployments WHERE id = ?", (deployment.id,))
            db.execute(_INSERT_DEPLOYMENT, _deployment_row(deployment))
            self._insert_nodes(db, nodes)
            self._insert_events(db, events)

    def claim(self, deployment: str, owner: str, expected: str) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE deployments SET owner = ? WHERE id = ? AND owner = ?",
                             (owner, deployment, expected))
            return cur.rowcount == 1

    def control(self, deployment: str) -> str:
        rows = self._query("SELECT control FROM deployments WHERE id = ?", (deployment,))
        if not rows:
            raise self._missing(deployment)
        return str(rows[0][0])

    def set_control(self, deployment: str, control: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE deployments SET control = ? WHERE id = ?", (control, deployment))

    def check(self) -> list[str]:
        rows = self._query("PRAGMA integrity_check", ())
        return [] if [tuple(r) for r in rows] == [("ok",)] else [
            f"SQLite integrity check of {self.path}: {r[0]}" for r in rows]

    @staticmethod
    def _insert_nodes(db: sqlite3.Connection, nodes: list[NodeRecord]) -> None:
        db.executemany(
            f"INSERT INTO nodes (seq, {', '.join(_NODE_COLS)}) "
            f"VALUES (?, {', '.join('?' * len(_NODE_COLS))})",
            ((i, *_node_row(n)) for i, n in enumerate(nodes)))

    def commit(self, deployment: str, nodes: list[NodeRecord], events: list[Event],
               state: str | None = None, reason: str | None = None) -> None:
        with self._tx() as db:
            if nodes:
                db.executemany(_UPDATE_NODE, (_progress_row(n) for n in nodes))
            crash_point("store.commit")  # fault injection: die mid-transaction
            self._insert_events(db, events)
            if state is not None or reason is not None or events:
                ts = events[-1].ts if events else None
                db.execute("UPDATE deployments SET state = coalesce(?, state), "
                           "reason = coalesce(?, reason), updated = coalesce(?, updated) "
                           "WHERE id = ?", (state, reason, ts, deployment))

    def _insert_events(self, db: sqlite3.Connection, events: list[Event]) -> None:
        if not events:
            return
        db.executemany(
            f"INSERT INTO events ({', '.join(_EVENT_COLS)}) VALUES (?,?,?,?,?,?,?,?)",
            [(e.deployment, e.ts, e.kind, e.node, e.status, e.attempt, e.message,
              json.dumps(e.data) if e.data else "{}") for e in events])
        # Inside our write transaction no one else inserts, so the new ids are consecutive.
        last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        for k, e in enumerate(events):
            e.seq = last - len(events) + 1 + k

    def deployment(self, deployment: str) -> DeploymentRecord:
        rows = self._query(f"SELECT {', '.join(_DEP_COLS)} FROM deployments WHERE id = ?",
                           (deployment,))
        if not rows:
            raise self._missing(deployment)
        return _deployment(rows[0])

    def deployments(self, limit: int = 100) -> list[DeploymentRecord]:
        rows = self._query(f"SELECT {', '.join(_DEP_COLS)} FROM deployments "
                           "ORDER BY created DESC LIMIT ?", (limit,))
        return [_deployment(r) for r in rows]

    def nodes(self, deployment: str) -> list[NodeRecord]:
        self.deployment(deployment)
        cols = ", ".join(_NODE_COLS)
        rows = self._query(f"SELECT {cols} FROM nodes WHERE deployment = ? ORDER BY seq",
                           (deployment,))
        out = [NodeRecord(**_decode(dict(zip(_NODE_COLS, r, strict=True)), _NODE_JSON))
               for r in rows]
        for n in out:
            n.has_action = bool(n.has_action)
        return out

    def events(self, deployment: str, after: int = 0, limit: int = 10_000) -> list[Event]:
        self.deployment(deployment)
        cols = ", ".join(("seq", *_EVENT_COLS))
        rows = self._query(f"SELECT {cols} FROM events WHERE deployment = ? AND seq > ? "
                           "ORDER BY seq LIMIT ?", (deployment, after, limit))
        return [Event(**_decode(dict(zip(("seq", *_EVENT_COLS), r, strict=True)), {"data"}))
                for r in rows]

    def add_signal(self, signal: Signal) -> int:
        self.deployment(signal.deployment)
        with self._tx() as db:
            cur = db.execute(
                f"INSERT INTO signals ({', '.join(_SIGNAL_COLS)}) VALUES (?,?,?,?,?,?,?,?)",
                (signal.deployment, signal.node, signal.ts, signal.kind, signal.source,
                 json.dumps(signal.data), signal.status, signal.note))
            return int(cur.lastrowid or 0)

    def signals(self, deployment: str) -> list[Signal]:
        cols = ("seq", *_SIGNAL_COLS)
        rows = self._query(f"SELECT {', '.join(cols)} FROM signals WHERE deployment = ? "
                           f"AND status IN {SIGNAL_OPEN} ORDER BY seq", (deployment,))
        return [Signal(**_decode(dict(zip(cols, r, strict=True)), {"data"})) for r in rows]

    def settle_signals(self, outcomes: list[tuple[int, str, str]]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE signals SET status = ?, note = ? WHERE seq = ?",
                           [(status, note, seq) for seq, status, note in outcomes])

    def feed(self, after: int = 0, limit: int = 1000) -> list[Event]:
        cols = ("seq", *_EVENT_COLS)
        rows = self._query(f"SELECT {', '.join(cols)} FROM events WHERE seq > ? "
                           "ORDER BY seq LIMIT ?", (after, limit))
        return [Event(**_decode(dict(zip(cols, r, strict=True)), {"data"})) for r in rows]

    def newest_event(self) -> int:
        return int(self._query("SELECT coalesce(max(seq), 0) FROM events", ())[0][0])

    def cursor(self, name: str) -> int:
        rows = self._query("SELECT seq FROM cursors WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def set_cursor(self, name: str, seq: int) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) "
                       "DO UPDATE SET seq = excluded.seq", (name, seq))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _missing(self, deployment: str) -> NotFound:
        return NotFound(f"no deployment '{deployment}' in the journal {self.path}",
                        hint="'murano-flow list' shows the known deployments")

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"journal {self.path}: {exc}") from exc


def _row(record: Any, cols: tuple[str, ...], json_cols: set[str]) -> tuple[Any, ...]:
    """``record``'s values for ``cols``, JSON-encoding the ``json_cols``."""
    return tuple(json.dumps(getattr(record, c)) if c in json_cols else getattr(record, c)
                 for c in cols)


def _node_row(n: NodeRecord) -> tuple[Any, ...]:
    return _row(n, _NODE_COLS, _NODE_JSON)


def _progress_row(n: NodeRecord) -> tuple[Any, ...]:
    return (*_row(n, _PROGRESS_COLS, _NODE_JSON), n.deployment, n.name)


def _decode(row: dict[str, Any], json_cols: set[str]) -> dict[str, Any]:
    for col in json_cols:
        try:
            row[col] = json.loads(row[col])
        except (TypeError, ValueError) as exc:
            raise CorruptState(f"journal column {col} holds invalid JSON: {exc}") from exc
    return row


def _deployment(row: tuple[Any, ...]) -> DeploymentRecord:
    return DeploymentRecord(**_decode(dict(zip(_DEP_COLS, row, strict=True)), _DEP_JSON))


def _deployment_row(d: DeploymentRecord) -> tuple[Any, ...]:
    return _row(d, _DEP_COLS, _DEP_JSON)


_INSERT_DEPLOYMENT = (f"INSERT INTO deployments ({', '.join(_DEP_COLS)}) "
                      f"VALUES ({', '.join('?' * len(_DEP_COLS))})")
