"""Fixtures for the engine-service tests that need the real broker."""

from kits.broker import broker_url, exchange  # noqa: F401 - fixtures
