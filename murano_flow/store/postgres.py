"""The PostgreSQL journal: several engines on several machines share one database.

Built on psycopg 3 and its connection pool (see docs/scaling.md for why not an ORM).
Every method is one short transaction. Completions write only their own node rows and
append events; the deployment row changes only with the deployment's state, its owner
or its lease, so engines never queue on one hot row (Mistral's deadlock lesson).

Time that decides ownership is the database's clock, never an engine host's: a lease
runs out at the same moment for every engine.

The schema is versioned in ``murano_flow_schema`` and created or migrated only by
``murano-flow db upgrade`` (:func:`PostgresStore.upgrade`); an engine refuses a
database whose schema is older or newer than it knows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import LeaseLost, NotFound, StoreError
from ..faults import crash_point
from ..states import FINISHED
from ..wire.masking import masked_url
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

#: The database clock, in epoch seconds (ownership is judged by it alone).
NOW = "extract(epoch from clock_timestamp())::float8"

#: Each schema version's statements; a database at version N runs N+1 onwards.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the journal as of SQLite schema 4
        """CREATE TABLE deployments (
            id text PRIMARY KEY, blueprint text NOT NULL, path text NOT NULL,
            digest text NOT NULL, state text NOT NULL, created double precision NOT NULL,
            updated double precision NOT NULL, params jsonb NOT NULL, targets jsonb NOT NULL,
            reason text NOT NULL, source jsonb NOT NULL, owner text NOT NULL DEFAULT '',
            control text NOT NULL DEFAULT '', settings jsonb NOT NULL DEFAULT '{}',
            lease double precision NOT NULL DEFAULT 0, request text NOT NULL DEFAULT '')""",
        "CREATE INDEX deployments_by_created ON deployments (created)",
        # What engine services poll: small, since finished deployments ask for nothing.
        "CREATE INDEX deployments_requested ON deployments (created) WHERE request <> ''",
        """CREATE TABLE nodes (
            deployment text NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
            seq integer NOT NULL, name text NOT NULL, instance text NOT NULL,
            state text NOT NULL, status text NOT NULL, intention text NOT NULL,
            host text NOT NULL, attempt integer NOT NULL, started double precision,
            finished double precision, exit_code integer, reason text NOT NULL,
            outputs jsonb NOT NULL, stdout_tail text NOT NULL, stderr_tail text NOT NULL,
            log_dir text NOT NULL, requires jsonb NOT NULL, has_action boolean NOT NULL,
            tries integer NOT NULL DEFAULT 0, inputs text NOT NULL DEFAULT '',
            waiting jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (deployment, name))""",
        f"""CREATE TABLE events (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, deployment text NOT NULL,
            ts double precision NOT NULL, kind text NOT NULL, node text NOT NULL,
            status text NOT NULL, attempt integer NOT NULL, message text NOT NULL,
            data jsonb NOT NULL, engine text NOT NULL DEFAULT '',
            inserted double precision NOT NULL DEFAULT {NOW})""",
        "CREATE INDEX events_by_deployment ON events (deployment, seq)",
        """CREATE TABLE signals (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, deployment text NOT NULL,
            node text NOT NULL, ts double precision NOT NULL, kind text NOT NULL,
            source text NOT NULL, data jsonb NOT NULL, status text NOT NULL,
            note text NOT NULL)""",
        "CREATE INDEX signals_open ON signals (deployment, seq) "
        "WHERE status IN ('new', 'rejected')",
        "CREATE TABLE cursors (name text PRIMARY KEY, seq bigint NOT NULL)",
        """CREATE TABLE engines (
            id text PRIMARY KEY, seen double precision NOT NULL,
            expires double precision NOT NULL, info jsonb NOT NULL)""",
    ),
    (  # 2: stored blueprint versions (immutable) and API tokens (digests only)
        """CREATE TABLE blueprints (
            name text NOT NULL, version integer NOT NULL, path text NOT NULL,
            digest text NOT NULL, text text NOT NULL, files jsonb NOT NULL,
            created double precision NOT NULL, author text NOT NULL,
            PRIMARY KEY (name, version))""",
        """CREATE TABLE tokens (
            id text PRIMARY KEY, name text NOT NULL, digest text NOT NULL,
            scope text NOT NULL, created double precision NOT NULL,
            revoked double precision NOT NULL)""",
    ),
    (  # 3: triggers that engine services fire
        """CREATE TABLE triggers (
            id text PRIMARY KEY, kind text NOT NULL, spec jsonb NOT NULL,
            blueprint text NOT NULL, version integer, deployment text NOT NULL,
            params jsonb NOT NULL, sealed text NOT NULL, due double precision NOT NULL,
            created double precision NOT NULL, fired integer NOT NULL, last text NOT NULL)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
