"""Fixtures for the tests of the HTTP API (defined in tests/kits/api.py)."""

from kits.api import api  # noqa: F401 - a fixture
from kits.browser import browser  # noqa: F401 - a fixture
from kits.postgres import pg_url  # noqa: F401 - a fixture
