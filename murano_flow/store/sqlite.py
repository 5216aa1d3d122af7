"""The SQLite journal (WAL mode): the embedded default.

Durability settings: ``sync=normal`` (default) survives a kill -9 of the engine at
any point, because WAL commits are atomic and the OS keeps written pages; it may
lose the last commits on power loss. ``sync=full`` fsyncs every commit and
survives power loss too. The engine group-commits, so either costs one commit per
batch of completions, not one per transition.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CorruptState, LeaseLost, NotFound, StoreError
from ..faults import crash_point
from ..states import FINISHED
from . import columns as col
from .base import (
    SIGNAL_OPEN,
    ApiToken,
    BlueprintVersion,
    DeploymentRecord,
    Event,
    NodeRecord,
    Signal,
    Store,
    Trigger,
    lease_lost,
    missing_blueprint,
    missing_token,
    missing_trigger,
)

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
    (  # 4: owners' leases, requests to engine services, who journaled each event
        "ALTER TABLE deployments ADD COLUMN lease REAL NOT NULL DEFAULT 0",
        "ALTER TABLE deployments ADD COLUMN request TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE events ADD COLUMN engine TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX IF NOT EXISTS deployments_requested ON deployments (request, created)",
        """CREATE TABLE IF NOT EXISTS engines (
            id TEXT PRIMARY KEY, seen REAL NOT NULL, expires REAL NOT NULL,
            info TEXT NOT NULL)""",
    ),
    (  # 5: stored blueprint versions (immutable) and API tokens (digests only)
        """CREATE TABLE IF NOT EXISTS blueprints (
            name TEXT NOT NULL, version INTEGER NOT NULL, path TEXT NOT NULL,
            digest TEXT NOT NULL, text TEXT NOT NULL, files TEXT NOT NULL,
            created REAL NOT NULL, author TEXT NOT NULL, PRIMARY KEY (name, version))""",
        """CREATE TABLE IF NOT EXISTS tokens (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, digest TEXT NOT NULL,
            scope TEXT NOT NULL, created REAL NOT NULL, revoked REAL NOT NULL)""",
    ),
    (  # 6: triggers that engine services fire
        """CREATE TABLE IF NOT EXISTS triggers (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL,
            blueprint TEXT NOT NULL, version INTEGER, deployment TEXT NOT NULL,
            params TEXT NOT NULL, sealed TEXT NOT NULL, due REAL NOT NULL,
            created REAL NOT NULL, fired INTEGER NOT NULL, last TEXT NOT NULL)""",
    ),
)
#: Seconds a connection waits for another one's lock before giving up.
BUSY_TIMEOUT = 30.0
#: Version of the schema, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = len(_MIGRATIONS)

_UPDATE_NODE = (
    "UPDATE nodes SET " + ", ".join(f"{c} = ?" for c in col.PROGRESS)
    + " WHERE deployment = ? AND name = ?"
)


class SqliteStore(Store):
    """Journal in one SQLite file; one connection, guarded for use from any thread."""

    def __init__(self, path: str | Path, *, sync: str = "normal") -> None:
        if sync not in ("normal", "full"):
            raise StoreError(f"unknown sync setting {sync!r}", hint="use sync=normal or sync=full")
        self.path = Path(path)
        self._lock = threading.RLock()
        #: Opened read-only: the file or its folder cannot be written here.
        self.read_only = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open_wal(sync)
            except sqlite3.OperationalError:
                if not self._unwritable():
                    raise
                self._db = self._open_read_only()
            self._migrate()
        except sqlite3.Error as exc:
            if _damaged(exc):
                raise CorruptState(
                    f"cannot open the journal {self.path}: it is damaged, or not a journal "
                    f"({exc})", hint="restore it from a backup, or point --store at the "
                                     "journal") from exc
            raise _unopenable(self.path, exc) from exc
        except OSError as exc:
            raise _unopenable(self.path, exc) from exc

    def _open_wal(self, sync: str) -> sqlite3.Connection:
        """A connection in WAL mode. Several processes opening a new journal at once race
        to switch it to WAL, and SQLite does not wait for that lock as for others (seen:
        'database is locked' at once): wait for it here, as long as for any other."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                 check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA synchronous={sync.upper()}")
                return db
            except sqlite3.OperationalError as exc:
                db.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _unwritable(self) -> bool:
        """Whether the journal exists but this process may not write it or its folder (a
        read-only mount, or another user's journal): reading it is still possible."""
        return self.path.is_file() and os.access(self.path, os.R_OK) and not (
            os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK))

    def _open_read_only(self) -> sqlite3.Connection:
        """A read-only connection; 'immutable' when SQLite cannot even share the WAL index
        (it then reads the file as it is, which nothing can change from here)."""
        uri = self.path.resolve().as_uri()
        for mode in ("mode=ro", "mode=ro&immutable=1"):
            db = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=BUSY_TIMEOUT,
                                 isolation_level=None, check_same_thread=False)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                db.close()
                continue
            self.read_only = True
            return db
        raise sqlite3.OperationalError("unable to open database file, even read-only")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"the journal {self.path} has schema {version}; this murano-flow "
                             f"knows up to {SCHEMA_VERSION}", hint="upgrade murano-flow")
        self._migrated = (version, SCHEMA_VERSION)
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise StoreError(f"the journal {self.path} needs an upgrade to schema "
                             f"{SCHEMA_VERSION} but is read-only here",
                             hint="run any command once where it can be written")
        with self._tx() as db:  # executescript() would commit halfway; run statements one by one
            # Read again under the write lock: another process may have just migrated it.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._migrated = (version, SCHEMA_VERSION)

    def upgrade(self) -> tuple[int, int]:
        return self._migrated

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
                if self.read_only:
                    raise StoreError(f"the journal {self.path} is read-only here, and this "
                                     "command needs to write it",
                                     hint="run it where the journal can be written") from exc
                raise _damage(self.path, exc) if _damaged(exc) else StoreError(
                    f"journal {self.path}: {exc}") from exc

    def create(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
               events: list[Event]) -> None:
        with self._tx() as db:
            db.execute(_INSERT_DEPLOYMENT, col.deployment_values(deployment, _dumps))
            self._insert_nodes(db, nodes)
            self._insert_events(db, events)

    def reshape(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
                events: list[Event]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM nodes WHERE deployment = ?", (deployment.id,))
            db.execute("DELETE FROM deployments WHERE id = ?", (deployment.id,))
            db.execute(_INSERT_DEPLOYMENT, col.deployment_values(deployment, _dumps))
            self._insert_nodes(db, nodes)
            self._insert_events(db, events)

    def delete(self, deployment: str) -> bool:
        self.deployment(deployment)
        done = tuple(FINISHED)
        with self._tx() as db:
            cur = db.execute(f"DELETE FROM deployments WHERE id = ? AND owner = '' AND "
                             f"request = '' AND state IN ({', '.join('?' * len(done))})",
                             (deployment, *done))
            if cur.rowcount != 1:
                return False
            for table in ("nodes", "events", "signals"):
                db.execute(f"DELETE FROM {table} WHERE deployment = ?", (deployment,))
            return True

    def claim(self, deployment: str, owner: str, expected: str, *, ttl: float = 0.0,
              request: str | None = None) -> bool:
        lease = time.time() + ttl if owner and ttl else 0.0
        with self._tx() as db:
            cur = db.execute("UPDATE deployments SET owner = ?, lease = ?, "
                             "request = coalesce(?, request) WHERE id = ? AND owner = ?",
                             (owner, lease, request, deployment, expected))
            return cur.rowcount == 1

    def acquire(self, owner: str, ttl: float, limit: int) -> list[tuple[str, str]]:
        # The write lock (BEGIN IMMEDIATE) serialises engines: no two take the same row.
        with self._tx() as db:
            now = time.time()
            rows = db.execute("SELECT id, owner FROM deployments WHERE request != '' AND "
                              "(owner = '' OR lease < ?) ORDER BY created LIMIT ?",
                              (now, limit)).fetchall()
            db.executemany("UPDATE deployments SET owner = ?, lease = ? WHERE id = ?",
                           [(owner, now + ttl, r[0]) for r in rows])
            return [(str(r[0]), str(r[1])) for r in rows]

    def renew(self, owner: str, deployments: list[str], ttl: float) -> list[str]:
        # Still ours while no one took it, even if the lease ran out a moment ago.
        with self._tx() as db:
            expires = time.time() + ttl
            return [dep for dep in deployments if db.execute(
                "UPDATE deployments SET lease = ? WHERE id = ? AND owner = ?",
                (expires, dep, owner)).rowcount]

    def set_request(self, deployment: str, request: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE deployments SET request = ? WHERE id = ?", (request, deployment))

    def heartbeat(self, engine: str, info: dict[str, Any], ttl: float) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute("INSERT INTO engines (id, seen, expires, info) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET seen = excluded.seen, "
                       "expires = excluded.expires, info = excluded.info",
                       (engine, now, now + ttl, json.dumps(info)))
            db.execute("DELETE FROM engines WHERE expires < ?", (now - 3600,))

    def engines(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, seen, expires, info FROM engines WHERE expires >= ? "
                           "ORDER BY id", (time.time(),))
        return [{"id": r[0], "seen": r[1], "expires": r[2], "info": json.loads(r[3])}
                for r in rows]

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
            f"INSERT INTO nodes (seq, {', '.join(col.NODE)}) "
            f"VALUES (?, {', '.join('?' * len(col.NODE))})",
            ((i, *col.node_values(n, _dumps)) for i, n in enumerate(nodes)))

    def commit(self, deployment: str, nodes: list[NodeRecord], events: list[Event],
               state: str | None = None, reason: str | None = None, *,
               owner: str = "") -> None:
        with self._tx() as db:  # the write lock keeps a taker-over out until we commit
            if owner:
                self._fence(db, deployment, owner)
            if nodes:
                db.executemany(_UPDATE_NODE, (col.progress_values(n, _dumps) for n in nodes))
            crash_point("store.commit")  # fault injection: die mid-transaction
            self._insert_events(db, events, owner)
            if state is not None or reason is not None:
                db.execute("UPDATE deployments SET state = coalesce(?, state), "
                           "reason = coalesce(?, reason), updated = ? WHERE id = ?",
                           (state, reason, events[-1].ts if events else time.time(),
                            deployment))

    def _fence(self, db: sqlite3.Connection, deployment: str, owner: str) -> None:
        row = db.execute("SELECT owner, lease FROM deployments WHERE id = ?",
                         (deployment,)).fetchone()
        if row is None or row[0] != owner or (row[1] and row[1] < time.time()):
            raise LeaseLost(lease_lost(deployment, owner, row[0] if row else ""))

    def _insert_events(self, db: sqlite3.Connection, events: list[Event],
                       engine: str = "") -> None:
        if not events:
            return
        for e in events:
            e.engine = engine or e.engine
        db.executemany(
            f"INSERT INTO events ({', '.join(col.EVENT)}) VALUES (?,?,?,?,?,?,?,?,?)",
            [col.event_values(e, _dumps) for e in events])
        # Inside our write transaction no one else inserts, so the new ids are consecutive.
        last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        for k, e in enumerate(events):
            e.seq = last - len(events) + 1 + k

    def deployment(self, deployment: str) -> DeploymentRecord:
        rows = self._query(f"SELECT {', '.join(col.DEPLOYMENT)} FROM deployments WHERE id = ?",
                           (deployment,))
        if not rows:
            raise self._missing(deployment)
        return _deployment(rows[0])

    def deployments(self, limit: int = 100) -> list[DeploymentRecord]:
        rows = self._query(f"SELECT {', '.join(col.DEPLOYMENT)} FROM deployments "
                           "ORDER BY created DESC LIMIT ?", (limit,))
        return [_deployment(r) for r in rows]

    def hosts_in_use(self) -> list[tuple[str, str]]:
        rows = self._query("SELECT DISTINCT host, deployment FROM nodes WHERE host != '' "
                           "AND status NOT IN ('pending', 'undone') ORDER BY host, deployment",
                           ())
        return [(str(h), str(d)) for h, d in rows]

    def nodes(self, deployment: str) -> list[NodeRecord]:
        self.deployment(deployment)
        cols = ", ".join(col.NODE)
        rows = self._query(f"SELECT {cols} FROM nodes WHERE deployment = ? ORDER BY seq",
                           (deployment,))
        out = [NodeRecord(**_decode(dict(zip(col.NODE, r, strict=True)), col.NODE_JSON))
               for r in rows]
        for n in out:
            n.has_action = bool(n.has_action)
        return out

    def events(self, deployment: str, after: int = 0, limit: int = 10_000) -> list[Event]:
        self.deployment(deployment)
        cols = ", ".join(("seq", *col.EVENT))
        rows = self._query(f"SELECT {cols} FROM events WHERE deployment = ? AND seq > ? "
                           "ORDER BY seq LIMIT ?", (deployment, after, limit))
        return [Event(**_decode(dict(zip(("seq", *col.EVENT), r, strict=True)), col.DATA_JSON))
                for r in rows]

    def add_signal(self, signal: Signal) -> int:
        self.deployment(signal.deployment)
        with self._tx() as db:
            cur = db.execute(
                f"INSERT INTO signals ({', '.join(col.SIGNAL)}) VALUES (?,?,?,?,?,?,?,?)",
                col.signal_values(signal, json.dumps))
            return int(cur.lastrowid or 0)

    def signals(self, deployment: str) -> list[Signal]:
        cols = ("seq", *col.SIGNAL)
        rows = self._query(f"SELECT {', '.join(cols)} FROM signals WHERE deployment = ? "
                           f"AND status IN {SIGNAL_OPEN} ORDER BY seq", (deployment,))
        return [Signal(**_decode(dict(zip(cols, r, strict=True)), col.DATA_JSON)) for r in rows]

    def settle_signals(self, outcomes: list[tuple[int, str, str]]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE signals SET status = ?, note = ? WHERE seq = ?",
                           [(status, note, seq) for seq, status, note in outcomes])

    def feed(self, after: int = 0, limit: int = 1000) -> list[Event]:
        cols = ("seq", *col.EVENT)
        rows = self._query(f"SELECT {', '.join(cols)} FROM events WHERE seq > ? "
                           "ORDER BY seq LIMIT ?", (after, limit))
        return [Event(**_decode(dict(zip(cols, r, strict=True)), col.DATA_JSON)) for r in rows]

    def newest_event(self) -> int:
        return int(self._query("SELECT coalesce(max(seq), 0) FROM events", ())[0][0])

    def cursor(self, name: str) -> int:
        rows = self._query("SELECT seq FROM cursors WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def set_cursor(self, name: str, seq: int) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) "
                       "DO UPDATE SET seq = excluded.seq", (name, seq))

    def add_blueprint(self, version: BlueprintVersion) -> BlueprintVersion:
        with self._tx() as db:
            newest = db.execute(f"SELECT {', '.join(col.BLUEPRINT)} FROM blueprints WHERE "
                                "name = ? ORDER BY version DESC LIMIT 1",
                                (version.name,)).fetchone()
            if newest is not None and newest[3] == version.digest:
                return _blueprint(newest)
            stored = BlueprintVersion(**{**version.__dict__,
                                         "version": newest[1] + 1 if newest else 1})
            db.execute(f"INSERT INTO blueprints ({', '.join(col.BLUEPRINT)}) VALUES "
                       f"({', '.join('?' * len(col.BLUEPRINT))})",
                       col.blueprint_values(stored, json.dumps))
            return stored

    def blueprint(self, name: str, version: int | None = None) -> BlueprintVersion:
        rows = self._query(f"SELECT {', '.join(col.BLUEPRINT)} FROM blueprints WHERE name = ? "
                           "AND (? IS NULL OR version = ?) ORDER BY version DESC LIMIT 1",
                           (name, version, version))
        if not rows:
            count = self._query("SELECT count(*) FROM blueprints WHERE name = ?", (name,))
            raise NotFound(missing_blueprint(name, version, int(count[0][0])))
        return _blueprint(rows[0])

    def blueprint_versions(self, name: str) -> list[BlueprintVersion]:
        rows = self._query(f"SELECT {', '.join(col.BLUEPRINT)} FROM blueprints WHERE name = ? "
                           "ORDER BY version", (name,))
        return [_blueprint(r) for r in rows]

    def blueprints(self) -> list[BlueprintVersion]:
        rows = self._query(f"SELECT {', '.join(col.BLUEPRINT)} FROM blueprints b WHERE "
                           "version = (SELECT max(version) FROM blueprints WHERE "
                           "name = b.name) ORDER BY name", ())
        return [_blueprint(r) for r in rows]

    def add_token(self, token: ApiToken) -> None:
        with self._tx() as db:
            db.execute(f"INSERT INTO tokens ({', '.join(col.TOKEN)}) VALUES "
                       f"({', '.join('?' * len(col.TOKEN))})", col.token_values(token))

    def token(self, token_id: str) -> ApiToken:
        rows = self._query(f"SELECT {', '.join(col.TOKEN)} FROM tokens WHERE id = ?",
                           (token_id,))
        if not rows:
            raise NotFound(missing_token(token_id))
        return ApiToken(*rows[0])

    def tokens(self) -> list[ApiToken]:
        rows = self._query(f"SELECT {', '.join(col.TOKEN)} FROM tokens ORDER BY created, id",
                           ())
        return [ApiToken(*r) for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        self.token(token_id)
        with self._tx() as db:
            return db.execute("UPDATE tokens SET revoked = ? WHERE id = ? AND revoked = 0",
                              (time.time(), token_id)).rowcount == 1

    def add_trigger(self, trigger: Trigger) -> bool:
        with self._tx() as db:
            return db.execute(f"INSERT INTO triggers ({', '.join(col.TRIGGER)}) VALUES "
                              f"({', '.join('?' * len(col.TRIGGER))}) ON CONFLICT (id) "
                              "DO NOTHING", col.trigger_values(trigger, json.dumps)
                              ).rowcount == 1

    def trigger(self, trigger_id: str) -> Trigger:
        rows = self._query(f"SELECT {', '.join(col.TRIGGER)} FROM triggers WHERE id = ?",
                           (trigger_id,))
        if not rows:
            raise NotFound(missing_trigger(trigger_id))
        return _trigger(rows[0])

    def triggers(self) -> list[Trigger]:
        rows = self._query(f"SELECT {', '.join(col.TRIGGER)} FROM triggers ORDER BY id", ())
        return [_trigger(r) for r in rows]

    def remove_trigger(self, trigger_id: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM triggers WHERE id = ?", (trigger_id,)).rowcount == 1

    def take_trigger(self, trigger_id: str, due: float, next_due: float) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE triggers SET due = ? WHERE id = ? AND due = ?",
                              (next_due, trigger_id, due)).rowcount == 1

    def record_firing(self, trigger_id: str, last: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE triggers SET fired = fired + 1, last = ? WHERE id = ?",
                       (last, trigger_id))

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
                raise _damage(self.path, exc) if _damaged(exc) else StoreError(
                    f"journal {self.path}: {exc}") from exc


def _damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is damaged (not locked, read-only, missing)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.OperationalError | sqlite3.IntegrityError | sqlite3.ProgrammingError)


def _damage(path: Path, exc: sqlite3.Error) -> CorruptState:
    return CorruptState(f"the journal {path} is damaged: {exc}",
                        hint="restore it from a backup; 'murano-flow fsck' reports what it "
                             "can still read")


def _unopenable(path: Path, exc: BaseException) -> StoreError:
    return StoreError(f"cannot open the journal {path}: {exc}",
                      hint="check the path and permissions, or pick another with --store "
                           "sqlite:///PATH")


def _dumps(value: Any) -> str:
    """A JSON column's text; most are empty (no outputs, no waiting), written without
    the encoder (two a row, for every row a commit writes)."""
    if not value and isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)


