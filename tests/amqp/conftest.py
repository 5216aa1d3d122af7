"""Fixtures for the tests against the real broker (defined in tests/kits/broker.py)."""

from kits.broker import agents, broker_url, exchange, forwarder, tls_broker  # noqa: F401 - fixtures