#: Any fixed number: `db upgrade` runs in this advisory lock, so two never race.
_UPGRADE_LOCK = 0x6D66_6462

#: A gap in event numbers is an earlier transaction still committing - or one that
#: rolled back. Readers of the feed wait this long for it before going past it.
GAP_WAIT = 10.0


def _cols(cols: tuple[str, ...]) -> str:
    return ", ".join(cols)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


_INSERT_DEPLOYMENT = (f"INSERT INTO deployments ({_cols(col.DEPLOYMENT)}) "
                      f"VALUES ({_marks(len(col.DEPLOYMENT))})")
_INSERT_NODE = (f"INSERT INTO nodes (seq, {_cols(col.NODE)}) "
                f"VALUES ({_marks(len(col.NODE) + 1)})")
_UPDATE_NODE = ("UPDATE nodes SET " + ", ".join(f"{c} = %s" for c in col.PROGRESS)
                + " WHERE deployment = %s AND name = %s")
_INSERT_EVENT = (f"INSERT INTO events ({_cols(col.EVENT)}) "
                 f"VALUES ({_marks(len(col.EVENT))}) RETURNING seq")


class PostgresStore(Store):
    """Journal in a PostgreSQL database, through a small pool of connections."""

    def __init__(self, url: str, *, pool_size: int = 8, check_schema: bool = True) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise StoreError("the PostgreSQL journal needs psycopg",
                             hint="pip install 'murano-flow[postgresql]'") from exc
        self._errors = psycopg.Error
        self.url = url
        try:  # once directly: the pool would report a timeout, not libpq's reason
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise StoreError(f"cannot connect to the journal {masked_url(url)}: {reason}",
                             hint="check the URL (postgresql://USER@HOST:PORT/DB), that the "
                                  "server runs, and that it lets this user in") from exc
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                                    check=ConnectionPool.check_connection, timeout=30,
                                    kwargs={"connect_timeout": 10})
        if check_schema:
            found = self.schema()
            if found != SCHEMA_VERSION:
                self._pool.close()
                what = "has no murano-flow schema" if found == 0 else \
                    f"has schema {found}; this murano-flow knows {SCHEMA_VERSION}"
                raise StoreError(f"the journal {masked_url(url)} {what}",
                                 hint=(f"murano-flow --store {masked_url(url)} db upgrade"
                                       if found < SCHEMA_VERSION else "upgrade murano-flow"))

    # -- schema ----------------------------------------------------------------

    def schema(self) -> int:
        """The schema version the database has (0: none)."""
        with self._tx() as cur:
            cur.execute("SELECT to_regclass('murano_flow_schema') IS NOT NULL")
            if not _one(cur):
                return 0
            cur.execute("SELECT version FROM murano_flow_schema")
            return int(_one(cur) or 0)

    def upgrade(self) -> tuple[int, int]:
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_UPGRADE_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS murano_flow_schema (version integer)")
            cur.execute("SELECT version FROM murano_flow_schema")
            row = cur.fetchone()
            before = int(row[0]) if row else 0
            if before > SCHEMA_VERSION:
                raise StoreError(f"the journal {masked_url(self.url)} has schema {before}; this "
                                 f"murano-flow knows up to {SCHEMA_VERSION}",
                                 hint="upgrade murano-flow")
            for statements in MIGRATIONS[before:]:
                for statement in statements:
                    cur.execute(statement)
            cur.execute("DELETE FROM murano_flow_schema")
            cur.execute("INSERT INTO murano_flow_schema VALUES (%s)", (SCHEMA_VERSION,))
        return before, SCHEMA_VERSION

    # -- writes ----------------------------------------------------------------

    def create(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
               events: list[Event]) -> None:
        with self._tx() as cur:
            cur.execute(_INSERT_DEPLOYMENT, col.deployment_values(deployment, _jsonb))
            self._insert_nodes(cur, nodes)
            self._insert_events(cur, events)

    def reshape(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
                events: list[Event]) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM nodes WHERE deployment = %s", (deployment.id,))
            cur.execute("DELETE FROM deployments WHERE id = %s", (deployment.id,))
            cur.execute(_INSERT_DEPLOYMENT, col.deployment_values(deployment, _jsonb))
            self._insert_nodes(cur, nodes)
            self._insert_events(cur, events)

    def commit(self, deployment: str, nodes: list[NodeRecord], events: list[Event],
               state: str | None = None, reason: str | None = None, *,
               owner: str = "") -> None:
        moves = state is not None or reason is not None
        with self._tx() as cur:
            if owner:
                # A share lock is enough to keep a taker-over out until we commit (it skips
                # locked rows); the row is locked for update only when we change it anyway.
                cur.execute(f"SELECT owner, lease, {NOW} FROM deployments WHERE id = %s "
                            + ("FOR NO KEY UPDATE" if moves else "FOR SHARE"), (deployment,))
                row = cur.fetchone()
                if row is None or row[0] != owner or (row[1] and row[1] < row[2]):
                    raise LeaseLost(lease_lost(deployment, owner, row[0] if row else ""))
            if nodes:
                cur.executemany(_UPDATE_NODE, [col.progress_values(n, _jsonb) for n in nodes])
            crash_point("store.commit")
            self._insert_events(cur, events, owner)
            if moves:
                cur.execute("UPDATE deployments SET state = coalesce(%s, state), "
                            "reason = coalesce(%s, reason), updated = %s WHERE id = %s",
                            (state, reason, events[-1].ts if events else time.time(), deployment))

    def claim(self, deployment: str, owner: str, expected: str, *, ttl: float = 0.0,
              request: str | None = None) -> bool:
        with self._tx() as cur:
            cur.execute(f"UPDATE deployments SET owner = %s, lease = CASE WHEN %s > 0 "
                        f"THEN {NOW} + %s ELSE 0 END, request = coalesce(%s, request) "
                        "WHERE id = %s AND owner = %s",
                        (owner, ttl if owner else 0, ttl, request, deployment, expected))
            return bool(cur.rowcount == 1)

    def acquire(self, owner: str, ttl: float, limit: int) -> list[tuple[str, str]]:
        with self._tx() as cur:
            cur.execute(f"""WITH free AS (
                    SELECT id, owner FROM deployments
                    WHERE request <> '' AND (owner = '' OR lease < {NOW})
                    ORDER BY created LIMIT %s FOR UPDATE SKIP LOCKED)
                UPDATE deployments d SET owner = %s, lease = {NOW} + %s
                FROM free WHERE d.id = free.id RETURNING d.id, free.owner""",
                        (limit, owner, ttl))
            return [(str(r[0]), str(r[1])) for r in cur.fetchall()]

    def renew(self, owner: str, deployments: list[str], ttl: float) -> list[str]:
        if not deployments:
            return []
        with self._tx() as cur:
            cur.execute(f"UPDATE deployments SET lease = {NOW} + %s "
                        "WHERE id = ANY(%s) AND owner = %s RETURNING id",
                        (ttl, deployments, owner))
            return [str(r[0]) for r in cur.fetchall()]

    def set_request(self, deployment: str, request: str) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE deployments SET request = %s WHERE id = %s",
                        (request, deployment))

    def delete(self, deployment: str) -> bool:
        self.deployment(deployment)
        with self._tx() as cur:  # nodes go with their row (ON DELETE CASCADE)
            cur.execute("DELETE FROM deployments WHERE id = %s AND owner = '' AND "
                        "request = '' AND state = ANY(%s)", (deployment, sorted(FINISHED)))
            if cur.rowcount != 1:
                return False
            cur.execute("DELETE FROM events WHERE deployment = %s", (deployment,))
            cur.execute("DELETE FROM signals WHERE deployment = %s", (deployment,))
            return True

    def set_control(self, deployment: str, control: str) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE deployments SET control = %s WHERE id = %s",
                        (control, deployment))

    def heartbeat(self, engine: str, info: dict[str, Any], ttl: float) -> None:
        with self._tx() as cur:
            cur.execute(f"INSERT INTO engines (id, seen, expires, info) "
                        f"VALUES (%s, {NOW}, {NOW} + %s, %s) ON CONFLICT (id) DO UPDATE "
                        "SET seen = excluded.seen, expires = excluded.expires, "
                        "info = excluded.info", (engine, ttl, _jsonb(info)))
            cur.execute(f"DELETE FROM engines WHERE expires < {NOW} - 3600")

    def add_signal(self, signal: Signal) -> int:
        self.deployment(signal.deployment)
        with self._tx() as cur:
            cur.execute(f"INSERT INTO signals ({_cols(col.SIGNAL)}) "
                        f"VALUES ({_marks(len(col.SIGNAL))}) RETURNING seq",
                        col.signal_values(signal, _jsonb))
            return int(_one(cur))

    def settle_signals(self, outcomes: list[tuple[int, str, str]]) -> None:
        with self._tx() as cur:
            cur.executemany("UPDATE signals SET status = %s, note = %s WHERE seq = %s",
                            [(status, note, seq) for seq, status, note in outcomes])

    def set_cursor(self, name: str, seq: int) -> None:
        with self._tx() as cur:
            cur.execute("INSERT INTO cursors (name, seq) VALUES (%s, %s) ON CONFLICT (name) "
                        "DO UPDATE SET seq = excluded.seq", (name, seq))

    def add_blueprint(self, version: BlueprintVersion) -> BlueprintVersion:
        with self._tx() as cur:  # one uploader of a name at a time: versions stay dense
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (version.name,))
            cur.execute(f"SELECT {_cols(col.BLUEPRINT)} FROM blueprints WHERE name = %s "
                        "ORDER BY version DESC LIMIT 1", (version.name,))
            newest = cur.fetchone()
            if newest is not None and newest[3] == version.digest:
                return _blueprint(newest)
            stored = BlueprintVersion(**{**version.__dict__,
                                         "version": newest[1] + 1 if newest else 1})
            cur.execute(f"INSERT INTO blueprints ({_cols(col.BLUEPRINT)}) VALUES "
                        f"({_marks(len(col.BLUEPRINT))})",
                        col.blueprint_values(stored, _jsonb))
            return stored

    def add_token(self, token: ApiToken) -> None:
        with self._tx() as cur:
            cur.execute(f"INSERT INTO tokens ({_cols(col.TOKEN)}) VALUES "
                        f"({_marks(len(col.TOKEN))})", col.token_values(token))

    def revoke_token(self, token_id: str) -> bool:
        self.token(token_id)
        with self._tx() as cur:
            cur.execute(f"UPDATE tokens SET revoked = {NOW} WHERE id = %s AND revoked = 0",
                        (token_id,))
            return bool(cur.rowcount == 1)

    def add_trigger(self, trigger: Trigger) -> bool:
        with self._tx() as cur:
            cur.execute(f"INSERT INTO triggers ({_cols(col.TRIGGER)}) VALUES "
                        f"({_marks(len(col.TRIGGER))}) ON CONFLICT (id) DO NOTHING",
                        col.trigger_values(trigger, _jsonb))
            return bool(cur.rowcount == 1)

    def remove_trigger(self, trigger_id: str) -> bool:
        with self._tx() as cur:
            cur.execute("DELETE FROM triggers WHERE id = %s", (trigger_id,))
            return bool(cur.rowcount == 1)

    def take_trigger(self, trigger_id: str, due: float, next_due: float) -> bool:
        with self._tx() as cur:
            cur.execute("UPDATE triggers SET due = %s WHERE id = %s AND due = %s",
                        (next_due, trigger_id, due))
            return bool(cur.rowcount == 1)

    def record_firing(self, trigger_id: str, last: str) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE triggers SET fired = fired + 1, last = %s WHERE id = %s",
                        (last, trigger_id))

    # -- reads -----------------------------------------------------------------

    def trigger(self, trigger_id: str) -> Trigger:
        rows = self._query(f"SELECT {_cols(col.TRIGGER)} FROM triggers WHERE id = %s",
                           (trigger_id,))
        if not rows:
            raise NotFound(missing_trigger(trigger_id))
        return Trigger(*rows[0])

    def triggers(self) -> list[Trigger]:
        rows = self._query(f"SELECT {_cols(col.TRIGGER)} FROM triggers ORDER BY id", ())
        return [Trigger(*r) for r in rows]

    def blueprint(self, name: str, version: int | None = None) -> BlueprintVersion:
        rows = self._query(f"SELECT {_cols(col.BLUEPRINT)} FROM blueprints WHERE name = %s "
                           "AND (%s::integer IS NULL OR version = %s) "
                           "ORDER BY version DESC LIMIT 1", (name, version, version))
        if not rows:
            count = self._query("SELECT count(*) FROM blueprints WHERE name = %s", (name,))
            raise NotFound(missing_blueprint(name, version, int(count[0][0])))
        return _blueprint(rows[0])

    def blueprint_versions(self, name: str) -> list[BlueprintVersion]:
        rows = self._query(f"SELECT {_cols(col.BLUEPRINT)} FROM blueprints WHERE name = %s "
                           "ORDER BY version", (name,))
        return [_blueprint(r) for r in rows]

    def blueprints(self) -> list[BlueprintVersion]:
        rows = self._query(f"SELECT DISTINCT ON (name) {_cols(col.BLUEPRINT)} FROM blueprints "
                           "ORDER BY name, version DESC", ())
        return [_blueprint(r) for r in rows]

    def token(self, token_id: str) -> ApiToken:
        rows = self._query(f"SELECT {_cols(col.TOKEN)} FROM tokens WHERE id = %s",
                           (token_id,))
        if not rows:
            raise NotFound(missing_token(token_id))
        return ApiToken(*rows[0])

    def tokens(self) -> list[ApiToken]:
        rows = self._query(f"SELECT {_cols(col.TOKEN)} FROM tokens ORDER BY created, id", ())
        return [ApiToken(*r) for r in rows]


    def deployment(self, deployment: str) -> DeploymentRecord:
        rows = self._query(f"SELECT {_cols(col.DEPLOYMENT)} FROM deployments WHERE id = %s",
                           (deployment,))
        if not rows:
            raise NotFound(f"no deployment '{deployment}' in the journal {masked_url(self.url)}",
                           hint="'murano-flow list' shows the known deployments")
        return DeploymentRecord(**dict(zip(col.DEPLOYMENT, rows[0], strict=True)))

    def deployments(self, limit: int = 100) -> list[DeploymentRecord]:
        rows = self._query(f"SELECT {_cols(col.DEPLOYMENT)} FROM deployments "
                           "ORDER BY created DESC LIMIT %s", (limit,))
        return [DeploymentRecord(**dict(zip(col.DEPLOYMENT, r, strict=True))) for r in rows]

    def control(self, deployment: str) -> str:
        rows = self._query("SELECT control FROM deployments WHERE id = %s", (deployment,))
        if not rows:
            self.deployment(deployment)  # raises NotFound
        return str(rows[0][0])

    def hosts_in_use(self) -> list[tuple[str, str]]:
        rows = self._query("SELECT DISTINCT host, deployment FROM nodes WHERE host <> '' "
                           "AND status NOT IN ('pending', 'undone') ORDER BY host, deployment",
                           ())
        return [(str(h), str(d)) for h, d in rows]

    def nodes(self, deployment: str) -> list[NodeRecord]:
        self.deployment(deployment)
        rows = self._query(f"SELECT {_cols(col.NODE)} FROM nodes WHERE deployment = %s "
                           "ORDER BY seq", (deployment,))
        return [NodeRecord(**dict(zip(col.NODE, r, strict=True))) for r in rows]

    def events(self, deployment: str, after: int = 0, limit: int = 10_000) -> list[Event]:
        self.deployment(deployment)
        rows = self._query(f"SELECT seq, {_cols(col.EVENT)}, inserted, {NOW} FROM events "
                           "WHERE deployment = %s AND seq > %s ORDER BY seq LIMIT %s",
                           (deployment, after, limit))
        return [_event(r) for r in rows]

    def feed(self, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = self._query(f"SELECT seq, {_cols(col.EVENT)}, inserted, {NOW} FROM events "
                           "WHERE seq > %s ORDER BY seq LIMIT %s", (after, limit))
        # Numbers are taken when a row is inserted, not when it commits: stop at a gap an
        # earlier transaction may still fill, so a reader's cursor never skips an event.
        out, expect = [], after + 1
        for row in rows:
            if row[0] != expect and row[-2] > row[-1] - GAP_WAIT:
                break
            out.append(_event(row))
            expect = row[0] + 1
        return out

    def newest_event(self) -> int:
        return int(self._query("SELECT coalesce(max(seq), 0) FROM events", ())[0][0])

    def cursor(self, name: str) -> int:
        rows = self._query("SELECT seq FROM cursors WHERE name = %s", (name,))
        return int(rows[0][0]) if rows else 0

    def signals(self, deployment: str) -> list[Signal]:
        cols = ("seq", *col.SIGNAL)
        rows = self._query(f"SELECT {_cols(cols)} FROM signals WHERE deployment = %s "
                           f"AND status IN {SIGNAL_OPEN} ORDER BY seq", (deployment,))
        return [Signal(**dict(zip(cols, r, strict=True))) for r in rows]

    def engines(self) -> list[dict[str, Any]]:
        rows = self._query(f"SELECT id, seen, expires, info FROM engines "
                           f"WHERE expires >= {NOW} ORDER BY id", ())
        return [{"id": r[0], "seen": r[1], "expires": r[2], "info": r[3]} for r in rows]

    def close(self) -> None:
        self._pool.close()

    # -- plumbing --------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except self._errors as exc:
            raise StoreError(f"journal {masked_url(self.url)}: {str(exc).strip()}") from exc
        except TimeoutError as exc:  # the pool's: every connection busy or the server gone
            raise StoreError(f"journal {masked_url(self.url)}: no connection within 30 s",
                             hint="check that the database server runs") from exc

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._tx() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    @staticmethod
    def _insert_nodes(cur: Any, nodes: list[NodeRecord]) -> None:
        cur.executemany(_INSERT_NODE, [(i, *col.node_values(n, _jsonb))
                                       for i, n in enumerate(nodes)])

    @staticmethod
    def _insert_events(cur: Any, events: list[Event], engine: str = "") -> None:
        if not events:
            return
        for e in events:
            e.engine = engine or e.engine
        cur.executemany(_INSERT_EVENT, [col.event_values(e, _jsonb) for e in events],
                        returning=True)
        seqs = []
        while True:
            seqs.append(_one(cur))
            if not cur.nextset():
                break
        for e, seq in zip(events, seqs, strict=True):
            e.seq = int(seq)


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(**dict(zip(("seq", *col.EVENT), row[:10], strict=True)))


def _blueprint(row: tuple[Any, ...]) -> BlueprintVersion:
    return BlueprintVersion(**dict(zip(col.BLUEPRINT, row, strict=True)))


def _one(cur: Any) -> Any:
    row = cur.fetchone()
    return row[0] if row else None