def _loads(text: Any) -> Any:
    """A JSON column's value (the empty ones without the decoder); raises as json.loads."""
    if text == "{}":
        return {}
    return [] if text == "[]" else json.loads(text)


def _decode(row: dict[str, Any], json_cols: set[str]) -> dict[str, Any]:
    for name in json_cols:
        try:
            row[name] = _loads(row[name])
        except (TypeError, ValueError) as exc:
            raise CorruptState(f"journal column {name} holds invalid JSON: {exc}") from exc
    return row


def _deployment(row: tuple[Any, ...]) -> DeploymentRecord:
    return DeploymentRecord(**_decode(dict(zip(col.DEPLOYMENT, row, strict=True)),
                                      col.DEPLOYMENT_JSON))


def _trigger(row: tuple[Any, ...]) -> Trigger:
    return Trigger(**_decode(dict(zip(col.TRIGGER, row, strict=True)), col.TRIGGER_JSON))


def _blueprint(row: tuple[Any, ...]) -> BlueprintVersion:
    return BlueprintVersion(**_decode(dict(zip(col.BLUEPRINT, row, strict=True)),
                                      col.BLUEPRINT_JSON))


_INSERT_DEPLOYMENT = (f"INSERT INTO deployments ({', '.join(col.DEPLOYMENT)}) "
                      f"VALUES ({', '.join('?' * len(col.DEPLOYMENT))})")
