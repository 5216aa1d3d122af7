"""The store contract and multi-engine guarantees on a real PostgreSQL server."""

from __future__ import annotations

import threading
import time

import pytest
from kits.common import wait_until
from kits.postgres import drop_database, fresh_database, pg_url  # noqa: F401

from murano_flow.errors import StoreError
from murano_flow.store import open_store
from murano_flow.store.base import Event
from murano_flow.store.postgres import SCHEMA_VERSION, PostgresStore

from .test_contract import StoreContract

pytestmark = pytest.mark.integration


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_url):  # noqa: F811
        s = open_store(pg_url)
        yield s
        s.close()

    def test_failed_commit_leaves_nothing_half_written(self, store):
        self._create(store)
        node = store.nodes("d1")[0]
        node.status = "reached"
        bad = Event("d1", time.time(), "x", data={"unserialisable": object()})
        with pytest.raises((TypeError, StoreError)):
            store.commit("d1", [node], [bad], state="running")
        assert store.nodes("d1")[0].status == "pending"
        assert store.deployment("d1").state == "pending"

    def test_engines_racing_for_deployments_never_share_one(self, store, pg_url):  # noqa: F811
        for i in range(40):
            self._create(store, f"d{i:02}", created=1000.0 + i)
            store.set_request(f"d{i:02}", "deploy")
        taken: dict[str, list[str]] = {}

        def engine(name: str) -> None:
            with open_store(pg_url) as mine:
                while got := mine.acquire(name, 30, 3):
                    taken.setdefault(name, []).extend(d for d, _ in got)

        threads = [threading.Thread(target=engine, args=(f"e{k}",)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = [d for ds in taken.values() for d in ds]
        assert sorted(every) == [f"d{i:02}" for i in range(40)]  # each once
        assert len(taken) > 1  # they really raced
        owners = {d.id: d.owner for d in store.deployments(100)}
        assert all(owners[d] == name for name, ds in taken.items() for d in ds)

    def test_a_commit_in_progress_holds_off_a_takeover(self, store, pg_url):  # noqa: F811
        self._create(store)
        store.set_request("d1", "deploy")
        store.claim("d1", "e1", "", ttl=0.2)
        time.sleep(0.3)  # expired: anyone may take it - but not in the middle of a commit
        import psycopg

        with psycopg.connect(pg_url) as conn:
            conn.execute("SELECT 1 FROM deployments WHERE id = 'd1' FOR SHARE")
            assert store.acquire("e2", 30, 5) == []  # skipped, not waited for
        assert store.acquire("e2", 30, 5) == [("d1", "e1")]

    def test_feed_stops_at_a_gap_an_open_transaction_may_fill(self, store, pg_url):  # noqa: F811
        self._create(store)
        first = store.newest_event()
        import psycopg

        with psycopg.connect(pg_url) as slow:  # takes the next number, commits later
            slow.execute("INSERT INTO events (deployment, ts, kind, node, status, attempt, "
                         "message, data) VALUES ('d1', 0, 'slow', '', '', 0, '', '{}')")
            store.commit("d1", [], [Event("d1", time.time(), "fast")])
            assert store.feed(first) == []  # 'fast' waits behind the open gap
            assert [e.kind for e in store.events("d1", first)] == ["fast"]
        assert [e.kind for e in store.feed(first)] == ["slow", "fast"]

    def test_upgrade_is_idempotent_and_versioned(self, pg_url):  # noqa: F811
        with open_store(pg_url, check_schema=False) as store:
            assert store.upgrade() == (SCHEMA_VERSION, SCHEMA_VERSION)
            assert isinstance(store, PostgresStore) and store.schema() == SCHEMA_VERSION


def test_an_empty_database_is_refused_until_upgraded():
    url = fresh_database()
    try:
        with pytest.raises(StoreError, match="has no murano-flow schema") as err:
            open_store(url)
        assert "db upgrade" in (err.value.hint or "")
        with open_store(url, check_schema=False) as store:
            assert store.upgrade() == (0, SCHEMA_VERSION)
        open_store(url).close()
    finally:
        drop_database(url)


def test_a_newer_schema_is_refused(pg_url):  # noqa: F811
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE murano_flow_schema SET version = 99")
    with pytest.raises(StoreError, match="schema 99") as err:
        open_store(pg_url)
    assert "upgrade murano-flow" in (err.value.hint or "")


def test_unreachable_server_is_a_clear_error_without_the_password():
    with pytest.raises(StoreError, match="cannot connect") as err:
        open_store("postgresql://u:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(err.value) and "******" in str(err.value)


def test_pool_size_in_the_url(pg_url):  # noqa: F811
    from murano_flow.errors import UsageError

    with open_store(f"{pg_url}?pool_size=3&connect_timeout=5") as store:
        assert store._pool.max_size == 3 and store.schema() == SCHEMA_VERSION
    with pytest.raises(UsageError, match="pool_size"):
        open_store(f"{pg_url}?pool_size=lots")


def test_a_feed_reader_gets_every_event_once_in_order_while_engines_commit(pg_url):  # noqa: F811
    """Four writers commit concurrently (numbers are taken out of commit order); a reader
    following the feed with a cursor, as `notify` does, misses none and repeats none."""
    with open_store(pg_url) as store:
        for w in range(4):
            StoreContract()._create(store, f"w{w}")
        stop = threading.Event()
        seen: list[int] = []

        def reader() -> None:
            cursor = store.newest_event()
            while True:
                batch = store.feed(cursor, limit=50)
                seen.extend(e.seq for e in batch)
                cursor = batch[-1].seq if batch else cursor
                if stop.is_set() and not batch:
                    return
                time.sleep(0.001)

        def writer(w: int) -> None:
            with open_store(pg_url) as mine:
                for j in range(60):
                    mine.commit(f"w{w}", [], [Event(f"w{w}", time.time(), f"e{j}")
                                              for _ in range(1 + j % 3)])

        start = store.newest_event()
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        follow = threading.Thread(target=reader)
        follow.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = 4 * sum(1 + j % 3 for j in range(60))
        wait_until(lambda: len(seen) >= total, "the reader to reach the last event")
        stop.set()
        follow.join(timeout=30)
        written = [e.seq for e in store.feed(start, limit=10_000)]
        assert len(written) == total
        assert seen == written  # each once, in order
