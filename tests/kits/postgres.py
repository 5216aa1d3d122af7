"""A throw-away PostgreSQL database per test, on the server the suite runs against.

MURANO_FLOW_TEST_PG names the server (a URL of a database the test user may connect
to and create databases from); by default the local one, as `make test` starts it.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

SERVER = os.environ.get("MURANO_FLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin():
    import psycopg

    return psycopg.connect(SERVER, autocommit=True, connect_timeout=5)


def fresh_database() -> str:
    """Create an empty database; return its URL."""
    name = f"mf_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(SERVER)._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgraded(url: str) -> str:
    """``url`` with the murano-flow schema created in it."""
    from murano_flow.store import open_store

    with open_store(url, check_schema=False) as store:
        store.upgrade()
    return url


@pytest.fixture
def pg_url():
    """An empty database with the murano-flow schema, dropped afterwards."""
    url = fresh_database()
    try:
        yield upgraded(url)
    finally:
        drop_database(url)
